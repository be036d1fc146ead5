"""Client core under faults found by the fault matrix: a token that expires inside a $batch, a dropped token request."""

from __future__ import annotations

import threading
import time

from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers

ROB = seeds.USER_IDS["rob@contoso.com"]
ANN = seeds.USER_IDS["ann@contoso.com"]


def test_batch_items_refused_for_an_expired_token_are_resent_once_with_a_fresh_token(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": f"users/{ANN}/revokeSignInSessions", "expire_tokens": True, "count": 1}])
    results = graph.batch([{"id": "rob", "method": "POST", "url": f"/users/{ROB}/revokeSignInSessions"},
                           {"id": "ann", "method": "POST", "url": f"/users/{ANN}/revokeSignInSessions"}])
    assert results["ann"].ok and results["rob"].ok, {k: (r.status, r.body) for k, r in results.items()}
    writes = [(w["batch_id"], w["status"]) for w in emulator.writes()]
    # ann's item was refused (401, not applied) and sent again; nothing was applied twice.
    assert sorted(w for w in writes if w[1] < 300) == [("ann", 200), ("rob", 200)]
    assert ("ann", 401) in writes
    assert sleeps.calls in ([], [0.0])
    tokens = [e for e in emulator.journal() if e["service"] == "token" and e["method"] == "POST"]
    assert len(tokens) == 2


def test_batch_401_for_another_reason_is_final(emulator, graph):
    """Only one fresh token per call: a token refused again is reported, not looped on."""
    emulator.set_faults([{"service": "graph", "path": f"users/{ANN}/revokeSignInSessions", "expire_tokens": True}])
    results = graph.batch([{"id": "ann", "method": "POST", "url": f"/users/{ANN}/revokeSignInSessions"}])
    assert results["ann"].status == 401
    assert len([w for w in emulator.writes() if w.get("batch_id") == "ann"]) == 2


def test_dropped_token_request_is_tried_again(emulator, graph, sleeps):
    emulator.set_faults([{"service": "token", "path": "oauth2/v2.0/token", "drop": True, "count": 1}])
    assert Users(graph).get("rob@contoso.com", ["id"])["id"] == ROB
    tokens = [e for e in emulator.journal() if e["service"] == "token" and e["method"] == "POST"]
    assert [e.get("dropped", False) for e in tokens] == [True, False]
    assert len(sleeps.calls) == 1


def test_journal_names_the_cmdlet_target_and_batch_fields(emulator, graph, exchange):
    RestrictedUsers(exchange).lookup("rob@contoso.com")
    graph.batch([{"id": "1", "method": "PATCH", "url": f"/users/{ROB}", "body": {"accountEnabled": True}}])
    entries = emulator.journal()
    assert [e["identity"] for e in entries if e["service"] == "exchange"] == ["rob@contoso.com"]
    assert emulator.writes()[0]["fields"] == ["accountEnabled"]


def test_issued_tokens_are_listed(emulator, graph):
    Users(graph).get("rob@contoso.com", ["id"])
    token = graph.credential.get_token(graph.resource)
    assert token in emulator.issued_tokens()


def test_request_delayed_across_a_reset_never_touches_the_new_state(emulator, exchange):
    """A slow write of one test, answered after the next test reset the emulator, must not change the new tenant."""
    emulator.set_faults([{"service": "exchange", "cmdlet": "Remove-BlockedSenderAddress", "latency_ms": 1500}])
    outcome = []

    def remove():
        try:
            RestrictedUsers(exchange).remove("rob@contoso.com")
            outcome.append("done")
        except M365Error as error:
            outcome.append(error.code)

    worker = threading.Thread(target=remove)
    worker.start()
    time.sleep(0.5)
    emulator.reset()
    worker.join()
    assert outcome == ["connection_error"]
    assert "rob@contoso.com" in {e["SenderAddress"] for e in emulator.state(seeds.CONTOSO_TENANT_ID)["restricted"]}
    assert emulator.journal() == []
