# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Inbox rules through Microsoft Graph (``messageRules`` of the inbox), and which of them look like an attacker's.

The paths, the folder-name lookups, the request bodies and the rules' classification live here only.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import user_path

# Folders attackers move mail to so that the owner does not see replies, bounces and complaints
# (display names as Exchange creates them in English mailboxes).
RARELY_USED_FOLDERS = ('RSS Feeds', 'RSS Subscriptions', 'Conversation History', 'Archive', 'Deleted Items', 'Junk Email')

# Why a rule is suspicious, in the words the results use.
FORWARD_ACTIONS = (('forwardTo', 'forwards'), ('forwardAsAttachmentTo', 'forwards_as_attachment'), ('redirectTo', 'redirects'))


def rules_path(user_id: str) -> str:
    """The Graph path of a user's inbox rules."""
    return user_path(user_id) + '/mailFolders/inbox/messageRules'


def classification_options() -> dict[str, t.Any]:
    """The options inbox_rule and inbox_rule_info share to classify rules."""
    return dict(
        rarely_used_folders=dict(type='list', elements='str', default=list(RARELY_USED_FOLDERS)),
        internal_forwarding_suspicious=dict(type='bool', default=True),
        resolve_folders=dict(type='bool', default=True),
    )


class InboxRules:
    """The inbox rules of a tenant's users, through a :class:`GraphClient`."""

    def __init__(self, graph: t.Any, resolve_folders: bool = True) -> None:
        self.graph = graph
        self.resolve_folders = resolve_folders

    def read(self, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """Each target's rules with the display names of the folders they move mail to: ``(rules, names)`` or the error.

        Folder names need ``Mail.ReadBasic.All``; a folder that cannot be read keeps a null name (and such a
        move is then not judged), so the rules are still listed with ``MailboxSettings.Read`` alone.
        """
        listed = self.graph.get_collections([rules_path(target.user.get('id')) for target in targets])
        found = {target.ref: rules for target, rules in zip(targets, listed)}
        folders: list[tuple[str, str]] = []
        answers: dict[str, t.Any] = {}
        if self.resolve_folders:
            users = {target.ref: target.user for target in targets}
            folders = sorted({(ref, rule['actions']['moveToFolder']) for ref, rules in found.items() if isinstance(rules, list)
                              for rule in rules if (rule.get('actions') or {}).get('moveToFolder')})
            if folders:
                answers = self.graph.batch([dict(id=str(i), method='GET', url='%s/mailFolders/%s?$select=displayName' % (
                    user_path(users[ref].get('id')), quote(folder, safe=''))) for i, (ref, folder) in enumerate(folders)])
        names: dict[str, dict[str, str | None]] = {ref: {} for ref in found}
        for i, (ref, folder) in enumerate(folders):
            answer = answers[str(i)]
            names[ref][folder] = (answer.body or {}).get('displayName') if answer.ok else None
        return {ref: rules if isinstance(rules, M365Error) else (rules, names[ref]) for ref, rules in found.items()}

    @staticmethod
    def change_requests(user_id: str, records: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The requests that disable (``PATCH isEnabled=false``) or delete each record by its ``action``; each request's
        ``item`` is the record."""
        path = rules_path(user_id)
        return [dict(method='PATCH', url='%s/%s' % (path, quote(str(r['id']), safe='')), body={'isEnabled': False}, item=r)
                if r['action'] == 'disable' else dict(method='DELETE', url='%s/%s' % (path, quote(str(r['id']), safe='')), item=r)
                for r in records]


def records(user: dict[str, t.Any], state: tuple[list[dict[str, t.Any]], dict[str, t.Any]], rarely_used: t.Iterable[str],
            internal_forwarding_suspicious: bool) -> list[dict[str, t.Any]]:
    """A user's inbox rules (as read by :meth:`InboxRules.read`), classified."""
    rules, folder_names = state
    domains = own_domains(user)
    return [classify_rule(rule, domains, folder_names, rarely_used, internal_forwarding_suspicious) for rule in rules]


def recipient_addresses(recipients: t.Any) -> list[str]:
    """The addresses of Graph recipient objects (``{"emailAddress": {"name", "address"}}``), lower case."""
    out = []
    for recipient in recipients or ():
        address = ((recipient or {}).get('emailAddress') or {}).get('address') if isinstance(recipient, dict) else None
        if isinstance(address, str) and address.strip():
            out.append(rem.normalize_address(address) or address.strip())
    return out


def own_domains(user: dict[str, t.Any]) -> set[str]:
    """The domains of a Graph user's own addresses: recipients there count as internal."""
    return {address.rsplit('@', 1)[1] for address in rem.user_addresses(user)}


def is_obscure_name(name: t.Any) -> bool:
    """A rule name without a letter or digit ('.', '..', ',,,', blank): a common mark of attackers' rules."""
    return not any(c.isalnum() for c in str(name or ''))


def classify_rule(rule: dict[str, t.Any], domains: t.Iterable[str] = (), folder_names: dict[str, str | None] | None = None,
                  rarely_used: t.Iterable[str] = RARELY_USED_FOLDERS, internal_forwarding_suspicious: bool = True) -> dict[str, t.Any]:
    """A Graph messageRule in the result shape, with ``suspicious`` and the ``reasons`` why.

    Suspicious: forwarding, forwarding as attachment or redirecting (to anyone, or only outside ``domains``
    when ``internal_forwarding_suspicious`` is false), deleting, moving to a rarely used folder (by display
    name, when ``folder_names`` knows the folder), and a name without letters or digits.
    """
    actions = rule.get('actions') or {}
    domains = {d.lower() for d in domains}
    rarely = {f.lower() for f in rarely_used}
    folder = actions.get('moveToFolder')
    folder_name = (folder_names or {}).get(folder) if folder else None
    record: dict[str, t.Any] = {
        'id': rule.get('id'),
        'name': rule.get('displayName'),
        'sequence': rule.get('sequence'),
        'enabled': bool(rule.get('isEnabled')),
        'conditions': rem.strip_annotations(rule.get('conditions') or {}),
        'move_to_folder': folder,
        'move_to_folder_name': folder_name,
        'delete': bool(actions.get('delete')),
        'permanent_delete': bool(actions.get('permanentDelete')),
        'mark_as_read': bool(actions.get('markAsRead')),
    }
    reasons = []
    external: list[str] = []
    for key, reason in FORWARD_ACTIONS:
        addresses = recipient_addresses(actions.get(key))
        record[action_key(key)] = addresses
        outside = [a for a in addresses if a.rsplit('@', 1)[-1] not in domains]
        external.extend(a for a in outside if a not in external)
        if outside or (addresses and internal_forwarding_suspicious):
            reasons.append(reason)
    if record['delete'] or record['permanent_delete']:
        reasons.append('deletes')
    if folder_name and folder_name.lower() in rarely:
        reasons.append('moves_to_rarely_used_folder')
    if is_obscure_name(record['name']):
        reasons.append('obscure_name')
    record['external_recipients'] = external
    record['suspicious'] = bool(reasons)
    record['reasons'] = reasons
    return record


def action_key(action: str) -> str:
    """The result key of a forwarding action: forwardAsAttachmentTo -> forward_as_attachment_to."""
    return ''.join('_' + c.lower() if c.isupper() else c for c in action)


def matches(record: dict[str, t.Any], refs: t.Iterable[str]) -> bool:
    """Whether a rule is named in ``refs``, by id (exact) or display name (any case, blanks trimmed)."""
    name = str(record.get('name') or '').strip().lower()
    for ref in refs:
        if ref == record.get('id') or (name and str(ref).strip().lower() == name):
            return True
    return False


def rule_action(record: dict[str, t.Any], state: str, suspicious: bool, select: t.Sequence[str],
                keep: t.Sequence[str]) -> tuple[str | None, str]:
    """What to do with one classified rule: ``('disable'|'delete'|None, why)``.

    ``keep`` wins over everything; then a rule is selected when named in ``select`` or, with
    ``suspicious``, when it is suspicious. A selected rule already in the wanted state needs nothing.
    """
    if matches(record, keep):
        return None, 'kept: listed in keep'
    if matches(record, select):
        why = 'selected by name'
    elif suspicious and record['suspicious']:
        why = 'suspicious: ' + ', '.join(record['reasons'])
    else:
        return None, 'not selected'
    if state == 'disabled':
        if not record['enabled']:
            return None, 'already disabled (%s)' % why
        return 'disable', why
    return 'delete', why
