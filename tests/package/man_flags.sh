#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every flag the CLI accepts is in natsbridge(1): each flag that a subcommand's
# --help prints, and each flag of the tables the subcommands parse with
# (`natsbridge completion flags`). A missing one is named. The other way round,
# a flag the page documents outside its PENDING-MERGE blocks must be accepted
# by the CLI; flags inside those blocks (documented ahead of the branch adding
# them) are listed as notes, so that keeping the blocks true is easy.
set -u
NB=${1:?usage: $0 NATSBRIDGE MAN_PAGE}
MAN=${2:?man page}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbman-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# flags_in FILE: the long flags (--word) and one-letter flags (-x) FILE names, one per line.
flags_in() {
    grep -oE -- '(^|[^A-Za-z0-9_-])--?[A-Za-z0-9][a-z0-9-]*' "$1" | sed -E 's/^[^-]*//' |
        grep -E -- '^--[a-z0-9][a-z0-9-]+$|^-[a-zA-Z]$' | grep -vxF -- '-h' | sort -u
}

# The CLI's flags: every --help, and the flag tables.
timeout 20 "$NB" --help >"$T/help" 2>&1 || fail "natsbridge --help failed"
commands=$(sed -n '/^Commands:/,/^$/p' "$T/help" | awk 'NF >= 2 && $1 != "Commands:" {print $1}')
[ -n "$commands" ] || fail "no commands in natsbridge --help"
for c in $commands; do
    timeout 20 "$NB" "$c" --help >>"$T/help" 2>&1 || fail "natsbridge $c --help failed"
done
timeout 20 "$NB" completion flags >"$T/table" 2>"$T/table.err" || fail "natsbridge completion flags: $(cat "$T/table.err")"
[ -s "$T/table" ] || fail "natsbridge completion flags printed nothing"
awk '{print ($NF == "VALUE") ? $(NF-1) : $NF}' "$T/table" >"$T/table-flags"
{ flags_in "$T/help"; sort -u "$T/table-flags"; } | sort -u >"$T/cli"

# The page with roff's \- as -, split into its stable part and its PENDING-MERGE blocks.
sed 's/\\-/-/g' "$MAN" >"$T/page"
split='/BEGIN PENDING-MERGE/ {p = 1; next} /END PENDING-MERGE/ {p = 0; next}'
awk "$split !p" "$T/page" >"$T/stable"
awk "$split p" "$T/page" >"$T/pending"
flags_in "$T/stable" >"$T/man-stable"
flags_in "$T/pending" >"$T/man-pending"
sort -u "$T/man-stable" "$T/man-pending" >"$T/man"

missing=$(comm -23 "$T/cli" "$T/man")
# One-letter words in examples (jq -r) are not ours: only long flags count here.
unknown=$(comm -13 "$T/cli" "$T/man-stable" | grep -- '^--')
now_in_cli=$(comm -12 "$T/cli" "$T/man-pending" | comm -23 - "$T/man-stable")
ahead=$(comm -13 "$T/cli" "$T/man-pending")
[ -n "$now_in_cli" ] &&
    echo "NOTE: accepted by the CLI now, move out of PENDING-MERGE in $MAN:" $now_in_cli
[ -n "$ahead" ] && echo "NOTE: documented ahead of the CLI (PENDING-MERGE):" $ahead
[ -n "$missing" ] && fail "flags of the CLI missing from $MAN:" $missing
[ -n "$unknown" ] && fail "flags documented in $MAN that the CLI does not accept:" $unknown
echo "PASS: $(wc -l <"$T/cli") flags, all in natsbridge(1)"
