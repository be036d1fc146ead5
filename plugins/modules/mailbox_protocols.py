#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_protocols
short_description: Turn mail protocols off (or on) for Exchange Online mailboxes
version_added: 0.2.0
description:
  - Sets a mailbox's client access settings (C(Set-CASMailbox)), for many users in one run, so that an
    attacker cannot keep reading or sending mail through protocols that bypass modern authentication and
    multifactor prompts.
  - Manages POP (C(PopEnabled)), IMAP (C(ImapEnabled)), Exchange Web Services (C(EwsEnabled)), Exchange
    ActiveSync (C(ActiveSyncEnabled)) and authenticated SMTP submission (C(SmtpClientAuthenticationDisabled)).
  - Protocols named in neither O(disable) nor O(enable) are left as they are.
author:
  - m365ops maintainers (@m365ops)
options:
  disable:
    description:
      - The protocols to turn off.
      - The default turns off the protocols that modern mail clients do not need. V(ews) and V(activesync)
        are not in it because turning them off also stops Outlook for Mac, the Mail apps of phones and
        tools that read mailboxes through EWS; add them when the mailbox should only be used in Outlook on
        the web and the Outlook apps.
    type: list
    elements: str
    choices: [pop, imap, ews, activesync, smtp_auth]
    default: [pop, imap, smtp_auth]
  enable:
    description:
      - The protocols to turn on, for example after an incident. A protocol may not be in both lists.
      - Turning V(smtp_auth) on sets C(SmtpClientAuthenticationDisabled) to V(false) for the mailbox, which
        overrides the organisation's setting.
    type: list
    elements: str
    choices: [pop, imap, ews, activesync, smtp_auth]
    default: []
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
    details: In check mode the settings are only read; the result says which would change.
  diff_mode:
    support: full
    details: Shows each changed protocol before and after.
  idempotent:
    support: full
notes:
  - "Permissions: Microsoft Graph C(User.Read.All) to resolve users; the application permission
    C(Exchange.ManageAsApp) on Office 365 Exchange Online and the Entra role Exchange Administrator on the
    app's service principal. Security Administrator is not enough: Microsoft's app-only documentation says it
    lacks the rights for recipient management (C(Set-CASMailbox))."
  - A mailbox whose C(SmtpClientAuthenticationDisabled) is unset follows the organisation's setting; it is
    reported as V(null) for V(smtp_auth) in RV(results[].protocols) and set explicitly when named in O(disable).
seealso:
  - module: m365ops.remediation.user_sign_in
  - module: m365ops.remediation.mailbox_forwarding
"""

EXAMPLES = r"""
- name: Close POP, IMAP and SMTP AUTH on rob's mailbox
  m365ops.remediation.mailbox_protocols:
    users:
      - rob@contoso.com

- name: Outlook only, while the incident is open
  m365ops.remediation.mailbox_protocols:
    users:
      - rob@contoso.com
    disable: [pop, imap, ews, activesync, smtp_auth]

- name: Give the phone back its mail after the incident
  m365ops.remediation.mailbox_protocols:
    users:
      - rob@contoso.com
    disable: []
    enable: [activesync]
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
      description: Whether any protocol was (or in check mode would be) changed.
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
    protocols:
      description:
        - Whether each protocol is enabled, after the task (as planned, in check mode). Keys are V(pop),
          V(imap), V(ews), V(activesync), V(smtp_auth); V(null) for SMTP AUTH means the organisation's setting.
      type: dict
      returned: when the mailbox was read
      sample: {"pop": false, "imap": false, "ews": true, "activesync": true, "smtp_auth": false}
    changes:
      description: The C(Set-CASMailbox) parameters sent (or that would be sent, in check mode).
      type: dict
      returned: when a protocol changed
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
    """Set mailbox protocols."""
    names = list(mailbox.PROTOCOLS)
    m = M365Module(dict(
        disable=dict(type='list', elements='str', choices=names, default=['pop', 'imap', 'smtp_auth']),
        enable=dict(type='list', elements='str', choices=names, default=[]),
        **dict(converge.concurrency_option(), **converge.user_options())
    ))
    p = m.params
    both = sorted(set(p['disable']) & set(p['enable']))
    if both:
        m.module.fail_json(msg='protocols both in disable and enable: %s' % ', '.join(both))
    if not p['disable'] and not p['enable']:
        m.module.fail_json(msg='nothing to do: disable and enable are both empty')

    def plan(base, user, cas):
        before = mailbox.protocol_states(cas)
        changes = mailbox.protocol_changes(cas, p['disable'], p['enable'])
        after = mailbox.protocol_states(dict(cas, **changes))
        moved = [n for n in names if before[n] != after[n]]
        if not changes:
            return converge.Plan(dict(base, protocols=before), done='protocols already as asked; nothing to do')
        said = ', '.join('%s %s' % (n, 'on' if after[n] else 'off') for n in moved)
        return converge.Plan(dict(base, protocols=before), change=changes, done='turned %s' % said, would='would turn %s' % said,
                             before={n: before[n] for n in moved}, after={n: after[n] for n in moved},
                             update=dict(protocols=after, changes=changes))

    def work():
        mailboxes = Mailboxes(m.exchange, p['max_concurrency'])
        return converge.converge(m, mailboxes.client_access, plan, mailboxes.set_protocols)

    m.run(work)


if __name__ == '__main__':
    main()
