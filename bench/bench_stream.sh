#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_stream.sh - does a big link payload stream in constant memory? Measured with the real
# CLI: a nats-server and `natsbridge fileserver` on free loopback ports, a SIZE MB file sent with
# `natsbridge send --file big=FILE:video` and saved by `natsbridge listen --save-dir`, the copy
# compared with cmp, and a table of times, rates and peak RSS (sender, receiver, file server).
#
# Usage: bench/bench_stream.sh [NATSBRIDGE [SIZE_MB]]
#   NATSBRIDGE  the CLI binary (default: build/natsbridge under the repo root); nothing is built
#   SIZE_MB     payload size in MB of 1048576 bytes (default 1024); ~3x SIZE must be free in
#               $TMPDIR (source, the file server's copy, the received copy)
# Environment:
#   NB_TEST_NATS_SERVER  nats-server binary (default: nats-server on PATH)
#   NB_BENCH_RSS         "auto" (default): /usr/bin/time -v when it exists, else polling
#                        VmHWM in /proc/<pid>/status; "proc" always polls /proc
# Not run by CTest: it asserts nothing but the copy being identical. Run it on a Release build.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NB=${1:-$ROOT/build/natsbridge}
SIZE_MB=${2:-1024}
NATS=${NB_TEST_NATS_SERVER:-nats-server}
SUBJ=bench.stream
MB=1048576

die() {
    echo "bench_stream: $*" >&2
    exit 2
}

[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive whole number, got '$SIZE_MB'"
[ -x "$NB" ] || die "no natsbridge binary at '$NB' (build it, or pass its path)"
command -v "$NATS" >/dev/null 2>&1 || die "nats-server not found (install it or set NB_TEST_NATS_SERVER)"
case "${NB_BENCH_RSS:-auto}" in
auto) if [ -x /usr/bin/time ]; then METHOD="time"; else METHOD="proc"; fi ;;
proc) METHOD=proc ;;
*) die "NB_BENCH_RSS must be auto or proc" ;;
esac

W=$(mktemp -d "${TMPDIR:-/tmp}/nbbench-XXXXXX") || die "cannot create a temporary directory"
PIDS=() # everything we started, stopped by pid at exit

# The pids whose parent is $1 (read from /proc: procps may not be installed).
children_of() {
    local stat line fields pid
    for stat in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$stat" || continue
        read -r -a fields <<<"${line##*) }" # after the command name, which may hold spaces
        pid=${stat#/proc/}
        [ "${fields[1]:-}" = "$1" ] && echo "${pid%/stat}"
    done
    return 0
}

cleanup() {
    local pid child
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            # /usr/bin/time does not pass SIGTERM on: stop what it runs first.
            for child in $(children_of "$pid"); do kill -TERM "$child" 2>/dev/null || true; done
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fails with the logs of the runs.
fail() {
    echo "bench_stream: FAIL: $*" >&2
    local f
    for f in "$W"/*.err "$W"/nats.log; do
        [ -s "$f" ] && { echo "---- $f" >&2; tail -5 "$f" >&2; }
    done
    exit 1
}

now_ns() { date +%s%N; }

# Checks that the file system of $W has room for the three copies (plus a margin).
check_space() {
    local free_kb need_kb=$(((3 * SIZE_MB + 64) * 1024))
    free_kb=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
    [ "$free_kb" -ge "$need_kb" ] ||
        die "needs $((need_kb / 1024)) MB free in $W, has $((free_kb / 1024)) MB"
}

# nats-server on free ports (client and monitoring), read from its ports file.
start_nats() {
    "$NATS" -a 127.0.0.1 -p -1 -m -1 --ports_file_dir "$W" >"$W/nats.log" 2>&1 &
    local pid=$! ports _
    PIDS+=("$pid")
    for _ in $(seq 200); do # 10 s
        kill -0 "$pid" 2>/dev/null || fail "nats-server exited at start"
        ports=$(cat "$W/nats-server_$pid.ports" 2>/dev/null || true)
        # The file may be written in more than one step: wait for both URLs.
        if [[ "$ports" =~ nats://([0-9.]+:[0-9]+) ]]; then
            NATS_URL="nats://${BASH_REMATCH[1]}"
            [[ "$ports" =~ \"monitoring\":\[\"http://([0-9.]+):([0-9]+) ]] &&
                { MON_HOST=${BASH_REMATCH[1]} MON_PORT=${BASH_REMATCH[2]}; return 0; }
        fi
        sleep 0.05
    done
    fail "nats-server wrote no ports file within 10 s"
}

# natsbridge fileserver on a free port: the URL is on its first line of output.
start_fileserver() {
    "$NB" fileserver --listen 127.0.0.1:0 --dir "$W/files" --quiet >"$W/fs.out" 2>"$W/fs.err" &
    FS_PID=$!
    PIDS+=("$FS_PID")
    local _ line
    for _ in $(seq 200); do # 10 s
        kill -0 "$FS_PID" 2>/dev/null || fail "natsbridge fileserver exited at start"
        line=$(head -1 "$W/fs.out" 2>/dev/null || true)
        [[ "$line" =~ (http://[0-9.]+:[0-9]+) ]] && { FS_URL=${BASH_REMATCH[1]}; return 0; }
        sleep 0.05
    done
    fail "natsbridge fileserver printed no URL within 10 s"
}

# The first line of nats-server's /connz?subs=1 that names subject $1, over bash's /dev/tcp
# (no curl needed).
subscribed() {
    local body
    body=$({ printf 'GET /connz?subs=1 HTTP/1.0\r\nHost: %s\r\n\r\n' "$MON_HOST" >&3
             cat <&3; } 3<>"/dev/tcp/$MON_HOST/$MON_PORT" 2>/dev/null) || return 1
    [[ "$body" == *"\"$1\""* ]]
}

# Peak VmHWM (kB) of pid $1, written to $2 at every change until the process is gone.
# VmHWM only grows, so the last value read before exit is the peak.
poll_hwm() {
    local pid=$1 out=$2 key val _ max=0
    while [ -r "/proc/$pid/status" ]; do
        val=
        while read -r key val _; do
            [ "$key" = VmHWM: ] && break
            val=
        done 2>/dev/null <"/proc/$pid/status" || true
        [ -n "$val" ] || break # exited (a zombie has no memory lines)
        if [ "$val" -gt "$max" ]; then
            max=$val
            echo "$max" >"$out"
        fi
        sleep 0.02
    done
}

# run_measured NAME CMD...: runs CMD in the background with its peak RSS recorded; RUN_PID is
# the pid to wait for.
run_measured() {
    local name=$1
    shift
    if [ "$METHOD" = time ]; then
        /usr/bin/time -v -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err" &
        RUN_PID=$!
    else
        "$@" >"$W/$name.out" 2>"$W/$name.err" &
        RUN_PID=$!
        poll_hwm "$RUN_PID" "$W/$name.hwm" &
        PIDS+=($!)
    fi
    PIDS+=("$RUN_PID")
}

# Peak RSS in kB of the run NAME.
peak_kb() {
    if [ "$METHOD" = time ]; then
        awk -F': ' '/Maximum resident set size/ { print $2 }' "$W/$1.time"
    else
        cat "$W/$1.hwm" 2>/dev/null || echo 0
    fi
}

# VmHWM in kB of a running pid.
hwm_of() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

make_source() {
    # /dev/urandom is fast enough here (~170 MB/s); random bytes keep any transparent
    # compression on the path from flattering the numbers.
    head -c $((SIZE_MB * MB)) /dev/urandom >"$W/big.bin"
    # Written back now, so that the timed runs do not pay for the source's dirty pages.
    sync "$W/big.bin"
}

main() {
    check_space
    start_nats
    start_fileserver
    make_source

    run_measured listen "$NB" listen "$SUBJ" --count 1 --save-dir "$W/out" --timeout 600 \
        --server "$NATS_URL" --fileserver "$FS_URL" --quiet
    LISTEN_PID=$RUN_PID
    local _
    for _ in $(seq 200); do # 10 s
        kill -0 "$LISTEN_PID" 2>/dev/null || fail "natsbridge listen exited before subscribing"
        subscribed "$SUBJ" && break
        sleep 0.05
    done
    subscribed "$SUBJ" || fail "natsbridge listen did not subscribe within 10 s"

    local t0 t1 t2 rc
    t0=$(now_ns)
    run_measured send "$NB" send "$SUBJ" --file "big=$W/big.bin:video" --server "$NATS_URL" \
        --fileserver "$FS_URL" --quiet
    rc=0
    wait "$RUN_PID" || rc=$?
    t1=$(now_ns)
    [ "$rc" = 0 ] || fail "natsbridge send exited $rc"
    rc=0
    wait "$LISTEN_PID" || rc=$?
    t2=$(now_ns)
    [ "$rc" = 0 ] || fail "natsbridge listen exited $rc"
    local fs_kb
    fs_kb=$(hwm_of "$FS_PID")

    local got
    got=$(find "$W/out" -type f -name big | head -1)
    [ -n "$got" ] || fail "nothing saved under $W/out"
    cmp "$W/big.bin" "$got" || fail "the received file differs from the source"

    report "$t0" "$t1" "$t2" "$(peak_kb send)" "$(peak_kb listen)" "$fs_kb"
}

# report T0 T1 T2 SENDER_KB RECEIVER_KB FILESERVER_KB: the table.
report() {
    local how="/usr/bin/time -v (ru_maxrss)"
    [ "$METHOD" = proc ] && how="VmHWM polled from /proc/<pid>/status every 20 ms"
    awk -v size="$SIZE_MB" -v t0="$1" -v t1="$2" -v t2="$3" -v skb="$4" -v rkb="$5" \
        -v fkb="$6" -v how="$how" 'BEGIN {
        s = (t1 - t0) / 1e9; r = (t2 - t1) / 1e9; e = (t2 - t0) / 1e9
        printf "natsbridge bench_stream: %d MB link payload (1 MB = 1048576 bytes), file to file\n", size
        printf "  %-34s %9s %9s %14s\n", "step", "seconds", "MB/s", "peak RSS (MB)"
        printf "  %-34s %9.2f %9.1f %14.1f\n", "send: sha256 + upload + publish", s, size / s, skb / 1024
        printf "  %-34s %9.2f %9.1f %14.1f\n", "receive: download + verify + save", r, size / r, rkb / 1024
        printf "  %-34s %9.2f %9.1f %14s\n", "end to end", e, size / e, "-"
        printf "  %-34s %9s %9s %14.1f\n", "file server (natsbridge fileserver)", "-", "-", fkb / 1024
        printf "  received copy identical (cmp); peak RSS from %s\n", how
    }'
}

# bench_link.sh sources this file for its helpers (then BENCH_STREAM_LIB is set): no run then.
[ -n "${BENCH_STREAM_LIB:-}" ] || main
