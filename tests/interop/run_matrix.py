#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run_matrix.py - one cell of the cross-language interop matrix (docs/INTEROP.md).

    run_matrix.py --nb NATSBRIDGE_CLI --ack ACK_SERVICE --table TABLE_PEER [--node NODE] CELL
    run_matrix.py --list

Each run is independent: its own nats-server (free loopback port, -p -1), its own built-in
file server (`natsbridge fileserver --listen 127.0.0.1:0`), its own temp dir, bounded waits,
and it stops what it started (by pid). The C side is the real CLI (`natsbridge send`,
`listen --json`, `request --json`, `reply --echo`), ack_service.c and table_peer.c on the
library; the JS
side is js/peer.mjs on js/natsbridge.mjs; the Python side python/peer_main.py on
python/natsbridge_peer.py.

Cells:
    c2js|js2c|c2py|py2c.<type>.<direct|link>    one payload of that type
    c2js|js2c|c2py|py2c.multi.<direct|link|mixed> every type of the peer in one message
    js2c.multi.later                            ... written with payload_type and metadata.sha256
    c2js|js2c.tableapi.<direct|link>            tables built/read with the C table API and
                                                apache-arrow (table_peer.c)
    js2c.put.link                               the JS peer's PUT uploader
    reqrep.js_to_c, reqrep.c_to_js              request/reply across languages
    reqrep.py_device_ack, reqrep.py_device_nack a Python device configures a C service
What is compared: dataname, wire type, transport and size of every payload, the SHA-256 of its
bytes against the source file, the decoded value (text, JSON, Arrow row count), and the
envelope fields correlation_id, msg_id, msg_purpose, sender_name, receiver_name, receiver_id,
reply_to, reply_to_msg_id, send_to and metadata, against both the test's request and the
envelope the sender printed.
"""

import base64
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")
PY_DIR = os.path.join(HERE, "python")
THRESHOLD = 1000000  # the README default, used by every side
CELL_SECONDS = 100   # a cell's own time limit, under CTest's TIMEOUT of 120 s

TYPES = {
    "js": ["text", "dictionary", "jsontable", "table", "image", "audio", "video", "binary"],
    "py": ["text", "dictionary", "image", "audio", "video", "binary"],
}
# Transports each direction can use: the Python peer downloads links but does not upload.
TRANSPORTS = {"c2js": ["direct", "link"], "js2c": ["direct", "link"],
              "c2py": ["direct", "link"], "py2c": ["direct"]}
MULTI = {"c2js": ["direct", "link", "mixed"], "js2c": ["direct", "link", "mixed", "later"],
         "c2py": ["direct", "link", "mixed"], "py2c": ["direct"]}
REQREP = ["js_to_c", "c_to_js", "py_device_ack", "py_device_nack"]


def all_cells():
    cells = []
    for d, transports in TRANSPORTS.items():
        peer = "js" if "js" in d else "py"
        cells += ["%s.%s.%s" % (d, t, tr) for t in TYPES[peer] for tr in transports]
        cells += ["%s.multi.%s" % (d, m) for m in MULTI[d]]
    cells += ["%s.tableapi.%s" % (d, tr) for d in ("c2js", "js2c") for tr in ("direct", "link")]
    return cells + ["js2c.put.link"] + ["reqrep." + r for r in REQREP]


class Failure(Exception):
    pass


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ------------------------------------------------------------------------------------------
# Processes and servers
# ------------------------------------------------------------------------------------------

class Run:
    """Everything one cell starts: temp dir, servers, background processes."""

    def __init__(self, args, cell):
        self.args = args
        self.cell = cell
        self.dir = tempfile.mkdtemp(prefix="nbinterop-")
        self.procs = []
        self.rng = random.Random(cell)  # the same bytes every run of a cell
        self.nats_url = self.fs_url = None

    def start(self):
        self.nats_url = self.start_nats()
        self.fs_url = self.start_fileserver()

    def path(self, name):
        return os.path.join(self.dir, name)

    def background(self, name, argv, cwd=None):
        out = open(self.path(name + ".out"), "wb")
        err = open(self.path(name + ".err"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        p.nb_name = name
        self.procs.append(p)
        return p

    def read(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_text(self, name, text, proc, seconds=15):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if text in self.read(name):
                return
            if proc.poll() is not None:
                raise Failure("%s exited with %s before printing %r" % (proc.nb_name, proc.returncode, text))
            time.sleep(0.02)
        raise Failure("%r did not appear in %s within %d s" % (text, name, seconds))

    def wait_exit(self, proc, seconds=30):
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Failure("%s still running after %d s" % (proc.nb_name, seconds))
        if proc.returncode != 0:
            raise Failure("%s exited %d" % (proc.nb_name, proc.returncode))
        return self.read(proc.nb_name + ".out")

    def start_nats(self):
        exe = os.environ.get("NB_TEST_NATS_SERVER", "nats-server")
        if not shutil.which(exe):
            raise Failure("nats-server not found: install it or set NB_TEST_NATS_SERVER")
        ports = self.path("nats")
        os.mkdir(ports)
        p = self.background("nats", [exe, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", ports])
        pf = os.path.join(ports, "nats-server_%d.ports" % p.pid)
        deadline = time.time() + 10
        while time.time() < deadline:
            if p.poll() is not None:
                raise Failure("nats-server exited at start")
            try:
                with open(pf) as f:
                    return json.load(f)["nats"][0]
            except (OSError, ValueError, KeyError, IndexError):
                time.sleep(0.02)
        raise Failure("nats-server did not write %s within 10 s" % pf)

    def start_fileserver(self):
        p = self.background("fileserver", [self.args.nb, "fileserver", "--listen", "127.0.0.1:0",
                                           "--dir", self.path("files"), "--quiet"])
        self.wait_text("fileserver.out", "listening on http://", p)
        line = self.read("fileserver.out").split("listening on ", 1)[1]
        return line.split(" ", 1)[0]

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump(self):
        for name in sorted(os.listdir(self.dir)):
            if name.endswith((".out", ".err")) and name not in ("nats.out",):
                text = self.read(name)
                if text.strip():
                    print("---- %s\n%s" % (name, text[-3000:]), file=sys.stderr)


# ------------------------------------------------------------------------------------------
# Test data
# ------------------------------------------------------------------------------------------

TEXT = "Grüße from natsbridge ✓ 😀\nsecond line\t\"quoted\" \\ back"
# Compact JSON with raw UTF-8, as JSON.stringify and json.dumps(ensure_ascii=False) write it:
# the bytes a peer re-serialises from the parsed value are the file's bytes.
DICTIONARY = {"device": "thermo-1", "name": "café", "n": [1, 2, 3], "ok": True,
              "nested": {"x": None, "y": -2.5}}
JSONTABLE = [{"id": 1, "name": "a"}, {"id": 2, "name": "ü"}]
# The demo table (js/peer.mjs demoTable, table_peer.c demo_table): as apache-arrow reads it.
DEMO_RECORDS = [{"id": 1, "name": "alpha", "score": 0.5}, {"id": 2, "name": "béta", "score": 1.25},
                {"id": 3, "name": "gamma", "score": -3}]
DEMO_TABLE = {"rows": 3, "columns": ["id", "name", "score"], "records": DEMO_RECORDS}


def make_file(run, dataname, ptype, size=None):
    """Writes the source file of a payload; returns its path."""
    path = run.path("src-" + dataname)
    if ptype == "text":
        data = TEXT.encode("utf-8")
    elif ptype == "dictionary":
        data = json.dumps(DICTIONARY, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    elif ptype == "jsontable":
        data = json.dumps(JSONTABLE, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    elif ptype == "table":
        subprocess.run([run.args.node, "peer.mjs", "make-arrow", path], cwd=JS_DIR, check=True,
                       timeout=30)
        return path
    else:
        heads = {"image": b"\x89PNG\r\n\x1a\n", "audio": b"RIFF\x24\x00\x00\x00WAVE",
                 "video": b"\x00\x00\x00\x18ftypmp42", "binary": bytes(range(256))}
        n = size if size is not None else 3000
        data = heads[ptype] + bytes(run.rng.getrandbits(8) for _ in range(max(0, n - len(heads[ptype]))))
        data = data[:n]
    with open(path, "wb") as f:
        f.write(data)
    return path


def payload_specs(run, peer, mode, one_type=None):
    """[{dataname, type, file, link}] for a cell: one type, or every type of the peer."""
    types = [one_type] if one_type else TYPES[peer]
    specs = []
    for t in types:
        name = "p_" + t
        specs.append({"dataname": name, "type": t, "file": make_file(run, name, t),
                      "link": mode == "link"})
    if mode == "mixed":  # two payloads past the threshold among the small direct ones
        for name, t, n in (("big_binary", "binary", THRESHOLD + 200000), ("big_image", "image", THRESHOLD)):
            specs.insert(len(specs) // 2, {"dataname": name, "type": t,
                                           "file": make_file(run, name, t, n), "link": False})
    return specs


def envelope_options(run):
    return {"correlation_id": "corr-" + run.cell, "msg_purpose": "updateStatus",
            "sender_name": "sender-" + run.cell.split(".")[0], "receiver_name": "receiver-ünï",
            "receiver_id": "rid-42", "reply_to": "/interop/replies/" + run.cell,
            "reply_to_msg_id": "prev-msg-7",
            "metadata": {"room": "room1", "n": 3, "nested": {"ok": True, "list": [1, "two"]}}}


# ------------------------------------------------------------------------------------------
# The three sides, behind one interface
# ------------------------------------------------------------------------------------------

def spec_for(run, subject, options=None, payloads=None, count=1, uploader=None):
    s = {"nats": run.nats_url, "fileserver": run.fs_url, "subject": subject, "count": count,
         "timeout": 20, "options": options or {}, "payloads": payloads or []}
    if uploader:
        s["uploader"] = uploader
    return s


def c_payload_args(payloads):
    argv = []
    for p in payloads:
        argv += ["--file", "%s=%s:%s" % (p["dataname"], p["file"], p["type"])]
        if p["link"]:
            argv += ["--link", p["dataname"]]
    return argv


def c_envelope_args(opts):
    names = {"correlation_id": "--correlation-id", "msg_purpose": "--purpose",
             "sender_name": "--sender-name", "receiver_name": "--receiver-name",
             "receiver_id": "--receiver-id", "reply_to": "--reply-to",
             "reply_to_msg_id": "--reply-to-msg-id"}
    argv = []
    for k, flag in names.items():
        if k in opts:
            argv += [flag, opts[k]]
    if "metadata" in opts:
        argv += ["--metadata", json.dumps(opts["metadata"])]
    return argv


def peer_argv(run, side, cmd, spec):
    if side == "js":
        return [run.args.node, os.path.join(JS_DIR, "peer.mjs"), cmd, json.dumps(spec)], JS_DIR
    # -B: no __pycache__ in the source tree
    return [sys.executable, "-B", os.path.join(PY_DIR, "peer_main.py"), cmd, json.dumps(spec)], PY_DIR


def send(run, side, spec):
    """Sends spec's message from side; returns the envelope the sender printed."""
    if side == "c":
        argv = [run.args.nb, "send", spec["subject"], "--server", run.nats_url, "--fileserver",
                run.fs_url, "--json"] + c_envelope_args(spec["options"]) + c_payload_args(spec["payloads"])
        cwd = None
    else:
        argv, cwd = peer_argv(run, side, "send", spec)
    p = run.background("sender", argv, cwd)
    out = run.wait_exit(p, 60)
    return json.loads(out.strip().splitlines()[-1])


def start_listener(run, side, spec):
    if side == "c":
        argv = [run.args.nb, "listen", spec["subject"], "--json", "--count", str(spec["count"]),
                "--timeout", "30", "--server", run.nats_url, "--fileserver", run.fs_url]
        p = run.background("receiver", argv)
        run.wait_text("receiver.err", "listening on", p)
    else:
        argv, cwd = peer_argv(run, side, "listen", spec)
        p = run.background("receiver", argv, cwd)
        run.wait_text("receiver.err", "ready:", p, 30)
    return p


def received(run, proc):
    return [json.loads(l) for l in run.wait_exit(proc, 60).splitlines() if l.strip()]


# ------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------

FIELDS = ("correlation_id", "msg_id", "msg_purpose", "sender_name", "receiver_name",
          "receiver_id", "reply_to", "reply_to_msg_id", "send_to")


def expect_eq(what, got, want):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def check_value(name, ptype, p, path, receiver):
    """The decoded value, as the receiver reports it, matches the source file."""
    with open(path, "rb") as f:
        raw = f.read()
    if receiver == "c":  # listen --json: "data" holds text and JSON values
        if ptype == "text":
            expect_eq(name + " data", p.get("data"), raw.decode("utf-8"))
        elif ptype in ("dictionary", "jsontable"):
            expect_eq(name + " data", p.get("data"), json.loads(raw))
        return
    check = p.get("check")
    if ptype == "text":
        expect_eq(name + " text", check, raw.decode("utf-8"))
    elif ptype in ("dictionary", "jsontable"):
        expect_eq(name + " value", check, json.loads(raw))
    elif ptype == "table" and receiver == "js":
        expect_eq(name + " Arrow table", check, DEMO_TABLE)
    else:
        expect_eq(name + " byte count", check, {"bytes": len(raw)})


def check_message(got, sent, opts, payloads, subject, receiver):
    """got: the receiver's report; sent: the sender's envelope; opts/payloads: the request."""
    for f in FIELDS:
        want = subject if f == "send_to" else opts.get(f, sent.get(f))
        expect_eq("sender wrote " + f, sent.get(f), want)
        expect_eq("receiver got " + f, got.get(f), want)
    expect_eq("metadata", got.get("metadata"), opts.get("metadata", {}))
    gp = got["payloads"]
    expect_eq("payload count", len(gp), len(payloads))
    for i, (p, want) in enumerate(zip(gp, payloads)):
        name = "payloads[%d] '%s'" % (i, want["dataname"])
        size = os.path.getsize(want["file"])
        transport = "link" if want["link"] or size >= THRESHOLD else "direct"
        expect_eq(name + " dataname", p["dataname"], want["dataname"])
        expect_eq(name + " type", p["type"], want["type"])
        expect_eq(name + " transport", p["transport"], transport)
        expect_eq(name + " transport as sent", sent["payloads"][i]["transport"], transport)
        expect_eq(name + " size", p["size"], size)
        expect_eq(name + " sha256", p["sha256"], sha256_file(want["file"]))
        check_value(name, want["type"], p, want["file"], receiver)


# ------------------------------------------------------------------------------------------
# Cells
# ------------------------------------------------------------------------------------------

SIDES = {"c2js": ("c", "js"), "js2c": ("js", "c"), "c2py": ("c", "py"), "py2c": ("py", "c")}


def one_way(run, direction, what, mode, uploader=None):
    sender, receiver = SIDES[direction]
    peer = "js" if "js" in (sender, receiver) else "py"
    payloads = payload_specs(run, peer, mode, None if what == "multi" else what)
    subject = "/interop/%s" % run.cell
    opts = envelope_options(run)
    if mode == "later":  # the later peers' key name, and a direct metadata.sha256 to verify
        opts.update(type_key="payload_type", checksum=True)
    start = start_listener(run, receiver, spec_for(run, subject))
    sent = send(run, sender, spec_for(run, subject, opts, payloads, uploader=uploader))
    got = received(run, start)
    expect_eq("messages received", len(got), 1)
    check_message(got[0], sent, opts, payloads, subject, receiver)
    if mode == "later" and not all("payload_type" in p and "type" not in p and
                                   len(p["metadata"].get("sha256", "")) == 64 for p in sent["payloads"]):
        raise Failure("the sender did not write payload_type and metadata.sha256")
    if uploader == "put":
        for p in sent["payloads"]:
            if "/file/" in p["data"]:
                raise Failure("PUT upload produced a Plik URL: %s" % p["data"])


def reqrep_js_to_c(run):
    """A JS requester and `natsbridge reply --echo`: links both ways (the echo of a payload
    past the threshold is uploaded again by the C responder)."""
    subject = "/interop/svc/echo"
    resp = run.background("responder", [run.args.nb, "reply", subject, "--echo", "--count", "1",
                                         "--timeout", "30", "--server", run.nats_url,
                                         "--fileserver", run.fs_url, "--sender-name", "c-echo"])
    run.wait_text("responder.err", "listening on", resp)
    payloads = payload_specs(run, "js", "direct")
    payloads.append({"dataname": "big", "type": "binary", "link": False,
                     "file": make_file(run, "big", "binary", THRESHOLD + 5000)})
    opts = {"correlation_id": "corr-js-c", "sender_name": "js-requester", "metadata": {"k": "v"}}
    argv, cwd = peer_argv(run, "js", "request", spec_for(run, subject, opts, payloads))
    lines = run.wait_exit(run.background("requester", argv, cwd), 60).splitlines()
    req, rep = json.loads(lines[0]), json.loads(lines[1])
    run.wait_exit(resp, 15)
    check_addressed_reply(rep, req, "corr-js-c", "js-requester")
    expect_eq("sender_name", rep["sender_name"], "c-echo")
    check_payloads_only(rep, payloads, "js")


def check_addressed_reply(rep, req, correlation_id, requester):
    """A reply answers req: its msg_id, correlation id, back to its sender on its reply subject."""
    expect_eq("reply_to_msg_id", rep["reply_to_msg_id"], req["msg_id"])
    expect_eq("correlation_id", rep["correlation_id"], correlation_id)
    expect_eq("receiver_name", rep["receiver_name"], requester)
    expect_eq("receiver_id", rep["receiver_id"], req["sender_id"])
    expect_eq("send_to", rep["send_to"], req["reply_to"])


def check_payloads_only(got, payloads, receiver):
    gp = got["payloads"]
    expect_eq("payload count", len(gp), len(payloads))
    for i, (p, want) in enumerate(zip(gp, payloads)):
        name = "payloads[%d] '%s'" % (i, want["dataname"])
        size = os.path.getsize(want["file"])
        expect_eq(name + " dataname", p["dataname"], want["dataname"])
        expect_eq(name + " type", p["type"], want["type"])
        expect_eq(name + " transport", p["transport"], "link" if size >= THRESHOLD else "direct")
        expect_eq(name + " size", p["size"], size)
        expect_eq(name + " sha256", p["sha256"], sha256_file(want["file"]))
        check_value(name, want["type"], p, want["file"], receiver)


def reqrep_c_to_js(run):
    """`natsbridge request` and a JS responder that echoes the payloads back."""
    subject = "/interop/svc/js-echo"
    argv, cwd = peer_argv(run, "js", "respond",
                          spec_for(run, subject, {"sender_name": "js-echo", "msg_purpose": "ACK"}))
    resp = run.background("responder", argv, cwd)
    run.wait_text("responder.err", "ready:", resp, 30)
    payloads = payload_specs(run, "js", "direct")
    payloads.append({"dataname": "big", "type": "video", "link": False,
                     "file": make_file(run, "big", "video", THRESHOLD + 1)})
    c = run.background("requester", [run.args.nb, "request", subject, "--json", "--timeout", "30",
                                     "--server", run.nats_url, "--fileserver", run.fs_url,
                                     "--sender-name", "c-requester", "--correlation-id", "corr-c-js"]
                       + c_payload_args(payloads))
    rep = json.loads(run.wait_exit(c, 60).strip())
    req = json.loads(run.wait_exit(resp, 15).strip().splitlines()[0])  # as the responder saw it
    expect_eq("request sender_name", req["sender_name"], "c-requester")
    check_payloads_only(req, payloads, "js")
    check_addressed_reply(rep, req, "corr-c-js", "c-requester")
    expect_eq("msg_purpose", rep["msg_purpose"], "ACK")
    check_payloads_only(rep, payloads, "c")


def reqrep_py_device(run, good):
    """A Python "device" sends its configuration; the C service (ack_service.c) answers ACK
    with the configuration's SHA-256, or NACK when there is no dictionary "config"."""
    subject = "/interop/device/config"
    svc = run.background("service", [run.args.ack, run.nats_url, subject, "1", "30"])
    run.wait_text("service.err", "ready:", svc)
    cfg = {"dataname": "config", "type": "dictionary" if good else "text", "link": False,
           "file": make_file(run, "config", "dictionary" if good else "text")}
    opts = {"correlation_id": "corr-device", "sender_name": "mpy-device-7", "msg_purpose": "updateStatus"}
    argv, cwd = peer_argv(run, "py", "request", spec_for(run, subject, opts, [cfg]))
    lines = run.wait_exit(run.background("device", argv, cwd), 60).splitlines()
    req, rep = json.loads(lines[0]), json.loads(lines[1])
    run.wait_exit(svc, 15)
    check_addressed_reply(rep, req, "corr-device", "mpy-device-7")
    expect_eq("sender_name", rep["sender_name"], "c-config-service")
    expect_eq("msg_purpose", rep["msg_purpose"], "ACK" if good else "NACK")
    p = rep["payloads"][0]
    if good:
        expect_eq("ack", p["check"], {"status": "applied", "config_sha256": sha256_file(cfg["file"]),
                                      "keys": len(DICTIONARY)})
    else:
        expect_eq("nack", p["check"], "no dictionary payload named 'config'")


def tableapi_c_to_js(run, transport):
    """table_peer.c builds the demo table with nb_table_* and sends it as nb_payload_create_table
    (Arrow IPC) and nb_payload_create_jsontable; apache-arrow's tableFromIPC reads it."""
    subject = "/interop/tables/" + run.cell
    recv = start_listener(run, "js", spec_for(run, subject))
    p = run.background("sender", [run.args.table, "send", run.nats_url, run.fs_url, subject, transport])
    sent = json.loads(run.wait_exit(p, 60).strip())
    got = received(run, recv)[0]
    expect_eq("correlation_id", got["correlation_id"], "corr-tableapi")
    expect_eq("sender_name", got["sender_name"], "c-table")
    expect_eq("payload count", len(got["payloads"]), 2)
    tbl, rows = got["payloads"]
    for g, s in zip(got["payloads"], sent["payloads"]):
        expect_eq(g["dataname"] + " transport", g["transport"], transport)
        expect_eq(g["dataname"] + " size", g["size"], s["size"])
        want = (hashlib.sha256(base64.b64decode(s["data"])).hexdigest()
                if transport == "direct" else s["metadata"]["sha256"])
        expect_eq(g["dataname"] + " sha256", g["sha256"], want)
    expect_eq("tbl type", (tbl["dataname"], tbl["type"]), ("tbl", "table"))
    expect_eq("tbl as apache-arrow reads it", tbl["check"], DEMO_TABLE)
    expect_eq("rows type", (rows["dataname"], rows["type"]), ("rows", "jsontable"))
    expect_eq("rows", rows["check"], DEMO_RECORDS)


def tableapi_js_to_c(run, transport):
    """The JS peer sends an apache-arrow Table (smartsend serialises it with tableToIPC) and a
    jsontable; table_peer.c decodes both with nb_payload_table."""
    subject = "/interop/tables/" + run.cell
    recv = run.background("receiver", [run.args.table, "recv", run.nats_url, run.fs_url, subject, "30"])
    run.wait_text("receiver.err", "ready:", recv)
    rows_file = run.path("src-rows")
    with open(rows_file, "w", encoding="utf-8") as f:
        json.dump(DEMO_RECORDS, f, ensure_ascii=False)
    payloads = [{"dataname": "tbl", "type": "table", "arrow": "demo", "link": transport == "link"},
                {"dataname": "rows", "type": "jsontable", "file": rows_file, "link": transport == "link"}]
    sent = send(run, "js", spec_for(run, subject, {"correlation_id": "corr-tableapi"}, payloads))
    expect_eq("transports as sent", [p["transport"] for p in sent["payloads"]], [transport] * 2)
    got = json.loads(run.wait_exit(recv, 60).strip())
    expect_eq("tables read", [(g["dataname"], g["type"], g["rows"]) for g in got],
              [("tbl", "table", 3), ("rows", "jsontable", 3)])
    expect_eq("tbl columns", got[0]["columns"], [{"name": "id", "type": "int32"},
                                                 {"name": "name", "type": "utf8"},
                                                 {"name": "score", "type": "float64"}])
    for g in got:
        expect_eq(g["dataname"] + " records", g["records"], DEMO_RECORDS)


def run_cell(run, cell):
    parts = cell.split(".")
    if parts[1] == "tableapi":
        (tableapi_c_to_js if parts[0] == "c2js" else tableapi_js_to_c)(run, parts[2])
    elif parts[0] == "reqrep":
        {"js_to_c": reqrep_js_to_c, "c_to_js": reqrep_c_to_js,
         "py_device_ack": lambda r: reqrep_py_device(r, True),
         "py_device_nack": lambda r: reqrep_py_device(r, False)}[parts[1]](run)
    elif cell == "js2c.put.link":
        one_way(run, "js2c", "binary", "link", uploader="put")
    else:
        one_way(run, parts[0], parts[1], parts[2])


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nb", help="the natsbridge CLI")
    ap.add_argument("--ack", help="the ack_service program")
    ap.add_argument("--table", help="the table_peer program")
    ap.add_argument("--node", default="node")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cell", nargs="?")
    args = ap.parse_args()
    if args.list:
        print("\n".join(all_cells()))
        return 0
    if args.cell not in all_cells() or not (args.nb and args.ack and args.table):
        ap.error("give --nb, --ack, --table and a CELL from --list")
    # Stop (and clean up) before CTest's own timeout (120 s) or on its SIGTERM.
    def give_up(signum, _frame):
        raise Failure("stopped by signal %d (time limit %d s)" % (signum, CELL_SECONDS))
    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, give_up)
    signal.alarm(CELL_SECONDS)
    run = Run(args, args.cell)
    try:
        run.start()
        run_cell(run, args.cell)
    except (Failure, subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError) as e:
        print("FAIL %s: %s: %s" % (args.cell, type(e).__name__, e), file=sys.stderr)
        run.dump()
        return 1
    finally:
        signal.alarm(0)
        run.stop()
    print("PASS %s" % args.cell)
    return 0


if __name__ == "__main__":
    sys.exit(main())
