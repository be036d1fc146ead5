#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the embedded Microsoft 365 emulator and run the unblock playbook
# against it: first in check mode (nothing changes), then for real, then once more (nothing left to do).
#
#   scripts/demo.sh               one tenant, where rob@contoso.com is blocked for sending spam
#   scripts/demo.sh --tenants 3   the fleet path: 3 generated tenants (tenant0, tenant1, ...) in an inventory, one
#                                 multi-tenant app whose client id and secret are in the environment as an AWX
#                                 credential injects them, each host naming the accounts on its tenant's Restricted
#                                 Users list (add -e unblock_email_all=true to sweep each whole list instead)
#
# Other arguments go to ansible-playbook (for example -v; or, for the whole contoso tenant, whose other accounts
# include cases that fail on purpose: -e '{"unblock_email_users": []}' -e unblock_email_all=true).
# Everything goes to .tmp/demo: the emulator's seed and log, the reports of the three runs (one folder per run
# under reports/, listed in reports/index.jsonl) and the generated passwords (files under passwords/, mode 600).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

mode=single tenants=1
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tenants) mode=fleet tenants=${2:-}; shift $(($# >= 2 ? 2 : 1)) ;;
        --tenants=*) mode=fleet tenants=${1#--tenants=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ "$mode" = fleet ] && ! { [[ $tenants =~ ^[0-9]+$ ]] && [ "$tenants" -ge 2 ]; }; then
    echo "demo: --tenants takes a number of tenants, 2 or more (without it: the single-tenant demo)" >&2
    exit 2
fi
set -- ${args[@]+"${args[@]}"}

scripts/setup.sh
work=$root/.tmp/demo
rm -rf "$work" && mkdir -p "$work"
py=$root/.venv/bin/python

if [ "$mode" = fleet ]; then
    # N tenants of 20 users, 3 of them restricted (plain cases the role remediates), one app consented in all.
    PYTHONPATH=$root/tests/emulator "$py" -m m365emu generate --tenants "$tenants" --users 20 --restricted 3 --shared-app \
        --out "$work/seed.json" --inventory "$work/inventory.yml" --inventory-users --credentials "$work/credentials.sh"
    seed=$work/seed.json
else
    seed=demo
fi
PYTHONPATH=$root/tests/emulator "$py" -m m365emu serve --seed "$seed" --info-file "$work/emulator.json" \
    --state-dir "$work/emulator" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/emulator.json" ] && break; sleep 0.1; done
[ -s "$work/emulator.json" ] || { cat "$work/emulator.log" >&2; exit 1; }

# The emulator's endpoints and its throwaway CA; in the single-tenant demo, also the contoso tenant and its app.
eval "$(PYTHONPATH=$root/tests/emulator "$py" - "$work/emulator.json" "$mode" <<'PY'
import json, shlex, sys
from m365emu import seeds
info = json.load(open(sys.argv[1]))
env = {
    "AZURE_AUTHORITY_HOST": info["base_url"], "M365_GRAPH_ENDPOINT": info["base_url"],
    "M365_EXCHANGE_ENDPOINT": info["base_url"], "M365_CA_BUNDLE": info["ca_path"],
}
if sys.argv[2] == "single":
    env.update(AZURE_TENANT_ID=seeds.CONTOSO_TENANT_ID, AZURE_CLIENT_ID=seeds.CONTOSO_CLIENT_ID, AZURE_CLIENT_SECRET=seeds.CONTOSO_SECRET)
for key, value in env.items():
    print(f"export {key}={shlex.quote(value)}")
PY
)"
export ANSIBLE_COLLECTIONS_PATH=$root/.tmp/collections ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

reports=$work/reports
if [ "$mode" = fleet ]; then
    # The shared app's client id and secret, as an AWX credential injects them; no AZURE_TENANT_ID: every host of
    # the inventory names its own tenant (m365_tenant_id).
    # shellcheck source=/dev/null
    . "$work/credentials.sh"
    unset AZURE_TENANT_ID
    target=(-i "$work/inventory.yml")
    echo "### $tenants tenants (inventory $work/inventory.yml), each naming the accounts on its Restricted Users list" >&2
else
    target=(-e '{"unblock_email_users": ["rob@contoso.com"]}')
fi

run() {
    "$root/.venv/bin/ansible-playbook" playbooks/unblock_email.yml "${target[@]}" \
        -e "unblock_email_report_dir=$reports" -e "unblock_email_password_dir=$work/passwords" "$@"
}

# The summary of the newest run not in check mode: every run has its own folder under the report dir and lines in
# index.jsonl; the last line of a run not in check mode names its folder. Without the index, the newest folder by
# name that is not a check run's; with neither, a summary written in the report dir itself.
newest_summary() {
    "$py" - "$reports" <<'PY'
import json, os, sys
reports = sys.argv[1]


def applied(entry):
    """A run not in check mode: "check_mode": false (or "mode" other than "check" in an index without that key)."""
    if not isinstance(entry, dict) or not entry.get("folder"):
        return False
    if "check_mode" in entry:
        return entry["check_mode"] is False
    return "mode" in entry and entry["mode"] != "check"


folder = None
try:
    with open(os.path.join(reports, "index.jsonl"), encoding="utf-8") as index:
        for line in index:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if applied(entry):
                folder = entry["folder"]
except OSError:
    pass
if folder is None and os.path.isdir(reports):
    runs = sorted(name for name in os.listdir(reports) if os.path.isdir(os.path.join(reports, name)) and not name.endswith("-check"))
    folder = runs[-1] if runs else None
folder = os.path.join(reports, folder or "")
for name in ("summary.md", "summary.html"):
    if os.path.isfile(os.path.join(folder, name)):
        print(os.path.join(folder, name))
        break
PY
}
echo "### 1/3 check mode: what would be done" >&2
run --check "$@"
echo "### 2/3 remediate" >&2
run "$@"
summary=$(newest_summary)  # the remediation's, before the re-run adds its own
echo "### 3/3 run again: nothing left to do" >&2
run "$@"

if [ -n "$summary" ]; then
    echo "### readable summary of the remediation ($summary)" >&2
    cat "$summary"
else
    echo "### no summary found under $reports" >&2
fi
echo "### the reports of the three runs are in $reports (one folder per run, listed in index.jsonl);" \
    "the new passwords are in files under $work/passwords (mode 600), never in the output" >&2
