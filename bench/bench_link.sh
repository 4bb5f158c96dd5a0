#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_link.sh - S7 (issue 16): a SIZE MB link payload through the built-in file server with the
# real CLI (`natsbridge send --file` to `natsbridge listen --save-dir`, as bench_stream.sh), and
# in the same run the yardstick: curl PUT then curl GET of the same file to the same server.
# Prints both times, the ratio (curl time / natsbridge time; target >= 0.85), the peak RSS of
# the sender and the receiver (target <= 64 MB each), and one machine-readable line
# "bench name=S7 ...". Each side runs ROUNDS times, alternating; the best time of each counts.
#
# Usage: bench/bench_link.sh [NATSBRIDGE [SIZE_MB [ROUNDS]]]
#   NATSBRIDGE  the CLI binary (default: build/natsbridge); use a Release build
#   SIZE_MB     payload size in MB of 1048576 bytes (default 300)
#   ROUNDS      runs of each side (default 2)
# Environment: as bench_stream.sh (NB_TEST_NATS_SERVER, NB_BENCH_RSS); NB_BENCH_SEND_ARGS adds
# flags to `natsbridge send` (e.g. --put for the PUT upload instead of the Plik API).
# Not run by CTest: it asserts nothing but the copies being identical.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${3:-2}
BENCH_STREAM_LIB=1
# shellcheck source=bench_stream.sh
source "$HERE/bench_stream.sh" "${1:-$HERE/../build/natsbridge}" "${2:-300}"
SUBJ=bench.link
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive whole number, got '$ROUNDS'"
command -v curl >/dev/null 2>&1 || die "curl not found"

# Seconds between two now_ns readings.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# One natsbridge run, file to file: NB_S (send start to saved), NB_SEND_KB, NB_LISTEN_KB.
run_natsbridge() {
    rm -rf "$W/out"; find "$W/files" -mindepth 1 -delete 2>/dev/null || true
    run_measured listen "$NB" listen "$SUBJ" --count 1 --save-dir "$W/out" --timeout 600 \
        --server "$NATS_URL" --fileserver "$FS_URL" --quiet
    local listen_pid=$RUN_PID _ t0 t1 rc=0
    for _ in $(seq 200); do # 10 s
        kill -0 "$listen_pid" 2>/dev/null || fail "natsbridge listen exited before subscribing"
        subscribed "$SUBJ" && break
        sleep 0.05
    done
    subscribed "$SUBJ" || fail "natsbridge listen did not subscribe within 10 s"
    t0=$(now_ns)
    # shellcheck disable=SC2086 # NB_BENCH_SEND_ARGS is a list of flags
    run_measured send "$NB" send "$SUBJ" --file "big=$W/big.bin:binary" --server "$NATS_URL" \
        --fileserver "$FS_URL" --quiet ${NB_BENCH_SEND_ARGS:-}
    wait "$RUN_PID" || rc=$?
    [ "$rc" = 0 ] || fail "natsbridge send exited $rc"
    wait "$listen_pid" || rc=$?
    t1=$(now_ns)
    [ "$rc" = 0 ] || fail "natsbridge listen exited $rc"
    local got
    got=$(find "$W/out" -type f -name big | head -1)
    [ -n "$got" ] || fail "nothing saved under $W/out"
    cmp "$W/big.bin" "$got" || fail "the received file differs from the source"
    NB_S=$(secs "$t0" "$t1")
    NB_SEND_KB=$(peak_kb send)
    NB_LISTEN_KB=$(peak_kb listen)
}

# One curl run: PUT the file, then GET it into a file. CURL_S, CURL_PUT_KB, CURL_GET_KB.
run_curl() {
    rm -rf "$W/out"; find "$W/files" -mindepth 1 -delete 2>/dev/null || true
    mkdir -p "$W/out"
    local url="$FS_URL/0b9e4f2c-5d1a-4c3e-9f00-$(printf '%012d' "$1")/big" t0 t1 rc=0
    t0=$(now_ns)
    run_measured put curl -sS --fail -T "$W/big.bin" "$url"
    wait "$RUN_PID" || rc=$?
    [ "$rc" = 0 ] || fail "curl PUT exited $rc"
    run_measured get curl -sS --fail -o "$W/out/big" "$url"
    wait "$RUN_PID" || rc=$?
    t1=$(now_ns)
    [ "$rc" = 0 ] || fail "curl GET exited $rc"
    cmp "$W/big.bin" "$W/out/big" || fail "curl's copy differs from the source"
    CURL_S=$(secs "$t0" "$t1")
    CURL_PUT_KB=$(peak_kb put)
    CURL_GET_KB=$(peak_kb get)
}

# min A B of two decimal numbers ("" counts as none).
min_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }

bench_link_main() {
    check_space
    start_nats
    start_fileserver
    make_source
    local best_nb="" best_curl="" send_kb="" listen_kb="" put_kb="" get_kb="" i
    for i in $(seq "$ROUNDS"); do
        run_curl "$i"
        run_natsbridge
        echo "  round $i: natsbridge ${NB_S} s, curl PUT + GET ${CURL_S} s" >&2
        best_nb=$(min_of "$best_nb" "$NB_S")
        best_curl=$(min_of "$best_curl" "$CURL_S")
        send_kb=$(max_of "$send_kb" "$NB_SEND_KB")
        listen_kb=$(max_of "$listen_kb" "$NB_LISTEN_KB")
        put_kb=$(max_of "$put_kb" "$CURL_PUT_KB")
        get_kb=$(max_of "$get_kb" "$CURL_GET_KB")
    done
    local fs_kb
    fs_kb=$(hwm_of "$FS_PID")
    awk -v size="$SIZE_MB" -v nb="$best_nb" -v cu="$best_curl" -v skb="$send_kb" \
        -v lkb="$listen_kb" -v pkb="$put_kb" -v gkb="$get_kb" -v fkb="$fs_kb" \
        -v rounds="$ROUNDS" -v sargs="${NB_BENCH_SEND_ARGS:-}" 'BEGIN {
        ratio = nb > 0 ? cu / nb : 0
        printf "natsbridge bench_link (S7): %d MB link payload through natsbridge fileserver, best of %d\n", size, rounds
        printf "  %-40s %9s %9s %16s\n", "", "seconds", "MB/s", "peak RSS (MB)"
        printf "  %-40s %9.2f %9.1f %7.1f / %6.1f\n", "natsbridge send + listen --save-dir", nb, size / nb, skb / 1024, lkb / 1024
        printf "  %-40s %9.2f %9.1f %7.1f / %6.1f\n", "curl PUT + curl GET (yardstick)", cu, size / cu, pkb / 1024, gkb / 1024
        printf "  ratio (curl time / natsbridge time) %.2f, target >= 0.85; RSS target <= 64 MB each side\n", ratio
        printf "  file server peak RSS %.1f MB; send flags: %s\n", fkb / 1024, sargs == "" ? "(default: Plik API)" : sargs
        printf "bench name=S7 size_mb=%d natsbridge_s=%.3f curl_s=%.3f ratio=%.3f target=0.85 send_rss_mb=%.1f listen_rss_mb=%.1f rss_target_mb=64 fileserver_rss_mb=%.1f\n", size, nb, cu, ratio, skb / 1024, lkb / 1024, fkb / 1024
    }'
}

bench_link_main
