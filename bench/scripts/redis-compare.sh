#!/usr/bin/env bash
# memdb vs Redis (Debian's redis-server), same machine, one run: the
# figures of the key-value issue.
#
# 1. Throughput: redis-benchmark -t set,get,incr,lpush,rpush,lpop,rpop
#    -c 50 -n N, with -P 1 and -P 16, on one key and with -r 1000000,
#    against memdb (memory-only, default settings), memdb with two RESP
#    worker threads (--resp-threads 2) and redis-server (persistence off),
#    all three running, taking turns for each pipeline depth and key
#    range (the machine's speed drifts over minutes). Prints requests/s
#    per test and memdb / Redis (> 1: memdb faster).
# 2. Memory: 1,000,000 keys with 16-byte keys and 32-byte values, without
#    and with a TTL, and a list of 1,000,000 3-byte elements, loaded into
#    fresh servers with `redis-cli --pipe`. memdb's figure is its resident
#    set growth; Redis's are used_memory (allocator view) and resident set
#    growth, per key / element.
# 3. TTL reclaim: 1,000,000 keys with a 1 s TTL: seconds from the end of
#    the load until DBSIZE is 0, and memdb's resident set 5 s after the
#    load compared with before it.
#
# Usage: bench/scripts/redis-compare.sh [--requests N] [--skip-throughput]
# Needs redis-server and redis-tools (apt-get install redis-server
# redis-tools), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=1000000
THROUGHPUT=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --skip-throughput) THROUGHPUT=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

command -v redis-server >/dev/null || apt-get install -y redis-server redis-tools >/dev/null
MEMDB_PORT=${MEMDB_PORT:-56379}
REDIS_PORT=${REDIS_PORT:-56380}
MEMDB2_PORT=${MEMDB2_PORT:-56381}
WORK=$(mktemp -d /tmp/redis-compare.XXXXXX)
cargo build --release -p memdb 2>/dev/null

MEMDB_PID=""
REDIS_PID=""
MEMDB2_PID=""
stop_servers() {
  [[ -n "$MEMDB_PID" ]] && kill "$MEMDB_PID" 2>/dev/null && wait "$MEMDB_PID" 2>/dev/null || true
  [[ -n "$MEMDB2_PID" ]] && kill "$MEMDB2_PID" 2>/dev/null && wait "$MEMDB2_PID" 2>/dev/null || true
  MEMDB2_PID=""
  [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
  MEMDB_PID=""
  REDIS_PID=""
}
trap 'stop_servers; rm -rf "$WORK"' EXIT

MEMDB_FLAGS=()
start_servers() {
  target/release/memdb serve --durability memory-only --pg-listen 127.0.0.1:0 \
    --resp-listen "127.0.0.1:$MEMDB_PORT" --http-listen off "${MEMDB_FLAGS[@]}" >"$WORK/memdb.log" 2>&1 &
  MEMDB_PID=$!
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for port in "$MEMDB_PORT" "$REDIS_PORT"; do
    for _ in $(seq 100); do
      [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] && break
      sleep 0.1
    done
  done
}

rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2+0}'; }

# ---------------------------------------------------------------- throughput
# memdb with its defaults (Redis clients on their own worker threads, half
# the cores: one here, as Redis uses one, with the benchmark client on the
# other core), and with two RESP worker threads.
if [[ $THROUGHPUT == 1 ]]; then
  start_servers
  target/release/memdb serve --durability memory-only --pg-listen 127.0.0.1:0 --resp-threads 2 \
    --resp-listen "127.0.0.1:$MEMDB2_PORT" --http-listen off >"$WORK/memdb2.log" 2>&1 &
  MEMDB2_PID=$!
  for _ in $(seq 100); do
    [[ "$(redis-cli -p "$MEMDB2_PORT" ping 2>/dev/null)" == PONG ]] && break
    sleep 0.1
  done
  for pipeline in 1 16; do
    for keys in one 1000000; do
      random=()
      [[ $keys != one ]] && random=(-r "$keys")
      for target in "memdb $MEMDB_PORT" "redis $REDIS_PORT" "memdb2 $MEMDB2_PORT"; do
        read -r tag port <<<"$target"
        redis-benchmark -p "$port" -t set,get,incr,lpush,rpush,lpop,rpop -n "$REQUESTS" -c 50 -P "$pipeline" \
          "${random[@]}" --csv >"$WORK/bench-$tag-$pipeline-$keys.csv" 2>/dev/null
      done
    done
  done
  stop_servers
  echo "## Throughput (redis-benchmark -c 50 -n $REQUESTS), requests/s"
  echo
  echo "| test | pipeline | keys | memdb | memdb, 2 RESP threads | Redis | memdb / Redis | 2 threads / Redis |"
  echo "|---|---|---|---|---|---|---|---|"
  for pipeline in 1 16; do
    for keys in one 1000000; do
      for test in SET GET INCR LPUSH RPUSH LPOP RPOP; do
        pick() { awk -F'","' -v t="\"$test" '$1 == t {printf "%d\n", $2}' "$WORK/bench-$1-$pipeline-$keys.csv"; }
        m=$(pick memdb); m1=$(pick memdb2); r=$(pick redis)
        printf '| %s | %s | %s | %d | %d | %d | %.2f | %.2f |\n' "$test" "$pipeline" "$keys" "$m" "$m1" "$r" \
          "$(echo "$m / $r" | bc -l)" "$(echo "$m1 / $r" | bc -l)"
      done
    done
  done
  echo
fi

# -------------------------------------------------------------------- memory
python3 - "$WORK" <<'EOF'
import sys
work = sys.argv[1]
value = b"v" * 32
def write(name, make):
    with open(f"{work}/{name}.resp", "wb") as out:
        chunk = []
        for i in range(1_000_000):
            chunk.append(make(i))
            if len(chunk) == 10_000:
                out.write(b"".join(chunk)); chunk = []
        out.write(b"".join(chunk))
def setcmd(i, extra=b""):
    key = b"key:%012d" % i
    parts = [b"SET", key, value] + ([] if not extra else extra.split(b" "))
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
write("plain", lambda i: setcmd(i))
write("ttl", lambda i: setcmd(i, b"EX 3600"))
write("short", lambda i: setcmd(i, b"PX 1000"))
write("list", lambda i: b"*3\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$3\r\nxxx\r\n")
EOF

echo "## Memory, bytes per key (1,000,000 keys: 16-byte key, 32-byte value) or per list element"
echo
echo "| data | memdb (resident) | Redis used_memory | Redis (resident) | memdb / Redis used_memory |"
echo "|---|---|---|---|---|"
for data in plain ttl list; do
  start_servers
  m0=$(rss "$MEMDB_PID"); r0=$(rss "$REDIS_PID"); u0=$(used_memory "$REDIS_PORT")
  redis-cli -p "$MEMDB_PORT" --pipe <"$WORK/$data.resp" >/dev/null
  redis-cli -p "$REDIS_PORT" --pipe <"$WORK/$data.resp" >/dev/null
  sleep 1
  m=$(( ($(rss "$MEMDB_PID") - m0) / 1000000 ))
  r=$(( ($(rss "$REDIS_PID") - r0) / 1000000 ))
  u=$(( ($(used_memory "$REDIS_PORT") - u0) / 1000000 ))
  printf '| %s | %s | %s | %s | %.2f |\n' "$data" "$m" "$u" "$r" "$(echo "$m / $u" | bc -l)"
  stop_servers
done
echo

# --------------------------------------------------------------- TTL reclaim
echo "## 1,000,000 keys with a 1 s TTL"
echo
start_servers
m0=$(rss "$MEMDB_PID")
redis-cli -p "$MEMDB_PORT" --pipe <"$WORK/short.resp" >/dev/null
loaded=$(date +%s.%N)
peak=$(rss "$MEMDB_PID")
while [[ "$(redis-cli -p "$MEMDB_PORT" dbsize)" != 0 ]]; do sleep 0.05; done
gone=$(date +%s.%N)
sleep "$(echo "5 - ($gone - $loaded)" | bc -l | awk '{print ($1 > 0) ? $1 : 0}')"
after=$(rss "$MEMDB_PID")
printf 'memdb: all keys gone %.2f s after the load finished; resident set grew %d MB for the load, %d MB of it still held 5 s after the load\n' \
  "$(echo "$gone - $loaded" | bc -l)" $(( (peak - m0) >> 20 )) $(( (after - m0) >> 20 ))
# Memory the allocator kept is reused: loading the same keys again should
# grow the resident set by much less than the first load did.
redis-cli -p "$MEMDB_PORT" --pipe <"$WORK/short.resp" >/dev/null
again=$(rss "$MEMDB_PID")
printf 'memdb: loading the same 1M keys again grew the resident set by %d MB more (first load: %d MB)\n' \
  $(( (again - after) >> 20 )) $(( (peak - m0) >> 20 ))
stop_servers
