#!/usr/bin/env bash
# pytest-cabinet end to end: builds the wheel around the binary under test (no second cargo build), installs
# it in a fresh virtualenv with what a user installs (requirements.txt), then runs
#   1. the example user suite (examples/pytest-user-suite) with pytest-xdist, -n 2;
#   2. the plugin's own tests (options in pytester sessions; cabinet_faults with the SDK's retries).
# The server in both is the binary inside the installed wheel: CABINET_BIN is unset for them.
# Env: CABINET_BIN (default <repo>/target/debug/cabinet), PYTHON (default python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
bin="${CABINET_BIN:-${CARGO_TARGET_DIR:-$repo_root/target}/debug/cabinet}"
if [[ ! -x "$bin" ]]; then
    echo "error: no cabinet binary at $bin (cargo build, or set CABINET_BIN)" >&2
    exit 1
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/pytest-cabinet-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "-- building the wheel around $bin" >&2
CABINET_BIN="$bin" WHEEL_DIR="$work/dist" "$repo_root/scripts/build-wheel" >&2
wheel="$(ls "$work"/dist/pytest_cabinet-*.whl)"

echo "-- fresh virtualenv: $(basename "$wheel") and $here/requirements.txt" >&2
# Without its own pip (ensurepip alone takes ~25 s here): the caller's pip installs into it (--python).
"${PYTHON:-python3}" -m venv --without-pip "$work/venv"
"${PYTHON:-python3}" -m pip --python "$work/venv/bin/python" install --disable-pip-version-check -q \
    -r "$here/requirements.txt" "$wheel" >&2

unset CABINET_BIN CABINET_CONFIG
# Copies, so that nothing is written into the repository (pytester and pytest work in their own dirs).
cp -r "$repo_root/examples/pytest-user-suite" "$work/user-suite"
cp -r "$here" "$work/plugin-tests"

echo "-- example user suite, pytest -n 2" >&2
(cd "$work/user-suite" && timeout 300 "$work/venv/bin/python" -m pytest -q -n 2)

echo "-- plugin options and cabinet_faults" >&2
cd "$work/plugin-tests"
# Not `exec`: the EXIT trap must still remove the work directory (its virtualenv is ~150 MB).
timeout 300 "$work/venv/bin/python" -m pytest -q -n 2 "$@"
