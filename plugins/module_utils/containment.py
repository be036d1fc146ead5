# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure containment logic for a compromised mailbox: forwarding, inbox rules, protocols, authentication methods.

No I/O here: the modules read the services, these functions decide, and the modules write.
"""

from __future__ import annotations

import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem

# Folders attackers move mail to so that the owner does not see replies, bounces and complaints
# (display names as Exchange creates them in English mailboxes).
RARELY_USED_FOLDERS = ('RSS Feeds', 'RSS Subscriptions', 'Conversation History', 'Archive', 'Deleted Items', 'Junk Email')

# Why a rule is suspicious, in the words the results use.
FORWARD_ACTIONS = (('forwardTo', 'forwards'), ('forwardAsAttachmentTo', 'forwards_as_attachment'), ('redirectTo', 'redirects'))

# Graph's per-type routes for deleting an authentication method, by @odata.type.
METHOD_SEGMENTS = {
    'phoneAuthenticationMethod': 'phoneMethods',
    'emailAuthenticationMethod': 'emailMethods',
    'fido2AuthenticationMethod': 'fido2Methods',
    'microsoftAuthenticatorAuthenticationMethod': 'microsoftAuthenticatorMethods',
    'softwareOathAuthenticationMethod': 'softwareOathMethods',
    'temporaryAccessPassAuthenticationMethod': 'temporaryAccessPassMethods',
    'windowsHelloForBusinessAuthenticationMethod': 'windowsHelloForBusinessMethods',
    'passwordAuthenticationMethod': 'passwordMethods',
}
# Short type names as the modules take and return them.
METHOD_TYPES = {
    'phoneAuthenticationMethod': 'phone',
    'emailAuthenticationMethod': 'email',
    'fido2AuthenticationMethod': 'fido2',
    'microsoftAuthenticatorAuthenticationMethod': 'microsoft_authenticator',
    'softwareOathAuthenticationMethod': 'software_oath',
    'temporaryAccessPassAuthenticationMethod': 'temporary_access_pass',
    'windowsHelloForBusinessAuthenticationMethod': 'windows_hello_for_business',
    'passwordAuthenticationMethod': 'password',
}
REMOVABLE_METHOD_TYPES = tuple(sorted(v for v in METHOD_TYPES.values() if v != 'password'))

# Protocol option names and the Get-/Set-CASMailbox property behind each. SMTP AUTH is the one property
# that says "disabled", and null there means the organisation's setting applies.
PROTOCOLS = {
    'pop': 'PopEnabled',
    'imap': 'ImapEnabled',
    'ews': 'EwsEnabled',
    'activesync': 'ActiveSyncEnabled',
    'smtp_auth': 'SmtpClientAuthenticationDisabled',
}
INVERTED_PROTOCOLS = ('smtp_auth',)

# Graph's 400 answer to deleting a user's default MFA method while other methods remain ("Cannot delete default method
# with other methods configured. Please change default method before deletion."). Known from a public report of the
# answer, not from Microsoft's reference, and without its code: it is recognised by these words alone.
DEFAULT_METHOD_WORDS = 'default method'

FORWARDING_FIELDS = (('ForwardingSmtpAddress', 'forwarding_smtp_address'), ('ForwardingAddress', 'forwarding_address'),
                     ('DeliverToMailboxAndForward', 'deliver_to_mailbox_and_forward'))
FORWARDING_CLEARED = {'ForwardingSmtpAddress': None, 'ForwardingAddress': None, 'DeliverToMailboxAndForward': False}


# -- Graph objects ---------------------------------------------------------------------------------------

# -- mailbox forwarding ----------------------------------------------------------------------------------

def forwarding_record(mailbox: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Get-Mailbox object's forwarding settings in the result shape; ``forwarding`` says whether any is set."""
    record = {name: mailbox.get(field) or None for field, name in FORWARDING_FIELDS[:2]}
    smtp = record['forwarding_smtp_address']
    if isinstance(smtp, str) and smtp[:5].lower() == 'smtp:':
        record['forwarding_smtp_address'] = smtp[5:]
    record['deliver_to_mailbox_and_forward'] = bool(mailbox.get('DeliverToMailboxAndForward'))
    record['forwarding'] = bool(record['forwarding_smtp_address'] or record['forwarding_address'])
    return record


def forwarding_change(mailbox: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The Set-Mailbox parameters that clear a mailbox's forwarding, or None when nothing is set."""
    record = forwarding_record(mailbox)
    if not record['forwarding'] and not record['deliver_to_mailbox_and_forward']:
        return None
    return dict(FORWARDING_CLEARED)


# -- inbox rules -----------------------------------------------------------------------------------------

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


# -- authentication methods ------------------------------------------------------------------------------

def method_record(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Graph authentication method in the result shape (type, id, created time, a readable detail)."""
    odata = str(raw.get('@odata.type') or '').rsplit('.', 1)[-1]
    clean = rem.strip_annotations(raw)
    detail = clean.get('displayName') or clean.get('phoneNumber') or clean.get('emailAddress') or clean.get('model') or None
    return {
        'id': clean.get('id'),
        'type': METHOD_TYPES.get(odata, odata or 'unknown'),
        'odata_type': raw.get('@odata.type'),
        'created': rem.isoformat(rem.parse_datetime(clean.get('createdDateTime'))),
        'detail': detail,
        'segment': METHOD_SEGMENTS.get(odata),
    }


def method_selection(record: dict[str, t.Any], registered_after: t.Any, ids: t.Sequence[str],
                     types: t.Sequence[str], keep: t.Sequence[str]) -> tuple[bool, str]:
    """Whether to remove one method, and why (or why not).

    ``keep`` and the password method are never removed; a method of a type outside ``types`` neither.
    A method listed in ``ids`` is removed; otherwise one created at or after ``registered_after``. A
    method without a creation time (phone, email, software OATH in Graph v1.0) is never removed by time.
    """
    method_id = str(record.get('id') or '').lower()
    if record['type'] == 'password' or not record.get('segment'):
        return False, 'cannot be removed'
    if method_id in {k.lower() for k in keep}:
        return False, 'kept: listed in keep'
    if types and record['type'] not in types:
        return False, 'type not selected'
    if method_id in {i.lower() for i in ids}:
        return True, 'selected by id'
    gate = rem.parse_datetime(registered_after)
    if gate is None:
        return False, 'not selected'
    created = rem.parse_datetime(record.get('created'))
    if created is None:
        return False, 'no registration time known; give its id to remove it'
    if created >= gate:
        return True, 'registered at %s, at or after %s' % (record['created'], rem.isoformat(gate))
    return False, 'registered before %s' % rem.isoformat(gate)


def removal_rounds(chosen: t.Sequence[dict[str, t.Any]]) -> list[list[dict[str, t.Any]]]:
    """The rounds in which to remove a user's chosen methods: every other kind first, phones last.

    Graph refuses to delete a user's default MFA method while the user has other methods, and Microsoft names
    the phone as such a method ("Delete phoneAuthenticationMethod": change the default, then delete the number).
    Graph v1.0 does not say which method is the default, so phones wait until the other removals are answered;
    when those leave no other method, the phone can go too.
    """
    first = [r for r in chosen if r.get('type') != 'phone']
    last = [r for r in chosen if r.get('type') == 'phone']
    return [batch for batch in (first, last) if batch]


def is_default_method_refusal(error: t.Any) -> bool:
    """Whether a failed removal is Graph's refusal to delete the user's default method while others remain."""
    return getattr(error, 'status', None) == 400 and DEFAULT_METHOD_WORDS in str(getattr(error, 'message', '') or '').lower()


def method_label(record: dict[str, t.Any]) -> str:
    """A method in words: its kind and its label (device name, number, address) or id."""
    return '%s %s' % (record.get('type'), record.get('detail') or record.get('id'))


def removal_problem(record: dict[str, t.Any], error: t.Any) -> str:
    """A failed removal in words, saying what to do when Graph refused the user's default method."""
    if is_default_method_refusal(error):
        what = 'the default MFA phone' if record.get('type') == 'phone' else "the user's default MFA method"
        return ("%s: %s cannot be deleted while other methods remain; make another method the user's default sign-in "
                "method (or remove the other methods), then run again. Service said: %s" % (method_label(record), what, error))
    return '%s: %s' % (method_label(record), error)


def default_phone_note(methods: t.Sequence[dict[str, t.Any]]) -> str:
    """What check mode cannot know: whether a phone to remove is the user's default MFA method while other methods stay.

    Empty when no phone is chosen, or when every other method (but the password) goes too.
    """
    phones = [r for r in methods if r.get('remove') and r.get('type') == 'phone']
    staying = [r for r in methods if not r.get('remove') and r.get('type') != 'password']
    if not phones or not staying:
        return ''
    return ('phones go last: if %s is the default MFA method, Graph refuses to delete it while %d other method(s) remain'
            % (', '.join(method_label(r) for r in phones), len(staying)))


# -- protocols -------------------------------------------------------------------------------------------

def protocol_states(cas: dict[str, t.Any]) -> dict[str, bool | None]:
    """Whether each protocol is enabled on a Get-CASMailbox object (None: SMTP AUTH follows the organisation)."""
    states: dict[str, bool | None] = {}
    for name, field in PROTOCOLS.items():
        value = cas.get(field)
        if name in INVERTED_PROTOCOLS:
            states[name] = None if value is None else not value
        else:
            states[name] = None if value is None else bool(value)
    return states


def protocol_changes(cas: dict[str, t.Any], disable: t.Iterable[str], enable: t.Iterable[str]) -> dict[str, bool]:
    """The Set-CASMailbox parameters that bring the protocols to the wanted state ({} when already there)."""
    states = protocol_states(cas)
    changes = {}
    for wanted, names in ((False, disable), (True, enable)):
        for name in names:
            if states[name] is not wanted:
                field = PROTOCOLS[name]
                changes[field] = (not wanted) if name in INVERTED_PROTOCOLS else wanted
    return changes
