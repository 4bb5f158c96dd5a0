#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages natsbridge needs. Only what is missing is
# installed; safe to run again. Needs root (or sudo).
#
#   scripts/install-deps.sh          what building the library and the CLI needs
#   scripts/install-deps.sh --demo   that, and nats-server (scripts/demo.sh)
#   scripts/install-deps.sh --test   that, and what the tests need (scripts/test.sh):
#                                    clang and its sanitizer runtime, Node.js and the
#                                    npm packages of the lockfile, Python 3, valgrind,
#                                    and the tools of the package tests (dpkg-dev, file, jq);
#                                    chromium and the npm packages of the browser test
set -euo pipefail

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

want_demo=false want_test=false
for arg in "$@"; do
  case $arg in
  --demo) want_demo=true ;;
  --test) want_demo=true want_test=true ;;
  -h | --help) usage; exit 0 ;;
  *) echo "install-deps: unknown argument '$arg'" >&2; usage >&2; exit 1 ;;
  esac
done

# Building libnatsbridge and the natsbridge CLI.
packages=(
  build-essential cmake pkg-config
  libnats-dev libcjson-dev libcurl4-openssl-dev libmicrohttpd-dev libssl-dev uuid-dev
)
# The demo and every integration test start a real NATS server.
if $want_demo; then
  packages+=(nats-server)
fi
if $want_test; then
  # The second test pass: clang with AddressSanitizer and UndefinedBehaviorSanitizer.
  packages+=(clang libclang-rt-14-dev)
  # The package tests: cpack's shlibdeps (dpkg-dev, file); the docs examples (jq).
  packages+=(dpkg-dev file jq)
  # valgrind for scripts/memcheck.sh (memcheck of the CLI end to end).
  packages+=(valgrind)
  # The security tests make their CA and certificates with the openssl CLI.
  packages+=(openssl)
  # cli.output cross-checks its JSON Schema check with the jsonschema package (issue 13).
  packages+=(python3-jsonschema)
  # The Python binding's tests: a venv to pip install bindings/python into (issue 14), and
  # Python's headers for its native extension (bindings/python/src/_native.c).
  packages+=(python3-venv python3-pip python3-dev)
  # Node.js runs the JavaScript interop peer and the apache-arrow checks; a
  # machine that already has node (and npm) keeps its own.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
  fi
  # The browser test (issue 15): Debian's chromium, driven headless by playwright-core.
  packages+=(chromium)
  # Node-API headers for the Node.js binding (issue 14); nodejs from elsewhere may ship them.
  [ -f /usr/include/node/node_api.h ] || packages+=(libnode-dev)
  # Python 3 runs the interop matrix driver and the standard-library Python peer.
  if ! command -v python3 >/dev/null 2>&1; then
    packages+=(python3)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the interop tests, exactly as the lockfile pins them; again
# only when the lockfile changed since the last install.
if $want_test; then
  js_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/js"
  if [ ! -f "$js_dir/node_modules/.package-lock.json" ] ||
     [ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/interop/js"
    (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The browser test: nats.ws for the example page (served from examples/web/node_modules,
  # never a CDN) and playwright-core for the driver; same rule as above.
  root="$(cd "$(dirname "$0")/.." && pwd)"
  for dir in "$root/examples/web" "$root/tests/browser"; do
    if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
       [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "install-deps: npm ci in ${dir#"$root"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
fi
