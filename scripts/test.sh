#!/usr/bin/env bash
# The whole test suite, from a clean clone: formatting and lints, the Rust unit, store-conformance
# and HTTP integration tests, then the JavaScript suite that drives a real server through the real
# `parse` npm SDK, then the differential query check against the real Parse Server (when the
# shared peer scripts are beside the checkout). Installs what it needs (npm packages; the peer's
# own script installs PostgreSQL and parse-server) itself. `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
command -v node >/dev/null || { echo "Node.js >= 20.19 is required for the SDK suite"; exit 1; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "S3 test server (moto, in a venv under ~/.cache)"
moto_venv="${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/moto-venv"
if [ ! -x "$moto_venv/bin/moto_server" ]; then
  if command -v python3 >/dev/null && python3 -m venv "$moto_venv" >/dev/null 2>&1 \
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
step "cargo test (unit, store conformance, HTTP integration)"
cargo test --workspace 2>&1 | tee -a "$summary"

step "JavaScript SDK suite (parse npm SDK against the real server)"
if [ ! -d e2e/node_modules/parse ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo build --quiet --bin ferrobase
data=$(mktemp -d)
log="$data/server.log"
cleanup() {
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT
"$root/target/debug/ferrobase" serve --port 0 --data-dir "$data/db" \
  --app-id e2eApp --master-key e2eMasterKey > "$log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^ferrobase listening on //p' "$log" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "server exited"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "server did not start"; exit 1; }
echo "server at $url"
(cd e2e && PARSE_SERVER_URL="$url" PARSE_APP_ID=e2eApp PARSE_MASTER_KEY=e2eMasterKey \
  node --test --test-concurrency=1 tests/) 2>&1 | tee -a "$summary"

step "Differential query check against the real Parse Server (PostgreSQL peer)"
if [ "${FERROBASE_SKIP_DIFFERENTIAL:-0}" = 1 ]; then
  echo "skipped (FERROBASE_SKIP_DIFFERENTIAL=1)"
elif [ -f "$root/../shared/peers/parse-server/start.sh" ]; then
  FERROBASE_BIN="$root/target/debug/ferrobase" bash e2e/differential/run.sh 2>&1 | tee -a "$summary"
else
  echo "skipped: ../shared/peers/parse-server (the Parse Server peer scripts) is not beside this checkout"
fi

passed=$(awk '/test result: ok\./ { for (i = 1; i <= NF; i++) if ($i == "passed;") s += $(i - 1) }
  /^# pass / { s += $3 }
  /^differential: / { s += $2 }
  END { print s + 0 }' "$summary")
rm -f "$summary"
step "all suites passed"
echo "ferrobase: $passed passed, 0 failed"
