#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `cmake --install` into a prefix, and with DESTDIR into a staging root: the .pc
# names the prefix, the CLI runs without LD_LIBRARY_PATH (RPATH $ORIGIN/../lib),
# consumers build with pkg-config and find_package (tests/package/lib.sh).
source "$(dirname "$0")/lib.sh" "$@"

cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "cmake --install --prefix"; }
check_install "" "$T/prefix"
readelf -d "$T/prefix/bin/natsbridge" | grep -qF 'RUNPATH' || readelf -d "$T/prefix/bin/natsbridge" | grep -qF 'RPATH' ||
    fail "the installed CLI has no RPATH"
readelf -d "$T/prefix/bin/natsbridge" | grep -qF "$BUILD" && fail "the installed CLI's RPATH names the build tree"

# DESTDIR: staged for /opt/natsbridge; nothing of the staging path in the .pc.
DESTDIR="$T/stage" cmake --install "$BUILD" --prefix /opt/natsbridge >"$T/stage.log" 2>&1 ||
    { cat "$T/stage.log" >&2; fail "DESTDIR=... cmake --install --prefix /opt/natsbridge"; }
pc=$(find "$T/stage/opt/natsbridge" -name natsbridge.pc)
grep -qF "$T" "$pc" && fail "the staged .pc names the staging dir: $(cat "$pc")"
check_install "$T/stage" /opt/natsbridge
echo PASS
