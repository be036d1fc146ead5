"""user_password: its argument errors come before any request; check mode only reads."""

from __future__ import annotations

import os

import pytest
from m365emu import seeds

ANN = seeds.USER_IDS['ann@contoso.com']


def user(state, upn):
    return next(u for u in state()['users'] if u['userPrincipalName'] == upn)


@pytest.mark.parametrize('args, message', [
    (dict(password='short'), 'the given password does not meet Entra ID complexity rules: 8 to 256 characters, '
                             'with three of upper case, lower case, digits and symbols'),
    (dict(password_length=15), 'password_length must be between 16 and 256'),
    (dict(password_length=257), 'password_length must be between 16 and 256'),
    (dict(only_if_changed_before='yesterday'),
     "only_if_changed_before: 'yesterday' is not an ISO 8601 time such as 2026-11-20T08:00:00Z"),
    (dict(return_passwords=True), 'return_passwords needs no_log: true on the task, so that the passwords are never logged'),
    (dict(users=None), 'missing required arguments: users'),
    (dict(password_length='many'), "argument 'password_length' is of type str and we were unable to convert to int"),
    (dict(temporary_access_pass=True), 'temporary_access_pass needs somewhere to hand the pass over to: key_vault_url, '
                                       'password_file or return_passwords'),
    (dict(temporary_access_pass=True, key_vault_url='https://v.vault.azure.net', temporary_access_pass_lifetime=5),
     'temporary_access_pass_lifetime must be between 10 and 43200 minutes'),
    (dict(key_vault_url='http://v.vault.azure.net'),
     'key_vault_url must be the https URL of a vault, such as https://contoso-handover.vault.azure.net'),
    (dict(key_vault_url='https://v.vault.azure.net', key_vault_secret_lifetime=0), 'key_vault_secret_lifetime must be between 1 and 3650 days'),
    (dict(key_vault_url='https://v.vault.azure.net', password_file='/tmp/x.json'),
     'parameters are mutually exclusive: password_file|key_vault_url'),
])
def test_argument_errors_come_before_any_request(run_module, args, message):
    run = run_module('user_password', **dict(dict(users=['ann@contoso.com']), **args))
    run.assert_refused(message)


def test_connection_errors_come_before_any_request(run_module, connection_error):
    options, message = connection_error
    run = run_module('user_password', users=['ann@contoso.com'], **options)
    run.assert_refused(message)


def test_a_password_file_others_can_read_is_refused_before_any_request(run_module, tmp_path):
    path = tmp_path / 'passwords.json'
    path.write_text('{}', encoding='utf-8')
    os.chmod(path, 0o644)
    run = run_module('user_password', users=['ann@contoso.com'], password_file=str(path))
    assert run.failed and run.result['msg'].startswith('password_file: ')
    assert 'others can read it' in run.result['msg']
    run.assert_no_request()


def test_check_mode_says_who_would_be_reset_and_writes_nothing(run_module, state, tmp_path):
    before = user(state, 'ann@contoso.com')
    folder = tmp_path / 'not-yet'
    run = run_module('user_password', check_mode=True, diff=True, no_log=True, return_passwords=True,
                     users=['ann@contoso.com', 'dana@contoso.com', 'carl@contoso.com'], protected=['carl@contoso.com'],
                     password_file=str(folder / 'passwords.json'), continue_on_error=True)
    assert not run.failed and run.result['changed']
    results = run.by('user')
    assert results['ann@contoso.com']['changed'] and results['ann@contoso.com']['msg'] == 'password would be reset'
    assert results['dana@contoso.com']['failed'] and 'on-premises' in results['dana@contoso.com']['msg']
    assert results['carl@contoso.com']['protected'] and not results['carl@contoso.com']['changed']
    assert run.result['diff'] == [dict(before_header='ann@contoso.com', after_header='ann@contoso.com',
                                       before=dict(last_password_change=seeds.OLD_CHANGE), after=dict(last_password_change='reset now'))]
    # No password was made, none is returned, no file or folder was written.
    assert 'passwords' not in run.result and 'password_file' not in run.result
    assert not folder.exists()
    run.assert_no_writes()
    after = user(state, 'ann@contoso.com')
    assert after['lastPasswordChangeDateTime'] == before['lastPasswordChangeDateTime'] and not after['passwordSetByGraph']


def test_check_mode_honours_only_if_changed_before(run_module):
    run = run_module('user_password', check_mode=True, users=[ANN], only_if_changed_before='2026-01-01T00:00:00Z')
    assert not run.result['changed']
    (ann,) = run.result['results']
    assert ann['msg'].startswith('password already changed at %s' % seeds.OLD_CHANGE)
    run.assert_no_writes()
