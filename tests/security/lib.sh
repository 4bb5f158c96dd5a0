# SPDX-License-Identifier: MIT
# lib.sh - the security fixture, sourced by every security test:
#     source "$(dirname "$0")/lib.sh" NATSBRIDGE NKEYGEN
# On top of tests/cli/lib.sh ($T, run, start_bg, wait_*, has/lacks, cleanup by pid) it makes,
# at test time in $M = $T/m and with no network:
#   - certificates (openssl, EC P-256): ca.pem (private CA), server.pem/.key for 127.0.0.1 and
#     localhost, client.pem/.key signed by the CA, ca2.pem an unrelated CA and client2.pem/.key
#     signed by it (the "wrong CA" cases);
#   - NKeys, JWTs and .creds (tests/security/nkeygen.c): op.jwt, sys.jwt, acct.jwt, user.creds,
#     stranger.creds, expired.creds, nkey.seed, nkey-other.seed, keys.env;
#   - random passwords and a token: PASSWORD (user alice), LIMITED_PASSWORD (user limited),
#     TOKEN, and the wrong ones the tests type (BAD_PASSWORD, BAD_TOKEN);
#   - $M/secrets: every password, token, seed, user JWT and private-key line, one a line.
# start_methods NAME... starts a nats-server configured for each method on a free loopback port
# and sets URL_NAME; every output of the test is checked for the secrets (srun, check_secrets).
SEC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$SEC_DIR/../cli/lib.sh" "$1"
NKEYGEN=${2:?usage: $0 /path/to/natsbridge /path/to/nkeygen}
M=$T/m
# Nothing from the caller's own NATS set-up may leak in: no NATS_* variable, no natscli
# context (HOME and XDG_CONFIG_HOME point into $T).
unset NATS_URL NATS_USER NATS_PASSWORD NATS_TOKEN NATS_CREDS NATS_NKEY NATS_CERT NATS_KEY NATS_CA \
    NATS_CONTEXT NB_FILESERVER_TOKEN
export HOME=$T/home XDG_CONFIG_HOME=$T/xdg
mkdir -p "$M" "$HOME" "$XDG_CONFIG_HOME"

# The failure report of cli/lib.sh plus the logs of this fixture's servers.
fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$T"/*.err "$T"/*.out; do
        [ -s "$f" ] && { echo "---- $f" >&2; head -c 4000 "$f" >&2; }
    done
    for f in "$T"/srv-*/server.log; do
        grep -qE '\[(ERR|WRN)\]' "$f" 2>/dev/null &&
            { echo "---- $f" >&2; grep -E '\[(ERR|WRN)\]' "$f" | tail -10 >&2; }
    done
    exit 1
}

# ---- material ----

# ca NAME: a self-signed CA (NAME.pem, NAME.key).
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$M/$1.key" -out "$M/$1.pem" -subj "/CN=nbtest $1" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>>"$M/openssl.log" || fail "openssl: cannot make CA $1"
}

# make_cert NAME CA CN EXTENSIONS: a certificate NAME.pem/.key signed by CA.
make_cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$M/$1.key" -out "$M/$1.csr" -subj "/CN=$3" 2>>"$M/openssl.log" &&
        printf '%s\n' "$4" >"$M/$1.ext" &&
        openssl x509 -req -in "$M/$1.csr" -CA "$M/$2.pem" -CAkey "$M/$2.key" -days 2 \
            -set_serial "0x7$(random_hex 7)" -extfile "$M/$1.ext" \
            -out "$M/$1.pem" 2>>"$M/openssl.log" || fail "openssl: cannot make certificate $1"
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

make_material() {
    make_ca ca
    make_ca ca2
    make_cert server ca localhost \
        "$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth')"
    make_cert client ca nbtest-client 'extendedKeyUsage=clientAuth'
    make_cert client2 ca2 nbtest-client2 'extendedKeyUsage=clientAuth'
    "$NKEYGEN" "$M" || fail "nkeygen failed"
    source "$M/keys.env"
    PASSWORD=pw-$(random_hex 12)
    LIMITED_PASSWORD=lim-$(random_hex 12)
    TOKEN=tok-$(random_hex 16)
    BAD_PASSWORD=badpw-$(random_hex 8)
    BAD_TOKEN=badtok-$(random_hex 8)
    {
        printf '%s\n' "$PASSWORD" "$LIMITED_PASSWORD" "$TOKEN" "$BAD_PASSWORD" "$BAD_TOKEN"
        cat "$M/seeds.txt"
        sed -n '/BEGIN NATS USER JWT/{n;p}' "$M"/*.creds # user JWTs
        grep -hv -- '-----' "$M"/*.key # the base64 lines of every private key
    } | grep -v '^$' >"$M/secrets" # an empty pattern would match every output
}

# ---- servers ----

tls_block() { # tls_block [verify]: the server's TLS settings (mTLS with "verify")
    printf 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n  timeout: 3\n' "$M/server.pem" "$M/server.key"
    [ "${1:-}" = verify ] && printf '  ca_file: "%s"\n  verify: true\n' "$M/ca.pem"
    printf '}\n'
}

operator_block() {
    printf 'operator: "%s"\nsystem_account: %s\nresolver: MEMORY\n' "$M/op.jwt" "$SYS_PUB"
    printf 'resolver_preload: {\n  %s: "%s"\n  %s: "%s"\n}\n' \
        "$SYS_PUB" "$(cat "$M/sys.jwt")" "$ACCT_PUB" "$(cat "$M/acct.jwt")"
}

# method_conf NAME: the nats-server configuration of one method.
method_conf() {
    case $1 in
    plain) ;;
    userpass) printf 'authorization { users = [ {user: alice, password: "%s"} ] }\n' "$PASSWORD" ;;
    token) printf 'authorization { token: "%s" }\n' "$TOKEN" ;;
    nkey) printf 'authorization { users = [ {nkey: %s} ] }\n' "$NKEY_PUB" ;;
    operator) operator_block ;;
    tls) tls_block ;;
    mtls) tls_block verify ;;
    tlscreds) tls_block && operator_block ;; # what a production natscli context points at
    perms)
        printf 'authorization { users = [ {user: limited, password: "%s", permissions: {\n' \
            "$LIMITED_PASSWORD"
        printf '  publish: {allow: ["allowed.>"]}, subscribe: {allow: ["allowed.>"]} } } ] }\n'
        ;;
    *) fail "no server method $1" ;;
    esac
}

# start_methods NAME...: one nats-server per method, each on a free loopback port, started
# together (a start takes ~0.5 s); sets URL_NAME (nats://127.0.0.1:PORT), PORT_NAME and
# MON_NAME (its monitoring URL, also on a free port). The pids join BG_PIDS (the cleanup
# stops them).
start_methods() {
    local exe=${NB_TEST_NATS_SERVER:-nats-server} name pid
    command -v "$exe" >/dev/null 2>&1 || fail "nats-server not found: install it or set NB_TEST_NATS_SERVER"
    local -A pids
    for name in "$@"; do
        mkdir -p "$T/srv-$name"
        method_conf "$name" >"$T/srv-$name/server.conf"
        "$exe" -c "$T/srv-$name/server.conf" -a 127.0.0.1 -p -1 -m -1 \
            --ports_file_dir "$T/srv-$name" >"$T/srv-$name/server.log" 2>&1 &
        pids[$name]=$!
        BG_PIDS+=("$!")
    done
    for name in "$@"; do
        read_ports "$name" "${pids[$name]}"
    done
}

# read_ports NAME PID: waits (bounded) for the server's ports file and sets its variables.
read_ports() {
    local name=$1 pid=$2 file=$T/srv-$1/nats-server_$2.ports port='' mon=''
    for _ in $(seq 200); do # 10 s
        kill -0 "$pid" 2>/dev/null || fail "nats-server ($name) exited at start"
        # Written once the server listens, maybe in more than one step: retry.
        if [ -s "$file" ]; then
            port=$(grep -o '"nats":\["[a-z]*://[^"]*' "$file" | sed 's/.*://')
            mon=$(grep -o '"monitoring":\["[^"]*' "$file" | sed 's/.*\["//')
        fi
        [ -n "$port" ] && [ -n "$mon" ] && break
        sleep 0.05
    done
    [ -n "$port" ] && [ -n "$mon" ] || fail "nats-server ($name) did not write $file within 10 s"
    printf -v "URL_$name" 'nats://127.0.0.1:%s' "$port"
    printf -v "PORT_$name" '%s' "$port"
    printf -v "MON_$name" '%s' "$mon"
}

# http_get URL OUT: a GET of http://127.0.0.1:PORT/PATH into OUT with bash's /dev/tcp (no curl
# needed), bounded by timeout.
http_get() {
    local rest=${1#http://} hostport path
    hostport=${rest%%/*}
    path=/${rest#*/}
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$1" >&3 && cat <&3' \
        _ "$hostport" "$path" >"$2" || fail "GET $1 failed"
}

# ---- runs and checks ----

# check_secrets FILE...: fails when a file holds any secret (names the file and the line of
# $M/secrets that matched, never the secret itself). One grep when nothing matches.
check_secrets() {
    local f n
    grep -qFf "$M/secrets" -- "$@" 2>/dev/null || return 0
    for f in "$@"; do
        [ -f "$f" ] || continue
        n=$(grep -nFxf <(grep -oFf "$M/secrets" "$f") "$M/secrets" | head -1 | cut -d: -f1)
        [ -z "$n" ] || fail "$f holds secret #$n of $M/secrets"
    done
}

# srun ARGS...: run (cli/lib.sh: bounded, RC, $T/run.out/.err), then the secret grep of both.
srun() {
    run "$@"
    check_secrets "$T/run.out" "$T/run.err"
}

# expect ARGS...: srun with an expected exit status first: expect N natsbridge-args...
expect() {
    local want=$1
    shift
    srun "$@"
    [ "$RC" = "$want" ] || fail "natsbridge $* exited $RC, expected $want"
}

# refused WHAT ARGS...: exit 2 with one clear line on stderr that contains the regex WHAT
# (case-insensitive), nothing on stdout.
refused() {
    local what=$1
    shift
    expect 2 "$@"
    [ -s "$T/run.err" ] || fail "natsbridge $* exited 2 with nothing on stderr"
    grep -qiE -- "$what" "$T/run.err" || fail "stderr of natsbridge $* does not match /$what/: $(head -c 500 "$T/run.err")"
    [ -s "$T/run.out" ] && fail "natsbridge $* printed on stdout while failing"
    return 0
}

# wait_listening NAME PID SUBJECT: until the background run NAME says it listens on SUBJECT
# (bounded, 10 s); fails at once when it exits first.
wait_listening() {
    local _
    for _ in $(seq 200); do
        grep -qF -- "listening on $3" "$T/$1.err" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { wait "$2"; fail "listen ($1) exited $? before listening"; }
        sleep 0.05
    done
    fail "listen ($1) did not start listening on $3 within 10 s"
}

# roundtrip NAME SUBJECT ARGS...: listen --json --count 1 in the background and send one text
# payload with the same connection arguments; both exit 0, the message arrives, and the
# outputs (msg_id, --json envelope, stderr) hold no secret.
RT_N=0
roundtrip() {
    local name=$1 subject=$2
    shift 2
    RT_N=$((RT_N + 1))
    local tag=rt$RT_N-$name
    start_bg "$tag" listen "$subject" "$@" --json --count 1 --timeout 10
    local pid=$BG_PID
    wait_listening "$tag" "$pid" "$subject"
    expect 0 send "$subject" "$@" --text "greeting=hello $name"
    local id
    id=$(cat "$T/run.out")
    wait_exit "$pid" 15
    [ "$RC" = 0 ] || fail "listen ($name) exited $RC"
    has "$T/$tag.out" "\"msg_id\":\"$id\""
    has "$T/$tag.out" "\"data\":\"hello $name\""
    grep -q '"broker_url":"[a-z]*://[^"@]*"' "$T/$tag.out" || fail "broker_url of $name carries userinfo or is missing"
    check_secrets "$T/$tag.out" "$T/$tag.err"
}

# err_matches REGEX: the last run's stderr also matches REGEX (case-insensitive).
err_matches() { grep -qiE -- "$1" "$T/run.err" || fail "stderr does not match /$1/: $(head -c 500 "$T/run.err")"; }

# auth_refused METHOD ARGS...: refused, and the line names the method tried (regex METHOD)
# and says that the server refused it.
auth_refused() {
    refused "$@"
    err_matches 'refus|reject|denied|not accepted'
}

# listen_refused WHAT SUBJECT ARGS...: listen exits 2 (bounded), stderr matches WHAT.
listen_refused() {
    local what=$1
    shift
    refused "$what" listen "$@" --count 1 --timeout 10
}

# self_check: the secret grep must catch every kind of secret (a password, a seed, a user JWT,
# a private-key line), or every "no secret" verdict above would be empty.
self_check() {
    local kind line
    [ "$(wc -l <"$M/secrets")" -ge 20 ] || fail "the secrets list is too short"
    for kind in "$PASSWORD" "$(head -1 "$M/seeds.txt")" \
        "$(sed -n '/BEGIN NATS USER JWT/{n;p}' "$M/user.creds")" "$(sed -n 2p "$M/client.key")"; do
        line="some output: $kind."
        printf '%s\n' "$line" >"$M/probe"
        (check_secrets "$M/probe") 2>/dev/null && fail "the secret grep missed a secret"
    done
    rm -f "$M/probe"
}

# finish: the last secret grep over every output file of the test (background runs included:
# each has its own NAME.out/.err), then PASS.
finish() {
    check_secrets "$T"/*.out "$T"/*.err
    echo PASS
}

make_material
self_check
