/* SPDX-License-Identifier: MIT */
/*
 * subs.c - subscriptions and JetStream consumers: envelopes arrive on nats.c's
 * (or the consumer's) thread and reach JavaScript through a
 * napi_threadsafe_function with a bounded queue, so that a slow JavaScript
 * consumer slows the delivering thread instead of growing memory (nats.c's
 * pending limits then report it as a slow consumer).
 *
 * A core subscription's deliveries are batched: the delivering thread appends
 * to the subscription's own queue (at most QUEUE_MAX, then it waits) and
 * wakes the main thread only when no wake-up is pending, and the main thread
 * hands JavaScript every envelope queued by then in one call, instead of one
 * thread-safe call and one call into JavaScript per envelope. The main thread
 * gives the small deliveries it has turned into JavaScript values back to the
 * delivering thread to free: that thread's allocator made them, and a free
 * from another thread contends with it for its arena's lock (a sixth of the
 * main thread's time at 100 B envelopes).
 *
 * A JetStream delivery waits on its thread for JavaScript's verdict (ack, nak,
 * term), which a native `done` function given to the handler sets; closing
 * never waits for a verdict that will not come: a delivery still waiting then
 * is naked at once, to be delivered again.
 */
#include "nbnode.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUB_MAGIC 0x4e425355u /* "NBSU" */
#define QUEUE_MAX 1024        /* deliveries waiting for the main thread */
/* Deliveries up to this many payload bytes are freed by the delivering thread (which made
 * them), the next time it queues one; bigger ones are freed at once, so that no big
 * envelope outlives its delivery waiting for the next. */
#define GIVE_BACK_MAX 65536

struct nbn_sub {
    uint32_t magic;
    nbn_client *cl;
    nb_subscription *s;   /* core subscription, or */
    nb_js_consumer *cons; /* a JetStream consumer */
    napi_threadsafe_function tsfn;
    int refs;             /* the JS handle + the thread-safe function (main thread) */
    bool closing;         /* close() started (or the client's close) */
    atomic_bool stopping; /* read by the consumer thread waiting for a verdict */
    /* core subscriptions: the batch queue, shared with the delivering thread under qmu */
    bool batched;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;   /* signalled when the main thread took the queue */
    struct item **q;      /* QUEUE_MAX slots */
    size_t qn;
    bool scheduled;       /* a thread-safe call is on its way to take the queue */
    bool dead;            /* no call can reach JavaScript any more: drop, never wait */
    struct item *given_back; /* delivered, for the delivering thread to free (a list) */
};

/* What a JetStream delivery waits on: shared by its thread and the `done` function. */
typedef struct verdict {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int action; /* -1 until JavaScript answered */
} verdict;

/* One delivery travelling to the main thread. */
typedef struct item {
    nb_envelope *env;   /* taken; NULL for an error */
    nb_status st;
    char *message;      /* an error's text */
    verdict *v;         /* JetStream only */
    nb_js_delivery d;
    char *d_subject;
    bool small;         /* payloads of at most GIVE_BACK_MAX bytes in all */
    struct item *next;  /* in nbn_sub.given_back */
} item;

static void verdict_unref(verdict *v)
{
    pthread_mutex_lock(&v->mu);
    int left = --v->refs;
    pthread_mutex_unlock(&v->mu);
    if (left == 0) {
        pthread_mutex_destroy(&v->mu);
        pthread_cond_destroy(&v->cv);
        free(v);
    }
}

static void verdict_set(verdict *v, int action)
{
    pthread_mutex_lock(&v->mu);
    if (v->action < 0)
        v->action = action;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

static void item_free(item *it)
{
    if (!it)
        return;
    nb_envelope_destroy(it->env);
    free(it->message);
    free(it->d_subject);
    if (it->v) {
        verdict_set(it->v, NB_JS_NAK_NOW); /* never answered: delivered again */
        verdict_unref(it->v);
    }
    free(it);
}

static void item_free_list(item *it)
{
    while (it) {
        item *next = it->next;
        item_free(it);
        it = next;
    }
}

static void sub_unref(nbn_sub *sub)
{
    if (--sub->refs > 0)
        return;
    nbn_client *cl = sub->cl;
    sub->magic = 0;
    if (sub->batched) { /* every thread is gone: what is still queued was never delivered */
        for (size_t i = 0; i < sub->qn; i++)
            item_free(sub->q[i]);
        item_free_list(sub->given_back);
        free(sub->q);
        pthread_mutex_destroy(&sub->qmu);
        pthread_cond_destroy(&sub->qcv);
    }
    free(sub);
    nbn_client_unref(cl);
}

/* ---- from the delivering thread ----------------------------------------- */

/* Hands it to the main thread; false (it is freed) when the subscription is going away. */
static bool post(nbn_sub *sub, item *it)
{
    if (napi_call_threadsafe_function(sub->tsfn, it, napi_tsfn_blocking) == napi_ok)
        return true;
    return false; /* the caller's item_free answers a waiting verdict */
}

/*
 * Appends it to sub's batch queue, waiting while the queue is full (a slow JavaScript
 * consumer slows this thread, as a bounded thread-safe function would); wakes the main
 * thread when no wake-up is pending. false (the caller frees it) when nothing can take it.
 */
static bool enqueue(nbn_sub *sub, item *it)
{
    pthread_mutex_lock(&sub->qmu);
    while (sub->qn == QUEUE_MAX && !sub->dead && !atomic_load(&sub->stopping))
        pthread_cond_wait(&sub->qcv, &sub->qmu);
    if (sub->dead || sub->qn == QUEUE_MAX) { /* full while stopping: dropped, as after it */
        pthread_mutex_unlock(&sub->qmu);
        return false;
    }
    sub->q[sub->qn++] = it;
    bool wake = !sub->scheduled;
    sub->scheduled = true;
    item *done = sub->given_back;
    sub->given_back = NULL;
    pthread_mutex_unlock(&sub->qmu);
    item_free_list(done);
    if (wake && napi_call_threadsafe_function(sub->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok) {
        pthread_mutex_lock(&sub->qmu); /* closing: the queue is freed with the sub */
        sub->dead = true;
        pthread_cond_broadcast(&sub->qcv);
        pthread_mutex_unlock(&sub->qmu);
    }
    return true;
}

static size_t payload_bytes(const nb_envelope *env)
{
    size_t total = 0, n = nb_envelope_payload_count(env);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        nb_payload_data(nb_envelope_payload(env, i), &len);
        total += len;
    }
    return total;
}

static void on_envelope(nb_subscription *s, nb_envelope *env, void *closure)
{
    (void)s;
    item *it = calloc(1, sizeof *it);
    if (!it) {
        fprintf(stderr, "natsbridge (node): out of memory: an envelope was dropped\n");
        nb_envelope_destroy(env);
        return;
    }
    it->env = env;
    it->small = payload_bytes(env) <= GIVE_BACK_MAX;
    if (!enqueue(closure, it))
        item_free(it);
}

static item *error_item(nb_status st, const char *message)
{
    item *it = calloc(1, sizeof *it);
    if (it) {
        it->st = st;
        it->message = strdup(message ? message : "");
    }
    return it;
}

static void on_error(nb_subscription *s, nb_status st, const char *message, void *closure)
{
    (void)s;
    nbn_sub *sub = closure;
    item *it = error_item(st, message);
    if (!it || !(sub->batched ? enqueue(sub, it) : post(sub, it))) {
        fprintf(stderr, "natsbridge (node): subscription error: %s\n", message);
        item_free(it);
    }
}

/* Waits for JavaScript's verdict, in 100 ms steps so that a close is noticed. */
static nb_js_action wait_verdict(nbn_sub *sub, verdict *v)
{
    pthread_mutex_lock(&v->mu);
    while (v->action < 0 && !atomic_load(&sub->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&v->cv, &v->mu, &ts);
    }
    int a = v->action < 0 ? NB_JS_NAK_NOW : v->action;
    pthread_mutex_unlock(&v->mu);
    return (nb_js_action)a;
}

static nb_js_action on_js_envelope(nb_js_consumer *cons, nb_envelope *env,
                                   const nb_js_delivery *d, void *closure)
{
    (void)cons;
    nbn_sub *sub = closure;
    item *it = calloc(1, sizeof *it);
    verdict *v = calloc(1, sizeof *v);
    if (!it || !v) {
        free(it);
        free(v);
        nb_envelope_destroy(env);
        return NB_JS_NAK;
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->refs = 2; /* this thread and the item (later the `done` function) */
    v->action = -1;
    it->env = env;
    it->v = v;
    it->d = *d;
    it->d_subject = strdup(d->subject ? d->subject : "");
    it->d.stream = it->d.consumer = NULL; /* views: not kept beyond the call */
    if (!post(sub, it))
        item_free(it); /* answers NAK_NOW */
    nb_js_action a = wait_verdict(sub, v);
    verdict_unref(v);
    return a;
}

static void on_js_error(nb_js_consumer *cons, nb_status st, const char *message,
                        const nb_js_delivery *d, nb_js_action action, void *closure)
{
    (void)cons;
    (void)d;
    (void)action;
    on_error(NULL, st, message, closure);
}

/* ---- on the main thread ------------------------------------------------- */

static const char *const action_names[] = {"ack", "nak", "term", "nakNow"};

/* done(action): the handler's verdict on a JetStream delivery; only the first counts. */
static napi_value js_done(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    verdict *v;
    char name[16] = "ack";
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&v));
    if (argc > 0)
        napi_get_value_string_utf8(env, argv[0], name, sizeof name, NULL);
    int action = NB_JS_NAK; /* anything unknown fails safe: delivered again */
    for (int i = 0; i < 4; i++)
        if (strcmp(name, action_names[i]) == 0)
            action = i;
    verdict_set(v, action);
    return nbn_undefined(env);
}

static void done_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    verdict_set(data, NB_JS_NAK_NOW); /* collected without an answer */
    verdict_unref(data);
}

static napi_value delivery_to_js(napi_env env, const item *it)
{
    napi_value o, v;
    NBN_CALL(env, napi_create_object(env, &o));
    napi_create_string_utf8(env, it->d_subject, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "subject", v);
    napi_create_double(env, (double)it->d.stream_seq, &v);
    napi_set_named_property(env, o, "streamSeq", v);
    napi_create_double(env, (double)it->d.delivered, &v);
    napi_set_named_property(env, o, "delivered", v);
    napi_create_double(env, (double)it->d.pending, &v);
    napi_set_named_property(env, o, "pending", v);
    return o;
}

/* The `done` function of a JetStream delivery; it takes over the item's verdict reference. */
static napi_value done_function(napi_env env, item *it)
{
    napi_value fn;
    NBN_CALL(env, napi_create_function(env, "done", NAPI_AUTO_LENGTH, js_done, it->v, &fn));
    NBN_CALL(env, napi_add_finalizer(env, fn, it->v, done_finalize, NULL, NULL));
    it->v = NULL;
    return fn;
}

/* Calls cb(err, envelope[, delivery, done]) for one delivery. */
static void deliver_js(napi_env env, napi_value cb, void *context, void *data)
{
    (void)context;
    item *it = data;
    if (!env) { /* the environment is going away */
        item_free(it);
        return;
    }
    napi_value argv[4], undef, ret;
    int argc = 2;
    napi_get_undefined(env, &undef);
    napi_get_null(env, &argv[0]);
    argv[1] = undef;
    if (!it->env) {
        argv[0] = nbn_error_value(env, it->st, it->message);
    } else {
        argv[1] = nbn_envelope_to_js(env, it->env);
        if (it->v) {
            argv[2] = delivery_to_js(env, it);
            argv[3] = argv[1] && argv[2] ? done_function(env, it) : NULL;
            argc = 4;
        }
    }
    for (int i = 0; i < argc; i++)
        if (!argv[i]) { /* building a value failed: the JS layer still gets told */
            napi_value e;
            napi_get_and_clear_last_exception(env, &e);
            argv[0] = e;
            argc = 2;
            argv[1] = undef;
        }
    /* The JS layer catches what the user's handler throws; anything that still escapes is
     * an uncaught exception, as in any Node callback. */
    napi_call_function(env, undef, cb, argc, argv, &ret);
    item_free(it);
}

/* Frees the big ones of n delivered items, and gives the small ones back to the delivering
 * thread (enqueue frees them). */
static void give_back(nbn_sub *sub, item **taken, size_t n)
{
    item *back = NULL, *tail = NULL;
    for (size_t i = 0; i < n; i++) {
        item *it = taken[i];
        if (!it->small) {
            item_free(it);
            continue;
        }
        it->next = back;
        back = it;
        if (!tail)
            tail = it;
    }
    if (!back)
        return;
    pthread_mutex_lock(&sub->qmu);
    tail->next = sub->given_back;
    sub->given_back = back;
    pthread_mutex_unlock(&sub->qmu);
}

/* Calls cb([envelope | Error, ...]) with everything queued on the core subscription. */
static void deliver_batch(napi_env env, napi_value cb, void *context, void *data)
{
    (void)data;
    nbn_sub *sub = context;
    item *taken[QUEUE_MAX];
    pthread_mutex_lock(&sub->qmu);
    size_t n = sub->qn;
    if (env) {
        memcpy(taken, sub->q, n * sizeof *taken);
        sub->qn = 0;
        sub->scheduled = false;
    } else { /* the environment is going away: nothing will take the queue again */
        n = 0;
        sub->dead = true;
    }
    pthread_cond_broadcast(&sub->qcv);
    pthread_mutex_unlock(&sub->qmu);
    if (n == 0)
        return;
    napi_value list = NULL, undef, ret;
    napi_get_undefined(env, &undef);
    if (napi_create_array_with_length(env, n, &list) != napi_ok)
        list = NULL;
    for (size_t i = 0; list && i < n; i++) {
        item *it = taken[i];
        napi_value v = it->env ? nbn_envelope_to_js(env, it->env)
                               : nbn_error_value(env, it->st, it->message);
        if (!v) /* building the value failed: the JS layer still gets told */
            napi_get_and_clear_last_exception(env, &v);
        napi_set_element(env, list, (uint32_t)i, v);
    }
    give_back(sub, taken, n);
    if (!list) {
        nbn_throw_napi(env, "napi_create_array_with_length");
        return;
    }
    /* The JS layer catches what the user's handler throws; anything that still escapes is
     * an uncaught exception, as in any Node callback. */
    napi_call_function(env, undef, cb, 1, &list, &ret);
}

static void tsfn_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    sub_unref(data);
}

static void sub_handle_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    sub_unref(data);
}

/*
 * A new sub on cl calling cb (batched: with a list, as deliver_batch; else once per
 * delivery, as deliver_js); its handle in *handle. NULL when it threw.
 */
static nbn_sub *sub_new(napi_env env, nbn_client *cl, napi_value cb, bool batched,
                        napi_value *handle)
{
    napi_value name;
    nbn_sub *sub = calloc(1, sizeof *sub);
    if (!sub || (batched && !(sub->q = calloc(QUEUE_MAX, sizeof *sub->q)))) {
        free(sub);
        nbn_throw(env, NB_NO_MEMORY, "out of memory subscribing");
        return NULL;
    }
    sub->magic = SUB_MAGIC;
    sub->cl = cl;
    atomic_init(&sub->stopping, false);
    napi_create_string_utf8(env, "natsbridge.delivery", NAPI_AUTO_LENGTH, &name);
    /* Batched: at most one call is waiting for the main thread at a time (scheduled). */
    if (napi_create_threadsafe_function(env, cb, NULL, name, batched ? 0 : QUEUE_MAX, 1, sub,
                                        tsfn_finalize, batched ? sub : NULL,
                                        batched ? deliver_batch : deliver_js,
                                        &sub->tsfn) != napi_ok) {
        free(sub->q);
        free(sub);
        nbn_throw_napi(env, "napi_create_threadsafe_function");
        return NULL;
    }
    if (batched) {
        sub->batched = true;
        pthread_mutex_init(&sub->qmu, NULL);
        pthread_cond_init(&sub->qcv, NULL);
    }
    cl->refs++;
    sub->refs = 1; /* the thread-safe function */
    if (napi_create_external(env, sub, sub_handle_finalize, NULL, handle) != napi_ok) {
        nbn_throw_napi(env, "napi_create_external");
        napi_release_threadsafe_function(sub->tsfn, napi_tsfn_abort);
        return NULL;
    }
    sub->refs++;
    return sub;
}

static bool sub_list_add(napi_env env, nbn_client *cl, nbn_sub *sub)
{
    nbn_sub **grown = realloc(cl->subs, (cl->sub_count + 1) * sizeof *grown);
    if (!grown) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory subscribing");
        return false;
    }
    cl->subs = grown;
    cl->subs[cl->sub_count++] = sub;
    return true;
}

static void sub_list_remove(nbn_client *cl, nbn_sub *sub)
{
    for (size_t i = 0; i < cl->sub_count; i++)
        if (cl->subs[i] == sub) {
            cl->subs[i] = cl->subs[--cl->sub_count];
            return;
        }
}

/* subscribe(handle, subject, queue, cb) -> sub handle; cb([envelope | Error, ...]) per batch. */
static napi_value js_subscribe(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4], handle;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4)
        return nbn_throw(env, NB_INVALID_ARG, "subscribe(handle, subject, queue, callback)");
    nbn_client *cl = nbn_client_get(env, argv[0], false);
    if (!cl)
        return NULL;
    char *subject = nbn_string(env, argv[1], "subject"), *queue = NULL;
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (!subject || (t == napi_string && !(queue = nbn_string(env, argv[2], "queue")))) {
        free(subject);
        return NULL;
    }
    nbn_sub *sub = sub_new(env, cl, argv[3], true, &handle);
    if (sub && !sub_list_add(env, cl, sub)) {
        napi_release_threadsafe_function(sub->tsfn, napi_tsfn_abort);
        sub = NULL; /* the handle's finalizer frees it */
    }
    nb_status s = NB_OK;
    if (sub) {
        s = nb_client_subscribe(cl->c, &sub->s, subject, queue, on_envelope, on_error, sub);
        if (s != NB_OK) {
            nbn_throw(env, s, nb_last_error());
            sub_list_remove(cl, sub);
            napi_release_threadsafe_function(sub->tsfn, napi_tsfn_abort);
        }
    }
    free(subject);
    free(queue);
    return sub && s == NB_OK ? handle : NULL;
}

/* ---- closing and consumers: small async works of their own --------------- */

typedef struct sub_work {
    napi_async_work work;
    napi_deferred deferred;
    nbn_sub *sub;
    nb_js_consumer_config cfg;
    char *stream, *subject, *durable;
    nb_status st;
    char err[1024];
    napi_ref handle; /* consume: the sub's handle, resolved on success */
} sub_work;

static void sub_work_free(napi_env env, sub_work *w)
{
    if (w->handle)
        napi_delete_reference(env, w->handle);
    free(w->stream);
    free(w->subject);
    free(w->durable);
    free(w);
}

/* Stops one subscription or consumer (worker thread; waits for a running callback). */
static void sub_stop(nbn_sub *sub)
{
    atomic_store(&sub->stopping, true);
    if (sub->batched) { /* a delivering thread waiting for room stops waiting */
        pthread_mutex_lock(&sub->qmu);
        pthread_cond_broadcast(&sub->qcv);
        pthread_mutex_unlock(&sub->qmu);
    }
    nb_subscription_destroy(sub->s);
    sub->s = NULL;
    nb_js_consumer_destroy(sub->cons);
    sub->cons = NULL;
}

static void exec_unsubscribe(napi_env env, void *data)
{
    (void)env;
    sub_work *w = data;
    sub_stop(w->sub);
}

static void unsubscribe_done(napi_env env, napi_status status, void *data)
{
    (void)status;
    sub_work *w = data;
    nbn_client *cl = w->sub->cl;
    napi_release_threadsafe_function(w->sub->tsfn, napi_tsfn_release);
    napi_resolve_deferred(env, w->deferred, nbn_undefined(env));
    napi_delete_async_work(env, w->work);
    sub_work_free(env, w);
    nbn_client_op_end(env, cl);
}

static nbn_sub *sub_get(napi_env env, napi_value handle)
{
    nbn_sub *sub = NULL;
    if (napi_get_value_external(env, handle, (void **)&sub) != napi_ok || !sub ||
        sub->magic != SUB_MAGIC) {
        nbn_throw(env, NB_INVALID_ARG, "not a natsbridge subscription handle");
        return NULL;
    }
    return sub;
}

/* unsubscribe(subHandle): stops deliveries; twice, or after the client's close, is fine. */
static napi_value js_unsubscribe(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], promise, name;
    napi_deferred d;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    nbn_sub *sub = argc ? sub_get(env, argv[0]) : NULL;
    if (!sub)
        return argc ? NULL : nbn_throw(env, NB_INVALID_ARG, "unsubscribe(handle)");
    NBN_CALL(env, napi_create_promise(env, &d, &promise));
    /* Closed already, or the client's close (which waits for nothing of ours) stops it. */
    if (sub->closing || sub->cl->closing || !sub->cl->c) {
        napi_resolve_deferred(env, d, nbn_undefined(env));
        return promise;
    }
    sub_work *w = calloc(1, sizeof *w);
    if (!w || !nbn_client_op_begin(env, sub->cl)) {
        free(w);
        return NULL;
    }
    sub->closing = true;
    sub_list_remove(sub->cl, sub);
    w->sub = sub;
    w->deferred = d;
    napi_create_string_utf8(env, "natsbridge.unsubscribe", NAPI_AUTO_LENGTH, &name);
    if (napi_create_async_work(env, NULL, name, exec_unsubscribe, unsubscribe_done, w,
                               &w->work) != napi_ok ||
        napi_queue_async_work(env, w->work) != napi_ok) {
        nbn_throw_napi(env, "napi_queue_async_work");
        return NULL; /* cannot happen short of memory; the subscription stays as it is */
    }
    return promise;
}

void nbn_subs_stop_all(nbn_client *cl)
{
    for (size_t i = 0; i < cl->sub_count; i++)
        sub_stop(cl->subs[i]);
}

void nbn_subs_release_all(nbn_client *cl)
{
    for (size_t i = 0; i < cl->sub_count; i++) {
        cl->subs[i]->closing = true;
        napi_release_threadsafe_function(cl->subs[i]->tsfn, napi_tsfn_release);
    }
    cl->sub_count = 0;
}

static void exec_consume(napi_env env, void *data)
{
    (void)env;
    sub_work *w = data;
    nbn_sub *sub = w->sub;
    w->st = nb_js_consumer_create(&sub->cons, sub->cl->c, &w->cfg, on_js_envelope, on_js_error,
                                  sub);
    if (w->st != NB_OK)
        snprintf(w->err, sizeof w->err, "%s", nb_last_error());
}

static void consume_done(napi_env env, napi_status status, void *data)
{
    sub_work *w = data;
    nbn_client *cl = w->sub->cl;
    napi_value handle;
    if (status == napi_ok && w->st == NB_OK) {
        napi_get_reference_value(env, w->handle, &handle);
        napi_resolve_deferred(env, w->deferred, handle);
    } else {
        sub_list_remove(cl, w->sub);
        w->sub->closing = true;
        napi_release_threadsafe_function(w->sub->tsfn, napi_tsfn_release);
        napi_reject_deferred(env, w->deferred,
                             nbn_error_value(env, status == napi_ok ? w->st : NB_INTERNAL,
                                             w->err));
    }
    napi_delete_async_work(env, w->work);
    sub_work_free(env, w);
    nbn_client_op_end(env, cl);
}

/* The consumer config {stream, subject, durable, batch, ackWait, maxDeliver, start: 'all'|'new'}. */
static bool take_consumer_config(napi_env env, napi_value cfg, sub_work *w)
{
    char *start = NULL;
    double d;
    bool p;
    if (!nbn_prop_string(env, cfg, "stream", &w->stream) ||
        !nbn_prop_string(env, cfg, "subject", &w->subject) ||
        !nbn_prop_string(env, cfg, "durable", &w->durable) ||
        !nbn_prop_string(env, cfg, "start", &start))
        return false;
    w->cfg.stream = w->stream;
    w->cfg.subject = w->subject;
    w->cfg.durable = w->durable;
    if (start && strcmp(start, "new") == 0)
        w->cfg.start = NB_JS_START_NEW;
    else if (start && strcmp(start, "all") != 0) {
        free(start);
        nbn_throw(env, NB_INVALID_ARG, "consumer start must be 'all' or 'new'");
        return false;
    }
    free(start);
    if (!w->subject || !w->durable) {
        nbn_throw(env, NB_INVALID_ARG, "a consumer needs a subject and a durable name");
        return false;
    }
    if (!nbn_prop_number(env, cfg, "batch", &d, &p))
        return false;
    w->cfg.batch = p ? (int)d : 0;
    if (!nbn_prop_number(env, cfg, "ackWait", &d, &p))
        return false;
    w->cfg.ack_wait_ms = p ? (int64_t)d : 0;
    if (!nbn_prop_number(env, cfg, "maxDeliver", &d, &p))
        return false;
    w->cfg.max_deliver = p ? (int)d : 0;
    if (!nbn_prop_number(env, cfg, "nakDelay", &d, &p))
        return false;
    w->cfg.nak_delay_ms = p ? (int64_t)d : 0;
    return true;
}

/* consume(handle, config, cb) -> Promise of a sub handle; cb(err, envelope, delivery, done). */
static napi_value js_consume(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3], handle, promise, name;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3)
        return nbn_throw(env, NB_INVALID_ARG, "consume(handle, config, callback)");
    nbn_client *cl = nbn_client_get(env, argv[0], false);
    sub_work *w = cl ? calloc(1, sizeof *w) : NULL;
    if (!w)
        return cl ? nbn_throw(env, NB_NO_MEMORY, "out of memory") : NULL;
    if (!take_consumer_config(env, argv[1], w) || !(w->sub = sub_new(env, cl, argv[2], false, &handle))) {
        sub_work_free(env, w);
        return NULL;
    }
    if (!sub_list_add(env, cl, w->sub)) {
        napi_release_threadsafe_function(w->sub->tsfn, napi_tsfn_abort);
        sub_work_free(env, w);
        return NULL;
    }
    if (!nbn_client_op_begin(env, cl)) { /* cannot fail: checked above, on this thread */
        sub_work_free(env, w);
        return NULL;
    }
    napi_create_reference(env, handle, 1, &w->handle);
    NBN_CALL(env, napi_create_promise(env, &w->deferred, &promise));
    napi_create_string_utf8(env, "natsbridge.consume", NAPI_AUTO_LENGTH, &name);
    NBN_CALL(env, napi_create_async_work(env, NULL, name, exec_consume, consume_done, w,
                                         &w->work));
    NBN_CALL(env, napi_queue_async_work(env, w->work));
    return promise;
}

/* keepAlive(subHandle, on): whether an open subscription keeps the event loop (and the
 * process) alive; the client's reply inbox only does while a request waits. */
static napi_value js_keep_alive(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    bool on = true;
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    nbn_sub *sub = argc == 2 ? sub_get(env, argv[0]) : NULL;
    if (!sub)
        return argc == 2 ? NULL : nbn_throw(env, NB_INVALID_ARG, "keepAlive(handle, on)");
    NBN_CALL(env, napi_get_value_bool(env, argv[1], &on));
    if (!sub->closing)
        NBN_CALL(env, on ? napi_ref_threadsafe_function(env, sub->tsfn)
                         : napi_unref_threadsafe_function(env, sub->tsfn));
    return nbn_undefined(env);
}

napi_value nbn_init_subs(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        {"keepAlive", NULL, js_keep_alive, NULL, NULL, NULL, napi_default, NULL},
        {"subscribe", NULL, js_subscribe, NULL, NULL, NULL, napi_default, NULL},
        {"unsubscribe", NULL, js_unsubscribe, NULL, NULL, NULL, napi_default, NULL},
        {"consume", NULL, js_consume, NULL, NULL, NULL, napi_default, NULL},
    };
    NBN_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
    return exports;
}
