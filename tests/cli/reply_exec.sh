#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reply (issue 13): repliers share requests in natscli's default queue group (--queue
# overrides, --no-queue opts out); --exec gets the request in NB_* variables; answers with an
# answer document (text, dictionary, a file sent by link through the file server); a failing,
# killed, timed-out or too talkative command and a bad document each give the requester an
# error reply (exit 2) with the command's stderr or the document's fault.
source "$(dirname "$0")/lib.sh" "$@"
start_server

# replier NAME SUBJECT ARGS...: `reply SUBJECT ARGS...` in the background, listening; pid in R.
replier() {
    local name=$1 subject=$2
    shift 2
    start_bg "$name" reply "$subject" --server "$URL" --timeout 60 "$@"
    R=$BG_PID
    wait_for "$T/$name.err" "listening on $subject"
}

# stop PID...: SIGINT (exit 0 for reply), bounded.
stop() {
    local pid
    kill -INT "$@"
    for pid in "$@"; do
        wait_exit "$pid" 10
        [ "$RC" = 0 ] || fail "replier $pid exited $RC on SIGINT"
    done
}

# finish PID: a replier that was to stop by itself (--count) exits 0, bounded.
finish() {
    wait_exit "$1" 10
    [ "$RC" = 0 ] || fail "replier $1 exited $RC"
}

# answered NAME: how many requests replier NAME answered.
answered() { grep -c '^natsbridge reply: answered ' "$T/$1.err"; }

# ---- the default queue group: two repliers answer each of 20 requests once
replier qa t.queue --echo
QA=$R
has "$T/qa.err" "listening on t.queue in queue group NATS-RPLY-22"
replier qb t.queue --echo
QB=$R
for i in $(seq 20); do
    expect_rc 0 request t.queue --server "$URL" --text "n=$i" --timeout 5 --json
    has "$T/run.out" "\"data\":\"$i\""
done
sleep 0.5 # a second answer, if any, would be logged now
stop "$QA" "$QB"
total=$(($(answered qa) + $(answered qb)))
[ "$total" = 20 ] || fail "20 requests got $total answers in the default queue group"
echo "default queue group: replier a answered $(answered qa), b $(answered qb)"

# --queue NAME overrides; --no-queue: both answer every request
replier nqa t.noqueue --echo --no-queue
NQA=$R
lacks "$T/nqa.err" "queue group"
replier nqb t.noqueue --echo --queue mine
NQB=$R
has "$T/nqb.err" "listening on t.noqueue in queue group mine"
replier nqc t.noqueue --echo --no-queue
NQC=$R
for i in $(seq 5); do
    expect_rc 0 request t.noqueue --server "$URL" --text "n=$i" --timeout 5
done
wait_lines "$T/nqa.err" 6 # "listening" and five "answered"
wait_lines "$T/nqc.err" 6
sleep 0.3
stop "$NQA" "$NQB" "$NQC"
[ "$(answered nqa)" = 5 ] && [ "$(answered nqb)" = 5 ] && [ "$(answered nqc)" = 5 ] ||
    fail "--no-queue: answers $(answered nqa), $(answered nqc) (and --queue mine: $(answered nqb)), not 5 each"
expect_rc 1 reply t.x --echo --queue a --no-queue
has "$T/run.err" "give --queue GROUP or --no-queue, not both"

# ---- the environment: request fields and small text payloads; inherited NB_* dropped
head -c 70000 /dev/zero | tr '\0' x >"$T/big.txt"
cat >"$T/env.sh" <<'EOF'
cat >/dev/null
printf 'subject=%s\nmsg_id=%s\ncorr=%s\nsender=%s\nreply_to=%s\nq=%s\nodd=%s\n' \
    "$NB_SUBJECT" "$NB_MSG_ID" "$NB_CORRELATION_ID" "$NB_SENDER_NAME" "$NB_REPLY_TO" \
    "$NB_TEXT_Q" "$NB_TEXT_MY_NAME_X"
printf 'big=%s\nstale=%s\ndict=%s\n' "${NB_TEXT_BIG-unset}" "${NB_TEXT_STALE-unset}" "${NB_TEXT_D-unset}"
EOF
NB_TEXT_STALE=old NB_SUBJECT=bogus replier env t.env --exec "sh $T/env.sh" --count 1
E=$R
expect_rc 0 request t.env --server "$URL" --json --correlation-id C-42 --sender-name bob \
    --text q=hello --text 'my-name.x=two words' --file "big=$T/big.txt:text" --dict 'd={"k":1}'
finish "$E"
ID=$(grep -o '"reply_to_msg_id":"[^"]*"' "$T/run.out" | cut -d'"' -f4)
[ -n "$ID" ] || fail "no reply_to_msg_id in the reply"
for want in 'subject=t.env\n' "msg_id=$ID\\n" 'corr=C-42\n' 'sender=bob\n' 'reply_to=_INBOX.' \
    'q=hello\n' 'odd=two words\n' 'big=unset\n' 'stale=unset\n' 'dict=unset\n'; do
    has "$T/run.out" "$want"
done

# ---- an answer document: text, dictionary, a file by link (threshold) and a small one by
# ---- "link": true; the requester gets it whole through the file server
"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
head -c 300000 /dev/urandom >"$T/report.bin"
SHA=$(sha256sum "$T/report.bin" | cut -d' ' -f1)
printf 'small' >"$T/small.txt"
cat >"$T/doc.sh" <<EOF
cat >/dev/null
printf '%s\n' '{"natsbridge_reply": 1,
  "payloads": [
    {"dataname": "summary", "type": "text", "text": "for \$NB_TEXT_Q"},
    {"dataname": "stats", "type": "dictionary", "value": {"rows": 3, "ok": true}},
    {"dataname": "report", "type": "binary", "path": "$T/report.bin", "metadata": {"kind": "raw"}},
    {"dataname": "note", "type": "text", "path": "$T/small.txt", "link": true}],
  "metadata": {"job": 7}}'
EOF
replier doc t.doc --exec "sh $T/doc.sh" --count 1 --fileserver "$F" --threshold 100000
D=$R
expect_rc 0 request t.doc --server "$URL" --json --allow-origin "$F" --text q=x --timeout 10
finish "$D"
has "$T/run.out" '"metadata":{"job":7}'
has "$T/run.out" '"dataname":"summary","type":"text","transport":"direct"'
has "$T/run.out" '"data":"for $NB_TEXT_Q"'
has "$T/run.out" '"dataname":"stats","type":"dictionary"'
has "$T/run.out" '"data":{"rows":3,"ok":true}'
has "$T/run.out" "\"dataname\":\"report\",\"type\":\"binary\",\"transport\":\"link\""
has "$T/run.out" "\"size\":300000,\"sha256\":\"$SHA\""
has "$T/run.out" '"dataname":"note","type":"text","transport":"link"'
has "$T/run.out" '"data":"small"'
lacks "$T/run.out" '"msg_purpose":"error"'

# an answer that cannot be sent (its link's file server is down): an error reply, not silence
cp "$T/doc.sh" "$T/down.sh"
replier down t.down --exec "sh $T/down.sh" --count 1 --fileserver "http://127.0.0.1:1" \
    --threshold 100000 --retries 0
P=$R
expect_rc 2 request t.down --server "$URL" --json --text q=x --timeout 15
has "$T/run.err" "natsbridge request: t.down answered with an error: the command's answer could not be sent: payloads[2] 'report': upload to http://127.0.0.1:1 failed"
has "$T/run.out" '"metadata":{"reason":"send"}'
finish "$P"

# JSON without the marker is plain text, as before answer documents
replier plainjson t.plain --exec 'cat >/dev/null; echo "{\"a\":1}"' --count 1
P=$R
expect_rc 0 request t.plain --server "$URL" --json --text q=x
finish "$P"
has "$T/run.out" '"dataname":"result","type":"text"'
has "$T/run.out" '"data":"{\"a\":1}\n"'

# ---- failures: exit 2 at the requester, with the command's stderr (its last 4 KiB)
# expect_error SUBJECT MESSAGE REQUEST-ARGS...: the request answers an error holding MESSAGE.
expect_error() {
    local subject=$1 msg=$2
    shift 2
    expect_rc 2 request "$subject" --server "$URL" --json --timeout 10 "$@"
    has "$T/run.err" "natsbridge request: $subject answered with an error: $msg"
    has "$T/run.out" '"msg_purpose":"error"'
    has "$T/run.out" '"dataname":"error","type":"text"'
}

replier fail t.fail --exec 'cat >/dev/null; echo partial; echo "disk full" >&2; exit 5' --count 1
P=$R
expect_error t.fail "the command exited with status 5: disk full" --text q=x
has "$T/run.out" '"metadata":{"reason":"exit","exit_status":5}'
lacks "$T/run.out" partial
finish "$P"
has "$T/fail.err" "the command exited with status 5: disk full"

replier sig t.sig --exec 'echo dying >&2; kill -TERM $$' --count 1
P=$R
expect_error t.sig "the command was killed by signal 15: dying" --text q=x
has "$T/run.out" '"metadata":{"reason":"signal","exit_status":143}'
finish "$P"

# stderr over 4 KiB: its end arrives, bounded
replier chatty t.chatty --exec 'head -c 20000 /dev/zero | tr "\0" e >&2; printf "\nthe real cause\n" >&2; exit 1' --count 1
P=$R
expect_error t.chatty "the command exited with status 1: eeee" --text q=x
has "$T/run.err" "the real cause" # the last line of its stderr, on a line of its own
size=$(grep -o '"size":[0-9]*' "$T/run.out" | tail -1 | cut -d: -f2)
[ "$size" -le 4200 ] || fail "the error text is $size bytes: stderr not bounded to 4 KiB"
finish "$P"

# --exec-timeout: killed with what it started (its process group), answered at once
replier slow t.slow --exec 'sleep 37.25 & wait' --exec-timeout 0.5 --count 1
P=$R
start=$(date +%s%N)
expect_error t.slow "the command did not finish within 0.500 s (--exec-timeout)" --text q=x
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] || fail "the timed-out request took $ms ms"
has "$T/run.out" '"reason":"timeout"'
finish "$P"
for i in $(seq 40); do pgrep -f 'sleep 37.25' >/dev/null || break; sleep 0.05; done
! pgrep -f 'sleep 37.25' >/dev/null || fail "the timed-out command's child is still running"
expect_rc 1 reply t.x --exec true --exec-timeout 0
has "$T/run.err" "--exec-timeout: must be at least 0.001 seconds"
expect_rc 1 reply t.x --echo --exec-timeout 5
has "$T/run.err" "--exec-timeout and --exec-max-output go with --exec, not --echo"

# --exec-max-output
replier big t.big --exec 'head -c 50000 /dev/zero | tr "\0" a' --exec-max-output 1000 --count 1
P=$R
expect_error t.big "the command's output is over the 1000-byte limit (--exec-max-output)" --text q=x
has "$T/run.out" '"reason":"output_limit"'
finish "$P"

# ---- bad answer documents: each fault named; the case comes in NB_TEXT_CASE
cat >"$T/bad.sh" <<EOF
cat >/dev/null
case "\$NB_TEXT_CASE" in
version) echo '{"natsbridge_reply": 2, "payloads": []}' ;;
member) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "text", "text": "x"},
        {"dataname": "b", "type": "text", "text": "y", "colour": "red"}]}' ;;
top) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "text", "text": "x"}], "extra": 1}' ;;
dup) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "text", "text": "x"},
        {"dataname": "a", "type": "text", "text": "y"}]}' ;;
type) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "picture", "path": "/x"}]}' ;;
two) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "text", "text": "x", "path": "/x"}]}' ;;
nofile) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "binary", "path": "$T/missing.bin"}]}' ;;
empty) echo '{"natsbridge_reply": 1, "payloads": []}' ;;
twice) echo '{"natsbridge_reply": 1, "payloads": [{"dataname": "a", "type": "text", "text": "x", "text": "y"}]}' ;;
esac
EOF
replier bad t.bad --exec "sh $T/bad.sh" --count 9
P=$R
expect_error t.bad 'bad answer document: "natsbridge_reply": must be 1' --text case=version
has "$T/run.out" '"metadata":{"reason":"bad_answer","exit_status":0}'
expect_error t.bad 'bad answer document: payloads[1]: unknown member "colour"' --text case=member
expect_error t.bad 'bad answer document: the answer document: unknown member "extra"' --text case=top
expect_error t.bad 'bad answer document: payloads[1].dataname: "a" is already payloads[0]'"'"'s' --text case=dup
expect_error t.bad 'bad answer document: payloads[0].type: must be one of' --text case=type
expect_error t.bad 'bad answer document: payloads[0]: give exactly one of "text", "value" or "path"' --text case=two
expect_error t.bad "bad answer document: payloads[0]: " --text case=nofile
has "$T/run.err" "missing.bin"
expect_error t.bad 'bad answer document: "payloads": must be a non-empty array' --text case=empty
expect_error t.bad 'bad answer document: payloads[0]: member "text" given twice' --text case=twice
finish "$P"
# no sanitizer report from any replier (ASan/UBSan builds)
! grep -l "Sanitizer\|runtime error" "$T"/*.err || fail "a sanitizer report in the logs above"
echo PASS
