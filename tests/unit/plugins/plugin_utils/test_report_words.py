"""What the reports say matches what the run did: earlier remediations, nothing found, tenants that failed
before their list was read, failures named, words of the run's mode, advice only when it applies."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.m365ops.remediation.plugins.filter.unblock import FilterModule
from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text, steps, unblock

from test_unblock import RESTRICTED_AT, entry, user

WORDS = {language: report_text.language_words(language) for language in steps.LANGUAGES}
F = FilterModule().filters()
EARLIER = '2026-11-01T10:00:00Z'


def ok(*names):
    return {'results': [{'id': 'id-' + name, 'changed': True} for name in names]}


def unblocked(*addresses):
    return {'results': [{'address': a, 'changed': True, 'sending_expected_by': 'S1', 'sending_expected_at_latest': 'S24'} for a in addresses]}


def remediated_report(check_mode=False, containment=('forwarding', 'inbox_rules'), tenant='contoso'):
    """rob remediated (or would be), every step done."""
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=containment)
    results = {'password': ok('rob'), 'sessions': ok('rob'), 'forwarding': ok('rob'), 'inbox_rules': ok('rob'),
               'unblock': unblocked('rob@contoso.com')}
    return unblock.tenant_report(unblock.fold(plan, results, check_mode), tenant, 'tid', check_mode)


def failed_tenant(tenant='northwind', asked=('nina@northwind.com',), error='AADSTS7000215: Invalid client secret provided'):
    return unblock.tenant_report([], tenant, None, False, error=error, asked=list(asked))


def render(reports, language='en', fmt='markdown'):
    return report_text.render(reports, unblock.run_summary(reports), WORDS[language], fmt, language, 'NOW')


def keys(tree, prefix=''):
    """Every key path of a nested mapping."""
    out = set()
    for key, value in tree.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= keys(value, prefix + key + '.')
    return out


# -- 1. earlier remediations ------------------------------------------------------------------------------


def test_earlier_remediation_is_already_remediated_and_others_not_restricted():
    users = [user('rob@contoso.com'), user('carl@contoso.com'),
             user('frank@contoso.onmicrosoft.com', primary_smtp_address='frank@contoso.com',
                  addresses=['frank@contoso.com', 'frank@contoso.onmicrosoft.com']),
             user('breakglass@contoso.com')]
    earlier = {'Rob@Contoso.com': EARLIER, 'frank@contoso.onmicrosoft.com': '', 'breakglass@contoso.com': EARLIER}
    plan = {i['user']: i for i in unblock.plan(users, [], protected=['breakglass@contoso.com'], earlier=earlier)}
    rob = plan['rob@contoso.com']
    assert {s['status'] for s in rob['steps'].values()} == {'already_done'}
    assert rob['steps']['unblock']['msg'] == 'remediated by an earlier run at %s' % EARLIER
    assert plan['frank@contoso.onmicrosoft.com']['steps']['password']['msg'] == 'remediated by an earlier run'
    carl = plan['carl@contoso.com']
    assert carl['steps']['unblock'] == {'status': 'skipped', 'msg': 'not on the Restricted Users list: nothing to do'}
    assert plan['breakglass@contoso.com']['steps']['unblock'] == {'status': 'skipped', 'msg': 'protected account: never touched'}
    report = unblock.tenant_report(list(plan.values()), 'contoso', 'tid', False)
    outcomes = {u['user']: u['outcome'] for u in report['users']}
    assert outcomes == {'rob@contoso.com': 'already_remediated', 'carl@contoso.com': 'not_restricted',
                        'frank@contoso.onmicrosoft.com': 'already_remediated', 'breakglass@contoso.com': 'skipped'}
    counts = report['counts']
    assert (counts['already_remediated'], counts['not_restricted'], counts['skipped'], counts['failed']) == (2, 1, 1, 0)
    assert not report['failed']
    assert unblock.run_summary([report])['totals']['not_restricted'] == 1


@pytest.mark.parametrize('earlier', [['ROB@contoso.com'], 'rob@contoso.com', '["rob@contoso.com"]', '{"rob@contoso.com": null}', "{'rob@contoso.com': ''}"])
def test_earlier_as_a_list_or_json_text(earlier):
    plan = unblock.plan([user('rob@contoso.com'), user('carl@contoso.com')], [], earlier=earlier)
    assert [unblock.outcome(i) for i in plan] == ['already_remediated', 'not_restricted']
    assert plan[0]['steps']['sessions']['msg'] == 'remediated by an earlier run'


def test_earlier_does_not_change_a_user_on_the_list_or_not_found():
    plan = unblock.plan([user('rob@contoso.com'), user('ghost@contoso.com', found=False, msg='user not found')], [entry('rob@contoso.com')],
                        earlier={'rob@contoso.com': EARLIER, 'ghost@contoso.com': EARLIER})
    assert {s['status'] for s in plan[0]['steps'].values()} == {'todo'}  # restricted again: remediated again
    assert {s['status'] for s in plan[1]['steps'].values()} == {'failed'}


def test_plan_filter_takes_earlier():
    text = F['unblock_plan']([user('rob@contoso.com')], [], [], True, True, [], earlier={'rob@contoso.com': EARLIER}, as_json=True)
    assert json.loads(text)[0]['steps']['unblock']['status'] == 'already_done'


# -- 2. nothing found vs already done ---------------------------------------------------------------------


def test_nothing_to_clear_is_none_found_and_counts_as_already_done():
    steps = ['sign_in', 'auth_methods', 'forwarding', 'inbox_rules', 'protocols']
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=steps, reset_password=False, revoke_sessions=False)
    unchanged = {'results': [{'id': 'id-rob', 'changed': False, 'msg': 'nothing there'}]}
    plan = unblock.fold(plan, dict({name: unchanged for name in steps}, unblock={'results': [{'address': 'rob@contoso.com', 'changed': False}]}))
    statuses = {name: step['status'] for name, step in plan[0]['steps'].items()}
    assert statuses == {'password': 'skipped', 'sessions': 'skipped', 'sign_in': 'already_done', 'auth_methods': 'none_found',
                        'forwarding': 'none_found', 'inbox_rules': 'none_found', 'protocols': 'already_done', 'unblock': 'already_done'}
    report = unblock.tenant_report(plan, 'contoso', 'tid', False)
    assert report['users'][0]['outcome'] == 'already_remediated'
    # In check mode too, and next to steps that were done.
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=['forwarding'])
    plan = unblock.fold(plan, {'password': ok('rob'), 'sessions': ok('rob'), 'forwarding': {'results': [{'id': 'id-rob', 'changed': False}]},
                               'unblock': unblocked('rob@contoso.com')}, True)
    assert plan[0]['steps']['forwarding']['status'] == 'none_found'
    assert unblock.tenant_report(plan, 'contoso', 'tid', True)['users'][0]['outcome'] == 'would_remediate'


def test_none_found_words_per_step():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=['auth_methods', 'forwarding', 'inbox_rules'])
    unchanged = {'results': [{'id': 'id-rob', 'changed': False}]}
    plan = unblock.fold(plan, {'password': ok('rob'), 'sessions': ok('rob'), 'auth_methods': unchanged, 'forwarding': unchanged,
                               'inbox_rules': unchanged, 'unblock': unblocked('rob@contoso.com')})
    reports = [unblock.tenant_report(plan, 'contoso', 'tid', False)]
    for language, words in WORDS.items():
        text = render(reports, language)
        for step in ('auth_methods', 'forwarding', 'inbox_rules'):
            assert '| %s |' % words['none_found'][step] in text, (language, step)
        assert '| %s |' % words['status']['already_done'] not in text
    assert '| no forwarding |' in render(reports) and '| no suspicious rule |' in render(reports) and '| no new method |' in render(reports)


# -- 3. a tenant that failed before its list was read -----------------------------------------------------


def test_failed_tenant_lists_each_asked_user_failed():
    run = {'id': '3f9a1c', 'folder': '20261202T161500Z-3f9a1c', 'started_at': '2026-12-02T16:15:00Z'}
    report = unblock.tenant_report([], 'northwind', None, False, error='AADSTS90002: Tenant not found',
                                   asked=['nina@northwind.com', 'Nina@Northwind.com', 'oscar@northwind.com', 'not-an-address'], run=run)
    assert report['list_read'] is False and report['failed'] and report['run'] == run
    assert [u['user'] for u in report['users']] == ['nina@northwind.com', 'oscar@northwind.com', 'not-an-address']
    for entry_ in report['users']:
        assert entry_['outcome'] == 'failed'
        assert entry_['steps'] == {name: {'status': 'failed', 'msg': 'not remediated: AADSTS90002: Tenant not found'} for name in unblock.STEPS}
    assert report['counts']['failed'] == 3 and report['counts']['users'] == 3
    whole = unblock.tenant_report([], 'fabrikam', None, False, error='exchange 503')
    assert whole['list_read'] is False and whole['users'] == [] and whole['failed'] and whole['run'] is None
    assert unblock.tenant_report([], 'quiet', 'tid', False)['list_read'] is True  # read, nothing restricted


def test_failed_tenant_report_as_json_through_the_filter():
    text = F['unblock_tenant_report']([], 'northwind', None, False, 'boom', None, asked=['nina@northwind.com'], run={'id': 'r'}, as_json=True)
    report = json.loads(text)
    assert report['list_read'] is False and report['run'] == {'id': 'r'} and report['users'][0]['outcome'] == 'failed'


def test_failed_tenant_section_says_the_list_was_not_read():
    reports = [remediated_report(), failed_tenant(), failed_tenant('fabrikam', asked=())]
    for language, words in WORDS.items():
        for fmt in ('markdown', 'html'):
            text = render(reports, language, fmt)
            assert text.count(words['list_not_read']) == 2, (language, fmt)
            assert words['no_users'] not in text
    text = render(reports)
    assert 'The Restricted Users list was not read, so nothing was remediated.' in text
    assert 'nina@northwind.com' in text and 'not remediated: AADSTS7000215' in text
    assert 'No restricted account was found.' in render([unblock.tenant_report([], 'quiet', 'tid', False)])


# -- 4. totals count failed tenants -----------------------------------------------------------------------


def test_totals_count_failed_tenants_and_their_users():
    reports = [remediated_report(), failed_tenant(asked=('nina@northwind.com', 'oscar@northwind.com')), failed_tenant('fabrikam', asked=())]
    run = unblock.run_summary(reports)
    assert run['tenants'] == 3 and run['tenants_failed'] == 2 and run['totals']['failed'] == 2 and run['totals']['users'] == 3
    markdown = render(reports)
    assert '| Tenants | Failed tenants | Users | Password reset | Sessions revoked | Unblocked | Already remediated | Not on the list | Skipped | Failed |' \
        in markdown
    assert '| 3 | 2 | 3 | 1 | 1 | 1 | 0 | 0 | 0 | 2 |' in markdown
    page = render(reports, 'nl', 'html')
    assert '<th>Mislukte tenants</th>' in page and '<td>2</td>' in page


# -- 5. failures named in the output ----------------------------------------------------------------------


def test_summary_lines_name_failed_tenants_and_users():
    eve_plan = unblock.plan([user('rob@contoso.com'), user('eve@contoso.com')], [entry('rob@contoso.com'), entry('eve@contoso.com')])
    eve_plan = unblock.fold(eve_plan, {'password': {'results': [{'id': 'id-rob', 'changed': True},
                                                                {'id': 'id-eve', 'failed': True, 'msg': 'reset refused'}]},
                                       'sessions': ok('rob', 'eve'), 'unblock': unblocked('rob@contoso.com')})
    reports = [failed_tenant(), unblock.tenant_report(eve_plan, 'contoso', 'tid', False)]
    lines = F['unblock_summary_lines']([json.dumps(r) for r in reports])
    assert lines == [
        '3 user(s) in 2 tenant(s): 1 password(s) reset, 2 session(s) revoked, 1 unblocked, 0 already remediated, 0 not on the list, '
        '0 skipped, 2 failed, 1 tenant(s) failed.',
        'Sending expected back by S1 (at the latest S24).',
        'FAILED tenant northwind: AADSTS7000215: Invalid client secret provided',
        'FAILED contoso: eve@contoso.com - reset refused',
        'FAILED northwind: nina@northwind.com - not remediated: AADSTS7000215: Invalid client secret provided',
    ]
    assert F['unblock_failed_lines'](json.dumps(reports[1])) == ['FAILED contoso: eve@contoso.com - reset refused']
    assert F['unblock_failed_lines'](remediated_report()) == []


def test_failed_lines_are_limited():
    many = failed_tenant(asked=['user%d@northwind.com' % i for i in range(25)], error='boom')
    other = failed_tenant('southwind', asked=['a@southwind.com', 'b@southwind.com'], error='bang')
    lines = report_text.summary_lines(unblock.run_summary([many, other]), [many, other])
    users = [line for line in lines if line.startswith('FAILED ') and not line.startswith('FAILED tenant ')]
    assert len(users) == 20 and users[0] == 'FAILED northwind: user0@northwind.com - not remediated: boom'
    assert lines[-1] == '... and 7 more failed user(s); see the reports'
    assert [line for line in lines if line.startswith('FAILED tenant ')] == ['FAILED tenant northwind: boom', 'FAILED tenant southwind: bang']
    one = F['unblock_failed_lines'](many, 3)
    assert one == ['FAILED northwind: user%d@northwind.com - not remediated: boom' % i for i in range(3)] + \
        ['... and 22 more failed user(s); see the reports']
    assert len(F['unblock_failed_lines'](json.dumps(many))) == 21


def test_reason_falls_back_to_the_tenant_error():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')])
    plan = unblock.fold(plan, {'password': ok('rob'), 'sessions': ok('rob')})
    report = unblock.tenant_report(plan, 'contoso', 'tid', False, error='Exchange down')
    assert report_text.failed_lines(report) == ['FAILED contoso: rob@contoso.com - not reached: Exchange down']


# -- 6. words match the mode ------------------------------------------------------------------------------


def test_summary_lines_in_check_mode_and_not():
    check = [remediated_report(check_mode=True)]
    assert F['unblock_summary_lines'](check) == [
        'CHECK MODE, nothing was changed: 1 user(s) in 1 tenant(s): would reset 1 password(s), would revoke 1 session(s), would unblock 1, '
        '0 already remediated, 0 not on the list, 0 skipped, 0 failed.',
        'Nothing was unblocked (check mode); after a real run, sending usually resumes within an hour, at most 24 hours.']
    assert F['unblock_summary_lines']([remediated_report()]) == [
        '1 user(s) in 1 tenant(s): 1 password(s) reset, 1 session(s) revoked, 1 unblocked, 0 already remediated, 0 not on the list, '
        '0 skipped, 0 failed.', 'Sending expected back by S1 (at the latest S24).']
    quiet = unblock.tenant_report(unblock.plan([user('carl@contoso.com')], []), 'contoso', 'tid', False)
    assert F['unblock_summary_lines']([quiet]) == [
        '1 user(s) in 1 tenant(s): 0 password(s) reset, 0 session(s) revoked, 0 unblocked, 0 already remediated, 1 not on the list, '
        '0 skipped, 0 failed.', 'No account was unblocked in this run.']


def test_readable_summary_speaks_in_the_conditional_in_check_mode():
    check, real = [remediated_report(check_mode=True)], [remediated_report()]
    for language, words in WORDS.items():
        for fmt in ('markdown', 'html'):
            text, plain = render(check, language, fmt), render(real, language, fmt)
            for word in (words['check']['password'], words['check']['sessions'], words['check']['unblock'],
                         words['check']['step_names']['forwarding'], words['check']['nothing_unblocked']):
                assert word in text and word not in plain, (language, fmt, word)
            assert words['step_names']['forwarding'] in plain and words['step_names']['forwarding'] not in text
            assert words['outcomes']['would_remediate'] in text and words['outcomes']['remediated'] in plain
    text = render(check)
    assert '| Would reset password | Would revoke sessions | Would unblock |' in text
    assert 'Sending is expected back' not in text


def test_outcome_words():
    assert WORDS['en']['outcomes'] == {'remediated': 'remediated', 'would_remediate': 'would be remediated',
                                       'already_remediated': 'already remediated', 'not_restricted': 'not on the list',
                                       'skipped': 'skipped', 'failed': 'failed'}


# -- 7. advice only when it applies -----------------------------------------------------------------------


def advice(reports):
    return report_text.advice(reports, unblock.run_summary(reports))


def test_advice_only_when_it_applies():
    assert advice([remediated_report()]) == ['passwords', 'delete_passwords']
    assert advice([remediated_report(check_mode=True)]) == ['check_mode']
    assert advice([remediated_report(containment=('forwarding',))]) == ['passwords', 'delete_passwords', 'check_mailboxes']
    assert advice([remediated_report(check_mode=True, containment=())]) == ['check_mode', 'check_mailboxes']
    assert advice([remediated_report(), failed_tenant('fabrikam', asked=())]) == ['passwords', 'delete_passwords', 'failed']
    # No password set: the user was not on the list, or its password had changed after the block.
    quiet = unblock.tenant_report(unblock.plan([user('carl@contoso.com')], []), 'contoso', 'tid', False)
    assert advice([quiet]) == []
    plan = unblock.plan([user('ann@contoso.com', last_password_change='2026-11-21T00:00:00Z')], [entry('ann@contoso.com')])
    plan = unblock.fold(plan, {'sessions': ok('ann'), 'unblock': unblocked('ann@contoso.com')})
    assert advice([unblock.tenant_report(plan, 'contoso', 'tid', False)]) == ['check_mailboxes']


def test_no_advice_section_when_none_applies():
    quiet = [unblock.tenant_report(unblock.plan([user('carl@contoso.com')], []), 'contoso', 'tid', False)]
    for language, words in WORDS.items():
        for fmt in ('markdown', 'html'):
            text = render(quiet, language, fmt)
            assert words['next_steps_title'] not in text
            assert not any(advice_ in text for advice_ in words['next_steps'].values())
    text = render([remediated_report()])
    assert '## Next steps' in text and 'Give each user their new password' in text and 'Delete the password file' in text
    assert 'Check the mailboxes' not in text and 'Accounts that failed' not in text and 'This was a check' not in text
    text = render([remediated_report(check_mode=True)], fmt='html')
    assert 'This was a check: run again without --check (or with auto_remediate) to apply it.' in text
    assert 'Give each user their new password' not in text


# -- 8. three complete languages, and speed ---------------------------------------------------------------


def test_every_language_has_the_same_keys_as_english():
    assert set(WORDS) == {'en', 'nl', 'nb'}
    for language, words in WORDS.items():
        assert keys(words) == keys(WORDS['en']), language
        assert all(isinstance(v, str) and v.strip() for v in _leaves(words)), language
    assert set(WORDS['en']['next_steps']) == set(report_text.ADVICE)
    assert set(WORDS['en']['status']) >= set(unblock.FINAL) | {'todo'}
    assert set(WORDS['en']['step_names']) == set(unblock.step_names(unblock.CONTAINMENT))
    assert set(WORDS['en']['none_found']) == set(unblock.FINDING)


def _leaves(tree):
    for value in tree.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def test_ten_thousand_users_stay_fast():
    count = 10_000
    users = [user('user%d@contoso.com' % i) for i in range(count)]
    entries = [entry('user%d@contoso.com' % i) for i in range(0, count, 2)]
    earlier = {'user%d@contoso.com' % i: EARLIER for i in range(1, count, 4)}
    started = time.monotonic()
    plan = unblock.plan(users, entries, containment=['forwarding', 'inbox_rules'], earlier=earlier)
    done = ok(*('user%d' % i for i in range(0, count, 2)))
    none = {'results': [{'id': 'id-user%d' % i, 'changed': False} for i in range(0, count, 2)]}
    plan = unblock.fold(plan, {'password': done, 'sessions': done, 'forwarding': none, 'inbox_rules': done,
                               'unblock': {'results': [{'address': 'user%d@contoso.com' % i, 'failed': i % 10 == 0, 'changed': True}
                                                       for i in range(0, count, 2)]}})
    report = unblock.tenant_report(plan, 'contoso', 'tid', False, run={'id': 'r'})
    lines = report_text.summary_lines(unblock.run_summary([report]), [report])
    render([report], 'nb', 'html')
    elapsed = time.monotonic() - started
    counts = report['counts']
    assert counts['already_remediated'] == count // 4 and counts['not_restricted'] == count // 4 and counts['failed'] == count // 10
    assert lines[-1] == '... and %d more failed user(s); see the reports' % (count // 10 - 20)
    assert elapsed < 10, elapsed
    assert RESTRICTED_AT in render([report])
