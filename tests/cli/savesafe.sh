#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --save-dir safety (issue 11 items 7 and 12): saved payloads are 0600 and their directories
# 0700 whatever the umask; a message directory others may write to is refused; a second
# message that reuses a msg_id with a bad checksum is refused without deleting (or
# replacing) the first message's verified file.
source "$(dirname "$0")/lib.sh" "$@"
start_server
umask 022

"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$F" ] || fail "no file server URL in: $(cat "$T/fs.out")"

# raw_publish SUBJECT BODY: publishes BODY as is, over the NATS text protocol.
raw_publish() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot reach nats-server"
    local info
    IFS= read -r -t 5 info <&3 || fail "no INFO from nats-server"
    printf 'CONNECT {"verbose":false,"pedantic":false}\r\nPUB %s %d\r\n%s\r\nPING\r\n' \
        "$1" "${#2}" "$2" >&3
    IFS= read -r -t 5 info <&3 # PONG: the server has the message
    exec 3<&-
}

head -c 300000 /dev/urandom >"$T/big.bin"
D="$T/saved"
start_bg listen listen t.safe --server "$URL" --fileserver "$F" --json --count 2 \
    --timeout 20 --save-dir "$D"
L=$BG_PID
wait_for "$T/listen.err" "listening on t.safe"

# 1. a link payload (streamed by the library) and a direct one (written by the CLI)
expect_rc 0 send t.safe --server "$URL" --fileserver "$F" --file "big=$T/big.bin" --link big \
    --text note=hi --json
FIRST=$(cat "$T/run.out")
ID=$(printf '%s' "$FIRST" | grep -o '"msg_id":"[^"]*"' | cut -d'"' -f4)
[ -n "$ID" ] || fail "no msg_id in: $FIRST"
wait_lines "$T/listen.out" 1
cmp "$T/big.bin" "$D/$ID/big" || fail "first message's link payload not saved"
[ "$(stat -c %a "$D")" = 700 ] || fail "save dir is $(stat -c %a "$D"), expected 700"
[ "$(stat -c %a "$D/$ID")" = 700 ] || fail "message dir is $(stat -c %a "$D/$ID"), expected 700"
[ "$(stat -c %a "$D/$ID/big")" = 600 ] || fail "link payload is $(stat -c %a "$D/$ID/big")"
[ "$(stat -c %a "$D/$ID/note")" = 600 ] || fail "direct payload is $(stat -c %a "$D/$ID/note")"

# 2. the same msg_id again, the same link, a wrong sha256: refused, the first file intact
BAD=$(printf '%s' "$FIRST" | sed 's/"sha256":"[0-9a-f]*"/"sha256":"'"$(printf '0%.0s' $(seq 64))"'"/')
[ "$BAD" != "$FIRST" ] || fail "no sha256 to corrupt in: $FIRST"
raw_publish t.safe "$BAD"
wait_for "$T/listen.err" "sha256 mismatch"
cmp "$T/big.bin" "$D/$ID/big" || fail "the first message's verified file was deleted or replaced"
[ "$(ls -A "$D/$ID" | sort | tr '\n' ' ')" = "big note " ] ||
    fail "leftovers in $D/$ID: $(ls -A "$D/$ID")"

# 3. a message directory others may write to (planted before the message) is refused
mkdir -p "$D/evil" && chmod 777 "$D/evil"
raw_publish t.safe '{"correlation_id":"c","msg_id":"evil","payloads":[{"dataname":"x","type":"text","transport":"direct","data":"aGk="}]}'
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/listen.err" "$D/evil' belongs to another user or others may write to it: payloads not saved"
[ -z "$(ls -A "$D/evil")" ] || fail "a payload was written into $D/evil"
echo PASS
