#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Link payloads through `natsbridge fileserver`: big files and --link go by link and arrive
# intact; --save-dir gets them streamed to DIR/<msg_id>/<dataname>; --allow-origin admits a
# file server; a link from an origin not allowed is reported and skipped.
source "$(dirname "$0")/lib.sh" "$@"
start_server

"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$F" ] || fail "no file server URL in: $(cat "$T/fs.out")"

head -c 1500000 /dev/urandom >"$T/big.bin"
SHA=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

# in memory: transport link, the right sha256, text data kept
start_bg mem listen t.link --server "$URL" --fileserver "$F" --json --count 1 --timeout 15
L=$BG_PID
wait_for "$T/mem.err" "listening on t.link"
expect_rc 0 send t.link --server "$URL" --fileserver "$F" --file "big=$T/big.bin" \
    --text small=hi --link small --text direct=yes
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/mem.out" "\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\""
has "$T/mem.out" "\"size\":1500000,\"sha256\":\"$SHA\""
has "$T/mem.out" '"dataname":"small","type":"text","transport":"link"'
has "$T/mem.out" '"data":"hi"'
has "$T/mem.out" '"dataname":"direct","type":"text","transport":"direct"'

# --allow-origin and --save-dir: streamed to the file, the path reported
start_bg save listen t.link --server "$URL" --allow-origin "$F" --json --count 1 --timeout 15 \
    --save-dir "$T/saved"
L=$BG_PID
wait_for "$T/save.err" "listening on t.link"
expect_rc 0 send t.link --server "$URL" --fileserver "$F" --file "big=$T/big.bin" --threshold 1000
ID=$(cat "$T/run.out")
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen --save-dir exited $RC"
cmp "$T/big.bin" "$T/saved/$ID/big" || fail "saved link payload differs"
has "$T/save.out" "\"path\":\"$T/saved/$ID/big\""

# no allowed origin: reported on stderr, nothing printed, listening goes on until the timeout
start_bg deny listen t.link --server "$URL" --json --timeout 6
L=$BG_PID
wait_for "$T/deny.err" "listening on t.link"
expect_rc 0 send t.link --server "$URL" --fileserver "$F" --text small=hi --link small
wait_exit "$L" 10
[ "$RC" = 3 ] || fail "listen exited $RC, expected the timeout"
has "$T/deny.err" "natsbridge listen: bad message skipped: "
[ -s "$T/deny.out" ] && fail "a refused link was printed"
# a file server that wants a bearer token: the sender's --fileserver-token with Plik,
# $NB_FILESERVER_TOKEN with --put, --fileserver-token-file with Plik
"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files2" --token s3cret --quiet >"$T/fs2.out" 2>"$T/fs2.err" &
FS2=$!
BG_PIDS+=($FS2)
for _ in $(seq 100); do grep -q 'http://' "$T/fs2.out" 2>/dev/null && break; sleep 0.1; done
F2=$(grep -o 'http://[0-9.:]*' "$T/fs2.out" | head -1)
[ -n "$F2" ] || fail "second file server did not start"
expect_rc 2 send t.tok --server "$URL" --fileserver "$F2" --text small=hi --link small
has "$T/run.err" "401"
printf 's3cret\n' >"$T/token.txt"
for mode in plik put file; do
    extra="--fileserver-token s3cret"
    [ "$mode" = put ] && extra="--put" && export NB_FILESERVER_TOKEN=s3cret
    [ "$mode" = file ] && extra="--fileserver-token-file $T/token.txt" && unset NB_FILESERVER_TOKEN
    start_bg "tok$mode" listen t.tok --server "$URL" --fileserver "$F2" --json --count 1 --timeout 15 \
        --retries 2 --base-delay 10 --max-delay 50
    L=$BG_PID
    wait_for "$T/tok$mode.err" "listening on t.tok"
    expect_rc 0 send t.tok --server "$URL" --fileserver "$F2" $extra --sha256 \
        --text small=hi --link small --text direct=yes --json
    grep -q s3cret "$T/run.out" "$T/run.err" && fail "the token was printed ($mode)"
    wait_exit "$L" 15
    [ "$RC" = 0 ] || fail "listen ($mode) exited $RC"
    has "$T/tok$mode.out" '"dataname":"small","type":"text","transport":"link"'
    has "$T/tok$mode.out" '"data":"hi"'
done
expect_rc 1 send t.tok --server "$URL" --fileserver "$F2" --fileserver-token s3cret \
    --fileserver-token-file "$T/token.txt" --text small=hi --link small
has "$T/run.err" "not both"
expect_rc 1 send t.tok --server "$URL" --fileserver "$F2" --fileserver-token-file "$T/none" \
    --text small=hi --link small
has "$T/run.err" "--fileserver-token-file $T/none: No such file"
kill "$FS2"; wait "$FS2" 2>/dev/null || true
echo PASS
