"""Generated passwords and secrets never reach output, even at the highest verbosity."""

from __future__ import annotations

import json

from m365emu import seeds
from runner import LOCAL_PLAY, run_playbook, tenant_env

PLAYBOOK = LOCAL_PLAY.replace('{', '{{').replace('}', '}}') + """\
  tasks:
    - name: Reset with generated passwords, delivered to a private file
      m365ops.remediation.user_password:
        users: [rob@contoso.com, ann@contoso.com, dana@contoso.com]
        password_file: {password_file}
        continue_on_error: true
      diff: true
    - name: Reset with a given password
      m365ops.remediation.user_password:
        users: [carl@contoso.com]
        password: {given}
      diff: true
    - name: Reset and return the passwords to a hidden task
      m365ops.remediation.user_password:
        users: [frank@contoso.com]
        return_passwords: true
      no_log: true
      register: hidden
    - name: Keep the returned password for the test, in a private file
      ansible.builtin.copy:
        content: "{{{{ hidden.passwords | to_json }}}}"
        dest: {returned_file}
        mode: "0600"
      no_log: true
"""


def test_no_password_or_secret_in_vvvv_output(emulator, tmp_path):
    password_file = tmp_path / 'passwords.json'
    returned_file = tmp_path / 'returned.json'
    given = 'Given-Pa55word-Zq8!'
    playbook = tmp_path / 'reset.yml'
    playbook.write_text(PLAYBOOK.format(password_file=password_file, returned_file=returned_file, given=given))
    done = run_playbook(playbook, tenant_env(emulator), '-vvvv')
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    generated = [entry['password'] for entry in json.loads(password_file.read_text())['users'].values()]
    returned = list(json.loads(returned_file.read_text()).values())
    assert len(generated) == 2 and len(returned) == 1
    assert oct(password_file.stat().st_mode & 0o777) == '0o600'
    journal = json.dumps(emulator.journal())
    for secret in generated + returned + [given, seeds.CONTOSO_SECRET]:
        assert secret not in output
        assert secret not in journal
    assert 'password reset' in output  # the output is the real one, not empty
