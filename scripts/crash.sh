#!/usr/bin/env bash
# Crash test (not in CI): ROUNDS rounds of kill -9 while concurrent creates, counter increments
# and transactional batches run over HTTP; after each restart, every acknowledged write must be
# there, every counter >= its acknowledged increments (and <= its attempted ones), and no
# transactional batch torn. Embedded store; 127.0.0.1 only; bounded (each round's load stops
# after LOAD_SECS at most).
#
#   scripts/crash.sh [rounds]        (default 10)
#
# Environment: FERROBASE_BIN (default target/release/ferrobase, else target/debug/ferrobase),
# LOAD_SECS (8), KEEP=1 to keep the data dir. Prints one JSON line of figures per round and the
# final figures; exits non-zero on the first failed check.
set -euo pipefail

ROUNDS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
[ -x "$BIN" ] || BIN=$ROOT/target/debug/ferrobase
[ -x "$BIN" ] || { echo "build ferrobase first (cargo build --release)" >&2; exit 2; }
LOAD_SECS=${LOAD_SECS:-8}
LOAD="python3 $ROOT/scripts/crash_load.py"
WORK=$(mktemp -d /tmp/ferrobase-crash.XXXXXX)
DATA=$WORK/data
STATE=$WORK/state
mkdir -p "$DATA" "$STATE"
: > "$STATE/acked"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/parse
SERVER=

cleanup() {
  if [ -n "$SERVER" ]; then kill -9 "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "data kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start() {
  "$BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" \
    --app-id crash-app --master-key crash-master-key --access-log false \
    >> "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 200); do
    if curl -sf "$URL/health" > /dev/null 2>&1; then return 0; fi
    kill -0 "$SERVER" 2>/dev/null || { echo "server died on start:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "server did not answer within 10 s" >&2
  exit 1
}

start
$LOAD setup "$URL" "$STATE"
started=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  ROUND=$round $LOAD load "$URL" "$STATE" "$LOAD_SECS" &
  loader=$!
  # Kill somewhere between 0.3 and 2.3 s into the load.
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 2.3), 2))')"
  kill -9 "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
  wait "$loader" || true
  start
  if ! figures=$($LOAD verify "$URL" "$STATE"); then
    echo "round $round: FAILED $figures"
    exit 1
  fi
  echo "round $round: $figures"
done
echo "crash test: $ROUNDS rounds of kill -9 in $(( $(date +%s) - started )) s; final: $figures"
