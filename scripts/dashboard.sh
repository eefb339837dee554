#!/usr/bin/env bash
# Parse Dashboard for a running ferrobase, in one command.
#
#   scripts/dashboard.sh [--url URL] [--app-id ID] [--master-key KEY] [--port PORT] [--host HOST]
#                        [--data-dir DIR] [--app-name NAME]
#
# Installs Parse Dashboard (npm `parse-dashboard`, PARSE_DASHBOARD_VERSION, 9.2.0 by default) into
# a cache folder the first time, writes its configuration for this server and starts it in the
# foreground (Ctrl-C stops it), printing the URL to open.
#
# Where the settings come from, first found wins:
#   server URL  --url, FERROBASE_URL,        else http://127.0.0.1:${FERROBASE_PORT:-1337}/parse
#   app id      --app-id, FERROBASE_APP_ID,  else "appId" in <data-dir>/keys.json
#   master key  --master-key, FERROBASE_MASTER_KEY, else "masterKey" in <data-dir>/keys.json
#   data dir    --data-dir, FERROBASE_DATA_DIR, else ./ferrobase-data (ferrobase's default)
#   listen      --host (127.0.0.1) and --port (4040): on 127.0.0.1 Parse Dashboard needs no login.
#               Parse Dashboard refuses remote access over plain HTTP and without configured
#               users: to expose it, run it behind HTTPS with users (see its own README).
# Env: PARSE_DASHBOARD_VERSION, FERROBASE_DASHBOARD_CACHE (default ~/.cache/ferrobase/parse-dashboard).
set -euo pipefail

url=${FERROBASE_URL:-}
app_id=${FERROBASE_APP_ID:-}
master_key=${FERROBASE_MASTER_KEY:-}
data_dir=${FERROBASE_DATA_DIR:-./ferrobase-data}
host=127.0.0.1
port=4040
app_name=ferrobase
version=${PARSE_DASHBOARD_VERSION:-9.2.0}
cache=${FERROBASE_DASHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/parse-dashboard}

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --app-id) app_id=$2; shift 2 ;;
    --master-key) master_key=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --app-name) app_name=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v node >/dev/null && command -v npm >/dev/null \
  || { echo "Parse Dashboard needs Node.js (20.19+, 22.12+ or 24.1+) with npm" >&2; exit 1; }
url=${url:-http://127.0.0.1:${FERROBASE_PORT:-1337}/parse}
url=${url%/}

# The keys ferrobase generated on its first start, when none were given.
if [ -z "$app_id" ] || [ -z "$master_key" ]; then
  keys="$data_dir/keys.json"
  [ -r "$keys" ] || { echo "no app id / master key given and no readable $keys (pass --app-id and --master-key, or --data-dir)" >&2; exit 1; }
  [ -n "$app_id" ] || app_id=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).appId || "")' "$keys")
  [ -n "$master_key" ] || master_key=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).masterKey || "")' "$keys")
fi
[ -n "$app_id" ] && [ -n "$master_key" ] || { echo "the app id or master key is empty" >&2; exit 1; }

# Is the server there, and do the keys work? (A warning only: the dashboard can start first.)
if command -v curl >/dev/null; then
  code=$(curl -s -o /dev/null -w "%{http_code}" -m 5 "$url/serverInfo" \
    -H "X-Parse-Application-Id: $app_id" -H "X-Parse-Master-Key: $master_key" || true)
  case "$code" in
    200) ;;
    000) echo "warning: nothing answers at $url yet (start ferrobase: ferrobase serve)" >&2 ;;
    *) echo "warning: $url/serverInfo answered HTTP $code with these keys" >&2 ;;
  esac
fi

# Install (once per version) into the cache folder.
dir="$cache/$version"
bin="$dir/node_modules/parse-dashboard/bin/parse-dashboard"
if [ ! -f "$bin" ]; then
  echo "installing parse-dashboard@$version into $dir (once)…" >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{"name":"ferrobase-parse-dashboard","private":true}\n' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "parse-dashboard@$version" >&2)
fi

# The configuration: the master key goes in a file readable by the owner only, not on argv.
config=$(mktemp "${TMPDIR:-/tmp}/ferrobase-dashboard.XXXXXX.json")
trap 'rm -f "$config"' EXIT
chmod 600 "$config"
URL="$url" APP_ID="$app_id" MASTER_KEY="$master_key" APP_NAME="$app_name" node -e '
  const e = process.env;
  require("fs").writeFileSync(process.argv[1], JSON.stringify({ apps: [{
    serverURL: e.URL, appId: e.APP_ID, masterKey: e.MASTER_KEY, appName: e.APP_NAME }] }, null, 2));
' "$config"

echo "Parse Dashboard for $url (app id $app_id): open http://$host:$port/" >&2
node "$bin" --config "$config" --host "$host" --port "$port"
