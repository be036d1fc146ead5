"""The conformance check of the emulator journal (tests/conformance) catches wrong requests sent through the emulator,
words each of them, and fails the test that sent them; the journal carries the shapes it needs but never a value."""

from __future__ import annotations

import json

import pytest

from conformance.check import Checker, Reference
from conformance.guard import JournalGuard
from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient

ROB = seeds.USER_IDS["rob@contoso.com"]
PASSWORD = "Conf0rmance!Pa55-word-x"


@pytest.fixture(name="calls")
def calls_fixture(emulator):
    """A raw client with a Graph and an Exchange token of the contoso app."""
    client = EmuClient(emulator.base_url, emulator.ca_path)
    graph = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    exchange = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, resource=EXCHANGE_RESOURCE)
    return client, graph, exchange


def send_wrong_requests(client, graph, exchange):
    """A wrong $select, a wrong body property (plain and in a $batch item) and a wrong cmdlet parameter."""
    client.graph("GET", f"/users/{ROB}?$select=id,displayNme", graph)
    client.graph("PATCH", f"/users/{ROB}", graph, json={"jobTitl": "Analyst"})
    client.graph("POST", "/$batch", graph, json={"requests": [
        {"id": "1", "method": "PATCH", "url": f"/users/{ROB}", "headers": {"Content-Type": "application/json"},
         "body": {"passwordProfile": {"passwrd": PASSWORD, "forceChangePasswordNextSignIn": "yes"}}}]})
    client.exchange(seeds.CONTOSO_TENANT_ID, exchange, "Get-BlockedSenderAddress", {"SenderAdress": "rob@contoso.com"})


@pytest.mark.nonconforming
def test_check_reports_each_wrong_request(emulator, calls):
    client, graph, exchange = calls
    mark = emulator.mark()
    send_wrong_requests(client, graph, exchange)
    findings = Checker(Reference.load()).check(emulator.journal(mark))
    words = sorted(f"{f.request}: {f.violation}" for f in findings)
    assert words == sorted([
        "GET /users/{user-id}?$select=displayNme,id: $select: 'displayNme' is not a property of microsoft.graph.user",
        "PATCH /users/{user-id}: body: 'jobTitl' is not a property of microsoft.graph.user",
        "$batch item PATCH /users/{user-id}: passwordProfile: 'passwrd' is not a property of microsoft.graph.passwordProfile",
        "$batch item PATCH /users/{user-id}: passwordProfile.forceChangePasswordNextSignIn is a JSON string, expected boolean "
        "for Edm.Boolean",
        "Get-BlockedSenderAddress -SenderAdress: Get-BlockedSenderAddress has no parameter -SenderAdress",
    ]), words


@pytest.mark.nonconforming
def test_guard_fails_a_test_with_wrong_requests_and_words_them(emulator, calls):
    """What the autouse fixture of tests/integration/conftest.py does at the end of a test (this test opts out of it
    with the marker, which is why it passes)."""
    client, graph, exchange = calls
    guard = JournalGuard(emulator).start()
    send_wrong_requests(client, graph, exchange)
    failure = guard.finish()
    assert failure is not None
    assert failure.startswith("5 request form(s) do not conform")
    for words in ("'displayNme' is not a property of microsoft.graph.user", "'jobTitl' is not a property",
                  "'passwrd' is not a property of microsoft.graph.passwordProfile", "has no parameter -SenderAdress"):
        assert words in failure, failure
    assert PASSWORD not in failure


@pytest.mark.nonconforming
def test_guard_checks_the_requests_made_before_a_reset_in_the_test(emulator, calls):
    client, graph, _exchange = calls
    guard = JournalGuard(emulator).start()
    client.graph("GET", f"/users/{ROB}?$select=displayNme", graph)
    emulator.reset()
    client.graph("GET", f"/users/{ROB}?$select=displayName", graph)
    failure = guard.finish()
    assert failure is not None and "'displayNme' is not a property" in failure
    assert "reset" not in emulator.__dict__


@pytest.mark.nonconforming
def test_allow_list_entry_marks_a_finding_allowed(emulator, calls):
    client, graph, _exchange = calls
    allow = [{"service": "graph", "request": r"^GET /users/\{user-id\}", "violation": "'displayNme' is not a property",
              "reason": "test"}]
    guard = JournalGuard(emulator, Checker(Reference.load(), allow)).start()
    client.graph("GET", f"/users/{ROB}?$select=displayNme", graph)
    assert guard.finish() is None
    assert [f.allowed for f in guard.findings] == ["test"]


def test_conforming_requests_pass_and_the_journal_holds_shapes_not_values(emulator, calls):
    """Not marked: the autouse check runs on these requests and finds nothing."""
    client, graph, exchange = calls
    mark = emulator.mark()
    assert client.graph("GET", f"/users/{ROB}?$select=id,displayName,proxyAddresses", graph).status_code == 200
    filtered = "/users?$filter=proxyAddresses/any(x:x eq 'smtp:robert@contoso.com') or userPrincipalName eq 'rob@contoso.com'"
    assert client.graph("GET", filtered + "&$select=id", graph).status_code == 200
    batch = client.graph("POST", "/$batch", graph, json={"requests": [
        {"id": "1", "method": "PATCH", "url": f"/users/{ROB}", "headers": {"Content-Type": "application/json"},
         "body": {"passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": True}}}]})
    assert batch.status_code == 200
    assert client.exchange(seeds.CONTOSO_TENANT_ID, exchange, "Get-BlockedSenderAddress",
                           {"SenderAddress": "rob@contoso.com"}).status_code == 200
    journal = emulator.journal(mark)
    assert Checker(Reference.load()).check(journal) == []
    item = next(e for e in journal if e.get("batch_items"))["batch_items"][0]
    assert item["shape"] == {"passwordProfile": {"password": "string", "forceChangePasswordNextSignIn": "boolean"}}
    cmdlet = next(e for e in journal if e["service"] == "exchange")
    assert cmdlet["parameters"] == {"SenderAddress": "string"}
    assert cmdlet["shape"] == {"CmdletInput": {"CmdletName": "string", "Parameters": {"SenderAddress": "string"}}}
    assert PASSWORD not in json.dumps(journal)
