"""The unblock_email role's decisions, as pure functions."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.plugin_utils import unblock

RESTRICTED_AT = '2026-11-20T08:00:00Z'


def user(name, found=True, **extra):
    record = {'user': name, 'found': found}
    if found:
        record.update(id='id-' + name.split('@')[0], user_principal_name=name, primary_smtp_address=name, addresses=[name],
                      last_password_change='2026-06-01T00:00:00Z', sign_in_sessions_valid_from='2026-06-01T00:00:00Z',
                      on_premises_sync_enabled=False)
    record.update(extra)
    return record


def entry(address):
    return {'address': address, 'created': RESTRICTED_AT, 'reason_details': {'OutboundSpamPercent': '27'}}


def statuses(item):
    return {name: item['steps'][name]['status'] for name in unblock.STEPS}


def test_plan_cases():
    users = [
        user('rob@contoso.com'),
        user('frank@contoso.onmicrosoft.com', primary_smtp_address='frank@contoso.com',
             addresses=['frank@contoso.com', 'frank@contoso.onmicrosoft.com']),
        user('carl@contoso.com'),
        user('dana@contoso.com', on_premises_sync_enabled=True),
        user('ann@contoso.com', last_password_change='2026-11-21T00:00:00Z'),
        user('ghost@contoso.com', found=False, msg='user not found'),
        user('nobody@contoso.com', found=False, msg='user not found'),
        user('breakglass@contoso.com'),
    ]
    entries = [entry(a) for a in ('rob@contoso.com', 'frank@contoso.com', 'dana@contoso.com', 'ann@contoso.com',
                                  'ghost@contoso.com', 'breakglass@contoso.com')]
    plan = {i['user']: i for i in unblock.plan(users, entries, protected=['BreakGlass@contoso.com'])}
    assert statuses(plan['rob@contoso.com']) == {'password': 'todo', 'sessions': 'todo', 'unblock': 'todo'}
    assert plan['frank@contoso.onmicrosoft.com']['address'] == 'frank@contoso.com'
    assert plan['frank@contoso.onmicrosoft.com']['restricted_at'] == RESTRICTED_AT
    assert statuses(plan['carl@contoso.com']) == dict.fromkeys(unblock.STEPS, 'skipped')
    assert statuses(plan['dana@contoso.com']) == {'password': 'failed', 'sessions': 'todo', 'unblock': 'skipped'}
    assert statuses(plan['ann@contoso.com']) == {'password': 'already_done', 'sessions': 'todo', 'unblock': 'todo'}
    assert statuses(plan['ghost@contoso.com']) == dict.fromkeys(unblock.STEPS, 'failed')
    assert 'cannot be reset' in plan['ghost@contoso.com']['steps']['unblock']['msg']
    assert statuses(plan['nobody@contoso.com']) == dict.fromkeys(unblock.STEPS, 'failed')
    assert plan['breakglass@contoso.com']['protected']
    assert statuses(plan['breakglass@contoso.com']) == dict.fromkeys(unblock.STEPS, 'skipped')
    assert unblock.pending(list(plan.values()), 'unblock', 'address') == ['rob@contoso.com', 'frank@contoso.com', 'ann@contoso.com']


def test_steps_turned_off():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], reset_password=False, revoke_sessions=False)
    assert statuses(plan[0]) == {'password': 'skipped', 'sessions': 'skipped', 'unblock': 'todo'}


def test_apply_and_withhold_unblock_on_failed_reset():
    plan = unblock.plan([user('rob@contoso.com'), user('eve@contoso.com')], [entry('rob@contoso.com'), entry('eve@contoso.com')])
    result = {'results': [{'user': 'id-rob', 'id': 'id-rob', 'changed': True, 'msg': 'password reset'},
                          {'user': 'id-eve', 'id': 'id-eve', 'failed': True, 'msg': 'reset refused'}]}
    plan = unblock.apply(plan, 'password', result)
    assert statuses(plan[0])['password'] == 'done'
    assert statuses(plan[1]) == {'password': 'failed', 'sessions': 'todo', 'unblock': 'skipped'}
    assert 'reset refused' in plan[1]['steps']['unblock']['msg']
    plan = unblock.apply(plan, 'unblock', {'results': [{'address': 'rob@contoso.com', 'changed': True, 'unblocked_at': 'T',
                                                        'sending_expected_by': 'T1', 'sending_expected_at_latest': 'T24'}]}, True)
    assert plan[0]['steps']['unblock']['status'] == 'would_do' and plan[0]['sending_expected_by'] == 'T1'


def test_apply_whole_task_failure_marks_items_failed():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')])
    plan = unblock.apply(plan, 'sessions', {'failed': True, 'msg': 'boom'})
    assert plan[0]['steps']['sessions'] == {'status': 'failed', 'msg': 'boom'}


def test_report_outcomes_and_totals():
    plan = unblock.plan([user('rob@contoso.com'), user('ann@contoso.com'), user('carl@contoso.com')],
                        [entry('rob@contoso.com'), entry('ann@contoso.com')])
    done = {'results': [{'id': 'id-rob', 'changed': True}, {'id': 'id-ann', 'changed': True}]}
    plan = unblock.apply(unblock.apply(plan, 'password', done), 'sessions', done)
    plan = unblock.apply(plan, 'unblock', {'results': [{'address': 'rob@contoso.com', 'changed': True, 'sending_expected_by': 'A',
                                                        'sending_expected_at_latest': 'B'}]})
    report = unblock.tenant_report(plan, 'contoso', 'tid', False, error='Exchange down')
    outcomes = {u['user']: u['outcome'] for u in report['users']}
    assert outcomes == {'rob@contoso.com': 'remediated', 'ann@contoso.com': 'failed', 'carl@contoso.com': 'not_restricted'}
    ann = report['users'][1]
    assert ann['steps']['unblock'] == {'status': 'failed', 'msg': 'not reached: Exchange down'}
    assert report['counts'] == {'users': 3, 'password_reset': 2, 'sessions_revoked': 2, 'unblocked': 1,
                                'already_remediated': 0, 'not_restricted': 1, 'skipped': 0, 'failed': 1,
                                'steps': {'password': 2, 'sessions': 2, 'unblock': 1}}
    assert report['steps'] == ['password', 'sessions', 'unblock']
    assert report['failed'] and report['sending_expected_by'] == 'A'
    run = unblock.run_summary([report, unblock.tenant_report([], 'empty', None, False)])
    assert run['tenants'] == 2 and run['tenants_failed'] == 1 and run['totals']['unblocked'] == 1


def test_containment_steps_in_order_and_failed_cleanup_keeps_blocked():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=['inbox_rules', 'forwarding'])
    assert list(plan[0]['steps']) == ['password', 'sessions', 'forwarding', 'inbox_rules', 'unblock']
    plan = unblock.apply(plan, 'forwarding', {'results': [{'id': 'id-rob', 'failed': True, 'msg': 'Set-Mailbox refused'}]})
    assert plan[0]['steps']['unblock']['status'] == 'skipped'
    assert 'forwarding step failed: Set-Mailbox refused' in plan[0]['steps']['unblock']['msg']
    assert unblock.pending(plan, 'protocols') == []
    assert unblock.tenant_report(plan, 't', None, False)['users'][0]['outcome'] == 'failed'


def test_unknown_step_is_refused():
    try:
        unblock.plan([], [], containment=['reboot'])
    except ValueError as error:
        assert 'reboot' in str(error)
    else:
        raise AssertionError('an unknown step was accepted')


class Unread(dict):
    """A step result that must not be read."""

    def get(self, *args, **kwargs):
        raise AssertionError('a step with nothing left to do was read')


def test_fold_reads_only_the_steps_with_users_left_to_do():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')])
    first = {'password': {'results': [{'id': 'id-rob', 'changed': True}]}, 'sessions': {'results': [{'id': 'id-rob', 'changed': True}]}}
    folded = unblock.fold(plan, first)
    again = unblock.fold(folded, {'password': Unread(results=[]), 'sessions': Unread(results=[]),
                                  'unblock': {'results': [{'address': 'rob@contoso.com', 'changed': True}]}})
    assert statuses(again[0]) == {'password': 'done', 'sessions': 'done', 'unblock': 'done'}
    assert unblock.fold(again, dict(first, unblock={'results': []})) == again


def test_an_ungated_step_is_left_to_its_module():
    """With a Temporary Access Pass asked for, the password step of a user whose password changed since the block is
    still to do: the module tells whether a pass was issued since then."""
    users = [user('ann@contoso.com', last_password_change='2026-11-21T00:00:00Z')]
    gated = unblock.plan(users, [entry('ann@contoso.com')])[0]
    assert gated['steps']['password']['status'] == 'already_done'
    ungated = unblock.plan(users, [entry('ann@contoso.com')], ungated=['password'])[0]
    assert statuses(ungated) == {'password': 'todo', 'sessions': 'todo', 'unblock': 'todo'}
