"""Many users' forwarding is read with one filtered Get-Mailbox, not one call each (Exchange budgets cmdlets)."""

from __future__ import annotations

from runner import LOCAL_PLAY, run_playbook, tenant_env

PLAYBOOK = LOCAL_PLAY + """\
  tasks:
    - name: Read forwarding of nine users
      m365ops.remediation.mailbox_forwarding_info:
        users: [rob@contoso.com, ann@contoso.com, carl@contoso.com, dana@contoso.com, eve.admin@contoso.com,
                frank@contoso.com, gina@contoso.com, breakglass@contoso.com, robert@contoso.com]
      register: found
    - name: Rob forwards, the others do not
      ansible.builtin.assert:
        that:
          - found.results | selectattr('forwarding') | map(attribute='user') | list == ['rob@contoso.com', 'robert@contoso.com']
"""


def test_one_filtered_read_for_many_users(emulator, tmp_path):
    playbook = tmp_path / 'forwarding.yml'
    playbook.write_text(PLAYBOOK)
    mark = emulator.mark()
    done = run_playbook(playbook, tenant_env(emulator))
    assert done.returncode == 0, done.stdout[-4000:]
    cmdlets = [e.get('cmdlet') for e in emulator.journal(mark) if e.get('service') == 'exchange']
    assert cmdlets == ['Get-Mailbox']
