#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_password
short_description: Reset the passwords of Entra ID users
version_added: 0.1.0
description:
  - Resets the password of each given user through Microsoft Graph, all users in one run (JSON batching).
  - The new password is given by the caller or generated from the operating system's secure random source,
    with all four character classes, so that it passes Entra ID's complexity rules.
  - A generated password never appears in task output, diffs, errors or logs. It reaches the admin through
    O(password_file) (a file only the admin can read) or, when asked, through RV(passwords) in a task that
    sets C(no_log). Never send it by e-mail.
  - With O(only_if_changed_before), a user whose password already changed at or after that time is left
    alone, so that running the task again does not reset again.
author:
  - m365ops maintainers (@m365ops)
options:
  password:
    description:
      - The new password for every given user. Left out, a different password is generated for each user.
    type: str
  password_length:
    description:
      - Length of generated passwords.
    type: int
    default: 20
  force_change_password_next_sign_in:
    description:
      - Whether the user must choose a new password at the next sign-in.
    type: bool
    default: true
  force_change_password_next_sign_in_with_mfa:
    description:
      - Whether the user must also complete multifactor authentication before choosing it.
    type: bool
    default: false
  only_if_changed_before:
    description:
      - An ISO 8601 time. Users whose password last changed at or after it are not reset again.
      - The P(m365ops.remediation.unblock_email#role) role passes the time the account was restricted.
    type: str
  password_file:
    description:
      - A JSON file, readable only by its owner (mode 0600), that receives the new passwords by user principal
        name, merged with what it already holds.
      - It is written atomically, before the reset (marked pending) and after it; it is never written through
        a symbolic link, nor when it exists and others can read it. A missing folder is created with mode 0700.
      - It holds the tenant's id (C(tenant_id), the GUID of the tenant) beside the passwords. A file that holds
        another tenant's id is refused before any reset.
      - The P(m365ops.remediation.unblock_email#role) role gives each run and tenant a file of its own.
    type: path
  return_passwords:
    description:
      - Return the new passwords in RV(passwords). The task must set C(no_log) to V(true), else it fails
        before any change.
    type: bool
    default: false
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the users are looked up and the result says who would be reset.
  diff_mode:
    support: full
    details: Shows the time of the last password change before and after. Never the password.
  idempotent:
    support: partial
    details: Idempotent with O(only_if_changed_before); without it every run resets again.
notes:
  - "Permissions: Microsoft Graph application permissions C(User-PasswordProfile.ReadWrite.All) and
    C(User.Read.All), and at least the Entra role User Administrator on the app's service principal: Microsoft
    requires the role as well as the permission for app-only password resets. Resetting the password of a user
    who holds an admin role needs Privileged Authentication Administrator. C(User.ReadWrite.All) does not cover
    C(passwordProfile)."
  - Users synchronised from on-premises Active Directory cannot be reset here; reset them in Active Directory.
seealso:
  - module: m365ops.remediation.user_sessions
  - module: m365ops.remediation.restricted_user
"""

EXAMPLES = r"""
- name: Reset rob's password, keeping the new one in a file only the admin can read
  m365ops.remediation.user_password:
    users:
      - rob@contoso.com
    password_file: "{{ lookup('env', 'HOME') }}/.m365-passwords.json"
    only_if_changed_before: "2026-11-20T08:00:00Z"
    protected:
      - breakglass@contoso.com

- name: Reset and hand the passwords to the next task without logging them
  m365ops.remediation.user_password:
    users: "{{ compromised }}"
    return_passwords: true
  no_log: true
  register: reset
"""

RETURN = r"""
results:
  description: One entry per given user, in the order given. Never contains a password.
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
      description: Whether the password was (or in check mode would be) reset.
      type: bool
    failed:
      description: Whether this user failed.
      type: bool
    skipped:
      description: True for a protected account.
      type: bool
      returned: when the user was skipped
    msg:
      description: What happened, in words.
      type: str
    last_password_change:
      description: When the password last changed, after the task.
      type: str
      returned: when the user was found
    error:
      description: The service error (service, status, code, message, request id).
      type: dict
      returned: when the user failed with a service error
passwords:
  description: The new passwords by user principal name.
  returned: when O(return_passwords=true) and not in check mode
  type: dict
password_file:
  description: The file the passwords were written to.
  returned: when O(password_file) is set and a password was reset
  type: str
"""

import os

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users as users_resource
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users


def main() -> None:
    """Reset passwords."""
    m = M365Module(dict(
        **converge.user_options(),
        password=dict(type='str', no_log=True),
        password_length=dict(type='int', default=20, no_log=False),
        force_change_password_next_sign_in=dict(type='bool', default=True, no_log=False),
        force_change_password_next_sign_in_with_mfa=dict(type='bool', default=False, no_log=False),
        only_if_changed_before=dict(type='str'),
        password_file=dict(type='path', no_log=False),
        return_passwords=dict(type='bool', default=False, no_log=False),
    ))
    p = m.params
    if p['password'] is not None and not users_resource.password_complies(p['password']):
        m.module.fail_json(msg='the given password does not meet Entra ID complexity rules: 8 to 256 characters, '
                               'with three of upper case, lower case, digits and symbols')
    if not 16 <= p['password_length'] <= users_resource.PASSWORD_MAX_LENGTH:
        m.module.fail_json(msg='password_length must be between 16 and %d' % users_resource.PASSWORD_MAX_LENGTH)
    problem = converge.time_problems(p, 'only_if_changed_before')
    if problem:
        m.module.fail_json(msg=problem)
    gate = p['only_if_changed_before']
    if p['return_passwords'] and not m.module.no_log:
        m.module.fail_json(msg='return_passwords needs no_log: true on the task, so that the passwords are never logged')
    if p['password_file']:
        folder = os.path.dirname(os.path.abspath(p['password_file']))
        try:
            # Checked before any request; in check mode a missing folder is fine (it would be made).
            if not m.check_mode:
                secure_file.make_private_folder(folder)
            if os.path.isdir(folder):
                secure_file.check_target(p['password_file'])
        except (M365Error, OSError) as error:
            m.module.fail_json(msg='password_file: %s' % error)
    passwords = {}

    def plan(base, user, last_change):
        result = dict(base, last_password_change=last_change)
        if user.get('onPremisesSyncEnabled'):
            return converge.Plan(dict(result, failed=True),
                                 done='synchronised from on-premises Active Directory: reset the password in Active Directory '
                                      '(or with password writeback), then run again')
        if not rem.reset_needed(last_change, gate):
            return converge.Plan(result, done='password already changed at %s, after %s; not reset again' % (last_change, gate))
        return converge.Plan(result, change=True, done='password reset', would='password would be reset',
                             before=dict(last_password_change=last_change), after=dict(last_password_change='reset now'))

    def read(targets):
        return {target.ref: rem.isoformat(rem.parse_datetime(target.user.get('lastPasswordChangeDateTime'))) for target in targets}

    def write(pending):
        for item in pending:
            passwords[item.ref] = p['password'] or users_resource.generate_password(p['password_length'], item.user['userPrincipalName'])
            if not p['return_passwords']:
                # Ansible then masks it wherever it could appear; with return_passwords the whole
                # result is hidden by the task's no_log instead (checked above).
                m.protect(passwords[item.ref])
        statuses = dict.fromkeys(passwords, 'pending')
        delivered = _deliver(m, pending, passwords, statuses)
        answers = Users(m.graph).send({item.ref: Users.password_request(
            item.user['id'], passwords[item.ref], p['force_change_password_next_sign_in'],
            p['force_change_password_next_sign_in_with_mfa']) for item in pending})
        now = rem.isoformat(rem.utcnow())

        def reset(item):
            statuses[item.ref] = 'set'
            return dict(last_password_change=now)

        def refused(item, error):
            msg = users_resource.password_error_message(error)
            if rem.outcome_unknown(error):
                # The reset may have been applied: its password is kept (marked unknown), never lost.
                statuses[item.ref] = 'unknown'
                msg += ('; the reset may or may not have been applied: its password is kept in the password file marked '
                        '"unknown"; run again to finish (a reset that was applied is not done twice)')
            else:
                passwords.pop(item.ref)
            return dict(msg=msg)

        outcomes = converge.batch_outcomes(pending, answers, reset, refused)
        if delivered:
            _deliver(m, pending, passwords, statuses)
        return outcomes

    def work():
        summary = converge.converge(m, read, plan, write)
        if passwords and p['password_file']:
            summary['password_file'] = p['password_file']
        if passwords and p['return_passwords']:
            upn = {r['user']: r.get('user_principal_name') for r in summary['results']}
            summary['passwords'] = {upn[ref]: pw for ref, pw in passwords.items()}
        return summary

    m.run(work)


def _deliver(m: M365Module, pending: list, passwords: dict, statuses: dict) -> bool:
    """Merge the passwords into the password file, if one was asked for. Pending entries are written
    before the reset so that no password can be set that the admin cannot read; after it, the ones that
    were set stay, and so do those whose reset may have been applied (status ``unknown``). The file holds
    its tenant's id, and a file of another tenant is refused before any reset."""
    path = m.params['password_file']
    if not path:
        return False
    document = secure_file.read_json(path) or {}
    tenant_id = m.tenant_guid()
    if document.get('tenant_id') and tenant_id and str(document['tenant_id']).lower() != str(tenant_id).lower():
        raise M365Error("password_file %s holds the passwords of tenant %s, not of this tenant (%s): give each tenant a password file "
                        "of its own" % (path, document['tenant_id'], tenant_id), service='file', code='other_tenant')
    document['tenant_id'] = tenant_id
    users = document.setdefault('users', {})
    stamp = rem.isoformat(rem.utcnow())
    for item in pending:
        upn = item.user['userPrincipalName']
        if item.ref in passwords:
            users[upn] = dict(password=passwords[item.ref], status=statuses[item.ref], time=stamp)
        elif users.get(upn, {}).get('status') == 'pending':
            users.pop(upn)
    secure_file.write_json(path, document)
    return True


if __name__ == '__main__':
    main()
