"""mailbox_protocols: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize('args, message', [
    (dict(disable=['pop', 'imap'], enable=['imap', 'pop']), 'protocols both in disable and enable: imap, pop'),
    (dict(disable=[], enable=[]), 'nothing to do: disable and enable are both empty'),
    (dict(disable=['smtp']), 'value of disable must be one or more of: pop, imap, ews, activesync, smtp_auth. Got no match for: smtp'),
    (dict(users=None), 'missing required arguments: users'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('mailbox_protocols', **dict(dict(users=['ann@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('mailbox_protocols', users=['ann@contoso.com'], **options).assert_refused(message)


def test_check_mode_says_which_protocols_would_change_and_writes_nothing(run_module, state):
    run = run_module('mailbox_protocols', check_mode=True, diff=True, users=['ann@contoso.com'])
    assert run.result['changed'] and not run.failed
    (ann,) = run.result['results']
    assert ann['msg'] == 'would turn pop off, imap off, smtp_auth off'
    assert ann['changes'] == {'PopEnabled': False, 'ImapEnabled': False, 'SmtpClientAuthenticationDisabled': True}
    assert run.result['diff'][0]['before'] == {'pop': True, 'imap': True, 'smtp_auth': None}
    run.assert_no_writes()
    assert [verb for service, verb, path in run.requests() if service == 'exchange'] == ['Get-CASMailbox']
    assert state()['mailboxes']['ann@contoso.com']['PopEnabled'] is True


def test_check_mode_with_nothing_to_do(run_module):
    run = run_module('mailbox_protocols', check_mode=True, users=['ann@contoso.com'], disable=[], enable=['pop'])
    assert not run.result['changed'] and run.result['results'][0]['msg'] == 'protocols already as asked; nothing to do'
    run.assert_no_writes()
