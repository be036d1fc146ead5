# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Exchange Online's Restricted Users list: the accounts blocked for sending spam, and unblocking them.

Its two cmdlets, their parameters, the entry's shape and what an answer means live here only.
"""

from __future__ import annotations

import datetime as _dt
import re
import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils.concurrency import run_concurrently
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import NOT_FOUND, WHOLE_LIST_THRESHOLD, error_kind
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem

LOOKUP = 'Get-BlockedSenderAddress'
REMOVAL = 'Remove-BlockedSenderAddress'

# After an unblock, Microsoft says sending normally resumes within an hour and at most within 24 hours.
SENDING_BACK_TYPICAL = _dt.timedelta(hours=1)
SENDING_BACK_LATEST = _dt.timedelta(hours=24)


# A removal that found the address gone since the lookup (another admin, or another run, unblocked it).
ALREADY_OFF = 'already_off'
ALREADY_OFF_MSG = 'already off the list: unblocked by someone else after the lookup; nothing to do'


class RestrictedUsers:
    """One tenant's Restricted Users list, through an :class:`ExchangeClient`."""

    def __init__(self, exchange: t.Any) -> None:
        self.exchange = exchange

    def lookup(self, address: str | None = None) -> list[dict[str, t.Any]]:
        """``Get-BlockedSenderAddress [-SenderAddress]``: the raw entries (all, or for one address)."""
        return self.exchange.invoke(LOOKUP, {'SenderAddress': address} if address else {}).value

    def remove(self, address: str) -> t.Any:
        """``Remove-BlockedSenderAddress -SenderAddress``: the cmdlet's result (its warnings). A write: never sent
        again after an error that is not a refusal, as the number of unblocks is limited.

        No ``-Reason``: Microsoft's reference says it names the reason the account was blocked (the entry's
        ``Reason`` value), so a note of ours would match no entry.
        """
        if not address:
            raise M365Error('A sender address is required', service='exchange', code='invalid_argument')
        return self.exchange.invoke(REMOVAL, {'SenderAddress': address}, write=True)

    def read(self, addresses: t.Sequence[str] | None = None,
             max_workers: int = 4) -> tuple[dict[str, dict[str, t.Any]], dict[str, M365Error]]:
        """The list as ``{address: entry}``, and the lookups that failed as ``{address: error}``.

        Only the given (normalised) addresses when asked. A few addresses are looked up one by one
        (concurrently); many, or none given, take one read of the whole list, which Exchange pages; an
        error reading the whole list is raised, as it concerns every address.
        """
        if addresses is None or len(addresses) > WHOLE_LIST_THRESHOLD:
            listed = {e['address']: e for e in (restricted_entry(raw) for raw in self.lookup())}
            if addresses is not None:
                listed = {a: listed[a] for a in addresses if a in listed}
            return listed, {}
        listed = {}
        errors = {}
        for address, outcome in run_concurrently(self.lookup, addresses, max_workers):
            if isinstance(outcome, M365Error):
                # Exchange answers an address that is not listed with no object; a not-found means the same.
                if error_kind(outcome) != NOT_FOUND:
                    errors[address] = outcome
                continue
            for raw in outcome:
                entry = restricted_entry(raw)
                if entry['address'] == address:
                    listed[address] = entry
        return listed, errors

    def unblock(self, address: str) -> t.Any:
        """Remove ``address`` from the list: ``(time of the removal, Exchange's warnings)``, or ``ALREADY_OFF``.

        A removal answered with not-found (the lookup had found the address) is checked with one more lookup:
        an address that is indeed off the list was unblocked by someone else in the meantime. Any other error,
        or an address still listed, is raised: a removal is never sent twice.
        """
        try:
            answer = self.remove(address)
        except M365Error as error:
            if error_kind(error) != NOT_FOUND:
                raise
            try:
                still = self.lookup(address)
            except M365Error:
                raise error from None
            if any(rem.normalize_address(raw.get('SenderAddress')) == address for raw in still):
                raise
            return ALREADY_OFF
        return rem.utcnow(), list(answer.warnings)


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


def restricted_entry(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    """One Restricted Users entry in the collection's result shape."""
    created = rem.parse_datetime(raw.get('CreatedDatetime'))
    changed = rem.parse_datetime(raw.get('ChangedDatetime'))
    temporary = raw.get('TemporaryBlock')
    if isinstance(temporary, str):
        temporary = temporary.strip().lower() == 'true'
    details = parse_reason(raw.get('Reason'))
    return {
        'address': rem.normalize_address(raw.get('SenderAddress')) or str(raw.get('SenderAddress') or ''),
        'created': rem.isoformat(created),
        'changed': rem.isoformat(changed),
        'temporary_block': bool(temporary),
        'reason': raw.get('Reason') or '',
        'reason_details': details,
        'message_trace_id': message_trace_id(details),
    }


def sending_expected(unblocked_at: _dt.datetime) -> dict[str, str | None]:
    """When sending should work again after an unblock at the given time."""
    return {
        'sending_expected_by': rem.isoformat(unblocked_at + SENDING_BACK_TYPICAL),
        'sending_expected_at_latest': rem.isoformat(unblocked_at + SENDING_BACK_LATEST),
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
                  unblocked_at=rem.isoformat(outcome), **sending_expected(outcome))
    if warnings:
        result['warnings'] = list(warnings)
        result['msg'] = 'unblocked; Exchange warned: %s' % ' '.join(' '.join(str(w).split()) for w in warnings)
    return result
