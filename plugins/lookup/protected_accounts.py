# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: protected_accounts
short_description: The accounts a host's protected lists name, which no run can shrink
version_added: 0.1.0
description:
  - Returns every account named by the host's protected-account variables, as one sorted list without
    duplicates (compared case-insensitively, written in lower case).
  - Each variable is read as Ansible resolves it for the task (extra variables, role parameters, play
    variables, the inventory). When extra variables set it, it is read a second time as the host's inventory
    gives it without extra variables (host and group variables, C(host_vars) and C(group_vars)), and the two
    are joined, never one put in the place of the other.
  - So a list given at run time (C(-e), an AWX survey, a rulebook's C(extra_vars)) adds accounts to the
    inventory's protected list but cannot take any away, not even by giving the same variable an empty value.
  - The P(m365ops.remediation.unblock_email#role) role reads its C(unblock_email_protected) through it.
author:
  - m365ops maintainers (@m365ops)
options:
  _terms:
    description:
      - The names of the variables that hold protected accounts (lists of strings, or one string).
    type: list
    elements: str
    default: [unblock_email_protected]
"""

EXAMPLES = r"""
- name: Accounts that are never touched, whatever extra vars say
  ansible.builtin.set_fact:
    protected: "{{ lookup('m365ops.remediation.protected_accounts', 'unblock_email_protected', wantlist=true) }}"
"""

RETURN = r"""
_raw:
  description: The protected accounts, lower case, sorted, without duplicates.
  type: list
  elements: str
"""

import copy

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    """Joins the resolved value of each protected-list variable with the inventory's own value."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        names = terms or ['unblock_email_protected']
        # Only extra vars can put a value of their own in place of the inventory's at run time; without them the
        # inventory's value is not read again.
        inventory_vars = _inventory_vars(variables, names)
        accounts = set()
        for name in names:
            for source in (variables.get(name), inventory_vars.get(name)):
                accounts.update(_accounts(name, self._templar.template(source) if source is not None else None))
        return sorted(accounts)


def _inventory_vars(variables, names):
    """The host's variables as the inventory gives them, without extra vars, when extra vars set one of ``names``
    (else empty: what Ansible resolved already holds what the inventory gives or what the play put over it)."""
    hostvars = variables.get('hostvars')
    manager = getattr(hostvars, '_variable_manager', None)
    inventory = getattr(hostvars, '_inventory', None)
    host = inventory.get_host(variables.get('inventory_hostname')) if inventory is not None else None
    if manager is None or host is None or not hasattr(manager, '_extra_vars'):
        raise AnsibleLookupError('protected_accounts: the inventory of this host cannot be read, so its protected accounts '
                                 'cannot be known; refusing to go on')
    if not any(name in manager._extra_vars for name in names):  # pylint: disable=protected-access
        return {}
    without_extra = copy.copy(manager)
    without_extra._extra_vars = {}  # pylint: disable=protected-access
    return without_extra.get_vars(host=host, include_hostvars=False)


def _accounts(name, value):
    if value is None or value == '':
        return set()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set)):
        raise AnsibleLookupError('%s must be a list of accounts (UPN, SMTP address or object id), not %s' % (name, type(value).__name__))
    return {str(item).strip().lower() for item in value if item is not None and str(item).strip()}
