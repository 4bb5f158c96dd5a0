#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# request + reply --echo: the reply holds the same payloads; no responder exits 2; a
# responder that never answers exits 3; a message without reply_to is reported, not answered.
source "$(dirname "$0")/lib.sh" "$@"
start_server

head -c 3000 /dev/urandom >"$T/blob.bin"
start_bg echo reply t.echo --server "$URL" --echo --count 2 --timeout 15
R=$BG_PID
wait_for "$T/echo.err" "listening on t.echo"

# a message without reply_to: reported by the responder and not counted
expect_rc 0 send t.echo --server "$URL" --text lost=1
NOREPLY=$(cat "$T/run.out")
wait_for "$T/echo.err" "message $NOREPLY has no reply_to"

expect_rc 0 request t.echo --server "$URL" --json --text q=ping --dict d='{"n":[1,2]}' \
    --file "blob=$T/blob.bin:image" --correlation-id corr-9
cp "$T/run.out" "$T/reply1.json"
[ "$(wc -l <"$T/reply1.json")" = 1 ] || fail "request --json is not one line"
has "$T/reply1.json" '"correlation_id":"corr-9"'
has "$T/reply1.json" '"dataname":"q","type":"text"'
has "$T/reply1.json" '"data":"ping"'
has "$T/reply1.json" '"data":{"n":[1,2]}'
has "$T/reply1.json" "\"dataname\":\"blob\",\"type\":\"image\""
has "$T/reply1.json" "\"size\":3000,\"sha256\":\"$(sha256sum "$T/blob.bin" | cut -d' ' -f1)\""
grep -q '"reply_to_msg_id":"[0-9a-f-]\{36\}"' "$T/reply1.json" || fail "no reply_to_msg_id"
[ "$(grep -o '"dataname":"[^"]*"' "$T/reply1.json" | tr -d '\n')" = \
    '"dataname":"q""dataname":"d""dataname":"blob"' ] || fail "reply payload order"

# human format, and the second answer ends the responder (--count 2)
expect_rc 0 request t.echo --server "$URL" --text q=again
has "$T/run.out" '  "q" text direct 5 bytes "again"'
wait_exit "$R" 10
[ "$RC" = 0 ] || fail "reply --count 2 exited $RC"
[ "$(grep -c '^natsbridge reply: answered ' "$T/echo.err")" = 2 ] || fail "not two answers"

# a responder stops on SIGTERM with exit 0
start_bg term reply t.term --server "$URL" --echo
P=$BG_PID
wait_for "$T/term.err" "listening on t.term"
kill -TERM "$P"
wait_exit "$P" 5
[ "$RC" = 0 ] || fail "reply exited $RC on SIGTERM"

# nobody listening: exit 2, one line naming it
expect_rc 2 request t.nobody --server "$URL" --text q=ping --timeout 5
one_line "$T/run.err"
has "$T/run.err" "natsbridge request: "
grep -qi "responders" "$T/run.err" || fail "no-responders message: $(cat "$T/run.err")"

# a listener that never answers: exit 3 after the timeout
start_bg mute listen t.mute --server "$URL" --timeout 15
wait_for "$T/mute.err" "listening on t.mute"
start=$(date +%s%N)
expect_rc 3 request t.mute --server "$URL" --text q=ping --timeout 0.5
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] || fail "request --timeout 0.5 took $ms ms"
one_line "$T/run.err"
has "$T/run.err" "natsbridge request: "
echo PASS
