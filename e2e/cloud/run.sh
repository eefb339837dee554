#!/usr/bin/env bash
# Differential Cloud Code check: the real Parse Server 9.10 (scripts/peers/parse-server.sh, with
# PARSE_CLOUD=e2e/cloud/main.js, its own PostgreSQL cluster and port) and a ferrobase binary started
# with `--cloud e2e/cloud/main.js`; differential.mjs sends the same requests to both. Stops what it
# started. Everything on 127.0.0.1.
#
#   bash e2e/cloud/run.sh [differential.mjs options: --only ids, --verbose]
#
# Env: FERROBASE_BIN (target/debug/ferrobase; copied to a temp file first, so a rebuild during the
#      run does not matter), PARSE_PORT (1339), PEER_DIR (/tmp/ferrobase-peers/parse-cloud) and
#      PG_PORT (55433): a peer of its own, so the query differential (1338, the default PEER_DIR) may
#      run at the same time; PEER_SCRIPT (scripts/peers/parse-server.sh), START_TIMEOUT (seconds,
#      600: a first start installs PostgreSQL and parse-server).
# Needs e2e/node_modules (cd e2e && npm ci): main.js requires lodash.uniqby, the check the parse SDK.
# Exit code: differential.mjs's (0 = no differences beyond its INTENTIONAL table), 2 = setup failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FERROBASE_BIN=${FERROBASE_BIN:-$ROOT/target/debug/ferrobase}
PARSE_PORT=${PARSE_PORT:-1339}
export PEER_DIR=${PEER_DIR:-/tmp/ferrobase-peers/parse-cloud}
export PG_PORT=${PG_PORT:-55433}
PEER_SCRIPT=${PEER_SCRIPT:-$ROOT/scripts/peers/parse-server.sh}
START_TIMEOUT=${START_TIMEOUT:-600}
MAIN_JS=$HERE/main.js
APP_ID=benchApp
MASTER_KEY=benchMasterKey
PARSE_URL="http://127.0.0.1:${PARSE_PORT}/parse"
unset FERROBASE_TEST_ENV   # main.js's `npm` function reports it: the same (absent) on both sides

T0=$(date +%s.%N)
WORK=$(mktemp -d /tmp/ferrobase-cloud-diff.XXXXXX)
FB_PID=""
STARTED_PARSE=0

log() { echo "[cloud-differential] $*" >&2; }

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
[ -d "$ROOT/e2e/node_modules/parse" ] && [ -d "$ROOT/e2e/node_modules/lodash.uniqby" ] \
  || { log "e2e/node_modules is missing: run (cd e2e && npm ci) first"; exit 2; }

# --- Parse Server with main.js (the peer script is idempotent and waits for /health itself)
if PARSE_PORT=$PARSE_PORT bash "$PEER_SCRIPT" status 2>/dev/null | grep -q 'parse-server: running'; then
  # running already: reuse it only when it was started with this port and this main.js
  if PARSE_PORT=$PARSE_PORT PARSE_CLOUD=$MAIN_JS bash "$PEER_SCRIPT" start >"$WORK/parse-start.log" 2>&1; then
    log "Parse Server already running at $PARSE_URL with $MAIN_JS (left running afterwards)"
  else
    log "the Parse peer in $PEER_DIR runs with another configuration; stop it first (PEER_DIR=$PEER_DIR PG_PORT=$PG_PORT bash $PEER_SCRIPT stop)"
    tail -3 "$WORK/parse-start.log" >&2
    exit 2
  fi
else
  STARTED_PARSE=1
  log "starting Parse Server on $PARSE_URL with $MAIN_JS"
  PARSE_PORT=$PARSE_PORT PARSE_CLOUD=$MAIN_JS timeout "$START_TIMEOUT" bash "$PEER_SCRIPT" start >"$WORK/parse-start.log" 2>&1 || {
    log "Parse Server did not start:"; tail -20 "$WORK/parse-start.log" >&2; exit 2; }
fi

# --- ferrobase --cloud (a copy of the binary, a fresh data dir, a free port)
cp "$FERROBASE_BIN" "$WORK/ferrobase"
mkdir -p "$WORK/data"
"$WORK/ferrobase" serve --host 127.0.0.1 --port 0 --data-dir "$WORK/data" \
  --app-id "$APP_ID" --master-key "$MASTER_KEY" --cloud "$MAIN_JS" >"$WORK/ferrobase.log" 2>&1 </dev/null &
FB_PID=$!
FB_URL=""
for _ in $(seq 1 300); do   # 30 s (the worker loads main.js before the server listens)
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

# --- the check (bounded)
FERROBASE_URL=$FB_URL PARSE_URL=$PARSE_URL PARSE_APP_ID=$APP_ID PARSE_MASTER_KEY=$MASTER_KEY \
  timeout 300 node "$HERE/differential.mjs" "$@"
RC=$?
[ "$RC" = 124 ] && log "differential.mjs timed out after 300 s"
if [ "$RC" != 0 ] && [ -n "${CLOUD_DIFF_SHOW_LOG:-}" ]; then tail -40 "$WORK/ferrobase.log" >&2; fi

cleanup
FB_PID=""; STARTED_PARSE=0
log "total $(awk -v a="$T0" -v b="$(date +%s.%N)" "BEGIN{printf \"%.1f\", b-a}") s (exit $RC)"
exit "$RC"
