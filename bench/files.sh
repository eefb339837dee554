#!/usr/bin/env bash
# Files benchmark (not a test): uploads a SIZE_MB file (default 1024 = 1 GB) as one streamed raw
# POST, downloads it whole, reads RANGES random 1 MB ranges, and uploads it again through tus in
# 8 MB PATCHes; prints MB/s for each and the server's peak RSS (VmHWM from /proc/PID/status),
# whose target is < 64 MB. Checks the download is byte-identical (sha256).
#
# Needs the release binary (cargo build --release) and curl.
# Environment: SIZE_MB (1024), RANGES (200), FERROBASE_BIN (target/release/ferrobase),
#   FILES_URI (unset: local disk in the temp data dir; e.g. s3://bucket?endpoint=… for S3).
# Runs on 127.0.0.1 with a fresh temp dir, removed on exit (with the server stopped).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FERROBASE_BIN:-$ROOT/target/release/ferrobase}
SIZE_MB=${SIZE_MB:-1024}
RANGES=${RANGES:-200}
APP=benchApp
MK=benchMasterKey

for v in SIZE_MB RANGES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number (got '${!v}')" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "build first: (cd $ROOT && cargo build --release)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is required" >&2; exit 2; }

tmp=$(mktemp -d)
cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "generating ${SIZE_MB} MB of random data…"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$tmp/in.bin"
want=$(sha256sum "$tmp/in.bin" | cut -d' ' -f1)

extra=()
[ -n "${FILES_URI:-}" ] && extra+=(--files-uri "$FILES_URI")
"$BIN" serve --port 0 --data-dir "$tmp/data" --app-id $APP --master-key $MK \
  --max-upload-size $(((SIZE_MB + 1) * 1024 * 1024)) "${extra[@]}" > "$tmp/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^ferrobase listening on //p' "$tmp/server.log" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/server.log"; echo "server did not start"; exit 1; }

now() { date +%s.%N; }
mbps() { awk -v mb="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", mb / (b - a) }'; }
rss() { awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status; }
H=(-H "X-Parse-Application-Id: $APP" -H "X-Parse-Master-Key: $MK")

echo "server $url (pid $pid), idle RSS $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"

t0=$(now)
resp=$(curl -sS --fail -X POST "${H[@]}" -H 'Content-Type: application/octet-stream' \
  -T "$tmp/in.bin" "$url/files/big.bin")
t1=$(now)
file_url=$(printf '%s' "$resp" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
[ -n "$file_url" ] || { echo "upload failed: $resp"; exit 1; }
echo "upload    ${SIZE_MB} MB: $(mbps "$SIZE_MB" "$t0" "$t1") MB/s   (peak RSS so far $(rss))"

t0=$(now)
curl -sS --fail -o "$tmp/out.bin" "$file_url"
t1=$(now)
got=$(sha256sum "$tmp/out.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "download differs from upload!"; exit 1; }
rm -f "$tmp/out.bin"
echo "download  ${SIZE_MB} MB: $(mbps "$SIZE_MB" "$t0" "$t1") MB/s   (identical; peak RSS so far $(rss))"

t0=$(now)
for _ in $(seq 1 "$RANGES"); do
  start=$(( (RANDOM * 32768 + RANDOM) % ((SIZE_MB - 1) * 1024 * 1024 + 1) ))
  curl -sS --fail -o /dev/null -r "$start-$((start + 1024 * 1024 - 1))" "$file_url"
done
t1=$(now)
echo "ranges    ${RANGES} x 1 MB: $(mbps "$RANGES" "$t0" "$t1") MB/s, $(awk -v n="$RANGES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 / n }') ms each"

# tus: create, then 8 MB PATCHes read from the file with dd.
chunk=$((8 * 1024 * 1024))
total=$((SIZE_MB * 1024 * 1024))
loc=$(curl -sS --fail -D - -o /dev/null -X POST "${H[@]}" -H 'Tus-Resumable: 1.0.0' \
  -H "Upload-Length: $total" -H "Upload-Metadata: filename $(printf 'tus.bin' | base64)" \
  "$url/files/tus" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
t0=$(now)
offset=0
while [ "$offset" -lt "$total" ]; do
  dd if="$tmp/in.bin" bs=$chunk skip=$((offset / chunk)) count=1 status=none | \
    curl -sS --fail -o /dev/null -X PATCH "${H[@]}" -H 'Tus-Resumable: 1.0.0' \
      -H "Upload-Offset: $offset" -H 'Content-Type: application/offset+octet-stream' \
      --data-binary @- "$loc"
  offset=$((offset + chunk))
  [ "$offset" -gt "$total" ] && offset=$total
done
t1=$(now)
echo "tus       ${SIZE_MB} MB in 8 MB PATCHes: $(mbps "$SIZE_MB" "$t0" "$t1") MB/s"

echo "server peak RSS (VmHWM): $(rss)   (target < 64 MB)"
