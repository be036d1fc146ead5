"""inbox_rule_info: its argument errors come before any request; it only reads, in check mode as well."""

from __future__ import annotations

import pytest
from m365emu import seeds


@pytest.mark.parametrize('args, message', [
    (dict(users=None), 'missing required arguments: users'),
    (dict(suspicious_only='maybe'), "argument 'suspicious_only' is of type str and we were unable to convert to bool"),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run_module('inbox_rule_info', **dict(dict(users=['rob@contoso.com']), **args)).assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run_module('inbox_rule_info', users=['rob@contoso.com'], **options).assert_refused(message)


def test_check_mode_reads_only(run_module):
    run = run_module('inbox_rule_info', check_mode=True, users=['rob@contoso.com'], suspicious_only=True)
    assert not run.result['changed'] and not run.failed
    (rob,) = run.result['results']
    assert rob['suspicious_count'] == 2
    assert [r['name'] for r in rob['rules']] == [seeds.ROB_FORWARD_RULE_NAME, seeds.ROB_HIDE_RULE_NAME]
    run.assert_no_writes()


def test_without_folder_names_only_the_rules_are_read(run_module):
    run = run_module('inbox_rule_info', check_mode=True, users=['rob@contoso.com'], resolve_folders=False)
    assert run.result['results'][0]['suspicious_count'] == 1
    assert not any('/mailFolders/' in path and 'messageRules' not in path for service, verb, path in run.requests() if path)
    run.assert_no_writes()
