"""No secret anywhere: the unblock playbook at -vvvv through ansible-runner with every authentication method and generated
passwords; then the whole output, the reports, the emulator journal and the runner artifacts are searched for every secret
value. And the files the collection writes are 0600 and never written through a link."""

from __future__ import annotations

import json
import os
import re

import pytest

from m365emu import seeds
from m365emu.pki import make_pfx
from runner import LOCAL_PLAY, password_files, run_playbook, run_reports, tenant_env
from test_role import Run, users_arg
from test_runner import JWT_RE, artifacts_text, private_data_dir, run_runner

PFX_PASSWORD = 'pfx-Pa55-word-Leak-Check'
USERS = ['rob@contoso.com', 'ann@contoso.com', 'frank@contoso.com']


def key_body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM private key: any of them in the output is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith('-----') and len(line) >= 40]


def credential(method: str, tmp_path, emulator) -> tuple[dict[str, str], list[str]]:
    """Inventory-style variables for one authentication method (secret values as extra variables, the way an AWX
    credential injects them: ansible-runner records its environment variables in artifacts/<job>/command), and the
    secret values that must never appear."""
    key_lines = key_body_lines(seeds.CONTOSO_CERT_KEY_PEM)
    if method == 'client_secret':
        return {'m365_client_secret': seeds.CONTOSO_SECRET}, [seeds.CONTOSO_SECRET]
    if method == 'certificate_pem':
        path = tmp_path / 'secrets' / 'app.pem'
        path.write_text(seeds.CONTOSO_CERT_KEY_PEM + seeds.CONTOSO_CERT_PEM)
        return {'m365_client_certificate_path': str(path)}, key_lines
    if method == 'certificate_pfx':
        path = tmp_path / 'secrets' / 'app.pfx'
        path.write_bytes(make_pfx(seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, PFX_PASSWORD))
        return {'m365_client_certificate_path': str(path), 'm365_client_certificate_password': PFX_PASSWORD}, key_lines + [PFX_PASSWORD]
    token_file = tmp_path / 'secrets' / 'azure-identity-token'
    token = emulator.oidc_token(seeds.CONTOSO_OIDC_SUBJECT, path=token_file)
    return {'m365_federated_token_file': str(token_file)}, [token]


def assert_no_secret(places: dict[str, str], secrets: list[str]) -> None:
    for name, text in places.items():
        for secret in secrets:
            assert secret not in text, f'a secret ({secret[:6]}...) is in {name}'
        found = JWT_RE.search(text)
        assert not found, f'a JWT ({found.group(0)[:20]}...) is in {name}'


@pytest.mark.parametrize('method', ['client_secret', 'client_secret_shipped', 'certificate_pem', 'certificate_pfx',
                                    'federated_token_file'])
def test_role_at_vvvv_leaks_no_secret(emulator, tmp_path, method):
    (tmp_path / 'secrets').mkdir()
    # The modules run in Ansible's worker on the controller; "shipped" runs them as module processes instead.
    shipped = method.endswith('_shipped')
    extravars, secrets = credential(method.removesuffix('_shipped'), tmp_path, emulator)
    if shipped:
        extravars['m365_in_process'] = False
    outside = tmp_path / 'secrets'
    pdd = private_data_dir(tmp_path, emulator, {}, dict(extravars, **{
        'unblock_email_users': USERS, 'unblock_email_password_dir': str(outside / 'passwords'),
        'unblock_email_report_dir': str(outside / 'reports'),
    }))
    (pdd / 'env' / 'cmdline').write_text('-vvvv')
    done = run_runner(pdd)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    # Really -vvvv, and really the way the modules ran.
    assert 'rob@contoso.com' in output
    assert ('ESTABLISH LOCAL CONNECTION' if shipped else 'in the worker process') in output
    [password_file] = password_files(outside / 'passwords', 'contoso')
    passwords = [u['password'] for u in json.loads(password_file.read_text())['users'].values()]
    assert len(passwords) == 3
    assert oct(password_file.stat().st_mode & 0o777) == '0o600'
    [report_file] = run_reports(outside / 'reports', 'contoso')
    assert oct(report_file.stat().st_mode & 0o777) == '0o600'
    assert {u['outcome'] for u in json.loads(report_file.read_text())['users']} == {'remediated'}
    tokens = emulator.issued_tokens()
    assert tokens  # the access tokens the run was given, captured from the emulator
    places = {
        'output': output,
        'artifacts': artifacts_text(pdd),
        'reports': ''.join(p.read_text() for p in (outside / 'reports').rglob('*') if p.is_file()),
        'journal': json.dumps(emulator.journal()),
    }
    assert_no_secret(places, secrets + passwords + tokens)


ACCESS_TOKEN_PLAYBOOK = LOCAL_PLAY + """\
  tasks:
    - name: Read the Restricted Users list with an Exchange token
      m365ops.remediation.restricted_user_info:
        access_token: "{{ exchange_token }}"
    - name: Reset with generated passwords with a Graph token
      m365ops.remediation.user_password:
        users: "{{ users }}"
        password_file: "{{ password_file }}"
        access_token: "{{ graph_token }}"
      diff: true
    - name: Unblock with an Exchange token
      m365ops.remediation.restricted_user:
        addresses: "{{ users }}"
        access_token: "{{ exchange_token }}"
      diff: true
"""


def test_access_tokens_at_vvvv_leak_nowhere(emulator, tmp_path):
    from m365emu.client import EmuClient  # pylint: disable=import-outside-toplevel

    client = EmuClient(emulator.base_url, emulator.ca_path)
    graph_token = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    exchange_token = client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET,
                                  resource='https://outlook.office365.com')
    playbook = tmp_path / 'tokens.yml'
    playbook.write_text(ACCESS_TOKEN_PLAYBOOK)
    password_file = tmp_path / 'passwords.json'
    env = {k: v for k, v in tenant_env(emulator).items() if k != 'AZURE_CLIENT_SECRET'}
    extra = {'graph_token': graph_token, 'exchange_token': exchange_token, 'users': USERS[:2], 'password_file': str(password_file)}
    extra_file = tmp_path / 'extra.json'
    extra_file.write_text(json.dumps(extra))
    os.chmod(extra_file, 0o600)
    done = run_playbook(playbook, env, '-vvvv', '-e', f'@{extra_file}')
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert 'password reset' in output
    passwords = [u['password'] for u in json.loads(password_file.read_text())['users'].values()]
    assert len(passwords) == 2
    assert_no_secret({'output': output, 'journal': json.dumps(emulator.journal())},
                     passwords + [graph_token, exchange_token, seeds.CONTOSO_SECRET])


def test_report_and_password_files_never_follow_a_link(emulator, tmp_path):
    """A link planted where the run writes: refused, the file it points to untouched, and no password reset without
    a password folder to deliver it to."""
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'index').write_text('precious\n')
    (elsewhere / 'passwords').mkdir()
    (tmp_path / 'reports').mkdir(mode=0o700)
    (tmp_path / 'reports' / 'index.jsonl').symlink_to(elsewhere / 'index')
    (tmp_path / 'passwords').symlink_to(elsewhere / 'passwords')
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    run.assert_rc(2)
    assert (elsewhere / 'index').read_text() == 'precious\n'
    assert list((elsewhere / 'passwords').iterdir()) == []
    assert re.search(r"refusing to write '[^']*/passwords': it is a symbolic link", run.output)
    assert re.search(r"refusing to write '[^']*reports/index\.jsonl': it is a symbolic link", run.output)
    rob = seeds.USER_IDS['rob@contoso.com']
    assert not [w for w in emulator.writes(0) if w['path'] == f'/v1.0/users/{rob}' and w.get('fields') == ['passwordProfile']]
    assert 'rob@contoso.com' in {e['SenderAddress'] for e in emulator.state(seeds.CONTOSO_TENANT_ID)['restricted']}


def test_files_are_created_0600_in_0700_folders(emulator, tmp_path):
    os.umask(0o022)
    run = Run(emulator, tmp_path, *users_arg('rob@contoso.com'))
    run.assert_rc(0)
    for folder in (tmp_path / 'reports', tmp_path / 'passwords'):
        assert oct(folder.stat().st_mode & 0o777) == '0o700'
        for path in folder.rglob('*'):
            assert oct(path.stat().st_mode & 0o777) == ('0o700' if path.is_dir() else '0o600'), path
