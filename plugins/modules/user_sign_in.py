#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_sign_in
short_description: Block or allow sign-in of Entra ID users
version_added: 0.2.0
description:
  - Sets the C(accountEnabled) property of each given user (Microsoft Graph), all users in one run.
  - V(blocked) stops every new sign-in, which Microsoft lists as an optional step for a compromised account
    while it is cleaned. Existing sessions stay valid until they are revoked with
    M(m365ops.remediation.user_sessions). V(allowed) lets the user sign in again.
author:
  - m365ops maintainers (@m365ops)
options:
  state:
    description:
      - V(blocked) sets C(accountEnabled) to V(false), V(allowed) to V(true).
    type: str
    choices: [blocked, allowed]
    default: blocked
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the users are only looked up; the result says whose sign-in would change.
  diff_mode:
    support: full
    details: Shows C(account_enabled) before and after.
  idempotent:
    support: full
notes:
  - "Permissions: Microsoft Graph application permissions C(User.EnableDisableAccount.All) (the broader
    C(User.ReadWrite.All) works too) and C(User.Read.All). For a user holding an admin role the app also needs
    the Entra role Privileged Authentication Administrator."
  - Users synchronised from on-premises Active Directory are reported as failed without a request; block
    them in Active Directory.
seealso:
  - module: m365ops.remediation.user_sessions
  - module: m365ops.remediation.user_info
"""

EXAMPLES = r"""
- name: Block rob while his mailbox is cleaned
  m365ops.remediation.user_sign_in:
    users:
      - rob@contoso.com
    state: blocked
    protected:
      - breakglass@contoso.com

- name: Let him sign in again
  m365ops.remediation.user_sign_in:
    users:
      - rob@contoso.com
    state: allowed
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
      description: Whether sign-in was (or in check mode would be) changed.
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
    account_enabled:
      description: Whether the user can sign in, after the task (as planned, in check mode).
      type: bool
      returned: when the user was found
    error:
      description: The service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users


def main() -> None:
    """Block or allow sign-in."""
    m = M365Module(dict(
        state=dict(type='str', choices=['blocked', 'allowed'], default='blocked'),
        **converge.user_options()
    ))
    wanted = m.params['state'] == 'allowed'
    word = 'allowed' if wanted else 'blocked'

    def plan(base, user, enabled):
        result = dict(base, account_enabled=enabled)
        if enabled is wanted:
            return converge.Plan(result, done='sign-in already %s; nothing to do' % word)
        if user.get('onPremisesSyncEnabled'):
            return converge.Plan(dict(result, failed=True),
                                 done='synchronised from on-premises Active Directory: change the account there (Graph refuses it)')
        return converge.Plan(result, change=wanted, done='sign-in %s' % word, would='sign-in would be %s' % word,
                             before=dict(account_enabled=enabled), after=dict(account_enabled=wanted), update=dict(account_enabled=wanted))

    def read(targets):
        return {target.ref: bool(target.user.get('accountEnabled')) for target in targets}

    def write(pending):
        return converge.batch_writes(m.graph, pending, lambda item: [dict(Users.sign_in_request(item.user['id'], item.plan.change), item={})],
                                     'changes')

    m.run(lambda: converge.converge(m, read, plan, write))


if __name__ == '__main__':
    main()
