"""user_auth_method_info: its argument errors come before any request; it only reads, in check mode as well."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(registered_after='20/11/2026'), "registered_after: '20/11/2026' is not an ISO 8601 time such as 2026-11-20T08:00:00Z"),
    (dict(users=None), 'missing required arguments: users'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('user_auth_method_info', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('user_auth_method_info', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_reads_only(run_module):
    run = run_module('user_auth_method_info', check_mode=True, users=['rob@contoso.com'], registered_after=seeds.RESTRICTED_AT)
    assert not run.result['changed'] and not run.failed
    methods = {m['id']: m for m in run.result['results'][0]['methods']}
    assert methods[seeds.ROB_ATTACKER_AUTHENTICATOR_ID]['registered_after'] is True
    assert methods[seeds.ROB_OLD_AUTHENTICATOR_ID]['registered_after'] is False
    assert methods[seeds.ROB_PHONE_METHOD_ID]['registered_after'] is None
    assert all('segment' not in m for m in methods.values())
    run.assert_no_writes()
