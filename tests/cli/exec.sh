#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reply --exec: the command gets the request as one listen --json line on stdin and its
# stdout is the "result" text payload; non-UTF-8 output goes as binary; a non-zero exit is
# an error reply (request exits 2; tests/cli/reply_exec.sh has the rest of the protocol);
# big input and output both flow.
source "$(dirname "$0")/lib.sh" "$@"
start_server

# exec_once NAME CMD REQUEST-ARGS...: one request answered by `reply --exec CMD --count 1`;
# request must exit $WANT (default 0).
exec_once() {
    local name=$1 cmd=$2
    shift 2
    start_bg "$name" reply "t.$name" --server "$URL" --exec "$cmd" --count 1 --timeout 15
    local r=$BG_PID
    wait_for "$T/$name.err" "listening on t.$name"
    expect_rc "${WANT:-0}" request "t.$name" --server "$URL" --json --timeout 10 "$@"
    cp "$T/run.out" "$T/$name.reply"
    wait_exit "$r" 10
    [ "$RC" = 0 ] || fail "reply --exec '$cmd' exited $RC"
}

exec_once upper 'tr a-z A-Z' --text q=hello
has "$T/upper.reply" '"dataname":"result","type":"text"'
has "$T/upper.reply" '\"DATANAME\":\"Q\",\"TYPE\":\"TEXT\"'
has "$T/upper.reply" '\"DATA\":\"HELLO\"'
lacks "$T/upper.reply" '"exit_status"'

# the input is exactly one JSON line ending in a newline
exec_once count 'wc -l' --text q=x --dict d='{"a":"b"}'
has "$T/count.reply" '"data":"1\n"'

WANT=2 exec_once fails 'cat >/dev/null; echo partial; exit 3' --text q=x
has "$T/fails.reply" '"msg_purpose":"error"'
has "$T/fails.reply" '"metadata":{"reason":"exit","exit_status":3}'
has "$T/fails.reply" '"data":"the command exited with status 3"'
lacks "$T/fails.reply" 'partial'
has "$T/fails.err" "the command exited with status 3"

exec_once binary "cat >/dev/null; printf 'ok\\377\\376'" --text q=x
has "$T/binary.reply" '"dataname":"result","type":"binary","transport":"direct"'
has "$T/binary.reply" '"size":4'
lacks "$T/binary.reply" '"data":'
has "$T/binary.err" "not valid UTF-8: sent as binary"

# a command that writes 300 KB before reading 600 KB of input: no deadlock
head -c 450000 /dev/zero | tr '\0' 'a' >"$T/big.txt"
exec_once big "head -c 300000 /dev/zero | tr '\\0' b; wc -c" --file "t=$T/big.txt:text"
grep -q '"size":3000[0-9][0-9]' "$T/big.reply" || fail "big output lost: $(head -c 300 "$T/big.reply")"
has "$T/big.reply" 'bbbbbbbb'

# a command that does not read its input at all
exec_once deaf 'echo deaf' --file "t=$T/big.txt:text"
has "$T/deaf.reply" '"data":"deaf\n"'
echo PASS
