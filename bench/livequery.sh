#!/usr/bin/env bash
# LiveQuery benchmark, ferrobase vs Parse Server's own LiveQuery server (prints figures, asserts
# nothing; not a test).
#
# For each SUBS in SUBS_LIST, each system of SYSTEMS in turn, on fresh data, bound to 127.0.0.1:
#   ferrobase  the release binary (FERROBASE_BIN), LiveQuery on its mount path ws://…/parse
#   parse      Parse Server 9.10 on PostgreSQL with ParseServer.createLiveQueryServer(httpServer) in
#              the same Node process (bench/parse-livequery.mjs; no Redis), LiveQuery at ws://…:PORT/
# then one client (bench/livequery.mjs: Node + the `ws` package from e2e/node_modules, raw Parse
# LiveQuery protocol) opens SUBS WebSocket subscribers on class LiveBench (where kind = "bench"),
# writes RATE objects/s for DURATION s through REST (master key) and reports delivered events/s,
# p50/p99 write-to-delivery latency and the shortfall (delivered vs expected) if the server did not
# deliver everything within DRAIN s of the last write. The shell samples the server's RSS (idle,
# with the subscribers, at the end, and its peak VmHWM) and CPU time, and prints one comparison
# table at the end. Each run waits for a quiet machine first and is repeated once if other processes
# took more than QUIET_MAX % of a core during it (the machine's cores are shared).
#
# Credentials (AUTH, the same for both systems): session (default) = one user signs up through REST
# and every subscriber sends its session token in `connect` and `subscribe`, as the JS SDK does, so
# both servers run their per-subscriber session/CLP/ACL checks on each event; master = `connect`
# with the master key (Parse: keyPairs {masterKey}); none = application id only.
#
# Needs: the release binary (cargo build --release); Node >= 20.19; e2e/node_modules (installed
# here if missing); for parse, scripts/peers/parse-server.sh (installs PostgreSQL + parse-server 9.10
# on first use; here only its PostgreSQL cluster runs, in its own PEER_DIR and port).
# Environment: SYSTEMS ("ferrobase parse"), SUBS_LIST ("1000 10000"), RATE (20), DURATION (10),
#   DRAIN (30), AUTH (session), FERROBASE_BIN, PARSE_PORT (1340), PG_PORT (55434),
#   BENCH_PEER_DIR (/tmp/peers-livequery), PARSE_PEER, QUIET_WAIT (s to wait, before each run, for
#   the machine to be below QUIET_MAX % of one core: 600), QUIET_MAX (40).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
SYSTEMS=${SYSTEMS:-"ferrobase parse"}
SUBS_LIST=${SUBS_LIST:-"1000 10000"}
RATE=${RATE:-20}
DURATION=${DURATION:-10}
DRAIN=${DRAIN:-30}
AUTH=${AUTH:-session}
PARSE_PORT=${PARSE_PORT:-1340}
PG_PORT=${PG_PORT:-55434}
PEER_DIR=${BENCH_PEER_DIR:-/tmp/peers-livequery}
PARSE_PEER=${PARSE_PEER:-$ROOT/scripts/peers/parse-server.sh}
QUIET_WAIT=${QUIET_WAIT:-600}
QUIET_MAX=${QUIET_MAX:-40}
for v in RATE DURATION DRAIN PARSE_PORT PG_PORT QUIET_WAIT QUIET_MAX; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
case $AUTH in session|master|none) ;; *) echo "AUTH must be session, master or none" >&2; exit 2 ;; esac
for s in $SYSTEMS; do
  case $s in
    ferrobase) [ -x "$BIN" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; } ;;
    parse) [ -f "$PARSE_PEER" ] || { echo "no Parse peer script at $PARSE_PEER" >&2; exit 2; } ;;
    *) echo "unknown system $s (ferrobase, parse)" >&2; exit 2 ;;
  esac
done
[ -d "$ROOT/e2e/node_modules/ws" ] || (cd "$ROOT/e2e" && npm ci --no-audit --no-fund --loglevel=error)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log() { echo "[livequery $(date +%T)] $*" >&2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/ferrobase-livequery.XXXXXX")
RES=$W/results.tsv
: >"$RES"
SRV_PID=       # the server being measured
CLIENT_PID_=   # the load client
PG_STARTED=0   # we started the PostgreSQL cluster of PEER_DIR
PEER_ENV=(PEER_DIR="$PEER_DIR" PG_PORT="$PG_PORT" PARSE_PORT="$PARSE_PORT")
stop_pid() { # SIGTERM, up to 10 s, then SIGKILL
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$CLIENT_PID_"
  stop_pid "$SRV_PID"
  if [ "$PG_STARTED" = 1 ]; then env "${PEER_ENV[@]}" bash "$PARSE_PEER" stop >/dev/null 2>&1 || true; fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || true; }
mib() { [[ $1 =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}' || echo "?"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
# wait_quiet: wait (at most QUIET_WAIT s) until the whole machine is below QUIET_MAX % of one core
wait_quiet() {
  local t0=$SECONDS b0 b1 pct
  while :; do
    b0=$(busy_ticks); sleep 2; b1=$(busy_ticks)
    pct=$(( (b1 - b0) * 100 / HZ / 2 ))
    [ "$pct" -le "$QUIET_MAX" ] && return 0
    if [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ]; then
      log "machine still busy (${pct}% of a core) after ${QUIET_WAIT} s; measuring anyway"
      return 0
    fi
    log "machine busy (${pct}% of a core$(pgrep -x cargo >/dev/null && echo ', cargo running')); waiting"
    sleep 10
  done
}

# foreign_ticks: CPU ticks of every process that is not part of the run (the server, the client, our
# PostgreSQL and their children are left out; so is kernel time not charged to a process)
foreign_ticks() {
  local pm=""
  [ -f "${PEER_PG_DATA:-/nonexistent}/postmaster.pid" ] && pm=$(head -1 "$PEER_PG_DATA/postmaster.pid")
  for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null && echo; done | awk -v ex=" $SRV_PID ${CLIENT_PID_:-} $pm $$ " '
    { i = index($0, ") "); if (!i) next; split(substr($0, i + 2), a, " ")
      if (index(ex, " " $1 " ") || index(ex, " " a[2] " ")) next   # a[2] = ppid
      t += a[12] + a[13] }                                          # utime + stime
    END { print t + 0 }'
}

# ------------------------------------------------------------------ Parse peer: PostgreSQL only
if [[ " $SYSTEMS " == *" parse "* ]]; then
  for p in $PARSE_PORT $PG_PORT; do
    port_free "$p" || { echo "port $p on 127.0.0.1 is in use; set PARSE_PORT / PG_PORT" >&2; exit 1; }
  done
  log "parse: installing/starting PostgreSQL (scripts/peers/parse-server.sh start-db, PEER_DIR=$PEER_DIR, port $PG_PORT)"
  PG_STARTED=1
  # the cluster only: parse-livequery.mjs below is the Parse Server (with its LiveQuery server)
  env "${PEER_ENV[@]}" bash "$PARSE_PEER" start-db >/dev/null
  eval "$(env "${PEER_ENV[@]}" bash "$PARSE_PEER" env)"
  PARSE_MODULES=$PEER_PARSE_MODULES
  PSQL=(psql -X -q -h "$PEER_PG_DIR" -p "$PG_PORT" -U postgres)
  PARSE_VERSION=$(node -p "require('$PARSE_MODULES/parse-server/package.json').version")
fi

# ------------------------------------------------------------------ one run
# run_client SYSTEM SUBS REST_URL LIVE_URL: drives the client, samples the server ($SRV_PID)
run_client() {
  local sys=$1 subs=$2 url=$3 live=$4 line result="" idle with="" end="" peak="" c0=0 c1=0 m0=0 m1=0 t0=0 t1=1 status=ok
  idle=$(kb "$SRV_PID" VmRSS)
  curl -sS --max-time 30 -o "$W/schema.json" -X POST -H 'X-Parse-Application-Id: benchApp' \
    -H 'X-Parse-Master-Key: benchMasterKey' -H 'Content-Type: application/json' \
    "$url/schemas/LiveBench" -d '{"className":"LiveBench","fields":{"kind":{"type":"String"},"n":{"type":"Number"},"sentAt":{"type":"Number"}}}' >/dev/null \
    || { log "$sys: POST /schemas failed"; }
  echo "== $sys: $subs subscribers, $RATE writes/s for $DURATION s, auth $AUTH (server idle RSS $(mib "$idle"))"
  # bounded: subscribing (60 s per batch of 200 at worst, capped), writing (+60 s request timeout), draining
  local budget=$((240 + subs / 50 + DURATION + 60 + DRAIN))
  coproc CLIENT { exec timeout -k 5 "$budget" env URL="$url" LIVE_URL="$live" APP_ID=benchApp MASTER_KEY=benchMasterKey \
    SUBS="$subs" RATE="$RATE" DURATION="$DURATION" DRAIN="$DRAIN" AUTH="$AUTH" node "$ROOT/bench/livequery.mjs" 2>&1; }
  CLIENT_PID_=$CLIENT_PID
  while read -r line <&"${CLIENT[0]}"; do
    case $line in
      READY)
        with=$(kb "$SRV_PID" VmRSS)
        echo "server RSS with $subs subscribers: $(mib "$with")"
        c0=$(cpu_ticks "$SRV_PID"); m0=$(foreign_ticks); t0=$(date +%s%N)
        echo go >&"${CLIENT[1]}" ;;
      DONE)
        c1=$(cpu_ticks "$SRV_PID"); m1=$(foreign_ticks); t1=$(date +%s%N)
        end=$(kb "$SRV_PID" VmRSS); peak=$(kb "$SRV_PID" VmHWM)
        echo "server RSS at the end: $(mib "$end"), peak (VmHWM) $(mib "$peak"), CPU $(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN{printf "%.1f", t/hz}') s during writes + drain"
        break ;;
      RESULT\ *) result=${line#RESULT } ;;
      *) echo "$line" ;;
    esac
  done
  wait "$CLIENT_PID_" 2>/dev/null || status="client exit $?"
  CLIENT_PID_=
  kill -0 "$SRV_PID" 2>/dev/null || status="server died"
  if [ -z "$result" ]; then
    [ "$status" = ok ] && status="no result"
    echo "!! $sys with $subs subscribers: $status (no figures)"
  fi
  [ -n "$peak" ] || peak=$(kb "$SRV_PID" VmHWM)
  local cpu others="?"
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN{printf "%.1f", t/hz}')
  if [ "$c1" = 0 ]; then cpu="?"; fi
  if [ -n "$result" ] && [ "$m1" != 0 ]; then # % of one core used by processes outside the run
    others=$(awk -v m=$((m1 - m0)) -v hz="$HZ" -v ns=$((t1 - t0)) 'BEGIN{o=m/hz; if (o<0) o=0; printf "%d", 100*o/(ns/1e9)}')
    echo "other processes on the machine used ${others}% of one core meanwhile"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sys" "$subs" "${result:-none}" "${peak:--}" "$cpu" "$status" "${with:--}" "$others" >>"$RES"
}

# run_system SYSTEM SUBS: fresh server, one client run, server stopped
run_system() {
  local sys=$1 subs=$2 data url
  data=$(mktemp -d "$W/$sys.XXXX")
  : >"$data/log"
  case $sys in
    ferrobase)
      "$BIN" serve --host 127.0.0.1 --port 0 --data-dir "$data/db" --app-id benchApp --master-key benchMasterKey \
        --live-query-classes LiveBench --live-query-queue-size 10000 >"$data/log" 2>&1 &
      SRV_PID=$!
      url=""
      for _ in $(seq 1 100); do
        url=$(sed -n 's/^ferrobase listening on //p' "$data/log" | head -n1 || true)
        [ -n "$url" ] && break
        sleep 0.1
      done
      [ -n "$url" ] || { cat "$data/log"; exit 1; }
      run_client ferrobase "$subs" "$url" "${url/#http/ws}" ;;
    parse)
      "${PSQL[@]}" -c "DROP DATABASE IF EXISTS parse WITH (FORCE)" -c "CREATE DATABASE parse OWNER parse" >/dev/null
      "${PSQL[@]}" -d parse -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null 2>&1 || true
      mkdir -p "$data/run"
      (cd "$data/run" && exec env PARSE_MODULES="$PARSE_MODULES" PORT="$PARSE_PORT" APP_ID=benchApp \
        MASTER_KEY=benchMasterKey DATABASE_URI="postgres://parse:parse@127.0.0.1:$PG_PORT/parse" RUN_DIR="$data/run" \
        LQ_MASTER_KEY="$([ "$AUTH" = master ] && echo 1 || echo 0)" node "$ROOT/bench/parse-livequery.mjs") >"$data/log" 2>&1 &
      SRV_PID=$!
      url=""
      for _ in $(seq 1 600); do
        url=$(sed -n 's/^parse-livequery listening on //p' "$data/log" | head -n1 || true)
        [ -n "$url" ] && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
      done
      [ -n "$url" ] || { tail -30 "$data/log"; exit 1; }
      run_client parse "$subs" "$url" "ws://127.0.0.1:$PARSE_PORT/" ;;
  esac
  stop_pid "$SRV_PID"; SRV_PID=
  rm -rf "$data"
}

for SUBS in $SUBS_LIST; do
  [[ $SUBS =~ ^[0-9]+$ ]] || { echo "SUBS_LIST entries must be whole numbers (got '$SUBS')" >&2; exit 2; }
  for sys in $SYSTEMS; do
    for attempt in 1 2; do
      wait_quiet
      run_system "$sys" "$SUBS"
      others=$(tail -n1 "$RES" | cut -f8)
      if [ "$attempt" = 1 ] && [[ $others =~ ^[0-9]+$ ]] && [ "$others" -gt "$QUIET_MAX" ]; then
        log "$sys $SUBS: other processes took ${others}% of a core during the run; once more on a quiet machine"
        sed -i '$d' "$RES"
        continue
      fi
      break
    done
  done
done

# ------------------------------------------------------------------ comparison table
echo
echo "## LiveQuery: $RATE writes/s for $DURATION s, one class, auth $AUTH"
echo
echo "| system | subscribers | delivered events/s | delivered / expected events | p50 ms | p99 ms | server peak RSS | server CPU s | client CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
notes=()
while IFS=$'\t' read -r sys subs result peak cpu status _ others; do
  name=$sys; [ "$sys" = parse ] && name="Parse Server ${PARSE_VERSION:-}"
  if [ "$result" = none ]; then
    echo "| $name | $subs | – ($status) | | | | $(mib "$peak") | $cpu | |"
    continue
  fi
  exp=$(field "$result" expected); del=$(field "$result" delivered)
  share=$(awk -v d="$del" -v e="$exp" 'BEGIN{ if (e>0 && d<e) printf " (%.1f %%)", 100*d/e }')
  echo "| $name | $subs | $(field "$result" eps) | $del / $exp$share | $(field "$result" p50) | $(field "$result" p99) | $(mib "$peak") | $cpu | $(field "$result" client_cpu) |"
  wt=$(field "$result" write_timeouts); we=$(field "$result" write_errors); cl=$(field "$result" closed)
  if [ "${wt:-0}" != 0 ]; then notes+=("$name, $subs subscribers: $wt of $((RATE * DURATION)) writes got no answer within 60 s (still counted as expected)"); fi
  if [ "${we:-0}" != 0 ]; then notes+=("$name, $subs subscribers: $we writes failed (not counted as expected)"); fi
  if [ "${cl:-0}" != 0 ]; then notes+=("$name, $subs subscribers: the server closed $cl subscriber connections during the run"); fi
  if [ "${others:-0}" != "?" ] && [ "${others:-0}" -gt "$QUIET_MAX" ]; then notes+=("$name, $subs subscribers: other processes on the machine used ${others}% of one core during the run (after one retry)"); fi
  if [ "$del" -lt "$exp" ]; then notes+=("$name, $subs subscribers: $((exp - del)) events not delivered within $DRAIN s of the last write (the client stops waiting then)"); fi
done <"$RES"
echo
echo "Latency = write request sent → event received, over the delivered events; events/s = delivered / (last delivery − first write)."
for n in ${notes[@]+"${notes[@]}"}; do echo "- $n"; done
if [[ " $SYSTEMS " == *" ferrobase "* && " $SYSTEMS " == *" parse "* ]]; then
  echo
  echo "| subscribers | events/s ferrobase / Parse | p50 ferrobase / Parse (lower: ferrobase faster) |"
  echo "|---:|---:|---:|"
  for SUBS in $SUBS_LIST; do
    f=$(awk -F'\t' -v s="$SUBS" '$1=="ferrobase" && $2==s {print $3}' "$RES")
    p=$(awk -F'\t' -v s="$SUBS" '$1=="parse" && $2==s {print $3}' "$RES")
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="" || b=="" || b+0==0) print "–"; else printf "%.2f×", a/b }'; }
    echo "| $SUBS | $(ratio "$(field "$f" eps)" "$(field "$p" eps)") | $(ratio "$(field "$f" p50)" "$(field "$p" p50)") |"
  done
fi
