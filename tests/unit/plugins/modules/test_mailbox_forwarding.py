"""mailbox_forwarding: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(users=None), 'missing required arguments: users'),
    (dict(state='present'), 'value of state must be one of: absent, got: present'),
    (dict(max_concurrency='lots'), "argument 'max_concurrency' is of type str and we were unable to convert to int"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('mailbox_forwarding', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('mailbox_forwarding', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_says_which_forwarding_would_be_removed_and_writes_nothing(run_module, state):
    run = run_module('mailbox_forwarding', check_mode=True, diff=True, users=['rob@contoso.com', 'ann@contoso.com'])
    assert run.result['changed'] and not run.failed
    rob, ann = run.result['results']
    assert rob['changed'] and rob['msg'] == 'forwarding to %s would be removed' % seeds.EXFIL_ADDRESS
    assert not ann['changed'] and ann['msg'] == 'no forwarding; nothing to do'
    assert run.result['diff'][0]['before']['forwarding_smtp_address'] == seeds.EXFIL_ADDRESS
    assert run.result['diff'][0]['after'] == dict(forwarding_smtp_address=None, forwarding_address=None, deliver_to_mailbox_and_forward=False)
    run.assert_no_writes()
    assert [verb for service, verb, path in run.requests() if service == 'exchange'] == ['Get-Mailbox'] * 2
    assert state()['mailboxes']['rob@contoso.com']['ForwardingSmtpAddress'] == 'smtp:' + seeds.EXFIL_ADDRESS


def test_check_mode_skips_a_protected_account(run_module):
    run = run_module('mailbox_forwarding', check_mode=True, users=['rob@contoso.com'], protected=[seeds.USER_IDS['rob@contoso.com']])
    assert not run.result['changed'] and run.result['results'][0]['protected']
    # Looked up in Graph only: its mailbox is not even read.
    assert [service for service, verb, path in run.requests() if service == 'exchange'] == []
