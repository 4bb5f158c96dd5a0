#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bad CSV is a usage error (exit 1), one line naming the file, line and column;
# nothing is sent (no server is needed: the payload is built before connecting).
source "$(dirname "$0")/../cli/lib.sh" "$@"

bad() { # bad NEEDLE CSV-TEXT
    printf '%b' "$2" >"$T/bad.csv"
    run send s --server nats://127.0.0.1:1 --csv "t=$T/bad.csv"
    [ "$RC" = 1 ] || fail "exit $RC for $(printf '%q' "$2"), expected 1"
    one_line "$T/run.err"
    has "$T/run.err" "$1"
}
bad "--csv: $T/bad.csv: line 3, column 3: 2 fields, the header has 3" 'a,b,c\n1,2,3\n4,5\n'
bad "--csv: $T/bad.csv: line 2, column 4: 4 fields, the header has 3" 'a,b,c\r\n1,2,3,4\r\n'
bad "--csv: $T/bad.csv: line 2, column 2: unterminated quoted field" 'a,b\n1,"open\n2,3\n'
bad "line 2, column 1: quote inside an unquoted field" 'a,b\nx"y,1\n'
bad "line 2, column 1: text after a closing quote" 'a,b\n"x"y,1\n'
bad "line 1, column 1: no header row" ''
bad "line 1, column 2: carriage return not followed by a line feed" 'a,b\rc\n'
bad "column 'a': row 0 is not valid UTF-8" 'a\n\xff\n'
bad "line 2, column 2: carriage return not followed by a line feed" 'a,b\n1,2\r'
bad "line 2, column 1: quote inside an unquoted field" '\xef\xbb\xbfa\nx"\n'
run listen s --server nats://127.0.0.1:1 --csv
[ "$RC" = 1 ] || fail "listen --csv without --save-dir: exit $RC"
one_line "$T/run.err"
has "$T/run.err" "--csv (save tables as CSV) needs --save-dir DIR"
run send s --server nats://127.0.0.1:1 --csv "t=$T/missing.csv"
[ "$RC" = 1 ] || fail "missing file: exit $RC"
has "$T/run.err" "--csv: cannot read '$T/missing.csv': No such file or directory"
run send s --server nats://127.0.0.1:1 --csv "$T/bad.csv"
[ "$RC" = 1 ] || fail "no NAME=: exit $RC"
has "$T/run.err" "--csv: expected NAME=VALUE"
run listen s --server nats://127.0.0.1:1 --rows x
[ "$RC" = 1 ] || fail "--rows x: exit $RC"
has "$T/run.err" "--rows: 'x' is not a non-negative whole number"
echo PASS
