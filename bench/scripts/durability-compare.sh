#!/usr/bin/env bash
# Durable commits over the wire: memdb's sync and async modes against
# PostgreSQL 15 with fsync=on and synchronous_commit=on, data of both on the
# same disk, one run.
#
#   pgbench -i -s SCALE, then tpcb-like -M prepared -j 2 -c CLIENTS -T TIME on:
#     PostgreSQL 15 (fsync=on, synchronous_commit=on)
#     memdb --durability sync      (acknowledged after fdatasync, group commit)
#     memdb --durability async     (flushed every 10 ms)
#     memdb --durability memory-only
# Prints TPS and the ratios the durability issue names:
#   memdb sync / PostgreSQL          (target >= 1.5)
#   memdb async / memdb memory-only  (target >= 0.8)
#
# Usage: bench/scripts/durability-compare.sh [--scale N] [--time SECONDS] [--clients N] [--dir DIR]
# DIR (default: a temporary directory under /tmp) holds both systems' data.
set -euo pipefail
cd "$(dirname "$0")/../.."

SCALE=10
TIME=15
CLIENTS=32
BASE=/tmp
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --time) TIME="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --dir) BASE="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

PGBIN=/usr/lib/postgresql/15/bin
MEMDB_PORT=${MEMDB_PORT:-55442}
PG_PORT=${PG_PORT:-55443}
WORK=$(mktemp -d "$BASE/durability-compare.XXXXXX")
chmod 777 "$WORK"

cargo build --release -p memdb 2>/dev/null

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  [[ -n "${MEMDB_PID:-}" ]] && kill "$MEMDB_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

tps() { grep -E '^tps' | head -1 | sed -E 's/tps = ([0-9.]+).*/\1/'; }
declare -A TPS

bench() {
  local name=$1 port=$2
  local pg=(-h 127.0.0.1 -p "$port" -U postgres)
  pgbench "${pg[@]}" -i -q -s "$SCALE" postgres >"$WORK/$name-init.log" 2>&1
  TPS[$name]=$(pgbench "${pg[@]}" -n -M prepared -j 2 -c "$CLIENTS" -T "$TIME" postgres 2>&1 | tee "$WORK/$name-run.log" | tps)
  echo "$name: ${TPS[$name]} tps" >&2
}

memdb() {
  local mode=$1
  rm -rf "$WORK/memdb-data"
  target/release/memdb serve --resp-listen off --http-listen off --pg-listen "127.0.0.1:$MEMDB_PORT" --durability "$mode" \
    --data-dir "$WORK/memdb-data" >"$WORK/memdb-$mode.log" 2>&1 &
  MEMDB_PID=$!
  for _ in $(seq 100); do
    psql -h 127.0.0.1 -p "$MEMDB_PORT" -U postgres -c 'select 1' postgres >/dev/null 2>&1 && break
    sleep 0.1
  done
  bench "memdb-$mode" "$MEMDB_PORT"
  kill "$MEMDB_PID"; wait "$MEMDB_PID" 2>/dev/null || true
  MEMDB_PID=
}

mkdir -p "$WORK/pgdata" && chown postgres "$WORK/pgdata" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/pgdata" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pg.log" -w start -o \
  "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
   -c max_connections=200 -c shared_buffers=1GB" >/dev/null
bench postgres "$PG_PORT"
as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m fast stop >/dev/null

memdb sync
memdb async
memdb memory-only

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo
echo "tpcb-like -M prepared -c $CLIENTS, scale $SCALE, ${TIME}s (TPS; data under $BASE):"
printf '  %-22s %10s\n' "PostgreSQL 15 fsync=on" "${TPS[postgres]}"
printf '  %-22s %10s\n' "memdb sync" "${TPS[memdb-sync]}"
printf '  %-22s %10s\n' "memdb async" "${TPS[memdb-async]}"
printf '  %-22s %10s\n' "memdb memory-only" "${TPS[memdb-memory-only]}"
echo "  memdb sync / PostgreSQL:         $(ratio "${TPS[memdb-sync]}" "${TPS[postgres]}")  (target >= 1.5)"
echo "  memdb async / memory-only:       $(ratio "${TPS[memdb-async]}" "${TPS[memdb-memory-only]}")  (target >= 0.8)"
