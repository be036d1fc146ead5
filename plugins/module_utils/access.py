# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the app may do, step by step of the unblock_email role: the one table of requirements, and the pure
decisions the preflight (``app_access_info``, ``playbooks/preflight.yml``) makes from an app's tokens.

The requirements follow Microsoft's documentation:

* password reset, app-only: Graph ``User-PasswordProfile.ReadWrite.All`` and at least the Entra role User
  Administrator; users who hold admin roles need Privileged Authentication Administrator (or Global
  Administrator). ``User.ReadWrite.All`` is not taken for it;
* Restricted Users list (``Get-BlockedSenderAddress``, ``Remove-BlockedSenderAddress``): ``Exchange.ManageAsApp``
  and a role Exchange Online accepts for it (reading: Security Administrator, Exchange Administrator, Global
  Administrator, Global Reader, Security Reader; removing: Security Administrator, Exchange Administrator or
  Global Administrator);
* mailbox settings (``Set-Mailbox``, ``Set-CASMailbox``): ``Exchange.ManageAsApp`` and a recipient
  management role (Exchange Administrator, Exchange Recipient Administrator or Global Administrator); Security
  Administrator does not manage recipients;
* the other Graph steps: the application permission each module's documentation names.

Exchange Online sets up an app-only session from the directory roles in the app's token (its ``wids`` claim),
so the roles read there are the ones Exchange sees. A token without ``wids`` says nothing about roles: they are
then unknown, never guessed.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import LOOKUP

# Directory role template ids (Microsoft Entra built-in roles) and their names.
ROLE_NAMES: dict[str, str] = {
    '62e90394-69f5-4237-9190-012177145e10': 'Global Administrator',
    '29232cdf-9323-42fd-ade2-1d097af3e4de': 'Exchange Administrator',
    '31392ffb-586c-42d1-9346-e59415a2cc4e': 'Exchange Recipient Administrator',
    '194ae4cb-b126-40b2-bd5b-6091b380977d': 'Security Administrator',
    '5d6b6bb7-de71-4623-b4af-96380a352509': 'Security Reader',
    'fe930be7-5e62-47db-91af-98c3a49a38b1': 'User Administrator',
    '7be44c8a-adaf-4e2a-84d6-ab2649e08a13': 'Privileged Authentication Administrator',
    'c4e39bd9-1100-46d3-8c65-fb160da0071f': 'Authentication Administrator',
    'f2ef992c-3afb-46b9-b7cf-a126ee74c451': 'Global Reader',
    '729827e3-9c14-49f7-bb1b-9608f156bbb8': 'Helpdesk Administrator',
    '966707d0-3269-4727-9be2-8c3a10f19b9d': 'Password Administrator',
    '17315797-102d-40b4-93e0-432062caca18': 'Compliance Administrator',
    'e8611ab8-c189-46e8-94e1-60213ab1f814': 'Privileged Role Administrator',
    '88d8e3e3-8f55-4a1e-953a-9b9898b8876b': 'Directory Readers',
}
ROLE_IDS: dict[str, str] = {name: role_id for role_id, name in ROLE_NAMES.items()}

# The Entra roles Exchange Online accepts for app-only access (the others give "The role assigned to
# application ... isn't supported in this scenario").
EXCHANGE_SUPPORTED_ROLES = ('Compliance Administrator', 'Exchange Administrator', 'Exchange Recipient Administrator',
                            'Global Administrator', 'Global Reader', 'Helpdesk Administrator', 'Security Administrator',
                            'Security Reader')

GRAPH = 'graph'
EXCHANGE = 'exchange'
ROLE = 'role'
API_NAMES = {GRAPH: 'Microsoft Graph', EXCHANGE: 'Office 365 Exchange Online'}

OK = 'ok'
MISSING = 'missing'
UNKNOWN = 'unknown'

# The outcomes of the harmless Exchange read.
PROBE_OK = 'ok'
PROBE_REFUSED = 'refused'
PROBE_ERROR = 'error'
# Get-BlockedSenderAddress for an address that cannot exist (RFC 2606 reserves .invalid): an empty answer.
PROBE_CMDLET = LOOKUP
PROBE_ADDRESS = 'preflight-probe@m365ops.invalid'


@dataclass(frozen=True)
class Need:
    """One requirement: a Graph or Exchange application permission, or an Entra role, any of ``any_of`` (the first is
    the least privileged, the one to grant)."""

    kind: str
    any_of: tuple[str, ...]
    # For roles: what Exchange Online checks the role for (the list read, or a write), None for Entra alone.
    exchange: str | None = None

    def label(self) -> str:
        """The requirement in words, for a message."""
        first, rest = self.any_of[0], self.any_of[1:]
        alternatives = ' (or %s)' % ', '.join(rest) if rest else ''
        if self.kind == ROLE:
            return 'the Entra role %s%s on the app' % (first, alternatives)
        return 'the %s application permission %s%s' % (API_NAMES[self.kind], first, alternatives)


@dataclass(frozen=True)
class Step:
    """One step of the unblock_email role, the module that runs it and what the app needs for it."""

    name: str
    title: str
    default: bool
    module: str
    needs: tuple[Need, ...]
    # What turns the step on or off in the role (None: always runs).
    switch: str | None = None
    # Needs whose absence only weakens the step (it still runs).
    optional: tuple[tuple[Need, str], ...] = ()
    # The step's requirements apply to some users only: not holding them is unknown, never missing.
    only_for: str | None = None


READ_USERS = Need(GRAPH, ('User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'))
MANAGE_AS_APP = Need(EXCHANGE, ('Exchange.ManageAsApp',))
LIST_READ_ROLES = Need(ROLE, ('Security Administrator', 'Exchange Administrator', 'Global Administrator', 'Global Reader',
                              'Security Reader'), exchange='read')
LIST_WRITE_ROLES = Need(ROLE, ('Security Administrator', 'Exchange Administrator', 'Global Administrator'), exchange='write')
RECIPIENT_ROLES = Need(ROLE, ('Exchange Administrator', 'Exchange Recipient Administrator', 'Global Administrator'), exchange='write')
PASSWORD = Need(GRAPH, ('User-PasswordProfile.ReadWrite.All',))
PASSWORD_ROLES = Need(ROLE, ('User Administrator', 'Privileged Authentication Administrator', 'Global Administrator'))
PRIVILEGED_ROLES = Need(ROLE, ('Privileged Authentication Administrator', 'Global Administrator'))
ENABLE_DISABLE = Need(GRAPH, ('User.EnableDisableAccount.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'))
ADMINS = 'users who hold admin roles'

# The role's steps in the order it takes them (roles/unblock_email/tasks/remediate.yml).
STEPS: tuple[Step, ...] = (
    Step('list', 'Read the Restricted Users list', True, 'restricted_user_info', (MANAGE_AS_APP, LIST_READ_ROLES)),
    Step('resolve', 'Resolve the users', True, 'user_info', (READ_USERS,)),
    Step('password', 'Reset passwords', True, 'user_password', (PASSWORD, PASSWORD_ROLES), switch='unblock_email_reset_password'),
    Step('password_admins', 'Reset passwords of users who hold admin roles', True, 'user_password', (PASSWORD, PRIVILEGED_ROLES),
         switch='unblock_email_reset_password', only_for=ADMINS),
    Step('access_pass', 'Issue Temporary Access Passes (after the reset)', False, 'user_password',
         (Need(GRAPH, ('UserAuthenticationMethod.ReadWrite.All',)),), switch='unblock_email_temporary_access_pass'),
    Step('sessions', 'Revoke sign-in sessions', True, 'user_sessions',
         (Need(GRAPH, ('User.RevokeSessions.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All')),),
         switch='unblock_email_revoke_sessions'),
    Step('sign_in', 'Block sign-in', False, 'user_sign_in', (ENABLE_DISABLE,), switch='unblock_email_block_sign_in'),
    Step('sign_in_admins', 'Block sign-in of users who hold admin roles', False, 'user_sign_in', (ENABLE_DISABLE, PRIVILEGED_ROLES),
         switch='unblock_email_block_sign_in', only_for=ADMINS),
    Step('auth_methods', 'Remove authentication methods registered since the incident', False, 'user_auth_method',
         (Need(GRAPH, ('UserAuthenticationMethod.ReadWrite.All',)),), switch='unblock_email_remove_auth_methods'),
    Step('forwarding', 'Remove mailbox forwarding', True, 'mailbox_forwarding', (MANAGE_AS_APP, RECIPIENT_ROLES),
         switch='unblock_email_clear_forwarding'),
    Step('inbox_rules', 'Disable or delete suspicious inbox rules', True, 'inbox_rule',
         (Need(GRAPH, ('MailboxSettings.ReadWrite',)),), switch='unblock_email_inbox_rules',
         optional=((Need(GRAPH, ('Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite')),
                    'rules that move mail to another folder are not judged without folder names'),)),
    Step('protocols', 'Turn off mail protocols', False, 'mailbox_protocols', (MANAGE_AS_APP, RECIPIENT_ROLES),
         switch='unblock_email_disable_protocols'),
    Step('unblock', 'Unblock the accounts (remove them from the Restricted Users list)', True, 'restricted_user', (MANAGE_AS_APP, LIST_WRITE_ROLES)),
)
STEP_NAMES = tuple(step.name for step in STEPS)


@dataclass
class Access:
    """What is known of the app: from its tokens' claims and from one harmless Exchange read.

    ``None`` means unknown: no token for that service (``graph_error``/``exchange_error`` say why), or, for the
    roles, tokens without a ``wids`` claim.
    """

    graph_permissions: frozenset[str] | None = None
    exchange_permissions: frozenset[str] | None = None
    role_ids: frozenset[str] | None = None
    probe: str | None = None
    probe_message: str = ''
    graph_error: str = ''
    exchange_error: str = ''


# The first-party app ids that stand for the services in a token's audience.
SERVICE_APP_IDS = {GRAPH: '00000003-0000-0000-c000-000000000000', EXCHANGE: '00000002-0000-0ff1-ce00-000000000000'}


def audience_matches(claims: dict[str, t.Any], service: str, resource: str) -> bool:
    """Whether a token (its ``aud`` claim) was issued for ``service``, named by its resource URL or app id."""
    audience = claims.get('aud')
    values = audience if isinstance(audience, list) else [audience]
    wanted = {str(resource or '').rstrip('/').lower(), SERVICE_APP_IDS[service]}
    return any(isinstance(value, str) and value.rstrip('/').lower() in wanted for value in values)


def claim_list(claims: dict[str, t.Any], name: str) -> frozenset[str] | None:
    """A list claim as a set of strings; None when the claim is absent (an empty set when present and empty)."""
    if name not in claims:
        return None
    value = claims.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return None
    return frozenset(str(item) for item in value if isinstance(item, str) and item)


def role_ids_from(*claim_sets: dict[str, t.Any] | None) -> frozenset[str] | None:
    """The directory role template ids in any of the tokens' ``wids`` claims, lower case; None when no token has one."""
    found: set[str] | None = None
    for claims in claim_sets:
        wids = claim_list(claims or {}, 'wids')
        if wids is not None:
            found = (found or set()) | {w.lower() for w in wids}
    return frozenset(found) if found is not None else None


def directory_roles(role_ids: frozenset[str] | None) -> list[dict[str, t.Any]] | None:
    """The roles as ``{id, name}``, named when built in (``name`` null otherwise), sorted by name then id; None when unknown."""
    if role_ids is None:
        return None
    roles = [{'id': role_id, 'name': ROLE_NAMES.get(role_id)} for role_id in role_ids]
    return sorted(roles, key=lambda role: (role['name'] is None, role['name'] or '', role['id']))


def step_enabled(step: Step, settings: dict[str, t.Any] | None = None) -> bool:
    """Whether the role takes ``step`` with the role variables in ``settings`` (those not given keep the role's defaults)."""
    settings = settings or {}
    value = settings.get(step.switch) if step.switch else None
    # Unset (None, or the empty string an older Ansible makes of it): the role's default.
    if value is None or (isinstance(value, str) and not value.strip()):
        return step.default
    if step.switch == 'unblock_email_inbox_rules':
        return str(value).strip().lower() != 'keep'
    if step.switch == 'unblock_email_disable_protocols':
        return bool(value)
    return boolean(value, strict=False)


def _held(need: Need, access: Access) -> bool | None:
    """Whether the app holds ``need``: True, False, or None when that cannot be told."""
    if need.kind == GRAPH:
        if access.graph_permissions is None:
            return None
        return any(p in access.graph_permissions for p in need.any_of)
    if need.kind == EXCHANGE:
        if access.exchange_permissions is not None:
            return any(p in access.exchange_permissions for p in need.any_of)
        # Exchange answered the read, so the permission is there.
        return True if access.probe == PROBE_OK else None
    if access.role_ids is None:
        return None
    return any(ROLE_IDS[name] in access.role_ids for name in need.any_of)


def _exchange_roles_seen(access: Access) -> bool:
    return access.role_ids is not None and any(ROLE_IDS[name] in access.role_ids for name in EXCHANGE_SUPPORTED_ROLES)


def judge(need: Need, access: Access) -> tuple[str, str]:
    """The status of one requirement, ``ok``, ``missing`` or ``unknown``, and for the latter two what to do."""
    manage_as_app = _held(MANAGE_AS_APP, access)
    if need.kind == ROLE and need.exchange:
        # What Exchange answered outranks what the token says.
        if access.probe == PROBE_REFUSED and manage_as_app:
            return MISSING, 'assign %s: Exchange Online refused the app (%s)' % (need.label(), access.probe_message or 'HTTP 403')
        if access.probe == PROBE_OK and need.exchange == 'read':
            return OK, ''
    held = _held(need, access)
    if held:
        return OK, ''
    if held is False:
        if need.kind == ROLE and need.exchange and access.probe == PROBE_OK and not _exchange_roles_seen(access):
            # Exchange let the app in without any Entra role it supports: an Exchange role group grants its access.
            return UNKNOWN, ('Exchange Online grants the app access through an Exchange role group, not an Entra role: check '
                             'that its role groups allow what %s allows' % need.label())
        verb = 'assign' if need.kind == ROLE else 'grant (with admin consent)'
        return MISSING, '%s %s' % (verb, need.label())
    if need.kind == ROLE:
        return UNKNOWN, ("the app's directory roles are not in its token; check in Entra ID that the app holds %s"
                         % need.label().replace('the Entra role ', '', 1).replace(' on the app', ''))
    if need.kind == GRAPH:
        why = access.graph_error or 'no Microsoft Graph token'
    else:
        why = access.exchange_error or access.probe_message or 'no Exchange Online token'
    return UNKNOWN, 'could not tell whether the app holds %s (%s)' % (need.label(), why)


def _missing_name(need: Need) -> str:
    return need.any_of[0]


def evaluate(access: Access, settings: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
    """Every step of the role with its status and what to do.

    A step is ``missing`` when a requirement is known to be absent (except where it applies to some users only:
    then ``unknown``), ``unknown`` when some requirement cannot be told, else ``ok``.
    """
    results = []
    for step in STEPS:
        missing, unknown, actions = [], [], []
        for need in step.needs:
            status, action = judge(need, access)
            if status == MISSING:
                missing.append(_missing_name(need))
            elif status == UNKNOWN:
                unknown.append(_missing_name(need))
            if action and action not in actions:
                actions.append(action)
        warnings = []
        for need, why in step.optional:
            if _held(need, access) is False:
                warnings.append('grant %s: %s' % (need.label(), why))
        if missing and step.only_for:
            status = UNKNOWN
            actions = ['only for %s, whom the role reports as failed without it: %s' % (step.only_for, '; '.join(actions))]
        elif missing:
            status = MISSING
        elif unknown:
            status = UNKNOWN
        else:
            status = OK
        results.append({
            'name': step.name,
            'title': step.title,
            'mode': 'default' if step.default else 'opt-in',
            'enabled': step_enabled(step, settings),
            'module': 'm365ops.remediation.' + step.module,
            'status': status,
            'missing': [] if step.only_for else missing,
            'unknown': unknown + (missing if step.only_for else []),
            'requires': [need.label() for need in step.needs],
            'action': '; '.join(actions + warnings),
            'warnings': warnings,
        })
    return results


def blocking(steps: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The steps the run will take that cannot work (``missing``)."""
    return [step for step in steps if step['enabled'] and step['status'] == MISSING]


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else '%s and %s' % (', '.join(items[:-1]), items[-1])


def blocking_message(steps: list[dict[str, t.Any]]) -> str:
    """One sentence naming what the app lacks for the steps the run takes and which steps need it; empty when nothing."""
    by_name = {step.name: step for step in STEPS}
    needed: dict[str, list[str]] = {}
    for result in blocking(steps):
        step = by_name[result['name']]
        for name in result['missing']:
            need = next((n for n in step.needs if n.any_of[0] == name), None)
            label = need.label() if need else name
            needed.setdefault(label, []).append(result['title'][0].lower() + result['title'][1:])
    if not needed:
        return ''
    return 'the app lacks ' + '; and '.join('%s, needed to %s' % (label, _joined(titles)) for label, titles in needed.items())


def counts(steps: list[dict[str, t.Any]]) -> dict[str, int]:
    """How many steps are ok, missing, unknown, and how many of those the run will take cannot work."""
    out = {OK: 0, MISSING: 0, UNKNOWN: 0}
    for step in steps:
        out[step['status']] += 1
    out['blocking'] = len(blocking(steps))
    return out


def _cell(value: t.Any) -> str:
    return ' '.join(str(value if value is not None else '').split()).replace('|', '\\|')


def render_markdown(report: dict[str, t.Any]) -> str:
    """The preflight's readable report (Markdown): who signed in where, what the app holds, and the step table."""
    title = report.get('label') or report.get('tenant') or report.get('tenant_id') or 'tenant'
    lines = ['# Preflight of %s' % _cell(title), '']
    named = report.get('tenant')
    named = ' (named %s)' % _cell(named) if named and named != report.get('tenant_id') else ''
    lines.append('- Tenant: %s%s' % (_cell(report.get('tenant_id') or 'unknown'), named))
    app = report.get('app_display_name')
    lines.append('- App: %s%s' % (_cell(report.get('client_id') or 'unknown'), ' (%s)' % _cell(app) if app else ''))
    if report.get('checked_at'):
        lines.append('- Checked at: %s' % report['checked_at'])
    for key, api in (('graph_permissions', GRAPH), ('exchange_permissions', EXCHANGE)):
        value = report.get(key)
        shown = ', '.join(value) if value else ('none' if value is not None else 'unknown')
        lines.append('- %s application permissions: %s' % (API_NAMES[api], _cell(shown)))
    roles = report.get('directory_roles')
    if roles is None:
        lines.append("- Entra roles of the app: unknown (the tokens carry no wids claim); check them in Entra ID")
    else:
        named = [r['name'] for r in roles if r.get('name')]
        other = len(roles) - len(named)
        shown = ', '.join(named) or 'none that the role uses'
        if other:
            shown += ' (and %d id%s not among the built-in roles this collection knows)' % (other, 's' if other > 1 else '')
        lines.append('- Entra roles of the app: %s' % _cell(shown))
    probe = report.get('exchange_access') or {}
    said = ': ' + _cell(probe['message']) if probe.get('message') else ''
    lines.append('- Exchange Online (%s): %s%s' % (probe.get('cmdlet') or PROBE_CMDLET, probe.get('status') or 'not tried', said))
    lines += ['', '| Step | Runs | Status | What to do |', '| --- | --- | --- | --- |']
    for step in report.get('steps') or []:
        runs = step['mode'] + ('' if step['enabled'] == (step['mode'] == 'default') else (', on' if step['enabled'] else ', off'))
        lines.append('| %s | %s | %s | %s |' % (_cell(step['title']), runs, step['status'], _cell(step['action']) or '-'))
    tally = report.get('counts') or counts(report.get('steps') or [])
    lines.append('')
    if report.get('blocking_message'):
        lines.append('Result: not ready: %s.' % _cell(report['blocking_message']))
    else:
        lines.append('Result: ready: no step the run takes is known to be impossible (%d ok, %d unknown, %d missing).'
                     % (tally[OK], tally[UNKNOWN], tally[MISSING]))
    return '\n'.join(lines) + '\n'


def requirements_markdown() -> str:
    """The table of steps and what each needs, as docs/preflight.md shows it (a unit test keeps the two equal)."""
    lines = ['| Step | Runs | Switch | Microsoft Graph | Exchange Online | Entra role on the app |', '| --- | --- | --- | --- | --- | --- |']
    for step in STEPS:
        cells: dict[str, list[str]] = {GRAPH: [], EXCHANGE: [], ROLE: []}
        for need in step.needs:
            cells[need.kind].append(' or '.join('`%s`' % name if need.kind != ROLE else name for name in need.any_of))
        for need, why in step.optional:
            cells[need.kind].append('optional: %s (%s)' % (' or '.join('`%s`' % name for name in need.any_of), why))
        title = step.title
        switch = '`%s`' % step.switch if step.switch else 'always'
        needs = ' | '.join('; '.join(cells[kind]) or '-' for kind in (GRAPH, EXCHANGE, ROLE))
        lines.append('| %s | %s | %s | %s |' % (title, 'default' if step.default else 'opt-in', switch, needs))
    return '\n'.join(lines) + '\n'
