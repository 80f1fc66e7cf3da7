#!/usr/bin/env bash
# Loads memdb's interactive API docs page (/api/v1/docs/, the vendored
# Swagger UI) in headless Chromium and checks that
#   (a) every request the page made went to the memdb server on 127.0.0.1
#       and succeeded (no network error, no HTTP status >= 400), and
#   (b) the page rendered the API: one operation per operation of the
#       OpenAPI document, among them /api/v1/kv/{key}, and no
#       "Failed to load API definition" error.
#
# Builds nothing: point MEMDB_BIN at a built binary (default
# target/release/memdb under the repository root). Needs python3 and
# Chromium (Debian: apt-get install -y chromium).
#
#   crates/server/tests/fuzz/docs-page.sh
#
# Environment (all optional):
#   MEMDB_BIN        the memdb binary
#   MEMDB_HTTP_PORT  HTTP port to serve on   (default 38080)
#   MEMDB_PG_PORT    PostgreSQL-protocol port (default 35432)
#   CHROMIUM         the browser binary (default: Debian's real binary
#                    /usr/lib/chromium/chromium, else chromium in PATH)
#   DOCS_OUT         where the DOM, net log and logs go (default: a new temp dir)
#
# How requests are told apart: Chromium's JSON net log (--log-net-log)
# records every URL request with its initiator. A request the page made
# (a subresource, a fetch/XHR, a navigation) has the page's origin as
# initiator or is a frame navigation; requests Chromium makes for itself
# (component and extension updates, account checks) have none. All page
# requests must be to 127.0.0.1; the browser's own are listed for
# information only, and cannot leave the machine anyway:
# --host-resolver-rules resolves no host name except 127.0.0.1.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../../../.." && pwd)"

MEMDB_BIN="${MEMDB_BIN:-$repo_root/target/release/memdb}"
HTTP_PORT="${MEMDB_HTTP_PORT:-38080}"
PG_PORT="${MEMDB_PG_PORT:-35432}"
tmp_root="${TMPDIR:-/tmp}"
OUT="${DOCS_OUT:-$(mktemp -d "$tmp_root/memdb-docs.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if [[ -z "${CHROMIUM:-}" ]]; then
    # Debian's /usr/bin/chromium wrapper adds flags that make the browser
    # contact extension-update servers; its real binary runs without them.
    for candidate in /usr/lib/chromium/chromium chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then
            CHROMIUM="$(command -v "$candidate")"
            break
        fi
    done
fi
if [[ -z "${CHROMIUM:-}" ]]; then
    echo "error: no Chromium found; install it (Debian: apt-get install -y chromium) or set CHROMIUM" >&2
    exit 2
fi
if [[ ! -x "$MEMDB_BIN" ]]; then
    echo "error: no memdb binary at $MEMDB_BIN (build it with: cargo build --release, or set MEMDB_BIN)" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 2; }

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for port in "$HTTP_PORT" "$PG_PORT"; do
    if port_busy "$port"; then
        echo "error: 127.0.0.1:$port is in use; set MEMDB_HTTP_PORT / MEMDB_PG_PORT" >&2
        exit 2
    fi
done

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
curl -fsS --max-time 5 "$base/api/v1/openapi.json" -o "$OUT/openapi.json"

page="$base/api/v1/docs/"
echo "== loading $page in $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
# --virtual-time-budget lets the page's scripts run (fetch the document,
# render) for 10 s of virtual time before the DOM is dumped.
chromium_status=0
timeout 120 "$CHROMIUM" \
    --headless --disable-gpu --no-sandbox --disable-dev-shm-usage \
    --user-data-dir="$OUT/profile" \
    --no-first-run --no-default-browser-check --disable-default-apps --disable-extensions \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-domain-reliability --disable-breakpad --no-pings \
    --disable-features=AutofillServerCommunication,OptimizationHints,Translate,MediaRouter,SpellCheck,NetworkTimeServiceQuerying \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
    --enable-logging=stderr --v=0 \
    --log-net-log="$OUT/netlog.json" --net-log-capture-mode=Default \
    --virtual-time-budget=10000 \
    --dump-dom "$page" >"$OUT/dom.html" 2>"$OUT/chromium.log" || chromium_status=$?
if [[ "$chromium_status" != 0 ]]; then
    echo "FAIL: chromium exited with status $chromium_status; its log:" >&2
    grep -v "dbus" "$OUT/chromium.log" | tail -n 30 >&2
    exit 1
fi

status=0
python3 - "$OUT" "$HTTP_PORT" <<'PY' || status=1
import json, re, sys
from urllib.parse import urlsplit

out, port = sys.argv[1], sys.argv[2]
origin = f"http://127.0.0.1:{port}"
failures = []

# --- (a) the requests, from the net log -------------------------------
raw = open(f"{out}/netlog.json", encoding="utf-8", errors="replace").read()
try:
    log = json.loads(raw)
except json.JSONDecodeError:
    # A log cut short (the browser did not exit cleanly) lacks its end.
    log = json.loads(raw.rstrip().rstrip(",") + "]}")
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
requests = {}  # source id -> facts
for event in log["events"]:
    name = names.get(event["type"], "")
    params = event.get("params") or {}
    source = event["source"]["id"]
    if name == "URL_REQUEST_START_JOB" and "url" in params:
        r = requests.setdefault(source, {"urls": [], "statuses": [], "errors": []})
        r["urls"].append(params["url"])  # a redirect starts another job
        r.setdefault("initiator", params.get("initiator", ""))
        r.setdefault("type", params.get("request_type", ""))
        r.setdefault("method", params.get("method", ""))
    elif source in requests and name == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
        headers = params.get("headers") or [""]
        m = re.match(r"HTTP/\S+ (\d{3})", headers[0])
        if m:
            requests[source]["statuses"].append(int(m.group(1)))
    if source in requests and params.get("net_error") not in (None, 0):
        requests[source]["errors"].append(f"{name}: net_error {params['net_error']}")

def from_page(r):
    return r["initiator"].startswith(("http://", "https://")) or r["type"] in ("main frame", "sub frame")

page = [r for r in requests.values() if from_page(r)]
browser = [r for r in requests.values() if not from_page(r)]
print(f"== {len(page)} requests made by the page:")
for r in page:
    status = r["statuses"][-1] if r["statuses"] else "no response"
    print(f"   {r['method']:6} {' -> '.join(r['urls'])}  [{status}]"
          + (f"  {'; '.join(r['errors'])}" if r["errors"] else ""))
    for url in r["urls"]:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            continue
        if parts.hostname != "127.0.0.1":
            failures.append(f"the page requested another host: {url}")
    if r["errors"]:
        failures.append(f"request failed: {r['urls'][-1]}: {'; '.join(r['errors'])}")
    elif not r["statuses"]:
        failures.append(f"request got no response: {r['urls'][-1]}")
    elif r["statuses"][-1] >= 400:
        failures.append(f"request answered {r['statuses'][-1]}: {r['urls'][-1]}")
if not any(urlsplit(u).path == "/api/v1/openapi.json" for r in page for u in r["urls"]):
    failures.append("the page never fetched /api/v1/openapi.json")
if browser:
    print(f"== {len(browser)} requests Chromium made for itself (not from the page; "
          "host names other than 127.0.0.1 do not resolve):")
    for r in browser:
        host = urlsplit(r["urls"][0]).hostname
        print(f"   {r['method']:6} {host}  ({r['type']}, initiator: {r['initiator']})")

# --- (b) the rendered page --------------------------------------------
dom = open(f"{out}/dom.html", encoding="utf-8", errors="replace").read()
spec = json.load(open(f"{out}/openapi.json"))
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
expected = sorted((m.upper(), p) for p, item in spec["paths"].items() for m in item if m in methods)
rendered = re.findall(r'class="opblock opblock-(\w+)[^"]*".*?class="opblock-summary-path" data-path="([^"]*)"', dom, re.S)
rendered = sorted((m.upper(), p.replace("&amp;", "&")) for m, p in rendered)
print(f"== the page shows {len(rendered)} operations; the document has {len(expected)}")
if rendered != expected:
    missing = sorted(set(expected) - set(rendered))
    extra = sorted(set(rendered) - set(expected))
    failures.append(f"rendered operations differ from the document: missing {missing}, unexpected {extra}")
if ("GET", "/api/v1/kv/{key}") not in rendered:
    failures.append('the operation list lacks "GET /api/v1/kv/{key}"')
title = re.search(r'<h[12] class="title">([^<]*)', dom)
print(f"== title: {title.group(1).strip() if title else None!r}")
if not title or title.group(1).strip() != spec["info"]["title"]:
    failures.append("the page does not show the document's title")
if "Failed to load API definition" in dom or 'class="errors-wrapper"' in dom:
    failures.append("Swagger UI shows an error loading the API definition")

# --- the page's console: uncaught errors -------------------------------
console = [l for l in open(f"{out}/chromium.log", errors="replace") if "CONSOLE" in l]
for line in console:
    print("   console:", line.strip()[:300])
    if "Uncaught" in line or ":ERROR:" in line:
        failures.append(f"console error: {line.strip()[:300]}")

if failures:
    print("FAIL:")
    for f in failures:
        print("   -", f)
    sys.exit(1)
print("PASS: every page request went to 127.0.0.1 and succeeded; the API rendered")
PY

if grep -qiE "panicked|stack overflow" "$server_log"; then
    echo "FAIL: the server log shows a panic" >&2
    status=1
fi
echo "== DOM, net log, chromium and server logs in $OUT"
exit "$status"
