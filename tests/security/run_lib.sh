#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_lib.sh NATSBRIDGE NKEYGEN TEST_EXE [CASE]: runs test_security_lib (every case, or one)
# against one server per method, started once and shared by the cases (tests/security/lib.sh
# makes the material and starts them). Their URLs, ports and monitoring URLs, the material
# directory and the passwords reach the test in SEC_* variables. The test's own output is
# grepped for secrets as well.
source "$(dirname "$0")/lib.sh" "$1" "$2"
EXE=${3:?usage: $0 NATSBRIDGE NKEYGEN TEST_EXE [CASE]}
METHODS=(plain userpass token nkey operator tls mtls perms)
start_methods "${METHODS[@]}"
for m in "${METHODS[@]}"; do
    u=URL_$m p=PORT_$m mon=MON_$m
    export "SEC_URL_$m=${!u}" "SEC_PORT_$m=${!p}" "SEC_MON_$m=${!mon}"
done
export SEC_M=$M SEC_PASSWORD=$PASSWORD SEC_LIMITED_PASSWORD=$LIMITED_PASSWORD SEC_TOKEN=$TOKEN \
    SEC_BAD_PASSWORD=$BAD_PASSWORD SEC_BAD_TOKEN=$BAD_TOKEN
timeout 100 "$EXE" ${4:+"$4"} >"$T/case.out" 2>"$T/case.err"
RC=$?
[ "$RC" = 0 ] || fail "$(basename "$EXE") ${4:-(every case)} exited $RC"
cat "$T/case.err" >&2
finish
