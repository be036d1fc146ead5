"""The new credential reaches the user: Azure Key Vault, a Temporary Access Pass, a tasks file, and the job's artifacts.

Through playbooks/unblock_email.yml against the emulator, which keeps passwords, passes and secret values as
fingerprints only: a vault's secret is compared with the user's password (or pass) through them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from m365emu import seeds
from test_role import Run, restricted, users_arg

VAULT = 'msp-vault'
ROB = 'rob@contoso.com'
SECRETS_OFFICER = 'Key Vault Secrets Officer'


def vault_args(emulator, *more: str) -> list[str]:
    return ['-e', 'unblock_email_password_delivery=key_vault', '-e', 'unblock_email_key_vault_url=%s' % emulator.vault_url(VAULT), *more]


def rob_secret(emulator) -> tuple[str, list[dict]]:
    secrets = emulator.vault(VAULT)['secrets']
    names = [name for name, versions in secrets.items() if any(v['tags'].get('user') == ROB for v in versions)]
    assert len(names) == 1, secrets
    return names[0], secrets[names[0]]


def files_under(path: Path) -> str:
    return '\n'.join(p.read_text(errors='replace') for p in path.rglob('*') if p.is_file())


def test_key_vault_delivery_check_apply_rerun(emulator, tmp_path):
    mark = emulator.mark()
    check = Run(emulator, tmp_path, '--check', *users_arg(ROB), *vault_args(emulator))
    check.assert_rc(0)
    assert emulator.writes(mark) == [], 'check mode wrote'
    assert emulator.vault(VAULT)['secrets'] == {}

    run = Run(emulator, tmp_path, *users_arg(ROB), *vault_args(emulator))
    run.assert_rc(0)
    assert ROB not in restricted(emulator)
    name, versions = rob_secret(emulator)
    newest = versions[-1]
    assert emulator.vault_compare(VAULT, name, seeds.CONTOSO_TENANT_ID, ROB) is True
    assert newest['tags']['status'] == 'set' and newest['tags']['credential'] == 'password'
    assert newest['tags']['tenant'] == seeds.CONTOSO_TENANT_ID and newest['tags']['run'] == run.index[0]['run_id']
    assert newest['attributes']['exp'] > newest['attributes']['created'] + 6 * 86400
    assert newest['contentType'] == 'text/plain'
    # Written ahead (pending), then settled: one version, its tags rewritten.
    assert len(versions) == 1
    assert not run.password_dir.exists() or not any(run.password_dir.iterdir())
    credential = run.users()[ROB]['credential']
    assert credential['target'] == 'key_vault' and credential['secret'] == name and 'value' not in credential
    # The output and every file the run left on the controller name the secret at most, never hold the password (the
    # emulator cannot give it: every stretch of their text is compared with it through the emulator's fingerprints).
    assert name in files_under(run.report_dir)
    for text in (run.output, files_under(tmp_path)):
        assert not emulator.credential_in(text, seeds.CONTOSO_TENANT_ID, ROB)
    writes = emulator.writes(mark)
    services = [w['service'] for w in writes]
    assert services.index('keyvault') < services.index('graph'), 'the vault must take the password before the reset'

    mark = emulator.mark()
    again = Run(emulator, tmp_path, *users_arg(ROB), *vault_args(emulator))
    again.assert_rc(0)
    assert emulator.writes(mark) == []
    assert again.recap['localhost']['changed'] == 0 or 'changed=0' in again.output


def test_key_vault_without_the_role_resets_nothing(emulator, tmp_path):
    emulator.add_vault('locked-vault', seeds.CONTOSO_TENANT_ID, [])
    mark = emulator.mark()
    run = Run(emulator, tmp_path, *users_arg(ROB), '-e', 'unblock_email_password_delivery=key_vault',
              '-e', 'unblock_email_key_vault_url=%s' % emulator.vault_url('locked-vault'))
    run.assert_rc(2)
    # The vault refused: no password was reset (the other containment steps still ran; the account stays blocked).
    assert [w for w in emulator.writes(mark) if 'passwordProfile' in (w.get('fields') or [])] == [], 'a password was reset'
    # One write-ahead, refused: the vault is asked once, not once per user.
    assert [w['status'] for w in emulator.writes(mark) if w['service'] == 'keyvault'] == [403]
    assert ROB in restricted(emulator)
    assert SECRETS_OFFICER in run.output
    rob = run.users()[ROB]
    assert rob['outcome'] == 'failed' and SECRETS_OFFICER in rob['steps']['password']['msg']


def test_vault_of_another_tenant_is_named(emulator, tmp_path):
    emulator.add_vault('msp-own', seeds.FABRIKAM_TENANT_ID, [{'client_id': seeds.CONTOSO_CLIENT_ID, 'role': SECRETS_OFFICER}])
    run = Run(emulator, tmp_path, *users_arg(ROB), '-e', 'unblock_email_password_delivery=key_vault',
              '-e', 'unblock_email_key_vault_url=%s' % emulator.vault_url('msp-own'))
    run.assert_rc(2)
    assert 'key_vault_tenant_id' in run.output and seeds.FABRIKAM_TENANT_ID in run.output
    assert ROB in restricted(emulator)


def test_service_provider_vault_in_its_own_tenant(emulator, tmp_path):
    # The app is multi-tenant: registered in fabrikam (the provider's tenant) too, which holds the vault.
    seed = copy.deepcopy(seeds.test_seed())
    contoso = next(t for t in seed['tenants'] if t['id'] == seeds.CONTOSO_TENANT_ID)
    fabrikam = next(t for t in seed['tenants'] if t['id'] == seeds.FABRIKAM_TENANT_ID)
    fabrikam['apps'].append(copy.deepcopy(next(a for a in contoso['apps'] if a['client_id'] == seeds.CONTOSO_CLIENT_ID)))
    emulator.reset(seed)
    emulator.add_vault('msp-own', seeds.FABRIKAM_TENANT_ID, [{'client_id': seeds.CONTOSO_CLIENT_ID, 'role': SECRETS_OFFICER}])
    run = Run(emulator, tmp_path, *users_arg(ROB), '-e', 'unblock_email_password_delivery=key_vault',
              '-e', 'unblock_email_key_vault_url=%s' % emulator.vault_url('msp-own'),
              '-e', 'unblock_email_key_vault_tenant_id=%s' % seeds.FABRIKAM_TENANT_ID)
    run.assert_rc(0)
    secrets = emulator.vault('msp-own')['secrets']
    name = next(iter(secrets))
    assert emulator.vault_compare('msp-own', name, seeds.CONTOSO_TENANT_ID, ROB) is True


def test_temporary_access_pass_check_apply_rerun(emulator, tmp_path):
    args = [*users_arg(ROB), *vault_args(emulator, '-e', 'unblock_email_temporary_access_pass=true')]
    mark = emulator.mark()
    check = Run(emulator, tmp_path, '--check', *args)
    check.assert_rc(0)
    assert emulator.writes(mark) == []

    run = Run(emulator, tmp_path, *args)
    run.assert_rc(0)
    name, versions = rob_secret(emulator)
    assert versions[-1]['tags']['credential'] == 'temporary-access-pass' and versions[-1]['tags']['status'] == 'set'
    assert emulator.vault_compare(VAULT, name, seeds.CONTOSO_TENANT_ID, ROB, as_='temporary_access_pass') is True
    # Nobody got the generated password: no version of any secret holds it, nor the output or any file of the run;
    # the pass is in the vault only.
    assert emulator.vault_holds(VAULT, seeds.CONTOSO_TENANT_ID, ROB, as_='password') == []
    for text in (run.output, files_under(tmp_path)):
        assert not emulator.credential_in(text, seeds.CONTOSO_TENANT_ID, ROB)
        assert not emulator.credential_in(text, seeds.CONTOSO_TENANT_ID, ROB, as_='temporary_access_pass')
    assert run.users()[ROB]['credential']['kind'] == 'temporary_access_pass'
    assert ROB not in restricted(emulator)

    mark = emulator.mark()
    again = Run(emulator, tmp_path, *args)
    again.assert_rc(0)
    assert emulator.writes(mark) == []


def test_temporary_access_pass_policy_off_hands_the_password_over_instead(emulator, tmp_path):
    """Entra refuses the pass: the password this run set is what the vault gets, so that someone can read it back."""
    seed = copy.deepcopy(seeds.test_seed())
    next(t for t in seed['tenants'] if t['id'] == seeds.CONTOSO_TENANT_ID)['temporary_access_pass'] = {'state': 'disabled'}
    emulator.reset(seed)
    run = Run(emulator, tmp_path, *users_arg(ROB), *vault_args(emulator, '-e', 'unblock_email_temporary_access_pass=true'))
    run.assert_rc(0)
    name, versions = rob_secret(emulator)
    assert versions[-1]['tags']['credential'] == 'password' and versions[-1]['tags']['status'] == 'set'
    assert emulator.vault_compare(VAULT, name, seeds.CONTOSO_TENANT_ID, ROB) is True
    rob = run.users()[ROB]
    assert 'Temporary Access Pass policy' in rob['steps']['password']['msg']
    assert 'handed over instead' in rob['steps']['password']['msg']


def test_tasks_file_takes_each_credential_under_no_log(emulator, tmp_path):
    out = tmp_path / 'handed'
    tasks = tmp_path / 'handover.yml'
    tasks.write_text(
        '- name: Keep the credential where only the test reads it\n'
        '  ansible.builtin.copy:\n'
        '    dest: "%s/{{ unblock_email_credential.user }}.json"\n'
        '    content: "{{ unblock_email_credential | to_json }}"\n'
        '    mode: "0600"\n' % out)
    out.mkdir()
    run = Run(emulator, tmp_path, *users_arg(ROB), '-vvv', '-e', 'unblock_email_password_delivery=tasks',
              '-e', 'unblock_email_password_tasks=%s' % tasks)
    run.assert_rc(0)
    handed = json.loads((out / f'{ROB}.json').read_text())
    assert handed['kind'] == 'password' and handed['user'] == ROB and handed['tenant'] == 'localhost'
    assert handed['value'] not in run.output
    assert handed['value'] not in files_under(run.report_dir)


def test_password_file_kept_encrypted_with_the_runs_vault_secret(emulator, tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret_file = tmp_path / 'vault-secret'
    secret_file.write_text('an admin vault secret\n')
    secret_file.chmod(0o600)
    mark = emulator.mark()
    refused = Run(emulator, tmp_path / 'no-secret', *users_arg(ROB), '-e', 'unblock_email_password_file_encrypt=true')
    refused.assert_rc(2)
    assert 'password_file_encrypt needs a vault secret of the run' in refused.output
    assert [w for w in emulator.writes(mark) if 'passwordProfile' in (w.get('fields') or [])] == []

    run = Run(emulator, tmp_path, *users_arg(ROB), '-e', 'unblock_email_password_file_encrypt=true',
              '--vault-password-file', str(secret_file))
    run.assert_rc(0)
    vaulted = run.password_file().read_text()
    assert vaulted.startswith('$ANSIBLE_VAULT;1.1;AES256\n')
    assert not emulator.credential_in(vaulted, seeds.CONTOSO_TENANT_ID, ROB)
    clear = VaultLib([('default', VaultSecret(b'an admin vault secret'))]).decrypt(vaulted).decode('utf-8')
    assert json.loads(clear)['users'][ROB]['status'] == 'set'
    assert emulator.credential_in(clear, seeds.CONTOSO_TENANT_ID, ROB)
    assert not emulator.credential_in(run.output, seeds.CONTOSO_TENANT_ID, ROB)


def test_a_pass_the_vault_did_not_take_is_taken_back_and_the_rerun_issues_one(emulator, tmp_path):
    """The vault takes the pending entry, then refuses the pass (throttled past every retry): the pass is deleted, rob
    fails with why; the next run issues a pass that reaches the vault."""
    args = [*users_arg(ROB), *vault_args(emulator, '-e', 'unblock_email_temporary_access_pass=true')]
    emulator.set_faults([{'service': 'keyvault', 'path': '/secrets/', 'status': 503, 'after': 1, 'count': 20}])
    first = Run(emulator, tmp_path, *args, '-e', 'm365_max_retries=0')
    first.assert_rc(2)
    rob = first.users()[ROB]
    assert 'taken back' in rob['steps']['password']['msg']
    state = emulator.state(seeds.CONTOSO_TENANT_ID)
    methods = next(u for u in state['users'] if u['userPrincipalName'] == ROB)['authenticationMethods']
    assert not [m for m in methods if 'temporaryAccessPass' in m['@odata.type']]
    emulator.clear_faults()
    again = Run(emulator, tmp_path, *args)
    again.assert_rc(0)
    name, versions = rob_secret(emulator)
    assert emulator.vault_compare(VAULT, name, seeds.CONTOSO_TENANT_ID, ROB, as_='temporary_access_pass') is True
