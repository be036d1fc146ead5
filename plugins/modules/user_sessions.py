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
from ansible_collections.m365ops.remediation.plugins.module_utils import operations as ops
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem


def main() -> None:
    """Revoke sign-in sessions."""
    m = M365Module(dict(
        **ops.user_options(),
        state=dict(type='str', choices=['revoked'], default='revoked'),
        only_if_valid_from_before=dict(type='str'),
    ))
    p = m.params
    gate = p['only_if_valid_from_before']
    if gate and rem.parse_datetime(gate) is None:
        m.module.fail_json(msg="only_if_valid_from_before: '%s' is not an ISO 8601 time such as 2026-11-20T08:00:00Z" % gate)

    def work():
        done, targets = ops.user_targets(m.graph, p['users'], p['protected'])
        results = dict(done)
        before = {ref: rem.isoformat(rem.parse_datetime(user.get('signInSessionsValidFromDateTime'))) for ref, user in targets}
        pending = []
        for ref, user in targets:
            base = dict(user=ref, id=user.get('id'), user_principal_name=user.get('userPrincipalName'),
                        sign_in_sessions_valid_from=before[ref])
            if not rem.reset_needed(user.get('signInSessionsValidFromDateTime'), gate):
                results[ref] = dict(base, changed=False, failed=False,
                                    msg='sessions already revoked at %s, after %s; not revoked again' % (before[ref], gate))
            elif m.check_mode:
                results[ref] = dict(base, changed=True, failed=False, msg='sessions would be revoked')
            else:
                pending.append((ref, base))
        if pending:
            # Revoking twice is the same as once: the batch may be sent again after a 504 or a dropped connection.
            answers = m.graph.batch([dict(id=str(i), method='POST', url='/users/%s/revokeSignInSessions' % base['id'], idempotent=True)
                                     for i, (ref, base) in enumerate(pending)])
            now = rem.isoformat(rem.utcnow())
            for i, (ref, base) in enumerate(pending):
                answer = answers[str(i)]
                if answer.ok:
                    results[ref] = dict(base, changed=True, failed=False, msg='sessions revoked', sign_in_sessions_valid_from=now)
                else:
                    error = answer.error()
                    results[ref] = dict(base, changed=False, failed=True, msg='revoke failed: %s' % error, error=error.to_dict())
        ordered = [results[k] for k in ops.reference_keys(p['users'])]
        summary = rem.summarize(ordered, 'users', p['continue_on_error'])
        if m.diff_mode:
            summary['diff'] = rem.change_diffs(ordered, 'sign_in_sessions_valid_from', before, 'revoked now' if m.check_mode else None)
        return summary

    m.run(work)


if __name__ == '__main__':
    main()
