#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# exactjson (issue 16, "Exact JSON"): a dictionary travels as the sender's bytes and
# `listen` prints those bytes, in --json and inline, so that integers beyond a
# double's 53 bits and the largest double keep every digit.
source "$(dirname "$0")/lib.sh" "$@"
start_server

DICT='{"big":9007199254740993,"max":9223372036854775807,"dbl":1.7976931348623157e+308,"neg":-0.0}'

start_bg js listen t.exact --server "$URL" --json --count 1 --timeout 15
L=$BG_PID
wait_for "$T/js.err" "listening on t.exact"
expect_rc 0 send t.exact --server "$URL" --dict cfg="$DICT"
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen --json exited $RC"
has "$T/js.out" "\"data\":$DICT"
python3 -c 'import json,sys; json.loads(sys.stdin.readline())' <"$T/js.out" ||
    fail "--json line is not JSON"

start_bg hu listen t.exact2 --server "$URL" --count 1 --timeout 15
L=$BG_PID
wait_for "$T/hu.err" "listening on t.exact2"
expect_rc 0 send t.exact2 --server "$URL" --dict cfg="$DICT"
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/hu.out" "  \"cfg\" dictionary direct ${#DICT} bytes $DICT"
echo PASS
