#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_auth_method
short_description: Remove authentication methods an attacker registered on Entra ID users
version_added: 0.2.0
description:
  - Removes the authentication methods registered at or after a given time (O(registered_after)) or given by
    id (O(ids)), for many users in one run, so that an attacker who added their own Authenticator app, FIDO2
    key or phone cannot pass multifactor prompts after the password reset.
  - Graph gives a registration time only for some kinds of method (Authenticator app, FIDO2 key, Windows
    Hello for Business, Temporary Access Pass). Phone, e-mail and software OATH methods carry none; they are
    never removed by time, only by id, and are reported with the reason.
  - The password is never removed.
author:
  - m365ops maintainers (@m365ops)
options:
  state:
    description:
      - V(absent) removes the selected methods.
    type: str
    choices: [absent]
    default: absent
  registered_after:
    description:
      - An ISO 8601 time. Methods registered at or after it are removed. The
        P(m365ops.remediation.unblock_email#role) role would pass the time the account was restricted; an
        earlier time (when the compromise began) is safer when known.
    type: str
  ids:
    description:
      - Ids of methods to remove whatever their time (see M(m365ops.remediation.user_auth_method_info)).
    type: list
    elements: str
    default: []
  types:
    description:
      - Only consider methods of these kinds. Empty means every kind that can be removed.
    type: list
    elements: str
    choices: [email, fido2, microsoft_authenticator, phone, software_oath, temporary_access_pass, windows_hello_for_business]
    default: []
  keep:
    description:
      - Ids of methods that are never removed.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the methods are only read; each method says whether it would be removed.
      - Graph does not tell which method is the default, so check mode cannot know whether a phone would be refused;
        the message says so when a phone would be removed while other methods stay.
  diff_mode:
    support: full
    details: Shows the user's method ids before and after.
  idempotent:
    support: full
notes:
  - "Permissions: Microsoft Graph application permissions C(User.Read.All) and
    C(UserAuthenticationMethod.ReadWrite.All) (the only application permission Microsoft lists for deleting another
    user's methods)."
  - Graph does not delete a user's default MFA method while the user has other methods; Microsoft documents this
    for phones (have the default changed, then delete the number), and Graph v1.0 does not say which method is the
    default. So the module removes the other selected methods first and phones last, in a later request, which
    lets a run remove all of a user's methods. A default phone that would leave other methods behind is reported
    for that user (failed, saying what to do, which is to make another method the default or remove the others,
    then run again); the other removals still go through. A method refused as the default before the phones went is tried
    once more after them.
  - Removing a user's only multifactor method makes them register again at their next sign-in; make sure
    the password was reset first (M(m365ops.remediation.user_password)), or the attacker may be the one who
    registers.
seealso:
  - module: m365ops.remediation.user_auth_method_info
  - module: m365ops.remediation.user_password
"""

EXAMPLES = r"""
- name: Remove the methods registered since the account was restricted
  m365ops.remediation.user_auth_method:
    users:
      - rob@contoso.com
    registered_after: "2026-11-20T08:00:00Z"

- name: Remove a phone method the user says is not theirs
  m365ops.remediation.user_auth_method:
    users:
      - rob@contoso.com
    ids:
      - 3179e48a-750b-4051-897c-87b9720928f7

- name: Remove every multifactor method of an account whose owner registers again (phones go last)
  m365ops.remediation.user_auth_method:
    users:
      - rob@contoso.com
    registered_after: "1970-01-01T00:00:00Z"
    ids:
      - 3179e48a-750b-4051-897c-87b9720928f7
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
      description: Whether any method was (or in check mode would be) removed.
      type: bool
    failed:
      description: Whether this user failed (the read, or the removal of any method).
      type: bool
    skipped:
      description: Whether the user was left alone as a protected account.
      type: bool
      returned: when the user is protected
    msg:
      description: What happened, in words.
      type: str
    methods:
      description: The user's methods before the task, each with what the task did to it.
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
        remove:
          description: Whether the method was (or in check mode would be) removed.
          type: bool
        why:
          description: Why it was or was not selected.
          type: str
        done:
          description: Whether the removal went through.
          type: bool
          returned: when the method was removed outside check mode
        error:
          description:
            - The service error for this method. A default MFA method that other methods keep in place fails
              with HTTP status 400.
          type: dict
          returned: when the removal of this method failed
    error:
      description: The first service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import auth_methods
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.auth_methods import AuthMethods


def main() -> None:
    """Remove authentication methods."""
    m = M365Module(dict(
        state=dict(type='str', choices=['absent'], default='absent'),
        registered_after=dict(type='str'),
        ids=dict(type='list', elements='str', default=[]),
        types=dict(type='list', elements='str', choices=list(auth_methods.REMOVABLE_METHOD_TYPES), default=[]),
        keep=dict(type='list', elements='str', default=[]),
        **converge.user_options()
    ))
    p = m.params
    problem = converge.time_problems(p, 'registered_after')
    if problem:
        m.module.fail_json(msg=problem)
    gate = p['registered_after']
    if not gate and not p['ids']:
        m.module.fail_json(msg='nothing to select: give registered_after or ids')

    def plan(base, user, listed):
        for record in listed:
            record['remove'], record['why'] = auth_methods.method_selection(record, gate, p['ids'], p['types'], p['keep'])
        chosen = [r for r in listed if r['remove']]
        result = dict(base, methods=listed)
        if not chosen:
            return converge.Plan(result, done='no authentication method to remove')
        said = ', '.join(auth_methods.method_label(r) for r in chosen)
        note = auth_methods.default_phone_note(listed)
        before = [r['id'] for r in listed]
        return converge.Plan(result, change=chosen, done='%d method(s) removed: %s' % (len(chosen), said),
                             would='%d method(s) would be removed: %s' % (len(chosen), said) + ('; ' + note if note else ''),
                             before=dict(methods=before), after=dict(methods=[i for i, r in zip(before, listed) if not r['remove']]))

    def write(pending):
        # Phones in a later round than the other methods: Graph keeps a default MFA phone while other methods remain.
        return converge.batch_writes(m.graph, pending, lambda item: AuthMethods.removal_requests(item.user['id'], item.plan.change), 'removals',
                                     retry_when=auth_methods.is_default_method_refusal, explain=auth_methods.removal_problem)

    m.run(lambda: converge.converge(m, AuthMethods(m.graph).read, plan, write))


if __name__ == '__main__':
    main()
