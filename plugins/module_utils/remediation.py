# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic every part shares: times, SMTP addresses, OData annotations, result summaries. No I/O here.

What belongs to one kind of object (a user's password policy, a Restricted Users entry, an inbox rule) lives in
that object's resource file (``resources/``)."""

from __future__ import annotations

import datetime as _dt
import re
import typing as t
import unicodedata

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error


_GUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
# Deliberately simple: one @, a non-empty local part without spaces, a dotted domain. Exchange is the
# authority on what it accepts; this only catches what is certainly not an address before any request.
_ADDRESS = re.compile(r'^[^\s@<>(),;:"\[\]\\]+@[^\s@<>(),;:"\[\]\\]+\.[^\s@<>(),;:"\[\]\\.]+$')
_FRACTION = re.compile(r'(\.\d+)')


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
    if text.isascii() and text.isprintable():
        # The usual case, at C speed: printable ASCII holds no control character, and its only blank is the space.
        return None
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


def outcome_unknown(error: M365Error) -> bool:
    """Whether a failed write may nevertheless have been applied: a gateway timeout, or the connection lost
    after the request was sent (the transport says so in its code)."""
    return error.status in (502, 504) or (error.status is None and error.code in ('timeout', 'connection_error'))


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
