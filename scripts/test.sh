#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it: installs what is missing, builds with
# gcc and runs every CTest, builds a gcc Release (optimizer warnings), then runs
# every CTest again with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer. NB_TEST_SANITIZE=0 skips the second pass.
# Then every libFuzzer target runs for NB_TEST_FUZZ_SECONDS (default 30) each
# (scripts/fuzz.sh; about 6 minutes with its build on 2 cores); NB_TEST_FUZZ=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # name, then cmake arguments
  local dir="build-test-$1"; shift
  echo "== natsbridge tests: $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DNB_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 300
}

run_suite gcc -DCMAKE_C_COMPILER=gcc
# gcc warns about more (maybe-uninitialized) with the optimizer on: the Release
# build the demo and users make must stay -Werror clean too. Built, not run again.
echo "== natsbridge tests: build-test-release (gcc -O2 warnings)"
cmake -S . -B build-test-release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DNB_WERROR=ON >/dev/null
cmake --build build-test-release -j "$jobs"
if [ "${NB_TEST_SANITIZE:-1}" != 0 ]; then
  # Leaks fail the run too. nats.c's process-wide state is never freed (nothing
  # calls nats_Close) but stays reachable from its globals: not a leak to LSan.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite asan -DCMAKE_C_COMPILER=clang -DNB_SANITIZE=ON
fi
if [ "${NB_TEST_FUZZ:-1}" != 0 ]; then
  echo "== natsbridge tests: fuzzing (scripts/fuzz.sh, ${NB_TEST_FUZZ_SECONDS:-30}s per target)"
  NB_FUZZ_BUILD=build-test-fuzz NB_FUZZ_JOBS="$jobs" bash scripts/fuzz.sh "${NB_TEST_FUZZ_SECONDS:-30}"
fi
echo "natsbridge: all test suites passed"
