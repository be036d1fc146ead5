"""Emulator: Azure Key Vault's secrets API (tokens, routes, errors, RBAC, faults, journal, control API, fingerprints)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from m365emu import seeds
from m365emu.app import Emulator
from m365emu.client import EmuClient, VAULT_RESOURCE
from m365emu.state import SeedError, State, fingerprint
from m365emu.wire import Request

T = seeds.CONTOSO_TENANT_ID
F = seeds.FABRIKAM_TENANT_ID
VAULT = seeds.VAULT_NAME
ROB = seeds.USER_IDS["rob@contoso.com"]
STRONG = "Str0ng!Passw0rd-x"
OTHER = "0ther!Passw0rd-y"
VERSION = re.compile(r"^[0-9a-f]{32}$")
CHALLENGE = 'Bearer authorization="{base}/{tenant}", resource="https://vault.azure.net"'


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def kv(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, VAULT_RESOURCE)


@pytest.fixture
def graph(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)


def _error(resp):
    error = resp.json()["error"]
    return error["code"], error["message"], (error.get("innererror") or {}).get("code")


def _put(client, token, name, body, vault=VAULT):
    return client.vault("PUT", vault, f"secrets/{name}", token, json=body)


# -- tokens --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["https://vault.azure.net/.default", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093/.default"])
def test_any_app_gets_a_vault_token(client, scope):
    for tenant, client_id, secret in ((T, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET),
                                      (F, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET)):
        resp = client.token_response(tenant, client_id, secret, scope=scope)
        assert resp.status_code == 200, resp.text
        claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
        assert claims["aud"] == VAULT_RESOURCE and claims["tid"] == tenant and claims["appid"] == client_id
        assert "roles" not in claims


# -- secrets: set, get, versions, list, update ---------------------------------------------------------------------------


def test_set_get_and_versions(emulator, client, kv):
    base = emulator.vault_url(VAULT)
    assert base == f"{emulator.base_url}/vaults/{VAULT}"
    first = _put(client, kv, "rob-password", {"value": STRONG, "contentType": "password", "tags": {"user": "rob"},
                                              "attributes": {"enabled": True, "exp": 1900000000}})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["value"] == STRONG and body["contentType"] == "password" and body["tags"] == {"user": "rob"}
    prefix = f"{base}/secrets/rob-password/"
    assert body["id"].startswith(prefix) and VERSION.match(body["id"][len(prefix):])
    attributes = body["attributes"]
    assert attributes["enabled"] is True and attributes["exp"] == 1900000000 and "nbf" not in attributes
    assert attributes["created"] == attributes["updated"] and isinstance(attributes["created"], int)
    assert (attributes["recoveryLevel"], attributes["recoverableDays"]) == ("Recoverable+Purgeable", 90)
    assert first.headers["x-ms-request-id"] and first.headers["x-ms-keyvault-service-version"]
    second = _put(client, kv, "rob-password", {"value": OTHER}).json()
    assert second["id"] != body["id"] and second["id"].startswith(prefix) and "tags" not in second and "contentType" not in second
    # GET answers every attribute but no value (values are kept as fingerprints only); with or without a version.
    for path, expected in (("secrets/rob-password", second), ("secrets/rob-password/", second),
                           (f"secrets/rob-password/{body['id'].rsplit('/', 1)[1]}", body)):
        got = client.vault("GET", VAULT, path, kv)
        assert got.status_code == 200 and "value" not in got.json()
        assert got.json() == {k: v for k, v in expected.items() if k != "value"}
    versions = client.vault("GET", VAULT, "secrets/rob-password/versions", kv).json()
    assert [item["id"] for item in versions["value"]] == [body["id"], second["id"]] and versions["nextLink"] is None
    assert versions["value"][0]["tags"] == {"user": "rob"} and versions["value"][0]["contentType"] == "password"
    listing = client.vault("GET", VAULT, "secrets", kv).json()
    assert listing == {"value": [{"id": f"{base}/secrets/rob-password", "attributes": second["attributes"]}], "nextLink": None}
    view = emulator.vault(VAULT)
    assert view["name"] == VAULT and view["tenant"] == T and view["url"] == base
    assert [v["version"] for v in view["secrets"]["rob-password"]] == [body["id"].rsplit("/", 1)[1], second["id"].rsplit("/", 1)[1]]
    assert view["secrets"]["rob-password"][0] == {"version": body["id"].rsplit("/", 1)[1], "attributes": {
        "enabled": True, "created": attributes["created"], "updated": attributes["updated"], "exp": 1900000000},
        "tags": {"user": "rob"}, "contentType": "password"}
    assert STRONG not in json.dumps(view) and OTHER not in json.dumps(view) and fingerprint(STRONG) not in json.dumps(view)


def test_names_are_case_insensitive_and_keep_their_first_spelling(client, kv):
    first = _put(client, kv, "Rob-Password", {"value": STRONG}).json()
    second = _put(client, kv, "rob-password", {"value": OTHER}).json()
    assert "/secrets/Rob-Password/" in first["id"] and "/secrets/Rob-Password/" in second["id"]
    assert client.vault("GET", VAULT, "secrets/ROB-PASSWORD", kv).json()["id"] == second["id"]


def test_update_replaces_tags_and_toggles_enabled(client, kv):
    created = _put(client, kv, "ann-password", {"value": STRONG, "tags": {"a": "1", "b": "2"}, "contentType": "password"}).json()
    version = created["id"].rsplit("/", 1)[1]
    resp = client.vault("PATCH", VAULT, f"secrets/ann-password/{version}", kv,
                        json={"tags": {"c": "3"}, "attributes": {"enabled": False, "nbf": 1700000000}})
    assert resp.status_code == 200 and "value" not in resp.json()
    updated = resp.json()
    assert updated["tags"] == {"c": "3"} and updated["contentType"] == "password" and updated["id"] == created["id"]
    assert updated["attributes"]["enabled"] is False and updated["attributes"]["nbf"] == 1700000000
    assert updated["attributes"]["updated"] >= created["attributes"]["updated"]
    resp = client.vault("GET", VAULT, "secrets/ann-password", kv)
    assert resp.status_code == 403
    assert _error(resp) == ("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
    # Metadata stays readable: lists show disabled secrets.
    assert client.vault("GET", VAULT, "secrets", kv).json()["value"][0]["attributes"]["enabled"] is False
    back = client.vault("PATCH", VAULT, f"secrets/ann-password/{version}", kv, json={"attributes": {"enabled": True}})
    assert back.status_code == 200 and back.json()["tags"] == {"c": "3"}
    assert client.vault("GET", VAULT, "secrets/ann-password", kv).status_code == 200
    # PATCH without a version updates the newest.
    assert client.vault("PATCH", VAULT, "secrets/ann-password", kv, json={"contentType": "text/plain"}).json()["contentType"] == "text/plain"


def test_not_found_and_bad_requests(client, kv):
    resp = client.vault("GET", VAULT, "secrets/nobody", kv)
    code, message, _inner = _error(resp)
    assert resp.status_code == 404 and code == "SecretNotFound"
    assert message.startswith("A secret with (name/id) nobody was not found in this key vault. ")
    _put(client, kv, "carl", {"value": STRONG})
    for path in ("secrets/carl/" + "0" * 32, "secrets/carl/not-a-version"):
        for method, body in (("GET", None), ("PATCH", {"tags": {}})):
            resp = client.vault(method, VAULT, path, kv, json=body)
            assert resp.status_code == 404 and _error(resp)[0] == "SecretNotFound", (method, path)
    assert client.vault("PATCH", VAULT, "secrets/nobody", kv, json={"tags": {}}).status_code == 404
    assert client.vault("GET", VAULT, "secrets/nobody/versions", kv).json() == {"value": [], "nextLink": None}
    resp = _put(client, kv, "rob_password", {"value": STRONG})
    assert resp.status_code == 400 and _error(resp)[:2] == ("BadParameter", "The request URI contains an invalid name: rob_password")
    assert _put(client, kv, "x" * 128, {"value": STRONG}).status_code == 400
    assert _put(client, kv, "x" * 127, {"value": STRONG}).status_code == 200
    bad_bodies = [{}, {"value": 5}, {"value": STRONG, "tags": {f"t{i}": "v" for i in range(16)}},
                  {"value": STRONG, "tags": {"t" * 513: "v"}}, {"value": STRONG, "tags": {"t": "v" * 513}},
                  {"value": STRONG, "tags": {"t": 1}}, {"value": STRONG, "attributes": {"enabled": "yes"}},
                  {"value": STRONG, "attributes": {"exp": "tomorrow"}}, {"value": STRONG, "contentType": "c" * 256}]
    for body in bad_bodies:
        resp = _put(client, kv, "dana", body)
        assert resp.status_code == 400 and _error(resp)[0] == "BadParameter", body
    ok = _put(client, kv, "dana", {"value": STRONG, "tags": {f"t{i}": "v" * 512 for i in range(14)} | {"t" * 512: ""}})
    assert ok.status_code == 200 and len(ok.json()["tags"]) == 15
    resp = client.request("PUT", f"/vaults/{VAULT}/secrets/dana?api-version=7.4", data=b"{not json",
                          headers={"Authorization": f"Bearer {kv}", "Content-Type": "application/json"})
    assert resp.status_code == 400 and _error(resp)[0] == "BadParameter"
    assert client.vault("DELETE", VAULT, "secrets/dana/versions", kv).status_code == 405
    assert client.vault("GET", VAULT, "keys", kv).status_code == 404
    assert client.vault("GET", "no-such-vault", "secrets", kv).status_code == 404


def test_list_paging(client, kv):
    names = [f"user-{i}" for i in range(5)]
    for name in reversed(names):
        _put(client, kv, name, {"value": STRONG})
    seen, url, pages = [], f"/vaults/{VAULT}/secrets?api-version=7.4&maxresults=2", 0
    while url:
        resp = client.request("GET", url, headers={"Authorization": f"Bearer {kv}"})
        assert resp.status_code == 200
        body = resp.json()
        assert len(body["value"]) <= 2
        seen += [item["id"].rsplit("/", 1)[1] for item in body["value"]]
        url, pages = body["nextLink"], pages + 1
        if url:
            parts = urlsplit(url)
            assert url.startswith(client.base_url + f"/vaults/{VAULT}/secrets?")
            query = parse_qs(parts.query)
            assert query["api-version"] == ["7.4"] and query["maxresults"] == ["2"] and query["$skiptoken"][0]
    assert seen == names and pages == 3
    assert len(client.vault("GET", VAULT, "secrets", kv).json()["value"]) == 5
    for bad in ("0", "26", "x"):
        resp = client.vault("GET", VAULT, f"secrets?maxresults={bad}", kv)
        assert resp.status_code == 400 and _error(resp)[0] == "BadParameter", bad
    resp = client.vault("GET", VAULT, "secrets?$skiptoken=garbage", kv)
    assert resp.status_code == 400
    for _attempt in range(3):
        _put(client, kv, "user-0", {"value": OTHER})
    page = client.vault("GET", VAULT, "secrets/user-0/versions?maxresults=3", kv).json()
    assert len(page["value"]) == 3 and "/secrets/user-0/versions?" in page["nextLink"]
    rest = client.request("GET", page["nextLink"], headers={"Authorization": f"Bearer {kv}"}).json()
    assert len(rest["value"]) == 1 and rest["nextLink"] is None


@pytest.mark.parametrize("api_version, status", [(None, 400), ("", 400), ("7.4", 200), ("7.0", 200), ("7.6-preview.1", 200),
                                                 ("2016-10-01", 400), ("6.0", 400)])
def test_api_version(client, kv, api_version, status):
    resp = client.vault("GET", VAULT, "secrets", kv, api_version=api_version)
    assert resp.status_code == status
    if status == 400:
        code, message, _inner = _error(resp)
        assert code == "BadParameter" and "7.4" in message


# -- authentication ------------------------------------------------------------------------------------------------------


def test_authentication_challenges(emulator, client, kv, graph):
    challenge = CHALLENGE.format(base=emulator.base_url, tenant=T)
    resp = client.vault("GET", VAULT, "secrets", None)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == challenge
    assert _error(resp) == ("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", None)
    assert resp.headers["x-ms-request-id"] and resp.headers["x-ms-keyvault-service-version"]
    resp = client.vault("GET", VAULT, "secrets", graph)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == challenge
    assert _error(resp)[1] == ("AKV10022: Invalid audience. Expected https://vault.azure.net or cfa8b339-82a2-471a-a3c9-0fc0be7a4093, "
                               "found: https://graph.microsoft.com.")
    other = client.token(F, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET, VAULT_RESOURCE)
    resp = client.vault("PUT", VAULT, "secrets/x", other, json={"value": STRONG})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == challenge
    assert _error(resp)[1] == (f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{T}/, "
                               f"found https://sts.windows.net/{F}/.")
    forged = jwt.encode({"aud": VAULT_RESOURCE, "tid": T, "exp": 4102444800, "iat": 0}, "not-the-emulator-signing-key-0123456789", algorithm="HS256")
    for token in (forged, "garbage"):
        resp = client.vault("GET", VAULT, "secrets", token)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == challenge and _error(resp)[0] == "Unauthorized"
    assert client.vault("GET", VAULT, "secrets", kv).status_code == 200
    emulator._call("POST", "expire_tokens", {})
    resp = client.vault("GET", VAULT, "secrets", kv)
    assert resp.status_code == 401 and "TokenExpired" in _error(resp)[1] and resp.headers["WWW-Authenticate"] == challenge
    assert STRONG not in json.dumps(emulator.journal())


def test_vault_in_a_managed_service_providers_own_tenant(emulator, client):
    """The vault's tenant may differ from the tenant remediated: tokens of the vault's tenant work, others are refused."""
    added = emulator.add_vault("msp-central", seeds.FABRIKAM_DOMAIN,
                               [{"client_id": seeds.FABRIKAM_CLIENT_ID, "role": "Key Vault Secrets Officer"}])
    assert added["tenant"] == F and added["url"] == emulator.vault_url("msp-central") and added["secrets"] == {}
    msp = client.token(F, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET, VAULT_RESOURCE)
    assert _put(client, msp, "contoso-rob", {"value": STRONG}, vault="msp-central").status_code == 200
    contoso = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, VAULT_RESOURCE)
    resp = client.vault("GET", "msp-central", "secrets", contoso)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == CHALLENGE.format(base=emulator.base_url, tenant=F)
    assert f"found https://sts.windows.net/{T}/" in _error(resp)[1]
    # Replacing a vault changes its assignments and keeps its secrets; a reset forgets runtime vaults.
    emulator.add_vault("msp-central", F, [])
    resp = client.vault("GET", "msp-central", "secrets", msp)
    assert resp.status_code == 403 and _error(resp)[2] == "ForbiddenByRbac"
    assert list(emulator.vault("msp-central")["secrets"]) == ["contoso-rob"]
    emulator.reset()
    with pytest.raises(Exception, match="404"):
        emulator.vault("msp-central")


# -- authorization -------------------------------------------------------------------------------------------------------

OPERATIONS = {
    "set": ("PUT", "secrets/rbac", {"value": STRONG}, "setSecret"),
    "get": ("GET", "secrets/seeded", None, "getSecret"),
    "list": ("GET", "secrets", None, "readMetadata"),
    "versions": ("GET", "secrets/seeded/versions", None, "readMetadata"),
    "update": ("PATCH", "secrets/seeded", {"tags": {"k": "v"}}, "update"),
}


@pytest.mark.parametrize("role, allowed", [
    ("Key Vault Administrator", {"set", "get", "list", "versions", "update"}),
    ("Key Vault Secrets Officer", {"set", "get", "list", "versions", "update"}),
    ("Key Vault Secrets User", {"get", "list", "versions"}),
    ("Key Vault Reader", {"list", "versions"}),
    (None, set()),
])
def test_roles(emulator, client, kv, role, allowed):
    assert _put(client, kv, "seeded", {"value": STRONG}).status_code == 200
    assignments = [{"client_id": seeds.CONTOSO_CLIENT_ID, "role": role}] if role else []
    # Another app's role gives this one nothing.
    assignments.append({"client_id": seeds.CONTOSO_PRIVILEGED_CLIENT_ID, "role": "Key Vault Administrator"})
    emulator.add_vault(VAULT, T, assignments)
    claims = jwt.decode(kv, options={"verify_signature": False})
    for name, (method, path, body, action) in OPERATIONS.items():
        resp = client.vault(method, VAULT, path, kv, json=body)
        if name in allowed:
            assert resp.status_code == 200, (name, resp.text)
            continue
        assert resp.status_code == 403, name
        code, message, inner = _error(resp)
        assert (code, inner) == ("Forbidden", "ForbiddenByRbac")
        lines = message.split("\r\n")
        assert lines[0] == "Caller is not authorized to perform action on resource."
        assert lines[1].startswith("If role assignments, deny assignments or role definitions were changed recently")
        assert lines[2] == f"Caller: appid={seeds.CONTOSO_CLIENT_ID};oid={claims['oid']};iss=https://sts.windows.net/{T}/"
        assert lines[3] == f"Action: 'Microsoft.KeyVault/vaults/secrets/{action}/action'"
        assert re.match(r"^Resource: '/subscriptions/[0-9a-f-]{36}/resourcegroups/m365emu/providers/microsoft\.keyvault/vaults/"
                        + VAULT + r"(/secrets/\w+)?'$", lines[4])
        assert lines[5:] == ["Assignment: (not found)", "DenyAssignmentId: null", "DecisionReason: 'DeniedWithNoValidRBAC' ",
                             f"Vault: {VAULT};location=westeurope", ""]


def test_add_vault_validation(emulator):
    for payload in ({"name": "ab", "tenant": T}, {"name": "x_y-vault", "tenant": T}, {"name": "good-vault", "tenant": "nowhere.example"},
                    {"name": "good-vault", "tenant": T, "role_assignments": [{"client_id": seeds.CONTOSO_CLIENT_ID, "role": "Owner"}]},
                    {"name": "good-vault", "tenant": T, "role_assignments": [{"role": "Key Vault Reader"}]}):
        with pytest.raises(Exception, match="400"):
            emulator._call("POST", "key_vaults", payload)
    with pytest.raises(Exception, match="404"):
        emulator.vault("good-vault")


# -- faults and journal --------------------------------------------------------------------------------------------------


def test_faults(emulator, client, kv):
    emulator.set_faults([{"service": "keyvault", "status": 429, "retry_after": "3", "count": 1, "after": 1}])
    assert client.vault("GET", VAULT, "secrets", kv).status_code == 200
    resp = client.vault("GET", VAULT, "secrets", kv)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    code, message, _inner = _error(resp)
    assert code == "Throttled" and message.startswith("Request was not processed because too many requests were received. Reason: ")
    assert client.vault("GET", VAULT, "secrets", kv).status_code == 200
    emulator.set_faults([{"service": "keyvault", "path": "/secrets/only-this", "status": 503, "count": 5}])
    assert _put(client, kv, "other", {"value": STRONG}).status_code == 200
    assert _put(client, kv, "only-this", {"value": STRONG}).status_code == 503
    emulator.set_faults([{"service": "keyvault", "tenant": seeds.FABRIKAM_DOMAIN, "status": 500}])
    assert client.vault("GET", VAULT, "secrets", kv).status_code == 200
    emulator.set_faults([{"service": "keyvault", "tenant": seeds.CONTOSO_DOMAIN, "drop": True, "count": 1}])
    with pytest.raises(Exception):
        client.vault("GET", VAULT, "secrets", kv)
    emulator.set_faults([{"service": "keyvault", "latency_ms": 50, "count": 1}])
    assert client.vault("GET", VAULT, "secrets", kv).status_code == 200
    emulator.set_faults([{"service": "keyvault", "expire_tokens": True, "count": 1}])
    resp = client.vault("GET", VAULT, "secrets", kv)
    assert resp.status_code == 401 and "TokenExpired" in _error(resp)[1]
    assert [e["dropped"] for e in emulator.journal() if e.get("dropped")] == [True]
    assert emulator.stats()["per_service"]["keyvault"] >= 8


def test_journal_and_writes(emulator, client, kv):
    mark = emulator.mark()
    created = _put(client, kv, "eve", {"value": STRONG, "contentType": "password", "tags": {"user": "eve"},
                                       "attributes": {"enabled": True}}).json()
    client.vault("GET", VAULT, "secrets/eve", kv)
    client.vault("PATCH", VAULT, f"secrets/eve/{created['id'].rsplit('/', 1)[1]}", kv, json={"attributes": {"enabled": False}})
    client.vault("GET", VAULT, "secrets", None)
    entries = [e for e in emulator.journal(mark) if e["service"] == "keyvault"]
    assert [(e["method"], e["write"], e["status"]) for e in entries] == [("PUT", True, 200), ("GET", False, 200), ("PATCH", True, 200),
                                                                         ("GET", False, 401)]
    assert all(e["tenant"] == T for e in entries)
    assert entries[0]["path"] == f"/vaults/{VAULT}/secrets/eve?api-version=7.4"
    assert entries[0]["shape"] == {"value": "string", "contentType": "string", "tags": {"user": "string"}, "attributes": {"enabled": "boolean"}}
    assert entries[1]["shape"] is None
    writes = emulator.writes(mark)
    assert [(w["service"], w["method"]) for w in writes] == [("keyvault", "PUT"), ("keyvault", "PATCH")]
    assert STRONG not in json.dumps(emulator.journal(0))


# -- fingerprints, compare and holds -------------------------------------------------------------------------------------


def test_compare_and_holds(emulator, client, kv, graph):
    assert client.graph("PATCH", f"/users/{ROB}", graph, json={"passwordProfile": {"password": STRONG}}).status_code == 204
    first = _put(client, kv, "rob", {"value": STRONG}).json()["id"].rsplit("/", 1)[1]
    second = _put(client, kv, "rob", {"value": OTHER}).json()["id"].rsplit("/", 1)[1]
    _put(client, kv, "rob-copy", {"value": STRONG})
    assert emulator.vault_compare(VAULT, "rob", T, "rob@contoso.com", version=first) is True
    assert emulator.vault_compare(VAULT, "rob", T, ROB) is False  # the newest version holds another value
    assert emulator.vault_compare(VAULT, "rob", "contoso.com", ROB, version=second) is False
    assert emulator.vault_holds(VAULT, T, "rob@contoso.com") == [{"secret": "rob", "version": first},
                                                                 {"secret": "rob-copy", "version": emulator.vault(VAULT)["secrets"]
                                                                  ["rob-copy"][0]["version"]}]
    # A new password: no version holds it until it is stored.
    assert client.graph("PATCH", f"/users/{ROB}", graph, json={"passwordProfile": {"password": OTHER}}).status_code == 204
    assert emulator.vault_compare(VAULT, "rob", T, ROB) is True
    assert emulator.vault_holds(VAULT, T, ROB) == [{"secret": "rob", "version": second}]
    # A user whose password the emulator never set, and a user without a pass, match nothing.
    assert emulator.vault_holds(VAULT, T, "ann@contoso.com") == []
    assert emulator.vault_compare(VAULT, "rob", T, "ann@contoso.com") is False
    assert emulator.vault_holds(VAULT, T, ROB, as_="temporary_access_pass") == []
    for call, match in ((lambda: emulator.vault_compare(VAULT, "nobody", T, ROB), "404"),
                        (lambda: emulator.vault_compare(VAULT, "rob", T, ROB, version="0" * 32), "404"),
                        (lambda: emulator.vault_compare(VAULT, "rob", T, "nobody@contoso.com"), "404"),
                        (lambda: emulator.vault_compare(VAULT, "rob", "nowhere.example", ROB), "404"),
                        (lambda: emulator.vault_compare(VAULT, "rob", T, ROB, as_="pin"), "400"),
                        (lambda: emulator.vault_holds("no-vault", T, ROB), "404")):
        with pytest.raises(Exception, match=match):
            call()
    state = emulator.state(T)
    assert STRONG not in json.dumps(state) and OTHER not in json.dumps(state) and fingerprint(OTHER) not in json.dumps(state)


# -- in process: nothing kept in clear -----------------------------------------------------------------------------------


def _walk(value, seen=None):
    """Every str, bytes and number reachable from ``value`` (objects through their attributes)."""
    seen = seen if seen is not None else set()
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key, seen)
            yield from _walk(item, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _walk(item, seen)
    elif hasattr(value, "__dict__") and not callable(value):
        yield from _walk(vars(value), seen)


def test_no_value_kept_in_clear():
    emu = Emulator(seeds.test_seed(), "https://127.0.0.1:1")

    def call(method, path, token=None, body=None, query=""):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        raw = json.dumps(body).encode("utf-8") if body is not None else b""
        return emu.handle(Request(method, path, query, headers, raw))

    def token(resource):
        form = urlencode({"grant_type": "client_credentials", "client_id": seeds.CONTOSO_CLIENT_ID,
                          "client_secret": seeds.CONTOSO_SECRET, "scope": resource + "/.default"}).encode("ascii")
        return emu.handle(Request("POST", f"/{T}/oauth2/v2.0/token", "", {}, form)).json()["access_token"]

    kv, graph = token(VAULT_RESOURCE), token("https://graph.microsoft.com")
    assert call("PATCH", f"/v1.0/users/{ROB}", graph, {"passwordProfile": {"password": STRONG}}).status == 204
    tap = call("POST", f"/v1.0/users/{ROB}/authentication/temporaryAccessPassMethods", graph, {}).json()["temporaryAccessPass"]
    assert call("PUT", f"/vaults/{VAULT}/secrets/rob", kv, {"value": STRONG}, "api-version=7.4").json()["value"] == STRONG
    assert call("PUT", f"/vaults/{VAULT}/secrets/rob-tap", kv, {"value": tap}, "api-version=7.4").status == 200
    kept = list(_walk(emu.state)) + list(_walk(emu.journal.entries))
    for clear in (STRONG, tap):
        assert not any(isinstance(v, str) and clear in v for v in kept), clear
        assert not any(isinstance(v, bytes) and clear.encode() in v for v in kept), clear
    tenant = emu.state.resolve(T)
    assert tenant.password_fingerprints[ROB] == fingerprint(STRONG) and re.match(r"^[0-9a-f]{64}$", fingerprint(STRONG))
    assert tenant.taps[ROB][1] == fingerprint(tap)
    assert [v.value_fingerprint for v in emu.state.vault(VAULT).secrets["rob"]] == [fingerprint(STRONG)]
    assert tenant.check_password(ROB, STRONG)  # the salted hash is still there
    # The fingerprint key lives as long as the process: a reset keeps it.
    before = fingerprint(STRONG)
    emu.reset(None)
    assert fingerprint(STRONG) == before and emu.state.vault(VAULT).secrets == {}


def test_seeds_hold_the_vault_and_validate_it():
    for seed in (seeds.test_seed(), seeds.demo_seed()):
        assert seed["key_vaults"] == [{"name": "msp-vault", "tenant": T, "role_assignments": [
            {"client_id": seeds.CONTOSO_CLIENT_ID, "role": "Key Vault Secrets Officer"}]}]
        apps = seed["tenants"][0]["apps"]
        assert "Policy.Read.All" in apps[0]["graph_permissions"] and apps[1]["graph_permissions"] == []
    assert "key_vaults" not in seeds.generate_seed(1, 2, 1)
    seed = seeds.test_seed()
    seed["key_vaults"].append({"name": "msp-vault", "tenant": F})
    assert State(seed).vault("MSP-VAULT").tenant_id == F  # the later entry replaces the earlier one
    for bad in ([{"tenant": T}], [{"name": "v1", "tenant": T}], [{"name": "vault-one", "tenant": "unknown.example"}],
                [{"name": "vault-one", "tenant": T, "role_assignments": [{"client_id": "x", "role": "Contributor"}]}]):
        with pytest.raises(SeedError):
            State({**seeds.test_seed(), "key_vaults": bad})
