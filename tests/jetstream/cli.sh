#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# JetStream from the CLI: stream add/info/rm, send --jetstream (ack, dedupe by --msg-id),
# listen --jetstream --durable (acks what it printed; the durable resumes where it stopped;
# --from-seq / --new), and usage errors that name the flag, against a real nats-server -js.
source "$(dirname "$0")/../cli/lib.sh" "$@"

# Usage errors need no server: exit 1, one line naming the flag.
expect_rc 1 stream add ORDERS
has "$T/run.err" "--subjects is required"
expect_rc 1 stream add bad.name --subjects x
has "$T/run.err" "NAME 'bad.name'"
expect_rc 1 stream add ORDERS --subjects 'a,,b'
has "$T/run.err" "an empty subject in 'a,,b'"
expect_rc 1 stream add ORDERS --subjects a --storage disk
has "$T/run.err" "'disk' is neither file nor memory"
expect_rc 1 stream add ORDERS --subjects a --replicas 9
has "$T/run.err" "--replicas: 9 is not between 1 and 5"
expect_rc 1 stream info
has "$T/run.err" "missing NAME after 'info'"
expect_rc 1 stream shrink ORDERS
has "$T/run.err" "unknown action 'shrink'"
expect_rc 1 send orders.new --text a=b --stream ORDERS # --msg-id alone is a core send's msg_id (issue 13)
has "$T/run.err" "--stream: only with --jetstream"
expect_rc 1 listen orders.new --jetstream --all --last
has "$T/run.err" "give at most one"
expect_rc 1 listen orders.new --durable d
has "$T/run.err" "--durable: only with --jetstream"
expect_rc 1 listen orders.new --jetstream --durable d --new --from-seq 2
has "$T/run.err" "give at most one"
expect_rc 1 listen orders.new --jetstream --durable d --from-time 'last tuesday'
has "$T/run.err" "--from-time: 'last tuesday' is neither an RFC 3339 time"
expect_rc 1 listen orders.new --jetstream --durable d --from-time 2999-01-01T00:00:00Z
has "$T/run.err" "--from-time: 2999-01-01T00:00:00Z is after 2262"
expect_rc 1 listen orders.new --jetstream --durable d --from-seq 0
has "$T/run.err" "--from-seq: 0 is not between 1"
one_line "$T/run.err"
expect_rc 1 listen orders.new --jetstream --durable d --from-time 2026-02-31T00:00:00Z
has "$T/run.err" "--from-time: '2026-02-31T00:00:00Z' is neither an RFC 3339 time"
expect_rc 1 listen orders.new --jetstream --durable d --ack-wait 2592001
has "$T/run.err" "--ack-wait: 2592001 seconds is longer than 30 days"
expect_rc 1 stream add "$(printf 'N%.0s' $(seq 300))" --subjects a
has "$T/run.err" "longer than 255 bytes"
expect_rc 1 stream add ORDERS --subjects 'orders.>,a b'
has "$T/run.err" "--subjects: 'orders.>,a b' holds whitespace"
one_line "$T/run.err"

# JetStream, with a store directory of its own.
start_server -js -sd "$T/nats/js"

# stream add: created, then checked; a difference is named.
expect_rc 0 stream add ORDERS --subjects 'orders.>,audit' --server "$URL" --dupe-window 60
has "$T/run.out" "created stream ORDERS"
expect_rc 0 stream add ORDERS --subjects 'audit,orders.>' --server "$URL"
has "$T/run.out" "exists with these settings"
expect_rc 2 stream add ORDERS --subjects 'orders.>' --storage memory --server "$URL"
has "$T/run.err" "storage file (asked memory)"
has "$T/run.err" "subjects [orders.>, audit] (asked [orders.>])"

# Every setting reaches the server.
expect_rc 0 stream add TEMP --subjects 'temp.a,temp.b' --storage memory --replicas 1 --max-age 30 \
    --dupe-window 10 --server "$URL"
expect_rc 0 stream info TEMP --json --server "$URL"
has "$T/run.out" '"subjects":["temp.a","temp.b"],"storage":"memory","replicas":1,"max_age":30,"dupe_window":10'
expect_rc 0 stream info TEMP --server "$URL"
has "$T/run.out" "max age      30.000 s"
expect_rc 0 stream rm TEMP --server "$URL" --quiet -f
[ -s "$T/run.out" ] && fail "stream rm --quiet printed: $(cat "$T/run.out")"
expect_rc 0 help stream
has "$T/run.out" "natsbridge stream add NAME --subjects"

# send --jetstream prints msg_id, stream and sequence; the same --msg-id is a duplicate.
expect_rc 0 send orders.new --text item=first --jetstream --server "$URL"
[[ $(cat "$T/run.out") =~ ^[0-9a-f-]{36}\ stream\ ORDERS\ seq\ 1$ ]] || fail "send printed: $(cat "$T/run.out")"
expect_rc 0 send orders.new --text item=second --jetstream --msg-id order-2 --server "$URL"
has "$T/run.out" "order-2 stream ORDERS seq 2"
expect_rc 0 send orders.new --text item=again --jetstream --msg-id order-2 --server "$URL"
has "$T/run.out" "order-2 stream ORDERS seq 2 duplicate"
expect_rc 0 send orders.new --text item=third --jetstream --json --server "$URL" --stream ORDERS
has "$T/run.out" ',"ack":{"stream":"ORDERS","seq":3,"duplicate":false}}' # one JSON object (issue 13)
has "$T/run.out" '"send_to":"orders.new"'
expect_rc 2 send nowhere --text a=b --jetstream --server "$URL"
has "$T/run.err" "no stream holds this subject"
has "$T/run.err" "(natsbridge stream ls shows the streams; natsbridge stream add NAME --subjects SUBJECT makes one)"

expect_rc 0 stream info ORDERS --server "$URL"
has "$T/run.out" "stream ORDERS"
has "$T/run.out" "subjects     orders.>, audit"
has "$T/run.out" "messages     3"
has "$T/run.out" "dupe window  60.000 s"
expect_rc 0 stream info ORDERS --json --server "$URL"
has "$T/run.out" '"name":"ORDERS","subjects":["orders.>","audit"],"storage":"file","replicas":1'
has "$T/run.out" '"messages":3'

# listen --jetstream --durable: prints and acks 2, then resumes at the third.
expect_rc 0 listen 'orders.>' --jetstream --durable shipper --count 2 --timeout 10 --json --server "$URL"
[ "$(wc -l <"$T/run.out")" = 2 ] || fail "listen --count 2 printed $(wc -l <"$T/run.out") lines"
has "$T/run.out" '"data":"first"'
has "$T/run.out" '"data":"second"'
expect_rc 0 listen 'orders.>' --jetstream --durable shipper --count 1 --timeout 10 --server "$URL"
has "$T/run.out" '"third"'
has "$T/run.out" "stream ORDERS seq 3, delivery "
lacks "$T/run.out" '"first"'
# Nothing left for this durable: a timeout (exit 3).
expect_rc 3 listen 'orders.>' --jetstream --durable shipper --timeout 1 --server "$URL"

# Replay: a new durable from sequence 2; a --new durable sees only later messages.
expect_rc 0 listen 'orders.>' --jetstream --durable replayer --from-seq 2 --count 2 --timeout 10 --json --server "$URL"
has "$T/run.out" '"data":"second"'
has "$T/run.out" '"data":"third"'
lacks "$T/run.out" '"data":"first"'
start_bg fresh listen 'orders.>' --jetstream --durable latecomer --new --count 1 --timeout 15 --json --server "$URL"
F=$BG_PID
wait_for "$T/fresh.err" "listening on orders.>"
expect_rc 0 send orders.new --text item=fourth --jetstream --server "$URL"
wait_exit "$F" 15
[ "$RC" = 0 ] || fail "listen --new exited $RC"
has "$T/fresh.out" '"data":"fourth"'
lacks "$T/fresh.out" '"data":"third"'
# From a time (RFC 3339, any offset): long ago gives all four; the future gives none.
expect_rc 0 listen 'orders.>' --jetstream --durable past --from-time 2000-01-01T00:00:00.5+02:00 \
    --count 4 --timeout 10 --json --server "$URL"
[ "$(wc -l <"$T/run.out")" = 4 ] || fail "listen --from-time (past) printed $(wc -l <"$T/run.out") lines"
expect_rc 3 listen 'orders.>' --jetstream --durable future --from-time 2200-12-31T23:59:59Z \
    --timeout 1 --server "$URL"
# A durable cannot be moved: a different start is named.
expect_rc 2 listen 'orders.>' --jetstream --durable shipper --from-seq 1 --timeout 1 --server "$URL"
has "$T/run.err" "durable 'shipper' exists with start 'all'"
# ... and names a command that exists and deletes it.
has "$T/run.err" "natsbridge consumer rm ORDERS shipper"
expect_rc 0 consumer rm ORDERS shipper -f --server "$URL"
expect_rc 0 listen 'orders.>' --jetstream --durable shipper --from-seq 3 --count 1 --timeout 10 --json --server "$URL"
has "$T/run.out" '"data":"third"'

# Interrupted (SIGINT) while waiting: exit 0, and what it printed was acked.
start_bg tail listen 'orders.>' --jetstream --durable tail --new --json --server "$URL"
TL=$BG_PID
wait_for "$T/tail.err" "listening on orders.>"
expect_rc 0 send orders.new --text item=fifth --jetstream --server "$URL"
wait_for "$T/tail.out" '"data":"fifth"'
kill -INT "$TL"
wait_exit "$TL" 10
[ "$RC" = 0 ] || fail "listen --jetstream interrupted exited $RC"
expect_rc 3 listen 'orders.>' --jetstream --durable tail --timeout 1 --server "$URL"

expect_rc 0 stream rm ORDERS --server "$URL" -f
has "$T/run.out" "deleted stream ORDERS"
expect_rc 2 stream info ORDERS --server "$URL"
has "$T/run.err" "no such stream"
expect_rc 2 stream rm ORDERS --server "$URL" --force
echo PASS
