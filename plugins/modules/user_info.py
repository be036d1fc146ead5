#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_info
short_description: Look up Entra ID users by UPN, object id or any SMTP address
version_added: 0.1.0
description:
  - Resolves each given user to its object id, user principal name, primary SMTP address and the state that
    matters for remediation (account enabled, synchronised from on-premises, last password change, sessions
    valid from), all users in one run (JSON batching).
  - A user that is not found is reported in its own entry, not as a task failure.
author:
  - m365ops maintainers (@m365ops)
options:
  users:
    description:
      - The users, by user principal name, object id or any of their SMTP addresses (C(proxyAddresses)).
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: Microsoft Graph application permission C(User.Read.All)."
"""

EXAMPLES = r"""
- name: Resolve an alias to the account behind it
  m365ops.remediation.user_info:
    users:
      - robert@contoso.com
  register: found

- name: Show the user principal name
  ansible.builtin.debug:
    msg: "{{ found.users[0].user_principal_name }}"
"""

RETURN = r"""
users:
  description: One entry per given user, in the order given (repeats once).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The user as given.
      type: str
    found:
      description: Whether the user exists in the tenant.
      type: bool
    failed:
      description: Whether the lookup failed for another reason than the user not existing.
      type: bool
    msg:
      description: Why the user was not found or the lookup failed.
      type: str
      returned: when the user was not found
    id:
      description: Object id.
      type: str
      sample: 6e7b768e-07e2-4810-8459-485f84f8f204
    user_principal_name:
      description: User principal name.
      type: str
      sample: rob@contoso.com
    display_name:
      description: Display name.
      type: str
    primary_smtp_address:
      description: The primary SMTP address, the one the Restricted Users list knows the account by.
      type: str
      sample: rob@contoso.com
    addresses:
      description: Every SMTP address of the user, lower case.
      type: list
      elements: str
    account_enabled:
      description: Whether the user can sign in.
      type: bool
    on_premises_sync_enabled:
      description: Whether the user is synchronised from on-premises Active Directory.
      type: bool
    last_password_change:
      description: When the password last changed (ISO 8601, UTC).
      type: str
    sign_in_sessions_valid_from:
      description: Sessions issued before this time are invalid (ISO 8601, UTC).
      type: str
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users as users_resource
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users


def main() -> None:
    """Look users up."""
    m = M365Module(converge.users_option())

    def work():
        keys = users_resource.reference_keys(m.params['users'])
        users = {}
        for key in keys:
            problem = users_resource.invalid_user_reference(key)
            if problem:
                users[key] = dict(user=key, found=False, failed=True, msg=problem)
        lookup = [k for k in keys if k not in users]
        for item in Users(m.graph).resolve(lookup) if lookup else ():
            if item.user is not None:
                users[item.given] = dict(users_resource.user_record(item.given, item.user), failed=False)
            elif item.error.status == 404:
                users[item.given] = dict(user=item.given, found=False, failed=False, msg=users_resource.lookup_problem(item.given, item.error))
            else:
                users[item.given] = dict(user=item.given, found=False, failed=True, msg=users_resource.lookup_problem(item.given, item.error),
                                         error=item.error.to_dict())
        return dict(changed=False, users=[users[k] for k in keys])

    m.run(work)


if __name__ == '__main__':
    main()
