"""The unblock playbook through ansible-runner, the engine AWX and Automation Platform run jobs with.

A private data directory as AWX prepares one (env/envvars, env/extravars, project, inventory with the tenant
as a host), then the artifacts: status, rc, job events, and not one secret in any file of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from m365emu import seeds
from runner import COLLECTIONS, ROOT, password_files, run_reports

JWT_RE = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")


def private_data_dir(tmp_path: Path, emulator, envvars: dict[str, str], extravars: dict) -> Path:
    pdd = tmp_path / "runner"
    (pdd / "env").mkdir(parents=True)
    (pdd / "project").mkdir()
    (pdd / "inventory").mkdir()
    shutil.copy(ROOT / "playbooks" / "unblock_email.yml", pdd / "project" / "unblock_email.yml")
    inventory = {"m365_tenants": {"hosts": {"contoso": {
        "m365_tenant_id": seeds.CONTOSO_TENANT_ID, "m365_client_id": seeds.CONTOSO_CLIENT_ID,
        "unblock_email_protected": ["breakglass@contoso.com"],
    }}}}
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = dict(emulator.env())
    env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1")
    env.update(envvars)
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(env))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    return pdd


def run_runner(pdd: Path) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "M365_", "ACTIONS_"))}
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    command = [str(bindir / "ansible-runner"), "run", str(pdd), "-p", "unblock_email.yml", "--ident", "job1"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


def artifacts_text(pdd: Path, leave_out: tuple[str, ...] = ()) -> str:
    """Every file under artifacts/ (but those named in ``leave_out``), as text, concatenated."""
    parts = []
    for path in sorted((pdd / "artifacts").rglob("*")):
        if path.is_file() and path.name not in leave_out:
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def events(pdd: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (pdd / "artifacts" / "job1" / "job_events").glob("*.json")]
    return sorted(found, key=lambda event: event["counter"])


def test_runner_job_with_federated_token_leaves_no_secret_in_artifacts(emulator, tmp_path):
    secrets_dir = tmp_path / "outside"
    secrets_dir.mkdir()
    token_file = secrets_dir / "azure-identity-token"
    token = emulator.oidc_token(seeds.CONTOSO_OIDC_SUBJECT, path=token_file)
    password_dir = secrets_dir / "passwords"
    pdd = private_data_dir(tmp_path, emulator, {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)}, {
        "unblock_email_users": ["rob@contoso.com"], "unblock_email_password_dir": str(password_dir),
        "unblock_email_report_dir": str(secrets_dir / "reports"),
    })
    done = run_runner(pdd)
    artifacts = pdd / "artifacts" / "job1"
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert (artifacts / "status").read_text().strip() == "successful"
    assert (artifacts / "rc").read_text().strip() == "0"
    kinds = [e["event"] for e in events(pdd)]
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    assert "runner_on_ok" in kinds and "runner_on_failed" not in kinds
    stats = [e for e in events(pdd) if e["event"] == "playbook_on_stats"][0]["event_data"]
    assert stats["failures"] == {} and stats["changed"].get("contoso", 0) > 0
    restricted = [r["SenderAddress"] for r in emulator.state(seeds.CONTOSO_TENANT_ID)["restricted"]]
    assert "rob@contoso.com" not in restricted and "ann@contoso.com" in restricted
    [password_file] = password_files(password_dir, "contoso")
    passwords = [u["password"] for u in json.loads(password_file.read_text())["users"].values()]
    assert len(passwords) == 1
    text = artifacts_text(pdd)
    assert "rob@contoso.com" in text  # the artifacts are the real ones
    for secret in passwords + [token, seeds.CONTOSO_SECRET]:
        assert secret not in text
    assert not JWT_RE.search(text), JWT_RE.search(text).group(0)[:40]


def test_runner_job_goes_red_when_a_user_cannot_be_remediated(emulator, tmp_path):
    """The client secret travels as an extra variable (as an AWX credential injects it), never in the artifacts."""
    outside = tmp_path / "outside"
    pdd = private_data_dir(tmp_path, emulator, {}, {
        "m365_client_secret": seeds.CONTOSO_SECRET,
        "unblock_email_users": ["ann@contoso.com", "dana@contoso.com"],
        "unblock_email_password_dir": str(outside / "passwords"), "unblock_email_report_dir": str(outside / "reports"),
    })
    done = run_runner(pdd)
    artifacts = pdd / "artifacts" / "job1"
    assert done.returncode != 0
    assert (artifacts / "status").read_text().strip() == "failed"
    assert (artifacts / "rc").read_text().strip() == "2"
    failed = [e for e in events(pdd) if e["event"] == "runner_on_failed"]
    assert failed and failed[-1]["event_data"]["task"] == "Fail when a user or the tenant could not be remediated"
    message = failed[-1]["event_data"]["res"]["msg"]
    assert "1 user(s) of tenant contoso could not be remediated" in message
    [report_file] = run_reports(outside / "reports", "contoso")
    assert str(report_file) in message
    report = json.loads(report_file.read_text())
    assert report["failed"] is True and report["counts"]["failed"] == 1
    assert [(u["address"], u["outcome"]) for u in report["users"]] == [("ann@contoso.com", "remediated"), ("dana@contoso.com", "failed")]
    assert "on-premises Active Directory" in report["users"][1]["steps"]["password"]["msg"]
    [password_file] = password_files(outside / "passwords", "contoso")
    passwords = [u["password"] for u in json.loads(password_file.read_text())["users"].values()]
    text = artifacts_text(pdd)
    for secret in passwords + [seeds.CONTOSO_SECRET]:
        assert secret not in text
    assert not JWT_RE.search(text)


def test_runner_fleet_under_one_credential_publishes_artifacts_without_secrets(emulator, tmp_path):
    """Two tenant hosts that give only m365_tenant_id, one multi-tenant app in the environment (as one AWX credential
    injects it): each tenant remediated once, and the job's artifacts (set_stats) name the user that failed."""
    seed = json.loads(json.dumps(seeds.test_seed()))
    contoso = next(t for t in seed["tenants"] if t["id"] == seeds.CONTOSO_TENANT_ID)
    fabrikam = next(t for t in seed["tenants"] if t["id"] == seeds.FABRIKAM_TENANT_ID)
    fabrikam["apps"].append(json.loads(json.dumps(next(a for a in contoso["apps"] if a["client_id"] == seeds.CONTOSO_CLIENT_ID))))
    emulator.reset(seed)
    fabrikam_user = "alice@fabrikam.com"
    outside = tmp_path / "outside"
    pdd = private_data_dir(tmp_path, emulator, {"AZURE_CLIENT_ID": seeds.CONTOSO_CLIENT_ID, "AZURE_CLIENT_SECRET": seeds.CONTOSO_SECRET}, {
        "unblock_email_password_dir": str(outside / "passwords"), "unblock_email_report_dir": str(outside / "reports"),
    })
    inventory = {"m365_tenants": {"hosts": {
        "contoso": {"m365_tenant_id": seeds.CONTOSO_TENANT_ID, "unblock_email_protected": ["breakglass@contoso.com"],
                    "unblock_email_users": ["rob@contoso.com", "dana@contoso.com"]},
        "fabrikam": {"m365_tenant_id": seeds.FABRIKAM_TENANT_ID, "unblock_email_users": [fabrikam_user]},
    }}}
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    mark = emulator.mark()
    done = run_runner(pdd)
    assert (pdd / "artifacts" / "job1" / "rc").read_text().strip() == "2", done.stdout[-4000:]
    resets = [w for w in emulator.writes(mark) if w["service"] == "graph" and "passwordProfile" in (w.get("fields") or [])]
    by_tenant = {}
    for write in resets:
        by_tenant[write["tenant"]] = by_tenant.get(write["tenant"], 0) + 1
    assert by_tenant == {seeds.CONTOSO_TENANT_ID: 1, seeds.FABRIKAM_TENANT_ID: 1}, resets
    stats = [e for e in events(pdd) if e["event"] == "playbook_on_stats"][0]["event_data"]
    published = stats["artifact_data"]["m365ops_unblock_email"]
    assert set(published) == {"contoso", "fabrikam"}
    assert published["contoso"]["failed_users"][0]["user"] == "dana@contoso.com"
    assert "on-premises" in published["contoso"]["failed_users"][0]["reason"]
    assert published["contoso"]["password_file"].endswith("-contoso.json") and published["contoso"]["credentials"] == {}
    assert published["fabrikam"]["failed"] is False and published["fabrikam"]["counts"]["unblocked"] == 1
    passwords = []
    for host in ("contoso", "fabrikam"):
        [password_file] = password_files(outside / "passwords", host)
        passwords += [u["password"] for u in json.loads(password_file.read_text())["users"].values()]
    assert len(passwords) == 2
    # ansible-runner records the launch environment it was given (the injected credential) in artifacts/<ident>/command,
    # readable by its owner only; AWX keeps that file inside the job's private data directory and publishes the events,
    # the output and the set_stats data, which are what is searched here.
    command = pdd / "artifacts" / "job1" / "command"
    assert command.stat().st_mode & 0o077 == 0
    text = artifacts_text(pdd, leave_out=("command",))
    for secret in passwords + [seeds.CONTOSO_SECRET]:
        assert secret not in text
    assert not JWT_RE.search(text)
