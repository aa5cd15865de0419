#!/usr/bin/env bash
# The project's test command (README's second command; .ci/run runs exactly this).
#  1. sets up (or reuses) the backend environment .venv with the dev tools, via the installer;
#  2. lints and type-checks;
#  3. runs the whole suite on the backend's Python;
#  4. runs the Nuke-side tests on every Python Nuke ships (3.7, 3.9, 3.10, 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 installer/install.py --env .venv --dev --no-models --no-nuke

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The Nuke-side plugin, against the types-nuke stubs (mypy cannot target 3.7/3.9 any more).
.venv/bin/mypy --python-version 3.10 host_plugin/sam2matting_nuke

echo "== test suite"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: the suite is missing or mis-configured" >&2
    exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

echo "== Nuke-side tests on Nuke's Pythons"
tests/nuke_side.sh
