"""Event-Driven Ansible: the rulebook m365ops.remediation.unblock_email run by ansible-rulebook against the
emulator. An account restricted while it runs is reset and unblocked within a bounded time; a restart does
not remediate anything again; with auto_remediate off nothing is written and the report shows the plan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from m365emu import seeds
from runner import ROOT, ansible_env, run_index, tenant_env

RULEBOOK = 'm365ops.remediation.unblock_email'
TENANT = seeds.FABRIKAM_TENANT_ID
CAROL = 'carol@fabrikam.com'  # in the seed, not restricted
ALREADY = {'alice@fabrikam.com', 'bert@fabrikam.com'}  # restricted in the seed
DEADLINE = 180  # seconds: a JVM start, a poll every second and one playbook run, with room for a loaded machine


def wait_for(what: str, check, timeout: float = DEADLINE, rulebook: 'Rulebook | None' = None):
    """Poll ``check`` until it returns something true; fail with the rulebook's log after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        if rulebook is not None and rulebook.proc.poll() is not None:
            pytest.fail(f'ansible-rulebook exited ({rulebook.proc.returncode}) while waiting for {what}:\n{rulebook.log()}')
        time.sleep(0.5)
    pytest.fail(f'timed out after {timeout}s waiting for {what}' + (f':\n{rulebook.log()}' if rulebook else ''))


class Rulebook:
    """ansible-rulebook running the collection's rulebook for the fabrikam tenant, polling every second."""

    def __init__(self, emulator, tmp: Path, host_vars: dict | None = None, **variables) -> None:
        self.tmp = tmp
        self.state_file = tmp / 'state' / 'restricted_users.json'
        self.report_dir = tmp / 'reports'
        self.variables = {'interval': 1, 'state_file': str(self.state_file), 'report_dir': str(self.report_dir),
                          'password_dir': str(tmp / 'passwords'), **variables}
        (tmp / 'vars.yml').write_text(yaml.safe_dump(self.variables))
        (tmp / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {'ansible_connection': 'local', **(host_vars or {})}}}}))
        self.env = ansible_env(tenant_env(emulator, 'fabrikam'))
        self.proc: subprocess.Popen | None = None
        self.log_path = tmp / 'ansible-rulebook.log'

    def start(self) -> 'Rulebook':
        command = [str(Path(sys.executable).parent / 'ansible-rulebook'), '--rulebook', RULEBOOK,
                   '--inventory', str(self.tmp / 'inventory.yml'), '--vars', str(self.tmp / 'vars.yml'), '--verbose']
        with open(self.log_path, 'a', encoding='utf-8') as log:
            self.proc = subprocess.Popen(command, env=self.env, cwd=str(self.tmp), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(encoding='utf-8', errors='replace')[-6000:]

    def remembered(self) -> list[str]:
        """The entries the source remembers for the tenant (empty before its first poll)."""
        if not self.state_file.exists():
            return []
        return [key for keys in json.loads(self.state_file.read_text())['tenants'].values() for key in keys]

    def reports(self) -> list[dict]:
        """The report of every run the rulebook started, oldest first (each run writes into its own folder)."""
        return [json.loads((self.report_dir / line['folder'] / 'localhost.json').read_text()) for line in run_index(self.report_dir)]

    def report(self) -> dict | None:
        """The newest run's report."""
        reports = self.reports()
        return reports[-1] if reports else None

    def summary(self) -> str | None:
        """The newest run's readable summary."""
        lines = run_index(self.report_dir)
        path = self.report_dir / lines[-1]['folder'] / 'summary.md' if lines else None
        return path.read_text() if path and path.exists() else None


@pytest.fixture
def rulebooks():
    started: list[Rulebook] = []
    yield started
    for rulebook in started:
        rulebook.stop()


def restricted(emulator) -> set[str]:
    return {e['SenderAddress'].lower() for e in emulator.state(TENANT)['restricted']}


def polls(emulator, since: int) -> int:
    return sum(1 for e in emulator.journal(since) if e.get('cmdlet') == 'Get-BlockedSenderAddress')


def start(rulebooks, emulator, tmp: Path, host_vars: dict | None = None, **variables) -> Rulebook:
    """Start the rulebook and wait for the source's first poll (the state file then holds the listed entries)."""
    rulebook = Rulebook(emulator, tmp, host_vars, **variables).start()
    rulebooks.append(rulebook)
    wait_for('the first poll', lambda: len(rulebook.remembered()) >= len(ALREADY), rulebook=rulebook)
    return rulebook


def test_restricted_account_is_remediated_once(emulator, tmp_path, rulebooks):
    rulebook = start(rulebooks, emulator, tmp_path, auto_remediate=True, include_existing=False)
    mark = emulator.mark()
    began = time.monotonic()
    emulator.restrict(TENANT, CAROL)

    wait_for('carol to be unblocked', lambda: CAROL not in restricted(emulator), rulebook=rulebook)
    elapsed = time.monotonic() - began
    print(f'carol unblocked {elapsed:.1f}s after the restriction')
    writes = emulator.writes(mark)
    carol = emulator.state(TENANT)['users']
    carol_id = next(u['id'] for u in carol if u['userPrincipalName'] == CAROL)
    assert {(w['method'], w['path']) for w in writes if w['service'] == 'graph'} == {
        ('PATCH', f'/v1.0/users/{carol_id}'), ('POST', f'/v1.0/users/{carol_id}/revokeSignInSessions')}
    assert [w['cmdlet'] for w in writes if w['service'] == 'exchange'] == ['Remove-BlockedSenderAddress']
    # The password was reset before the unblock, and the accounts restricted before the start were left alone.
    assert writes[0]['method'] == 'PATCH' and writes[-1]['cmdlet'] == 'Remove-BlockedSenderAddress'
    assert restricted(emulator) == ALREADY
    report = wait_for('the report', rulebook.report, rulebook=rulebook)
    assert [(u['address'], u['outcome']) for u in report['users']] == [(CAROL, 'remediated')]
    assert report['check_mode'] is False
    rulebook.stop()

    # A restart (emitting existing accounts this time) remembers what was seen: no event, no write.
    mark = emulator.mark()
    again = start(rulebooks, emulator, tmp_path, auto_remediate=True)
    wait_for('three polls after the restart', lambda: polls(emulator, mark) >= 3, rulebook=again)
    time.sleep(2)
    assert emulator.writes(mark) == []
    assert restricted(emulator) == ALREADY


def test_dry_run_writes_nothing_and_reports_the_plan(emulator, tmp_path, rulebooks):
    mark = emulator.mark()
    rulebook = start(rulebooks, emulator, tmp_path, include_existing=False)  # auto_remediate: off by default
    emulator.restrict(TENANT, CAROL)

    report = wait_for('the dry-run report', lambda: rulebook.summary() and rulebook.report(), rulebook=rulebook)
    assert report['check_mode'] is True
    [carol] = report['users']
    assert carol['address'] == CAROL and carol['outcome'] == 'would_remediate'
    assert {carol['steps'][s]['status'] for s in ('password', 'sessions', 'unblock')} == {'would_do'}
    assert 'Check mode' in rulebook.summary()
    assert emulator.writes(mark) == []
    assert CAROL in restricted(emulator)
    assert not (tmp_path / 'passwords').exists() or not any((tmp_path / 'passwords').iterdir())
    generated = report['generated_at']
    rulebook.stop()

    # Restarted, it does not run the dry run again for the same restriction.
    restart = emulator.mark()
    again = start(rulebooks, emulator, tmp_path)
    wait_for('three polls after the restart', lambda: polls(emulator, restart) >= 3, rulebook=again)
    time.sleep(2)
    assert rulebook.report()['generated_at'] == generated
    assert emulator.writes(mark) == []


def test_protected_account_of_the_inventory_is_never_touched(emulator, tmp_path, rulebooks):
    # The tenant's host protects bert in the inventory; the rulebook's own "protected" cannot take that away.
    bert = 'bert@fabrikam.com'
    mark = emulator.mark()
    rulebook = start(rulebooks, emulator, tmp_path, host_vars={'unblock_email_protected': [bert]}, auto_remediate=True)
    wait_for('alice to be unblocked', lambda: 'alice@fabrikam.com' not in restricted(emulator), rulebook=rulebook)
    reports = wait_for('both events reported', lambda: len(rulebook.reports()) >= 2 and rulebook.reports(), rulebook=rulebook)
    outcomes = {u['address']: (u['outcome'], u['protected']) for r in reports for u in r['users']}
    assert outcomes == {'alice@fabrikam.com': ('remediated', False), bert: ('skipped', True)}
    bert_id = next(u['id'] for u in emulator.state(TENANT)['users'] if u['userPrincipalName'] == bert)
    writes = emulator.writes(mark)
    assert not any(bert_id in w['path'] for w in writes)
    assert [w for w in writes if w.get('cmdlet') == 'Remove-BlockedSenderAddress'] and bert in restricted(emulator)
    # Each event's run kept its own folder.
    assert len({line['folder'] for line in run_index(rulebook.report_dir)}) == len(run_index(rulebook.report_dir)) >= 2


def test_rulebook_is_valid_yaml_with_the_documented_policy():
    rulebook = yaml.safe_load((ROOT / 'extensions' / 'eda' / 'rulebooks' / 'unblock_email.yml').read_text())
    [ruleset] = rulebook
    assert list(ruleset['sources'][0]) == ['name', 'm365ops.remediation.restricted_users']
    [unblock, error] = ruleset['rules']
    assert unblock['condition'] == 'event.restricted_user is defined'
    assert error['condition'] == 'event.restricted_users_error is defined'
    assert unblock['action']['run_playbook']['name'] == 'm365ops.remediation.unblock_email'
    assert 'auto_remediate' in unblock['action']['run_playbook']['extra_vars']['unblock_email_dry_run']
