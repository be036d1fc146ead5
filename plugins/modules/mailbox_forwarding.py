#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_forwarding
short_description: Remove the forwarding of Exchange Online mailboxes
version_added: 0.2.0
description:
  - Clears a mailbox's forwarding (C(ForwardingSmtpAddress), C(ForwardingAddress) and
    C(DeliverToMailboxAndForward)), as C(Set-Mailbox) does, for many users in one run.
  - Step 2 of Microsoft's guidance for a compromised account, after the password reset and before the
    unblock. Forwarding set by inbox rules is handled by M(m365ops.remediation.inbox_rule).
  - Each result reports the forwarding that was there, for the incident record.
  - Users are resolved through Microsoft Graph first, so that protected accounts are recognised by any of
    their addresses; the mailbox is then addressed by its user principal name.
author:
  - m365ops maintainers (@m365ops)
options:
  state:
    description:
      - V(absent) clears the forwarding.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment:
  - m365ops.remediation.users.concurrency
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the mailboxes are only read; the result says which forwarding would be removed.
  diff_mode:
    support: full
    details: Shows the three forwarding settings before and after.
  idempotent:
    support: full
notes:
  - "Permissions: Microsoft Graph C(User.Read.All) to resolve users; the application permission
    C(Exchange.ManageAsApp) on Office 365 Exchange Online and the Entra role Exchange Administrator on the app's
    service principal. Security Administrator is not enough: Microsoft's app-only documentation says it lacks the
    rights for recipient management (C(Set-Mailbox))."
seealso:
  - module: m365ops.remediation.mailbox_forwarding_info
  - module: m365ops.remediation.inbox_rule
"""

EXAMPLES = r"""
- name: Stop rob's mailbox forwarding mail to the attacker
  m365ops.remediation.mailbox_forwarding:
    users:
      - rob@contoso.com
  register: forwarding

- name: Record where it went
  ansible.builtin.debug:
    msg: "{{ forwarding.results[0].forwarding_smtp_address }}"
"""

RETURN = r"""
results:
  description: One entry per given user, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The user as given.
      type: str
    id:
      description: The user's object id.
      type: str
      returned: when the user was found
    user_principal_name:
      description: The user's principal name.
      type: str
      returned: when the user was found
    changed:
      description: Whether forwarding was (or in check mode would be) removed.
      type: bool
    failed:
      description: Whether this user failed.
      type: bool
    skipped:
      description: Whether the user was left alone as a protected account.
      type: bool
      returned: when the user is protected
    msg:
      description: What happened, in words.
      type: str
    forwarding:
      description: Whether the mailbox forwarded before the task.
      type: bool
      returned: when the mailbox was read
    forwarding_smtp_address:
      description: The external forwarding address before the task, without its V(smtp:) prefix.
      type: str
      returned: when the mailbox was read
      sample: exfil@evil.example
    forwarding_address:
      description: The forwarding recipient (an object in the directory) before the task.
      type: str
      returned: when the mailbox was read
    deliver_to_mailbox_and_forward:
      description: Whether mail was also kept in the mailbox, before the task.
      type: bool
      returned: when the mailbox was read
    error:
      description: The service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import mailbox
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.mailbox import Mailboxes


def main() -> None:
    """Clear mailbox forwarding."""
    m = M365Module(dict(
        state=dict(type='str', choices=['absent'], default='absent'),
        **dict(converge.concurrency_option(), **converge.user_options())
    ))

    def plan(base, user, found):
        record = mailbox.forwarding_record(found)
        change = mailbox.forwarding_change(found)
        before = {k: v for k, v in record.items() if k != 'forwarding'}
        cleared = dict(forwarding_smtp_address=None, forwarding_address=None, deliver_to_mailbox_and_forward=False)
        target = record['forwarding_smtp_address'] or record['forwarding_address'] or 'no address'
        return converge.Plan(dict(base, **record), change=change,
                             done='forwarding to %s removed' % target if change else 'no forwarding; nothing to do',
                             would='forwarding to %s would be removed' % target, before=before, after=cleared)

    def work():
        mailboxes = Mailboxes(m.exchange, m.params['max_concurrency'])
        return converge.converge(m, mailboxes.forwarding, plan, mailboxes.clear_forwarding)

    m.run(work)


if __name__ == '__main__':
    main()
