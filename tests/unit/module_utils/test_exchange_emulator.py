"""ExchangeClient against the emulator's admin REST endpoint, over real HTTPS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import (
    NOT_FOUND, ExchangeClient, ExchangeResult, error_kind, exchange_error)
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers

TENANT = seeds.CONTOSO_TENANT_ID


def invocations(emulator, since=0, cmdlet=None):
    return [e for e in emulator.journal(since) if e["service"] == "exchange" and (cmdlet is None or e["cmdlet"] == cmdlet)]


def listed(emulator):
    return {e["SenderAddress"] for e in emulator.state(TENANT)["restricted"]}


def test_get_blocked_sender_all_and_one(exchange):
    everyone = RestrictedUsers(exchange).lookup()
    assert {e["SenderAddress"] for e in everyone} >= {"rob@contoso.com", "ann@contoso.com", "ghost@contoso.com"}
    assert all({"SenderAddress", "Reason", "CreatedDatetime", "ChangedDatetime", "TemporaryBlock"} <= set(e) for e in everyone)
    one = RestrictedUsers(exchange).lookup("ann@contoso.com")
    assert [e["SenderAddress"] for e in one] == ["ann@contoso.com"]
    assert one[0]["Reason"] == seeds.EXTERNAL_LIMIT_REASON
    assert RestrictedUsers(exchange).lookup("carl@contoso.com") == []


def test_paging_posts_the_same_body_to_next_link(emulator, transport, credential):
    client = ExchangeClient(transport, credential, TENANT, emulator.base_url, page_size=2)
    result = client.invoke("Get-BlockedSenderAddress")
    assert isinstance(result, ExchangeResult)
    assert len(result.value) == len(seeds.test_seed()["tenants"][0]["restricted"]) == 7
    calls = invocations(emulator)
    assert len(calls) == 4
    assert all(c["method"] == "POST" and c["cmdlet"] == "Get-BlockedSenderAddress" for c in calls)
    assert "$skiptoken=" in calls[1]["path"]


def test_remove_and_warning(emulator, exchange):
    RestrictedUsers(exchange).remove("rob@contoso.com")
    assert "rob@contoso.com" not in listed(emulator)
    # The last unblock allowed comes with a warning.
    seed = seeds.test_seed()
    for entry in seed["tenants"][0]["restricted"]:
        if entry["SenderAddress"] == "ann@contoso.com":
            entry["unblock_count"] = seeds.UNBLOCK_LIMIT - 1
    emulator.reset(seed)
    result = exchange.invoke("Remove-BlockedSenderAddress", {"SenderAddress": "ann@contoso.com"})
    assert result.value == []
    assert result.warnings and "ann@contoso.com" in result.warnings[0]


def test_failed_removal_is_not_retried(emulator, exchange, sleeps):
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).remove("gina@contoso.com")
    err = info.value
    assert (err.service, err.status, err.code) == ("exchange", 400, "BadRequest")
    assert err.exception_type == "Microsoft.Exchange.Management.Hygiene.UnblockLimitExceededException"
    assert "limit" in err.message and err.request_id and "|" not in err.message
    assert len(invocations(emulator, cmdlet="Remove-BlockedSenderAddress")) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize("form", ["pipe", "json"])
@pytest.mark.parametrize("status", [404, 500])
def test_error_type_and_clean_text_from_either_detail_form(emulator, exchange, form, status):
    seed = seeds.test_seed()
    seed["exchange"].update(error_forms=[form], not_found_statuses=[status])
    emulator.reset(seed)
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).remove("carl@contoso.com")
    err = info.value
    assert err.status == status and err.code == ("NotFound" if status == 404 else "InternalServerError")
    assert err.exception_type == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    assert err.message.startswith("The operation couldn't be performed because object 'carl@contoso.com' couldn't be found")
    assert error_kind(err) == NOT_FOUND
    assert str(err).startswith("[exchange ManagementObjectNotFoundException HTTP %d] The operation" % status)


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True}, {"status": 500}])
def test_removal_after_unknown_outcome_is_not_retried(emulator, exchange, sleeps, fault):
    emulator.set_faults([dict(fault, service="exchange", cmdlet="Remove-BlockedSenderAddress", count=1)])
    with pytest.raises(M365Error):
        RestrictedUsers(exchange).remove("rob@contoso.com")
    assert len(invocations(emulator, cmdlet="Remove-BlockedSenderAddress")) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize("status", [429, 503])
def test_refused_removal_is_retried(emulator, exchange, sleeps, status):
    emulator.set_faults([{"service": "exchange", "cmdlet": "Remove-BlockedSenderAddress", "status": status,
                          "retry_after": "3", "count": 1}])
    RestrictedUsers(exchange).remove("rob@contoso.com")
    assert [c["status"] for c in invocations(emulator, cmdlet="Remove-BlockedSenderAddress")] == [status, 200]
    assert sleeps.calls == [3.0]
    assert "rob@contoso.com" not in listed(emulator)


def test_read_is_retried_after_504(emulator, exchange):
    emulator.set_faults([{"service": "exchange", "cmdlet": "Get-BlockedSenderAddress", "status": 504, "count": 1}])
    assert RestrictedUsers(exchange).lookup("rob@contoso.com")
    assert [c["status"] for c in invocations(emulator)] == [504, 200]


def test_write_flag_follows_the_verb(emulator, exchange):
    assert ExchangeClient.is_write("Remove-BlockedSenderAddress") and ExchangeClient.is_write("Set-Mailbox")
    assert not ExchangeClient.is_write("Get-Mailbox")
    exchange.invoke("Get-Mailbox", {"Identity": "rob@contoso.com"})
    assert invocations(emulator)[-1]["write"] is False


def test_expired_token_is_refreshed_once(emulator, exchange):
    RestrictedUsers(exchange).lookup("rob@contoso.com")
    emulator.set_faults([{"service": "exchange", "expire_tokens": True, "count": 1}])
    mark = emulator.mark()
    RestrictedUsers(exchange).remove("rob@contoso.com")
    steps = [(e["service"], e["status"]) for e in emulator.journal(mark)]
    assert steps == [("exchange", 401), ("token", 200), ("exchange", 200)]


def test_no_permission_app_gets_a_decoded_error(emulator, transport, make_credential):
    cred = make_credential(transport, client_id=seeds.CONTOSO_NOPERM_CLIENT_ID, secret=seeds.CONTOSO_NOPERM_SECRET)
    client = ExchangeClient(transport, cred, TENANT, emulator.base_url)
    with pytest.raises(M365Error) as info:
        RestrictedUsers(client).lookup()
    assert info.value.service == "exchange" and info.value.status in (401, 403)
    assert info.value.message


def test_concurrent_calls_share_one_client(emulator, exchange):
    addresses = ["rob@contoso.com", "ann@contoso.com", "dana@contoso.com", "frank@contoso.com"] * 10
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(RestrictedUsers(exchange).lookup, addresses))
    assert [a[0]["SenderAddress"] for a in answers] == addresses
    assert len([e for e in emulator.journal() if e["service"] == "token" and e["method"] == "POST"]) == 1


def test_missing_tenant_is_a_configuration_error(transport, credential):
    with pytest.raises(M365Error) as info:
        RestrictedUsers(ExchangeClient(transport, credential, "")).lookup()
    assert info.value.code == "invalid_configuration"


def _response(status, body, headers=None):
    response = requests.models.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body  # pylint: disable=protected-access
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize("body, headers, message, request_id", [
    ('{"error":{"code":"X","message":"outer","details":[{"message":"from details"}],'
     '"innererror":{"internalException":{"message":"inner"}}}}', {"request-id": "r1"}, "from details", "r1"),
    ('{"error":{"code":"X","message":"outer","details":[],"innererror":{"internalException":{"message":"inner"}}}}',
     {"X-Request-Id": "r2"}, "inner", "r2"),
    ('{"error":{"code":"X","message":"outer"}}', {}, "outer", None),
    ("<html>Service Unavailable" + "x" * 500 + "</html>", {}, "HTTP 502: <html>Service Unavailable", None),
    ("", {}, "HTTP 502 with no error details", None),
])
def test_exchange_error_rule(body, headers, message, request_id):
    err = exchange_error(_response(502, body, headers))
    assert err.message.startswith(message)
    assert len(err.message) <= 220
    assert err.request_id == request_id
    assert err.status == 502 and err.service == "exchange"


@pytest.mark.parametrize("status", [429, 500, 400])
def test_the_plain_text_concurrency_refusal_is_waited_out_even_for_a_removal(emulator, exchange, transport, sleeps, status):
    """Exchange's plain-text refusal, whatever its status, was not run: the removal is sent again, once it is
    admitted it runs exactly once, and the refusal counts as throttling."""
    emulator.set_faults([{"service": "exchange", "refusal": "concurrency", "status": status, "count": 2}])
    RestrictedUsers(exchange).remove("rob@contoso.com")
    calls = invocations(emulator, cmdlet="Remove-BlockedSenderAddress")
    assert [(c["status"], c.get("refusal")) for c in calls] == [(status, "concurrency"), (status, "concurrency"), (200, None)]
    assert emulator.state(seeds.CONTOSO_TENANT_ID)["unblock_counts"]["rob@contoso.com"] == 1
    assert transport.stats["throttled"] == 2 and len(sleeps.calls) == 2


def test_the_concurrency_refusal_lowers_the_adaptive_limit(emulator, exchange, transport, sleeps):
    limit = transport.limit("exchange", maximum=8, start=8)
    emulator.set_faults([{"service": "exchange", "refusal": "concurrency", "status": 500, "count": 1}])
    RestrictedUsers(exchange).lookup("rob@contoso.com")
    assert limit.limit == 4


def test_the_anchor_names_the_tenant_by_the_token_guid(emulator, transport, credential):
    """Given a domain, the client still anchors on the tenant GUID the token carries."""
    client = ExchangeClient(transport, credential, seeds.CONTOSO_DOMAIN, emulator.base_url)
    token = credential.get_token(client.resource)
    assert client.headers("Get-Mailbox", token)["X-AnchorMailbox"].endswith("@" + seeds.CONTOSO_TENANT_ID)
    assert RestrictedUsers(client).lookup("rob@contoso.com")


def test_annotation_keys_never_reach_the_caller(exchange):
    (entry,) = RestrictedUsers(exchange).lookup("rob@contoso.com")
    assert entry["SenderAddress"] == "rob@contoso.com" and not any("@" in k for k in entry)


def test_errors_in_a_200_answer_fail_the_cmdlet(emulator, exchange):
    seed = seeds.test_seed()
    seed["exchange"].update(error_forms=["adminapi_errors"])
    emulator.reset(seed)
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).remove("carl@contoso.com")
    assert info.value.status == 200 and error_kind(info.value) == NOT_FOUND
    assert info.value.message.startswith("The operation couldn't be performed")


def test_the_anchor_pairs_a_domain_with_upn_when_no_guid_is_known(emulator, transport, credential):
    client = ExchangeClient(transport, credential, seeds.CONTOSO_DOMAIN, emulator.base_url)
    assert client.anchor("not-a-jwt") == "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.com"
