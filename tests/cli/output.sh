#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scriptable output of listen and request (issue 13): --json gives a link's url; --data gives
# every payload's bytes (base64 decoding to what was sent, table rows bounded by --rows with
# "truncated"); --no-fetch downloads nothing (the file server's request log proves it) and
# still prints url, size and sha256; the summary shows short dictionaries and the first line of
# a long text; a link URL with userinfo is printed without it; every JSON line validates against docs/cli-json.schema.json, which rejects a
# wrong document.
source "$(dirname "$0")/lib.sh" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA="$HERE/../../docs/cli-json.schema.json"
CHECK="$HERE/schema_check.py"
start_server
# python3 may be a slow launcher (pyenv): resolve the interpreter once
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

# The file server logs every request on stderr (no --quiet): GET lines are downloads.
start_bg fs fileserver --listen 127.0.0.1:0 --dir "$T/files"
wait_for "$T/fs.out" "http://"
F=$(grep -o 'http://[0-9.:]*' "$T/fs.out" | head -1)
[ -n "$F" ] || fail "no file server URL in: $(cat "$T/fs.out")"

head -c 3000 /dev/urandom >"$T/bin"
head -c 2000 /dev/urandom >"$T/img"
head -c 200000 /dev/urandom >"$T/big"
printf 'n,name\n1,a\n2,b\n3,c\n4,d\n5,e\n' >"$T/t.csv"
{ printf 'first line of a long report'; head -c 400 /dev/zero | tr '\0' 'x'; printf '\nsecond line\n'; } >"$T/long.txt"
SHORTDICT='{"a":1,"b":[true,null]}'
LONGDICT="{\"k\":\"$(head -c 300 /dev/zero | tr '\0' 'y')\"}"

# ---- --json --data: one message with every kind of payload, two listeners (--rows 2 and 10)
start_bg d2 listen t.out --server "$URL" --fileserver "$F" --json --data --rows 2 --count 1 --timeout 15
L1=$BG_PID
start_bg d10 listen t.out --server "$URL" --fileserver "$F" --json --data --rows 10 --count 1 --timeout 15
L2=$BG_PID
start_bg human listen t.out --server "$URL" --fileserver "$F" --count 1 --timeout 15
L3=$BG_PID
for n in d2 d10 human; do wait_for "$T/$n.err" "listening on t.out"; done
expect_rc 0 send t.out --server "$URL" --fileserver "$F" --sha256 --text s=hello \
    --dict d="$SHORTDICT" --dict long="$LONGDICT" --file "b=$T/bin" \
    --file "img=$T/img:image" --file "big=$T/big" --link big --csv "tab=$T/t.csv" \
    --file "lt=$T/long.txt:text"
for pid in $L1 $L2 $L3; do
    wait_exit "$pid" 15
    [ "$RC" = 0 ] || fail "a listener exited $RC"
done
"$PY" - "$T" "$F" <<'EOF' || fail "--json --data output is wrong"
import base64, csv, json, sys
t, fs = sys.argv[1], sys.argv[2]
def load(name):
    return {p["dataname"]: p for p in json.loads(open(f"{t}/{name}.out").read())["payloads"]}
d2, d10 = load("d2"), load("d10")
raw = lambda f: open(f"{t}/{f}", "rb").read()
for name, f in (("b", "bin"), ("img", "img"), ("big", "big")):
    assert base64.b64decode(d2[name]["data"], validate=True) == raw(f), name
assert d2["img"]["type"] == "image"
assert d2["big"]["transport"] == "link" and d2["big"]["fetched"] is True
assert d2["big"]["url"].startswith(fs + "/"), d2["big"]["url"]
assert "url" not in d2["b"] and "fetched" not in d2["b"]
assert d2["s"]["data"] == "hello"
assert d2["d"]["data"] == {"a": 1, "b": [True, None]}
assert d2["lt"]["data"] == raw("long.txt").decode()
rows = [{"n": int(r["n"]), "name": r["name"]} for r in csv.DictReader(open(f"{t}/t.csv"))]
assert d2["tab"]["rows"] == 5
assert d2["tab"]["data"] == rows[:2] and d2["tab"]["truncated"] is True, d2["tab"]
assert d10["tab"]["data"] == rows and d10["tab"]["truncated"] is False, d10["tab"]
EOF
# the summary: a short dictionary inline, a long one by size, the first line of a long text
has "$T/human.out" "  \"d\" dictionary direct ${#SHORTDICT} bytes $SHORTDICT"
has "$T/human.out" "  \"long\" dictionary direct ${#LONGDICT} bytes (${#LONGDICT} bytes of JSON: see --json)"
LEN=$(stat -c %s "$T/long.txt")
FIRST=$(head -1 "$T/long.txt" | head -c 200)
has "$T/human.out" "  \"lt\" text direct $LEN bytes \"$FIRST\"... ($LEN bytes)"
lacks "$T/human.out" "second line"
has "$T/human.out" '  "s" text direct 5 bytes "hello"'
# the link was downloaded by the three listeners: GET lines in the file server's log
BIGPATH=$("$PY" -c 'import json,sys; print([p["url"] for p in json.load(open(sys.argv[1]))["payloads"] if p["dataname"]=="big"][0].split("/",3)[3])' "$T/d2.out")
wait_for "$T/fs.err" "GET /$BIGPATH 200"
[ "$(grep -c "GET /$BIGPATH " "$T/fs.err")" = 3 ] || fail "not three downloads of /$BIGPATH"

# ---- --no-fetch: nothing downloaded (no file server allowed either), url, size, sha256
start_bg nf listen t.nf --server "$URL" --json --no-fetch --count 1 --timeout 15
L1=$BG_PID
start_bg nfh listen t.nf --server "$URL" --no-fetch --count 1 --timeout 15
L2=$BG_PID
start_bg nfd listen t.nf --server "$URL" --json --data --no-fetch --count 1 --timeout 15 \
    --save-dir "$T/nfsaved"
L3=$BG_PID
for n in nf nfh nfd; do wait_for "$T/$n.err" "listening on t.nf"; done
expect_rc 0 send t.nf --server "$URL" --fileserver "$F" --sha256 --file "big=$T/big" --link big \
    --csv "tab=$T/t.csv" --link tab --text s=direct
ID=$(cat "$T/run.out")
for pid in $L1 $L2 $L3; do
    wait_exit "$pid" 15
    [ "$RC" = 0 ] || fail "a --no-fetch listener exited $RC"
done
SHA=$(sha256sum "$T/big" | cut -d' ' -f1)
"$PY" - "$T" "$F" "$SHA" <<'EOF' || fail "--no-fetch output is wrong"
import json, sys
t, fs, sha = sys.argv[1:4]
for name in ("nf", "nfd"):
    p = {p["dataname"]: p for p in json.loads(open(f"{t}/{name}.out").read())["payloads"]}
    big, tab = p["big"], p["tab"]
    assert big["fetched"] is False and big["url"].startswith(fs + "/") and big["size"] == 200000, big
    assert big["sha256"] == sha and "data" not in big and "path" not in big, big
    assert tab["fetched"] is False and "data" not in tab and "rows" not in tab, tab
    assert p["s"]["data"] == "direct"
EOF
URL_BIG=$("$PY" -c 'import json,sys; print([p["url"] for p in json.load(open(sys.argv[1]))["payloads"] if p["dataname"]=="big"][0])' "$T/nf.out")
has "$T/nfh.out" "  \"big\" binary link 200000 bytes not fetched: \"$URL_BIG\" sha256 $SHA"
has "$T/nfh.out" '  "tab" table link '
lacks "$T/nfh.out" "(table not readable"
# --save-dir saved the direct payload only
[ -f "$T/nfsaved/$ID/s" ] || fail "--no-fetch --save-dir did not save the direct payload"
[ -e "$T/nfsaved/$ID/big" ] && fail "--no-fetch --save-dir saved a link payload"
sleep 0.3 # a GET would be logged when it completes
lacks "$T/fs.err" "GET /${URL_BIG#*://*/} "

# ---- a link URL with userinfo (another peer may send one): printed without it
# raw_publish SUBJECT BODY: as in badmsg.sh, BODY published as is over the NATS text protocol.
raw_publish() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot reach nats-server"
    local info
    IFS= read -r -t 5 info <&3 || fail "no INFO from nats-server"
    printf 'CONNECT {"verbose":false,"pedantic":false}\r\nPUB %s %d\r\n%s\r\nPING\r\n' \
        "$1" "${#2}" "$2" >&3
    IFS= read -r -t 5 info <&3 # PONG: the server has the message
    exec 3<&-
}
expect_rc 0 send t.unused --server "$URL" --fileserver "$F" --text a=hi --link a --json
ENV=$(sed "s|\"$F/|\"${F/http:\/\//http://alice:pw-s3cret@}/|" "$T/run.out")
grep -q 'alice:pw-s3cret@' <<<"$ENV" || fail "no userinfo put into the envelope: $ENV"
start_bg red listen t.red --server "$URL" --json --no-fetch --count 1 --timeout 15
L1=$BG_PID
start_bg redh listen t.red --server "$URL" --no-fetch --count 1 --timeout 15
L2=$BG_PID
wait_for "$T/red.err" "listening on t.red"
wait_for "$T/redh.err" "listening on t.red"
raw_publish t.red "$ENV"
for pid in $L1 $L2; do
    wait_exit "$pid" 15
    [ "$RC" = 0 ] || fail "a listener of the userinfo link exited $RC"
done
has "$T/red.out" "\"url\":\"$F/file/"
has "$T/redh.out" "not fetched: \"$F/file/"
lacks "$T/red.out" "pw-s3cret"
lacks "$T/redh.out" "pw-s3cret"
lacks "$T/redh.out" "alice"

# ---- request --json --data: the same output for a reply
start_bg rep reply t.req --server "$URL" --echo --count 1 --timeout 15
wait_for "$T/rep.err" "listening on t.req"
expect_rc 0 request t.req --server "$URL" --json --data --rows 1 --file "b=$T/bin" --csv "tab=$T/t.csv"
cp "$T/run.out" "$T/req.out"
"$PY" - "$T" <<'EOF' || fail "request --json --data output is wrong"
import base64, json, sys
t = sys.argv[1]
p = {p["dataname"]: p for p in json.loads(open(f"{t}/req.out").read())["payloads"]}
assert base64.b64decode(p["b"]["data"]) == open(f"{t}/bin", "rb").read()
assert p["tab"]["data"] == [{"n": 1, "name": "a"}] and p["tab"]["truncated"] is True
EOF

# ---- usage: --data without --json
expect_rc 1 listen t.x --data
one_line "$T/run.err"
has "$T/run.err" "--data needs --json"

# ---- the schema: every JSON line above validates; wrong documents do not
for f in d2 d10 nf nfd red req; do cat "$T/$f.out"; done >"$T/all.jsonl"
[ "$(wc -l <"$T/all.jsonl")" = 6 ] || fail "expected 6 JSON lines"
"$PY" "$CHECK" "$SCHEMA" "$T/all.jsonl" >"$T/check.out" 2>&1 || fail "schema check: $(cat "$T/check.out")"
has "$T/check.out" "6 document(s) valid"
# wrong documents, each one mutation of the first line: every one is rejected, by name
"$PY" - "$T" <<'EOF' || fail "cannot write the wrong documents"
import json, sys
t = sys.argv[1]
mutations = {
    "extra": lambda d: d.update(secret=1),
    "missing": lambda d: d.pop("msg_id"),
    "fetched": lambda d: d["payloads"][0].update(fetched="yes"),
    "transport": lambda d: d["payloads"][0].update(transport="carrier-pigeon"),
    "sha": lambda d: d["payloads"][0].update(sha256="xyz"),
    "size": lambda d: d["payloads"][0].update(size=-1),
    "column": lambda d: d["payloads"][0].update(columns=[{"name": "n"}]),
    "payloads": lambda d: d.update(payloads={}),
}
for name, mutate in mutations.items():
    d = json.loads(open(f"{t}/all.jsonl").readline())
    mutate(d)
    open(f"{t}/bad-{name}.json", "w").write(json.dumps(d) + "\n")
EOF
BAD="extra missing fetched transport sha size column payloads"
# shellcheck disable=SC2046 # one file per word
"$PY" "$CHECK" --invalid "$SCHEMA" $(for b in $BAD; do echo "$T/bad-$b.json"; done) >"$T/bad.out" 2>&1 ||
    fail "the schema accepted a wrong document: $(cat "$T/bad.out")"
for b in $BAD; do has "$T/bad.out" "bad-$b.json:1: "; done
# a keyword the small checker does not know is an error, not silently ignored
sed 's/"minimum": 0,/"minimum": 0, "minLength": 1,/' "$SCHEMA" >"$T/schema2.json"
"$PY" "$CHECK" "$T/schema2.json" "$T/all.jsonl" >"$T/bad.out" 2>&1 && fail "unknown keyword accepted"
has "$T/bad.out" "not supported"
# cross-check with the jsonschema package where a python3 on this machine has it (Debian's
# python3-jsonschema, scripts/install-deps.sh --test)
for py in "$PY" /usr/bin/python3; do
    if "$py" -c 'import jsonschema' 2>/dev/null; then
        "$py" - "$SCHEMA" "$T/all.jsonl" "$T" $BAD <<'EOF' || fail "jsonschema disagrees"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for line in open(sys.argv[2]):
    v.validate(json.loads(line))
for b in sys.argv[4:]:
    assert not v.is_valid(json.load(open(f"{sys.argv[3]}/bad-{b}.json"))), b
EOF
        echo "jsonschema ($py) agrees"
        break
    fi
done
echo PASS
