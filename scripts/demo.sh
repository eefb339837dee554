#!/usr/bin/env bash
# The shop demo in one command (examples/shop/): builds ferrobase if needed, starts it on a fresh
# data dir with the shop's Cloud Code and front end (--cloud, --public-dir) and a local SMTP sink
# for password-reset emails, seeds a catalogue (generated images and two generated videos, made
# with ffmpeg: nothing is downloaded), creates a `Staff` role and a staff user, and prints the
# URL and the staff login. Ctrl-C stops everything and removes the data dir.
#
#   scripts/demo.sh
#
# Env: SHOP_PORT (1337; 0 picks a free port), SHOP_HOST (127.0.0.1), SHOP_DATA_DIR (default: a
# fresh temporary folder, removed on exit), SHOP_STAFF_PASSWORD (default: generated),
# SHOP_MEDIA_DIR (where the generated media are cached: ~/.cache/ferrobase/shop-media),
# FERROBASE_BIN (default: `cargo build` then target/debug/ferrobase), SHOP_STATE_FILE (when set,
# a JSON file with the URL, keys and staff login is written there once the shop is ready: the
# browser test reads it).
#
# Needs: cargo (unless FERROBASE_BIN), Node.js 20.19+ with npm, ffmpeg (installed with apt-get
# when missing and running as root, with the fonts-dejavu-core font for the product names).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shop="$root/examples/shop"

HOST=${SHOP_HOST:-127.0.0.1}
PORT=${SHOP_PORT:-1337}
APP_ID=shop
log() { echo "[demo] $*" >&2; }

command -v node >/dev/null && command -v npm >/dev/null || { log "Node.js 20.19+ with npm is required"; exit 2; }

# --- ffmpeg (Debian's), for the generated product images and videos ---
if ! command -v ffmpeg >/dev/null || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing ffmpeg and fonts-dejavu-core with apt-get (once)"
    { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get install -y -q --no-install-recommends ffmpeg fonts-dejavu-core; } >/tmp/ferrobase-demo-apt.log 2>&1 \
      || { log "apt-get install ffmpeg failed:"; tail -20 /tmp/ferrobase-demo-apt.log >&2; exit 2; }
  elif ! command -v ffmpeg >/dev/null; then
    log "ffmpeg is required (Debian/Ubuntu: apt-get install ffmpeg fonts-dejavu-core)"; exit 2
  fi
fi

# --- ferrobase ---
if [ -z "${FERROBASE_BIN:-}" ]; then
  command -v cargo >/dev/null || { log "cargo (Rust) is required to build ferrobase: https://rustup.rs"; exit 2; }
  log "building ferrobase (cargo build; quick when up to date)"
  cargo build --quiet --bin ferrobase
  FERROBASE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/ferrobase"
fi
[ -x "$FERROBASE_BIN" ] || { log "no ferrobase binary at $FERROBASE_BIN"; exit 2; }

# --- the parse SDK (npm) for the browser and for Cloud Code ---
if [ ! -f "$shop/node_modules/parse/dist/parse.min.js" ] || [ "$shop/package-lock.json" -nt "$shop/node_modules/.package-lock.json" ]; then
  log "installing the shop's npm packages (npm ci)"
  (cd "$shop" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$shop/public/vendor"
cp "$shop/node_modules/parse/dist/parse.min.js" "$shop/public/vendor/parse.min.js"

# --- a fresh data dir ---
if [ -n "${SHOP_DATA_DIR:-}" ]; then
  data=$SHOP_DATA_DIR
  keep_data=1
  mkdir -p "$data"
  [ -z "$(ls -A "$data")" ] || { log "SHOP_DATA_DIR $data is not empty (the demo starts fresh)"; exit 2; }
else
  data=$(mktemp -d /tmp/ferrobase-shop.XXXXXX)
  keep_data=0
fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  [ "$keep_data" = 1 ] || rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rand() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
MASTER_KEY=$(rand 16)
STAFF_USER=staff
STAFF_PASSWORD=${SHOP_STAFF_PASSWORD:-staff-$(rand 4)}

# wait_for <file> <sed expression> <pid> <what>: prints the first match once it appears.
wait_for() {
  local out=""
  for _ in $(seq 1 300); do
    out=$(sed -n "$2" "$1" 2>/dev/null | head -n1)
    [ -n "$out" ] && { echo "$out"; return 0; }
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  log "$4 did not start:"; tail -30 "$1" >&2; return 1
}

# --- the SMTP sink (password-reset emails land in $data/mailbox) ---
node "$shop/seed/smtp-sink.mjs" "$data/mailbox" 0 >"$data/smtp.log" 2>&1 &
pids+=($!)
smtp_url=$(wait_for "$data/smtp.log" 's/^smtp-sink listening on \(smtp:[^ ]*\).*/\1/p' "${pids[-1]}" "the SMTP sink")

# --- ferrobase with the shop's Cloud Code and front end ---
"$FERROBASE_BIN" serve --host "$HOST" --port "$PORT" --data-dir "$data/db" \
  --app-id "$APP_ID" --master-key "$MASTER_KEY" --app-name "Ferro Shop" \
  --cloud "$shop/cloud/main.js" --public-dir "$shop/public" \
  --smtp-url "$smtp_url" --email-from "Ferro Shop <shop@localhost>" \
  >"$data/ferrobase.log" 2>&1 </dev/null &
pids+=($!)
fb_pid=${pids[-1]}
api=$(wait_for "$data/ferrobase.log" 's/^ferrobase listening on \(http[^ ]*\).*/\1/p' "$fb_pid" "ferrobase")
origin=${api%/parse}
for _ in $(seq 1 100); do
  curl -sf -m 2 "$api/health" >/dev/null 2>&1 && break
  sleep 0.1
done

# --- the catalogue, the Staff role and the staff user ---
log "seeding the catalogue (ffmpeg makes the images and videos)"
seeded=$(SHOP_SERVER_URL="$api" SHOP_APP_ID="$APP_ID" SHOP_MASTER_KEY="$MASTER_KEY" \
  SHOP_MEDIA_DIR="${SHOP_MEDIA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/shop-media}" SHOP_STAFF_USER="$STAFF_USER" SHOP_STAFF_PASSWORD="$STAFF_PASSWORD" \
  timeout 300 node "$shop/seed/seed.mjs") || { log "seeding failed; ferrobase log:"; tail -30 "$data/ferrobase.log" >&2; exit 1; }
log "seeded: $seeded"

if [ -n "${SHOP_STATE_FILE:-}" ]; then
  node -e 'const [f, ...v] = process.argv.slice(1);
    const [url, api, appId, masterKey, user, password, mailbox, dataDir, log] = v;
    require("fs").writeFileSync(f, JSON.stringify({ url, api, appId, masterKey,
      staff: { username: user, password }, mailbox, dataDir, log }, null, 2));' \
    "$SHOP_STATE_FILE" "$origin/" "$api" "$APP_ID" "$MASTER_KEY" "$STAFF_USER" "$STAFF_PASSWORD" \
    "$data/mailbox" "$data" "$data/ferrobase.log"
fi

cat <<EOF

  Ferro Shop is running:  $origin/

  staff login:   $STAFF_USER / $STAFF_PASSWORD   (the Staff page lists every order)
  Parse API:     $api   (app id $APP_ID, master key $MASTER_KEY)
  emails:        password-reset links are printed here and kept in $data/mailbox
  data dir:      $data$( [ "$keep_data" = 1 ] || echo " (removed when the demo stops)")

  Ctrl-C stops the shop.

EOF
# Stream the emails' links as they arrive, until ferrobase stops.
tail -n 0 -f "$data/smtp.log" --pid="$fb_pid" &
pids+=($!)
wait "$fb_pid"
