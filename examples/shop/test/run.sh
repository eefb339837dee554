#!/usr/bin/env bash
# The shop demo's browser test: starts the demo exactly as a user does (scripts/demo.sh, on a free
# port on 127.0.0.1 and a fresh data dir), then walks the whole story in Debian Chromium through
# puppeteer-core (examples/shop/test/shop.test.mjs), and stops everything it started.
#
#   bash examples/shop/test/run.sh [extra node --test args]
#
# Installs Debian's chromium, ffmpeg and fonts-dejavu-core with apt-get when missing (root), the
# npm packages with `npm ci` (puppeteer-core downloads no browser). Bounded: the demo must be ready
# in START_TIMEOUT seconds (300 with FERROBASE_BIN, else 1200 as it builds ferrobase; a first run
# also makes the media with ffmpeg), the test in 600.
#
# Env: FERROBASE_BIN (default: scripts/demo.sh builds target/debug/ferrobase), SHOP_TEST_OUTPUT
#      (screenshots; default examples/shop/test/output), START_TIMEOUT.
# Exit code: node --test's (0 = passed), 2 = setup failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHOP=$(dirname "$HERE")
ROOT=$(cd "$SHOP/../.." && pwd)
# (without FERROBASE_BIN the demo builds ferrobase first)
START_TIMEOUT=${START_TIMEOUT:-$([ -n "${FERROBASE_BIN:-}" ] && echo 300 || echo 1200)}
export SHOP_TEST_OUTPUT=${SHOP_TEST_OUTPUT:-$HERE/output}
WORK=$(mktemp -d /tmp/ferrobase-shop-test.XXXXXX)
DEMO_PID=""
log() { echo "[shop-e2e] $*" >&2; }

cleanup() {
  if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    # demo.sh runs in its own process group (setsid): its trap stops ferrobase and the sink.
    kill -TERM "$DEMO_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$DEMO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DEMO_PID" 2>/dev/null && kill -KILL -- "-$DEMO_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium with apt-get"
  { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium; } \
    >"$WORK/apt.log" 2>&1 || { log "apt-get install chromium failed:"; tail -20 "$WORK/apt.log" >&2; exit 2; }
fi
if ! command -v ffmpeg >/dev/null || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
  log "installing ffmpeg and fonts-dejavu-core with apt-get (the seed makes the product media)"
  { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 900 \
      apt-get install -y -q --no-install-recommends ffmpeg fonts-dejavu-core; } >"$WORK/apt-ffmpeg.log" 2>&1 \
    || { log "apt-get install ffmpeg failed:"; tail -20 "$WORK/apt-ffmpeg.log" >&2; exit 2; }
fi
if [ ! -d "$SHOP/node_modules/puppeteer-core" ] || [ "$SHOP/package-lock.json" -nt "$SHOP/node_modules/.package-lock.json" ]; then
  (cd "$SHOP" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) \
    || { log "npm ci failed:"; tail -20 "$WORK/npm.log" >&2; exit 2; }
fi

rm -rf "$SHOP_TEST_OUTPUT"
mkdir -p "$SHOP_TEST_OUTPUT"
if [ -n "${FERROBASE_BIN:-}" ]; then
  # a copy, so that a rebuild during the run does not matter
  cp "$FERROBASE_BIN" "$WORK/ferrobase" || { log "no ferrobase binary at $FERROBASE_BIN"; exit 2; }
  export FERROBASE_BIN="$WORK/ferrobase"
fi
SHOP_PORT=0 SHOP_HOST=127.0.0.1 SHOP_STATE_FILE="$WORK/state.json" SHOP_DATA_DIR="$WORK/data" \
  setsid bash "$ROOT/scripts/demo.sh" >"$WORK/demo.log" 2>&1 </dev/null &
DEMO_PID=$!
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
  [ -s "$WORK/state.json" ] && break
  kill -0 "$DEMO_PID" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$WORK/state.json" ]; then
  log "the demo did not start:"; tail -40 "$WORK/demo.log" >&2
  [ -f "$WORK/data/ferrobase.log" ] && tail -20 "$WORK/data/ferrobase.log" >&2
  exit 2
fi
log "demo ready: $(sed -n 's/.*"url": "\(.*\)".*/\1/p' "$WORK/state.json")"

cd "$SHOP"
SHOP_STATE_FILE="$WORK/state.json" timeout 600 node --test --test-concurrency=1 "$@" test/shop.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  log "demo output (last 30 lines):"; tail -30 "$WORK/demo.log" >&2
  log "ferrobase log (last 40 lines):"; tail -40 "$WORK/data/ferrobase.log" >&2
fi
log "screenshots in $SHOP_TEST_OUTPUT"
exit $rc
