#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install.sh BUILD_DIR NODE SRC_DIR - the Node.js package installed as a user would: `cmake
# --install` into <prefix>/lib/node_modules/natsbridge (npm's global layout), then `npm
# install ./bindings/node` into a new project, offline; both load the addon and send/receive.
set -u
BUILD=${1:?build dir}
NODE=${2:?node}
SRC=${3:?source dir}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbnode-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do [ -s "$f" ] && { echo "---- $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }

ASANENV=() # an NB_SANITIZE build: node gets the ASan runtime preloaded (see run.sh)
if [ -n "${NB_ASAN_RUNTIME:-}" ]; then
    ASANENV=("LD_PRELOAD=$NB_ASAN_RUNTIME" "ASAN_OPTIONS=${ASAN_OPTIONS:-}:malloc_context_size=2"
         "LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-node.supp")
fi
timeout 120 cmake --install "$BUILD" --prefix "$T/prefix" --component node >"$T/install.log" 2>&1 ||
    fail "cmake --install --component node"
PKG=$T/prefix/lib/node_modules/natsbridge
for f in natsbridge.node package.json README.md lib/natsbridge.js lib/natsbridge.mjs lib/addon.js types/index.d.ts; do
    [ -f "$PKG/$f" ] || fail "cmake --install did not put $f into $PKG"
done
# CommonJS through NODE_PATH (global modules), ESM by path; the installed addon, not the build's.
out=$(cd "$T" && env -u NATSBRIDGE_NODE_ADDON -u NATSBRIDGE_BUILD_DIR "${ASANENV[@]}" NODE_PATH="$T/prefix/lib/node_modules" \
    timeout 20 "$NODE" -e "const nb = require('natsbridge'); console.log(nb.version, typeof nb.smartsend, typeof nb.Client.connect)" 2>&1) ||
    fail "require('natsbridge') from the install: $out"
[ "$out" = "0.1.0 function function" ] || fail "unexpected: $out"
out=$(cd "$T" && env -u NATSBRIDGE_NODE_ADDON "${ASANENV[@]}" timeout 20 "$NODE" --input-type=module \
    -e "import { smartreceive, version } from '$PKG/lib/natsbridge.mjs'; console.log(version, typeof smartreceive)" 2>&1) ||
    fail "import from the install: $out"
[ "$out" = "0.1.0 function" ] || fail "unexpected ESM: $out"

# npm install ./bindings/node in a fresh project, with no network (--offline): the package's
# install script only checks that the addon of the C build loads.
mkdir -p "$T/app" && cd "$T/app" || fail "mkdir"
echo '{"name":"app","version":"1.0.0","private":true}' >package.json
env -u NATSBRIDGE_NODE_ADDON "${ASANENV[@]}" NATSBRIDGE_BUILD_DIR="$BUILD" timeout 120 npm install --offline --no-audit --no-fund \
    "$SRC/bindings/node" >"$T/npm.log" 2>&1 || fail "npm install ./bindings/node"
grep -q using "$T/npm.log" || true
out=$(cd "$T/app" && env -u NATSBRIDGE_NODE_ADDON "${ASANENV[@]}" NATSBRIDGE_BUILD_DIR="$BUILD" timeout 20 "$NODE" -e \
    "const { smartreceive } = require('natsbridge'); smartreceive('{}').catch((e) => console.log(e.code))" 2>&1) ||
    fail "require after npm install: $out"
[ "$out" = "NB_BAD_ENVELOPE" ] || fail "unexpected after npm install: $out"
echo "install: ok ($PKG; npm install ./bindings/node)"
