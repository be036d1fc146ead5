"""Every authentication method end to end: ansible-playbook, a module, the emulator; credentials from the environment."""

from __future__ import annotations

import json

import pytest

from m365emu import seeds
from m365emu.pki import make_pfx
from runner import LOCAL_PLAY, run_playbook

PLAYBOOK = LOCAL_PLAY + """\
  tasks:
    - name: Read a user through Microsoft Graph
      m365ops.remediation.user_info:
        users: [robert@contoso.com]
      register: found
    - name: Keep the answer for the test
      ansible.builtin.copy:
        content: "{{ found | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""
PFX_PASSWORD = "pfx-Pa55-word"


def base_env(emulator) -> dict[str, str]:
    """Endpoints and ids, no credential."""
    env = dict(emulator.env())
    env.update(AZURE_TENANT_ID=seeds.CONTOSO_TENANT_ID, AZURE_CLIENT_ID=seeds.CONTOSO_CLIENT_ID)
    return env


def run(emulator, tmp_path, env, *args):
    playbook = tmp_path / "auth.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "found.json"
    done = run_playbook(playbook, env, "-e", f"out={out}", *args)
    return done, (json.loads(out.read_text()) if out.exists() else None)


def token_requests(emulator, mark):
    return [e for e in emulator.journal(mark) if e["service"] == "token" and e["method"] == "POST"]


@pytest.mark.parametrize("form", ["pem", "pem_encrypted", "pfx"])
def test_certificate(emulator, tmp_path, form):
    env = base_env(emulator)
    if form == "pem":
        path = tmp_path / "app.pem"
        path.write_text(seeds.CONTOSO_CERT_KEY_PEM + seeds.CONTOSO_CERT_PEM)
    elif form == "pem_encrypted":
        from cryptography.hazmat.primitives import serialization
        key = serialization.load_pem_private_key(seeds.CONTOSO_CERT_KEY_PEM.encode(), password=None)
        encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(PFX_PASSWORD.encode()))
        path = tmp_path / "app-encrypted.pem"
        path.write_text(encrypted.decode() + seeds.CONTOSO_CERT_PEM)
        env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = PFX_PASSWORD
    else:
        path = tmp_path / "app.pfx"
        path.write_bytes(make_pfx(seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, PFX_PASSWORD))
        env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = PFX_PASSWORD
    env["AZURE_CLIENT_CERTIFICATE_PATH"] = str(path)
    mark = emulator.mark()
    done, found = run(emulator, tmp_path, env, "-vvv")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert found["users"][0]["user_principal_name"] == "rob@contoso.com"
    assert token_requests(emulator, mark) and all(e["status"] == 200 for e in token_requests(emulator, mark))
    assert PFX_PASSWORD not in done.stdout + done.stderr


def test_federated_token_file(emulator, tmp_path):
    token_file = tmp_path / "azure-identity-token"
    token = emulator.oidc_token(seeds.CONTOSO_OIDC_SUBJECT, path=token_file)
    env = dict(base_env(emulator), AZURE_FEDERATED_TOKEN_FILE=str(token_file))
    done, found = run(emulator, tmp_path, env, "-vvv")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert found["users"][0]["user_principal_name"] == "rob@contoso.com"
    assert token not in done.stdout + done.stderr


def test_github_actions_environment(emulator, tmp_path):
    """What a job with 'permissions: id-token: write' has: the runner's two variables and nothing else."""
    job = emulator.oidc_job(seeds.CONTOSO_OIDC_SUBJECT)
    env = dict(base_env(emulator), **job)
    mark = emulator.mark()
    done, found = run(emulator, tmp_path, env, "-vvv")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert found["users"][0]["user_principal_name"] == "rob@contoso.com"
    assert [e["path"] for e in emulator.journal(mark) if e["service"] == "oidc"] == ["/oidc/github/idtoken"]
    assert job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in output


@pytest.mark.parametrize("case", ["subject", "audience", "expired"])
def test_federated_refusals_fail_the_task_with_the_aadsts_code(emulator, tmp_path, case):
    token_file = tmp_path / "azure-identity-token"
    if case == "subject":
        emulator.oidc_token("repo:someone/fork:pull_request", path=token_file)
        expected = "AADSTS70021"
    elif case == "audience":
        emulator.oidc_token(seeds.CONTOSO_OIDC_SUBJECT, audience="https://github.com/m365ops", path=token_file)
        expected = "AADSTS70021"
    else:
        emulator.oidc_token(seeds.CONTOSO_OIDC_SUBJECT, lifetime=-600, path=token_file)
        expected = "AADSTS700024"
    token = token_file.read_text()
    env = dict(base_env(emulator), AZURE_FEDERATED_TOKEN_FILE=str(token_file))
    done, found = run(emulator, tmp_path, env)
    output = done.stdout + done.stderr
    assert done.returncode == 2 and found is None
    assert expected in output and token not in output
