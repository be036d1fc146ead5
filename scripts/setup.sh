#!/usr/bin/env bash
# Prepare a development environment from the project's pinned files:
#   .venv                                    Python environment from requirements-dev.txt
#   .tmp/collections/ansible_collections/... the collection, linked where Ansible and ansible-test look for it
#   ~/.ansible/test/cache/get_pip_*.py       offline pip bootstrap for ansible-test's sanity environments
# Safe to run again: the environment is rebuilt only when requirements-dev.txt changes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$root/.venv
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "setup: creating .venv from requirements-dev.txt" >&2
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$want" > "$venv/.requirements.sha256"
fi
mkdir -p .tmp/collections/ansible_collections/m365ops
ln -sfn "$root" .tmp/collections/ansible_collections/m365ops/remediation
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp scripts/get_pip_offline.py "$cache"
