"""The record unblock_email runs keep: run folders, the index of runs, what earlier runs unblocked."""

from __future__ import annotations

import datetime
import json

from ansible_collections.m365ops.remediation.plugins.plugin_utils import run_record

TENANT = '6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a'
OTHER = '0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70'
NOW = datetime.datetime(2026, 12, 2, 16, 15, 0, 123, tzinfo=datetime.timezone.utc)


def report(*users, tenant_id=TENANT, failed=False):
    return {'tenant': 'contoso', 'tenant_id': tenant_id, 'failed': failed, 'error': None,
            'counts': {'users': len(users), 'unblocked': sum(1 for dummy, status in users if status == 'done'), 'steps': {'password': 1}},
            'users': [{'address': address, 'steps': {'unblock': {'status': status}}} for address, status in users]}


def test_run_folder_named_by_time_and_id_check_marked():
    apply = run_record.new_run(False, now=NOW, run_id='3f9a1c')
    assert apply == {'id': '3f9a1c', 'started_at': '2026-12-02T16:15:00Z', 'check_mode': False, 'folder': '20261202T161500Z-3f9a1c'}
    assert run_record.new_run(True, now=NOW, run_id='3f9a1c')['folder'] == '20261202T161500Z-3f9a1c-check'


def test_run_ids_differ_between_runs_of_one_second():
    ids = {run_record.new_run(False, now=NOW)['folder'] for dummy in range(200)}
    assert len(ids) == 200


def test_index_line_names_the_run_and_what_it_unblocked():
    run = run_record.new_run(False, now=NOW, run_id='aaaaaa')
    text = run_record.index_line(json.dumps(report(('Rob@Contoso.com', 'done'), ('ann@contoso.com', 'failed'))), run)
    assert text.endswith('\n') and text.count('\n') == 1
    line = json.loads(text)
    assert line['time'] == '2026-12-02T16:15:00Z' and line['mode'] == 'apply' and line['folder'] == run['folder']
    assert line['tenant'] == 'contoso' and line['tenant_id'] == TENANT
    assert line['counts'] == {'users': 2, 'unblocked': 1}
    assert line['unblocked'] == ['rob@contoso.com']


def test_check_run_unblocks_nothing_in_the_index():
    run = run_record.new_run(True, now=NOW, run_id='bbbbbb')
    line = json.loads(run_record.index_line(report(('rob@contoso.com', 'would_do')), run))
    assert line['mode'] == 'check' and line['unblocked'] == []


def test_earlier_unblocks_of_one_tenant_from_apply_runs_only():
    first = run_record.new_run(False, now=NOW, run_id='111111')
    later = run_record.new_run(False, now=NOW + datetime.timedelta(hours=1), run_id='222222')
    index = ''.join([
        run_record.index_line(report(('rob@contoso.com', 'done')), first),
        'not json\n',
        run_record.index_line(report(('rob@contoso.com', 'done'), ('ann@contoso.com', 'done')), later),
        run_record.index_line(report(('nina@northwind.com', 'done'), tenant_id=OTHER), first),
        run_record.index_line(report(('carl@contoso.com', 'would_do')), run_record.new_run(True, now=NOW)),
    ])
    found = run_record.earlier_unblocks(index, TENANT.upper())
    assert found == {'rob@contoso.com': '2026-12-02T17:15:00Z', 'ann@contoso.com': '2026-12-02T17:15:00Z'}
    assert run_record.earlier_unblocks('', TENANT) == {}
    assert run_record.earlier_unblocks(index, '') == {}


def test_namesakes():
    ids = {'contoso': TENANT, 'contoso-by-domain': TENANT.upper(), 'fabrikam': OTHER, 'broken': ''}
    assert run_record.namesakes(ids, 'contoso') == ['contoso', 'contoso-by-domain']
    assert run_record.namesakes(ids, 'fabrikam') == ['fabrikam']
    assert run_record.namesakes(ids, 'broken') == []


def test_index_lines_of_a_run():
    run = run_record.new_run(False, now=NOW, run_id='cccccc')
    text = run_record.index_lines([report(('rob@contoso.com', 'done')), report(tenant_id=OTHER)], run)
    assert [json.loads(line)['tenant_id'] for line in text.splitlines()] == [TENANT, OTHER]
