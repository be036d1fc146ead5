"""The collection as users get it: documentation renders, the build holds no development files."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (ROOT / 'plugins' / 'modules').glob('*.py') if not p.name.startswith('_'))


def ansible_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_')}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.tmp' / 'collections'), ANSIBLE_HOME=str(ROOT / '.tmp' / 'ansible-home'))
    return env


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders(module):
    done = subprocess.run([str(BIN / 'ansible-doc'), f'm365ops.remediation.{module}'], env=ansible_env(),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert 'EXAMPLES' in done.stdout and 'RETURN VALUES' in done.stdout
    assert '[WARNING]' not in done.stderr, done.stderr


def test_every_service_module_in_the_action_group():
    # report_file talks to no service: module_defaults of the group (credentials) would not fit it.
    runtime = yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text())
    assert sorted(runtime['action_groups']['m365']) == [m for m in MODULES if m != 'report_file']


def test_build_has_no_development_files(tmp_path):
    done = subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(tmp_path), str(ROOT)],
                          env=ansible_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    archive = tmp_path / 'm365ops-remediation-0.1.0.tar.gz'
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert 'plugins/modules/restricted_user.py' in names
    assert 'meta/runtime.yml' in names
    for prefix in ('.venv', '.tmp', '.git', '.ci', 'scripts', 'bench', 'requirements-dev.txt', '.ansible', '.pytest_cache'):
        assert not any(n == prefix or n.startswith(prefix + '/') for n in names), prefix
    assert not any('__pycache__' in n for n in names)


def test_example_inventory_parses(tmp_path):
    vault_password = tmp_path / 'vault-password'
    vault_password.write_text('example-vault-password')
    done = subprocess.run([str(BIN / 'ansible'), '-i', str(ROOT / 'playbooks' / 'inventory.example.yml'),
                           '--vault-password-file', str(vault_password), 'contoso', '-m', 'ansible.builtin.debug',
                           '-a', 'var=m365_client_secret'],
                          env=ansible_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert '"m365_client_secret": "replace-with-contoso-app-secret"' in done.stdout, done.stdout


def test_role_readme_argument_specs_and_defaults_agree():
    """The role's README variable table, its argument specs and its defaults name the same variables, with the same
    defaults: a variable left out of one of them is a variable a new user does not find."""
    role = ROOT / 'roles' / 'unblock_email'
    options = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']['main']['options']
    defaults = yaml.safe_load((role / 'defaults' / 'main.yml').read_text())
    rows = {}
    for line in (role / 'README.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('| `unblock_email_') and len(cells) >= 2:
            rows[cells[0].strip('`')] = cells[1].strip('`')
    assert set(rows) == set(options) == set(defaults)
    for name, option in options.items():
        # A templated default (the home folder) is given in the specs as what it renders to.
        if '{{' not in str(defaults[name]):
            assert option.get('default') == defaults[name], name
        value = defaults[name]
        if isinstance(value, bool):
            assert rows[name] == str(value).lower(), name
        elif isinstance(value, int) or value in ([], ''):
            assert rows[name] == ('[]' if value == [] else '""' if value == '' else str(value)), name
