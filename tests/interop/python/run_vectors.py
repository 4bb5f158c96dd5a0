# SPDX-License-Identifier: MIT
"""run_vectors.py - runs every golden envelope of tests/vectors through the Python peer's
smartreceive (no downloads) and checks the expected result (format: tests/vectors/README.md).
Usage: python3 run_vectors.py VECTOR_DIR. Exit 0 when every vector passes."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from natsbridge_peer import NATSBridgeError, smartreceive  # noqa: E402

FIELDS = ("correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose", "sender_name",
          "sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id",
          "broker_url")


def check(env, expect):
    problems = []
    for f in FIELDS:
        if env[f] != expect["fields"][f]:
            problems.append("%s: got %r, want %r" % (f, env[f], expect["fields"][f]))
    if env["metadata"] != expect["fields"]["metadata"]:
        problems.append("metadata differs")
    got_all, want_all = env["detail"], expect["payloads"]
    if len(got_all) != len(want_all):
        return problems + ["%d payloads, want %d" % (len(got_all), len(want_all))]
    for i, (got, want) in enumerate(zip(got_all, want_all)):
        for k in ("dataname", "type", "type_name", "transport", "encoding", "size"):
            if got[k] != want[k]:
                problems.append("payloads[%d].%s: got %r, want %r" % (i, k, got[k], want[k]))
        if want["transport"] == "link":
            if got["url"] != want["url"]:
                problems.append("payloads[%d].url differs" % i)
        elif got["sha256"] != want["sha256"]:
            problems.append("payloads[%d].sha256 differs" % i)
        if "text" in want and got["bytes"].decode("utf-8") != want["text"]:
            problems.append("payloads[%d].text differs" % i)
    return problems


def run_one(path):
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    expect = v["expect"]
    try:
        env = smartreceive(v["envelope"].encode("utf-8", "surrogatepass"), download=False)
    except NATSBridgeError as e:
        if expect["error"] is None:
            return ["refused a valid envelope: %s" % e]
        # This peer names the field as natsbridge does: hold it to the same fragment.
        return [] if expect["error"] in str(e) else ["error %r lacks %r" % (str(e), expect["error"])]
    if expect["error"] is not None:
        return ["accepted an envelope that must be refused (%s)" % expect["error"]]
    return check(env, expect)


def main():
    if len(sys.argv) != 2:
        print("usage: python3 run_vectors.py VECTOR_DIR", file=sys.stderr)
        return 2
    names = sorted(n for n in os.listdir(sys.argv[1]) if n.endswith(".json"))
    failed = 0
    for n in names:
        problems = run_one(os.path.join(sys.argv[1], n))
        for p in problems:
            print("FAIL %s: %s" % (n, p), file=sys.stderr)
        failed += bool(problems)
    print("%d/%d vectors passed" % (len(names) - failed, len(names)))
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main())
