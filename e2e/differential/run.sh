#!/usr/bin/env bash
# Differential query check: starts the real Parse Server (scripts/peers/parse-server.sh: PostgreSQL,
# port 1338; installed on first use) and a ferrobase binary, runs run.mjs against both, stops what it
# started. Everything on 127.0.0.1.
#
#   bash e2e/differential/run.sh [run.mjs options: --only ids, --verbose, --keep]
#
# Env: FERROBASE_BIN (/work/main/target/debug/ferrobase; copied to a temp file first, so a rebuild
#      during the run does not matter), PARSE_PORT (1338), PEER_SCRIPT (scripts/peers/parse-server.sh),
#      START_TIMEOUT (seconds, 600: a first start of the peer installs PostgreSQL and parse-server).
# Exit code: run.mjs's (0 = no differences beyond the INTENTIONAL table), 2 = setup failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
FERROBASE_BIN=${FERROBASE_BIN:-$HERE/../../target/debug/ferrobase}
PARSE_PORT=${PARSE_PORT:-1338}
PEER_SCRIPT=${PEER_SCRIPT:-$HERE/../../scripts/peers/parse-server.sh}
START_TIMEOUT=${START_TIMEOUT:-600}
APP_ID=benchApp
MASTER_KEY=benchMasterKey
PARSE_URL="http://127.0.0.1:${PARSE_PORT}/parse"

T0=$(date +%s.%N)
WORK=$(mktemp -d /tmp/ferrobase-diff.XXXXXX)
FB_PID=""
STARTED_PARSE=0

log() { echo "[differential] $*" >&2; }

cleanup() {
  if [ -n "$FB_PID" ] && kill -0 "$FB_PID" 2>/dev/null; then
    kill "$FB_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$FB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$FB_PID" 2>/dev/null && kill -9 "$FB_PID" 2>/dev/null
  fi
  if [ "$STARTED_PARSE" = 1 ]; then
    PARSE_PORT=$PARSE_PORT timeout 60 bash "$PEER_SCRIPT" stop >/dev/null 2>&1 || log "stopping the Parse peer failed"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$FERROBASE_BIN" ] || { log "no ferrobase binary at $FERROBASE_BIN"; exit 2; }
command -v node >/dev/null || { log "node is required"; exit 2; }

# --- Parse Server (the peer script is idempotent and waits for /health itself) ---
if curl -sf -m 5 "$PARSE_URL/health" 2>/dev/null | grep -q '"ok"'; then
  log "Parse Server already running at $PARSE_URL (left running afterwards)"
else
  if PARSE_PORT=$PARSE_PORT bash "$PEER_SCRIPT" status 2>/dev/null | grep -q 'parse-server: running'; then
    log "the Parse peer is running, but not on port $PARSE_PORT; stop it first (bash $PEER_SCRIPT stop)"
    exit 2
  fi
  STARTED_PARSE=1
  log "starting Parse Server on $PARSE_URL"
  PARSE_PORT=$PARSE_PORT timeout "$START_TIMEOUT" bash "$PEER_SCRIPT" start >"$WORK/parse-start.log" 2>&1 || {
    log "Parse Server did not start:"; tail -20 "$WORK/parse-start.log" >&2; exit 2; }
fi

# --- ferrobase (a copy of the binary, a fresh data dir, a free port) ---
cp "$FERROBASE_BIN" "$WORK/ferrobase"
mkdir -p "$WORK/data"
"$WORK/ferrobase" serve --host 127.0.0.1 --port 0 --data-dir "$WORK/data" \
  --app-id "$APP_ID" --master-key "$MASTER_KEY" >"$WORK/ferrobase.log" 2>&1 </dev/null &
FB_PID=$!
FB_URL=""
for _ in $(seq 1 300); do   # 30 s
  FB_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/parse' "$WORK/ferrobase.log" 2>/dev/null | head -1)
  [ -n "$FB_URL" ] && break
  kill -0 "$FB_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$FB_URL" ]; then
  log "ferrobase did not start:"; tail -20 "$WORK/ferrobase.log" >&2; exit 2
fi
for _ in $(seq 1 100); do
  curl -sf -m 2 "$FB_URL/health" >/dev/null 2>&1 && break
  sleep 0.1
done
log "ferrobase $FB_URL (pid $FB_PID), Parse $PARSE_URL"

# --- the check (bounded) ---
FERROBASE_URL=$FB_URL PARSE_URL=$PARSE_URL PARSE_APP_ID=$APP_ID PARSE_MASTER_KEY=$MASTER_KEY \
  timeout 600 node "$HERE/run.mjs" "$@"
RC=$?
[ "$RC" = 124 ] && log "run.mjs timed out after 600 s"

cleanup
FB_PID=""; STARTED_PARSE=0
log "total $(awk -v a="$T0" -v b="$(date +%s.%N)" "BEGIN{printf \"%.1f\", b-a}") s (exit $RC)"
exit "$RC"
