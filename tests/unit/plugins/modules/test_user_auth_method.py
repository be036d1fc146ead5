"""user_auth_method: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest
from m365emu import seeds


def method_ids(state, upn='rob@contoso.com'):
    return {m['id'] for m in next(u for u in state()['users'] if u['userPrincipalName'] == upn)['authenticationMethods']}


@pytest.mark.parametrize('args, message', [
    (dict(registered_after='last week'), "registered_after: 'last week' is not an ISO 8601 time such as 2026-11-20T08:00:00Z"),
    (dict(registered_after=None), 'nothing to select: give registered_after or ids'),
    (dict(types=['password']), 'value of types must be one or more of: '),
    (dict(users=None), 'missing required arguments: users'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('user_auth_method', **dict(dict(users=['rob@contoso.com'], registered_after=seeds.RESTRICTED_AT), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('user_auth_method', users=['rob@contoso.com'], registered_after=seeds.RESTRICTED_AT, **options).assert_refused(message)


def test_check_mode_says_which_methods_would_be_removed_and_writes_nothing(run_module, state):
    before = method_ids(state)
    run = run_module('user_auth_method', check_mode=True, diff=True, users=['rob@contoso.com'], registered_after=seeds.RESTRICTED_AT)
    assert run.result['changed'] and not run.failed
    (rob,) = run.result['results']
    assert rob['msg'] == '1 method(s) would be removed: microsoft_authenticator SM-G998B'
    assert [m['id'] for m in rob['methods'] if m['remove']] == [seeds.ROB_ATTACKER_AUTHENTICATOR_ID]
    assert seeds.ROB_ATTACKER_AUTHENTICATOR_ID not in run.result['diff'][0]['after']['methods']
    run.assert_no_writes()
    assert method_ids(state) == before


def test_check_mode_warns_that_a_default_phone_may_be_refused(run_module):
    run = run_module('user_auth_method', check_mode=True, users=['rob@contoso.com'], ids=[seeds.ROB_PHONE_METHOD_ID])
    (rob,) = run.result['results']
    assert rob['msg'].startswith('1 method(s) would be removed: phone +1 2065550100; phones go last: ')
    run.assert_no_writes()
