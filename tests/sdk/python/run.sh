#!/usr/bin/env bash
# Runs the official-Python-SDK conformance suite against the cabinet binary.
# Usage: tests/sdk/python/run.sh [pytest args...]
# Env: CABINET_BIN (default: <repo root>/target/debug/cabinet), PYTHON (default: python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements-installed"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating virtualenv at $venv" >&2
    "$python" -m venv "$venv"
    rm -f "$stamp"
fi
if [[ ! -f "$stamp" || "$here/requirements.txt" -nt "$stamp" ]]; then
    echo "installing $here/requirements.txt" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt" >&2
    touch "$stamp"
fi

export CABINET_BIN="${CABINET_BIN:-$repo_root/target/debug/cabinet}"
collect_only=0
for arg in "$@"; do
    case "$arg" in --collect-only|--co) collect_only=1 ;; esac
done
if [[ ! -x "$CABINET_BIN" ]]; then
    if [[ "$collect_only" == 1 ]]; then
        echo "warning: cabinet binary not found at '$CABINET_BIN' (ignored for --collect-only)" >&2
    else
        echo "error: cabinet binary not found or not executable at '$CABINET_BIN'." >&2
        echo "       Build it first (cargo build) or set CABINET_BIN to the binary under test." >&2
        exit 1
    fi
else
    # Make the path absolute so tests can run from any working directory.
    CABINET_BIN="$(cd "$(dirname "$CABINET_BIN")" && pwd)/$(basename "$CABINET_BIN")"
fi

cd "$here"
exec "$venv/bin/python" -m pytest -q "$@"
