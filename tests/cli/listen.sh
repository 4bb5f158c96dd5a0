#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# listen: --count N exits 0 after N messages; --timeout exits 3 after printing what came;
# SIGINT and SIGTERM exit 0; the human summary names msg_id, sender and each payload.
source "$(dirname "$0")/lib.sh" "$@"
start_server

# --timeout with nothing arriving: exit 3, bounded
start=$(date +%s%N)
expect_rc 3 listen t.none --server "$URL" --timeout 0.5
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 450 ] && [ "$ms" -lt 5000 ] || fail "--timeout 0.5 took $ms ms"
[ -s "$T/run.out" ] && fail "listen printed with nothing sent"

# --count 2: exit 0 after two, human format
start_bg count listen t.count --server "$URL" --count 2 --timeout 15
L=$BG_PID
wait_for "$T/count.err" "listening on t.count"
expect_rc 0 send t.count --server "$URL" --sender-name alice --text greeting="hi there" \
    --dict cfg='{"a":1}'
ID=$(cat "$T/run.out")
expect_rc 0 send t.count --server "$URL" --text n=2
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen --count 2 exited $RC"
has "$T/count.out" "message \"$ID\" from \"alice\" on \"t.count\", 2 payloads"
has "$T/count.out" '  "greeting" text direct 8 bytes "hi there"'
has "$T/count.out" '  "cfg" dictionary direct 7 bytes'
[ "$(grep -c '^message ' "$T/count.out")" = 2 ] || fail "not two messages"

# --timeout after some messages: what came is printed, then exit 3
start_bg some listen t.some --server "$URL" --json --timeout 2
L=$BG_PID
wait_for "$T/some.err" "listening on t.some"
expect_rc 0 send t.some --server "$URL" --text only=one
wait_exit "$L" 10
[ "$RC" = 3 ] || fail "listen --timeout 2 exited $RC after one message"
has "$T/some.out" '"data":"one"'

# SIGINT and SIGTERM: exit 0
for sig in INT TERM; do
    start_bg "sig$sig" listen t.sig --server "$URL"
    L=$BG_PID
    wait_for "$T/sig$sig.err" "listening on t.sig"
    kill -"$sig" "$L"
    wait_exit "$L" 5
    [ "$RC" = 0 ] || fail "listen exited $RC on SIG$sig"
done
echo PASS
