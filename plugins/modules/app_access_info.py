#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app_access_info
short_description: Read what the app may do in a tenant, step by step of the unblock_email role
version_added: 0.1.0
description:
  - Signs in as the app, for Microsoft Graph and for Exchange Online, and reads from the two access tokens the
    application permissions the app was granted (their C(roles) claim) and the Entra roles its service principal
    holds (their C(wids) claim). The tokens are only read, never verified nor shown.
  - Runs one harmless read on Exchange Online, C(Get-BlockedSenderAddress) for an address that cannot exist
    (C(preflight-probe@m365ops.invalid)), the cmdlet the role needs first. An empty answer is success; a refusal
    (HTTP 403) means the app lacks C(Exchange.ManageAsApp) or an Entra role Exchange Online accepts.
  - From these, tells for each step of the P(m365ops.remediation.unblock_email#role) role whether the app can take
    it (V(ok)), certainly cannot (V(missing), naming the permission or role to grant), or whether that cannot be
    told from here (V(unknown), saying what to check), and whether the role takes the step by default or only
    when asked (opt-in).
  - Sends no write request, in check mode or not. C(playbooks/preflight.yml) runs it for every tenant of an
    inventory and fails a tenant when a step its run would take is V(missing).
author:
  - m365ops maintainers (@m365ops)
options:
  label:
    description:
      - A name for the tenant in RV(report_markdown), for example the inventory host. Defaults to the tenant as
        named.
    type: str
  role_settings:
    description:
      - The P(m365ops.remediation.unblock_email#role) role's variables as the run will set them (for example
        C(unblock_email_block_sign_in), C(unblock_email_inbox_rules), C(unblock_email_disable_protocols)), which
        decide which steps the run takes (RV(steps[].enabled)). Variables not given keep the role's defaults; other
        keys are ignored.
    type: dict
    default: {}
extends_documentation_fragment:
  - m365ops.remediation.auth
  - m365ops.remediation.auth.attributes
  - ansible.builtin.action_common_attributes
  - m365ops.remediation.auth.info_module
notes:
  - "Permissions: none beyond signing in; the read on Exchange Online is the check of its own permission
    (C(Exchange.ManageAsApp) and an Entra role Exchange Online accepts)."
  - Microsoft issues a token with the permissions and roles the app holds when the token is issued; a permission
    granted or a role assigned minutes ago may take a new token, and so a while, to show.
  - A token without a C(wids) claim says nothing of the app's Entra roles. Every requirement on a role is then
    V(unknown), with what to check in Entra ID; it is never guessed.
  - With O(access_token), only the service the token was issued for is read (its C(aud) claim); the other one is
    V(unknown).
seealso:
  - module: m365ops.remediation.tenant_info
"""

EXAMPLES = r"""
- name: What may the app do in this tenant?
  m365ops.remediation.app_access_info:
    tenant_id: "{{ m365_tenant_id }}"
    label: "{{ inventory_hostname }}"
  register: access

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ access.report_markdown.splitlines() }}"

- name: Fail when a default step cannot work
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }}: {{ access.blocking_message }}"
  when: access.blocking_message | length > 0

- name: Check the opt-in steps as well
  m365ops.remediation.app_access_info:
    role_settings:
      unblock_email_block_sign_in: true
      unblock_email_remove_auth_methods: true
      unblock_email_disable_protocols: [pop, imap]
"""

RETURN = r"""
tenant_id:
  description: The GUID of the tenant the tokens were issued for (their C(tid) claim), lower case.
  returned: success
  type: str
  sample: 6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a
tenant:
  description: The tenant as named, by O(tenant_id) or the E(AZURE_TENANT_ID) environment variable.
  returned: success
  type: str
  sample: contoso.com
client_id:
  description: The application (client) id the tokens were issued to (their C(appid) claim).
  returned: success
  type: str
  sample: 3b7e1d42-8c5f-4a96-b1e3-5d8f2a4c6e10
app_display_name:
  description: The app's display name, as the token gives it.
  returned: success
  type: str
  sample: m365ops-remediation
checked_at:
  description: When the check ran (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2026-12-02T16:15:00Z"
graph_permissions:
  description:
    - The Microsoft Graph application permissions of the app (the C(roles) claim of its Graph token), sorted.
    - V(null) when no Graph token could be read (RV(graph_error) says why).
  returned: success
  type: list
  elements: str
  sample: [User-PasswordProfile.ReadWrite.All, User.Read.All, User.RevokeSessions.All]
graph_error:
  description: Why the Graph permissions are unknown; empty when they are known.
  returned: success
  type: str
exchange_permissions:
  description:
    - The Office 365 Exchange Online application permissions of the app (the C(roles) claim of its Exchange
      token), sorted; C(Exchange.ManageAsApp) is the one the role needs.
    - V(null) when no Exchange token could be had (RV(exchange_error) says why).
  returned: success
  type: list
  elements: str
  sample: [Exchange.ManageAsApp]
exchange_error:
  description: Why the Exchange permissions are unknown; empty when they are known.
  returned: success
  type: str
directory_roles:
  description:
    - The Entra roles the app's service principal holds, from the C(wids) claim of its tokens, each with its
      template id and its name (V(null) for an id that is not one of the built-in roles this collection knows).
    - V(null) when the tokens carry no C(wids) claim, for then the roles are unknown.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The role's template id.
      type: str
      sample: 29232cdf-9323-42fd-ade2-1d097af3e4de
    name:
      description: The role's name.
      type: str
      sample: Exchange Administrator
exchange_access:
  description: The outcome of the harmless read on Exchange Online.
  returned: success
  type: dict
  contains:
    status:
      description:
        - V(ok) (Exchange answered), V(refused) (HTTP 403, no C(Exchange.ManageAsApp) or no role Exchange Online
          accepts) or V(error) (anything else, including no Exchange token).
      type: str
      sample: ok
    cmdlet:
      description: The cmdlet run.
      type: str
      sample: Get-BlockedSenderAddress
    message:
      description: What Exchange Online answered when it did not answer with success.
      type: str
    http_status:
      description: The HTTP status of a failed answer.
      type: int
      sample: 403
    request_id:
      description: The request id of a failed answer, for Microsoft support.
      type: str
steps:
  description: Each step of the P(m365ops.remediation.unblock_email#role) role, in the order the role takes them.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The step's name, as the role's report names it (V(list), V(resolve), V(password),
        V(password_admins), V(sessions), V(sign_in), V(sign_in_admins), V(auth_methods), V(forwarding),
        V(inbox_rules), V(protocols), V(unblock)).
      type: str
      sample: password
    title:
      description: What the step does.
      type: str
      sample: Reset passwords
    mode:
      description: V(default) when the role takes the step unless told not to, V(opt-in) when only when asked.
      type: str
      sample: default
    enabled:
      description: Whether the run takes the step, with O(role_settings).
      type: bool
    module:
      description: The module that carries out the step.
      type: str
      sample: m365ops.remediation.user_password
    status:
      description:
        - V(ok), V(missing) (the app certainly lacks something the step needs) or V(unknown) (cannot be told from
          here; RV(steps[].action) says what to check).
        - A step that only some users need (the ones for users who hold admin roles) is never V(missing), only
          V(unknown).
      type: str
      sample: ok
    missing:
      description: The permissions or roles the app lacks, by name (the least privileged of the alternatives).
      type: list
      elements: str
      sample: [Exchange.ManageAsApp]
    unknown:
      description: The permissions or roles that cannot be told.
      type: list
      elements: str
      sample: [Privileged Authentication Administrator]
    requires:
      description: Everything the step needs, in words.
      type: list
      elements: str
    action:
      description: What to do, empty when nothing.
      type: str
      sample: "assign the Entra role Privileged Authentication Administrator (or Global Administrator) on the app"
    warnings:
      description: What would weaken the step without stopping it.
      type: list
      elements: str
counts:
  description: How many steps are V(ok), V(missing) and V(unknown), and V(blocking), the steps the run takes that are V(missing).
  returned: success
  type: dict
  sample: {"ok": 10, "missing": 0, "unknown": 2, "blocking": 0}
blocking_message:
  description: One sentence naming what the app lacks for the steps the run takes, and which steps; empty when nothing.
  returned: success
  type: str
  sample: "the app lacks Exchange.ManageAsApp (read the Restricted Users list, remove mailbox forwarding)"
report_markdown:
  description: The same as a readable Markdown report, with the table of steps.
  returned: success
  type: str
"""

from ansible_collections.m365ops.remediation.plugins.module_utils.base import M365Module
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import access as acc
from ansible_collections.m365ops.remediation.plugins.module_utils import exchange
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.auth import jwt_claims


def main() -> None:
    """Read the app's access and judge each step of the role."""
    m = M365Module(dict(
        label=dict(type='str'),
        role_settings=dict(type='dict', default={}),
    ))

    def token_claims(service: str, resource: str) -> tuple[dict, str]:
        """The claims of the app's token for a service, or why there are none. The token itself goes nowhere."""
        try:
            token = m.credential.get_token(resource)
        except M365Error as error:
            if service == acc.GRAPH:
                raise
            return {}, str(error)
        m.protect(token)
        claims = jwt_claims(token)
        if not claims:
            return {}, 'the token is not a JWT, so its claims cannot be read'
        if m.credential.method == 'access_token' and not acc.audience_matches(claims, service, resource):
            return {}, 'the access_token was issued for %s, not %s' % (claims.get('aud'), resource)
        return claims, ''

    def work():
        graph_claims, graph_error = token_claims(acc.GRAPH, m.graph.resource)
        exchange_claims, exchange_error = token_claims(acc.EXCHANGE, m.exchange.resource)
        probe = dict(status=acc.PROBE_ERROR, cmdlet=acc.PROBE_CMDLET, message=exchange_error or '', http_status=None, request_id=None)
        if exchange_claims:
            try:
                RestrictedUsers(m.exchange).lookup(acc.PROBE_ADDRESS)
                probe.update(status=acc.PROBE_OK, message='')
            except M365Error as error:
                kind = exchange.error_kind(error)
                # Not found is an answer too: the app may read the list.
                status = acc.PROBE_OK if kind == exchange.NOT_FOUND else acc.PROBE_REFUSED if kind in (
                    exchange.ACCESS_DENIED, exchange.UNAVAILABLE) else acc.PROBE_ERROR
                probe.update(status=status, message='' if status == acc.PROBE_OK else str(error),
                             http_status=error.status, request_id=error.request_id)
        graph_permissions = acc.claim_list(graph_claims, 'roles') if graph_claims else None
        exchange_permissions = acc.claim_list(exchange_claims, 'roles') if exchange_claims else None
        # A token with no permission at all carries no roles claim.
        if graph_claims and graph_permissions is None:
            graph_permissions = frozenset()
        if exchange_claims and exchange_permissions is None:
            exchange_permissions = frozenset()
        access = acc.Access(
            graph_permissions=graph_permissions, exchange_permissions=exchange_permissions,
            role_ids=acc.role_ids_from(graph_claims or None, exchange_claims or None),
            probe=probe['status'], probe_message=probe['message'], graph_error=graph_error, exchange_error=exchange_error)
        steps = acc.evaluate(access, m.params['role_settings'])
        claims = graph_claims or exchange_claims
        tenant_guid = m.tenant_guid('graph' if graph_claims else 'exchange')
        result = dict(
            changed=False,
            tenant_id=(tenant_guid or '').lower() or None,
            tenant=m.params['tenant_id'],
            client_id=claims.get('appid') or claims.get('azp') or getattr(m.credential, 'client_id', None),
            app_display_name=claims.get('app_displayname'),
            checked_at=rem.isoformat(rem.utcnow()),
            graph_permissions=sorted(graph_permissions) if graph_permissions is not None else None,
            graph_error=graph_error,
            exchange_permissions=sorted(exchange_permissions) if exchange_permissions is not None else None,
            exchange_error=exchange_error,
            directory_roles=acc.directory_roles(access.role_ids),
            exchange_access=probe,
            steps=steps,
            counts=acc.counts(steps),
            blocking_message=acc.blocking_message(steps),
        )
        result['report_markdown'] = acc.render_markdown(dict(result, label=m.params['label']))
        return result

    m.run(work)


if __name__ == '__main__':
    main()
