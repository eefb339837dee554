#!/usr/bin/env bash
# Query benchmark on a large class (default 100,000 objects): prints req/s, p50 and p99 for an
# indexed `where` + limit 20, the same + `order`, a `$text` search, a `$nearSphere` query, an
# `include` of one pointer, and `count`, plus the SQLite plan of each (explain=true). Not a test.
#
#   cargo build --release && bash bench/queries.sh        # ROWS, DURATION, WARMUP, CONNS, THREADS
#
# Every request carries a session token. Note: ferrobase indexes a field automatically the first
# time a query filters or sorts on it (classes of 1000+ objects): the warm-up run does that.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
ROWS=${ROWS:-100000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
APP=benchApp
MK=benchMasterKey
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
TMP=$(mktemp -d)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN" serve --port 0 --data-dir "$TMP/data" --app-id $APP --master-key $MK --bcrypt-cost 4 >"$TMP/out" 2>"$TMP/err" &
PID=$!
for _ in $(seq 1 100); do URL=$(sed -n 's/^ferrobase listening on //p' "$TMP/out"); [ -n "$URL" ] && break; sleep 0.05; done
[ -n "${URL:-}" ] || { cat "$TMP/err"; exit 1; }
H=(-H "X-Parse-Application-Id: $APP" -H "Content-Type: application/json")
M=(-H "X-Parse-Master-Key: $MK")
curl -s "${H[@]}" "${M[@]}" -X POST "$URL/schemas/Seller" -d '{"fields":{"name":{"type":"String"}}}' >/dev/null
curl -s "${H[@]}" "${M[@]}" -X POST "$URL/schemas/Product" \
  -d '{"fields":{"price":{"type":"Number"},"category":{"type":"String"},"title":{"type":"String"},"loc":{"type":"GeoPoint"},"seller":{"type":"Pointer","targetClass":"Seller"}}}' >/dev/null
TOKEN=$(curl -s "${H[@]}" -X POST "$URL/users" -d '{"username":"bench","password":"benchpw"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionToken"])')
echo "ferrobase at $URL; seeding $ROWS products…"
T0=$(date +%s.%N)
python3 - "$URL" "$APP" "$MK" "$ROWS" <<'PY'
import json, random, sys, urllib.request, concurrent.futures
url, app, mk, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
random.seed(7)
words = "red blue green running shoes boots hat scarf gloves leather suede wool cotton road trail summer winter classic sport".split()
def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
        headers={"X-Parse-Application-Id": app, "X-Parse-Master-Key": mk, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
sellers = [r["success"]["objectId"] for r in post("/batch", {"requests": [
    {"method": "POST", "path": "/parse/classes/Seller", "body": {"name": f"seller{i}"}} for i in range(50)]})]
def batch(start):
    reqs = []
    for i in range(start, min(start + 50, rows)):
        reqs.append({"method": "POST", "path": "/parse/classes/Product", "body": {
            "price": random.randint(1, 1000), "category": f"c{i % 20}",
            "title": " ".join(random.sample(words, 4)),
            "loc": {"__type": "GeoPoint", "latitude": random.uniform(-60, 60), "longitude": random.uniform(-170, 170)},
            "seller": {"__type": "Pointer", "className": "Seller", "objectId": sellers[i % len(sellers)]}}})
    post("/batch", {"requests": reqs})
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(batch, range(0, rows, 50)))
PY
echo "seeded in $(python3 -c "print(round($(date +%s.%N) - $T0, 1))") s"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
declare -A PATHS
PATHS[where_limit20]="/classes/Product?where=$(enc '{"category":"c3"}')&limit=20"
PATHS[where_order_limit20]="/classes/Product?where=$(enc '{"category":"c3"}')&order=-price&limit=20"
PATHS[text_search]="/classes/Product?where=$(enc '{"title":{"$text":{"$search":{"$term":"leather"}}}}')&limit=20"
PATHS[near_sphere]="/classes/Product?where=$(enc '{"loc":{"$nearSphere":{"__type":"GeoPoint","latitude":48.85,"longitude":2.35},"$maxDistanceInKilometers":1000}}')&limit=20"
PATHS[include_pointer]="/classes/Product?where=$(enc '{"category":"c5"}')&include=seller&limit=20"
PATHS[count]="/classes/Product?where=$(enc '{"category":"c7"}')&count=1&limit=0"
BASE=${URL%/parse}
printf '\n%s, %s rows, wrk -t%s -c%s -d%ss (+%ss warm-up)\n\n' "$(date -u +%FT%TZ)" "$ROWS" "$THREADS" "$CONNS" "$DURATION" "$WARMUP"
printf '| %-20s | %9s | %8s | %8s | %7s |\n|---|---|---|---|---|\n' scenario req/s p50 p99 non-2xx
PLANS=""
for s in where_limit20 where_order_limit20 text_search near_sphere include_pointer count; do
  p="/parse${PATHS[$s]}"
  curl -s -o /dev/null -H "X-Parse-Application-Id: $APP" -H "X-Parse-Session-Token: $TOKEN" "$BASE$p"
  plan=$(curl -s -H "X-Parse-Application-Id: $APP" -H "X-Parse-Master-Key: $MK" "$BASE$p&explain=true" | python3 -c 'import json,sys; print(" | ".join(json.load(sys.stdin)["results"][0].get("plan", [])))' 2>/dev/null || echo "?")
  PLANS+="- $s: $plan"$'\n'
  cat >"$TMP/h.lua" <<LUA
wrk.headers["X-Parse-Application-Id"] = "$APP"
wrk.headers["X-Parse-Session-Token"] = "$TOKEN"
LUA
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$TMP/h.lua" "$BASE$p" >/dev/null 2>&1 || true
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/h.lua" "$BASE$p")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); bad=${bad:-0}
  printf '| %-20s | %9s | %8s | %8s | %7s |\n' "$s" "$rps" "$p50" "$p99" "$bad"
done
printf '\nSQLite plans (explain=true):\n%s' "$PLANS"
printf 'peak RSS: %s\n' "$(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
