"""run_main: a module's main() run in this process, with what a shipped module's wrapper would report."""

from __future__ import annotations

import json
import sys
import types

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m365ops.remediation.plugins.plugin_utils.in_process import run_main

SECRET = 'client-secret-never-shown'


def params(**args):
    return json.dumps(dict(ANSIBLE_MODULE_ARGS=dict(args, _ansible_check_mode=False))).encode()


@pytest.fixture
def stand_in():
    """Register a module whose main() the test chooses."""
    names = []

    def register(main):
        name = f'stand_in_module_{len(names)}'
        module = types.ModuleType(name)
        module.main = main
        sys.modules[name] = module
        names.append(name)
        return name

    yield register
    for name in names:
        sys.modules.pop(name, None)


def test_a_module_that_exits_gives_its_printed_result(stand_in):
    def main():
        module = AnsibleModule(dict(name=dict(type='str'), token=dict(type='str', no_log=True)))
        module.exit_json(changed=True, name=module.params['name'], echo=f"token {module.params['token']}")

    output, rc = run_main(stand_in(main), params(name='rob', token=SECRET))
    result = json.loads(output)
    assert rc == 0 and result['changed'] and result['name'] == 'rob'
    assert SECRET not in output


def test_argument_errors_fail_as_the_module_says(stand_in):
    def main():
        AnsibleModule(dict(name=dict(type='str', required=True)))

    output, rc = run_main(stand_in(main), params())
    assert rc == 1 and json.loads(output)['msg'] == 'missing required arguments: name'


def test_a_module_that_raises_fails_without_its_secrets(stand_in):
    def main():
        raise ValueError(f'unexpected answer for {SECRET}')

    output, rc = run_main(stand_in(main), params(), {SECRET})
    result = json.loads(output)
    assert rc == 1 and result['failed']
    assert 'ValueError: unexpected answer for' in result['msg'] and SECRET not in output


def test_a_module_that_returns_fails(stand_in):
    def main():
        print('half a result')

    name = stand_in(main)
    output, rc = run_main(name, params())
    assert rc == 1 and json.loads(output) == {'failed': True, 'msg': f'{name} returned without a result'}
