"""user_sessions: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest
from m365emu import seeds


def valid_from(state, upn):
    return next(u for u in state()['users'] if u['userPrincipalName'] == upn)['signInSessionsValidFromDateTime']


@pytest.mark.parametrize('args, message', [
    (dict(only_if_valid_from_before='2026-13-01'),
     "only_if_valid_from_before: '2026-13-01' is not an ISO 8601 time such as 2026-11-20T08:00:00Z"),
    (dict(state='active'), 'value of state must be one of: revoked, got: active'),
    (dict(users=None), 'missing required arguments: users'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('user_sessions', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('user_sessions', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_says_whose_sessions_would_be_revoked_and_writes_nothing(run_module, state):
    run = run_module('user_sessions', check_mode=True, diff=True, users=['rob@contoso.com', 'ann@contoso.com', 'nobody@contoso.com'],
                     protected=['ann@contoso.com'], only_if_valid_from_before=seeds.RESTRICTED_AT)
    # The unknown user fails the task at the end; the others are still reported.
    assert run.failed and run.result['msg'].startswith('1 of 3 users failed; first: nobody@contoso.com: user not found')
    results = run.by('user')
    assert results['rob@contoso.com']['changed'] and results['rob@contoso.com']['msg'] == 'sessions would be revoked'
    assert results['ann@contoso.com']['protected']
    assert run.result['diff'][0]['before'] == dict(sign_in_sessions_valid_from=seeds.OLD_CHANGE)
    run.assert_no_writes()
    assert valid_from(state, 'rob@contoso.com') == seeds.OLD_CHANGE


def test_check_mode_honours_only_if_valid_from_before(run_module):
    run = run_module('user_sessions', check_mode=True, users=['rob@contoso.com'], only_if_valid_from_before='2026-01-01T00:00:00+00:00')
    assert not run.result['changed'] and 'not revoked again' in run.result['results'][0]['msg']
    run.assert_no_writes()
