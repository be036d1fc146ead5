"""Emulator: Temporary Access Pass issuance (Graph) and the tenant's Temporary Access Pass policy."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from m365emu import seeds
from m365emu.client import EmuClient, VAULT_RESOURCE
from m365emu.state import SeedError, State, fingerprint
from m365emu.wire import parse_datetime

T = seeds.CONTOSO_TENANT_ID
ROB = seeds.USER_IDS["rob@contoso.com"]
ANN = seeds.USER_IDS["ann@contoso.com"]
TAPS = f"/users/{ROB}/authentication/temporaryAccessPassMethods"
POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def token(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)


@pytest.fixture
def kv(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, VAULT_RESOURCE)


def _error(resp):
    error = resp.json()["error"]
    return error["code"], error["message"]


def _seed(policy=None, permissions=None):
    seed = seeds.test_seed()
    if policy is not None:
        seed["tenants"][0]["temporary_access_pass"] = policy
    if permissions is not None:
        seed["tenants"][0]["apps"][0]["graph_permissions"] = permissions
    return seed


def _store(client, kv, name, value):
    resp = client.vault("PUT", seeds.VAULT_NAME, f"secrets/{name}", kv, json={"value": value})
    assert resp.status_code == 200
    return resp.json()["id"].rsplit("/", 1)[1]


def test_create_list_get_and_delete(emulator, client, token, kv):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    mark = emulator.mark()
    resp = client.graph("POST", TAPS, token, json={"lifetimeInMinutes": 120, "isUsableOnce": True})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["@odata.context"] == (f"https://graph.microsoft.com/v1.0/$metadata#users('{ROB}')/authentication/"
                                      "temporaryAccessPassMethods/$entity")
    assert set(body) == {"@odata.context", "id", "temporaryAccessPass", "createdDateTime", "startDateTime", "lifetimeInMinutes",
                         "isUsableOnce", "isUsable", "methodUsabilityReason"}
    secret = body["temporaryAccessPass"]
    assert isinstance(secret, str) and len(secret) == 8
    assert (body["lifetimeInMinutes"], body["isUsableOnce"], body["isUsable"], body["methodUsabilityReason"]) == (
        120, True, True, "EnabledByPolicy")
    assert parse_datetime(body["createdDateTime"]) >= before and parse_datetime(body["startDateTime"]) >= before
    assert resp.headers["Location"].endswith(f"/v1.0/users/{ROB}/authentication/temporaryAccessPassMethods/{body['id']}")
    # Shown once: reads give temporaryAccessPass null.
    listed = client.graph("GET", TAPS, token).json()["value"]
    expected = {k: v for k, v in body.items() if k != "@odata.context"} | {"temporaryAccessPass": None}
    assert listed == [expected]
    one = client.graph("GET", f"{TAPS}/{body['id']}", token).json()
    assert one["temporaryAccessPass"] is None and one["id"] == body["id"] and "@odata.type" not in one
    methods = client.graph("GET", f"/users/{ROB}/authentication/methods", token).json()["value"]
    tap = next(m for m in methods if m["id"] == body["id"])
    assert tap["@odata.type"] == TAP_TYPE and tap["temporaryAccessPass"] is None
    # The emulator compares it through its fingerprint only.
    version = _store(client, kv, "rob-tap", secret)
    assert emulator.vault_compare(seeds.VAULT_NAME, "rob-tap", T, ROB, as_="temporary_access_pass") is True
    assert emulator.vault_compare(seeds.VAULT_NAME, "rob-tap", T, ROB) is False  # not his password
    assert emulator.vault_holds(seeds.VAULT_NAME, T, "rob@contoso.com", as_="temporary_access_pass") == [
        {"secret": "rob-tap", "version": version}]
    state = json.dumps(emulator.state(T))
    assert secret not in state and fingerprint(secret) not in state
    assert secret not in json.dumps(emulator.journal(mark))
    writes = emulator.writes(mark)
    assert [(w["method"], w["path"], w["status"]) for w in writes if w["service"] == "graph"] == [("POST", f"/v1.0{TAPS}", 201)]
    assert writes[0]["shape"] == {"lifetimeInMinutes": "number", "isUsableOnce": "boolean"}
    # DELETE removes the method, and with it the pass.
    assert client.graph("DELETE", f"{TAPS}/{body['id']}", token).status_code == 204
    assert client.graph("GET", TAPS, token).json()["value"] == []
    assert emulator.vault_compare(seeds.VAULT_NAME, "rob-tap", T, ROB, as_="temporary_access_pass") is False
    assert client.graph("DELETE", f"{TAPS}/{body['id']}", token).status_code == 404


def test_defaults_from_the_policy_and_a_new_pass_replaces_the_old(emulator, client, token, kv):
    first = client.graph("POST", TAPS, token).json()
    assert (first["lifetimeInMinutes"], first["isUsableOnce"], len(first["temporaryAccessPass"])) == (60, False, 8)
    assert first["startDateTime"] <= first["createdDateTime"][:19] + "Z"
    _store(client, kv, "old", first["temporaryAccessPass"])
    second = client.graph("POST", TAPS, token, json={}).json()
    assert second["id"] != first["id"] and second["temporaryAccessPass"] != first["temporaryAccessPass"]
    assert [m["id"] for m in client.graph("GET", TAPS, token).json()["value"]] == [second["id"]]
    assert emulator.vault_compare(seeds.VAULT_NAME, "old", T, ROB, as_="temporary_access_pass") is False
    _store(client, kv, "new", second["temporaryAccessPass"])
    assert emulator.vault_compare(seeds.VAULT_NAME, "new", T, ROB, as_="temporary_access_pass") is True
    rob = next(u for u in emulator.state(T)["users"] if u["id"] == ROB)
    assert [m["temporaryAccessPass"] for m in rob["authenticationMethods"] if m["@odata.type"] == TAP_TYPE] == [None]


def test_start_in_the_future_is_not_yet_valid(client, token):
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = client.graph("POST", TAPS, token, json={"startDateTime": start, "lifetimeInMinutes": 480}).json()
    assert body["startDateTime"] == start[:19] + "Z"
    assert (body["isUsable"], body["methodUsabilityReason"]) == (False, "NotYetValid")
    assert client.graph("GET", TAPS, token).json()["value"][0]["methodUsabilityReason"] == "NotYetValid"


@pytest.mark.parametrize("body, status, code, message", [
    ({"lifetimeInMinutes": 59}, 400, "badRequest", "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."),
    ({"lifetimeInMinutes": 481}, 400, "badRequest", "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."),
    ({"lifetimeInMinutes": "60"}, 400, "BadRequest", None),
    ({"isUsableOnce": "yes"}, 400, "BadRequest", None),
    ({"startDateTime": "soon"}, 400, "BadRequest", None),
    ({"temporaryAccessPass": "MyOwnPass1"}, 400, "BadRequest", None),
])
def test_bad_requests(client, token, body, status, code, message):
    resp = client.graph("POST", TAPS, token, json=body)
    assert resp.status_code == status and _error(resp)[0] == code
    if message:
        assert _error(resp)[1] == message
    assert client.graph("GET", TAPS, token).json()["value"] == []


def test_guest_and_unknown_user(emulator, client, token):
    seed = seeds.test_seed()
    seed["tenants"][0]["users"][1]["userType"] = "Guest"
    emulator.reset(seed)
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    resp = client.graph("POST", f"/users/{ANN}/authentication/temporaryAccessPassMethods", token, json={})
    assert resp.status_code == 400 and _error(resp) == ("badRequest", "Temporary Access Pass cannot be added to an external guest user.")
    resp = client.graph("POST", "/users/nobody@contoso.com/authentication/temporaryAccessPassMethods", token, json={})
    assert resp.status_code == 404 and _error(resp)[0] == "Request_ResourceNotFound"


def test_permissions(emulator, client):
    noperm = client.token(T, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET)
    for method, path in (("POST", TAPS), ("GET", TAPS), ("GET", POLICY)):
        resp = client.graph(method, path, noperm, json={} if method == "POST" else None)
        assert resp.status_code == 403 and _error(resp) == ("accessDenied", "Request Authorization failed"), (method, path)
    emulator.reset(_seed(permissions=["User.Read.All", "UserAuthenticationMethod.Read.All", "Policy.ReadWrite.AuthenticationMethod"]))
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("POST", TAPS, token, json={}).status_code == 403
    assert client.graph("GET", TAPS, token).status_code == 200
    assert client.graph("GET", POLICY, token).status_code == 200
    assert client.graph("PATCH", TAPS, token, json={}).status_code == 405
    assert client.graph("POST", f"/users/{ROB}/authentication/phoneMethods", token, json={}).status_code == 405


def test_policy_default_and_seeded(emulator, client, token):
    resp = client.graph("GET", POLICY, token)
    assert resp.status_code == 200
    assert resp.json() == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#authenticationMethodConfigurations/$entity",
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60, "defaultLength": 8,
        "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "isUsableOnce": False,
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}], "excludeTargets": []}
    assert client.graph("GET", POLICY.replace("TemporaryAccessPass", "temporaryAccessPass"), token).json()["id"] == "TemporaryAccessPass"
    resp = client.graph("GET", POLICY.replace("TemporaryAccessPass", "Fido2"), token)
    assert resp.status_code == 404
    policy = {"defaultLifetimeInMinutes": 30, "minimumLifetimeInMinutes": 10, "maximumLifetimeInMinutes": 90, "defaultLength": 12,
              "isUsableOnce": True}
    emulator.reset(_seed(policy))
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    answer = client.graph("GET", POLICY, token).json()
    assert {k: answer[k] for k in policy} == policy and answer["state"] == "enabled"
    body = client.graph("POST", TAPS, token, json={}).json()
    assert (len(body["temporaryAccessPass"]), body["lifetimeInMinutes"], body["isUsableOnce"]) == (12, 30, True)
    resp = client.graph("POST", TAPS, token, json={"isUsableOnce": False})
    assert resp.status_code == 400 and _error(resp)[0] == "badRequest"
    resp = client.graph("POST", TAPS, token, json={"lifetimeInMinutes": 91})
    assert _error(resp)[1] == "Invalid LifetimeInMinutes specified. The valid range between 10 and 90."
    # Other tenants keep the defaults.
    fabrikam = client.token(seeds.FABRIKAM_TENANT_ID, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET)
    assert client.graph("GET", POLICY, fabrikam).json()["defaultLength"] == 8


def test_disabled_policy(emulator, client, token):
    client.graph("POST", TAPS, token, json={})
    emulator.reset(_seed({"state": "disabled"}))
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("GET", POLICY, token).json()["state"] == "disabled"
    resp = client.graph("POST", TAPS, token, json={"lifetimeInMinutes": 60})
    assert resp.status_code == 400
    assert _error(resp) == ("badRequest", "Converged UserCredentialPolicy does not allow creating or updating this authentication "
                                          "method. AuthMethodType [TemporaryAccessPass].")


def test_batch_item(emulator, client, token):
    mark = emulator.mark()
    resp = client.graph("POST", "/$batch", token, json={"requests": [
        {"id": "1", "method": "POST", "url": TAPS, "headers": {"Content-Type": "application/json"},
         "body": {"lifetimeInMinutes": 60, "isUsableOnce": False}},
        {"id": "2", "method": "POST", "url": f"/users/{ANN}/authentication/temporaryAccessPassMethods",
         "headers": {"Content-Type": "application/json"}, "body": {"lifetimeInMinutes": 5}}]})
    assert resp.status_code == 200
    items = {r["id"]: r for r in resp.json()["responses"]}
    assert items["1"]["status"] == 201 and len(items["1"]["body"]["temporaryAccessPass"]) == 8
    assert items["2"]["status"] == 400 and items["2"]["body"]["error"]["code"] == "badRequest"
    entry = [e for e in emulator.journal(mark) if e["path"] == "/v1.0/$batch"][0]
    journaled = {i["id"]: i for i in entry["batch_items"]}
    assert journaled["1"]["fields"] == ["isUsableOnce", "lifetimeInMinutes"] and journaled["1"]["write"] is True
    assert journaled["1"]["shape"] == {"lifetimeInMinutes": "number", "isUsableOnce": "boolean"}
    writes = emulator.writes(mark)
    assert [(w["batch_id"], w["status"], w["fields"]) for w in writes] == [("1", 201, ["isUsableOnce", "lifetimeInMinutes"]),
                                                                           ("2", 400, ["lifetimeInMinutes"])]
    assert items["1"]["body"]["temporaryAccessPass"] not in json.dumps(emulator.journal(mark))


def test_seed_policy_validation():
    for bad in ({"state": "on"}, {"defaultLength": 7}, {"defaultLength": 49}, {"minimumLifetimeInMinutes": 5},
                {"defaultLifetimeInMinutes": 500}, {"maximumLifetimeInMinutes": 50000}, {"isUsableOnce": "no"}, {"colour": "blue"},
                {"defaultLifetimeInMinutes": True}, "enabled"):
        with pytest.raises(SeedError):
            State(_seed(copy.deepcopy(bad)))
    tenant = State(_seed({"state": "disabled"})).resolve(T)
    assert tenant.tap_policy == {"state": "disabled", "defaultLifetimeInMinutes": 60, "minimumLifetimeInMinutes": 60,
                                 "maximumLifetimeInMinutes": 480, "defaultLength": 8, "isUsableOnce": False}
