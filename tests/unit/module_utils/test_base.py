"""The module base: a protected value that reaches the result is masked, and only those are handed to Ansible."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from ansible.module_utils import basic

from ansible_collections.m365ops.remediation.plugins.module_utils import base

SECRET = 'Gen3rated-Pa55word-Never-Shown'


def run_module(work, protected=()):
    """Run ``work`` through M365Module as Ansible would, and return the printed result."""
    params = dict(ANSIBLE_MODULE_ARGS=dict(tenant_id='t', client_id='c', users=['a@contoso.com'], _ansible_check_mode=False))
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = json.dumps(params).encode(), 'legacy'  # pylint: disable=protected-access
    out = io.StringIO()
    m = None
    with redirect_stdout(out), pytest.raises(SystemExit):
        m = base.M365Module(dict(users=dict(type='list', elements='str', required=True)))
        m.protect(*protected)
        m.run(lambda: work(m))
    return json.loads(out.getvalue()), m


def test_a_protected_value_in_the_result_is_masked():
    result, m = run_module(lambda m: dict(changed=True, msg=f'the service said {SECRET}', nested={'list': [SECRET]}),
                           protected=[SECRET, 'never-in-the-result'])
    assert SECRET not in json.dumps(result)
    assert result['msg'] == 'the service said ********'
    assert SECRET in m.module.no_log_values and 'never-in-the-result' not in m.module.no_log_values


def test_a_failure_is_masked_too():
    result = run_module(lambda m: dict(changed=False, failed=True, msg=f'rejected {SECRET}'), protected=[SECRET])[0]
    assert result['failed'] and result['msg'] == 'rejected ********'


def test_strings_sees_keys_values_and_scalars():
    assert sorted(base._strings({'k': ['a', 1, None, {'n': True}]})) == sorted(['k', 'a', '1', 'n', 'True'])  # pylint: disable=protected-access


def test_an_exit_straight_through_the_ansible_module_is_masked_too():
    def work(m):
        m.module.fail_json(msg=f'could not write the password file for {SECRET}')

    result = run_module(work, protected=[SECRET])[0]
    assert result['failed'] and SECRET not in json.dumps(result)
