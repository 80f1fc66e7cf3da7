#!/usr/bin/env bash
# YCSB A–F, side by side, one run on this machine:
#   memdb embedded          vs SQLite in memory (rusqlite)
#   memdb over pgwire       vs PostgreSQL 15 (fsync off); memdb runs with
#                              --durability async (log written, not fsynced)
#   memdb over RESP         vs Redis (no persistence); memdb runs
#                              memory-only (workload E needs ordered keys:
#                              not run over RESP)
# Results are appended to bench/results/ycsb.csv and .jsonl, the chart is
# redrawn to bench/results/results.svg, and a ratio summary is printed.
#
# Usage: bench/scripts/ycsb-compare.sh [--records N] [--operations N]
#          [--threads N] [--workloads "a b c d e f"] [--targets "embedded sqlite pgwire postgres resp redis"]
set -euo pipefail
cd "$(dirname "$0")/../.."

RECORDS=100000
OPERATIONS=200000
THREADS=4
WORKLOADS="a b c d e f"
TARGETS="embedded sqlite pgwire postgres resp redis"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --records) RECORDS="$2"; shift 2 ;;
    --operations) OPERATIONS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

MEMDB_PG_PORT=${MEMDB_PG_PORT:-55432}
MEMDB_RESP_PORT=${MEMDB_RESP_PORT:-56379}
mkdir -p bench/results
CSV=bench/results/ycsb.csv
JSON=bench/results/ycsb.jsonl
WORK=$(mktemp -d /tmp/ycsb-compare.XXXXXX)

cargo build --release -p memdb -p memdb-bench 2>/dev/null

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  bench/scripts/baselines.sh stop
  rm -rf "$WORK"
}
trap cleanup EXIT

target/release/memdb serve --durability async --data-dir "$WORK/memdb-async" \
  --pg-listen "127.0.0.1:$MEMDB_PG_PORT" --resp-listen off --http-listen off >"$WORK/memdb-pg.log" 2>&1 &
PIDS+=($!)
target/release/memdb serve --durability memory-only --pg-listen 127.0.0.1:0 \
  --resp-listen "127.0.0.1:$MEMDB_RESP_PORT" --http-listen off >"$WORK/memdb-resp.log" 2>&1 &
PIDS+=($!)
mapfile -t URLS < <(bench/scripts/baselines.sh start)
for _ in $(seq 100); do
  psql -h 127.0.0.1 -p "$MEMDB_PG_PORT" -U postgres -c 'select 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done
for _ in $(seq 100); do
  [[ "$(redis-cli -p "$MEMDB_RESP_PORT" ping 2>/dev/null)" == PONG ]] && break
  sleep 0.1
done

url_of() {
  case "$1" in
    embedded) echo embedded ;;
    sqlite) echo sqlite ;;
    pgwire) echo "postgres://postgres@127.0.0.1:$MEMDB_PG_PORT/postgres" ;;
    postgres) echo "${URLS[0]}" ;;
    resp) echo "redis://127.0.0.1:$MEMDB_RESP_PORT" ;;
    redis) echo "${URLS[1]}" ;;
  esac
}

for w in $WORKLOADS; do
  for t in $TARGETS; do
    if [[ $w == e && ( $t == resp || $t == redis ) ]]; then continue; fi
    echo "== workload $w on $t" >&2
    target/release/memdb-bench ycsb --workload "$w" --target "$(url_of "$t")" --records "$RECORDS" \
      --operations "$OPERATIONS" --threads "$THREADS" --csv "$CSV" --json "$JSON"
  done
done
target/release/memdb-bench chart --csv "$CSV" --output bench/results/results.svg
bench/scripts/summary.sh "$CSV"
