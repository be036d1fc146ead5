"""mailbox_forwarding_info: its argument errors come before any request; it only reads, in check mode as well."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(forwarding_only='sometimes'), "argument 'forwarding_only' is of type str and we were unable to convert to bool"),
    (dict(max_concurrency='lots'), "argument 'max_concurrency' is of type str and we were unable to convert to int"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('mailbox_forwarding_info', **args).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('mailbox_forwarding_info', **options).assert_refused(message)


def test_check_mode_reads_every_mailbox(run_module):
    run = run_module('mailbox_forwarding_info', check_mode=True, forwarding_only=True)
    assert not run.result['changed'] and not run.failed
    assert [(r['user'], r['forwarding_smtp_address']) for r in run.result['results']] == [('rob@contoso.com', seeds.EXFIL_ADDRESS)]
    run.assert_no_writes()
    assert [verb for service, verb, path in run.requests() if service == 'exchange'] == ['Get-Mailbox']


def test_check_mode_reads_the_given_users(run_module):
    run = run_module('mailbox_forwarding_info', check_mode=True, users=['robert@contoso.com', 'carl@contoso.com'])
    robert, carl = run.result['results']
    assert robert['forwarding'] and robert['user_principal_name'] == 'rob@contoso.com'
    assert not carl['forwarding']
    run.assert_no_writes()
