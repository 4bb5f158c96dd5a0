#!/usr/bin/env bash
# The demo: installs what is missing, builds natsbridge, starts a nats-server
# and the built-in file server on loopback, sends one message holding a text,
# a dictionary, a small binary (direct) and a 3 MB video (by link), prints
# what the receiver got, checks the bytes, and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target natsbridge_cli >/dev/null
nb="$PWD/build/natsbridge"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# nats-server on a free port: it writes the port it chose into a ports file.
nats-server -a 127.0.0.1 -p -1 --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ports=$(cat "$work"/nats-server_*.ports 2>/dev/null || true)
  [[ "$ports" =~ nats://[0-9.]+:([0-9]+) ]] && break
  sleep 0.1
done
[[ "$ports" =~ nats://[0-9.]+:([0-9]+) ]] || { echo "demo: nats-server did not start" >&2; exit 2; }
nats_url="nats://127.0.0.1:${BASH_REMATCH[1]}"

# The built-in file server on a free port, for the link payload.
"$nb" fileserver --listen 127.0.0.1:0 --dir "$work/files" --quiet >"$work/fs.out" &
pids+=($!)
for _ in $(seq 100); do
  [[ "$(cat "$work/fs.out")" =~ (http://[0-9.]+:[0-9]+) ]] && break
  sleep 0.1
done
[[ "$(cat "$work/fs.out")" =~ (http://[0-9.]+:[0-9]+) ]] || { echo "demo: file server did not start" >&2; exit 2; }
fs_url="${BASH_REMATCH[1]}"
echo "nats-server at $nats_url, file server at $fs_url"

head -c 256 /dev/urandom >"$work/blob.bin"
head -c 3000000 /dev/urandom >"$work/clip.mp4"

"$nb" listen demo.chat --server "$nats_url" --fileserver "$fs_url" --count 1 --timeout 20 \
  --save-dir "$work/received" >"$work/received.txt" &
listener=$!
sleep 0.5 # let the subscription reach the server before we publish

echo "sending: text 'greeting', dictionary 'config', binary 'blob' (256 B), video 'clip' (3 MB, by link)"
"$nb" send demo.chat --server "$nats_url" --fileserver "$fs_url" \
  --text greeting="Hello from natsbridge" \
  --dict config='{"rate": 44100, "channels": 2, "tags": ["demo", "c"]}' \
  --file blob="$work/blob.bin":binary \
  --file clip="$work/clip.mp4":video \
  --sender-name demo-sender --metadata '{"demo": true}'
wait "$listener"

echo "the receiver got:"
cat "$work/received.txt"
msg_dir=$(ls -d "$work"/received/*/ | head -1)
echo "config as received: $(cat "$msg_dir/config")"
cmp "$work/blob.bin" "$msg_dir/blob" && cmp "$work/clip.mp4" "$msg_dir/clip"
echo "demo: the binary and the 3 MB video arrived byte for byte (sha256 checked by the receiver)"
