#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage errors exit 1 with one line "natsbridge <cmd>: ..." on stderr and never need a server;
# an unreachable server exits 2.
source "$(dirname "$0")/lib.sh" "$@"

# usage_error TEXT ARGS...: exit 1, one stderr line holding TEXT, nothing on stdout.
usage_error() {
    local text=$1
    shift
    expect_rc 1 "$@"
    one_line "$T/run.err"
    has "$T/run.err" "natsbridge $1: "
    has "$T/run.err" "$text"
    [ -s "$T/run.out" ] && fail "usage error printed to stdout: $*"
    return 0
}

echo '{"ok": true}' >"$T/ok.json"
echo '{"ok": tru' >"$T/bad.json"
X=(--server nats://127.0.0.1:1) # never reached: usage errors come first
usage_error "SUBJECT must not be empty" send '' --text a=b "${X[@]}"
usage_error "SUBJECT must not be empty" listen '' "${X[@]}"

usage_error "unknown flag '--bogus'" send s --text a=b --bogus "${X[@]}"
usage_error "unknown flag '-x'" send s --text a=b -x "${X[@]}"
usage_error "missing SUBJECT" send --text a=b "${X[@]}"
usage_error "missing SUBJECT" listen "${X[@]}"
usage_error "unexpected argument 'extra'" send s extra --text a=b "${X[@]}"
usage_error "no payload" send s "${X[@]}"
usage_error "--server needs a value" send s --text a=b --server
usage_error "--json takes no value" send s --text a=b --json=yes "${X[@]}"
usage_error "--threshold: '-1'" send s --text a=b --threshold -1 "${X[@]}"
usage_error "--threshold: 'abc'" send s --text a=b --threshold abc "${X[@]}"
usage_error "--threshold: '12x'" send s --text a=b --threshold=12x "${X[@]}"
usage_error "--threshold: '99999999999999999999999'" send s --text a=b --threshold 99999999999999999999999 "${X[@]}"
usage_error "--threshold: ''" send s --text a=b --threshold= "${X[@]}"
usage_error "--text: expected NAME=VALUE" send s --text novalue "${X[@]}"
usage_error "--text: expected NAME=VALUE" send s --text =x "${X[@]}"
usage_error "--dict" send s --dict 'd={"a":' "${X[@]}"
usage_error "--dict" send s --dict "d=@$T/bad.json" "${X[@]}"
usage_error "cannot read '$T/none.json'" send s --dict "d=@$T/none.json" "${X[@]}"
# A --file to a missing path is a usage error (exit 1), like every bad payload flag.
usage_error "--file" send s --file "f=$T/missing.bin" "${X[@]}"
usage_error "--file" send s --file "f=$T" "${X[@]}"
usage_error "--link: no payload is named 'nope'" send s --text a=b --link nope "${X[@]}"
usage_error "--metadata" send s --text a=b --metadata '[1,2]' "${X[@]}"
usage_error "--metadata" send s --text a=b --metadata '{' "${X[@]}"
usage_error "SUBJECT 'a b'" send 'a b' --text a=b "${X[@]}"
usage_error "--count: must be at least 1" listen s --count 0 "${X[@]}"
usage_error "--count: '-3'" listen s --count -3 "${X[@]}"
usage_error "--timeout: '-1'" listen s --timeout -1 "${X[@]}"
usage_error "--timeout: 'soon'" listen s --timeout soon "${X[@]}"
usage_error "--timeout: 'inf'" listen s --timeout inf "${X[@]}"
usage_error "--timeout: '1e3'" request s --text a=b --timeout 1e3 "${X[@]}"
usage_error "--timeout: must be at least" request s --text a=b --timeout 0 "${X[@]}"
usage_error "unknown flag '--text'" listen s --text a=b "${X[@]}"
usage_error "unknown flag '--echo'" listen s --echo "${X[@]}"
usage_error "give one of --echo or --exec" reply s "${X[@]}"
usage_error "give one of --echo or --exec" reply s --echo --exec cat "${X[@]}"
usage_error "unknown flag '--save-dir'" send s --text a=b --save-dir "$T" "${X[@]}"

# Good flags but nobody at the server: a connection error, exit 2, one line.
expect_rc 2 send s --dict "d=@$T/ok.json" --file "f=$T/ok.json:dictionary" --threshold 10 "${X[@]}"
one_line "$T/run.err"
has "$T/run.err" "natsbridge send: "
expect_rc 2 listen s --timeout 1 "${X[@]}"
one_line "$T/run.err"
has "$T/run.err" "natsbridge listen: "
expect_rc 2 request s --text a=b "${X[@]}"
expect_rc 2 reply s --echo "${X[@]}"
echo PASS
