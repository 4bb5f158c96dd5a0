# SPDX-License-Identifier: MIT
# lib.sh - sourced by every CLI test: `source lib.sh "$@"` with the natsbridge binary as $1.
# Gives a temp dir ($T), a nats-server on a free loopback port ($URL), background runs with
# bounded waits, and a trap that stops what was started (by pid) and removes $T.
set -u

NB=${1:?usage: $0 /path/to/natsbridge}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbcli-XXXXXX") || exit 1
BG_PIDS=()
SERVER_PID=

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}" $SERVER_PID; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${BG_PIDS[@]}" $SERVER_PID; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$T"/*.err "$T"/*.out; do
        [ -s "$f" ] && { echo "---- $f" >&2; head -c 4000 "$f" >&2; }
    done
    [ -s "$T/nats/server.log" ] && { echo "---- nats-server log" >&2; tail -20 "$T/nats/server.log" >&2; }
    exit 1
}

# start_server [SERVER ARGS...]: nats-server on a free port (-p -1), with any extra arguments
# (e.g. -js -sd DIR); sets PORT and URL. A missing binary fails.
start_server() {
    local exe=${NB_TEST_NATS_SERVER:-nats-server}
    command -v "$exe" >/dev/null 2>&1 || fail "nats-server not found: install it or set NB_TEST_NATS_SERVER"
    mkdir -p "$T/nats"
    "$exe" -a 127.0.0.1 -p -1 --ports_file_dir "$T/nats" "$@" >"$T/nats/server.log" 2>&1 &
    SERVER_PID=$!
    local ports="$T/nats/nats-server_$SERVER_PID.ports" i
    PORT=
    for i in $(seq 200); do # 10 s
        kill -0 "$SERVER_PID" 2>/dev/null || fail "nats-server exited at start"
        # The file is written once the server listens, maybe in more than one step: retry.
        [ -s "$ports" ] && PORT=$(grep -o 'nats://[^"]*' "$ports" | head -1 | sed 's/.*://')
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "nats-server did not write $ports within 10 s"
    URL="nats://127.0.0.1:$PORT"
}

# run ARGS...: natsbridge in the foreground, bounded; sets RC, output in $T/run.out and $T/run.err.
run() {
    timeout 20 "$NB" "$@" >"$T/run.out" 2>"$T/run.err"
    RC=$?
}

# expect_rc N ARGS...: run and check the exit status.
expect_rc() {
    local want=$1
    shift
    run "$@"
    [ "$RC" = "$want" ] || fail "natsbridge $* exited $RC, expected $want"
}

# start_bg NAME ARGS...: natsbridge in the background (output in $T/NAME.out and .err);
# its pid is in BG_PID. Not wrapped in `timeout`, so that it gets our signals directly.
start_bg() {
    local name=$1
    shift
    "$NB" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# wait_for FILE TEXT [SECONDS]: until FILE holds TEXT (bounded, default 10 s).
wait_for() {
    local i
    for i in $(seq $((${3:-10} * 20))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "'$2' did not appear in $1 within ${3:-10} s"
}

# wait_lines FILE N [SECONDS]: until FILE has at least N lines.
wait_lines() {
    local i
    for i in $(seq $((${3:-10} * 20))); do
        [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 did not reach $2 lines within ${3:-10} s"
}

# wait_exit PID [SECONDS]: waits (bounded) for a background run; sets RC.
wait_exit() {
    local i
    for i in $(seq $((${2:-10} * 20))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$1" 2>/dev/null && { kill -KILL "$1"; fail "pid $1 still running after ${2:-10} s"; }
    wait "$1"
    RC=$?
}

# has FILE TEXT: FILE contains the exact text.
has() { grep -qF -- "$2" "$1" || fail "$1 lacks: $2"; }
# lacks FILE TEXT: FILE does not contain the text.
lacks() { ! grep -qF -- "$2" "$1" || fail "$1 has: $2"; }
# one_line FILE: stderr holds exactly one line (errors are one clear line).
one_line() { [ "$(wc -l <"$1")" = 1 ] || fail "$1 is not one line"; }
