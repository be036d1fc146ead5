"""Emulator: containment routes (inbox rules, mail folders, authentication methods, client access settings)."""

from __future__ import annotations

import pytest

from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient

T = seeds.CONTOSO_TENANT_ID
ROB = seeds.USER_IDS["rob@contoso.com"]
RULES = f"/users/{ROB}/mailFolders/inbox/messageRules"
METHODS = f"/users/{ROB}/authentication"


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def token(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)


@pytest.fixture
def noperm(client):
    return client.token(T, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET)


def _code(resp):
    return resp.json()["error"]["code"]


def test_list_rules_in_sequence_with_recipient_objects(client, token):
    resp = client.graph("GET", RULES, token)
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.context"].endswith(f"#users('{ROB}')/mailFolders('inbox')/messageRules")
    rules = body["value"]
    assert [r["id"] for r in rules] == [seeds.ROB_NEWSLETTER_RULE_ID, seeds.ROB_FORWARD_RULE_ID, seeds.ROB_HIDE_RULE_ID]
    forward = rules[1]
    assert forward["displayName"] == seeds.ROB_FORWARD_RULE_NAME and forward["isEnabled"] is True
    assert forward["actions"]["forwardTo"] == [{"emailAddress": {"name": "exfil", "address": seeds.EXFIL_ADDRESS}}]
    assert set(forward) >= {"sequence", "conditions", "exceptions", "hasError", "isReadOnly"}
    assert "createdDateTime" not in forward
    by_upn = client.graph("GET", "/users/rob@contoso.com/mailFolders/Inbox/messageRules", token).json()["value"]
    assert by_upn == rules


def test_folder_lookup_by_id_and_well_known_name(client, token):
    rules = client.graph("GET", RULES, token).json()["value"]
    folder = client.graph("GET", f"/users/{ROB}/mailFolders/{rules[2]['actions']['moveToFolder']}", token).json()
    assert folder["displayName"] == "RSS Feeds"
    folder = client.graph("GET", f"/users/{ROB}/mailFolders/{rules[0]['actions']['moveToFolder']}?$select=displayName", token).json()
    assert folder["displayName"] == seeds.ROB_NEWSLETTER_FOLDER
    assert client.graph("GET", f"/users/{ROB}/mailFolders/deleteditems", token).json()["displayName"] == "Deleted Items"
    resp = client.graph("GET", f"/users/{ROB}/mailFolders/AAMkADnothing", token)
    assert resp.status_code == 404 and _code(resp) == "ErrorItemNotFound"


def test_disable_and_delete_rule(emulator, client, token):
    mark = emulator.mark()
    resp = client.graph("PATCH", f"{RULES}/{seeds.ROB_FORWARD_RULE_ID}", token, json={"isEnabled": False})
    assert resp.status_code == 200 and resp.json()["isEnabled"] is False and resp.json()["id"] == seeds.ROB_FORWARD_RULE_ID
    assert client.graph("GET", f"{RULES}/{seeds.ROB_FORWARD_RULE_ID}", token).json()["isEnabled"] is False
    resp = client.graph("PATCH", f"{RULES}/{seeds.ROB_FORWARD_RULE_ID}", token, json={"createdDateTime": "2026-01-01T00:00:00Z"})
    assert resp.status_code == 400 and _code(resp) == "RequestBodyRead"
    resp = client.graph("PATCH", f"{RULES}/{seeds.ROB_FORWARD_RULE_ID}", token, json={"isEnabled": "no"})
    assert resp.status_code == 400
    resp = client.graph("DELETE", f"{RULES}/{seeds.ROB_HIDE_RULE_ID}", token)
    assert resp.status_code == 204 and resp.content == b""
    resp = client.graph("DELETE", f"{RULES}/{seeds.ROB_HIDE_RULE_ID}", token)
    assert resp.status_code == 404 and _code(resp) == "ErrorItemNotFound"
    assert [w["method"] for w in emulator.writes(mark)] == ["PATCH", "PATCH", "PATCH", "DELETE", "DELETE"]
    rob = next(u for u in emulator.state(T)["users"] if u["id"] == ROB)
    assert [r["id"] for r in rob["messageRules"]] == [seeds.ROB_NEWSLETTER_RULE_ID, seeds.ROB_FORWARD_RULE_ID]


def test_rules_errors(client, token, noperm):
    resp = client.graph("GET", RULES, noperm)
    assert resp.status_code == 403 and _code(resp) == "ErrorAccessDenied"
    resp = client.graph("PATCH", f"{RULES}/{seeds.ROB_FORWARD_RULE_ID}", noperm, json={"isEnabled": False})
    assert resp.status_code == 403
    resp = client.graph("GET", f"/users/{ROB}/mailFolders/sentitems/messageRules", token)
    assert resp.status_code == 400
    resp = client.graph("POST", RULES, token, json={"displayName": "x"})
    assert resp.status_code == 405
    assert client.graph("GET", "/users/nobody@contoso.com/mailFolders/inbox/messageRules", token).status_code == 404
    assert client.graph("GET", "/users/ann@contoso.com/mailFolders/inbox/messageRules", token).json()["value"] == []


def test_rules_in_batch(emulator, client, token):
    mark = emulator.mark()
    resp = client.graph("POST", "/$batch", token, json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ROB}/mailFolders/inbox/messageRules"},
        {"id": "2", "method": "PATCH", "url": f"/users/{ROB}/mailFolders/inbox/messageRules/{seeds.ROB_FORWARD_RULE_ID}",
         "headers": {"Content-Type": "application/json"}, "body": {"isEnabled": False}},
        {"id": "3", "method": "DELETE", "url": f"/users/{ROB}/authentication/microsoftAuthenticatorMethods/{seeds.ROB_ATTACKER_AUTHENTICATOR_ID}"},
    ]})
    answers = {r["id"]: r for r in resp.json()["responses"]}
    assert answers["1"]["status"] == 200 and len(answers["1"]["body"]["value"]) == 3
    assert answers["2"]["status"] == 200 and answers["3"]["status"] == 204
    assert sorted(w["method"] for w in emulator.writes(mark)) == ["DELETE", "PATCH"]


def test_list_and_delete_auth_methods(emulator, client, token):
    methods = client.graph("GET", f"{METHODS}/methods", token).json()["value"]
    assert [m["@odata.type"].split(".")[-1] for m in methods] == [
        "passwordAuthenticationMethod", "phoneAuthenticationMethod", "microsoftAuthenticatorAuthenticationMethod",
        "microsoftAuthenticatorAuthenticationMethod"]
    assert methods[0]["id"] == seeds.PASSWORD_METHOD_ID
    assert "createdDateTime" not in methods[1]
    assert methods[3]["createdDateTime"] == seeds.ROB_ATTACKER_AUTHENTICATOR_CREATED > seeds.RESTRICTED_AT
    one = client.graph("GET", f"{METHODS}/methods/{seeds.ROB_OLD_AUTHENTICATOR_ID}", token).json()
    assert one["createdDateTime"] == seeds.ROB_OLD_AUTHENTICATOR_CREATED
    phones = client.graph("GET", f"{METHODS}/phoneMethods", token).json()["value"]
    assert [p["id"] for p in phones] == [seeds.ROB_PHONE_METHOD_ID]
    # The type in the path must match the method's type.
    resp = client.graph("DELETE", f"{METHODS}/phoneMethods/{seeds.ROB_ATTACKER_AUTHENTICATOR_ID}", token)
    assert resp.status_code == 404
    resp = client.graph("DELETE", f"{METHODS}/microsoftAuthenticatorMethods/{seeds.ROB_ATTACKER_AUTHENTICATOR_ID}", token)
    assert resp.status_code == 204
    resp = client.graph("DELETE", f"{METHODS}/passwordMethods/{seeds.PASSWORD_METHOD_ID}", token)
    assert resp.status_code == 405
    resp = client.graph("DELETE", f"{METHODS}/methods/{seeds.ROB_PHONE_METHOD_ID}", token)
    assert resp.status_code == 405
    left = [m["id"] for m in client.graph("GET", f"{METHODS}/methods", token).json()["value"]]
    assert seeds.ROB_ATTACKER_AUTHENTICATOR_ID not in left and len(left) == 3


DEFAULT_REFUSAL = "Cannot delete default method with other methods configured. Please change default method before deletion."
PHONE = f"{METHODS}/phoneMethods/{seeds.ROB_PHONE_METHOD_ID}"
OLD_APP = f"{METHODS}/microsoftAuthenticatorMethods/{seeds.ROB_OLD_AUTHENTICATOR_ID}"
ATTACKER_APP = f"{METHODS}/microsoftAuthenticatorMethods/{seeds.ROB_ATTACKER_AUTHENTICATOR_ID}"


def test_default_method_goes_last(emulator, client, token):
    """Rob's phone, his first multifactor method, is his default: deletable only once it is his last method."""
    mark = emulator.mark()
    resp = client.graph("DELETE", PHONE, token)
    assert resp.status_code == 400
    assert (resp.json()["error"]["code"], resp.json()["error"]["message"]) == ("badRequest", DEFAULT_REFUSAL)
    # In $batch too: the phone first fails, the authenticators go.
    answers = client.graph("POST", "/$batch", token, json={"requests": [
        {"id": "1", "method": "DELETE", "url": PHONE}, {"id": "2", "method": "DELETE", "url": OLD_APP},
        {"id": "3", "method": "DELETE", "url": ATTACKER_APP}]}).json()["responses"]
    assert {a["id"]: a["status"] for a in answers} == {"1": 400, "2": 204, "3": 204}
    assert client.graph("DELETE", PHONE, token).status_code == 204
    left = client.graph("GET", f"{METHODS}/methods", token).json()["value"]
    assert [m["id"] for m in left] == [seeds.PASSWORD_METHOD_ID]
    user = next(u for u in emulator.state(T)["users"] if u["id"] == ROB)
    assert user["defaultMethodId"] is None
    assert [w["status"] for w in emulator.writes(mark)] == [400, 400, 204, 204, 204]


@pytest.mark.parametrize("default, refused", [(seeds.ROB_ATTACKER_AUTHENTICATOR_ID, ATTACKER_APP), (None, None)])
def test_default_method_from_the_seed(emulator, client, default, refused):
    seed = seeds.test_seed()
    rob = next(u for u in seed["tenants"][0]["users"] if u["id"] == ROB)
    rob["defaultMethodId"] = default
    emulator.reset(seed)
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("DELETE", PHONE, token).status_code == 204
    if refused:
        assert client.graph("DELETE", refused, token).status_code == 400
        assert client.graph("DELETE", OLD_APP, token).status_code == 204
    assert client.graph("DELETE", ATTACKER_APP, token).status_code == 204


def test_default_method_must_be_a_multifactor_method(emulator):
    from m365emu.state import SeedError, tenant_from_seed
    seed = seeds.test_seed()
    rob = next(u for u in seed["tenants"][0]["users"] if u["id"] == ROB)
    rob["defaultMethodId"] = seeds.PASSWORD_METHOD_ID
    with pytest.raises(SeedError):
        tenant_from_seed(seed["tenants"][0])


def test_odata_annotations_on_methods(client, token):
    """@odata.type on every item of the polymorphic /methods collection, none under a typed segment; @odata.context always."""
    listed = client.graph("GET", f"{METHODS}/methods", token).json()
    assert listed["@odata.context"].endswith(f"#users('{ROB}')/authentication/methods")
    assert all(m["@odata.type"].startswith("#microsoft.graph.") for m in listed["value"])
    one = client.graph("GET", f"{METHODS}/methods/{seeds.ROB_PHONE_METHOD_ID}", token).json()
    assert one["@odata.type"] == "#microsoft.graph.phoneAuthenticationMethod" and one["@odata.context"].endswith("/methods/$entity")
    phones = client.graph("GET", f"{METHODS}/phoneMethods", token).json()
    assert phones["@odata.context"].endswith("/authentication/phoneMethods") and "@odata.type" not in phones["value"][0]
    phone = client.graph("GET", PHONE, token).json()
    assert "@odata.type" not in phone and phone["phoneType"] == "mobile" and phone["@odata.context"].endswith("/phoneMethods/$entity")
    rules = client.graph("GET", RULES, token).json()
    assert "@odata.context" in rules and not any("@odata.type" in r for r in rules["value"])


def test_auth_methods_permissions(client, noperm):
    resp = client.graph("GET", f"{METHODS}/methods", noperm)
    assert resp.status_code == 403 and _code(resp) == "accessDenied"
    resp = client.graph("DELETE", f"{METHODS}/microsoftAuthenticatorMethods/{seeds.ROB_ATTACKER_AUTHENTICATOR_ID}", noperm)
    assert resp.status_code == 403


def test_block_sign_in(client, token):
    assert client.graph("PATCH", f"/users/{ROB}", token, json={"accountEnabled": False}).status_code == 204
    assert client.graph("GET", f"/users/{ROB}?$select=accountEnabled", token).json()["accountEnabled"] is False


def test_cas_mailbox(emulator, client):
    exo = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    (cas,) = client.exchange(T, exo, "Get-CASMailbox", {"Identity": "rob@contoso.com"}).json()["value"]
    assert cas["ExternalDirectoryObjectId"] == ROB
    assert (cas["PopEnabled"], cas["ImapEnabled"], cas["EwsEnabled"], cas["ActiveSyncEnabled"]) == (True, True, True, True)
    assert cas["SmtpClientAuthenticationDisabled"] is None
    mark = emulator.mark()
    resp = client.exchange(T, exo, "Set-CASMailbox", {"Identity": "rob@contoso.com", "PopEnabled": False, "ImapEnabled": False,
                                                      "SmtpClientAuthenticationDisabled": True})
    assert resp.status_code == 200 and "@adminapi.warnings" not in resp.json()
    (cas,) = client.exchange(T, exo, "Get-CASMailbox", {"Identity": "rob@contoso.com"}).json()["value"]
    assert (cas["PopEnabled"], cas["ImapEnabled"], cas["SmtpClientAuthenticationDisabled"]) == (False, False, True)
    resp = client.exchange(T, exo, "Set-CASMailbox", {"Identity": "rob@contoso.com", "PopEnabled": False})
    assert "no settings" in resp.json()["@adminapi.warnings"][0]
    resp = client.exchange(T, exo, "Set-CASMailbox", {"Identity": "rob@contoso.com", "PopEnabled": "no"})
    assert resp.status_code == 400 and "ParameterBindingException" in resp.json()["error"]["details"][0]["message"]
    resp = client.exchange(T, exo, "Set-CASMailbox", {"Identity": "nobody@contoso.com", "PopEnabled": False})
    assert resp.status_code == 404 and "ManagementObjectNotFoundException" in resp.json()["error"]["details"][0]["message"]
    assert [w["cmdlet"] for w in emulator.writes(mark)] == ["Set-CASMailbox"] * 4
    assert len(client.exchange(T, exo, "Get-CASMailbox").json()["value"]) == 8
    assert emulator.state(T)["mailboxes"]["rob@contoso.com"]["PopEnabled"] is False


def test_opath_filter_for_forwarding_mailboxes():
    from m365emu.exchange import opath_filter
    import pytest as _pytest
    keep = opath_filter('ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null -or DeliverToMailboxAndForward -eq $true')
    assert keep({'ForwardingSmtpAddress': 'smtp:x@evil.example', 'ForwardingAddress': None, 'DeliverToMailboxAndForward': False})
    assert keep({'ForwardingSmtpAddress': None, 'ForwardingAddress': None, 'DeliverToMailboxAndForward': True})
    assert not keep({'ForwardingSmtpAddress': None, 'ForwardingAddress': '', 'DeliverToMailboxAndForward': False})
    both = opath_filter('ForwardingSmtpAddress -ne $null -and DeliverToMailboxAndForward -eq $true')
    assert not both({'ForwardingSmtpAddress': 'smtp:x@evil.example', 'DeliverToMailboxAndForward': False})
    with _pytest.raises(Exception):
        opath_filter('Name -like "rob*"')
