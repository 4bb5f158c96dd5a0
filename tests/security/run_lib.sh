#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_lib.sh NATSBRIDGE NKEYGEN COMMAND [ARGS...]: runs COMMAND (test_security_lib, every case or
# `run_lib.sh ... TEST_EXE CASE` for one; or a binding's security test, tests/bindings) against
# one server per method, started once and shared by its cases (tests/security/lib.sh makes the
# material and starts them). Their URLs, ports and monitoring URLs, the material directory and
# the passwords reach the command in SEC_* variables. The command's own output is grepped for
# secrets as well.
source "$(dirname "$0")/lib.sh" "$1" "$2"
shift 2
[ $# -gt 0 ] || fail "usage: run_lib.sh NATSBRIDGE NKEYGEN COMMAND [ARGS...]"
METHODS=(plain userpass token nkey operator tls mtls tlscreds perms)
start_methods "${METHODS[@]}"
for m in "${METHODS[@]}"; do
    u=URL_$m p=PORT_$m mon=MON_$m
    export "SEC_URL_$m=${!u}" "SEC_PORT_$m=${!p}" "SEC_MON_$m=${!mon}"
done
export SEC_M=$M SEC_PASSWORD=$PASSWORD SEC_LIMITED_PASSWORD=$LIMITED_PASSWORD SEC_TOKEN=$TOKEN \
    SEC_BAD_PASSWORD=$BAD_PASSWORD SEC_BAD_TOKEN=$BAD_TOKEN
# 200 s: a binding's test starts node or python and servers of its own on a loaded machine.
timeout 200 "$@" >"$T/case.out" 2>"$T/case.err"
RC=$?
[ "$RC" = 0 ] || fail "$(basename "$1") ${*:2} exited $RC"
cat "$T/case.err" >&2
finish
