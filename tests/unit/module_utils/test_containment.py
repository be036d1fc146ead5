"""Pure containment logic: forwarding, inbox rule classification and selection, methods, protocols."""

from __future__ import annotations

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils import containment as con

ROB = {'userPrincipalName': 'rob@contoso.com', 'mail': 'rob@contoso.com',
       'proxyAddresses': ['SMTP:rob@contoso.com', 'smtp:rob@contoso.onmicrosoft.com']}


def _to(*addresses):
    return [{'emailAddress': {'name': a, 'address': a}} for a in addresses]


def _rule(name='Rule', enabled=True, **actions):
    return {'id': 'id-' + name, 'displayName': name, 'sequence': 1, 'isEnabled': enabled, 'conditions': {}, 'actions': actions}


def test_forwarding_record_and_change():
    mailbox = {'ForwardingSmtpAddress': 'smtp:exfil@evil.example', 'ForwardingAddress': None, 'DeliverToMailboxAndForward': True}
    record = con.forwarding_record(mailbox)
    assert record == {'forwarding_smtp_address': 'exfil@evil.example', 'forwarding_address': None,
                      'deliver_to_mailbox_and_forward': True, 'forwarding': True}
    assert con.forwarding_change(mailbox) == {'ForwardingSmtpAddress': None, 'ForwardingAddress': None, 'DeliverToMailboxAndForward': False}
    assert con.forwarding_change({'ForwardingSmtpAddress': None, 'ForwardingAddress': '', 'DeliverToMailboxAndForward': False}) is None
    # A leftover DeliverToMailboxAndForward alone is still cleared.
    assert con.forwarding_change({'DeliverToMailboxAndForward': True}) is not None
    assert con.forwarding_record({'ForwardingAddress': 'Carl Berg'})['forwarding']


def test_recipients_and_domains():
    assert con.recipient_addresses(_to('Exfil@Evil.Example') + [{}, None, {'emailAddress': {}}]) == ['exfil@evil.example']
    assert con.recipient_addresses(None) == []
    assert con.own_domains(ROB) == {'contoso.com', 'contoso.onmicrosoft.com'}


@pytest.mark.parametrize('name, obscure', [('.', True), ('..', True), (' ', True), (None, True), (',,,', True),
                                           ('Move newsletters', False), ('a', False), ('ä', False)])
def test_obscure_names(name, obscure):
    assert con.is_obscure_name(name) is obscure


def test_classify_forwarding_rules():
    domains = con.own_domains(ROB)
    external = con.classify_rule(_rule('..', forwardTo=_to('exfil@evil.example')), domains)
    assert external['suspicious'] and external['reasons'] == ['forwards', 'obscure_name']
    assert external['forward_to'] == ['exfil@evil.example'] and external['external_recipients'] == ['exfil@evil.example']
    internal = _rule('To Carl', redirectTo=_to('carl@contoso.com'), forwardAsAttachmentTo=_to('ann@contoso.com'))
    assert con.classify_rule(internal, domains)['reasons'] == ['forwards_as_attachment', 'redirects']
    relaxed = con.classify_rule(internal, domains, internal_forwarding_suspicious=False)
    assert not relaxed['suspicious'] and relaxed['external_recipients'] == []
    mixed = _rule('Mixed', forwardTo=_to('carl@contoso.com', 'x@evil.example'))
    assert con.classify_rule(mixed, domains, internal_forwarding_suspicious=False)['reasons'] == ['forwards']


def test_classify_delete_and_move():
    assert con.classify_rule(_rule('Tidy', delete=True), ())['reasons'] == ['deletes']
    assert con.classify_rule(_rule('Tidy', permanentDelete=True), ())['reasons'] == ['deletes']
    move = _rule('Hide', moveToFolder='F1', markAsRead=True)
    assert con.classify_rule(move, (), {'F1': 'RSS Feeds'})['reasons'] == ['moves_to_rarely_used_folder']
    assert con.classify_rule(move, (), {'F1': 'rss feeds'}, rarely_used=['RSS FEEDS'])['suspicious']
    assert not con.classify_rule(move, (), {'F1': 'Newsletters'})['suspicious']
    # An unknown folder name is not judged.
    unknown = con.classify_rule(move, (), {})
    assert not unknown['suspicious'] and unknown['move_to_folder'] == 'F1' and unknown['move_to_folder_name'] is None
    assert unknown['mark_as_read'] and unknown['enabled'] and unknown['name'] == 'Hide'


def test_classify_tolerates_sparse_rules():
    record = con.classify_rule({'id': 'x'})
    assert record['suspicious'] and record['reasons'] == ['obscure_name'] and record['conditions'] == {}
    assert not con.classify_rule({'id': 'y', 'displayName': 'Plain', 'actions': None})['suspicious']


def test_rule_action():
    bad = con.classify_rule(_rule('..', forwardTo=_to('exfil@evil.example')), ())
    good = con.classify_rule(_rule('Move newsletters', moveToFolder='F'), (), {'F': 'Newsletters'})
    assert con.rule_action(bad, 'disabled', True, [], []) == ('disable', 'suspicious: forwards, obscure_name')
    assert con.rule_action(bad, 'absent', True, [], [])[0] == 'delete'
    assert con.rule_action(bad, 'disabled', True, [], ['..']) == (None, 'kept: listed in keep')
    assert con.rule_action(bad, 'disabled', True, [], ['id-..'])[0] is None
    assert con.rule_action(bad, 'disabled', False, [], []) == (None, 'not selected')
    assert con.rule_action(good, 'disabled', True, [], []) == (None, 'not selected')
    assert con.rule_action(good, 'absent', False, [' MOVE NEWSLETTERS '], []) == ('delete', 'selected by name')
    assert con.rule_action(good, 'absent', False, ['move newsletters'], ['Move newsletters'])[0] is None
    disabled = dict(bad, enabled=False)
    assert con.rule_action(disabled, 'disabled', True, [], [])[0] is None
    assert con.rule_action(disabled, 'absent', True, [], [])[0] == 'delete'


def test_action_key():
    assert con.action_key('forwardAsAttachmentTo') == 'forward_as_attachment_to'
    assert con.action_key('redirectTo') == 'redirect_to'


AUTHENTICATOR = '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod'


def _method(odata, method_id, created=None, **extra):
    raw = {'@odata.type': '#microsoft.graph.' + odata, 'id': method_id, **extra}
    if created:
        raw['createdDateTime'] = created
    return con.method_record(raw)


def test_method_record():
    record = _method('microsoftAuthenticatorAuthenticationMethod', 'a1', '2026-11-20T09:12:44.1234567Z', displayName='SM-G998B')
    assert record == {'id': 'a1', 'type': 'microsoft_authenticator', 'odata_type': AUTHENTICATOR, 'created': '2026-11-20T09:12:44Z',
                      'detail': 'SM-G998B', 'segment': 'microsoftAuthenticatorMethods'}
    phone = _method('phoneAuthenticationMethod', 'p1', phoneNumber='+1 2065550100')
    assert phone['created'] is None and phone['detail'] == '+1 2065550100' and phone['segment'] == 'phoneMethods'
    odd = con.method_record({'@odata.type': '#microsoft.graph.platformCredentialAuthenticationMethod', 'id': 'x'})
    assert odd['type'] == 'platformCredentialAuthenticationMethod' and odd['segment'] is None
    assert con.method_record({})['type'] == 'unknown'


def test_method_selection():
    gate = '2026-11-20T08:00:00Z'
    new = _method('microsoftAuthenticatorAuthenticationMethod', 'NEW', '2026-11-20T09:00:00Z')
    old = _method('fido2AuthenticationMethod', 'old', '2025-01-01T00:00:00Z')
    at = _method('fido2AuthenticationMethod', 'at', gate)
    phone = _method('phoneAuthenticationMethod', 'phone')
    password = _method('passwordAuthenticationMethod', 'pw')
    unknown = con.method_record({'@odata.type': '#microsoft.graph.platformCredentialAuthenticationMethod', 'id': 'pc',
                                 'createdDateTime': '2026-12-01T00:00:00Z'})
    assert con.method_selection(new, gate, [], [], [])[0]
    assert con.method_selection(at, gate, [], [], [])[0]
    assert con.method_selection(old, gate, [], [], []) == (False, 'registered before 2026-11-20T08:00:00Z')
    assert con.method_selection(phone, gate, [], [], [])[1].startswith('no registration time')
    assert con.method_selection(phone, None, ['PHONE'], [], []) == (True, 'selected by id')
    assert con.method_selection(password, gate, ['pw'], [], []) == (False, 'cannot be removed')
    assert con.method_selection(unknown, gate, [], [], [])[0] is False
    assert con.method_selection(new, gate, [], [], ['new']) == (False, 'kept: listed in keep')
    assert con.method_selection(new, gate, [], ['fido2'], []) == (False, 'type not selected')
    assert con.method_selection(new, None, [], [], []) == (False, 'not selected')
    assert 'password' not in con.REMOVABLE_METHOD_TYPES and 'phone' in con.REMOVABLE_METHOD_TYPES


def test_protocols():
    cas = {'PopEnabled': True, 'ImapEnabled': False, 'EwsEnabled': True, 'ActiveSyncEnabled': True, 'SmtpClientAuthenticationDisabled': None}
    assert con.protocol_states(cas) == {'pop': True, 'imap': False, 'ews': True, 'activesync': True, 'smtp_auth': None}
    assert con.protocol_changes(cas, ['pop', 'imap', 'smtp_auth'], []) == {'PopEnabled': False, 'SmtpClientAuthenticationDisabled': True}
    assert con.protocol_changes(cas, [], ['imap', 'smtp_auth']) == {'ImapEnabled': True, 'SmtpClientAuthenticationDisabled': False}
    done = dict(cas, PopEnabled=False, SmtpClientAuthenticationDisabled=True)
    assert con.protocol_changes(done, ['pop', 'imap', 'smtp_auth'], []) == {}
    assert con.protocol_states(done)['smtp_auth'] is False
