"""Mailbox forwarding and protocols: reading Exchange objects and deciding the changes."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.module_utils.resources import mailbox


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
