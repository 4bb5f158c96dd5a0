#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS with a private CA and mutual TLS: send and listen succeed with --tlsca (and --tlscert /
# --tlskey), also from NATS_CA / NATS_CERT / NATS_KEY; a missing or wrong CA, a missing or
# foreign client certificate, tls:// against a plain server, ws:// and wss:// fail clearly;
# a plain nats:// URL against a TLS-required server negotiates TLS (nats.c switches to TLS
# when the server's INFO requires it). No output holds a secret (private-key text included).
source "$(dirname "$0")/lib.sh" "$@"
start_methods plain tls mtls
TLS_URL=tls://127.0.0.1:$PORT_tls
MTLS_URL=tls://127.0.0.1:$PORT_mtls

# server certificate from a private CA
roundtrip tls-flag sec.tls.a -s "$TLS_URL" --tlsca "$M/ca.pem"
NATS_CA=$M/ca.pem roundtrip tls-env sec.tls.b -s "$TLS_URL"
roundtrip tls-localhost sec.tls.c -s "tls://localhost:$PORT_tls" --tlsca "$M/ca.pem"
refused 'certificate' send sec.tls.d -s "$TLS_URL" --text a=b
err_matches 'tlsca|\bca\b|authority'
refused 'certificate' send sec.tls.d -s "$TLS_URL" --tlsca "$M/ca2.pem" --text a=b
err_matches 'tlsca|\bca\b|authority'
listen_refused 'certificate' sec.tls.d -s "$TLS_URL" --tlsca "$M/ca2.pem"
refused 'tlsca|ca' send sec.tls.d -s "$TLS_URL" --tlsca "$M/no-such-ca.pem" --text a=b
has "$T/run.err" "$M/no-such-ca.pem"

# a plain nats:// URL against a server that requires TLS: TLS is negotiated (nats.c follows
# the server's tls_required), so the private CA still decides
roundtrip tls-negotiated sec.tls.e -s "$URL_tls" --tlsca "$M/ca.pem"
refused 'certificate' send sec.tls.e -s "$URL_tls" --text a=b

# tls:// never falls back to plain text
refused 'tls|secure' send sec.tls.f -s "tls://127.0.0.1:$PORT_plain" --text a=b
listen_refused 'tls|secure' sec.tls.f -s "tls://127.0.0.1:$PORT_plain"
refused 'tls|secure' send sec.tls.f -s "$URL_plain" --tlsca "$M/ca.pem" --text a=b

# WebSocket URLs are refused (nats.c 3.4.1 has no WebSocket transport); usage or runtime error
for scheme in ws wss; do
    srun send sec.tls.g -s "$scheme://127.0.0.1:$PORT_plain" --text a=b
    [ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "$scheme:// URL: exit $RC, expected 1 or 2"
    err_matches 'websocket'
done

# mutual TLS: the server requires a client certificate signed by its CA
roundtrip mtls-flag sec.mtls.a -s "$MTLS_URL" --tlsca "$M/ca.pem" --tlscert "$M/client.pem" \
    --tlskey "$M/client.key"
NATS_CA=$M/ca.pem NATS_CERT=$M/client.pem NATS_KEY=$M/client.key roundtrip mtls-env sec.mtls.b \
    -s "$MTLS_URL"
refused 'certificate|tls' send sec.mtls.c -s "$MTLS_URL" --tlsca "$M/ca.pem" --text a=b
err_matches 'client|tlscert'
refused 'certificate|tls' send sec.mtls.c -s "$MTLS_URL" --tlsca "$M/ca.pem" \
    --tlscert "$M/client2.pem" --tlskey "$M/client2.key" --text a=b
err_matches 'client|tlscert'
listen_refused 'certificate|tls' sec.mtls.c -s "$MTLS_URL" --tlsca "$M/ca.pem"
# a certificate without its key (or the reverse) is a mistake named on the command line
for half in tlscert:client.pem tlskey:client.key; do
    srun send sec.mtls.c -s "$MTLS_URL" --tlsca "$M/ca.pem" "--${half%%:*}" "$M/${half#*:}" --text a=b
    [ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "--${half%%:*} alone: exit $RC, expected 1 or 2"
    err_matches 'tlscert|tlskey|key|certificate'
done
# a key that is not the certificate's
refused 'key|certificate' send sec.mtls.c -s "$MTLS_URL" --tlsca "$M/ca.pem" \
    --tlscert "$M/client.pem" --tlskey "$M/client2.key" --text a=b
finish
