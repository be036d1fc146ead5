"""The bad-input table: every kind of wrong input gets a clear message naming the item and what to do, before any write
where it can be checked up front. docs/bad-input.md has the table with these messages."""

from __future__ import annotations

import json
import time

import pytest

from m365emu import seeds
from runner import LOCAL_PLAY, run_playbook, tenant_env
from test_role import Run, users_arg

PLAYBOOK = LOCAL_PLAY + """\
  tasks:
    - name: One module call per case
      ansible.builtin.include_tasks: case.yml
      loop: "{{ cases }}"
      loop_control:
        loop_var: case
    - name: Keep the answers for the test
      ansible.builtin.copy:
        content: "{{ answers | default({}) | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""
CASE = """\
- name: "{{ case.name }}"
  m365ops.remediation.user_info:
    users: "{{ case.users }}"
  args: "{{ case.auth | default({}) }}"
  register: answer
  ignore_errors: true
  when: case.module == 'user_info'
  check_mode: "{{ case.check | default(false) }}"
- name: "{{ case.name }}"
  m365ops.remediation.restricted_user:
    addresses: "{{ case.users }}"
    continue_on_error: true
  args: "{{ case.auth | default({}) }}"
  register: answer_unblock
  ignore_errors: true
  when: case.module == 'restricted_user'
  check_mode: "{{ case.check | default(true) }}"
- name: "{{ case.name }}"
  m365ops.remediation.restricted_user_info:
    addresses: "{{ case.users }}"
  args: "{{ case.auth | default({}) }}"
  register: answer_info
  ignore_errors: true
  when: case.module == 'restricted_user_info'
- name: "{{ case.name }}"
  m365ops.remediation.user_password:
    users: "{{ case.users }}"
    password_file: "{{ password_file }}"
    continue_on_error: true
  args: "{{ case.auth | default({}) }}"
  register: answer_password
  ignore_errors: true
  when: case.module == 'user_password'
  check_mode: "{{ case.check | default(false) }}"
- name: Keep the answer
  ansible.builtin.set_fact:
    answers: "{{ answers | default({}) | combine({case.name: [answer, answer_unblock, answer_info, answer_password]
                 | rejectattr('skipped', 'defined') | first}) }}"
"""


def run_cases(emulator, tmp_path, cases, env=None):
    (tmp_path / 'bad.yml').write_text(PLAYBOOK)
    (tmp_path / 'case.yml').write_text(CASE)
    out = tmp_path / 'answers.json'
    extra = {'cases': cases, 'out': str(out), 'password_file': str(tmp_path / 'passwords.json')}
    done = run_playbook(tmp_path / 'bad.yml', env or tenant_env(emulator), '-e', json.dumps(extra))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return json.loads(out.read_text())


def write_certificates(tmp_path):
    good = tmp_path / 'app.pem'
    good.write_text(seeds.CONTOSO_CERT_KEY_PEM + seeds.CONTOSO_CERT_PEM)
    expired = tmp_path / 'expired.pem'
    expired.write_text(seeds.CONTOSO_EXPIRED_CERT_KEY_PEM + seeds.CONTOSO_EXPIRED_CERT_PEM)
    return good, expired


def test_module_bad_input_table(emulator, tmp_path):
    good, expired = write_certificates(tmp_path)
    noperm = {'client_id': seeds.CONTOSO_NOPERM_CLIENT_ID, 'client_secret': seeds.CONTOSO_NOPERM_SECRET}
    cases = [
        dict(name='malformed', module='user_info', users=['not-an-address', 'rob@@contoso.com', 'rob@contoso', ' ']),
        dict(name='malformed_unblock', module='restricted_user', users=['not-an-address', 'rob@@contoso.com']),
        dict(name='duplicates_mixed_case', module='restricted_user', users=['ROB@contoso.com', 'rob@contoso.com', ' Rob@Contoso.com '],
             check=False),
        dict(name='upn_differs', module='user_info', users=['frank@contoso.com']),
        dict(name='unknown_user', module='user_password', users=['nobody@contoso.com']),
        dict(name='not_on_list', module='restricted_user', users=['carl@contoso.com']),
        dict(name='non_ascii', module='user_info', users=['øyvind@contoso.com', 'zoë@contöso.com', 'rob@contoso.com\u200b']),
        dict(name='unknown_tenant', module='user_info', users=['rob@contoso.com'], auth={'tenant_id': 'nosuch.example'}),
        dict(name='wrong_secret', module='user_info', users=['rob@contoso.com'], auth={'client_secret': 'wrong-secret-value'}),
        dict(name='expired_certificate', module='user_info', users=['rob@contoso.com'], auth={'client_certificate_path': str(expired)}),
        dict(name='mismatched_certificate', module='user_info', users=['alice@fabrikam.com'],
             auth={'client_certificate_path': str(good), 'tenant_id': seeds.FABRIKAM_TENANT_ID, 'client_id': seeds.FABRIKAM_CLIENT_ID}),
        dict(name='missing_permission_graph', module='user_info', users=['rob@contoso.com'], auth=noperm),
        dict(name='missing_permission_exchange', module='restricted_user_info', users=['rob@contoso.com'], auth=noperm),
        dict(name='synced_user', module='user_password', users=['dana@contoso.com']),
        dict(name='admin_without_role', module='user_password', users=['eve.admin@contoso.com']),
        dict(name='empty_list', module='restricted_user', users=[]),
    ]
    mark = emulator.mark()
    answers = run_cases(emulator, tmp_path, cases)

    def messages(name):
        answer = answers[name]
        return [item['msg'] for item in answer.get('users') or answer.get('results') or []]

    assert messages('malformed') == [
        "'not-an-address' is neither an object id nor a user principal name or SMTP address (name@domain): correct it or remove it from the list",
        "'rob@@contoso.com' is neither an object id nor a user principal name or SMTP address (name@domain): correct it or remove it from the list",
        "'rob@contoso' is neither an object id nor a user principal name or SMTP address (name@domain): correct it or remove it from the list",
        'an empty user reference; give a user principal name, an object id or an SMTP address']
    assert messages('malformed_unblock') == [
        "'not-an-address' is not an SMTP address (name@domain): correct it or remove it from the list",
        "'rob@@contoso.com' is not an SMTP address (name@domain): correct it or remove it from the list"]
    assert [r['address'] for r in answers['duplicates_mixed_case']['results']] == ['rob@contoso.com']
    assert answers['duplicates_mixed_case']['results'][0]['msg'] == 'unblocked'
    assert answers['upn_differs']['users'][0]['user_principal_name'] == 'frank@contoso.onmicrosoft.com'
    assert messages('unknown_user') == ['user not found in this tenant: nobody@contoso.com; check the spelling and the tenant, '
                                        'or give the user principal name or object id']
    assert messages('not_on_list') == ['not on the Restricted Users list; nothing to do']
    assert messages('non_ascii')[:2] == [
        f'user not found in this tenant: {a}; check the spelling and the tenant, or give the user principal name or object id'
        for a in ('øyvind@contoso.com', 'zoë@contöso.com')]
    assert messages('non_ascii')[2] == ("'rob@contoso.com\u200b' holds an invisible character (U+200B), often left by copy and "
                                        "paste: type the address again")
    assert "AADSTS90002: Tenant 'nosuch.example' not found" in answers['unknown_tenant']['msg']
    assert 'AADSTS7000215: Invalid client secret provided' in answers['wrong_secret']['msg']
    assert answers['expired_certificate']['msg'].startswith('[auth invalid_configuration] client_certificate_path')
    assert 'the certificate expired on 2025-01-01' in answers['expired_certificate']['msg']
    assert 'AADSTS700027' in answers['mismatched_certificate']['msg'] and 'The key was not found' in answers['mismatched_certificate']['msg']
    assert messages('missing_permission_graph')[0].startswith(
        'rob@contoso.com could not be looked up: the app may not read users; grant it the Microsoft Graph application '
        'permission User.Read.All')
    assert "doesn't have the Exchange.ManageAsApp application permission" in answers['missing_permission_exchange']['msg']
    assert 'rob@contoso.com' in answers['missing_permission_exchange']['msg']
    assert messages('synced_user') == ['synchronised from on-premises Active Directory: reset the password in Active Directory '
                                       '(or with password writeback), then run again']
    admin = messages('admin_without_role')[0]
    assert admin.startswith("reset refused: the app may not reset this user's password. Graph needs the application permission "
                            'User-PasswordProfile.ReadWrite.All')
    assert 'a user who holds an admin role needs Privileged Authentication Administrator' in admin
    assert answers['empty_list']['results'] == [] and not answers['empty_list']['changed']
    # The only writes: one removal for rob (given three times), and eve's reset, refused (an admin's role is not
    # readable up front with these permissions; the refusal changes nothing).
    writes = [(w.get('cmdlet') or w['path'], w.get('identity'), w['status']) for w in emulator.writes(mark)]
    assert sorted(writes, key=str) == sorted([('Remove-BlockedSenderAddress', 'rob@contoso.com', 200),
                                              (f"/v1.0/users/{seeds.USER_IDS['eve.admin@contoso.com']}", None, 403)], key=str)


def test_role_bad_input(emulator, tmp_path):
    """One run of the role with every kind of wrong item next to good ones: each reported, the good ones done."""
    given = ['not-an-address', 'nobody@contoso.com', 'carl@contoso.com', 'frank@contoso.com', 'dana@contoso.com',
             'eve.admin@contoso.com', 'Rob@Contoso.com', 'rob@contoso.com', 'øyvind@contoso.com']
    run = Run(emulator, tmp_path, *users_arg(*given))
    run.assert_rc(2)
    users = {u['user']: u for u in run.report()['users']}
    assert list(users) == ['not-an-address', 'nobody@contoso.com', 'carl@contoso.com', 'frank@contoso.com', 'dana@contoso.com',
                           'eve.admin@contoso.com', 'Rob@Contoso.com', 'øyvind@contoso.com']
    outcome = {name: u['outcome'] for name, u in users.items()}
    assert outcome == {'not-an-address': 'failed', 'nobody@contoso.com': 'failed', 'carl@contoso.com': 'not_restricted',
                       'frank@contoso.com': 'remediated', 'dana@contoso.com': 'failed', 'eve.admin@contoso.com': 'failed',
                       'Rob@Contoso.com': 'remediated', 'øyvind@contoso.com': 'failed'}
    assert users['frank@contoso.com']['user_principal_name'] == 'frank@contoso.onmicrosoft.com'
    assert 'correct it or remove it from the list' in users['not-an-address']['steps']['password']['msg']
    assert 'user not found in this tenant: nobody@contoso.com' in users['nobody@contoso.com']['steps']['password']['msg']
    assert 'on-premises Active Directory' in users['dana@contoso.com']['steps']['password']['msg']
    assert users['dana@contoso.com']['steps']['unblock']['status'] == 'skipped'
    assert 'Privileged Authentication Administrator' in users['eve.admin@contoso.com']['steps']['password']['msg']
    # dana's reset is refused before any request (her sessions are still revoked); rob, given twice, is reset once.
    writes = emulator.writes(0)
    dana = seeds.USER_IDS['dana@contoso.com']
    assert not [w for w in writes if w['path'] == f'/v1.0/users/{dana}']
    assert [w['status'] for w in writes if w['path'] == f'/v1.0/users/{dana}/revokeSignInSessions'] == [200]
    rob = seeds.USER_IDS['rob@contoso.com']
    assert len([w for w in writes if w['path'] == f'/v1.0/users/{rob}' and w.get('fields') == ['passwordProfile']]) == 1


def test_role_unknown_tenant_and_wrong_secret(emulator, tmp_path):
    for name, override in (('tenant', {'AZURE_TENANT_ID': 'nosuch.example'}), ('secret', {'AZURE_CLIENT_SECRET': 'wrong-secret-value'})):
        run = Run(emulator, tmp_path / name, *users_arg('rob@contoso.com'), env=dict(tenant_env(emulator), **override))
        run.assert_rc(2)
        report = run.report()
        assert report['failed'] and ('AADSTS90002' if name == 'tenant' else 'AADSTS7000215') in report['error']
        assert 'wrong-secret-value' not in run.output
    assert emulator.writes(0) == []


def test_role_whole_tenant_only_when_asked(emulator, tmp_path):
    """unblock_email_all: every restricted account (here in check mode); an empty list is refused
    (tests/integration/test_fleet_safety.py)."""
    run = Run(emulator, tmp_path, '--check', '-e', 'unblock_email_all=true')
    users = {u['user'] for u in run.report()['users']}
    assert {'rob@contoso.com', 'ann@contoso.com', 'gina@contoso.com', 'ghost@contoso.com'} <= users
    assert emulator.writes(0) == []


@pytest.mark.parametrize('count', [10_000])
def test_role_ten_thousand_addresses_stays_fast(emulator, tmp_path, count):
    """10,000 addresses, nearly all unknown: one lookup batch per 20, no per-address quadratic work."""
    given = ['rob@contoso.com'] + [f'user{i}@contoso.com' for i in range(count - 1)]
    extra = tmp_path / 'users.json'
    extra.write_text(json.dumps({'unblock_email_users': given}))
    started = time.monotonic()
    run = Run(emulator, tmp_path, '--check', '-e', f'@{extra}')
    elapsed = time.monotonic() - started
    report = run.report()
    assert len(report['users']) == count
    assert {u['user']: u['outcome'] for u in report['users']}['rob@contoso.com'] == 'would_remediate'
    assert report['counts']['failed'] == count - 1
    print(f'{count} addresses through the role in check mode: {elapsed:.1f} s')
    assert elapsed < 120, elapsed
