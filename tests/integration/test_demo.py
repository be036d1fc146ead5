"""scripts/demo.sh --tenants 3: the fleet demo, as a user runs it from a fresh shell."""

from __future__ import annotations

import os
import subprocess

import yaml

from runner import ROOT

DEMO = ROOT / "scripts" / "demo.sh"
WORK = ROOT / ".tmp" / "demo"


def test_fleet_demo_three_tenants():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "M365_"))}
    done = subprocess.run([str(DEMO), "--tenants", "3"], cwd=str(ROOT), env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    output = done.stdout + done.stderr
    # What the demo itself sets up: three tenants in an inventory, the shared app in a credentials file, three runs.
    hosts = yaml.safe_load((WORK / "inventory.yml").read_text(encoding="utf-8"))["m365_tenants"]["hosts"]
    assert list(hosts) == ["tenant0", "tenant1", "tenant2"]
    assert all(set(host_vars) == {"m365_tenant_id"} for host_vars in hosts.values())
    assert "AZURE_CLIENT_ID=" in (WORK / "credentials.sh").read_text(encoding="utf-8")
    assert "### 1/3 check mode" in output, output[-4000:]
    for host in hosts:
        assert f"\n{host} " in output, output[-4000:]  # its line in the PLAY RECAP
    # Loose, on the role's words: the three runs succeed and the summary counts the three tenants.
    assert done.returncode == 0, output[-4000:]
    for header in ("### 2/3 remediate", "### 3/3 run again", "### readable summary"):
        assert header in output, output[-4000:]
    assert "3 tenant(s)" in output, output[-4000:]
