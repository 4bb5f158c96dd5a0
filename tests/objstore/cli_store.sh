#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `natsbridge send --store nats-os://BUCKET` puts link payloads into a JetStream Object
# Store bucket; `natsbridge listen --json` fetches them over its own NATS connection
# (in memory and with --save-dir), from the bucket it names with --store or allows with
# --allow-origin nats-os://BUCKET, and from no other. A bad --store URL is a usage error
# naming it.
# Usage: cli_store.sh NATSBRIDGE tests/cli/lib.sh
LIB=${2:?usage: $0 NATSBRIDGE /path/to/tests/cli/lib.sh}
source "$LIB" "$1"

# JetStream (the Object Store needs it), with a store directory in $T.
start_server -js -sd "$T/js"

head -c 1500000 /dev/urandom >"$T/big.bin"
SHA=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

# in memory: the link points into the bucket, the bytes arrive intact
start_bg mem listen t.os --server "$URL" --json --count 1 --timeout 20 --store nats-os://CLIBUCKET
L=$BG_PID
wait_for "$T/mem.err" "listening on t.os"
expect_rc 0 send t.os --server "$URL" --store nats-os://CLIBUCKET --file "big=$T/big.bin" \
    --text small=hi --link small --text direct=yes --json
has "$T/run.out" '"transport":"link","encoding":"none","size":1500000,"data":"nats-os://CLIBUCKET/'
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/mem.out" '"dataname":"big","type":"binary","transport":"link"'
has "$T/mem.out" "\"size\":1500000,\"sha256\":\"$SHA\""
has "$T/mem.out" '"dataname":"small","type":"text","transport":"link"'
has "$T/mem.out" '"data":"hi"'
has "$T/mem.out" '"dataname":"direct","type":"text","transport":"direct"'

# --save-dir: streamed to DIR/<msg_id>/<dataname>
start_bg save listen t.os --server "$URL" --json --count 1 --timeout 20 --save-dir "$T/saved" \
    --allow-origin nats-os://CLIBUCKET
L=$BG_PID
wait_for "$T/save.err" "listening on t.os"
expect_rc 0 send t.os --server "$URL" --store nats-os://CLIBUCKET --file "big=$T/big.bin"
ID=$(cat "$T/run.out")
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "listen --save-dir exited $RC"
cmp "$T/big.bin" "$T/saved/$ID/big" || fail "saved Object Store payload differs"

# a listener that names no bucket refuses the link, naming the bucket and the flag
start_bg deny listen t.os --server "$URL" --json --timeout 20
L=$BG_PID
wait_for "$T/deny.err" "listening on t.os"
expect_rc 0 send t.os --server "$URL" --store nats-os://CLIBUCKET --file "big=$T/big.bin"
wait_for "$T/deny.err" "bucket 'CLIBUCKET', which is not allowed"
has "$T/deny.err" "--allow-origin nats-os://CLIBUCKET"
kill -INT "$L"
wait_exit "$L" 5
[ "$RC" = 0 ] || fail "listen (deny) exited $RC"
[ ! -s "$T/deny.out" ] || fail "the refused message was printed"
expect_rc 1 listen t.os --server "$URL" --allow-origin nats-os://bad.bucket
has "$T/run.err" "bad.bucket"

# bad URLs are usage errors that name them; nothing is sent
expect_rc 1 send t.os --server "$URL" --store http://x/y --text a=b
has "$T/run.err" "--store"
has "$T/run.err" "http://x/y"
expect_rc 1 send t.os --server "$URL" --store nats-os://bad.bucket --text a=b
has "$T/run.err" "bad.bucket"
expect_rc 0 send --help
has "$T/run.out" "--store nats-os://BUCKET"
exit 0
