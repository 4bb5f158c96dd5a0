#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natscli habits on send and request (issue 13): pub/sub/req, -J and -q, standard input
# through --file NAME=- (a 5 MB pipe by link, streamed; small stdin direct; :TYPE), the
# refusals (unknown :TYPE, duplicate datanames, wildcard subjects, two stdin payloads) with
# exit 1, the --allow-origin hint, the request prefix said once, --count/--interval with
# their summary, --msg-id on a core send, one JSON object from send --jetstream --json.
source "$(dirname "$0")/lib.sh" "$@"
start_server -js -sd "$T/js"

"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$F" ] || fail "no file server URL in: $(cat "$T/fs.out")"

json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' <"$1" || fail "$1 is not one JSON document"; }

# ---- aliases, shown in --help --------------------------------------------------------
expect_rc 0 --help
for alias in pub sub req; do has "$T/run.out" "  $alias "; done
expect_rc 0 pub --help
has "$T/run.out" "Usage: natsbridge send"
has "$T/run.out" "Examples:"
expect_rc 0 req --help
has "$T/run.out" "Usage: natsbridge request"
has "$T/run.out" "Examples:"

# ---- refusals: exit 1, one line naming what is wrong ----------------------------------
expect_rc 1 send t.x -s "$URL" --file "a=$T/x.bin:picture"
one_line "$T/run.err"
has "$T/run.err" "unknown type 'picture' in --file a=$T/x.bin:picture (types: text, dictionary,"
expect_rc 1 send t.x -s "$URL" --text a=1 --file "a=$T/fs.out"
one_line "$T/run.err"
has "$T/run.err" "payload name 'a' is given twice (--text and --file)"
for subject in 'a.*' 'a.>' '>' 'a..b' '.a' 'a.'; do
    for cmd in send req; do
        expect_rc 1 "$cmd" "$subject" -s "$URL" --text a=1
        one_line "$T/run.err"
        grep -qE "has the wildcard|has an empty token" "$T/run.err" ||
            fail "$cmd '$subject': $(cat "$T/run.err")"
    done
done
has "$T/run.err" "natsbridge req: SUBJECT 'a.' has an empty token"
expect_rc 1 request 'x.*.y' -s "$URL" --text a=1
has "$T/run.err" "natsbridge request: SUBJECT 'x.*.y' has the wildcard '*'"
expect_rc 1 pub 'x.>' -s "$URL" --text a=1
has "$T/run.err" "natsbridge pub: SUBJECT 'x.>' has the wildcard '>'"
echo hi | timeout 20 "$NB" send t.x -s "$URL" --file a=- --file b=/dev/stdin >"$T/run.out" 2>"$T/run.err"
[ $? = 1 ] || fail "two payloads from stdin were not refused"
has "$T/run.err" "standard input already feeds payload 'a'"
expect_rc 1 send t.x -s "$URL" --text a=1 --interval 10ms
has "$T/run.err" "--interval: only with --count N"
expect_rc 1 send t.x -s "$URL" --text a=1 --count 2 --interval 5parsecs
has "$T/run.err" "is not a duration"

# ---- standard input: 5 MB through a pipe goes by link, streamed -----------------------
head -c 5000000 /dev/urandom >"$T/big.bin"
SHA=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
start_bg big sub t.stdin -s "$URL" --fileserver "$F" -J --count 1 --timeout 20 --save-dir "$T/saved"
L=$BG_PID
wait_for "$T/big.err" "listening on t.stdin"
cat "$T/big.bin" | timeout 20 "$NB" pub t.stdin -s "$URL" --fileserver "$F" --file big=- \
    >"$T/run.out" 2>"$T/run.err" || fail "pub --file big=- failed: $(cat "$T/run.err")"
ID=$(cat "$T/run.out")
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "sub exited $RC"
has "$T/big.out" '"dataname":"big","type":"binary","transport":"link"'
has "$T/big.out" "\"size\":5000000,\"sha256\":\"$SHA\""
[ "$(sha256sum "$T/saved/$ID/big" | cut -d' ' -f1)" = "$SHA" ] || fail "saved stdin payload differs"
# no temporary file: only the file server's copy of the bytes exists besides ours
[ -z "$(find /tmp -maxdepth 2 -newer "$T/big.bin" -size +4M 2>/dev/null | grep -v "^$T")" ] ||
    fail "a temporary file of the stdin bytes was made"

# ... and into an Object Store bucket (--store), streamed too
start_bg os sub t.os -s "$URL" -J --count 1 --timeout 20 --save-dir "$T/saved-os" \
    --allow-origin nats-os://PIPED
L=$BG_PID
wait_for "$T/os.err" "listening on t.os"
cat "$T/big.bin" | timeout 20 "$NB" pub t.os -s "$URL" --store nats-os://PIPED --file big=- \
    >"$T/run.out" 2>"$T/run.err" || fail "pub --store --file big=- failed: $(cat "$T/run.err")"
ID=$(cat "$T/run.out")
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "sub (Object Store) exited $RC"
has "$T/os.out" '"transport":"link"'
has "$T/os.out" "\"size\":5000000,\"sha256\":\"$SHA\""
[ "$(sha256sum "$T/saved-os/$ID/big" | cut -d' ' -f1)" = "$SHA" ] || fail "stdin via the bucket differs"

# small stdin goes direct, /dev/stdin too; :TYPE works with -
start_bg small sub t.small -s "$URL" -J --count 3 --timeout 20
L=$BG_PID
wait_for "$T/small.err" "listening on t.small"
printf 'hello from a pipe' | timeout 20 "$NB" send t.small -s "$URL" --fileserver "$F" \
    --file note=-:text -q >"$T/run.out" 2>"$T/run.err" || fail "small stdin: $(cat "$T/run.err")"
[ -s "$T/run.out" ] && fail "-q printed: $(cat "$T/run.out")"
printf '\x89PNG' | timeout 20 "$NB" send t.small -s "$URL" --file img=/dev/stdin:image \
    >"$T/run.out" 2>"$T/run.err" || fail "/dev/stdin: $(cat "$T/run.err")"
# a file whose name really ends in ":word" (no such type) is that file
printf 'colon' >"$T/odd:picture"
expect_rc 0 send t.small -s "$URL" --file "odd=$T/odd:picture"
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "sub t.small exited $RC"
has "$T/small.out" '"dataname":"note","type":"text","transport":"direct"'
has "$T/small.out" '"data":"hello from a pipe"'
has "$T/small.out" '"dataname":"img","type":"image","transport":"direct"'
has "$T/small.out" '"dataname":"odd","type":"binary","transport":"direct","encoding":"base64","size":5'

# ---- -J, --msg-id on a core send -----------------------------------------------------
start_bg mid listen t.mid -s "$URL" --json --count 1 --timeout 20
L=$BG_PID
wait_for "$T/mid.err" "listening on t.mid"
expect_rc 0 send t.mid -s "$URL" --text a=1 --msg-id core-id-42 -J
json_ok "$T/run.out"
has "$T/run.out" '"msg_id":"core-id-42"'
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "listen t.mid exited $RC"
has "$T/mid.out" '"msg_id":"core-id-42"'

# ---- --count 50 arrives 50 times, each its own msg_id; --interval spaces them ----------
start_bg many sub t.many -s "$URL" -J --count 50 --timeout 30
L=$BG_PID
wait_for "$T/many.err" "listening on t.many"
expect_rc 0 send t.many -s "$URL" --text n=1 --count 50
[ "$(wc -l <"$T/run.out")" = 50 ] || fail "send --count 50 printed $(wc -l <"$T/run.out") msg_ids"
[ "$(sort -u "$T/run.out" | wc -l)" = 50 ] || fail "send --count 50 reused a msg_id"
has "$T/run.err" "natsbridge send: sent 50 messages ("
has "$T/run.err" "msg/s"
wait_exit "$L" 30
[ "$RC" = 0 ] || fail "sub --count 50 exited $RC"
[ "$(wc -l <"$T/many.out")" = 50 ] || fail "50 sent, $(wc -l <"$T/many.out") received"
start=$(date +%s%N)
expect_rc 0 send t.many -s "$URL" --text n=1 --count 5 --interval 100ms -q
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 400 ] || fail "--count 5 --interval 100ms took only $ms ms"
[ -s "$T/run.out" ] && fail "-q printed msg_ids"
[ -s "$T/run.err" ] && fail "-q printed the summary: $(cat "$T/run.err")"

# ---- request: the prefix once; -J; the --allow-origin hint -----------------------------
start_bg mute listen t.mute -s "$URL" -q --timeout 20
sleep 0.5
expect_rc 3 req t.mute -s "$URL" --text q=ping --timeout 0.5
one_line "$T/run.err"
has "$T/run.err" "natsbridge req: no reply to msg_id"
lacks "$T/run.err" "request: request:"
lacks "$T/run.err" "req: request:"
expect_rc 3 request t.mute -s "$URL" --text q=ping --timeout 0.5
has "$T/run.err" "natsbridge request: no reply to msg_id"
lacks "$T/run.err" "request: request:"
start_bg echo reply t.echo -s "$URL" --echo --count 1 --timeout 20
wait_for "$T/echo.err" "t.echo"
expect_rc 0 req t.echo -s "$URL" --text q=ping -J --timeout 5
json_ok "$T/run.out"
has "$T/run.out" '"data":"ping"'
start_bg deny listen t.deny -s "$URL" --json --timeout 5
L=$BG_PID
wait_for "$T/deny.err" "listening on t.deny"
expect_rc 0 send t.deny -s "$URL" --fileserver "$F" --text small=hi --link small
wait_exit "$L" 10
has "$T/deny.err" "not from an allowed origin"
has "$T/deny.err" "allow it with --allow-origin ORIGIN"

# a reply by link from an origin the requester does not allow: the timeout names the refusal
# and --allow-origin (the replier's file server is the same one under another origin)
FL=${F/127.0.0.1/localhost}
start_bg lecho reply t.lecho -s "$URL" --echo --count 1 --timeout 20 --fileserver "$FL" --threshold 1
wait_for "$T/lecho.err" "t.lecho"
expect_rc 3 req t.lecho -s "$URL" --fileserver "$F" --text q=ping --timeout 3
one_line "$T/run.err"
has "$T/run.err" "natsbridge req: no reply to msg_id"
has "$T/run.err" "refused"
has "$T/run.err" "not from an allowed origin"
has "$T/run.err" "allow it with --allow-origin ORIGIN"
lacks "$T/run.err" "req: request:"

# ---- send --jetstream --json: one JSON document, the envelope with an "ack" member ------
expect_rc 0 stream add HABITS --subjects 'habits.>' -s "$URL"
expect_rc 0 send habits.one -s "$URL" --text a=1 --jetstream --json --msg-id js-1
json_ok "$T/run.out"
python3 - "$T/run.out" <<'EOF' || fail "send --jetstream --json: $(cat "$T/run.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["msg_id"] == "js-1", doc
assert doc["ack"] == {"stream": "HABITS", "seq": 1, "duplicate": False}, doc["ack"]
EOF
expect_rc 0 send habits.one -s "$URL" --text a=1 --jetstream -J --msg-id js-1
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ack"]["duplicate"] is True' \
    <"$T/run.out" || fail "the duplicate is not reported: $(cat "$T/run.out")"
echo PASS
