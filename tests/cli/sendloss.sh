#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Publisher loss is visible (issue 11 item 10): a real nats-server that drops a published
# message (its PUB line is over max_control_line, so the server closes the connection
# instead of taking it) makes `send` exit 2 naming the loss, where it used to exit 0; a
# message the server took still exits 0.
source "$(dirname "$0")/lib.sh" "$@"
printf 'max_control_line: 512\n' >"$T/server.conf"
start_server -c "$T/server.conf"

LONG=$(printf 's%.0s' $(seq 600))
expect_rc 2 send "$LONG" --server "$URL" --text a=b
has "$T/run.err" "natsbridge send: the message may not have reached the server: confirm: 1 envelope published since the last confirmation not confirmed by the server"
[ -s "$T/run.out" ] && fail "a msg_id was printed for a message the server did not take"

expect_rc 0 send t.fine --server "$URL" --text a=b
grep -qE '^[0-9a-f-]{36}$' "$T/run.out" || fail "no msg_id printed: $(cat "$T/run.out")"
echo PASS
