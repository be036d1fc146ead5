#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inbox_rule_info
short_description: List the inbox rules of Exchange Online mailboxes and flag the suspicious ones
version_added: 0.2.0
description:
  - Lists each mailbox's inbox rules (Microsoft Graph C(messageRules)) and marks those an attacker
    typically leaves behind - rules that forward, forward as attachment or redirect mail, delete it, move it
    to a rarely used folder, or carry a name without letters or digits - with the reasons.
  - Neither Graph nor Exchange's C(Get-InboxRule) tells when a rule was created, so rules cannot be chosen by
    creation time; see the containment guide for the unified audit log.
  - Never changes anything.
author:
  - m365ops maintainers (@m365ops)
options:
  suspicious_only:
    description:
      - Return only the suspicious rules in RV(results[].rules).
    type: bool
    default: false
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.containment
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: Microsoft Graph application permissions C(User.Read.All), C(MailboxSettings.Read) and, for
    folder names, C(Mail.ReadBasic.All)."
  - The task fails at the end when a user is not found or a read fails; the other users are reported.
seealso:
  - module: m365ops.remediation.inbox_rule
"""

EXAMPLES = r"""
- name: What rules did the attacker leave in rob's mailbox?
  m365ops.remediation.inbox_rule_info:
    users:
      - rob@contoso.com
    suspicious_only: true
  register: rules

- name: Show them
  ansible.builtin.debug:
    msg: "{{ rules.results[0].rules | map(attribute='name') }}"
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
    failed:
      description: Whether the lookup failed.
      type: bool
    msg:
      description: Why the lookup failed.
      type: str
      returned: when the lookup failed
    suspicious_count:
      description: How many of the mailbox's rules are suspicious.
      type: int
      returned: when the rules were read
    rules:
      description: The mailbox's inbox rules, in the order they run.
      type: list
      elements: dict
      returned: when the rules were read
      contains:
        id:
          description: The rule's id.
          type: str
        name:
          description: The rule's display name.
          type: str
        sequence:
          description: The order in which the rule runs.
          type: int
        enabled:
          description: Whether the rule is enabled (before the task).
          type: bool
        suspicious:
          description: Whether the rule looks like an attacker's.
          type: bool
        reasons:
          description:
            - Why the rule is suspicious, among V(forwards), V(forwards_as_attachment), V(redirects),
              V(deletes), V(moves_to_rarely_used_folder) and V(obscure_name) (a name without letters or digits).
          type: list
          elements: str
        forward_to:
          description: Addresses the rule forwards to.
          type: list
          elements: str
        forward_as_attachment_to:
          description: Addresses the rule forwards to as an attachment.
          type: list
          elements: str
        redirect_to:
          description: Addresses the rule redirects to.
          type: list
          elements: str
        external_recipients:
          description: Of those, the ones outside the user's own domains.
          type: list
          elements: str
        delete:
          description: Whether the rule moves mail to Deleted Items.
          type: bool
        permanent_delete:
          description: Whether the rule deletes mail for good.
          type: bool
        mark_as_read:
          description: Whether the rule marks mail as read.
          type: bool
        move_to_folder:
          description: The id of the folder the rule moves mail to.
          type: str
        move_to_folder_name:
          description: That folder's display name, when it could be read.
          type: str
        conditions:
          description: The rule's conditions, as Graph gives them.
          type: dict
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import inbox_rules
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.inbox_rules import InboxRules


def main() -> None:
    """List inbox rules."""
    m = M365Module(dict(
        **converge.users_option(),
        suspicious_only=dict(type='bool', default=False),
        **inbox_rules.classification_options()
    ))
    p = m.params

    def describe(user, state):
        records = inbox_rules.records(user, state, p['rarely_used_folders'], p['internal_forwarding_suspicious'])
        shown = [r for r in records if r['suspicious']] if p['suspicious_only'] else records
        return dict(suspicious_count=sum(1 for r in records if r['suspicious']), rules=shown)

    m.run(lambda: converge.inspect(m, InboxRules(m.graph, p['resolve_folders']).read, describe))


if __name__ == '__main__':
    main()
