#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_auth_method_info
short_description: List the authentication methods of Entra ID users
version_added: 0.2.0
description:
  - Lists each user's registered authentication methods (Microsoft Graph C(authentication/methods)) with
    their kind and, where Graph gives it, the time they were registered, so that a method an attacker added
    (an Authenticator app on their phone, a FIDO2 key) can be found.
  - Never changes anything.
author:
  - m365ops maintainers (@m365ops)
options:
  registered_after:
    description:
      - An ISO 8601 time, such as the time the account was restricted. Each method then says in
        RV(results[].methods[].registered_after) whether it was registered at or after that time.
    type: str
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: Microsoft Graph application permissions C(User.Read.All) and
    C(UserAuthenticationMethod.Read.All)."
  - The task fails at the end when a user is not found or a read fails; the other users are reported.
  - Graph v1.0 does not say which method is the user's default sign-in method (the one Graph keeps while other
    methods remain); see M(m365ops.remediation.user_auth_method).
seealso:
  - module: m365ops.remediation.user_auth_method
"""

EXAMPLES = r"""
- name: Which methods did rob register since the incident?
  m365ops.remediation.user_auth_method_info:
    users:
      - rob@contoso.com
    registered_after: "2026-11-20T08:00:00Z"
  register: methods
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
    methods:
      description: The user's authentication methods, as Graph lists them.
      type: list
      elements: dict
      returned: when the methods were read
      contains:
        id:
          description: The method's id.
          type: str
        type:
          description:
            - The kind of method, one of V(password), V(phone), V(email), V(fido2), V(microsoft_authenticator),
              V(software_oath), V(temporary_access_pass), V(windows_hello_for_business), or Graph's own name
              for a kind this collection does not know.
          type: str
        odata_type:
          description: The method's Graph type.
          type: str
          sample: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
        created:
          description:
            - When the method was registered (ISO 8601, UTC); V(null) for kinds Graph gives no time for
              (phone, email, software OATH) and for the password.
          type: str
        detail:
          description: A readable label (device name, phone number, e-mail address), when Graph gives one.
          type: str
        registered_after:
          description:
            - Whether the method was registered at or after O(registered_after); V(null) when its time is unknown.
          type: bool
          returned: when O(registered_after) is given
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.auth_methods import AuthMethods


def main() -> None:
    """List authentication methods."""
    m = M365Module(dict(
        **converge.users_option(),
        registered_after=dict(type='str'),
    ))
    problem = converge.time_problems(m.params, 'registered_after')
    if problem:
        m.module.fail_json(msg=problem)
    gate = rem.parse_datetime(m.params['registered_after'])

    def describe(user, methods):
        shown = [{k: v for k, v in record.items() if k != 'segment'} for record in methods]
        if gate:
            for record in shown:
                created = rem.parse_datetime(record['created'])
                record['registered_after'] = None if created is None else created >= gate
        return dict(methods=shown)

    m.run(lambda: converge.inspect(m, AuthMethods(m.graph).read, describe))


if __name__ == '__main__':
    main()
