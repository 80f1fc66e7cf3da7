#!/usr/bin/env bash
# Fuzzes memdb's HTTP REST API with schemathesis, driven by the OpenAPI
# document the server itself serves (/api/v1/openapi.json).
#
# Builds nothing: point MEMDB_BIN at a built binary (default
# target/release/memdb under the repository root, found from this script's
# location; build it with `cargo build --release`).
#
#   crates/server/tests/fuzz/schemathesis.sh
#
# Environment (all optional):
#   MEMDB_BIN             the memdb binary
#   MEMDB_HTTP_PORT       HTTP port to serve on            (default 38080)
#   MEMDB_PG_PORT         PostgreSQL-protocol port          (default 35432)
#   FUZZ_MAX_TIME         schemathesis time budget, seconds (default 240)
#   FUZZ_MAX_EXAMPLES     test cases per operation and phase (default 50)
#   FUZZ_WORKERS          concurrent schemathesis workers   (default 2)
#   FUZZ_SEED             hypothesis seed, for replaying a run (default: random)
#   FUZZ_CHECKS           override the list of checks (comma-separated)
#   FUZZ_VENV             the Python venv (default ${TMPDIR:-/tmp}/memdb-schemathesis-venv)
#   FUZZ_OUT              where the server log and reports go (default: a new temp dir)
#   MEMDB_LOG             the server's log filter (default info)
#
# Replay one failure (with a server running on the same port):
# `cd $FUZZ_OUT && $FUZZ_VENV/bin/st replay <Test Case ID>` (IDs are in the
# output; the stored cases are in $FUZZ_OUT/.schemathesis), or rerun the
# whole run with FUZZ_SEED=<the printed seed>.
#
# Exit status: 0 when schemathesis found nothing, the server did not crash
# and logged no panic; non-zero otherwise. The server's stderr is in
# $FUZZ_OUT/server.log, the schemathesis output in $FUZZ_OUT/schemathesis.txt,
# JUnit and NDJSON reports in $FUZZ_OUT/report/.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../../../.." && pwd)"

MEMDB_BIN="${MEMDB_BIN:-$repo_root/target/release/memdb}"
HTTP_PORT="${MEMDB_HTTP_PORT:-38080}"
PG_PORT="${MEMDB_PG_PORT:-35432}"
MAX_TIME="${FUZZ_MAX_TIME:-240}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
WORKERS="${FUZZ_WORKERS:-2}"
tmp_root="${TMPDIR:-/tmp}"
VENV="${FUZZ_VENV:-$tmp_root/memdb-schemathesis-venv}"
OUT="${FUZZ_OUT:-$(mktemp -d "$tmp_root/memdb-fuzz.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Which checks, and why:
# - not_a_server_error: any 5xx, and (schemathesis reports them as errors)
#   dropped connections and request timeouts. The check that matters most.
# - response_schema_conformance: a 2xx/4xx body the document does not
#   describe. Kept: memdb's responses are generated from the same Rust
#   types the document is derived from, so a mismatch is a real bug in the
#   document (what a generated client would trip over), not noise; the
#   first runs showed only such real mismatches, no false positives.
# - content_type_conformance: every documented answer is JSON (or
#   text/plain for /metrics); a plain-text error slipping out of an axum
#   extractor that bypasses ApiError shows up here.
# Left out on purpose: status_code_conformance (the handlers document only
# their main statuses; 400/415/422 for malformed input are expected and
# would be dozens of reports), positive_data_acceptance and
# negative_data_rejection (the document cannot express the constraints the
# server enforces: table names of 1-63 bytes without control characters,
# ids that parse as the key type, limits 1-1000 as strings, ...), and the
# stateful checks (use_after_free, ensure_resource_availability), which
# concurrent workers plus automatic table creation make report resources
# that another worker re-created.
CHECKS="${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance,content_type_conformance}"

if [[ ! -x "$MEMDB_BIN" ]]; then
    echo "error: no memdb binary at $MEMDB_BIN (build it with: cargo build --release, or set MEMDB_BIN)" >&2
    exit 2
fi

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for port in "$HTTP_PORT" "$PG_PORT"; do
    if port_busy "$port"; then
        echo "error: 127.0.0.1:$port is in use; set MEMDB_HTTP_PORT / MEMDB_PG_PORT" >&2
        exit 2
    fi
done

# The Python environment (reused across runs).
if [[ ! -x "$VENV/bin/schemathesis" ]]; then
    echo "== creating $VENV and installing schemathesis"
    python3 -m venv "$VENV"
    # The flags below are schemathesis 4's.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4,<5"
fi
echo "== $("$VENV/bin/schemathesis" --version)"

# The server runs in its own working directory (nothing it could write
# lands in the caller's), logs to a file, and is stopped on any exit.
server_dir="$OUT/server-cwd"
mkdir -p "$server_dir"
server_log="$OUT/server.log"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting $MEMDB_BIN on 127.0.0.1:$HTTP_PORT (log: $server_log)"
(
    cd "$server_dir"
    MEMDB_LOG="${MEMDB_LOG:-info}" exec "$MEMDB_BIN" serve --durability memory-only \
        --pg-listen "127.0.0.1:$PG_PORT" --resp-listen off --http-listen "127.0.0.1:$HTTP_PORT" \
        >"$server_log" 2>&1
) &
server_pid=$!

base="http://127.0.0.1:$HTTP_PORT"
for i in $(seq 100); do
    if curl -fsS --max-time 1 "$base/health" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: memdb exited during start-up:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    if [[ "$i" == 100 ]]; then
        echo "error: memdb did not answer $base/health within 10 s" >&2
        exit 1
    fi
    sleep 0.1
done
echo "== memdb is up"

seed_args=()
if [[ -n "${FUZZ_SEED:-}" ]]; then
    seed_args=(--seed "$FUZZ_SEED")
fi

# POST /api/v1/admin/backup is left out: it writes a directory wherever
# the body's `dir` says (the server runs as whoever runs this script), so
# fuzzing it would litter the file system with arbitrary paths.
# It runs inside $OUT: schemathesis and hypothesis keep state (.schemathesis/,
# .hypothesis/) in the working directory, which must not be the caller's.
st_status=0
(cd "$OUT" && "$VENV/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --checks "$CHECKS" \
    --exclude-path /api/v1/admin/backup \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --workers "$WORKERS" \
    --request-timeout 15 \
    --generation-database none \
    --report junit,ndjson --report-dir "$OUT/report" \
    --no-color \
    "${seed_args[@]}") 2>&1 | tee "$OUT/schemathesis.txt" || st_status=$?

status=$st_status
if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL: memdb is no longer running (crashed?); its log:" >&2
    tail -n 50 "$server_log" >&2
    status=1
elif ! curl -fsS --max-time 5 "$base/health" >/dev/null 2>&1; then
    echo "FAIL: memdb no longer answers /health" >&2
    status=1
fi
if grep -qiE "panicked|stack overflow" "$server_log"; then
    echo "FAIL: the server log shows a panic:" >&2
    grep -iE -A3 "panicked|stack overflow" "$server_log" >&2 || true
    status=1
fi
if grep -q " WARN \| ERROR " "$server_log"; then
    echo "== server warnings/errors (5xx answers are logged here):"
    grep " WARN \| ERROR " "$server_log" | sort | uniq -c | sort -rn | head -n 40
fi

echo "== schemathesis exit status $st_status; output, server log and reports in $OUT"
exit "$status"
