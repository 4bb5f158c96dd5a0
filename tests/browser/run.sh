#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh NATSBRIDGE CASE SHOT_DIR - the browser test (issue 15): a real headless chromium
# (Debian's /usr/bin/chromium, driven by playwright-core) opens examples/web, served from
# another origin than the file server's, and talks to natsbridge through nats-server's
# WebSocket listener and the built-in file server with --cors-origin. CASE is echo or push
# (browser_test.mjs). Screenshots go to SHOT_DIR. NB_TEST_BROWSER=0 skips (exit 77); a
# missing chromium or npm package fails otherwise.
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CASE=${2:?usage: run.sh NATSBRIDGE CASE SHOT_DIR}
SHOT_DIR=${3:?usage: run.sh NATSBRIDGE CASE SHOT_DIR}
source "$ROOT/tests/cli/lib.sh" "$1"

if [ "${NB_TEST_BROWSER:-1}" = 0 ]; then
    echo "SKIP: NB_TEST_BROWSER=0"
    exit 77
fi
CHROMIUM=${NB_TEST_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM not found: install the chromium package (scripts/install-deps.sh --test), or set NB_TEST_BROWSER=0 to skip"
command -v node >/dev/null 2>&1 || fail "node not found (scripts/install-deps.sh --test)"
[ -f "$ROOT/examples/web/node_modules/nats.ws/esm/nats.js" ] ||
    fail "examples/web/node_modules lacks nats.ws: run scripts/install-deps.sh --test (npm ci there)"
[ -d "$HERE/node_modules/playwright-core" ] ||
    fail "tests/browser/node_modules lacks playwright-core: run scripts/install-deps.sh --test"

# nats-server with a WebSocket listener on a free port (read back from the ports file).
cat >"$T/ws.conf" <<'EOF'
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
}
EOF
start_server -c "$T/ws.conf"
WS_URL=
for i in $(seq 100); do
    WS_URL=$(grep -o 'ws://[^"]*' "$T/nats/nats-server_$SERVER_PID.ports" 2>/dev/null | head -1)
    [ -n "$WS_URL" ] && break
    sleep 0.05
done
[ -n "$WS_URL" ] || fail "nats-server reported no websocket port"

# The page's own origin: a static server for examples/web (node, GET/HEAD only).
node "$HERE/static.mjs" "$ROOT/examples/web" >"$T/static.out" 2>"$T/static.err" &
BG_PIDS+=($!)
wait_for "$T/static.out" "http://127.0.0.1:"
PAGE_ORIGIN=$(head -1 "$T/static.out")

# The file server, open to that origin only (its log lines show the preflights).
start_bg fs fileserver --listen 127.0.0.1:0 --dir "$T/files" --cors-origin "$PAGE_ORIGIN"
wait_for "$T/fs.out" "listening on"
FS_URL=$(sed -n 's|.*listening on \(http://[^ ]*\) .*|\1|p' "$T/fs.out")
[ -n "$FS_URL" ] || fail "no file server URL in $T/fs.out"

# One replier that echoes requests (the echo case); the page shows what comes on LISTEN.
start_bg reply reply chat.requests --echo --server "$URL" --fileserver "$FS_URL"
wait_for "$T/reply.err" "listening on chat.requests" 10

LISTEN=chat.web
PAGE_URL="$PAGE_ORIGIN/index.html?ws=$WS_URL&fs=$FS_URL&subject=chat.requests&listen=$LISTEN"
export NB PAGE_URL NATS_URL=$URL FS_URL LISTEN WORK=$T SHOT_DIR
timeout 120 node "$HERE/browser_test.mjs" "$CASE" >"$T/browser.out" 2>"$T/browser.err" ||
    fail "browser case $CASE failed (see browser.err)"
cat "$T/browser.out"

# The page went through CORS for real: preflights answered, uploads and downloads from it.
if [ "$CASE" = echo ]; then
    has "$T/fs.err" "OPTIONS /upload 204"
    has "$T/fs.err" "POST /upload 200"
fi
has "$T/fs.err" "GET /file/"
echo "PASS: browser.$CASE"
