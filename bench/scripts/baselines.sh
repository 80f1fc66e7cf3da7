#!/usr/bin/env bash
# Starts and stops the comparison systems on loopback ports, from the
# machine's packages:
#   PostgreSQL 15  127.0.0.1:$PG_PORT    (fsync, synchronous_commit and
#                                         full_page_writes off; user postgres)
#   Redis          127.0.0.1:$REDIS_PORT (no RDB snapshots, no AOF)
#
# Usage: bench/scripts/baselines.sh start|stop|urls
#   start  initialises a throwaway cluster in $BASELINE_DIR and starts both
#          (installs redis-server with apt-get if it is missing)
#   stop   stops both and removes $BASELINE_DIR
#   urls   prints the target URLs for memdb-bench
# Environment: PG_PORT (55433), REDIS_PORT (56380),
#              BASELINE_DIR (/tmp/memdb-baselines).
set -euo pipefail

PG_PORT=${PG_PORT:-55433}
REDIS_PORT=${REDIS_PORT:-56380}
BASELINE_DIR=${BASELINE_DIR:-/tmp/memdb-baselines}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  [[ -x "$PGBIN/postgres" ]] || { echo "PostgreSQL 15 server binaries not found in $PGBIN" >&2; exit 1; }
  command -v redis-server >/dev/null || apt-get install -y redis-server >/dev/null
  mkdir -p "$BASELINE_DIR/pgdata" "$BASELINE_DIR/redis"
  chmod 777 "$BASELINE_DIR"
  chown postgres "$BASELINE_DIR/pgdata" 2>/dev/null || true
  if [[ ! -f "$BASELINE_DIR/pgdata/PG_VERSION" ]]; then
    as_pg "$PGBIN/initdb" -D "$BASELINE_DIR/pgdata" -A trust -U postgres >/dev/null
  fi
  as_pg "$PGBIN/pg_ctl" -D "$BASELINE_DIR/pgdata" -l "$BASELINE_DIR/pg.log" -w start -o \
    "-p $PG_PORT -k $BASELINE_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c max_connections=200 -c shared_buffers=2GB -c max_wal_size=8GB" >/dev/null
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$BASELINE_DIR/redis" --daemonize yes --pidfile "$BASELINE_DIR/redis.pid" \
    --logfile "$BASELINE_DIR/redis.log" >/dev/null
  for _ in $(seq 100); do
    [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && break
    sleep 0.1
  done
  urls
}

stop() {
  if [[ -f "$BASELINE_DIR/pgdata/postmaster.pid" ]]; then
    as_pg "$PGBIN/pg_ctl" -D "$BASELINE_DIR/pgdata" -m fast stop >/dev/null 2>&1 || true
  fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$BASELINE_DIR"
}

urls() {
  echo "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "redis://127.0.0.1:$REDIS_PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  urls) urls ;;
  *) echo "usage: $0 start|stop|urls" >&2; exit 2 ;;
esac
