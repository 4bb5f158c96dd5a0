#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The demo: installs what is missing, builds natsbridge, starts a nats-server
# (with JetStream) and the built-in file server on loopback, and moves real
# messages with the CLI:
#   1. one message holding a text, a dictionary, a small binary (direct) and a
#      3 MB video (by link through the file server), checked byte for byte;
#   2. a CSV file sent as a table (Arrow IPC), printed by the receiver as columns;
#   3. JetStream: a stream, stored sends deduplicated by msg_id, a durable
#      consumer that acks what it printed and resumes where it stopped;
#   4. a 2 MB payload by claim-check in a JetStream Object Store bucket, fetched
#      by a receiver that names the bucket (--store) and refused by one that
#      does not (buckets are allowlisted like HTTP origins).
# Everything it starts is stopped, and its temp dir removed, on exit; any
# failing step stops the demo with a non-zero exit status.
# NB_DEMO_BUILD_DIR: where to build (default build).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --demo
build=${NB_DEMO_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target natsbridge_cli >/dev/null
nb="$(cd "$build" && pwd)/natsbridge"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "demo: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

fail() { echo "demo: FAILED: $*" >&2; exit 2; }
# expect FILE TEXT: FILE holds TEXT, or the demo fails showing FILE.
expect() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$(basename "$1") lacks '$2'"; }; }
# show FILE: prints FILE with paths relative to the temp dir.
show() { sed "s|$work/||g" "$1"; }
section() { printf '\n== %s ==\n' "$*"; }

# nats-server with JetStream (store in our temp dir) on a free port: it writes
# the port it chose into a ports file.
nats-server -a 127.0.0.1 -p -1 -js -sd "$work/js" --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ports=$(cat "$work"/nats-server_*.ports 2>/dev/null || true)
  [[ "$ports" =~ nats://[0-9.]+:([0-9]+) ]] && break
  sleep 0.1
done
[[ "$ports" =~ nats://[0-9.]+:([0-9]+) ]] || { cat "$work/nats.log" >&2; fail "nats-server did not start"; }
nats_url="nats://127.0.0.1:${BASH_REMATCH[1]}"

# The built-in file server on a free port, for the link payload.
"$nb" fileserver --listen 127.0.0.1:0 --dir "$work/files" --quiet >"$work/fs.out" &
pids+=($!)
for _ in $(seq 100); do
  [[ "$(cat "$work/fs.out")" =~ (http://[0-9.]+:[0-9]+) ]] && break
  sleep 0.1
done
[[ "$(cat "$work/fs.out")" =~ (http://[0-9.]+:[0-9]+) ]] || fail "file server did not start"
fs_url="${BASH_REMATCH[1]}"
echo "nats-server (JetStream) at $nats_url, file server at $fs_url"

# listen NAME ARGS...: `natsbridge listen ARGS` in the background, printing to
# $work/NAME.out; returns once it is subscribed. Its pid is in $listener.
listen() {
  local name=$1
  shift
  "$nb" listen "$@" --server "$nats_url" >"$work/$name.out" 2>"$work/$name.err" &
  listener=$!
  pids+=($listener)
  for _ in $(seq 200); do
    grep -q "listening on" "$work/$name.err" && return 0
    kill -0 "$listener" 2>/dev/null || break
    sleep 0.05
  done
  cat "$work/$name.err" >&2
  fail "listener $name did not start"
}

section "1. four payloads in one message (the 3 MB video by link)"
head -c 256 /dev/urandom >"$work/blob.bin"
head -c 3000000 /dev/urandom >"$work/clip.mp4"
listen chat demo.chat --fileserver "$fs_url" --count 1 --timeout 20 --save-dir "$work/received"
"$nb" send demo.chat --server "$nats_url" --fileserver "$fs_url" --quiet \
  --text greeting="Hello from natsbridge" \
  --dict config='{"rate": 44100, "channels": 2, "tags": ["demo", "c"]}' \
  --file blob="$work/blob.bin":binary \
  --file clip="$work/clip.mp4":video \
  --sender-name demo-sender --metadata '{"demo": true}'
wait "$listener"
show "$work/chat.out"
msg_dir=$(ls -d "$work"/received/*/ | head -1)
echo "config as received: $(cat "$msg_dir/config")"
cmp "$work/blob.bin" "$msg_dir/blob" && cmp "$work/clip.mp4" "$msg_dir/clip"
echo "the binary and the 3 MB video arrived byte for byte (sha256 checked by the receiver)"

section "2. a CSV file sent as a table (Arrow IPC)"
cat >"$work/wines.csv" <<'CSV'
wine,vintage,price,in_stock
Riesling,2019,12.5,true
Merlot,2015,30,false
Chablis,,7.25,true
CSV
listen tables demo.tables --count 1 --timeout 10
"$nb" send demo.tables --server "$nats_url" --csv wines="$work/wines.csv" --quiet
wait "$listener"
show "$work/tables.out"
expect "$work/tables.out" "(3 rows, 4 columns)"

section "3. JetStream: stored, deduplicated by msg_id, consumed by a durable"
"$nb" stream add ORDERS --subjects 'demo.orders.>' --server "$nats_url"
js_send() { "$nb" send demo.orders.new --server "$nats_url" --jetstream --msg-id "$@"; }
js_send order-1001 --text item=book
js_send order-1002 --text item=pen
echo "order-1001 once more, as a publisher does when an ack was lost:"
js_send order-1001 --text item=book | tee "$work/dup.out"
expect "$work/dup.out" "duplicate"
listen shipper1 'demo.orders.>' --jetstream --durable shipper --count 2 --timeout 10
wait "$listener"
echo "durable consumer 'shipper' (each message acked once printed):"
show "$work/shipper1.out"
js_send order-1003 --text item=ink >/dev/null
listen shipper2 'demo.orders.>' --jetstream --durable shipper --count 1 --timeout 10
wait "$listener"
echo "order-1003 stored later; 'shipper' resumes where it stopped, so only it comes:"
show "$work/shipper2.out"
expect "$work/shipper2.out" "order-1003"

section "4. a 2 MB payload by claim-check in the Object Store bucket SCANS"
head -c 2000000 /dev/urandom >"$work/scan.bin"
listen stranger demo.scans --timeout 20
stranger=$listener
listen scans demo.scans --count 1 --timeout 20 --save-dir "$work/scans" --store nats-os://SCANS
link=$("$nb" send demo.scans --server "$nats_url" --store nats-os://SCANS \
  --file scan="$work/scan.bin":image --json | grep -o 'nats-os://[^"]*')
echo "the envelope carries only the link $link"
wait "$listener"
show "$work/scans.out"
cmp "$work/scan.bin" "$(ls -d "$work"/scans/*/ | head -1)scan"
echo "the 2 MB scan arrived byte for byte from the bucket (size and sha256 checked)"
for _ in $(seq 100); do grep -q "not allowed" "$work/stranger.err" && break; sleep 0.1; done
kill -INT "$stranger"
wait "$stranger" || true
echo "a listener without --store nats-os://SCANS (or --allow-origin nats-os://SCANS) refused it:"
grep -o "is in Object Store bucket .*" "$work/stranger.err" | head -1
expect "$work/stranger.err" "--allow-origin nats-os://SCANS"

printf '\ndemo: all steps passed\n'
