#!/usr/bin/env bash
# TPC-C side by side, one run on this machine: memdb over pgwire
# (--durability async: log written, not fsynced) against PostgreSQL 15
# (fsync off), and memdb embedded. Each run loads afresh, runs the mix for
# --duration seconds and checks consistency conditions 1–4 (a failing
# condition stops the script). Results are appended to
# bench/results/tpcc.csv and .jsonl; the chart is redrawn from both CSVs.
#
# Usage: bench/scripts/tpcc-compare.sh [--warehouses N] [--duration S]
#          [--terminals N] [--targets "pgwire postgres embedded"] [--pipeline]
# --pipeline: over the wire, each group of independent statements (and a
#             block's BEGIN and COMMIT) travels in one round trip.
set -euo pipefail
cd "$(dirname "$0")/../.."

WAREHOUSES=10
DURATION=60
TERMINALS=8
TARGETS="pgwire postgres embedded"
PIPELINE=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --warehouses) WAREHOUSES="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --terminals) TERMINALS="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --pipeline) PIPELINE=(--pipeline); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

MEMDB_PG_PORT=${MEMDB_PG_PORT:-55432}
mkdir -p bench/results
CSV=bench/results/tpcc.csv
JSON=bench/results/tpcc.jsonl
WORK=$(mktemp -d /tmp/tpcc-compare.XXXXXX)

cargo build --release -p memdb -p memdb-bench 2>/dev/null

MEMDB_PID=""
cleanup() {
  [[ -n "$MEMDB_PID" ]] && kill "$MEMDB_PID" 2>/dev/null || true
  bench/scripts/baselines.sh stop
  rm -rf "$WORK"
}
trap cleanup EXIT

target/release/memdb serve --durability async --data-dir "$WORK/memdb" \
  --pg-listen "127.0.0.1:$MEMDB_PG_PORT" --resp-listen off --http-listen off >"$WORK/memdb.log" 2>&1 &
MEMDB_PID=$!
mapfile -t URLS < <(bench/scripts/baselines.sh start)
for _ in $(seq 100); do
  psql -h 127.0.0.1 -p "$MEMDB_PG_PORT" -U postgres -c 'select 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done

for t in $TARGETS; do
  case "$t" in
    embedded) url=embedded ;;
    pgwire) url="postgres://postgres@127.0.0.1:$MEMDB_PG_PORT/postgres" ;;
    postgres) url="${URLS[0]}" ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  echo "== tpcc on $t" >&2
  target/release/memdb-bench tpcc --warehouses "$WAREHOUSES" --duration "$DURATION" --terminals "$TERMINALS" \
    --target "$url" --csv "$CSV" --json "$JSON" "${PIPELINE[@]}"
done
cat bench/results/*.csv | awk 'NR == 1 || !/^benchmark,/' > "$WORK/all.csv"
target/release/memdb-bench chart --csv "$WORK/all.csv" --output bench/results/results.svg
bench/scripts/summary.sh "$CSV"
