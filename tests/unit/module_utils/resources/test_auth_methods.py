"""Authentication methods: records, selection, removal order and refusals; reading and removing them against the emulator."""

from __future__ import annotations

from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils import converge
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import auth_methods
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.auth_methods import AuthMethods
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Target

AUTHENTICATOR = '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod'


def _method(odata, method_id, created=None, **extra):
    raw = {'@odata.type': '#microsoft.graph.' + odata, 'id': method_id, **extra}
    if created:
        raw['createdDateTime'] = created
    return auth_methods.method_record(raw)


def test_method_record():
    record = _method('microsoftAuthenticatorAuthenticationMethod', 'a1', '2026-11-20T09:12:44.1234567Z', displayName='SM-G998B')
    assert record == {'id': 'a1', 'type': 'microsoft_authenticator', 'odata_type': AUTHENTICATOR, 'created': '2026-11-20T09:12:44Z',
                      'detail': 'SM-G998B', 'segment': 'microsoftAuthenticatorMethods'}
    phone = _method('phoneAuthenticationMethod', 'p1', phoneNumber='+1 2065550100')
    assert phone['created'] is None and phone['detail'] == '+1 2065550100' and phone['segment'] == 'phoneMethods'
    odd = auth_methods.method_record({'@odata.type': '#microsoft.graph.platformCredentialAuthenticationMethod', 'id': 'x'})
    assert odd['type'] == 'platformCredentialAuthenticationMethod' and odd['segment'] is None
    assert auth_methods.method_record({})['type'] == 'unknown'


def test_method_selection():
    gate = '2026-11-20T08:00:00Z'
    new = _method('microsoftAuthenticatorAuthenticationMethod', 'NEW', '2026-11-20T09:00:00Z')
    old = _method('fido2AuthenticationMethod', 'old', '2025-01-01T00:00:00Z')
    at = _method('fido2AuthenticationMethod', 'at', gate)
    phone = _method('phoneAuthenticationMethod', 'phone')
    password = _method('passwordAuthenticationMethod', 'pw')
    unknown = auth_methods.method_record({'@odata.type': '#microsoft.graph.platformCredentialAuthenticationMethod', 'id': 'pc',
                                          'createdDateTime': '2026-12-01T00:00:00Z'})
    assert auth_methods.method_selection(new, gate, [], [], [])[0]
    assert auth_methods.method_selection(at, gate, [], [], [])[0]
    assert auth_methods.method_selection(old, gate, [], [], []) == (False, 'registered before 2026-11-20T08:00:00Z')
    assert auth_methods.method_selection(phone, gate, [], [], [])[1].startswith('no registration time')
    assert auth_methods.method_selection(phone, None, ['PHONE'], [], []) == (True, 'selected by id')
    assert auth_methods.method_selection(password, gate, ['pw'], [], []) == (False, 'cannot be removed')
    assert auth_methods.method_selection(unknown, gate, [], [], [])[0] is False
    assert auth_methods.method_selection(new, gate, [], [], ['new']) == (False, 'kept: listed in keep')
    assert auth_methods.method_selection(new, gate, [], ['fido2'], []) == (False, 'type not selected')
    assert auth_methods.method_selection(new, None, [], [], []) == (False, 'not selected')
    assert 'password' not in auth_methods.REMOVABLE_METHOD_TYPES and 'phone' in auth_methods.REMOVABLE_METHOD_TYPES


# -- against the emulator's Graph v1.0, over real HTTPS -----------------------------------------------------

TENANT = seeds.CONTOSO_TENANT_ID
ROB_ID = seeds.USER_IDS['rob@contoso.com']


def batches(emulator, since=0):
    return [[(item['method'], item['url'], item['status']) for item in e['batch_items']]
            for e in emulator.journal(since) if e['service'] == 'graph' and e['path'] == '/v1.0/$batch']


def method_ids(emulator, upn='rob@contoso.com'):
    user = next(u for u in emulator.state(TENANT)['users'] if u['userPrincipalName'] == upn)
    return {m['id'] for m in user['authenticationMethods']}


def remove(graph, rob, chosen):
    pending = [converge.Pending(rob.ref, rob.user, converge.Plan({}, change=chosen))]
    return converge.batch_writes(graph, pending, lambda item: AuthMethods.removal_requests(item.user['id'], item.plan.change), 'removals',
                                 retry_when=auth_methods.is_default_method_refusal, explain=auth_methods.removal_problem)[rob.ref]


def test_read(emulator, graph, target):
    found = AuthMethods(graph).read([target('rob@contoso.com'), target('ann@contoso.com')])
    rob = {r['id']: r for r in found['rob@contoso.com']}
    assert {r['type'] for r in rob.values()} == {'password', 'phone', 'microsoft_authenticator'}
    assert rob[seeds.ROB_ATTACKER_AUTHENTICATOR_ID]['created'] == seeds.ROB_ATTACKER_AUTHENTICATOR_CREATED
    assert rob[seeds.ROB_PHONE_METHOD_ID]['created'] is None and rob[seeds.ROB_PHONE_METHOD_ID]['segment'] == 'phoneMethods'
    assert [r['type'] for r in found['ann@contoso.com']] == ['password']
    (first,) = batches(emulator)
    assert [url for method, url, status in first] == ['/users/%s/authentication/methods' % ROB_ID,
                                                      '/users/%s/authentication/methods' % seeds.USER_IDS['ann@contoso.com']]


def test_read_keeps_an_error_per_user(graph, target):
    ghost = Target('ghost@contoso.com', {'id': '1a0b2c3d-0099-4e5f-8a9b-0c1d2e3f4a99'})
    found = AuthMethods(graph).read([ghost])
    assert isinstance(found['ghost@contoso.com'], M365Error) and found['ghost@contoso.com'].status == 404


def test_removal_rounds_take_phones_last(emulator, graph, target):
    rob = target('rob@contoso.com')
    listed = AuthMethods(graph).read([rob])[rob.ref]
    chosen = [r for r in listed if r['type'] != 'password']
    mark = emulator.mark()
    outcome = remove(graph, rob, chosen)
    assert outcome == {'changed': True}
    assert all(r['done'] for r in chosen)
    first, last = batches(emulator, mark)
    base = '/users/%s/authentication/' % ROB_ID
    assert sorted(first) == sorted([('DELETE', base + 'microsoftAuthenticatorMethods/' + seeds.ROB_OLD_AUTHENTICATOR_ID, 204),
                                    ('DELETE', base + 'microsoftAuthenticatorMethods/' + seeds.ROB_ATTACKER_AUTHENTICATOR_ID, 204)])
    assert last == [('DELETE', base + 'phoneMethods/' + seeds.ROB_PHONE_METHOD_ID, 204)]
    assert method_ids(emulator) == {seeds.PASSWORD_METHOD_ID}


def test_a_default_phone_that_would_leave_other_methods_is_refused_with_what_to_do(emulator, graph, target):
    rob = target('rob@contoso.com')
    listed = AuthMethods(graph).read([rob])[rob.ref]
    chosen = [r for r in listed if r['id'] in (seeds.ROB_PHONE_METHOD_ID, seeds.ROB_ATTACKER_AUTHENTICATOR_ID)]
    outcome = remove(graph, rob, chosen)
    assert outcome['changed'] and outcome['failed'] and outcome['error']['status'] == 400
    assert 'the default MFA phone cannot be deleted while other methods remain' in outcome['msg']
    assert method_ids(emulator) == {seeds.PASSWORD_METHOD_ID, seeds.ROB_PHONE_METHOD_ID, seeds.ROB_OLD_AUTHENTICATOR_ID}


def test_a_default_method_refused_before_the_phones_is_tried_once_more(emulator, graph, target):
    seed = seeds.test_seed()
    rob_seed = next(u for u in seed['tenants'][0]['users'] if u['userPrincipalName'] == 'rob@contoso.com')
    rob_seed['defaultMethodId'] = seeds.ROB_OLD_AUTHENTICATOR_ID
    emulator.reset(seed)
    rob = target('rob@contoso.com')
    chosen = [r for r in AuthMethods(graph).read([rob])[rob.ref] if r['type'] != 'password']
    mark = emulator.mark()
    assert remove(graph, rob, chosen) == {'changed': True}
    rounds = batches(emulator, mark)
    assert [[status for method, url, status in batch] for batch in rounds] in ([[400, 204], [204], [204]], [[204, 400], [204], [204]])
    assert rounds[2][0][1].endswith(seeds.ROB_OLD_AUTHENTICATOR_ID)
    assert method_ids(emulator) == {seeds.PASSWORD_METHOD_ID}


def test_removal_request_paths_are_quoted():
    record = {'id': 'a/b', 'segment': 'fido2Methods', 'type': 'fido2'}
    (request,) = AuthMethods.removal_requests('guest#EXT#@contoso.onmicrosoft.com', [record])
    assert request['url'] == '/users/guest%23EXT%23@contoso.onmicrosoft.com/authentication/fido2Methods/a%2Fb'
    assert request['round'] == 0 and request['item'] is record
