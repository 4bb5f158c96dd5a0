#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# listen --json gives a table payload "rows" and "columns"; --save-dir writes it as
# NAME.arrows (and NAME.csv with --csv); --file NAME=PATH.arrows:table sends such a file
# again, by link too, and it reads back the same.
source "$(dirname "$0")/../cli/lib.sh" "$@"
start_server

printf '%s\n' 'a,b,c' '1,x,true' '2,"y,z",' ',"",false' >"$T/t.csv"
D="$T/saved"

start_bg listen listen t.json --server "$URL" --json --count 1 --timeout 15 --save-dir "$D" --csv
L=$BG_PID
wait_for "$T/listen.err" "listening on t.json"
expect_rc 0 send t.json --server "$URL" --csv "tbl=$T/t.csv"
ID=$(cat "$T/run.out")
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/listen.out" '"dataname":"tbl","type":"table"'
has "$T/listen.out" '"rows":3,"columns":[{"name":"a","type":"int64"},{"name":"b","type":"utf8"},{"name":"c","type":"bool"}]'
has "$T/listen.out" "\"path\":\"$D/$ID/tbl.arrows\""
[ -s "$D/$ID/tbl.arrows" ] || fail "no tbl.arrows"
[ "$(head -c 4 "$D/$ID/tbl.arrows" | od -An -tx1 | tr -d ' ')" = ffffffff ] ||
    fail "tbl.arrows does not start with the continuation marker"
printf 'a,b,c\r\n1,x,true\r\n2,"y,z",\r\n,"",false\r\n' >"$T/want.csv"
cmp "$T/want.csv" "$D/$ID/tbl.csv" || fail "tbl.csv differs: $(cat -A "$D/$ID/tbl.csv")"

# the saved .arrows sent again with --file, directly and by link (built-in file server)
"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "http://"
FS=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$FS" ] || fail "no file server URL in: $(cat "$T/fs.out")"
start_bg listen2 listen t.json2 --server "$URL" --json --count 1 --timeout 15 --fileserver "$FS" \
    --save-dir "$T/saved2"
L=$BG_PID
wait_for "$T/listen2.err" "listening on t.json2"
expect_rc 0 send t.json2 --server "$URL" --fileserver "$FS" \
    --file "again=$D/$ID/tbl.arrows:table" --file "linked=$D/$ID/tbl.arrows:table" --link linked
ID2=$(cat "$T/run.out")
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen 2 exited $RC"
[ "$(grep -o '"rows":3,"columns":\[{"name":"a","type":"int64"}' "$T/listen2.out" | wc -l)" = 2 ] ||
    fail "both payloads should show rows and columns"
has "$T/listen2.out" '"dataname":"linked","type":"table","transport":"link"'
cmp "$D/$ID/tbl.arrows" "$T/saved2/$ID2/again.arrows" || fail "again.arrows differs"
cmp "$D/$ID/tbl.arrows" "$T/saved2/$ID2/linked.arrows" || fail "linked.arrows differs"

# type inference corners: a BOM, CRLF, no final line end; leading zeros stay text (ZIP codes),
# "-0" and "+7" are int64, exponents float64, TRUE a bool, 20 digits a float64, 1e999 text;
# a header-only file is a table of 0 rows
printf '\xef\xbb\xbfzip,neg0,sci,flag,big,huge,lead\r\n02134,-0,1e3,true,99999999999999999999,1e999,0.5\r\n10001,+7,-2.5E-3,TRUE,1,2,0' >"$T/corners.csv"
printf 'only,header\n' >"$T/header.csv"
start_bg listen3 listen t.json3 --server "$URL" --json --count 1 --timeout 15
L=$BG_PID
wait_for "$T/listen3.err" "listening on t.json3"
expect_rc 0 send t.json3 --server "$URL" --csv "corners=$T/corners.csv" --csv "empty=$T/header.csv"
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen 3 exited $RC"
has "$T/listen3.out" '"rows":2,"columns":[{"name":"zip","type":"utf8"},{"name":"neg0","type":"int64"},{"name":"sci","type":"float64"},{"name":"flag","type":"bool"},{"name":"big","type":"float64"},{"name":"huge","type":"utf8"},{"name":"lead","type":"float64"}]'
has "$T/listen3.out" '"rows":0,"columns":[{"name":"only","type":"utf8"},{"name":"header","type":"utf8"}]'
echo PASS
