#!/usr/bin/env bash
# Set up a virtual environment with lotc and its test tools, then run the whole
# suite: lint, format check and pytest.  The same command runs in CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${LOTC_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[test]'

sources=(lotc tests)
[ -d bench ] && sources+=(bench)
"$venv/bin/ruff" check "${sources[@]}"
"$venv/bin/ruff" format --check "${sources[@]}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
