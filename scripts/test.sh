#!/usr/bin/env bash
# Run every test of the collection from a fresh checkout:
#   sanity (ansible-test, no ignore entries), changelog lint, unit tests, integration tests against the emulator.
# Usage: scripts/test.sh [sanity|units|integration]...   (no argument: all of them)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.tmp/collections"
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units integration)
workers=${TEST_WORKERS:-2}

for stage in "${stages[@]}"; do
    echo "=== $stage" >&2
    case "$stage" in
        sanity)
            (cd .tmp/collections/ansible_collections/m365ops/remediation && \
                ansible-test sanity --python 3.11 --local --color no)
            antsibull-changelog lint
            ;;
        units)
            python -m pytest -q -p no:cacheprovider -n "$workers" tests/unit
            ;;
        integration)
            python -m pytest -q -p no:cacheprovider -n "$workers" tests/integration
            ;;
        *)
            echo "unknown stage: $stage" >&2
            exit 2
            ;;
    esac
done
echo "=== all passed: ${stages[*]}" >&2
