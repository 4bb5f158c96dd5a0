#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `natsbridge help TOPIC` (issue 13): `help` lists the topics; `help environment` names every
# variable the CLI reads (each getenv and NATS_* setting in cli/), `help exit-codes` every exit
# code of cli/cli.h, `help json` every member of docs/cli-json.schema.json and its path;
# `help COMMAND` is still the command's --help; an unknown word is one clear error.
source "$(dirname "$0")/lib.sh" "$@"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

expect_rc 0 help
for topic in environment exit-codes json; do
    grep -qE "^  $topic +[a-z]" "$T/run.out" || fail "help does not list the topic $topic"
done
for topic in environment exit-codes json; do
    expect_rc 0 help "$topic"
    [ -s "$T/run.out" ] || fail "help $topic printed nothing"
    [ -s "$T/run.err" ] && fail "help $topic wrote to stderr"
    cp "$T/run.out" "$T/$topic.txt"
done

# every variable read in cli/: getenv("X") and the NATS_* names of the connection settings
VARS=$(grep -ohE 'getenv\("[A-Z_]+"\)|"NATS_[A-Z_]+"' "$SRC"/cli/*.c | grep -oE '[A-Z_]{3,}' | sort -u)
[ "$(echo "$VARS" | wc -l)" -ge 12 ] || fail "found only: $VARS"
for v in $VARS; do
    grep -qE "^  ([A-Z_]+, )*$v\b" "$T/environment.txt" || fail "help environment lacks $v"
done

# every exit code of cli.h, with its number at the start of a line
CODES=$(grep -oE 'CLI_[A-Z]+ = [0-9]+' "$SRC/cli/cli.h" | grep -oE '[0-9]+$')
[ "$(echo "$CODES" | wc -l)" = 4 ] || fail "exit codes in cli.h: $CODES"
for c in $CODES; do
    grep -qE "^  $c  [a-z]" "$T/exit-codes.txt" || fail "help exit-codes lacks $c"
done
# the codes are real: a usage error is 1 and a timeout 3
start_server
expect_rc 1 listen t.x --no-such-flag
expect_rc 3 listen t.x --server "$URL" --timeout 0.2

# every member the schema names, and where the schema is
python3 - "$SRC/docs/cli-json.schema.json" >"$T/members" <<'PY' || fail "cannot read the schema"
import json, sys
s = json.load(open(sys.argv[1]))
names = set(s["properties"]) | set(s["$defs"]["payload"]["properties"])
print("\n".join(sorted(names)))
PY
[ "$(wc -l <"$T/members")" -ge 25 ] || fail "too few schema members: $(cat "$T/members")"
while read -r m; do
    grep -qE "(^|[ ,])$m([ ,]|$)" "$T/json.txt" || fail "help json lacks the member $m"
done <"$T/members"
has "$T/json.txt" "docs/cli-json.schema.json"
has "$T/json.txt" "share/doc/natsbridge/cli-json.schema.json"

# help COMMAND is the command's --help, examples at the end
expect_rc 0 help listen
has "$T/run.out" "Usage: natsbridge listen"
tail -8 "$T/run.out" | grep -q "^Examples:" || fail "listen --help does not end with examples"
[ "$(tail -7 "$T/run.out" | grep -c '^  natsbridge listen ')" -ge 2 ] || fail "fewer than two listen examples"
expect_rc 0 fileserver --help
tail -8 "$T/run.out" | grep -q "^Examples:" || fail "fileserver --help does not end with examples"
[ "$(tail -7 "$T/run.out" | grep -c '^  natsbridge fileserver ')" -ge 2 ] || fail "fewer than two fileserver examples"
expect_rc 1 help frobnicate
one_line "$T/run.err"
has "$T/run.err" "unknown command 'frobnicate'"
echo PASS
