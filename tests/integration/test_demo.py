"""scripts/demo.sh --tenants 3: the fleet demo, as a user runs it from a fresh shell."""

from __future__ import annotations

import os
import subprocess

import yaml

from runner import ROOT

DEMO = ROOT / "scripts" / "demo.sh"
WORK = ROOT / ".tmp" / "demo"


def demo(*args: str) -> tuple[subprocess.CompletedProcess, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "M365_"))}
    # One stream, in order: the demo's headers (stderr) between the runs' output (stdout).
    done = subprocess.run([str(DEMO), *args], cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, check=False)
    return done, done.stdout


def runs(output: str) -> tuple[str, str, str]:
    """The output of the demo's three runs: check, apply, run again."""
    parts = {part.split(" ", 1)[0]: part for part in output.split("### ")[1:]}
    return parts["1/3"], parts["2/3"], parts["3/3"]


# Both demos in one test: they share the demo's work folder.
def test_demos_single_tenant_then_three_tenants():
    done, output = demo()
    assert done.returncode == 0, output[-4000:]
    check, applied, again = runs(output)
    assert "CHECK MODE, nothing was changed: 1 user(s) in 1 tenant(s): would reset 1 password(s)" in check, check[-3000:]
    assert "1 user(s) in 1 tenant(s): 1 password(s) reset, 1 session(s) revoked, 1 unblocked" in applied, applied[-3000:]
    assert "0 unblocked, 1 already remediated" in again, again[-3000:]

    done, output = demo("--tenants", "3")
    # What the demo itself sets up: three tenants in an inventory, the shared app in a credentials file, three runs.
    hosts = yaml.safe_load((WORK / "inventory.yml").read_text(encoding="utf-8"))["m365_tenants"]["hosts"]
    assert list(hosts) == ["tenant0", "tenant1", "tenant2"]
    assert all(set(host_vars) == {"m365_tenant_id", "unblock_email_users"} for host_vars in hosts.values())
    assert "AZURE_CLIENT_ID=" in (WORK / "credentials.sh").read_text(encoding="utf-8")
    assert "### 1/3 check mode" in output, output[-4000:]
    for host in hosts:
        assert f"\n{host} " in output, output[-4000:]  # its line in the PLAY RECAP
    assert done.returncode == 0, output[-4000:]
    check, applied, again = runs(output)
    # The three runs read as what they were: "would" in check mode, then remediated, then already remediated.
    assert "CHECK MODE, nothing was changed: 9 user(s) in 3 tenant(s): would reset 9 password(s)" in check, check[-3000:]
    assert "would unblock 9" in check and "Nothing was unblocked (check mode)" in check
    assert "9 user(s) in 3 tenant(s): 9 password(s) reset, 9 session(s) revoked, 9 unblocked" in applied, applied[-3000:]
    assert "Sending expected back by" in applied
    assert "9 user(s) in 3 tenant(s): 0 password(s) reset, 0 session(s) revoked, 0 unblocked, 9 already remediated" in again, again[-3000:]
    assert "No account was unblocked in this run." in again
    assert "### readable summary" in output
