/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the client's life (connect, close, finalizer) and every blocking
 * call as napi_async_work: the C call runs on libuv's thread pool, its result
 * (or nb_last_error() of that thread, copied there) settles a promise on the
 * main thread.
 */
#include "nbnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nbn_work nbn_work; /* one operation on the thread pool, below */

#define CLIENT_MAGIC 0x4e42434cu /* "NBCL": tells a client handle from any other external */

/* A client struct starts with its magic, so that a wrong handle is refused. */
typedef struct client_box {
    uint32_t magic;
    nbn_client cl;
    napi_ref self; /* weak; made strong while an operation or the close runs */
} client_box;

struct nbn_work {
    napi_async_work work;
    napi_deferred deferred;
    client_box *box;                       /* NULL for calls without a client */
    void (*exec)(nbn_work *w);             /* worker thread: sets st (and err) */
    napi_value (*result)(napi_env env, nbn_work *w); /* main thread, on NB_OK */
    nb_status st;
    char err[1024];
    /* what the operations take and give; each uses a few */
    char *subject, *name, *bucket;
    nb_envelope *env, *out;
    nb_options *opts;
    uint8_t *bytes;
    size_t len;
    int64_t timeout_ms;
    nb_js_ack ack;
    nb_js_publish_options po;
    nb_js_stream_config scfg;
    char **subjects;
    bool created;
    nb_client *connected;
    size_t threshold; /* connect: the options' size threshold */
    nbn_message msg; /* the message of send, smartsend, request, jsPublish */
    /* sendMany: n envelopes sent in order, each with its own outcome */
    size_t n;
    char **bsubjects;
    nbn_message *msgs;
    nb_envelope **envs;
    nb_status *sts;
    char **errs;
};

static client_box *box_of(nbn_client *cl)
{
    return (client_box *)((char *)cl - offsetof(client_box, cl));
}

/* ---- the work queue ----------------------------------------------------- */

static void work_free(nbn_work *w)
{
    free(w->subject);
    free(w->name);
    free(w->bucket);
    nb_envelope_destroy(w->env);
    nb_envelope_destroy(w->out);
    nb_options_destroy(w->opts);
    free(w->bytes);
    if (w->subjects)
        for (size_t i = 0; i < w->scfg.subject_count; i++)
            free(w->subjects[i]);
    free(w->subjects);
    free((char *)w->scfg.name);
    free((char *)w->po.expect_stream);
    nb_client_destroy(w->connected);
    for (size_t i = 0; i < w->n; i++) {
        if (w->bsubjects)
            free(w->bsubjects[i]);
        if (w->envs)
            nb_envelope_destroy(w->envs[i]);
        if (w->msgs)
            nbn_message_free(&w->msgs[i]);
        if (w->errs)
            free(w->errs[i]);
    }
    free(w->bsubjects);
    free(w->msgs);
    nbn_message_free(&w->msg);
    free(w->envs);
    free(w->sts);
    free(w->errs);
    free(w);
}

static void work_execute(napi_env env, void *data)
{
    (void)env;
    nbn_work *w = data;
    w->exec(w);
    if (w->st != NB_OK && !w->err[0]) /* the message is per thread: copy it on this one */
        snprintf(w->err, sizeof w->err, "%s", nb_last_error());
}

static void work_complete(napi_env env, napi_status status, void *data)
{
    nbn_work *w = data;
    napi_value v = NULL;
    if (status == napi_ok && w->st == NB_OK) {
        v = w->result ? w->result(env, w) : nbn_undefined(env);
        if (!v) { /* building the result threw: reject with that exception */
            napi_get_and_clear_last_exception(env, &v);
            napi_reject_deferred(env, w->deferred, v);
        } else {
            napi_resolve_deferred(env, w->deferred, v);
        }
    } else {
        nb_status s = status == napi_ok ? w->st : NB_INTERNAL;
        napi_reject_deferred(env, w->deferred, nbn_error_value(env, s, w->err));
    }
    napi_delete_async_work(env, w->work);
    if (w->box)
        nbn_client_op_end(env, &w->box->cl);
    work_free(w);
}

/* A new work item on box (NULL: none), counted as one of its operations. */
static nbn_work *work_new(napi_env env, client_box *box, void (*exec)(nbn_work *),
                          napi_value (*result)(napi_env, nbn_work *))
{
    nbn_work *w = calloc(1, sizeof *w);
    if (!w) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory starting an operation");
        return NULL;
    }
    if (box && !nbn_client_op_begin(env, &box->cl)) {
        free(w);
        return NULL;
    }
    w->box = box;
    w->exec = exec;
    w->result = result;
    return w;
}

/* Queues w and returns its promise; on failure w is freed and NULL returned (thrown). */
static napi_value work_queue(napi_env env, nbn_work *w, const char *name)
{
    napi_value promise, rname;
    if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
        napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &rname) != napi_ok ||
        napi_create_async_work(env, NULL, rname, work_execute, work_complete, w, &w->work) !=
            napi_ok ||
        napi_queue_async_work(env, w->work) != napi_ok) {
        nbn_throw_napi(env, name);
        if (w->box)
            nbn_client_op_end(env, &w->box->cl);
        work_free(w); /* a created deferred is left pending; the promise is garbage */
        return NULL;
    }
    return promise;
}

/* ---- the client's life -------------------------------------------------- */

bool nbn_client_op_begin(napi_env env, nbn_client *cl)
{
    if (cl->closing || !cl->c) {
        nbn_throw(env, NB_INVALID_ARG, "the client is closed (close() was called)");
        return false;
    }
    cl->ops++;
    napi_reference_ref(env, box_of(cl)->self, NULL);
    return true;
}

static void start_close(napi_env env, nbn_client *cl);

void nbn_client_op_end(napi_env env, nbn_client *cl)
{
    cl->ops--;
    if (cl->closing && cl->ops == 0 && !cl->close_started)
        start_close(env, cl);
    napi_reference_unref(env, box_of(cl)->self, NULL);
}

nbn_client *nbn_client_get(napi_env env, napi_value handle, bool allow_closed)
{
    client_box *box = NULL;
    if (napi_get_value_external(env, handle, (void **)&box) != napi_ok || !box ||
        box->magic != CLIENT_MAGIC) {
        nbn_throw(env, NB_INVALID_ARG, "not a natsbridge client handle");
        return NULL;
    }
    if (!allow_closed && (box->cl.closing || !box->cl.c)) {
        nbn_throw(env, NB_INVALID_ARG, "the client is closed (close() was called)");
        return NULL;
    }
    return &box->cl;
}

void nbn_client_unref(nbn_client *cl)
{
    if (--cl->refs > 0)
        return;
    client_box *box = box_of(cl);
    /* Still open: nothing else holds it (every user keeps the handle alive), so closing
     * here on the main thread is the garbage collector's close. */
    nb_client_destroy(cl->c);
    free(cl->closers);
    free(cl->subs);
    box->magic = 0;
    free(box);
}

static void client_finalize(napi_env env, void *data, void *hint)
{
    (void)hint;
    client_box *box = data;
    napi_delete_reference(env, box->self);
    box->self = NULL;
    nbn_client_unref(&box->cl);
}

/* The close: subscriptions and consumers first, then the connection (worker thread). */
static void exec_close(nbn_work *w)
{
    nbn_client *cl = &w->box->cl;
    nbn_subs_stop_all(cl);
    nb_client_destroy(cl->c);
    w->st = NB_OK;
}

static void close_complete(napi_env env, napi_status status, void *data)
{
    (void)status;
    nbn_work *w = data;
    nbn_client *cl = &w->box->cl;
    cl->c = NULL;
    nbn_subs_release_all(cl);
    for (size_t i = 0; i < cl->closer_count; i++)
        napi_resolve_deferred(env, cl->closers[i], nbn_undefined(env));
    cl->closer_count = 0;
    napi_delete_async_work(env, w->work);
    napi_reference_unref(env, w->box->self, NULL);
    work_free(w);
}

static void start_close(napi_env env, nbn_client *cl)
{
    nbn_work *w = calloc(1, sizeof *w);
    napi_value name;
    cl->close_started = true;
    if (w) {
        w->box = box_of(cl);
        w->exec = exec_close;
    }
    if (!w || napi_create_string_utf8(env, "natsbridge.close", NAPI_AUTO_LENGTH, &name) !=
                  napi_ok ||
        napi_create_async_work(env, NULL, name, work_execute, close_complete, w, &w->work) !=
            napi_ok) {
        free(w); /* cannot happen short of memory: reject the waiting close() calls */
        for (size_t i = 0; i < cl->closer_count; i++)
            napi_reject_deferred(env, cl->closers[i],
                                 nbn_error_value(env, NB_NO_MEMORY, "could not start the close"));
        cl->closer_count = 0;
        return;
    }
    napi_reference_ref(env, w->box->self, NULL);
    napi_queue_async_work(env, w->work);
}

/* close(handle): waits for running operations, stops subscriptions, disconnects. Twice is fine. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], promise;
    napi_deferred d;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    nbn_client *cl = nbn_client_get(env, argv[0], true);
    if (!cl)
        return NULL;
    NBN_CALL(env, napi_create_promise(env, &d, &promise));
    if (!cl->c) { /* already closed */
        napi_resolve_deferred(env, d, nbn_undefined(env));
        return promise;
    }
    napi_deferred *grown = realloc(cl->closers, (cl->closer_count + 1) * sizeof *grown);
    if (!grown) {
        napi_reject_deferred(env, d, nbn_error_value(env, NB_NO_MEMORY, "out of memory"));
        return promise;
    }
    cl->closers = grown;
    cl->closers[cl->closer_count++] = d;
    if (!cl->closing) {
        cl->closing = true;
        if (cl->ops == 0)
            start_close(env, cl);
    }
    return promise;
}

/* ---- connect ------------------------------------------------------------ */

static void exec_connect(nbn_work *w)
{
    w->st = nb_client_connect(&w->connected, w->opts);
}

static napi_value result_connect(napi_env env, nbn_work *w)
{
    client_box *box = calloc(1, sizeof *box);
    napi_value handle;
    if (!box)
        return nbn_throw(env, NB_NO_MEMORY, "out of memory making a client");
    box->magic = CLIENT_MAGIC;
    box->cl.c = w->connected;
    box->cl.refs = 1;
    box->cl.threshold = w->threshold;
    if (napi_create_external(env, box, client_finalize, NULL, &handle) != napi_ok) {
        free(box);
        nbn_throw_napi(env, "napi_create_external");
        return NULL;
    }
    w->connected = NULL; /* the handle owns it now */
    napi_create_reference(env, handle, 0, &box->self);
    return handle;
}

static napi_value js_connect(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    nbn_work *w = work_new(env, NULL, exec_connect, result_connect);
    if (!w)
        return NULL;
    w->opts = nbn_options_from(env, argc ? argv[0] : NULL);
    double t = 0;
    bool has_t = false;
    if (!w->opts || !nbn_prop_number(env, argc ? argv[0] : NULL, "sizeThreshold", &t, &has_t)) {
        work_free(w);
        return NULL;
    }
    /* Validated by nbn_options_from; kept so that sendNow knows which sends upload nothing. */
    w->threshold = has_t ? (size_t)t : NB_DEFAULT_SIZE_THRESHOLD;
    return work_queue(env, w, "natsbridge.connect");
}

/* ---- sending ------------------------------------------------------------ */

/* The wire JSON of a built envelope as a JS string (NULL: thrown). */
static napi_value sent_json(napi_env env, const nb_envelope *e)
{
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    if (!json)
        return nbn_throw(env, NB_INTERNAL, "the sent envelope has no wire JSON");
    return nbn_text(env, json, len);
}

static napi_value result_sent_json(napi_env env, nbn_work *w)
{
    return sent_json(env, w->env);
}

/* Builds w->env from w->msg (worker thread); false with w->st and w->err set on failure. */
static bool build(nbn_work *w)
{
    w->st = nbn_message_build(&w->msg, &w->env, w->err, sizeof w->err);
    return w->st == NB_OK;
}

/*
 * Builds m into *e and sends it on subject (any thread): the one path of send, sendNow and
 * sendMany. On failure err gets the message; *e is left for the caller to destroy.
 */
static nb_status build_and_send(nb_client *c, const char *subject, const nbn_message *m,
                                nb_envelope **e, char *err, size_t errsz)
{
    nb_status s = nbn_message_build(m, e, err, errsz);
    if (s == NB_OK && (s = nb_client_send(c, subject, *e)) != NB_OK)
        snprintf(err, errsz, "%s", nb_last_error());
    return s;
}

static void exec_send(nbn_work *w)
{
    w->st = build_and_send(w->box->cl.c, w->subject, &w->msg, &w->env, w->err, sizeof w->err);
}

/* Fills w->subject and w->msg from (subject, items, fields) at argv[i..]; false when it threw. */
static bool take_message(napi_env env, nbn_work *w, napi_value *argv, size_t i)
{
    w->subject = nbn_string(env, argv[i], "subject");
    return w->subject && nbn_message_take(env, argv[i + 1], argv[i + 2], &w->msg);
}

/* Parses the arguments into a work item on the client of argv[0]; NULL when it threw. */
static nbn_work *client_work(napi_env env, napi_callback_info info, size_t want,
                             napi_value *argv, void (*exec)(nbn_work *),
                             napi_value (*result)(napi_env, nbn_work *))
{
    size_t argc = want;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
        nbn_throw_napi(env, "napi_get_cb_info");
        return NULL;
    }
    for (size_t i = argc; i < want; i++)
        napi_get_undefined(env, &argv[i]);
    nbn_client *cl = nbn_client_get(env, argv[0], false);
    return cl ? work_new(env, box_of(cl), exec, result) : NULL;
}

/* send(handle, subject, items, fields) -> wire JSON of the sent envelope. */
static napi_value js_send(napi_env env, napi_callback_info info)
{
    napi_value argv[4];
    nbn_work *w = client_work(env, info, 4, argv, exec_send, result_sent_json);
    if (!w)
        return NULL;
    if (!take_message(env, w, argv, 1)) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.send");
}

/*
 * Whether sending m uploads nothing: every payload under the client's threshold and none
 * forced by link (transport.c: link when size >= threshold). Then nb_client_send only
 * encodes and appends to nats.c's buffer, which the event loop can afford.
 */
static bool all_direct(const nbn_client *cl, const nbn_message *m)
{
    if (m->l.any_link)
        return false;
    for (size_t i = 0; i < m->l.n; i++)
        if (m->l.items[i].len >= cl->threshold)
            return false;
    return true;
}

/* Builds and sends m on subject from the main thread: the wire JSON, or NULL (thrown). */
static napi_value send_direct(napi_env env, nbn_client *cl, const char *subject,
                              const nbn_message *m)
{
    char err[1024];
    nb_envelope *e = NULL;
    nb_status s = build_and_send(cl->c, subject, m, &e, err, sizeof err);
    napi_value v = s == NB_OK ? sent_json(env, e) : nbn_throw(env, s, err);
    nb_envelope_destroy(e);
    return v;
}

/*
 * sendNow(handle, subject, items, fields) -> wire JSON of the envelope, sent from this
 * thread without a thread hop; undefined when a payload goes by link (an upload may block:
 * the caller queues it through sendMany instead). Throws what send would reject with.
 */
static napi_value js_send_now(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4];
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4)
        return nbn_throw(env, NB_INVALID_ARG, "sendNow(handle, subject, items, fields)");
    nbn_client *cl = nbn_client_get(env, argv[0], false);
    if (!cl)
        return NULL;
    nbn_message m = {0};
    char *subject = nbn_string(env, argv[1], "subject");
    if (!subject || !nbn_message_take(env, argv[2], argv[3], &m)) {
        free(subject);
        return NULL;
    }
    napi_value v = all_direct(cl, &m) ? send_direct(env, cl, subject, &m) : nbn_undefined(env);
    nbn_message_free(&m);
    free(subject);
    return v;
}

/*
 * sendOne(handle, subject, dataname, type, data, link, fields) -> as sendNow for a message of
 * one payload, given as arguments: no array to read, nothing copied to the heap (its strings
 * are read onto the stack, a Buffer's bytes are borrowed). undefined when sendNow must take
 * it instead (a link, or a payload it does not take: see nbn_message_borrow_one).
 */
static napi_value js_send_one(napi_env env, napi_callback_info info)
{
    size_t argc = 7;
    napi_value argv[7];
    char subject[512];
    size_t len = 0;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 7)
        return nbn_throw(env, NB_INVALID_ARG,
                         "sendOne(handle, subject, dataname, type, data, link, fields)");
    nbn_client *cl = nbn_client_get(env, argv[0], false);
    if (!cl)
        return NULL;
    if (napi_get_value_string_utf8(env, argv[1], subject, sizeof subject, &len) != napi_ok ||
        len + 5 > sizeof subject || memchr(subject, 0, len))
        return nbn_undefined(env); /* not a string, too long or odd: sendNow says why */
    nbn_message m;
    nbn_borrowed b;
    int taken = nbn_message_borrow_one(env, argv + 2, &m, &b);
    if (taken <= 0)
        return taken < 0 ? NULL : nbn_undefined(env);
    napi_value v = all_direct(cl, &m) ? send_direct(env, cl, subject, &m) : nbn_undefined(env);
    nbn_message_unborrow(&m);
    return v;
}

/* Sends every envelope of the batch; one failing does not stop the others. */
static void exec_send_many(nbn_work *w)
{
    char err[1024];
    for (size_t i = 0; i < w->n; i++) {
        w->sts[i] = build_and_send(w->box->cl.c, w->bsubjects[i], &w->msgs[i], &w->envs[i], err,
                                   sizeof err);
        if (w->sts[i] != NB_OK)
            w->errs[i] = strdup(err);
    }
    w->st = NB_OK;
}

/* [json or Error, ...] in the order of the batch. */
static napi_value result_send_many(napi_env env, nbn_work *w)
{
    napi_value list, v;
    NBN_CALL(env, napi_create_array_with_length(env, w->n, &list));
    for (size_t i = 0; i < w->n; i++) {
        if (w->sts[i] == NB_OK) {
            if (!(v = sent_json(env, w->envs[i])))
                return NULL;
        } else {
            v = nbn_error_value(env, w->sts[i], w->errs[i]);
        }
        napi_set_element(env, list, (uint32_t)i, v);
    }
    return list;
}

/* Fills the batch from [[subject, items, fields], ...]; false when it threw. */
static bool take_batch(napi_env env, napi_value list, nbn_work *w)
{
    bool is_array = false;
    uint32_t n = 0;
    napi_is_array(env, list, &is_array);
    if (is_array)
        napi_get_array_length(env, list, &n);
    if (n == 0) {
        nbn_throw(env, NB_INVALID_ARG, "sendMany needs a non-empty array of messages");
        return false;
    }
    w->bsubjects = calloc(n, sizeof *w->bsubjects);
    w->envs = calloc(n, sizeof *w->envs);
    w->msgs = calloc(n, sizeof *w->msgs);
    w->sts = calloc(n, sizeof *w->sts);
    w->errs = calloc(n, sizeof *w->errs);
    if (!w->bsubjects || !w->envs || !w->msgs || !w->sts || !w->errs) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory queueing sends");
        return false;
    }
    w->n = n;
    for (uint32_t i = 0; i < n; i++) {
        napi_value m, a[3];
        napi_get_element(env, list, i, &m);
        for (uint32_t k = 0; k < 3; k++)
            napi_get_element(env, m, k, &a[k]);
        if (!(w->bsubjects[i] = nbn_string(env, a[0], "subject")) ||
            !nbn_message_take(env, a[1], a[2], &w->msgs[i]))
            return false;
    }
    return true;
}

/*
 * sendMany(handle, [[subject, items, fields], ...]) -> [json | Error, ...]: the sends
 * queued in one turn of the event loop cross to the thread pool together, in order.
 */
static napi_value js_send_many(napi_env env, napi_callback_info info)
{
    napi_value argv[2];
    nbn_work *w = client_work(env, info, 2, argv, exec_send_many, result_send_many);
    if (!w)
        return NULL;
    if (!take_batch(env, argv[1], w)) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.sendMany");
}

static void exec_smartsend(nbn_work *w)
{
    if (build(w))
        w->st = nb_smartsend(w->subject, w->env, w->opts);
}

/* smartsend(subject, items, fields, options): a connection of its own, as the seed. */
static napi_value js_smartsend(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4];
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4)
        return nbn_throw(env, NB_INVALID_ARG, "smartsend(subject, items, fields, options)");
    nbn_work *w = work_new(env, NULL, exec_smartsend, result_sent_json);
    if (!w)
        return NULL;
    if (!take_message(env, w, argv, 0) || !(w->opts = nbn_options_from(env, argv[3]))) {
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.smartsend");
}

static void exec_flush(nbn_work *w)
{
    w->st = nb_client_flush(w->box->cl.c, w->timeout_ms);
}

/* Reads an optional timeout in ms at argv (default def). */
static bool take_timeout(napi_env env, napi_value v, int64_t def, int64_t *out)
{
    napi_valuetype t;
    double d;
    *out = def;
    napi_typeof(env, v, &t);
    if (t == napi_undefined || t == napi_null)
        return true;
    if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 1 && d <= 2592000000.0)) {
        nbn_throw(env, NB_INVALID_ARG, "timeout must be a number of milliseconds from 1 to "
                                       "2592000000");
        return false;
    }
    *out = (int64_t)d;
    return true;
}

/* flush(handle, timeoutMs) */
static napi_value js_flush(napi_env env, napi_callback_info info)
{
    napi_value argv[2];
    nbn_work *w = client_work(env, info, 2, argv, exec_flush, NULL);
    if (!w)
        return NULL;
    if (!take_timeout(env, argv[1], 10000, &w->timeout_ms)) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.flush");
}

/* ---- receiving ---------------------------------------------------------- */

static napi_value result_received(napi_env env, nbn_work *w)
{
    return nbn_envelope_to_js(env, w->out);
}

static void exec_receive(nbn_work *w)
{
    if (w->box)
        w->st = nb_client_receive(w->box->cl.c, w->bytes, w->len, &w->out);
    else
        w->st = nb_envelope_parse(&w->out, (const char *)w->bytes, w->len, w->opts);
}

/* Copies a Buffer/Uint8Array or a string into w->bytes. */
static bool take_bytes(napi_env env, napi_value v, nbn_work *w, const char *what)
{
    bool is = false;
    void *p = NULL;
    size_t len = 0;
    napi_is_buffer(env, v, &is);
    if (is) {
        napi_get_buffer_info(env, v, &p, &len);
    } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
        napi_typedarray_type t;
        napi_value ab;
        size_t off;
        napi_get_typedarray_info(env, v, &t, &len, &p, &ab, &off);
        if (t != napi_uint8_array && t != napi_int8_array && t != napi_uint8_clamped_array) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s must be bytes (Buffer, Uint8Array) or a string", what);
            nbn_throw(env, NB_INVALID_ARG, msg);
            return false;
        }
    } else {
        char *s = nbn_string(env, v, what);
        if (!s)
            return false;
        w->bytes = (uint8_t *)s;
        w->len = strlen(s);
        return true;
    }
    w->bytes = malloc(len ? len : 1);
    if (!w->bytes) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory copying a message");
        return false;
    }
    if (len)
        memcpy(w->bytes, p, len);
    w->len = len;
    return true;
}

/* receive(bytes, options): smartreceive with options of its own (no connection). */
static napi_value js_receive(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1)
        return nbn_throw(env, NB_INVALID_ARG, "smartreceive needs a message");
    nbn_work *w = work_new(env, NULL, exec_receive, result_received);
    if (!w)
        return NULL;
    if (!take_bytes(env, argv[0], w, "smartreceive: message") ||
        !(w->opts = nbn_options_from(env, argc > 1 ? argv[1] : NULL))) {
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.receive");
}

/* clientReceive(handle, bytes): smartreceive with the client's options and connection. */
static napi_value js_client_receive(napi_env env, napi_callback_info info)
{
    napi_value argv[2];
    nbn_work *w = client_work(env, info, 2, argv, exec_receive, result_received);
    if (!w)
        return NULL;
    if (!take_bytes(env, argv[1], w, "receive: message")) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.clientReceive");
}

static void exec_request(nbn_work *w)
{
    if (build(w))
        w->st = nb_client_request(w->box->cl.c, w->subject, w->env, w->timeout_ms, &w->out);
}

/* request(handle, subject, items, fields, timeoutMs) -> the received reply. */
static napi_value js_request(napi_env env, napi_callback_info info)
{
    napi_value argv[5];
    nbn_work *w = client_work(env, info, 5, argv, exec_request, result_received);
    if (!w)
        return NULL;
    if (!take_message(env, w, argv, 1) || !take_timeout(env, argv[4], 5000, &w->timeout_ms)) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.request");
}

/* ---- JetStream ---------------------------------------------------------- */

static void exec_stream_ensure(nbn_work *w)
{
    w->scfg.subjects = (const char *const *)w->subjects;
    w->st = nb_js_stream_ensure(w->box->cl.c, &w->scfg, &w->created);
}

static napi_value result_created(napi_env env, nbn_work *w)
{
    napi_value v;
    napi_get_boolean(env, w->created, &v);
    return v;
}

/* The stream config {name, subjects, storage: 'file'|'memory', maxAge, duplicateWindow, replicas}. */
static bool take_stream_config(napi_env env, napi_value cfg, nbn_work *w)
{
    char *storage = NULL;
    double d;
    bool p, is_array = false;
    napi_value list;
    uint32_t n = 0;
    if (!nbn_prop_string(env, cfg, "name", (char **)&w->scfg.name) ||
        !nbn_prop_string(env, cfg, "storage", &storage))
        return false;
    if (storage && strcmp(storage, "memory") == 0)
        w->scfg.storage = NB_JS_MEMORY;
    else if (storage && strcmp(storage, "file") != 0) {
        free(storage);
        nbn_throw(env, NB_INVALID_ARG, "stream storage must be 'file' or 'memory'");
        return false;
    }
    free(storage);
    if (!w->scfg.name) {
        nbn_throw(env, NB_INVALID_ARG, "a stream needs a name");
        return false;
    }
    if (napi_get_named_property(env, cfg, "subjects", &list) == napi_ok)
        napi_is_array(env, list, &is_array);
    if (is_array)
        napi_get_array_length(env, list, &n);
    if (n == 0) {
        nbn_throw(env, NB_INVALID_ARG, "a stream needs subjects: a non-empty array of strings");
        return false;
    }
    w->subjects = calloc(n, sizeof *w->subjects);
    if (!w->subjects) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory");
        return false;
    }
    w->scfg.subject_count = n;
    for (uint32_t i = 0; i < n; i++) {
        napi_value e;
        napi_get_element(env, list, i, &e);
        if (!(w->subjects[i] = nbn_string(env, e, "every stream subject")))
            return false;
    }
    if (!nbn_prop_number(env, cfg, "maxAge", &d, &p))
        return false;
    w->scfg.max_age_ms = p ? (int64_t)d : 0;
    if (!nbn_prop_number(env, cfg, "duplicateWindow", &d, &p))
        return false;
    w->scfg.duplicate_window_ms = p ? (int64_t)d : 0;
    if (!nbn_prop_number(env, cfg, "replicas", &d, &p))
        return false;
    w->scfg.replicas = p ? (int)d : 0;
    return true;
}

/* streamEnsure(handle, config) -> true when it was created. */
static napi_value js_stream_ensure(napi_env env, napi_callback_info info)
{
    napi_value argv[2];
    nbn_work *w = client_work(env, info, 2, argv, exec_stream_ensure, result_created);
    if (!w)
        return NULL;
    if (!take_stream_config(env, argv[1], w)) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.streamEnsure");
}

static void exec_stream_delete(nbn_work *w)
{
    w->st = nb_js_stream_delete(w->box->cl.c, w->name);
}

static void exec_bucket_delete(nbn_work *w)
{
    w->st = nb_objstore_delete_bucket(w->box->cl.c, w->name);
}

/* streamDelete(handle, name) and objDeleteBucket(handle, name). */
static napi_value named_op(napi_env env, napi_callback_info info, void (*exec)(nbn_work *),
                           const char *what)
{
    napi_value argv[2];
    nbn_work *w = client_work(env, info, 2, argv, exec, NULL);
    if (!w)
        return NULL;
    if (!(w->name = nbn_string(env, argv[1], what))) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, what);
}

static napi_value js_stream_delete(napi_env env, napi_callback_info info)
{
    return named_op(env, info, exec_stream_delete, "stream name");
}

static napi_value js_bucket_delete(napi_env env, napi_callback_info info)
{
    return named_op(env, info, exec_bucket_delete, "bucket name");
}

static void exec_js_publish(nbn_work *w)
{
    if (build(w))
        w->st = nb_client_js_publish(w->box->cl.c, w->subject, w->env, &w->po, &w->ack);
}

static napi_value result_js_publish(napi_env env, nbn_work *w)
{
    napi_value o, json, v;
    NBN_CALL(env, napi_create_object(env, &o));
    json = result_sent_json(env, w);
    if (!json)
        return NULL;
    napi_set_named_property(env, o, "json", json);
    napi_create_string_utf8(env, w->ack.stream, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "stream", v);
    napi_create_double(env, (double)w->ack.sequence, &v);
    napi_set_named_property(env, o, "seq", v);
    napi_get_boolean(env, w->ack.duplicate, &v);
    napi_set_named_property(env, o, "duplicate", v);
    return o;
}

/* jsPublish(handle, subject, items, fields, {timeout, retries, expectStream}) -> {json, stream, seq, duplicate}. */
static napi_value js_js_publish(napi_env env, napi_callback_info info)
{
    napi_value argv[5];
    double d;
    bool p;
    nbn_work *w = client_work(env, info, 5, argv, exec_js_publish, result_js_publish);
    if (!w)
        return NULL;
    bool ok = take_message(env, w, argv, 1) &&
              nbn_prop_string(env, argv[4], "expectStream", (char **)&w->po.expect_stream) &&
              nbn_prop_number(env, argv[4], "timeout", &d, &p);
    if (ok && p)
        w->po.timeout_ms = (int64_t)d;
    ok = ok && nbn_prop_number(env, argv[4], "retries", &d, &p);
    if (ok && p)
        w->po.retries = (int)d;
    if (!ok) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, "natsbridge.jsPublish");
}

/* ---- Object Store ------------------------------------------------------- */

/* Opens (creating when missing) the bucket of w for one call. */
static nb_status open_bucket(nbn_work *w, nb_objstore **os)
{
    nb_objstore_config cfg = {.bucket = w->bucket};
    return nb_objstore_create(os, w->box->cl.c, &cfg);
}

static void exec_obj_put(nbn_work *w)
{
    nb_objstore *os = NULL;
    w->st = open_bucket(w, &os);
    if (w->st == NB_OK)
        w->st = nb_objstore_put_bytes(os, w->name, w->bytes, w->len, NULL);
    nb_objstore_destroy(os);
}

static void exec_obj_get(nbn_work *w)
{
    nb_objstore *os = NULL;
    w->st = nb_objstore_open(&os, w->box->cl.c, w->bucket);
    free(w->bytes);
    w->bytes = NULL;
    if (w->st == NB_OK)
        w->st = nb_objstore_get_bytes(os, w->name, 0, &w->bytes, &w->len);
    nb_objstore_destroy(os);
}

static void exec_obj_delete(nbn_work *w)
{
    nb_objstore *os = NULL;
    w->st = nb_objstore_open(&os, w->box->cl.c, w->bucket);
    if (w->st == NB_OK)
        w->st = nb_objstore_delete(os, w->name);
    nb_objstore_destroy(os);
}

static napi_value result_bytes(napi_env env, nbn_work *w)
{
    napi_value v;
    NBN_CALL(env, napi_create_buffer_copy(env, w->len, w->bytes ? w->bytes : (uint8_t *)"",
                                          NULL, &v));
    return v;
}

/* objPut(handle, bucket, name, bytes), objGet(handle, bucket, name), objDelete(handle, bucket, name). */
static napi_value obj_op(napi_env env, napi_callback_info info, void (*exec)(nbn_work *),
                         napi_value (*result)(napi_env, nbn_work *), bool with_bytes,
                         const char *what)
{
    napi_value argv[4];
    nbn_work *w = client_work(env, info, 4, argv, exec, result);
    if (!w)
        return NULL;
    if (!(w->bucket = nbn_string(env, argv[1], "bucket")) ||
        !(w->name = nbn_string(env, argv[2], "object name")) ||
        (with_bytes && !take_bytes(env, argv[3], w, "object data"))) {
        nbn_client_op_end(env, &w->box->cl);
        work_free(w);
        return NULL;
    }
    return work_queue(env, w, what);
}

static napi_value js_obj_put(napi_env env, napi_callback_info info)
{
    return obj_op(env, info, exec_obj_put, NULL, true, "natsbridge.objPut");
}

static napi_value js_obj_get(napi_env env, napi_callback_info info)
{
    return obj_op(env, info, exec_obj_get, result_bytes, false, "natsbridge.objGet");
}

static napi_value js_obj_delete(napi_env env, napi_callback_info info)
{
    return obj_op(env, info, exec_obj_delete, NULL, false, "natsbridge.objDelete");
}

/* ---- module ------------------------------------------------------------- */

napi_value nbn_init_ops(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
        {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
        {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
        {"sendMany", NULL, js_send_many, NULL, NULL, NULL, napi_default, NULL},
        {"sendNow", NULL, js_send_now, NULL, NULL, NULL, napi_default, NULL},
        {"sendOne", NULL, js_send_one, NULL, NULL, NULL, napi_default, NULL},
        {"smartsend", NULL, js_smartsend, NULL, NULL, NULL, napi_default, NULL},
        {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
        {"receive", NULL, js_receive, NULL, NULL, NULL, napi_default, NULL},
        {"clientReceive", NULL, js_client_receive, NULL, NULL, NULL, napi_default, NULL},
        {"request", NULL, js_request, NULL, NULL, NULL, napi_default, NULL},
        {"streamEnsure", NULL, js_stream_ensure, NULL, NULL, NULL, napi_default, NULL},
        {"streamDelete", NULL, js_stream_delete, NULL, NULL, NULL, napi_default, NULL},
        {"jsPublish", NULL, js_js_publish, NULL, NULL, NULL, napi_default, NULL},
        {"objPut", NULL, js_obj_put, NULL, NULL, NULL, napi_default, NULL},
        {"objGet", NULL, js_obj_get, NULL, NULL, NULL, napi_default, NULL},
        {"objDelete", NULL, js_obj_delete, NULL, NULL, NULL, napi_default, NULL},
        {"objDeleteBucket", NULL, js_bucket_delete, NULL, NULL, NULL, napi_default, NULL},
    };
    NBN_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
    return exports;
}
