#!/usr/bin/env bash
# Runs the driver scripts (Python psycopg 3) against a memdb server built
# at target/debug/memdb. Installs psycopg into a throwaway virtualenv; if
# that is impossible, says so and skips.
set -euo pipefail
cd "$(dirname "$0")/../../../.."

BIN=${MEMDB_BIN:-target/debug/memdb}
VENV=$(mktemp -d /tmp/memdb-drivers.XXXXXX)
LOG="$VENV/memdb.log"
cleanup() {
  [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null || true
  rm -rf "$VENV"
}
trap cleanup EXIT

if ! python3 -m venv "$VENV/py" >/dev/null 2>&1 || ! "$VENV/py/bin/pip" install -q "psycopg[binary]" >/dev/null 2>&1; then
  echo "SKIPPED: could not install psycopg (python3-venv and PyPI needed)"
  exit 0
fi

"$BIN" serve --resp-listen off --http-listen off --pg-listen 127.0.0.1:0 --data-dir "$VENV/data" >"$LOG" 2>&1 &
PID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(sed -nE 's/.*listening for PostgreSQL clients on 127\.0\.0\.1:([0-9]+).*/\1/p' "$LOG" | head -1)
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
if [[ -z "$PORT" ]]; then
  echo "memdb did not start:"; cat "$LOG"; exit 1
fi
"$VENV/py/bin/python" crates/server/tests/drivers/psycopg_smoke.py 127.0.0.1 "$PORT"
