"""Graph objects in results (no OData annotation keys) and the order of authentication method removals."""

from __future__ import annotations

import json

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import BatchItemResult
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import auth_methods
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import inbox_rules
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users

REFUSAL = 'Cannot delete default method with other methods configured. Please change default method before deletion.'


def _keys(value):
    """Every dict key anywhere in ``value``."""
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def _method(odata, method_id, **extra):
    return auth_methods.method_record({'@odata.type': '#microsoft.graph.' + odata, 'id': method_id, **extra})


# -- annotations -------------------------------------------------------------------------------------------

def test_strip_annotations_is_recursive_and_pure():
    raw = {'@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity', '@odata.type': '#microsoft.graph.user',
           'id': 'u1', 'createdDateTime@odata.type': '#DateTimeOffset', 'mail': 'rob@contoso.com',
           'actions': {'forwardTo': [{'@odata.type': '#microsoft.graph.recipient', 'emailAddress': {'address': 'x@evil.example'}}]},
           'list': [1, 'a@b', None], 'n': 3}
    before = json.dumps(raw, sort_keys=True)
    clean = rem.strip_annotations(raw)
    assert clean == {'id': 'u1', 'mail': 'rob@contoso.com', 'actions': {'forwardTo': [{'emailAddress': {'address': 'x@evil.example'}}]},
                     'list': [1, 'a@b', None], 'n': 3}
    assert json.dumps(raw, sort_keys=True) == before
    assert rem.strip_annotations(None) is None and rem.strip_annotations('x@y') == 'x@y' and rem.strip_annotations([]) == []


def test_rule_records_carry_no_annotation_keys():
    rule = {'@odata.etag': 'W/"1"', 'id': 'r1', 'displayName': '..', 'sequence': 1, 'isEnabled': True,
            'conditions': {'@odata.type': '#microsoft.graph.messageRulePredicates', 'subjectContains': ['invoice'],
                           'sentToAddresses': [{'@odata.type': '#microsoft.graph.recipient', 'emailAddress': {'address': 'a@b.c'}}]},
            'actions': {'forwardTo': [{'emailAddress': {'address': 'exfil@evil.example'}}], 'stopProcessingRules@odata.type': '#Boolean'}}
    record = inbox_rules.classify_rule(rule, ['contoso.com'])
    assert not any('@' in k for k in _keys(record))
    assert record['conditions'] == {'subjectContains': ['invoice'], 'sentToAddresses': [{'emailAddress': {'address': 'a@b.c'}}]}
    assert record['forward_to'] == ['exfil@evil.example'] and record['suspicious']


def test_method_and_user_records_carry_no_annotation_keys():
    record = auth_methods.method_record({'@odata.type': '#microsoft.graph.phoneAuthenticationMethod', '@odata.context': 'x', 'id': 'p1',
                                         'phoneNumber': '+1 2065550100', 'phoneNumber@odata.type': '#String'})
    assert record['odata_type'] == '#microsoft.graph.phoneAuthenticationMethod' and record['detail'] == '+1 2065550100'
    assert not any('@' in k for k in record)
    user = {'@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users(id,mail)/$entity', '@odata.type': '#microsoft.graph.user',
            'id': 'u1', 'userPrincipalName': 'rob@contoso.com', 'mail': 'rob@contoso.com', 'proxyAddresses': ['SMTP:rob@contoso.com'],
            'proxyAddresses@odata.type': '#Collection(String)', 'lastPasswordChangeDateTime': '2026-06-01T00:00:00Z'}
    shown = users.user_record('rob@contoso.com', user)
    assert not any('@' in k for k in shown) and shown['addresses'] == ['rob@contoso.com']


# -- the default MFA method --------------------------------------------------------------------------------

def test_removal_rounds_put_phones_last():
    phone = _method('phoneAuthenticationMethod', 'p')
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a')
    key = _method('fido2AuthenticationMethod', 'k')
    assert auth_methods.removal_rounds([phone, app, key]) == [[app, key], [phone]]
    assert auth_methods.removal_rounds([phone]) == [[phone]]
    assert auth_methods.removal_rounds([app]) == [[app]]
    assert auth_methods.removal_rounds([]) == []


def test_default_method_refusal_is_recognised_by_its_words():
    refused = M365Error(REFUSAL, service='graph', status=400, code='badRequest')
    assert auth_methods.is_default_method_refusal(refused)
    assert auth_methods.is_default_method_refusal(M365Error(REFUSAL, service='graph', status=400, code='somethingElse'))
    assert not auth_methods.is_default_method_refusal(M365Error('Request Authorization failed', service='graph', status=403, code='accessDenied'))
    assert not auth_methods.is_default_method_refusal(M365Error(REFUSAL, service='graph', status=500))
    assert not auth_methods.is_default_method_refusal(None)
    phone = _method('phoneAuthenticationMethod', 'p', phoneNumber='+1 2065550100')
    said = auth_methods.removal_problem(phone, refused)
    assert said.startswith('phone +1 2065550100: the default MFA phone cannot be deleted while other methods remain; ')
    assert 'make another method' in said and REFUSAL in said
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a', displayName='SM-G998B')
    assert "the user's default MFA method cannot be deleted" in auth_methods.removal_problem(app, refused)
    other = M365Error('Access is denied', service='graph', status=403, code='accessDenied')
    assert auth_methods.removal_problem(app, other) == 'microsoft_authenticator SM-G998B: %s' % other


def test_default_phone_note_for_check_mode():
    def methods(*removing):
        records = [_method('passwordAuthenticationMethod', 'pw'), _method('phoneAuthenticationMethod', 'p', phoneNumber='+1 2065550100'),
                   _method('microsoftAuthenticatorAuthenticationMethod', 'a', displayName='SM-G998B')]
        for record in records:
            record['remove'] = record['id'] in removing
        return records
    assert auth_methods.default_phone_note(methods('p')) == ('phones go last: if phone +1 2065550100 is the default MFA method, Graph refuses '
                                                             'to delete it while 1 other method(s) remain')
    assert auth_methods.default_phone_note(methods('p', 'a')) == ''
    assert auth_methods.default_phone_note(methods('a')) == ''
    assert auth_methods.default_phone_note(methods()) == ''


class FakeGraph:
    """Answers DELETEs of authentication methods like Graph: the default one only when it is the user's last method."""

    def __init__(self, methods, default):
        self.methods, self.default, self.batches = list(methods), default, []

    def batch(self, requests):
        self.batches.append([r['url'].rsplit('/', 1)[-1] for r in requests])
        assert not any(k in r for r in requests for k in ('item', 'round'))
        out = {}
        for request in requests:
            method_id = request['url'].rsplit('/', 1)[-1]
            if method_id == self.default and len(self.methods) > 1:
                out[request['id']] = BatchItemResult(request['id'], 400, {}, {'error': {'code': 'badRequest', 'message': REFUSAL}})
            else:
                self.methods.remove(method_id)
                out[request['id']] = BatchItemResult(request['id'], 204)
        return out


def _remove(graph, chosen):
    pending = [converge.Pending('rob@contoso.com', {'id': 'u1'}, converge.Plan(dict(user='rob@contoso.com', id='u1'), change=chosen, done='removed'))]
    return converge.batch_writes(graph, pending, lambda item: auth_methods.AuthMethods.removal_requests('u1', item.plan.change), 'removals',
                                 retry_when=auth_methods.is_default_method_refusal, explain=auth_methods.removal_problem)['rob@contoso.com']


def test_graph_writes_remove_the_default_phone_last():
    phone = _method('phoneAuthenticationMethod', 'p', phoneNumber='+1 2065550100')
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a')
    graph = FakeGraph(['p', 'a'], default='p')
    outcome = _remove(graph, [phone, app])
    assert graph.batches == [['a'], ['p']] and graph.methods == []
    assert outcome == {'changed': True} and phone['done'] and app['done']


def test_graph_writes_report_a_default_phone_that_others_keep():
    phone = _method('phoneAuthenticationMethod', 'p', phoneNumber='+1 2065550100')
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a')
    graph = FakeGraph(['p', 'a', 'kept'], default='p')
    outcome = _remove(graph, [phone, app])
    assert graph.batches == [['a'], ['p']] and graph.methods == ['p', 'kept']
    assert app['done'] and not phone['done'] and phone['error']['status'] == 400
    assert outcome['changed'] and outcome['failed']
    assert outcome['msg'].startswith('1 removals failed; first: phone +1 2065550100: the default MFA phone cannot be deleted')


def test_graph_writes_retry_a_default_authenticator_once_the_phones_are_gone():
    phone = _method('phoneAuthenticationMethod', 'p')
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a')
    graph = FakeGraph(['p', 'a'], default='a')
    outcome = _remove(graph, [phone, app])
    assert graph.batches == [['a'], ['p'], ['a']] and graph.methods == []
    assert outcome == {'changed': True} and app['done'] and 'error' not in app
    # Nothing changed after the refusal: no second try.
    app = _method('microsoftAuthenticatorAuthenticationMethod', 'a')
    graph = FakeGraph(['a', 'kept'], default='a')
    outcome = _remove(graph, [app])
    assert graph.batches == [['a']] and outcome['failed'] and not outcome['changed']
