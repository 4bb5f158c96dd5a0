#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# JetStream management from the CLI (issue 13): stream ls/purge (--subject, --keep)/edit,
# consumer ls/info/rm, confirmation (rm and purge refused without -f when stdin is not a
# terminal), and ephemeral `listen --jetstream` from --all, --last, --new, --since and
# --from-time (a duration and RFC 3339), against a real nats-server -js; the question itself
# on a pseudo-terminal (script(1)).
source "$(dirname "$0")/../cli/lib.sh" "$@"

# Usage errors need no server: exit 1, one line naming what is wrong.
expect_rc 1 consumer
has "$T/run.err" "missing ls, info or rm"
expect_rc 1 consumer ls
has "$T/run.err" "missing STREAM after 'ls'"
expect_rc 1 consumer info ORDERS
has "$T/run.err" "missing NAME after 'info ORDERS'"
expect_rc 1 consumer rm ORDERS bad.name -f
has "$T/run.err" "NAME 'bad.name'"
expect_rc 1 consumer drop ORDERS x
has "$T/run.err" "unknown action 'drop': ls, info or rm"
expect_rc 1 stream edit ORDERS
has "$T/run.err" "nothing to change"
expect_rc 1 stream edit ORDERS --max-msgs 0
has "$T/run.err" "--max-msgs: 0 is not between 1"
expect_rc 1 stream edit ORDERS --dupe-window 0
has "$T/run.err" "--dupe-window: must be more than 0 seconds"
expect_rc 1 stream purge ORDERS --keep 0
has "$T/run.err" "--keep: 0 is not between 1"
expect_rc 1 stream ls extra
has "$T/run.err" "unexpected argument 'extra'"
expect_rc 1 listen orders.a --jetstream --since 1x
has "$T/run.err" "--since: '1x' is not a duration"
expect_rc 1 listen orders.a --jetstream --since 1h --new
has "$T/run.err" "give at most one"
expect_rc 1 listen orders.a --last
has "$T/run.err" "only with --jetstream"
# Without a terminal and without -f: refused before anything is done, naming -f.
expect_rc 1 stream rm ORDERS </dev/null
has "$T/run.err" "delete stream ORDERS with all its messages and consumers?: not confirmed"
has "$T/run.err" "add -f (--force)"
one_line "$T/run.err"
expect_rc 0 help consumer
has "$T/run.out" "natsbridge consumer rm ORDERS shipper -f"
expect_rc 0 stream --help
has "$T/run.out" "natsbridge stream purge ORDERS --subject orders.test --keep 10 -f"

start_server -js -sd "$T/nats/js"
S=(--server "$URL")

expect_rc 0 stream ls "${S[@]}"
[ -s "$T/run.out" ] && fail "stream ls with no stream printed: $(cat "$T/run.out")"
expect_rc 0 stream ls -J "${S[@]}"
[ "$(cat "$T/run.out")" = "[]" ] || fail "stream ls -J with no stream: $(cat "$T/run.out")"

expect_rc 0 stream add ORDERS --subjects 'orders.>' "${S[@]}"
expect_rc 0 stream add OTHER --subjects 'other.>' --storage memory "${S[@]}"
for i in 1 2 3 4 5 6; do expect_rc 0 send orders.a --text n=a$i --jetstream "${S[@]}"; done
for i in 1 2 3 4; do expect_rc 0 send orders.b --text n=b$i --jetstream "${S[@]}"; done

# stream ls: one line per stream with its messages; -J an array of `stream info --json`.
expect_rc 0 stream ls "${S[@]}"
grep -Eq '^ORDERS +10 +[0-9]+ +orders\.>$' "$T/run.out" || fail "stream ls: $(cat "$T/run.out")"
grep -Eq '^OTHER +0 +0 +other\.>$' "$T/run.out" || fail "stream ls: $(cat "$T/run.out")"
expect_rc 0 stream ls --json "${S[@]}"
has "$T/run.out" '{"name":"ORDERS","subjects":["orders.>"],"storage":"file"'
has "$T/run.out" '"messages":10'
has "$T/run.out" '{"name":"OTHER","subjects":["other.>"],"storage":"memory"'

# purge: refused without -f (nothing purged), then --subject with --keep, then the rest.
expect_rc 1 stream purge ORDERS --subject orders.a --keep 2 "${S[@]}" </dev/null
has "$T/run.err" "purge all messages but the newest 2 on orders.a from stream ORDERS?: not confirmed"
expect_rc 0 stream info ORDERS --json "${S[@]}"
has "$T/run.out" '"messages":10'
expect_rc 0 stream purge ORDERS --subject orders.a --keep 2 -f "${S[@]}"
has "$T/run.out" "purged 4 messages from stream ORDERS"
expect_rc 0 listen 'orders.a' --jetstream --all --count 2 --timeout 10 --json "${S[@]}"
has "$T/run.out" '"data":"a5"'
has "$T/run.out" '"data":"a6"'
expect_rc 0 stream purge ORDERS --subject 'orders.*' --force "${S[@]}"
has "$T/run.out" "purged 6 messages from stream ORDERS"
expect_rc 2 stream purge NOPE -f "${S[@]}"
has "$T/run.err" "no such stream"

# edit: what was given changes, the rest stays; the server's refusal is named.
expect_rc 0 stream edit ORDERS --subjects 'orders.>,returns.>' --max-msgs 100 --max-bytes 1000000 \
    --max-age 3600 --dupe-window 30 -J "${S[@]}"
has "$T/run.out" '"subjects":["orders.>","returns.>"],"storage":"file","replicas":1,"max_age":3600,"dupe_window":30'
has "$T/run.out" '"max_msgs":100,"max_bytes":1000000'
expect_rc 0 stream edit ORDERS --max-msgs unlimited "${S[@]}"
has "$T/run.out" "max age      3600.000 s"
lacks "$T/run.out" "max msgs"
has "$T/run.out" "max bytes    1000000"
expect_rc 0 stream edit ORDERS --max-age 0 --max-bytes unlimited --quiet "${S[@]}"
[ -s "$T/run.out" ] && fail "stream edit --quiet printed: $(cat "$T/run.out")"
expect_rc 0 stream info ORDERS "${S[@]}"
has "$T/run.out" "max age      unlimited"
lacks "$T/run.out" "max bytes"
has "$T/run.out" "subjects     orders.>, returns.>"
expect_rc 2 stream edit ORDERS --subjects 'other.x' "${S[@]}"
has "$T/run.err" "update stream 'ORDERS'"
has "$T/run.err" "overlap"
expect_rc 2 stream edit NOPE --max-age 10 "${S[@]}"
has "$T/run.err" "no such stream"

# consumer ls/info/rm round trip with a durable.
expect_rc 0 consumer ls ORDERS -J "${S[@]}"
[ "$(cat "$T/run.out")" = "[]" ] || fail "consumer ls -J with none: $(cat "$T/run.out")"
for i in 1 2 3; do expect_rc 0 send orders.a --text n=c$i --jetstream "${S[@]}"; done
expect_rc 0 listen 'orders.a' --jetstream --durable shipper --count 1 --timeout 10 --json "${S[@]}"
has "$T/run.out" '"data":"c1"'
expect_rc 0 consumer ls ORDERS "${S[@]}"
grep -Eq '^shipper +durable +[0-9]+ +[0-9]+ +orders\.a$' "$T/run.out" || fail "consumer ls: $(cat "$T/run.out")"
expect_rc 0 consumer ls ORDERS --json "${S[@]}"
has "$T/run.out" '[{"stream":"ORDERS","name":"shipper","durable":true,"pull":true,"subject":"orders.a","start":"all"'
expect_rc 0 consumer info ORDERS shipper "${S[@]}"
has "$T/run.out" "consumer shipper on stream ORDERS"
has "$T/run.out" "kind         durable pull consumer"
has "$T/run.out" "ack wait     30.000 s"
expect_rc 0 consumer info ORDERS shipper -J "${S[@]}"
has "$T/run.out" '"ack_wait":30,"max_deliver":-1'
expect_rc 1 consumer rm ORDERS shipper "${S[@]}" </dev/null
has "$T/run.err" "delete consumer shipper of stream ORDERS?: not confirmed"
expect_rc 0 consumer info ORDERS shipper "${S[@]}"
expect_rc 0 consumer rm ORDERS shipper -f "${S[@]}"
has "$T/run.out" "deleted consumer shipper of stream ORDERS"
expect_rc 2 consumer info ORDERS shipper "${S[@]}"
has "$T/run.err" "no such consumer"
expect_rc 2 consumer rm ORDERS shipper -f "${S[@]}"
expect_rc 2 consumer ls NOPE "${S[@]}"
has "$T/run.err" "no such stream"

# Ephemeral listens: a fresh stream with batch A, a pause, then batch B.
expect_rc 0 stream add EPH --subjects 'eph.>' "${S[@]}"
for i in 1 2 3; do expect_rc 0 send eph.x --text n=A$i --jetstream "${S[@]}"; done
sleep 1.2
MIDDLE=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1.2
for i in 1 2; do expect_rc 0 send eph.x --text n=B$i --jetstream "${S[@]}"; done

expect_rc 0 listen 'eph.>' --jetstream --all --count 5 --timeout 10 --json "${S[@]}"
[ "$(wc -l <"$T/run.out")" = 5 ] || fail "--all printed $(wc -l <"$T/run.out") lines"
has "$T/run.out" '"data":"A1"'
# Without a start flag: all of them too.
expect_rc 0 listen 'eph.>' --jetstream --stream EPH --count 5 --timeout 10 --json "${S[@]}"
has "$T/run.out" '"data":"A1"'
has "$T/run.out" '"data":"B2"'
# --last: only the newest; asking for two times out after one (exit 3).
expect_rc 3 listen 'eph.>' --jetstream --last --count 2 --timeout 2 --json "${S[@]}"
[ "$(wc -l <"$T/run.out")" = 1 ] || fail "--last printed $(wc -l <"$T/run.out") lines"
has "$T/run.out" '"data":"B2"'
# --since and --from-time as a duration: a window that holds batch C and not what came 4 s
# before it. The window is what passed since just before C was sent plus 1.5 s, so a slow start
# (sanitizers, a busy machine) neither cuts C nor reaches back to the older messages.
for start in --since --from-time; do
    sleep 4
    BEFORE=$(date +%s%3N)
    for i in 1 2; do expect_rc 0 send eph.x --text n=C$i --jetstream "${S[@]}"; done
    WINDOW=$(($(date +%s%3N) - BEFORE + 1500))ms
    expect_rc 3 listen 'eph.>' --jetstream "$start" "$WINDOW" --count 3 --timeout 2 --json "${S[@]}"
    [ "$(wc -l <"$T/run.out")" = 2 ] || fail "$start $WINDOW printed $(wc -l <"$T/run.out") lines"
    has "$T/run.out" '"data":"C1"'
    has "$T/run.out" '"data":"C2"'
done
# --since a long time: everything (5 + 2 + 2).
expect_rc 0 listen 'eph.>' --jetstream --since 1h --count 9 --timeout 10 --json "${S[@]}"
[ "$(wc -l <"$T/run.out")" = 9 ] || fail "--since 1h printed $(wc -l <"$T/run.out") lines"
# --from-time RFC 3339: from the middle of the pause, batch B and what came after.
expect_rc 0 listen 'eph.>' --jetstream --from-time "$MIDDLE" --count 6 --timeout 10 --json "${S[@]}"
lacks "$T/run.out" '"data":"A'
has "$T/run.out" '"data":"B1"'
# --new: only what is sent after it started.
start_bg fresh listen 'eph.>' --jetstream --new --count 1 --timeout 15 --json "${S[@]}"
F=$BG_PID
wait_for "$T/fresh.err" "listening on eph.> (JetStream, an ephemeral consumer)"
expect_rc 0 consumer ls EPH "${S[@]}"
grep -Eq '^[A-Za-z0-9]+ +ephemeral ' "$T/run.out" || fail "consumer ls: $(cat "$T/run.out")"
expect_rc 0 consumer ls EPH -J "${S[@]}"
has "$T/run.out" '"durable":false'
has "$T/run.out" '"start":"new"'
has "$T/run.out" '"inactive_threshold":30'
expect_rc 0 send eph.x --text n=D1 --jetstream "${S[@]}"
wait_exit "$F" 15
[ "$RC" = 0 ] || fail "listen --new exited $RC"
has "$T/fresh.out" '"data":"D1"'
[ "$(wc -l <"$T/fresh.out")" = 1 ] || fail "--new printed $(wc -l <"$T/fresh.out") lines"
# Every ephemeral went with its listener, also one stopped by SIGINT.
start_bg tail listen 'eph.>' --jetstream --new "${S[@]}"
TL=$BG_PID
wait_for "$T/tail.err" "listening on eph.>"
kill -INT "$TL"
wait_exit "$TL" 10
[ "$RC" = 0 ] || fail "interrupted ephemeral listen exited $RC"
expect_rc 0 consumer ls EPH -J "${S[@]}"
[ "$(cat "$T/run.out")" = "[]" ] || fail "ephemeral consumers left: $(cat "$T/run.out")"

# On a terminal (script(1) gives one): it asks, and only y or yes goes on.
command -v script >/dev/null || fail "script (util-linux) is needed for the terminal test"
on_tty() { # ANSWER ARGS...: natsbridge ARGS on a pseudo-terminal answering ANSWER; sets RC
    local answer=$1
    shift
    printf '%s\n' "$answer" | timeout 20 script -qec "$(printf '%q ' "$NB" "$@")" /dev/null \
        >"$T/tty.out" 2>&1
    RC=$?
}
expect_rc 0 stream add ASK --subjects ask "${S[@]}"
on_tty n stream rm ASK "${S[@]}"
[ "$RC" = 1 ] || fail "stream rm answered n exited $RC"
has "$T/tty.out" "delete stream ASK with all its messages and consumers? [y/N]"
has "$T/tty.out" "not confirmed: nothing done"
expect_rc 0 stream info ASK "${S[@]}"
on_tty YES stream rm ASK "${S[@]}"
[ "$RC" = 0 ] || fail "stream rm answered YES exited $RC"
has "$T/tty.out" "deleted stream ASK"
expect_rc 2 stream info ASK "${S[@]}"

expect_rc 0 stream rm EPH -f "${S[@]}"
expect_rc 0 stream rm OTHER --force --quiet "${S[@]}"
expect_rc 0 stream ls "${S[@]}"
lacks "$T/run.out" "OTHER"
has "$T/run.out" "ORDERS"
echo PASS
