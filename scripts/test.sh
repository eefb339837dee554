#!/usr/bin/env bash
# The whole test suite, from a clean clone: formatting and lints, the Rust unit, store-conformance
# and HTTP integration tests, the MongoDB store on FerretDB, the JavaScript suite that drives a real
# server through the real `parse` npm SDK, three browser checks (a <video> served by ferrobase, the
# shop demo end to end, Parse Dashboard), then the differential query check and the
# interoperability check against the real Parse Server 9.10. `.ci/run` calls this script.
#
# Needs: Rust (cargo, rustfmt, clippy); Node.js 20.19+, 22.13+ or 24.11+ with npm (parse-server
# 9.10's range); Go (builds FerretDB, unless ~/go/bin/ferretdb is there); python3 with venv (the S3
# test server, moto); apt-get as root, for what is not installed yet: PostgreSQL + PostGIS (the
# Parse peer), redis-server, chromium, ffmpeg (the shop demo's media). It installs the rest itself,
# outside the checkout: npm packages (e2e/node_modules, examples/shop/node_modules), FerretDB
# (~/go/bin), moto and parse-server (~/.cache/ferrobase).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

# What this machine lacks, one line each, then stop.
missing=()
command -v cargo >/dev/null || missing+=("cargo (Rust) is required: https://rustup.rs")
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=("Node.js 20.19+, 22.13+ or 24.11+ with npm is required (the SDK suite, parse-server 9.10)")
elif ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 13) || (a === 24 && b >= 11) ? 0 : 1)'; then
  missing+=("Node.js $(node --version) is outside parse-server 9.10's range: use 20.19+, 22.13+ or 24.11+")
fi
command -v go >/dev/null || [ -x "${GOBIN:-$HOME/go/bin}/ferretdb" ] \
  || missing+=("Go is required to build FerretDB for the MongoDB tests: https://go.dev/dl/")
command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null \
  || missing+=("python3 with venv is required for the S3 test server (Debian: apt-get install python3-venv)")
need_apt=()
[ -n "$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null)" ] || need_apt+=(PostgreSQL)
command -v redis-server >/dev/null || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
if [ ${#need_apt[@]} -gt 0 ] && { ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; }; then
  missing+=("apt-get as root is required to install ${need_apt[*]} (or install them yourself)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf 'missing: %s\n' "${missing[@]}" >&2
  exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "S3 test server (moto, in a venv under ~/.cache)"
moto_venv="${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/moto-venv"
if [ ! -x "$moto_venv/bin/moto_server" ]; then
  if python3 -m venv "$moto_venv" >/dev/null 2>&1 \
    && timeout 600 "$moto_venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'; then
    echo "installed moto into $moto_venv"
  else
    echo "WARNING: could not install moto (python3 -m venv + pip install 'moto[server]'): the S3 tests will be skipped"
  fi
fi
if [ -x "$moto_venv/bin/moto_server" ]; then
  export FERROBASE_MOTO_SERVER="$moto_venv/bin/moto_server"
fi

summary=$(mktemp)
# The npm packages of the e2e suite come first: the Cloud Code HTTP tests load e2e/cloud/main.js,
# which requires modules from e2e/node_modules (as an app's main.js requires its own).
step "npm packages for the SDK suite and the Cloud Code tests (e2e/)"
if [ ! -d e2e/node_modules/parse ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

step "cargo test (unit, store conformance, HTTP integration)"
cargo test --workspace 2>&1 | tee -a "$summary"

step "MongoDB store on FerretDB v1.24 (store conformance + the HTTP suite again)"
# FerretDB v1 lacks transactions, $text, geo operators and nested arrays: the checks that need
# them print "SKIPPED on FerretDB v1: …" (list in crates/ferrobase-mongo/README.md).
PEERS=ferretdb NICE_LEVEL=0 scripts/install-go-peers.sh >/dev/null
ferret_port="${FERRETDB_TEST_PORT:-27027}"
ferret_dir=$(mktemp -d)
stop_ferret() { FERRETDB_PORT="$ferret_port" FERRETDB_DIR="$ferret_dir" scripts/start-ferretdb.sh stop >/dev/null 2>&1 || true; rm -rf "$ferret_dir"; }
trap stop_ferret EXIT
FERRETDB_PORT="$ferret_port" FERRETDB_DIR="$ferret_dir" scripts/start-ferretdb.sh start >/dev/null
mongo_uri="mongodb://127.0.0.1:$ferret_port/"
FERROBASE_TEST_MONGODB_URI="$mongo_uri" FERROBASE_TEST_DATABASE_URI="$mongo_uri" FERROBASE_TEST_FERRETDB=1 \
  cargo test -p ferrobase-mongo -p ferrobase-files -p ferrobase 2>&1 | tee -a "$summary"
stop_ferret
trap - EXIT
echo "Skipped on FerretDB v1 (reasons in crates/ferrobase-mongo/README.md): conformance 'transactions',"
echo "  batch::transactional_batch_is_all_or_nothing, geo_text::full_text_search_with_scores,"
echo "  geo_text::polygon_fields_intersect_points, the nested-array element of objects::every_parse_type_round_trips,"
echo "  queries::schema_indexes_serve_where_and_order (reads SQLite's plan text)"

step "JavaScript SDK suite (parse npm SDK against the real server)"
if [ ! -d e2e/node_modules/parse ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo build --quiet --bin ferrobase
data=$(mktemp -d)
log="$data/server.log"
cleanup() {
  for pid in "${server_pid:-}" "${server_b_pid:-}" "${redis_pid:-}"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$data"
}
trap cleanup EXIT
# LiveQuery fan-out across two nodes needs Redis: install Debian's redis-server when missing.
if ! command -v redis-server >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  step "installing redis-server (LiveQuery two-node test)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
    || echo "apt-get could not install redis-server"
fi
redis_args=()
if command -v redis-server >/dev/null; then
  redis_port=$((20000 + RANDOM % 20000))
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    > "$data/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
  done
  redis_args=(--live-query-redis-url "redis://127.0.0.1:$redis_port")
else
  echo "redis-server is not available (and apt-get could not install it): the two-node LiveQuery test is skipped"
fi
# start_server <log> <extra args…>: starts a server on the shared store, prints its URL.
start_server() {
  local log=$1; shift
  "$root/target/debug/ferrobase" serve --port 0 --data-dir "$data/db" \
    --app-id e2eApp --master-key e2eMasterKey --auth-config "$root/e2e/auth/auth-config.json" \
    "$@" > "$log" 2>&1 &
  echo $! > "$log.pid"
}
wait_url() {
  local log=$1 pid url=""
  pid=$(cat "$log.pid")
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^ferrobase listening on //p' "$log" | head -n1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "server exited" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log" >&2; echo "server did not start" >&2; return 1; }
  echo "$url"
}
start_server "$log" "${redis_args[@]}"
server_pid=$(cat "$log.pid")
url=$(wait_url "$log")
echo "server at $url"
url_b=""
if [ -n "${redis_pid:-}" ]; then
  start_server "$data/server-b.log" "${redis_args[@]}"
  server_b_pid=$(cat "$data/server-b.log.pid")
  url_b=$(wait_url "$data/server-b.log")
  for _ in $(seq 1 50); do
    grep -q "fan-out through Redis is on" "$data/server-b.log" && break
    sleep 0.1
  done
  echo "second node (LiveQuery through Redis) at $url_b"
fi
(cd e2e && PARSE_SERVER_URL="$url" PARSE_SERVER_URL_B="$url_b" PARSE_APP_ID=e2eApp E2E_AUTH_PROVIDER=1 \
  PARSE_MASTER_KEY=e2eMasterKey node --test --test-concurrency=1 tests/) 2>&1 | tee -a "$summary"

step "Browser: a <video> element plays and seeks a file served by ferrobase (Debian Chromium)"
FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/browser/run.sh 2>&1 | tee -a "$summary"

step "Browser: the shop demo end to end (scripts/demo.sh + examples/shop, Debian Chromium via puppeteer-core)"
# installs ffmpeg (apt, the seed makes the product media with it) and the shop's npm packages
FERROBASE_BIN="$root/target/debug/ferrobase" timeout 1500 bash examples/shop/test/run.sh 2>&1 | tee -a "$summary"

step "Browser: Parse Dashboard (npm parse-dashboard, unchanged) against ferrobase (Debian Chromium)"
# installs parse-dashboard + puppeteer-core (npm ci in e2e/dashboard, no browser download);
# screenshots and logs stay in e2e/dashboard/output (DASHBOARD_OUT)
FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/dashboard/run.sh 2>&1 | tee -a "$summary"

step "Differential query check against the real Parse Server (scripts/peers/parse-server.sh: PostgreSQL)"
if [ "${FERROBASE_SKIP_DIFFERENTIAL:-0}" = 1 ]; then
  echo "skipped (FERROBASE_SKIP_DIFFERENTIAL=1)"
else
  # installs PostgreSQL (apt) and parse-server 9.10 (npm, ~/.cache) on first use
  timeout 1200 bash scripts/peers/parse-server.sh install >/dev/null
  FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/differential/run.sh 2>&1 | tee -a "$summary"
fi

step "Differential Cloud Code check: e2e/cloud/main.js on ferrobase --cloud and on the real Parse Server"
if [ "${FERROBASE_SKIP_DIFFERENTIAL:-0}" = 1 ]; then
  echo "skipped (FERROBASE_SKIP_DIFFERENTIAL=1)"
else
  FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/cloud/run.sh 2>&1 | tee -a "$summary"
fi

step "Interoperability with the real Parse Server on one MongoDB-wire database (FerretDB)"
if [ "${FERROBASE_SKIP_DIFFERENTIAL:-0}" = 1 ]; then
  echo "skipped (FERROBASE_SKIP_DIFFERENTIAL=1)"
else
  FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/interop/run.sh 2>&1 | tee -a "$summary"
fi

passed=$(awk '/test result: ok\./ { for (i = 1; i <= NF; i++) if ($i == "passed;") s += $(i - 1) }
  /^# pass / { s += $3 }
  /^differential: / { s += $2 }
  /^cloud-differential: / { s += $2 }
  /^interop: / { s += $2 }
  END { print s + 0 }' "$summary")
rm -f "$summary"
step "all suites passed"
echo "ferrobase: $passed passed, 0 failed"
