#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the golden envelope vectors of tests/vectors (see README.md).

The expected values (sizes, SHA-256, decoded types) are computed here, in
Python, independently of the C codec. Run from anywhere:
    python3 tests/vectors/make_vectors.py
"""
import base64
import hashlib
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

FIELDS = ["correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose", "sender_name",
          "sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id",
          "broker_url"]
CAMEL = {"correlation_id": "correlationId", "msg_id": "msgId", "send_to": "sendTo",
         "msg_purpose": "msgPurpose", "sender_name": "senderName", "sender_id": "senderId",
         "receiver_name": "receiverName", "receiver_id": "receiverId", "reply_to": "replyTo",
         "reply_to_msg_id": "replyToMsgId", "broker_url": "brokerURL"}
CANONICAL = {"text": "text", "dictionary": "dictionary", "json": "dictionary", "table": "table",
             "arrowtable": "table", "jsontable": "jsontable", "image": "image", "audio": "audio",
             "video": "video", "binary": "binary"}


# A 3-row Arrow IPC stream (columns id int32, name utf8, score float64) written by
# apache-arrow 17.0.0's tableToIPC(demoTable(), "stream") (tests/interop/js/peer.mjs
# make-arrow; name is plain Utf8, not dictionary-encoded): real Arrow bytes for the
# arrow_table and js_peer_encodings vectors.
DEMO_ARROW = base64.b64decode(
    "//////AAAAAQAAAAAAAKABAADgAHAAgACgAAAAAAAAEQAAAAAAAEAAgACAAAAAQACAAAAAQAAAADAAAAhAAAAEAA"
    "AAAEAAAAmP///xQAAAAAAAABGAAAAAAAAAMcAAAABQAAAHNjb3JlAAAAAAAAAAAABgAIAAYABgAAAAAAAgDQ////"
    "FAAAAAAAAAEYAAAAAAAABRgAAAAEAAAAbmFtZQAAAAAAAAAABAAEAAQAAAAQABgABAALABMAFAAAAAwAEAAAABQA"
    "AAAAAAABFAAAAAAAAAIYAAAAAgAAAGlkAAAAAAAACAAMAAgABwAIAAAAAAAAASAAAAD/////+AAAABQAAAAAAAAA"
    "DAAWABQADwAQAAQADAAAAEgAAAAAAAAAAAAAAxAAAAAEAAoAGAAMAAgABAAKAAAAFAAAAIgAAAADAAAAAAAAAAAA"
    "AAAHAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAA"
    "AAAAACAAAAAAAAAAEAAAAAAAAAAwAAAAAAAAAAAAAAAAAAAAMAAAAAAAAAAYAAAAAAAAAAAAAAADAAAAAwAAAAAA"
    "AAAAAAAAAAAAAAMAAAAAAAAAAAAAAAAAAAADAAAAAAAAAAAAAAAAAAAAAQAAAAIAAAADAAAAAAAAAAAAAAAFAAAA"
    "CgAAAA8AAABhbHBoYWLDqXRhZ2FtbWEAAAAAAAAA4D8AAAAAAAD0PwAAAAAAAAjA/////wAAAAA=")
DEMO_TABLE = {"rows": 3, "columns": ["id", "name", "score"]}


def b64(data):
    return base64.b64encode(data).decode("ascii")


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def header(**over):
    env = {
        "correlation_id": "2b3c1f0e-8d4a-4f6e-9a7b-1c2d3e4f5a6b",
        "msg_id": "7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "timestamp": "2026-03-13T07:02:50.443Z",
        "send_to": "/chat/room1",
        "msg_purpose": "chat",
        "sender_name": "agent-wine-web-frontend",
        "sender_id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "receiver_name": "",
        "receiver_id": "",
        "reply_to": "",
        "reply_to_msg_id": "",
        "broker_url": "nats://localhost:4222",
        "metadata": {},
    }
    env.update(over)
    return env


def direct(dataname, wire_type, data, pid=None, metadata=None, encoding="base64", size=True,
           key="type"):
    p = {"id": pid or "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "dataname": dataname,
         key: wire_type, "transport": "direct", "encoding": encoding}
    if size:
        p["size"] = len(data)
    p["data"] = b64(data)
    p["metadata"] = metadata if metadata is not None else {}
    return p


def expected_payload(wire_type, transport, encoding, data=None, size=None, url=None,
                     dataname=None):
    t = CANONICAL[wire_type]
    if t == "table" and wire_type == "table" and data is not None \
            and data.lstrip(b" \t\r\n").startswith(b"["):
        t = "jsontable"  # PROTOCOL.md: the Python peer's legacy "table" of JSON rows
    e = {"dataname": dataname, "type": t, "type_name": wire_type, "transport": transport,
         "encoding": encoding,
         "size": len(data) if data is not None else size,
         "sha256": hashlib.sha256(data).hexdigest() if data is not None else None}
    if url is not None:
        e["url"] = url
    if data is not None and t in ("text", "dictionary", "jsontable"):
        e["text"] = data.decode("utf-8")
    return e


def fields_of(env, camel=False):
    out = {}
    for f in FIELDS:
        key = CAMEL.get(f, f) if camel else f
        v = env.get(key)
        out[f] = v if isinstance(v, str) else ""
    md = env.get("metadata")
    if md is None and "note" in env:
        md = env["note"] if isinstance(env["note"], dict) else {"note": env["note"]}
    out["metadata"] = md if isinstance(md, dict) else {}
    return out


def write(name, description, envelope_text, error=None, status=None, fields=None, payloads=None):
    expect = {"error": error}
    if status:
        expect["status"] = status
    if error is None:
        expect["fields"] = fields
        expect["payloads"] = payloads
    doc = {"description": description, "envelope": envelope_text, "expect": expect}
    with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


def valid(name, description, env, expects, camel=False, text=None):
    write(name, description, text if text is not None else compact(env),
          fields=fields_of(env, camel), payloads=expects)


def png_1x1():
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def main():
    text = "Hello, wörld! 👋 \"quoted\"\n".encode("utf-8")
    env = header(payloads=[direct("msg", "text", text)])
    valid("text", "One direct text payload with non-ASCII text, every field snake_case.",
          env, [expected_payload("text", "direct", "base64", text, dataname="msg")])

    cfg = compact({"temperature": 21.5, "unit": "C", "tags": ["a", "b"], "ok": True}).encode()
    env = header(msg_purpose="updateStatus", reply_to="/agent/status/reply",
                 payloads=[direct("cfg", "dictionary", cfg, metadata={"schema": "v1"})])
    valid("dictionary", "A dictionary payload: base64 of compact JSON text.", env,
          [expected_payload("dictionary", "direct", "base64", cfg, dataname="cfg")])

    blob = bytes(range(256))
    env = header(payloads=[direct("blob", "binary", blob)])
    valid("binary", "256 bytes 0x00..0xff as a binary payload.", env,
          [expected_payload("binary", "direct", "base64", blob, dataname="blob")])

    png = png_1x1()
    env = header(receiver_name="agent-backend", receiver_id="any string",
                 payloads=[direct("login_image", "image", png,
                                  metadata={"content_type": "image/png"})])
    valid("image", "A 1x1 PNG as an image payload, addressed to a receiver.", env,
          [expected_payload("image", "direct", "base64", png, dataname="login_image")])

    sound = bytes((i * 7) & 0xff for i in range(1000))
    env = header(metadata={"content_type": "application/octet-stream", "content_length": 123456},
                 payloads=[
                     direct("msg", "text", "see attachments".encode(),
                            pid="11111111-1111-4111-8111-111111111111"),
                     direct("cfg", "dictionary", b'{"a":[1,2,3]}',
                            pid="22222222-2222-4222-8222-222222222222"),
                     direct("clip", "audio", sound, pid="33333333-3333-4333-8333-333333333333",
                            metadata={"rate": 16000}),
                 ])
    valid("mixed", "Three payloads of different types in one envelope, order kept.", env, [
        expected_payload("text", "direct", "base64", b"see attachments", dataname="msg"),
        expected_payload("dictionary", "direct", "base64", b'{"a":[1,2,3]}', dataname="cfg"),
        expected_payload("audio", "direct", "base64", sound, dataname="clip"),
    ])

    legacy = {"correlationId": "c-legacy", "msgId": "m-legacy",
              "timestamp": "2026-02-10T10:00:00.123", "sendTo": "/agent/wine/api/v1/prompt",
              "msgPurpose": "chat", "senderName": "agent-wine-web-frontend",
              "senderId": "s-1", "receiverName": "agent-backend", "receiverId": "",
              "replyTo": "/agent/wine/api/v1/reply", "replyToMsgId": "",
              "brokerURL": "nats://localhost:4222", "note": "first peers",
              "payloads": [{"id": "p-1", "dataname": "prompt", "type": "text",
                            "transport": "direct", "encoding": "base64", "size": 5,
                            "data": b64(b"hello"), "metadata": {}}]}
    valid("camelcase_legacy", "The first peers' camelCase keys, brokerURL, and a string note "
          "(becomes metadata {\"note\": ...}); local time without a zone.", legacy,
          [expected_payload("text", "direct", "base64", b"hello", dataname="prompt")], camel=True)

    arrow = b"\xff\xff\xff\xff\x10\x00\x00\x00" + bytes(16)
    rows = b'[{"id":1,"name":"a"},{"id":2,"name":"b"}]'
    env = header(payloads=[
        direct("tbl", "arrowtable", arrow, key="payload_type"),
        direct("rows", "jsontable", rows, key="payloadType",
               pid="44444444-4444-4444-8444-444444444444"),
    ])
    valid("payload_type", "The later key names payload_type and payloadType with the split "
          "table types arrowtable and jsontable.", env, [
              expected_payload("arrowtable", "direct", "base64", arrow, dataname="tbl"),
              expected_payload("jsontable", "direct", "base64", rows, dataname="rows"),
          ])

    literal = '[{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]'
    env = header(payloads=[{"id": "p-lit", "dataname": "users", "type": "jsontable",
                            "transport": "direct", "encoding": "json",
                            "size": len(literal.encode()), "data": literal, "metadata": {}}])
    valid("literal_json_jsontable", "encoding \"json\" with the JSON text itself in data "
          "(not base64), as one peer's documentation shows.", env,
          [expected_payload("jsontable", "direct", "json", literal.encode(), dataname="users")])

    url = "http://localhost:8080/file/UPLOAD_ID/FILE_ID/data.arrow"
    env = header(payloads=[{"id": "p-link", "dataname": "data.arrow", "type": "table",
                            "transport": "link", "encoding": "none", "size": 524288,
                            "data": url, "metadata": {"sha256": "0" * 64}}])
    valid("link", "A link payload: data is the download URL, size the byte count; no bytes "
          "travel (sha256 null: nothing downloaded by the codec).", env,
          [expected_payload("table", "link", "none", size=524288, url=url,
                            dataname="data.arrow")])

    env = header(payloads=[direct("df", "table", rows)])
    valid("python_table_jsontable", "The Python peer's legacy \"table\" holding JSON rows: "
          "decoded as a jsontable, the wire name kept.", env,
          [expected_payload("table", "direct", "base64", rows, dataname="df")])

    env = header(payloads=[])
    valid("empty_payloads", "An envelope with no payloads.", env, [])

    video = bytes(range(0, 250, 5))
    env = header(payloads=[direct("v", "video", video), direct("empty", "binary", b"")])
    valid("video_and_empty", "A video payload and an empty binary payload (data \"\").", env, [
        expected_payload("video", "direct", "base64", video, dataname="v"),
        expected_payload("binary", "direct", "base64", b"", dataname="empty"),
    ])

    esc = ('{"correlation_id":"c\\u002d1","msg_id":"m\\/1","sender_name":"caf\\u00e9 '
           '\\ud83d\\ude00 \\"q\\" \\\\ \\n","unknown_key":[1,{"x":null}],"timestamp":null,'
           '"payloads":[{"dataname":"msg","type":"text","transport":"direct","data":"aGk="}]}')
    fields = {f: "" for f in FIELDS}
    fields.update(correlation_id="c-1", msg_id="m/1", sender_name='café 😀 "q" \\ \n',
                  metadata={})
    write("escapes", "JSON escapes in strings, a surrogate pair, unknown keys ignored, null "
          "optional fields, size and encoding absent.", esc, fields=fields,
          payloads=[expected_payload("text", "direct", "base64", b"hi", dataname="msg")])

    env = header(payloads=[{"dataname": "cfg", "type": "dictionary", "transport": "direct",
                            "encoding": "json", "data": {"a": 1, "b": [True, None]}}])
    valid("json_value_data", "data given as a JSON value, not a string: its compact text is "
          "the bytes.", env, [expected_payload("dictionary", "direct", "json",
                                               b'{"a":1,"b":[true,null]}', dataname="cfg")])

    # ---- invalid envelopes -------------------------------------------------
    def bad(name, description, text, error, status="bad envelope"):
        write(name, description, text, error=error, status=status)

    def env_with(payload, **over):
        return compact(header(payloads=[payload], **over))

    p = direct("img", "image", b"123456789")
    p["data"] = "MTIzN*U2Nzg5"  # base64 of "123456789" with one character replaced
    bad("invalid_base64", "A character outside the base64 alphabet.", env_with(p),
        "payloads[0].data: invalid base64 at offset 5", "bad payload")
    p = direct("msg", "text", b"abc\xffdef")
    bad("invalid_utf8_text", "A text payload whose bytes are not UTF-8.", env_with(p),
        "payloads[0] 'msg': text is not valid UTF-8 at byte 3", "bad payload")
    p = direct("img", "image", b"123456789")
    p["size"] = 12
    bad("size_mismatch", "size does not match the decoded byte count.", env_with(p),
        "payloads[0] 'img': size 12 does not match 9 decoded bytes", "bad payload")
    p = direct("clip", "vidoe", b"x")
    bad("unknown_type", "A misspelt payload type.", env_with(p),
        "payloads[0].type: unknown type 'vidoe'")
    p = direct("clip", "video", b"x")
    p["transport"] = "email"
    bad("unknown_transport", "A transport that is neither direct nor link.", env_with(p),
        "payloads[0].transport: unknown transport 'email'")
    env = header(payloads=[])
    del env["msg_id"]
    bad("missing_msg_id", "msg_id is required.", compact(env), "missing field 'msg_id'")
    bad("wrong_field_type", "sender_name must be a string.",
        compact(header(sender_name=42, payloads=[])), "field 'sender_name' must be a string")
    p = direct("img", "image", b"x")
    p["size"] = -1
    bad("negative_size", "size must not be negative.", env_with(p),
        "payloads[0]: field 'size' must not be negative")
    p = direct("img", "image", b"x")
    p["size"] = 1.5
    bad("fractional_size", "size must be a whole number.", env_with(p),
        "field 'size' must be a whole number")
    p = {"dataname": "big", "type": "binary", "transport": "link", "data": url}
    bad("link_without_size", "A link must announce its size (receivers cap downloads).",
        env_with(p), "payloads[0]: missing field 'size'")
    p = direct("cfg", "dictionary", b'{"a":')
    bad("bad_dictionary", "A dictionary whose bytes are not JSON.", env_with(p),
        "payloads[0] 'cfg': dictionary is not valid JSON", "bad payload")
    bad("not_json", "Not JSON at all.", "hello, NATS", "not valid JSON")
    bad("truncated", "An envelope cut short.", env_with(direct("msg", "text", b"hi"))[:-7],
        "not valid JSON")
    bad("not_object", "The top level must be an object.", "[" + compact(header(payloads=[])) + "]",
        "must be an object")
    bad("payloads_not_array", "payloads must be an array.",
        compact(header(payloads={"0": {}})), "field 'payloads' must be an array")
    peer_vectors(bad, env_with)


def link(dataname, wire_type, data, pid, key="type"):
    """A link payload for data (not uploaded anywhere: the codec does not download)."""
    return {"id": pid, "dataname": dataname, key: wire_type, "transport": "link",
            "encoding": "none", "size": len(data),
            "data": "http://127.0.0.1:8080/file/UP1/F%s/%s" % (pid[:4], dataname),
            "metadata": {"sha256": hashlib.sha256(data).hexdigest()}}


def peer_vectors(bad, env_with):
    """Vectors added for the interop peers (tests/interop): real Arrow bytes, the JS peer's
    encodings, links of every type, BOM and whitespace, and more envelopes to refuse."""
    env = header(payloads=[direct("tbl", "table", DEMO_ARROW)])
    exp = expected_payload("table", "direct", "base64", DEMO_ARROW, dataname="tbl")
    exp["table"] = DEMO_TABLE
    valid("arrow_table", "A direct table payload holding a real Arrow IPC stream (3 rows: id "
          "int32, name utf8, score float64) written by apache-arrow.", env, [exp])

    cfg = compact({"mode": "auto", "limits": [1, 2.5], "name": "Zoë"}).encode("utf-8")
    rows = compact([{"id": 1, "ok": True}, {"id": 2, "ok": False}]).encode("utf-8")
    pay = [direct("msg", "text", "hi ✓".encode("utf-8"), pid="a1"),
           direct("cfg", "dictionary", cfg, pid="a2", encoding="json"),
           direct("rows", "jsontable", rows, pid="a3", encoding="json"),
           direct("tbl", "table", DEMO_ARROW, pid="a4", encoding="arrow-ipc",
                  metadata={"sha256": hashlib.sha256(DEMO_ARROW).hexdigest()}),
           direct("raw", "binary", b"\x00\x01\xfe\xff", pid="a5")]
    exp = [expected_payload("text", "direct", "base64", "hi ✓".encode("utf-8"), dataname="msg"),
           expected_payload("dictionary", "direct", "json", cfg, dataname="cfg"),
           expected_payload("jsontable", "direct", "json", rows, dataname="rows"),
           expected_payload("table", "direct", "arrow-ipc", DEMO_ARROW, dataname="tbl"),
           expected_payload("binary", "direct", "base64", b"\x00\x01\xfe\xff", dataname="raw")]
    exp[3]["table"] = DEMO_TABLE
    valid("js_peer_encodings", "What the Julia and JavaScript peers write: encoding \"json\" "
          "and \"arrow-ipc\" over base64 data, a metadata.sha256 on a direct payload.",
          header(sender_name="js-dashboard", payloads=pay), exp)

    kinds = [("note", "text", "über".encode("utf-8")), ("cfg", "dictionary", b'{"k":1}'),
             ("rows", "jsontable", b'[{"a":1}]'), ("tbl", "arrowtable", DEMO_ARROW),
             ("pic", "image", png_1x1()), ("snd", "audio", bytes(300)),
             ("mov", "video", bytes(range(200))), ("bin", "binary", b"\xff" * 77)]
    pay, exp = [], []
    for i, (name, t, data) in enumerate(kinds):
        pl = link(name, t, data, "%04d0000-0000-4000-8000-000000000000" % i,
                  key="payload_type" if t == "arrowtable" else "type")
        pay.append(pl)
        exp.append(expected_payload(t, "link", "none", size=len(data), url=pl["data"],
                                    dataname=name))
    pay.insert(4, direct("inline", "text", b"direct among links", pid="d0"))
    exp.insert(4, expected_payload("text", "direct", "base64", b"direct among links",
                                   dataname="inline"))
    valid("link_every_type", "A link payload of every type (arrowtable under payload_type) "
          "and one direct payload among them: URLs, sizes and metadata.sha256.",
          header(payloads=pay), exp)

    env = header(payloads=[direct("msg", "text", b"bom")])
    write("bom_whitespace", "A UTF-8 byte-order mark and JSON whitespace around the object.",
          "\ufeff \r\n\t" + compact(env) + "\n  ", fields=fields_of(env),
          payloads=[expected_payload("text", "direct", "base64", b"bom", dataname="msg")])

    text = compact(header(payloads=[direct("img", "image", b"abc")])).replace(
        '"size":3', '"size":0.3e1')
    env = header(payloads=[direct("img", "image", b"abc")])
    write("integral_size", "size written as 0.3e1: an integral JSON number is accepted.",
          text, fields=fields_of(env),
          payloads=[expected_payload("image", "direct", "base64", b"abc", dataname="img")])

    def with_data(wire_type, data, b64text, **extra):
        p = direct("p", wire_type, data)
        p["data"] = b64text
        p.update(extra)
        return env_with(p)

    bad("bad_padding", "Padding present but wrong (Zg= for one byte).",
        with_data("binary", b"f", "Zg="), "payloads[0].data: invalid base64", "bad payload")
    bad("nonzero_pad_bits", "The unused bits of the last character must be zero (Zh==).",
        with_data("binary", b"f", "Zh=="), "payloads[0].data: invalid base64", "bad payload")
    bad("urlsafe_base64", "The URL-safe alphabet (- and _) is not base64.",
        with_data("binary", b"\xfb\xff", "-_8="), "payloads[0].data: invalid base64",
        "bad payload")
    bad("base64_whitespace", "No whitespace or line breaks inside base64.",
        with_data("text", b"hello", "aGVs\nbG8="), "payloads[0].data: invalid base64",
        "bad payload")
    bad("base64_lone_char", "A last group of one character.",
        with_data("binary", b"abc", "YWJjZ"), "payloads[0].data: invalid base64", "bad payload")
    bad("overlong_utf8_text", "Text with an overlong UTF-8 form (C0 AF).",
        env_with(direct("msg", "text", b"a\xc0\xafb")), "text is not valid UTF-8", "bad payload")
    bad("surrogate_utf8_text", "Text holding an encoded surrogate (ED A0 80).",
        env_with(direct("msg", "text", b"\xed\xa0\x80")), "text is not valid UTF-8",
        "bad payload")
    bad("arrowtable_json_rows", "An arrowtable whose bytes are JSON rows: refused (only the "
        "Python peer's plain \"table\" may hold JSON).",
        env_with(direct("t", "arrowtable", b'[{"a":1}]')), "start with '['", "bad payload")
    bad("jsontable_not_array", "A jsontable must be a JSON array of rows.",
        env_with(direct("rows", "jsontable", b'{"a":1}')), "jsontable", "bad payload")
    bad("uppercase_type", "Type names are lowercase.",
        env_with(direct("msg", "Text", b"x")), "unknown type 'Text'")
    p = direct("msg", "text", b"x")
    p["type"] = 5
    bad("type_not_string", "The type must be a string.", env_with(p), "type")
    p = direct("msg", "text", b"x")
    del p["dataname"]
    bad("missing_dataname", "Every payload needs a dataname.", env_with(p),
        "payloads[0]: missing field 'dataname'")
    p = direct("msg", "text", b"x")
    del p["transport"]
    bad("missing_transport", "Every payload needs a transport.", env_with(p),
        "payloads[0]: missing field 'transport'")
    p = direct("msg", "text", b"x")
    p["size"] = "1"
    bad("size_string", "size must be a JSON number, not a string.", env_with(p), "size")
    p = link("big", "binary", b"x", "l0000000")
    p["data"] = ""
    bad("link_empty_url", "A link payload needs a URL.", env_with(p), "payloads[0]")
    bad("empty_msg_id", "msg_id must not be empty.", compact(header(msg_id="", payloads=[])),
        "field 'msg_id' must not be empty")
    env = header(payloads=[])
    del env["correlation_id"]
    bad("missing_correlation_id", "correlation_id is required.", compact(env),
        "missing field 'correlation_id'")
    bad("metadata_not_object", "Envelope metadata must be a JSON object.",
        compact(header(metadata=[1, 2], payloads=[])), "metadata")
    bad("payload_not_object", "Each payload must be a JSON object.",
        compact(header(payloads=["msg"])), "payloads[0] must be a JSON object")
    bad("missing_payloads", "payloads is required (it may be empty, not absent).",
        compact({k: v for k, v in header().items()}), "missing field 'payloads'")
    bad("trailing_garbage", "Nothing but whitespace may follow the object.",
        compact(header(payloads=[])) + "x", "not valid JSON")
    bad("empty_body", "An empty message body.", "", "empty message")


if __name__ == "__main__":
    main()
