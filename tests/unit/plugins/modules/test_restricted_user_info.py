"""restricted_user_info: its argument errors come before any request; it only reads, in check mode as well."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(max_concurrency='lots'), "argument 'max_concurrency' is of type str and we were unable to convert to int"),
    (dict(addresses={'a': 1}), "argument 'addresses' is of type dict and we were unable to convert to list"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('restricted_user_info', **args).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('restricted_user_info', **options).assert_refused(message)


def test_only_invalid_addresses_make_no_request(run_module):
    run = run_module('restricted_user_info', addresses=['not an address'])
    assert not run.failed and run.result['entries'] == [] and run.result['not_restricted'] == []
    assert [i['address'] for i in run.result['invalid']] == ['not an address']
    run.assert_no_request()


def test_check_mode_reads_the_whole_list(run_module):
    run = run_module('restricted_user_info', check_mode=True)
    assert not run.result['changed']
    assert 'rob@contoso.com' in [e['address'] for e in run.result['entries']]
    assert run.result['tenant_id'] == seeds.CONTOSO_TENANT_ID
    run.assert_no_writes()


def test_check_mode_reads_some_addresses(run_module):
    run = run_module('restricted_user_info', check_mode=True, addresses=['Rob@Contoso.com', 'carl@contoso.com', 'bad'])
    assert [e['address'] for e in run.result['entries']] == ['rob@contoso.com']
    assert run.result['not_restricted'] == ['carl@contoso.com'] and run.result['invalid'][0]['address'] == 'bad'
    run.assert_no_writes()
