#!/usr/bin/env bash
# Installs the Debian 12 packages natsbridge needs to build, test and run its demo.
# Only what is missing is installed; safe to run again. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libnats-dev libcjson-dev libcurl4-openssl-dev libmicrohttpd-dev libssl-dev uuid-dev
  nats-server
  openssl # the security tests make their CA and certificates with the openssl CLI
)
# Node.js runs the JavaScript interop peer and the apache-arrow checks; a machine
# that already has node (and npm) keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
# Python 3 runs the interop matrix driver and the standard-library Python peer.
if ! command -v python3 >/dev/null 2>&1; then
  packages+=(python3)
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
js_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/js"
if [ ! -f "$js_dir/node_modules/.package-lock.json" ] ||
   [ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in tests/interop/js"
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
