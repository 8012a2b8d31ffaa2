#!/usr/bin/env bash
# Set up a virtual environment with lotc, its runtime and the test tools, make
# sure the services the integration tests start (mosquitto, PostgreSQL,
# MariaDB) are installed, then run the whole suite: lint, format check and
# pytest.  The same command runs in CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null && [ -x /usr/sbin/mosquitto ]; then
    export PATH="$PATH:/usr/sbin"
fi
missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv="${LOTC_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e './runtime_lib[postgres,modbus,opcua,s7,bacnet,logix,http,mail,mysql,ads]' -e '.[test]'

sources=(lotc tests runtime_lib)
[ -d bench ] && sources+=(bench)
"$venv/bin/ruff" check "${sources[@]}"
"$venv/bin/ruff" format --check "${sources[@]}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
