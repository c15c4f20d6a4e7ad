#!/usr/bin/env bash
# API fuzzing: schemathesis against /openapi.json of a live `cabinet serve` (open mode, sqlite + local
# content, a fresh data dir, loopback). First every request example of the document is checked against its
# schema and sent (examples.py: none may be a 400 or 5xx); then schemathesis generates requests from the
# schemas and checks that no answer is a 5xx, that every status is documented and that every body matches
# its schema.
# Usage: tests/fuzz/run.sh [extra schemathesis args...]
# Env: CABINET_BIN (default: <repo root>/target/debug/cabinet), PYTHON (default: python3),
#      FUZZ_MAX_EXAMPLES (default 25 per operation), FUZZ_WORKERS (default 1), FUZZ_MAX_TIME (seconds, default 240),
#      CABINET_SERVE_ARGS (appended to `cabinet serve`: scripts/with-postgres and scripts/with-seaweedfs set it),
#      FUZZ_ACCESS=token: access control on instead of open mode, one project (`fuzz-access`) whose service
#      token holds every capability the server enforces; requests to other projects are then 401s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
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

bin="${CABINET_BIN:-$repo_root/target/debug/cabinet}"
if [[ ! -x "$bin" ]]; then
    echo "error: cabinet binary not found at '$bin' (cargo build, or set CABINET_BIN)" >&2
    exit 1
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

token="fuzz"
config_args=()
if [[ "${FUZZ_ACCESS:-}" == "token" ]]; then
    token="fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    hash="$(printf %s "$token" | "$bin" token hash)"
    cat >"$work/cabinet.toml" <<TOML
[[project]]
name = "fuzz-access"

[[project.group]]
name = "everything"
capabilities = [
  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { groupsAcl = { actions = ["LIST", "READ", "CREATE", "UPDATE", "DELETE"], scope = { all = {} } } },
  { securityCategoriesAcl = { actions = ["MEMBEROF", "LIST", "CREATE", "DELETE"], scope = { all = {} } } },
  { datasetsAcl = { actions = ["READ", "WRITE", "OWNER"], scope = { all = {} } } },
  { labelsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { assetsAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
]

[[project.service_token]]
subject = "fuzz"
sha256 = "$hash"
groups = ["everything"]
TOML
    config_args=(--config "$work/cabinet.toml")
    export FUZZ_PROJECT="fuzz-access"
fi
export FUZZ_TOKEN="$token"

# Open mode unless FUZZ_ACCESS: no config file from the caller's environment. CABINET_SERVE_ARGS is split
# into words on purpose (it is a list of arguments).
# shellcheck disable=SC2086
env -u CABINET_CONFIG NO_COLOR=1 "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    "${config_args[@]}" ${CABINET_SERVE_ARGS:-} \
    >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
base=""
for _ in $(seq 1 200); do
    if line="$(head -n1 "$work/stdout" 2>/dev/null)" && [[ "$line" =~ ^cabinet\ listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]]; then
        base="${BASH_REMATCH[1]}"
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: cabinet exited early; stderr:" >&2
        tail -n 50 "$work/stderr" >&2
        exit 1
    fi
    sleep 0.05
done
if [[ -z "$base" ]]; then
    echo "error: cabinet did not report its address within 10 s" >&2
    exit 1
fi
echo "cabinet at $base" >&2

"$venv/bin/python" "$here/examples.py" "$base"

status=0
# One worker: schemathesis's workers are threads of one process, and Hypothesis parses the source of
# lambdas when it describes a strategy; on Python 3.11 the `ast` module keeps its recursion depth per
# process, not per thread, so two workers drawing from nested schemas at once can fail with "SystemError:
# AST constructor recursion depth mismatch" (seen here on assets/byids). The run is bounded by
# --max-time either way; one worker sends fewer requests in it.
# schemathesis keeps its example database in the working directory: the throwaway one.
cd "$work"
timeout --signal=INT --kill-after=30 "$(( ${FUZZ_MAX_TIME:-240} + 60 ))" \
    "$venv/bin/schemathesis" run "$base/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "${FUZZ_MAX_EXAMPLES:-25}" \
    --workers "${FUZZ_WORKERS:-1}" \
    --max-time "${FUZZ_MAX_TIME:-240}" \
    --request-timeout 10 \
    --seed "${FUZZ_SEED:-1}" \
    --suppress-health-check all \
    "$@" || status=$?
if grep -q -E "panicked|request failed" "$work/stderr"; then
    echo "the server logged panics or internal faults:" >&2
    grep -E "panicked|request failed" "$work/stderr" | head -n 20 >&2
    status=1
fi
exit "$status"
