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
  - A generated password never appears in task output, diffs, errors or logs. It is handed over through one
    target, written before the reset so that no password is set that nobody can read back - an Azure Key Vault
    secret per user (O(key_vault_url)), a file only the admin can read (O(password_file)), or RV(passwords) in a
    task that sets C(no_log) (O(return_passwords)). Never send it by e-mail.
  - With O(temporary_access_pass), each user also gets a Temporary Access Pass, handed over instead of the password.
    The user signs in with it and sets a password of their own, and the generated password is handed to nobody.
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
  password_file_encrypt:
    description:
      - Keep O(password_file) encrypted with Ansible Vault (AES256), with a vault secret of the run (C(--vault-id),
        C(--vault-password-file), or a Vault credential in AWX), so that a CI job can keep it as an artifact;
        C(ansible-vault view) reads it. It is never written in clear.
    type: bool
    default: false
  password_file_vault_id:
    description:
      - The vault id of the run's secret that encrypts the file; left out, the first of the run's secrets.
    type: str
  password_file_vault_password:
    description:
      - The vault secret itself. The module's action fills it in from the run's vault secrets when
        O(password_file_encrypt=true); give it only to run the module without its action.
    type: str
  return_passwords:
    description:
      - Return the new passwords in RV(passwords) (and the passes in RV(temporary_access_passes)). The task must set
        C(no_log) to V(true), else it fails before any change.
      - Without O(password_file) or O(key_vault_url), the task's result is the only place the credentials go.
    type: bool
    default: false
  run_id:
    description:
      - The id of the run, put in the C(run) tag of the Key Vault secrets. The
        P(m365ops.remediation.unblock_email#role) role passes its run's id.
    type: str
  temporary_access_pass:
    description:
      - After the reset, issue each user a Temporary Access Pass (Microsoft Graph
        C(POST /users/{id}/authentication/temporaryAccessPassMethods)) and hand it over instead of the password.
      - The tenant's Temporary Access Pass policy must be on and include the users. A user holds one pass at most,
        and the new pass replaces an older one.
      - With O(only_if_changed_before), a user whose password was already reset gets a pass only when none was made
        since that time. Should Entra ID refuse a user's pass (the policy off, say) after this run reset the password,
        the new password is handed over instead, so that it can be read back; the result says so and why.
      - Needs a target (O(key_vault_url), O(password_file) or O(return_passwords)).
    type: bool
    default: false
  temporary_access_pass_lifetime:
    description:
      - Minutes the pass is valid, within the tenant's policy (Graph allows 10 to 43200). Left out, the policy's default.
    type: int
  temporary_access_pass_usable_once:
    description:
      - Whether the pass signs in once only.
    type: bool
    default: true
extends_documentation_fragment:
  - m365ops.remediation.users
  - m365ops.remediation.users.write
  - m365ops.remediation.key_vault
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the users are looked up and the result says who would be reset. Nothing is written, to the
      vault neither; a vault is read once (a secret's name) to tell whether it answers.
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
  - "With O(temporary_access_pass): the Graph application permission C(UserAuthenticationMethod.ReadWrite.All)."
  - "With O(key_vault_url): the Azure role C(Key Vault Secrets Officer) on the vault, for the app that signs in to it."
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
- name: Reset rob's password and hand him a Temporary Access Pass through the service provider's own vault
  m365ops.remediation.user_password:
    users:
      - rob@contoso.com
    temporary_access_pass: true
    key_vault_url: https://msp-handover.vault.azure.net
    key_vault_tenant_id: msp.onmicrosoft.com
    only_if_changed_before: "2026-11-20T08:00:00Z"

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
    credential:
      description:
        - Where the user's new credential went in the vault, never the credential itself (a file's is RV(password_file)).
        - C(target) V(key_vault), C(vault), C(secret) and C(version); C(kind) V(password) or V(temporary_access_pass);
          C(status) V(set), or V(unknown) when the reset may or may not have been applied.
      type: dict
      returned: when a credential was handed over to Key Vault
    temporary_access_pass:
      description: The pass's method id, times and use (C(id), C(created), C(start), C(lifetime_minutes), C(usable_once)), never
        the pass.
      type: dict
      returned: when a Temporary Access Pass was issued
passwords:
  description: The new passwords by user principal name.
  returned: when O(return_passwords=true) and not in check mode
  type: dict
temporary_access_passes:
  description: The new Temporary Access Passes by user principal name.
  returned: when O(return_passwords=true) and O(temporary_access_pass=true), not in check mode
  type: dict
password_file:
  description: The file the passwords were written to.
  returned: when O(password_file) is set and a password was reset
  type: str
"""

import re
import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import connection as connection_mod
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils import handover
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import access_passes
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users as users_resource
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import vault_secrets
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.access_passes import AccessPasses
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users

# Graph's bounds of a Temporary Access Pass's lifetime, in minutes (the tenant's policy may narrow them).
PASS_LIFETIME = (10, 43200)
RESET = 'reset'
PASS_ONLY = 'pass'


def _problems(m: M365Module) -> str | None:
    """What is wrong with the options, in one sentence, before any request."""
    p = m.params
    if p['password'] is not None and not users_resource.password_complies(p['password']):
        return ('the given password does not meet Entra ID complexity rules: 8 to 256 characters, '
                'with three of upper case, lower case, digits and symbols')
    if not 16 <= p['password_length'] <= users_resource.PASSWORD_MAX_LENGTH:
        return 'password_length must be between 16 and %d' % users_resource.PASSWORD_MAX_LENGTH
    problem = converge.time_problems(p, 'only_if_changed_before')
    if problem:
        return problem
    if p['return_passwords'] and not m.module.no_log:
        return 'return_passwords needs no_log: true on the task, so that the passwords are never logged'
    url = p['key_vault_url']
    if url is not None and not re.match(r'^https://[^/?#\s]+(/[^?#\s]*)?$', url):
        return 'key_vault_url must be the https URL of a vault, such as https://contoso-handover.vault.azure.net'
    if url and not 1 <= p['key_vault_secret_lifetime'] <= 3650:
        return 'key_vault_secret_lifetime must be between 1 and 3650 days'
    if p['password_file_encrypt'] and not p['password_file']:
        return 'password_file_encrypt needs password_file'
    if p['password_file_encrypt'] and not p['password_file_vault_password']:
        return ('password_file_encrypt needs a vault secret of the run: give it with --vault-id or --vault-password-file '
                '(in AWX, a Vault credential on the job template)')
    if p['temporary_access_pass']:
        if not (p['password_file'] or url or p['return_passwords']):
            return ('temporary_access_pass needs somewhere to hand the pass over to: key_vault_url, password_file or '
                    'return_passwords')
        lifetime = p['temporary_access_pass_lifetime']
        if lifetime is not None and not PASS_LIFETIME[0] <= lifetime <= PASS_LIFETIME[1]:
            return 'temporary_access_pass_lifetime must be between %d and %d minutes' % PASS_LIFETIME
    return None


def _target(m: M365Module) -> t.Any:
    """The hand-over target the options name (one at most), or None."""
    p = m.params
    if p['password_file']:
        secret = p['password_file_vault_password'].encode('utf-8') if p['password_file_encrypt'] else None
        return handover.FileTarget(p['password_file'], m.tenant_guid, secret, p['password_file_vault_id'])
    if p['key_vault_url']:
        secrets = vault_secrets.VaultSecrets(m.connection.key_vault(p['key_vault_url'].rstrip('/')), p['key_vault_secret_lifetime'])
        return handover.KeyVaultTarget(secrets, m.tenant_guid, p['run_id'])
    if p['return_passwords']:
        return handover.HeldTarget()
    return None


def main() -> None:
    """Reset passwords, and hand the new credentials over."""
    m = M365Module(dict(
        **converge.user_options(),
        **connection_mod.key_vault_argument_spec(),
        password=dict(type='str', no_log=True),
        password_length=dict(type='int', default=20, no_log=False),
        force_change_password_next_sign_in=dict(type='bool', default=True, no_log=False),
        force_change_password_next_sign_in_with_mfa=dict(type='bool', default=False, no_log=False),
        only_if_changed_before=dict(type='str'),
        password_file=dict(type='path', no_log=False),
        password_file_encrypt=dict(type='bool', default=False, no_log=False),
        password_file_vault_id=dict(type='str', no_log=False),
        password_file_vault_password=dict(type='str', no_log=True),
        return_passwords=dict(type='bool', default=False, no_log=False),
        run_id=dict(type='str'),
        temporary_access_pass=dict(type='bool', default=False, no_log=False),
        temporary_access_pass_lifetime=dict(type='int', no_log=False),
        temporary_access_pass_usable_once=dict(type='bool', default=True, no_log=False),
    ), mutually_exclusive=[('password_file', 'key_vault_url')])
    p = m.params
    problem = _problems(m)
    if problem:
        m.module.fail_json(msg=problem)
    gate = p['only_if_changed_before']
    tap = p['temporary_access_pass']
    try:
        target = _target(m)
        if target is not None:
            target.check(m.check_mode)
    except M365Error as error:
        m.module.fail_json(msg=error.message)
    passwords: dict[str, str] = {}
    entries: dict[str, handover.Entry] = {}

    def plan(base, user, state):
        last_change, passes = state
        result = dict(base, last_password_change=last_change)
        if user.get('onPremisesSyncEnabled'):
            return converge.Plan(dict(result, failed=True),
                                 done='synchronised from on-premises Active Directory: reset the password in Active Directory '
                                      '(or with password writeback), then run again')
        if rem.reset_needed(last_change, gate):
            return converge.Plan(result, change=RESET, done='password reset' + (', Temporary Access Pass issued' if tap else ''),
                                 would='password would be reset' + (', a Temporary Access Pass issued' if tap else ''),
                                 before=dict(last_password_change=last_change), after=dict(last_password_change='reset now'))
        done = 'password already changed at %s, after %s; not reset again' % (last_change, gate)
        if not tap:
            return converge.Plan(result, done=done)
        if isinstance(passes, M365Error):
            return converge.Plan(converge.failure(result, 'its Temporary Access Passes could not be read', passes))
        issued = access_passes.issued_since(passes, gate)
        if issued is not None:
            return converge.Plan(result, done='%s; Temporary Access Pass issued at %s' % (done, issued.get('createdDateTime')))
        # The password was reset (by an earlier run, which stopped before its pass) but no pass has been made since.
        return converge.Plan(result, change=PASS_ONLY, done='Temporary Access Pass issued (the password was already reset at %s)'
                             % last_change, would='a Temporary Access Pass would be issued (the password was already '
                             'reset at %s)' % last_change)

    def read(targets):
        changes = {target.ref: rem.isoformat(rem.parse_datetime(target.user.get('lastPasswordChangeDateTime'))) for target in targets}
        passes = AccessPasses(m.graph).read(targets) if tap else {}
        return {ref: (change, passes.get(ref)) for ref, change in changes.items()}

    def refused_ahead(item, error):
        what = 'password not reset' if item.plan.change == RESET else 'Temporary Access Pass not issued'
        return dict(changed=False, failed=True, error=error.to_dict(),
                    msg='%s: the new credential could not be handed over to %s first: %s' % (what, target.label, error))

    def write(pending):
        outcomes = {}
        for item in pending:
            upn = item.user['userPrincipalName']
            if item.plan.change == RESET:
                passwords[item.ref] = p['password'] or users_resource.generate_password(p['password_length'], upn)
                if not p['return_passwords']:
                    # Ansible then masks it wherever it could appear; with return_passwords the whole result is hidden
                    # by the task's no_log instead (checked before any request).
                    m.protect(passwords[item.ref])
            entries[item.ref] = handover.Entry(item.ref, upn, handover.ACCESS_PASS if tap else handover.PASSWORD,
                                               None if tap else passwords[item.ref])
        refused = target.write(list(entries.values())) if target else {}
        for item in pending:
            if item.ref in refused:
                outcomes[item.ref] = refused_ahead(item, refused[item.ref])
                entries.pop(item.ref)
                passwords.pop(item.ref, None)
        going = [item for item in pending if item.ref in entries]
        resets = [item for item in going if item.plan.change == RESET]
        answers = Users(m.graph).send({item.ref: Users.password_request(
            item.user['id'], passwords[item.ref], p['force_change_password_next_sign_in'],
            p['force_change_password_next_sign_in_with_mfa']) for item in resets}) if resets else {}
        now = rem.isoformat(rem.utcnow())

        def reset(item):
            entries[item.ref].status = 'set'
            return dict(last_password_change=now)

        def failed(item, error):
            msg = users_resource.password_error_message(error)
            entry = entries[item.ref]
            if rem.outcome_unknown(error):
                # The reset may have been applied: its password is kept (marked unknown), never lost, a pass or not.
                entry.kind, entry.value, entry.status = handover.PASSWORD, passwords[item.ref], 'unknown'
                msg += ('; the reset may or may not have been applied: its password is kept%s marked "unknown"; run again to '
                        'finish (a reset that was applied is not done twice)' % (' in ' + target.label if target else ''))
            else:
                entry.status = 'withdrawn'
                passwords.pop(item.ref)
            return dict(msg=msg)

        outcomes.update(converge.batch_outcomes(resets, answers, reset, failed))
        if tap:
            issue = [item for item in going if not outcomes.get(item.ref, {}).get('failed')]
            outcomes.update(_issue_passes(m, issue, entries, passwords, outcomes))
        if target is not None and entries:
            late = target.write(list(entries.values()))
            unsent = {}
            for ref, error in late.items():
                outcome = outcomes.setdefault(ref, {})
                made = outcome.get('temporary_access_pass') or {}
                if entries[ref].kind == handover.ACCESS_PASS and entries[ref].status == 'set' and made.get('id'):
                    # A pass nobody was handed is taken back, so that running again issues one that reaches the user.
                    unsent[ref] = AccessPasses.removal_request(next(i.user['id'] for i in going if i.ref == ref), made['id'])
                    outcome.update(changed=False, failed=True, error=error.to_dict(),
                                   msg='the Temporary Access Pass could not be handed over to %s, so it was taken back: %s; run '
                                       'again once %s takes it' % (target.label, error, target.label))
                else:
                    outcome['msg'] = '%s; but its entry in %s could not be settled (it stays as written before the reset): %s' % (
                        outcome.get('msg') or 'done', target.label, error)
            if unsent:
                Users(m.graph).send(unsent)
        # Where each user's credential went, for a vault (its secret and version): a file is one for all, the
        # result's password_file, and a record per user would cost a run of thousands of users time and memory.
        for ref, entry in entries.items():
            if entry.status != 'withdrawn' and isinstance(target, handover.KeyVaultTarget):
                outcomes.setdefault(ref, {})['credential'] = entry.record()
        return outcomes

    def work():
        if m.check_mode and isinstance(target, handover.KeyVaultTarget):
            try:
                target.probe()
            except M365Error as error:
                m.module.fail_json(msg='%s; nothing was changed' % error, error=error.to_dict())
        summary = converge.converge(m, read, plan, write)
        if entries and p['password_file']:
            summary['password_file'] = p['password_file']
        if p['return_passwords'] and entries:
            upn = {r['user']: r.get('user_principal_name') for r in summary['results']}
            held = [(ref, e) for ref, e in entries.items() if e.status in handover.SETTLED and e.value is not None]
            summary['passwords'] = {upn[ref]: e.value for ref, e in held if e.kind == handover.PASSWORD}
            if tap:
                summary['temporary_access_passes'] = {upn[ref]: e.value for ref, e in held if e.kind == handover.ACCESS_PASS}
        return summary

    m.run(work)


def _issue_passes(m: M365Module, items: list, entries: dict, passwords: dict, outcomes: dict) -> dict:
    """Issue a Temporary Access Pass to each item's user (after the reset), and put it in the user's entry.

    A user holds one pass at most: Graph replaces an older pass with the new one. A pass Entra refuses leaves the new
    password as the credential handed over, when this run set one (nobody is left with a password nobody can read);
    for a user whose password an earlier run reset, the user fails.
    """
    p = m.params
    found: dict[str, dict] = {}
    if not items:
        return found
    answers = Users(m.graph).send({item.ref: AccessPasses.issue_request(
        item.user['id'], p['temporary_access_pass_lifetime'], p['temporary_access_pass_usable_once']) for item in items})
    for item in items:
        answer, entry = answers[item.ref], entries[item.ref]
        outcome = dict(outcomes.get(item.ref) or {})
        if answer.ok and isinstance(answer.body, dict) and answer.body.get('temporaryAccessPass'):
            body = answer.body
            if not p['return_passwords']:
                m.protect(body['temporaryAccessPass'])
            entry.kind, entry.value, entry.status = handover.ACCESS_PASS, body['temporaryAccessPass'], 'set'
            outcome['temporary_access_pass'] = dict(id=body.get('id'), created=body.get('createdDateTime'), start=body.get('startDateTime'),
                                                    lifetime_minutes=body.get('lifetimeInMinutes'),
                                                    usable_once=body.get('isUsableOnce'))
            found[item.ref] = outcome
            continue
        error = answer.error() or M365Error('Graph made no Temporary Access Pass', service='graph', code='no_pass')
        why = 'the Temporary Access Pass was refused: %s' % access_passes.refusal(error)
        if item.ref in passwords:
            # This run set the password: it becomes the credential handed over, so that someone can read it back.
            entry.kind, entry.value, entry.status = handover.PASSWORD, passwords[item.ref], 'set'
            outcome['msg'] = 'password reset; %s; the new password was handed over instead' % why
            outcome['error'] = error.to_dict()
        else:
            entry.status = 'withdrawn'
            outcome.update(changed=False, failed=True, msg=why + '; run again once the cause is fixed', error=error.to_dict())
        found[item.ref] = outcome
    return found


if __name__ == '__main__':
    main()
