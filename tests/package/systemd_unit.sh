#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/natsbridge-fileserver.service passes `systemd-analyze verify` (with
# ExecStart pointing at the built CLI) and keeps its hardening. Exit 77 (skip)
# without systemd-analyze.
set -u
NB=${1:?usage: $0 NATSBRIDGE UNIT}
UNIT=${2:?unit file}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
for key in DynamicUser=yes StateDirectory=natsbridge-fileserver ProtectSystem=strict \
    NoNewPrivileges=yes ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
    'ExecStart=/usr/bin/natsbridge fileserver'; do
    grep -qxF -- "$key" "$UNIT" || grep -q -- "^$key" "$UNIT" || fail "$UNIT lacks $key"
done
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nbunit-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
sed "s|/usr/bin/natsbridge|$NB|g" "$UNIT" >"$T/natsbridge-fileserver.service"
systemd-analyze verify --man=no "$T/natsbridge-fileserver.service" >"$T/out" 2>&1 ||
    { cat "$T/out" >&2; fail "systemd-analyze verify"; }
[ -s "$T/out" ] && { cat "$T/out" >&2; fail "systemd-analyze verify warned"; }
echo PASS
