#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs/QUICKSTART.md, step by step, on free ports: the JavaScript peer sends a
# direct and a link payload to `natsbridge listen`, `natsbridge send` sends both
# to the JavaScript peer, and a listener whose file server URL is another
# origin refuses the link. Needs node and the npm packages of tests/interop/js
# (scripts/install-deps.sh --test); exit 77 (skip) without them.
source "$(dirname "$0")/../cli/lib.sh" "$1"
SRC=${2:?usage: $0 NATSBRIDGE SOURCE_DIR}
PEER="$SRC/tests/interop/js/peer.mjs"
command -v node >/dev/null 2>&1 && [ -d "$SRC/tests/interop/js/node_modules/nats" ] ||
    { echo "SKIP: node or tests/interop/js/node_modules missing (scripts/install-deps.sh --test)"; exit 77; }
start_server

"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
FPORT=${F##*:}
echo 'hello from JavaScript' >"$T/note.txt"
head -c 1500000 /dev/urandom >"$T/big.bin"
SHA=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

# js_send SUBJECT PAYLOADS-JSON: the JS peer's send, bounded.
js_send() {
    timeout 30 node "$PEER" send "{\"nats\": \"$URL\", \"fileserver\": \"$F\", \"subject\": \"$1\",
        \"payloads\": $2}" >"$T/js-send.out" 2>"$T/js-send.err" || fail "JS send failed: $(cat "$T/js-send.err")"
}

# 2. JavaScript sends, natsbridge listens.
start_bg listen listen demo.quick --server "$URL" --fileserver "$F" --count 1 --json \
    --save-dir "$T/received" --timeout 30
L=$BG_PID
wait_for "$T/listen.err" "listening on demo.quick"
js_send demo.quick "[{\"dataname\": \"note\", \"type\": \"text\", \"file\": \"$T/note.txt\"},
    {\"dataname\": \"big\", \"type\": \"binary\", \"file\": \"$T/big.bin\"}]"
wait_exit "$L" 30
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/listen.out" '"dataname":"note","type":"text","transport":"direct"'
has "$T/listen.out" '"data":"hello from JavaScript\n"'
has "$T/listen.out" "\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\""
has "$T/listen.out" "\"sha256\":\"$SHA\""
cmp "$T/big.bin" "$(ls -d "$T"/received/*/ | head -1)big" || fail "received/<msg_id>/big differs from big.bin"

# 3. natsbridge sends, JavaScript listens.
timeout 40 node "$PEER" listen "{\"nats\": \"$URL\", \"subject\": \"demo.back\", \"count\": 1, \"timeout\": 20}" \
    >"$T/js-listen.out" 2>"$T/js-listen.err" &
J=$!
BG_PIDS+=("$J")
wait_for "$T/js-listen.err" "ready: listening on demo.back" 20
expect_rc 0 send demo.back --server "$URL" --text "note=hello from C" --file "big=$T/big.bin:binary" \
    --fileserver "$F"
wait "$J" || fail "JS listen failed: $(cat "$T/js-listen.err")"
has "$T/js-listen.out" '"check":"hello from C"'
has "$T/js-listen.out" '"transport":"link"'
has "$T/js-listen.out" '"check":{"bytes":1500000}'

# 4. Another spelling of the file server is another origin: the link is refused.
start_bg refuse listen demo.quick --server "$URL" --fileserver "http://localhost:$FPORT" --count 1 --timeout 10
L=$BG_PID
wait_for "$T/refuse.err" "listening on demo.quick"
js_send demo.quick "[{\"dataname\": \"big\", \"type\": \"binary\", \"file\": \"$T/big.bin\"}]"
wait_for "$T/refuse.err" "is not from an allowed origin" 20
wait_exit "$L" 20
[ "$RC" = 3 ] || fail "the refusing listener exited $RC, expected 3 (timeout)"
echo PASS
