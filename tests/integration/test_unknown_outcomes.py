"""A write whose answer never came: nothing is lost, and what is safe to repeat is repeated."""

from __future__ import annotations

import json

from runner import LOCAL_PLAY, run_playbook, tenant_env

# The lookup batch goes through; the answer of the next one (the writes) is lost.
DROP_SECOND_BATCH = [{'service': 'graph', 'path': r'\$batch', 'drop': True, 'after': 1, 'count': 1}]


def test_password_of_an_unanswered_reset_is_kept(emulator, tmp_path):
    password_file = tmp_path / 'secrets' / 'passwords.json'
    playbook = tmp_path / 'reset.yml'
    playbook.write_text(LOCAL_PLAY + f"""  tasks:
    - name: Reset, the batch answer is lost
      m365ops.remediation.user_password:
        users: [carl@contoso.com]
        password_file: {password_file}
        max_retries: 0
      register: reset
      ignore_errors: true
    - name: The outcome is unknown, and said so
      ansible.builtin.assert:
        that:
          - reset is failed
          - "'may or may not have been applied' in reset.results[0].msg"
""")
    emulator.set_faults(DROP_SECOND_BATCH)
    done = run_playbook(playbook, tenant_env(emulator))
    assert done.returncode == 0, done.stdout[-4000:]
    entry = json.loads(password_file.read_text())['users']['carl@contoso.com']
    assert entry['status'] == 'unknown' and len(entry['password']) == 20
    assert entry['password'] not in done.stdout + done.stderr


def test_revoking_sessions_is_repeated_after_a_lost_answer(emulator, tmp_path):
    playbook = tmp_path / 'revoke.yml'
    playbook.write_text(LOCAL_PLAY + """  tasks:
    - name: Revoke, the answer of the revoking batch is lost
      m365ops.remediation.user_sessions:
        users: [carl@contoso.com, ann@contoso.com]
        max_retry_wait: 5
      register: revoked
    - name: Both revoked after the batch was sent again
      ansible.builtin.assert:
        that:
          - revoked.results | selectattr('changed') | list | length == 2
""")
    emulator.set_faults(DROP_SECOND_BATCH)
    done = run_playbook(playbook, tenant_env(emulator))
    assert done.returncode == 0, done.stdout[-4000:]
