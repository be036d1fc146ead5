"""inbox_rule: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest
from m365emu import seeds


def rules(state, upn='rob@contoso.com'):
    return {r['id']: r for r in next(u for u in state()['users'] if u['userPrincipalName'] == upn)['messageRules']}


@pytest.mark.parametrize('args, message', [
    (dict(suspicious=False), 'nothing to select: set suspicious=true or name rules in select'),
    (dict(suspicious=False, select=[]), 'nothing to select: set suspicious=true or name rules in select'),
    (dict(state='enabled'), 'value of state must be one of: disabled, absent, got: enabled'),
    (dict(users=None), 'missing required arguments: users'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('inbox_rule', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('inbox_rule', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_says_which_rules_would_change_and_writes_nothing(run_module, state):
    run = run_module('inbox_rule', check_mode=True, diff=True, users=['rob@contoso.com', 'ann@contoso.com'])
    assert run.result['changed'] and not run.failed
    rob, ann = run.result['results']
    assert rob['msg'] == "2 rule(s) would be disabled: '..', 'Clean up'"
    assert {r['name']: r['action'] for r in rob['rules']} == {
        seeds.ROB_NEWSLETTER_RULE_NAME: None, seeds.ROB_FORWARD_RULE_NAME: 'disable', seeds.ROB_HIDE_RULE_NAME: 'disable'}
    assert not ann['changed'] and ann['msg'] == 'no inbox rule to change'
    assert run.result['diff'][0]['after'] == {seeds.ROB_FORWARD_RULE_NAME: 'disabled', seeds.ROB_HIDE_RULE_NAME: 'disabled'}
    run.assert_no_writes()
    assert all(rule['isEnabled'] is not False for rule in rules(state).values())


def test_check_mode_with_keep_and_select(run_module, state):
    run = run_module('inbox_rule', check_mode=True, state='absent', suspicious=False, users=['rob@contoso.com'],
                     select=['move newsletters', seeds.ROB_FORWARD_RULE_ID], keep=[seeds.ROB_FORWARD_RULE_NAME])
    (rob,) = run.result['results']
    assert rob['msg'] == "1 rule(s) would be deleted: 'Move newsletters'"
    assert rob['kept'] == [seeds.ROB_FORWARD_RULE_NAME]
    run.assert_no_writes()
    assert len(rules(state)) == 3
