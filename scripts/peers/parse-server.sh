#!/usr/bin/env bash
# The real Parse Server 9.10, on a throw-away PostgreSQL cluster, as a reference peer for the
# differential check, the interop check and the benchmarks. Everything listens on 127.0.0.1.
#
#   scripts/peers/parse-server.sh [start]   install what is missing, start PostgreSQL and Parse Server,
#                                           wait for /parse/health, print the base URL on stdout
#   scripts/peers/parse-server.sh stop      stop Parse Server (PID file) and the cluster (pg_ctl)
#   scripts/peers/parse-server.sh status    one line each; exit 0 only if both are running
#   scripts/peers/parse-server.sh install   apt + npm only; print the npm project dir (holds node_modules)
#   scripts/peers/parse-server.sh install-npm   the npm packages only (Parse on MongoDB needs no PostgreSQL)
#   scripts/peers/parse-server.sh start-db  install, start the cluster only; print the database URI
#   scripts/peers/parse-server.sh config    write RUN_DIR/config.json (as start would); print its path
#   scripts/peers/parse-server.sh env       the paths below as shell assignments (for eval)
#
# Installs (idempotent, under a lock): Debian's postgresql, postgresql-client, PostGIS (optional: only
# geo queries need it) and curl with apt-get (root only; `apt-get update` once, only when something is
# missing), and the npm packages parse-server, @parse/fs-files-adapter and router (pinned, see below)
# into PEER_CACHE_DIR, which is outside the repository and shared by every run.
#
# Env: PEER_CACHE_DIR (${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/peers/parse-server), PEER_DIR (run-time
#   state: /tmp/ferrobase-peers/parse-server), PG_PORT (55432), PARSE_PORT (1337), PARSE_APP_ID
#   (benchApp), PARSE_MASTER_KEY (benchMasterKey), PARSE_CLOUD (a Cloud Code file, parse-server's
#   `cloud` option), PARSE_CLUSTER (N = parse-server's cluster mode with N workers; unset = one process),
#   PARSE_VERSION (9.10.0), FS_ADAPTER_VERSION (3.0.0), ROUTER_VERSION (2.2.0), PARSE_START_TIMEOUT
#   (s to wait for PostgreSQL and for /parse/health, 60), INSTALL_TIMEOUT (s for each apt-get / npm step, 900).
#
# Layout: PEER_CACHE_DIR/{package.json,node_modules}; PEER_DIR/pg/data (the cluster; initdb and the server
# run as the `postgres` OS user when started as root: PostgreSQL refuses root), PEER_DIR/pg (socket dir,
# pg.log); PEER_DIR/run (config.json, parse.pid, server.log, logs/, uploaded files/).
# Database: role and database `parse` (password `parse`, scram-sha-256 over TCP), PostGIS when available.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
PEER_CACHE_DIR=${PEER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrobase/peers/parse-server}
PEER_DIR=${PEER_DIR:-/tmp/ferrobase-peers/parse-server}
PG_PORT=${PG_PORT:-55432}
PARSE_PORT=${PARSE_PORT:-1337}
APP_ID=${PARSE_APP_ID:-benchApp}
MASTER_KEY=${PARSE_MASTER_KEY:-benchMasterKey}
PARSE_VERSION=${PARSE_VERSION:-9.10.0}
FS_ADAPTER_VERSION=${FS_ADAPTER_VERSION:-3.0.0}
# parse-server 9.10.0 loads express's router through `require('router/lib/layer')` and reads
# `layer.params` after `layer.match()`; router 2.3.0 stopped setting it, which turns every
# POST /parse/batch into HTTP 500 ("Cannot convert undefined or null to object"). Pin 2.2.0.
ROUTER_VERSION=${ROUTER_VERSION:-2.2.0}
PARSE_START_TIMEOUT=${PARSE_START_TIMEOUT:-60}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}
DB_NAME=parse DB_USER=parse DB_PASS=parse

PG_DIR=$PEER_DIR/pg
PG_DATA=$PG_DIR/data
RUN_DIR=$PEER_DIR/run
PID_FILE=$RUN_DIR/parse.pid
CONFIG=$RUN_DIR/config.json
PARSE_URL=http://127.0.0.1:$PARSE_PORT/parse
DATABASE_URI=postgres://$DB_USER:$DB_PASS@127.0.0.1:$PG_PORT/$DB_NAME
ENTRY=$PEER_CACHE_DIR/node_modules/parse-server/bin/parse-server

log() { echo "[parse-peer] $*" >&2; }
die() { echo "[parse-peer] ERROR: $*" >&2; exit 1; }

for v in PG_PORT PARSE_PORT PARSE_START_TIMEOUT INSTALL_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[ -z "${PARSE_CLUSTER:-}" ] || [[ $PARSE_CLUSTER =~ ^[0-9]+$ ]] || die "PARSE_CLUSTER must be a whole number"
case $PEER_DIR in /*) ;; *) die "PEER_DIR must be an absolute path (got '$PEER_DIR')" ;; esac
[[ $PEER_DIR =~ ^[A-Za-z0-9_./-]+$ ]] || die "PEER_DIR may hold only letters, digits and _ . / - (it goes into pg_ctl options)"

# ---------------------------------------------------------------- helpers
pg_bindir() { # newest installed server, empty if none
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
  return 0
}
as_pg() { # PostgreSQL refuses to run as root: run its tools as the `postgres` OS user then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_running() {
  local b; b=$(pg_bindir)
  [ -n "$b" ] && [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$b/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}
parse_pid() { # PID of our running parse-server, empty if none (a recycled PID is not ours)
  local pid
  [ -f "$PID_FILE" ] || return 0
  pid=$(tr -dc 0-9 <"$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q parse \
    && echo "$pid"
  return 0
}
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres "$@"; }

node_ok() { # parse-server 9.10 supports node >=20.19 <21, >=22.13 <23, >=24.11 <25
  command -v node >/dev/null || die "node is required (20.19+, 22.13+ or 24.11+)"
  node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    const ok = (a === 20 && b >= 19) || (a === 22 && b >= 13) || (a === 24 && b >= 11);
    process.exit(ok ? 0 : 1);' \
    || die "parse-server $PARSE_VERSION needs node 20.19+, 22.13+ or 24.11+ (this is $(node --version))"
  command -v npm >/dev/null || die "npm is required (it comes with node)"
}

APT_UPDATED=0
apt_install() { # apt_install PKG...: apt-get update once, then install
  command -v apt-get >/dev/null || die "apt-get is needed to install $* (or install them yourself)"
  [ "$(id -u)" = 0 ] || die "installing $* needs root (apt-get)"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    timeout "$INSTALL_TIMEOUT" apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

npm_installed() { # npm_installed PKG: version in PEER_CACHE_DIR, empty if missing
  node -p "try { require('$PEER_CACHE_DIR/node_modules/$1/package.json').version } catch (e) { '' }"
}

do_install() {
  local pkgs=() b maj
  b=$(pg_bindir)
  [ -n "$b" ] || pkgs+=(postgresql)
  command -v psql >/dev/null || pkgs+=(postgresql-client)
  command -v curl >/dev/null || pkgs+=(curl)
  if [ -z "$b" ] && [ "$(id -u)" = 0 ] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    # Debian's package would create and start a system cluster on :5432; this script makes its own
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
  fi
  [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}" || die "apt-get install ${pkgs[*]} failed"
  b=$(pg_bindir)
  [ -n "$b" ] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin after installing"
  maj=$(basename "$(dirname "$b")")
  if ! dpkg -s "postgresql-$maj-postgis-3" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install "postgresql-$maj-postgis-3" || log "PostGIS is not installable: geo queries will fail, the rest works"
  fi
  do_install_npm
}

do_install_npm() {
  node_ok
  mkdir -p "$PEER_CACHE_DIR"
  # one installer at a time (bounded): concurrent runs share PEER_CACHE_DIR
  exec 8>"$PEER_CACHE_DIR.lock"
  flock -w "$INSTALL_TIMEOUT" 8 || die "another install holds $PEER_CACHE_DIR.lock for more than $INSTALL_TIMEOUT s"
  if [ "$(npm_installed parse-server)" != "$PARSE_VERSION" ] || [ "$(npm_installed router)" != "$ROUTER_VERSION" ] \
    || [ "$(npm_installed @parse/fs-files-adapter)" != "$FS_ADAPTER_VERSION" ]; then
    log "npm install parse-server@$PARSE_VERSION @parse/fs-files-adapter@$FS_ADAPTER_VERSION router@$ROUTER_VERSION into $PEER_CACHE_DIR"
    # router as a direct dependency (hoisted to the top, where parse-server requires it) and as an
    # override (so express gets the same one)
    cat >"$PEER_CACHE_DIR/package.json" <<EOF
{
  "name": "ferrobase-parse-peer",
  "private": true,
  "description": "written by scripts/peers/parse-server.sh",
  "dependencies": {
    "parse-server": "$PARSE_VERSION",
    "@parse/fs-files-adapter": "$FS_ADAPTER_VERSION",
    "router": "$ROUTER_VERSION"
  },
  "overrides": { "router": "$ROUTER_VERSION" }
}
EOF
    (cd "$PEER_CACHE_DIR" && timeout "$INSTALL_TIMEOUT" npm install --no-audit --no-fund --loglevel=error >/dev/null) \
      || die "npm install in $PEER_CACHE_DIR failed (network? see the npm output above)"
    [ "$(npm_installed parse-server)" = "$PARSE_VERSION" ] || die "npm did not install parse-server $PARSE_VERSION"
  fi
  exec 8>&-
}

do_start_db() {
  do_install
  local b; b=$(pg_bindir)
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initdb $PG_DATA"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
    chmod 700 "$PG_DIR"
    as_pg test -w "$PG_DIR" || die "$PG_DIR is not writable by the postgres OS user (is a parent dir closed to it?)"
    as_pg "$b/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
      || { tail -n 20 "$PG_DIR/initdb.log" >&2; die "initdb failed (above: the end of its log)"; }
    # loopback only: TCP with a password, the socket (in PG_DIR, mode 700) trusted
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$PG_DATA/pg_hba.conf"
    printf '\n# scripts/peers/parse-server.sh\nmax_connections = 200\nshared_buffers = 256MB\n' >>"$PG_DATA/postgresql.conf"
  fi
  if ! pg_running; then
    log "starting PostgreSQL $(basename "$(dirname "$b")") on 127.0.0.1:$PG_PORT ($PG_DATA)"
    as_pg "$b/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/pg.log" -w -t "$PARSE_START_TIMEOUT" \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR" start >/dev/null \
      || { tail -n 20 "$PG_DIR/pg.log" >&2; die "PostgreSQL did not start within $PARSE_START_TIMEOUT s"; }
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASS'" >/dev/null
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null
  fi
  psql_admin -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null 2>&1 \
    || log "no PostGIS extension: geo queries will fail, the rest works"
}

write_config() { # write_config FILE: parse-server's config (JSON written by node: escaping is right)
  local cloud=""
  if [ -n "${PARSE_CLOUD:-}" ]; then
    [ -f "$PARSE_CLOUD" ] || die "PARSE_CLOUD=$PARSE_CLOUD is not a file"
    cloud=$(cd "$(dirname "$PARSE_CLOUD")" && pwd)/$(basename "$PARSE_CLOUD")
  fi
  mkdir -p "$RUN_DIR"
  APP_ID=$APP_ID MASTER_KEY=$MASTER_KEY DATABASE_URI=$DATABASE_URI PARSE_URL=$PARSE_URL PORT=$PARSE_PORT \
    LOGS=$RUN_DIR/logs CLOUD=$cloud CLUSTER=${PARSE_CLUSTER:-} node -e '
    const e = process.env;
    const c = {
      appId: e.APP_ID, masterKey: e.MASTER_KEY, databaseURI: e.DATABASE_URI,
      host: "127.0.0.1", port: Number(e.PORT), mountPath: "/parse",
      serverURL: e.PARSE_URL, publicServerURL: e.PARSE_URL,
      masterKeyIps: ["127.0.0.1", "::1"],
      filesAdapter: { module: "@parse/fs-files-adapter" },
      logsFolder: e.LOGS,
      allowClientClassCreation: false,
    };
    if (e.CLOUD) c.cloud = e.CLOUD;
    if (e.CLUSTER) c.cluster = Number(e.CLUSTER);
    require("fs").writeFileSync(process.argv[1], JSON.stringify(c, null, 2) + "\n");' "$1"
}

healthy() { curl -sf -m 2 "$PARSE_URL/health" 2>/dev/null | grep -q '"ok"'; }

do_start() {
  do_start_db
  local new pid
  new=$(mktemp)
  write_config "$new"
  pid=$(parse_pid)
  if [ -n "$pid" ]; then
    if ! cmp -s "$new" "$CONFIG"; then
      rm -f "$new"
      die "parse-server (pid $pid) is running with another configuration ($CONFIG); run '$SELF stop' first"
    fi
    rm -f "$new"
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$PARSE_PORT") 2>/dev/null; then
      rm -f "$new"
      die "port $PARSE_PORT on 127.0.0.1 is taken by another process (set PARSE_PORT)"
    fi
    mv "$new" "$CONFIG"
    rm -f "$PID_FILE"
    log "starting parse-server $PARSE_VERSION at $PARSE_URL${PARSE_CLOUD:+ (cloud: $PARSE_CLOUD)} (log: $RUN_DIR/server.log)"
    # its own session, every fd redirected (a caller's pipe is not held open), cwd = RUN_DIR (the
    # files adapter stores uploads under ./files); the inner bash records its PID, then becomes node
    # shellcheck disable=SC2016 # expanded by the inner bash
    ( cd "$RUN_DIR" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" node "$ENTRY" "$CONFIG" ) \
      >"$RUN_DIR/server.log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + PARSE_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if healthy; then
      log "healthy: PostgreSQL pid $(head -n 1 "$PG_DATA/postmaster.pid"), parse-server pid $(parse_pid)"
      echo "$PARSE_URL"
      return 0
    fi
    if [ -s "$PID_FILE" ] && [ -z "$(parse_pid)" ]; then
      tail -n 30 "$RUN_DIR/server.log" >&2
      die "parse-server exited (above: the end of $RUN_DIR/server.log)"
    fi
    sleep 0.5
  done
  tail -n 30 "$RUN_DIR/server.log" >&2
  die "parse-server was not healthy at $PARSE_URL/health within $PARSE_START_TIMEOUT s"
}

do_stop() {
  local pid b
  pid=$(parse_pid)
  if [ -n "$pid" ]; then
    log "stopping parse-server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "parse-server did not stop within 10 s of SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
  if pg_running; then
    b=$(pg_bindir)
    log "stopping PostgreSQL ($PG_DATA)"
    as_pg "$b/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
  fi
}

do_status() {
  local rc=0 pid
  if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT ($PG_DATA)"; else echo "postgres: stopped"; rc=1; fi
  pid=$(parse_pid)
  if [ -n "$pid" ]; then echo "parse-server: running pid $pid, $(grep -o '"serverURL": *"[^"]*"' "$CONFIG" | cut -d'"' -f4)"
  else echo "parse-server: stopped"; rc=1; fi
  return "$rc"
}

do_env() {
  local v
  for v in PEER_CACHE_DIR PEER_DIR PG_DIR PG_DATA PG_PORT RUN_DIR CONFIG PID_FILE PARSE_URL DATABASE_URI; do
    printf 'PEER_%s=%q\n' "${v#PEER_}" "${!v}"
  done
  printf 'PEER_PARSE_MODULES=%q\nPEER_PG_BIN=%q\n' "$PEER_CACHE_DIR/node_modules" "$(pg_bindir)"
}

case ${1:-start} in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  install) do_install; echo "$PEER_CACHE_DIR" ;;
  install-npm) do_install_npm; echo "$PEER_CACHE_DIR" ;;
  start-db) do_start_db; echo "$DATABASE_URI" ;;
  config) node_ok; write_config "$CONFIG"; echo "$CONFIG" ;;
  env) do_env ;;
  -h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' ;;
  *) echo "usage: $SELF [start|stop|status|install|install-npm|start-db|config|env]" >&2; exit 2 ;;
esac
