"""RestrictedUsers against the emulator's Exchange admin endpoint, over real HTTPS: lookups, reads, removals, unblocks.

(Named apart from tests/unit/eda/test_restricted_users.py: pytest collects test files by basename.)
"""

from __future__ import annotations

import datetime as dt

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import NOT_FOUND, WHOLE_LIST_THRESHOLD, ExchangeClient, error_kind
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import restricted_users
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import ALREADY_OFF, LOOKUP, REMOVAL, RestrictedUsers

TENANT = seeds.CONTOSO_TENANT_ID
SEEDED = {"rob@contoso.com", "ann@contoso.com", "dana@contoso.com", "eve.admin@contoso.com", "frank@contoso.com", "gina@contoso.com",
          "ghost@contoso.com"}


def calls(emulator, since=0, cmdlet=None):
    return [e for e in emulator.journal(since) if e["service"] == "exchange" and (cmdlet is None or e["cmdlet"] == cmdlet)]


def listed(emulator):
    return {e["SenderAddress"] for e in emulator.state(TENANT)["restricted"]}


@pytest.fixture
def portal(emulator, transport, make_credential):
    """Another admin's Exchange session (the privileged app): what someone unblocking in the portal does."""
    credential = make_credential(transport, client_id=seeds.CONTOSO_PRIVILEGED_CLIENT_ID, secret=seeds.CONTOSO_PRIVILEGED_SECRET)
    return RestrictedUsers(ExchangeClient(transport, credential, TENANT, emulator.base_url))


class NotFoundFor(ExchangeClient):
    """An Exchange client whose list lookup of the given addresses meets Exchange's not-found answer.

    The emulator's Get-BlockedSenderAddress answers an address that is not listed with no object, as Exchange
    usually does; some tenants answer with ManagementObjectNotFoundException instead. For those addresses this
    client asks the emulator for the mailbox of a recipient that does not exist, which answers with exactly that
    error over HTTPS, decoded by the client as any other.
    """

    def __init__(self, *args, addresses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.not_found = set(addresses)

    def invoke(self, cmdlet, parameters=None, *, write=None):
        if cmdlet == LOOKUP and (parameters or {}).get("SenderAddress") in self.not_found:
            return super().invoke("Get-Mailbox", {"Identity": "no-such-recipient@contoso.com"})
        return super().invoke(cmdlet, parameters, write=write)


# -- lookup ---------------------------------------------------------------------------------------------------


def test_lookup_all_and_one(emulator, exchange):
    everyone = RestrictedUsers(exchange).lookup()
    assert {e["SenderAddress"] for e in everyone} == SEEDED
    (ann,) = RestrictedUsers(exchange).lookup("ann@contoso.com")
    assert ann["Reason"] == seeds.EXTERNAL_LIMIT_REASON and ann["TemporaryBlock"] is False
    assert RestrictedUsers(exchange).lookup("carl@contoso.com") == []
    assert [(c["cmdlet"], c["write"]) for c in calls(emulator)] == [(LOOKUP, False)] * 3


# -- read -----------------------------------------------------------------------------------------------------


def test_read_the_whole_list(emulator, exchange):
    entries, errors = RestrictedUsers(exchange).read()
    assert errors == {} and set(entries) == SEEDED
    rob = entries["rob@contoso.com"]
    assert rob["created"] == seeds.RESTRICTED_AT and rob["temporary_block"] is False
    assert rob["reason_details"]["OutboundSpamPercent"] == "27"
    assert len(calls(emulator)) == 1


def test_read_few_addresses_one_by_one(emulator, exchange):
    wanted = ["rob@contoso.com", "carl@contoso.com", "frank@contoso.com"]
    entries, errors = RestrictedUsers(exchange).read(wanted)
    assert errors == {} and sorted(entries) == ["frank@contoso.com", "rob@contoso.com"]
    assert entries["frank@contoso.com"]["address"] == "frank@contoso.com"
    assert len(calls(emulator, cmdlet=LOOKUP)) == len(wanted)


def test_read_many_addresses_takes_one_whole_read(emulator, exchange):
    wanted = sorted(SEEDED) + ["carl@contoso.com", "nobody@contoso.com", "breakglass@contoso.com"]
    assert len(wanted) > WHOLE_LIST_THRESHOLD
    entries, errors = RestrictedUsers(exchange).read(wanted)
    assert errors == {} and set(entries) == SEEDED
    assert len(calls(emulator)) == 1
    # Only the addresses asked for come back, even from the whole list.
    few, dummy = RestrictedUsers(exchange).read(["rob@contoso.com"] * (WHOLE_LIST_THRESHOLD + 1))
    assert list(few) == ["rob@contoso.com"]


def test_read_takes_a_not_found_for_not_listed(emulator, transport, credential):
    client = NotFoundFor(transport, credential, TENANT, emulator.base_url, addresses={"carl@contoso.com"})
    entries, errors = RestrictedUsers(client).read(["rob@contoso.com", "carl@contoso.com"])
    assert list(entries) == ["rob@contoso.com"] and errors == {}
    # The not-found really came from the service.
    assert [c["status"] for c in calls(emulator, cmdlet="Get-Mailbox")] in ([404], [500], [400])


def test_read_keeps_other_errors_per_address(emulator, exchange):
    # One worker: the second lookup is the one that fails (a 500 is final, not sent again).
    emulator.set_faults([{"service": "exchange", "cmdlet": LOOKUP, "status": 500, "after": 1, "count": 1}])
    entries, errors = RestrictedUsers(exchange).read(["rob@contoso.com", "ann@contoso.com", "carl@contoso.com"], max_workers=1)
    assert list(entries) == ["rob@contoso.com"]
    assert list(errors) == ["ann@contoso.com"] and errors["ann@contoso.com"].status == 500
    assert len(calls(emulator, cmdlet=LOOKUP)) == 3


def test_an_error_reading_the_whole_list_is_raised(emulator, exchange):
    emulator.set_faults([{"service": "exchange", "cmdlet": LOOKUP, "status": 500, "count": 1}])
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).read()
    assert info.value.status == 500


# -- remove ---------------------------------------------------------------------------------------------------


def test_remove_takes_the_address_off_the_list(emulator, exchange):
    answer = RestrictedUsers(exchange).remove("rob@contoso.com")
    assert answer.warnings == []
    assert "rob@contoso.com" not in listed(emulator)
    assert emulator.state(TENANT)["unblock_counts"]["rob@contoso.com"] == 1
    (call,) = calls(emulator)
    assert (call["cmdlet"], call["write"], call["status"]) == (REMOVAL, True, 200)


def test_remove_without_an_address_sends_nothing(emulator, exchange):
    mark = emulator.mark()
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).remove("")
    assert info.value.code == "invalid_argument"
    assert emulator.journal(mark) == []


# -- unblock --------------------------------------------------------------------------------------------------


def test_unblock_returns_the_time_and_warnings(emulator, exchange):
    seed = seeds.test_seed()
    for entry in seed["tenants"][0]["restricted"]:
        if entry["SenderAddress"] == "ann@contoso.com":
            entry["unblock_count"] = seeds.UNBLOCK_LIMIT - 1
    emulator.reset(seed)
    before = dt.datetime.now(dt.timezone.utc)
    when, warnings = RestrictedUsers(exchange).unblock("rob@contoso.com")
    assert before - dt.timedelta(seconds=1) <= when <= dt.datetime.now(dt.timezone.utc) and warnings == []
    dummy, warnings = RestrictedUsers(exchange).unblock("ann@contoso.com")
    assert warnings and "ann@contoso.com" in warnings[0]
    result = restricted_users.unblock_result("ann@contoso.com", {}, dummy, warnings)
    assert result["changed"] and result["msg"].startswith("unblocked; Exchange warned: ")
    assert listed(emulator) == SEEDED - {"rob@contoso.com", "ann@contoso.com"}


def test_unblock_after_someone_else_removed_it_is_already_off(emulator, exchange, portal):
    assert RestrictedUsers(exchange).lookup("rob@contoso.com")
    portal.remove("rob@contoso.com")
    mark = emulator.mark()
    assert RestrictedUsers(exchange).unblock("rob@contoso.com") == ALREADY_OFF
    # One removal (answered not-found), then one lookup to confirm; the count is the other admin's only.
    ours = [(c["cmdlet"], c["status"]) for c in calls(emulator, mark)]
    assert [cmdlet for cmdlet, status in ours] == [REMOVAL, LOOKUP] and ours[0][1] != 200
    assert emulator.state(TENANT)["unblock_counts"]["rob@contoso.com"] == 1
    result = restricted_users.unblock_result("rob@contoso.com", {}, ALREADY_OFF)
    assert not result["changed"] and not result["failed"] and result["msg"] == restricted_users.ALREADY_OFF_MSG


def test_unblock_keeps_the_removal_error_when_the_check_fails(emulator, exchange, portal):
    portal.remove("rob@contoso.com")
    emulator.set_faults([{"service": "exchange", "cmdlet": LOOKUP, "status": 500, "count": 1}])
    mark = emulator.mark()
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).unblock("rob@contoso.com")
    assert error_kind(info.value) == NOT_FOUND and info.value.exception_type.endswith("ManagementObjectNotFoundException")
    assert len(calls(emulator, mark, cmdlet=REMOVAL)) == 1


def test_unblock_at_the_limit_fails_once(emulator, exchange, sleeps):
    with pytest.raises(M365Error) as info:
        RestrictedUsers(exchange).unblock("gina@contoso.com")
    assert restricted_users.is_unblock_limit(info.value)
    assert "only Microsoft support can lift" in restricted_users.unblock_result("gina@contoso.com", {}, info.value)["msg"]
    assert len(calls(emulator, cmdlet=REMOVAL)) == 1 and calls(emulator, cmdlet=LOOKUP) == []
    assert "gina@contoso.com" in listed(emulator)


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 504}, {"drop": True}, {"status": 404}])
def test_a_removal_is_never_sent_twice_after_an_error_that_is_not_a_refusal(emulator, exchange, sleeps, fault):
    emulator.set_faults([dict(fault, service="exchange", cmdlet=REMOVAL, count=1)])
    with pytest.raises(M365Error):
        RestrictedUsers(exchange).unblock("rob@contoso.com")
    assert len(calls(emulator, cmdlet=REMOVAL)) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_refused_removal_is_sent_again(emulator, exchange, sleeps, status):
    emulator.set_faults([{"service": "exchange", "cmdlet": REMOVAL, "status": status, "retry_after": "1", "count": 1}])
    when, warnings = RestrictedUsers(exchange).unblock("rob@contoso.com")
    assert [c["status"] for c in calls(emulator, cmdlet=REMOVAL)] == [status, 200]
    assert emulator.state(TENANT)["unblock_counts"]["rob@contoso.com"] == 1
