#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two repliers outside any queue group answer every request, so a second reply reaches the
# requester's inbox as `request` returns and exits. nats.c 3.4.1 crashed on such a message
# for a destroyed subscription (about 1 request in 30 crashed with exit 139); the inbox is now
# retired until a later flush (src/nats/messaging.c, retire_inbox). 60 requests must all exit 0.
source "$(dirname "$0")/lib.sh" "$@"
start_server

start_bg ra reply t.late --server "$URL" --echo --no-queue
PA=$BG_PID
start_bg rb reply t.late --server "$URL" --echo --no-queue
PB=$BG_PID
wait_for "$T/ra.err" "listening on t.late"
wait_for "$T/rb.err" "listening on t.late"

for i in $(seq 60); do
    expect_rc 0 request t.late --server "$URL" --text "n=$i" --timeout 5
    has "$T/run.out" "\"$i\""
done
kill -INT "$PA" "$PB"
wait_exit "$PA" 5
[ "$RC" = 0 ] || fail "replier a exited $RC"
wait_exit "$PB" 5
[ "$RC" = 0 ] || fail "replier b exited $RC"
echo PASS
