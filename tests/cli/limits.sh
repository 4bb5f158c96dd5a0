#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Receive limits (issue 11): listen refuses a message over --max-payloads or --max-dataname
# with one line naming the limit, its value, the setter and the flag, and goes on; a bad
# limit value is a usage error; reply and request accept the same flags.
source "$(dirname "$0")/lib.sh" "$@"
start_server

expect_rc 1 listen t.lim --server "$URL" --max-payloads 0
has "$T/run.err" "--max-payloads: 0 is not between 1 and"
expect_rc 1 listen t.lim --server "$URL" --max-metadata-depth 3000000000
has "$T/run.err" "--max-metadata-depth: 3000000000 is not between 1 and 2147483647"
for cmd in reply request; do
    expect_rc 0 $cmd --help
    for flag in --max-payloads --max-link-bytes --max-dataname --max-metadata-depth \
        --max-envelope-bytes; do
        has "$T/run.out" "$flag"
    done
done

start_bg listen listen t.lim --server "$URL" --json --count 1 --timeout 15 \
    --max-payloads 2 --max-dataname 8 --max-metadata-depth 2
L=$BG_PID
wait_for "$T/listen.err" "listening on t.lim"
expect_rc 0 send t.lim --server "$URL" --text a=1 --text b=2 --text c=3
wait_for "$T/listen.err" "envelope: 3 payloads exceed the limit of 2 (nb_options_set_max_payloads, --max-payloads)"
expect_rc 0 send t.lim --server "$URL" --text ninechars=1
wait_for "$T/listen.err" "dataname is 9 bytes, over the limit of 8 (nb_options_set_max_dataname, --max-dataname)"
expect_rc 0 send t.lim --server "$URL" --text a=1 --metadata '{"x":{"y":{}}}'
wait_for "$T/listen.err" "envelope: metadata nests deeper than the limit of 2 levels (nb_options_set_max_metadata_depth, --max-metadata-depth)"
expect_rc 0 send t.lim --server "$URL" --text a=1 --text eightchr=2 --metadata '{"x":{}}'
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"
one_line "$T/listen.out"
has "$T/listen.out" '"dataname":"eightchr"'
[ "$(grep -c 'bad message skipped' "$T/listen.err")" = 3 ] || fail "expected 3 refusals"
echo PASS
