#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restricted_user
short_description: Remove accounts from the Exchange Online Restricted Users list (unblock sending)
version_added: 0.1.0
description:
  - Unblocks accounts that Exchange Online Protection blocked from sending mail for outbound spam, as
    C(Remove-BlockedSenderAddress) does.
  - Only addresses that are on the list are changed; the others are reported as having nothing to do.
  - Only C(-SenderAddress) is sent. Microsoft's reference says C(-Reason) names the reason the account was
    blocked (the entry's C(Reason) value), not a note of the admin's, so the module has no such option; keep
    notes for the audit trail in your own records (the P(m365ops.remediation.unblock_email#role) role writes
    them into its report).
  - Microsoft limits how many times an account can be unblocked. A removal that fails with an error that is
    not a refusal (throttling, the tenant's concurrency limit, unavailability) is therefore never retried, and
    reaching that limit is reported with what to do (only Microsoft support can lift it). Microsoft does not
    publish the limit's error, so telling it is a heuristic. It takes for the limit a removal error that is not a
    refusal and whose exception type or text speaks of a limit together with unblocking, removing, releasing or
    blocking.
  - An address that is gone from the list when it is removed (unblocked by someone else since the lookup) is
    looked up once more and, when it is indeed off the list, reported as already off the list, not as a failure.
  - An address of a protected account (O(protected), by its UPN, any of its SMTP addresses or its object id) is
    never unblocked; it is skipped and reported as protected. To match every form, the protected accounts are
    looked up in Microsoft Graph (which then needs C(User.Read.All)); when one cannot be looked up for another
    reason than not existing, nothing is unblocked.
  - After an unblock, sending normally resumes within an hour and at most within 24 hours.
  - Reset the account's password before unblocking it; the M(m365ops.remediation.user_password) module and
    the P(m365ops.remediation.unblock_email#role) role do that.
author:
  - m365ops maintainers (@m365ops)
options:
  addresses:
    description:
      - SMTP addresses to unblock. Case and a V(smtp:) prefix do not matter; duplicates are handled once.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(absent) removes the addresses from the list. It is the only state, because the block itself is set
        by Microsoft's outbound spam protection.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment:
  - m365ops.remediation.users.write
  - m365ops.remediation.users.concurrency
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode only the lookup is made; the result says which addresses would be unblocked.
  diff_mode:
    support: full
    details: Each address on the list shows C(restricted) going from V(true) to V(false).
  idempotent:
    support: full
notes:
  - "Permissions: the application permission C(Exchange.ManageAsApp) on Office 365 Exchange Online, and the
    Entra role Security Administrator or Exchange Administrator assigned to the app's service principal."
seealso:
  - module: m365ops.remediation.restricted_user_info
  - module: m365ops.remediation.user_password
"""

EXAMPLES = r"""
- name: Unblock rob after his password was reset
  m365ops.remediation.restricted_user:
    addresses:
      - rob@contoso.com

- name: Unblock several accounts, reporting failures without failing the play
  m365ops.remediation.restricted_user:
    addresses: "{{ cleaned_accounts }}"
    continue_on_error: true
  register: unblock
"""

RETURN = r"""
results:
  description: One entry per given address, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address, normalised to lower case.
      type: str
      sample: rob@contoso.com
    changed:
      description: Whether the address was (or in check mode would be) removed from the list.
      type: bool
    failed:
      description: Whether this address failed.
      type: bool
    restricted:
      description: Whether the address is on the list after the task (in check mode, before it).
      type: bool
      returned: unless the address was invalid or protected
    skipped:
      description: True for the address of a protected account.
      type: bool
      returned: when the address was skipped
    protected:
      description: True for the address of a protected account, which is never unblocked.
      type: bool
      returned: when the address was skipped
    msg:
      description: What happened, in words.
      type: str
      sample: unblocked
    entry:
      description: The list entry as it was before the task (see M(m365ops.remediation.restricted_user_info)).
      type: dict
      returned: when the address was on the list
    warnings:
      description:
        - What Exchange warned with the removal, such as that this was the last unblock Microsoft allows for the
          account; also said in RV(results[].msg).
      type: list
      elements: str
      returned: when Exchange warned
    unblocked_at:
      description: When the address was removed (ISO 8601, UTC).
      type: str
      returned: when the address was unblocked
    sending_expected_by:
      description: When sending normally works again, an hour after the unblock.
      type: str
      returned: when the address was unblocked
    sending_expected_at_latest:
      description: The latest time Microsoft gives for sending to work again, 24 hours after the unblock.
      type: str
      returned: when the address was unblocked
    error:
      description: The service error (service, status, code, message, request id).
      type: dict
      returned: when the address failed with a service error
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.concurrency import run_concurrently
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import restricted_users
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import PROTECTED_MSG, Target, Users


def main() -> None:
    """Unblock the given addresses."""
    m = M365Module(dict(
        addresses=dict(type='list', elements='str', required=True),
        state=dict(type='str', choices=['absent'], default='absent'),
        **dict(converge.concurrency_option(), **converge.change_options())
    ))
    p = m.params
    wanted, invalid = rem.split_addresses(p['addresses'])

    def plan(base, user, entry):
        if entry is None:
            return converge.Plan(dict(base, restricted=False), done='not on the Restricted Users list; nothing to do')
        return converge.Plan(dict(base, restricted=True, entry=entry), change=True, done='unblocked', would='would be unblocked',
                             before=dict(restricted=True), after=dict(restricted=False))

    def work():
        done = {i['address']: dict(address=i['address'], changed=False, failed=True, msg=i['msg']) for i in invalid}
        shielded = Users(m.graph).protected_identities(p['protected']) if p['protected'] and wanted else set()
        for address in wanted:
            if address in shielded:
                done[address] = dict(address=address, changed=False, failed=False, skipped=True, protected=True, msg=PROTECTED_MSG)
        restricted = RestrictedUsers(m.exchange)

        def read(targets):
            listed, errors = restricted.read([target.ref for target in targets], p['max_concurrency'])
            return {target.ref: errors.get(target.ref) or listed.get(target.ref) for target in targets}

        def write(pending):
            outcomes = {}
            for item, outcome in run_concurrently(lambda item: restricted.unblock(item.ref), pending, p['max_concurrency']):
                outcome, warnings = outcome if isinstance(outcome, tuple) else (outcome, [])
                outcomes[item.ref] = restricted_users.unblock_result(item.ref, item.plan.result['entry'], outcome, warnings)
            return outcomes

        targets = [Target(address, None) for address in wanted if address not in done]
        order = [i['address'] for i in invalid] + wanted
        return converge.converge(m, read, plan, write, targets=((done, targets), order), noun='addresses')

    m.run(work)


if __name__ == '__main__':
    main()
