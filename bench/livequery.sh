#!/usr/bin/env bash
# LiveQuery benchmark (prints figures, asserts nothing; not a test).
#
# Starts the release server on a free port with a fresh data dir, opens SUBS WebSocket
# subscribers (raw Parse LiveQuery protocol, Node + the `ws` package from e2e/node_modules) on one
# class, writes RATE objects/s for DURATION s through REST and prints delivered events/s,
# p50/p99 write-to-delivery latency and the server's RSS (idle, with the subscribers, at the end).
# Runs once per entry of SUBS_LIST.
#
# Needs: cargo build --release; Node >= 20; e2e/node_modules (cd e2e && npm ci).
# Environment: SUBS_LIST ("1000 10000"), RATE (20), DURATION (10), FERROBASE_BIN.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
SUBS_LIST=${SUBS_LIST:-"1000 10000"}
RATE=${RATE:-20}
DURATION=${DURATION:-10}
[ -x "$BIN" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
[ -d "$ROOT/e2e/node_modules/ws" ] || (cd "$ROOT/e2e" && npm ci --no-audit --no-fund --loglevel=error)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }

for SUBS in $SUBS_LIST; do
  data=$(mktemp -d)
  "$BIN" serve --port 0 --data-dir "$data/db" --app-id benchApp --master-key benchMasterKey \
    --live-query-queue-size 10000 > "$data/log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
  url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^ferrobase listening on //p' "$data/log" | head -n1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$data/log"; exit 1; }
  curl -s -X POST -H 'X-Parse-Application-Id: benchApp' -H 'X-Parse-Master-Key: benchMasterKey' \
    "$url/schemas/LiveBench" -d '{"className":"LiveBench"}' > /dev/null
  echo "== $SUBS subscribers, $RATE writes/s for $DURATION s (server idle RSS $(rss $pid))"
  coproc CLIENT { URL=$url APP_ID=benchApp MASTER_KEY=benchMasterKey SUBS=$SUBS RATE=$RATE \
    DURATION=$DURATION node "$ROOT/bench/livequery.mjs" 2>&1; }
  while read -r line <&"${CLIENT[0]}"; do
    if [ "$line" = READY ]; then
      echo "server RSS with $SUBS subscribers: $(rss $pid)"
      echo go >&"${CLIENT[1]}"
    elif [ "$line" = DONE ]; then
      echo "server RSS at the end: $(rss $pid)"
      break
    else
      echo "$line"
    fi
  done
  wait "$CLIENT_PID" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  trap - EXIT
done
