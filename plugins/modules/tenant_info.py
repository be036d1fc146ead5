#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_info
short_description: Learn which Entra ID tenant the connection options reach
version_added: 0.1.0
description:
  - Signs in with the connection options and returns the GUID of the tenant the Microsoft Graph token was issued
    for (its C(tid) claim), with where the tenant was named and the app that signed in.
  - Run it before any change of a play that acts on several tenants, one inventory host per tenant, to pin each
    host to its tenant's GUID. A token issued for another tenant than the one named is refused, by this module as by
    every other module of the collection.
  - Never changes anything; it makes no request besides the sign-in.
author:
  - m365ops maintainers (@m365ops)
options: {}
extends_documentation_fragment:
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: none beyond signing in; the app needs no Microsoft Graph permission for this module."
  - With O(access_token), the tenant is read from the token; O(tenant_id), when given as a GUID, must match it.
seealso:
  - module: m365ops.remediation.user_info
"""

EXAMPLES = r"""
- name: Learn each host's tenant before any change
  m365ops.remediation.tenant_info:
    tenant_id: "{{ m365_tenant_id }}"
    environment_tenant: refuse
  register: tenant

- name: Show the tenant's GUID
  ansible.builtin.debug:
    msg: "{{ tenant.tenant }} is {{ tenant.tenant_id }}"
"""

RETURN = r"""
tenant_id:
  description: The GUID of the tenant the Microsoft Graph token was issued for, lower case.
  returned: success
  type: str
  sample: 6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a
tenant:
  description: The tenant as named, by O(tenant_id) or the E(AZURE_TENANT_ID) environment variable.
  returned: success
  type: str
  sample: contoso.com
tenant_source:
  description:
    - Where the tenant was named, V(option) or V(environment).
    - V(null) when none was named, which only O(access_token) allows.
  returned: success
  type: str
  sample: option
client_id:
  description: The application (client) id that signed in; V(null) with O(access_token).
  returned: success
  type: str
  sample: 3b7e1d42-8c5f-4a96-b1e3-5d8f2a4c6e10
authority_host:
  description: The Entra ID authority host the sign-in went to.
  returned: success
  type: str
  sample: https://login.microsoftonline.com
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils import auth as auth_mod


def main() -> None:
    """Learn the tenant's GUID."""
    m = M365Module({})

    def work():
        credential = m.credential
        tenant_guid = credential.tenant_guid(m.graph.resource)
        if not tenant_guid:
            return dict(changed=False, failed=True, msg='The tenant is unknown: the token names no tenant (no tid claim)')
        return dict(
            changed=False,
            tenant_id=tenant_guid.lower(),
            tenant=m.params['tenant_id'],
            tenant_source=m.tenant_source,
            client_id=getattr(credential, 'client_id', None),
            authority_host=auth_mod.normalize_authority_host(m.params['authority_host']),
        )

    m.run(work)


if __name__ == '__main__':
    main()
