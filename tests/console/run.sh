#!/usr/bin/env bash
# Runs the web console's browser tests: Debian's chromium (installed by scripts/install-chromium when
# missing) driven by playwright-core (no browser download), against fresh `cabinet serve` processes.
#   CABINET_BIN          binary under test (default: <repo root>/target/debug/cabinet)
#   CONSOLE_TEST_OUT     screenshots and downloads (default: <target dir>/console-test)
# Arguments are passed to `node --test`; if any argument names a .js file, only those files run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
export CABINET_BIN="${CABINET_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/cabinet}"
export CONSOLE_TEST_OUT="${CONSOLE_TEST_OUT:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/console-test}"

if [[ ! -x "$CABINET_BIN" ]]; then
  echo "error: cabinet binary not found or not executable: $CABINET_BIN" >&2
  echo "       build it first (cargo build) or set CABINET_BIN" >&2
  exit 1
fi
"$REPO_ROOT/scripts/install-chromium"

cd "$HERE"
# npm writes node_modules/.package-lock.json on every install: use it as the stamp.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json \
      || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
mkdir -p "$CONSOLE_TEST_OUT"

files=()
opts=()
for a in "$@"; do
  if [[ "$a" == *.js ]]; then files+=("$a"); else opts+=("$a"); fi
done
if [[ ${#files[@]} -eq 0 ]]; then
  files=(./*.test.js)
fi

exec node --test --test-concurrency=1 --test-timeout=90000 ${opts[@]+"${opts[@]}"} "${files[@]}"
