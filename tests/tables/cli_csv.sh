#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# send --csv converts a CSV (RFC 4180 quoting, header row, inferred types, empty cells null)
# into a table payload; listen prints it as aligned text columns, first 10 rows or --rows N.
source "$(dirname "$0")/../cli/lib.sh" "$@"
start_server

printf '%s\r\n' 'id,name,score,ok,note' \
    '1,alice,1.5,true,"comma, inside"' \
    '2,"bob ""the"" builder",,false,' \
    '-3,,2e3,TRUE,"two' 'lines"' \
    '9223372036854775807,日本語,-0.25,,plain' >"$T/people.csv"
for i in $(seq 1 30); do echo "$i,row$i"; done | sed '1i n,label' >"$T/long.csv"
printf 'w,n\nＡＢ,1\ne\xcc\x81,2\n\xc2\x9b[31m,3\n%s,4\n' "$(printf '%.0s語' $(seq 30))" >"$T/wide.csv"

start_bg listen listen t.csv --server "$URL" --count 2 --timeout 15
L=$BG_PID
wait_for "$T/listen.err" "listening on t.csv"
expect_rc 0 send t.csv --server "$URL" --csv "people=$T/people.csv" --csv "wide=$T/wide.csv"
expect_rc 0 send t.csv --server "$URL" --csv "long=$T/long.csv"
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"

O="$T/listen.out"
has "$O" '"people" table direct'
# header, types, then the rows; numbers right-aligned, text left-aligned, nulls spelled out,
# control characters (the CRLF inside the quoted field) shown as '?'
has "$O" '    id                   name               score    ok     note'
has "$O" '    int64                utf8               float64  bool   utf8'
has "$O" '                      1  alice                  1.5  true   comma, inside'
has "$O" '                      2  bob "the" builder     null  false  null'
has "$O" '                     -3  null                2000.0  true   two??lines'
# aligned by display width: 日本語 takes six terminal columns, not three
has "$O" '    9223372036854775807  日本語               -0.25  null   plain'
# fullwidth letters count two, a combining accent none, a C1 control (CSI) is '?', and a
# long cell is cut at 40 columns: the "w" column is 39 wide (18 wide characters and "...")
sp() { printf '%*s' "$1" ''; }
has "$O" "    w$(sp 40)n"
has "$O" "    ＡＢ$(sp 41)1"
has "$O" "    $(printf 'e\xcc\x81')$(sp 44)2"
has "$O" "    ?[31m$(sp 40)3"
has "$O" "    $(printf '%.0s語' $(seq 18))...$(sp 6)4"
has "$O" '    (4 rows, 5 columns)'
# the long table: 10 rows shown by default
has "$O" '    (30 rows, 2 columns, first rows shown; see --rows)'
has "$O" '    10  row10'
lacks "$O" 'row11'

# --rows 2 and --rows 0
start_bg listen2 listen t.csv2 --server "$URL" --count 1 --timeout 15 --rows 2
L=$BG_PID
wait_for "$T/listen2.err" "listening on t.csv2"
expect_rc 0 send t.csv2 --server "$URL" --csv "long=$T/long.csv" --text note=hi
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen --rows 2 exited $RC"
has "$T/listen2.out" '     2  row2'
lacks "$T/listen2.out" 'row3'
has "$T/listen2.out" '"note" text direct 2 bytes "hi"'
echo PASS
