#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/fuzz.sh [SECONDS]: builds the libFuzzer targets (clang, ASan +
# UBSan, build-fuzz/, -DNB_BUILD_FUZZ=ON) and runs each for SECONDS (default
# 60) on a scratch copy of its seeds, one after the other. Prints one line per
# target with its executions; fails when any target crashed, leaked or hung.
#
# The targets, their seed folders, -max_len and dictionary come from
# build-fuzz/tests/fuzz/targets.txt, which nb_fuzz_target writes
# (tests/fuzz/CMakeLists.txt): a new target needs no change here.
#
# Environment:
#   NB_FUZZ_BUILD      the build folder (default build-fuzz)
#   NB_FUZZ_OUT        where crash artefacts and logs go (default $NB_FUZZ_BUILD/fuzz-out)
#   NB_FUZZ_TARGETS    space-separated names to run only those (default: all)
#   NB_FUZZ_JOBS       build parallelism (default 2)
#   NB_FUZZ_NICE       nice level of the fuzzers (default 10)
#   NB_FUZZ_TIMEOUT    seconds one input may take, wall clock (default 25); raise it for long
#                      runs on a loaded machine, where a niced fuzzer waits for the CPU
# A crash: its input is $NB_FUZZ_OUT/<target>/crash-* (or leak-, timeout-,
# oom-); replay it with build-fuzz/tests/fuzz/<target> FILE, fix the bug, and
# add the file to the target's seed folder tests/fuzz/corpus/<name>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
build=${NB_FUZZ_BUILD:-build-fuzz}
out=${NB_FUZZ_OUT:-$build/fuzz-out}
jobs=${NB_FUZZ_JOBS:-2}
nice_level=${NB_FUZZ_NICE:-10}
unit_timeout=${NB_FUZZ_TIMEOUT:-25}

echo "== natsbridge fuzz: building in $build (clang, -DNB_BUILD_FUZZ=ON)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DNB_BUILD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DNB_BUILD_BENCH=OFF -DNB_BUILD_EXAMPLES=OFF >/dev/null
# The replay binaries write generated seeds (SEED_WRITER): build them with the fuzzers.
manifest="$build/tests/fuzz/targets.txt"
all_targets=$(cut -d'|' -f1 "$manifest")
replays=$(awk -F'|' '$5 == 1 { print $1 "_replay" }' "$manifest")
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target fuzzers $replays >/dev/null

rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
selected=${NB_FUZZ_TARGETS:-$all_targets}

while IFS='|' read -r name max_len dict seeds writes writer_args; do
  case " $(echo $selected) " in *" $name "*) ;; *) continue ;; esac
  dir="$out/$name"
  corpus="$dir/corpus"
  mkdir -p "$corpus"
  # A scratch copy: the fuzzer adds to its corpus, the seed folders stay as committed.
  IFS=, read -r -a seed_list <<<"$seeds"
  for s in "${seed_list[@]}"; do
    if [ -d "$s" ]; then
      find "$s" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
    elif [ -f "$s" ]; then
      cp "$s" "$corpus/"
    fi
  done
  if [ "$writes" = 1 ]; then
    IFS=, read -r -a wargs <<<"$writer_args"
    "$build/tests/fuzz/${name}_replay" --write-seeds "$corpus" "${wargs[@]}"
  fi
  args=(-max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1
        -timeout="$unit_timeout" -rss_limit_mb=2048 -artifact_prefix="$dir/")
  [ -n "$dict" ] && args+=(-dict="$dict")
  rc=0
  nice -n "$nice_level" "$build/tests/fuzz/$name" "${args[@]}" "$corpus" >"$dir/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    artefact=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o \
      -name 'timeout-*' -o -name 'oom-*' \) | head -1)
    printf '%-16s FAILED (exit %d) after %s execs: %s (log %s)\n' "$name" "$rc" \
      "${execs:-?}" "${artefact:-no artefact}" "$dir/log"
    failed+=("$name")
  else
    printf '%-16s %12s execs in %ss (%s/s), corpus %s inputs\n' "$name" "${execs:-?}" \
      "$seconds" "${speed:-?}" "$units"
  fi
done <"$manifest"

echo "natsbridge fuzz: crash artefacts and logs in $out"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "natsbridge fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "natsbridge fuzz: every target ran ${seconds}s without a failure"
