#!/usr/bin/env bash
# memdb vs PostgreSQL 15 over the wire, same machine, same commands, one run.
#
# Starts memdb (release build) and a throwaway PostgreSQL 15 cluster set up
# the in-memory-fair way (fsync=off, synchronous_commit=off,
# full_page_writes=off), then runs against each, in turn:
#   pgbench -i -s SCALE                      (load time, lower is better;
#                                             the median of --init-runs
#                                             loads, each timed whole-process)
#   pgbench -S -M prepared -j 2 -c 8 / -c 32 (select-only TPS)
#   pgbench tpcb-like -M prepared -j 2 -c 8 / -c 32
#   sysbench oltp_point_select / oltp_read_write, 8 threads
# and prints each figure with the ratio memdb / PostgreSQL (for the load
# time, PostgreSQL / memdb, so > 1 always means memdb is better).
#
# Usage: bench/scripts/pg-compare.sh [--scale N] [--time SECONDS] [--rows N]
#                                    [--init-runs N]
# A single sub-second load swings by up to 2x on a shared 2-core machine
# (a cold first run, writeback from initdb, a vCPU waking up), so the load
# is repeated (default 3 times; each run drops and reloads the tables) and
# the median is the figure; every run's time is printed too.
# Needs: pgbench, PostgreSQL 15 server binaries, sysbench (apt-get install
# sysbench); runs PostgreSQL as the `postgres` user when started as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

SCALE=10
TIME=15
ROWS=100000
INIT_RUNS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --time) TIME="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --init-runs) INIT_RUNS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

PGBIN=/usr/lib/postgresql/15/bin
MEMDB_PORT=${MEMDB_PORT:-55432}
PG_PORT=${PG_PORT:-55433}
WORK=$(mktemp -d /tmp/pg-compare.XXXXXX)
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

target/release/memdb serve --resp-listen off --http-listen off --pg-listen "127.0.0.1:$MEMDB_PORT" --durability memory-only >"$WORK/memdb.log" 2>&1 &
MEMDB_PID=$!

mkdir -p "$WORK/pgdata" && chown postgres "$WORK/pgdata" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/pgdata" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pg.log" -w start -o \
  "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
   -c full_page_writes=off -c max_connections=200 -c shared_buffers=1GB" >/dev/null

for _ in $(seq 50); do
  psql -h 127.0.0.1 -p "$MEMDB_PORT" -U postgres -c 'select 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done

# figure name -> value per system
declare -A RESULT

tps() { grep -E '^tps' | head -1 | sed -E 's/tps = ([0-9.]+).*/\1/'; }

run_system() {
  local name=$1 port=$2
  local pg=(-h 127.0.0.1 -p "$port" -U postgres)
  local start end run times=()
  for run in $(seq "$INIT_RUNS"); do
    start=$(date +%s.%N)
    pgbench "${pg[@]}" -i -q -s "$SCALE" postgres >"$WORK/$name-init.log" 2>&1
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  echo "$name: pgbench -i -s $SCALE runs (s): ${times[*]}"
  RESULT["init_s10_seconds,$name"]=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (INIT_RUNS + 1) / 2 ))p")
  for c in 8 32; do
    RESULT["select_only_c$c,$name"]=$(pgbench "${pg[@]}" -n -S -M prepared -j 2 -c "$c" -T "$TIME" postgres 2>&1 | tps)
  done
  for c in 8 32; do
    RESULT["tpcb_like_c$c,$name"]=$(pgbench "${pg[@]}" -n -M prepared -j 2 -c "$c" -T "$TIME" postgres 2>&1 | tps)
  done
  local sb=(sysbench --db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="$port" --pgsql-user=postgres
            --pgsql-db=postgres --tables=1 --table-size="$ROWS")
  "${sb[@]}" oltp_read_write cleanup >/dev/null 2>&1 || true
  "${sb[@]}" oltp_read_write prepare >"$WORK/$name-sb-prepare.log" 2>&1
  for t in oltp_point_select oltp_read_write; do
    RESULT["sysbench_${t}_t8,$name"]=$("${sb[@]}" --threads=8 --time="$TIME" "$t" run 2>&1 \
      | grep -E 'transactions:' | sed -E 's/.*\(([0-9.]+) per sec.*/\1/')
  done
  "${sb[@]}" oltp_read_write cleanup >/dev/null 2>&1 || true
}

run_system memdb "$MEMDB_PORT"
run_system postgres "$PG_PORT"

printf '%-34s %14s %14s %8s\n' figure memdb postgres ratio
for f in init_s10_seconds select_only_c8 select_only_c32 tpcb_like_c8 tpcb_like_c32 \
         sysbench_oltp_point_select_t8 sysbench_oltp_read_write_t8; do
  m=${RESULT["$f,memdb"]:-0}
  p=${RESULT["$f,postgres"]:-0}
  if [[ $f == init_* ]]; then r=$(echo "scale=2; $p / $m" | bc -l); else r=$(echo "scale=2; $m / $p" | bc -l); fi
  printf '%-34s %14.2f %14.2f %8s\n' "$f" "$m" "$p" "$r"
done
echo "(scale $SCALE, $TIME s per run, sysbench table of $ROWS rows; ratio > 1 means memdb is better)"
