"""Inbox rules: classification and selection; reading and changing them against the emulator."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from m365emu import seeds
from m365emu.state import folder_id

from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import inbox_rules
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.inbox_rules import InboxRules
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Target

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


# -- against the emulator's Graph v1.0, over real HTTPS -----------------------------------------------------

TENANT = seeds.CONTOSO_TENANT_ID
ROB_ID = seeds.USER_IDS['rob@contoso.com']
NEWSLETTERS = folder_id(ROB_ID, seeds.ROB_NEWSLETTER_FOLDER)
RSS = folder_id(ROB_ID, 'RSS Feeds')


def batches(emulator, since=0):
    return [[(item['method'], item['url']) for item in e['batch_items']]
            for e in emulator.journal(since) if e['service'] == 'graph' and e['path'] == '/v1.0/$batch']


def rules_of(emulator, upn):
    user = next(u for u in emulator.state(TENANT)['users'] if u['userPrincipalName'] == upn)
    return {r['id']: r for r in user['messageRules']}


def test_read_rules_and_folder_names(emulator, graph, target):
    found = InboxRules(graph).read([target('rob@contoso.com'), target('ann@contoso.com')])
    rules, names = found['rob@contoso.com']
    assert [r['displayName'] for r in rules] == [seeds.ROB_NEWSLETTER_RULE_NAME, seeds.ROB_FORWARD_RULE_NAME, seeds.ROB_HIDE_RULE_NAME]
    assert names == {NEWSLETTERS: seeds.ROB_NEWSLETTER_FOLDER, RSS: 'RSS Feeds'}
    assert found['ann@contoso.com'] == ([], {})
    rules_batch, folders_batch = batches(emulator)
    assert rules_batch == [('GET', '/users/%s/mailFolders/inbox/messageRules' % ROB_ID),
                           ('GET', '/users/%s/mailFolders/inbox/messageRules' % seeds.USER_IDS['ann@contoso.com'])]
    assert sorted(folders_batch) == sorted(('GET', '/users/%s/mailFolders/%s?$select=displayName' % (ROB_ID, quote(f, safe='')))
                                           for f in (NEWSLETTERS, RSS))
    records = inbox_rules.records(target('rob@contoso.com').user, found['rob@contoso.com'], inbox_rules.RARELY_USED_FOLDERS, True)
    assert {r['name']: r['reasons'] for r in records} == {
        seeds.ROB_NEWSLETTER_RULE_NAME: [], seeds.ROB_FORWARD_RULE_NAME: ['forwards', 'obscure_name'],
        seeds.ROB_HIDE_RULE_NAME: ['moves_to_rarely_used_folder']}


def test_read_without_folder_names(emulator, graph, target):
    rules, names = InboxRules(graph, resolve_folders=False).read([target('rob@contoso.com')])['rob@contoso.com']
    assert len(rules) == 3 and names == {}
    assert len(batches(emulator)) == 1
    # Without names, a move is not judged: only the forwarding rule is suspicious.
    records = inbox_rules.records(target('rob@contoso.com').user, (rules, names), inbox_rules.RARELY_USED_FOLDERS, True)
    assert [r['name'] for r in records if r['suspicious']] == [seeds.ROB_FORWARD_RULE_NAME]


def test_read_keeps_an_error_per_user(emulator, graph, target):
    ghost = Target('ghost@contoso.com', {'id': '1a0b2c3d-0099-4e5f-8a9b-0c1d2e3f4a99', 'userPrincipalName': 'ghost@contoso.com'})
    found = InboxRules(graph).read([ghost, target('rob@contoso.com')])
    assert isinstance(found['ghost@contoso.com'], M365Error) and found['ghost@contoso.com'].status == 404
    assert len(found['rob@contoso.com'][0]) == 3


def test_change_requests_through_batch_writes(emulator, graph, target):
    rob = target('rob@contoso.com')
    records = inbox_rules.records(rob.user, InboxRules(graph).read([rob])[rob.ref], inbox_rules.RARELY_USED_FOLDERS, True)
    actions = {seeds.ROB_FORWARD_RULE_NAME: 'disable', seeds.ROB_HIDE_RULE_NAME: 'delete'}
    chosen = [dict(r, action=actions[r['name']]) for r in records if r['name'] in actions]
    pending = [converge.Pending(rob.ref, rob.user, converge.Plan({}, change=chosen))]
    mark = emulator.mark()
    outcomes = converge.batch_writes(graph, pending, lambda item: InboxRules.change_requests(item.user['id'], item.plan.change), 'rule changes')
    assert outcomes == {'rob@contoso.com': {'changed': True}}
    assert [r['done'] for r in chosen] == [True, True]
    path = '/users/%s/mailFolders/inbox/messageRules/' % ROB_ID
    # Rule ids are quoted ("=" of their base64).
    assert batches(emulator, mark) == [[('PATCH', path + quote(seeds.ROB_FORWARD_RULE_ID, safe='')),
                                        ('DELETE', path + quote(seeds.ROB_HIDE_RULE_ID, safe=''))]]
    assert '%3D' in batches(emulator, mark)[0][0][1]
    left = rules_of(emulator, 'rob@contoso.com')
    assert left[seeds.ROB_FORWARD_RULE_ID]['isEnabled'] is False
    assert seeds.ROB_HIDE_RULE_ID not in left and seeds.ROB_NEWSLETTER_RULE_ID in left


def test_a_failed_change_marks_its_rule_and_its_user(emulator, graph, target):
    rob = target('rob@contoso.com')
    gone = {'id': 'AQAAAJ5dZzz=', 'name': 'gone', 'action': 'delete'}
    disable = {'id': seeds.ROB_FORWARD_RULE_ID, 'name': seeds.ROB_FORWARD_RULE_NAME, 'action': 'disable'}
    pending = [converge.Pending(rob.ref, rob.user, converge.Plan({}, change=[gone, disable]))]
    outcome = converge.batch_writes(graph, pending, lambda item: InboxRules.change_requests(item.user['id'], item.plan.change),
                                    'rule changes')['rob@contoso.com']
    assert outcome['changed'] and outcome['failed'] and outcome['error']['status'] == 404
    assert outcome['msg'].startswith('1 rule changes failed; first: ')
    assert gone['done'] is False and gone['error']['status'] == 404 and disable['done'] is True
