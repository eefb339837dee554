#!/usr/bin/env bash
# Start/stop a local FerretDB (SQLite backend) on loopback.
#
# Usage: scripts/start-ferretdb.sh [start|stop|restart|status]   (default: start)
#
# Env:
#   FERRETDB_PORT           TCP port on 127.0.0.1 (default 27017)
#   FERRETDB_DIR            data/state/log/pid directory (default /tmp/ferrobase-ferretdb)
#   FERRETDB_BIN            binary (default ${GOBIN:-$HOME/go/bin}/ferretdb, else from PATH)
#   FERRETDB_DEBUG_ADDR     debug/metrics HTTP listener, "-" disables it (default "-")
#   FERRETDB_START_TIMEOUT  seconds to wait for the port to accept connections (default 30)
#   FERRETDB_LOG_LEVEL      DEBUG|INFO|WARN|ERROR (default INFO)
#   FERRETDB_POSTGRESQL_URL when set, use FerretDB's PostgreSQL backend on that database
#                           (postgres://user@127.0.0.1:port/db) instead of SQLite files
#
# Files in $FERRETDB_DIR: data/ (SQLite files), ferretdb.pid, ferretdb.log
# Connection string: mongodb://127.0.0.1:$FERRETDB_PORT/?directConnection=true
set -euo pipefail

PORT="${FERRETDB_PORT:-27017}"
DIR="${FERRETDB_DIR:-/tmp/ferrobase-ferretdb}"
DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:--}"
START_TIMEOUT="${FERRETDB_START_TIMEOUT:-30}"
LOG_LEVEL="${FERRETDB_LOG_LEVEL:-INFO}"
HOST=127.0.0.1

log() { printf '[ferretdb] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "FERRETDB_PORT must be a number, got '$PORT'"
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "FERRETDB_START_TIMEOUT must be a number, got '$START_TIMEOUT'"

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd -P)" # absolute: used in a file: URI
PIDFILE="$DIR/ferretdb.pid"
LOGFILE="$DIR/ferretdb.log"

resolve_bin() {
    if [[ -n "${FERRETDB_BIN:-}" ]]; then
        echo "$FERRETDB_BIN"
    elif [[ -x "${GOBIN:-$HOME/go/bin}/ferretdb" ]]; then
        echo "${GOBIN:-$HOME/go/bin}/ferretdb"
    elif command -v ferretdb >/dev/null 2>&1; then
        command -v ferretdb
    else
        die "ferretdb binary not found; run scripts/install-go-peers.sh"
    fi
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; }

# PID from the pid file if that process is alive and is a ferretdb; empty otherwise.
running_pid() {
    local pid
    [[ -f "$PIDFILE" ]] || return 0
    pid="$(tr -dc '0-9' <"$PIDFILE")"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ferretdb; then
        echo "$pid"
    fi
}

do_start() {
    local pid bin
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        log "already running (pid $pid) on $HOST:$PORT"
        return 0
    fi
    rm -f "$PIDFILE"
    port_open && die "$HOST:$PORT is already in use by another process"

    bin="$(resolve_bin)"
    [[ -x "$bin" ]] || die "$bin is not executable"
    mkdir -p "$DIR/data"

    log "starting $bin on $HOST:$PORT (data: $DIR/data, log: $LOGFILE)"
    # setsid: own session, so the server outlives this script and its terminal.
    local backend=(--handler=sqlite --sqlite-url="file:$DIR/data/")
    [[ -n "${FERRETDB_POSTGRESQL_URL:-}" ]] && backend=(--handler=postgresql --postgresql-url="$FERRETDB_POSTGRESQL_URL")
    setsid nohup "$bin" \
        "${backend[@]}" \
        --state-dir="$DIR" \
        --listen-addr="$HOST:$PORT" \
        --debug-addr="$DEBUG_ADDR" \
        --telemetry=disable \
        --log-level="$LOG_LEVEL" \
        >>"$LOGFILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"

    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            tail -n 20 "$LOGFILE" >&2 || true
            die "ferretdb exited during start-up (see $LOGFILE)"
        fi
        if port_open; then
            log "ready: mongodb://$HOST:$PORT/?directConnection=true (pid $pid)"
            echo "$pid"
            return 0
        fi
        sleep 0.2
    done
    log "not accepting connections after ${START_TIMEOUT}s; stopping it"
    stop_pid "$pid"
    tail -n 20 "$LOGFILE" >&2 || true
    exit 1
}

# TERM, wait up to 10 s, then KILL.
stop_pid() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop after 10s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

do_stop() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    stop_pid "$pid"
    log "stopped (pid $pid)"
}

do_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]] && port_open; then
        log "running (pid $pid) on $HOST:$PORT"
        return 0
    fi
    log "not running"
    return 3
}

case "${1:-start}" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop; do_start ;;
    status) do_status ;;
    *) echo "usage: $0 [start|stop|restart|status]" >&2; exit 2 ;;
esac
