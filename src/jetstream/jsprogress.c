/* SPDX-License-Identifier: MIT */
/*
 * jsprogress.c - keeps a fetched batch of JetStream messages from being
 * redelivered while a consumer works through it: a thread sends "in
 * progress" (+WPI, which restarts the server's ack wait) every half ack
 * wait for each message of the batch that is not settled yet, including
 * the one whose links are downloading or whose callback runs.
 *
 * Why a thread: a download (bounded by the client's HTTP deadline) or a
 * callback can outlast ack_wait; without it the server hands the message to
 * another consumer on the same durable, or to us again, while it is still
 * being processed. Messages are touched only under mu, and the consumer
 * settles a message (here) before it acks it, so the two threads never use
 * one message at the same time.
 */
#include "jetstream.h"

#include "backoff.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct nbi_js_progress {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* on CLOCK_MONOTONIC; signalled by stop */
    pthread_t thread;
    int64_t period_ms;   /* half the ack wait */
    natsMsgList *batch;  /* NULL between batches */
    int next;            /* messages before this index are settled: never touched */
    int64_t due_ms;      /* when the next round of in-progress acks goes */
    bool stop;
};

/* Waits on p->cv (p->mu held) for at most ms. */
static void wait_ms(nbi_js_progress *p, int64_t ms)
{
    struct timespec until;
    nbi_deadline_after(CLOCK_MONOTONIC, ms, &until);
    pthread_cond_timedwait(&p->cv, &p->mu, &until);
}

/* One round: every unsettled message of the batch gets its ack wait restarted. */
static void send_round(nbi_js_progress *p, int64_t now)
{
    for (int i = p->next; i < p->batch->Count; i++)
        natsMsg_InProgress(p->batch->Msgs[i], NULL); /* best effort: a lost one is a redelivery */
    p->due_ms = now + p->period_ms;
}

static void *keep_alive(void *arg)
{
    nbi_js_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        int64_t now = nbi_now_ms();
        if (p->batch && now >= p->due_ms)
            send_round(p, now);
        wait_ms(p, p->batch ? p->due_ms - now : p->period_ms);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nb_status nbi_js_progress_start(nbi_js_progress **out, int64_t ack_wait_ms)
{
    *out = NULL;
    nbi_js_progress *p = calloc(1, sizeof *p);
    if (!p)
        return nbi_fail(NB_NO_MEMORY, "consumer: out of memory");
    p->period_ms = ack_wait_ms / 2 > 0 ? ack_wait_ms / 2 : 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->mu, NULL);
    if (pthread_create(&p->thread, NULL, keep_alive, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return nbi_fail(NB_NO_MEMORY, "consumer: cannot start its in-progress thread");
    }
    *out = p;
    return NB_OK;
}

void nbi_js_progress_track(nbi_js_progress *p, natsMsgList *batch)
{
    pthread_mutex_lock(&p->mu);
    p->batch = batch;
    p->next = 0;
    p->due_ms = nbi_now_ms() + p->period_ms;
    pthread_mutex_unlock(&p->mu);
}

void nbi_js_progress_settle(nbi_js_progress *p, int upto)
{
    pthread_mutex_lock(&p->mu);
    p->next = upto;
    pthread_mutex_unlock(&p->mu);
}

void nbi_js_progress_stop(nbi_js_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    p->batch = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
