"""The unblock_email role through playbooks/unblock_email.yml, against the emulator: one user, a whole
tenant, many tenants; check mode, apply, re-run unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from m365emu import seeds
from runner import ROOT, run_index, run_playbook, tenant_env

PLAYBOOK = ROOT / 'playbooks' / 'unblock_email.yml'
RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    return {m[1]: {'ok': int(m[2]), 'changed': int(m[3]), 'failed': int(m[5])} for m in RECAP.finditer(output)}


class Run:
    """One ansible-playbook run of the unblock playbook, with its reports (in the run's own folder)."""

    def __init__(self, emulator, tmp: Path, *args: str, env=None, inventory: dict | None = None):
        self.report_dir = tmp / 'reports'
        self.password_dir = tmp / 'passwords'
        extra = ['-e', f'unblock_email_report_dir={self.report_dir}', '-e', f'unblock_email_password_dir={self.password_dir}']
        if inventory is not None:
            path = tmp / 'inventory.yml'
            path.write_text(yaml.safe_dump(inventory))
            extra += ['-i', str(path)]
        before = len(run_index(self.report_dir))
        self.done = run_playbook(PLAYBOOK, env if env is not None else tenant_env(emulator), *extra, *args)
        self.output = self.done.stdout + self.done.stderr
        self.recap = recap(self.done.stdout)
        self.index = run_index(self.report_dir)[before:]
        self.folder = self.report_dir / self.index[0]['folder'] if self.index else None

    def report(self, host: str = 'localhost') -> dict:
        return json.loads((self.folder / f'{host}.json').read_text())

    def summary(self, suffix: str = 'md') -> str:
        return (self.folder / f'summary.{suffix}').read_text()

    def users(self, host: str = 'localhost') -> dict[str, dict]:
        return {u['user_principal_name'] or u['user']: u for u in self.report(host)['users']}

    def password_file(self, host: str = 'localhost') -> Path:
        return self.password_dir / f'{self.folder.name}-{host}.json'

    def passwords(self, host: str = 'localhost') -> list[str]:
        path = self.password_file(host)
        if not path.exists():
            return []
        return [entry['password'] for entry in json.loads(path.read_text())['users'].values()]

    def assert_rc(self, rc: int) -> None:
        assert self.done.returncode == rc, self.output[-8000:]


def users_arg(*users: str) -> list[str]:
    return ['-e', json.dumps({'unblock_email_users': list(users)})]


def restricted(emulator, tenant=seeds.CONTOSO_TENANT_ID) -> set[str]:
    return {e['SenderAddress'].lower() for e in emulator.state(tenant)['restricted']}


def test_one_user_check_apply_rerun(emulator, tmp_path):
    mark = emulator.mark()
    check = Run(emulator, tmp_path, '--check', *users_arg('rob@contoso.com'))
    check.assert_rc(0)
    assert emulator.writes(mark) == []
    rob = check.users()['rob@contoso.com']
    assert rob['outcome'] == 'would_remediate'
    assert {s['status'] for s in rob['steps'].values()} == {'would_do'}
    assert check.report()['check_mode'] is True
    assert 'rob@contoso.com' in restricted(emulator)
    assert check.passwords() == []

    applied = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    applied.assert_rc(0)
    rob = applied.users()['rob@contoso.com']
    assert rob['outcome'] == 'remediated'
    assert {s['status'] for s in rob['steps'].values()} == {'done'}
    assert rob['sending_expected_by'] and rob['sending_expected_at_latest']
    assert 'rob@contoso.com' not in restricted(emulator)
    assert applied.recap['localhost']['changed'] > 0
    assert len(applied.passwords()) == 1

    mark = emulator.mark()
    again = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    again.assert_rc(0)
    assert again.recap['localhost']['changed'] == 0, again.output[-4000:]
    assert emulator.writes(mark) == []
    assert 'rob@contoso.com' in again.summary()

    for secret in applied.passwords() + [seeds.CONTOSO_SECRET]:
        for run in (check, applied, again):
            assert secret not in run.output
        for report in (tmp_path / 'reports').rglob('*'):
            assert report.is_dir() or secret not in report.read_text()


def test_whole_tenant_check_apply_rerun(emulator, tmp_path):
    env = tenant_env(emulator, 'fabrikam')
    mark = emulator.mark()
    everyone = ['-e', 'unblock_email_all=true']
    check = Run(emulator, tmp_path, '--check', *everyone, env=env)
    check.assert_rc(0)
    assert emulator.writes(mark) == []
    assert {u: r['outcome'] for u, r in check.users().items()} == {
        'alice@fabrikam.com': 'would_remediate', 'bert@fabrikam.com': 'would_remediate'}

    applied = Run(emulator, tmp_path, *everyone, env=env)
    applied.assert_rc(0)
    assert {r['outcome'] for r in applied.users().values()} == {'remediated'}
    assert restricted(emulator, seeds.FABRIKAM_TENANT_ID) == set()

    mark = emulator.mark()
    again = Run(emulator, tmp_path, *everyone, env=env)
    again.assert_rc(0)
    assert again.recap['localhost']['changed'] == 0
    assert emulator.writes(mark) == []
    assert again.report()['users'] == []  # nothing is restricted any more


def test_protected_admin_and_not_restricted(emulator, tmp_path):
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com', 'eve.admin@contoso.com', 'carl@contoso.com',
                                             'breakglass@contoso.com', 'Ann@Contoso.com'),
              '-e', json.dumps({'unblock_email_protected': ['ann@contoso.com', 'breakglass@contoso.com']}))
    run.assert_rc(2)  # eve could not be remediated: the run goes red
    users = run.users()
    assert users['rob@contoso.com']['outcome'] == 'remediated'
    eve = users['eve.admin@contoso.com']
    assert eve['outcome'] == 'failed'
    assert eve['steps']['password']['status'] == 'failed' and 'Privileged Authentication Administrator' in eve['steps']['password']['msg']
    assert eve['steps']['unblock']['status'] == 'skipped'
    assert users['carl@contoso.com']['outcome'] == 'not_restricted'
    assert 'not on the Restricted Users list' in users['carl@contoso.com']['steps']['unblock']['msg']
    for name in ('ann@contoso.com', 'breakglass@contoso.com'):
        assert users[name]['outcome'] == 'skipped' and users[name]['protected']
    state = restricted(emulator)
    assert 'eve.admin@contoso.com' in state and 'ann@contoso.com' in state and 'rob@contoso.com' not in state
    ann_id = seeds.USER_IDS['ann@contoso.com']
    touched = {e['path'] for e in emulator.writes(0)}
    assert not any(ann_id in p for p in touched)
    assert "could not be remediated" in run.output


def test_three_tenants_one_with_bad_credentials(emulator, tmp_path):
    def host(tenant, secret=None):
        return {
            'm365_tenant_id': getattr(seeds, f'{tenant}_TENANT_ID'),
            'm365_client_id': getattr(seeds, f'{tenant}_CLIENT_ID'),
            'm365_client_secret': secret or getattr(seeds, f'{tenant}_SECRET'),
        }
    inventory = {'m365_tenants': {'hosts': {
        'contoso': dict(host('CONTOSO'), unblock_email_users=['rob@contoso.com', 'ann@contoso.com']),
        'fabrikam': dict(host('FABRIKAM'), unblock_email_all=True),
        'northwind': dict(host('NORTHWIND', secret='wrong-secret-value'), unblock_email_all=True),
    }}}
    env = {k: v for k, v in tenant_env(emulator).items() if not k.startswith('AZURE_') or k == 'AZURE_AUTHORITY_HOST'}
    run = Run(emulator, tmp_path, '--forks', '3', env=env, inventory=inventory)
    run.assert_rc(2)
    assert run.recap['northwind']['failed'] == 1
    assert run.recap['contoso']['failed'] == 0 and run.recap['fabrikam']['failed'] == 0
    assert {r['outcome'] for r in run.users('contoso').values()} == {'remediated'}
    assert {r['outcome'] for r in run.users('fabrikam').values()} == {'remediated'}
    northwind = run.report('northwind')
    assert northwind['failed'] and 'AADSTS7000215' in northwind['error']
    summary = run.summary()
    for name in ('contoso', 'fabrikam', 'northwind'):
        assert f'Tenant {name}' in summary
    assert restricted(emulator, seeds.NORTHWIND_TENANT_ID) == {'nina@northwind.com', 'oscar@northwind.com'}
    assert 'wrong-secret-value' not in run.output


def test_summary_languages_and_html(emulator, tmp_path):
    for language, word in (('nl', 'Gebruiker'), ('nb', 'Bruker')):
        run = Run(emulator, tmp_path / language, '--check', *users_arg('rob@contoso.com'),
                  '-e', f'unblock_email_report_language={language}', '-e', 'unblock_email_report_format=html')
        run.assert_rc(0)
        page = run.summary('html')
        assert f'lang="{language}"' in page and word in page and 'rob@contoso.com' in page


def test_passwords_never_in_vvvv_output(emulator, tmp_path):
    run = Run(emulator, tmp_path, '-vvvv', *users_arg('rob@contoso.com', 'ann@contoso.com', 'frank@contoso.com'))
    run.assert_rc(0)
    passwords = run.passwords()
    assert len(passwords) == 3
    assert oct(run.password_file().stat().st_mode & 0o777) == '0o600'
    reports = ''.join(p.read_text() for p in (tmp_path / 'reports').rglob('*') if p.is_file())
    for secret in passwords + [seeds.CONTOSO_SECRET]:
        assert secret not in run.output
        assert secret not in reports


def rob_state(emulator) -> tuple[dict, dict]:
    state = emulator.state(seeds.CONTOSO_TENANT_ID)
    rob = next(u for u in state['users'] if u['userPrincipalName'] == 'rob@contoso.com')
    return rob, state['mailboxes']['rob@contoso.com']


def test_mailbox_cleaned_before_unblock_and_kept_rule_left_alone(emulator, tmp_path):
    keep = ['-e', json.dumps({'unblock_email_keep_inbox_rules': [seeds.ROB_HIDE_RULE_NAME]})]
    mark = emulator.mark()
    check = Run(emulator, tmp_path, '--check', *users_arg('rob@contoso.com'), *keep)
    check.assert_rc(0)
    assert emulator.writes(mark) == []
    steps = check.users()['rob@contoso.com']['steps']
    assert check.report()['steps'] == ['password', 'sessions', 'forwarding', 'inbox_rules', 'unblock']
    assert steps['forwarding']['status'] == 'would_do' and steps['inbox_rules']['status'] == 'would_do'

    mark = emulator.mark()
    applied = Run(emulator, tmp_path, *users_arg('rob@contoso.com'), *keep)
    applied.assert_rc(0)
    rob, mailbox = rob_state(emulator)
    assert mailbox['ForwardingSmtpAddress'] is None and not mailbox['DeliverToMailboxAndForward']
    rules = {r['displayName']: r for r in rob['messageRules']}
    assert rules[seeds.ROB_FORWARD_RULE_NAME]['isEnabled'] is False      # the malicious forward is off
    assert rules[seeds.ROB_HIDE_RULE_NAME].get('isEnabled', True) is True  # kept on request
    assert rules[seeds.ROB_NEWSLETTER_RULE_NAME].get('isEnabled', True) is True
    writes = emulator.writes(mark)
    order = [w.get('cmdlet') or w['path'] for w in writes]
    unblock_at = order.index('Remove-BlockedSenderAddress')
    assert order.index('Set-Mailbox') < unblock_at
    assert any('messageRules' in str(p) for p in order[:unblock_at])
    assert applied.users()['rob@contoso.com']['outcome'] == 'remediated'

    again = Run(emulator, tmp_path, *users_arg('rob@contoso.com'), *keep)
    again.assert_rc(0)
    assert again.recap['localhost']['changed'] == 0


def test_opt_in_containment_steps(emulator, tmp_path):
    options = {'unblock_email_block_sign_in': True, 'unblock_email_remove_auth_methods': True,
               'unblock_email_incident_start': seeds.RESTRICTED_AT, 'unblock_email_disable_protocols': ['pop', 'imap']}
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com'), '-e', json.dumps(options))
    run.assert_rc(0)
    rob, dummy = rob_state(emulator)
    assert rob['accountEnabled'] is False
    methods = {m['id'] for m in rob['authenticationMethods']}
    assert seeds.ROB_ATTACKER_AUTHENTICATOR_ID not in methods and seeds.ROB_OLD_AUTHENTICATOR_ID in methods
    steps = run.users()['rob@contoso.com']['steps']
    assert run.report()['steps'] == ['password', 'sessions', 'sign_in', 'auth_methods', 'forwarding', 'inbox_rules', 'protocols', 'unblock']
    assert {s['status'] for s in steps.values()} == {'done'}

    missing = Run(emulator, tmp_path / 'missing', *users_arg('ann@contoso.com'), '-e', json.dumps({'unblock_email_remove_auth_methods': True}))
    missing.assert_rc(2)
    assert 'unblock_email_incident_start' in missing.output


def test_opt_in_containment_steps_in_check_mode_write_nothing(emulator, tmp_path):
    options = {'unblock_email_block_sign_in': True, 'unblock_email_remove_auth_methods': True,
               'unblock_email_incident_start': seeds.RESTRICTED_AT}
    mark = emulator.mark()
    run = Run(emulator, tmp_path, '--check', *users_arg('rob@contoso.com'), '-e', json.dumps(options))
    run.assert_rc(0)
    assert emulator.writes(mark) == []
    steps = run.users()['rob@contoso.com']['steps']
    assert steps['sign_in']['status'] == 'would_do' and steps['auth_methods']['status'] == 'would_do'
