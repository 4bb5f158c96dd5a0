# SPDX-License-Identifier: MIT
"""The ctypes view of libnatsbridge: loading the library, prototypes, statuses and exceptions.

ctypes was chosen over a CPython extension because the user needs no compiler and no Python
headers, CDLL releases the GIL around every foreign call (so blocking sends, receives and
downloads never hold other Python threads), and CFUNCTYPE callbacks take the GIL themselves
when nats.c calls them from its own threads. Only the standard library is used. The hot
paths also exist in an optional CPython extension, natsbridge._native (see _core._load_native).
"""

import ctypes
import ctypes.util
import os
import sys
import sysconfig

from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_int, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)

# ---- finding the library --------------------------------------------------------------------

_SONAME = "libnatsbridge.so.0"


def _candidates():
    """Where libnatsbridge is looked for, in order (docs/BINDINGS.md, "Finding the library")."""
    # An explicit choice wins: a developer pointing at a fresh build must not get an older
    # installed copy.
    env = os.environ.get("NATSBRIDGE_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in (_SONAME, "libnatsbridge.so"):
        yield os.path.join(here, name)
    # cmake --install puts the package in <prefix>/lib/python3/dist-packages/natsbridge and the
    # library in <prefix>/lib or <prefix>/lib/<multiarch>.
    prefix = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for libdir in ("lib", os.path.join("lib", multiarch) if multiarch else None, "lib64"):
        if libdir:
            yield os.path.join(prefix, libdir, _SONAME)
    yield _SONAME  # the system loader: ldconfig's cache, LD_LIBRARY_PATH
    found = ctypes.util.find_library("natsbridge")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("natsbridge: libnatsbridge not found; build it (cmake --build build) and "
                      "set NATSBRIDGE_LIBRARY=/path/to/libnatsbridge.so.0, or install it "
                      "(cmake --install build). Tried: " + "; ".join(tried))


lib, library_path = _load()

# ---- statuses and exceptions ----------------------------------------------------------------

STATUS_NAMES = ("OK", "INVALID_ARG", "NO_MEMORY", "BAD_ENVELOPE", "BAD_PAYLOAD", "TOO_LARGE",
                "CONNECTION", "TIMEOUT", "NO_RESPONDERS", "SLOW_CONSUMER", "IO", "HTTP",
                "INTEGRITY", "NOT_ALLOWED", "NATS", "INTERNAL", "NOT_FOUND", "PERMISSION")
for _i, _n in enumerate(STATUS_NAMES):
    globals()["NB_" + _n] = _i


class NatsBridgeError(Exception):
    """A natsbridge call failed: status is the nb_status number, status_name its name
    ("TIMEOUT"), message what nb_last_error() said (naming what was wrong)."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.message = message
        super().__init__("%s (%s)" % (message, self.status_name.lower().replace("_", " ")))


class InvalidArgumentError(NatsBridgeError, ValueError):
    """A bad argument: an unknown type, data of the wrong kind, a bad URL or name."""


class BadMessageError(NatsBridgeError, ValueError):
    """A received envelope or payload is malformed (BAD_ENVELOPE, BAD_PAYLOAD)."""


class TooLargeError(NatsBridgeError):
    """Over a threshold, the server's max_payload or a receive limit."""


class ConnectionFailedError(NatsBridgeError, ConnectionError):
    """The NATS server cannot be reached or the connection was lost."""


class TimeoutError(NatsBridgeError, TimeoutError):  # noqa: A001 - also the builtin's subclass
    """Nothing arrived in time."""


class NoRespondersError(NatsBridgeError):
    """A request found nobody listening on its subject."""


class IntegrityError(NatsBridgeError):
    """Downloaded bytes do not match their size or SHA-256."""


class NotAllowedError(NatsBridgeError, PermissionError):
    """Refused by policy: a link from an origin that is not allowed, an unsafe name, or a
    publish or subscribe the NATS server refused (PERMISSION)."""


class NotFoundError(NatsBridgeError, LookupError):
    """A link's bytes, a stream, a consumer or an object is not there."""


_CLASSES = {NB_INVALID_ARG: InvalidArgumentError, NB_BAD_ENVELOPE: BadMessageError,  # noqa: F821
            NB_BAD_PAYLOAD: BadMessageError, NB_TOO_LARGE: TooLargeError,  # noqa: F821
            NB_CONNECTION: ConnectionFailedError, NB_TIMEOUT: TimeoutError,  # noqa: F821
            NB_NO_RESPONDERS: NoRespondersError, NB_INTEGRITY: IntegrityError,  # noqa: F821
            NB_NOT_ALLOWED: NotAllowedError, NB_PERMISSION: NotAllowedError,  # noqa: F821
            NB_NOT_FOUND: NotFoundError}  # noqa: F821


def error(status, message):
    """The exception for a status and a message."""
    return _CLASSES.get(status, NatsBridgeError)(status, message)


def last_error(status):
    """The exception for a status just returned on this thread, with nb_last_error()."""
    msg = lib.nb_last_error()
    return error(status, msg.decode("utf-8", "replace") if msg else lib.nb_status_text(status).decode())


def check(status):
    if status != 0:
        raise last_error(status)


# ---- structures -----------------------------------------------------------------------------

class FileserverAuth(Structure):
    _fields_ = [("ca_file", c_char_p), ("cert_file", c_char_p), ("key_file", c_char_p),
                ("token", c_char_p)]


PROGRESS_CB = CFUNCTYPE(None, c_char_p, c_uint64, c_uint64, c_void_p)


class UploadRequest(Structure):
    _fields_ = [("fileserver_url", c_char_p), ("dataname", c_char_p), ("data", c_void_p),
                ("path", c_char_p), ("size", c_uint64), ("sha256_hex", c_char_p),
                ("progress", c_void_p), ("progress_closure", c_void_p),
                ("auth", POINTER(FileserverAuth)), ("read", c_void_p), ("read_ctx", c_void_p)]


class UploadResult(Structure):
    _fields_ = [("status", c_int), ("uploadid", c_void_p), ("fileid", c_void_p), ("url", c_void_p)]


class DownloadRequest(Structure):
    _fields_ = [("url", c_char_p), ("max_retries", c_int), ("base_delay_ms", c_int64),
                ("max_delay_ms", c_int64), ("deadline_ms", c_int64), ("correlation_id", c_char_p),
                ("max_bytes", c_uint64), ("path", c_char_p), ("dataname", c_char_p),
                ("progress", c_void_p), ("progress_closure", c_void_p),
                ("auth", POINTER(FileserverAuth)), ("idle_timeout_ms", c_int64),
                ("retry_budget_ms", c_int64), ("stop", c_void_p), ("sha256_hex", c_char_p),
                ("sha256_out", c_void_p)]


class Item(Structure):  # nb_item: one (dataname, data, type) of smartsend
    # data is const void *; c_char_p lets a bytes object be stored directly (the Item keeps a
    # reference to it while it lives), with no copy and no cast
    _fields_ = [("dataname", c_char_p), ("data", c_char_p), ("len", c_size_t), ("type", c_int)]


class SendFields(Structure):  # nb_send_fields
    _fields_ = [("correlation_id", c_char_p), ("msg_id", c_char_p), ("msg_purpose", c_char_p),
                ("receiver_name", c_char_p), ("receiver_id", c_char_p), ("reply_to", c_char_p),
                ("reply_to_msg_id", c_char_p), ("metadata_json", c_char_p)]


class JsStreamConfig(Structure):
    _fields_ = [("name", c_char_p), ("subjects", POINTER(c_char_p)), ("subject_count", c_size_t),
                ("storage", c_int), ("replicas", c_int), ("max_age_ms", c_int64),
                ("duplicate_window_ms", c_int64)]


class JsStreamInfo(Structure):
    _fields_ = [("config", JsStreamConfig), ("messages", c_uint64), ("bytes", c_uint64),
                ("first_seq", c_uint64), ("last_seq", c_uint64), ("consumers", c_int64),
                ("max_msgs", c_int64), ("max_bytes", c_int64)]


class JsAck(Structure):
    _fields_ = [("stream", ctypes.c_char * 256), ("sequence", c_uint64), ("duplicate", c_bool)]


class JsPublishOptions(Structure):
    _fields_ = [("timeout_ms", c_int64), ("retries", c_int), ("retry_delay_ms", c_int64),
                ("expect_stream", c_char_p)]


class JsConsumerConfig(Structure):
    _fields_ = [("stream", c_char_p), ("subject", c_char_p), ("durable", c_char_p),
                ("batch", c_int), ("ack_wait_ms", c_int64), ("max_deliver", c_int),
                ("start", c_int), ("start_sequence", c_uint64), ("start_time_ms", c_int64),
                ("nak_delay_ms", c_int64), ("max_nak_delay_ms", c_int64),
                ("not_found_deliveries", c_int), ("inactive_threshold_ms", c_int64)]


class JsDelivery(Structure):
    _fields_ = [("stream", c_char_p), ("consumer", c_char_p), ("subject", c_char_p),
                ("stream_seq", c_uint64), ("consumer_seq", c_uint64), ("delivered", c_uint64),
                ("pending", c_uint64), ("timestamp_ms", c_int64)]


class ObjstoreConfig(Structure):
    _fields_ = [("bucket", c_char_p), ("description", c_char_p), ("ttl_ms", c_int64),
                ("memory_storage", c_bool), ("replicas", c_int), ("max_bytes", c_int64)]


class ObjectInfo(Structure):
    _fields_ = [("name", c_char_p), ("bucket", c_char_p), ("nuid", c_char_p),
                ("digest", c_char_p), ("size", c_uint64), ("chunks", c_uint32),
                ("mtime_ns", c_int64)]


class PayloadView(Structure):  # nb_py_payload_view: one received payload, views
    _fields_ = [("dataname", c_char_p), ("data", c_void_p), ("len", c_size_t),
                ("path", c_char_p), ("url", c_char_p), ("type", c_int)]


class Delivery(Structure):  # nb_py_delivery: an envelope, or an error and its message
    _fields_ = [("env", c_void_p), ("status", c_int), ("message", ctypes.c_char * 512)]


# ---- callback types -------------------------------------------------------------------------

UPLOAD_FN = CFUNCTYPE(c_int, POINTER(UploadRequest), POINTER(UploadResult), c_void_p)
DOWNLOAD_FN = CFUNCTYPE(c_int, POINTER(DownloadRequest), POINTER(c_void_p), POINTER(c_size_t),
                        c_void_p)
ENVELOPE_CB = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
ERROR_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_void_p)
EVENT_CB = CFUNCTYPE(None, c_int, c_int, c_char_p, c_void_p)
JS_ENVELOPE_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(JsDelivery), c_void_p)
JS_ERROR_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p, POINTER(JsDelivery), c_int, c_void_p)

# ---- prototypes -----------------------------------------------------------------------------

_S = c_int  # nb_status
_P = c_void_p
_PP = POINTER(c_void_p)


# Calls that never block (accessors, setters, frees) keep the GIL: releasing and re-taking it
# costs more than they do, and when a callback thread and a sending thread share the GIL each
# release is a hand-over to the other thread. Every call that can wait (network, files,
# callbacks into Python) goes through CDLL, which releases it.
_fast = ctypes.PyDLL(library_path)
_FAST_PREFIXES = ("nb_payload_", "nb_envelope_set_", "nb_options_set_", "nb_type_",
                  "nb_status_text", "nb_last_error", "nb_version_string")
_FAST = {"nb_envelope_json", "nb_envelope_payload", "nb_envelope_payload_count",
         "nb_envelope_destroy", "nb_envelope_create", "nb_envelope_add_payload",
         "nb_options_create", "nb_options_destroy", "nb_object_info_clear",
         "nb_envelope_create_items", "nb_py_envelope_view"}
_SLOW = {"nb_payload_create_table", "nb_options_set_fileserver_ca",
         "nb_options_set_fileserver_client_cert", "nb_options_set_tls_ca_file",
         "nb_options_set_tls_client_cert", "nb_options_set_nkey_seed_file",
         "nb_options_set_creds_file"}  # read files or encode whole tables



def _proto(name, restype, *argtypes):
    fast = name not in _SLOW and (name in _FAST or name.startswith(_FAST_PREFIXES))
    f = getattr(_fast if fast else lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    if fast:
        setattr(lib, name, f)  # lib.<name> is now the GIL-keeping one


for _name, _res, _args in (
        ("nb_version_string", c_char_p, ()),
        ("nb_status_text", c_char_p, (c_int,)),
        ("nb_last_error", c_char_p, ()),
        ("nb_type_parse", _S, (c_char_p, POINTER(c_int))),
        ("nb_type_name", c_char_p, (c_int,)),
        # options
        ("nb_options_create", _S, (_PP,)),
        ("nb_options_destroy", None, (_P,)),
        ("nb_options_set_url", _S, (_P, c_char_p)),
        ("nb_options_set_fileserver_url", _S, (_P, c_char_p)),
        ("nb_options_set_size_threshold", _S, (_P, c_size_t)),
        ("nb_options_set_sender_name", _S, (_P, c_char_p)),
        ("nb_options_set_sender_id", _S, (_P, c_char_p)),
        ("nb_options_set_direct_sha256", _S, (_P, c_bool)),
        ("nb_options_set_connect_timeout", _S, (_P, c_int64)),
        ("nb_options_set_allow_reconnect", _S, (_P, c_bool)),
        ("nb_options_set_max_reconnect", _S, (_P, c_int)),
        ("nb_options_set_reconnect_wait", _S, (_P, c_int64)),
        ("nb_options_set_send_asap", _S, (_P, c_bool)),
        ("nb_options_set_pending_limits", _S, (_P, c_int, c_int64)),
        ("nb_options_set_event_cb", _S, (_P, EVENT_CB, c_void_p)),
        ("nb_options_set_backoff", _S, (_P, c_int, c_int64, c_int64)),
        ("nb_options_set_download_deadline", _S, (_P, c_int64)),
        ("nb_options_add_allowed_origin", _S, (_P, c_char_p)),
        ("nb_options_set_max_download", _S, (_P, c_uint64)),
        ("nb_options_set_download_dir", _S, (_P, c_char_p)),
        ("nb_options_set_fetch_links", _S, (_P, c_bool)),
        ("nb_options_set_upload_handler", _S, (_P, UPLOAD_FN, c_void_p)),
        ("nb_options_set_download_handler", _S, (_P, DOWNLOAD_FN, c_void_p)),
        ("nb_options_set_fileserver_ca", _S, (_P, c_char_p)),
        ("nb_options_set_fileserver_client_cert", _S, (_P, c_char_p, c_char_p)),
        ("nb_options_set_fileserver_token", _S, (_P, c_char_p)),
        ("nb_options_set_link_store", _S, (_P, c_char_p)),
        ("nb_options_set_user_password", _S, (_P, c_char_p, c_char_p)),
        ("nb_options_set_token", _S, (_P, c_char_p)),
        ("nb_options_set_nkey_seed_file", _S, (_P, c_char_p)),
        ("nb_options_set_creds_file", _S, (_P, c_char_p)),
        ("nb_options_set_creds", _S, (_P, c_char_p, c_char_p)),
        ("nb_options_set_tls_ca_file", _S, (_P, c_char_p)),
        ("nb_options_set_tls_client_cert", _S, (_P, c_char_p, c_char_p)),
        ("nb_options_set_tls_hostname", _S, (_P, c_char_p)),
        ("nb_options_set_tls_required", _S, (_P, c_bool)),
        ("nb_options_set_connection_name", _S, (_P, c_char_p)),
        ("nb_options_set_max_payloads", _S, (_P, c_size_t)),
        ("nb_options_set_max_link_bytes", _S, (_P, c_uint64)),
        ("nb_options_set_max_envelope_bytes", _S, (_P, c_size_t)),
        # payloads and envelopes
        ("nb_payload_create", _S, (_PP, c_char_p, c_int, c_void_p, c_size_t)),
        ("nb_payload_create_table", _S, (_PP, c_char_p, _P, c_size_t)),
        ("nb_payload_destroy", None, (_P,)),
        ("nb_payload_force_link", _S, (_P, c_bool)),
        ("nb_payload_set_metadata_json", _S, (_P, c_char_p)),
        ("nb_payload_dataname", c_char_p, (_P,)),
        ("nb_payload_type", c_int, (_P,)),
        ("nb_payload_type_name", c_char_p, (_P,)),
        ("nb_payload_transport", c_int, (_P,)),
        ("nb_payload_data", c_void_p, (_P, POINTER(c_size_t))),
        ("nb_payload_path", c_char_p, (_P,)),
        ("nb_payload_url", c_char_p, (_P,)),
        ("nb_envelope_create", _S, (_PP,)),
        ("nb_envelope_destroy", None, (_P,)),
        ("nb_envelope_add_payload", _S, (_P, _PP)),
        ("nb_envelope_set_correlation_id", _S, (_P, c_char_p)),
        ("nb_envelope_set_msg_id", _S, (_P, c_char_p)),
        ("nb_envelope_set_msg_purpose", _S, (_P, c_char_p)),
        ("nb_envelope_set_sender_name", _S, (_P, c_char_p)),
        ("nb_envelope_set_sender_id", _S, (_P, c_char_p)),
        ("nb_envelope_set_receiver_name", _S, (_P, c_char_p)),
        ("nb_envelope_set_receiver_id", _S, (_P, c_char_p)),
        ("nb_envelope_set_reply_to", _S, (_P, c_char_p)),
        ("nb_envelope_set_reply_to_msg_id", _S, (_P, c_char_p)),
        ("nb_envelope_set_metadata_json", _S, (_P, c_char_p)),
        ("nb_envelope_payload_count", c_size_t, (_P,)),
        ("nb_envelope_payload", c_void_p, (_P, c_size_t)),
        ("nb_envelope_build", _S, (_P, c_char_p, _P)),
        ("nb_envelope_json", c_void_p, (_P, POINTER(c_size_t))),
        ("nb_envelope_parse", _S, (_PP, c_char_p, c_size_t, _P)),
        # client
        ("nb_client_connect", _S, (_PP, _P)),
        ("nb_client_destroy", None, (_P,)),
        ("nb_client_flush", _S, (_P, c_int64)),
        ("nb_client_confirm", _S, (_P, c_int64)),
        ("nb_client_max_payload", c_int64, (_P,)),
        ("nb_client_send", _S, (_P, c_char_p, _P)),
        ("nb_smartsend", _S, (c_char_p, _P, _P)),
        ("nb_client_receive", _S, (_P, c_char_p, c_size_t, _PP)),
        ("nb_client_subscribe", _S, (_P, _PP, c_char_p, c_char_p, ENVELOPE_CB, ERROR_CB, c_void_p)),
        ("nb_client_subscribe_sync", _S, (_P, _PP, c_char_p, c_char_p)),
        ("nb_subscription_next", _S, (_P, c_int64, _PP)),
        ("nb_subscription_destroy", None, (_P,)),
        ("nb_client_request", _S, (_P, c_char_p, _P, c_int64, _PP)),
        ("nb_client_reply", _S, (_P, _P, _P)),
        # seed-shaped sending
        ("nb_envelope_create_items", _S, (_PP, POINTER(Item), c_size_t, POINTER(SendFields))),
        ("nb_client_send_items", _S, (_P, c_char_p, POINTER(Item), c_size_t, POINTER(SendFields),
                                      _PP)),
        ("nb_smartsend_items", _S, (c_char_p, POINTER(Item), c_size_t, POINTER(SendFields), _P,
                                    _PP)),
        # the binding's own entry points (src/nats/binding_py.c): fewer crossings per message
        ("nb_py_envelope_view", _S, (_P, POINTER(PayloadView), c_size_t, POINTER(c_size_t))),
        ("nb_py_queue_subscribe", _S, (_P, _PP, c_char_p, c_char_p)),
        ("nb_py_queue_next", _S, (_P, c_int64, POINTER(Delivery), c_size_t, POINTER(c_size_t))),
        ("nb_py_queue_take", _S, (_P, c_int64, POINTER(Delivery), c_size_t, POINTER(c_size_t),
                                  c_void_p, c_size_t, POINTER(c_size_t))),
        ("nb_py_queue_close", None, (_P,)),
        ("nb_py_queue_destroy", None, (_P,)),
        # tables
        ("nb_table_from_json", _S, (_PP, c_char_p, c_size_t)),
        ("nb_table_destroy", None, (_P,)),
        ("nb_table_from_ipc", _S, (_PP, c_void_p, c_size_t)),
        ("nb_table_to_json", _S, (_P, POINTER(c_void_p), POINTER(c_size_t))),
        ("nb_table_to_ipc", _S, (_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t))),
        # JetStream
        ("nb_js_stream_ensure", _S, (_P, POINTER(JsStreamConfig), POINTER(c_bool))),
        ("nb_js_stream_info_get", _S, (_P, c_char_p, POINTER(POINTER(JsStreamInfo)))),
        ("nb_js_stream_info_destroy", None, (POINTER(JsStreamInfo),)),
        ("nb_js_stream_delete", _S, (_P, c_char_p)),
        ("nb_client_js_publish", _S, (_P, c_char_p, _P, POINTER(JsPublishOptions), POINTER(JsAck))),
        ("nb_js_consumer_create", _S, (_PP, _P, POINTER(JsConsumerConfig), JS_ENVELOPE_CB,
                                       JS_ERROR_CB, c_void_p)),
        ("nb_js_consumer_destroy", None, (_P,)),
        ("nb_js_consumer_delete", _S, (_P, c_char_p, c_char_p)),
        # Object Store
        ("nb_objstore_create", _S, (_PP, _P, POINTER(ObjstoreConfig))),
        ("nb_objstore_open", _S, (_PP, _P, c_char_p)),
        ("nb_objstore_destroy", None, (_P,)),
        ("nb_objstore_delete_bucket", _S, (_P, c_char_p)),
        ("nb_objstore_put_bytes", _S, (_P, c_char_p, c_void_p, c_size_t, POINTER(ObjectInfo))),
        ("nb_objstore_put_file", _S, (_P, c_char_p, c_char_p, POINTER(ObjectInfo))),
        ("nb_objstore_get_info", _S, (_P, c_char_p, POINTER(ObjectInfo))),
        ("nb_objstore_get_bytes", _S, (_P, c_char_p, c_uint64, POINTER(c_void_p), POINTER(c_size_t))),
        ("nb_objstore_get_file", _S, (_P, c_char_p, c_char_p)),
        ("nb_objstore_delete", _S, (_P, c_char_p)),
        ("nb_object_info_clear", None, (POINTER(ObjectInfo),)),
):
    _proto(_name, _res, *_args)
# nb_client_send_items for the small sends that keep the GIL (Client._send_items says when).
send_items_keeping_gil = _fast.nb_client_send_items
send_items_keeping_gil.restype = lib.nb_client_send_items.restype
send_items_keeping_gil.argtypes = lib.nb_client_send_items.argtypes

# malloc/free of the C library natsbridge uses: strings and bytes handed to it to own
# (upload results, downloaded bytes) must come from its allocator, and what it hands us to own
# (nb_table_to_json, nb_objstore_get_bytes) goes back to it.
libc = ctypes.CDLL(None)
libc.malloc.restype = c_void_p
libc.malloc.argtypes = [c_size_t]
libc.free.restype = None
libc.free.argtypes = [c_void_p]


def c_strdup(text):
    """A malloc'd NUL-terminated copy of text (str or bytes) that the library will free."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    p = libc.malloc(len(raw) + 1)
    if not p:
        raise MemoryError("natsbridge: malloc of %d bytes failed" % (len(raw) + 1))
    ctypes.memmove(p, raw + b"\0", len(raw) + 1)
    return p


def take_bytes(ptr, n):
    """Copies n bytes at ptr (malloc'd by the library) and frees them."""
    try:
        return ctypes.string_at(ptr, n) if n else b""
    finally:
        libc.free(ptr)


if sys.byteorder != "little":  # the Arrow and struct layouts above assume it
    raise ImportError("natsbridge: big-endian hosts are not supported")
