#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# listen reports a message that is not an envelope on stderr (one line) and goes on.
source "$(dirname "$0")/lib.sh" "$@"
start_server

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

start_bg listen listen t.bad --server "$URL" --json --count 1 --timeout 15
L=$BG_PID
wait_for "$T/listen.err" "listening on t.bad"
raw_publish t.bad 'this is not json'
wait_lines "$T/listen.err" 2
raw_publish t.bad '{"msg_id":"x"}'
wait_lines "$T/listen.err" 3
expect_rc 0 send t.bad --server "$URL" --text good=yes
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/listen.out" '"data":"yes"'
[ "$(wc -l <"$T/listen.out")" = 1 ] || fail "bad messages printed on stdout"
[ "$(grep -c '^natsbridge listen: bad message skipped: ' "$T/listen.err")" = 2 ] ||
    fail "bad messages not reported one line each"
echo PASS
