"""app_access_info: its argument errors come before any request; it sends no write, in check mode or not."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(role_settings='not a mapping'), "argument 'role_settings' is of type str and we were unable to convert to dict"),
    (dict(environment_tenant='sometimes'), 'value of environment_tenant must be one of: allow, refuse, got: sometimes'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('app_access_info', **args).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('app_access_info', **options).assert_refused(message)


@pytest.mark.parametrize('check_mode', [True, False])
def test_reads_the_tokens_and_probes_exchange_only(run_module, emulator, check_mode):
    run = run_module('app_access_info', check_mode=check_mode, label='contoso')
    assert not run.result['changed'] and not run.failed
    assert run.result['tenant_id'] == seeds.CONTOSO_TENANT_ID
    assert run.result['exchange_access']['status'] == 'ok'
    assert 'Exchange.ManageAsApp' in run.result['exchange_permissions']
    run.assert_no_writes()
    assert [verb for service, verb, path in run.requests() if service != 'token'] == ['Get-BlockedSenderAddress']
    # The tokens are read, never shown.
    printed = str(run.result)
    assert not [token for token in emulator.issued_tokens() if token in printed]
