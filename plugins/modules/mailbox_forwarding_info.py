#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_forwarding_info
short_description: Read the forwarding settings of Exchange Online mailboxes
version_added: 0.2.0
description:
  - Reports each mailbox's C(ForwardingSmtpAddress), C(ForwardingAddress) and C(DeliverToMailboxAndForward)
    (C(Get-Mailbox)), for the given users or for every mailbox of the tenant.
  - Forwarding set by inbox rules is reported by M(m365ops.remediation.inbox_rule_info).
  - Never changes anything.
author:
  - m365ops maintainers (@m365ops)
options:
  users:
    description:
      - The users, by user principal name, object id or any of their SMTP addresses.
      - Empty or left out, every mailbox of the tenant is read (one paged C(Get-Mailbox)).
    type: list
    elements: str
    default: []
  forwarding_only:
    description:
      - Report only the mailboxes that forward.
    type: bool
    default: false
extends_documentation_fragment:
  - m365ops.remediation.users.concurrency
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: Microsoft Graph C(User.Read.All) when O(users) is given; the application permission
    C(Exchange.ManageAsApp) on Office 365 Exchange Online and the Entra role Exchange Administrator (or Global
    Reader, which reads only) on the app's service principal."
  - The task fails at the end when a given user is not found or a read fails; the other users are reported.
seealso:
  - module: m365ops.remediation.mailbox_forwarding
"""

EXAMPLES = r"""
- name: Every mailbox of the tenant that forwards mail
  m365ops.remediation.mailbox_forwarding_info:
    forwarding_only: true
  register: forwarding

- name: Where does rob's mail go?
  m365ops.remediation.mailbox_forwarding_info:
    users:
      - rob@contoso.com
"""

RETURN = r"""
results:
  description: One entry per mailbox, in the order the users were given (by user principal name when all are read).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The user as given (the user principal name when all mailboxes are read).
      type: str
    id:
      description: The user's object id.
      type: str
      returned: when the mailbox was read
    user_principal_name:
      description: The user's principal name.
      type: str
      returned: when the mailbox was read
    failed:
      description: Whether the lookup failed.
      type: bool
    msg:
      description: Why the lookup failed.
      type: str
      returned: when the lookup failed
    forwarding:
      description: Whether the mailbox forwards (an address or a recipient is set).
      type: bool
      returned: when the mailbox was read
    forwarding_smtp_address:
      description: The external forwarding address, without its V(smtp:) prefix.
      type: str
      returned: when the mailbox was read
      sample: exfil@evil.example
    forwarding_address:
      description: The forwarding recipient (an object in the directory).
      type: str
      returned: when the mailbox was read
    deliver_to_mailbox_and_forward:
      description: Whether forwarded mail is also kept in the mailbox.
      type: bool
      returned: when the mailbox was read
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import mailbox
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.mailbox import Mailboxes


def main() -> None:
    """Read mailbox forwarding."""
    m = M365Module(dict(
        forwarding_only=dict(type='bool', default=False),
        **dict(converge.concurrency_option(), **converge.users_option(required=False))
    ))

    def work():
        mailboxes = Mailboxes(m.exchange, m.params['max_concurrency'])
        if m.params['users']:
            summary = converge.inspect(m, mailboxes.forwarding, lambda user, found: mailbox.forwarding_record(found))
        else:
            summary = dict(changed=False, results=sorted((
                dict(user=mb.get('UserPrincipalName'), id=mb.get('ExternalDirectoryObjectId'), user_principal_name=mb.get('UserPrincipalName'),
                     failed=False, **mailbox.forwarding_record(mb)) for mb in mailboxes.every_mailbox()), key=lambda r: str(r['user']).lower()))
        if m.params['forwarding_only']:
            summary['results'] = [r for r in summary['results'] if r.get('forwarding') or r.get('failed')]
        return summary

    m.run(work)


if __name__ == '__main__':
    main()
