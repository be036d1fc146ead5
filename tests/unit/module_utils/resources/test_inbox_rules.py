"""Inbox rules: classification and selection."""

from __future__ import annotations

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils.resources import inbox_rules

ROB = {'userPrincipalName': 'rob@contoso.com', 'mail': 'rob@contoso.com',
       'proxyAddresses': ['SMTP:rob@contoso.com', 'smtp:rob@contoso.onmicrosoft.com']}
def _to(*addresses):
    return [{'emailAddress': {'name': a, 'address': a}} for a in addresses]
def _rule(name='Rule', enabled=True, **actions):
    return {'id': 'id-' + name, 'displayName': name, 'sequence': 1, 'isEnabled': enabled, 'conditions': {}, 'actions': actions}


def test_recipients_and_domains():
    assert inbox_rules.recipient_addresses(_to('Exfil@Evil.Example') + [{}, None, {'emailAddress': {}}]) == ['exfil@evil.example']
    assert inbox_rules.recipient_addresses(None) == []
    assert inbox_rules.own_domains(ROB) == {'contoso.com', 'contoso.onmicrosoft.com'}


@pytest.mark.parametrize('name, obscure', [('.', True), ('..', True), (' ', True), (None, True), (',,,', True),
                                           ('Move newsletters', False), ('a', False), ('ä', False)])
def test_obscure_names(name, obscure):
    assert inbox_rules.is_obscure_name(name) is obscure


def test_classify_forwarding_rules():
    domains = inbox_rules.own_domains(ROB)
    external = inbox_rules.classify_rule(_rule('..', forwardTo=_to('exfil@evil.example')), domains)
    assert external['suspicious'] and external['reasons'] == ['forwards', 'obscure_name']
    assert external['forward_to'] == ['exfil@evil.example'] and external['external_recipients'] == ['exfil@evil.example']
    internal = _rule('To Carl', redirectTo=_to('carl@contoso.com'), forwardAsAttachmentTo=_to('ann@contoso.com'))
    assert inbox_rules.classify_rule(internal, domains)['reasons'] == ['forwards_as_attachment', 'redirects']
    relaxed = inbox_rules.classify_rule(internal, domains, internal_forwarding_suspicious=False)
    assert not relaxed['suspicious'] and relaxed['external_recipients'] == []
    mixed = _rule('Mixed', forwardTo=_to('carl@contoso.com', 'x@evil.example'))
    assert inbox_rules.classify_rule(mixed, domains, internal_forwarding_suspicious=False)['reasons'] == ['forwards']


def test_classify_delete_and_move():
    assert inbox_rules.classify_rule(_rule('Tidy', delete=True), ())['reasons'] == ['deletes']
    assert inbox_rules.classify_rule(_rule('Tidy', permanentDelete=True), ())['reasons'] == ['deletes']
    move = _rule('Hide', moveToFolder='F1', markAsRead=True)
    assert inbox_rules.classify_rule(move, (), {'F1': 'RSS Feeds'})['reasons'] == ['moves_to_rarely_used_folder']
    assert inbox_rules.classify_rule(move, (), {'F1': 'rss feeds'}, rarely_used=['RSS FEEDS'])['suspicious']
    assert not inbox_rules.classify_rule(move, (), {'F1': 'Newsletters'})['suspicious']
    # An unknown folder name is not judged.
    unknown = inbox_rules.classify_rule(move, (), {})
    assert not unknown['suspicious'] and unknown['move_to_folder'] == 'F1' and unknown['move_to_folder_name'] is None
    assert unknown['mark_as_read'] and unknown['enabled'] and unknown['name'] == 'Hide'


def test_classify_tolerates_sparse_rules():
    record = inbox_rules.classify_rule({'id': 'x'})
    assert record['suspicious'] and record['reasons'] == ['obscure_name'] and record['conditions'] == {}
    assert not inbox_rules.classify_rule({'id': 'y', 'displayName': 'Plain', 'actions': None})['suspicious']


def test_rule_action():
    bad = inbox_rules.classify_rule(_rule('..', forwardTo=_to('exfil@evil.example')), ())
    good = inbox_rules.classify_rule(_rule('Move newsletters', moveToFolder='F'), (), {'F': 'Newsletters'})
    assert inbox_rules.rule_action(bad, 'disabled', True, [], []) == ('disable', 'suspicious: forwards, obscure_name')
    assert inbox_rules.rule_action(bad, 'absent', True, [], [])[0] == 'delete'
    assert inbox_rules.rule_action(bad, 'disabled', True, [], ['..']) == (None, 'kept: listed in keep')
    assert inbox_rules.rule_action(bad, 'disabled', True, [], ['id-..'])[0] is None
    assert inbox_rules.rule_action(bad, 'disabled', False, [], []) == (None, 'not selected')
    assert inbox_rules.rule_action(good, 'disabled', True, [], []) == (None, 'not selected')
    assert inbox_rules.rule_action(good, 'absent', False, [' MOVE NEWSLETTERS '], []) == ('delete', 'selected by name')
    assert inbox_rules.rule_action(good, 'absent', False, ['move newsletters'], ['Move newsletters'])[0] is None
    disabled = dict(bad, enabled=False)
    assert inbox_rules.rule_action(disabled, 'disabled', True, [], [])[0] is None
    assert inbox_rules.rule_action(disabled, 'absent', True, [], [])[0] == 'delete'


def test_action_key():
    assert inbox_rules.action_key('forwardAsAttachmentTo') == 'forward_as_attachment_to'
    assert inbox_rules.action_key('redirectTo') == 'redirect_to'
