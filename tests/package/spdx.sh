#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every tracked source file carries the license: "SPDX-License-Identifier: MIT"
# in its first line (its second after a #! line), in the comment syntax of its
# language. Files without one are named. `spdx.sh SOURCE_DIR --fix` adds the
# line where it is missing (for files added later).
set -u
SRC=${1:?usage: $0 SOURCE_DIR [--fix]}
FIX=${2:-}
TAG="SPDX-License-Identifier: MIT"
cd "$SRC" || exit 1

# The tracked files (or, outside a git checkout, the tree without builds and npm packages).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files)
else
    files=$(find . -type f ! -path './build*' ! -path '*/node_modules/*' ! -path './.git/*' | sed 's|^\./||')
fi

# comment_for FILE: the line that carries the tag in FILE's language; nothing when FILE is
# not a source file (docs, data, vectors, lockfiles).
comment_for() {
    case $1 in
    *.c | *.h) echo "/* $TAG */" ;;
    *.mjs | *.js) echo "// $TAG" ;;
    *.sh | *.py | *.cmake | */CMakeLists.txt | CMakeLists.txt | *.pc.in | *.service) echo "# $TAG" ;;
    man/*.[0-9]) echo ".\\\" $TAG" ;;
    *) head -c 2 "$1" 2>/dev/null | grep -q '^#!' && echo "# $TAG" ;;
    esac
}

# has_tag FILE: the tag in line 1, or in line 2 after a #! line.
has_tag() {
    local first
    first=$(head -n 1 "$1")
    if [[ $first == '#!'* ]]; then
        sed -n 2p "$1" | grep -qF -- "$TAG"
    else
        grep -qF -- "$TAG" <<<"$first"
    fi
}

# add_tag FILE LINE: LINE becomes line 1 (line 2 after a #! line).
add_tag() {
    local tmp="$1.spdx.$$"
    if head -n 1 "$1" | grep -q '^#!'; then
        { head -n 1 "$1"; echo "$2"; tail -n +2 "$1"; } >"$tmp"
    else
        { echo "$2"; cat "$1"; } >"$tmp"
    fi
    chmod --reference="$1" "$tmp" && mv "$tmp" "$1"
}

missing=()
n=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    line=$(comment_for "$f")
    [ -n "$line" ] || continue
    n=$((n + 1))
    has_tag "$f" && continue
    if [ "$FIX" = --fix ]; then
        add_tag "$f" "$line"
    else
        missing+=("$f")
    fi
done <<<"$files"

[ "$n" -gt 100 ] || { echo "FAIL: only $n source files found in $SRC" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL: ${#missing[@]} source files without '$TAG' (tests/package/spdx.sh SOURCE_DIR --fix adds it):" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
echo "PASS: $n source files carry '$TAG'"
