#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two listeners in one --queue group share 10 messages: each arrives exactly once overall.
source "$(dirname "$0")/lib.sh" "$@"
start_server

start_bg q1 listen t.queue --server "$URL" --queue workers --json --timeout 20
P1=$BG_PID
start_bg q2 listen t.queue --server "$URL" --queue workers --json --timeout 20
P2=$BG_PID
wait_for "$T/q1.err" "listening on t.queue in queue group workers"
wait_for "$T/q2.err" "listening on t.queue in queue group workers"

: >"$T/sent.ids"
for i in $(seq 10); do
    expect_rc 0 send t.queue --server "$URL" --text "n=$i"
    cat "$T/run.out" >>"$T/sent.ids"
done

# wait until the ten arrived between them, then stop both (SIGINT: exit 0)
for i in $(seq 200); do
    [ "$(cat "$T/q1.out" "$T/q2.out" | wc -l)" -ge 10 ] && break
    sleep 0.05
done
sleep 0.3 # a duplicate, if any, would show up now
kill -INT "$P1" "$P2"
wait_exit "$P1" 5
[ "$RC" = 0 ] || fail "listener 1 exited $RC"
wait_exit "$P2" 5
[ "$RC" = 0 ] || fail "listener 2 exited $RC"

cat "$T/q1.out" "$T/q2.out" | grep -o '"msg_id":"[^"]*"' | cut -d'"' -f4 | sort >"$T/got.ids"
sort "$T/sent.ids" >"$T/want.ids"
[ "$(wc -l <"$T/got.ids")" = 10 ] || fail "got $(wc -l <"$T/got.ids") messages, not 10"
cmp -s "$T/got.ids" "$T/want.ids" || fail "received ids differ from sent ids"
echo "listener 1: $(wc -l <"$T/q1.out"), listener 2: $(wc -l <"$T/q2.out")"
echo PASS
