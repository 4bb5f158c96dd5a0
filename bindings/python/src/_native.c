/* SPDX-License-Identifier: MIT */
/*
 * _native.c - the Python binding's two hot paths as a CPython extension
 * (natsbridge._native): sending a list of (dataname, data, type) and turning a
 * batch of queued deliveries into Messages. Everything else, and these two
 * whenever the extension is missing (no compiler, another Python), stays in
 * the ctypes code of natsbridge/_core.py, which is also where every unusual
 * case goes from here: an item that is not a plain (str, str or bytes, str)
 * tuple is serialised by _core._item, a payload not in memory is read by
 * _core.Message, errors are made by _lib.error / _lib.last_error. So there is
 * one implementation of each rule and message; this file only skips the
 * interpreter where a ctypes call and its Python frames cost more than the C
 * work behind them (docs/BINDINGS.md, "The native extension").
 *
 * The library is not linked: bind() takes the path ctypes loaded and resolves
 * the few entry points from that same loaded copy (dlopen of an already loaded
 * path returns it), so the handles both sides pass around are one library's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "natsbridge.h"

/* Deliveries taken per queue call: as many as the ctypes path takes (_core._BATCH). The reader
 * holds the GIL from one call to the next while its callbacks run, and the sending thread
 * gives it back only every switch interval: 256 a call rather than 64 took a send + callback
 * process from 10.3 to 9.5 us of CPU per envelope. */
#define TAKE_BATCH 256
/* Items serialised on the stack; longer lists get a heap array. */
#define STACK_ITEMS 8
#define TYPE_COUNT 8

static struct {
    nb_status (*send_items)(nb_client *, const char *, const nb_item *, size_t,
                            const nb_send_fields *, nb_envelope **);
    const char *(*envelope_json)(const nb_envelope *, size_t *);
    void (*envelope_destroy)(nb_envelope *);
    size_t (*payload_count)(const nb_envelope *);
    const nb_payload *(*payload_at)(const nb_envelope *, size_t);
    const char *(*payload_dataname)(const nb_payload *);
    nb_type (*payload_type)(const nb_payload *);
    const uint8_t *(*payload_data)(const nb_payload *, size_t *);
    nb_status (*queue_next)(nb_py_queue *, int64_t, nb_py_delivery *, size_t, size_t *);
    const cJSON *(*envelope_metadata)(const nb_envelope *);
    const char *(*correlation_id)(const nb_envelope *), *(*msg_id)(const nb_envelope *),
        *(*timestamp)(const nb_envelope *), *(*send_to)(const nb_envelope *),
        *(*msg_purpose)(const nb_envelope *), *(*sender_name)(const nb_envelope *),
        *(*sender_id)(const nb_envelope *), *(*receiver_name)(const nb_envelope *),
        *(*receiver_id)(const nb_envelope *), *(*reply_to)(const nb_envelope *),
        *(*reply_to_msg_id)(const nb_envelope *), *(*broker_url)(const nb_envelope *);
    const char *(*payload_id)(const nb_payload *);
    const char *(*payload_type_name)(const nb_payload *);
    nb_transport (*payload_transport)(const nb_payload *);
    const char *(*payload_encoding)(const nb_payload *);
    uint64_t (*payload_size)(const nb_payload *);
    const cJSON *(*payload_metadata)(const nb_payload *);
} api;

/* What bind() was given by _core (strong references, kept for the interpreter's life). */
static PyObject *item_fn;      /* _core._item(n, item) -> (name bytes, raw bytes, code) */
static PyObject *error_fn;     /* _lib.error(status, message) -> exception */
static PyObject *last_error_fn; /* _lib.last_error(status) -> exception */
static PyObject *wire_fn;      /* _core._wire_dict(text) -> the wire envelope as a dict */
static PyObject *json_loads;   /* json.loads */
static PyObject *type_codes;   /* {"text": 0, ...}: every name nb_type_parse accepts that _core met */
static PyObject *type_names[TYPE_COUNT];
static bool bound;

/* The wire's keys and constant values, made once (PyDict_SetItemString would make and intern
 * each key again on every call: two thirds of a small send's cost). */
enum {
    K_CORRELATION_ID, K_MSG_ID, K_TIMESTAMP, K_SEND_TO, K_MSG_PURPOSE, K_SENDER_NAME,
    K_SENDER_ID, K_RECEIVER_NAME, K_RECEIVER_ID, K_REPLY_TO, K_REPLY_TO_MSG_ID, K_BROKER_URL,
    K_METADATA, K_PAYLOADS, K_ID, K_DATANAME, K_TYPE, K_TRANSPORT, K_ENCODING, K_SIZE, K_DATA,
    V_DIRECT, V_BASE64, A_KEEP_GIL_UNDER, A_CLOSED, A_PTR, A_VALUE, A_ENTER, A_LEAVE,
    WORD_COUNT
};
static const char *const word_text[WORD_COUNT] = {
    "correlation_id", "msg_id", "timestamp", "send_to", "msg_purpose", "sender_name",
    "sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id", "broker_url",
    "metadata", "payloads", "id", "dataname", "type", "transport", "encoding", "size", "data",
    "direct", "base64", "_keep_gil_under", "_closed", "_ptr", "value", "_enter", "_leave"};
static PyObject *words[WORD_COUNT];

/* The wire's envelope and payload dicts with their keys in order and None values: a copy of
 * one takes every key at once (filling an empty dict resizes it twice on the way). */
static PyObject *envelope_template, *payload_template;

static PyObject *template_of(int first, int last, int then)
{
    PyObject *d = PyDict_New();
    for (int i = first; d && i <= last; i++) {
        if (PyDict_SetItem(d, words[i], Py_None) != 0)
            Py_CLEAR(d);
    }
    if (d && then >= 0 && PyDict_SetItem(d, words[then], Py_None) != 0)
        Py_CLEAR(d);
    return d;
}

static int make_words(void)
{
    for (int i = 0; i < WORD_COUNT; i++) {
        if (!words[i] && !(words[i] = PyUnicode_InternFromString(word_text[i])))
            return -1;
    }
    envelope_template = template_of(K_CORRELATION_ID, K_PAYLOADS, -1);
    payload_template = template_of(K_ID, K_DATA, K_METADATA);
    return envelope_template && payload_template ? 0 : -1;
}

/* Sets d[words[key]] = value and drops value; -1 when either failed. */
static int put(PyObject *d, int key, PyObject *value)
{
    int rc = value ? PyDict_SetItem(d, words[key], value) : -1;
    Py_XDECREF(value);
    return rc;
}

/* put of a borrowed value. */
static int put_kept(PyObject *d, int key, PyObject *value)
{
    Py_INCREF(value);
    return put(d, key, value);
}

static int resolve(void *lib, void **slot, const char *name)
{
    *slot = dlsym(lib, name);
    if (!*slot) {
        PyErr_Format(PyExc_ImportError, "natsbridge._native: %s not in the loaded libnatsbridge "
                     "(built from another version?)", name);
        return -1;
    }
    return 0;
}

/* bind(library_path, item, error, last_error, wire_dict, json_loads, type_codes, type_names) */
static PyObject *native_bind(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    PyObject *item, *err, *last, *wire, *loads, *codes, *names;
    if (!PyArg_ParseTuple(args, "sOOOOOO!O!", &path, &item, &err, &last, &wire, &loads,
                          &PyDict_Type, &codes, &PyTuple_Type, &names))
        return NULL;
    if (PyTuple_GET_SIZE(names) != TYPE_COUNT)
        return PyErr_Format(PyExc_ValueError, "bind: %d type names expected", TYPE_COUNT);
    if (bound)
        Py_RETURN_NONE; /* a second import of _core (a reload) keeps the first binding */
    /* RTLD_NOLOAD: only the copy ctypes already loaded, never a second one. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!lib)
        return PyErr_Format(PyExc_ImportError, "natsbridge._native: %s is not loaded (%s)", path,
                            dlerror());
    struct { void **slot; const char *name; } table[] = {
        {(void **)&api.send_items, "nb_client_send_items"},
        {(void **)&api.envelope_json, "nb_envelope_json"},
        {(void **)&api.envelope_destroy, "nb_envelope_destroy"},
        {(void **)&api.payload_count, "nb_envelope_payload_count"},
        {(void **)&api.payload_at, "nb_envelope_payload"},
        {(void **)&api.payload_dataname, "nb_payload_dataname"},
        {(void **)&api.payload_type, "nb_payload_type"},
        {(void **)&api.payload_data, "nb_payload_data"},
        {(void **)&api.queue_next, "nb_py_queue_next"},
        {(void **)&api.envelope_metadata, "nb_envelope_metadata"},
        {(void **)&api.correlation_id, "nb_envelope_correlation_id"},
        {(void **)&api.msg_id, "nb_envelope_msg_id"},
        {(void **)&api.timestamp, "nb_envelope_timestamp"},
        {(void **)&api.send_to, "nb_envelope_send_to"},
        {(void **)&api.msg_purpose, "nb_envelope_msg_purpose"},
        {(void **)&api.sender_name, "nb_envelope_sender_name"},
        {(void **)&api.sender_id, "nb_envelope_sender_id"},
        {(void **)&api.receiver_name, "nb_envelope_receiver_name"},
        {(void **)&api.receiver_id, "nb_envelope_receiver_id"},
        {(void **)&api.reply_to, "nb_envelope_reply_to"},
        {(void **)&api.reply_to_msg_id, "nb_envelope_reply_to_msg_id"},
        {(void **)&api.broker_url, "nb_envelope_broker_url"},
        {(void **)&api.payload_id, "nb_payload_id"},
        {(void **)&api.payload_type_name, "nb_payload_type_name"},
        {(void **)&api.payload_transport, "nb_payload_transport"},
        {(void **)&api.payload_encoding, "nb_payload_encoding"},
        {(void **)&api.payload_size, "nb_payload_size"},
        {(void **)&api.payload_metadata, "nb_payload_metadata"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (resolve(lib, table[i].slot, table[i].name) != 0) {
            dlclose(lib);
            return NULL;
        }
    }
    /* The handle stays open: the library must outlive every pointer taken from it. */
    PyObject *keep[] = {item, err, last, wire, loads, codes};
    PyObject **slots[] = {&item_fn, &error_fn, &last_error_fn, &wire_fn, &json_loads, &type_codes};
    for (size_t i = 0; i < 6; i++) {
        Py_INCREF(keep[i]);
        *slots[i] = keep[i];
    }
    for (int i = 0; i < TYPE_COUNT; i++) {
        type_names[i] = PyTuple_GET_ITEM(names, i);
        Py_INCREF(type_names[i]);
    }
    if (make_words() != 0)
        return NULL;
    bound = true;
    Py_RETURN_NONE;
}

/* Raises the exception fn(args...) returns (NULL, as a C function that raised). */
static PyObject *raise_made(PyObject *exc)
{
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *raise_last_error(nb_status s)
{
    return raise_made(PyObject_CallFunction(last_error_fn, "i", (int)s));
}

/* The items of a send, and what keeps their bytes alive until the call returns. */
typedef struct {
    nb_item stack[STACK_ITEMS];
    nb_item *items;
    size_t count;   /* items read: the list's length when the reading began */
    PyObject *keep; /* what their bytes belong to: the items, and _core._item's results */
    size_t size;
} send_items;

/* The plain case read in place: (str, str, "text") or (str, bytes, type). 1 when done, 0 when
 * _core._item must do it, -1 on a Python error. */
static int item_in_place(PyObject *item, nb_item *out)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3)
        return 0;
    PyObject *name = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
    PyObject *tname = PyTuple_GET_ITEM(item, 2);
    if (!PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(tname))
        return 0;
    PyObject *code = PyDict_GetItemWithError(type_codes, tname);
    if (!code)
        return PyErr_Occurred() ? -1 : 0;
    long t = PyLong_AsLong(code);
    if (t < 0 || t >= TYPE_COUNT)
        return PyErr_Occurred() ? -1 : 0;
    Py_ssize_t len;
    if (PyBytes_CheckExact(value)) {
        out->data = PyBytes_AS_STRING(value);
        len = PyBytes_GET_SIZE(value);
    } else if (PyUnicode_CheckExact(value) && (t == NB_TYPE_TEXT || t == NB_TYPE_DICTIONARY ||
                                               t == NB_TYPE_JSONTABLE)) {
        out->data = PyUnicode_AsUTF8AndSize(value, &len); /* cached in the str */
        if (!out->data)
            return -1;
    } else {
        return 0;
    }
    out->dataname = PyUnicode_AsUTF8(name);
    if (!out->dataname)
        return -1;
    out->len = (size_t)len;
    out->type = (nb_type)t;
    return 1;
}

/* Everything else through _core._item (its checks, serialisers and error messages). */
static int item_from_python(send_items *si, Py_ssize_t n, PyObject *item, nb_item *out)
{
    if (!si->keep && !(si->keep = PyList_New(0)))
        return -1;
    PyObject *r = PyObject_CallFunction(item_fn, "nO", n, item);
    if (!r)
        return -1;
    int rc = PyList_Append(si->keep, r);
    Py_DECREF(r);
    if (rc != 0)
        return -1;
    PyObject *name, *raw;
    int code;
    if (!PyArg_ParseTuple(r, "SSi", &name, &raw, &code))
        return -1;
    out->dataname = PyBytes_AS_STRING(name);
    out->data = PyBytes_AS_STRING(raw);
    out->len = (size_t)PyBytes_GET_SIZE(raw);
    out->type = (nb_type)code;
    return 0;
}

static int items_from_list(send_items *si, PyObject *data)
{
    Py_ssize_t n = PyList_GET_SIZE(data);
    si->items = si->stack;
    if (n > STACK_ITEMS && !(si->items = PyMem_Calloc((size_t)n, sizeof(nb_item)))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* A list may change under a Python call (_item): read it by index every time. */
        if (i >= PyList_GET_SIZE(data)) {
            PyErr_SetString(PyExc_RuntimeError, "send: the data list changed during the call");
            return -1;
        }
        PyObject *item = PyList_GET_ITEM(data, i);
        Py_INCREF(item);
        int rc = item_in_place(item, &si->items[i]);
        if (rc == 0)
            rc = item_from_python(si, i, item, &si->items[i]) == 0 ? 1 : -1;
        else if (rc == 1 && (!si->keep && !(si->keep = PyList_New(0))))
            rc = -1;
        if (rc == 1 && PyList_Append(si->keep, item) != 0) /* the str/bytes it points into */
            rc = -1;
        Py_DECREF(item);
        if (rc < 0)
            return -1;
        si->size += si->items[i].len;
    }
    si->count = (size_t)n; /* a list grown by a Python call meanwhile sends what was read */
    return 0;
}

static void items_release(send_items *si)
{
    if (si->items && si->items != si->stack)
        PyMem_Free(si->items);
    Py_XDECREF(si->keep);
}

static PyObject *str_of(const char *s)
{
    return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0, "strict");
}


/* True when the wire dict can be made from the envelope's fields here: every payload direct,
 * base64 and in memory, and no metadata anywhere (metadata would need a JSON parser
 * here; the wire text's parser does those, and anything else unusual). */
static bool buildable(const nb_envelope *env)
{
    if (api.envelope_metadata(env)->child)
        return false;
    size_t n = api.payload_count(env);
    for (size_t i = 0; i < n; i++) {
        const nb_payload *p = api.payload_at(env, i);
        size_t len = 0;
        if (api.payload_transport(p) != NB_TRANSPORT_DIRECT ||
            strcmp(api.payload_encoding(p), "base64") != 0 || api.payload_metadata(p)->child ||
            !api.payload_data(p, &len))
            return false;
    }
    return true;
}

/* Where the wire text's next payload data is: the base64 of a direct payload, copied as it
 * travelled rather than encoded a second time. With no metadata anywhere (buildable), the
 * key ,"data":" appears once per payload and nowhere else: inside a JSON string every quote
 * is escaped. */
typedef struct {
    const char *at, *end;
} wire_cursor;

#define DATA_KEY ",\"data\":\""

/* The next payload's base64 text, of the length len bytes encode to, as a str; NULL without an
 * exception set when the wire text is not as expected (the caller then parses all of it). */
static PyObject *next_data(wire_cursor *c, size_t len)
{
    const size_t key = sizeof DATA_KEY - 1, b64 = (len + 2) / 3 * 4;
    for (const char *p = c->at; p && (size_t)(c->end - p) > key + b64;
         p = memchr(p + 1, ',', (size_t)(c->end - p - 1))) {
        if (*p == ',' && memcmp(p, DATA_KEY, key) == 0) {
            const char *data = p + key;
            if (data[b64] != '"')
                return NULL;
            c->at = data + b64;
            return PyUnicode_DecodeASCII(data, (Py_ssize_t)b64, "strict");
        }
    }
    return NULL;
}

/* One payload as the wire has it: id, dataname, type, transport, encoding, size, data, metadata.
 * NULL without an exception set: see next_data. */
static PyObject *wire_payload(const nb_payload *p, wire_cursor *c)
{
    size_t len = 0;
    api.payload_data(p, &len);
    PyObject *text = next_data(c, len);
    PyObject *d = text ? PyDict_Copy(payload_template) : NULL;
    bool bad = !d || put(d, K_ID, str_of(api.payload_id(p))) ||
               put(d, K_DATANAME, str_of(api.payload_dataname(p))) ||
               put(d, K_TYPE, str_of(api.payload_type_name(p))) ||
               put_kept(d, K_TRANSPORT, words[V_DIRECT]) ||
               put_kept(d, K_ENCODING, words[V_BASE64]) ||
               put(d, K_SIZE, PyLong_FromUnsignedLongLong(api.payload_size(p))) ||
               put_kept(d, K_DATA, text) || put(d, K_METADATA, PyDict_New());
    Py_XDECREF(text);
    if (bad) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* The 14 fields in the wire's order, from the envelope's accessors and its wire text json (see
 * buildable); NULL without an exception set when the text is not as expected. */
static PyObject *wire_built(const nb_envelope *env, const char *json, size_t json_len)
{
    /* In the order of K_CORRELATION_ID .. K_BROKER_URL. */
    const char *(*const fields[])(const nb_envelope *) = {api.correlation_id, api.msg_id,
        api.timestamp, api.send_to, api.msg_purpose, api.sender_name, api.sender_id,
        api.receiver_name, api.receiver_id, api.reply_to, api.reply_to_msg_id, api.broker_url};
    PyObject *d = PyDict_Copy(envelope_template);
    for (int i = 0; d && i <= K_BROKER_URL; i++) {
        if (put(d, i, str_of(fields[i](env))) != 0)
            Py_CLEAR(d);
    }
    size_t n = api.payload_count(env);
    PyObject *payloads = d ? PyList_New((Py_ssize_t)n) : NULL;
    wire_cursor c = {json, json + json_len};
    for (size_t i = 0; payloads && i < n; i++) {
        PyObject *p = wire_payload(api.payload_at(env, i), &c);
        if (!p)
            Py_CLEAR(payloads);
        else
            PyList_SET_ITEM(payloads, (Py_ssize_t)i, p);
    }
    if (!payloads || put(d, K_METADATA, PyDict_New()) || put(d, K_PAYLOADS, payloads)) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* The sent envelope as a dict, as _core._wire_dict would read its wire text; takes env. */
static PyObject *wire_dict(nb_envelope *env)
{
    size_t len = 0;
    const char *json = api.envelope_json(env, &len);
    if (json && buildable(env)) {
        PyObject *d = wire_built(env, json, len);
        if (d || PyErr_Occurred()) {
            api.envelope_destroy(env);
            return d;
        }
    }
    PyObject *text = json ? PyUnicode_DecodeUTF8(json, (Py_ssize_t)len, "strict") : NULL;
    api.envelope_destroy(env);
    if (!json)
        return PyErr_Format(PyExc_RuntimeError, "natsbridge: the envelope has no JSON text");
    if (!text)
        return NULL;
    PyObject *d = PyObject_CallOneArg(wire_fn, text);
    Py_DECREF(text);
    return d;
}

/* The nb_client of a natsbridge.Client (its _ptr, a c_void_p), NULL with an exception set. */
static nb_client *client_pointer(PyObject *ptr)
{
    PyObject *value = ptr ? PyObject_GetAttr(ptr, words[A_VALUE]) : NULL;
    if (!value)
        return NULL;
    nb_client *c = value == Py_None ? NULL : PyLong_AsVoidPtr(value);
    Py_DECREF(value);
    if (!c && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "natsbridge: the client has no connection");
    return c;
}

/* nb_client_send_items on a natsbridge.Client, as Client._call would make it. A send of fewer
 * payload bytes than the client's _keep_gil_under only encodes and appends to nats.c's buffer:
 * it keeps the GIL (releasing it per message would hand it to a receiving thread and back every
 * time), and needs no _enter/_leave, because no other thread can run, and so none can close
 * the client, between the check of _closed and the send's return. A bigger one may upload
 * links: it goes through _enter/_leave (close() waits for it) with the GIL released. */
static nb_status send_on_client(PyObject *client, const char *subject, send_items *si, size_t n,
                                nb_envelope **out, bool *raised)
{
    *raised = true;
    PyObject *limit = PyObject_GetAttr(client, words[A_KEEP_GIL_UNDER]);
    Py_ssize_t keep_gil_under = limit ? PyLong_AsSsize_t(limit) : -1;
    Py_XDECREF(limit);
    if (keep_gil_under < 0 && PyErr_Occurred())
        return NB_INTERNAL;
    nb_status s;
    if (si->size < (size_t)keep_gil_under) {
        PyObject *closed = PyObject_GetAttr(client, words[A_CLOSED]);
        int is_closed = closed ? PyObject_IsTrue(closed) : -1;
        Py_XDECREF(closed);
        PyObject *ptr = is_closed == 0 ? PyObject_GetAttr(client, words[A_PTR]) : NULL;
        if (is_closed == 1) { /* _enter raises the closed client's error */
            Py_XDECREF(PyObject_CallMethodNoArgs(client, words[A_ENTER]));
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "natsbridge: the client is closed");
            return NB_INTERNAL;
        }
        nb_client *c = ptr ? client_pointer(ptr) : NULL;
        Py_XDECREF(ptr);
        if (!c)
            return NB_INTERNAL;
        *raised = false;
        return api.send_items(c, subject, si->items, n, NULL, out);
    }
    PyObject *ptr = PyObject_CallMethodNoArgs(client, words[A_ENTER]);
    nb_client *c = ptr ? client_pointer(ptr) : NULL;
    Py_XDECREF(ptr);
    if (!c)
        return NB_INTERNAL; /* (_enter raised, or the pointer was unreadable) */
    Py_BEGIN_ALLOW_THREADS
    s = api.send_items(c, subject, si->items, n, NULL, out);
    Py_END_ALLOW_THREADS
    PyObject *r = PyObject_CallMethodNoArgs(client, words[A_LEAVE]);
    if (!r) {
        if (out && *out)
            api.envelope_destroy(*out);
        return NB_INTERNAL;
    }
    Py_DECREF(r);
    *raised = false;
    return s;
}

/* send(client, subject, data, want_wire): Client.send/publish of data, a list of (dataname,
 * data, type), with no envelope field set. Returns the sent envelope as a dict when want_wire,
 * else None. */
static PyObject *native_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 4 || !PyUnicode_CheckExact(args[1]) || !PyList_CheckExact(args[2]))
        return PyErr_Format(PyExc_TypeError, "send(client, subject: str, data: list, want_wire)");
    const char *subject = PyUnicode_AsUTF8(args[1]);
    int want_wire = PyObject_IsTrue(args[3]);
    if (!bound)
        return PyErr_Format(PyExc_RuntimeError, "natsbridge._native: not bound");
    if (!subject || want_wire < 0)
        return NULL;
    send_items si = {.items = NULL};
    if (items_from_list(&si, args[2]) != 0) {
        items_release(&si);
        return NULL;
    }
    nb_envelope *env = NULL;
    bool raised;
    nb_status s = send_on_client(args[0], subject, &si, si.count, want_wire ? &env : NULL,
                                 &raised);
    items_release(&si);
    if (raised)
        return NULL;
    if (s != NB_OK)
        return raise_last_error(s);
    if (!want_wire)
        Py_RETURN_NONE;
    return wire_dict(env);
}

/* A payload's bytes typed as the seed's Python does (text str, dictionary and jsontable
 * parsed, else bytes): _core._value's rule. */
static PyObject *payload_value(nb_type t, const uint8_t *data, size_t len)
{
    if (t == NB_TYPE_TEXT)
        return PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)len, "strict");
    PyObject *raw = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
    if (!raw || (t != NB_TYPE_DICTIONARY && t != NB_TYPE_JSONTABLE))
        return raw;
    PyObject *v = PyObject_CallOneArg(json_loads, raw);
    Py_DECREF(raw);
    return v;
}

/* True when every payload of env is in memory with a known type: the values are made here.
 * Otherwise (a file, a link not fetched) _core.Message reads them. */
static bool values_in_memory(const nb_envelope *env)
{
    size_t n = api.payload_count(env);
    for (size_t i = 0; i < n; i++) {
        const nb_payload *p = api.payload_at(env, i);
        size_t len;
        unsigned t = (unsigned)api.payload_type(p);
        if (!api.payload_data(p, &len) || t >= TYPE_COUNT)
            return false;
    }
    return true;
}

/* [(dataname, value, type name)] of env; NULL with an exception set. */
static PyObject *payload_values(const nb_envelope *env)
{
    size_t n = api.payload_count(env);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        const nb_payload *p = api.payload_at(env, i);
        size_t len = 0;
        const uint8_t *data = api.payload_data(p, &len);
        nb_type t = api.payload_type(p);
        const char *dn = api.payload_dataname(p);
        PyObject *name = PyUnicode_DecodeUTF8(dn, (Py_ssize_t)strlen(dn), "strict");
        PyObject *value = name ? payload_value(t, data, len) : NULL;
        PyObject *tuple = value ? PyTuple_Pack(3, name, value, type_names[t]) : NULL;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (!tuple) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, tuple);
    }
    return list;
}

/* The exception now set, taken out of the error state (an object to queue). */
static PyObject *take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Envelope: a received nb_envelope owned by its Message, freed when the last reference to it
 * goes (a Python __del__ per Message cost more than the free); ctypes passes it as the pointer
 * (_as_parameter_), as it does _core._Owned, its twin for the envelopes ctypes receives. */
typedef struct {
    PyObject_HEAD
    nb_envelope *env;
} envelope_object;

static void envelope_dealloc(PyObject *self)
{
    api.envelope_destroy(((envelope_object *)self)->env);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *envelope_pointer(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromVoidPtr(((envelope_object *)self)->env);
}

static PyGetSetDef envelope_getset[] = {
    {"_as_parameter_", envelope_pointer, NULL, "the nb_envelope * (for ctypes)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject envelope_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "natsbridge._native.Envelope",
    .tp_doc = "A received envelope, freed with its last reference.",
    .tp_basicsize = sizeof(envelope_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = envelope_dealloc,
    .tp_getset = envelope_getset,
};

/* A new Envelope owning env; env is freed when that fails. */
static PyObject *envelope_own(nb_envelope *env)
{
    envelope_object *o = PyObject_New(envelope_object, &envelope_type);
    if (!o) {
        api.envelope_destroy(env);
        return NULL;
    }
    o->env = env;
    return (PyObject *)o;
}

/* What one delivery becomes: a Message, or the exception saying why there is none. Every
 * envelope is wrapped or freed, whatever fails (as _core._Batch.unpack does). */
static PyObject *delivery_object(const nb_py_delivery *d, PyObject *client, PyObject *message)
{
    if (!d->env) {
        PyObject *text = PyUnicode_DecodeUTF8(d->message, (Py_ssize_t)strlen(d->message),
                                              "replace");
        PyObject *exc = text ? PyObject_CallFunction(error_fn, "iO", d->status, text) : NULL;
        Py_XDECREF(text);
        return exc;
    }
    PyObject *handle = envelope_own(d->env); /* frees the envelope whatever fails below */
    if (!handle)
        return NULL;
    PyObject *msg;
    if (!values_in_memory(d->env)) { /* _core.Message reads them */
        msg = PyObject_CallFunctionObjArgs(message, handle, client, NULL);
    } else {
        PyObject *values = payload_values(d->env);
        msg = values ? PyObject_CallFunctionObjArgs(message, handle, client, values, NULL) : NULL;
        Py_XDECREF(values);
    }
    Py_DECREF(handle);
    return msg;
}

/* Hands take's n deliveries to append, as Messages or exceptions; false (an exception set, the
 * rest freed) when even that failed. */
static bool deliver_taken(nb_py_delivery *d, size_t n, PyObject *client, PyObject *message,
                               PyObject *append)
{
    for (size_t i = 0; i < n; i++) {
        PyObject *obj = delivery_object(&d[i], client, message);
        if (!obj)
            obj = take_exception();
        PyObject *r = obj ? PyObject_CallOneArg(append, obj) : NULL;
        Py_XDECREF(obj);
        if (!r) { /* cannot even queue it (no memory): free the rest, report this */
            for (size_t j = i + 1; j < n; j++)
                api.envelope_destroy(d[j].env);
            return false;
        }
        Py_DECREF(r);
    }
    return true;
}

/* take(queue, timeout_ms, client, Message, ready): moves up to TAKE_BATCH queued deliveries into
 * ready.append (Messages, or exceptions for the ones that failed), waiting up to timeout_ms
 * (< 0: forever) for the first, with the GIL released while taking. Returns the
 * queue's status: 0, NB_TIMEOUT, or another (nb_last_error() says why). */
static PyObject *native_take(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 5)
        return PyErr_Format(PyExc_TypeError, "take(queue, timeout_ms, client, Message, append)");
    nb_py_queue *q = PyLong_AsVoidPtr(args[0]);
    long long timeout_ms = PyLong_AsLongLong(args[1]);
    PyObject *client = args[2], *message = args[3], *append = args[4];
    if (PyErr_Occurred())
        return NULL;
    if (!bound)
        return PyErr_Format(PyExc_RuntimeError, "natsbridge._native: not bound");
    /* On the heap (135 KB: more than a thread made with a small threading.stack_size has),
     * and per call: two subscriptions may be read by two threads at once. */
    nb_py_delivery *d = PyMem_RawMalloc(TAKE_BATCH * sizeof *d);
    if (!d)
        return PyErr_NoMemory();
    size_t n = 0;
    /* Without the GIL even when something is queued: taking a message decodes it, and may
     * fetch its links. */
    nb_status s;
    Py_BEGIN_ALLOW_THREADS
    s = api.queue_next(q, timeout_ms, d, TAKE_BATCH, &n);
    Py_END_ALLOW_THREADS
    bool ok = deliver_taken(d, n, client, message, append);
    PyMem_RawFree(d);
    return ok ? PyLong_FromLong((long)s) : NULL;
}

static PyMethodDef methods[] = {
    {"bind", native_bind, METH_VARARGS,
     "bind(library_path, item, error, last_error, wire_dict, json_loads, type_codes, "
     "type_names): resolves libnatsbridge (already loaded) and takes _core's helpers."},
    {"send", (PyCFunction)(void (*)(void))native_send, METH_FASTCALL,
     "send(client, subject, data, want_wire): Client.send/publish through nb_client_send_items."},
    {"take", (PyCFunction)(void (*)(void))native_take, METH_FASTCALL,
     "take(queue, timeout_ms, client, Message, append): a batch of deliveries."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "natsbridge._native",
    "The natsbridge Python binding's hot paths in C (optional: natsbridge works without it).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&envelope_type) != 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    Py_INCREF(&envelope_type); /* (PyModule_AddObjectRef is 3.10+) */
    if (m && PyModule_AddObject(m, "Envelope", (PyObject *)&envelope_type) == 0)
        return m;
    Py_DECREF(&envelope_type);
    Py_XDECREF(m);
    return NULL;
}
