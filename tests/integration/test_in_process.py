"""The modules run inside Ansible's worker when the task targets the controller (plugin_utils/in_process.py).

Run in the worker or shipped as a module process, a task gives the same result, the same argument errors
and the same secret masking; the task's ``environment`` reaches the module; and every case the worker must
not take (another Python, ``m365_in_process: false``) ships the module, saying why at -vvvv.
"""

from __future__ import annotations

import json

import pytest

from m365emu import seeds
from runner import LOCAL_PLAY, run_playbook, tenant_env

READS = LOCAL_PLAY + """\
  tasks:
    - name: Look users up
      m365ops.remediation.user_info:
        users: [rob@contoso.com, nobody@contoso.com, "not an address"]
      register: users
    - name: Read the Restricted Users list
      m365ops.remediation.restricted_user_info:
      register: restricted
    - name: Show both
      ansible.builtin.debug:
        msg: "RESULT {{ {'users': users.users, 'restricted': restricted.entries, 'changed': users.changed} | to_json }}"
"""

WRONG_ARGUMENTS = LOCAL_PLAY + """\
  tasks:
    - name: An option the module does not have
      m365ops.remediation.user_sessions:
        users: [rob@contoso.com]
        user: rob@contoso.com
    - name: None of the options it needs
      m365ops.remediation.user_sessions:
        state: revoked
      ignore_errors: true
"""

ENVIRONMENT = LOCAL_PLAY + """\
  tasks:
    - name: The secret comes from the task's environment only
      m365ops.remediation.user_info:
        users: [rob@contoso.com]
      environment:
        AZURE_CLIENT_SECRET: "{{ secret }}"
      register: found
    - name: Found
      ansible.builtin.assert:
        that: found.users[0].found
"""


def result_of(done) -> dict:
    line = next(line for line in done.stdout.splitlines() if 'RESULT ' in line)
    return json.loads(line.split('RESULT ', 1)[1].rstrip('"').replace('\\"', '"'))


def test_worker_and_shipped_module_give_the_same_result(emulator, tmp_path):
    playbook = tmp_path / 'reads.yml'
    playbook.write_text(READS)
    worker = run_playbook(playbook, tenant_env(emulator), '-vvv')
    shipped = run_playbook(playbook, tenant_env(emulator), '-vvv', '-e', 'm365_in_process=false')
    assert worker.returncode == 0 and shipped.returncode == 0, worker.stdout[-3000:] + shipped.stdout[-3000:]
    assert 'in the worker process' in worker.stdout and 'in the worker process' not in shipped.stdout
    assert 'ESTABLISH LOCAL CONNECTION' in shipped.stdout
    assert result_of(worker) == result_of(shipped)
    assert [u['found'] for u in result_of(worker)['users']] == [True, False, False]


def test_argument_errors_are_the_modules_own(emulator, tmp_path):
    playbook = tmp_path / 'wrong.yml'
    playbook.write_text(WRONG_ARGUMENTS)
    outputs = []
    for extra in ((), ('-e', 'm365_in_process=false')):
        done = run_playbook(playbook, tenant_env(emulator), *extra)
        assert done.returncode == 2
        assert 'Unsupported parameters for (m365ops.remediation.user_sessions) module: user.' in done.stdout
        outputs.append([line for line in done.stdout.splitlines() if line.startswith('fatal:')])
    assert outputs[0] == outputs[1]


def test_the_tasks_environment_reaches_the_module(emulator, tmp_path):
    playbook = tmp_path / 'environment.yml'
    playbook.write_text(ENVIRONMENT)
    env = tenant_env(emulator)
    secret = env.pop('AZURE_CLIENT_SECRET')
    secret_file = tmp_path / 'secret.json'
    secret_file.write_text(json.dumps({'secret': secret}))
    done = run_playbook(playbook, env, '-vvvv', '-e', f'@{secret_file}')
    assert done.returncode == 0, done.stdout[-3000:]
    assert 'in the worker process' in done.stdout
    assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize('extra, reason', [
    ({'m365_in_process': False}, 'm365_in_process is false'),
    ({'ansible_python_interpreter': '/bin/sh'}, 'the host uses another Python (/bin/sh)'),
])
def test_what_the_worker_must_not_run_is_shipped(emulator, tmp_path, extra, reason):
    playbook = tmp_path / 'reads.yml'
    playbook.write_text(READS)
    done = run_playbook(playbook, tenant_env(emulator), '-vvvv', '-e', json.dumps(extra))
    assert f'm365ops.remediation.user_info: shipped as a module ({reason})' in done.stdout, done.stdout[-3000:]
    assert 'in the worker process' not in done.stdout
    assert seeds.CONTOSO_SECRET not in done.stdout + done.stderr


ASYNC = LOCAL_PLAY + """\
  tasks:
    - name: Look a user up in the background
      m365ops.remediation.user_info:
        users: [rob@contoso.com]
      async: 120
      poll: 1
      register: found
    - name: Found
      ansible.builtin.assert:
        that: found.users[0].found
"""


def test_async_ships_the_module_and_works(emulator, tmp_path):
    playbook = tmp_path / 'async.yml'
    playbook.write_text(ASYNC)
    done = run_playbook(playbook, tenant_env(emulator), '-vvvv')
    assert done.returncode == 0, done.stdout[-3000:]
    assert 'm365ops.remediation.user_info: shipped as a module (async)' in done.stdout
    assert seeds.CONTOSO_SECRET not in done.stdout + done.stderr
