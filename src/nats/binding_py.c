/* SPDX-License-Identifier: MIT */
/*
 * binding_py.c - what the Python binding (bindings/python, ctypes) needs to
 * cross into C less often: every payload of a received envelope in one call,
 * and deliveries taken from a subscription in batches. Each ctypes call costs
 * about as much as decoding a small envelope, and each delivery callback from
 * a nats.c thread has to take Python's GIL; a queue read in bulk by one Python
 * thread takes it once per batch instead.
 *
 * The queue is a sync subscription (messaging.c): messages wait in nats.c's
 * own queue, under its pending limits (drops reported as SLOW_CONSUMER), and
 * the Python thread that takes them decodes them, without the GIL. A callback
 * subscription in between (nats.c's delivery thread decoding into a queue of
 * ours) cost a thread wake-up more per batch and made the Python thread free
 * what another thread's allocator made: 12 against 16.6 us of CPU per
 * envelope in bench_python.py's send + callback row, on an idle machine.
 */
#include "client.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct nb_py_queue {
    nb_subscription *sub; /* a sync one: the reader's own thread takes and decodes */
    atomic_bool closed;
};

nb_status nb_py_queue_subscribe(nb_client *c, nb_py_queue **out, const char *subject,
                                const char *queue)
{
    if (out)
        *out = NULL;
    if (!c || !out)
        return nbi_fail(NB_INVALID_ARG, "queue subscribe: %s is NULL", !c ? "client" : "out");
    nb_py_queue *q = calloc(1, sizeof *q);
    if (!q)
        return nbi_fail(NB_NO_MEMORY, "queue subscribe: out of memory");
    atomic_init(&q->closed, false);
    nb_status s = nb_client_subscribe_sync(c, &q->sub, subject, queue);
    if (s != NB_OK) {
        free(q); /* the subscribe's message stays */
        return s;
    }
    *out = q;
    return NB_OK;
}

/* Records one outcome of nbi_subscription_take as a delivery. */
static void set_delivery(nb_py_delivery *d, nb_status st, nb_envelope *env)
{
    d->env = env;
    d->status = (int)st;
    d->message[0] = '\0';
    if (st != NB_OK)
        snprintf(d->message, sizeof d->message, "%s", nb_last_error());
}

/* A wait for ever is made of waits this long (nats.c takes a deadline, not "no limit"). */
#define WAIT_FOREVER_SLICE_MS 3600000

/* The first delivery, waiting up to timeout_ms (< 0: until one comes or the queue closes). */
static nb_status take_first(nb_py_queue *q, int64_t timeout_ms, nb_envelope **env, nbi_take *kind)
{
    for (;;) {
        int64_t slice = timeout_ms < 0 ? WAIT_FOREVER_SLICE_MS : timeout_ms;
        nb_status st = nbi_subscription_take(q->sub, slice, env, kind);
        if (*kind != NBI_TAKE_NONE || timeout_ms >= 0 || atomic_load(&q->closed))
            return st;
    }
}

nb_status nb_py_queue_next(nb_py_queue *q, int64_t timeout_ms, nb_py_delivery *out, size_t cap,
                           size_t *n)
{
    if (n)
        *n = 0;
    if (!q || !out || !n || cap == 0)
        return nbi_fail(NB_INVALID_ARG, "queue next: %s", !q ? "the queue is NULL"
                        : !out ? "out is NULL" : !n ? "n is NULL" : "cap is 0");
    if (atomic_load(&q->closed))
        return nbi_fail(NB_INVALID_ARG, "queue next: the subscription is closed");
    size_t k = 0;
    nbi_take kind;
    nb_envelope *env = NULL;
    nb_status st = take_first(q, timeout_ms, &env, &kind);
    /* Then what is queued already, without waiting; an error ends the batch (it may be the
     * subscription's end, which the next call reports alone). */
    while (kind == NBI_TAKE_DELIVERY) {
        set_delivery(&out[k++], st, env);
        if (k == cap || st != NB_OK || atomic_load(&q->closed))
            break;
        st = nbi_subscription_take(q->sub, 0, &env, &kind);
    }
    *n = k;
    if (k > 0)
        return NB_OK;
    if (atomic_load(&q->closed))
        return nbi_fail(NB_INVALID_ARG, "queue next: the subscription is closed");
    if (kind == NBI_TAKE_ENDED)
        return st; /* its message says why (the connection closed, say) */
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
    atomic_store(&q->closed, true);
    nbi_subscription_stop(q->sub); /* a reader waiting in nats.c wakes */
}

void nb_py_queue_destroy(nb_py_queue *q)
{
    if (!q)
        return;
    nb_py_queue_close(q);
    nb_subscription_destroy(q->sub);
    free(q);
}
