#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_node.sh [BUILD_DIR] - the Node.js binding vs the nats.js seed-style peer and vs the C
# library on 100 B text envelopes end to end (one nats-server, same run), then 100,000 envelopes
# through the binding with its RSS. Prints figures; asserts nothing. Use a Release build.
# Environment: NB_COUNT, NB_REPS, NB_LONG (see bench_node.mjs).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
source "$ROOT/tests/cli/lib.sh" "$BUILD/natsbridge"
start_server
[ -d "$ROOT/tests/interop/js/node_modules/nats" ] || fail "run scripts/install-deps.sh --test (npm ci)"

echo "== C library (bench_throughput, the same scenario) =="
"$BUILD/bench/bench_throughput" --url "$URL" --reps "${NB_REPS:-3}" --small "${NB_COUNT:-20000}" --large 1 \
    | grep -E '^(payload|100 B)' | tee "$T/c.out"
c_rate=$(awk '/^100 B text/ {print $7}' "$T/c.out")

echo "== Node.js =="
NATS_URL=$URL NB_NODE_PKG=$ROOT/bindings/node NB_JS_PEER=$ROOT/tests/interop/js \
NATSBRIDGE_NODE_ADDON=$BUILD/bindings/node/natsbridge.node \
    node --expose-gc "$ROOT/bench/bench_node.mjs" | tee "$T/node.out"
node_rate=$(sed -n 's/^RESULT node_env_per_s=\([0-9]*\).*/\1/p' "$T/node.out")
[ -n "$c_rate" ] && [ -n "$node_rate" ] &&
    awk -v n="$node_rate" -v c="$c_rate" 'BEGIN { printf "ratio C / node binding: %.2fx (target <= 2x)\n", c / n }'
