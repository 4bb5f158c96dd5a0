#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_all.sh BUILD_DIR - the benchmark suite of issue 16: scenarios S1-S8 and the seed-style JS
# peer comparison, each next to its yardstick measured in the same run, on one nats-server.
# Prints every program's own table, then a summary (natsbridge, yardstick, ratio, target, met?)
# and one machine-readable line per scenario:
#   bench name=S1 nb=98511 yardstick=525863 unit=env/s ratio=0.19 target=0.75 met=no
# Nothing is asserted: the exit status only says whether every program ran. Use a Release build
# (cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release). On a shared machine compare ratios.
#
# Environment:
#   NB_REPS=5        repetitions per figure (medians)
#   NB_QUICK=1       a tenth of the counts, one repetition unless NB_REPS is set (rough figures)
#   NB_SWEEP=1       the size sweep 100 B .. 4 MiB (0: skip)
#   NB_FANOUT="4 16" S1 to 4 and 16 subscribers ("": skip)
#   NB_JS=1          the nats.js seed-style peer (0: skip; needs tests/interop/js/node_modules)
#   NB_LINK_MIB=300  the size of S7 (bench/bench_link.sh, when present)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:?usage: bench/run_all.sh BUILD_DIR}" && pwd) || exit 2
source "$ROOT/tests/cli/lib.sh" "$BUILD/natsbridge"

REPS=${NB_REPS:-5}
QUICK=${NB_QUICK:-0}
[ "$QUICK" = 1 ] && REPS=${NB_REPS:-1}
for exe in bench_throughput bench_rr bench_arrow; do
    [ -x "$BUILD/bench/$exe" ] || fail "no $BUILD/bench/$exe: build the benchmarks first"
done

# 8 MB messages for the sweep's 4 MiB payloads; a generous write deadline so that a subscriber
# starved of CPU on a loaded machine is not cut off as a slow consumer in the middle of a run.
printf 'max_payload: 8MB\nwrite_deadline: "60s"\n' >"$T/nats.conf"
start_server -c "$T/nats.conf"
echo "run_all: $(date -u +%FT%TZ), server $URL, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$REPS repetition(s)$([ "$QUICK" = 1 ] && echo ', quick')"

OK=1
SUMMARY=()   # "name|nb|yardstick|unit|ratio|target|met|what"
# note NAME NB YARDSTICK UNIT RATIO TARGET MET WHAT: one summary row.
note() { SUMMARY+=("$1|$2|$3|$4|$5|$6|$7|$8"); }

# field LINE KEY: the value of KEY=... in a `bench name=...` line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# met_ge RATIO TARGET / met_le RATIO TARGET: yes or no.
met_ge() { awk -v r="$1" -v t="$2" 'BEGIN { print (r != "" && r + 0 >= t + 0) ? "yes" : "no" }'; }
met_le() { awk -v r="$1" -v t="$2" 'BEGIN { print (r != "" && r + 0 > 0 && r + 0 <= t + 0) ? "yes" : "no" }'; }

# count N: N, or a tenth of it for a quick run.
count() { [ "$QUICK" = 1 ] && echo $(($1 / 10 > 0 ? $1 / 10 : 1)) || echo "$1"; }

# ---------------------------------------------------------------------------------------------
echo; echo "== S1-S5: envelopes end to end vs raw nats.c moving the same wire bytes (bench_throughput) =="
thr() { # ARGS...: bench_throughput on our server, its output appended to $T/thr.out
    timeout 3600 "$BUILD/bench/bench_throughput" --url "$URL" --reps "$REPS" "$@" | tee -a "$T/thr.out"
    # Called in pipelines (a subshell): a failure is noted in a file, not in OK.
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "run_all: bench_throughput $* failed" >&2; touch "$T/thr.failed"; }
}
declare -A LABEL=([S1]="100 B text" [S2]="1 KiB dictionary" [S3]="64 KiB binary direct"
                  [S4]="512 KiB binary direct" [S5]="text + 1 KiB dict + 16 KiB image")
for s in S1 S2 S3 S4 S5; do
    case $s in S1) n=100000 ;; S2) n=50000 ;; S3) n=8192 ;; S4) n=1024 ;; S5) n=20000 ;; esac
    thr --scenario "$s" --count "$(count $n)" | grep -v '^bench name='
done
for s in S1 S2 S3 S4 S5; do
    line=$(grep "^bench name=$s " "$T/thr.out" | tail -1)
    [ -n "$line" ] || { note "$s" - - env/s - - no "${LABEL[$s]} (did not run)"; continue; }
    r=$(field "$line" ratio) t=$(field "$line" target)
    note "$s" "$(field "$line" nb)" "$(field "$line" yardstick)" env/s "$r" ">= $t" "$(met_ge "$r" "$t")" \
         "${LABEL[$s]} (raw nats.c)"
done
if [ -n "${NB_FANOUT-4 16}" ]; then
    echo; echo "== Fan-out: S1 to N subscribers =="
    for f in ${NB_FANOUT-4 16}; do
        thr --scenario S1 --fanout "$f" --count "$(count 20000)" | grep -E '^(100 B|bench name)'
    done
fi
if [ "${NB_SWEEP:-1}" = 1 ]; then
    echo; echo "== Size sweep: binary payloads 100 B .. 4 MiB =="
    thr --sweep | grep -E 'binary|^bench name' # bounded: ~64 MiB of payload per size and repetition
fi

# ---------------------------------------------------------------------------------------------
echo; echo "== S6: request/reply p50 vs raw nats.c with SendAsap (bench_rr) =="
timeout 1800 "$BUILD/bench/bench_rr" --url "$URL" --count "$(count 5000)" | tee "$T/rr.out"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "run_all: bench_rr failed" >&2; OK=0; }
line=$(grep '^bench name=S6 ' "$T/rr.out" | tail -1)
if [ -n "$line" ]; then # bench_rr prints its own machine-readable line
    nb=$(field "$line" natsbridge) y=$(field "$line" yardstick) unit=us
else # else its table: the default natsbridge row against raw nats.c with SendAsap
    nb=$(awk '/^natsbridge nb_client_request/ {print $(NF-1)}' "$T/rr.out")
    y=$(awk '/^raw nats.c, SendAsap/ {print $(NF-1)}' "$T/rr.out")
    unit=us
fi
r=$(awk -v a="$nb" -v b="$y" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b }')
note S6 "$nb" "$y" "p50 $unit" "$r" "<= 1.2" "$(met_le "$r" 1.2)" "request/reply p50 (raw nats.c SendAsap)"

# ---------------------------------------------------------------------------------------------
echo; echo "== S7: a link payload through the built-in file server vs curl PUT + GET =="
if [ -f "$ROOT/bench/bench_link.sh" ]; then
    mib=${NB_LINK_MIB:-$([ "$QUICK" = 1 ] && echo 30 || echo 300)}
    timeout 1800 bash "$ROOT/bench/bench_link.sh" "$BUILD/natsbridge" "$mib" | tee "$T/link.out"
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "run_all: bench_link.sh failed" >&2; OK=0; }
    line=$(grep '^bench name=S7 ' "$T/link.out" | tail -1)
    r=$(field "$line" ratio) t=$(field "$line" target)
    note S7 "$(field "$line" natsbridge_s)" "$(field "$line" curl_s)" s "$r" \
         ">= ${t:-0.85}" "$(met_ge "$r" "${t:-0.85}")" "$mib MiB link (curl PUT + GET; RSS $(field "$line" send_rss_mb)/$(field "$line" listen_rss_mb) MB)"
else
    echo "skipped: bench/bench_link.sh is not in this tree yet"
    note S7 - - - - ">= 0.85" - "300 MiB link (skipped: no bench/bench_link.sh)"
fi

# ---------------------------------------------------------------------------------------------
echo; echo "== S8: Arrow IPC encode and decode of 1M rows (bench_arrow) =="
timeout 1800 "$BUILD/bench/bench_arrow" 1000000 "$([ "$QUICK" = 1 ] && echo 3 || echo 9)" | tee "$T/arrow.out" \
    | grep -v '^bench name='
[ "${PIPESTATUS[0]}" = 0 ] || { echo "run_all: bench_arrow failed" >&2; OK=0; }
for phase in encode decode; do
    line=$(grep "^bench name=S8-$phase-b0 " "$T/arrow.out")
    want=$([ $phase = encode ] && echo 1000 || echo 2000)
    nb=$(field "$line" nb)
    note "S8-$phase" "$nb" "$(field "$line" yardstick)" MB/s "$(field "$line" ratio)" ">= $want MB/s" \
         "$(met_ge "$nb" "$want")" "Arrow IPC $phase, 1M rows (yardstick: memcpy into a fresh buffer)"
done

# ---------------------------------------------------------------------------------------------
if [ "${NB_JS:-1}" = 1 ]; then
    echo; echo "== natsbridge (C) vs the seed-style JS peer on nats.js (bench_peer_js.mjs) =="
    if [ -d "$ROOT/tests/interop/js/node_modules/nats" ] && command -v node >/dev/null; then
        NATS_URL=$URL NB_REPS=$REPS NB_COUNT_S1=$(count 50000) NB_COUNT_S2=$(count 30000) \
        NB_COUNT_S4=$(count 400) timeout 3600 node "$ROOT/bench/bench_peer_js.mjs" | tee "$T/js.out"
        [ "${PIPESTATUS[0]}" = 0 ] || { echo "run_all: bench_peer_js.mjs failed" >&2; OK=0; }
        for s in S1 S2 S4; do
            js=$(field "$(grep "^bench name=$s-js " "$T/js.out")" nb_js)
            c=$(field "$(grep "^bench name=$s " "$T/thr.out" | tail -1)" nb)
            want=$([ $s = S4 ] && echo 6 || echo 10)
            r=$(awk -v a="$c" -v b="$js" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1f", a / b }')
            note "$s-vs-js" "$c" "$js" env/s "$r" ">= $want" "$(met_ge "$r" "$want")" \
                 "${LABEL[$s]}: natsbridge C / nats.js seed-style peer"
            # The ceiling of that ratio: natsbridge moves envelopes through the same server
            # as raw nats.c moving the same wire bytes, so it cannot beat raw / nats.js.
            raw=$(field "$(grep "^bench name=$s " "$T/thr.out" | tail -1)" yardstick)
            r=$(awk -v a="$raw" -v b="$js" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1f", a / b }')
            note "$s-raw-vs-js" "$raw" "$js" env/s "$r" "-" "-" \
                 "${LABEL[$s]}: its ceiling, raw nats.c / nats.js peer"
        done
    else
        echo "skipped: no node or no tests/interop/js/node_modules (bash scripts/install-deps.sh --test)"
    fi
fi

# ---------------------------------------------------------------------------------------------
[ -e "$T/thr.failed" ] && OK=0
echo; echo "== Summary =="
printf '%-10s %-62s %12s %12s %-8s %7s %-14s %s\n' scenario what natsbridge yardstick unit ratio target met
for row in "${SUMMARY[@]}"; do
    IFS='|' read -r name nb y unit r t met what <<<"$row"
    printf '%-10s %-62s %12s %12s %-8s %7s %-14s %s\n' "$name" "$what" "$nb" "$y" "$unit" "$r" "$t" "$met"
done
echo
for row in "${SUMMARY[@]}"; do
    IFS='|' read -r name nb y unit r t met what <<<"$row"
    echo "bench name=$name nb=${nb:--} yardstick=${y:--} unit=${unit// /_} ratio=${r:--}" \
         "target=${t// /} met=${met:--}"
done
[ "$OK" = 1 ]
