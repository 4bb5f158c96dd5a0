/* SPDX-License-Identifier: MIT */
/*
 * binding_py.c - what the Python binding (bindings/python, ctypes) needs to
 * cross into C less often: every payload of a received envelope in one call,
 * and deliveries taken from a subscription in batches. Each ctypes call costs
 * about as much as decoding a small envelope, and each delivery callback from
 * a nats.c thread has to take Python's GIL; a queue read in bulk by one Python
 * thread takes it once per batch instead.
 *
 * The queue sits on an ordinary callback subscription (messaging.c): nats.c's
 * thread decodes the envelope (without the GIL) and appends it here; when the
 * queue is full that thread waits, so that nats.c's pending limits, not this
 * queue, decide when a reader is too slow (drops reported as SLOW_CONSUMER).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A short queue: the envelopes in it stay in warm memory. A deep one (4096 was tried) lets the
 * decoding thread's allocator grow and trim its heap as the reader falls behind and catches up,
 * faulting in fresh pages each time: 256 cut the CPU per envelope of bench_python.py's
 * publish+iterate row by a fifth. nats.c's pending limits still decide what is too slow. */
#define PYQ_DEFAULT_CAP 256
/* Payloads (and datanames) bigger than this are read through nb_py_envelope_view, not
 * copied into nb_py_queue_take's blob: the copy would cost more than the call it saves. */
#define PYQ_INLINE_MAX 16384

nb_status nb_py_envelope_view(const nb_envelope *e, nb_py_payload_view *views, size_t cap,
                              size_t *count)
{
    if (count)
        *count = 0;
    if (!e || !count || (cap && !views))
        return nbi_fail(NB_INVALID_ARG, "envelope view: %s is NULL",
                        !e ? "the envelope" : !count ? "count" : "views");
    size_t n = nb_envelope_payload_count(e);
    *count = n;
    for (size_t i = 0; i < n && i < cap; i++) {
        const nb_payload *p = nb_envelope_payload(e, i);
        nb_py_payload_view *v = &views[i];
        v->dataname = nb_payload_dataname(p);
        v->data = nb_payload_data(p, &v->len);
        v->path = nb_payload_path(p);
        v->url = nb_payload_url(p);
        v->type = (int)nb_payload_type(p);
    }
    return NB_OK;
}

/* One queued delivery: an envelope, or an error with its message. */
typedef struct pyq_item {
    nb_envelope *env;
    nb_status status;
    char *message;
} pyq_item;

struct nb_py_queue {
    nb_subscription *sub;
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pyq_item *ring;
    size_t cap, head, count;
    bool closed;
};

/* Waits for room (or close); appends the item, or frees it when closed. */
static void pyq_push(nb_py_queue *q, nb_envelope *env, nb_status st, char *message)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        nb_envelope_destroy(env);
        free(message);
        return;
    }
    pyq_item *it = &q->ring[(q->head + q->count) % q->cap];
    it->env = env;
    it->status = st;
    it->message = message;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void pyq_on_envelope(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    pyq_push(closure, env, NB_OK, NULL);
}

static void pyq_on_error(nb_subscription *sub, nb_status s, const char *message, void *closure)
{
    (void)sub;
    /* A copy that failed leaves the status alone: the reader still learns of it. */
    pyq_push(closure, NULL, s, nbi_strdup(message ? message : ""));
}

static void pyq_free(nb_py_queue *q)
{
    for (size_t i = 0; i < q->count; i++) {
        pyq_item *it = &q->ring[(q->head + i) % q->cap];
        nb_envelope_destroy(it->env);
        free(it->message);
    }
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
}

nb_status nb_py_queue_subscribe(nb_client *c, nb_py_queue **out, const char *subject,
                                const char *queue, size_t max_queued)
{
    if (out)
        *out = NULL;
    if (!c || !out)
        return nbi_fail(NB_INVALID_ARG, "queue subscribe: %s is NULL", !c ? "client" : "out");
    nb_py_queue *q = calloc(1, sizeof *q);
    size_t cap = max_queued ? max_queued : PYQ_DEFAULT_CAP;
    if (q)
        q->ring = calloc(cap, sizeof *q->ring);
    if (!q || !q->ring) {
        free(q);
        return nbi_fail(NB_NO_MEMORY, "queue subscribe: no memory for a queue of %zu", cap);
    }
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    nb_status s = nb_client_subscribe(c, &q->sub, subject, queue, pyq_on_envelope, pyq_on_error, q);
    if (s != NB_OK) {
        pyq_free(q); /* the subscribe's message stays */
        return s;
    }
    *out = q;
    return NB_OK;
}

/* The absolute CLOCK_REALTIME time timeout_ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_after(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Moves up to cap queued deliveries into out, in order; returns how many. Holds q->mu. */
static size_t pyq_take_locked(nb_py_queue *q, nb_py_delivery *out, size_t cap)
{
    size_t k = 0;
    while (k < cap && q->count > 0) {
        pyq_item *it = &q->ring[q->head];
        out[k].env = it->env;
        out[k].status = (int)it->status;
        out[k].message[0] = '\0';
        if (it->message)
            snprintf(out[k].message, sizeof out[k].message, "%s", it->message);
        free(it->message);
        *it = (pyq_item){0};
        q->head = (q->head + 1) % q->cap;
        q->count--;
        k++;
    }
    if (k > 0)
        pthread_cond_broadcast(&q->not_full);
    return k;
}

nb_status nb_py_queue_next(nb_py_queue *q, int64_t timeout_ms, nb_py_delivery *out, size_t cap,
                           size_t *n)
{
    if (n)
        *n = 0;
    if (!q || !out || !n || cap == 0)
        return nbi_fail(NB_INVALID_ARG, "queue next: %s", !q ? "the queue is NULL"
                        : !out ? "out is NULL" : !n ? "n is NULL" : "cap is 0");
    pthread_mutex_lock(&q->mu);
    if (q->count == 0 && !q->closed && timeout_ms != 0) {
        struct timespec until = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
        while (q->count == 0 && !q->closed) {
            int rc = timeout_ms < 0 ? pthread_cond_wait(&q->not_empty, &q->mu)
                                    : pthread_cond_timedwait(&q->not_empty, &q->mu, &until);
            if (rc == ETIMEDOUT)
                break;
        }
    }
    size_t k = pyq_take_locked(q, out, cap);
    bool closed = q->closed;
    pthread_mutex_unlock(&q->mu);
    *n = k;
    if (k > 0)
        return NB_OK;
    if (closed)
        return nbi_fail(NB_INVALID_ARG, "queue next: the subscription is closed");
    return nbi_fail(NB_TIMEOUT, "queue next: no message within %lld ms", (long long)timeout_ms);
}

/* The blob's records (see nb_py_queue_take in natsbridge.h), written field by field. */
typedef struct pyq_blob {
    uint8_t *p;
    size_t cap, len;
} pyq_blob;

static void blob_put(pyq_blob *b, const void *src, size_t n)
{
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* How many bytes e's payload records take; SIZE_MAX when a payload's bytes are not in
 * memory (a file, a URL not fetched) or are too big to be worth a copy. */
static size_t packed_size(const nb_envelope *e)
{
    size_t n = nb_envelope_payload_count(e), total = 0;
    for (size_t i = 0; i < n; i++) {
        const nb_payload *p = nb_envelope_payload(e, i);
        size_t len = 0;
        const uint8_t *data = nb_payload_data(p, &len);
        size_t name = strlen(nb_payload_dataname(p));
        if (!data || len > PYQ_INLINE_MAX || name > PYQ_INLINE_MAX)
            return SIZE_MAX;
        total += 12 + name + len;
    }
    return total;
}

/* Appends one delivery's record: the envelope, its status and its payloads when they fit. */
static void pack_delivery(pyq_blob *b, const nb_py_delivery *d)
{
    uint64_t env = (uint64_t)(uintptr_t)d->env;
    int32_t status = d->status, count = -1;
    if (d->env && packed_size(d->env) <= b->cap - b->len - 16)
        count = (int32_t)nb_envelope_payload_count(d->env);
    blob_put(b, &env, 8);
    blob_put(b, &status, 4);
    blob_put(b, &count, 4);
    for (int32_t i = 0; i < count; i++) {
        const nb_payload *p = nb_envelope_payload(d->env, (size_t)i);
        size_t len = 0;
        const uint8_t *data = nb_payload_data(p, &len);
        const char *name = nb_payload_dataname(p);
        int32_t type = (int32_t)nb_payload_type(p);
        uint32_t name_len = (uint32_t)strlen(name), data_len = (uint32_t)len;
        blob_put(b, &type, 4);
        blob_put(b, &name_len, 4);
        blob_put(b, &data_len, 4);
        blob_put(b, name, name_len);
        blob_put(b, data, data_len);
    }
}

nb_status nb_py_queue_take(nb_py_queue *q, int64_t timeout_ms, nb_py_delivery *out, size_t cap,
                           size_t *n, uint8_t *blob, size_t blob_cap, size_t *blob_len)
{
    if (blob_len)
        *blob_len = 0;
    if (!blob || !blob_len || blob_cap < 16) {
        if (n)
            *n = 0;
        return nbi_fail(NB_INVALID_ARG, "queue take: %s", !blob ? "blob is NULL"
                        : !blob_len ? "blob_len is NULL" : "blob_cap is under 16 bytes");
    }
    /* Every delivery taken gets its 16-byte header, payloads or not. */
    if (cap > blob_cap / 16)
        cap = blob_cap / 16;
    nb_status s = nb_py_queue_next(q, timeout_ms, out, cap, n);
    if (s != NB_OK)
        return s;
    /* The envelopes are the reader's now: copied without the queue's lock. */
    pyq_blob b = {blob, blob_cap - 16 * (*n), 0};
    for (size_t i = 0; i < *n; i++) {
        b.cap += 16; /* this delivery's reserved header */
        pack_delivery(&b, &out[i]);
    }
    *blob_len = b.len;
    return NB_OK;
}

void nb_py_queue_close(nb_py_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

void nb_py_queue_destroy(nb_py_queue *q)
{
    if (!q)
        return;
    nb_py_queue_close(q); /* a delivery thread waiting for room gives up */
    nb_subscription_destroy(q->sub); /* no callback runs after this */
    pyq_free(q);
}
