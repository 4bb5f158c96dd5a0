#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# listen --save-dir: each payload's bytes land in DIR/<msg_id>/<dataname>, identical to
# what was sent, and are reported as "path"; an unsafe dataname is refused with one
# error line while the other payloads are still saved.
source "$(dirname "$0")/lib.sh" "$@"
start_server

head -c 200000 /dev/urandom >"$T/big.bin"
printf 'plain text\n' >"$T/plain.txt"
D="$T/saved/deeper"

start_bg listen listen t.save --server "$URL" --json --count 1 --timeout 15 --save-dir "$D/"  # a trailing slash must not double in the paths
L=$BG_PID
wait_for "$T/listen.err" "listening on t.save"
expect_rc 0 send t.save --server "$URL" --file "big=$T/big.bin" --text '../x=escape' \
    --file "plain.txt=$T/plain.txt:text" --text 'a\b=back' --text '..=dots' \
    --dict 'conf={"z":[1]}'
ID=$(cat "$T/run.out")
wait_exit "$L" 15
[ "$RC" = 0 ] || fail "listen exited $RC"

cmp "$T/big.bin" "$D/$ID/big" || fail "saved big differs"
cmp "$T/plain.txt" "$D/$ID/plain.txt" || fail "saved plain.txt differs"
[ "$(cat "$D/$ID/conf")" = '{"z":[1]}' ] || fail "saved conf: $(cat "$D/$ID/conf")"
has "$T/listen.out" "\"path\":\"$D/$ID/big\""
has "$T/listen.out" "\"path\":\"$D/$ID/plain.txt\""

# the unsafe names: refused, one line each, nothing written anywhere
[ -e "$D/x" ] || [ -e "$T/saved/x" ] && fail "../x escaped the directory"
for name in '"../x"' '"a\\b"' '".."'; do
    [ "$(grep -cF "payload $name: not a safe file name" "$T/listen.err")" = 1 ] ||
        fail "no refusal line for $name"
done
[ "$(ls -A "$D/$ID" | sort | tr '\n' ' ')" = "big conf plain.txt " ] ||
    fail "unexpected files: $(ls -A "$D/$ID")"
# the refused payloads are still printed, without a path
[ "$(grep -o '"path"' "$T/listen.out" | wc -l)" = 3 ] || fail "expected 3 paths"
has "$T/listen.out" '"dataname":"../x","type":"text"'
echo PASS
