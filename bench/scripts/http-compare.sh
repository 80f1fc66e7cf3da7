#!/usr/bin/env bash
# memdb's HTTP read path against its own pgwire point selects, one run,
# same server, 64 connections each.
#
#   GET /api/v1/kv/{key}               wrk, random keys among --rows
#   GET /api/v1/tables/items/records/{id}  wrk, random ids among --rows
#   SELECT … FROM items WHERE id = $1  pgbench -M prepared, random ids
#
# Prints requests/s and p99 latency for each, and the cost of an HTTP
# request relative to a pgwire one (pgwire req/s ÷ HTTP req/s: the issue
# asks for at most 2.0).
#
# Usage: bench/scripts/http-compare.sh [--time SECONDS] [--rows N] [--connections N] [--rounds N]
# Each figure is the median of --rounds (3) interleaved runs.
# Needs: wrk (apt-get install wrk), pgbench, psql, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

TIME=10
ROWS=10000
CONNS=64
ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) TIME="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in wrk pgbench psql python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

PG_PORT=${MEMDB_PORT:-56432}
HTTP_PORT=${MEMDB_HTTP_PORT:-58080}
WORK=$(mktemp -d /tmp/http-compare.XXXXXX)

cargo build --release -p memdb 2>/dev/null

cleanup() {
  [[ -n "${MEMDB_PID:-}" ]] && kill "$MEMDB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

target/release/memdb serve --durability memory-only --resp-listen off \
  --pg-listen "127.0.0.1:$PG_PORT" --http-listen "127.0.0.1:$HTTP_PORT" >"$WORK/memdb.log" 2>&1 &
MEMDB_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done

PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U memdb -d memdb -v ON_ERROR_STOP=1)
"${PSQL[@]}" -c "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)"
"${PSQL[@]}" -c "INSERT INTO items SELECT g, 'item ' || g, g % 100 FROM generate_series(1, $ROWS) g"
python3 - "$HTTP_PORT" "$ROWS" <<'EOF'
import http.client, json, sys
port, rows = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(1, rows + 1):
    conn.request("PUT", f"/api/v1/kv/key:{i}", json.dumps({"value": f"value {i}"}), {"content-type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
EOF

cat >"$WORK/kv.lua" <<EOF
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/kv/key:" .. math.random(1, $ROWS))
end
EOF
cat >"$WORK/records.lua" <<EOF
math.randomseed(os.time() + 1)
request = function()
  return wrk.format("GET", "/api/v1/tables/items/records/" .. math.random(1, $ROWS))
end
EOF
cat >"$WORK/select.sql" <<EOF
\set id random(1, $ROWS)
SELECT id, name, qty FROM items WHERE id = :id;
EOF

# wrk: requests/s and the p99 line of --latency ("99%  1.23ms").
run_wrk() {
  local script=$1 out
  out=$(wrk -t2 -c"$CONNS" -d"${TIME}s" --latency -s "$WORK/$script" "http://127.0.0.1:$HTTP_PORT")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[0-9]s$/) v *= 1000; printf "%.2fms", v}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [[ -n "$errors" ]] && echo "wrk reported: $errors" >&2
  echo "$rps $p99"
}

# pgbench: transactions/s and the p99 of the per-transaction log (µs).
run_pgbench() {
  rm -f "$WORK"/pgb.*
  (cd "$WORK" && pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U memdb -M prepared -c "$CONNS" -j 2 -T "$TIME" \
    -f select.sql -l --log-prefix=pgb memdb >pgbench.out 2>&1)
  local tps p99
  tps=$(awk '/^tps/ {print $3; exit}' "$WORK/pgbench.out")
  p99=$(cat "$WORK"/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2fms", a[i]/1000}')
  echo "$tps $p99"
}

# Rounds interleave the three workloads so a slow spell of the machine
# hits all of them; each figure is the median over the rounds.
: >"$WORK/kv.runs"; : >"$WORK/records.runs"; : >"$WORK/pg.runs"
for round in $(seq "$ROUNDS"); do
  run_wrk kv.lua >>"$WORK/kv.runs"
  run_wrk records.lua >>"$WORK/records.runs"
  run_pgbench >>"$WORK/pg.runs"
  echo "round $round: kv $(tail -1 "$WORK/kv.runs"), records $(tail -1 "$WORK/records.runs"), pgwire $(tail -1 "$WORK/pg.runs")" >&2
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# The median of column 1 and of column 2 (a "1.23ms" p99) of a runs file.
medians() {
  echo "$(awk '{print $1}' "$1" | median) $(awk '{sub("ms", "", $2); print $2}' "$1" | median)ms"
}
read -r KV_RPS KV_P99 < <(medians "$WORK/kv.runs")
read -r REC_RPS REC_P99 < <(medians "$WORK/records.runs")
read -r PG_TPS PG_P99 < <(medians "$WORK/pg.runs")

printf '\n%-44s %12s %10s %18s\n' "workload ($CONNS conns, median of $ROUNDS x ${TIME}s)" "requests/s" "p99" "cost vs pgwire"
printf '%-44s %12.0f %10s %18s\n' "pgwire point select (pgbench -M prepared)" "$PG_TPS" "$PG_P99" "1.00"
printf '%-44s %12.0f %10s %18.2f\n' "HTTP GET /api/v1/kv/{key}" "$KV_RPS" "$KV_P99" "$(echo "$PG_TPS / $KV_RPS" | bc -l)"
printf '%-44s %12.0f %10s %18.2f\n' "HTTP GET /api/v1/tables/items/records/{id}" "$REC_RPS" "$REC_P99" "$(echo "$PG_TPS / $REC_RPS" | bc -l)"
