#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The file server over HTTPS with a private CA (issue 10 item 5): `natsbridge fileserver
# --tls-cert --tls-key` serves https://; a link payload goes end to end through NATS with
# --fileserver-ca on both sides; the wrong CA, or none, fails clearly naming --fileserver-ca;
# the upload token comes from a file or the environment and never appears in any output.
# Certificates are made here, at run time, with openssl into the test's temp dir.
source "$(dirname "$0")/../cli/lib.sh" "$@"
command -v openssl >/dev/null || fail "openssl not found"
start_server

# A private CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA.
mkca() { # mkca NAME
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=natsbridge test $1" -keyout "$T/$1.key" -out "$T/$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        >/dev/null 2>&1 || fail "openssl could not make CA $1"
}
mkca ca
mkca other
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/srv.key" -out "$T/srv.csr" >/dev/null 2>&1 || fail "openssl: server key"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -extfile "$T/srv.ext" -out "$T/srv.pem" >/dev/null 2>&1 || fail "openssl: sign"

TOKEN=tls-t0ken-9f3a
printf '%s\n' "$TOKEN" >"$T/token.txt"
"$NB" fileserver --listen 127.0.0.1:0 --dir "$T/files" --tls-cert "$T/srv.pem" \
    --tls-key "$T/srv.key" --token-file "$T/token.txt" >"$T/fs.out" 2>"$T/fs.err" &
BG_PIDS+=($!)
wait_for "$T/fs.out" "https://"
F=$(grep -o 'https://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$F" ] || fail "no https URL in: $(cat "$T/fs.out")"

head -c 1500000 /dev/urandom >"$T/big.bin"
SHA=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

# End to end: uploaded over HTTPS (token from the environment), downloaded over HTTPS.
start_bg recv listen t.tls --server "$URL" --fileserver "$F" --fileserver-ca "$T/ca.pem" \
    --json --count 1 --timeout 20 --save-dir "$T/saved"
L=$BG_PID
wait_for "$T/recv.err" "listening on t.tls"
NB_FILESERVER_TOKEN=$TOKEN expect_rc 0 send t.tls --server "$URL" --fileserver "$F" \
    --fileserver-ca "$T/ca.pem" --file "big=$T/big.bin" --text small=hi --link small --json
ID=$(grep -o '"msg_id":"[^"]*"' "$T/run.out" | head -1 | cut -d'"' -f4)
[ -n "$ID" ] || fail "no msg_id in the sent envelope"
cp "$T/run.out" "$T/sent.json"
wait_exit "$L" 20
[ "$RC" = 0 ] || fail "listen exited $RC"
has "$T/sent.json" "\"data\":\"$F/file/"
has "$T/recv.out" "\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\""
has "$T/recv.out" "\"size\":1500000,\"sha256\":\"$SHA\""
cmp "$T/big.bin" "$T/saved/$ID/big" || fail "the payload downloaded over HTTPS differs"
[ "$(cat "$T/saved/$ID/small")" = hi ] || fail "the small link payload differs"

# The wrong CA, and no CA at all (the system's): refused, naming what to fix.
for ca in other none; do
    extra=(--fileserver-ca "$T/other.pem")
    [ "$ca" = none ] && extra=()
    expect_rc 2 send t.tls --server "$URL" --fileserver "$F" --fileserver-token-file \
        "$T/token.txt" "${extra[@]}" --text small=hi --link small
    has "$T/run.err" "certificate could not be verified"
    has "$T/run.err" "--fileserver-ca"
    one_line "$T/run.err"
    cat "$T/run.err" # the message, for the log
done
# A receiver with the wrong CA reports the link it could not fetch and goes on.
start_bg bad listen t.tls --server "$URL" --fileserver "$F" --fileserver-ca "$T/other.pem" \
    --json --timeout 8 --retries 0
L=$BG_PID
wait_for "$T/bad.err" "listening on t.tls"
expect_rc 0 send t.tls --server "$URL" --fileserver "$F" --fileserver-ca "$T/ca.pem" \
    --fileserver-token "$TOKEN" --text small=hi --link small
wait_exit "$L" 20
has "$T/bad.err" "certificate could not be verified"
[ -s "$T/bad.out" ] && fail "a link that could not be verified was printed"

# Plain HTTP to the HTTPS server gets nowhere; a CA file that does not exist is a usage error.
expect_rc 2 send t.tls --server "$URL" --fileserver "${F/https/http}" --fileserver-token \
    "$TOKEN" --text small=hi --link small
expect_rc 1 send t.tls --server "$URL" --fileserver "$F" --fileserver-ca "$T/missing.pem" \
    --text small=hi --link small
has "$T/run.err" "$T/missing.pem"
# Only a certificate and no key: the file server refuses to start, saying so.
expect_rc 2 fileserver --listen 127.0.0.1:0 --dir "$T/f2" --tls-cert "$T/srv.pem"
has "$T/run.err" "--tls-key"

# The token never appears in any output of this test.
for f in "$T"/*.out "$T"/*.err "$T"/*.json; do
    grep -qF "$TOKEN" "$f" && fail "the token appears in $f"
done
echo PASS
