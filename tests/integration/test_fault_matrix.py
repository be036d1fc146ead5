"""The fault matrix: the unblock playbook through the services' faults (emulator fault injection), then a re-run.

For each row: the run ends with a correct per-user result, everything that could be done is done, nothing is done
twice (journal: at most one successful write per user and step, no removal sent again after a refusal), and a
re-run with the fault cleared finishes the rest without repeating what was done. docs/fault-matrix.md has the table.
"""

from __future__ import annotations

import collections
import json
import re

import pytest

from m365emu import seeds
from runner import tenant_env
from test_role import Run, restricted, users_arg

USERS = ('rob@contoso.com', 'ann@contoso.com', 'frank@contoso.com')
UPNS = {'rob@contoso.com': 'rob@contoso.com', 'ann@contoso.com': 'ann@contoso.com',
        'frank@contoso.com': 'frank@contoso.onmicrosoft.com'}
ID_TO_UPN = {v: k for k, v in seeds.USER_IDS.items()}
# Small waits keep the matrix fast: 2 s per response, 10 s of retry waits per request at most.
FAST = ['-e', 'm365_request_timeout=2', '-e', 'm365_max_retries=4', '-e', 'm365_max_retry_wait=10']
TRANSIENT = (None, 401, 429, 503, 504)


def rules(*items):
    return list(items)


def graph(**rule):
    return dict(service='graph', **rule)


def exchange(**rule):
    return dict(service='exchange', **rule)


ANN = seeds.USER_IDS['ann@contoso.com']
FRANK = seeds.USER_IDS['frank@contoso.onmicrosoft.com']

# name: (fault rules, users expected remediated by the faulty run, users expected failed with a word of their message)
ROWS = {
    '429_burst_retry_after': (rules(graph(status=429, retry_after='1', count=3), exchange(status=429, retry_after='1', count=3)),
                              USERS, {}),
    '429_burst_no_retry_after': (rules(graph(status=429, count=3), exchange(status=429, count=3)), USERS, {}),
    '503': (rules(graph(status=503, count=2), exchange(status=503, count=2)), USERS, {}),
    '504_on_reads': (rules(graph(status=504, path=r'\$select', count=2), exchange(status=504, cmdlet='Get-BlockedSenderAddress', count=2)),
                     USERS, {}),
    '504_on_writes': (rules(graph(status=504, path='revokeSignInSessions', count=1),
                            exchange(status=504, cmdlet='Remove-BlockedSenderAddress', count=1)), None, {'*': '504'}),
    'dropped_reads': (rules(dict(service='token', path='oauth2/v2.0/token', drop=True, count=1), graph(drop=True, count=1),
                            exchange(drop=True, cmdlet='Get-BlockedSenderAddress', count=1)), USERS, {}),
    'dropped_unblock': (rules(exchange(drop=True, cmdlet='Remove-BlockedSenderAddress', count=1)), None,
                        {'*': 'may or may not have been applied'}),
    'slow_past_timeout': (rules(graph(latency_ms=3000, count=1),
                                exchange(latency_ms=3000, cmdlet='Remove-BlockedSenderAddress', count=1)), None,
                          {'*': 'may or may not have been applied'}),
    # Exchange's plain-text refusal for the tenant's concurrency limit, with a status that is not 429, on the
    # first three removals: refused requests were not run, so they are sent again.
    'concurrency_refusal_on_removals': (rules(exchange(refusal='concurrency', status=500, cmdlet='Remove-BlockedSenderAddress', count=3)),
                                        USERS, {}),
    'token_expiry_mid_run': (rules(graph(path='revokeSignInSessions', expire_tokens=True, count=1),
                                   exchange(cmdlet='Remove-BlockedSenderAddress', expire_tokens=True, count=1)), USERS, {}),
    'batch_items_failing': (rules(graph(path=f'/users/{ANN}$', status=503, retry_after='1', count=1),
                                  graph(path=f'/users/{FRANK}/revokeSignInSessions', status=500, count=1)),
                            ('rob@contoso.com', 'ann@contoso.com'), {'frank@contoso.com': 'revoke failed'}),
}


def successful_writes(emulator, since: int) -> list[tuple]:
    """Each write that succeeded, keyed by what it changed: (service, what, target)."""
    keys = []
    for write in emulator.writes(since):
        if write['status'] is None or not 200 <= write['status'] < 300:
            continue
        if write['service'] == 'exchange':
            keys.append(('exchange', write['cmdlet'], (write.get('identity') or '').lower()))
        else:
            path = re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}', lambda m: ID_TO_UPN.get(m[0], m[0]), write['path'].split('?')[0])
            keys.append(('graph', write['method'], path, tuple(write.get('fields') or ())))
    return keys


def removals_after_refusal(emulator, since: int, until: int | None = None) -> list[str]:
    """Addresses for which a Remove-BlockedSenderAddress was sent again after a non-transient refusal."""
    refused, again = set(), []
    for entry in emulator.journal(since):
        if until is not None and entry['seq'] >= until:
            break
        if entry.get('cmdlet') != 'Remove-BlockedSenderAddress':
            continue
        address = (entry.get('identity') or '').lower()
        if address in refused:
            again.append(address)
        if entry["status"] not in TRANSIENT and entry["status"] >= 400 and not entry.get("refusal"):
            refused.add(address)
    return again


def check_invariants(emulator, run_marks: list[int]) -> None:
    """Nothing done twice over all the runs; within each run, no removal sent again after a refusal."""
    everything = successful_writes(emulator, run_marks[0])
    twice = [key for key, n in collections.Counter(everything).items() if n > 1]
    assert not twice, f'done twice: {twice}'
    for start, end in zip(run_marks, run_marks[1:] + [None]):
        again = removals_after_refusal(emulator, start, end)
        assert not again, f'a removal was sent again after a refusal in the same run: {again}'


def outcomes(run: Run) -> dict[str, str]:
    users = run.users()
    return {address: users[UPNS[address]]['outcome'] for address in USERS if UPNS[address] in users}


def failed_steps(run: Run, address: str) -> dict[str, str]:
    return {name: step['msg'] for name, step in run.users()[UPNS[address]]['steps'].items() if step['status'] == 'failed'}


@pytest.mark.parametrize('row', list(ROWS))
def test_fault_row(emulator, tmp_path, row):
    faults, remediated, failing = ROWS[row]
    emulator.set_faults(faults)
    first_mark = emulator.mark()
    first = Run(emulator, tmp_path / 'first', *FAST, *users_arg(*USERS))
    result = outcomes(first)
    assert set(result) == set(USERS), first.output[-4000:]
    if remediated is not None:
        assert all(result[a] == 'remediated' for a in remediated), (result, first.output[-4000:])
    failed = [a for a, outcome in result.items() if outcome == 'failed']
    for address in failed:
        words = failing.get(address) or failing.get('*')
        assert words, f'{address} failed unexpectedly: {failed_steps(first, address)}'
        assert any(words in msg for msg in failed_steps(first, address).values()), failed_steps(first, address)
    assert set(result.values()) <= {'remediated', 'failed'}
    if failing:
        assert failed, f'the fault of row {row} left no trace: {result}'
    first.assert_rc(2 if failed else 0)
    # Every password set is in the password file: nothing the admin must know is lost.
    reset = {w[2].rsplit('/', 1)[-1] for w in successful_writes(emulator, first_mark) if w[-1] == ('passwordProfile',)}
    assert reset == set(json.loads(first.password_file().read_text())['users']) if reset else True

    emulator.clear_faults()
    second_mark = emulator.mark()
    again = Run(emulator, tmp_path / 'again', *FAST, *users_arg(*USERS))
    again.assert_rc(0)
    for address, outcome in outcomes(again).items():
        # Finished earlier: off the list, nothing to do; left over: finished now. A write that timed out may
        # still be applied by the service after the first run gave up on it: the re-run then finds the user
        # off the list (not on it any more) or, when it read the list before the write landed, every step already
        # done. (Each run has a report folder of its own here, so the re-run knows nothing of the first run's record.)
        assert outcome == ('not_restricted' if result[address] == 'remediated' else 'remediated') or (
            result[address] == 'failed' and outcome in ('not_restricted', 'already_remediated')), (address, result[address], outcome)
    assert not any(a in restricted(emulator) for a in USERS)
    check_invariants(emulator, [first_mark, second_mark])
    for address in USERS:
        if result[address] == 'remediated':
            touched = [w for w in successful_writes(emulator, second_mark) if UPNS[address] in str(w) or address in str(w)]
            assert not touched, f'{address} was done in the first run and written again: {touched}'


def test_exchange_failing_for_one_tenant_only(emulator, tmp_path):
    def host(tenant):
        return {'m365_tenant_id': getattr(seeds, f'{tenant}_TENANT_ID'), 'm365_client_id': getattr(seeds, f'{tenant}_CLIENT_ID'),
                'm365_client_secret': getattr(seeds, f'{tenant}_SECRET')}
    inventory = {'m365_tenants': {'hosts': {
        'contoso': dict(host('CONTOSO'), unblock_email_users=['rob@contoso.com', 'ann@contoso.com']),
        'fabrikam': dict(host('FABRIKAM'), unblock_email_all=True),
    }}}
    env = {k: v for k, v in tenant_env(emulator).items() if not k.startswith('AZURE_') or k == 'AZURE_AUTHORITY_HOST'}
    for name in ('first', 'again'):
        (tmp_path / name).mkdir()
    emulator.set_faults([exchange(tenant=seeds.FABRIKAM_TENANT_ID, status=503)])
    first_mark = emulator.mark()
    first = Run(emulator, tmp_path / 'first', '--forks', '2', *FAST, env=env, inventory=inventory)
    first.assert_rc(2)
    assert first.recap['fabrikam']['failed'] == 1 and first.recap['contoso']['failed'] == 0
    assert {r['outcome'] for r in first.users('contoso').values()} == {'remediated'}
    fabrikam = first.report('fabrikam')
    assert fabrikam['failed'] and '503' in fabrikam['error'] and 'exchange' in fabrikam['error'].lower()
    assert not [w for w in emulator.writes(first_mark) if w['tenant'] == seeds.FABRIKAM_TENANT_ID]
    assert restricted(emulator, seeds.FABRIKAM_TENANT_ID) == {'alice@fabrikam.com', 'bert@fabrikam.com'}

    emulator.clear_faults()
    second_mark = emulator.mark()
    again = Run(emulator, tmp_path / 'again', '--forks', '2', *FAST, env=env, inventory=inventory)
    again.assert_rc(0)
    assert {r['outcome'] for r in again.users('fabrikam').values()} == {'remediated'}
    assert {r['outcome'] for r in again.users('contoso').values()} == {'not_restricted'}
    assert not [w for w in emulator.writes(second_mark) if w['tenant'] == seeds.CONTOSO_TENANT_ID]
    check_invariants(emulator, [first_mark, second_mark])


def test_unblock_limit_reached_for_one_account(emulator, tmp_path):
    first_mark = emulator.mark()
    first = Run(emulator, tmp_path / 'first', *FAST, *users_arg('rob@contoso.com', 'gina@contoso.com'))
    first.assert_rc(2)
    users = first.users()
    assert users['rob@contoso.com']['outcome'] == 'remediated'
    gina = users['gina@contoso.com']
    assert gina['outcome'] == 'failed'
    assert gina['steps']['password']['status'] == 'done' and gina['steps']['sessions']['status'] == 'done'
    assert 'Microsoft support' in gina['steps']['unblock']['msg'] and 'gina@contoso.com' in gina['steps']['unblock']['msg']
    removals = [e for e in emulator.journal(first_mark) if e.get('cmdlet') == 'Remove-BlockedSenderAddress'
                and e.get('identity') == 'gina@contoso.com']
    assert len(removals) == 1 and removals[0]['status'] == 400

    second_mark = emulator.mark()
    again = Run(emulator, tmp_path / 'again', *FAST, *users_arg('rob@contoso.com', 'gina@contoso.com'))
    again.assert_rc(2)  # gina stays blocked until Microsoft support lifts the limit
    users = again.users()
    assert users['rob@contoso.com']['outcome'] == 'not_restricted'
    assert users['gina@contoso.com']['steps']['password']['status'] == 'already_done'
    assert users['gina@contoso.com']['steps']['sessions']['status'] == 'already_done'
    assert 'gina@contoso.com' in restricted(emulator)
    check_invariants(emulator, [first_mark, second_mark])


def test_token_for_another_tenant_is_refused(emulator, tmp_path):
    """The token endpoint answers with a token of another tenant (fabrikam's tid for contoso): the token is never
    used, nothing is written, the tenant's report says why; once the fault is gone the run completes."""
    emulator.set_faults([{'service': 'token', 'tenant': seeds.CONTOSO_TENANT_ID, 'token_tenant': seeds.FABRIKAM_TENANT_ID}])
    first_mark = emulator.mark()
    first = Run(emulator, tmp_path / 'first', *FAST, *users_arg(*USERS))
    first.assert_rc(2)
    report = first.report()
    assert 'Refused a token' in report['error'] and seeds.FABRIKAM_TENANT_ID in report['error']
    assert {u['outcome'] for u in report['users']} == {'failed'}
    assert emulator.writes(first_mark) == []
    assert [e for e in emulator.journal(first_mark) if e['service'] in ('graph', 'exchange')] == []
    assert set(USERS) <= restricted(emulator)

    emulator.clear_faults()
    second_mark = emulator.mark()
    again = Run(emulator, tmp_path / 'again', *FAST, *users_arg(*USERS))
    again.assert_rc(0)
    assert set(outcomes(again).values()) == {'remediated'}
    check_invariants(emulator, [first_mark, second_mark])
