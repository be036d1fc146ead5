"""AWX and CI deliverables: the execution environment, the AWX credential type, the pipeline examples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import jinja2.sandbox
import yaml

from m365emu import seeds
from runner import ROOT, ansible_env, password_files, run_playbook
from test_auth_methods import PLAYBOOK

BIN = Path(sys.executable).parent
AWX = ROOT / "docs" / "awx"
CI = ROOT / "docs" / "ci"
SECRET_FIELDS = {"client_secret", "client_certificate", "client_certificate_password", "federated_token"}


def run(*command: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=str(cwd), capture_output=True, text=True, timeout=300, check=False,
                          env=env or ansible_env())


def collection_version() -> str:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def build_collection(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    done = run(str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / f"m365ops-remediation-{collection_version()}.tar.gz"


def test_collection_metadata_for_ansible_builder():
    from ansible_builder.ee_schema import validate_schema

    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    validate_schema(meta)
    assert meta["version"] == 3 and meta["dependencies"]["python"] == "requirements.txt"
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert [r for r in requirements if not r.startswith("#")][-2:] == ["msal>=1.24.0", "requests>=2.28.0"]


def test_ansible_builder_create_and_introspect(tmp_path):
    tarball = build_collection(tmp_path / "dist")
    build = tmp_path / "ee"
    build.mkdir()
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(AWX / name, build / name)
    shutil.copy(tarball, build / tarball.name)
    context = tmp_path / "context"
    done = run(str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", str(context),
               "--output-filename", "Containerfile", cwd=build)
    assert done.returncode == 0, done.stdout + done.stderr
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/ansible/awx-ee:latest"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    source = galaxy["collections"][0]["name"]
    assert source == f"/build/collections/{tarball.name}" and galaxy["collections"][0]["type"] == "file"
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    assert "cryptography" in (context / "_build" / "requirements.txt").read_text()
    # What the builder stage does with the installed collection: its meta/execution-environment.yml gives msal and requests.
    installed = tmp_path / "collections"
    done = run(str(BIN / "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(installed),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pip_out = tmp_path / "pip.txt"
    done = run(sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(installed),
               "--user-pip", str(context / "_build" / "requirements.txt"), "--write-pip", str(pip_out), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = pip_out.read_text().splitlines()
    assert "msal>=1.24.0  # from collection m365ops.remediation" in lines
    assert "requests>=2.28.0  # from collection m365ops.remediation" in lines
    assert any(line.startswith("cryptography") for line in lines)


def credential_type() -> dict:
    return yaml.safe_load((AWX / "credential_type_m365.yml").read_text())


def render_injectors(inputs: dict, files_dir: Path) -> dict[str, str]:
    """Render the injectors as AWX does: file templates to files, then env with tower.filename."""
    definition = credential_type()
    env = jinja2.sandbox.ImmutableSandboxedEnvironment()
    defaults = {f["id"]: f.get("default", "") for f in definition["inputs"]["fields"]}
    namespace = dict(defaults, **inputs)
    filenames = {}
    for key, template in definition["injectors"]["file"].items():
        name = key.split(".", 1)[1]
        path = files_dir / name
        path.write_text(env.from_string(template).render(**namespace))
        os.chmod(path, 0o600)
        filenames[name] = str(path)
    namespace["tower"] = {"filename": filenames}
    return {k: env.from_string(v).render(**namespace) for k, v in definition["injectors"]["env"].items()}


def test_awx_credential_type_structure():
    definition = credential_type()
    assert definition["kind"] == "cloud" and definition["name"]
    fields = {f["id"]: f for f in definition["inputs"]["fields"]}
    # One credential for the fleet: the tenant is left empty, each inventory host names its own.
    assert set(definition["inputs"]["required"]) == {"client_id"}
    assert "m365_tenant_id" in fields["tenant_id"]["help_text"]
    for field in fields.values():
        assert field["type"] == "string" and field["label"]
        assert bool(field.get("secret")) == (field["id"] in SECRET_FIELDS), field["id"]
    env = definition["injectors"]["env"]
    assert set(env) == {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}
    # Every variable a template uses is an input (or AWX's tower.filename).
    jenv = jinja2.Environment()
    from jinja2 import meta
    used = set()
    for template in list(env.values()) + list(definition["injectors"]["file"].values()):
        used |= meta.find_undeclared_variables(jenv.parse(template))
    assert used - {"tower"} <= set(fields)


def test_awx_credential_injection_signs_in(emulator, tmp_path):
    """The env a job gets from a credential of this type works, for a certificate and for a client secret."""
    playbook = tmp_path / "info.yml"
    playbook.write_text(PLAYBOOK)
    for inputs in ({"client_certificate": seeds.CONTOSO_CERT_KEY_PEM + seeds.CONTOSO_CERT_PEM},
                   {"client_secret": seeds.CONTOSO_SECRET}):
        files = tmp_path / ("files-" + next(iter(inputs)))
        files.mkdir()
        env = render_injectors(dict(inputs, tenant_id=seeds.CONTOSO_TENANT_ID, client_id=seeds.CONTOSO_CLIENT_ID,
                                    authority_host=emulator.base_url), files)
        assert bool(env["AZURE_CLIENT_CERTIFICATE_PATH"]) == ("client_certificate" in inputs)
        assert env["AZURE_FEDERATED_TOKEN_FILE"] == ""
        job_env = dict(emulator.env(), **env)
        mark = emulator.mark()
        done = run_playbook(playbook, job_env, "-e", f"out={files / 'found.json'}")
        assert done.returncode == 0, done.stdout[-3000:]
        assert any(e["service"] == "token" and e["status"] == 200 for e in emulator.journal(mark))


def test_pipeline_examples_pass_their_schemas():
    for name, schema in (("github-actions.yml", "vendor.github-workflows"), ("gitlab-ci.yml", "vendor.gitlab-ci")):
        done = run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(CI / name), cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr


def test_github_workflow_shape():
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    triggers = workflow["on"]  # quoted: YAML 1.1 would read a bare on as true
    assert set(triggers) == {"pull_request", "workflow_dispatch"}
    assert workflow["permissions"]["id-token"] == "write"
    job = workflow["jobs"]["unblock"]
    assert job["env"]["ANSIBLE_CALLBACKS_ENABLED"] == "ansible.builtin.junit"
    steps = {s.get("name"): s for s in job["steps"]}
    assert "--check" in steps["Check mode (pull request)"]["run"] and steps["Check mode (pull request)"]["if"] == "github.event_name == 'pull_request'"
    assert "--check" not in steps["Apply (manual run)"]["run"] and "workflow_dispatch" in steps["Apply (manual run)"]["if"]
    upload = steps["Upload the report and the JUnit results"]
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
    uploaded = upload["with"]["path"].split()
    assert uploaded == ["reports/", "junit/"]
    # New credentials go to Key Vault through the same federated identity, in check mode too: never a password on the runner.
    for name in ("Check mode (pull request)", "Apply (manual run)"):
        command = steps[name]["run"]
        assert "-e unblock_email_password_delivery=key_vault" in command, name
        assert "-e unblock_email_key_vault_url=${{ vars.M365_KEY_VAULT_URL }}" in command, name
        assert "password_dir" not in command and "passwords" not in command, name
    # No stored secret: identity comes from the OIDC token.
    assert "secrets." not in (CI / "github-actions.yml").read_text()


def test_gitlab_pipeline_shape():
    pipeline = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    assert pipeline[".unblock"]["id_tokens"]["AZURE_OIDC_TOKEN"]["aud"] == "api://AzureADTokenExchange"
    assert any("AZURE_FEDERATED_TOKEN_FILE" in line for line in pipeline[".unblock"]["before_script"])
    assert pipeline[".unblock"]["artifacts"]["paths"] == ["reports/", "junit/"]
    assert "--check" in pipeline["check"]["script"][0] and "--check" not in pipeline["apply"]["script"][0]
    assert pipeline["apply"]["rules"][0]["when"] == "manual"
    # New credentials go to Key Vault through the same federated identity, in check mode too: never a password on the runner.
    assert pipeline["variables"]["UNBLOCK_EMAIL_KEY_VAULT_URL"].startswith("https://")
    for job in ("check", "apply"):
        command = pipeline[job]["script"][0]
        assert "-e unblock_email_password_delivery=key_vault" in command, job
        assert '-e unblock_email_key_vault_url="$UNBLOCK_EMAIL_KEY_VAULT_URL"' in command, job
        assert "password_dir" not in command and "passwords" not in command, job


def test_junit_report_of_a_failing_tenant(emulator, tmp_path):
    """What the pipelines publish: the junit callback's report shows the failed task of the tenant."""
    junit = tmp_path / "junit"
    env = dict(emulator.env(), AZURE_TENANT_ID=seeds.CONTOSO_TENANT_ID, AZURE_CLIENT_ID=seeds.CONTOSO_CLIENT_ID,
               AZURE_CLIENT_SECRET=seeds.CONTOSO_SECRET, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit",
               JUNIT_OUTPUT_DIR=str(junit), JUNIT_TASK_CLASS="true", JUNIT_HIDE_TASK_ARGUMENTS="true")
    done = run_playbook(ROOT / "playbooks" / "unblock_email.yml", env,
                        "-e", json.dumps({"unblock_email_users": ["ann@contoso.com", "dana@contoso.com"]}),
                        "-e", f"unblock_email_report_dir={tmp_path / 'reports'}", "-e", f"unblock_email_password_dir={tmp_path / 'pw'}")
    assert done.returncode == 2, done.stdout[-3000:]
    reports = list(junit.glob("*.xml"))
    assert len(reports) == 1
    root = ET.parse(reports[0]).getroot()
    # A task that fails without an exception is a <failure>, one that raised is an <error>: either turns the pipeline red.
    failures = [case.get("name") for case in root.iter("testcase")
                if case.find("failure") is not None or case.find("error") is not None]
    assert failures, reports[0].read_text()[:3000]
    assert any("Fail when a user or the tenant could not be remediated" in name for name in failures), failures
    text = reports[0].read_text()
    assert seeds.CONTOSO_SECRET not in text
    [password_file] = password_files(tmp_path / "pw", "localhost")
    passwords = json.loads(password_file.read_text())["users"].values()
    assert all(p["password"] not in text for p in passwords)
