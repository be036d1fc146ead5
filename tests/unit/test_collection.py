"""The collection as users get it: documentation renders, the build holds no development files, the role's
tasks and documentation follow its step registry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.m365ops.remediation.plugins.module_utils import access
from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text, steps

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / 'roles' / 'unblock_email'
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


def _role_docs():
    """The role's argument specs (main entry point), its defaults, and its README's variable table (name -> default)."""
    spec = yaml.safe_load((ROLE / 'meta' / 'argument_specs.yml').read_text())['argument_specs']['main']
    defaults = yaml.safe_load((ROLE / 'defaults' / 'main.yml').read_text())
    rows = {}
    for line in (ROLE / 'README.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('| `unblock_email_') and len(cells) >= 2:
            rows[cells[0].strip('`')] = cells[1].strip('`')
    return spec, defaults, rows


def test_role_readme_argument_specs_and_defaults_agree():
    """The role's README variable table, its argument specs and its defaults name the same variables, with the same
    defaults: a variable left out of one of them is a variable a new user does not find."""
    spec, defaults, rows = _role_docs()
    options = spec['options']
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


# -- the role and its step registry (plugins/plugin_utils/steps.py) -------------------------------------------------


def _tasks(path):
    return yaml.safe_load(path.read_text()) or []


def _action(task):
    """The module a task runs (its one key that names a module or action)."""
    names = [key for key in task if '.' in key]
    assert len(names) == 1, task
    return names[0]


def test_role_documents_every_step_switch_as_the_registry_says():
    """Every step's switch is a variable of the README's table, the argument specs and the defaults, with the
    registry's default, and the description ``ansible-doc -t role`` shows names every step, in order, with its switch."""
    spec, defaults, rows = _role_docs()
    for step in steps.STEPS:
        if step.switch is None:
            continue
        assert step.switch in spec['options'] and step.switch in defaults and step.switch in rows, step.name
        assert spec['options'][step.switch].get('default') == defaults[step.switch] == step.default, step.name
        assert step.is_on({step.switch: defaults[step.switch]}) is not step.opt_in, step.name
    done = subprocess.run([str(BIN / 'ansible-doc'), '-t', 'role', '--json', 'm365ops.remediation.unblock_email'], env=ansible_env(),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)['m365ops.remediation.unblock_email']['entry_points']['main']
    description = ' '.join(' '.join(shown['description']).split())
    assert description == ' '.join(' '.join(spec['description']).split())
    where = [description.find(step.does) for step in steps.STEPS]
    assert -1 not in where, [step.name for step, at in zip(steps.STEPS, where) if at == -1]
    assert where == sorted(where), 'the description names the steps out of order'
    for step in steps.STEPS:
        if step.switch:
            assert 'O(%s)' % step.switch in description, step.switch


def test_role_tasks_follow_the_step_registry():
    """Each step before the unblock is a task file of its own (a module cannot be chosen by a template before
    ansible-core 2.19), imported by remediate.yml in the registry's order, that runs the registry's module for the
    step's users still to do and registers the registry's variable; the unblock is the last task of remediate.yml
    that runs a step; every registered result starts empty; protected and continue_on_error are set once, for the
    action group of the modules that change users."""
    folder = ROLE / 'tasks' / 'steps'
    before = [step for step in steps.STEPS if step.name != steps.UNBLOCK]
    assert sorted(p.stem for p in folder.glob('*.yml')) == sorted(step.name for step in before)
    for step in before:
        tasks = _tasks(folder / f'{step.name}.yml')
        # The step's module first; what follows (the password step's hand-over to a tasks file) runs none of ours.
        assert all(not str(_action(t)).startswith('m365ops.remediation.') for t in tasks[1:]), step.name
        task = tasks[0]
        action = _action(task)
        assert action == f'm365ops.remediation.{step.module}', step.name
        assert task['register'] == step.register, step.name
        assert task[action]['users'] == '{{ _unblock_email_todo.%s }}' % step.name, step.name
        assert task['when'] == '_unblock_email_todo.%s | length > 0' % step.name, step.name
        assert not {'protected', 'continue_on_error'} & set(task[action]), step.name
    remediate = _tasks(ROLE / 'tasks' / 'remediate.yml')
    imported = [task['ansible.builtin.import_tasks'] for task in remediate if 'ansible.builtin.import_tasks' in task]
    assert imported == [f'steps/{step.name}.yml' for step in before]
    unblock = steps.get(steps.UNBLOCK)
    runs = [task for task in remediate
            if _action(task).startswith('m365ops.remediation.') and _action(task) != 'm365ops.remediation.restricted_user_info']
    expected = [('m365ops.remediation.user_info', '_unblock_email_users'), (f'm365ops.remediation.{unblock.module}', unblock.register)]
    assert [(_action(task), task.get('register')) for task in runs] == expected
    last_import = max(i for i, task in enumerate(remediate) if 'ansible.builtin.import_tasks' in task)
    assert last_import < remediate.index(runs[-1])
    started = remediate[0]['ansible.builtin.set_fact']
    assert {key for key, value in started.items() if value == {} and key != '_unblock_email_restricted'} == {s.register for s in steps.STEPS}
    runtime = yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text())
    assert sorted(runtime['action_groups']['m365_user_changes']) == sorted(step.module for step in steps.STEPS)
    main = _tasks(ROLE / 'tasks' / 'main.yml')
    block = next(task for task in main if 'block' in task)
    assert set(block['module_defaults']['group/m365ops.remediation.m365_user_changes']) == {'protected', 'continue_on_error'}


def test_role_languages_are_the_word_files():
    """The languages the argument specs offer are those with a file of words, and each step has its words in each."""
    spec, dummy, dummy = _role_docs()
    assert spec['options']['unblock_email_report_language']['choices'] == list(steps.LANGUAGES)
    assert sorted(p.stem for p in report_text.WORDS_DIR.glob('*.yml')) == sorted(steps.LANGUAGES)
    for step in steps.STEPS:
        assert set(step.words) == set(steps.LANGUAGES), step.name


def test_preflight_steps_agree_with_the_registry():
    """The preflight's table of what each step needs (module_utils/access.py, run by a module, so it cannot import
    the registry) names each registry step with the same module and switch, and the switch's default."""
    checked = {step.name: step for step in access.STEPS}
    for step in steps.STEPS:
        assert step.name in checked, step.name
        assert checked[step.name].module == step.module, step.name
        assert checked[step.name].switch == step.switch, step.name
        assert checked[step.name].default is not step.opt_in, step.name


def test_no_words_or_step_lists_left_in_the_role_variables():
    """vars/main.yml keeps variables only: the summary's words are files, the steps are the registry's."""
    text = (ROLE / 'vars' / 'main.yml').read_text()
    assert '__unblock_email_text' not in text
    for step in steps.CONTAINMENT:
        assert not re.search(r'\b%s:' % step, text), step
