# SPDX-License-Identifier: MIT
"""natsbridge_peer.py - a Python NATSBridge peer in the style of the MicroPython one.

Written from the peers' wire format (/work/shared/reference/seed-wire-format.md and
docs/PROTOCOL.md), not from natsbridge's C code. Synchronous; the NATS protocol is spoken over a
plain socket (INFO, CONNECT, PUB, SUB, UNSUB, MSG, PING, PONG); standard library only, and only
modules MicroPython has equivalents for:

    socket -> usocket, json -> ujson, binascii -> ubinascii, hashlib -> uhashlib,
    os.urandom -> os.urandom, time -> utime, urllib.request (one function, http_get) -> urequests

Types: text (str), dictionary (dict/list), binary/image/audio/video (bytes); jsontable is read
as a list of rows and Arrow tables as their bytes (no Arrow on MicroPython). Transports: direct
both ways; link payloads are downloaded (with back-off), never uploaded, as the MicroPython
peer's "limited link" support.

API (the peers' semantics):
    nc = NATS("nats://127.0.0.1:4222")
    env, text = smartsend(nc, subject, [(dataname, data, type)], correlation_id=..., ...)
    env = smartreceive(msg_body)   # env["payloads"]: [(dataname, data, type)] + env["detail"]
"""

import binascii
import hashlib
import json
import os
import socket
import time

try:  # CPython; on MicroPython http_get would use urequests
    import urllib.request
    import urllib.error
except ImportError:  # pragma: no cover
    urllib = None

DEFAULT_SIZE_THRESHOLD = 1000000

TYPES = {"text": "text", "dictionary": "dictionary", "json": "dictionary", "table": "table",
         "arrowtable": "table", "jsontable": "jsontable", "image": "image", "audio": "audio",
         "video": "video", "binary": "binary"}
SEND_TYPES = ("text", "dictionary", "image", "audio", "video", "binary")

ENVELOPE_FIELDS = (
    ("correlation_id", "correlationId"), ("msg_id", "msgId"), ("timestamp",),
    ("send_to", "sendTo"), ("msg_purpose", "msgPurpose"), ("sender_name", "senderName"),
    ("sender_id", "senderId"), ("receiver_name", "receiverName"), ("receiver_id", "receiverId"),
    ("reply_to", "replyTo"), ("reply_to_msg_id", "replyToMsgId"),
    ("broker_url", "brokerURL", "BrokerURL", "brokerUrl"),
)
REQUIRED = ("correlation_id", "msg_id")


class NATSBridgeError(Exception):
    pass


# ------------------------------------------------------------------------------------------
# Small helpers (uuid, time, hex, base64)
# ------------------------------------------------------------------------------------------

def uuid4():
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = binascii.hexlify(b).decode()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def utc_timestamp():
    t = time.time()
    y, mo, d, hh, mm, ss = time.gmtime(t)[:6]
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (y, mo, d, hh, mm, ss, int(t * 1000) % 1000)


def sha256_hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64encode(data):
    return binascii.b2a_base64(data).decode().strip()


def b64decode(s, what):
    """Strict base64 (docs/PROTOCOL.md section 7): one spelling per byte string."""
    end = len(s)
    pad = 0
    while end > 0 and s[end - 1] == "=":
        end -= 1
        pad += 1
    for i in range(end):
        if s[i] not in B64:
            raise NATSBridgeError("%s: invalid base64 at offset %d: %r is not in the alphabet"
                                  % (what, i, s[i]))
    rest = end % 4
    if rest == 1:
        raise NATSBridgeError("%s: invalid base64 at offset %d: a last group of one character"
                              % (what, end - 1))
    if pad and (pad > 2 or (end + pad) % 4 != 0 or rest == 0):
        raise NATSBridgeError("%s: invalid base64 at offset %d: wrong padding" % (what, end))
    if rest:
        unused = 0x0F if rest == 2 else 0x03
        if B64.index(s[end - 1]) & unused:
            raise NATSBridgeError("%s: invalid base64 at offset %d: unused bits are not zero"
                                  % (what, end - 1))
    body = s[:end] + "=" * ((4 - rest) % 4)
    return binascii.a2b_base64(body)


def utf8(data, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NATSBridgeError("%s is not valid UTF-8 at byte %d" % (what, e.start))


def json_loads(text, what):
    try:
        return json.loads(text)
    except Exception:  # ValueError, and RecursionError for absurd nesting
        raise NATSBridgeError("%s is not valid JSON" % what)


# ------------------------------------------------------------------------------------------
# NATS over a socket
# ------------------------------------------------------------------------------------------

class Msg:
    def __init__(self, subject, reply, data):
        self.subject = subject
        self.reply = reply
        self.data = data


class NATS:
    """A minimal synchronous NATS client: one socket, one thread, the text protocol."""

    def __init__(self, url="nats://127.0.0.1:4222", name="natsbridge-python-peer", timeout=5.0):
        host, port = self._parse_url(url)
        self.url = url
        self.sid = 0
        self.buf = b""
        self.pending = []  # messages read while waiting for a PONG
        addr = socket.getaddrinfo(host, port)[0][-1]
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        line = self._readline()
        if not line.startswith(b"INFO "):
            raise NATSBridgeError("nats: expected INFO, got %r" % line[:40])
        self.info = json.loads(line[5:])
        connect = {"verbose": False, "pedantic": False, "name": name, "lang": "python",
                   "version": "0.1", "protocol": 1}
        self._send(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        while True:
            line = self._readline()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise NATSBridgeError("nats: " + line.decode())

    @staticmethod
    def _parse_url(url):
        rest = url.split("://", 1)[-1].rstrip("/")
        host, _, port = rest.rpartition(":")
        return (host or "127.0.0.1"), int(port or 4222)

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise NATSBridgeError("nats: connection closed by the server")
        self.buf += chunk

    def _readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _readn(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def publish(self, subject, data, reply=""):
        if len(data) > self.info.get("max_payload", 1048576):
            raise NATSBridgeError("nats: message of %d bytes exceeds max_payload" % len(data))
        head = "PUB %s %s%d\r\n" % (subject, reply + " " if reply else "", len(data))
        self._send(head.encode() + data + b"\r\n")

    def subscribe(self, subject):
        self.sid += 1
        self._send(("SUB %s %d\r\n" % (subject, self.sid)).encode())
        return self.sid

    def unsubscribe(self, sid):
        self._send(("UNSUB %d\r\n" % sid).encode())

    def flush(self):
        """A PING/PONG round trip: everything sent before has reached the server."""
        self._send(b"PING\r\n")
        while True:
            line = self._readline()
            if line == b"PONG":
                return
            self._dispatch(line, keep=True)

    def _dispatch(self, line, keep=False):
        if line.startswith(b"MSG "):
            self.sock.settimeout(10)  # the body follows its MSG line: never stop half-way
            parts = line.decode().split(" ")
            reply = parts[3] if len(parts) == 5 else ""
            msg = Msg(parts[1], reply, self._readn(int(parts[-1])))
            if keep:
                self.pending.append(msg)
            return msg
        if line == b"PING":
            self._send(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            raise NATSBridgeError("nats: " + line.decode())
        return None  # +OK, PONG, INFO

    def next_msg(self, timeout):
        """The next MSG (any subscription), or None after `timeout` seconds."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                line = self._readline()
            except (socket.timeout, OSError) as e:
                if isinstance(e, socket.timeout) or "timed out" in str(e):
                    return None
                raise
            msg = self._dispatch(line)
            if msg is not None:
                return msg

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------------------------
# smartsend
# ------------------------------------------------------------------------------------------

def serialize(data, ptype, dataname):
    if ptype == "text":
        if not isinstance(data, str):
            raise NATSBridgeError("payload '%s': text must be a str" % dataname)
        return data.encode("utf-8")
    if ptype == "dictionary":
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if ptype in ("image", "audio", "video", "binary"):
        if not isinstance(data, (bytes, bytearray)):
            raise NATSBridgeError("payload '%s': %s must be bytes" % (dataname, ptype))
        return bytes(data)
    raise NATSBridgeError("payload '%s': type '%s' is not supported by this peer" % (dataname, ptype))


def smartsend(nc, subject, payloads, correlation_id="", msg_purpose="chat",
              sender_name="NATSBridge", sender_id="", receiver_name="", receiver_id="",
              reply_to="", reply_to_msg_id="", metadata=None, msg_id="",
              size_threshold=DEFAULT_SIZE_THRESHOLD):
    """Publishes [(dataname, data, type)] on subject, all direct; returns (envelope, json)."""
    wire = []
    for dataname, data, ptype in payloads:
        raw = serialize(data, ptype, dataname)
        if len(raw) >= size_threshold:
            raise NATSBridgeError("payload '%s': %d bytes need a link, which this peer does not "
                                  "upload" % (dataname, len(raw)))
        wire.append({"id": uuid4(), "dataname": dataname, "type": ptype, "transport": "direct",
                     "encoding": "base64", "size": len(raw), "data": b64encode(raw),
                     "metadata": {}})
    env = {"correlation_id": correlation_id or uuid4(), "msg_id": msg_id or uuid4(),
           "timestamp": utc_timestamp(), "send_to": subject, "msg_purpose": msg_purpose,
           "sender_name": sender_name, "sender_id": sender_id or uuid4(),
           "receiver_name": receiver_name, "receiver_id": receiver_id, "reply_to": reply_to,
           "reply_to_msg_id": reply_to_msg_id, "broker_url": nc.url,
           "metadata": metadata or {}, "payloads": wire}
    text = json.dumps(env, separators=(",", ":"))
    nc.publish(subject, text.encode("utf-8"), reply_to)
    nc.flush()
    return env, text


# ------------------------------------------------------------------------------------------
# smartreceive
# ------------------------------------------------------------------------------------------

def http_get(url, timeout):
    """One GET: (status, body). The only urllib use (urequests.get on MicroPython)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def fetch_with_backoff(url, max_retries=5, base_delay=100, max_delay=5000, correlation_id=""):
    """GET with exponential back-off (full jitter, delays in ms); 4xx other than 408/429 fail
    at once."""
    last = ""
    for attempt in range(max_retries + 1):
        if attempt:
            cap = min(max_delay, base_delay * (1 << (attempt - 1)))
            time.sleep(cap * (int.from_bytes(os.urandom(2), "big") / 65536.0) / 1000.0)
        try:
            status, body = http_get(url, 10)
        except Exception as e:  # refused, reset, timeout
            last = str(e)
            continue
        if 200 <= status < 300:
            return body
        last = "HTTP %d" % status
        if not (status in (408, 429) or status >= 500):
            break
    raise NATSBridgeError("download %s failed (correlation_id %s): %s" % (url, correlation_id, last))


def _pick(obj, names):
    for n in names:
        if obj.get(n) is not None:
            return obj[n]
    return None


def _size(p, where, required):
    v = p.get("size")
    if v is None:
        if required:
            raise NATSBridgeError("envelope: %s: missing field 'size'" % where)
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise NATSBridgeError("envelope: %s: field 'size' must be a number" % where)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")) or v != int(v):
            raise NATSBridgeError("envelope: %s: field 'size' must be a whole number" % where)
        v = int(v)
    if v < 0:
        raise NATSBridgeError("envelope: %s: field 'size' must not be negative" % where)
    if v > 1 << 53:
        raise NATSBridgeError("envelope: %s: field 'size' is too large" % where)
    return v


def _direct_bytes(p, encoding, where):
    d = p.get("data")
    if d is None:
        raise NATSBridgeError("envelope: %s: missing field 'data'" % where)
    if isinstance(d, (dict, list)):
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if not isinstance(d, str):
        raise NATSBridgeError("envelope: %s: field 'data' must be a string" % where)
    if encoding == "json" and d.lstrip(" \t\r\n")[:1] in ("[", "{", '"'):
        return d.encode("utf-8")
    return b64decode(d, "envelope: %s.data" % where)


def _payload(p, i):
    where = "payloads[%d]" % i
    if not isinstance(p, dict):
        raise NATSBridgeError("envelope: %s must be a JSON object" % where)
    name = p.get("dataname")
    if name is None:
        raise NATSBridgeError("envelope: %s: missing field 'dataname'" % where)
    if not isinstance(name, str) or not name:
        raise NATSBridgeError("envelope: %s: field 'dataname' must be a non-empty string" % where)
    type_name = _pick(p, ("type", "payload_type", "payloadType"))
    if type_name is None:
        raise NATSBridgeError("envelope: %s: missing field 'type'" % where)
    if not isinstance(type_name, str) or type_name not in TYPES:
        raise NATSBridgeError("envelope: %s.type: unknown type '%s'" % (where, type_name))
    transport = p.get("transport")
    if transport is None:
        raise NATSBridgeError("envelope: %s: missing field 'transport'" % where)
    if transport not in ("direct", "link"):
        raise NATSBridgeError("envelope: %s.transport: unknown transport '%s'" % (where, transport))
    encoding = p.get("encoding")
    if encoding is None:
        encoding = "none" if transport == "link" else "base64"
    if not isinstance(encoding, str):
        raise NATSBridgeError("envelope: %s: field 'encoding' must be a string" % where)
    meta = p.get("metadata")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise NATSBridgeError("envelope: %s: field 'metadata' must be an object" % where)
    pid = p.get("id")
    if pid is not None and not isinstance(pid, str):
        raise NATSBridgeError("envelope: %s: field 'id' must be a string" % where)
    size = _size(p, where, transport == "link")
    out = {"id": pid or "", "dataname": name, "type": TYPES[type_name], "type_name": type_name,
           "transport": transport, "encoding": encoding, "size": size, "metadata": meta,
           "url": None, "bytes": None}
    if transport == "link":
        if not isinstance(p.get("data"), str) or not p["data"]:
            raise NATSBridgeError("envelope: %s: link 'data' must be a non-empty URL string" % where)
        out["url"] = p["data"]
    else:
        raw = _direct_bytes(p, encoding, where)
        if size is not None and size != len(raw):
            raise NATSBridgeError("envelope: %s '%s': size %d does not match %d decoded bytes"
                                  % (where, name, size, len(raw)))
        out["bytes"] = raw
        out["size"] = len(raw)
    return out


def parse_envelope(body):
    """Checks an envelope (bytes or str) without downloading; payload bytes in "detail"."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = bytes(body).rstrip(b"\x00")  # a C sender's terminator
    if not body:
        raise NATSBridgeError("envelope: empty message")
    if b"\x00" in body:
        raise NATSBridgeError("envelope: NUL byte at offset %d" % body.index(b"\x00"))
    text = utf8(body, "envelope:")
    if text[:1] == "\ufeff":
        text = text[1:]
    obj = json_loads(text, "envelope:")
    if not isinstance(obj, dict):
        raise NATSBridgeError("envelope: the JSON text must be an object")
    env = {}
    for names in ENVELOPE_FIELDS:
        v = _pick(obj, names)
        key = names[0]
        if v is None:
            if key in REQUIRED:
                raise NATSBridgeError("envelope: missing field '%s'" % key)
            v = ""
        elif not isinstance(v, str):
            raise NATSBridgeError("envelope: field '%s' must be a string" % key)
        elif key in REQUIRED and not v:
            raise NATSBridgeError("envelope: field '%s' must not be empty" % key)
        env[key] = v
    meta = obj.get("metadata")
    if meta is None:
        note = obj.get("note")
        meta = {} if note is None else (note if isinstance(note, dict) else {"note": note})
    if not isinstance(meta, dict):
        raise NATSBridgeError("envelope: field 'metadata' must be an object")
    env["metadata"] = meta
    payloads = obj.get("payloads")
    if payloads is None:
        raise NATSBridgeError("envelope: missing field 'payloads'")
    if not isinstance(payloads, list):
        raise NATSBridgeError("envelope: field 'payloads' must be an array")
    env["detail"] = [_payload(p, i) for i, p in enumerate(payloads)]
    return env


def _check_content(d, i):
    """Checks the bytes against the type; a "table" holding JSON rows becomes a jsontable."""
    what = "envelope: payloads[%d] '%s': %s" % (i, d["dataname"], d["type"])
    raw = d["bytes"]
    if d["type"] == "table" and raw.lstrip(b" \t\r\n")[:1] == b"[":
        if d["type_name"] != "table":
            raise NATSBridgeError("%s: table bytes start with '[' (JSON rows, not Arrow IPC): "
                                  "use jsontable" % what)
        d["type"] = "jsontable"
    t = d["type"]
    if t == "text":
        return utf8(raw, what)
    if t in ("dictionary", "jsontable"):
        value = json_loads(utf8(raw, what), what)
        if t == "jsontable" and not isinstance(value, list):
            raise NATSBridgeError("%s is not a JSON array" % what)
        return value
    return raw  # media, binary, and Arrow IPC bytes


def smartreceive(body, download=True, max_retries=5, base_delay=100, max_delay=5000):
    """Decodes an envelope: payloads as [(dataname, data, type)], each payload's bytes, type
    names, sizes and SHA-256 in env["detail"]. Link payloads are downloaded unless download is
    False (then their data is None)."""
    env = parse_envelope(body)
    result = []
    for i, d in enumerate(env["detail"]):
        if d["transport"] == "link":
            if not download:
                d["sha256"] = None
                result.append((d["dataname"], None, d["type"]))
                continue
            raw = fetch_with_backoff(d["url"], max_retries, base_delay, max_delay,
                                     env["correlation_id"])
            if len(raw) != d["size"]:
                raise NATSBridgeError("payload '%s': downloaded %d bytes, size says %d"
                                      % (d["dataname"], len(raw), d["size"]))
            want = d["metadata"].get("sha256")
            if want is not None and (not isinstance(want, str) or want.lower() != sha256_hex(raw)):
                raise NATSBridgeError("payload '%s': integrity check failed" % d["dataname"])
            d["bytes"] = raw
        data = _check_content(d, i)
        d["sha256"] = sha256_hex(d["bytes"])
        result.append((d["dataname"], data, d["type"]))
    env["payloads"] = result
    return env
