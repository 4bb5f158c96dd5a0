#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --help of the tool and of every subcommand prints usage to stdout and exits 0;
# --version; no or an unknown command is a usage error (exit 1, one line on stderr).
source "$(dirname "$0")/lib.sh" "$@"

expect_rc 0 --help
has "$T/run.out" "Usage: natsbridge COMMAND"
cp "$T/run.out" "$T/main-help.txt"
for cmd in send request listen reply fileserver; do
    has "$T/main-help.txt" "  $cmd "
done
for cmd in send request listen reply; do
    expect_rc 0 "$cmd" --help
    has "$T/run.out" "Usage: natsbridge $cmd"
    [ -s "$T/run.err" ] && fail "$cmd --help wrote to stderr"
    expect_rc 0 "$cmd" -h
    has "$T/run.out" "Usage: natsbridge $cmd"
    # --help wins over a missing SUBJECT
    expect_rc 0 help "$cmd"
    has "$T/run.out" "Usage: natsbridge $cmd"
done
expect_rc 0 fileserver --help
[ -s "$T/run.out" ] || fail "fileserver --help printed nothing"

expect_rc 0 --version
grep -qE '^natsbridge [0-9]+\.[0-9]+\.[0-9]+' "$T/run.out" || fail "bad --version: $(cat "$T/run.out")"

expect_rc 1
one_line "$T/run.err"
has "$T/run.err" "natsbridge: missing COMMAND"
expect_rc 1 frobnicate
one_line "$T/run.err"
has "$T/run.err" "natsbridge: unknown command 'frobnicate'"
echo PASS
