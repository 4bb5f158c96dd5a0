#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# codec_instructions.sh [BENCH_CODEC] [PHASE] - instructions per envelope round trip
# (build + parse + destroy, no NATS) for the 100 B text, 1 KiB dictionary and
# 64 KiB binary cases, counted by callgrind: stable on a noisy machine.
# Runs bench_codec with N and 2N iterations and divides the difference by N,
# so that start-up and the sample envelope cancel out. PHASE: both (default),
# build or parse. Prints one line per case:
#   codec_instr case=text phase=both per_op=24123
set -euo pipefail
bin=${1:-build-rel/bench/bench_codec}
phase=${2:-both}
command -v valgrind >/dev/null || { echo "codec_instructions.sh: valgrind is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "codec_instructions.sh: no $bin (build bench_codec first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # case iters -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --case "$1" --iters "$2" \
    --phase "$phase" >/dev/null 2>"$tmp/log"
  awk '/^summary:/ {print $2}' "$tmp/out"
}
for c in text dict bin64k; do
  n=200
  [ "$c" = bin64k ] && n=20
  a=$(count "$c" "$n")
  b=$(count "$c" $((2 * n)))
  echo "codec_instr case=$c phase=$phase per_op=$(((b - a) / n))"
done
