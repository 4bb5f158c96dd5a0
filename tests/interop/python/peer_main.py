# SPDX-License-Identifier: MIT
"""peer_main.py - the Python peer as a program, driven by tests/interop/run_matrix.py.

    python3 peer_main.py send SPEC      publish one message; prints the envelope as sent
    python3 peer_main.py listen SPEC    print COUNT received messages as JSON lines
                                        ("ready" on stderr once subscribed)
    python3 peer_main.py request SPEC   a device: send with an inbox as reply_to, print the reply

SPEC is a JSON object (the argument): nats, subject, count, timeout (s), options (snake_case
envelope fields), payloads ([{dataname, type, file}]). Received messages are printed in the
shape of `natsbridge listen --json` plus, per payload, decoded_type and check (a summary of
the decoded value).
"""

import json
import sys
import time

import natsbridge_peer as nb

OPTIONS = ("correlation_id", "msg_purpose", "sender_name", "receiver_name", "receiver_id",
           "reply_to", "reply_to_msg_id", "metadata", "msg_id")


def load_payload(p):
    with open(p["file"], "rb") as f:
        raw = f.read()
    if p["type"] == "text":
        return (p["dataname"], raw.decode("utf-8"), p["type"])
    if p["type"] == "dictionary":
        return (p["dataname"], json.loads(raw.decode("utf-8")), p["type"])
    return (p["dataname"], raw, p["type"])


def send_kwargs(spec):
    opts = spec.get("options", {})
    return dict((k, opts[k]) for k in OPTIONS if k in opts)


def check(value):
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value)}
    return value


def report(env):
    out = dict((k, v) for k, v in env.items() if k not in ("payloads", "detail"))
    out["payloads"] = [{"dataname": d["dataname"], "type": d["type_name"],
                        "decoded_type": d["type"], "transport": d["transport"],
                        "encoding": d["encoding"], "size": d["size"], "sha256": d["sha256"],
                        "check": check(data)}
                       for d, (_, data, _) in zip(env["detail"], env["payloads"])]
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def next_envelope(nc, deadline):
    msg = nc.next_msg(deadline - time.time())
    if msg is None:
        raise nb.NATSBridgeError("timed out waiting for a message")
    return nb.smartreceive(msg.data)


def cmd_send(spec):
    nc = nb.NATS(spec["nats"])
    _, text = nb.smartsend(nc, spec["subject"], [load_payload(p) for p in spec["payloads"]],
                           **send_kwargs(spec))
    print(text)
    nc.close()


def cmd_listen(spec):
    nc = nb.NATS(spec["nats"])
    nc.subscribe(spec["subject"])
    nc.flush()
    print("ready: listening on %s" % spec["subject"], file=sys.stderr, flush=True)
    deadline = time.time() + spec.get("timeout", 20)
    for _ in range(spec.get("count", 1)):
        print(report(next_envelope(nc, deadline)), flush=True)
    nc.close()


def cmd_request(spec):
    nc = nb.NATS(spec["nats"])
    inbox = "_INBOX.py." + nb.uuid4().replace("-", "")
    nc.subscribe(inbox)
    kwargs = send_kwargs(spec)
    kwargs["reply_to"] = inbox
    env, text = nb.smartsend(nc, spec["subject"], [load_payload(p) for p in spec["payloads"]],
                             **kwargs)
    print(text, flush=True)
    deadline = time.time() + spec.get("timeout", 20)
    while True:
        reply = next_envelope(nc, deadline)
        if reply["reply_to_msg_id"] == env["msg_id"]:
            print(report(reply), flush=True)
            break
    nc.close()


def main():
    commands = {"send": cmd_send, "listen": cmd_listen, "request": cmd_request}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        print("usage: peer_main.py send|listen|request SPEC", file=sys.stderr)
        return 2
    try:
        commands[sys.argv[1]](json.loads(sys.argv[2]))
    except (nb.NATSBridgeError, OSError, ValueError) as e:
        print("peer_main.py %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
