"""user_info: its argument errors come before any request; it only reads, in check mode as well."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(users=None), 'missing required arguments: users'),
    (dict(users='rob@contoso.com', bogus=True), 'Unsupported parameters for (basic.py) module: bogus'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('user_info', **args).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('user_info', users=['rob@contoso.com'], **options).assert_refused(message)


def test_references_that_cannot_name_a_user_fail_without_a_request(run_module):
    """Each unusable reference is marked failed in its own entry (the task itself reports every user)."""
    run = run_module('user_info', users=['not an address', ' '])
    assert [(u['user'], u['found'], u['failed']) for u in run.result['users']] == [('not an address', False, True), ('', False, True)]
    run.assert_no_request()


def test_check_mode_reads_only(run_module):
    run = run_module('user_info', check_mode=True, users=['robert@contoso.com', seeds.USER_IDS['ann@contoso.com'], 'nobody@contoso.com'])
    assert not run.result['changed'] and not run.failed
    rob, ann, nobody = run.result['users']
    assert rob['user_principal_name'] == 'rob@contoso.com' and 'robert@contoso.com' in rob['addresses']
    assert ann['found'] and nobody['found'] is False
    run.assert_no_writes()
