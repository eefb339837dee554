#!/usr/bin/env bash
# Interoperability test: real Parse Server 9.10 and ferrobase on the same FerretDB database, both
# directions. Starts FerretDB (SQLite backend) in a temp dir on a free port, runs interop.mjs (which
# starts/stops Parse Server and ferrobase in turn), stops everything. All on 127.0.0.1.
#
#   bash e2e/interop/run.sh            # VERBOSE=1 also prints raw documents of passing checks
#
# Env: FERROBASE_BIN (target/debug/ferrobase; copied to the temp dir first), PARSE_DIR (the npm
#      install holding parse-server; default: `scripts/peers/parse-server.sh install-npm`, which installs
#      it into ~/.cache/ferrobase/peers/parse-server on first use), PARSE_PORT (1338, another free port
#      if taken), FERRETDB_PORT (a free port), KEEP=1 keeps the temp dir (logs, SQLite data).
# Last line: `interop: N passed, M failed`; exit code 0 only if all passed (2 = setup failure).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FERROBASE_BIN=${FERROBASE_BIN:-$REPO/target/debug/ferrobase}
PARSE_DIR=${PARSE_DIR:-}
T0=$(date +%s.%N)
WORK=$(mktemp -d /tmp/ferrobase-interop.XXXXXX)
FDB_STARTED=0

log() { echo "[interop] $*" >&2; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
FERRETDB_PORT=${FERRETDB_PORT:-$(free_port)}

CLEANED=0
cleanup() {
  [ "$CLEANED" = 1 ] && return
  CLEANED=1
  # interop.mjs stops its own children; these pid files remain only if it was killed
  for f in "$WORK"/parse.pid "$WORK"/ferrobase.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -dc 0-9 <"$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
  done
  if [ "$FDB_STARTED" = 1 ]; then
    FERRETDB_PORT=$FERRETDB_PORT FERRETDB_DIR=$WORK/ferretdb timeout 30 bash "$REPO/scripts/start-ferretdb.sh" stop >/dev/null 2>&1 \
      || log "stopping FerretDB failed"
    FDB_STARTED=0
  fi
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_fail() { log "$*"; echo "interop: 0 passed, 1 failed"; exit 2; }
[ -x "$FERROBASE_BIN" ] || setup_fail "no ferrobase binary at $FERROBASE_BIN"
command -v node >/dev/null || setup_fail "node is required"
if [ -z "$PARSE_DIR" ]; then
  PARSE_DIR=$(timeout 900 bash "$REPO/scripts/peers/parse-server.sh" install-npm) \
    || setup_fail "could not install parse-server (scripts/peers/parse-server.sh install-npm)"
fi
[ -f "$PARSE_DIR/node_modules/parse-server/package.json" ] \
  || setup_fail "no parse-server in $PARSE_DIR/node_modules (unset PARSE_DIR to install one)"
[ -f "$PARSE_DIR/node_modules/mongodb/package.json" ] || setup_fail "no mongodb driver in $PARSE_DIR/node_modules"
cp "$FERROBASE_BIN" "$WORK/ferrobase" || setup_fail "cannot copy $FERROBASE_BIN"
if [ -z "${FERRETDB_BIN:-}" ] && [ ! -x "${GOBIN:-$HOME/go/bin}/ferretdb" ]; then
  log "no FerretDB yet: building it (scripts/install-go-peers.sh, needs Go)"
  PEERS=ferretdb timeout 1200 bash "$REPO/scripts/install-go-peers.sh" >"$WORK/ferretdb-install.log" 2>&1 \
    || { tail -n 20 "$WORK/ferretdb-install.log" >&2; setup_fail "could not build FerretDB"; }
fi

FERRETDB_PORT=$FERRETDB_PORT FERRETDB_DIR=$WORK/ferretdb FERRETDB_START_TIMEOUT=30 \
  bash "$REPO/scripts/start-ferretdb.sh" start >"$WORK/ferretdb-start.log" 2>&1 \
  || { cat "$WORK/ferretdb-start.log" >&2; setup_fail "FerretDB did not start"; }
FDB_STARTED=1
log "FerretDB $("${FERRETDB_BIN:-${GOBIN:-$HOME/go/bin}/ferretdb}" --version 2>/dev/null | grep -m1 -o "v[0-9][0-9.]*" | head -1) on 127.0.0.1:$FERRETDB_PORT (data in $WORK/ferretdb)"

MONGO_URI="mongodb://127.0.0.1:$FERRETDB_PORT/interop" WORK_DIR=$WORK FERROBASE_BIN=$WORK/ferrobase PARSE_DIR=$PARSE_DIR \
  INTEROP_SUMMARY_FILE=$WORK/summary timeout 600 node "$HERE/interop.mjs"
RC=$?
SUMMARY=$(cat "$WORK/summary" 2>/dev/null)
if [ "$RC" = 124 ]; then
  log "interop.mjs timed out after 600 s"
  SUMMARY=""
fi
[ -n "$SUMMARY" ] || { SUMMARY="interop: 0 passed, 1 failed"; [ "$RC" = 0 ] && RC=1; }

cleanup
log "total $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (exit $RC)"
echo "$SUMMARY"
exit "$RC"
