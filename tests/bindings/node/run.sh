#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh NATSBRIDGE NODE ADDON TEST.mjs [SERVER ARGS...] - one Node.js binding test file (label
# node) against a real nats-server with JetStream (and any extra arguments, e.g. --user/--pass)
# and the built-in file server, both on free loopback ports, started and stopped by the CLI
# tests' fixture (tests/cli/lib.sh).
source "$(dirname "$0")/../../cli/lib.sh" "$1"
NODE=${2:?node}
ADDON=${3:?addon}
FILE=${4:?test file}
shift 4

start_server -js -sd "$T/js" "$@"
start_bg fileserver fileserver --listen 127.0.0.1:0 --dir "$T/files" --quiet
wait_for "$T/fileserver.out" "listening on http://"
FS_URL=$(grep -o 'listening on http://[^ ]*' "$T/fileserver.out" | head -1 | sed 's/listening on //')

export NATS_URL=$URL FILESERVER_URL=$FS_URL NATSBRIDGE_FILESERVER_URL=$FS_URL
export NATSBRIDGE_NODE_ADDON=$ADDON NB_CLI=$NB NB_TEST_TMP=$T NB_NODE=$NODE
# The nats.js peer's packages (apache-arrow for the table checks), installed by `npm ci`.
cd "$(dirname "$0")/../../interop/js" || fail "no tests/interop/js"
[ -d node_modules/apache-arrow ] || fail "tests/interop/js/node_modules missing: run scripts/install-deps.sh --test (npm ci)"
# An NB_SANITIZE build: node is not instrumented, so the ASan runtime is preloaded into node
# (only: helpers.mjs drops it for other children); node's own exit-time leaks are suppressed by
# the allocating frame (lsan-node.supp), so that the addon's are still reported.
PRELOAD=()
if [ -n "${NB_ASAN_RUNTIME:-}" ]; then
    PRELOAD=(env "LD_PRELOAD=$NB_ASAN_RUNTIME" "ASAN_OPTIONS=${ASAN_OPTIONS:-}:malloc_context_size=2"
             "LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-node.supp")
fi
timeout 380 "${PRELOAD[@]}" "$NODE" --expose-gc --test --test-concurrency=1 --test-timeout=360000 "$FILE" \
    >"$T/node.out" 2>"$T/node.err"
RC=$?
cat "$T/node.out"
[ "$RC" = 0 ] || { cat "$T/node.err" >&2; fail "node --test $FILE exited $RC"; }
