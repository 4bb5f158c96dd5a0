#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# valgrind memcheck over the CLI end to end: the file server, listen (with
# --save-dir), send (direct and link), reply --echo and request, and JetStream
# (stream add, send --jetstream, a durable listen), every natsbridge process
# under valgrind against a real nats-server on a free loopback port.
# Prints one line per process (errors, definitely and indirectly lost bytes)
# and a total; exits 1 if any process had a memory error or a definite or
# indirect leak. Not part of CI (slow): docs/SECURITY.md holds its figures.
#
# Usage: bash scripts/memcheck.sh [BUILD_DIR]   (default build-memcheck: gcc Debug)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build-memcheck}
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }
if [ ! -x "$build/natsbridge" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
    -DNB_BUILD_TESTS=OFF -DNB_BUILD_BENCH=OFF -DNB_BUILD_EXAMPLES=OFF >/dev/null &&
    cmake --build "$build" -j "$(nproc)" >/dev/null || exit 1
fi

# The CLI tests' fixture (temp dir, nats-server on a free port, bounded waits),
# with every natsbridge run going through valgrind.
wrapper=$(mktemp "${TMPDIR:-/tmp}/nbvg-XXXXXX")
vglogs=$(mktemp -d "${TMPDIR:-/tmp}/nbvglogs-XXXXXX")
cat >"$wrapper" <<EOF
#!/bin/sh
echo "\$1 \$2" >"$vglogs/\$\$.cmd"
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --log-file="$vglogs/%p.log" \
  "$root/$build/natsbridge" "\$@"
EOF
chmod +x "$wrapper"
# shellcheck source=../tests/cli/lib.sh
source tests/cli/lib.sh "$wrapper"
trap 'cleanup; rm -f "$wrapper"' EXIT

# Valgrind makes every run ~20x slower: patient bounds throughout.
run() { timeout 120 "$NB" "$@" >"$T/run.out" 2>"$T/run.err"; RC=$?; }
step() { echo "memcheck: $*"; }

start_server -js -sd "$T/js"
mkdir -p "$T/files" "$T/saved"
head -c 3000000 /dev/urandom >"$T/big.bin"

step "fileserver"
start_bg fs fileserver --listen 127.0.0.1:0 --dir "$T/files"
fs_pid=$BG_PID
wait_for "$T/fs.out" "listening on" 60
FS=$(grep -o 'http://[^ ]*' "$T/fs.out" | head -1)

step "listen --save-dir (direct and link)"
start_bg listen listen mc.data --server "$URL" --fileserver "$FS" --count 2 --save-dir "$T/saved" --json
listen_pid=$BG_PID
wait_for "$T/listen.err" "listening on" 60
expect_rc 0 send mc.data --server "$URL" --text greeting=hello --dict 'cfg={"a":[1,2.5,null]}' --json
expect_rc 0 send mc.data --server "$URL" --fileserver "$FS" --file blob="$T/big.bin":binary
wait_exit "$listen_pid" 120
[ "$RC" = 0 ] || fail "listen exited $RC"
cmp -s "$T/big.bin" "$(find "$T/saved" -name blob | head -1)" || fail "the saved link payload differs"

step "reply --echo and request (direct and link)"
start_bg reply reply mc.svc --server "$URL" --fileserver "$FS" --echo
reply_pid=$BG_PID
wait_for "$T/reply.err" "listening on" 60
expect_rc 0 request mc.svc --server "$URL" --text q=hi --timeout 60 --json
expect_rc 0 request mc.svc --server "$URL" --fileserver "$FS" --file blob="$T/big.bin":binary --timeout 60
nbt_stop() { kill -INT "$1" 2>/dev/null; wait_exit "$1" 60; }
nbt_stop "$reply_pid"

step "JetStream: stream add, send --jetstream, durable listen"
expect_rc 0 stream add MC --subjects 'mcjs.>' --server "$URL"
expect_rc 0 send mcjs.x --server "$URL" --text item=book --jetstream
expect_rc 0 listen 'mcjs.>' --server "$URL" --jetstream --durable mc --count 1 --timeout 60

nbt_stop "$fs_pid"

# One line per process from its valgrind log.
errors=0
leaked=0
for log in "$vglogs"/*.log; do
  pid=$(basename "$log" .log)
  e=$(grep -c 'Invalid\|uninitialised\|Mismatched\|overlap' "$log")
  d=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | grep -o '[0-9,]*' | tr -d , | head -1)
  i=$(grep -o 'indirectly lost: [0-9,]* bytes' "$log" | grep -o '[0-9,]*' | tr -d , | head -1)
  printf 'memcheck: %-28s errors %-3s definitely lost %-8s indirectly lost %s\n' \
    "$(cat "$vglogs/$pid.cmd" 2>/dev/null)" "$e" "${d:-0}" "${i:-0}"
  errors=$((errors + e))
  leaked=$((leaked + ${d:-0} + ${i:-0}))
  [ "$e" = 0 ] && [ "${d:-0}" = 0 ] && [ "${i:-0}" = 0 ] || cat "$log"
done
n=$(ls "$vglogs"/*.log | wc -l)
rm -rf "$vglogs"
echo "MEMCHECK processes=$n errors=$errors leaked_bytes=$leaked"
[ "$errors" = 0 ] && [ "$leaked" = 0 ]
