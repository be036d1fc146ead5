"""Run playbooks against the emulator the way a user would: ansible-playbook on the controller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / 'tests' / 'integration' / 'targets'
COLLECTIONS = ROOT / '.tmp' / 'collections'

# The start of every test playbook: the controller itself, the Python running ansible-playbook.
LOCAL_PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

PLAY = LOCAL_PLAY + """\
  roles:
    - %s
"""


def tenant_env(emulator, tenant: str = 'contoso') -> dict[str, str]:
    """The environment a playbook needs to reach the emulator as the given seed tenant's app."""
    from m365emu import seeds

    env = dict(emulator.env())
    env.update(
        AZURE_TENANT_ID=getattr(seeds, f'{tenant.upper()}_TENANT_ID'),
        AZURE_CLIENT_ID=getattr(seeds, f'{tenant.upper()}_CLIENT_ID'),
        AZURE_CLIENT_SECRET=getattr(seeds, f'{tenant.upper()}_SECRET'),
    )
    return env


def run_index(report_dir: Path) -> list[dict]:
    """The lines of the role's index of runs (``<report_dir>/index.jsonl``), oldest first."""
    path = Path(report_dir) / 'index.jsonl'
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding='utf-8').splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # not a line of the role's (a test may plant something else there)
            continue
    return lines


def run_reports(report_dir: Path, host: str) -> list[Path]:
    """The report files of ``host``, one per run, oldest first (as the index lists the runs)."""
    return [Path(report_dir) / line['folder'] / f'{host}.json' for line in run_index(report_dir) if line.get('tenant') == host]


def password_files(password_dir: Path, host: str) -> list[Path]:
    """The password files of ``host``, one per run that set a password (``<run folder>-<host>.json``)."""
    return sorted(Path(password_dir).glob(f'*-{host}.json'))


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for ansible-playbook: the collection in place, no stray configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'AZURE_', 'M365_'))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_ROLES_PATH=str(TARGETS),
        ANSIBLE_LOCALHOST_WARNING='false',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_FORCE_COLOR='0',
        ANSIBLE_RETRY_FILES_ENABLED='false',
        ANSIBLE_HOME=str(ROOT / '.tmp' / 'ansible-home'),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')]),
    )
    env.update(extra or {})
    return env


def run_playbook(playbook: Path | str, env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """ansible-playbook with the given environment; output captured as text."""
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), str(playbook), *args]
    return subprocess.run(command, env=ansible_env(env), cwd=str(ROOT), capture_output=True, text=True, timeout=timeout, check=False)


def run_target(target: str, emulator, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run one integration target (a role under targets/) against the emulator."""
    playbook = workdir / f'{target}.yml'
    playbook.write_text(PLAY % target)
    extra = ['-e', f'emulator_url={emulator.base_url}', '-e', f'emulator_ca={emulator.ca_path}']
    return run_playbook(playbook, tenant_env(emulator), *extra, *args)
