#!/usr/bin/env bash
# Run the benchmark (bench/README.md): the collection's unblock playbook against plain uri tasks and the
# services' floor, on emulated tenants with 50 ms latency. Arguments go to bench/run.py (--help).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
exec "$root/.venv/bin/python" bench/run.py "$@"
