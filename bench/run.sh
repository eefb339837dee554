#!/usr/bin/env bash
# Side-by-side benchmark: ferrobase vs Parse Server 9.10 (PostgreSQL) vs PocketBase vs the raw "limit"
# program, all on 127.0.0.1, the same data, the same scenarios, the same load tool (wrk from Debian).
# With SYSTEMS including ferrobase-ferretdb and parse-ferretdb, also ferrobase's MongoDB store and
# Parse Server's, both on one FerretDB 1.24 (PostgreSQL backend, the same PostgreSQL cluster).
#
#   bench/run.sh            full run (10 s per scenario after a 3 s warm-up), ~15 min
#   bench/run.sh --quick    3 s per scenario after a 1 s warm-up, under 5 min
#   ROWS=100000 bench/run.sh
#
# Installs what is missing: wrk + time (apt), ferrobase (cargo build --release, only if the binary is
# missing), Parse Server + PostgreSQL (scripts/peers/parse-server.sh, in its own PEER_DIR and
# ports so it never touches another Parse peer), PocketBase v0.36.8 (scripts/install-go-peers.sh, needs
# Go), limit (bench/limit, cargo). Each system in turn: wait for a quiet machine (bounded), start it
# on fresh data (start-up time = exec to first HTTP 200 on its health URL; idle RSS), seed ROWS objects
# (+100 pointer targets), sign up and log in a bench user, check one request of every scenario (exact
# status and body), then for each scenario a warm-up and a measured wrk run carrying the session token;
# finally restart it on the seeded data (restart time, idle RSS) and stop it. Prints one markdown
# report and writes it to bench/results/<date>[-quick].md (RESULTS_FILE overrides).
#
# Env: ROWS (10000), DURATION (10; quick 3), WARMUP (3; quick 1), CONNS (32; AUTH_CONNS 8 for signup
#   and login, whose bcrypt work would otherwise finish in waves longer than a quick run), THREADS (2),
#   BCRYPT_COST (10, ferrobase; the peers' own default is 10 too, checked on a stored hash),
#   SYSTEMS ("limit ferrobase parse pocketbase"; add ferrobase-ferretdb parse-ferretdb for MongoDB, or
#   SYSTEMS=all), SCENARIOS (all), QUIET_WAIT (s to wait for a quiet
#   machine: 180; quick 30), QUIET_MAX (% of one core counted as quiet: 40), QUIET_BUDGET (s of waiting in
#   all: 900; quick 60), OUT_DIR (keep raw wrk output),
#   ports FB_PORT 18081, PARSE_PORT 1338, PG_PORT 55433, PB_PORT 18090, LIMIT_PORT 18080, FDB_PORT 27061,
#   BENCH_PEER_DIR (/tmp/peers-bench), FERROBASE_BIN, POCKETBASE_BIN, LIMIT_DIR, LIMIT_BIN, PARSE_PEER, RESULTS_FILE,
#   LIVEQUERY (full run 1, --quick 0 to stay under 5 min; 1: when ferrobase is among SYSTEMS, also bench/livequery.sh — 1,000 subscribers,
#   LQ_RATE (100) writes/s for DURATION s, ferrobase and, when it is among SYSTEMS, Parse Server's
#   LiveQuery server — whose table is added to the report; 0: skip).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
ROWS=${ROWS:-10000}
if [ "$QUICK" = 1 ]; then DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; QUIET_WAIT=${QUIET_WAIT:-30}
else DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; QUIET_WAIT=${QUIET_WAIT:-180}; fi
CONNS=${CONNS:-32}
AUTH_CONNS=${AUTH_CONNS:-8} # signup and login: CPU-bound bcrypt, fewer connections so short runs are not lumpy
THREADS=${THREADS:-2}
BCRYPT_COST=${BCRYPT_COST:-10}
QUIET_MAX=${QUIET_MAX:-40}
QUIET_BUDGET=${QUIET_BUDGET:-$([ "$QUICK" = 1 ] && echo 60 || echo 900)}
SYSTEMS=${SYSTEMS:-limit ferrobase parse pocketbase}
[ "$SYSTEMS" = all ] && SYSTEMS="limit ferrobase parse pocketbase ferrobase-ferretdb parse-ferretdb"
SCENARIOS=${SCENARIOS:-}
FB_PORT=${FB_PORT:-18081}
PARSE_PORT=${PARSE_PORT:-1338}
PG_PORT=${PG_PORT:-55433}
PB_PORT=${PB_PORT:-18090}
LIMIT_PORT=${LIMIT_PORT:-18080}
FDB_PORT=${FDB_PORT:-27061}
PEER_DIR=${BENCH_PEER_DIR:-/tmp/peers-bench}
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
PB_BIN=${POCKETBASE_BIN:-$HOME/go/bin/base}
LIMIT_DIR=${LIMIT_DIR:-$ROOT/bench/limit}
LIMIT_BIN=${LIMIT_BIN:-/tmp/limit-target/release/limit}
PARSE_PEER=${PARSE_PEER:-$ROOT/scripts/peers/parse-server.sh}
DATE=$(date +%F)
RESULTS_FILE=${RESULTS_FILE:-$ROOT/bench/results/$DATE$([ "$QUICK" = 1 ] && echo -quick || true).md}
PY=(python3 "$ROOT/bench/compare.py")
for v in ROWS DURATION WARMUP CONNS AUTH_CONNS THREADS BCRYPT_COST QUIET_WAIT QUIET_MAX; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
log() { echo "[bench $(date +%T)] $*" >&2; }
HZ=$(getconf CLK_TCK)

W=$(mktemp -d "${TMPDIR:-/tmp}/ferrobase-compare.XXXXXX")
RES=$W/results.tsv
META=$W/meta.txt
: >"$RES"
: >"$META"
meta() { echo "$1=$2" >>"$META"; }
NOTE=0
note() { NOTE=$((NOTE + 1)); meta "$(printf 'note%02d' "$NOTE")" "$*"; }
SRV_PID=      # the server process being measured
PG_STARTED=0  # we started the bench Postgres cluster
FDB_STARTED=0 # we started the bench FerretDB
stop_pid() { # stop_pid PID: SIGTERM, 10 s grace, SIGKILL
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  echo "pid $p did not stop within 10 s of SIGTERM; killing it" >&2
  kill -KILL "$p" 2>/dev/null || true
}
# Both servers load the same Cloud Code (bench/cloud/main.js: the cloud_* and *_hooked scenarios).
CLOUD_MAIN=$ROOT/bench/cloud/main.js
PEER_ENV=(PEER_DIR="$PEER_DIR" PG_PORT="$PG_PORT" PARSE_PORT="$PARSE_PORT" PARSE_CLOUD="$CLOUD_MAIN")
cleanup() {
  local rc=$?
  stop_pid "$SRV_PID"
  [ "$FDB_STARTED" = 1 ] && ferret stop
  if [ "$PG_STARTED" = 1 ]; then env "${PEER_ENV[@]}" bash "$PARSE_PEER" stop >/dev/null 2>&1 || true; fi
  if [ -n "${OUT_DIR:-}" ]; then mkdir -p "$OUT_DIR" && find "$W" -maxdepth 1 -type f -exec cp {} "$OUT_DIR"/ \; || true; fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ install what is missing
ensure_wrk
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
for s in $SYSTEMS; do
  case $s in
    ferrobase|ferrobase-ferretdb)
      if [ ! -x "$BIN" ]; then
        log "building ferrobase (cargo build --release)"
        (cd "$ROOT" && cargo build --release)
      fi ;;
    limit)
      if [ ! -x "$LIMIT_BIN" ]; then
        log "building limit"
        nice -n 10 cargo build --release --manifest-path "$LIMIT_DIR/Cargo.toml" --target-dir "$(dirname "$(dirname "$LIMIT_BIN")")"
      fi ;;
    pocketbase)
      if [ -z "${POCKETBASE_BIN:-}" ]; then PEERS=pocketbase bash "$ROOT/scripts/install-go-peers.sh" >/dev/null; fi ;;
    ferretdb) ;;
    parse|parse-ferretdb)
      # PostgreSQL (apt) and parse-server (npm, into ~/.cache, shared with the tests), once
      env "${PEER_ENV[@]}" bash "$PARSE_PEER" install >/dev/null ;;
    *) echo "unknown system $s" >&2; exit 2 ;;
  esac
done
case " $SYSTEMS " in *-ferretdb\ *) PEERS=ferretdb bash "$ROOT/scripts/install-go-peers.sh" >/dev/null ;; esac
for p in $FB_PORT $PARSE_PORT $PG_PORT $PB_PORT $LIMIT_PORT $FDB_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p on 127.0.0.1 is in use; set another (see --help)" >&2; exit 1; fi
done

# ------------------------------------------------------------------ machine
meta date "$(date -u +%FT%TZ)"
meta quick "$QUICK"; meta rows "$ROWS"; meta duration "$DURATION"; meta warmup "$WARMUP"
meta conns "$CONNS"; meta auth_conns "$AUTH_CONNS"; meta threads "$THREADS"; meta bcrypt "$BCRYPT_COST"; meta cores "$(nproc)"
meta machine "$(nproc) × $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM$(grep -q hypervisor /proc/cpuinfo && echo ', virtual machine (shared)'); wrk runs on the same cores as the servers"
meta kernel "$(uname -sr)"
meta wrk_version "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"

# ------------------------------------------------------------------ helpers
# wait_quiet SYSTEM: wait (at most QUIET_WAIT s, and QUIET_BUDGET s over the whole run) until the machine
# is below QUIET_MAX % of one core (the server under test, idle, counts too)
QUIET_SPENT=0
wait_quiet() {
  local s=$1 t0=$SECONDS b0 b1 pct
  while :; do
    b0=$(busy_ticks); sleep 2; b1=$(busy_ticks)
    pct=$(( (b1 - b0) * 100 / HZ / 2 ))
    [ "$pct" -le "$QUIET_MAX" ] && break
    if [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ] || [ $((QUIET_SPENT + SECONDS - t0)) -ge "$QUIET_BUDGET" ]; then
      log "machine still busy (${pct}% of a core$(pgrep -x cargo >/dev/null && echo ', cargo running')) after ${QUIET_WAIT}s; measuring anyway"
      note "the machine was busy (${pct}% of one core) before $s and did not quieten within ${QUIET_WAIT} s: its figures are not clean"
      break
    fi
    log "machine busy (${pct}% of a core$(pgrep -x cargo >/dev/null && echo ', cargo running')); waiting"
    sleep 5
  done
  QUIET_SPENT=$((QUIET_SPENT + SECONDS - t0))
  case $s in *.*) ;; *) meta "$s.busy_before" "${pct}%"; meta "$s.load" "$(cut -d' ' -f1-3 /proc/loadavg)" ;; esac
}
# drain: wait (at most 30 s) until the server is idle, so requests a stopped wrk left in flight (bcrypt!)
# are not billed to the next run
drain() {
  local a b
  for _ in $(seq 1 60); do
    a=$(srv_ticks); sleep 0.5; b=$(srv_ticks)
    [ $(( (b - a) * 100 / HZ * 2 )) -lt 10 ] && return 0
  done
  log "server still busy 30 s after the load stopped"
}
stat_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ticks of a process, its live children and its reaped children (cutime/cstime), as bench.sh of the peer
tree_ticks() {
  local root=$1 a b t c
  for _ in 1 2 3 4 5; do
    a=$(awk '{print $16+$17}' "/proc/$root/stat" 2>/dev/null || echo 0); t=$(stat_ticks "$root")
    for c in $(pgrep -P "$root"); do t=$((t + $(stat_ticks "$c"))); done
    b=$(awk '{print $16+$17}' "/proc/$root/stat" 2>/dev/null || echo 0); [ "$a" = "$b" ] && break
  done
  echo $((t + b))
}
PM_PID=  # PostgreSQL's postmaster, when the system under test uses it
FDB_PID= # FerretDB, when the system under test uses it
srv_ticks() {
  local t
  if [ -n "$PM_PID" ]; then t=$(( $(tree_ticks "$SRV_PID") + $(tree_ticks "$PM_PID") )); else t=$(stat_ticks "$SRV_PID"); fi
  [ -n "$FDB_PID" ] && t=$((t + $(stat_ticks "$FDB_PID")))
  echo "$t"
}
pg_pss_kb() { # PSS of the Postgres processes (shared buffers counted once)
  local t=0 p
  for p in "$PM_PID" $(pgrep -P "$PM_PID"); do
    t=$((t + $(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# spawn NAME HEALTH_URL [--cwd DIR] -- CMD...: start a server, STARTUP_MS and SRV_PID are set
spawn() {
  local name=$1 health=$2; shift 2
  STARTUP_MS=$("${PY[@]}" spawn --pidfile "$W/$name.pid" --health "$health" --log "$W/$name.log" "$@") \
    || { SRV_PID=$(cat "$W/$name.pid" 2>/dev/null || true); tail -20 "$W/$name.log" >&2; exit 1; }
  SRV_PID=$(cat "$W/$name.pid")
  sleep 0.3
  IDLE_KB=$(rss_kb "$SRV_PID" VmRSS)
}

# pg_up: the bench PostgreSQL cluster running and parse-server's config.json written (the peer script,
# start-db + config; each system starts its own server so that its start-up is timed); sets the PEER_*
# paths (the peer script's `env`), RUN_DIR, PARSE_MODULES, PGB, PM_PID, PSQL
pg_up() {
  log "starting PostgreSQL (scripts/peers/parse-server.sh start-db, PEER_DIR=$PEER_DIR)"
  PG_STARTED=1
  env "${PEER_ENV[@]}" bash "$PARSE_PEER" start-db >/dev/null
  env "${PEER_ENV[@]}" bash "$PARSE_PEER" config >/dev/null
  eval "$(env "${PEER_ENV[@]}" bash "$PARSE_PEER" env)"
  RUN_DIR=$PEER_RUN_DIR
  PARSE_MODULES=$PEER_PARSE_MODULES
  PGB=$PEER_PG_BIN
  PSQL=(psql -X -q -h "$PEER_PG_DIR" -p "$PG_PORT" -U postgres)
  PM_PID=$(head -1 "$PEER_PG_DATA/postmaster.pid")
}
pg_down() {
  env "${PEER_ENV[@]}" bash "$PARSE_PEER" stop >/dev/null 2>&1 || true
  PG_STARTED=0; PM_PID=
}
# ferret start|stop: FerretDB 1.24 (PostgreSQL backend, a fresh database `ferretdb` in the bench
# cluster) on FDB_PORT; sets FDB_PID
ferret() {
  local env=(FERRETDB_PORT="$FDB_PORT" FERRETDB_DIR="$W/ferretdb" FERRETDB_LOG_LEVEL=WARN)
  if [ "$1" = start ]; then
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS ferretdb WITH (FORCE)" -c "CREATE DATABASE ferretdb OWNER parse" >/dev/null
    FDB_STARTED=1
    FDB_PID=$(env "${env[@]}" FERRETDB_POSTGRESQL_URL="postgres://parse:parse@127.0.0.1:$PG_PORT/ferretdb" \
      bash "$ROOT/scripts/start-ferretdb.sh" start 2>/dev/null | tail -1)
    grep -q '^versions.ferretdb=' "$META" || meta versions.ferretdb "FerretDB $("${FERRETDB_BIN:-$HOME/go/bin/ferretdb}" --version 2>/dev/null | awk '/^version/{print $2}') (PostgreSQL backend)"
  else
    env "${env[@]}" bash "$ROOT/scripts/start-ferretdb.sh" stop >/dev/null 2>&1 || true
    FDB_STARTED=0; FDB_PID=
  fi
}

# run_scenario SYSTEM NAME LUA URL WANT AUTH CHECK
run_scenario() {
  local s=$1 name=$2 lua=$3 url=$4 auth=$6 check=$7 warm=$WARMUP hdrs=("${BASE_H[@]}") c=$CONNS
  case $name in signup|login) c=$AUTH_CONNS ;; esac
  [ "$auth" = 1 ] && hdrs+=("${AUTH_H[@]}")
  [ "$name" = delete ] && warm=0
  local s0 a0 b0 t0 s1 a1 b1 t1 wt cpu attempt other notes=()
  for attempt in 1 2; do
    drain
    if [ "$warm" -gt 0 ]; then
      wrk -t"$THREADS" -c"$c" -d"${warm}s" --timeout 10s -s "$lua" "${hdrs[@]}" "$url" >"$W/$s.$name.warmup.txt" 2>&1 || true
      drain
    fi
    echo 5 >"/proc/$SRV_PID/clear_refs" 2>/dev/null || true # reset VmHWM: peak of this scenario only
    s0=$(srv_ticks); a0=$(stat_ticks "$SRV_PID"); b0=$(busy_ticks); t0=$EPOCHREALTIME
    /usr/bin/time -f '%U %S' -o "$W/$s.$name.time" \
      wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$lua" "${hdrs[@]}" "$url" \
      >"$W/$s.$name.txt" 2>&1 || { log "wrk failed for $s $name:"; cat "$W/$s.$name.txt" >&2; }
    s1=$(srv_ticks); a1=$(stat_ticks "$SRV_PID"); b1=$(busy_ticks); t1=$EPOCHREALTIME
    wt=$(awk -v hz="$HZ" '{printf "%d", ($1+$2)*hz}' "$W/$s.$name.time" 2>/dev/null || echo 0)
    # server (with its database processes), wrk, others, and the server process alone
    cpu=$(awk -v s="$((s1 - s0))" -v w="$wt" -v b="$((b1 - b0))" -v p="$((a1 - a0))" -v hz="$HZ" -v a="$t0" -v z="$t1" 'BEGIN{
      d=(z-a)*hz; o=b-s-w; if (o<0) o=0; printf "%d\t%d\t%d\t%d", s*100/d, w*100/d, o*100/d, p*100/d }')
    other=$(cut -f3 <<<"$cpu")
    # another process took CPU during the run: wait for quiet and measure once more (not delete: its
    # pool is spent; not once QUIET_BUDGET is used up)
    [ "$other" -gt "$QUIET_MAX" ] && [ "$attempt" = 1 ] && [ "$name" != delete ] && [ "$QUIET_SPENT" -lt "$QUIET_BUDGET" ] || break
    log "$s $name: other processes took ${other}% of a core during the run; waiting for quiet, then once more"
    wait_quiet "$s.$name"
  done
  [ "$other" -le "$QUIET_MAX" ] || notes+=("busy machine: others took ${other}% of a core")
  local line peak
  line=$("${PY[@]}" wrkline "$W/$s.$name.txt")
  peak=$(rss_kb "$SRV_PID" VmHWM)
  [ "$check" = ok ] || notes+=("its check request failed")
  if [ "$name" = delete ]; then
    local reqs; reqs=$(cut -f4 <<<"$line")
    [ "${reqs:-0}" -le "$POOL" ] || notes+=("pool of $POOL ids ran out")
  fi
  kill -0 "$SRV_PID" 2>/dev/null || { notes+=("server died"); log "WARNING: $s died during $name"; }
  local n="-"; [ ${#notes[@]} -gt 0 ] && n=$(IFS=';'; echo "${notes[*]}")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$name" "$line" "$cpu" "$peak" "$n" >>"$RES"
  log "$(printf '%-10s %-13s %10s req/s  p50 %7s ms  p99 %8s ms  errors %s' "$s" "$name" \
    "$(cut -f1 <<<"$line")" "$(cut -f2 <<<"$line")" "$(cut -f3 <<<"$line")" "$(( $(cut -f5 <<<"$line") + $(cut -f6 <<<"$line") ))")"
}

rps_of() { awk -F'\t' -v s="$1" -v n="$2" '$1==s && $2==n {printf "%d", $3}' "$RES"; }

# bench_system SYSTEM BASE_URL: seed, check, run every scenario against the running server
bench_system() {
  local s=$1 base=$2 sw="$W/$s"
  mkdir -p "$sw"
  log "$s: seeding $ROWS rows"
  local seed
  seed=$("${PY[@]}" setup --system "$s" --base "$base" --work "$sw" --rows "$ROWS")
  meta "$s.seed_s" "$seed"
  local tok; tok=$(cat "$sw/token")
  case $s in
    ferrobase*|parse*) BASE_H=(-H "X-Parse-Application-Id: benchApp"); AUTH_H=(-H "X-Parse-Session-Token: $tok") ;;
    pocketbase) BASE_H=(); AUTH_H=(-H "Authorization: $tok") ;;
    limit) BASE_H=(); AUTH_H=() ;;
  esac
  "${PY[@]}" scenarios --system "$s" --base "$base" --work "$sw" --rows "$ROWS" --threads "$THREADS" --only "$SCENARIOS"
  local name lua url want auth check
  while IFS=$'\t' read -r name lua url want auth check; do
    if [ "$name" = delete ]; then
      # ids to delete: BenchWrite objects made by create/batch50, topped up to 4 times the faster of the
      # create and update rates for the whole run, so the pool does not run out
      local r1 r2 needn
      r1=$(rps_of "$s" create); r2=$(rps_of "$s" update)
      needn=$(( ( (${r1:-0} > ${r2:-0} ? ${r1:-0} : ${r2:-0}) * 4 + 200) * DURATION ))
      POOL=$("${PY[@]}" pool --system "$s" --base "$base" --work "$sw" --need "$needn" | cut -d' ' -f1)
      meta "$s.delete_pool" "$POOL"
    fi
    run_scenario "$s" "$name" "$lua" "$url" "$want" "$auth" "$check"
  done <"$sw/scenarios.tsv"
}

# ------------------------------------------------------------------ the systems
for s in $SYSTEMS; do
  wait_quiet "$s"
  PM_PID=
  case $s in
    limit)
      log "limit: starting on :$LIMIT_PORT"
      spawn limit "http://127.0.0.1:$LIMIT_PORT/hello" -- "$LIMIT_BIN" "$LIMIT_PORT" "$W/limit.sqlite"
      meta limit.startup_ms "$STARTUP_MS"; meta limit.idle_rss_kb "$IDLE_KB"
      meta limit.restart_ms "n/a"; meta limit.restart_rss_kb "n/a"; meta versions.limit "limit (axum 0.8 + rusqlite, bench/limit)"
      bench_system limit "http://127.0.0.1:$LIMIT_PORT"
      stop_pid "$SRV_PID"; SRV_PID=
      ;;
    ferrobase)
      FB_ARGS=(serve --host 127.0.0.1 --port "$FB_PORT" --data-dir "$W/fb-data" --app-id benchApp
        --master-key benchMasterKey --bcrypt-cost "$BCRYPT_COST")
      log "ferrobase: starting on :$FB_PORT"
      # start-up and idle RSS are the server's own (without the Node.js worker --cloud adds)
      spawn ferrobase "http://127.0.0.1:$FB_PORT/parse/health" -- "$BIN" "${FB_ARGS[@]}"
      meta ferrobase.startup_ms "$STARTUP_MS"; meta ferrobase.idle_rss_kb "$IDLE_KB"
      stop_pid "$SRV_PID"; SRV_PID=
      spawn ferrobase-cloud "http://127.0.0.1:$FB_PORT/parse/health" -- "$BIN" "${FB_ARGS[@]}" --cloud "$CLOUD_MAIN"
      meta ferrobase.cloud_startup_ms "$STARTUP_MS"
      meta versions.ferrobase "ferrobase $("$BIN" --version | awk '{print $NF}') (embedded store)"
      bench_system ferrobase "http://127.0.0.1:$FB_PORT/parse"
      rm -rf "$W/fb-data/files" # the file_upload scenario's gigabytes
      meta ferrobase.hash "bcrypt cost $("${PY[@]}" hashcost "$W"/fb-data/*.sqlite "$W"/fb-data/*.sqlite-wal)"
      stop_pid "$SRV_PID"; SRV_PID=
      spawn ferrobase-restart "http://127.0.0.1:$FB_PORT/parse/health" -- "$BIN" "${FB_ARGS[@]}"
      meta ferrobase.restart_ms "$STARTUP_MS"; meta ferrobase.restart_rss_kb "$IDLE_KB"
      stop_pid "$SRV_PID"; SRV_PID=
      ;;
    parse)
      pg_up
      # fresh database, then start node ourselves to time it (the peer script's command line)
      "${PSQL[@]}" -c "DROP DATABASE IF EXISTS parse WITH (FORCE)" -c "CREATE DATABASE parse OWNER parse" >/dev/null
      "${PSQL[@]}" -d parse -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null 2>&1 || true
      NODE_CMD=(node "$PARSE_MODULES/parse-server/bin/parse-server" config.json)
      log "parse: starting parse-server on :$PARSE_PORT"
      spawn parse "http://127.0.0.1:$PARSE_PORT/parse/health" --cwd "$RUN_DIR" -- "${NODE_CMD[@]}"
      echo "$SRV_PID" >"$RUN_DIR/parse.pid"
      meta parse.startup_ms "$STARTUP_MS"; meta parse.idle_rss_kb "$IDLE_KB"; meta parse.pg_idle_pss_kb "$(pg_pss_kb)"
      meta versions.parse "parse-server $(node -p "require('$PARSE_MODULES/parse-server/package.json').version") on node $(node --version), PostgreSQL $("$PGB/postgres" --version | awk '{print $3}')"
      bench_system parse "http://127.0.0.1:$PARSE_PORT/parse"
      rm -rf "$RUN_DIR/files"
      meta parse.pg_pss_kb "$(pg_pss_kb)"
      meta parse.hash "bcrypt cost $("${PSQL[@]}" -d parse -tAc "select substr(\"_hashed_password\",5,2) from \"_User\" limit 1" | sed 's/^0//')"
      stop_pid "$SRV_PID"; SRV_PID=
      spawn parse-restart "http://127.0.0.1:$PARSE_PORT/parse/health" --cwd "$RUN_DIR" -- "${NODE_CMD[@]}"
      echo "$SRV_PID" >"$RUN_DIR/parse.pid"
      meta parse.restart_ms "$STARTUP_MS"; meta parse.restart_rss_kb "$IDLE_KB"
      stop_pid "$SRV_PID"; SRV_PID=
      pg_down
      ;;
    ferrobase-ferretdb|parse-ferretdb)
      pg_up
      ferret start
      MONGO="mongodb://127.0.0.1:$FDB_PORT"
      if [ "$s" = ferrobase-ferretdb ]; then
        FBM_ARGS=(serve --host 127.0.0.1 --port "$FB_PORT" --data-dir "$W/fbm-data" --app-id benchApp
          --master-key benchMasterKey --bcrypt-cost "$BCRYPT_COST" --database-uri "$MONGO/ferrobase")
        log "ferrobase-ferretdb: starting on :$FB_PORT"
        spawn "$s" "http://127.0.0.1:$FB_PORT/parse/health" -- "$BIN" "${FBM_ARGS[@]}"
        BASE=http://127.0.0.1:$FB_PORT/parse
        RESTART=(--  "$BIN" "${FBM_ARGS[@]}")
        meta "versions.$s" "ferrobase $("$BIN" --version | awk '{print $NF}') on FerretDB"
      else
        # Parse Server's own MongoDB adapter on the same FerretDB; FerretDB v1 has no collations
        # (enableCollationCaseComparison, Parse's switch for such servers) and refuses a TTL index
        # (e2e/interop/parse-launch.cjs skips it, as in the interop test)
        mkdir -p "$W/parse-ferretdb"
        node -e '
          const c = JSON.parse(require("fs").readFileSync(process.argv[1]));
          Object.assign(c, {databaseURI: process.argv[2], port: +process.argv[3],
            serverURL: `http://127.0.0.1:${process.argv[3]}/parse`, publicServerURL: `http://127.0.0.1:${process.argv[3]}/parse`,
            enableCollationCaseComparison: true});
          require("fs").writeFileSync(process.argv[4], JSON.stringify(c, null, 2));' \
          "$RUN_DIR/config.json" "$MONGO/parse" "$PARSE_PORT" "$W/parse-ferretdb/config.json"
        log "parse-ferretdb: starting parse-server on :$PARSE_PORT"
        PARSE_DIR=$PEER_CACHE_DIR spawn "$s" "http://127.0.0.1:$PARSE_PORT/parse/health" --cwd "$RUN_DIR" -- \
          node "$ROOT/e2e/interop/parse-launch.cjs" "$W/parse-ferretdb/config.json"
        BASE=http://127.0.0.1:$PARSE_PORT/parse
        RESTART=(--cwd "$RUN_DIR" -- node "$ROOT/e2e/interop/parse-launch.cjs" "$W/parse-ferretdb/config.json")
        meta "versions.$s" "parse-server $(node -p "require('$PARSE_MODULES/parse-server/package.json').version") on FerretDB"
      fi
      meta "$s.startup_ms" "$STARTUP_MS"; meta "$s.idle_rss_kb" "$IDLE_KB"
      bench_system "$s" "$BASE"
      rm -rf "$W/fbm-data/files" "$RUN_DIR/files"
      stop_pid "$SRV_PID"; SRV_PID=
      PARSE_DIR=$PEER_CACHE_DIR spawn "$s-restart" "${BASE%/parse}/parse/health" "${RESTART[@]}"
      meta "$s.restart_ms" "$STARTUP_MS"; meta "$s.restart_rss_kb" "$IDLE_KB"
      stop_pid "$SRV_PID"; SRV_PID=
      ferret stop
      pg_down
      ;;
    pocketbase)
      PBD=$W/pb_data
      "$PB_BIN" superuser upsert admin@bench.test adminpw12345 --dir "$PBD" >/dev/null
      log "pocketbase: starting on :$PB_PORT"
      spawn pocketbase "http://127.0.0.1:$PB_PORT/api/health" -- "$PB_BIN" serve --http "127.0.0.1:$PB_PORT" --dir "$PBD"
      meta pocketbase.startup_ms "$STARTUP_MS"; meta pocketbase.idle_rss_kb "$IDLE_KB"
      meta versions.pocketbase "PocketBase $(go version -m "$PB_BIN" 2>/dev/null | awk '$1=="mod" && $2=="github.com/pocketbase/pocketbase"{print $3}') (examples/base, $(go version -m "$PB_BIN" 2>/dev/null | awk 'NR==1{print $2}'))"
      bench_system pocketbase "http://127.0.0.1:$PB_PORT"
      rm -rf "$PBD/storage"
      meta pocketbase.hash "bcrypt cost $("${PY[@]}" hashcost "$PBD/data.db" "$PBD/data.db-wal")"
      stop_pid "$SRV_PID"; SRV_PID=
      spawn pocketbase-restart "http://127.0.0.1:$PB_PORT/api/health" -- "$PB_BIN" serve --http "127.0.0.1:$PB_PORT" --dir "$PBD"
      meta pocketbase.restart_ms "$STARTUP_MS"; meta pocketbase.restart_rss_kb "$IDLE_KB"
      stop_pid "$SRV_PID"; SRV_PID=
      ;;
  esac
done

# ------------------------------------------------------------------ LiveQuery fan-out
: >"$W/livequery.md"
if [ "${LIVEQUERY:-$((1 - QUICK))}" = 1 ] && [[ " $SYSTEMS " == *" ferrobase "* ]] && [ -z "$SCENARIOS" ]; then
  lq=ferrobase; [[ " $SYSTEMS " == *" parse "* ]] && lq="ferrobase parse"
  log "LiveQuery fan-out (bench/livequery.sh, $lq)"
  SYSTEMS=$lq SUBS_LIST=1000 RATE=${LQ_RATE:-100} DURATION=$DURATION QUIET_WAIT=$QUIET_WAIT FERROBASE_BIN=$BIN \
    bash "$ROOT/bench/livequery.sh" >"$W/livequery.md" || log "bench/livequery.sh failed (its output is in the report)"
fi

meta versions "$(grep '^versions\.' "$META" | cut -d= -f2- | paste -sd';' | sed 's/;/; /g')"
note "ferrobase indexes a field automatically the first time a query filters or sorts on it in a class of ≥ 1000 objects: the check request made before the query scenarios creates auto_price, so every ferrobase query figure is with that index (the warm-up matters). Parse Server and PocketBase run with their defaults: no index on price, so their sorted query sorts all matches."
note "Each request carries the bench user's session (X-Parse-Session-Token; PocketBase: Authorization token, every bench collection's rules are \`@request.auth.id != ''\`); signup and login carry none. Data: BenchItem(name, price, category, n, cat → BenchCat) with $ROWS rows, price = i mod 1000 + 0.5, query = price > 10 (99 % match), limit 20."
note "PocketBase equivalents: query = list with filter=(price>10)&perPage=20&skipTotal=1; count = the same with perPage=1&fields=id (its totalItems; it has no count-only request); include = expand=cat; users_me = POST auth-refresh (also signs a new token); batch50 = /api/batch (always one transaction; Parse/ferrobase /batch are not); signup = create in users (no token returned; Parse and ferrobase also open a session); it logs every request to its auxiliary.db (its default)."
note "delete: no warm-up; each id is deleted once from a pool of BenchWrite objects (made by create/batch50, topped up): ferrobase $(grep '^ferrobase.delete_pool=' "$META" | cut -d= -f2), Parse Server $(grep '^parse.delete_pool=' "$META" | cut -d= -f2), PocketBase $(grep '^pocketbase.delete_pool=' "$META" | cut -d= -f2) ids."
note "file_upload = POST of a 1 MB text file (Parse/ferrobase: /files/bench.txt with the session; PocketBase: a BenchFile record with a 1 MB multipart file field); file_range = GET with Range: bytes=524288-1572863 (1 MB out of a 2 MB file uploaded before). Parse Server's default files adapter (@parse/fs-files-adapter) ignores Range: it answers 200 with the whole 2 MB file, so its file_range check is marked failed and each of its responses carries twice the bytes. Uploaded files are deleted after each system (disk)."
note "limit is the 40-line axum + SQLite program (no auth, no ACL, no schema): point reads of its own 10,000 rows whatever ROWS is; its start-up includes seeding them."
note "Start-up = exec to the first HTTP 200 on the health URL, polled every 2 ms (Parse Server: node only, PostgreSQL already running; PocketBase: the data dir was initialised by \`superuser upsert\` before)."
mkdir -p "$(dirname "$RESULTS_FILE")"
echo
"${PY[@]}" report --results "$RES" --meta "$META" --extra "$W/livequery.md" --out "$RESULTS_FILE"
echo
log "written to $RESULTS_FILE"
