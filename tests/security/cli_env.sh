#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The natscli environment variables: NATS_URL, NATS_USER + NATS_PASSWORD, NATS_TOKEN,
# NATS_NKEY and NATS_CREDS connect send and listen with no flag; wrong values exit 2 with a
# clear line; a flag overrides the environment; no output holds a secret.
source "$(dirname "$0")/lib.sh" "$@"
start_methods userpass token nkey operator

# NATS_URL alone picks the server (no -s)
NATS_URL=$URL_userpass NATS_USER=alice NATS_PASSWORD=$PASSWORD roundtrip env-userpass sec.env.up
NATS_URL=$URL_userpass NATS_USER=alice NATS_PASSWORD=$BAD_PASSWORD \
    auth_refused 'password|user' send sec.env.up --text a=b
NATS_URL=$URL_userpass NATS_USER=alice NATS_PASSWORD=$BAD_PASSWORD \
    listen_refused 'password|user' sec.env.up
err_matches 'refus|reject|denied|not accepted'
NATS_URL=$URL_userpass refused 'authori[sz]ation|authenticat|refused' send sec.env.up --text a=b

NATS_URL=$URL_token NATS_TOKEN=$TOKEN roundtrip env-token sec.env.tok
NATS_URL=$URL_token NATS_TOKEN=$BAD_TOKEN auth_refused 'token' send sec.env.tok --text a=b

NATS_URL=$URL_nkey NATS_NKEY=$M/nkey.seed roundtrip env-nkey sec.env.nk
NATS_URL=$URL_nkey NATS_NKEY=$M/nkey-other.seed auth_refused 'nkey' send sec.env.nk --text a=b

NATS_URL=$URL_operator NATS_CREDS=$M/user.creds roundtrip env-creds sec.env.op
NATS_URL=$URL_operator NATS_CREDS=$M/stranger.creds \
    auth_refused 'creds|credentials' send sec.env.op --text a=b

# precedence: flag > environment
NATS_URL=nats://127.0.0.1:1 roundtrip flag-url-wins sec.env.prec -s "$URL_token" --token "$TOKEN"
NATS_URL=$URL_userpass NATS_USER=alice NATS_PASSWORD=$BAD_PASSWORD \
    roundtrip flag-password-wins sec.env.prec --user alice --password "$PASSWORD"
NATS_URL=$URL_userpass NATS_USER=alice NATS_PASSWORD=$PASSWORD \
    auth_refused 'password|user' send sec.env.prec --user alice --password "$BAD_PASSWORD" --text a=b
NATS_URL=$URL_token NATS_TOKEN=$BAD_TOKEN roundtrip flag-token-wins sec.env.prec --token "$TOKEN"
NATS_URL=$URL_operator NATS_CREDS=$M/stranger.creds \
    roundtrip flag-creds-wins sec.env.prec --creds "$M/user.creds"
finish
