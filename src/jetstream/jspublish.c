/* SPDX-License-Identifier: MIT */
/*
 * jspublish.c - publishing envelopes to JetStream with Nats-Msg-Id = msg_id:
 * sync with retries, or async with a bounded number in flight. Above
 * jetstream.c (contexts, failures) and transport (nb_envelope_build).
 *
 * Why it is done this way (see docs/DELIVERY.md and ../shared nats-c notes):
 *  - Sync publish retries reuse the built bytes, so a link payload is
 *    uploaded once and the stream's duplicate window keeps one copy.
 *  - Every async publish carries a MaxWait, so each one ends in exactly one
 *    ack callback (ack or timeout) and a publisher can always drain; destroy
 *    takes back from nats.c what is still pending and reports each itself.
 */
#include "backoff.h"
#include "client.h"
#include "envelope.h"
#include "jetstream.h"
#include "natsstatus.h"

#include <limits.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RETRY_DELAY_MS 200
#define MAX_RETRY_DELAY_MS 5000
#define DEFAULT_MAX_PENDING 256
#define MSG_ID_HEADER "Nats-Msg-Id"

/* ======================================================================== */
/* Publishing                                                               */
/* ======================================================================== */

/* Header bytes nats.c adds: "NATS/1.0\r\n" + "Name: value\r\n" per header + "\r\n". */
static size_t header_bytes(const char *msg_id, const char *expect_stream)
{
    size_t n = 10 + strlen(MSG_ID_HEADER) + 2 + strlen(msg_id) + 2 + 2;
    if (expect_stream && *expect_stream)
        n += strlen("Nats-Expected-Stream") + 2 + strlen(expect_stream) + 2;
    return n;
}

/* Builds e like nb_client_send and refuses what the server would refuse (max_payload). */
static nb_status build_for_stream(nb_client *c, const char *subject, nb_envelope *e,
                                  const char *expect_stream)
{
    nb_status s = nb_envelope_build(e, subject, nbi_client_opts(c));
    if (s != NB_OK)
        return s;
    int64_t max = nb_client_max_payload(c);
    size_t headers = header_bytes(e->msg_id, expect_stream);
    if (max <= 0 || max > INT_MAX)
        max = INT_MAX; /* nats.c counts message bytes in an int */
    if (e->json_len > (size_t)max || (int64_t)(e->json_len + headers) > max)
        return nbi_fail(NB_TOO_LARGE,
                        "envelope for '%s' is %zu bytes (+%zu of headers), over the server's "
                        "max_payload of %lld bytes (lower the size threshold so payloads go by "
                        "link)",
                        subject, e->json_len, headers, (long long)max);
    return NB_OK;
}

static nb_status check_publish_args(nb_client *c, const char *subject, const nb_envelope *e,
                                    const nb_js_publish_options *po)
{
    if (!c || !e)
        return nbi_fail(NB_INVALID_ARG, "JetStream publish: client and envelope are required");
    nb_status s = nbi_check_token("JetStream publish", subject, true);
    if (s != NB_OK || !po)
        return s;
    if (po->retries < 0)
        return nbi_fail(NB_INVALID_ARG, "JetStream publish on '%s': retries %d is negative",
                        subject, po->retries);
    char what[300];
    snprintf(what, sizeof what, "JetStream publish on '%.200s'", subject);
    if ((s = nbi_js_check_duration(what, "timeout_ms", po->timeout_ms)) != NB_OK ||
        (s = nbi_js_check_duration(what, "retry_delay_ms", po->retry_delay_ms)) != NB_OK)
        return s;
    if (po->expect_stream && *po->expect_stream)
        return nbi_js_check_name("JetStream publish: expect_stream", po->expect_stream);
    return NB_OK;
}

/* Failures after which the same bytes may well be stored by trying again. */
static bool worth_retrying(natsStatus ns, jsErrCode jerr)
{
    return ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS || ns == NATS_CONNECTION_DISCONNECTED ||
           ns == NATS_NOT_YET_CONNECTED || ns == NATS_STALE_CONNECTION ||
           jerr == JSClusterNotAvailErr;
}

static void fill_ack(nb_js_ack *ack, const jsPubAck *pa)
{
    snprintf(ack->stream, sizeof ack->stream, "%s", pa->Stream ? pa->Stream : "");
    ack->sequence = pa->Sequence;
    ack->duplicate = pa->Duplicate;
}

static nb_status publish_failed(natsStatus ns, jsErrCode jerr, const char *subject,
                                const nb_envelope *e, int attempts)
{
    char what[400];
    snprintf(what, sizeof what, "JetStream publish on '%.200s' (msg_id %.40s, %d attempt%s)",
             subject, e->msg_id, attempts, attempts == 1 ? "" : "s");
    if (ns == NATS_NO_RESPONDERS)
        return nbi_fail(NB_NO_RESPONDERS,
                        "%s: no stream holds this subject, or JetStream is not ready", what);
    return nbi_js_fail(ns, jerr, what);
}

/* Publishes the built bytes of e, trying again as po says. */
static nb_status publish_built(jsCtx *js, const char *subject, const nb_envelope *e,
                               const nb_js_publish_options *po, nb_js_ack *ack)
{
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.MsgId = e->msg_id;
    o.MaxWait = po->timeout_ms > 0 ? po->timeout_ms : DEFAULT_WAIT_MS;
    o.ExpectStream = po->expect_stream && *po->expect_stream ? po->expect_stream : NULL;
    int64_t delay = po->retry_delay_ms > 0 ? po->retry_delay_ms : DEFAULT_RETRY_DELAY_MS;
    if (delay > MAX_RETRY_DELAY_MS)
        delay = MAX_RETRY_DELAY_MS;
    for (int attempt = 0;; attempt++) {
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        natsStatus ns = js_Publish(&pa, js, subject, e->json, (int)e->json_len, &o, &jerr);
        if (ns == NATS_OK) {
            if (ack)
                fill_ack(ack, pa);
            jsPubAck_Destroy(pa);
            return NB_OK;
        }
        if (!worth_retrying(ns, jerr) || attempt >= po->retries)
            return publish_failed(ns, jerr, subject, e, attempt + 1);
        nbi_sleep_ms(delay);
        delay = nbi_js_doubled(delay, MAX_RETRY_DELAY_MS);
    }
}

nb_status nb_client_js_publish(nb_client *c, const char *subject, nb_envelope *e,
                               const nb_js_publish_options *po, nb_js_ack *ack)
{
    static const nb_js_publish_options defaults = {0, 0, 0, NULL};
    if (ack)
        memset(ack, 0, sizeof *ack);
    nb_status s = check_publish_args(c, subject, e, po);
    if (!po)
        po = &defaults;
    if (s == NB_OK)
        s = build_for_stream(c, subject, e, po->expect_stream);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s == NB_OK)
        s = publish_built(js, subject, e, po, ack);
    jsCtx_Destroy(js);
    return s;
}

/* ---- asynchronous ------------------------------------------------------- */

/*
 * Every message counts in pending from just before js_PublishAsync until its
 * on_ack call returned; nats.c removes a message from its own pending map
 * before calling on_pub_ack (or hands it back through the pending list), so
 * each one is reported once. destroy frees p only when pending is 0.
 */
struct nb_js_publisher {
    nb_client *client;
    jsCtx *js;
    int64_t ack_timeout_ms;
    nb_js_ack_cb on_ack;
    void *closure;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* signalled when pending drops */
    int64_t pending;     /* sent, no on_ack call yet */
    bool doomed;         /* destroy was called from on_ack: the ack thread finishes it */
    pthread_mutex_t cb_mu; /* held during on_ack: calls from nats.c's thread and from a
                              destroy that abandons the rest never overlap */
};

/* The publisher whose on_ack runs on this thread, to notice destroy from inside it. */
static _Thread_local nb_js_publisher *acking;

static void call_on_ack(nb_js_publisher *p, natsMsg *msg, nb_status s, const char *error,
                        const nb_js_ack *ack)
{
    const char *id = NULL;
    if (natsMsgHeader_Get(msg, MSG_ID_HEADER, &id) != NATS_OK || !id)
        id = "";
    const char *subject = natsMsg_GetSubject(msg);
    nb_js_publisher *outer = acking;
    pthread_mutex_lock(&p->cb_mu);
    acking = p;
    p->on_ack(p, id, subject ? subject : "", s, error, ack, p->closure);
    acking = outer;
    pthread_mutex_unlock(&p->cb_mu);
}

static nb_status ack_error_status(const jsPubAckErr *pae)
{
    const char *text = pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
    if (pae->Err == NATS_TIMEOUT)
        return nbi_fail(NB_TIMEOUT, "no ack in time (the message may or may not be stored)");
    if (pae->Err == NATS_NO_RESPONDERS)
        return nbi_fail(NB_NO_RESPONDERS, "no stream holds this subject, or JetStream is not ready");
    if (pae->ErrCode == JSStreamNotFoundErr)
        return nbi_fail(NB_NOT_FOUND, "%s", text);
    return nbi_fail(pae->Err == NATS_ERR ? NB_NATS : nbi_from_nats(pae->Err, "ack"), "%s", text);
}

static void free_publisher(nb_js_publisher *p);
static void abandon_pending(nb_js_publisher *p);

/* One call per published message, from nats.c's ack thread (timeouts come that way too). */
static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    nb_js_publisher *p = closure;
    if (pa) {
        nb_js_ack ack;
        fill_ack(&ack, pa);
        call_on_ack(p, msg, NB_OK, "", &ack);
    } else {
        nb_status s = pae ? ack_error_status(pae) : nbi_fail(NB_INTERNAL, "no ack and no error");
        call_on_ack(p, msg, s, nb_last_error(), NULL);
    }
    natsMsg_Destroy(msg);
    /* Last touch of p unless doomed: once pending is 0, destroy may free it. */
    pthread_mutex_lock(&p->mu);
    p->pending--;
    bool doomed = p->doomed;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (doomed) { /* this thread delivers the acks: none can come now, the rest are abandoned */
        abandon_pending(p);
        free_publisher(p);
    }
}

nb_status nb_js_publisher_create(nb_js_publisher **out, nb_client *c, int max_pending,
                                 int64_t ack_timeout_ms, nb_js_ack_cb on_ack, void *closure)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "publisher: out is NULL");
    *out = NULL;
    if (!c || !on_ack)
        return nbi_fail(NB_INVALID_ARG, "publisher: client and on_ack are required");
    if (max_pending < 0)
        return nbi_fail(NB_INVALID_ARG, "publisher: max_pending %d is negative", max_pending);
    nb_status s = nbi_js_check_duration("publisher", "ack_timeout_ms", ack_timeout_ms);
    nb_js_publisher *p = s == NB_OK ? calloc(1, sizeof *p) : NULL;
    if (!p)
        return s != NB_OK ? s : nbi_fail(NB_NO_MEMORY, "publisher: out of memory");
    p->client = c;
    p->ack_timeout_ms = ack_timeout_ms > 0 ? ack_timeout_ms : DEFAULT_WAIT_MS;
    p->on_ack = on_ack;
    p->closure = closure;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->cb_mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = max_pending > 0 ? max_pending : DEFAULT_MAX_PENDING;
    o.PublishAsync.AckHandler = on_pub_ack;
    o.PublishAsync.AckHandlerClosure = p;
    /* A stalled send waits as long as one ack may take: by then one has ended. */
    o.PublishAsync.StallWait = p->ack_timeout_ms;
    s = nbi_js_context(c, p->ack_timeout_ms, &o, &p->js);
    if (s != NB_OK) {
        free_publisher(p);
        return s;
    }
    *out = p;
    return NB_OK;
}

static void add_pending(nb_js_publisher *p, int64_t n)
{
    pthread_mutex_lock(&p->mu);
    p->pending += n;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

nb_status nb_js_publisher_send(nb_js_publisher *p, const char *subject, nb_envelope *e)
{
    if (!p)
        return nbi_fail(NB_INVALID_ARG, "publisher send: publisher is NULL");
    nb_status s = check_publish_args(p->client, subject, e, NULL);
    if (s == NB_OK)
        s = build_for_stream(p->client, subject, e, NULL);
    if (s != NB_OK)
        return s;
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.MsgId = e->msg_id;
    o.MaxWait = p->ack_timeout_ms;
    /* Counted first: the ack may come back before js_PublishAsync returns. */
    add_pending(p, 1);
    natsStatus ns = js_PublishAsync(p->js, subject, e->json, (int)e->json_len, &o);
    if (ns == NATS_OK)
        return NB_OK;
    add_pending(p, -1); /* not registered (or taken back) by nats.c: no ack call will come */
    char what[400];
    snprintf(what, sizeof what, "JetStream async publish on '%.200s' (msg_id %.40s)", subject,
             e->msg_id);
    if (ns == NATS_TIMEOUT)
        return nbi_fail(NB_TIMEOUT, "%s: not sent: the in-flight limit was reached and no ack "
                                    "came within %lld ms",
                        what, (long long)p->ack_timeout_ms);
    return nbi_from_nats(ns, what);
}

/* Waits until pending is 0, or (timeout_ms >= 0) the deadline passes; true when drained. */
static bool wait_drained(nb_js_publisher *p, int64_t timeout_ms)
{
    struct timespec until;
    nbi_deadline_after(CLOCK_REALTIME, timeout_ms, &until);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (p->pending > 0 && rc == 0)
        rc = timeout_ms < 0 ? pthread_cond_wait(&p->cv, &p->mu)
                            : pthread_cond_timedwait(&p->cv, &p->mu, &until);
    bool drained = p->pending <= 0;
    pthread_mutex_unlock(&p->mu);
    return drained;
}

nb_status nb_js_publisher_wait(nb_js_publisher *p, int64_t timeout_ms)
{
    if (!p || timeout_ms < 0)
        return nbi_fail(NB_INVALID_ARG, "publisher wait: a publisher and a timeout >= 0 are required");
    if (acking == p)
        return nbi_fail(NB_INVALID_ARG, "publisher wait: not from its own on_ack (acks come on "
                                        "that thread)");
    if (wait_drained(p, timeout_ms))
        return NB_OK;
    return nbi_fail(NB_TIMEOUT, "publisher wait: %lld acks still pending after %lld ms",
                    (long long)nb_js_publisher_pending(p), (long long)timeout_ms);
}

int64_t nb_js_publisher_pending(nb_js_publisher *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    int64_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Takes what nats.c still holds, so that no ack callback can come for it; reports each. */
static void abandon_pending(nb_js_publisher *p)
{
    natsMsgList list = {NULL, 0};
    if (js_PublishAsyncGetPendingList(&list, p->js) != NATS_OK)
        return;
    for (int i = 0; i < list.Count; i++) {
        nbi_fail(NB_TIMEOUT, "publisher destroyed before the ack came (may or may not be stored)");
        call_on_ack(p, list.Msgs[i], NB_TIMEOUT, nb_last_error(), NULL);
    }
    add_pending(p, -(int64_t)list.Count);
    natsMsgList_Destroy(&list);
}

static void free_publisher(nb_js_publisher *p)
{
    jsCtx_Destroy(p->js);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->cb_mu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void nb_js_publisher_destroy(nb_js_publisher *p)
{
    if (!p)
        return;
    if (acking == p) { /* from on_ack: acks come on this thread, so on_pub_ack finishes it */
        pthread_mutex_lock(&p->mu);
        p->doomed = true;
        pthread_mutex_unlock(&p->mu);
        return;
    }
    /* Every message has a MaxWait, so acks or timeouts come within the ack timeout. */
    if (!wait_drained(p, p->ack_timeout_ms + 1000)) {
        abandon_pending(p);
        /* What is left is on_ack calls running now: they end, and p must outlive them. */
        wait_drained(p, -1);
    }
    free_publisher(p);
}
