"""Mailbox forwarding and protocols: reading Exchange objects and deciding the changes; the reads and writes against the emulator."""

from __future__ import annotations

from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import NOT_FOUND, WHOLE_LIST_THRESHOLD, error_kind
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import mailbox
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.mailbox import Mailboxes


def test_forwarding_record_and_change():
    found = {'ForwardingSmtpAddress': 'smtp:exfil@evil.example', 'ForwardingAddress': None, 'DeliverToMailboxAndForward': True}
    record = mailbox.forwarding_record(found)
    assert record == {'forwarding_smtp_address': 'exfil@evil.example', 'forwarding_address': None,
                      'deliver_to_mailbox_and_forward': True, 'forwarding': True}
    assert mailbox.forwarding_change(found) == {'ForwardingSmtpAddress': None, 'ForwardingAddress': None, 'DeliverToMailboxAndForward': False}
    assert mailbox.forwarding_change({'ForwardingSmtpAddress': None, 'ForwardingAddress': '', 'DeliverToMailboxAndForward': False}) is None
    # A leftover DeliverToMailboxAndForward alone is still cleared.
    assert mailbox.forwarding_change({'DeliverToMailboxAndForward': True}) is not None
    assert mailbox.forwarding_record({'ForwardingAddress': 'Carl Berg'})['forwarding']


def test_protocols():
    cas = {'PopEnabled': True, 'ImapEnabled': False, 'EwsEnabled': True, 'ActiveSyncEnabled': True, 'SmtpClientAuthenticationDisabled': None}
    assert mailbox.protocol_states(cas) == {'pop': True, 'imap': False, 'ews': True, 'activesync': True, 'smtp_auth': None}
    assert mailbox.protocol_changes(cas, ['pop', 'imap', 'smtp_auth'], []) == {'PopEnabled': False, 'SmtpClientAuthenticationDisabled': True}
    assert mailbox.protocol_changes(cas, [], ['imap', 'smtp_auth']) == {'ImapEnabled': True, 'SmtpClientAuthenticationDisabled': False}
    done = dict(cas, PopEnabled=False, SmtpClientAuthenticationDisabled=True)
    assert mailbox.protocol_changes(done, ['pop', 'imap', 'smtp_auth'], []) == {}
    assert mailbox.protocol_states(done)['smtp_auth'] is False


# -- against the emulator's Exchange admin endpoint, over real HTTPS ------------------------------------------

TENANT = seeds.CONTOSO_TENANT_ID
MAILBOX_USERS = ['rob@contoso.com', 'ann@contoso.com', 'carl@contoso.com', 'dana@contoso.com', 'eve.admin@contoso.com',
                 'frank@contoso.onmicrosoft.com', 'gina@contoso.com', 'breakglass@contoso.com']


def cmdlets(emulator, since=0):
    return [(e['cmdlet'], e['write']) for e in emulator.journal(since) if e['service'] == 'exchange']


def mailboxes(emulator):
    return emulator.state(TENANT)['mailboxes']


def test_forwarding_of_a_few_users_one_get_mailbox_each(emulator, exchange, target):
    found = Mailboxes(exchange).forwarding([target('rob@contoso.com'), target('ann@contoso.com')])
    assert mailbox.forwarding_record(found['rob@contoso.com']) == {
        'forwarding_smtp_address': seeds.EXFIL_ADDRESS, 'forwarding_address': None, 'deliver_to_mailbox_and_forward': True, 'forwarding': True}
    assert not mailbox.forwarding_record(found['ann@contoso.com'])['forwarding']
    assert found['ann@contoso.com']['UserPrincipalName'] == 'ann@contoso.com'
    assert cmdlets(emulator) == [('Get-Mailbox', False)] * 2


def test_forwarding_of_many_users_one_filtered_read(emulator, exchange, target):
    targets = [target(upn) for upn in MAILBOX_USERS] + [target('rob@contoso.com', 'robert@contoso.com')]
    assert len(targets) > WHOLE_LIST_THRESHOLD
    found = Mailboxes(exchange).forwarding(targets)
    assert set(found) == set(MAILBOX_USERS) | {'robert@contoso.com'}
    forwarding = sorted(ref for ref, mb in found.items() if mailbox.forwarding_record(mb)['forwarding'])
    assert forwarding == ['rob@contoso.com', 'robert@contoso.com']
    # The others are known to have none, by the filter; each still names its user.
    assert found['carl@contoso.com'] == dict(mailbox.FORWARDING_CLEARED, UserPrincipalName='carl@contoso.com')
    assert cmdlets(emulator) == [('Get-Mailbox', False)]


def test_every_mailbox(emulator, exchange):
    every = Mailboxes(exchange).every_mailbox()
    assert sorted(mb['UserPrincipalName'] for mb in every) == sorted(MAILBOX_USERS)
    assert all('ExternalDirectoryObjectId' in mb for mb in every)
    assert cmdlets(emulator) == [('Get-Mailbox', False)]


def test_clear_forwarding(emulator, exchange, target):
    rob = target('rob@contoso.com')
    found = Mailboxes(exchange).forwarding([rob])
    pending = [converge.Pending(rob.ref, rob.user, converge.Plan({}, change=mailbox.forwarding_change(found[rob.ref])))]
    mark = emulator.mark()
    assert Mailboxes(exchange).clear_forwarding(pending) == {'rob@contoso.com': {}}
    assert mailboxes(emulator)['rob@contoso.com'] == dict(mailboxes(emulator)['rob@contoso.com'], **mailbox.FORWARDING_CLEARED)
    assert cmdlets(emulator, mark) == [('Set-Mailbox', True)]
    again = Mailboxes(exchange).forwarding([rob])[rob.ref]
    assert mailbox.forwarding_change(again) is None


def test_client_access_and_set_protocols(emulator, exchange, target):
    ann, carl = target('ann@contoso.com'), target('carl@contoso.com')
    cas = Mailboxes(exchange).client_access([ann, carl])
    assert mailbox.protocol_states(cas['ann@contoso.com']) == {'pop': True, 'imap': True, 'ews': True, 'activesync': True, 'smtp_auth': None}
    change = mailbox.protocol_changes(cas['ann@contoso.com'], ['pop', 'imap', 'smtp_auth'], [])
    mark = emulator.mark()
    outcome = Mailboxes(exchange).set_protocols([converge.Pending(ann.ref, ann.user, converge.Plan({}, change=change))])
    assert outcome == {'ann@contoso.com': {}}
    assert cmdlets(emulator, mark) == [('Set-CASMailbox', True)]
    state = mailboxes(emulator)
    assert (state['ann@contoso.com']['PopEnabled'], state['ann@contoso.com']['ImapEnabled']) == (False, False)
    assert state['ann@contoso.com']['SmtpClientAuthenticationDisabled'] is True
    assert state['carl@contoso.com']['PopEnabled'] is True
    after = Mailboxes(exchange).client_access([ann])['ann@contoso.com']
    assert mailbox.protocol_changes(after, ['pop', 'imap', 'smtp_auth'], []) == {}


def test_a_user_without_a_mailbox_is_a_not_found(emulator, exchange, target, extended):
    guest, rob = target(extended.guest_upn), target('rob@contoso.com')
    for read in (Mailboxes(exchange).forwarding, Mailboxes(exchange).client_access):
        found = read([guest, rob])
        assert isinstance(found[extended.guest_upn], M365Error)
        assert error_kind(found[extended.guest_upn]) == NOT_FOUND
        assert isinstance(found['rob@contoso.com'], dict)
    pending = [converge.Pending(guest.ref, guest.user, converge.Plan({}, change=dict(mailbox.FORWARDING_CLEARED)))]
    failed = Mailboxes(exchange).clear_forwarding(pending)[extended.guest_upn]
    assert isinstance(failed, M365Error) and error_kind(failed) == NOT_FOUND
    assert extended.guest_upn not in mailboxes(emulator)


def test_a_failed_set_is_kept_per_user(emulator, exchange, target):
    emulator.set_faults([{'service': 'exchange', 'cmdlet': 'Set-CASMailbox', 'status': 500, 'count': 1}])
    ann = target('ann@contoso.com')
    outcome = Mailboxes(exchange, max_workers=1).set_protocols([converge.Pending(ann.ref, ann.user, converge.Plan({}, change={'PopEnabled': False}))])
    assert isinstance(outcome['ann@contoso.com'], M365Error) and outcome['ann@contoso.com'].status == 500
    # A write that failed otherwise than by a refusal is not sent again.
    assert cmdlets(emulator) == [('Set-CASMailbox', True)]
    assert mailboxes(emulator)['ann@contoso.com']['PopEnabled'] is True
