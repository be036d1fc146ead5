"""GraphClient and the transport's retry rule against the emulator's Graph v1.0, over real HTTPS."""

from __future__ import annotations

import email.utils
import time

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import BatchItemResult, GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import RetryPolicy, Transport
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users

ROB = seeds.USER_IDS["rob@contoso.com"]
ANN = seeds.USER_IDS["ann@contoso.com"]
STRONG = "Xq7!vL2#pR9@wT4z"
SELECT = ["id", "userPrincipalName", "mail", "proxyAddresses", "lastPasswordChangeDateTime", "signInSessionsValidFromDateTime"]


def graph_calls(emulator, since=0):
    return [e for e in emulator.journal(since) if e["service"] == "graph"]


def test_get_user_with_select(graph):
    user = Users(graph).get("rob@contoso.com", SELECT)
    assert user["id"] == ROB
    assert "smtp:robert@contoso.com" in user["proxyAddresses"]
    assert "signInSessionsValidFromDateTime" in user
    assert Users(graph).get(ROB, ["id"])["id"] == ROB


def test_query_keeps_odata_dollar_and_commas(emulator, graph):
    Users(graph).get("rob@contoso.com", ["id", "mail"])
    assert graph_calls(emulator)[-1]["path"] == "/v1.0/users/rob@contoso.com?$select=id,mail"


def test_404_request_resource_not_found(graph):
    with pytest.raises(M365Error) as info:
        Users(graph).get("nobody@contoso.com", ["id"])
    err = info.value
    assert (err.service, err.status, err.code) == ("graph", 404, "Request_ResourceNotFound")
    assert "nobody@contoso.com" in err.message
    assert err.request_id and err.transient is False
    assert err.to_dict()["request_id"] == err.request_id


def test_403_authorization_request_denied(graph):
    # eve.admin holds an admin role and the app is not Privileged Authentication Administrator.
    with pytest.raises(M365Error) as info:
        Users(graph).update(seeds.USER_IDS["eve.admin@contoso.com"],
                            {"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": True}})
    err = info.value
    assert (err.status, err.code) == (403, "Authorization_RequestDenied")
    assert err.message == "Insufficient privileges to complete the operation."
    assert err.request_id


def test_400_request_bad_request(emulator, graph):
    with pytest.raises(M365Error) as info:
        Users(graph).update(ANN, {"passwordProfile": {"password": "abc", "forceChangePasswordNextSignIn": True}})
    err = info.value
    assert (err.status, err.code) == (400, "Request_BadRequest")
    assert "password complexity" in err.message
    assert err.request_id
    assert "abc" not in err.message.split("complexity")[0][-5:]
    assert len(emulator.writes()) == 1


def test_password_reset_and_revoke(emulator, graph):
    before = Users(graph).get(ANN, SELECT)
    Users(graph).update(ANN, {"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": True,
                                                  "forceChangePasswordNextSignInWithMfa": False}})
    Users(graph).revoke_sessions(ANN)
    after = Users(graph).get(ANN, SELECT)
    assert after["lastPasswordChangeDateTime"] != before["lastPasswordChangeDateTime"]
    assert after["signInSessionsValidFromDateTime"] != before["signInSessionsValidFromDateTime"]
    assert [(w["method"], w["status"]) for w in emulator.writes()] == [("PATCH", 204), ("POST", 200)]


def test_paging_follows_next_link(emulator, graph):
    pages = list(graph.iter_pages("/users", {"$top": 3, "$select": "id,userPrincipalName"}))
    assert [len(p["value"]) for p in pages] == [3, 3, 2]
    upns = [u["userPrincipalName"] for u in graph.iter_items("/users", {"$top": 5, "$select": "id,userPrincipalName"})]
    assert len(upns) == len(set(upns)) == 8
    assert all("$skiptoken=" in e["path"] for e in graph_calls(emulator)[1:3])


def test_next_link_to_another_host_is_refused(graph):
    with pytest.raises(M365Error) as info:
        graph.url("https://evil.example/v1.0/users?$skiptoken=x")
    assert info.value.code == "unexpected_host"
    assert graph.url(graph.endpoint + "/v1.0/users?$top=1") == graph.endpoint + "/v1.0/users?$top=1"


# -- retry rule ----------------------------------------------------------------------------------


def test_retry_after_seconds_is_honoured(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 429, "retry_after": "2", "count": 2}])
    assert Users(graph).get("rob@contoso.com", ["id"])["id"] == ROB
    assert sleeps.calls == [2.0, 2.0]
    assert [e["status"] for e in graph_calls(emulator)] == [429, 429, 200]
    stats = graph.transport.stats.as_dict()
    assert stats["throttled"] == 2 and stats["retries"] == 2 and stats["sleep_seconds"] == 4.0


def test_retry_after_is_capped(emulator, transport, credential, sleeps):
    transport.retry = RetryPolicy(retry_after_max=5.0)
    graph = GraphClient(transport, credential, emulator.base_url)
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 503, "retry_after": "3600", "count": 1}])
    Users(graph).get("rob@contoso.com", ["id"])
    assert sleeps.calls == [5.0]


def test_retry_after_http_date(emulator, graph, sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 429, "retry_after": when, "count": 1}])
    Users(graph).get("rob@contoso.com", ["id"])
    assert len(sleeps.calls) == 1 and 25 <= sleeps.calls[0] <= 31


def test_429_without_retry_after_backs_off(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 429, "count": 3}])
    Users(graph).get("rob@contoso.com", ["id"])
    policy = graph.transport.retry
    assert len(sleeps.calls) == 3
    assert all(0 <= d <= min(policy.backoff_max, policy.backoff_base * 2 ** i) for i, d in enumerate(sleeps.calls))


def test_attempts_and_total_wait_are_bounded(emulator, transport, credential, sleeps):
    transport.retry = RetryPolicy(max_attempts=3)
    graph = GraphClient(transport, credential, emulator.base_url)
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 429, "retry_after": "1", "count": 10}])
    with pytest.raises(M365Error) as info:
        Users(graph).get("rob@contoso.com", ["id"])
    assert info.value.status == 429 and info.value.transient is True
    assert len(graph_calls(emulator)) == 3 and sleeps.calls == [1.0, 1.0]
    emulator.reset()
    transport.retry = RetryPolicy(max_total_wait=5.0)
    emulator.set_faults([{"service": "graph", "path": "users/rob", "status": 429, "retry_after": "2", "count": 10}])
    sleeps.calls.clear()
    with pytest.raises(M365Error):
        Users(graph).get("rob@contoso.com", ["id"])
    assert sleeps.calls == [2.0, 2.0]


def test_write_is_retried_when_refused(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": "users/", "status": 503, "retry_after": "1", "count": 1}])
    Users(graph).update(ANN, {"accountEnabled": False})
    assert [w["status"] for w in emulator.writes()] == [503, 204]


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True}])
def test_write_is_not_retried_after_an_unknown_outcome(emulator, graph, sleeps, fault):
    emulator.set_faults([dict(fault, service="graph", path="users/", count=1)])
    with pytest.raises(M365Error) as info:
        Users(graph).update(ANN, {"accountEnabled": False})
    assert info.value.transient is True
    assert len(emulator.writes()) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True}])
def test_read_is_retried_after_timeout_or_drop(emulator, graph, fault):
    emulator.set_faults([dict(fault, service="graph", path="users/rob", count=1)])
    assert Users(graph).get("rob@contoso.com", ["id"])["id"] == ROB
    assert len(graph_calls(emulator)) == 2


def test_revoke_is_retried_after_504(emulator, graph):
    emulator.set_faults([{"service": "graph", "path": "revokeSignInSessions", "status": 504, "count": 1}])
    Users(graph).revoke_sessions(ANN)
    assert [w["status"] for w in emulator.writes()] == [504, 200]


def test_read_timeout_on_write_is_not_retried(emulator, make_credential, sleeps):
    with Transport(verify=emulator.ca_path, timeout=0.3, sleep=sleeps) as transport:
        graph = GraphClient(transport, make_credential(transport), emulator.base_url)
        Users(graph).get(ANN, ["id"])  # token first, without latency
        emulator.set_faults([{"service": "graph", "path": "users/", "latency_ms": 1500, "count": 1}])
        with pytest.raises(M365Error) as info:
            Users(graph).update(ANN, {"accountEnabled": False})
    assert info.value.code == "timeout"
    assert "may or may not have been applied" in info.value.message
    assert sleeps.calls == []


# -- $batch -------------------------------------------------------------------------------------


def test_batch_mixed_statuses(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": "users/carl", "status": 429, "retry_after": "1", "count": 1}])
    requests = [{"id": upn, "method": "GET", "url": f"/users/{upn}?$select=id"} for upn in seeds.USER_IDS]
    requests.append({"id": "weak", "method": "PATCH", "url": f"/users/{ANN}", "body": {"passwordProfile": {"password": "abc"}}})
    requests.append({"id": "ok-write", "method": "PATCH", "url": f"/users/{ROB}", "body": {"accountEnabled": True}})
    results = graph.batch(requests)
    assert set(results) == {r["id"] for r in requests}
    assert results["carl@contoso.com"].status == 200 and results["carl@contoso.com"].ok
    assert results["rob@contoso.com"].body["id"] == ROB
    missing = results["alice@fabrikam.com"]
    assert isinstance(missing, BatchItemResult) and not missing.ok and missing.status == 404
    err = missing.error()
    assert (err.code, err.status) == ("Request_ResourceNotFound", 404) and err.request_id
    weak = results["weak"].error()
    assert (weak.status, weak.code) == (400, "Request_BadRequest")
    assert results["ok-write"].status == 204 and results["ok-write"].error() is None
    assert sleeps.calls == [1.0]
    batches = [e for e in graph_calls(emulator) if e["path"] == "/v1.0/$batch"]
    assert [len(b["batch_items"]) for b in batches] == [15, 1]
    # Items with a body get the Content-Type header; a re-sent round carries only the throttled item.
    assert batches[1]["batch_items"][0]["url"].startswith("/users/carl")


def test_batch_write_items_are_not_resent_after_504(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": f"users/{ANN}", "status": 504, "count": 1},
                         {"service": "graph", "path": f"users/{ROB}", "status": 503, "retry_after": "1", "count": 1}])
    results = graph.batch([{"id": "ann", "method": "PATCH", "url": f"/users/{ANN}", "body": {"accountEnabled": True}},
                           {"id": "rob", "method": "PATCH", "url": f"/users/{ROB}", "body": {"accountEnabled": True}}])
    assert results["ann"].status == 504 and results["ann"].error().transient
    assert results["rob"].status == 204
    assert sorted((w["batch_id"], w["status"]) for w in emulator.writes()) == [("ann", 504), ("rob", 204), ("rob", 503)]


def test_batch_many_items_concurrently(emulator, graph):
    upns = list(seeds.USER_IDS)[:8]
    requests = [{"id": str(i), "method": "GET", "url": f"/users/{upns[i % 8]}?$select=id"} for i in range(1000)]
    started = time.monotonic()
    results = graph.batch(requests, max_concurrency=4)
    elapsed = time.monotonic() - started
    assert len(results) == 1000 and all(r.ok for r in results.values())
    assert results["999"].body["id"] == seeds.USER_IDS[upns[999 % 8]]
    batches = [e for e in graph_calls(emulator) if e["path"] == "/v1.0/$batch"]
    assert len(batches) == 50 and all(len(b["batch_items"]) <= 20 for b in batches)
    assert elapsed < 30


def test_batch_rejects_duplicate_ids(graph):
    with pytest.raises(M365Error, match="Duplicate"):
        graph.batch([{"id": "1", "method": "GET", "url": "/users/a"}, {"id": 1, "method": "GET", "url": "/users/b"}])


def test_batch_outer_failure_is_copied_to_each_item(emulator, graph):
    emulator.set_faults([{"service": "graph", "path": r"\$batch", "status": 504, "count": 10}])
    graph.transport.retry = RetryPolicy(max_attempts=2)
    results = graph.batch([{"id": "w", "method": "PATCH", "url": f"/users/{ANN}", "body": {"accountEnabled": True}}])
    assert results["w"].status == 504
    assert len([e for e in graph_calls(emulator) if e["path"] == "/v1.0/$batch"]) == 1
