"""Emulator: Exchange admin REST InvokeCommand (Restricted Users list, mailboxes, routing, throttling)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from m365emu import exchange, seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient

T = seeds.CONTOSO_TENANT_ID


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def token(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)


def _err(resp):
    """``(kind, text)``: a failed cmdlet's exception type (short) and text, read from either detail form; else the
    envelope's code and message."""
    error = resp.json()["error"]
    detail = error["details"][0]["message"]
    assert detail
    if error["message"] == "Error executing cmdlet":
        if detail.startswith("{"):
            data = json.loads(detail)
            return data["TypeName"].rsplit(".", 1)[-1], data["Message"]
        code, exc_type, text = detail.split("|", 2)
        assert code.startswith("Ex")
        return exc_type.rsplit(".", 1)[-1], text
    return error["code"], error["message"]


def test_get_blocked_sender(client, token):
    resp = client.exchange(T, token, "Get-BlockedSenderAddress", {"SenderAddress": "ROB@contoso.com"})
    assert resp.status_code == 200 and resp.headers["request-id"]
    body = resp.json()
    assert body["@odata.context"].startswith(f"https://outlook.office365.com/adminapi/beta/{T}/$metadata#")
    assert "@adminapi.warnings" not in body
    (obj,) = body["value"]
    assert obj["SenderAddress"] == "rob@contoso.com" and obj["TemporaryBlock"] is False
    assert obj["CreatedDatetime"] == "2026-11-20T08:00:00.0000000Z"
    assert obj["Reason"].startswith("OutboundSpamLast24Hours=")
    assert client.exchange(T, token, "Get-BlockedSenderAddress", {"SenderAddress": "carl@contoso.com"}).json()["value"] == []
    everyone = client.exchange(seeds.CONTOSO_DOMAIN, token, "Get-BlockedSenderAddress").json()["value"]
    assert {o["SenderAddress"] for o in everyone} >= {"ghost@contoso.com", "frank@contoso.com"}


def test_remove_and_limit(emulator, client, token):
    mark = emulator.mark()
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "Rob@Contoso.com"})
    assert resp.status_code == 200 and resp.json()["value"] == []
    assert client.exchange(T, token, "Get-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"}).json()["value"] == []
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"})
    assert resp.status_code == 404 and _err(resp) == (
        "ManagementObjectNotFoundException", f"The operation couldn't be performed because object 'rob@contoso.com' couldn't be found on "
                                             f"'{exchange.SERVER_NAME}'.")
    assert resp.json()["error"]["code"] == "NotFound"
    writes = emulator.writes(mark)
    assert [(w["cmdlet"], w["status"]) for w in writes] == [("Remove-BlockedSenderAddress", 200), ("Remove-BlockedSenderAddress", 404)]
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "gina@contoso.com"})
    assert resp.status_code == 400
    code, message = _err(resp)
    assert code == "UnblockLimitExceededException" and "limit" in message and "Microsoft support" in message
    state = emulator.state(T)
    assert state["unblock_counts"]["rob@contoso.com"] == 1
    assert any(r["SenderAddress"] == "gina@contoso.com" for r in state["restricted"])


def test_unblock_count_survives_reblock(emulator, client, token):
    for n in range(seeds.UNBLOCK_LIMIT):
        if n:
            emulator.restrict(T, "ann@contoso.com", "OutboundSpamLast24Hours=9")
        resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "ann@contoso.com"})
        assert resp.status_code == 200
    assert "@adminapi.warnings" in resp.json()
    emulator.restrict(T, "ann@contoso.com")
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "ann@contoso.com"})
    assert resp.status_code == 400 and _err(resp)[0] == "UnblockLimitExceededException"


def test_mailbox_forwarding(client, token):
    resp = client.exchange(T, token, "Get-Mailbox", {"Identity": "robert@contoso.com"})
    (box,) = resp.json()["value"]
    assert box["ForwardingSmtpAddress"] == "smtp:exfil@evil.example" and box["DeliverToMailboxAndForward"] is True
    assert box["UserPrincipalName"] == "rob@contoso.com" and box["PrimarySmtpAddress"] == "rob@contoso.com"
    assert box["ExternalDirectoryObjectId"] == seeds.USER_IDS["rob@contoso.com"]
    resp = client.exchange(T, token, "Set-Mailbox", {"Identity": "rob@contoso.com", "ForwardingSmtpAddress": None,
                                                     "ForwardingAddress": None, "DeliverToMailboxAndForward": False})
    assert resp.status_code == 200
    box = client.exchange(T, token, "Get-Mailbox", {"Identity": "rob@contoso.com"}).json()["value"][0]
    assert box["ForwardingSmtpAddress"] is None and box["DeliverToMailboxAndForward"] is False
    again = client.exchange(T, token, "Set-Mailbox", {"Identity": "rob@contoso.com", "ForwardingSmtpAddress": None})
    assert again.json()["@adminapi.warnings"]
    resp = client.exchange(T, token, "Get-Mailbox", {"Identity": "nobody@contoso.com"})
    assert resp.status_code == 404 and "couldn't be found" in _err(resp)[1]


def test_errors(client, token):
    resp = client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}, headers={"X-AnchorMailbox": "UPN:rob@contoso.com"})
    assert resp.status_code == 400 and _err(resp)[0] == "ErrorIncorrectRoutingHint"
    other = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{seeds.FABRIKAM_TENANT_ID}"
    assert client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}, headers={"X-AnchorMailbox": other}).status_code == 400
    resp = client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}, headers={"X-CmdletName": "Set-Mailbox"})
    assert resp.status_code == 400
    resp = client.exchange(T, token, "Get-Nothing")
    assert resp.status_code == 400 and "not recognized" in _err(resp)[1]
    resp = client.exchange(T, token, "Get-Mailbox", {"Bogus": 1})
    assert resp.status_code == 400 and "Bogus" in _err(resp)[1]
    graph_token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.exchange(T, graph_token, "Get-Mailbox").status_code == 401
    fab = client.token(seeds.FABRIKAM_TENANT_ID, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET, EXCHANGE_RESOURCE)
    assert client.exchange(T, fab, "Get-Mailbox").status_code == 401
    noperm = client.token(T, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET, EXCHANGE_RESOURCE)
    assert client.exchange(T, noperm, "Get-Mailbox").status_code == 403


def test_missing_directory_role(emulator, client):
    seed = seeds.test_seed()
    seed["tenants"][0]["apps"][0]["directory_roles"] = ["User Administrator"]
    emulator.reset(seed)
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    resp = client.exchange(T, token, "Get-BlockedSenderAddress")
    assert resp.status_code == 403 and "isn't supported in this scenario" in _err(resp)[1]


def test_paging(emulator, client):
    seed = seeds.generate_seed(1, 30, 25)
    emulator.reset(seed)
    tenant = seed["tenants"][0]
    token = client.token(tenant["id"], tenant["apps"][0]["client_id"], tenant["apps"][0]["secrets"][0], EXCHANGE_RESOURCE)
    seen, url = [], None
    while True:
        body = client.exchange(tenant["id"], token, "Get-BlockedSenderAddress", url=url, page_size=10).json()
        seen += body["value"]
        url = body.get("@odata.nextLink")
        if not url:
            break
        assert url.startswith(emulator.base_url)
    assert len(seen) == 25 and len({o["SenderAddress"] for o in seen}) == 25


def test_concurrency_throttle(emulator, client, token):
    seed = seeds.test_seed()
    seed["exchange"] = {"concurrency_per_tenant": 2, "budget_per_10s": 0}
    emulator.reset(seed)
    emulator.set_faults([{"service": "exchange", "latency_ms": 300}])
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _index: EmuClient(emulator.base_url, emulator.ca_path).exchange(T, token, "Get-Mailbox").status_code,
                                 range(6)))
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    assert emulator.stats()["exchange_throttled"]["concurrency"] >= 1


def test_budget_throttle(emulator, client, token):
    seed = seeds.test_seed()
    seed["exchange"] = {"concurrency_per_tenant": 0, "budget_per_10s": 3}
    emulator.reset(seed)
    statuses = [client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}) for _attempt in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert _err(statuses[-1])[0] == "TooManyRequests"
    fab = client.token(seeds.FABRIKAM_TENANT_ID, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET, EXCHANGE_RESOURCE)
    assert client.exchange(seeds.FABRIKAM_TENANT_ID, fab, "Get-Mailbox").status_code == 200


def test_error_forms_and_not_found_statuses_take_turns(emulator, client, token):
    """A failed cmdlet names its type in details[].message, in the pipe form and the JSON form in turn; a not-found
    answers 404, 404, then 500."""
    answers = [client.exchange(T, token, "Get-Mailbox", {"Identity": "nobody@contoso.com"}) for dummy in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 500, 404]
    assert [a.json()["error"]["code"] for a in answers] == ["NotFound", "NotFound", "InternalServerError", "NotFound"]
    details = [a.json()["error"]["details"][0]["message"] for a in answers]
    assert details[0].startswith("Ex") and "|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|" in details[0]
    assert json.loads(details[1])["TypeName"] == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    assert {_err(a) for a in answers} == {("ManagementObjectNotFoundException",
                                           f"The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found "
                                           f"on '{exchange.SERVER_NAME}'.")}
    seed = seeds.test_seed()
    seed["exchange"].update(error_forms=["json"], not_found_statuses=[500])
    emulator.reset(seed)
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "carl@contoso.com"})
    assert resp.status_code == 500 and resp.json()["error"]["details"][0]["message"].startswith("{")


def test_reason_names_the_entry(emulator, client, token):
    """-Reason is the entry's own Reason value: a note of the admin's matches no entry, the entry's value does."""
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com", "Reason": "password reset"})
    assert resp.status_code in (404, 500) and _err(resp)[0] == "ManagementObjectNotFoundException"
    assert any(r["SenderAddress"] == "rob@contoso.com" for r in emulator.state(T)["restricted"])
    resp = client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com", "Reason": seeds.OUTBOUND_SPAM_REASON})
    assert resp.status_code == 200


def test_objects_carry_annotations(client, token):
    (entry,) = client.exchange(T, token, "Get-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"}).json()["value"]
    assert entry["@odata.type"] and entry["CreatedDatetime@data.type"] == "System.DateTime"
    (box,) = client.exchange(T, token, "Get-Mailbox", {"Identity": "rob@contoso.com"}).json()["value"]
    assert box["@odata.type"] and "Identity@data.type" in box


def test_lenient_headers(client, token):
    """X-CmdletName may be left out; the anchor may name the tenant by GUID or domain, as APP: or UPN:."""
    assert client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}, headers={"X-CmdletName": None}).status_code == 200
    for anchor in (f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{T}",
                   "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.com",
                   "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com"):
        assert client.exchange(T, token, "Get-Mailbox", {"Identity": "rob"}, headers={"X-AnchorMailbox": anchor}).status_code == 200


def test_security_administrator_may_unblock_but_not_set_mailboxes(emulator, client):
    seed = seeds.test_seed()
    seed["tenants"][0]["apps"][0]["directory_roles"] = ["Security Administrator", "User Administrator"]
    emulator.reset(seed)
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    for cmdlet in ("Set-Mailbox", "Set-CASMailbox"):
        resp = client.exchange(T, token, cmdlet, {"Identity": "rob@contoso.com"})
        assert resp.status_code == 400 and _err(resp)[0] == "CommandNotFoundException"
    assert client.exchange(T, token, "Remove-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"}).status_code == 200


def test_concurrency_refusal_fault(emulator, client, token):
    """The plain-text refusal on every third Exchange request, with the rule's status; journaled as a refusal."""
    emulator.set_faults([{"service": "exchange", "refusal": "concurrency", "every": 3, "status": 500}])
    mark = emulator.mark()
    answers = [client.exchange(T, token, "Get-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"}) for dummy in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 500, 200, 200, 500]
    assert answers[2].text == exchange.CONCURRENCY_REFUSAL and answers[2].headers["Content-Type"].startswith("text/plain")
    assert [e.get("refusal") for e in emulator.journal(mark)] == [None, None, "concurrency", None, None, "concurrency"]
