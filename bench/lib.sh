# Shared helpers of the bench scripts (sourced by bench/quick.sh and bench/run.sh; not run by itself).

# ensure_wrk: install wrk (and GNU time) from Debian when missing
ensure_wrk() {
  if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
    echo "installing wrk and time (apt-get)..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk time >/dev/null
  fi
}
# rss_kb PID FIELD: a /proc/PID/status memory field in kB (VmRSS, VmHWM), or "?"
rss_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }
# curl_json OUTFILE curl-args...: prints the HTTP status, body into OUTFILE
curl_json() { local out=$1; shift; curl -sS --max-time 30 -o "$out" -w '%{http_code}' "$@"; }
need_2xx() { # need_2xx WHAT STATUS BODYFILE
  case "$2" in 2??) ;; *) echo "$1 failed: HTTP $2: $(head -c 400 "$3")" >&2; exit 1;; esac
}
# busy_ticks: clock ticks the whole machine has spent busy (user+nice+system+irq+softirq+steal)
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
