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

echo "== C library (bench_throughput, just before each repetition) and Node.js =="
NATS_URL=$URL NB_NODE_PKG=$ROOT/bindings/node NB_JS_PEER=$ROOT/tests/interop/js \
NATSBRIDGE_NODE_ADDON=$BUILD/bindings/node/natsbridge.node NB_C_BENCH=$BUILD/bench/bench_throughput \
    node --expose-gc "$ROOT/bench/bench_node.mjs"
