#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# send + listen --json: text, dictionary and file payloads arrive with the right type,
# size, sha256 and data; payload order and envelope fields are kept; send prints the
# msg_id, and send --json the envelope as published.
source "$(dirname "$0")/lib.sh" "$@"
start_server

printf 'line one\nline two\n' >"$T/notes.txt"
head -c 5000 /dev/urandom >"$T/blob.bin"
printf '{"k": [1, 2, {"z": null}]}\n' >"$T/cfg.json"
printf 'colon' >"$T/we:ird" # a ':' in a path is a type separator only before a type name
sha() { sha256sum "$1" | cut -d' ' -f1; }
# field LINE KEY: the string value of the first "KEY":"..." in LINE.
field() { grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | head -1 | cut -d'"' -f4; }

start_bg listen listen t.rt --server "$URL" --json --count 4 --timeout 15
L=$BG_PID
wait_for "$T/listen.err" "listening on t.rt"

expect_rc 0 send t.rt --server "$URL" --text greeting="hello world"
ID1=$(cat "$T/run.out")
[[ $ID1 =~ ^[0-9a-f-]{36}$ ]] || fail "send printed '$ID1', not a msg_id"
expect_rc 0 send t.rt --server "$URL" --dict 'cfg={"a":1,"b":[true,null],"c":"x"}' \
    --dict "file=@$T/cfg.json"
expect_rc 0 send t.rt --server "$URL" --file "blob=$T/blob.bin" --file "notes=$T/notes.txt:text" \
    --file "colon=$T/we:ird" --file "colon2=$T/we:ird:image"
expect_rc 0 send t.rt --server "$URL" --json --text a=1 --dict b='{}' --text=c=3 \
    --purpose ask --correlation-id corr-1 --sender-name tester --receiver-name rx \
    --receiver-id rx-1 --reply-to-msg-id earlier --metadata '{"trace":7}'
cp "$T/run.out" "$T/sent.json"

wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen --count 4 exited $RC"
[ "$(wc -l <"$T/listen.out")" = 4 ] || fail "listen printed $(wc -l <"$T/listen.out") lines, not 4"
for i in 0 1 2 3; do sed -n "$((i + 1))p" "$T/listen.out" >"$T/line$i"; done

# 1: text
has "$T/line0" "\"msg_id\":\"$ID1\""
has "$T/line0" '"send_to":"t.rt"'
has "$T/line0" "\"broker_url\":\"$URL\""
has "$T/line0" '"payloads":[{"dataname":"greeting","type":"text","transport":"direct","encoding":"'
has "$T/line0" '"size":11,"sha256":"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9","data":"hello world"}'
for k in correlation_id timestamp msg_purpose sender_name sender_id receiver_name receiver_id \
    reply_to reply_to_msg_id; do
    has "$T/line0" "\"$k\":\""
done
has "$T/line0" '"metadata":{}'

# 2: dictionaries, data is the JSON value itself
has "$T/line1" '"dataname":"cfg","type":"dictionary"'
has "$T/line1" '"data":{"a":1,"b":[true,null],"c":"x"}'
has "$T/line1" '"data":{"k":[1,2,{"z":null}]}'

# 3: files: binary has no data, text has its text; sizes and sha256 of the files
has "$T/line2" "\"dataname\":\"blob\",\"type\":\"binary\",\"transport\":\"direct\""
has "$T/line2" "\"size\":5000,\"sha256\":\"$(sha "$T/blob.bin")\"}"
has "$T/line2" '"dataname":"colon","type":"binary","transport":"direct","encoding":"base64","size":5'
has "$T/line2" '"dataname":"colon2","type":"image","transport":"direct","encoding":"base64","size":5'
has "$T/line2" "\"size\":18,\"sha256\":\"$(sha "$T/notes.txt")\",\"data\":\"line one\\nline two\\n\"}"

# 4: order kept, envelope fields as given
[ "$(grep -o '"dataname":"[^"]*"' "$T/line3" | tr -d '\n')" = '"dataname":"a""dataname":"b""dataname":"c"' ] ||
    fail "payload order not kept: $(cat "$T/line3")"
for f in '"msg_purpose":"ask"' '"correlation_id":"corr-1"' '"sender_name":"tester"' \
    '"receiver_name":"rx"' '"receiver_id":"rx-1"' '"reply_to_msg_id":"earlier"' '"metadata":{"trace":7}'; do
    has "$T/line3" "$f"
done

# send --json printed the envelope as published: one line, the same msg_id
[ "$(wc -l <"$T/sent.json")" = 1 ] || fail "send --json is not one line"
has "$T/sent.json" '"send_to":"t.rt"'
has "$T/sent.json" '"payloads":['
[ "$(field "$(cat "$T/sent.json")" msg_id)" = "$(field "$(cat "$T/line3")" msg_id)" ] ||
    fail "send --json msg_id differs from the one received"
echo PASS
