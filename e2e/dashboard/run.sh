#!/usr/bin/env bash
# Parse Dashboard, unchanged, against ferrobase in real (Debian) Chromium.
#
#   bash e2e/dashboard/run.sh [extra node --test args]
#
# Installs Debian's chromium with apt if /usr/bin/chromium is missing (needs root, as on the
# project's machines), installs parse-dashboard and puppeteer-core with `npm ci` (no browser
# download), and e2e/node_modules when missing (e2e/cloud/main.js requires lodash.uniqby from it);
# starts a ferrobase copy with `--cloud e2e/cloud/main.js` and a fresh data dir, and Parse Dashboard
# for it, both on 127.0.0.1 with free ports; runs dashboard.test.mjs; stops everything it started.
#
# Env: FERROBASE_BIN (default ../../target/debug/ferrobase; copied first so a rebuild mid-run does
#      not matter), DASHBOARD_OUT (screenshots and logs, default e2e/dashboard/output),
#      START_TIMEOUT (seconds, 30).
# Exit code: node --test's (0 = passed), 2 = setup failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FERROBASE_BIN=${FERROBASE_BIN:-$ROOT/target/debug/ferrobase}
START_TIMEOUT=${START_TIMEOUT:-30}
OUT=${DASHBOARD_OUT:-$HERE/output}
APP_ID=dashApp
MASTER_KEY=dashMasterKey-$RANDOM$RANDOM

T0=$(date +%s.%N)
WORK=$(mktemp -d /tmp/ferrobase-dashboard.XXXXXX)
FB_PID=""
DASH_PID=""

log() { echo "[dashboard-e2e] $*" >&2; }
elapsed() { echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1 - $2}'; }

stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}
cleanup() {
  stop_pid "$DASH_PID"
  stop_pid "$FB_PID"
  mkdir -p "$OUT"
  cp "$WORK/ferrobase.log" "$WORK/dashboard.log" "$OUT/" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$FERROBASE_BIN" ] || { log "no ferrobase binary at $FERROBASE_BIN"; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null || { log "node and npm are required"; exit 2; }

# --- Chromium from Debian (no browser download of puppeteer's own) ---
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium with apt"
  t=$(date +%s)
  { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium; } \
    >"$WORK/apt.log" 2>&1 || { log "apt-get install chromium failed:"; tail -20 "$WORK/apt.log" >&2; exit 2; }
  log "chromium installed in $(( $(date +%s) - t )) s"
fi

# --- parse-dashboard + puppeteer-core, pinned by package-lock.json ---
if [ ! -d "$HERE/node_modules/parse-dashboard" ] || [ ! -d "$HERE/node_modules/puppeteer-core" ] \
  || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  if ! (cd "$HERE" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1); then
    log "npm ci failed:"; tail -20 "$WORK/npm.log" >&2; exit 2
  fi
fi
if [ ! -d "$ROOT/e2e/node_modules/lodash.uniqby" ]; then
  (cd "$ROOT/e2e" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm-e2e.log" 2>&1) \
    || { log "npm ci in e2e failed:"; tail -20 "$WORK/npm-e2e.log" >&2; exit 2; }
fi

# --- ferrobase --cloud (a copy of the binary, a fresh data dir, a free port on 127.0.0.1) ---
cp "$FERROBASE_BIN" "$WORK/ferrobase"
mkdir -p "$WORK/data"
"$WORK/ferrobase" serve --host 127.0.0.1 --port 0 --data-dir "$WORK/data" \
  --app-id "$APP_ID" --master-key "$MASTER_KEY" --cloud "$ROOT/e2e/cloud/main.js" \
  >"$WORK/ferrobase.log" 2>&1 </dev/null &
FB_PID=$!
FB_URL=""
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
  FB_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/parse' "$WORK/ferrobase.log" 2>/dev/null | head -1)
  [ -n "$FB_URL" ] && break
  kill -0 "$FB_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$FB_URL" ] || { log "ferrobase did not start:"; tail -20 "$WORK/ferrobase.log" >&2; exit 2; }
for _ in $(seq 1 100); do
  curl -sf -m 2 "$FB_URL/health" >/dev/null 2>&1 && break
  sleep 0.1
done

# --- Parse Dashboard on a free port; its check for a newer version on npm goes nowhere ---
DASH_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat >"$WORK/dashboard.json" <<JSON
{"apps":[{"serverURL":"$FB_URL","appId":"$APP_ID","masterKey":"$MASTER_KEY","appName":"ferrobase-e2e"}]}
JSON
npm_config_registry=http://127.0.0.1:9/ node "$HERE/node_modules/parse-dashboard/bin/parse-dashboard" \
  --config "$WORK/dashboard.json" --host 127.0.0.1 --port "$DASH_PORT" >"$WORK/dashboard.log" 2>&1 </dev/null &
DASH_PID=$!
DASH_URL=http://127.0.0.1:$DASH_PORT
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
  curl -sf -m 2 "$DASH_URL/parse-dashboard-config.json" >/dev/null 2>&1 && break
  kill -0 "$DASH_PID" 2>/dev/null || break
  sleep 0.1
done
curl -sf -m 2 "$DASH_URL/parse-dashboard-config.json" >/dev/null 2>&1 \
  || { log "Parse Dashboard did not start:"; tail -20 "$WORK/dashboard.log" >&2; exit 2; }
log "ferrobase $FB_URL (pid $FB_PID), Parse Dashboard $DASH_URL (pid $DASH_PID); setup took $(elapsed) s"

# --- the test (node --test kills a test after its own timeout; `timeout` bounds the whole run) ---
mkdir -p "$OUT"
rm -f "$OUT"/*.png
cd "$HERE"
PARSE_SERVER_URL="$FB_URL" PARSE_APP_ID="$APP_ID" PARSE_MASTER_KEY="$MASTER_KEY" DASHBOARD_URL="$DASH_URL" \
  DASHBOARD_OUT="$OUT" timeout 900 node --test --test-concurrency=1 "$@" dashboard.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  log "ferrobase log (last 30 lines):"; tail -30 "$WORK/ferrobase.log" >&2
fi
log "done in $(elapsed) s (exit $rc); screenshots in $OUT"
exit $rc
