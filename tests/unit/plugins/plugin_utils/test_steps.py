"""The step registry of the unblock_email role: its order, its switches, its words, and the plan it drives."""

from __future__ import annotations

import pytest

from ansible_collections.m365ops.remediation.plugins.filter.unblock import FilterModule
from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text, steps, unblock

from test_unblock import entry, user

F = FilterModule().filters()
DEFAULTS = {step.switch: step.default for step in steps.STEPS if step.switch}


def test_order_regain_control_first_then_containment_then_unblock():
    assert steps.NAMES == ('password', 'sessions', 'sign_in', 'auth_methods', 'forwarding', 'inbox_rules', 'protocols', 'unblock')
    assert steps.ALWAYS == ('password', 'sessions', 'unblock') == unblock.STEPS
    assert steps.CONTAINMENT == ('sign_in', 'auth_methods', 'forwarding', 'inbox_rules', 'protocols') == unblock.CONTAINMENT
    assert steps.UNBLOCK == 'unblock' and steps.get('unblock').switch is None and steps.get('unblock').target == steps.BY_ADDRESS


def test_each_step_has_its_own_module_switch_and_words():
    assert len({step.module for step in steps.STEPS}) == len(steps.STEPS)
    switches = [step.switch for step in steps.STEPS if step.switch]
    assert len(set(switches)) == len(switches) == len(steps.STEPS) - 1
    for step in steps.STEPS:
        assert set(step.words) == set(steps.LANGUAGES), step.name
        for words in step.words.values():
            assert words.name.strip() and words.check.strip(), step.name
            assert bool(words.none_found) is step.finding, step.name
        assert step.register == '_unblock_email_' + step.name


def test_defaults_and_opt_in():
    assert steps.turned_on() == steps.turned_on(DEFAULTS) == ['password', 'sessions', 'forwarding', 'inbox_rules', 'unblock']
    assert [step.name for step in steps.STEPS if step.opt_in] == ['sign_in', 'auth_methods', 'protocols']


@pytest.mark.parametrize('settings, on', [
    # Strings as extra vars give them, booleans as YAML gives them, and the two switches that are not booleans.
    ({'unblock_email_block_sign_in': 'true', 'unblock_email_reset_password': 'no'},
     ['sessions', 'sign_in', 'forwarding', 'inbox_rules', 'unblock']),
    ({'unblock_email_block_sign_in': 'Yes', 'unblock_email_revoke_sessions': False},
     ['password', 'sign_in', 'forwarding', 'inbox_rules', 'unblock']),
    ({'unblock_email_inbox_rules': 'keep', 'unblock_email_clear_forwarding': 'false'}, ['password', 'sessions', 'unblock']),
    ({'unblock_email_inbox_rules': 'absent', 'unblock_email_disable_protocols': ['pop']},
     ['password', 'sessions', 'forwarding', 'inbox_rules', 'protocols', 'unblock']),
    ({'unblock_email_disable_protocols': [], 'unblock_email_remove_auth_methods': 1},
     ['password', 'sessions', 'auth_methods', 'forwarding', 'inbox_rules', 'unblock']),
])
def test_switches_read_as_the_role_reads_them(settings, on):
    assert steps.turned_on(settings) == on


def test_plan_from_settings_is_the_plan_from_flags():
    users, entries = [user('rob@contoso.com'), user('ann@contoso.com', last_password_change='2026-11-21T00:00:00Z')], \
        [entry('rob@contoso.com'), entry('ann@contoso.com')]
    settings = dict(DEFAULTS, unblock_email_revoke_sessions='false', unblock_email_block_sign_in=True,
                    unblock_email_disable_protocols=['imap'], unblock_email_inbox_rules='keep')
    by_settings = unblock.plan(users, entries, settings=settings)
    by_flags = unblock.plan(users, entries, reset_password=True, revoke_sessions=False, containment=['sign_in', 'forwarding', 'protocols'])
    assert by_settings == by_flags
    assert list(by_settings[0]['steps']) == ['password', 'sessions', 'sign_in', 'forwarding', 'protocols', 'unblock']
    assert by_settings[0]['steps']['sessions'] == {'status': 'skipped', 'msg': 'turned off'}
    assert by_settings[1]['steps']['password'] == {'status': 'already_done',
                                                   'msg': 'password already changed at 2026-11-21T00:00:00Z, after the block'}
    assert F['unblock_plan'](users, entries, [], settings=settings, as_json=True) == F['unblock_plan'](
        users, entries, [], True, False, ['sign_in', 'forwarding', 'protocols'], as_json=True)


def test_todo_and_pending_give_each_module_what_it_takes():
    plan = unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')], containment=['forwarding'])
    assert unblock.todo(plan) == {'password': ['id-rob'], 'sessions': ['id-rob'], 'sign_in': [], 'auth_methods': [],
                                  'forwarding': ['id-rob'], 'inbox_rules': [], 'protocols': [], 'unblock': ['rob@contoso.com']}
    assert F['unblock_pending'](plan, 'forwarding') == ['id-rob']
    assert F['unblock_pending'](plan, 'unblock') == ['rob@contoso.com'] == F['unblock_pending'](plan, 'unblock', 'address')
    assert F['unblock_pending'](plan, 'no_such_step') == []


def test_steps_filter_gives_the_registry_to_the_role():
    registry = F['unblock_steps']({'unblock_email_block_sign_in': 'true', 'unblock_email_clear_forwarding': False})
    assert [s['name'] for s in registry] == list(steps.NAMES)
    by_name = {s['name']: s for s in registry}
    assert by_name['sign_in'] == {'name': 'sign_in', 'module': 'user_sign_in', 'switch': 'unblock_email_block_sign_in', 'default': False,
                                  'opt_in': True, 'on': True, 'register': '_unblock_email_sign_in'}
    assert not by_name['forwarding']['on'] and by_name['password']['on'] and by_name['unblock']['switch'] is None
    assert [s['on'] for s in F['unblock_steps']({})] == [s['on'] for s in F['unblock_steps'](None)]


def test_summary_words_come_from_the_language_files_and_the_registry():
    for language in steps.LANGUAGES:
        words = report_text.language_words(language)
        assert words['step_names'] == {step.name: step.words[language].name for step in steps.STEPS}
        assert words['check']['step_names'] == {step.name: step.words[language].check for step in steps.STEPS}
        assert set(words['none_found']) == set(unblock.FINDING)
    assert report_text.language_words('nl')['title'] == 'Rapport e-mail deblokkeren'
    # A word changed by a caller does not change the next caller's.
    report_text.language_words('en')['step_names']['password'] = 'changed'
    assert report_text.language_words('en')['step_names']['password'] == 'Password reset'
    with pytest.raises(ValueError, match='unknown language'):
        report_text.language_words('de')


def test_summary_filter_reads_the_words_of_its_language():
    report = unblock.tenant_report(unblock.plan([user('rob@contoso.com')], [entry('rob@contoso.com')]), 'contoso', 'tid', True)
    text = F['unblock_summary']([report], 'markdown', 'nb')
    assert text.startswith('# Rapport om oppheving av e-postblokkering') and '| Ville tilbakestilt passord |' in text
    page = F['unblock_summary']([report], 'html', 'nl')
    assert '<html lang="nl">' in page and 'Wachtwoord zou opnieuw worden ingesteld' in page
    own = dict(report_text.language_words('en'), title='Own title')
    assert F['unblock_summary']([report], words=own).startswith('# Own title')
