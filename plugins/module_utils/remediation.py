# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure remediation logic: parsing, normalising, deciding. No I/O here, so all of it is unit-tested directly."""

from __future__ import annotations

import datetime as _dt
import re
import secrets
import string
import typing as t
import unicodedata

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

# After an unblock, Microsoft says sending normally resumes within an hour and at most within 24 hours.
SENDING_BACK_TYPICAL = _dt.timedelta(hours=1)
SENDING_BACK_LATEST = _dt.timedelta(hours=24)

_GUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
# Deliberately simple: one @, a non-empty local part without spaces, a dotted domain. Exchange is the
# authority on what it accepts; this only catches what is certainly not an address before any request.
_ADDRESS = re.compile(r'^[^\s@<>(),;:"\[\]\\]+@[^\s@<>(),;:"\[\]\\]+\.[^\s@<>(),;:"\[\]\\.]+$')
_FRACTION = re.compile(r'(\.\d+)')

PASSWORD_SYMBOLS = '!#$%&()*+,-./:;<=>?@[]^_{|}~'
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


def utcnow() -> _dt.datetime:
    """The current time, timezone-aware in UTC."""
    return _dt.datetime.now(_dt.timezone.utc)


def parse_datetime(value: t.Any) -> _dt.datetime | None:
    """Parse the ISO 8601 forms Graph and Exchange return; None for anything else, never an exception.

    Exchange writes seven fraction digits (``2026-11-20T08:00:00.0000000Z``), which Python's parser
    does not take, so the fraction is cut to microseconds first. A time without a zone is UTC.
    """
    if isinstance(value, _dt.datetime):
        parsed = value
    elif not isinstance(value, str) or not value.strip():
        return None
    else:
        text = value.strip()
        if text.endswith(('Z', 'z')):
            text = text[:-1] + '+00:00'
        text = _FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.astimezone(_dt.timezone.utc)


def isoformat(value: _dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second, as the results report times."""
    if value is None:
        return None
    return value.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')


def is_guid(value: str) -> bool:
    """True for an object id such as Entra ids."""
    return bool(_GUID.match(value or ''))


def normalize_address(value: t.Any) -> str | None:
    """An SMTP address in the form the Restricted Users list is keyed by, or None when it is not one.

    Accepts surrounding blanks, a ``smtp:``/``SMTP:`` prefix (as in proxyAddresses) and any case;
    returns it lower-cased. Non-ASCII local parts and IDN domains are kept as given (lower-cased):
    Exchange decides whether it knows them.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:5].lower() == 'smtp:':
        text = text[5:].strip()
    if not text or len(text) > 320 or not _ADDRESS.match(text) or invisible_character(text):
        return None
    return text.lower()


def invisible_character(text: str) -> str | None:
    """The first invisible character of ``text`` (control, format such as a zero-width space, or a blank other
    than the space) as ``U+XXXX``, or None. Pasted addresses carry them and no address holds one."""
    for char in text:
        if unicodedata.category(char) in ('Cc', 'Cf', 'Zs', 'Zl', 'Zp') and char != ' ':
            return 'U+%04X' % ord(char)
    return None


def address_problem(value: t.Any) -> str:
    """Why ``value`` is not an SMTP address, naming it and saying what to do."""
    text = str(value)
    hidden = invisible_character(text.strip())
    if hidden:
        return "'%s' holds an invisible character (%s), often left by copy and paste: type the address again" % (text, hidden)
    return "'%s' is not an SMTP address (name@domain): correct it or remove it from the list" % text


def split_addresses(values: t.Iterable[t.Any]) -> tuple[list[str], list[dict[str, str]]]:
    """Given addresses as ``(valid, invalid)``: normalised and without repeats, and the rest with a reason."""
    valid: dict[str, None] = {}
    invalid: list[dict[str, str]] = []
    for value in values:
        address = normalize_address(value)
        if address is None:
            invalid.append({'address': str(value), 'msg': address_problem(value)})
        else:
            valid.setdefault(address)
    return list(valid), invalid


def parse_reason(reason: t.Any) -> dict[str, str]:
    """The ``Key=Value`` and ``Key:Value`` pairs of a Restricted Users ``Reason``, parsed leniently.

    Pairs are separated by ``;`` (commas and new lines are accepted too). A part is split at its first
    ``=``, else at its first ``:`` (``Last Spam Message MessagetraceId:<id>``); a part with neither is kept
    under its own text with an empty value; keys and values are stripped; a later duplicate key wins.
    Never raises, whatever the input.
    """
    if not isinstance(reason, str):
        return {}
    details: dict[str, str] = {}
    for part in re.split(r'[;\r\n]+', reason):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition('=') if '=' in part else part.partition(':')
        key = key.strip()
        if not key:
            continue
        details[key] = value.strip() if sep else ''
    return details


def message_trace_id(details: dict[str, str]) -> str | None:
    """The message trace id a parsed ``Reason`` names (a key ending in ``MessagetraceId``, any case), or None."""
    for key, value in details.items():
        if key.replace(' ', '').lower().endswith('messagetraceid') and value:
            return value
    return None


def strip_annotations(value: t.Any) -> t.Any:
    """``value`` without OData annotation keys (any key containing ``@``: ``@odata.type``, ``@odata.context``,
    ``x@odata.type``), in nested dicts and lists too; a new object, ``value`` is left as it is.

    Graph and Exchange objects carry them as protocol control information: results, diffs and reports never
    show them.
    """
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items() if not (isinstance(k, str) and '@' in k)}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


def restricted_entry(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    """One Restricted Users entry in the collection's result shape."""
    created = parse_datetime(raw.get('CreatedDatetime'))
    changed = parse_datetime(raw.get('ChangedDatetime'))
    temporary = raw.get('TemporaryBlock')
    if isinstance(temporary, str):
        temporary = temporary.strip().lower() == 'true'
    details = parse_reason(raw.get('Reason'))
    return {
        'address': normalize_address(raw.get('SenderAddress')) or str(raw.get('SenderAddress') or ''),
        'created': isoformat(created),
        'changed': isoformat(changed),
        'temporary_block': bool(temporary),
        'reason': raw.get('Reason') or '',
        'reason_details': details,
        'message_trace_id': message_trace_id(details),
    }


def sending_expected(unblocked_at: _dt.datetime) -> dict[str, str | None]:
    """When sending should work again after an unblock at the given time."""
    return {
        'sending_expected_by': isoformat(unblocked_at + SENDING_BACK_TYPICAL),
        'sending_expected_at_latest': isoformat(unblocked_at + SENDING_BACK_LATEST),
    }


def is_unblock_limit(error: M365Error) -> bool:
    """Whether an Exchange error says the account was unblocked too many times. A heuristic.

    The service's wording is not documented (``docs/wire-contract.md``): a removal error that is not a
    refusal (throttling is waited out elsewhere) and whose exception type, code or text speaks of a
    ``limit`` together with unblocking, removing, releasing or blocking is taken for it.
    """
    text = ' '.join(str(part) for part in (error.exception_type, error.code, error.message) if part).lower()
    return (error.status != 429 and not error.transient and 'limit' in text
            and any(word in text for word in ('unblock', 'remov', 'release', 'blocked')))


# A removal that found the address gone since the lookup (another admin, or another run, unblocked it).
ALREADY_OFF = 'already_off'
ALREADY_OFF_MSG = 'already off the list: unblocked by someone else after the lookup; nothing to do'


def unblock_result(address: str, entry: dict[str, t.Any], outcome: _dt.datetime | M365Error | str,
                   warnings: t.Sequence[str] = ()) -> dict[str, t.Any]:
    """The per-address result of a removal from the Restricted Users list (``ALREADY_OFF``: found gone), with
    Exchange's warnings said in the message."""
    if isinstance(outcome, M365Error):
        if is_unblock_limit(outcome):
            msg = ('the unblock limit for this account has been reached: Microsoft allows only a few removals from the '
                   'Restricted Users list, and only Microsoft support can lift this one (open a support request). '
                   'Service said: %s' % outcome)
        else:
            msg = 'unblock failed and was not retried (removals are limited): %s' % outcome
        return dict(address=address, changed=False, failed=True, restricted=True, entry=entry, msg=msg, error=outcome.to_dict())
    if outcome == ALREADY_OFF:
        return dict(address=address, changed=False, failed=False, restricted=False, entry=entry, msg=ALREADY_OFF_MSG)
    result = dict(address=address, changed=True, failed=False, restricted=False, entry=entry, msg='unblocked',
                  unblocked_at=isoformat(outcome), **sending_expected(outcome))
    if warnings:
        result['warnings'] = list(warnings)
        result['msg'] = 'unblocked; Exchange warned: %s' % ' '.join(' '.join(str(w).split()) for w in warnings)
    return result


def outcome_unknown(error: M365Error) -> bool:
    """Whether a failed write may nevertheless have been applied: a gateway timeout, or the connection lost
    after the request was sent (the transport says so in its code)."""
    return error.status in (502, 504) or (error.status is None and error.code in ('timeout', 'connection_error'))


def password_error_message(error: M365Error) -> str:
    """A per-user message for a refused password reset, saying what to do."""
    if error.status == 403:
        return ('reset refused: the app may not reset this user\'s password. Graph needs the application permission '
                'User-PasswordProfile.ReadWrite.All (User.ReadWrite.All does not cover passwords) and at least the Entra role '
                'User Administrator on the app; a user who holds an admin role needs Privileged Authentication Administrator. '
                'The account stays blocked. Service said: %s' % error)
    if error.status == 400 and 'complexity' in str(error.message).lower():
        return 'reset refused: the password does not meet the tenant\'s password policy. Service said: %s' % error
    return 'reset failed: %s' % error


def change_diffs(results: list[dict[str, t.Any]], field: str, before: dict[str, t.Any], planned: str | None) -> list[dict[str, t.Any]]:
    """Ansible diffs for the changed items of a user module: ``field`` before and after (or as planned in check mode)."""
    diffs = []
    for result in results:
        if not result.get('changed'):
            continue
        name = result.get('user_principal_name') or result.get('user')
        diffs.append(dict(before_header=name, after_header=name, before={field: before.get(result.get('user'))},
                          after={field: planned or result.get(field)}))
    return diffs


def password_complies(password: str, user_principal_name: str | None = None) -> bool:
    """Entra ID's complexity rule: 8 to 256 characters, three of the four classes, not the account name."""
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return False
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < 3:
        return False
    local = (user_principal_name or '').split('@', 1)[0].lower()
    return not (len(local) >= 3 and local in password.lower())


def generate_password(length: int = 20, user_principal_name: str | None = None) -> str:
    """A password from the operating system's CSPRNG with all four character classes.

    Drawn again (rarely needed) until it passes :func:`password_complies` for that account.
    """
    if length < 16 or length > PASSWORD_MAX_LENGTH:
        raise ValueError('password length must be between 16 and %d' % PASSWORD_MAX_LENGTH)
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS)
    alphabet = ''.join(classes)
    rng = secrets.SystemRandom()
    while True:
        chars = [secrets.choice(group) for group in classes]
        chars += [secrets.choice(alphabet) for dummy in range(length - len(chars))]
        rng.shuffle(chars)
        password = ''.join(chars)
        if password_complies(password, user_principal_name):
            return password


def reset_needed(last_change: t.Any, only_if_changed_before: t.Any) -> bool:
    """Whether a password must be reset, given the idempotency gate.

    Without a gate, always. With one, only when the last change is unknown or earlier than the gate:
    a password changed at or after the moment the account was restricted needs no second reset.
    """
    gate = parse_datetime(only_if_changed_before)
    if gate is None:
        return True
    changed = parse_datetime(last_change)
    return changed is None or changed < gate


def primary_smtp_address(user: dict[str, t.Any]) -> str | None:
    """The primary SMTP address of a Graph user: the ``SMTP:`` proxy address, else ``mail``."""
    for proxy in user.get('proxyAddresses') or ():
        if isinstance(proxy, str) and proxy.startswith('SMTP:'):
            return normalize_address(proxy)
    return normalize_address(user.get('mail'))


def user_addresses(user: dict[str, t.Any]) -> set[str]:
    """Every SMTP address a Graph user receives mail at (primary, aliases, mail, UPN)."""
    found = {normalize_address(p) for p in user.get('proxyAddresses') or () if isinstance(p, str) and p[:5].lower() == 'smtp:'}
    found.add(normalize_address(user.get('mail')))
    found.add(normalize_address(user.get('userPrincipalName')))
    found.discard(None)
    return t.cast(set, found)


def dedupe(items: t.Iterable[str], key: t.Callable[[str], t.Any] = str.lower) -> list[str]:
    """Items in their first order, without repeats that share the same key."""
    seen: set[t.Any] = set()
    out = []
    for item in items:
        k = key(item)
        if k in seen:
            continue
        seen.add(k)
        out.append(item)
    return out


def summarize(results: list[dict[str, t.Any]], noun: str, continue_on_error: bool = False) -> dict[str, t.Any]:
    """The task result of a batch module: changed if any item changed, failed at the end if any item failed."""
    failed = [r for r in results if r.get('failed')]
    changed = any(r.get('changed') for r in results)
    result: dict[str, t.Any] = {'changed': changed, 'results': results}
    if failed:
        first = failed[0]
        label = first.get('user') or first.get('address') or '?'
        msg = '%d of %d %s failed; first: %s: %s' % (len(failed), len(results), noun, label, first.get('msg'))
        result['msg'] = msg
        if not continue_on_error:
            result['failed'] = True
    return result
