"""tenant_info: its argument errors come before any request; it makes no request besides the sign-in, in check mode too."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(users=['rob@contoso.com']), 'Unsupported parameters for (basic.py) module: users'),
    (dict(environment_tenant='deny'), 'value of environment_tenant must be one of: allow, refuse, got: deny'),
    (dict(request_timeout='soon'), "argument 'request_timeout' is of type str and we were unable to convert to float"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('tenant_info', **args).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('tenant_info', **options).assert_refused(message)


@pytest.mark.parametrize('tenant', [seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_DOMAIN])
def test_check_mode_signs_in_only(run_module, tenant):
    run = run_module('tenant_info', check_mode=True, tenant_id=tenant)
    assert not run.result['changed'] and not run.failed
    assert run.result['tenant_id'] == seeds.CONTOSO_TENANT_ID and run.result['tenant'] == tenant
    assert run.result['tenant_source'] == 'option' and run.result['client_id'] == seeds.CONTOSO_CLIENT_ID
    assert {e['service'] for e in run.journal} == {'token'}
    assert run.writes == []
