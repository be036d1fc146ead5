#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the embedded Microsoft 365 emulator seeded with a tenant
# where rob@contoso.com is blocked for sending spam, and run the unblock playbook against it:
# first in check mode (nothing changes), then for real, then once more (nothing left to do).
# Extra arguments go to ansible-playbook (for example -e '{"unblock_email_users": []}' for the whole tenant).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
work=$root/.tmp/demo
rm -rf "$work" && mkdir -p "$work"
py=$root/.venv/bin/python

PYTHONPATH=$root/tests/emulator "$py" -m m365emu serve --seed demo --info-file "$work/emulator.json" \
    --state-dir "$work/emulator" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/emulator.json" ] && break; sleep 0.1; done
[ -s "$work/emulator.json" ] || { cat "$work/emulator.log" >&2; exit 1; }

# The emulator's endpoints and its throwaway CA, and the demo tenant's app credentials.
eval "$(PYTHONPATH=$root/tests/emulator "$py" - "$work/emulator.json" <<'PY'
import json, shlex, sys
from m365emu import seeds
info = json.load(open(sys.argv[1]))
env = {
    "AZURE_AUTHORITY_HOST": info["base_url"], "M365_GRAPH_ENDPOINT": info["base_url"],
    "M365_EXCHANGE_ENDPOINT": info["base_url"], "M365_CA_BUNDLE": info["ca_path"],
    "AZURE_TENANT_ID": seeds.CONTOSO_TENANT_ID, "AZURE_CLIENT_ID": seeds.CONTOSO_CLIENT_ID,
    "AZURE_CLIENT_SECRET": seeds.CONTOSO_SECRET,
}
for key, value in env.items():
    print(f"export {key}={shlex.quote(value)}")
PY
)"
export ANSIBLE_COLLECTIONS_PATH=$root/.tmp/collections ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

run() {
    local reports=$1
    shift
    "$root/.venv/bin/ansible-playbook" playbooks/unblock_email.yml \
        -e '{"unblock_email_users": ["rob@contoso.com"]}' \
        -e "unblock_email_report_dir=$work/$reports" -e "unblock_email_password_dir=$work/passwords" "$@"
}
echo "### 1/3 check mode: what would be done" >&2
run reports-check --check "$@"
echo "### 2/3 remediate" >&2
run reports "$@"
echo "### 3/3 run again: nothing left to do" >&2
run reports-rerun "$@"
echo "### readable summary of the remediation ($work/reports/summary.md)" >&2
cat "$work/reports/summary.md"
echo "### the new password is in $work/passwords/localhost.json (mode 600), never in the output" >&2
