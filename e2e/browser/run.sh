#!/usr/bin/env bash
# Browser e2e: a <video> element in real (Debian) Chromium plays and seeks a file served by ferrobase.
#
#   bash e2e/browser/run.sh [extra node --test args]
#
# Installs Debian's chromium with apt if /usr/bin/chromium is missing (needs root, as on the
# project's machines), installs playwright-core with `npm ci` (no browser download), starts a
# ferrobase copy on 127.0.0.1 with a fresh data dir and a free port, runs video.test.mjs, and stops
# everything it started.
#
# Env: FERROBASE_BIN (default ../../target/debug/ferrobase; copied first so a rebuild mid-run does
#      not matter), VIDEO_SCREENSHOT (/tmp/video-seek.png), START_TIMEOUT (seconds, 30).
# Exit code: node --test's (0 = passed), 2 = setup failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
FERROBASE_BIN=${FERROBASE_BIN:-$HERE/../../target/debug/ferrobase}
START_TIMEOUT=${START_TIMEOUT:-30}
APP_ID=videoApp
MASTER_KEY=videoMasterKey-$RANDOM$RANDOM

T0=$(date +%s.%N)
WORK=$(mktemp -d /tmp/ferrobase-browser.XXXXXX)
FB_PID=""

log() { echo "[browser-e2e] $*" >&2; }
elapsed() { echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1 - $2}'; }

cleanup() {
  if [ -n "$FB_PID" ] && kill -0 "$FB_PID" 2>/dev/null; then
    kill "$FB_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$FB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$FB_PID" 2>/dev/null && kill -9 "$FB_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$FERROBASE_BIN" ] || { log "no ferrobase binary at $FERROBASE_BIN"; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null || { log "node and npm are required"; exit 2; }

# --- Chromium from Debian (never a browser download of Playwright's own) ---
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium with apt"
  t=$(date +%s)
  { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium; } \
    >"$WORK/apt.log" 2>&1 || { log "apt-get install chromium failed:"; tail -20 "$WORK/apt.log" >&2; exit 2; }
  log "chromium installed in $(( $(date +%s) - t )) s"
fi

# --- playwright-core, pinned by package-lock.json ---
if ! (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1); then
  log "npm ci failed:"; tail -20 "$WORK/npm.log" >&2; exit 2
fi

# --- ferrobase (a copy of the binary, a fresh data dir, a free port on 127.0.0.1) ---
cp "$FERROBASE_BIN" "$WORK/ferrobase"
mkdir -p "$WORK/data"
"$WORK/ferrobase" serve --host 127.0.0.1 --port 0 --data-dir "$WORK/data" \
  --app-id "$APP_ID" --master-key "$MASTER_KEY" >"$WORK/ferrobase.log" 2>&1 </dev/null &
FB_PID=$!
FB_URL=""
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
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
log "ferrobase $FB_URL (pid $FB_PID); setup took $(elapsed) s"

# --- the test (node --test kills a test after its own timeout; `timeout` bounds the whole run) ---
cd "$HERE"
PARSE_SERVER_URL="$FB_URL" PARSE_APP_ID="$APP_ID" PARSE_MASTER_KEY="$MASTER_KEY" \
  timeout 600 node --test --test-concurrency=1 "$@" video.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  log "ferrobase log (last 30 lines):"; tail -30 "$WORK/ferrobase.log" >&2
fi
log "done in $(elapsed) s (exit $rc)"
exit $rc
