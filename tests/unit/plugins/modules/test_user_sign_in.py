"""user_sign_in: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest
from m365emu import seeds

ROB = seeds.USER_IDS['rob@contoso.com']


def enabled(state, upn):
    return next(u for u in state()['users'] if u['userPrincipalName'] == upn)['accountEnabled']


@pytest.mark.parametrize('args, message', [
    (dict(state='disabled'), 'value of state must be one of: blocked, allowed, got: disabled'),
    (dict(users=None), 'missing required arguments: users'),
    (dict(continue_on_error='perhaps'), "argument 'continue_on_error' is of type str and we were unable to convert to bool"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('user_sign_in', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('user_sign_in', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_says_whose_sign_in_would_change_and_writes_nothing(run_module, state):
    run = run_module('user_sign_in', check_mode=True, diff=True, state='blocked',
                     users=[ROB, 'dana@contoso.com', 'breakglass@contoso.com'], protected=['breakglass@contoso.com'],
                     continue_on_error=True)
    assert run.result['changed'] and not run.failed
    results = run.by('user')
    assert results[ROB]['msg'] == 'sign-in would be blocked' and results[ROB]['account_enabled'] is False
    assert results['dana@contoso.com']['failed'] and 'on-premises' in results['dana@contoso.com']['msg']
    assert results['breakglass@contoso.com']['protected']
    assert run.result['diff'] == [dict(before_header='rob@contoso.com', after_header='rob@contoso.com',
                                       before=dict(account_enabled=True), after=dict(account_enabled=False))]
    run.assert_no_writes()
    assert enabled(state, 'rob@contoso.com') is True


def test_check_mode_with_nothing_to_do(run_module):
    run = run_module('user_sign_in', check_mode=True, state='allowed', users=['rob@contoso.com'])
    assert not run.result['changed'] and run.result['results'][0]['msg'] == 'sign-in already allowed; nothing to do'
    run.assert_no_writes()
