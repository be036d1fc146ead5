"""The role against Exchange as it really answers: the plain-text concurrency refusal, an account unblocked by
someone else between lookup and removal, no free-text -Reason, the audit note in the report."""

from __future__ import annotations

import json
import threading
import time

import pytest
from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient
from test_role import Run, restricted, users_arg

T = seeds.CONTOSO_TENANT_ID
USERS = ('rob@contoso.com', 'ann@contoso.com', 'frank@contoso.com')


@pytest.mark.parametrize('status', [500, 429])
def test_every_third_exchange_request_refused_as_plain_text(emulator, tmp_path, status):
    """Exchange refuses every third request with its plain-text concurrency answer: each account is still
    unblocked exactly once, and the refusals are in the journal."""
    emulator.set_faults([{'service': 'exchange', 'refusal': 'concurrency', 'every': 3, 'status': status}])
    mark = emulator.mark()
    run = Run(emulator, tmp_path, *users_arg(*USERS))
    run.assert_rc(0)
    journal = emulator.journal(mark)
    exchange = [e for e in journal if e['service'] == 'exchange']
    refused = [e for e in exchange if e.get('refusal') == 'concurrency']
    assert refused and all(e['status'] == status for e in refused)
    assert len(refused) >= len(exchange) // 3 - 1
    removals = [e for e in exchange if e['cmdlet'] == 'Remove-BlockedSenderAddress' and e['status'] == 200]
    assert sorted(e['identity'].lower() for e in removals) == sorted(USERS)
    assert not restricted(emulator) & set(USERS)
    assert {u['outcome'] for u in run.users().values()} == {'remediated'}


def _unblock_in_the_portal(emulator, address: str, done: threading.Event) -> None:
    """Once the role's removal waits in the emulator (its fault rule used up), another admin unblocks the address."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rules = emulator.faults()
        if rules and rules[0].get('remaining') == 0:
            client = EmuClient(emulator.base_url, emulator.ca_path)
            token = client.token(T, seeds.CONTOSO_PRIVILEGED_CLIENT_ID, seeds.CONTOSO_PRIVILEGED_SECRET, EXCHANGE_RESOURCE)
            answer = client.exchange(T, token, 'Remove-BlockedSenderAddress', {'SenderAddress': address})
            assert answer.status_code == 200, answer.text
            done.set()
            return
        time.sleep(0.05)


def test_an_account_unblocked_by_someone_else_is_already_off_the_list(emulator, tmp_path):
    """Between the role's lookup and its removal, an admin unblocks rob in the portal: the run stays green and
    the report says he is already off the list."""
    emulator.set_faults([{'service': 'exchange', 'cmdlet': 'Remove-BlockedSenderAddress', 'latency_ms': 3000, 'count': 1}])
    done = threading.Event()
    portal = threading.Thread(target=_unblock_in_the_portal, args=(emulator, 'rob@contoso.com', done), daemon=True)
    portal.start()
    mark = emulator.mark()
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    portal.join(5)
    assert done.is_set()
    run.assert_rc(0)
    rob = run.users()['rob@contoso.com']
    assert rob['steps']['unblock']['status'] == 'already_done'
    assert 'already off the list' in rob['steps']['unblock']['msg']
    assert rob['outcome'] == 'remediated' and not run.report()['failed']
    assert 'already off the list' in run.summary()
    ours = [e for e in emulator.journal(mark) if e['cmdlet'] == 'Remove-BlockedSenderAddress']
    assert [e['status'] for e in ours] in ([200, 404], [200, 500])
    assert 'rob@contoso.com' not in restricted(emulator)
    assert emulator.state(T)['unblock_counts']['rob@contoso.com'] == 1


def test_the_audit_note_goes_into_the_report_not_to_exchange(emulator, tmp_path):
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '-e', json.dumps({'unblock_email_audit_note': 'INC-4711 rob phished'}), *users_arg('rob@contoso.com'))
    run.assert_rc(0)
    assert run.report()['run']['note'] == 'INC-4711 rob phished'
    assert run.index[0]['note'] == 'INC-4711 rob phished'
    assert 'INC-4711 rob phished' in run.summary()
    assert [e['status'] for e in emulator.journal(mark) if e['cmdlet'] == 'Remove-BlockedSenderAddress'] == [200]


def test_the_old_reason_variable_fails_before_any_request(emulator, tmp_path):
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '-e', 'unblock_email_unblock_reason=INC-4711', *users_arg('rob@contoso.com'))
    assert run.done.returncode != 0
    assert 'unblock_email_unblock_reason is no longer used' in run.output and 'unblock_email_audit_note' in run.output
    assert emulator.journal(mark) == []
