"""report_file: its argument errors; it writes in check mode too (a report says what a run would do), and talks to no service."""

from __future__ import annotations

import json
import os
import stat

import pytest


@pytest.mark.parametrize('args, message', [
    (dict(content=None), 'missing required arguments: content'),
    (dict(path=None), 'missing required arguments: path'),
    (dict(append='often'), "argument 'append' is of type str and we were unable to convert to bool"),
    (dict(tenant_id='t'), 'Unsupported parameters for (basic.py) module: tenant_id'),
])
def test_argument_errors(run_module, tmp_path, args, message):
    run = run_module('report_file', connect=False, **dict(dict(path=str(tmp_path / 'report.md'), content='# Report'), **args))
    run.assert_refused(message)
    assert not (tmp_path / 'report.md').exists()


@pytest.fixture
def run_report(run_module):
    """report_file with its own options only (it takes no connection options)."""
    return lambda **args: run_module('report_file', connect=False, **args)


def test_check_mode_writes_the_report(run_report, tmp_path):
    path = tmp_path / 'reports' / 'run.json'
    run = run_report(check_mode=True, path=str(path), content={'users': 1})
    assert not run.failed and not run.result['changed'] and run.result['path'] == str(path)
    assert json.loads(path.read_text(encoding='utf-8')) == {'users': 1}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    run.assert_no_request()


def test_append_adds_a_line(run_report, tmp_path):
    path = tmp_path / 'index.jsonl'
    for n in (1, 2):
        assert not run_report(check_mode=True, path=str(path), content={'run': n}, append=True).failed
    assert [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines()] == [{'run': 1}, {'run': 2}]


def test_a_link_is_never_written_through(run_report, tmp_path):
    target = tmp_path / 'elsewhere.md'
    target.write_text('kept', encoding='utf-8')
    link = tmp_path / 'report.md'
    link.symlink_to(target)
    run = run_report(path=str(link), content='# Report')
    assert run.failed and 'symbolic link' in run.result['msg']
    assert target.read_text(encoding='utf-8') == 'kept'
