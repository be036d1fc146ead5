#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inbox_rule
short_description: Disable or delete suspicious inbox rules of Exchange Online mailboxes
version_added: 0.2.0
description:
  - Disables (C(isEnabled=false)) or deletes the inbox rules an attacker left in a mailbox (Microsoft Graph
    C(messageRules)), for many users in one run, as step 3 of Microsoft's guidance for a compromised account.
  - Acts on the rules M(m365ops.remediation.inbox_rule_info) flags as suspicious (with O(suspicious)) and on
    the rules named in O(select); rules named in O(keep) are never touched.
  - Disabling is the default because it keeps the rule for the investigation and can be undone.
  - Neither Graph nor Exchange's C(Get-InboxRule) tells when a rule was created, so rules cannot be chosen by
    creation time.
author:
  - m365ops maintainers (@m365ops)
options:
  state:
    description:
      - V(disabled) turns the selected rules off; V(absent) deletes them.
    type: str
    choices: [disabled, absent]
    default: disabled
  suspicious:
    description:
      - Act on every suspicious rule (see RV(results[].rules[].reasons)).
    type: bool
    default: true
  select:
    description:
      - Rules to act on whatever they do, by display name (any case) or id.
    type: list
    elements: str
    default: []
  keep:
    description:
      - Legitimate rules never touched, by display name (any case) or id, even when suspicious or selected.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.containment
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the rules are only read; each rule says what would be done to it.
  diff_mode:
    support: full
    details: Shows each changed rule as V(enabled) before and V(disabled) or V(absent) after.
  idempotent:
    support: full
notes:
  - "Permissions: Microsoft Graph application permissions C(User.Read.All), C(MailboxSettings.ReadWrite)
    and, for folder names, C(Mail.ReadBasic.All)."
seealso:
  - module: m365ops.remediation.inbox_rule_info
  - module: m365ops.remediation.mailbox_forwarding
"""

EXAMPLES = r"""
- name: Disable the rules the attacker left, keeping rob's own newsletter rule
  m365ops.remediation.inbox_rule:
    users:
      - rob@contoso.com
    keep:
      - Move newsletters

- name: Delete one rule by name, whatever it does
  m365ops.remediation.inbox_rule:
    users:
      - rob@contoso.com
    state: absent
    suspicious: false
    select:
      - ".."
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
      description: Whether any rule was (or in check mode would be) changed.
      type: bool
    failed:
      description: Whether this user failed (a read, or the change of any of the rules).
      type: bool
    skipped:
      description: Whether the user was left alone as a protected account.
      type: bool
      returned: when the user is protected
    msg:
      description: What happened, in words.
      type: str
    kept:
      description: The names of suspicious or selected rules left alone because of O(keep).
      type: list
      elements: str
      returned: when the rules were read
    rules:
      description: The mailbox's inbox rules, in the order they run, each with what the task did to it.
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
        action:
          description: V(disable) or V(delete) for a rule the task changed (or would change, in check mode), else V(null).
          type: str
        action_msg:
          description: Why the rule was or was not changed (selected, suspicious and why, kept, already disabled).
          type: str
        done:
          description: Whether the change went through.
          type: bool
          returned: when the rule was changed outside check mode
        error:
          description: The service error for this rule.
          type: dict
          returned: when the change of this rule failed
    error:
      description: The first service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import inbox_rules
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.inbox_rules import InboxRules


def main() -> None:
    """Disable or delete inbox rules."""
    m = M365Module(dict(
        state=dict(type='str', choices=['disabled', 'absent'], default='disabled'),
        suspicious=dict(type='bool', default=True),
        select=dict(type='list', elements='str', default=[]),
        keep=dict(type='list', elements='str', default=[]),
        **dict(inbox_rules.classification_options(), **converge.user_options())
    ))
    p = m.params
    if not p['suspicious'] and not p['select']:
        m.module.fail_json(msg='nothing to select: set suspicious=true or name rules in select')
    done_word = 'disabled' if p['state'] == 'disabled' else 'deleted'

    def plan(base, user, state):
        records = inbox_rules.records(user, state, p['rarely_used_folders'], p['internal_forwarding_suspicious'])
        kept = []
        for record in records:
            record['action'], record['action_msg'] = inbox_rules.rule_action(record, p['state'], p['suspicious'], p['select'], p['keep'])
            if not record['action'] and inbox_rules.rule_action(record, p['state'], p['suspicious'], p['select'], ())[0]:
                kept.append(record['name'])
        acted = [r for r in records if r['action']]
        result = dict(base, rules=records, kept=kept)
        if not acted:
            return converge.Plan(result, done='no inbox rule to change')
        names = ', '.join(repr(r['name']) for r in acted)
        return converge.Plan(result, change=acted, done='%d rule(s) %s: %s' % (len(acted), done_word, names),
                             would='%d rule(s) would be %s: %s' % (len(acted), done_word, names),
                             before={r['name']: 'enabled' if r['enabled'] else 'disabled' for r in acted},
                             after={r['name']: 'disabled' if p['state'] == 'disabled' else 'absent' for r in acted})

    def write(pending):
        return converge.batch_writes(m.graph, pending, lambda item: InboxRules.change_requests(item.user['id'], item.plan.change), 'rule changes')

    m.run(lambda: converge.converge(m, InboxRules(m.graph, p['resolve_folders']).read, plan, write))


if __name__ == '__main__':
    main()
