# SPDX-License-Identifier: MIT
"""pyb_peer.py - the Python binding as a program, in the shape of tests/interop's peers.

    python3 pyb_peer.py send SPEC      smartsend one message; prints the envelope as sent
    python3 pyb_peer.py listen SPEC    print COUNT received messages as JSON lines
                                       ("ready" on stderr once subscribed)
    python3 pyb_peer.py request SPEC   Client.request; prints the request, then the reply
    python3 pyb_peer.py respond SPEC   answer COUNT requests with a copy of their payloads

SPEC is the JSON object of tests/interop/run_matrix.py (nats, fileserver, subject, count,
timeout, options, payloads [{dataname, type, file, link}]). Received messages are printed in
the shape of `natsbridge listen --json` plus, per payload, decoded_type and check.
"""

import hashlib
import json
import sys

import natsbridge as nb

OPTIONS = ("correlation_id", "msg_purpose", "sender_name", "receiver_name", "receiver_id",
           "reply_to", "reply_to_msg_id", "metadata", "msg_id")


def load_payload(p):
    with open(p["file"], "rb") as f:
        raw = f.read()
    if p["type"] == "text":
        return (p["dataname"], raw.decode("utf-8"), p["type"])
    if p["type"] in ("dictionary", "jsontable"):
        return (p["dataname"], json.loads(raw.decode("utf-8")), p["type"])
    return (p["dataname"], raw, p["type"])


def send_kwargs(spec):
    opts = spec.get("options", {})
    kw = dict((k, opts[k]) for k in OPTIONS if k in opts)
    kw["link"] = [p["dataname"] for p in spec.get("payloads", []) if p.get("link")]
    return kw


def check(value):
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value)}
    return value


def report(msg):
    out = dict((k, v) for k, v in msg.wire.items() if k != "payloads")
    pls = []
    for i, (wp, (name, data, tname)) in enumerate(zip(msg.wire["payloads"], msg.payloads)):
        raw = msg.raw(i)
        pls.append({"dataname": name, "type": tname, "decoded_type": type(data).__name__,
                    "transport": wp["transport"], "encoding": wp["encoding"],
                    "size": wp["size"], "sha256": hashlib.sha256(raw).hexdigest(),
                    "check": check(data)})
    out["payloads"] = pls
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def client(spec, **kw):
    return nb.Client(nats_url=spec["nats"], fileserver_url=spec["fileserver"], **kw)


def cmd_send(spec):
    env = nb.smartsend(spec["subject"], [load_payload(p) for p in spec["payloads"]],
                       nats_url=spec["nats"], fileserver_url=spec["fileserver"],
                       **send_kwargs(spec))
    print(json.dumps(env, ensure_ascii=False))


def cmd_listen(spec):
    with client(spec) as c, c.subscribe(spec["subject"]) as sub:
        c.flush()
        print("ready: listening on %s" % spec["subject"], file=sys.stderr, flush=True)
        for _ in range(spec.get("count", 1)):
            print(report(sub.next_msg(spec.get("timeout", 20))), flush=True)


def cmd_request(spec):
    with client(spec) as c:
        kw = send_kwargs(spec)
        kw.pop("reply_to", None)
        rep = c.request(spec["subject"], [load_payload(p) for p in spec["payloads"]],
                        timeout=spec.get("timeout", 20), **kw)
        # the request as it went: the reply names its msg_id and the inbox
        print(json.dumps({"msg_id": rep["reply_to_msg_id"], "reply_to": rep["send_to"]}),
              flush=True)
        print(report(rep), flush=True)


def cmd_respond(spec):
    opts = spec.get("options", {})
    with client(spec, sender_name=opts.get("sender_name")) as c, c.subscribe(spec["subject"]) as sub:
        c.flush()
        print("ready: responding on %s" % spec["subject"], file=sys.stderr, flush=True)
        for _ in range(spec.get("count", 1)):
            req = sub.next_msg(spec.get("timeout", 20))
            print(report(req), flush=True)
            c.reply(req, req.payloads, msg_purpose=opts.get("msg_purpose", "ACK"))


def main():
    commands = {"send": cmd_send, "listen": cmd_listen, "request": cmd_request,
                "respond": cmd_respond}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        print("usage: pyb_peer.py send|listen|request|respond SPEC", file=sys.stderr)
        return 2
    try:
        commands[sys.argv[1]](json.loads(sys.argv[2]))
    except (nb.NatsBridgeError, OSError, ValueError) as e:
        print("pyb_peer.py %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
