#!/usr/bin/env bash
# Quick loopback benchmark of ferrobase: prints figures, asserts nothing (not a test).
#
# The data and requests of the first Parse Server measurements (bench/run.sh now measures both side
# by side), so the figures compare with Parse Server's: seeds BenchItem with ROWS rows through
# POST /parse/batch (50 per batch, 4 batches in flight), then runs wrk (THREADS threads, CONNS connections, DURATION s after WARMUP s of warm-up) for
#   GET object by random id, query where+limit 20, query where+order+limit 20,
#   POST create, POST /login,
# every request carrying a session token, as apps do. Prints a markdown table plus seeding time,
# startup time and the server's idle and peak RSS.
#
# Needs the release binary (cargo build --release); installs wrk with apt-get when missing.
# Environment: ROWS (10000), DURATION (10), WARMUP (3), CONNS (32), THREADS (2), BCRYPT_COST (10),
#   FERROBASE_BIN (target/release/ferrobase), SERVE_ARGS (extra `serve` flags, e.g.
#   "--database-uri mongodb://127.0.0.1:27017/bench" to measure the MongoDB store), OUT_DIR (unset: if set, raw wrk output and the
#   server log are copied there).
# Everything runs on 127.0.0.1 against a server this script starts on a free port with a fresh
# temp data dir; the server is stopped and the temp dir removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
ROWS=${ROWS:-10000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
BCRYPT_COST=${BCRYPT_COST:-10}
OUT_DIR=${OUT_DIR:-}
APP=benchApp
MK=benchMasterKey
BENCH_USER=bench
BENCH_PW=benchpw

for v in ROWS DURATION WARMUP CONNS THREADS BCRYPT_COST; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number (got '${!v}')" >&2; exit 2; }
done

if [ ! -x "$BIN" ]; then
  echo "ferrobase release binary not found at $BIN" >&2
  echo "build it first:  (cd $ROOT && cargo build --release)" >&2
  exit 1
fi
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
ensure_wrk
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferrobase-bench.XXXXXX")
SERVER_PID=
DRAIN_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "server did not stop within 5 s of SIGTERM; killing it" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$DRAIN_PID" ]; then kill "$DRAIN_PID" 2>/dev/null || true; wait "$DRAIN_PID" 2>/dev/null || true; fi
  exec 3<&- 2>/dev/null || true
  if [ -n "$OUT_DIR" ] && [ -d "$TMP" ]; then
    # regular files only: server.fifo must not be read (cp would block on it forever)
    mkdir -p "$OUT_DIR" && find "$TMP" -maxdepth 1 -type f \( -name '*.txt' -o -name '*.lua' -o -name 'server.err' -o -name 'server.out' \) \
      -exec cp {} "$OUT_DIR"/ \; 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- start the server; its stdout goes through a FIFO so the listening line is seen the moment
# it is written (startup time = fork/exec to that line) ---
mkfifo "$TMP/server.fifo"
t0=$EPOCHREALTIME
"$BIN" serve --port 0 --data-dir "$TMP/data" --app-id "$APP" --master-key "$MK" \
  --bcrypt-cost "$BCRYPT_COST" ${SERVE_ARGS:-} >"$TMP/server.fifo" 2>"$TMP/server.err" &
SERVER_PID=$!
exec 3<"$TMP/server.fifo"
BASE=
deadline=$((SECONDS + 15))
while [ -z "$BASE" ] && [ $SECONDS -lt $deadline ]; do
  if IFS= read -r -t 1 -u 3 line; then
    echo "$line" >>"$TMP/server.out"
    if [[ $line =~ ferrobase\ listening\ on\ (http://127\.0\.0\.1:[0-9]+/parse) ]]; then
      BASE=${BASH_REMATCH[1]}
    fi
  else
    rc=$?
    kill -0 "$SERVER_PID" 2>/dev/null || break
    [ "$rc" -gt 128 ] || sleep 0.05 # EOF rather than a timeout: don't spin
  fi
done
t1=$EPOCHREALTIME
if [ -z "$BASE" ]; then
  echo "ferrobase did not print its listening line (on 127.0.0.1) within 15 s; stderr:" >&2
  tail -20 "$TMP/server.err" >&2
  exit 1
fi
# keep draining its stdout so a later println can never block on a full pipe
cat <&3 >>"$TMP/server.out" &
DRAIN_PID=$!
STARTUP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)*1000}')
IDLE_RSS_KB=$(rss_kb "$SERVER_PID" VmRSS)
echo "ferrobase pid $SERVER_PID at $BASE (startup ${STARTUP_MS} ms, idle RSS ${IDLE_RSS_KB} kB)" >&2

J=(-H "X-Parse-Application-Id: $APP" -H 'Content-Type: application/json')
M=(-H "X-Parse-Master-Key: $MK")

# --- schema (master key: clients may not create classes) ---
st=$(curl_json "$TMP/r.json" "${J[@]}" "${M[@]}" -X POST "$BASE/schemas/BenchItem" \
  -d '{"className":"BenchItem","fields":{"name":{"type":"String"},"price":{"type":"Number"},"category":{"type":"String"}}}')
need_2xx "create class BenchItem" "$st" "$TMP/r.json"

# --- seed ROWS rows via /batch, 50 per batch, 4 batches in flight; keep the ids ---
SEED_OUT=$(BASE="$BASE" APP="$APP" MK="$MK" ROWS="$ROWS" IDS="$TMP/ids.txt" python3 - <<'PY'
import http.client, json, os, sys, threading, time, urllib.parse
base = urllib.parse.urlsplit(os.environ["BASE"])
rows = int(os.environ["ROWS"])
hdr = {"X-Parse-Application-Id": os.environ["APP"], "X-Parse-Master-Key": os.environ["MK"],
       "Content-Type": "application/json"}
cats = ["tools", "books", "games", "food", "garden"]
batches = []
for i in range(0, rows, 50):
    batches.append([{"method": "POST", "path": base.path + "/classes/BenchItem",
                     "body": {"name": f"item-{j}", "price": j % 1000 + 0.5, "category": cats[j % len(cats)]}}
                    for j in range(i, min(i + 50, rows))])
ids = [None] * len(batches)
lock = threading.Lock()
next_batch = [0]
errors = []
def worker():
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
    while not errors:
        with lock:
            k = next_batch[0]; next_batch[0] += 1
        if k >= len(batches):
            break
        try:
            conn.request("POST", base.path + "/batch", json.dumps({"requests": batches[k]}), hdr)
            res = conn.getresponse(); body = res.read()
            out = json.loads(body)
            if res.status != 200 or not isinstance(out, list) or len(out) != len(batches[k]) \
                    or not all("success" in x for x in out):
                raise RuntimeError(f"batch {k}: HTTP {res.status}: {body[:300]!r}")
            ids[k] = [x["success"]["objectId"] for x in out]
        except Exception as e:
            errors.append(e)
start = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
took = time.monotonic() - start
if errors:
    print(f"seeding failed: {errors[0]}", file=sys.stderr); sys.exit(1)
with open(os.environ["IDS"], "w") as f:
    for b in ids:
        for i in b: f.write(i + "\n")
print(f"{took:.2f} {rows / took if took else 0:.0f}")
PY
)
read -r SEED_S SEED_RPS <<<"$SEED_OUT"
NIDS=$(wc -l <"$TMP/ids.txt")
[ "$NIDS" -eq "$ROWS" ] || { echo "expected $ROWS object ids, got $NIDS" >&2; exit 1; }
st=$(curl_json "$TMP/r.json" "${J[@]}" "${M[@]}" -G "$BASE/classes/BenchItem" --data-urlencode count=1 --data-urlencode limit=0)
need_2xx "count BenchItem" "$st" "$TMP/r.json"
HAVE=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1])).get("count"))' "$TMP/r.json")
[ "$HAVE" = "$ROWS" ] || echo "WARNING: BenchItem count is $HAVE after seeding $ROWS rows" >&2
echo "seeded $ROWS rows in ${SEED_S} s (${SEED_RPS} rows/s)" >&2

# --- the bench user and its session token ---
LOGIN_BODY="{\"username\":\"$BENCH_USER\",\"password\":\"$BENCH_PW\"}"
st=$(curl_json "$TMP/r.json" "${J[@]}" -X POST "$BASE/users" -d "$LOGIN_BODY")
need_2xx "sign up $BENCH_USER" "$st" "$TMP/r.json"
st=$(curl_json "$TMP/r.json" "${J[@]}" -X POST "$BASE/login" -d "$LOGIN_BODY")
need_2xx "log in $BENCH_USER" "$st" "$TMP/r.json"
TOK=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["sessionToken"])' "$TMP/r.json")
S=(-H "X-Parse-Application-Id: $APP" -H "X-Parse-Session-Token: $TOK")

# --- lua scripts ---
cat >"$TMP/get_by_id.lua" <<EOF
local ids = {}
for line in io.lines("$TMP/ids.txt") do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("tid", counter) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 0)); for _ = 1, 10 do math.random() end end
function request()
  return wrk.format("GET", "/parse/classes/BenchItem/" .. ids[math.random(#ids)])
end
EOF
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
EOF
Q1=$(python3 -c 'import urllib.parse as u;print(u.urlencode({"where":"{\"price\":{\"$gt\":10}}","limit":"20"}))')
Q2=$(python3 -c 'import urllib.parse as u;print(u.urlencode({"where":"{\"price\":{\"$gt\":10}}","limit":"20","order":"-price"}))')
CREATE_BODY='{"name":"bench-write","price":42.5,"category":"tools"}'

# --- one request of each kind with curl first: a scenario that fails here would bench errors ---
check() { # check NAME expected-status curl-args...
  local name=$1 want=$2 st; shift 2
  st=$(curl_json "$TMP/r.json" "$@")
  [ "$st" = "$want" ] || echo "WARNING: $name answered HTTP $st (want $want): $(head -c 300 "$TMP/r.json")" >&2
}
check get_by_id 200 "${S[@]}" "$BASE/classes/BenchItem/$(sed -n '1p' "$TMP/ids.txt")"
check query_where_limit20 200 "${S[@]}" "$BASE/classes/BenchItem?$Q1"
check query_where_order_limit20 200 "${S[@]}" "$BASE/classes/BenchItem?$Q2"
check post_create 201 "${S[@]}" -H 'Content-Type: application/json' -X POST "$BASE/classes/BenchItem" -d "$CREATE_BODY"
check post_login 200 "${S[@]}" -H 'Content-Type: application/json' -X POST "$BASE/login" -d "$LOGIN_BODY"
MATCH=$(curl -sS "${S[@]}" "$BASE/classes/BenchItem?$Q1&count=1" | python3 -c 'import json,sys;print(json.load(sys.stdin).get("count"))')
echo "query where price>10 matches $MATCH rows" >&2

# CPU accounting, in clock ticks: the server process, wrk (this shell's reaped children, from the
# `times` builtin) and the whole machine (/proc/stat); whatever else ran (a compiler, say) skews the
# figures, so it is shown and warned about
HZ=$(getconf CLK_TCK)
server_ticks() { awk '{print $14+$15}' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0; }
children_ticks() { # CHILD_TICKS = user+sys of this shell's reaped children (`times`, second line
  # "XmY.YYYs XmY.YYYs"); `times` must run in this shell, not in a $(...) subshell
  times >"$TMP/times"
  CHILD_TICKS=$(awk -v hz="$HZ" 'NR==2{t=0; for(i=1;i<=2;i++){split($i,a,/[ms]/); t+=a[1]*60+a[2]} printf "%d", t*hz}' "$TMP/times")
}
CPU_MD=()
OTHER_WARN=()

ROWS_MD=()
BAD_WARN=()
run() { # run NAME URL [wrk args...]
  local name=$1 url=$2; shift 2
  echo "running $name (${WARMUP}s warm-up + ${DURATION}s)..." >&2
  if [ "$WARMUP" -gt 0 ]; then
    wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 10s "$@" "$url" >"$TMP/$name.warmup.txt" 2>&1 || true
  fi
  local s0 w0 b0 s1 w1 b1 pct_s pct_w pct_o
  children_ticks; w0=$CHILD_TICKS; s0=$(server_ticks); b0=$(busy_ticks)
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "$@" "$url" >"$TMP/$name.txt" 2>&1 \
    || { echo "wrk failed for $name:" >&2; cat "$TMP/$name.txt" >&2; }
  s1=$(server_ticks); b1=$(busy_ticks); children_ticks; w1=$CHILD_TICKS
  pct_s=$(( (s1 - s0) * 100 / HZ / DURATION ))
  pct_w=$(( (w1 - w0) * 100 / HZ / DURATION ))
  pct_o=$(( (b1 - b0 - (s1 - s0) - (w1 - w0)) * 100 / HZ / DURATION ))
  [ "$pct_o" -ge 0 ] || pct_o=0
  CPU_MD+=("$name ${pct_s}/${pct_w}/${pct_o}")
  [ "$pct_o" -lt 20 ] || OTHER_WARN+=("$name (${pct_o}% of a core)")
  local rps p50 p99 bad sock
  rps=$(awk '/^Requests\/sec/{print $2}' "$TMP/$name.txt")
  p50=$(awk '$1=="50%"{print $2}' "$TMP/$name.txt")
  p99=$(awk '$1=="99%"{print $2}' "$TMP/$name.txt")
  bad=$(awk '/Non-2xx or 3xx responses/{print $NF}' "$TMP/$name.txt")
  sock=$(awk '/Socket errors/{sub(/^ *Socket errors: */,""); print}' "$TMP/$name.txt")
  bad=${bad:-0}
  [ -n "$sock" ] && bad="$bad (socket errors: $sock)"
  [ "$bad" = 0 ] || BAD_WARN+=("$name")
  ROWS_MD+=("$(printf '| %-25s | %9s | %8s | %8s | %s |' "$name" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$bad")")
}
run get_by_id                 "$BASE/classes/BenchItem" "${S[@]}" -s "$TMP/get_by_id.lua"
run query_where_limit20       "$BASE/classes/BenchItem?$Q1" "${S[@]}"
run query_where_order_limit20 "$BASE/classes/BenchItem?$Q2" "${S[@]}"
WRK_BODY=$CREATE_BODY run post_create "$BASE/classes/BenchItem" "${S[@]}" -s "$TMP/post.lua"
WRK_BODY=$LOGIN_BODY  run post_login  "$BASE/login" "${S[@]}" -s "$TMP/post.lua"

PEAK_RSS_KB=$(rss_kb "$SERVER_PID" VmHWM)
kill -0 "$SERVER_PID" 2>/dev/null || echo "WARNING: the server died during the run" >&2
# the log may carry ANSI colours; strip them and the timestamps to count and group warnings/errors
sed -E 's/\x1b\[[0-9;]*m//g' "$TMP/server.err" | grep -E '^[^ ]+ +(ERROR|WARN) ' | sed -E 's/^[^ ]+ +//' >"$TMP/server.problems" || true
ERRLINES=$(wc -l <"$TMP/server.problems")

mb() { awk -v k="$1" 'BEGIN{ if (k ~ /^[0-9]+$/) printf "%.1f MiB", k/1024; else print k }'; }
echo
echo "ferrobase $("$BIN" --version 2>/dev/null | awk '{print $NF}'), $(date -u +%FT%TZ), $(nproc) cores;" \
  "wrk -t$THREADS -c$CONNS -d${DURATION}s (+${WARMUP}s warm-up), $ROWS rows, bcrypt cost $BCRYPT_COST"
echo
echo "| scenario                  |     req/s |      p50 |      p99 | non-2xx |"
echo "|---------------------------|-----------|----------|----------|---------|"
printf '%s\n' "${ROWS_MD[@]}"
echo
echo "- seeding: $ROWS rows in ${SEED_S} s (${SEED_RPS} rows/s; /batch of 50, 4 in flight)"
echo "- startup: ${STARTUP_MS} ms (exec to listening line)"
echo "- RSS: idle $(mb "$IDLE_RSS_KB") right after start, peak $(mb "$PEAK_RSS_KB") (VmHWM at the end)"
echo "- server log: $ERRLINES ERROR/WARN lines"
echo "- CPU during each run, % of one core ($(nproc) cores), server/wrk/other: $(IFS=,; echo "${CPU_MD[*]}" | sed 's/,/, /g')"
if [ ${#BAD_WARN[@]} -gt 0 ]; then
  echo "- WARNING: failed responses (non-2xx or socket errors) in: ${BAD_WARN[*]}; raw wrk output is kept with OUT_DIR=..."
fi
if [ ${#OTHER_WARN[@]} -gt 0 ]; then
  echo "- WARNING: other processes took CPU during: $(IFS=,; echo "${OTHER_WARN[*]}" | sed 's/,/, /g'); those figures are not clean"
fi
if [ "$ERRLINES" != 0 ]; then sort "$TMP/server.problems" | uniq -c | sort -rn | head -5 | cut -c1-200 | sed 's/^/    /'; fi
