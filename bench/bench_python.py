#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_python.py - the Python binding next to the stdlib Python peer and the C library.

    python3 bench/bench_python.py --lib build-rel/libnatsbridge.so.0 \\
        [--c-bench build-rel/bench/bench_throughput] [--url nats://...] [--count N]
        [--peer-count N] [--reps R] [--rss-count N]

Scenario (the one of bench_throughput.c): 100 B text envelopes end to end on loopback, a
publisher connection and a subscriber connection in one process; the timer runs from the first
send until the subscriber has decoded (smartreceive) the last envelope. The publisher waits
while more than WINDOW envelopes are in flight, so that nobody is dropped as a slow consumer.

Rows, in the same run against the same nats-server:
    peer           tests/interop/python/natsbridge_peer.py: smartsend(nc, ...) and a reader
                   thread doing next_msg + smartreceive (the seed's synchronous Python shape)
    binding send   Client.send (returns the envelope dict), callback subscription
    binding publish  Client.publish (no envelope returned), a thread iterating the subscription
    binding 2 procs  Client.send here, a callback subscription in a second Python process
    C library      bench_throughput's "100 B text" natsbridge figure (when --c-bench is given),
                   one repetition of --count run just before each repetition of the binding rows
The C / binding ratios are the median of each repetition's own ratio: this machine's speed
drifts by half from one minute to the next, and figures taken minutes apart (all of C's runs,
then all of the binding's) compared its moods, not the code.
The binding runs on its native extension (natsbridge._native) when --lib's build tree has one
(BUILD/bindings/python/_native.*.so); NATSBRIDGE_NATIVE=0 runs the ctypes code alone.
Then --rss-count messages through the binding with the process's RSS printed as it goes.
Each row also prints the CPU time per envelope of all its threads (and of the second process):
steadier than envelopes/s when other work shares the machine. Nothing is asserted: the figures
are printed (docs/BENCHMARKS.md).
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
WINDOW = 5000
TEXT = ("natsbridge bench " * 8)[:100]


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def start_nats(tmp):
    exe = os.environ.get("NB_TEST_NATS_SERVER", "nats-server")
    if not shutil.which(exe):
        sys.exit("bench_python: nats-server not found (or set NB_TEST_NATS_SERVER)")
    p = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pf = os.path.join(tmp, "nats-server_%d.ports" % p.pid)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(pf) as f:
                return p, json.load(f)["nats"][0]
        except (OSError, ValueError, KeyError, IndexError):
            time.sleep(0.02)
    p.kill()
    sys.exit("bench_python: nats-server did not start")


class Counter:
    """Deliveries counted as bench_throughput.c counts them: an increment per delivery (one
    thread adds, so the GIL is enough) and a wake-up of the publisher every 64; the publisher
    re-checks every 10 ms, so a wake-up it misses costs it no more than that."""

    def __init__(self, total):
        self.total = total
        self.n = 0
        self.cv = threading.Condition()
        self.done = threading.Event()

    def add(self):
        self.n = n = self.n + 1
        if n & 63 == 0 or n == self.total:
            with self.cv:
                self.cv.notify_all()
            if n == self.total:
                self.done.set()

    def wait_window(self, sent):
        if sent - self.n <= WINDOW:
            return
        seen, since = self.n, time.monotonic()
        with self.cv:
            while sent - self.n > WINDOW:
                self.cv.wait(0.01)
                if self.n != seen:
                    seen, since = self.n, time.monotonic()
                elif time.monotonic() - since > 10:
                    raise RuntimeError("no progress for 10 s (%d of %d received)" % (self.n, sent))


def run_peer(url, count, rep):
    sys.path.insert(0, os.path.join(SRC, "tests", "interop", "python"))
    import natsbridge_peer as peer
    subject = "bench.peer.%d" % rep
    sub_nc = peer.NATS(url)
    sub_nc.subscribe(subject)
    sub_nc.flush()
    pub_nc = peer.NATS(url)
    counter = Counter(count)
    errors = []

    def reader():
        try:
            for _ in range(count):
                msg = sub_nc.next_msg(30)
                if msg is None:
                    raise RuntimeError("peer reader timed out")
                env = peer.smartreceive(msg.data)
                if env["payloads"][0][1] != TEXT:
                    raise RuntimeError("peer decoded a wrong payload")
                counter.add()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
            counter.done.set()

    t = threading.Thread(target=reader)
    t0 = time.perf_counter()
    t.start()
    for i in range(count):
        peer.smartsend(pub_nc, subject, [("msg", TEXT, "text")])
        counter.wait_window(i + 1)
    counter.done.wait(120)
    dt = time.perf_counter() - t0
    t.join(5)
    pub_nc.close()
    sub_nc.close()
    if errors:
        raise errors[0]
    return count / dt


def run_binding(nb, url, count, rep, returns_envelope):
    subject = "bench.pyb.%d.%d" % (rep, returns_envelope)
    counter = Counter(count)
    bad = []

    def cb(msg):
        if msg.payloads[0][1] != TEXT:
            bad.append(msg)
        counter.add()

    with nb.Client(nats_url=url, pending_limits=(-1, -1)) as sub_c, \
            nb.Client(nats_url=url) as pub_c:
        reader = None
        if returns_envelope:  # Client.send and a callback subscription
            sub_c.subscribe(subject, cb)
        else:  # Client.publish and a reader thread iterating the subscription
            sub = sub_c.subscribe(subject)

            def read():
                for msg in sub:
                    cb(msg)
                    if counter.n == count:
                        return
            reader = threading.Thread(target=read)
            reader.start()
        sub_c.flush()
        send = pub_c.send if returns_envelope else pub_c.publish
        data = [("msg", TEXT, "text")]
        t0 = time.perf_counter()
        for i in range(count):
            send(subject, data)
            if i % 256 == 0:
                counter.wait_window(i + 1)
        pub_c.flush()
        if not counter.done.wait(120):
            raise RuntimeError("binding: only %d of %d arrived" % (counter.n, count))
        dt = time.perf_counter() - t0
        if reader:
            reader.join(10)
    if bad:
        raise RuntimeError("binding decoded %d wrong payloads" % len(bad))
    return count / dt


RECEIVER = r"""
import sys, threading
import natsbridge as nb
url, subject, count, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
n, bad, done = [0], [0], threading.Event()
def cb(msg):
    if msg.payloads[0][1] != text:
        bad[0] += 1
    n[0] += 1
    if n[0] == count:
        done.set()
with nb.Client(nats_url=url, pending_limits=(-1, -1)) as c:
    c.subscribe(subject, cb)
    c.flush()
    print("ready", flush=True)
    ok = done.wait(300)
    print("done %d %d" % (n[0], bad[0]) if ok else "timeout %d" % n[0], flush=True)
"""


def run_binding_2proc(nb, url, count, rep):
    """The receiver in a process of its own (as sender and receiver usually are): no GIL
    shared between them, as the C library's two threads share nothing either."""
    subject = "bench.pyb2.%d" % rep
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "bindings", "python"))
    p = subprocess.Popen([sys.executable, "-c", RECEIVER, url, subject, str(count), TEXT],
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiver process did not start")
        with nb.Client(nats_url=url) as pub_c:
            data = [("msg", TEXT, "text")]
            t0 = time.perf_counter()
            for _ in range(count):
                pub_c.send(subject, data)
            pub_c.flush()
            line = p.stdout.readline().split()
            dt = time.perf_counter() - t0
        if line[:1] != ["done"] or line[2] != "0":
            raise RuntimeError("the receiver process: %s" % " ".join(line))
        return count / dt
    finally:
        p.wait(30)


def run_c(c_bench, url, count, reps):
    """bench_throughput's "100 B text" natsbridge figure (env/s, the median of reps)."""
    out = subprocess.run([c_bench, "--url", url, "--reps", str(reps), "--small", str(count),
                          "--large", "1"], capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("100 B text"):
            # payload msgs/rep wireB | nb env/s [min-max] ...
            m = re.search(r"\|\s+([0-9]+)\s", line)
            if m:
                return float(m.group(1))
    raise RuntimeError("bench_throughput printed no '100 B text' row:\n%s%s" % (out.stdout, out.stderr))


def cpu_seconds():
    """CPU time of this process and of its waited-for children (the 2-process receiver)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def measure(fn, count):
    """fn()'s envelopes/s and the CPU time per envelope of every thread and process (steadier
    than wall time on a busy machine), in microseconds."""
    t0 = cpu_seconds()
    rate = fn()
    return rate, (cpu_seconds() - t0) / count * 1e6


def print_row(name, figures, cpu):
    """The median envelopes/s of a row's repetitions, their range, and the median CPU."""
    print("%-18s %12.0f   %-15s %8s" % (name, statistics.median(figures),
                                       "[%.0f-%.0f]" % (min(figures), max(figures)),
                                       "%.1f" % statistics.median(cpu) if cpu else "-"),
          flush=True)


def rss_run(nb, url, total):
    subject = "bench.rss"
    counter = Counter(total)
    with nb.Client(nats_url=url, pending_limits=(-1, -1)) as sub_c, \
            nb.Client(nats_url=url) as pub_c:
        sub_c.subscribe(subject, lambda msg: counter.add())
        sub_c.flush()
        data = [("msg", TEXT, "text")]
        step = max(1, total // 5)
        print("%-10s %10s" % ("messages", "RSS MiB"))
        print("%-10d %10.1f" % (0, rss_mib()), flush=True)
        for i in range(total):
            pub_c.send(subject, data)
            if i % 256 == 0:
                counter.wait_window(i + 1)
            if (i + 1) % step == 0:
                counter.wait_window(i + 1 - 0)
                print("%-10d %10.1f" % (i + 1, rss_mib()), flush=True)
        if not counter.done.wait(120):
            raise RuntimeError("rss run: only %d of %d arrived" % (counter.n, total))
    print("%-10s %10.1f (after close)" % ("end", rss_mib()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="libnatsbridge (else NATSBRIDGE_LIBRARY or the installed one)")
    ap.add_argument("--c-bench", help="bench_throughput, for the C library's figure")
    ap.add_argument("--url", help="a running nats-server (else one is started)")
    ap.add_argument("--count", type=int, default=50000, help="envelopes per binding/C run")
    ap.add_argument("--peer-count", type=int, default=10000, help="envelopes per peer run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rss-count", type=int, default=100000)
    args = ap.parse_args()
    if args.lib:
        os.environ["NATSBRIDGE_LIBRARY"] = os.path.abspath(args.lib)
        # The native extension of the same build tree, unless NATSBRIDGE_NATIVE says otherwise
        # (NATSBRIDGE_NATIVE=0: the ctypes code alone).
        import glob
        built = glob.glob(os.path.join(os.path.dirname(os.path.abspath(args.lib)), "bindings",
                                       "python", "_native.*.so"))
        if built and "NATSBRIDGE_NATIVE" not in os.environ:
            os.environ["NATSBRIDGE_NATIVE"] = built[0]
    sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
    import natsbridge as nb

    tmp = tempfile.mkdtemp(prefix="nbbench-")
    server = None
    url = args.url
    if not url:
        server, url = start_nats(tmp)
    try:
        print("bench_python: natsbridge %s (%s), native extension %s, Python %s, server %s"
              % (nb.library_version, nb.library_path, nb.native_path or "off (ctypes only)",
                 sys.version.split()[0], url))
        print("100 B text envelopes end to end (first send until the last is decoded); "
              "median of %d [min-max]; C and binding rows alternate, repetition by repetition\n"
              % args.reps)
        print("%-18s %12s   %-15s %8s" % ("", "envelopes/s", "[min-max]", "CPU us/env"))
        peer = [measure(lambda: run_peer(url, args.peer_count, r), args.peer_count)
                for r in range(args.reps)]
        print_row("stdlib peer", [p[0] for p in peer], [p[1] for p in peer])
        rows = {"C library": [], "binding send+cb": [], "binding pub+iter": [],
                "binding 2 procs": []}
        cpu = {k: [] for k in rows}
        runs = (("binding send+cb", lambda r: run_binding(nb, url, args.count, r, True)),
                ("binding pub+iter", lambda r: run_binding(nb, url, args.count, r, False)),
                ("binding 2 procs", lambda r: run_binding_2proc(nb, url, args.count, r)))
        for r in range(args.reps):
            if args.c_bench:
                rows["C library"].append(run_c(args.c_bench, url, args.count, 1))
            for name, fn in runs:
                rate, us = measure(lambda: fn(r), args.count)
                rows[name].append(rate)
                cpu[name].append(us)
        for name in rows:
            if rows[name]:
                print_row(name, rows[name], cpu[name])
        peer_rate = statistics.median(p[0] for p in peer)
        send, pub = (statistics.median(rows[k]) for k in ("binding send+cb", "binding pub+iter"))
        print("\nbinding send+cb / stdlib peer = %.1fx (target >= 5x)" % (send / peer_rate))
        print("binding pub+iter / stdlib peer = %.1fx" % (pub / peer_rate))
        if args.c_bench:
            c = rows["C library"]
            ratio = {k: statistics.median(ci / bi for ci, bi in zip(c, rows[k]))
                     for k in rows if k != "C library"}
            print("C library / binding (median of the repetitions' own ratios): send+cb %.2fx, "
                  "pub+iter %.2fx, 2 procs %.2fx (target <= 2x)"
                  % (ratio["binding send+cb"], ratio["binding pub+iter"],
                     ratio["binding 2 procs"]))
        if args.rss_count <= 0:
            return
        print("\nRSS over %d envelopes through the binding (send + callback decode):"
              % args.rss_count)
        rss_run(nb, url, args.rss_count)
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
