#!/usr/bin/env bash
# cabinet-testkit (node/cabinet-testkit) as users run it: node's test runner (ESM and CJS), Jest and Vitest
# with a globalSetup that starts one server for the run. Installs the pinned versions of package-lock.json
# (npm ci) when node_modules is missing or older than the lock; the testkit is installed as a copy
# (.npmrc install-links), so a change to it is picked up by deleting node_modules.
#   CABINET_BIN  binary under test (default: <repo root>/target/debug/cabinet)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
export CABINET_BIN="${CABINET_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/cabinet}"
if [[ ! -x "$CABINET_BIN" ]]; then
  echo "error: cabinet binary not found or not executable: $CABINET_BIN (cargo build, or set CABINET_BIN)" >&2
  exit 1
fi
cd "$HERE"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json \
      || -n "$(find "$REPO_ROOT/node/cabinet-testkit" -newer node_modules/.package-lock.json -type f)" ]]; then
  rm -rf node_modules
  npm ci --no-audit --no-fund
fi
echo "-- node:test" >&2
timeout 180 node --test --test-timeout=60000 node-test/*.test.mjs node-test/*.test.cjs
echo "-- Jest" >&2
timeout 180 node_modules/.bin/jest --ci
echo "-- Vitest" >&2
timeout 180 node_modules/.bin/vitest run
