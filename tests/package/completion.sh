#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `natsbridge completion bash` is valid bash and completes commands, actions
# and every flag of every table (`natsbridge completion flags`); the zsh script
# is valid zsh when zsh is installed.
set -u
NB=${1:?usage: $0 NATSBRIDGE}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbcomp-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

timeout 20 "$NB" completion bash >"$T/natsbridge.bash" 2>"$T/err" || fail "completion bash: $(cat "$T/err")"
timeout 20 "$NB" completion flags >"$T/flags" 2>"$T/err" || fail "completion flags: $(cat "$T/err")"
bash -n "$T/natsbridge.bash" || fail "the bash completion script is not valid bash"
timeout 20 "$NB" completion fish >/dev/null 2>"$T/err" && fail "completion fish was accepted"
grep -q "give one of bash, zsh or flags" "$T/err" || fail "completion fish: $(cat "$T/err")"
if command -v zsh >/dev/null 2>&1; then
    timeout 20 "$NB" completion zsh >"$T/_natsbridge" || fail "completion zsh failed"
    zsh -n "$T/_natsbridge" || fail "the zsh completion script is not valid zsh"
fi

# comp WORD...: COMPREPLY for the command line WORD... (the last word is being typed).
cat >"$T/run.sh" <<'SH'
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_natsbridge
printf '%s\n' "${COMPREPLY[@]}"
SH
comp() { bash "$T/run.sh" "$T/natsbridge.bash" natsbridge "$@"; }

[ "$(comp send --ser)" = "--server" ] || fail "send --ser completes to '$(comp send --ser)'"
[ "$(comp stream ad)" = "add" ] || fail "stream ad completes to '$(comp stream ad)'"
[ "$(comp stream add --subj)" = "--subjects" ] || fail "stream add --subj: '$(comp stream add --subj)'"
comp lis | grep -qx listen || fail "lis does not complete to listen"
comp completion b | grep -qx bash || fail "completion b does not complete to bash"
# After a flag that takes a value, nothing: bash completes file names (-o default).
[ -z "$(comp send --file '')" ] || fail "a value of --file completes to flags: $(comp send --file '')"

# Every flag of every table completes for its command (and action): one bash
# reads the table lines and asks the completion function for each.
cat >"$T/all.sh" <<'SH'
source "$1"
n=0
while read -r cmd rest; do
    set -- $rest
    action=
    [[ $1 != -* ]] && { action=$1; shift; }
    flag=$1
    COMP_WORDS=(natsbridge $cmd $action -) # "-": long flags and one-letter ones (-s, -J, -q)
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _natsbridge
    printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$flag" ||
        { echo "FAIL: '$cmd $action' does not complete $flag" >&2; exit 1; }
    n=$((n + 1))
done <"$2"
echo "$n"
SH
n=$(bash "$T/all.sh" "$T/natsbridge.bash" "$T/flags") || exit 1
[ "$n" -gt 20 ] || fail "only $n flags in completion flags"
echo "PASS: $n flags complete"
