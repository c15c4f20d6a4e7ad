#!/usr/bin/env bash
# Runs the official-JS-SDK conformance tests against the cabinet binary.
#   CABINET_BIN  binary under test (default: <repo root>/target/debug/cabinet)
# Arguments are passed to `node --test` (e.g. --test-name-pattern=multipart);
# if any argument names a .js file, only those files run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
export CABINET_BIN="${CABINET_BIN:-$REPO_ROOT/target/debug/cabinet}"

if [[ ! -x "$CABINET_BIN" ]]; then
  echo "error: cabinet binary not found or not executable: $CABINET_BIN" >&2
  echo "       build it first (cargo build) or set CABINET_BIN" >&2
  exit 1
fi

cd "$HERE"
# npm writes node_modules/.package-lock.json on every install: use it as the stamp.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json \
      || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

files=()
for a in "$@"; do
  if [[ "$a" == *.js ]]; then files+=("$a"); fi
done
if [[ ${#files[@]} -eq 0 ]]; then
  files=(./*.test.js)
fi
opts=()
for a in "$@"; do
  if [[ "$a" != *.js ]]; then opts+=("$a"); fi
done

exec node --test --test-concurrency=1 --test-timeout=120000 ${opts[@]+"${opts[@]}"} "${files[@]}"
