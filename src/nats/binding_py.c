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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PYQ_DEFAULT_CAP 4096

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
    bool closed = q->closed;
    if (k > 0)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    *n = k;
    if (k > 0)
        return NB_OK;
    if (closed)
        return nbi_fail(NB_INVALID_ARG, "queue next: the subscription is closed");
    return nbi_fail(NB_TIMEOUT, "queue next: no message within %lld ms", (long long)timeout_ms);
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
