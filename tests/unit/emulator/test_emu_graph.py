"""Emulator: Graph v1.0 users, password reset rules, revokeSignInSessions, $filter paging and $batch."""

from __future__ import annotations

import re

import pytest

from m365emu import seeds
from m365emu.client import EmuClient

ROB = seeds.USER_IDS["rob@contoso.com"]
STRONG = "Str0ng!Passw0rd-x"


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def token(client):
    return client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)


def _error(resp):
    body = resp.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    return body["code"], body["message"]


def test_get_user_default_and_select(client, token):
    resp = client.graph("GET", "/users/ROB@contoso.com", token, headers={"client-request-id": "abc-123"})
    assert resp.status_code == 200
    assert resp.headers["client-request-id"] == "abc-123" and resp.headers["request-id"]
    body = resp.json()
    assert body["@odata.context"].endswith("$metadata#users/$entity")
    assert body["id"] == ROB and body["userPrincipalName"] == "rob@contoso.com"
    assert "businessPhones" in body
    for hidden in ("lastPasswordChangeDateTime", "signInSessionsValidFromDateTime", "onPremisesSyncEnabled", "proxyAddresses"):
        assert hidden not in body
    resp = client.graph("GET", f"/users/{ROB}?$select=mail,proxyAddresses,lastPasswordChangeDateTime,onPremisesSyncEnabled", token)
    body = resp.json()
    assert set(body) == {"@odata.context", "id", "mail", "proxyAddresses", "lastPasswordChangeDateTime", "onPremisesSyncEnabled"}
    assert body["proxyAddresses"] == ["SMTP:rob@contoso.com", "smtp:robert@contoso.com"]
    assert body["lastPasswordChangeDateTime"] == seeds.OLD_CHANGE


def test_get_unknown_user(client, token):
    resp = client.graph("GET", "/users/nobody@contoso.com", token)
    assert resp.status_code == 404
    code, message = _error(resp)
    assert code == "Request_ResourceNotFound"
    assert message == ("Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present.")


def test_missing_and_bad_token(client):
    resp = client.request("GET", "/v1.0/users/rob@contoso.com")
    assert resp.status_code == 401 and _error(resp) == ("InvalidAuthenticationToken", "Access token is empty.")
    resp = client.graph("GET", "/users/rob@contoso.com", "a.b.c")
    assert resp.status_code == 401 and _error(resp)[0] == "InvalidAuthenticationToken"
    exo = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, "https://outlook.office365.com")
    resp = client.graph("GET", "/users/rob@contoso.com", exo)
    assert resp.status_code == 401 and "Invalid audience" in _error(resp)[1]


def test_tenant_isolation(client):
    fab = client.token(seeds.FABRIKAM_TENANT_ID, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET)
    assert client.graph("GET", "/users/rob@contoso.com", fab).status_code == 404
    assert client.graph("GET", "/users/alice@fabrikam.com", fab).status_code == 200


def test_password_reset(emulator, client, token):
    mark = emulator.mark()
    resp = client.graph("PATCH", f"/users/{ROB}", token, json={"passwordProfile": {
        "password": STRONG, "forceChangePasswordNextSignIn": True, "forceChangePasswordNextSignInWithMfa": False}})
    assert resp.status_code == 204 and resp.content == b""
    body = client.graph("GET", f"/users/{ROB}?$select=lastPasswordChangeDateTime", token).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["lastPasswordChangeDateTime"])
    assert body["lastPasswordChangeDateTime"] > seeds.RESTRICTED_AT
    user = next(u for u in emulator.state("contoso.com")["users"] if u["id"] == ROB)
    assert user["passwordSetByGraph"] is True and user["passwordProfile"]["forceChangePasswordNextSignIn"] is True
    assert STRONG not in str(emulator.state("contoso.com"))
    writes = emulator.writes(mark)
    assert [(w["method"], w["status"]) for w in writes] == [("PATCH", 204)]
    assert STRONG not in str(emulator.journal(0))


@pytest.mark.parametrize("password", ["Sh0rt!", "alllowercase1", "NoDigitsOrSymbols", "Rob-Str0ng!Pass", "x" * 250 + "Aa1!" + "y" * 3,
                                      "Ümlaut-Pässw0rd"])
def test_password_complexity(client, token, password):
    resp = client.graph("PATCH", f"/users/{ROB}", token, json={"passwordProfile": {"password": password}})
    assert resp.status_code == 400
    assert _error(resp) == ("Request_BadRequest", "The specified password does not comply with password complexity requirements. "
                                                  "Please provide a different password.")


def test_synced_admin_and_permissions(client, token):
    resp = client.graph("PATCH", "/users/dana@contoso.com", token, json={"passwordProfile": {"password": STRONG}})
    assert resp.status_code == 400 and "on-premises" in _error(resp)[1]
    resp = client.graph("PATCH", "/users/eve.admin@contoso.com", token, json={"passwordProfile": {"password": STRONG}})
    assert resp.status_code == 403
    assert _error(resp) == ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    privileged = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_PRIVILEGED_CLIENT_ID, seeds.CONTOSO_PRIVILEGED_SECRET)
    assert client.graph("PATCH", "/users/eve.admin@contoso.com", privileged, json={"passwordProfile": {"password": STRONG}}).status_code == 204
    noperm = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET)
    for method, path, body in (("GET", "/users/ann@contoso.com", None), ("PATCH", "/users/ann@contoso.com", {"accountEnabled": False}),
                               ("POST", "/users/ann@contoso.com/revokeSignInSessions", None)):
        resp = client.graph(method, path, noperm, json=body)
        assert resp.status_code == 403 and _error(resp)[0] == "Authorization_RequestDenied"


def _seed_with_main_app(permissions=None, roles=None):
    seed = seeds.test_seed()
    app = seed["tenants"][0]["apps"][0]
    if permissions is not None:
        app["graph_permissions"] = permissions
    if roles is not None:
        app["directory_roles"] = roles
    return seed


@pytest.mark.parametrize("permissions, roles", [
    # User.ReadWrite.All does not cover passwordProfile, Directory.ReadWrite.All does not reset passwords.
    (["User.Read.All", "User.ReadWrite.All", "Directory.ReadWrite.All"], ["Exchange Administrator", "User Administrator"]),
    # The permission alone, without at least the User Administrator role.
    (["User.Read.All", "User-PasswordProfile.ReadWrite.All"], ["Exchange Administrator"]),
    (["User.Read.All", "User-PasswordProfile.ReadWrite.All"], ["Exchange Administrator", "Helpdesk Administrator"]),
])
def test_password_reset_needs_permission_and_role(emulator, client, permissions, roles):
    emulator.reset(_seed_with_main_app(permissions, roles))
    token = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    body = {"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": True}}
    resp = client.graph("PATCH", "/users/ann@contoso.com", token, json=body)
    assert resp.status_code == 403
    assert _error(resp) == ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    item = client.graph("POST", "/$batch", token, json={"requests": [
        {"id": "1", "method": "PATCH", "url": "/users/ann@contoso.com", "headers": {"Content-Type": "application/json"}, "body": body}]}
    ).json()["responses"][0]
    assert item["status"] == 403 and item["body"]["error"]["message"] == "Insufficient privileges to complete the operation."
    ann = next(u for u in emulator.state("contoso.com")["users"] if u["userPrincipalName"] == "ann@contoso.com")
    assert ann["passwordSetByGraph"] is False and ann["lastPasswordChangeDateTime"] == seeds.OLD_CHANGE


@pytest.mark.parametrize("roles", [["User Administrator"], ["Privileged Authentication Administrator"], ["Global Administrator"]])
def test_password_reset_roles_that_suffice(emulator, client, roles):
    emulator.reset(_seed_with_main_app(["User.Read.All", "User-PasswordProfile.ReadWrite.All"], roles))
    token = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("PATCH", "/users/ann@contoso.com", token, json={"passwordProfile": {"password": STRONG}}).status_code == 204
    # Other properties do not need the role: accountEnabled needs its own permission only.
    emulator.reset(_seed_with_main_app(["User.Read.All", "User.EnableDisableAccount.All"], []))
    token = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("PATCH", "/users/ann@contoso.com", token, json={"accountEnabled": False}).status_code == 204


def test_account_enabled_and_revoke(emulator, client, token):
    assert client.graph("PATCH", "/users/ann@contoso.com", token, json={"accountEnabled": False}).status_code == 204
    resp = client.graph("POST", "/users/ann@contoso.com/revokeSignInSessions", token)
    assert resp.status_code == 200
    assert resp.json() == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True}
    body = client.graph("GET", "/users/ann@contoso.com?$select=accountEnabled,signInSessionsValidFromDateTime", token).json()
    assert body["accountEnabled"] is False and body["signInSessionsValidFromDateTime"] > seeds.RESTRICTED_AT
    assert client.graph("PATCH", "/users/ann@contoso.com", token, json={"bogus": 1}).status_code == 400


def test_filter_and_paging(emulator, client):
    seed = seeds.generate_seed(1, 250, 5)
    emulator.reset(seed)
    tenant = seed["tenants"][0]
    app = tenant["apps"][0]
    token = client.token(tenant["id"], app["client_id"], app["secrets"][0])
    resp = client.graph("GET", "/users?$filter=proxyAddresses/any(x:x eq 'SMTP:ALIAS5@tenant0.example')&$select=id,mail", token)
    assert [u["mail"] for u in resp.json()["value"]] == ["user5@tenant0.example"]
    resp = client.graph("GET", "/users", token, params={
        "$filter": "mail eq 'user1@tenant0.example' or userPrincipalName eq 'USER2@tenant0.example' or "
                   "proxyAddresses/any(p:p eq 'smtp:alias10@tenant0.example')", "$select": "id,userPrincipalName"})
    assert sorted(u["userPrincipalName"] for u in resp.json()["value"]) == ["user10@tenant0.example", "user1@tenant0.example",
                                                                            "user2@tenant0.example"]
    assert resp.json()["@odata.context"].endswith("#users(id,userPrincipalName)")
    seen, url = [], "/v1.0/users?$select=id&$top=100"
    while url:
        page = client.request("GET", url, headers={"Authorization": f"Bearer {token}"}).json()
        seen += page["value"]
        url = page.get("@odata.nextLink")
        assert url is None or url.startswith(emulator.base_url)
    assert len(seen) == 250 and len({u["id"] for u in seen}) == 250
    assert len(client.graph("GET", "/users", token).json()["value"]) == 100
    assert client.graph("GET", "/users?$top=1000", token).status_code == 400
    assert client.graph("GET", "/users?$filter=startswith(mail,'a')", token).status_code == 400


def test_batch_mixed_statuses(emulator, client, token):
    mark = emulator.mark()
    requests_ = [
        {"id": "1", "method": "GET", "url": f"/users/{ROB}?$select=id,mail"},
        {"id": "2", "method": "PATCH", "url": "/users/ann@contoso.com", "headers": {"Content-Type": "application/json"},
         "body": {"passwordProfile": {"password": STRONG}}},
        {"id": "3", "method": "PATCH", "url": "/users/dana@contoso.com", "headers": {"Content-Type": "application/json"},
         "body": {"passwordProfile": {"password": STRONG}}},
        {"id": "4", "method": "POST", "url": "/users/dana@contoso.com/revokeSignInSessions", "dependsOn": ["3"]},
        {"id": "5", "method": "GET", "url": "/users/nobody@contoso.com"},
        {"id": "6", "method": "POST", "url": "/users/ann@contoso.com/revokeSignInSessions", "dependsOn": ["2"]},
    ]
    resp = client.graph("POST", "/$batch", token, json={"requests": requests_})
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert {k: v["status"] for k, v in by_id.items()} == {"1": 200, "2": 204, "3": 400, "4": 424, "5": 404, "6": 200}
    assert by_id["1"]["body"]["mail"] == "rob@contoso.com"
    assert by_id["5"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    entry = emulator.journal(mark)[-1]
    assert entry["path"] == "/v1.0/$batch" and entry["write"] is False
    assert {(i["id"], i["write"]) for i in entry["batch_items"]} >= {("1", False), ("2", True)}
    writes = emulator.writes(mark)
    assert sorted((w["method"], w["status"]) for w in writes) == [("PATCH", 204), ("PATCH", 400), ("POST", 200), ("POST", 424)]


def test_batch_limits(client, token):
    too_many = [{"id": str(i), "method": "GET", "url": "/users/rob@contoso.com"} for i in range(21)]
    resp = client.graph("POST", "/$batch", token, json={"requests": too_many})
    assert resp.status_code == 400 and "Maximum is 20" in resp.json()["error"]["message"]
    dup = [{"id": "1", "method": "GET", "url": "/users/rob@contoso.com"}] * 2
    assert client.graph("POST", "/$batch", token, json={"requests": dup}).status_code == 400
    no_type = [{"id": "1", "method": "PATCH", "url": "/users/rob@contoso.com", "body": {"accountEnabled": False}}]
    item = client.graph("POST", "/$batch", token, json={"requests": no_type}).json()["responses"][0]
    assert item["status"] == 400


def test_batch_item_throttled(emulator, client, token):
    emulator.set_faults([{"service": "graph", "path": r"/users/ann@", "status": 429, "retry_after": "3", "count": 1}])
    reqs = [{"id": "a", "method": "GET", "url": "/users/ann@contoso.com"}, {"id": "b", "method": "GET", "url": "/users/rob@contoso.com"}]
    resp = client.graph("POST", "/$batch", token, json={"requests": reqs})
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["a"]["status"] == 429 and by_id["a"]["headers"]["Retry-After"] == "3"
    assert by_id["a"]["body"]["error"]["code"] == "TooManyRequests"
    assert by_id["b"]["status"] == 200
    resp = client.graph("POST", "/$batch", token, json={"requests": reqs})
    assert all(r["status"] == 200 for r in resp.json()["responses"])
    assert emulator.stats()["batch_items_429"] == 1
