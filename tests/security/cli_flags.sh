#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI flags against one server per method (user/password, token, NKey user, operator mode
# with .creds): send and listen succeed with the right credentials; wrong or missing ones
# exit 2 with one clear line naming the method; no output holds a secret.
source "$(dirname "$0")/lib.sh" "$@"
start_methods userpass token nkey operator

# user and password
roundtrip userpass sec.up -s "$URL_userpass" --user alice --password "$PASSWORD"
auth_refused 'password|user' send sec.up -s "$URL_userpass" --user alice --password "$BAD_PASSWORD" --text a=b
refused 'authori[sz]ation|authenticat|refused' send sec.up -s "$URL_userpass" --text a=b
listen_refused 'password|user' sec.up -s "$URL_userpass" --user alice --password "$BAD_PASSWORD"
err_matches 'refus|reject|denied|not accepted'
# userinfo in the URL still works, but never travels in broker_url or --json
expect 0 send sec.up -s "nats://alice:$PASSWORD@127.0.0.1:$PORT_userpass" --text a=b --json
has "$T/run.out" "\"broker_url\":\"nats://127.0.0.1:$PORT_userpass\""
auth_refused 'password|user' send sec.up -s "nats://alice:$BAD_PASSWORD@127.0.0.1:$PORT_userpass" --text a=b
# a server list: broker_url is the first URL without userinfo; an unreachable server is named
# without the password
expect 0 send sec.up -s "nats://alice:$PASSWORD@127.0.0.1:$PORT_userpass,nats://alice:$PASSWORD@127.0.0.1:1" \
    --text a=b --json
has "$T/run.out" "\"broker_url\":\"nats://127.0.0.1:$PORT_userpass\""
refused '127\.0\.0\.1:1' send sec.up -s "nats://alice:$PASSWORD@127.0.0.1:1" --text a=b

# token (--token is the NATS token, as in natscli)
roundtrip token sec.tok --server "$URL_token" --token "$TOKEN"
auth_refused 'token' send sec.tok --server "$URL_token" --token "$BAD_TOKEN" --text a=b
refused 'authori[sz]ation|authenticat|refused' send sec.tok --server "$URL_token" --text a=b
listen_refused 'token' sec.tok --server "$URL_token" --token "$BAD_TOKEN"
err_matches 'refus|reject|denied|not accepted'
expect 0 send sec.tok -s "nats://$TOKEN@127.0.0.1:$PORT_token" --text a=b --json
has "$T/run.out" "\"broker_url\":\"nats://127.0.0.1:$PORT_token\""

# NKey user from a seed file
roundtrip nkey sec.nk -s "$URL_nkey" --nkey "$M/nkey.seed"
auth_refused 'nkey' send sec.nk -s "$URL_nkey" --nkey "$M/nkey-other.seed" --text a=b
refused 'authori[sz]ation|authenticat|refused' send sec.nk -s "$URL_nkey" --text a=b
listen_refused 'nkey' sec.nk -s "$URL_nkey" --nkey "$M/nkey-other.seed"
err_matches 'refus|reject|denied|not accepted'
refused 'nkey' send sec.nk -s "$URL_nkey" --nkey "$M/no-such.seed" --text a=b
has "$T/run.err" "$M/no-such.seed"

# operator mode: a user JWT + seed in a .creds file
roundtrip operator sec.op -s "$URL_operator" --creds "$M/user.creds"
auth_refused 'creds|credentials' send sec.op -s "$URL_operator" --creds "$M/stranger.creds" --text a=b
refused 'authori[sz]ation|authenticat|refused' send sec.op -s "$URL_operator" --text a=b
listen_refused 'creds|credentials' sec.op -s "$URL_operator" --creds "$M/stranger.creds"
err_matches 'refus|reject|denied|not accepted'
# an expired user JWT: nats-server 2.9 answers only "Authorization Violation"
auth_refused 'creds|credentials' send sec.op -s "$URL_operator" --creds "$M/expired.creds" --text a=b
refused 'creds|credentials' send sec.op -s "$URL_operator" --creds "$M/no-such.creds" --text a=b
has "$T/run.err" "$M/no-such.creds"

# request and reply take the same connection flags
start_bg rep reply sec.rr -s "$URL_operator" --creds "$M/user.creds" --echo --count 1 --timeout 10
REP=$BG_PID
wait_listening rep "$REP" sec.rr
expect 0 request sec.rr -s "$URL_operator" --creds "$M/user.creds" --text q=ping --json
has "$T/run.out" '"data":"ping"'
wait_exit "$REP" 15
[ "$RC" = 0 ] || fail "reply --creds exited $RC"
auth_refused 'creds|credentials' request sec.rr -s "$URL_operator" --creds "$M/stranger.creds" --text q=x
auth_refused 'creds|credentials' reply sec.rr -s "$URL_operator" --creds "$M/stranger.creds" --echo \
    --count 1 --timeout 10

# --connection-name: the server lists the connection under that name (monitoring /connz)
start_bg named listen sec.named -s "$URL_operator" --creds "$M/user.creds" \
    --connection-name nbtest-conn --count 1 --timeout 10
NAMED=$BG_PID
wait_listening named "$NAMED" sec.named
http_get "$MON_operator/connz" "$T/connz.json"
has "$T/connz.json" '"name": "nbtest-conn"'
expect 0 send sec.named -s "$URL_operator" --creds "$M/user.creds" --text a=b
wait_exit "$NAMED" 15
[ "$RC" = 0 ] || fail "listen --connection-name exited $RC"
# every connecting command documents each source of the connection settings in --help
for cmd in send listen request reply; do
    expect 0 "$cmd" --help
    for word in "-s," --server --user --password --token --creds --nkey --tlscert --tlskey --tlsca \
        --connection-name --context NATS_URL NATS_USER NATS_PASSWORD NATS_TOKEN NATS_CREDS \
        NATS_NKEY NATS_CERT NATS_KEY NATS_CA NATS_CONTEXT context.txt XDG_CONFIG_HOME; do
        has "$T/run.out" "$word"
    done
done
finish
