#!/usr/bin/env bash
# The `cabinet migrate` test, end to end with the official Python SDK:
#   1. write phase: an embedded `cabinet serve` (sqlite+local) is filled through the SDK; a manifest records
#      what a reader must find (write_phase.py); the server stops, its data directory stays;
#   2. `cabinet migrate` into PostgreSQL + S3 is killed (SIGKILL) mid-way, run again to the end, and run a
#      third time, which must copy nothing;
#   3. read phase: two nodes on the migrated database and bucket (proxy and direct transfer) must answer
#      every read of the manifest as the embedded server did (read_phase.py).
# Any mismatch fails the run (exit 1).
#
# Usage: scripts/with-seaweedfs scripts/with-postgres bash tests/sdk/python/migrate/run.sh
# Env: CABINET_BIN (default: <repo root>/target/debug/cabinet), PYTHON (default: python3), and what
# scripts/with-postgres and scripts/with-seaweedfs set (CABINET_SERVE_ARGS, CABINET_TEST_POSTGRES_URL).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="$(cd "$here/.." && pwd)"
repo_root="$(cd "$suite/../../.." && pwd)"

if [[ "${CABINET_SERVE_ARGS:-}" != *--metadata* || "${CABINET_SERVE_ARGS:-}" != *--content* ]]; then
    echo "error: run under scripts/with-seaweedfs scripts/with-postgres (CABINET_SERVE_ARGS names no cluster)" >&2
    exit 2
fi
cluster_args="$CABINET_SERVE_ARGS"
# Each phase says where its servers keep things (the write phase: the embedded default; the read phase:
# CABINET_SERVE_ARGS, and the transfer mode per node), and authenticates with its own service token.
unset CABINET_METADATA CABINET_CONTENT CABINET_CONTENT_TRANSFER CABINET_SDK_ACCESS CABINET_CONFIG

# The SDK suite's virtualenv, made as tests/sdk/python/run.sh makes it.
venv="$suite/.venv"
stamp="$venv/.requirements-installed"
if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
    rm -f "$stamp"
fi
if [[ ! -f "$stamp" || "$suite/requirements.txt" -nt "$stamp" ]]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$suite/requirements.txt" >&2
    touch "$stamp"
fi
py="$venv/bin/python"

export CABINET_BIN="${CABINET_BIN:-$repo_root/target/debug/cabinet}"
[[ -x "$CABINET_BIN" ]] || { echo "error: no cabinet binary at $CABINET_BIN (cargo build)" >&2; exit 1; }
CABINET_BIN="$(cd "$(dirname "$CABINET_BIN")" && pwd)/$(basename "$CABINET_BIN")"

work="$(mktemp -d -t cabinet-migrate-test-XXXXXX)"
migrate_pid=
cleanup() {
    [[ -n "$migrate_pid" ]] && kill -9 "$migrate_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
data="$work/data"
# The migration's S3 spool goes under the temporary directory; a killed run cannot remove its own.
mkdir "$work/tmp"
manifest="$work/manifest.json"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

echo "== migrate test: write phase (embedded server, sqlite+local)"
(cd "$here" && env -u CABINET_SERVE_ARGS "$py" write_phase.py "$data" "$manifest" "$work")
files="$("$py" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["total_files"])' "$manifest")"

# shellcheck disable=SC2086 # CABINET_SERVE_ARGS holds shell words (--metadata URL --content s3://… …)
migrate() { TMPDIR="$work/tmp" "$CABINET_BIN" migrate --from "$data" $cluster_args "$@"; }

echo "== migrate test: cabinet migrate, killed mid-way"
pause_after=$((files / 3))
# The binary itself in the background (not the shell function), so that $! is its pid and SIGKILL hits it.
# shellcheck disable=SC2086
TMPDIR="$work/tmp" CABINET_MIGRATE_TEST_PAUSE_AFTER=$pause_after "$CABINET_BIN" migrate --from "$data" $cluster_args \
    >"$work/run1.out" 2>"$work/run1.err" &
migrate_pid=$!
paused=
for _ in $(seq 1 600); do
    grep -q "^paused after" "$work/run1.err" && { paused=1; break; }
    kill -0 "$migrate_pid" 2>/dev/null || break
    sleep 0.2
done
[[ -n "$paused" ]] || { cat "$work/run1.err" >&2; fail "the first run did not pause after $pause_after files"; }
kill -9 "$migrate_pid"
status=0
# wait reports 137 (128 + SIGKILL) for the killed job.
wait "$migrate_pid" || status=$?
migrate_pid=
[[ "$status" == 137 ]] || fail "the first run was not killed (exit $status)"
grep -q "^migrated" "$work/run1.out" && fail "the first run finished although it was killed"
echo "the first run paused after $pause_after of $files files and was killed (SIGKILL)"

summary_number() { # FILE REGEX: the number the summary's regex group 1 captures
    sed -nE "s/$2/\\1/p" "$1" | head -n 1
}

echo "== migrate test: cabinet migrate, resumed"
migrate >"$work/run2.out" 2>"$work/run2.err" || { cat "$work/run2.err" >&2; fail "the resumed run failed"; }
cat "$work/run2.out"
total="$(summary_number "$work/run2.out" '^migrated [0-9]+ project\(s\), ([0-9]+) file\(s\).*')"
copied="$(summary_number "$work/run2.out" '.*: ([0-9]+) copied now, [0-9]+ already there$')"
skipped="$(summary_number "$work/run2.out" '.*: [0-9]+ copied now, ([0-9]+) already there$')"
[[ "$total" == "$files" ]] || fail "the migration found $total files, the manifest records $files"
[[ "$skipped" -ge "$pause_after" ]] || fail "the resumed run found $skipped files done, the first copied $pause_after"
[[ "$copied" -gt 0 && $((copied + skipped)) == "$total" ]] ||
    fail "the resumed run copied $copied and skipped $skipped of $total files"

echo "== migrate test: cabinet migrate, a third time (nothing to copy)"
migrate >"$work/run3.out" 2>"$work/run3.err" || { cat "$work/run3.err" >&2; fail "the third run failed"; }
grep -qE "^migrated [0-9]+ project\(s\), $total file\(s\): 0 copied now, $total already there$" "$work/run3.out" ||
    { cat "$work/run3.out" >&2; fail "the third run copied files again"; }
grep -qE "^content: 0 object\(s\), 0 byte\(s\)" "$work/run3.out" ||
    { cat "$work/run3.out" >&2; fail "the third run copied content again"; }

echo "== migrate test: read phase (PostgreSQL + S3, proxy and direct transfer)"
(cd "$here" && "$py" read_phase.py "$manifest" "$work")
echo "== migrate test passed: $total files migrated (killed after $pause_after, resumed), all reads equal"
