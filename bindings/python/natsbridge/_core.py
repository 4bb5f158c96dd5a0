# SPDX-License-Identifier: MIT
"""smartsend, smartreceive and Client over libnatsbridge (see _lib.py for the ctypes layer)."""

import atexit
import collections
import ctypes
import itertools
import json
import os
import struct
import sys
import threading
import traceback
import weakref

from time import monotonic as _now

from ctypes import byref, c_bool, c_char_p, c_int, c_size_t, c_void_p

from . import _lib
from ._lib import (NatsBridgeError, InvalidArgumentError, check, lib, last_error, error)

DEFAULT_NATS_URL = "nats://localhost:4222"
DEFAULT_FILESERVER_URL = "http://localhost:8080"
DEFAULT_SIZE_THRESHOLD = 1_000_000

# The 14 envelope fields, in the wire's order.
ENVELOPE_FIELDS = ("correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose",
                   "sender_name", "sender_id", "receiver_name", "receiver_id", "reply_to",
                   "reply_to_msg_id", "broker_url", "metadata", "payloads")

TEXT, DICTIONARY, TABLE, IMAGE, AUDIO, VIDEO, BINARY, JSONTABLE = range(8)
_BYTES_TYPES = (TABLE, IMAGE, AUDIO, VIDEO, BINARY)
_type_cache = {}


def _b(s):
    """str -> UTF-8 bytes for a char * argument (None stays NULL)."""
    if s is None or isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "expected a str, got %s" % type(s).__name__)
    return s.encode("utf-8")


def _s(b):
    return b.decode("utf-8", "replace") if b is not None else None


def _default_nats_url():
    return os.environ.get("NATSBRIDGE_NATS_URL") or DEFAULT_NATS_URL


def _default_fileserver_url():
    return os.environ.get("NATSBRIDGE_FILESERVER_URL") or DEFAULT_FILESERVER_URL


def _type_code(name, dataname):
    code = _type_cache.get(name)
    if code is None:
        if not isinstance(name, str):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': the type must be a str "
                                       "such as \"text\", got %r" % (dataname, name))
        t = c_int()
        if lib.nb_type_parse(name.encode(), byref(t)) != 0:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': unknown type '%s' (use "
                                       "text, dictionary, table, image, audio, video, binary or "
                                       "jsontable)" % (dataname, name))
        code = _type_cache[name] = t.value
    return code


# ---- Python handlers called by the library ---------------------------------------------------

class _Registry:
    """Python objects the C side refers to by a number (the void *closure), so that the
    trampolines below are module-level and never freed while C may call them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items = {}
        self._next = itertools.count(1)

    def add(self, obj):
        with self._lock:
            key = next(self._next)
            self._items[key] = obj
            return key

    def get(self, key):
        return self._items.get(key)

    def remove(self, key):
        with self._lock:
            self._items.pop(key, None)


_registry = _Registry()


def _report_callback_error(where, exc):
    """A Python callback called from a C thread raised: there is no caller to raise it to."""
    print("natsbridge: exception in %s:" % where, file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


class _Handlers:
    """A user's upload/download handlers, and the exception one of them raised during the
    current call (re-raised in the caller's thread when the C call returns)."""

    def __init__(self, upload=None, download=None):
        self.upload = upload
        self.download = download
        self.pending = threading.local()

    def raise_pending(self):
        exc = getattr(self.pending, "exc", None)
        if exc is not None:
            self.pending.exc = None
            raise exc


def _upload_trampoline(req_p, res_p, ctx):
    h = _registry.get(ctx)
    req = req_p.contents
    try:
        if req.data:
            data = ctypes.string_at(req.data, req.size)
        else:
            with open(req.path.decode(), "rb") as f:
                data = f.read()
        out = h.upload(_s(req.fileserver_url), _s(req.dataname), data)
        if not isinstance(out, dict) or not out.get("url"):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "the upload handler must return a "
                                       "dict with a 'url' (and status, uploadid, fileid); got %r"
                                       % (out,))
        res = res_p.contents
        res.status = int(out.get("status") or 200)
        res.url = _lib.c_strdup(str(out["url"]))
        for k in ("uploadid", "fileid"):
            if out.get(k) is not None:
                setattr(res, k, _lib.c_strdup(str(out[k])))
        return 0
    except BaseException as e:  # noqa: B902 - must not unwind into C
        h.pending.exc = e
        return _lib.NB_IO


def _download_trampoline(req_p, data_p, len_p, ctx):
    h = _registry.get(ctx)
    req = req_p.contents
    try:
        body = h.download(_s(req.url), req.max_retries, req.base_delay_ms, req.max_delay_ms,
                          _s(req.correlation_id) or "")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "the download handler must return "
                                       "bytes, got %s" % type(body).__name__)
        body = bytes(body)
        if req.max_bytes and len(body) > req.max_bytes:
            raise error(_lib.NB_TOO_LARGE, "download handler returned %d bytes for %s, over the "
                        "cap of %d" % (len(body), _s(req.url), req.max_bytes))
        if req.path:
            with open(req.path.decode(), "wb") as f:
                f.write(body)
        else:
            p = _lib.libc.malloc(len(body) + 1)
            if not p:
                raise MemoryError("natsbridge: malloc of %d bytes failed" % len(body))
            ctypes.memmove(p, body, len(body))
            data_p[0] = p
            len_p[0] = len(body)
        return 0
    except BaseException as e:  # noqa: B902 - must not unwind into C
        h.pending.exc = e
        return e.status if isinstance(e, NatsBridgeError) else _lib.NB_IO


_UPLOAD = _lib.UPLOAD_FN(_upload_trampoline)
_DOWNLOAD = _lib.DOWNLOAD_FN(_download_trampoline)


def _event_trampoline(ev, status, detail, ctx):
    fn = _registry.get(ctx)
    if fn is not None:
        try:
            fn(("disconnected", "reconnected", "closed", "error")[ev] if 0 <= ev < 4 else ev,
               _s(detail) or "")
        except Exception as e:  # noqa: BLE001 - reported, the connection goes on
            _report_callback_error("the event callback", e)


_EVENT = _lib.EVENT_CB(_event_trampoline)

# ---- options --------------------------------------------------------------------------------

# Keyword -> how it is applied to an nb_options. Secrets are only ever handed to the library.
_OPTION_KEYS = ("nats_url", "fileserver_url", "size_threshold", "sender_name", "sender_id",
                "direct_sha256", "user", "password", "token", "nkey_seed_file", "creds_file",
                "creds_jwt", "creds_seed", "tls_ca_file", "tls_cert_file", "tls_key_file",
                "tls_hostname", "tls_required",
                "fileserver_ca_file", "fileserver_cert_file", "fileserver_key_file",
                "fileserver_token", "allowed_origins", "link_store", "connect_timeout",
                "allow_reconnect", "max_reconnect", "reconnect_wait", "send_asap",
                "pending_limits", "download_dir", "fetch_links", "max_download",
                "download_deadline", "max_retries", "base_delay", "max_delay",
                "connection_name", "max_payloads", "max_link_bytes", "max_envelope_bytes",
                "fileserver_upload_handler", "fileserver_download_handler", "on_event")


class _Options:
    """An nb_options built from keywords; owns it and the handlers' registry entries."""

    def __init__(self, kw):
        unknown = set(kw) - set(_OPTION_KEYS)
        if unknown:
            raise TypeError("natsbridge: unknown option(s): %s" % ", ".join(sorted(unknown)))
        self.ptr = c_void_p()
        self.keys = []
        self.handlers = None
        check(lib.nb_options_create(byref(self.ptr)))
        try:
            self._apply(kw)
        except BaseException:
            self.close()
            raise

    def _apply(self, kw):
        o = self.ptr

        def setter(name, *args):
            check(getattr(lib, "nb_options_set_" + name)(o, *args))

        g = kw.get
        setter("url", _b(g("nats_url") or _default_nats_url()))
        setter("fileserver_url", _b(g("fileserver_url") or _default_fileserver_url()))
        if g("size_threshold") is not None:
            if int(g("size_threshold")) < 0:
                raise InvalidArgumentError(_lib.NB_INVALID_ARG, "size_threshold must be >= 0, "
                                           "got %d" % g("size_threshold"))
            setter("size_threshold", int(g("size_threshold")))
        for key in ("sender_name", "sender_id", "link_store", "download_dir", "tls_hostname",
                    "connection_name", "fileserver_token", "token", "creds_file",
                    "nkey_seed_file"):
            if g(key) is not None:
                setter(key, _b(g(key)))
        if g("user") is not None or g("password") is not None:
            setter("user_password", _b(g("user") or ""), _b(g("password") or ""))
        if g("creds_jwt") is not None or g("creds_seed") is not None:  # a .creds from memory
            setter("creds", _b(g("creds_jwt") or ""), _b(g("creds_seed") or ""))
        if g("tls_ca_file") is not None:
            setter("tls_ca_file", _b(g("tls_ca_file")))
        if g("tls_cert_file") is not None or g("tls_key_file") is not None:
            setter("tls_client_cert", _b(g("tls_cert_file")), _b(g("tls_key_file")))
        if g("tls_required") is not None:
            setter("tls_required", bool(g("tls_required")))
        if g("fileserver_ca_file") is not None:
            setter("fileserver_ca", _b(g("fileserver_ca_file")))
        if g("fileserver_cert_file") is not None or g("fileserver_key_file") is not None:
            setter("fileserver_client_cert", _b(g("fileserver_cert_file")),
                   _b(g("fileserver_key_file")))
        for origin in g("allowed_origins") or ():
            check(lib.nb_options_add_allowed_origin(o, _b(origin)))
        for key, conv in (("direct_sha256", bool), ("allow_reconnect", bool),
                          ("send_asap", bool), ("fetch_links", bool),
                          ("max_reconnect", int), ("max_download", int), ("max_payloads", int),
                          ("max_link_bytes", int), ("max_envelope_bytes", int)):
            if g(key) is not None:
                setter(key, conv(g(key)))
        for key in ("connect_timeout", "reconnect_wait", "download_deadline"):
            if g(key) is not None:  # seconds, as Python's own timeouts
                setter(key, int(float(g(key)) * 1000))
        if g("pending_limits") is not None:
            msgs, nbytes = g("pending_limits")
            setter("pending_limits", int(msgs), int(nbytes))
        if any(g(k) is not None for k in ("max_retries", "base_delay", "max_delay")):
            setter("backoff", int(g("max_retries") if g("max_retries") is not None else 5),
                   int(g("base_delay") if g("base_delay") is not None else 100),
                   int(g("max_delay") if g("max_delay") is not None else 5000))
        up, down = g("fileserver_upload_handler"), g("fileserver_download_handler")
        if up is not None or down is not None:
            for fn, what in ((up, "fileserver_upload_handler"), (down, "fileserver_download_handler")):
                if fn is not None and not callable(fn):
                    raise InvalidArgumentError(_lib.NB_INVALID_ARG, "%s must be callable" % what)
            self.handlers = _Handlers(up, down)
            key = _registry.add(self.handlers)
            self.keys.append(key)
            if up is not None:
                setter("upload_handler", _UPLOAD, key)
            if down is not None:
                setter("download_handler", _DOWNLOAD, key)
        if g("on_event") is not None:
            key = _registry.add(g("on_event"))
            self.keys.append(key)
            setter("event_cb", _EVENT, key)

    def raise_pending(self):
        if self.handlers is not None:
            self.handlers.raise_pending()

    def close(self):
        if self.ptr:
            lib.nb_options_destroy(self.ptr)
            self.ptr = c_void_p()

    def forget_handlers(self):
        for key in self.keys:
            _registry.remove(key)
        self.keys = []


# ---- building envelopes ---------------------------------------------------------------------

_FIELD_SETTERS = (("correlation_id", lib.nb_envelope_set_correlation_id),
                  ("msg_id", lib.nb_envelope_set_msg_id),
                  ("msg_purpose", lib.nb_envelope_set_msg_purpose),
                  ("sender_name", lib.nb_envelope_set_sender_name),
                  ("sender_id", lib.nb_envelope_set_sender_id),
                  ("receiver_name", lib.nb_envelope_set_receiver_name),
                  ("receiver_id", lib.nb_envelope_set_receiver_id),
                  ("reply_to", lib.nb_envelope_set_reply_to),
                  ("reply_to_msg_id", lib.nb_envelope_set_reply_to_msg_id))
SEND_FIELDS = tuple(k for k, _ in _FIELD_SETTERS) + ("metadata", "link")


def _serialize(dataname, data, code):
    """The bytes of one payload as the seed's Python serialises them."""
    if code == TEXT:
        if isinstance(data, str):
            return data.encode("utf-8")
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': text must be a str, got %s"
                                   % (dataname, type(data).__name__))
    if code in (DICTIONARY, JSONTABLE):
        if code == JSONTABLE and not isinstance(data, (list, str, bytes)):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': a jsontable must be a "
                                       "list of row dicts, got %s" % (dataname, type(data).__name__))
        if isinstance(data, (bytes, bytearray)):
            return bytes(data)
        if isinstance(data, str):
            return data.encode("utf-8")  # already JSON text; the library checks it parses
        try:
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': cannot be written as "
                                       "JSON: %s" % (dataname, e)) from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if code == TABLE and isinstance(data, list):
        return table_from_rows(data, dataname)
    raise InvalidArgumentError(_lib.NB_INVALID_ARG, "payload '%s': %s data must be bytes%s, got %s"
                               % (dataname, lib.nb_type_name(code).decode(),
                                  " (Arrow IPC) or a list of row dicts" if code == TABLE else "",
                                  type(data).__name__))


def table_from_rows(rows, dataname="table"):
    """Arrow IPC stream bytes of a list of row dicts (column types inferred as
    nb_table_from_json does: int64, float64, bool, utf8; None is null)."""
    try:
        text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "table '%s': rows cannot be written as "
                                   "JSON: %s" % (dataname, e)) from None
    t = c_void_p()
    check(lib.nb_table_from_json(byref(t), text, len(text)))
    try:
        out, n = c_void_p(), c_size_t()
        check(lib.nb_table_to_ipc(t, 0, byref(out), byref(n)))
        return _lib.take_bytes(out, n.value)
    finally:
        lib.nb_table_destroy(t)


def table_to_rows(ipc):
    """The rows (list of dicts) of Arrow IPC stream bytes, as nb_table_to_json writes them."""
    t = c_void_p()
    check(lib.nb_table_from_ipc(byref(t), ipc, len(ipc)))
    try:
        out, n = c_void_p(), c_size_t()
        check(lib.nb_table_to_json(t, byref(out), byref(n)))
        return json.loads(_lib.take_bytes(out, n.value))
    finally:
        lib.nb_table_destroy(t)


_TINY = 16 * 1024  # a send this small keeps the GIL (see Client.send) and the reused array
_sending = threading.local()  # each thread's reusable one-item nb_item array


def _item(n, item):
    """(dataname, data, type) as the (UTF-8 name, serialised bytes, type code) of nb_item n."""
    if not isinstance(item, (tuple, list)) or len(item) != 3:
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "data[%d] must be a (dataname, data, "
                                   "type) tuple, got %r" % (n, item))
    dataname, value, tname = item
    if not isinstance(dataname, str):
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "data[%d]: the dataname must be a "
                                   "str, got %r" % (n, dataname))
    code = _type_code(tname, dataname)
    return dataname.encode("utf-8"), _serialize(dataname, value, code), code


def _items(data):
    """data [(dataname, data, type)] as an nb_item array, its length, the bytes it points into
    (keep them alive during the call) and the payloads' total size. Python-side errors name
    the item. A small one-payload message goes in this thread's reused array: nb_*_items copy
    the items before doing anything else, so no later use of the array can meet it."""
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "data must be a list of (dataname, data, "
                                   "type) tuples, got %s" % type(data).__name__)
    if not isinstance(data, list):
        data = list(data)
    if len(data) == 1:
        name, raw, code = keep = _item(0, data[0])
        size = len(raw)
        arr = getattr(_sending, "arr", None) if size < _TINY else None
        if arr is None:  # (a big payload is not kept alive by a reused array after the call)
            arr = (_lib.Item * 1)()
            if size < _TINY:
                _sending.arr = arr
        arr[0] = (name, raw, size, code)
        return arr, 1, keep, size
    arr = (_lib.Item * len(data))()
    keep = []
    size = 0
    for n, item in enumerate(data):
        name, raw, code = _item(n, item)
        keep.append(raw)
        keep.append(name)
        size += len(raw)
        arr[n] = (name, raw, len(raw), code)
    return arr, len(data), keep, size


def _send_fields(fields):
    """nb_send_fields from keywords (None when there are none); "" and None keep the
    defaults."""
    if not fields:
        return None
    f = _lib.SendFields()
    for key in ("correlation_id", "msg_id", "msg_purpose", "receiver_name", "receiver_id",
                "reply_to", "reply_to_msg_id"):
        v = fields.get(key)
        if v:
            setattr(f, key, _b(v))
    md = fields.get("metadata")
    if md:
        f.metadata_json = json.dumps(md, ensure_ascii=False).encode("utf-8")
    return f


def _seed_shaped(fields):
    """True when nb_*_items can carry the call: no per-payload link, no per-message sender
    (those go through the envelope builder below)."""
    return not (fields.get("link") or fields.get("sender_name") or fields.get("sender_id"))


def _build(data, fields):
    """A new nb_envelope holding data [(dataname, data, type)] and fields; the caller owns it."""
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InvalidArgumentError(_lib.NB_INVALID_ARG, "data must be a list of (dataname, data, "
                                   "type) tuples, got %s" % type(data).__name__)
    env = c_void_p()
    check(lib.nb_envelope_create(byref(env)))
    try:
        link = fields.get("link") or ()
        n = 0
        for item in data:
            name, raw, code = _item(n, item)
            p = c_void_p()
            check(lib.nb_payload_create(byref(p), name, code, raw, len(raw)))
            if item[0] in link:
                lib.nb_payload_force_link(p, True)
            s = lib.nb_envelope_add_payload(env, byref(p))
            if s != 0:
                err = last_error(s)
                lib.nb_payload_destroy(p)
                raise err
            n += 1
        for key, setter in _FIELD_SETTERS:
            v = fields.get(key)
            if v:  # "" and None keep the library's default (a fresh id, the options' name)
                check(setter(env, _b(v)))
        md = fields.get("metadata")
        if md:
            check(lib.nb_envelope_set_metadata_json(env, json.dumps(md, ensure_ascii=False).encode()))
        return env
    except BaseException:
        lib.nb_envelope_destroy(env)
        raise


def _wire(env):
    """The wire JSON of a built or received nb_envelope, as a dict."""
    n = c_size_t()
    p = lib.nb_envelope_json(env, byref(n))
    if not p:
        raise error(_lib.NB_INTERNAL, "envelope has no JSON text")
    return _wire_dict(ctypes.string_at(p, n.value).decode("utf-8"))


def _wire_dict(text):
    """The library's wire JSON text as a dict."""
    # The library writes compact JSON starting with "{": its C scanner directly, without
    # json.loads' encoding detection and Python frames (a third of this call's time).
    try:
        obj, end = _scan_json(text, 0)
        if end == len(text):
            return obj
    except (StopIteration, ValueError):
        pass
    return json.loads(text)  # anything unexpected: the full parser and its error


_scan_json = json.decoder.JSONDecoder().scan_once


_TYPE_NAMES = tuple(lib.nb_type_name(i).decode() for i in range(8))
_VIEW_ROOM = 8
_views = threading.local()  # each thread's reusable view array (a switch may come anywhere)


def _payload_values(handle):
    """The (dataname, data, type) of every payload of a received nb_envelope, typed as the
    seed's Python does, from one nb_py_envelope_view call (not six calls per payload)."""
    arr = getattr(_views, "arr", None)
    if arr is None:
        arr = _views.arr = (_lib.PayloadView * _VIEW_ROOM)()
        _views.count = c_size_t()
    count = _views.count
    check(lib.nb_py_envelope_view(handle, arr, _VIEW_ROOM, byref(count)))
    n = count.value
    if n > _VIEW_ROOM:  # rare: a bigger array for this message only
        arr = (_lib.PayloadView * n)()
        check(lib.nb_py_envelope_view(handle, arr, n, byref(count)))
    out = []
    for i in range(n):
        v = arr[i]
        code = v.type
        tname = _TYPE_NAMES[code] if 0 <= code < len(_TYPE_NAMES) else str(code)
        name = v.dataname.decode("utf-8")
        ptr = v.data
        if not ptr:
            if v.path:  # downloaded into download_dir: constant memory, the file is the value
                import pathlib
                out.append((name, pathlib.Path(v.path.decode()), tname))
            else:  # fetch_links=False
                out.append((name, _s(v.url), tname))
            continue
        out.append((name, _value(code, ctypes.string_at(ptr, v.len)), tname))
    return out


def _value(code, raw):
    """A payload's decoded bytes as the seed's Python types them: text as str, dictionary
    and jsontable parsed, everything else bytes."""
    if code == TEXT:
        return raw.decode("utf-8")
    if code == DICTIONARY or code == JSONTABLE:
        return json.loads(raw)
    return raw


class _Owned:
    """A received nb_envelope owned by its Message, freed when the last reference to it goes;
    ctypes passes it as the pointer (_as_parameter_). natsbridge._native.Envelope is its twin
    in C, for the envelopes the native extension takes from a subscription."""

    __slots__ = ("_as_parameter_",)

    def __init__(self, ptr):
        self._as_parameter_ = ptr.value if isinstance(ptr, c_void_p) else ptr

    def __del__(self):
        p, self._as_parameter_ = self._as_parameter_, None
        if p:
            try:
                lib.nb_envelope_destroy(p)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


class Message:
    """A received envelope. `payloads` is the list of (dataname, data, type); `envelope` the
    dict of the 14 fields with `payloads` as that list; `wire` the envelope as it travelled.
    smartreceive(msg) accepts it. Also indexable like the envelope dict (msg["msg_id"])."""

    __slots__ = ("payloads", "_env", "_wire", "_handle", "_client", "__weakref__")

    def __init__(self, handle, client=None, payloads=None):
        self._handle = handle  # an _Owned or a natsbridge._native.Envelope
        self._client = client
        self._wire = self._env = None
        self.payloads = _payload_values(handle) if payloads is None else payloads
        if client is None:  # nothing can reply with it: read the fields, free the C copy
            self.wire
            self._free()

    @property
    def wire(self):
        """The envelope as it travelled (a dict; payload data is base64 text or a URL).
        Parsed on first use: a callback that reads only payloads never pays for it."""
        if self._wire is None:
            self._wire = _wire(self._handle)
        return self._wire

    @property
    def envelope(self):
        """The 14 fields, with payloads the list of (dataname, data, type)."""
        if self._env is None:
            env = dict(self.wire)
            env["payloads"] = self.payloads
            self._env = env
        return self._env

    @property
    def subject(self):
        return self.envelope["send_to"]

    def __getitem__(self, key):
        return self.envelope[key]

    def get(self, key, default=None):
        return self.envelope.get(key, default)

    def __repr__(self):
        return "<natsbridge.Message %s from %s: %s>" % (
            self.envelope.get("msg_id"), self.envelope.get("sender_name"),
            [(d, t) for d, _, t in self.payloads])

    def raw(self, i):
        """The decoded bytes of payload i as they travelled (text and JSON undecoded); None
        when they are in a file or were not fetched. Needs the message's C copy, which
        messages received through a Client keep."""
        if self._handle is None:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "raw: this message keeps no C copy "
                                       "(received with smartreceive on bytes)")
        p = lib.nb_envelope_payload(self._handle, i)
        if not p:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "raw: no payload %d (the message "
                                       "has %d)" % (i, len(self.payloads)))
        n = c_size_t()
        ptr = lib.nb_payload_data(p, byref(n))
        return ctypes.string_at(ptr, n.value) if ptr else None

    def reply(self, data, **fields):
        """Answers this message (see Client.reply)."""
        if self._client is None:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "this message was not received "
                                       "through a Client: use Client.reply")
        return self._client.reply(self, data, **fields)

    def _free(self):
        self._handle = None  # (the last reference: the envelope is freed)


class Payloads(list):
    """What smartreceive returns: the list of (dataname, data, type), with the whole envelope
    (a dict of the 14 fields, payloads as this list) in `.envelope`."""

    envelope = None


# ---- smartsend / smartreceive ---------------------------------------------------------------

def _split(kw):
    fields = {k: kw.pop(k) for k in list(kw) if k in SEND_FIELDS}
    return fields, kw


def smartsend(subject, data, nats_url=None, fileserver_url=None,
              size_threshold=DEFAULT_SIZE_THRESHOLD, correlation_id=None, msg_purpose="chat",
              sender_name="NATSBridge", receiver_name="", receiver_id="", reply_to="",
              reply_to_msg_id="", fileserver_upload_handler=None, **kwargs):
    """Sends data, a list of (dataname, data, type), on subject with a connection of its own;
    returns the envelope that was sent as a dict of its 14 fields (as on the wire).

    Payloads whose serialised size is >= size_threshold are uploaded to fileserver_url and
    travel as links. Further keywords: msg_id, sender_id, metadata (a dict), link (datanames
    to send by link whatever their size) and every connection option of Client."""
    fields, opts = _split(kwargs)
    fields.update(correlation_id=correlation_id, msg_purpose=msg_purpose,
                  receiver_name=receiver_name, receiver_id=receiver_id, reply_to=reply_to,
                  reply_to_msg_id=reply_to_msg_id)
    opts.update(nats_url=nats_url, fileserver_url=fileserver_url, size_threshold=size_threshold,
                sender_name=sender_name, fileserver_upload_handler=fileserver_upload_handler)
    o = _Options(opts)
    try:
        if _seed_shaped(fields):
            items, n, keep, _ = _items(data)
            f = _send_fields(fields)
            out = c_void_p()
            s = lib.nb_smartsend_items(_b(subject), items, n, f, o.ptr, byref(out))
            del keep
            if s != 0:
                err = last_error(s)
                o.raise_pending()
                raise err
            try:
                return _wire(out)
            finally:
                lib.nb_envelope_destroy(out)
        env = _build(data, fields)
        try:
            s = lib.nb_smartsend(_b(subject), env, o.ptr)
            if s != 0:
                err = last_error(s)
                o.raise_pending()
                raise err
            return _wire(env)
        finally:
            lib.nb_envelope_destroy(env)
    finally:
        o.close()
        o.forget_handlers()


def _message_body(msg):
    """The envelope's bytes from what a caller may hold."""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    if isinstance(msg, str):
        return msg.encode("utf-8")
    if isinstance(msg, dict):
        return json.dumps(msg, ensure_ascii=False).encode("utf-8")
    data = getattr(msg, "data", None)  # nats-py's Msg, the stdlib peer's Msg, ...
    if data is None:
        data = getattr(msg, "payload", None)
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        return _message_body(data)
    raise InvalidArgumentError(_lib.NB_INVALID_ARG, "smartreceive: msg must be a received "
                               "Message, bytes, str, a dict or a NATS message with .data; got %s"
                               % type(msg).__name__)


def receive_envelope(msg, fileserver_download_handler=None, max_retries=5, base_delay=100,
                     max_delay=5000, **options):
    """smartreceive returning the whole envelope: a dict of the 14 fields whose payloads is
    the list of (dataname, data, type)."""
    return smartreceive(msg, fileserver_download_handler, max_retries, base_delay, max_delay,
                        **options).envelope


def smartreceive(msg, fileserver_download_handler=None, max_retries=5, base_delay=100,
                 max_delay=5000, **options):
    """Decodes a received envelope: msg is a Message (from Client.subscribe), bytes, str, a
    dict or a NATS message object with .data. Link payloads are downloaded (with back-off:
    max_retries, base_delay and max_delay in ms) and verified; only from fileserver_url's
    origin and allowed_origins. Returns the list of (dataname, data, type): text as str,
    dictionary and jsontable as dict/list, table as Arrow IPC bytes, others as bytes; the
    whole envelope is in its .envelope."""
    if isinstance(msg, Message):
        out = Payloads(msg.payloads)
        out.envelope = msg.envelope
        return out
    body = _message_body(msg)
    options.update(fileserver_download_handler=fileserver_download_handler,
                   max_retries=max_retries, base_delay=base_delay, max_delay=max_delay)
    o = _Options(options)
    try:
        env = c_void_p()
        s = lib.nb_envelope_parse(byref(env), body, len(body), o.ptr)
        if s != 0:
            err = last_error(s)
            o.raise_pending()
            raise err
        m = Message(_Owned(env))
        out = Payloads(m.payloads)
        out.envelope = m.envelope
        return out
    finally:
        o.close()
        o.forget_handlers()


# ---- Client ---------------------------------------------------------------------------------

def _ms(seconds):
    if seconds is None:
        return -1
    return max(0, int(float(seconds) * 1000))


class Client:
    """One NATS connection for many sends, subscriptions, requests and JetStream.

        with Client(nats_url="nats://127.0.0.1:4222", fileserver_url="http://...") as c:
            c.send("subject", [("note", "hello", "text")])

    Keywords: nats_url, fileserver_url, size_threshold, sender_name, sender_id; NATS
    authentication user/password, token, nkey_seed_file, creds_file or creds_jwt/creds_seed
    (the user JWT and NKey seed as text); TLS tls_ca_file,
    tls_cert_file/tls_key_file, tls_hostname, tls_required; file server TLS and token
    fileserver_ca_file, fileserver_cert_file/fileserver_key_file, fileserver_token;
    allowed_origins, link_store ("nats-os://BUCKET"), download_dir, fetch_links,
    max_download, max_retries/base_delay/max_delay (ms), connect_timeout, reconnect_wait,
    download_deadline (s), max_reconnect, allow_reconnect, send_asap, pending_limits
    (msgs, bytes), connection_name, receive limits max_payloads, max_link_bytes,
    max_envelope_bytes, fileserver_upload_handler, fileserver_download_handler, on_event.
    The client may be used from many threads at once."""

    def __init__(self, nats_url=None, **options):
        options["nats_url"] = nats_url
        self._opts = _Options(options)

        self._ptr = c_void_p()
        self._lock = threading.Lock()
        self._idle = threading.Event()  # set when closed and no call is in flight
        self._busy = 0
        self._closed = False
        self._subs = set()
        self._consumers = set()
        self._stores = set()
        s = lib.nb_client_connect(byref(self._ptr), self._opts.ptr)
        if s != 0:
            err = last_error(s)
            self._opts.close()
            self._opts.forget_handlers()
            raise err
        # Under this many payload bytes a send can neither go by link (the size threshold)
        # nor move a payload to a link to fit the server (max_payload, base64 taking 4/3).
        threshold = options.get("size_threshold")
        self._keep_gil_under = min(_TINY, DEFAULT_SIZE_THRESHOLD if threshold is None
                                   else int(threshold), self.max_payload // 2)
        _open_clients.add(self)

    # A call in flight holds the client open: close() waits for it (never freeing what
    # another thread is using).
    def _enter(self):
        with self._lock:  # a plain Lock's with is C code; a Condition's goes through Python
            if self._closed:
                raise error(_lib.NB_INVALID_ARG, "natsbridge: the client is closed")
            self._busy += 1
        return self._ptr

    def _leave(self):
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and self._closed:  # only close() waits for it
                self._idle.set()

    def _call(self, fn, *args):
        """Runs fn(client, *args) as a call in flight; raises on failure (and the exception a
        Python handler raised, if that was the cause)."""
        c = self._enter()
        try:
            s = fn(c, *args)
        finally:
            self._leave()
        if s != 0:
            err = last_error(s)
            self._opts.raise_pending()
            raise err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._closed

    @property
    def max_payload(self):
        return lib.nb_client_max_payload(self._ptr) if not self._closed else -1

    def close(self):
        """Stops subscriptions and consumers, flushes and closes the connection. Safe to call
        twice, from any thread, and from inside a callback of this client."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._busy:
                self._idle.set()
        if getattr(_callback_state, "client", None) is not self:
            self._idle.wait()
        for cons in list(self._consumers):
            cons.close()
        for sub in list(self._subs):
            sub.close()
        for st in list(self._stores):
            st.close()
        lib.nb_client_destroy(self._ptr)
        self._ptr = c_void_p()
        self._opts.close()
        self._opts.forget_handlers()

    def __del__(self):
        try:
            if not self._closed and self._ptr:
                self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def flush(self, timeout=5.0):
        """Waits until the server has processed everything sent so far."""
        self._call(lib.nb_client_flush, _ms(timeout))

    def confirm(self, timeout=5.0):
        """Like flush, and raises ConnectionFailedError naming how many envelopes may have been
        lost when the connection dropped since the last confirmation."""
        self._call(lib.nb_client_confirm, _ms(timeout))

    def send(self, subject, data, **fields):
        """smartsend over this connection: data is a list of (dataname, data, type); fields
        are correlation_id, msg_id, msg_purpose, sender_name, sender_id, receiver_name,
        receiver_id, reply_to, reply_to_msg_id, metadata and link (datanames sent by link).
        Returns the envelope as sent (a dict of the 14 fields)."""
        return self._send(subject, data, fields, True)

    def publish(self, subject, data, **fields):
        """send without returning the envelope (a little faster for many small messages)."""
        self._send(subject, data, fields, False)

    def _send(self, subject, data, fields, want_wire):
        """send and publish: with no field, natsbridge._native's send when it is loaded;
        seed-shaped fields through nb_client_send_items, any other through an envelope built
        here; want_wire returns the envelope as sent."""
        if fields:
            _check_fields(fields)
            if not _seed_shaped(fields):
                env = _build(data, fields)
                try:
                    self._call(lib.nb_client_send, _b(subject), env)
                    return _wire(env) if want_wire else None
                finally:
                    lib.nb_envelope_destroy(env)
        elif _native is not None and type(subject) is str and type(data) is list:
            try:
                return _native.send(self, subject, data, want_wire)
            except NatsBridgeError:
                self._opts.raise_pending()  # a Python handler's own exception first
                raise
        if not want_wire:
            self._send_items(subject, data, fields, None)
            return None
        out = c_void_p()
        self._send_items(subject, data, fields, byref(out))
        try:
            return _wire(out)
        finally:
            lib.nb_envelope_destroy(out)

    def _send_items(self, subject, data, fields, out):
        """nb_client_send_items. A message under the size threshold and _TINY only encodes
        and appends to nats.c's buffer (a socket write at most, when that is full): it keeps
        the GIL, as releasing it per message would hand it to a receiving thread and back
        every time. Anything bigger may upload links, and releases it."""
        items, n, keep, size = _items(data)
        fn = _lib.send_items_keeping_gil if size < self._keep_gil_under else \
            lib.nb_client_send_items
        self._call(fn, _b(subject), items, n, _send_fields(fields), out)
        del keep

    def receive(self, msg):
        """smartreceive with this client's options (file server, allowed origins, link store)."""
        if isinstance(msg, Message):
            return msg
        body = _message_body(msg)
        env = c_void_p()
        self._call(lambda c: lib.nb_client_receive(c, body, len(body), byref(env)))
        return Message(_Owned(env), self)

    def subscribe(self, subject, callback=None, queue=None, on_error=None):
        """Subscribes to subject (in a queue group when queue is given). With a callback,
        callback(msg) runs on a natsbridge thread for each Message; without, iterate over the
        returned Subscription (or call next_msg(timeout))."""
        return Subscription(self, subject, callback, queue, on_error)

    def request(self, subject, data, timeout=5.0, **fields):
        """Sends data and waits up to timeout seconds for the envelope answering it; returns
        that Message. reply_to is a fresh inbox unless given. NoRespondersError when nobody
        listens on subject, TimeoutError when no answer came."""
        _check_fields(fields)
        env = _build(data, fields)
        try:
            rep = c_void_p()
            self._call(lib.nb_client_request, _b(subject), env, _ms(timeout), byref(rep))
            return Message(_Owned(rep), self)
        finally:
            lib.nb_envelope_destroy(env)

    def reply(self, request, data, **fields):
        """Answers request (a Message received on this client) with data: published on its
        reply_to, with reply_to_msg_id its msg_id, the same correlation_id, and receiver its
        sender. Returns the envelope as sent."""
        if not isinstance(request, Message) or request._handle is None:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "reply: request must be a Message "
                                       "received through a Client")
        _check_fields(fields)
        env = _build(data, fields)
        try:
            self._call(lib.nb_client_reply, request._handle, env)
            return _wire(env)
        finally:
            lib.nb_envelope_destroy(env)

    # ---- JetStream ---------------------------------------------------------------------

    def ensure_stream(self, name, subjects, storage="file", max_age=0, duplicate_window=0,
                      replicas=1):
        """Creates the stream when missing (an existing one is updated); True when created.
        max_age and duplicate_window are in seconds (0: kept / the server's default)."""
        if isinstance(subjects, str):
            subjects = [subjects]
        arr = (c_char_p * len(subjects))(*[_b(s) for s in subjects])
        if storage not in ("file", "memory"):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "storage must be 'file' or 'memory', "
                                       "got %r" % (storage,))
        cfg = _lib.JsStreamConfig(_b(name), arr, len(subjects), 0 if storage == "file" else 1,
                                  int(replicas), _ms(max_age), _ms(duplicate_window))
        created = c_bool()
        self._call(lib.nb_js_stream_ensure, byref(cfg), byref(created))
        return created.value

    def stream_info(self, name):
        """A dict of the stream's state: messages, bytes, first_seq, last_seq, consumers,
        subjects. NotFoundError when there is none."""
        info = ctypes.POINTER(_lib.JsStreamInfo)()
        self._call(lib.nb_js_stream_info_get, _b(name), byref(info))
        try:
            i = info.contents
            cfg = i.config
            return {"name": _s(cfg.name), "messages": i.messages, "bytes": i.bytes,
                    "first_seq": i.first_seq, "last_seq": i.last_seq, "consumers": i.consumers,
                    "subjects": [_s(cfg.subjects[k]) for k in range(cfg.subject_count)],
                    "storage": "file" if cfg.storage == 0 else "memory"}
        finally:
            lib.nb_js_stream_info_destroy(info)

    def delete_stream(self, name):
        self._call(lib.nb_js_stream_delete, _b(name))

    def js_publish(self, subject, data, timeout=5.0, retries=0, retry_delay=0.2,
                   expect_stream=None, **fields):
        """Stores the envelope in the stream holding subject (Nats-Msg-Id = its msg_id, so a
        retried publish is stored once) and waits for the server's ack. Returns a dict:
        stream, sequence, duplicate, envelope."""
        _check_fields(fields)
        env = _build(data, fields)
        try:
            po = _lib.JsPublishOptions(_ms(timeout), int(retries), _ms(retry_delay),
                                       _b(expect_stream))
            ack = _lib.JsAck()
            self._call(lib.nb_client_js_publish, _b(subject), env, byref(po), byref(ack))
            return {"stream": ack.stream.decode("utf-8", "replace"), "sequence": ack.sequence,
                    "duplicate": bool(ack.duplicate), "envelope": _wire(env)}
        finally:
            lib.nb_envelope_destroy(env)

    def consume(self, subject, durable, callback, stream=None, batch=0, ack_wait=None,
                max_deliver=0, start="all", start_sequence=0, start_time=None, nak_delay=None,
                on_error=None):
        """A durable JetStream consumer calling callback(msg, delivery) on its own thread for
        every message; the callback's return value settles it: ACK (or None), NAK, TERM or
        NAK_NOW; an exception naks it. delivery is a dict (stream, consumer, subject,
        stream_seq, consumer_seq, delivered, pending, timestamp_ms). The durable keeps its
        place on the server: a new consumer of the same name resumes where it stopped."""
        return Consumer(self, subject, durable, callback, stream, batch, ack_wait, max_deliver,
                        start, start_sequence, start_time, nak_delay, on_error)

    def delete_consumer(self, stream, durable):
        self._call(lib.nb_js_consumer_delete, _b(stream), _b(durable))

    # ---- Object Store ------------------------------------------------------------------

    def object_store(self, bucket, create=True, description=None, ttl=0, memory=False,
                     replicas=1, max_bytes=0):
        """Opens (and, with create, makes) a JetStream Object Store bucket."""
        return ObjectStore(self, bucket, create, description, ttl, memory, replicas, max_bytes)

    def delete_object_store(self, bucket):
        self._call(lib.nb_objstore_delete_bucket, _b(bucket))


def _check_fields(fields):
    unknown = set(fields) - set(SEND_FIELDS)
    if unknown:
        raise TypeError("natsbridge: unknown envelope field(s): %s (known: %s)"
                        % (", ".join(sorted(unknown)), ", ".join(SEND_FIELDS)))


# Clients still open at exit are closed then, before the interpreter goes away: no nats.c
# thread may call into Python after that.
_open_clients = weakref.WeakSet()


@atexit.register
def _close_open_clients():
    for c in list(_open_clients):
        try:
            c.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


# Which client's callback the current thread runs, so that close() from inside it does not
# wait for itself.
_callback_state = threading.local()


_BATCH = 256  # deliveries taken per nb_py_queue_take call (as natsbridge._native's TAKE_BATCH)
_BLOB = 64 * 1024  # bytes of payloads copied per call (bigger ones: nb_py_envelope_view)
_batches = threading.local()  # each reading thread's reusable _Batch
_DELIVERY = struct.Struct("=Qii")  # nb_py_queue_take's record: env, status, payload count
_PAYLOAD = struct.Struct("=iII")  # then per payload: type, dataname length, data length


class _Batch:
    """One reading thread's buffers for nb_py_queue_take, and the Messages made from them."""

    def __init__(self):
        self.arr = (_lib.Delivery * _BATCH)()
        self.n = c_size_t()
        self.n_ref = byref(self.n)
        self.blob = ctypes.create_string_buffer(_BLOB)
        self.len = c_size_t()
        self.len_ref = byref(self.len)

    def unpack(self, client, ready):
        """Appends to ready a Message (or the exception) for every delivery taken. Every
        envelope is ours now: each is wrapped or freed, whatever fails."""
        blob = ctypes.string_at(self.blob, self.len.value)  # one copy, sliced below
        delivery, payload = _DELIVERY.unpack_from, _PAYLOAD.unpack_from
        off = 0
        for i in range(self.n.value):
            env, status, count = delivery(blob, off)
            off += 16
            if not env:
                ready.append(error(status, self.arr[i].message.decode("utf-8", "replace")))
                continue
            if count < 0:  # not copied (a file, a link not fetched, big): read in place
                try:
                    ready.append(Message(_Owned(env), client))
                except Exception as e:  # noqa: BLE001 - the Message freed env; say why, go on
                    ready.append(e)
                continue
            start = off
            try:
                values = []
                for _ in range(count):
                    code, name_len, data_len = payload(blob, off)
                    off += 12
                    name = blob[off:off + name_len].decode("utf-8")
                    off += name_len
                    values.append((name, _value(code, blob[off:off + data_len]),
                                   _TYPE_NAMES[code] if 0 <= code < 8 else str(code)))
                    off += data_len
            except Exception as e:  # noqa: BLE001 - this message is lost: say why, go on
                lib.nb_envelope_destroy(env)
                ready.append(e)
                off = start  # past the rest of its record
                for _ in range(count):
                    _, name_len, data_len = payload(blob, off)
                    off += 12 + name_len + data_len
                continue
            ready.append(Message(_Owned(env), client, values))


class Subscription:
    """A subscription: iterate over it for Messages, or give Client.subscribe a callback.

    Both kinds read an nb_py_queue (src/nats/binding_py.c): messages wait in nats.c's queue,
    and a reader takes and decodes up to 256 per call without the GIL, so that a busy
    subscription takes the GIL once per batch rather than once per message. A callback
    subscription has one Python thread of its own calling the callback in order."""

    def __init__(self, client, subject, callback, queue, on_error):
        self.client = client
        self.subject = subject
        self._callback = callback
        self._on_error = on_error
        self._ptr = c_void_p()
        self._cv = threading.Condition()
        self._readers = 0  # threads inside nb_py_queue_take: close() waits for them
        self._closed = False
        self._ready = collections.deque()  # Messages (or exceptions) taken, not yet handed out
        self._thread = None
        if callback is not None and not callable(callback):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "subscribe: callback must be callable")
        client._call(lib.nb_py_queue_subscribe, byref(self._ptr), _b(subject), _b(queue))
        client._subs.add(self)
        if callback is not None:
            self._thread = threading.Thread(target=self._dispatch, daemon=True,
                                            name="natsbridge sub %s" % subject)
            self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, timeout_ms):
        """Takes what is queued (waiting up to timeout_ms for the first) into self._ready;
        False when the subscription is closed."""
        with self._cv:
            if self._closed:
                return False
            self._readers += 1
        try:
            if _native is not None:
                s = _native.take(self._ptr.value, timeout_ms, self.client, Message,
                                 self._ready.append)
            else:
                s = self._take(timeout_ms)
        finally:
            with self._cv:
                self._readers -= 1
                self._cv.notify_all()
        if s == _lib.NB_TIMEOUT:
            return True
        if s != 0:
            if self._closed:
                return False
            raise last_error(s)
        return True

    def _take(self, timeout_ms):
        """_fill through ctypes (no natsbridge._native): nb_py_queue_take's status."""
        b = getattr(_batches, "b", None)
        if b is None:
            b = _batches.b = _Batch()
        s = lib.nb_py_queue_take(self._ptr, timeout_ms, b.arr, _BATCH, b.n_ref, b.blob, _BLOB,
                                 b.len_ref)
        if s == 0:
            b.unpack(self.client, self._ready)
        return s

    def next_msg(self, timeout=None):
        """The next Message, waiting up to timeout seconds (None: forever); TimeoutError when
        none came. Messages dropped because this reader fell behind raise
        NatsBridgeError(SLOW_CONSUMER); a malformed message raises its decode error; the
        next call goes on."""
        if self._callback is not None:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "next_msg: this subscription has a "
                                       "callback")
        ready = self._ready
        deadline = False  # computed once the first look finds nothing taken
        while True:
            try:
                item = ready.popleft()
            except IndexError:
                item = None
                if deadline is False:
                    deadline = None if timeout is None else _now() + float(timeout)
            if item is not None:
                if isinstance(item, BaseException):
                    raise item
                return item
            # Short slices, so that close() from another thread is never held up for long.
            left = 0.2 if deadline is None else min(0.2, max(0.0, deadline - _now()))
            if not self._fill(int(left * 1000)):
                raise error(_lib.NB_INVALID_ARG, "subscription on '%s' is closed" % self.subject)
            if not ready and deadline is not None and _now() >= deadline:
                raise error(_lib.NB_TIMEOUT, "subject '%s': no message within %d ms"
                            % (self.subject, int(float(timeout) * 1000)))

    def __iter__(self):
        """Messages until the subscription or its client is closed."""
        ready = self._ready
        plain = self._callback is None  # (next_msg refuses the others)
        while not self._closed and not self.client._closed:
            if plain and ready:  # what is taken already, without next_msg's frame
                try:
                    item = ready.popleft()
                except IndexError:  # another thread iterating took it
                    continue
                if not isinstance(item, BaseException):
                    yield item
                    continue
                ready.appendleft(item)  # an error: next_msg raises it, as for the rest
            try:
                yield self.next_msg(0.5)
            except _lib.TimeoutError:
                continue
            except NatsBridgeError as e:
                if self._closed or self.client._closed:
                    return
                if e.status == _lib.NB_INVALID_ARG and "closed" in e.message:
                    return
                raise

    def _dispatch(self):
        """The callback subscription's thread: batches from the queue, one callback at a
        time, until closed."""
        _callback_state.client = self.client
        ready = self._ready
        try:
            while not self._closed:
                if not self._fill(200):
                    return
                while ready and not self._closed:
                    item = ready.popleft()
                    if isinstance(item, BaseException):
                        self._report(item)
                        continue
                    try:
                        self._callback(item)
                    except Exception as e:  # noqa: BLE001 - no caller here: report, go on
                        if self._on_error is not None:
                            self._report(e)
                        else:
                            _report_callback_error("the callback of the subscription on '%s'"
                                                   % self.subject, e)
                    item = None  # the Message is the callback's now, not this frame's
        except NatsBridgeError as e:  # nothing more will come (its connection closed): say so
            self._report(e)
        except Exception as e:  # noqa: BLE001 - the queue failed: say so, stop
            _report_callback_error("the subscription on '%s'" % self.subject, e)
        finally:
            ready.clear()

    def _report(self, exc):
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception as e2:  # noqa: BLE001
                _report_callback_error("the subscription's on_error", e2)
        else:
            print("natsbridge: subscription on '%s': %s" % (self.subject, exc), file=sys.stderr)

    def close(self):
        """Unsubscribes; no callback starts after it returns (one running on another thread is
        waited for, up to 10 s)."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            if self._ptr:
                lib.nb_py_queue_close(self._ptr)  # wakes every reader at once
            while self._readers:  # never free what a reader in another thread is using
                self._cv.wait()
        self.client._subs.discard(self)
        if self._ptr:
            lib.nb_py_queue_destroy(self._ptr)
            self._ptr = c_void_p()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(10)
        self._ready.clear()




_pinned = threading.local()


def _pin_thread_state():
    """Keeps this (nats.c) thread's Python thread state between callbacks. ctypes makes one
    per callback on a thread Python did not start and drops it on return, which costs more
    than the callback itself; one extra PyGILState_Ensure, never released, keeps it (one
    small state per natsbridge thread, freed with the interpreter)."""
    if not getattr(_pinned, "done", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _pinned.done = True


# ---- JetStream consumer ---------------------------------------------------------------------

ACK, NAK, TERM, NAK_NOW = 0, 1, 2, 3
_STARTS = {"all": 0, "sequence": 1, "time": 2, "new": 3}
# (no True/False keys: they would be the same keys as 1 and 0)
_ACTIONS = {None: ACK, "ack": ACK, "nak": NAK, "term": TERM, "nak_now": NAK_NOW,
            ACK: ACK, NAK: NAK, TERM: TERM, NAK_NOW: NAK_NOW}


def _delivery(d):
    return {"stream": _s(d.stream), "consumer": _s(d.consumer), "subject": _s(d.subject),
            "stream_seq": d.stream_seq, "consumer_seq": d.consumer_seq,
            "delivered": d.delivered, "pending": d.pending, "timestamp_ms": d.timestamp_ms}


class Consumer:
    """A durable JetStream consumer (see Client.consume). close() stops it; the durable and
    its place stay on the server."""

    def __init__(self, client, subject, durable, callback, stream, batch, ack_wait, max_deliver,
                 start, start_sequence, start_time, nak_delay, on_error):
        if not callable(callback):
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "consume: callback must be callable")
        if start not in _STARTS:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "consume: start must be one of %s, got "
                                       "%r" % (", ".join(_STARTS), start))
        self.client = client
        self.durable = durable
        self._callback = callback
        self._on_error = on_error
        self._closed = False
        self._lock = threading.Lock()
        self._ptr = c_void_p()
        cfg = _lib.JsConsumerConfig(
            _b(stream), _b(subject), _b(durable), int(batch),
            0 if ack_wait is None else _ms(ack_wait), int(max_deliver), _STARTS[start],
            int(start_sequence), 0 if start_time is None else int(float(start_time) * 1000),
            0 if nak_delay is None else _ms(nak_delay), 0, 0)
        self._key = _registry.add(self)
        try:
            client._call(lambda c: lib.nb_js_consumer_create(byref(self._ptr), c, byref(cfg),
                                                             _JS_ENVELOPE, _JS_ERROR, self._key))
        except BaseException:
            _registry.remove(self._key)
            raise
        client._consumers.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.client._consumers.discard(self)
        lib.nb_js_consumer_destroy(self._ptr)
        self._ptr = c_void_p()
        # The registry entry stays until the consumer's thread is surely done (it may still be
        # returning from a callback that called close()); it is small.


def _js_envelope_trampoline(cons_p, env, d, key):
    _pin_thread_state()
    cons = _registry.get(key)
    if cons is None:
        lib.nb_envelope_destroy(env)
        return NAK_NOW
    prev = getattr(_callback_state, "client", None)
    _callback_state.client = cons.client
    try:
        msg = Message(_Owned(env), cons.client)
        verdict = cons._callback(msg, _delivery(d.contents))
        action = None if isinstance(verdict, bool) else _ACTIONS.get(verdict)
        if action is None:
            raise InvalidArgumentError(_lib.NB_INVALID_ARG, "consume callback returned %r: return "
                                       "ACK, NAK, TERM or NAK_NOW (or None to ack)" % (verdict,))
        return action
    except Exception as e:  # noqa: BLE001 - the message comes back later
        if cons._on_error is not None:
            try:
                cons._on_error(e, _delivery(d.contents))
            except Exception as e2:  # noqa: BLE001
                _report_callback_error("the consumer's on_error", e2)
        else:
            _report_callback_error("the callback of consumer '%s' (message naked)" % cons.durable, e)
        return NAK
    finally:
        _callback_state.client = prev


def _js_error_trampoline(cons_p, status, message, d, action, key):
    cons = _registry.get(key)
    if cons is None:
        return
    exc = error(status, _s(message) or "")
    if cons._on_error is not None:
        try:
            cons._on_error(exc, _delivery(d.contents) if d else None)
        except Exception as e:  # noqa: BLE001
            _report_callback_error("the consumer's on_error", e)
    else:
        print("natsbridge: consumer '%s': %s" % (cons.durable, exc), file=sys.stderr)


_JS_ENVELOPE = _lib.JS_ENVELOPE_CB(_js_envelope_trampoline)
_JS_ERROR = _lib.JS_ERROR_CB(_js_error_trampoline)

# ---- Object Store ---------------------------------------------------------------------------


def _info(i):
    return {"name": _s(i.name), "bucket": _s(i.bucket), "nuid": _s(i.nuid),
            "digest": _s(i.digest), "size": i.size, "chunks": i.chunks, "mtime_ns": i.mtime_ns}


class ObjectStore:
    """A JetStream Object Store bucket (ADR-20): put, get, info, delete."""

    def __init__(self, client, bucket, create, description, ttl, memory, replicas, max_bytes):
        self.client = client
        self.bucket = bucket
        self._ptr = c_void_p()
        if create:
            cfg = _lib.ObjstoreConfig(_b(bucket), _b(description), _ms(ttl) if ttl else 0,
                                      bool(memory), int(replicas), int(max_bytes))
            client._call(lambda c: lib.nb_objstore_create(byref(self._ptr), c, byref(cfg)))
        else:
            client._call(lambda c: lib.nb_objstore_open(byref(self._ptr), c, _b(bucket)))
        client._stores.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _do(self, fn, *args):
        if not self._ptr:
            raise error(_lib.NB_INVALID_ARG, "object store '%s' is closed" % self.bucket)
        self.client._call(lambda _c: fn(self._ptr, *args))

    def put(self, name, data):
        """Stores data (bytes, or a path given as os.PathLike) as name; returns its info."""
        info = _lib.ObjectInfo()
        try:
            if isinstance(data, os.PathLike):
                self._do(lib.nb_objstore_put_file, _b(name), os.fsencode(data), byref(info))
            else:
                raw = bytes(data)
                self._do(lib.nb_objstore_put_bytes, _b(name), raw, len(raw), byref(info))
            return _info(info)
        finally:
            lib.nb_object_info_clear(byref(info))

    def get(self, name, max_bytes=0):
        """The bytes of object name (NotFoundError when missing or deleted)."""
        out, n = c_void_p(), c_size_t()
        self._do(lib.nb_objstore_get_bytes, _b(name), int(max_bytes), byref(out), byref(n))
        return _lib.take_bytes(out, n.value)

    def get_file(self, name, path):
        """Streams object name into the file at path."""
        self._do(lib.nb_objstore_get_file, _b(name), os.fsencode(path))

    def info(self, name):
        info = _lib.ObjectInfo()
        try:
            self._do(lib.nb_objstore_get_info, _b(name), byref(info))
            return _info(info)
        finally:
            lib.nb_object_info_clear(byref(info))

    def delete(self, name):
        self._do(lib.nb_objstore_delete, _b(name))

    def close(self):
        self.client._stores.discard(self)
        p, self._ptr = self._ptr, c_void_p()
        if p:
            lib.nb_objstore_destroy(p)


# ---- the native extension (optional) --------------------------------------------------------

def _load_native():
    """natsbridge._native (bindings/python/src/_native.c): Client.send/publish and the
    subscriptions' batches in C, when it was built for this Python. It is looked for next to
    this package (pip install, cmake --install), or is the file NATSBRIDGE_NATIVE names (a
    build tree); NATSBRIDGE_NATIVE=0 turns it off. Without it the ctypes code above does the
    same work, only slower (docs/BINDINGS.md, "The native extension")."""
    choice = os.environ.get("NATSBRIDGE_NATIVE", "")
    if choice == "0":
        return None
    try:
        if choice:
            import importlib.machinery
            import importlib.util
            loader = importlib.machinery.ExtensionFileLoader(__package__ + "._native", choice)
            spec = importlib.util.spec_from_file_location(loader.name, choice, loader=loader)
            mod = importlib.util.module_from_spec(spec)
            loader.exec_module(mod)
        else:
            from . import _native as mod
        mod.bind(_lib.library_path, _item, error, last_error, _wire_dict, json.loads,
                 _type_cache, _TYPE_NAMES)
    except ImportError:
        if choice:  # asked for by name: not finding it is an error, not a slow fallback
            raise
        return None
    return mod


_native = _load_native()
native_path = _native.__file__ if _native is not None else None
