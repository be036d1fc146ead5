"""The role's filters give the same decisions whether the plan and reports travel as data or as JSON text."""

from __future__ import annotations

import json

from ansible_collections.m365ops.remediation.plugins.filter.unblock import FilterModule
from ansible_collections.m365ops.remediation.plugins.plugin_utils import unblock

F = FilterModule().filters()
RESTRICTED_AT = '2026-11-20T08:00:00Z'
CONTAINMENT = ['forwarding', 'inbox_rules']


def user(name):
    return {'user': name, 'found': True, 'id': 'id-' + name.split('@')[0], 'user_principal_name': name,
            'primary_smtp_address': name, 'addresses': [name], 'last_password_change': '2026-06-01T00:00:00Z',
            'sign_in_sessions_valid_from': '2026-06-01T00:00:00Z'}


USERS = [user('rob@contoso.com'), user('ann@contoso.com'), user('carl@contoso.com')]
ENTRIES = [{'address': a, 'created': RESTRICTED_AT, 'reason_details': {}} for a in ('rob@contoso.com', 'ann@contoso.com')]
RESULTS = {
    'password': {'results': [{'id': 'id-rob', 'changed': True, 'msg': 'password reset'},
                             {'id': 'id-ann', 'failed': True, 'msg': 'denied'}]},
    'sessions': {'results': [{'id': 'id-rob', 'changed': True}, {'id': 'id-ann', 'changed': True}]},
    'forwarding': {'results': [{'id': 'id-rob', 'changed': False}, {'id': 'id-ann', 'changed': False}]},
    'inbox_rules': {'results': [{'id': 'id-rob', 'changed': True}, {'id': 'id-ann', 'changed': False}]},
}


def test_plan_as_json_keeps_the_steps_in_the_order_they_run():
    text = F['unblock_plan'](USERS, ENTRIES, [], True, True, CONTAINMENT, as_json=True)
    assert isinstance(text, str)
    assert list(json.loads(text)[0]['steps']) == ['password', 'sessions', 'forwarding', 'inbox_rules', 'unblock']
    assert json.loads(text) == unblock.plan(USERS, ENTRIES, [], True, True, CONTAINMENT)


def test_text_and_data_give_the_same_decisions():
    data = F['unblock_plan'](USERS, ENTRIES, [], True, True, CONTAINMENT)
    text = F['unblock_plan'](USERS, ENTRIES, [], True, True, CONTAINMENT, as_json=True)
    assert F['unblock_todo'](text) == F['unblock_todo'](data) == unblock.todo(data)
    folded = F['unblock_fold'](text, RESULTS, False, as_json=True)
    assert F['unblock_pending'](folded, 'unblock', 'address') == ['rob@contoso.com']  # ann's reset failed: stays blocked
    report_text = F['unblock_tenant_report'](folded, 'contoso', 'tid', False, None, '2026-11-23T00:00:00Z', as_json=True)
    report = F['unblock_tenant_report'](F['unblock_fold'](data, RESULTS, False), 'contoso', 'tid', False, None, '2026-11-23T00:00:00Z')
    assert json.loads(report_text) == report
    assert report['steps'] == ['password', 'sessions', 'forwarding', 'inbox_rules', 'unblock']


def test_summaries_take_reports_as_text_or_data():
    report = unblock.tenant_report(unblock.fold(unblock.plan(USERS, ENTRIES), RESULTS), 'contoso', 'tid', False)
    text = json.dumps(report)
    assert F['unblock_run_summary']([text]) == F['unblock_run_summary']([report])
    assert F['unblock_summary_lines']([text]) == F['unblock_summary_lines']([report])
