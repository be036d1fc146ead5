"""Authentication methods: records, selection, removal order and refusals."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.module_utils.resources import auth_methods

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
