"""user_auth_method and the user's default MFA method, which Graph keeps while other methods remain.

In the test seed rob's mobile phone is his default method (his first multifactor method): the module removes the
other methods first and the phone in a later request, or reports the phone when other methods stay.
"""

from __future__ import annotations

import json

from m365emu import seeds
from runner import LOCAL_PLAY, run_playbook, tenant_env

ROB = seeds.USER_IDS['rob@contoso.com']
PHONE = seeds.ROB_PHONE_METHOD_ID

PLAYBOOK = LOCAL_PLAY + """\
  tasks:
    - name: Remove rob's methods
      m365ops.remediation.user_auth_method:
        users: [rob@contoso.com]
        ids: ["{{ phone }}"]
        registered_after: "{{ since }}"
        continue_on_error: true
      register: removed
    - name: Keep the answer for the test
      ansible.builtin.copy:
        content: "{{ removed | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      check_mode: false
"""


def run(emulator, tmp_path, since, *args):
    playbook = tmp_path / 'methods.yml'
    playbook.write_text(PLAYBOOK)
    out = tmp_path / 'removed.json'
    out.unlink(missing_ok=True)
    done = run_playbook(playbook, tenant_env(emulator), '-e', json.dumps({'phone': PHONE, 'since': since, 'out': str(out)}), *args)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def methods_left(emulator):
    rob = next(u for u in emulator.state(seeds.CONTOSO_TENANT_ID)['users'] if u['id'] == ROB)
    return [m['id'] for m in rob['authenticationMethods']]


def deletes(emulator, mark):
    """(batch request seq, method id, status) of each DELETE, in the order the requests came."""
    return [(w['seq'], w['path'].rsplit('/', 1)[-1], w['status']) for w in emulator.writes(mark) if w['method'] == 'DELETE']


def test_all_methods_go_the_default_phone_last(emulator, tmp_path):
    since = '1970-01-01T00:00:00Z'
    mark = emulator.mark()
    check = run(emulator, tmp_path, since, '--check', '--diff')
    assert emulator.writes(mark) == []
    (user,) = check['results']
    assert check['changed'] and user['changed'] and not user['failed']
    everything = sorted([PHONE, seeds.ROB_OLD_AUTHENTICATOR_ID, seeds.ROB_ATTACKER_AUTHENTICATOR_ID])
    assert sorted(r['id'] for r in user['methods'] if r['remove']) == everything
    assert 'phones go last' not in user['msg']
    assert not any('@' in key for record in user['methods'] for key in record)

    mark = emulator.mark()
    applied = run(emulator, tmp_path, since)
    (user,) = applied['results']
    assert applied['changed'] and not user['failed'], user
    assert all(r['done'] for r in user['methods'] if r['remove'])
    removed = deletes(emulator, mark)
    assert all(status == 204 for _seq, _id, status in removed)
    # The authenticators in one batch, the phone in a later one: no refusal on the way.
    phone_seq = next(seq for seq, method_id, _status in removed if method_id == PHONE)
    assert all(seq < phone_seq for seq, method_id, _status in removed if method_id != PHONE)
    assert methods_left(emulator) == [seeds.PASSWORD_METHOD_ID]

    mark = emulator.mark()
    again = run(emulator, tmp_path, since)
    assert not again['changed'] and not again['results'][0]['failed'] and emulator.writes(mark) == []


def test_a_default_phone_that_other_methods_keep_is_reported(emulator, tmp_path):
    since = seeds.RESTRICTED_AT  # the attacker's Authenticator goes, rob's own stays: the phone cannot
    mark = emulator.mark()
    check = run(emulator, tmp_path, since, '--check')
    assert emulator.writes(mark) == []
    assert 'phones go last: if phone +1 2065550100 is the default MFA method' in check['results'][0]['msg']

    mark = emulator.mark()
    applied = run(emulator, tmp_path, since)
    (user,) = applied['results']
    assert applied['changed'] and user['changed'] and user['failed']
    assert 'the default MFA phone cannot be deleted while other methods remain' in user['msg']
    by_id = {r['id']: r for r in user['methods']}
    assert by_id[seeds.ROB_ATTACKER_AUTHENTICATOR_ID]['done'] is True
    assert by_id[PHONE]['done'] is False and by_id[PHONE]['error']['status'] == 400
    assert sorted((method_id, status) for _seq, method_id, status in deletes(emulator, mark)) == [
        (PHONE, 400), (seeds.ROB_ATTACKER_AUTHENTICATOR_ID, 204)]
    assert methods_left(emulator) == [seeds.PASSWORD_METHOD_ID, PHONE, seeds.ROB_OLD_AUTHENTICATOR_ID]
