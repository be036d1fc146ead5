#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restricted_user_info
short_description: Read the Exchange Online Restricted Users list
version_added: 0.1.0
description:
  - Lists the accounts that Exchange Online Protection blocked from sending mail (the Restricted Users list,
    C(Get-BlockedSenderAddress)), or looks up the given addresses on it.
  - Each entry comes with the times it was created and changed and the reason, raw and parsed.
  - Never changes anything.
author:
  - m365ops maintainers (@m365ops)
options:
  addresses:
    description:
      - SMTP addresses to look up. Case and a V(smtp:) prefix do not matter; duplicates are looked up once.
      - Empty or left out, the whole list is returned.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - m365ops.remediation.users.concurrency
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: the application permission C(Exchange.ManageAsApp) on Office 365 Exchange Online, and the
    Entra role Security Administrator or Exchange Administrator assigned to the app's service principal."
seealso:
  - module: m365ops.remediation.restricted_user
"""

EXAMPLES = r"""
- name: List every restricted account of the tenant
  m365ops.remediation.restricted_user_info:
  register: restricted

- name: Is rob on the list?
  m365ops.remediation.restricted_user_info:
    addresses:
      - rob@contoso.com
  register: rob

- name: Show why rob was restricted
  ansible.builtin.debug:
    msg: "{{ rob.entries[0].reason_details }}"
  when: rob.entries | length > 0
"""

RETURN = r"""
tenant_id:
  description:
    - The GUID of the tenant the list was read from (the C(tid) claim of the token used), lower case.
    - The P(m365ops.remediation.unblock_email#role) role pins each host to its tenant with it before any write.
  returned: when O(addresses) is empty (the whole list was read)
  type: str
  sample: 6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a
entries:
  description: The matching entries of the Restricted Users list, one per blocked address.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The blocked SMTP address, lower case.
      type: str
      sample: rob@contoso.com
    created:
      description: When the account was restricted (ISO 8601, UTC).
      type: str
      sample: "2026-11-20T08:00:00Z"
    changed:
      description: When the entry last changed (ISO 8601, UTC).
      type: str
      sample: "2026-11-20T08:00:00Z"
    temporary_block:
      description: Whether the block is temporary.
      type: bool
    reason:
      description: The reason as Exchange gives it.
      type: str
      sample: ExceedingLimitType=External;InternalRecipientCountToday=0;ExternalRecipientCountToday=1520
    reason_details:
      description: The C(Key=Value) and C(Key:Value) parts of RV(entries[].reason), parsed leniently.
      type: dict
      sample: {"ExceedingLimitType": "External", "ExternalRecipientCountToday": "1520"}
    message_trace_id:
      description:
        - The message trace id the reason names (its C(MessagetraceId) part), to look the last spam message up in
          the message trace; null when the reason names none.
      type: str
      returned: always
      sample: 7f3c2a1b-7d4e-4b8a-9c0d-1e2f3a4b5c60
not_restricted:
  description: The given addresses that are not on the list.
  returned: when O(addresses) is given
  type: list
  elements: str
  sample: [carl@contoso.com]
invalid:
  description: The given values that are not SMTP addresses, with the reason; they are not looked up.
  returned: when O(addresses) is given
  type: list
  elements: dict
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers


def main() -> None:
    """Read the Restricted Users list."""
    m = M365Module(dict(
        addresses=dict(type='list', elements='str', default=[]),
        **converge.concurrency_option()
    ))

    def work():
        restricted = RestrictedUsers(m.exchange)
        if not m.params['addresses']:
            listed = restricted.read()[0]
            # The tenant's GUID from the token just used, so that a play of many tenants can pin each host to its
            # tenant before any write (no request of its own).
            return dict(changed=False, entries=sorted(listed.values(), key=lambda e: e['address']), tenant_id=m.tenant_guid('exchange'))
        wanted, invalid = rem.split_addresses(m.params['addresses'])
        listed, errors = restricted.read(wanted, m.params['max_concurrency']) if wanted else ({}, {})
        result = dict(
            changed=False,
            entries=[listed[a] for a in wanted if a in listed],
            not_restricted=[a for a in wanted if a not in listed and a not in errors],
            invalid=invalid,
        )
        if errors:
            address, error = next(iter(errors.items()))
            result.update(failed=True, msg='%d address(es) could not be looked up; first: %s: %s' % (len(errors), address, error),
                          errors=[dict(address=a, msg=str(e), error=e.to_dict()) for a, e in errors.items()])
        return result

    m.run(work)


if __name__ == '__main__':
    main()
