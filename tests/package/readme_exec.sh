#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's `reply --exec` example does what the README says: the responder
# upper-cases the request's text payload "q" (jq reads the request's JSON line)
# and the requester gets a text payload "result" holding "HELLO".
source "$(dirname "$0")/../cli/lib.sh" "$1"
README=${2:?usage: $0 NATSBRIDGE README}
command -v jq >/dev/null 2>&1 || fail "jq missing: scripts/install-deps.sh --test"
# The command exactly as the README prints it.
EXEC=$(sed -n "s/^    \"\(jq -r .*\)\"  # stdin: the request as one JSON line$/\1/p" "$README" | sed 's/\\"/"/g')
[ -n "$EXEC" ] || fail "no --exec example in $README"
start_server
start_bg reply reply /agent/v1/upper --server "$URL" --count 1 --timeout 20 --exec "$EXEC"
R=$BG_PID
wait_for "$T/reply.err" "listening on /agent/v1/upper"
expect_rc 0 request /agent/v1/upper --server "$URL" --text q=hello --json --timeout 10
has "$T/run.out" '"dataname":"result","type":"text"'
has "$T/run.out" '"data":"HELLO\n"'
wait_exit "$R" 20
[ "$RC" = 0 ] || fail "reply exited $RC"
echo PASS
