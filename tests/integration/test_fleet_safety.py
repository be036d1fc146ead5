"""Fleet safety through the unblock playbook: tenant identity explicit and unique, protection that only grows,
the whole tenant only when asked, a durable record of every run, failures named where the job is read."""

from __future__ import annotations

import json
from collections import Counter

from m365emu import seeds
from runner import tenant_env
from test_role import Run, restricted, users_arg

CONTOSO, FABRIKAM = seeds.CONTOSO_TENANT_ID, seeds.FABRIKAM_TENANT_ID


def app(tenant: str) -> dict[str, str]:
    return {'m365_client_id': getattr(seeds, f'{tenant}_CLIENT_ID'), 'm365_client_secret': getattr(seeds, f'{tenant}_SECRET')}


def resets(writes: list[dict], user: str) -> int:
    return sum(1 for w in writes if w['method'] == 'PATCH' and w['path'] == f"/v1.0/users/{seeds.USER_IDS[user]}")


def unblocks(writes: list[dict], tenant: str) -> int:
    return sum(1 for w in writes if w.get('cmdlet') == 'Remove-BlockedSenderAddress' and w['tenant'] == tenant)


def test_host_without_a_tenant_fails_and_names_itself(emulator, tmp_path):
    # The environment holds the contoso app (tenant included), as an AWX credential would inject it.
    inventory = {'m365_tenants': {'hosts': {
        'contoso': {'m365_tenant_id': CONTOSO, 'unblock_email_users': ['ann@contoso.com']},
        'fabrikam': dict(app('FABRIKAM'), m365_tenant_id=FABRIKAM, unblock_email_users=['alice@fabrikam.com']),
        'northwind': {'unblock_email_users': ['nina@northwind.com']},
    }}}
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '--forks', '3', inventory=inventory)
    run.assert_rc(2)
    assert run.recap['northwind']['failed'] == 1
    assert run.recap['contoso']['failed'] == 0 and run.recap['fabrikam']['failed'] == 0
    northwind = run.report('northwind')
    assert 'No tenant named for this host' in northwind['error'] and 'm365_tenant_id' in northwind['error']
    assert [(u['user'], u['outcome']) for u in northwind['users']] == [('nina@northwind.com', 'failed')]
    assert 'northwind' in run.output and 'No tenant named for this host' in run.output
    # Each named tenant remediated exactly once, nothing written for the host without a tenant.
    writes = emulator.writes(mark)
    assert resets(writes, 'ann@contoso.com') == 1 and unblocks(writes, CONTOSO) == 1
    assert resets(writes, 'alice@fabrikam.com') == 1 and unblocks(writes, FABRIKAM) == 1
    assert Counter(w['tenant'] for w in writes) .keys() <= {CONTOSO, FABRIKAM}
    assert [e for e in emulator.journal(mark) if e['tenant'] == seeds.NORTHWIND_TENANT_ID] == []
    assert {r['outcome'] for r in run.users('contoso').values()} == {'remediated'}
    assert {r['outcome'] for r in run.users('fabrikam').values()} == {'remediated'}
    assert 'nina@northwind.com' in restricted(emulator, seeds.NORTHWIND_TENANT_ID)


def test_a_run_limited_to_one_host_of_a_fleet_still_needs_its_tenant(emulator, tmp_path):
    # The rulebook and AWX job slices limit a run to some hosts of the inventory: the environment's tenant still
    # may not stand in for a host that names none.
    inventory = {'m365_tenants': {'hosts': {
        'contoso': {'m365_tenant_id': CONTOSO, 'unblock_email_users': ['ann@contoso.com']},
        'northwind': {'unblock_email_users': ['ann@contoso.com']},
    }}}
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '--limit', 'northwind', inventory=inventory)
    run.assert_rc(2)
    assert 'No tenant named for this host' in run.report('northwind')['error']
    assert emulator.journal(mark) == []


def test_two_hosts_naming_one_tenant_both_fail_before_any_write(emulator, tmp_path):
    inventory = {'m365_tenants': {'hosts': {
        'contoso': {'m365_tenant_id': CONTOSO, 'unblock_email_users': ['rob@contoso.com']},
        'contoso-by-domain': {'m365_tenant_id': seeds.CONTOSO_DOMAIN, 'unblock_email_users': ['ann@contoso.com']},
    }}}
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '--forks', '2', inventory=inventory)
    run.assert_rc(2)
    assert emulator.writes(mark) == []
    for host in ('contoso', 'contoso-by-domain'):
        assert run.recap[host]['failed'] == 1
        error = run.report(host)['error']
        assert f'tenant {CONTOSO} is named by 2 hosts' in error and 'contoso, contoso-by-domain' in error
    assert {'rob@contoso.com', 'ann@contoso.com'} <= restricted(emulator)
    assert run.report('contoso')['users'][0]['outcome'] == 'failed'


def test_extra_vars_cannot_shrink_the_inventory_protected_list(emulator, tmp_path):
    inventory = {'m365_tenants': {'hosts': {'contoso': {
        'm365_tenant_id': CONTOSO, 'unblock_email_protected': ['ann@contoso.com']}}}}
    mark = emulator.mark()
    run = Run(emulator, tmp_path, *users_arg('ann@contoso.com', 'rob@contoso.com'), '-e', json.dumps({'unblock_email_protected': []}),
              inventory=inventory)
    run.assert_rc(0)
    users = run.users('contoso')
    assert users['ann@contoso.com']['protected'] and users['ann@contoso.com']['outcome'] == 'skipped'
    assert users['rob@contoso.com']['outcome'] == 'remediated'
    assert not any(seeds.USER_IDS['ann@contoso.com'] in w['path'] for w in emulator.writes(mark))
    assert 'ann@contoso.com' in restricted(emulator)


def test_an_empty_or_null_list_fails_with_zero_requests(emulator, tmp_path):
    for name, value in (('empty', []), ('null', None)):
        mark = emulator.mark()
        run = Run(emulator, tmp_path / name, '-e', json.dumps({'unblock_email_users': value}))
        run.assert_rc(2)
        assert emulator.journal(mark) == [], name
        assert 'unblock_email_users is empty: name the accounts to remediate in unblock_email_users, or set unblock_email_all: true' in run.output
        assert 'argument_spec' not in run.output
    both = Run(emulator, tmp_path / 'both', *users_arg('rob@contoso.com'), '-e', 'unblock_email_all=true')
    both.assert_rc(2)
    assert 'set one or the other' in both.output


def test_the_whole_tenant_when_asked(emulator, tmp_path):
    run = Run(emulator, tmp_path, '-e', 'unblock_email_all=true', env=tenant_env(emulator, 'northwind'))
    run.assert_rc(0)
    assert {u: r['outcome'] for u, r in run.users().items()} == {'nina@northwind.com': 'remediated', 'oscar@northwind.com': 'remediated'}
    assert restricted(emulator, seeds.NORTHWIND_TENANT_ID) == set()


def test_every_run_keeps_its_own_record(emulator, tmp_path):
    applied = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    applied.assert_rc(0)
    first = applied.folder
    first_report = (first / 'localhost.json').read_text()
    assert json.loads(first_report)['counts']['unblocked'] == 1
    again = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    again.assert_rc(0)
    check = Run(emulator, tmp_path, '--check', *users_arg('rob@contoso.com'))
    check.assert_rc(0)
    assert len({applied.folder, again.folder, check.folder}) == 3 and check.folder.name.endswith('-check')
    # The first run's report is intact and still shows the unblock; the index lists all three runs.
    assert (first / 'localhost.json').read_text() == first_report
    assert applied.users()['rob@contoso.com']['steps']['unblock']['status'] == 'done'
    assert [(line['mode'], line['folder']) for line in check.index] == [('check', check.folder.name)]
    index = [json.loads(line) for line in (tmp_path / 'reports' / 'index.jsonl').read_text().splitlines()]
    assert [line['folder'] for line in index] == [applied.folder.name, again.folder.name, check.folder.name]
    assert [line['mode'] for line in index] == ['apply', 'apply', 'check']
    assert index[0]['unblocked'] == ['rob@contoso.com'] and index[0]['tenant_id'] == CONTOSO
    # The re-runs say what happened earlier, not "skipped".
    assert again.users()['rob@contoso.com']['outcome'] == 'already_remediated'
    assert check.users()['rob@contoso.com']['outcome'] == 'already_remediated'
    # One password file per run and tenant, holding the tenant id; later runs set none and merge nothing.
    files = sorted(p.name for p in applied.password_dir.iterdir())
    assert files == [f'{first.name}-localhost.json']
    assert json.loads(applied.password_file().read_text())['tenant_id'] == CONTOSO


def test_failures_are_named_in_the_output(emulator, tmp_path):
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com', 'nobody@contoso.com'))
    run.assert_rc(2)
    assert 'nobody@contoso.com' in run.output
    assert 'user not found in this tenant' in run.output


def test_a_tenant_that_failed_on_its_credentials_counts_as_a_failed_tenant(emulator, tmp_path):
    env = dict(tenant_env(emulator), AZURE_CLIENT_SECRET='wrong-secret-value')
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com'), env=env)
    run.assert_rc(2)
    report = run.report()
    assert report['list_read'] is False
    assert [(u['user'], u['outcome']) for u in report['users']] == [('rob@contoso.com', 'failed')]
    summary = run.summary()
    assert '| Tenants | Failed tenants |' in summary and '\n| 1 | 1 | 1 |' in summary  # 1 tenant, 1 failed, 1 user
    assert 'The Restricted Users list was not read' in summary
    assert 'No restricted account was found' not in summary
    assert '1 tenant(s) failed' in run.output
    assert 'wrong-secret-value' not in run.output
