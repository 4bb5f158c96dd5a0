#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --server takes a comma-separated list: send and listen reach the live server
# among dead ones, and a bad element is refused naming its position and text.
source "$(dirname "$0")/../cli/lib.sh" "$@"
start_server

# Ports nobody listens on (privileged, unused on a test machine: tcpmux and discard).
D1=1 D2=9
LIST="nats://127.0.0.1:$D1, $URL ,nats://127.0.0.1:$D2"

start_bg listen listen t.list --server "$LIST" --count 1 --timeout 15
L=$BG_PID
wait_for "$T/listen.err" "listening on t.list"
expect_rc 0 send t.list --server "$LIST" --text greeting=hello
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen over a server list exited $RC"
has "$T/listen.out" "hello"

# No live server in the list: refused, naming the servers.
run send t.list --server "nats://127.0.0.1:$D1,nats://127.0.0.1:$D2" --text a=1
[ "$RC" != 0 ] || fail "send to dead servers succeeded"
has "$T/run.err" "127.0.0.1:$D2"

# Bad elements: named by position, before any connection attempt.
run send t.list --server "$URL,http://127.0.0.1:$D1" --text a=1
[ "$RC" != 0 ] || fail "http:// in the list was accepted"
has "$T/run.err" "server 2 of the list: 'http://127.0.0.1:$D1'"
one_line "$T/run.err"
run send t.list --server "$URL,,$URL" --text a=1
[ "$RC" != 0 ] || fail "an empty element was accepted"
has "$T/run.err" "server 2 of the list: empty"
run listen t.list --server "$URL," --count 1 --timeout 1
[ "$RC" != 0 ] || fail "a trailing comma was accepted by listen"
has "$T/run.err" "server 2 of the list: empty"
echo PASS
