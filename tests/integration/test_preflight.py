"""playbooks/preflight.yml against the emulator: what the app may do per tenant, read from its tokens and one harmless
Exchange read; never a write request, never a secret in the output or the reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from m365emu import seeds
from runner import ROOT, run_playbook, tenant_env
from test_role import recap
from test_secret_leaks import assert_no_secret

PLAYBOOK = ROOT / 'playbooks' / 'preflight.yml'


def app_env(emulator, client_id: str, secret: str) -> dict[str, str]:
    """The environment of one contoso app."""
    return dict(tenant_env(emulator), AZURE_CLIENT_ID=client_id, AZURE_CLIENT_SECRET=secret)


class Preflight:
    """One run of the preflight playbook, with its report files."""

    def __init__(self, emulator, tmp: Path, *args: str, env: dict[str, str] | None = None, inventory: dict | None = None):
        tmp.mkdir(parents=True, exist_ok=True)
        self.report_dir = tmp / 'preflight'
        extra = ['-e', f'preflight_report_dir={self.report_dir}']
        if inventory is not None:
            path = tmp / 'inventory.yml'
            path.write_text(yaml.safe_dump(inventory))
            extra += ['-i', str(path)]
        self.mark = emulator.mark()
        self.done = run_playbook(PLAYBOOK, env if env is not None else tenant_env(emulator), *extra, *args)
        self.output = self.done.stdout + self.done.stderr
        self.recap = recap(self.done.stdout)
        self.journal = emulator.journal(self.mark)

    def report(self, host: str = 'localhost') -> dict:
        return json.loads((self.report_dir / f'{host}.json').read_text())

    def markdown(self, host: str = 'localhost') -> str:
        return (self.report_dir / f'{host}.md').read_text()

    def steps(self, host: str = 'localhost') -> dict[str, dict]:
        return {step['name']: step for step in self.report(host)['steps']}

    def files_text(self) -> str:
        return ''.join(path.read_text() for path in sorted(self.report_dir.rglob('*')) if path.is_file())

    def assert_rc(self, rc: int) -> None:
        assert self.done.returncode == rc, self.output[-8000:]


def assert_read_only(run: Preflight) -> None:
    """Not one write request; the only Exchange request is the harmless read."""
    assert run.journal, 'the preflight reached the emulator'
    assert [entry for entry in run.journal if entry.get('write')] == []
    assert {entry['cmdlet'] for entry in run.journal if entry['service'] == 'exchange'} <= {'Get-BlockedSenderAddress'}
    # The role's reads of users and mailboxes are not the preflight's business: it asks Graph nothing.
    assert [entry for entry in run.journal if entry['service'] == 'graph'] == []


def test_app_without_exchange_manage_as_app_fails_naming_it(emulator, tmp_path):
    env = app_env(emulator, seeds.CONTOSO_NO_EXCHANGE_CLIENT_ID, seeds.CONTOSO_NO_EXCHANGE_SECRET)
    run = Preflight(emulator, tmp_path, env=env)
    run.assert_rc(2)
    assert run.recap['localhost']['failed'] == 1
    # One sentence naming the host and what is missing.
    assert re.search(r'Tenant localhost is not ready for the unblock playbook: the app lacks the Office 365 Exchange Online '
                     r'application permission Exchange\.ManageAsApp, needed to read the Restricted Users list, remove mailbox '
                     r'forwarding and unblock the accounts', run.output), run.output[-4000:]
    report = run.report()
    assert report['failed'] is True and report['exchange_permissions'] == []
    assert report['exchange_access']['status'] == 'refused' and report['exchange_access']['http_status'] == 403
    assert 'Exchange.ManageAsApp' in report['exchange_access']['message']
    steps = run.steps()
    for name in ('list', 'forwarding', 'unblock', 'protocols'):
        assert steps[name]['status'] == 'missing' and steps[name]['missing'] == ['Exchange.ManageAsApp'], steps[name]
    # What Graph and the roles allow is still told apart.
    assert steps['password']['status'] == 'ok' and steps['sessions']['status'] == 'ok'
    assert report['counts']['blocking'] == 3
    assert_read_only(run)


def test_main_app_passes_and_lists_what_is_unknown(emulator, tmp_path):
    run = Preflight(emulator, tmp_path)
    run.assert_rc(0)
    assert run.recap['localhost']['failed'] == 0
    report = run.report()
    assert report['failed'] is False and report['error'] is None
    assert report['tenant_id'] == seeds.CONTOSO_TENANT_ID and report['client_id'] == seeds.CONTOSO_CLIENT_ID
    assert report['exchange_permissions'] == ['Exchange.ManageAsApp']
    assert 'User-PasswordProfile.ReadWrite.All' in report['graph_permissions']
    assert {r['name'] for r in report['directory_roles'] if r['name']} == {'Exchange Administrator', 'User Administrator'}
    assert report['exchange_access']['status'] == 'ok'
    steps = run.steps()
    # The main app lacks Privileged Authentication Administrator: resets (and sign-in blocks) of admins cannot be told.
    unknown = {name for name, step in steps.items() if step['status'] == 'unknown'}
    assert unknown == {'password_admins', 'sign_in_admins'}
    assert {step['status'] for name, step in steps.items() if name not in unknown} == {'ok'}
    assert steps['password_admins']['unknown'] == ['Privileged Authentication Administrator']
    assert steps['sign_in']['mode'] == 'opt-in' and steps['sign_in']['enabled'] is False
    assert steps['password']['mode'] == 'default' and steps['password']['enabled'] is True
    # The table is printed and written, the unknown steps with what to check.
    for text in (run.output, run.markdown()):
        assert re.search(r'\| Reset passwords of users who hold admin roles \| default \| unknown \| only for users who hold '
                         r'admin roles.*Privileged Authentication Administrator', text), text[-4000:]
        assert '| Reset passwords | default | ok |' in text
        assert 'Result: ready' in text
    # 0600 files in a 0700 folder.
    assert oct(run.report_dir.stat().st_mode & 0o777) == '0o700'
    for name in ('localhost.md', 'localhost.json'):
        assert oct((run.report_dir / name).stat().st_mode & 0o777) == '0o600'
    assert_read_only(run)
    assert sum(1 for entry in run.journal if entry['service'] == 'exchange') == 1


def test_check_mode_runs_the_same_and_opt_in_steps_follow_the_role_variables(emulator, tmp_path):
    run = Preflight(emulator, tmp_path, '--check', '-e', 'unblock_email_block_sign_in=true', '-e', 'unblock_email_inbox_rules=keep')
    run.assert_rc(0)
    steps = run.steps()
    assert steps['sign_in']['enabled'] is True and steps['inbox_rules']['enabled'] is False
    assert steps['list']['status'] == 'ok' and run.report()['exchange_access']['status'] == 'ok'
    assert '| Block sign-in | opt-in, on | ok |' in run.markdown()
    assert_read_only(run)


def test_app_with_no_permission_fails_on_graph_and_exchange(emulator, tmp_path):
    env = app_env(emulator, seeds.CONTOSO_NOPERM_CLIENT_ID, seeds.CONTOSO_NOPERM_SECRET)
    run = Preflight(emulator, tmp_path, env=env)
    run.assert_rc(2)
    report = run.report()
    assert report['graph_permissions'] == [] and report['directory_roles'] is not None
    steps = run.steps()
    assert steps['password']['missing'] == ['User-PasswordProfile.ReadWrite.All', 'User Administrator']
    assert steps['resolve']['missing'] == ['User.Read.All']
    assert 'User-PasswordProfile.ReadWrite.All' in run.output and 'Exchange.ManageAsApp' in run.output
    assert_read_only(run)


def test_fleet_host_without_a_tenant_fails_and_never_takes_the_environments(emulator, tmp_path):
    # The environment holds the contoso app, tenant included, as an AWX credential would inject it.
    inventory = {'m365_tenants': {'hosts': {
        'contoso': {'m365_tenant_id': seeds.CONTOSO_TENANT_ID},
        'northwind': {},
    }}}
    run = Preflight(emulator, tmp_path, '--forks', '2', inventory=inventory)
    run.assert_rc(2)
    assert run.recap['contoso']['failed'] == 0 and run.recap['northwind']['failed'] == 1
    assert 'Tenant northwind could not be checked: No tenant named for this host' in run.output
    assert 'No tenant named for this host' in run.report('northwind')['error']
    assert run.report('contoso')['tenant_id'] == seeds.CONTOSO_TENANT_ID
    # Only contoso's one read: northwind sent nothing, not even through the environment's tenant.
    assert sum(1 for entry in run.journal if entry['service'] == 'exchange') == 1
    assert_read_only(run)


def test_two_hosts_naming_one_tenant_both_fail(emulator, tmp_path):
    inventory = {'m365_tenants': {'hosts': {
        'contoso': {'m365_tenant_id': seeds.CONTOSO_TENANT_ID},
        'contoso-by-domain': {'m365_tenant_id': seeds.CONTOSO_DOMAIN},
    }}}
    run = Preflight(emulator, tmp_path, '--forks', '2', inventory=inventory)
    run.assert_rc(2)
    for host in ('contoso', 'contoso-by-domain'):
        assert run.recap[host]['failed'] == 1
        assert 'is named by 2 hosts of this play (contoso, contoso-by-domain)' in run.report(host)['error']
    assert_read_only(run)


def test_no_secret_in_output_or_reports(emulator, tmp_path):
    runs = [
        Preflight(emulator, tmp_path / 'main', '-vvvv'),
        Preflight(emulator, tmp_path / 'noexo', '-vvvv',
                  env=app_env(emulator, seeds.CONTOSO_NO_EXCHANGE_CLIENT_ID, seeds.CONTOSO_NO_EXCHANGE_SECRET)),
    ]
    runs[0].assert_rc(0)
    runs[1].assert_rc(2)
    tokens = emulator.issued_tokens()
    assert tokens
    for run in runs:
        assert 'in the worker process' in run.output  # really -vvvv
        assert_no_secret({'output': run.output, 'reports': run.files_text()}, list(seeds.SECRETS) + tokens)
