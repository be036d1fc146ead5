#!/usr/bin/env bash
# Run every test of the collection from a fresh checkout:
#   sanity (ansible-test, no ignore entries), changelog lint, lint (ansible-lint's production profile and
#   antsibull-docs' check of every plugin's documentation), unit tests, integration tests against the emulator.
# Usage: scripts/test.sh [sanity|lint|units|integration]...   (no argument: all of them)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.tmp/collections"
# Not ~/.ansible: an installed copy of the collection there would hide this checkout from ansible-lint.
export ANSIBLE_HOME="$root/.tmp/ansible-home"
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity lint units integration)
workers=${TEST_WORKERS:-2}

for stage in "${stages[@]}"; do
    echo "=== $stage" >&2
    case "$stage" in
        sanity)
            # ansible-test must run inside an ansible_collections/<namespace>/<name> directory (it
            # resolves links), so it gets a copy of the files git tracks or would track.
            tree=.tmp/sanity/ansible_collections/m365ops/remediation
            rm -rf "$tree" && mkdir -p "$tree"
            git ls-files -z --cached --others --exclude-standard | \
                (while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) | \
                xargs -0 cp --parents -t "$tree"
            # ansible-test lists files with git; the copy gets a repository of its own.
            git -C "$tree" init -q && git -C "$tree" add -A
            (cd "$tree" && ansible-test sanity --python 3.11 --local --color no)
            antsibull-changelog lint
            ;;
        lint)
            ansible-lint  # configuration: .ansible-lint (profile production, offline)
            antsibull-docs lint-collection-docs --plugin-docs .
            ;;
        units)
            python -m pytest -q -p no:cacheprovider -n "$workers" tests/unit
            ;;
        integration)
            scripts/java.sh  # ansible-rulebook's rules engine (tests/integration/test_eda.py)
            python -m pytest -q -p no:cacheprovider -n "$workers" tests/integration
            ;;
        *)
            echo "unknown stage: $stage" >&2
            exit 2
            ;;
    esac
done
echo "=== all passed: ${stages[*]}" >&2
