#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where a NATS command finds its server and credentials (issue 10): natscli contexts
# ($XDG_CONFIG_HOME/nats/context/NAME.json, the selected one in context.txt, ~ expanded),
# --context and NATS_CONTEXT, the NATS_* environment, flags and -s; the precedence
# flag > environment > context > default; "nsc" contexts refused; no output holds the token.
source "$(dirname "$0")/lib.sh" "$@"
TOK=cli-tok-$RANDOM$RANDOM
start_server --auth "$TOK"
unset NATS_URL NATS_USER NATS_PASSWORD NATS_TOKEN NATS_CREDS NATS_NKEY NATS_CERT NATS_KEY NATS_CA NATS_CONTEXT
export HOME=$T/home XDG_CONFIG_HOME=$T/xdg
CTX=$XDG_CONFIG_HOME/nats/context
mkdir -p "$CTX" "$HOME"
DEAD=nats://127.0.0.1:1
printf '{"description":"ok","url":"%s","token":"%s","nsc":""}\n' "$URL" "$TOK" >"$CTX/good.json"
printf '{"url":"%s","token":"wrong-token"}\n' "$URL" >"$CTX/bad.json"
printf '{"url":"%s","nsc":"nsc://operator/account/user"}\n' "$URL" >"$CTX/nscctx.json"
printf '{"url":"%s","token":"%s","ca":"~/no-such-ca.pem"}\n' "$URL" "$TOK" >"$CTX/tilde.json"

# no context selected: the default server, which is not ours
expect_rc 2 send c.a --text a=b -s "$URL"
has "$T/run.err" "none were given"
# the selected context alone
echo good >"$XDG_CONFIG_HOME/nats/context.txt"
expect_rc 0 send c.a --text a=b
start_bg l1 listen c.b --count 1 --timeout 10
L=$BG_PID
wait_for "$T/l1.err" "listening on c.b"
expect_rc 0 send c.b --text a=b --json
wait_exit "$L" 10
[ "$RC" = 0 ] || fail "listen with the selected context exited $RC"
has "$T/run.out" "\"broker_url\":\"$URL\""
# the environment beats the context, a flag beats the environment
NATS_TOKEN=wrong-token expect_rc 2 send c.a --text a=b
has "$T/run.err" "tried: token"
NATS_TOKEN=wrong-token expect_rc 0 send c.a --text a=b --token "$TOK"
NATS_URL=$DEAD expect_rc 2 send c.a --text a=b
NATS_URL=$DEAD expect_rc 0 send c.a --text a=b -s "$URL"
NATS_URL=$DEAD expect_rc 0 send c.a --text a=b --server="$URL"
# --context and NATS_CONTEXT pick another context; the flag beats the variable
expect_rc 2 send c.a --text a=b --context bad
NATS_CONTEXT=bad expect_rc 2 send c.a --text a=b
NATS_CONTEXT=bad expect_rc 0 send c.a --text a=b --context good
# contexts natsbridge cannot honour, or cannot find, are refused before connecting
expect_rc 1 send c.a --text a=b --context nscctx
has "$T/run.err" '"nsc" setting is not supported'
expect_rc 1 send c.a --text a=b --context missing
has "$T/run.err" "natscli context 'missing': cannot read '$CTX/missing.json'"
expect_rc 1 send c.a --text a=b --context ../good
has "$T/run.err" "not a context name"
# ~ in a context's paths is the home directory
expect_rc 2 send c.a --text a=b --context tilde
has "$T/run.err" "$HOME/no-such-ca.pem"
# without XDG_CONFIG_HOME: ~/.config/nats
mkdir -p "$HOME/.config/nats/context"
cp "$CTX/good.json" "$HOME/.config/nats/context/home.json"
env -u XDG_CONFIG_HOME "$NB" send c.a --text a=b --context home >"$T/home.out" 2>"$T/home.err" ||
    fail "context under ~/.config: exit $?"
# the token in a URL never reaches an envelope or a message (no context selected now)
rm "$XDG_CONFIG_HOME/nats/context.txt"
expect_rc 0 send c.a --text a=b --json -s "nats://$TOK@127.0.0.1:$PORT"
has "$T/run.out" "\"broker_url\":\"$URL\""
expect_rc 2 send c.a --text a=b --json -s "nats://wrong$TOK@127.0.0.1:$PORT"
has "$T/run.err" "user/password or token in the URL"
# one-letter flags: only the known ones
expect_rc 1 send c.a --text a=b -x "$URL"
has "$T/run.err" "unknown flag '-x'"
# a mistyped secret flag is named without its value
expect_rc 1 send c.a --text a=b "--pasword=$TOK"
has "$T/run.err" "unknown flag '--pasword'"
# --help documents every source and the precedence
for cmd in send request listen reply stream; do
    expect_rc 0 "$cmd" --help
    for word in "-s, --server" NATS_URL NATS_CONTEXT context.txt --creds NATS_CREDS --tlsca \
        "a flag beats the environment"; do
        has "$T/run.out" "$word"
    done
done
# no output of this script holds the token (the files with it are the contexts only)
for f in "$T"/*.out "$T"/*.err; do
    lacks "$f" "$TOK"
done
echo "ok"
