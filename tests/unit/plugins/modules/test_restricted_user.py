"""restricted_user: its argument errors come before any request; check mode only looks up; protected accounts are skipped."""

from __future__ import annotations

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import PROTECTED_MSG

ANN = seeds.USER_IDS['ann@contoso.com']


def listed(state):
    return {e['SenderAddress'] for e in state()['restricted']}


@pytest.mark.parametrize('args, message', [
    (dict(addresses=None), 'missing required arguments: addresses'),
    (dict(state='present'), 'value of state must be one of: absent, got: present'),
    (dict(max_concurrency='lots'), "argument 'max_concurrency' is of type str and we were unable to convert to int"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('restricted_user', **dict(dict(addresses=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('restricted_user', addresses=['rob@contoso.com'], **options).assert_refused(message)


def test_addresses_that_are_not_addresses_fail_without_a_request(run_module):
    run = run_module('restricted_user', addresses=['rob', 'rob@@contoso.com'])
    assert run.failed and [r['address'] for r in run.result['results'] if r['failed']] == ['rob', 'rob@@contoso.com']
    assert run.result['msg'].startswith('2 of 2 addresses failed; first: rob: ')
    run.assert_no_request()


def test_check_mode_says_which_addresses_would_be_unblocked_and_writes_nothing(run_module, state):
    run = run_module('restricted_user', check_mode=True, diff=True, addresses=['SMTP:Rob@Contoso.com', 'carl@contoso.com', 'rob@contoso.com'])
    assert run.result['changed'] and not run.failed
    assert [r['address'] for r in run.result['results']] == ['rob@contoso.com', 'carl@contoso.com']
    rob, carl = run.result['results']
    assert rob['changed'] and rob['msg'] == 'would be unblocked' and rob['entry']['address'] == 'rob@contoso.com'
    assert not carl['changed'] and carl['msg'] == 'not on the Restricted Users list; nothing to do'
    assert run.result['diff'] == [dict(before_header='rob@contoso.com', after_header='rob@contoso.com',
                                       before=dict(restricted=True), after=dict(restricted=False))]
    run.assert_no_writes()
    assert [verb for service, verb, path in run.requests() if service == 'exchange'] == ['Get-BlockedSenderAddress'] * 2
    assert 'rob@contoso.com' in listed(state)


@pytest.mark.parametrize('check_mode', [True, False])
def test_protected_skips_an_address_whose_account_is_protected_by_object_id(run_module, state, check_mode):
    run = run_module('restricted_user', check_mode=check_mode, addresses=['ann@contoso.com', 'rob@contoso.com'], protected=[ANN])
    assert not run.failed and run.result['changed']
    ann, rob = run.result['results']
    assert ann == dict(address='ann@contoso.com', changed=False, failed=False, skipped=True, protected=True, msg=PROTECTED_MSG)
    assert rob['changed']
    # ann is never looked up on the list, let alone removed from it.
    assert [verb for service, verb, path in run.requests() if service == 'exchange'] == (
        ['Get-BlockedSenderAddress'] if check_mode else ['Get-BlockedSenderAddress', 'Remove-BlockedSenderAddress'])
    assert 'ann@contoso.com' in listed(state)
    assert ('rob@contoso.com' in listed(state)) is check_mode
    if check_mode:
        run.assert_no_writes()
    else:
        assert [w['cmdlet'] for w in run.writes] == ['Remove-BlockedSenderAddress']
