#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run_tests.py - one cell of the Python binding's tests (CTest label "python").

    run_tests.py --nb NATSBRIDGE_CLI --lib LIBNATSBRIDGE [--node NODE] CELL
    run_tests.py --list

Each cell is independent and reuses tests/interop/run_matrix.py's fixture: its own nats-server
(loopback, free port, here with JetStream), its own built-in file server, temp dir and bounded
waits, and it stops what it started. The Python binding ("pyb") is driven through pyb_peer.py
(the interop peers' command shape) or directly in this process (api.* cells).

Cells:
    seed.<example>                 a seed README example (seed_examples/) run unchanged; the C
                                   CLI, the stdlib Python peer, the nats.js peer and the binding
                                   all receive it at once
    <dir>.multi.<direct|link|mixed> every type in one message; dir is pyb2c, c2pyb, pyb2js,
                                   js2pyb, pyb2py, py2pyb
    reqrep.<pair>                  request/reply: pyb_to_c, c_to_pyb, pyb_to_js, js_to_pyb
    api.<name>                     the binding's own behaviour (see the functions api_*)
    secure.<name>                  against secured servers (secure.py; run through
                                   tests/security/run_lib.sh, which starts them)
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
import run_matrix as rm  # noqa: E402
import secure  # noqa: E402
from run_matrix import Failure, expect_eq  # noqa: E402

CELL_SECONDS = 100
SEEDS = ["basic_text", "json_config", "mixed_image", "reqrep", "large_link"]
DIRECTIONS = {"pyb2c": ("pyb", "c"), "c2pyb": ("c", "pyb"), "pyb2js": ("pyb", "js"),
              "js2pyb": ("js", "pyb"), "pyb2py": ("pyb", "py"), "py2pyb": ("py", "pyb")}
MODES = {"py2pyb": ["direct"]}  # the stdlib peer uploads no links
REQREP = ["pyb_to_c", "c_to_pyb", "pyb_to_js", "js_to_pyb"]
API = ["bad_input", "callback_raises", "close_in_callback", "threads", "iterator",
       "handlers", "tables", "jetstream_kill", "objstore_link", "auth", "tls_token",
       "pip_venv", "cmake_install", "batches", "sent_envelope"]


def python_env(env):
    """env for a Python child that loads the binding: under the sanitizers (NB_PYB_PRELOAD) with
    their runtime preloaded, and without leak checks (CPython's allocations at exit)."""
    rt = os.environ.get("NB_PYB_PRELOAD")
    if rt:
        env = dict(env, LD_PRELOAD=rt, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
                   UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    return env


def preload_sanitizer():
    """Re-executes this script with the sanitizer runtime when the library needs it, then
    keeps LD_PRELOAD out of os.environ so that the CLI, node and nats-server never get it."""
    rt = os.environ.get("NB_PYB_PRELOAD")
    if rt and os.environ.get("LD_PRELOAD") != rt:
        os.execve(sys.executable, [sys.executable, "-B"] + sys.argv, python_env(os.environ))
    if rt:
        os.environ.pop("LD_PRELOAD", None)


def all_cells():
    cells = ["seed." + s for s in SEEDS]
    for d in DIRECTIONS:
        cells += ["%s.multi.%s" % (d, m) for m in MODES.get(d, ["direct", "link", "mixed"])]
    return (cells + ["reqrep." + r for r in REQREP] + ["api." + a for a in API] +
            ["secure." + c for c in secure.CELLS])


# ------------------------------------------------------------------------------------------
# The fixture: run_matrix's Run, with JetStream on, and the binding as a fourth side
# ------------------------------------------------------------------------------------------

class Run(rm.Run):
    def start_nats(self):
        # the same as run_matrix's, with JetStream and a store in the cell's temp dir
        exe = os.environ.get("NB_TEST_NATS_SERVER", "nats-server")
        ports = self.path("nats")
        os.mkdir(ports)
        p = self.background("nats", [exe, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", ports,
                                     "-js", "-sd", self.path("js")])
        self.nats_proc = p
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

    def env(self):
        e = dict(os.environ)
        e["NATSBRIDGE_LIBRARY"] = self.args.lib
        e["NATSBRIDGE_NATS_URL"] = self.nats_url
        if self.fs_url:
            e["NATSBRIDGE_FILESERVER_URL"] = self.fs_url
        e["PYTHONPATH"] = os.path.join(SRC, "bindings", "python")
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        return e

    def background(self, name, argv, cwd=None, env=None):
        out = open(self.path(name + ".out"), "wb")
        err = open(self.path(name + ".err"), "wb")
        env = env or (self.env() if self.nats_url else dict(os.environ))
        if argv[0] == sys.executable:
            env = python_env(env)
        p = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, stdin=subprocess.DEVNULL,
                             env=env)
        out.close()
        err.close()
        p.nb_name = name
        self.procs.append(p)
        return p


_peer_argv = rm.peer_argv


def peer_argv(run, side, cmd, spec):
    if side == "pyb":
        return [sys.executable, "-B", os.path.join(HERE, "pyb_peer.py"), cmd, json.dumps(spec)], HERE
    return _peer_argv(run, side, cmd, spec)


rm.peer_argv = peer_argv  # run_matrix's send/start_listener now know the binding too


def start_listener(run, side, spec, name="receiver"):
    """run_matrix.start_listener with a name of one's own (several listeners at once)."""
    if side == "c":
        argv = [run.args.nb, "listen", spec["subject"], "--json", "--count", str(spec["count"]),
                "--timeout", "30", "--server", run.nats_url, "--fileserver", run.fs_url]
        p = run.background(name, argv)
        run.wait_text(name + ".err", "listening on", p)
    else:
        argv, cwd = peer_argv(run, side, "listen", spec)
        p = run.background(name, argv, cwd)
        run.wait_text(name + ".err", "ready:", p, 30)
    return p


# ------------------------------------------------------------------------------------------
# seed.*: the README examples, received by everyone
# ------------------------------------------------------------------------------------------

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
LARGE = bytes(i % 251 for i in range(2_000_000))
SEED_EXPECT = {  # subject, [(dataname, type, value or bytes)]
    "basic_text": ("/chat/room1", [("message", "text", "Hello World!")]),
    "json_config": ("/device/config", [("config", "dictionary",
                                        {"wifi_ssid": "MyNetwork", "update_interval": 60,
                                         "sensors": ["temp", "humidity"]})]),
    "mixed_image": ("/chat/room1", [("message_text", "text", "Check out this photo!"),
                                    ("user_image", "image", IMAGE)]),
    "large_link": ("/data/large", [("large_data", "binary", LARGE)]),
    "reqrep": ("/device/config", [("config", "dictionary", {"rate": 5, "unit": "s"})]),
}


def check_report(who, got, want):
    expect_eq(who + ": payload count", len(got["payloads"]), len(want))
    for p, (name, ptype, value) in zip(got["payloads"], want):
        expect_eq(who + ": dataname", p["dataname"], name)
        expect_eq(who + ": " + name + " type", p["type"], ptype)
        if isinstance(value, bytes):
            expect_eq(who + ": " + name + " sha256", p["sha256"], hashlib.sha256(value).hexdigest())
            expect_eq(who + ": " + name + " transport", p["transport"],
                      "link" if len(value) >= rm.THRESHOLD else "direct")
        else:
            key = "data" if who == "c" else "check"
            expect_eq(who + ": " + name + " value", p[key], value)


def seed_cell(run, name):
    subject, want = SEED_EXPECT[name]
    listeners = {}
    for side in ("c", "py", "js", "pyb"):
        listeners[side] = start_listener(run, side, rm.spec_for(run, subject), "recv-" + side)
    responder = None
    if name == "reqrep":  # the C CLI answers, echoing the request's payloads
        responder = run.background("responder", [run.args.nb, "reply", subject, "--echo",
                                                 "--count", "1", "--timeout", "30", "--server",
                                                 run.nats_url, "--fileserver", run.fs_url])
        run.wait_text("responder.err", "listening on", responder)
    ex = run.background("example", [sys.executable, "-B", os.path.join(HERE, "seed_examples",
                                                                       name + ".py")],
                        cwd=run.dir)
    out = run.wait_exit(ex, 60)
    for side, p in listeners.items():
        got = [json.loads(line) for line in run.wait_exit(p, 60).splitlines() if line.strip()]
        expect_eq(side + ": messages", len(got), 1)
        check_report(side, got[0], want)
        expect_eq(side + ": send_to", got[0]["send_to"], subject)
    if name == "reqrep":
        run.wait_exit(responder, 15)
        expect_eq("example output", out.splitlines()[-1], "answers True")
        if "reply config dictionary {'rate': 5, 'unit': 's'}" not in out:
            raise Failure("the example did not print the echoed config: %r" % out)
    print(out.strip())


# ------------------------------------------------------------------------------------------
# <dir>.multi.*: every type one way, checked field by field (run_matrix's checks)
# ------------------------------------------------------------------------------------------

def multi_cell(run, direction, mode):
    sender, receiver = DIRECTIONS[direction]
    peer = "py" if "py" in (sender, receiver) else "js"
    payloads = rm.payload_specs(run, peer, mode)
    subject = "/pyb/%s" % run.cell
    opts = rm.envelope_options(run)
    recv = start_listener(run, receiver, rm.spec_for(run, subject))
    sent = rm.send(run, sender, rm.spec_for(run, subject, opts, payloads))
    got = rm.received(run, recv)
    expect_eq("messages received", len(got), 1)
    rm.check_message(got[0], sent, opts, payloads, subject, receiver)


# ------------------------------------------------------------------------------------------
# reqrep.*
# ------------------------------------------------------------------------------------------

def reqrep_cell(run, pair):
    subject = "/pyb/svc/" + pair
    requester, responder = pair.split("_to_")
    payloads = rm.payload_specs(run, "js", "direct")
    payloads.append({"dataname": "big", "type": "binary", "link": False,
                     "file": rm.make_file(run, "big", "binary", rm.THRESHOLD + 5000)})
    if responder == "c":
        resp = run.background("responder", [run.args.nb, "reply", subject, "--echo", "--count",
                                             "1", "--timeout", "30", "--server", run.nats_url,
                                             "--fileserver", run.fs_url, "--sender-name", "echo"])
        run.wait_text("responder.err", "listening on", resp)
    else:
        argv, cwd = peer_argv(run, responder, "respond",
                              rm.spec_for(run, subject, {"sender_name": "echo", "msg_purpose": "ACK"}))
        resp = run.background("responder", argv, cwd)
        run.wait_text("responder.err", "ready:", resp, 30)
    opts = {"correlation_id": "corr-" + pair, "sender_name": "req-" + requester}
    if requester == "c":
        c = run.background("requester", [run.args.nb, "request", subject, "--json", "--timeout",
                                         "30", "--server", run.nats_url, "--fileserver",
                                         run.fs_url, "--sender-name", opts["sender_name"],
                                         "--correlation-id", opts["correlation_id"]]
                           + rm.c_payload_args(payloads))
        rep = json.loads(run.wait_exit(c, 60).strip())
        got_req = json.loads(run.wait_exit(resp, 15).strip().splitlines()[0])
        rm.check_payloads_only(got_req, payloads, responder)
        expect_eq("reply_to_msg_id", rep["reply_to_msg_id"], got_req["msg_id"])
        rm.check_payloads_only(rep, payloads, "c")
    else:
        argv, cwd = peer_argv(run, requester, "request", rm.spec_for(run, subject, opts, payloads))
        lines = run.wait_exit(run.background("requester", argv, cwd), 60).splitlines()
        req, rep = json.loads(lines[0]), json.loads(lines[1])
        run.wait_exit(resp, 15)
        expect_eq("reply_to_msg_id", rep["reply_to_msg_id"], req["msg_id"])
        expect_eq("correlation_id", rep["correlation_id"], opts["correlation_id"])
        expect_eq("receiver_name", rep["receiver_name"], opts["sender_name"])
        expect_eq("sender_name", rep["sender_name"], "echo")
        rm.check_payloads_only(rep, payloads, requester)


# ------------------------------------------------------------------------------------------
# api.*: the binding in this process
# ------------------------------------------------------------------------------------------

def binding(run):
    os.environ["NATSBRIDGE_LIBRARY"] = run.args.lib
    import natsbridge
    return natsbridge


def expect_raises(what, cls, fn, fragment):
    try:
        fn()
    except cls as e:
        if fragment not in str(e):
            raise Failure("%s: message %r does not name %r" % (what, str(e), fragment))
        return e
    raise Failure("%s: no %s raised" % (what, cls.__name__))


def wait_until(what, cond, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise Failure("%s: not within %d s" % (what, seconds))


def api_bad_input(run, nb):
    kw = dict(nats_url=run.nats_url, fileserver_url=run.fs_url)
    e = expect_raises("unknown type", nb.InvalidArgumentError,
                      lambda: nb.smartsend("s", [("a", "x", "picture")], **kw), "unknown type 'picture'")
    expect_eq("status", (e.status, e.status_name), (1, "INVALID_ARG"))
    expect_raises("not a list", nb.InvalidArgumentError,
                  lambda: nb.smartsend("s", "hello", **kw), "list of (dataname, data, type)")
    expect_raises("not a triple", nb.InvalidArgumentError,
                  lambda: nb.smartsend("s", [("a", "x")], **kw), "data[0] must be a (dataname")
    expect_raises("text not str", nb.InvalidArgumentError,
                  lambda: nb.smartsend("s", [("a", 5, "text")], **kw), "payload 'a': text must be a str")
    expect_raises("image not bytes", nb.InvalidArgumentError,
                  lambda: nb.smartsend("s", [("a", "x", "image")], **kw), "image data must be bytes")
    expect_raises("dict not JSON", nb.InvalidArgumentError,
                  lambda: nb.smartsend("s", [("a", {"x": object()}, "dictionary")], **kw),
                  "cannot be written as JSON")
    expect_raises("bad URL", nb.NatsBridgeError,
                  lambda: nb.smartsend("s", [("a", "x", "text")], nats_url="ftp://h:1"), "ftp")
    expect_raises("no server", nb.ConnectionFailedError,
                  lambda: nb.smartsend("s", [("a", "x", "text")], nats_url="nats://127.0.0.1:1",
                                       connect_timeout=2), "nats://127.0.0.1:1")
    expect_raises("unknown option", TypeError,
                  lambda: nb.Client(nats_url=run.nats_url, colour="red"), "colour")
    expect_raises("bad envelope", nb.BadMessageError,
                  lambda: nb.smartreceive(b'{"msg_id": 5}'), "envelope")
    expect_raises("not JSON", nb.BadMessageError, lambda: nb.smartreceive("not json"), "envelope")
    expect_raises("bad msg", nb.InvalidArgumentError, lambda: nb.smartreceive(42), "smartreceive")
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        expect_raises("no responders", nb.NoRespondersError,
                      lambda: c.request("/nobody", [("q", "?", "text")], timeout=5), "no responders")
        sub = c.subscribe("/quiet")
        expect_raises("timeout", nb.TimeoutError, lambda: sub.next_msg(0.3), "")
        expect_raises("unknown field", TypeError,
                      lambda: c.send("s", [("a", "x", "text")], colour="red"), "colour")
        # a link from an origin that is not allowed is refused, naming it
        env = c.send("/x", [("big", b"\0" * 10, "binary")], link=["big"])
        other = nb.Client(nats_url=run.nats_url, fileserver_url="http://127.0.0.1:9")
        try:
            expect_raises("origin", nb.NotAllowedError, lambda: other.receive(json.dumps(env)),
                          "not from an allowed origin")
        finally:
            other.close()
    expect_raises("closed", nb.NatsBridgeError, lambda: c.send("s", [("a", "x", "text")]), "closed")
    c.close()  # twice is harmless


def api_callback_raises(run, nb):
    errors, seen = [], []
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        def cb(msg):
            seen.append(msg.payloads[0][1])
            if msg.payloads[0][1] == "boom":
                raise RuntimeError("callback failed on purpose")
        c.subscribe("/cb", cb, on_error=errors.append)
        default = c.subscribe("/cb2", lambda m: 1 / 0)  # no on_error: printed, goes on
        c.flush()
        for word in ("one", "boom", "three"):
            c.send("/cb", [("w", word, "text")])
        c.send("/cb2", [("w", "x", "text")])
        wait_until("three deliveries", lambda: len(seen) == 3)
        expect_eq("order", seen, ["one", "boom", "three"])
        expect_eq("errors", [str(e) for e in errors], ["callback failed on purpose"])
        default.close()


def api_batches(run, nb):
    """Deliveries taken from the C queue in batches (src/nats/binding_py.c): thousands of envelopes
    arrive complete and in order through a callback and an iterator, a malformed message
    between them is reported in its place, and close() stops a callback subscription."""
    sys.path.insert(0, os.path.join(SRC, "tests", "interop", "python"))
    import natsbridge_peer as peer
    total = 3000
    seen, errors, it_seen = [], [], []
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url,
                   pending_limits=(-1, -1)) as c:
        cb_sub = c.subscribe("/batch", lambda m: seen.append(m.payloads[0][1]),
                             on_error=lambda e: errors.append((len(seen), e)))
        it_sub = c.subscribe("/batch")
        c.flush()
        raw = peer.NATS(run.nats_url)
        try:
            for i in range(total):
                c.publish("/batch", [("n", str(i), "text")])
                if i == 1000:  # not an envelope: reported between 1000 and 1001
                    c.flush()
                    raw.publish("/batch", b"not an envelope")
                    raw.flush()
                    c.flush()
        finally:
            raw.close()
        c.flush()
        deadline = time.time() + 60
        while len(it_seen) < total and time.time() < deadline:
            try:
                it_seen.append(it_sub.next_msg(5).payloads[0][1])
            except nb.BadMessageError as e:
                it_seen.append(("bad", str(e)))
                total += 1
        wait_until("every callback", lambda: len(seen) == 3000, 60)
        expect_eq("callback order", seen, [str(i) for i in range(3000)])
        expect_eq("on_error count", len(errors), 1)
        expect_eq("on_error place", errors[0][0], 1001)
        expect_eq("on_error kind", isinstance(errors[0][1], nb.BadMessageError), True)
        expect_eq("iterator order", [x for x in it_seen if isinstance(x, str)],
                  [str(i) for i in range(3000)])
        expect_eq("iterator error place", it_seen.index(next(x for x in it_seen
                                                             if not isinstance(x, str))), 1001)
        t0 = time.time()
        cb_sub.close()
        expect_eq("close is prompt", time.time() - t0 < 5, True)
        before = len(seen)
        c.publish("/batch", [("n", "after", "text")])
        c.flush()
        time.sleep(0.3)
        expect_eq("nothing after close", len(seen), before)
        it_sub.close()
        expect_raises("closed iterator", nb.NatsBridgeError, lambda: it_sub.next_msg(1), "closed")
        # Payloads of every kind, several per envelope, come through the batch's one copy
        # unchanged; one over 16 KiB is read in place, and the envelopes after it still line up.
        kinds = [("t", "h\u00e9llo", "text"), ("e", "", "text"),
                 ("d", {"a": [1, 2]}, "dictionary"), ("b", b"\x00\x01\xff", "binary"),
                 ("j", [{"x": 1}], "jsontable")]
        big = [("big", bytes(range(256)) * 80, "binary"), ("t", "after big", "text")]
        kinds_sub = c.subscribe("/batch.kinds")
        c.flush()
        for data in (kinds, big, kinds):
            c.publish("/batch.kinds", data)
        c.flush()
        time.sleep(0.3)  # all three queued: taken in one batch
        for what, data in (("kinds", kinds), ("big", big), ("kinds after big", kinds)):
            expect_eq("batch " + what, kinds_sub.next_msg(5).payloads, data)
        undecodable_in_batch(c)


def undecodable_in_batch(c):
    """A payload Python cannot decode (a dictionary that json.loads refuses) becomes an
    exception in its place, its envelope freed, and the next record of the batch is read."""
    import collections
    import ctypes
    from natsbridge import _core, _lib
    body = json.dumps(c.send("/batch.unused", [("t", "ok", "text")])).encode()
    handles = []
    for _ in range(2):
        h = ctypes.c_void_p()
        _lib.check(_lib.lib.nb_envelope_parse(ctypes.byref(h), body, len(body), None))
        handles.append(h.value)

    def record(env, code, name, data):
        return (_core._DELIVERY.pack(env, 0, 1) + _core._PAYLOAD.pack(code, len(name), len(data))
                + name + data)
    blob = (record(handles[0], _core.DICTIONARY, b"d", b"{")
            + record(handles[1], _core.TEXT, b"t", b"ok"))
    batch = _core._Batch()
    ctypes.memmove(batch.blob, blob, len(blob))
    batch.len.value, batch.n.value = len(blob), 2
    out = collections.deque()
    batch.unpack(c, out)
    expect_eq("undecodable: reported", isinstance(out[0], ValueError), True)
    expect_eq("undecodable: the next one", out[1].payloads, [("t", "ok", "text")])


def api_close_in_callback(run, nb):
    done = threading.Event()
    c = nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url)
    got = []

    def cb(msg):
        got.append(msg["msg_id"])
        c.close()  # from inside its own callback, on a natsbridge thread
        done.set()

    c.subscribe("/close", cb)
    c.flush()
    c.send("/close", [("w", "bye", "text")])
    if not done.wait(20):
        raise Failure("the callback did not run")
    wait_until("closed", lambda: c.closed)
    expect_eq("deliveries", len(got), 1)
    expect_raises("closed", nb.NatsBridgeError, lambda: c.flush(), "closed")
    # the same with a JetStream consumer's callback
    c = nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url)
    c.ensure_stream("CLOSE", ["close.js"], storage="memory")
    c.js_publish("close.js", [("w", "x", "text")])
    done.clear()

    def jcb(msg, d):
        c.close()
        done.set()
        return nb.ACK

    c.consume("close.js", "closer", jcb)
    if not done.wait(20):
        raise Failure("the consumer callback did not run")
    expect_eq("closed", c.closed, True)


def api_threads(run, nb):
    threads, per = 8, 200
    got, lock = {}, threading.Lock()
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        def cb(msg):
            with lock:
                got[msg.payloads[0][1]] = got.get(msg.payloads[0][1], 0) + 1
        c.subscribe("/mt", cb)
        c.subscribe("/mt.svc", lambda m: m.reply([("r", m.payloads[0][1].upper(), "text")]))
        c.flush()
        failures = []

        def work(t):
            try:
                for i in range(per):
                    c.send("/mt", [("k", "%d-%d" % (t, i), "text")])
                    if i % 20 == 0:
                        r = c.request("/mt.svc", [("q", "t%d" % t, "text")], timeout=10)
                        if r.payloads[0][1] != "T%d" % t:
                            failures.append(r.payloads)
            except Exception as e:  # noqa: BLE001 - collected and reported below
                failures.append(e)

        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        if failures:
            raise Failure("threads failed: %r" % failures[:3])
        wait_until("all deliveries", lambda: len(got) == threads * per)
        expect_eq("each once", set(got.values()), {1})


def api_sent_envelope(run, nb):
    """What Client.send returns is the envelope as it travelled: equal, field for field and in
    the wire's order, to the wire a subscriber gets, for every kind of send (the native
    extension makes the plain ones from the envelope's fields and leaves metadata, links and
    big payloads to the wire text's parser; the ctypes code parses them all). Publish returns
    None; a closed client and bad items raise the errors the ctypes code raises."""
    unicode = "h\u00e9llo \u2603 \U0001F600 \"quoted\" \\ \n\t\x01"
    cases = [
        ([("msg", "hi", "text")], {}),
        ([("t", unicode, "text"), ("d", {"a": [1, 2.5, None, True]}, "dictionary")], {}),
        ([("\u00e9t\u00e9", b"\x00\xff" * 100, "binary"), ("e", "", "text"),
          ("img", b"\x89PNG" * 10, "image")], {}),
        ([("big", b"x" * 20000, "binary"), ("n", ',"data":"', "text"),
          (',"data":"', '"', "text")], {}),  # big; the data key's text in names and data
        ([("m", "with metadata", "text")], {"metadata": {"k": [1, {"n": None}]}}),
        ([("m", "fields", "text")], {"correlation_id": "cid-1", "msg_purpose": "ask",
                                     "receiver_name": "r", "reply_to": "/back"}),
        ([("l", "by link", "text")], {"link": ["l"]}),
        ((("tuple", "a tuple of items", "text"),), {}),
        ([["list", "an item as a list", "text"]], {}),
        ([("j", '{"raw": "json text"}', "dictionary"), ("rows", [{"a": 1}], "jsontable")], {}),
    ]
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        sub = c.subscribe("/sent")
        c.flush()
        for data, fields in cases:
            env = c.send("/sent", data, **fields)
            wire = sub.next_msg(10).wire
            if json.dumps(env) != json.dumps(wire):
                raise Failure("send returned %s, the wire was %s" % (json.dumps(env)[:600],
                                                                     json.dumps(wire)[:600]))
        expect_eq("publish returns", c.publish("/sent", [("p", "x", "text")]), None)
        expect_eq("published", sub.next_msg(10).payloads, [("p", "x", "text")])
        # a list that grows while its items are serialised sends what it held when the send
        # began (json calls a dict subclass's items(): Python code in the middle of the call)
        data = []

        class Growing(dict):
            def items(self):
                data.append(("late", "x", "text"))
                return super().items()
        data.append(("g", Growing(k=1), "dictionary"))
        env = c.send("/sent", data)
        got = sub.next_msg(10)
        expect_eq("grown list", (len(data), len(env["payloads"]), got.payloads),
                  (2, 1, [("g", {"k": 1}, "dictionary")]))
        expect_raises("bad type", nb.InvalidArgumentError,
                      lambda: c.send("/sent", [("x", "y", "nope")]), "unknown type 'nope'")
        expect_raises("bad item", nb.InvalidArgumentError,
                      lambda: c.publish("/sent", [("x", 1)]), "data[0]")
        expect_raises("text not str", nb.InvalidArgumentError,
                      lambda: c.publish("/sent", [("x", 5, "text")]), "text must be a str")
        expect_raises("empty list", nb.NatsBridgeError, lambda: c.publish("/sent", []), "")
    expect_raises("closed client", nb.NatsBridgeError,
                  lambda: c.publish("/sent", [("x", "y", "text")]), "closed")
    expect_raises("closed client, send", nb.NatsBridgeError,
                  lambda: c.send("/sent", [("x", "y" * 20000, "text")]), "closed")


def api_iterator(run, nb):
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        sub = c.subscribe("/it")
        c.flush()
        for i in range(5):
            c.send("/it", [("i", {"n": i}, "dictionary")], correlation_id="it-%d" % i)
        seen = []
        for msg in sub:
            pls = nb.smartreceive(msg)
            seen.append((pls[0][1]["n"], pls.envelope["correlation_id"]))
            if len(seen) == 5:
                break
        expect_eq("iterated", seen, [(i, "it-%d" % i) for i in range(5)])
        # a reader blocked in another thread ends when the subscription closes
        sub2 = c.subscribe("/it2")
        out = []
        t = threading.Thread(target=lambda: out.extend(sub2))
        t.start()
        time.sleep(0.3)
        sub2.close()
        t.join(5)
        if t.is_alive():
            raise Failure("the iterator did not end on close")
    iterator_server_gone(run, nb)


def iterator_server_gone(run, nb):
    """A subscription whose connection closes for good (its server gone, no reconnect) says
    so, to an iterator and to a callback subscription's on_error, instead of waiting on."""
    url = start_conf_server(run, "gone", "max_payload: 1048576\n")
    server = next(p for p in run.procs if getattr(p, "nb_name", None) == "gone")
    c = nb.Client(nats_url=url, allow_reconnect=False)
    try:
        it_sub = c.subscribe("/gone")
        errors = []
        c.subscribe("/gone.cb", lambda m: None, on_error=errors.append)
        c.flush()
        raised = []

        def read():
            try:
                for _ in it_sub:
                    pass
            except nb.NatsBridgeError as e:
                raised.append(e)
        t = threading.Thread(target=read)
        t.start()
        time.sleep(0.3)
        server.terminate()
        server.wait(10)
        t.join(10)
        if t.is_alive():
            raise Failure("the iterator waited on after its connection closed")
        wait_until("the callback subscription's on_error", lambda: errors, 10)
        for who, got in (("iterator", raised), ("on_error", errors)):
            if not got or "closed" not in str(got[0]).lower():
                raise Failure("%s: expected the connection's close, got %r" % (who, got))
    finally:
        c.close()


def api_handlers(run, nb):
    """Upload and download handlers written in Python (the seed's plug-ins)."""
    store = {}

    def upload(fileserver_url, dataname, data):
        key = "%d-%s" % (len(store), dataname)
        store[key] = data
        # any URL of an allowed origin: here the file server's, the bytes stay in this dict
        return {"status": 200, "uploadid": "u1", "fileid": key,
                "url": fileserver_url + "/mem/" + key}

    calls = []

    def download(url, max_retries, base_delay, max_delay, correlation_id):
        calls.append((url, max_retries, base_delay, max_delay, correlation_id))
        return store[url.rsplit("/", 1)[1]]

    blob = os.urandom(3000)
    env = nb.smartsend("/h", [("blob", blob, "binary"), ("t", "small", "text")],
                       nats_url=run.nats_url, fileserver_url=run.fs_url, size_threshold=1000,
                       fileserver_upload_handler=upload, correlation_id="corr-h")
    url = run.fs_url + "/mem/0-blob"
    expect_eq("link url", env["payloads"][0]["data"], url)
    pls = nb.smartreceive(env, fileserver_download_handler=download, max_retries=3,
                          base_delay=10, max_delay=50, fileserver_url=run.fs_url)
    expect_eq("downloaded", pls[0], ("blob", blob, "binary"))
    expect_eq("handler args", calls, [(url, 3, 10, 50, "corr-h")])

    def bad_upload(fileserver_url, dataname, data):
        raise RuntimeError("upload refused by test")
    expect_raises("upload raises", RuntimeError,
                  lambda: nb.smartsend("/h", [("b", blob, "binary")], nats_url=run.nats_url,
                                       size_threshold=10, fileserver_upload_handler=bad_upload),
                  "upload refused by test")

    def bad_download(*a):
        raise OSError("download failed in test")
    expect_raises("download raises", OSError,
                  lambda: nb.smartreceive(env, fileserver_download_handler=bad_download,
                                          fileserver_url=run.fs_url), "download failed in test")


def api_tables(run, nb):
    rows = [{"id": 1, "name": "alpha", "score": 0.5}, {"id": 2, "name": "béta", "score": 1.25}]
    ipc = nb.table_from_rows(rows)
    expect_eq("Arrow magic", ipc[:4], b"\xff\xff\xff\xff")
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        sub = c.subscribe("/tbl")
        c.flush()
        c.send("/tbl", [("t", ipc, "table"), ("rows", rows, "table"), ("j", rows, "jsontable"),
                        ("big", nb.table_from_rows([{"i": i} for i in range(200000)]), "table")],
               link=["rows"])
        msg = sub.next_msg(20)
        expect_eq("types", [(d, t) for d, _, t in msg.payloads],
                  [("t", "table"), ("rows", "table"), ("j", "jsontable"), ("big", "table")])
        expect_eq("table bytes", msg.payloads[0][1], ipc)
        expect_eq("table rows", nb.table_to_rows(msg.payloads[0][1]), rows)
        expect_eq("rows by link", nb.table_to_rows(msg.payloads[1][1]), rows)
        expect_eq("transports", [p["transport"] for p in msg.wire["payloads"]],
                  ["direct", "link", "direct", "link"])
        expect_eq("jsontable", msg.payloads[2][1], rows)
        expect_eq("big rows", len(nb.table_to_rows(msg.payloads[3][1])), 200000)
    # the JS peer reads the binding's Arrow bytes with apache-arrow
    payload_file = run.path("src-tbl")
    subprocess.run([run.args.node, "peer.mjs", "make-arrow", payload_file], cwd=rm.JS_DIR,
                   check=True, timeout=30)
    recv = start_listener(run, "js", rm.spec_for(run, "/tbl.js"))
    with open(payload_file, "rb") as f:
        demo = nb.table_to_rows(f.read())  # the binding reads apache-arrow's bytes
    expect_eq("apache-arrow's table", demo, rm.DEMO_RECORDS)
    nb.smartsend("/tbl.js", [("tbl", nb.table_from_rows(rm.DEMO_RECORDS), "table")],
                 nats_url=run.nats_url, fileserver_url=run.fs_url)
    got = rm.received(run, recv)[0]["payloads"][0]["check"]
    expect_eq("apache-arrow reads it", got["records"], rm.DEMO_RECORDS)


def api_jetstream_kill(run, nb):
    """At-least-once: a consumer process killed mid-run loses nothing; a new one resumes."""
    n = 300
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        created = c.ensure_stream("ORDERS", ["orders.>"])
        expect_eq("created", created, True)
        expect_eq("ensure again", c.ensure_stream("ORDERS", ["orders.>"]), False)
        for i in range(n):
            ack = c.js_publish("orders.new", [("order", {"n": i}, "dictionary")],
                               msg_id="order-%d" % i)
            expect_eq("sequence", ack["sequence"], i + 1)
        dup = c.js_publish("orders.new", [("order", {"n": 0}, "dictionary")], msg_id="order-0")
        expect_eq("duplicate", dup["duplicate"], True)
        expect_eq("stored", c.stream_info("ORDERS")["messages"], n)
    # consumer processes append "n" per acked message to a file, flushing before the ack
    log = run.path("consumed.log")
    code = r"""
import os, sys, time
import natsbridge as nb
log = open(sys.argv[1], "a", buffering=1)
slow = float(sys.argv[2])
with nb.Client(nats_url=os.environ["NATSBRIDGE_NATS_URL"]) as c:
    def cb(msg, d):
        log.write("%d\n" % msg.payloads[0][1]["n"]); log.flush(); os.fsync(log.fileno())
        time.sleep(slow)
        return nb.ACK
    with c.consume("orders.>", "worker", cb, ack_wait=2, batch=10):
        print("ready", flush=True)
        while c.stream_info("ORDERS")["consumers"] >= 0:
            time.sleep(0.2)
"""
    first = run.background("consumer1", [sys.executable, "-B", "-c", code, log, "0.005"])
    wait_until("some consumed", lambda: os.path.exists(log) and len(open(log).read().split()) >= 50)
    first.send_signal(signal.SIGKILL)  # mid-run, with a batch in flight
    first.wait()
    before = len(open(log).read().split())
    if before >= n:
        raise Failure("the first consumer finished before it was killed")
    second = run.background("consumer2", [sys.executable, "-B", "-c", code, log, "0"])
    wait_until("all consumed", lambda: set(map(int, open(log).read().split())) >= set(range(n)), 60)
    second.send_signal(signal.SIGTERM)
    second.wait()
    seen = list(map(int, open(log).read().split()))
    missing = set(range(n)) - set(seen)
    expect_eq("lost", missing, set())
    print("consumed %d, %d before the kill, %d redelivered" % (len(seen), before, len(seen) - n))
    if len(seen) - n > before:  # only what the killed consumer had not acked comes back
        raise Failure("%d redeliveries, more than the %d the killed consumer saw"
                      % (len(seen) - n, before))
    # explicit nak: redelivered, then acked; term: never again
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        c.ensure_stream("NAKS", ["naks.*"], storage="memory")
        c.js_publish("naks.a", [("w", "again", "text")])
        c.js_publish("naks.b", [("w", "never", "text")])
        deliveries = []

        def cb(msg, d):
            deliveries.append((msg.payloads[0][1], d["delivered"]))
            if msg.payloads[0][1] == "never":
                return nb.TERM
            return nb.NAK if d["delivered"] == 1 else nb.ACK

        with c.consume("naks.*", "nakker", cb, nak_delay=0.1):
            wait_until("redelivered", lambda: ("again", 2) in deliveries)
            time.sleep(1)
        expect_eq("deliveries", sorted(deliveries), [("again", 1), ("again", 2), ("never", 1)])


def api_objstore_link(run, nb):
    with nb.Client(nats_url=run.nats_url, fileserver_url=run.fs_url) as c:
        with c.object_store("blobs") as os_:
            info = os_.put("hello.bin", b"x" * 300000)
            expect_eq("size", info["size"], 300000)
            expect_eq("get", os_.get("hello.bin"), b"x" * 300000)
            expect_eq("info", os_.info("hello.bin")["size"], 300000)
            os_.delete("hello.bin")
            expect_raises("deleted", nb.NotFoundError, lambda: os_.get("hello.bin"), "not found")
    big = os.urandom(1_500_000)
    with nb.Client(nats_url=run.nats_url, link_store="nats-os://LINKS") as c:
        sub = c.subscribe("/os")
        c.flush()
        env = c.send("/os", [("big", big, "binary"), ("small", "hi", "text")])
        if not env["payloads"][0]["data"].startswith("nats-os://LINKS/"):
            raise Failure("not an Object Store link: %s" % env["payloads"][0]["data"])
        msg = sub.next_msg(20)
        expect_eq("bytes through the store", msg.payloads[0][1], big)
    # the C CLI receives the binding's Object Store link
    recv = run.background("c-recv", [run.args.nb, "listen", "/os2", "--json", "--count", "1",
                                     "--timeout", "30", "--server", run.nats_url,
                                     "--store", "nats-os://LINKS"])
    run.wait_text("c-recv.err", "listening on", recv)
    with nb.Client(nats_url=run.nats_url, link_store="nats-os://LINKS") as c:
        c.send("/os2", [("big", big, "binary")])
    got = json.loads(run.wait_exit(recv, 30).strip())
    expect_eq("C got sha256", got["payloads"][0]["sha256"], hashlib.sha256(big).hexdigest())


def api_auth(run, nb):
    """User/password and token against a nats-server that requires them; TLS is covered by
    the options' validation (a missing CA file is named)."""
    conf = run.path("auth.conf")
    with open(conf, "w") as f:
        f.write('authorization { users = [ { user: "alice", password: "s3cret-pw" } ] }\n')
    exe = os.environ.get("NB_TEST_NATS_SERVER", "nats-server")
    ports = run.path("authports")
    os.mkdir(ports)
    p = run.background("nats-auth", [exe, "-a", "127.0.0.1", "-p", "-1", "-c", conf,
                                     "--ports_file_dir", ports])
    pf = os.path.join(ports, "nats-server_%d.ports" % p.pid)
    wait_until("auth server", lambda: os.path.exists(pf) and os.path.getsize(pf) > 0, 10)
    url = json.load(open(pf))["nats"][0]
    e = expect_raises("no credentials", nb.NatsBridgeError, lambda: nb.Client(nats_url=url),
                      "uthorization")
    if "s3cret" in str(e):
        raise Failure("the password leaked into an error: %s" % e)
    e = expect_raises("wrong password", nb.NatsBridgeError,
                      lambda: nb.Client(nats_url=url, user="alice", password="wrong-pw"),
                      "uthorization")
    if "wrong-pw" in str(e):
        raise Failure("the password leaked into an error: %s" % e)
    with nb.Client(nats_url=url, user="alice", password="s3cret-pw") as c:
        sub = c.subscribe("/auth")
        c.flush()
        env = c.send("/auth", [("w", "in", "text")])
        expect_eq("received", sub.next_msg(10).payloads[0][1], "in")
        if "s3cret" in json.dumps(env):
            raise Failure("the password leaked into the envelope")
    expect_raises("missing CA file", nb.NatsBridgeError,
                  lambda: nb.Client(nats_url=url, tls_ca_file=run.path("nope.pem")), "nope.pem")
    expect_raises("missing creds file", nb.NatsBridgeError,
                  lambda: nb.Client(nats_url=url, creds_file=run.path("nope.creds")), "nope.creds")


def start_conf_server(run, name, conf_text):
    """A nats-server of its own with conf_text; returns its nats:// URL."""
    conf = run.path(name + ".conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    ports = run.path(name + "-ports")
    os.mkdir(ports)
    p = run.background(name, [os.environ.get("NB_TEST_NATS_SERVER", "nats-server"), "-a",
                              "127.0.0.1", "-p", "-1", "-c", conf, "--ports_file_dir", ports])
    pf = os.path.join(ports, "nats-server_%d.ports" % p.pid)
    wait_until(name + " server", lambda: os.path.exists(pf) and os.path.getsize(pf) > 0, 10)
    with open(pf) as f:
        return json.load(f)["nats"][0]


def openssl(run, *argv):
    r = subprocess.run(["openssl"] + list(argv), capture_output=True, text=True, timeout=60,
                       cwd=run.dir)
    if r.returncode != 0:
        raise Failure("openssl %s: %s" % (argv[0], r.stderr[-500:]))


def api_tls_token(run, nb):
    """A token-protected server, and a TLS server with a private CA (tls_ca_file): refused
    without them, a round trip with them; neither secret appears in an error."""
    url = start_conf_server(run, "nats-token", 'authorization { token: "tok-9f2e71" }\n')
    e = expect_raises("no token", nb.NatsBridgeError, lambda: nb.Client(nats_url=url),
                      "uthorization")
    e = expect_raises("wrong token", nb.NatsBridgeError,
                      lambda: nb.Client(nats_url=url, token="tok-wrong"), "uthorization")
    if "tok-wrong" in str(e):
        raise Failure("the token leaked into an error: %s" % e)
    with nb.Client(nats_url=url, token="tok-9f2e71") as c:
        sub = c.subscribe("/tok")
        c.flush()
        c.send("/tok", [("w", "with a token", "text")])
        expect_eq("token round trip", sub.next_msg(10).payloads[0][1], "with a token")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(run, "req", "-x509", *ec, "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=nbtest python ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(run, "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=127.0.0.1")
    with open(run.path("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(run, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-days", "2", "-set_serial", "0x7123456789", "-extfile", "server.ext",
            "-out", "server.pem")
    url = start_conf_server(run, "nats-tls", 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n'
                            '  timeout: 3\n}\n' % (run.path("server.pem"), run.path("server.key")))
    tls_url = url.replace("nats://", "tls://")
    expect_raises("no CA", nb.NatsBridgeError,
                  lambda: nb.Client(nats_url=tls_url, connect_timeout=3), "SSL")
    with nb.Client(nats_url=tls_url, tls_ca_file=run.path("ca.pem"),
                   tls_hostname="127.0.0.1") as c:
        sub = c.subscribe("/tls")
        c.flush()
        c.send("/tls", [("w", "over TLS", "text")])
        expect_eq("TLS round trip", sub.next_msg(10).payloads[0][1], "over TLS")


def api_pip_venv(run, nb):
    """pip install --no-build-isolation ./bindings/python into a venv, import elsewhere."""
    venv = run.path("venv")
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                       capture_output=True, text=True, timeout=120, env=python_env(os.environ))
    if r.returncode != 0:
        raise Failure("python3 -m venv failed (install python3-venv): %s" % r.stderr[-500:])
    py = os.path.join(venv, "bin", "python")
    env = python_env(dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1"))
    env.pop("PYTHONPATH", None)
    env.pop("NATSBRIDGE_NATIVE", None)  # the venv's own copy, built by pip
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation",
                        os.path.join(SRC, "bindings", "python")], capture_output=True, text=True,
                       timeout=300, env=env, cwd=run.dir)
    if r.returncode != 0:
        raise Failure("pip install failed:\n%s\n%s" % (r.stdout[-1500:], r.stderr[-1500:]))
    other = tempfile.mkdtemp(dir=run.dir)
    env["NATSBRIDGE_LIBRARY"] = run.args.lib
    r = subprocess.run([py, "-c", "import natsbridge, sys; print(natsbridge.__file__); "
                        "print(natsbridge.native_path); "
                        "e = natsbridge.Client(nats_url=sys.argv[1]).send("
                        "'/venv', [('m', 'from a venv', 'text')]); print(e['payloads'][0]['size'])",
                        run.nats_url],
                       capture_output=True, text=True, timeout=60, env=env, cwd=other)
    if r.returncode != 0:
        raise Failure("import from the venv failed: %s" % r.stderr[-1500:])
    where, native, size = r.stdout.split()
    if not where.startswith(venv):
        raise Failure("imported %s, not the venv's copy" % where)
    expect_native("pip install", native, venv)
    expect_eq("sent", size, "11")


def expect_native(what, native, prefix):
    """Where a C compiler and Python.h exist (as the build of this tree's extension shows),
    an install builds natsbridge._native too, and the installed copy loads it."""
    built = os.environ.get("NATSBRIDGE_NATIVE", "0") != "0"
    if built and not native.startswith(prefix):
        raise Failure("%s: natsbridge.native_path is %s, not the extension in %s"
                      % (what, native, prefix))
    if not built and native != "None":
        raise Failure("%s: a native extension %s where none was expected" % (what, native))


def api_cmake_install(run, nb):
    """cmake --install puts the package in <prefix>/lib/python3/dist-packages, and it finds the
    library of that prefix with no NATSBRIDGE_LIBRARY."""
    build = os.path.dirname(os.path.abspath(run.args.lib))
    prefix = run.path("prefix")
    for component in ("lib", "python"):  # the shared library and the package
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix, "--component",
                            component], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Failure("cmake --install --component %s failed: %s" % (component, r.stderr[-1500:]))
    site = os.path.join(prefix, "lib", "python3", "dist-packages")
    env = python_env(dict(os.environ, PYTHONPATH=site))
    env.pop("NATSBRIDGE_LIBRARY", None)
    env.pop("NATSBRIDGE_NATIVE", None)
    r = subprocess.run([sys.executable, "-B", "-c", "import natsbridge, sys; "
                        "print(natsbridge.__file__); print(natsbridge.library_path); "
                        "print(natsbridge.native_path); "
                        "e = natsbridge.smartsend('/inst', [('m', 'installed', 'text')], "
                        "nats_url=sys.argv[1]); print(e['payloads'][0]['size'])", run.nats_url],
                       capture_output=True, text=True, timeout=60, env=env, cwd=run.path("nats"))
    if r.returncode != 0:
        raise Failure("import of the installed package failed: %s" % r.stderr[-1500:])
    where, lib, native, size = r.stdout.split()
    for what, path in (("package", where), ("library", lib)):
        if not path.startswith(prefix):
            raise Failure("the installed %s came from %s, not %s" % (what, path, prefix))
    expect_native("cmake --install", native, prefix)
    expect_eq("sent", size, "9")


def run_cell(run, cell):
    parts = cell.split(".")
    if parts[0] == "seed":
        seed_cell(run, parts[1])
    elif parts[0] == "reqrep":
        reqrep_cell(run, parts[1])
    elif parts[0] == "api":
        globals()["api_" + parts[1]](run, binding(run))
    elif parts[0] == "secure":
        secure.run_cell(parts[1], binding(run), run)
    else:
        multi_cell(run, parts[0], parts[2])


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nb", help="the natsbridge CLI")
    ap.add_argument("--lib", help="libnatsbridge.so")
    ap.add_argument("--node", default="node")
    ap.add_argument("--native", help="natsbridge._native as built (NATSBRIDGE_NATIVE), or 0 "
                    "for the ctypes code alone")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cell", nargs="?")
    args = ap.parse_args()
    if not args.list:
        preload_sanitizer()
    if args.list:
        print("\n".join(all_cells()))
        return 0
    if args.cell not in all_cells() or not (args.nb and args.lib):
        ap.error("give --nb, --lib and a CELL from --list")
    if args.native:  # this process and every Python child (installed copies: see pip_venv)
        os.environ["NATSBRIDGE_NATIVE"] = args.native

    def give_up(signum, _frame):
        raise Failure("stopped by signal %d (time limit %d s)" % (signum, CELL_SECONDS))
    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, give_up)
    signal.alarm(CELL_SECONDS)
    run = Run(args, args.cell)
    try:
        run.start()
        run_cell(run, args.cell)
    except Exception as e:  # noqa: BLE001 - every failure is reported with the logs
        import traceback
        traceback.print_exc()
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
