#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natscli contexts ($XDG_CONFIG_HOME/nats/context/NAME.json, the selected one in
# $XDG_CONFIG_HOME/nats/context.txt): --context NAME, NATS_CONTEXT and context.txt connect
# send and listen with no other flag, also to a TLS + .creds server (a production context);
# flag > environment > context; a wrong or unknown context exits 2; no output holds a secret.
source "$(dirname "$0")/lib.sh" "$@"
start_methods userpass token nkey tlscreds mtls
CTX=$XDG_CONFIG_HOME/nats/context
mkdir -p "$CTX"

# context NAME KEY VALUE...: writes NAME.json the way natscli does (every field, "" when unset).
context() {
    local name=$1 k
    shift
    local -A v=([url]="" [user]="" [password]="" [token]="" [creds]="" [nkey]="" [cert]="" [key]="" [ca]="")
    while [ $# -gt 1 ]; do v[$1]=$2; shift 2; done
    {
        printf '{\n  "description": "nbtest %s",\n' "$name"
        for k in url token user password creds nkey cert key ca; do
            printf '  "%s": "%s",\n' "$k" "${v[$k]}"
        done
        printf '  "nsc": "",\n  "jetstream_domain": "",\n  "jetstream_api_prefix": "",\n'
        printf '  "jetstream_event_prefix": "",\n  "inbox_prefix": "",\n  "user_jwt": ""\n}\n'
    } >"$CTX/$name.json"
}
select_context() { printf '%s' "$1" >"$XDG_CONFIG_HOME/nats/context.txt"; }

context up url "$URL_userpass" user alice password "$PASSWORD"
context badup url "$URL_userpass" user alice password "$BAD_PASSWORD"
context tok url "$URL_token" token "$TOKEN"
context nk url "$URL_nkey" nkey "$M/nkey.seed"
context prod url "tls://127.0.0.1:$PORT_tlscreds" creds "$M/user.creds" ca "$M/ca.pem"
context deadurl url nats://127.0.0.1:1 user alice password "$PASSWORD"
context mtls url "tls://127.0.0.1:$PORT_mtls" ca "$M/ca.pem" cert "$M/client.pem" key "$M/client.key"
context prodnoca url "tls://127.0.0.1:$PORT_tlscreds" creds "$M/user.creds"

# the three ways to pick a context
roundtrip ctx-flag sec.ctx.a --context up
NATS_CONTEXT=tok roundtrip ctx-env sec.ctx.b
select_context nk
roundtrip ctx-selected sec.ctx.c
# a natscli context pointing at a TLS + creds server: no extra flag needed
select_context prod
roundtrip ctx-production sec.ctx.d
roundtrip ctx-mtls sec.ctx.m --context mtls
expect 0 send sec.ctx.d --text a=b --json
has "$T/run.out" "\"broker_url\":\"tls://127.0.0.1:$PORT_tlscreds\""

# wrong, unknown or incomplete contexts
auth_refused 'password|user' send sec.ctx.e --context badup --text a=b
listen_refused 'password|user' sec.ctx.e --context badup
err_matches 'refus|reject|denied|not accepted'
# an unknown context is a configuration mistake: a usage error (1) or a runtime one (2), named
for how in flag env; do
    if [ $how = flag ]; then srun send sec.ctx.e --context nosuch --text a=b; else
        NATS_CONTEXT=nosuch srun send sec.ctx.e --text a=b; fi
    [ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "unknown context ($how): exit $RC, expected 1 or 2"
    has "$T/run.err" nosuch
done
refused 'certificate|ca|tls' send sec.ctx.e --context prodnoca --text a=b

# precedence: flag > environment > context, per setting
roundtrip flag-over-ctx sec.ctx.f --context badup --password "$PASSWORD"
NATS_PASSWORD=$PASSWORD roundtrip env-over-ctx sec.ctx.g --context badup
NATS_PASSWORD=$BAD_PASSWORD roundtrip flag-over-env-over-ctx sec.ctx.h --context badup \
    --password "$PASSWORD"
NATS_CONTEXT=badup roundtrip ctx-flag-over-env sec.ctx.i --context up
select_context badup
NATS_CONTEXT=up roundtrip ctx-env-over-selected sec.ctx.j
NATS_URL=nats://127.0.0.1:1 refused 'connect|127.0.0.1:1|refused|unreachable|no server' \
    send sec.ctx.k --context up --text a=b
roundtrip flag-url-over-ctx sec.ctx.l --context deadurl -s "$URL_userpass"
finish
