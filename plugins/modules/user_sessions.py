#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_sessions
short_description: Revoke the sign-in sessions of Entra ID users
version_added: 0.1.0
description:
  - Invalidates every refresh token and session cookie of each given user (Microsoft Graph
    C(revokeSignInSessions)), so that an attacker holding a session must sign in again, all users in one run.
  - With O(only_if_valid_from_before), a user whose sessions were already revoked at or after that time is
    left alone, so that running the task again does not revoke again.
author:
  - m365ops maintainers (@m365ops)
options:
  state:
    description:
      - V(revoked) revokes the sessions.
    type: str
    choices: [revoked]
    default: revoked
  only_if_valid_from_before:
    description:
      - An ISO 8601 time. Users whose sessions are only valid from that time or later are not revoked again.
      - The P(m365ops.remediation.unblock_email#role) role passes the time the account was restricted.
    type: str
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the users are looked up and the result says whose sessions would be revoked.
  diff_mode:
    support: full
    details: Shows C(sign_in_sessions_valid_from) before and after.
  idempotent:
    support: partial
    details: Idempotent with O(only_if_valid_from_before); without it every run revokes again.
notes:
  - "Permissions: Microsoft Graph application permissions C(User.RevokeSessions.All) (the broader
    C(User.ReadWrite.All) works too) and C(User.Read.All)."
seealso:
  - module: m365ops.remediation.user_password
"""

EXAMPLES = r"""
- name: Sign rob out everywhere, once after the incident
  m365ops.remediation.user_sessions:
    users:
      - rob@contoso.com
    only_if_valid_from_before: "2026-11-20T08:00:00Z"
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
    user_principal_name:
      description: The user's principal name.
      type: str
      returned: when the user was found
    id:
      description: The user's object id.
      type: str
      returned: when the user was found
    changed:
      description: Whether the sessions were (or in check mode would be) revoked.
      type: bool
    failed:
      description: Whether this user failed.
      type: bool
    msg:
      description: What happened, in words.
      type: str
    sign_in_sessions_valid_from:
      description: The time from which sessions are valid, after the task.
      type: str
      returned: when the user was found
    error:
      description: The service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users


def main() -> None:
    """Revoke sign-in sessions."""
    m = M365Module(dict(
        **converge.user_options(),
        state=dict(type='str', choices=['revoked'], default='revoked'),
        only_if_valid_from_before=dict(type='str'),
    ))
    problem = converge.time_problems(m.params, 'only_if_valid_from_before')
    if problem:
        m.module.fail_json(msg=problem)
    gate = m.params['only_if_valid_from_before']

    def plan(base, user, valid_from):
        result = dict(base, sign_in_sessions_valid_from=valid_from)
        if not rem.reset_needed(valid_from, gate):
            return converge.Plan(result, done='sessions already revoked at %s, after %s; not revoked again' % (valid_from, gate))
        return converge.Plan(result, change=True, done='sessions revoked', would='sessions would be revoked',
                             before=dict(sign_in_sessions_valid_from=valid_from), after=dict(sign_in_sessions_valid_from='revoked now'))

    def read(targets):
        return {target.ref: rem.isoformat(rem.parse_datetime(target.user.get('signInSessionsValidFromDateTime'))) for target in targets}

    def write(pending):
        answers = Users(m.graph).send({item.ref: Users.revoke_sessions_request(item.user['id']) for item in pending})
        now = rem.isoformat(rem.utcnow())
        return converge.batch_outcomes(pending, answers, lambda item: dict(sign_in_sessions_valid_from=now),
                                       lambda item, error: dict(msg='revoke failed: %s' % error))

    m.run(lambda: converge.converge(m, read, plan, write))


if __name__ == '__main__':
    main()
