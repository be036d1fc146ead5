# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Exchange Online mailboxes: their forwarding (Get-/Set-Mailbox) and their protocols (Get-/Set-CASMailbox).

The cmdlets, their parameters and what their objects mean live here only.
"""

from __future__ import annotations

import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils.concurrency import run_concurrently
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import WHOLE_LIST_THRESHOLD

MAILBOX = ('Get-Mailbox', 'Set-Mailbox')
CLIENT_ACCESS = ('Get-CASMailbox', 'Set-CASMailbox')

# Mailboxes with any forwarding, in Exchange's server-side filter syntax (the usual admin query).
FORWARDING_FILTER = 'ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null -or DeliverToMailboxAndForward -eq $true'

FORWARDING_FIELDS = (('ForwardingSmtpAddress', 'forwarding_smtp_address'), ('ForwardingAddress', 'forwarding_address'),
                     ('DeliverToMailboxAndForward', 'deliver_to_mailbox_and_forward'))
FORWARDING_CLEARED = {'ForwardingSmtpAddress': None, 'ForwardingAddress': None, 'DeliverToMailboxAndForward': False}

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


class Mailboxes:
    """One tenant's mailboxes, through an :class:`ExchangeClient`, at most ``max_workers`` cmdlets at once."""

    def __init__(self, exchange: t.Any, max_workers: int = 4) -> None:
        self.exchange = exchange
        self.max_workers = max_workers

    def _each(self, cmdlet: str, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """``cmdlet -Identity <UPN>`` for each target, concurrently: the first object, or the error."""
        def get(target: t.Any) -> dict[str, t.Any]:
            upn = target.user.get('userPrincipalName')
            value = self.exchange.invoke(cmdlet, {'Identity': upn}).value
            if not value:
                raise M365Error("%s returned nothing for '%s': the user has no Exchange Online mailbox" % (cmdlet, upn),
                                service='exchange', status=404, code='NotFound', exception_type='ManagementObjectNotFoundException')
            return value[0]
        return {target.ref: outcome for target, outcome in run_concurrently(get, targets, self.max_workers)}

    def _set(self, cmdlet: str, pending: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """``cmdlet -Identity <UPN>`` with each plan's change as parameters, concurrently: ``{}`` or the error."""
        def put(item: t.Any) -> dict[str, t.Any]:
            self.exchange.invoke(cmdlet, dict(item.plan.change, Identity=item.user.get('userPrincipalName')))
            return {}
        return {item.ref: outcome for item, outcome in run_concurrently(put, pending, self.max_workers)}

    # -- forwarding -----------------------------------------------------------------------------------

    def forwarding(self, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """Each target's mailbox (its forwarding fields): one ``Get-Mailbox`` each for a few users, else one filtered read.

        Each Exchange call counts against the tenant's throttling budget, so for many users one
        ``Get-Mailbox -Filter`` returns just the mailboxes that forward; the others are known to have none.
        """
        if len(targets) <= WHOLE_LIST_THRESHOLD:
            return self._each(MAILBOX[0], targets)
        forwarding = self.exchange.invoke(MAILBOX[0], {'ResultSize': 'Unlimited', 'Filter': FORWARDING_FILTER}).value
        by_id = {str(mb.get('ExternalDirectoryObjectId') or '').lower(): mb for mb in forwarding}
        clean = dict(ForwardingSmtpAddress=None, ForwardingAddress=None, DeliverToMailboxAndForward=False)
        return {target.ref: by_id.get(str(target.user.get('id')).lower(), dict(clean, UserPrincipalName=target.user.get('userPrincipalName')))
                for target in targets}

    def every_mailbox(self) -> list[dict[str, t.Any]]:
        """Every mailbox of the tenant (``Get-Mailbox -ResultSize Unlimited``), paged by Exchange."""
        return self.exchange.invoke(MAILBOX[0], {'ResultSize': 'Unlimited'}).value

    def clear_forwarding(self, pending: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """``Set-Mailbox`` with each plan's change (:func:`forwarding_change`)."""
        return self._set(MAILBOX[1], pending)

    # -- protocols ------------------------------------------------------------------------------------

    def client_access(self, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """Each target's ``Get-CASMailbox`` object."""
        return self._each(CLIENT_ACCESS[0], targets)

    def set_protocols(self, pending: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """``Set-CASMailbox`` with each plan's change (:func:`protocol_changes`)."""
        return self._set(CLIENT_ACCESS[1], pending)


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
