/* SPDX-License-Identifier: MIT */
/*
 * jsconsumer.c - durable JetStream pull consumers: a thread per consumer
 * fetches batches, decodes each envelope like nb_client_receive (link
 * payloads downloaded and verified) and acks only after the callback said
 * so; transient failures nak with a growing delay, permanent ones terminate.
 *
 * Why it is done this way (see docs/DELIVERY.md):
 *  - The durable is created with js_AddConsumer and then bound to: nats.c
 *    deletes a consumer that js_PullSubscribe created itself when the
 *    subscription goes away, which would lose the consumer's place.
 *  - Fetched messages not handed over at destroy are naked at once, so the
 *    next consumer on the durable does not wait for the ack wait.
 *  - A durable that starts from a time is created with our own API request:
 *    nats.c 3.4.1 sends the start time with a fraction that is not
 *    zero-padded (see add_consumer_from_time).
 *  - While a batch is worked through, jsprogress.c keeps its unsettled
 *    messages "in progress", so a long download or callback is not
 *    redelivered elsewhere; each message is settled there before its ack.
 *  - After the callbacks start, only k->nc (retained by the subscription and
 *    the JetStream context) is used, never the nb_client: a callback may
 *    destroy the consumer and then the client.
 */
#include "backoff.h"
#include "jetstream.h"
#include "client.h"
#include "natsstatus.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BATCH 64
#define DEFAULT_ACK_WAIT_MS 30000
#define DEFAULT_NAK_DELAY_MS 1000
#define DEFAULT_MAX_NAK_DELAY_MS 60000
#define DEFAULT_NOT_FOUND_DELIVERIES 3
#define DEFAULT_INACTIVE_MS 30000
/* How long one pull waits for messages: also how soon destroy is noticed. */
#define FETCH_WAIT_MS 500
#define MAX_FETCH_BACKOFF_MS 2000

/* ======================================================================== */
/* Durable pull consumers                                                   */
/* ======================================================================== */

struct nb_js_consumer {
    nb_client *client;     /* for decoding (nb_client_receive) and set-up only */
    natsConnection *nc;    /* the client's connection, kept alive by js and sub */
    jsCtx *js;
    nbi_js_progress *progress;
    natsSubscription *sub;
    char *stream;
    char *durable;
    char *subject;
    bool ephemeral;        /* no durable asked: made here, deleted at destroy */
    bool created;          /* the ephemeral exists on the server */
    int64_t inactive_threshold_ms;
    int batch;
    int64_t ack_wait_ms;
    int max_deliver;
    int64_t nak_delay_ms;
    int64_t max_nak_delay_ms;
    int not_found_deliveries;
    nb_js_envelope_cb on_envelope;
    nb_js_error_cb on_error;
    void *closure;
    pthread_t thread;  /* as pthread_create returned it, for the join */
    pthread_t self;    /* as the thread sees itself (set before any callback) */
    pthread_mutex_t mu;
    bool started;      /* self is set */
    bool stop;         /* set by destroy */
    bool free_on_exit; /* destroyed from its own callback: the thread frees it */
};

static void free_consumer(nb_js_consumer *k)
{
    nbi_js_progress_stop(k->progress);
    /* Bound to a durable we did not let nats.c create: unsubscribing leaves it on the server. */
    if (k->sub) {
        natsSubscription_Unsubscribe(k->sub);
        natsSubscription_Destroy(k->sub);
    }
    /* An ephemeral goes with its listener; if this fails (connection lost, client gone),
       the server removes it after its inactive threshold. */
    if (k->ephemeral && k->created)
        js_DeleteConsumer(k->js, k->stream, k->durable, NULL, NULL);
    jsCtx_Destroy(k->js);
    pthread_mutex_destroy(&k->mu);
    free(k->stream);
    free(k->durable);
    free(k->subject);
    free(k);
}

static bool stopping(nb_js_consumer *k)
{
    pthread_mutex_lock(&k->mu);
    bool stop = k->stop;
    pthread_mutex_unlock(&k->mu);
    return stop;
}

/* True once destroy was called from one of k's own callbacks: the pull loop frees k. */
static bool freed_by_loop(nb_js_consumer *k)
{
    pthread_mutex_lock(&k->mu);
    bool free_on_exit = k->free_on_exit;
    pthread_mutex_unlock(&k->mu);
    return free_on_exit;
}

static void report(nb_js_consumer *k, nb_status s, const nb_js_delivery *d, nb_js_action action)
{
    if (k->on_error)
        k->on_error(k, s, nb_last_error(), d, action, k->closure);
    else /* every message names the durable and its stream */
        fprintf(stderr, "natsbridge: %s\n", nb_last_error());
}

/* ---- checking and creating the durable ---------------------------------- */

static nb_status check_consumer_config(const nb_js_consumer_config *cfg)
{
    nb_status s = nbi_check_token("consumer: subject", cfg->subject, true);
    if (s == NB_OK && cfg->durable) /* NULL: an ephemeral consumer */
        s = nbi_js_check_name("consumer: durable", cfg->durable);
    if (s == NB_OK && cfg->stream)
        s = nbi_js_check_name("consumer: stream", cfg->stream);
    if (s != NB_OK)
        return s;
    const char *name = cfg->durable ? cfg->durable : "(ephemeral)";
    if (cfg->batch < 0 || cfg->batch > 100000)
        return nbi_fail(NB_INVALID_ARG, "consumer '%s': batch %d is not between 1 and 100000",
                        name, cfg->batch);
    char what[300];
    snprintf(what, sizeof what, "consumer '%s'", name);
    if ((s = nbi_js_check_duration(what, "ack_wait_ms", cfg->ack_wait_ms)) != NB_OK ||
        (s = nbi_js_check_duration(what, "nak_delay_ms", cfg->nak_delay_ms)) != NB_OK ||
        (s = nbi_js_check_duration(what, "max_nak_delay_ms", cfg->max_nak_delay_ms)) != NB_OK ||
        (s = nbi_js_check_duration(what, "inactive_threshold_ms", cfg->inactive_threshold_ms)) !=
            NB_OK)
        return s;
    if (cfg->max_deliver < 0 || cfg->not_found_deliveries < 0)
        return nbi_fail(NB_INVALID_ARG,
                        "consumer '%s': max_deliver %d and not_found_deliveries %d must not be "
                        "negative",
                        name, cfg->max_deliver, cfg->not_found_deliveries);
    if (cfg->start < NB_JS_START_ALL || cfg->start > NB_JS_START_LAST)
        return nbi_fail(NB_INVALID_ARG, "consumer '%s': start %d is not a known start", name,
                        (int)cfg->start);
    if (cfg->start == NB_JS_START_SEQUENCE && cfg->start_sequence == 0)
        return nbi_fail(NB_INVALID_ARG, "consumer '%s': start_sequence must be at least 1",
                        name);
    if (cfg->start == NB_JS_START_TIME &&
        (cfg->start_time_ms < 0 || cfg->start_time_ms > INT64_MAX / NS_PER_MS))
        return nbi_fail(NB_INVALID_ARG, "consumer '%s': start_time_ms %lld is out of range",
                        name, (long long)cfg->start_time_ms);
    return NB_OK;
}

static void consumer_config(jsConsumerConfig *cc, const nb_js_consumer_config *cfg)
{
    static const jsDeliverPolicy policy[] = {js_DeliverAll, js_DeliverByStartSequence,
                                             js_DeliverByStartTime, js_DeliverNew,
                                             js_DeliverLast};
    jsConsumerConfig_Init(cc);
    cc->Durable = cfg->durable;
    cc->FilterSubject = cfg->subject;
    cc->AckPolicy = js_AckExplicit;
    cc->DeliverPolicy = policy[cfg->start];
    if (cfg->start == NB_JS_START_SEQUENCE)
        cc->OptStartSeq = cfg->start_sequence;
    if (cfg->start == NB_JS_START_TIME)
        cc->OptStartTime = cfg->start_time_ms * NS_PER_MS;
    cc->AckWait = (cfg->ack_wait_ms > 0 ? cfg->ack_wait_ms : DEFAULT_ACK_WAIT_MS) * NS_PER_MS;
    cc->MaxDeliver = cfg->max_deliver > 0 ? cfg->max_deliver : -1;
    if (!cfg->durable)
        cc->InactiveThreshold = (cfg->inactive_threshold_ms > 0 ? cfg->inactive_threshold_ms
                                                                : DEFAULT_INACTIVE_MS) *
                                NS_PER_MS;
}

static const char *start_name(jsDeliverPolicy p)
{
    switch (p) {
    case js_DeliverByStartSequence: return "from a sequence";
    case js_DeliverByStartTime: return "from a time";
    case js_DeliverNew: return "new messages only";
    case js_DeliverAll: return "all";
    default: return "the last message";
    }
}

/*
 * An existing durable keeps its place; a different subject, or a start the
 * caller asked for that is not the one it was made with, is a conflict.
 */
static nb_status compare_consumer(const jsConsumerConfig *have, const jsConsumerConfig *want,
                                  const nb_js_consumer_config *cfg, const char *stream)
{
    const char *filter = have->FilterSubject ? have->FilterSubject : "";
    if (strcmp(filter, want->FilterSubject) != 0)
        return nbi_fail(NB_INVALID_ARG,
                        "durable '%s' exists with subject '%s' (asked '%s'): delete it "
                        "(natsbridge consumer rm %s %s) or use another durable name",
                        cfg->durable, filter, want->FilterSubject, stream, cfg->durable);
    bool asked_start = cfg->start != NB_JS_START_ALL;
    bool same_start = have->DeliverPolicy == want->DeliverPolicy &&
                      have->OptStartSeq == want->OptStartSeq &&
                      have->OptStartTime / NS_PER_MS == want->OptStartTime / NS_PER_MS;
    if (asked_start && !same_start)
        return nbi_fail(NB_INVALID_ARG,
                        "durable '%s' exists with start '%s' (asked '%s'): an existing durable "
                        "keeps its place; delete it (natsbridge consumer rm %s %s) or use "
                        "another durable name",
                        cfg->durable, start_name(have->DeliverPolicy),
                        start_name(want->DeliverPolicy), stream, cfg->durable);
    if (have->AckPolicy != js_AckExplicit || (have->DeliverSubject && *have->DeliverSubject))
        return nbi_fail(NB_INVALID_ARG,
                        "durable '%s' exists but is not a pull consumer with explicit acks",
                        cfg->durable);
    return NB_OK;
}

/* "2026-03-13T07:02:50.005000000Z" for ns since the epoch, into out[40]. */
static void format_utc(int64_t ns, char out[40])
{
    time_t secs = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09lldZ", (long long)(ns % 1000000000LL));
}

/* A JetStream API answer as JSON (NULL when it is not), and its error description. */
static cJSON *parse_answer(natsMsg *resp, const char **refusal)
{
    const char *data = natsMsg_GetData(resp);
    cJSON *doc = cJSON_ParseWithLength(data ? data : "", (size_t)natsMsg_GetDataLength(resp));
    *refusal = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "error"), "description"));
    return doc;
}

/* Keeps the name the server gave an ephemeral consumer, to bind to it and delete it. */
static nb_status take_ephemeral_name(nb_js_consumer *k, const char *name, const char *what)
{
    if (!name || !*name)
        return nbi_fail(NB_NATS, "%s: the server named no consumer", what);
    free(k->durable);
    if (!(k->durable = nbi_strdup(name)))
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory", what);
    k->created = true;
    return NB_OK;
}

/* The server's answer to a consumer create request: NB_OK, or its error named. */
static nb_status consumer_answer(nb_js_consumer *k, natsMsg *resp, const char *what)
{
    const char *text = NULL;
    cJSON *doc = parse_answer(resp, &text);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    nb_status s = NB_OK;
    if (!doc)
        s = nbi_fail(NB_NATS, "%s: the server's answer is not JSON", what);
    else if (err)
        s = nbi_fail(NB_INVALID_ARG, "%s: %s", what, text ? text : "refused by the server");
    else if (k->ephemeral)
        s = take_ephemeral_name(
            k, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name")), what);
    cJSON_Delete(doc);
    return s;
}

/*
 * nats.c 3.4.1 writes opt_start_time without zero-padding the fraction
 * (07:10:00.005 becomes 07:10:00.5, later than asked, so messages are
 * skipped): a durable starting from a time is created with our own request.
 */
static nb_status add_consumer_from_time(nb_js_consumer *k, const jsConsumerConfig *cc,
                                        const char *what)
{
    char when[40], subject[600], ack_wait[24], max_deliver[24], inactive[24];
    format_utc(cc->OptStartTime, when);
    /* Integers as such: cJSON would print 1e+15, which the server cannot read as a duration. */
    snprintf(ack_wait, sizeof ack_wait, "%lld", (long long)cc->AckWait);
    snprintf(max_deliver, sizeof max_deliver, "%lld", (long long)cc->MaxDeliver);
    snprintf(inactive, sizeof inactive, "%lld", (long long)cc->InactiveThreshold);
    if (k->ephemeral)
        snprintf(subject, sizeof subject, "$JS.API.CONSUMER.CREATE.%s", k->stream);
    else
        snprintf(subject, sizeof subject, "$JS.API.CONSUMER.DURABLE.CREATE.%s.%s", k->stream,
                 cc->Durable);
    cJSON *req = cJSON_CreateObject();
    cJSON *c = cJSON_CreateObject();
    bool ok = req && c && cJSON_AddStringToObject(req, "stream_name", k->stream) &&
              cJSON_AddItemToObject(req, "config", c) &&
              (k->ephemeral ? cJSON_AddRawToObject(c, "inactive_threshold", inactive) != NULL
                            : cJSON_AddStringToObject(c, "durable_name", cc->Durable) != NULL) &&
              cJSON_AddStringToObject(c, "deliver_policy", "by_start_time") &&
              cJSON_AddStringToObject(c, "opt_start_time", when) &&
              cJSON_AddStringToObject(c, "ack_policy", "explicit") &&
              cJSON_AddRawToObject(c, "ack_wait", ack_wait) &&
              cJSON_AddRawToObject(c, "max_deliver", max_deliver) &&
              cJSON_AddStringToObject(c, "filter_subject", cc->FilterSubject) &&
              cJSON_AddStringToObject(c, "replay_policy", "instant");
    if (!ok && c && !cJSON_GetObjectItem(req, "config"))
        cJSON_Delete(c);
    char *body = ok ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!body)
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory", what);
    natsMsg *resp = NULL;
    natsStatus ns = natsConnection_RequestString(&resp, k->nc, subject, body, DEFAULT_WAIT_MS);
    cJSON_free(body);
    nb_status s = ns == NATS_OK ? consumer_answer(k, resp, what) : nbi_js_fail(ns, 0, what);
    natsMsg_Destroy(resp);
    return s;
}

static nb_status add_consumer(nb_js_consumer *k, const jsConsumerConfig *want, const char *what)
{
    if (want->DeliverPolicy == js_DeliverByStartTime)
        return add_consumer_from_time(k, want, what);
    jsConsumerInfo *ai = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_AddConsumer(&ai, k->js, k->stream, (jsConsumerConfig *)want, NULL, &jerr);
    nb_status named = ns == NATS_OK && k->ephemeral ? take_ephemeral_name(k, ai->Name, what)
                                                     : NB_OK;
    jsConsumerInfo_Destroy(ai);
    if (ns == NATS_OK)
        return named;
    nb_status s = nbi_js_fail(ns, jerr, what); /* records "what: the server's reason" */
    /* The server refused the config (a filter outside the stream, ...): the caller's mistake. */
    return ns == NATS_ERR ? nbi_js_as_invalid_arg() : s;
}

/* Applies a new ack wait and max deliver to an existing durable. */
static nb_status update_consumer(nb_js_consumer *k, const jsConsumerConfig *have,
                                 const jsConsumerConfig *want, const char *what)
{
    /* nats-server 2.9 refuses any update of a durable that starts from a time ("start time
       can not be updated"), even with the very same start time sent correctly. */
    if (have->DeliverPolicy == js_DeliverByStartTime)
        return nbi_fail(NB_INVALID_ARG,
                        "%s starts from a time and cannot be updated: it has ack wait %lld ms and "
                        "max deliver %lld (asked %lld ms and %lld); delete it (natsbridge "
                        "consumer rm %s %s) or ask for the same",
                        what, (long long)(have->AckWait / NS_PER_MS), (long long)have->MaxDeliver,
                        (long long)(want->AckWait / NS_PER_MS), (long long)want->MaxDeliver,
                        k->stream, k->durable);
    jsConsumerConfig upd = *have;
    upd.AckWait = want->AckWait;
    upd.MaxDeliver = want->MaxDeliver;
    jsConsumerInfo *ui = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_UpdateConsumer(&ui, k->js, k->stream, &upd, NULL, &jerr);
    jsConsumerInfo_Destroy(ui);
    return ns == NATS_OK ? NB_OK : nbi_js_fail(ns, jerr, what);
}

/* Creates the durable, or checks and updates (ack wait, max deliver) the existing one. */
static nb_status ensure_durable(nb_js_consumer *k, const nb_js_consumer_config *cfg)
{
    jsConsumerConfig want;
    consumer_config(&want, cfg);
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    char what[600];
    if (k->ephemeral) {
        snprintf(what, sizeof what, "ephemeral consumer on stream '%.200s'", k->stream);
        return add_consumer(k, &want, what);
    }
    snprintf(what, sizeof what, "durable '%.200s' on stream '%.200s'", cfg->durable, k->stream);
    natsStatus ns = js_GetConsumerInfo(&ci, k->js, k->stream, cfg->durable, NULL, &jerr);
    nb_status s = NB_OK;
    if (ns == NATS_OK) {
        s = compare_consumer(ci->Config, &want, cfg, k->stream);
        bool changed = ci->Config->AckWait != want.AckWait || ci->Config->MaxDeliver != want.MaxDeliver;
        if (s == NB_OK && changed)
            s = update_consumer(k, ci->Config, &want, what);
    } else if (nbi_js_missing(ns, jerr, JSConsumerNotFoundErr)) {
        s = add_consumer(k, &want, what);
    } else {
        s = nbi_js_fail(ns, jerr, what);
    }
    jsConsumerInfo_Destroy(ci);
    return s;
}

/* The first stream name in a $JS.API.STREAM.NAMES answer, copied into k->stream. */
static nb_status take_stream_name(nb_js_consumer *k, natsMsg *resp, const char *subject)
{
    const char *refusal = NULL;
    cJSON *doc = parse_answer(resp, &refusal);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "streams"), 0);
    const char *name = cJSON_GetStringValue(first);
    nb_status s = name      ? nbi_js_check_name("consumer: stream", name)
                  : refusal ? nbi_fail(NB_NATS, "consumer: find the stream of '%s': %s", subject,
                                       refusal)
                            : nbi_fail(NB_INVALID_ARG, "consumer: no stream holds subject '%s'",
                                       subject);
    if (s == NB_OK && !(k->stream = nbi_strdup(name)))
        s = nbi_fail(NB_NO_MEMORY, "consumer: out of memory");
    cJSON_Delete(doc);
    return s;
}

/*
 * The stream that holds subject, when the caller did not name one: the same
 * $JS.API.STREAM.NAMES request nats.c makes (the durable needs the name first).
 */
static nb_status find_stream(nb_js_consumer *k, const char *subject)
{
    cJSON *req = cJSON_CreateObject();
    char *body = req && cJSON_AddStringToObject(req, "subject", subject)
                     ? cJSON_PrintUnformatted(req)
                     : NULL;
    cJSON_Delete(req);
    if (!body)
        return nbi_fail(NB_NO_MEMORY, "consumer: out of memory");
    natsMsg *resp = NULL;
    natsStatus ns = natsConnection_RequestString(&resp, k->nc, "$JS.API.STREAM.NAMES", body,
                                                 DEFAULT_WAIT_MS);
    cJSON_free(body);
    nb_status s = ns == NATS_OK ? take_stream_name(k, resp, subject)
                                : nbi_js_fail(ns, 0, "consumer: find the stream of the subject");
    natsMsg_Destroy(resp);
    return s;
}

static nb_status bind_subscription(nb_js_consumer *k)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = k->stream;
    so.Consumer = k->durable;
    jsErrCode jerr = 0;
    natsStatus ns = js_PullSubscribe(&k->sub, k->js, k->subject, k->durable, NULL, &so, &jerr);
    if (ns == NATS_OK) {
        /* A batch is bounded by its count: large envelopes must not be dropped as "slow". */
        natsSubscription_SetPendingLimits(k->sub, -1, -1);
        return NB_OK;
    }
    k->sub = NULL;
    return nbi_js_failf(ns, jerr, "pull subscribe to consumer '%.200s' on stream '%.200s'",
                        k->durable, k->stream);
}

/* ---- handling one message ----------------------------------------------- */

static void delivery_of(natsMsg *msg, jsMsgMetaData *meta, nb_js_consumer *k, nb_js_delivery *d)
{
    memset(d, 0, sizeof *d);
    d->stream = meta && meta->Stream ? meta->Stream : k->stream;
    d->consumer = meta && meta->Consumer ? meta->Consumer : k->durable;
    d->subject = natsMsg_GetSubject(msg) ? natsMsg_GetSubject(msg) : "";
    if (meta) {
        d->stream_seq = meta->Sequence.Stream;
        d->consumer_seq = meta->Sequence.Consumer;
        d->delivered = meta->NumDelivered;
        d->pending = meta->NumPending;
        d->timestamp_ms = meta->Timestamp / NS_PER_MS;
    }
}

/* The nak delay after the given delivery: doubled each time, capped. */
static int64_t nak_delay(const nb_js_consumer *k, uint64_t delivered)
{
    int64_t delay = k->nak_delay_ms;
    for (uint64_t i = 1; i < delivered && delay < k->max_nak_delay_ms; i++)
        delay = nbi_js_doubled(delay, k->max_nak_delay_ms);
    return delay < k->max_nak_delay_ms ? delay : k->max_nak_delay_ms;
}

/* What a decode failure means for the message: NB_JS_NAK (it may work later) or NB_JS_TERM. */
static nb_js_action classify(const nb_js_consumer *k, nb_status s, const nb_js_delivery *d)
{
    switch (s) {
    case NB_BAD_ENVELOPE:
    case NB_BAD_PAYLOAD:
    case NB_INTEGRITY:
    case NB_NOT_ALLOWED:
    case NB_TOO_LARGE:
    case NB_INVALID_ARG:
        return NB_JS_TERM;
    case NB_NOT_FOUND: /* HTTP 404/410, no such object: gone, or not there yet (a replica) */
        return d->delivered >= (uint64_t)k->not_found_deliveries ? NB_JS_TERM : NB_JS_NAK;
    default: /* NB_HTTP, NB_IO, NB_CONNECTION, NB_TIMEOUT, NB_NATS...: the server may come back */
        return NB_JS_NAK;
    }
}

/* A nak on the last allowed delivery would never come back: terminate it and say so. */
static bool last_delivery(const nb_js_consumer *k, nb_js_action a, const nb_js_delivery *d)
{
    return a == NB_JS_NAK && k->max_deliver > 0 && d->delivered >= (uint64_t)k->max_deliver;
}

static const char *action_name(nb_js_action a)
{
    return a == NB_JS_ACK ? "ack" : a == NB_JS_TERM ? "term" : "nak";
}

static natsStatus apply(nb_js_consumer *k, natsMsg *msg, nb_js_action a, const nb_js_delivery *d)
{
    if (a == NB_JS_ACK)
        return natsMsg_Ack(msg, NULL);
    if (a == NB_JS_TERM)
        return natsMsg_Term(msg, NULL);
    if (a == NB_JS_NAK_NOW)
        return natsMsg_Nak(msg, NULL);
    return natsMsg_NakWithDelay(msg, nak_delay(k, d->delivered), NULL);
}

static void report_decode_failure(nb_js_consumer *k, nb_status s, const nb_js_delivery *d,
                                  nb_js_action a, bool gave_up)
{
    char where[600];
    snprintf(where, sizeof where,
             "consumer '%.200s' on stream '%.200s': stream seq %llu (delivery %llu)", k->durable,
             k->stream, (unsigned long long)d->stream_seq, (unsigned long long)d->delivered);
    if (a == NB_JS_TERM && gave_up)
        nbi_fail_prefix(s, "%s: terminated, the last of max_deliver %d", where, k->max_deliver);
    else if (a == NB_JS_TERM)
        nbi_fail_prefix(s, "%s: terminated", where);
    else
        nbi_fail_prefix(s, "%s: naked, back in %lld ms", where,
                        (long long)nak_delay(k, d->delivered));
    report(k, s, d, a);
}

/* The callback's verdict; a nak on the last allowed delivery is a term, reported as such. */
static nb_js_action hand_over(nb_js_consumer *k, nb_envelope *env, const nb_js_delivery *d)
{
    nb_js_action a = k->on_envelope(k, env, d, k->closure);
    if (a != NB_JS_ACK && a != NB_JS_TERM && a != NB_JS_NAK_NOW)
        a = NB_JS_NAK;
    if (!last_delivery(k, a, d))
        return a;
    nbi_fail(NB_NATS,
             "consumer '%s' on stream '%s': stream seq %llu (delivery %llu): the callback naked "
             "the last of max_deliver %d: terminated, it will not come back",
             k->durable, k->stream, (unsigned long long)d->stream_seq,
             (unsigned long long)d->delivered, k->max_deliver);
    report(k, NB_NATS, d, NB_JS_TERM);
    return NB_JS_TERM;
}

/* Decodes: links are downloaded and verified; a failure is naked or terminated, and reported. */
static nb_js_action decode_and_hand_over(nb_js_consumer *k, natsMsg *msg, const nb_js_delivery *d)
{
    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    nb_envelope *env = NULL;
    nb_status s = nb_client_receive(k->client, data ? data : "", len > 0 ? (size_t)len : 0, &env);
    if (s == NB_OK)
        return hand_over(k, env, d);
    nb_envelope_destroy(env);
    nb_js_action wanted = classify(k, s, d);
    nb_js_action a = last_delivery(k, wanted, d) ? NB_JS_TERM : wanted;
    report_decode_failure(k, s, d, a, wanted != a);
    return a;
}

/*
 * Decodes, hands over, then acks as the callback said: message index i of
 * the batch is settled with the keep-alive first. Returns false when a
 * callback destroyed the consumer: the loop then ends and frees k.
 */
static bool handle(nb_js_consumer *k, natsMsgList *list, int i)
{
    natsMsg *msg = list->Msgs[i];
    jsMsgMetaData *meta = NULL;
    natsMsg_GetMetaData(&meta, msg);
    nb_js_delivery d;
    delivery_of(msg, meta, k, &d);
    nb_js_action a = decode_and_hand_over(k, msg, &d);
    bool destroyed = freed_by_loop(k);
    nbi_js_progress_settle(k->progress, i + 1);
    natsStatus ns = apply(k, msg, a, &d);
    if (ns != NATS_OK && !destroyed) {
        nb_status st = nbi_from_nats(ns, "ack");
        nbi_fail_prefix(st, "consumer '%.200s' on stream '%.200s': stream seq %llu: the %s was "
                            "not sent; it will be redelivered",
                        k->durable, k->stream, (unsigned long long)d.stream_seq, action_name(a));
        report(k, st, &d, NB_JS_NONE);
    }
    jsMsgMetaData_Destroy(meta);
    return !destroyed;
}

/* Fetched messages that will not be handled now come back at once; the list is freed. */
static void nak_rest_and_free(nb_js_consumer *k, natsMsgList *list, int from)
{
    nbi_js_progress_track(k->progress, NULL);
    for (int i = from; i < list->Count; i++)
        natsMsg_Nak(list->Msgs[i], NULL);
    natsMsgList_Destroy(list);
}

/* ---- the pull loop ------------------------------------------------------- */

/* Sleeps ms in short steps so that destroy is noticed. */
static void pause_unless_stopped(nb_js_consumer *k, int64_t ms)
{
    for (int64_t slept = 0; slept < ms && !stopping(k); slept += 50)
        nbi_sleep_ms(ms - slept < 50 ? ms - slept : 50);
}

/* A failed fetch: reported once per episode (lost connection, server restart), then a pause. */
static bool fetch_failed(nb_js_consumer *k, natsStatus ns, jsErrCode jerr, int *failures)
{
    if ((*failures)++ == 0)
        report(k,
               nbi_js_failf(ns, jerr, "pull from consumer '%.200s' on stream '%.200s'", k->durable,
                            k->stream),
               NULL, NB_JS_NONE);
    int64_t pause = *failures < MAX_FETCH_BACKOFF_MS / 200 ? *failures * 200 : MAX_FETCH_BACKOFF_MS;
    pause_unless_stopped(k, pause);
    return !stopping(k);
}

/* Works through a fetched batch; false when the consumer must stop (the list is freed). */
static bool work_through(nb_js_consumer *k, natsMsgList *list)
{
    nbi_js_progress_track(k->progress, list);
    for (int i = 0; i < list->Count; i++) {
        if (stopping(k)) {
            nak_rest_and_free(k, list, i);
            return false;
        }
        if (!handle(k, list, i)) {
            nak_rest_and_free(k, list, i + 1);
            return false;
        }
    }
    nak_rest_and_free(k, list, list->Count);
    return !stopping(k);
}

/* One fetch and its messages; false when the consumer must stop. */
static bool pull_once(nb_js_consumer *k, int *failures)
{
    natsMsgList list = {NULL, 0};
    jsErrCode jerr = 0;
    int64_t started = nbi_now_ms();
    natsStatus ns = natsSubscription_Fetch(&list, k->sub, k->batch, FETCH_WAIT_MS, &jerr);
    if (ns != NATS_OK && list.Count > 0) /* not expected from nats.c; never leak or strand them */
        nak_rest_and_free(k, &list, 0);
    if (ns == NATS_TIMEOUT) {
        /* nats.c before 3.6.1 (#634) can time out at once, again and again: do not spin. */
        pause_unless_stopped(k, FETCH_WAIT_MS - (nbi_now_ms() - started));
        return !stopping(k);
    }
    if (ns != NATS_OK)
        return fetch_failed(k, ns, jerr, failures);
    *failures = 0;
    return work_through(k, &list);
}

static void *pull_loop(void *arg)
{
    nb_js_consumer *k = arg;
    pthread_mutex_lock(&k->mu);
    k->self = pthread_self();
    k->started = true;
    pthread_mutex_unlock(&k->mu);
    int failures = 0;
    while (pull_once(k, &failures))
        ;
    if (freed_by_loop(k)) {
        /* Acks sent just before must leave before the subscription goes. */
        natsConnection_FlushTimeout(k->nc, 1000);
        free_consumer(k);
    }
    return NULL;
}

/* ---- create and destroy -------------------------------------------------- */

static nb_status copy_settings(nb_js_consumer *k, const nb_js_consumer_config *cfg)
{
    /* An ephemeral's name comes from the server; until then, messages call it so. */
    k->ephemeral = !cfg->durable;
    k->durable = nbi_strdup(cfg->durable ? cfg->durable : "(ephemeral)");
    k->subject = nbi_strdup(cfg->subject);
    if (cfg->stream)
        k->stream = nbi_strdup(cfg->stream);
    if (!k->durable || !k->subject || (cfg->stream && !k->stream))
        return nbi_fail(NB_NO_MEMORY, "consumer: out of memory");
    k->batch = cfg->batch > 0 ? cfg->batch : DEFAULT_BATCH;
    k->ack_wait_ms = cfg->ack_wait_ms > 0 ? cfg->ack_wait_ms : DEFAULT_ACK_WAIT_MS;
    k->max_deliver = cfg->max_deliver;
    k->nak_delay_ms = cfg->nak_delay_ms > 0 ? cfg->nak_delay_ms : DEFAULT_NAK_DELAY_MS;
    k->max_nak_delay_ms = cfg->max_nak_delay_ms > 0 ? cfg->max_nak_delay_ms
                                                    : DEFAULT_MAX_NAK_DELAY_MS;
    if (k->max_nak_delay_ms < k->nak_delay_ms)
        k->max_nak_delay_ms = k->nak_delay_ms;
    k->not_found_deliveries = cfg->not_found_deliveries > 0 ? cfg->not_found_deliveries
                                                            : DEFAULT_NOT_FOUND_DELIVERIES;
    return NB_OK;
}

nb_status nb_js_consumer_create(nb_js_consumer **out, nb_client *c,
                                const nb_js_consumer_config *cfg, nb_js_envelope_cb on_envelope,
                                nb_js_error_cb on_error, void *closure)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "consumer: out is NULL");
    *out = NULL;
    if (!c || !cfg || !on_envelope)
        return nbi_fail(NB_INVALID_ARG, "consumer: client, config and on_envelope are required");
    nb_status s = check_consumer_config(cfg);
    if (s != NB_OK)
        return s;
    nb_js_consumer *k = calloc(1, sizeof *k);
    if (!k)
        return nbi_fail(NB_NO_MEMORY, "consumer: out of memory");
    pthread_mutex_init(&k->mu, NULL);
    k->client = c;
    k->nc = nbi_client_nats(c);
    k->on_envelope = on_envelope;
    k->on_error = on_error;
    k->closure = closure;
    s = copy_settings(k, cfg);
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &k->js);
    if (s == NB_OK && !k->stream)
        s = find_stream(k, cfg->subject);
    if (s == NB_OK)
        s = ensure_durable(k, cfg);
    if (s == NB_OK)
        s = bind_subscription(k);
    if (s == NB_OK)
        s = nbi_js_progress_start(&k->progress, k->ack_wait_ms);
    if (s == NB_OK && pthread_create(&k->thread, NULL, pull_loop, k) != 0)
        s = nbi_fail(NB_NO_MEMORY, "consumer: cannot start its thread");
    if (s != NB_OK) {
        free_consumer(k);
        return s;
    }
    *out = k;
    return NB_OK;
}

void nb_js_consumer_destroy(nb_js_consumer *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    bool own_thread = k->started && pthread_equal(pthread_self(), k->self);
    k->free_on_exit = own_thread;
    pthread_mutex_unlock(&k->mu);
    if (own_thread) { /* from a callback: the loop ends after it and frees k */
        pthread_detach(pthread_self());
        return;
    }
    pthread_join(k->thread, NULL);
    /* Acks and naks just sent must leave before the subscription goes. */
    natsConnection_FlushTimeout(k->nc, 1000);
    free_consumer(k);
}

nb_status nb_js_consumer_delete(nb_client *c, const char *stream, const char *durable)
{
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "consumer delete: client is NULL");
    nb_status s = nbi_js_check_name("consumer delete: stream", stream);
    if (s == NB_OK)
        s = nbi_js_check_name("consumer delete: durable", durable);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsErrCode jerr = 0;
    natsStatus ns = js_DeleteConsumer(js, stream, durable, NULL, &jerr);
    s = ns == NATS_OK ? NB_OK
                      : nbi_js_failf(ns, jerr, "delete durable '%.200s' on stream '%.200s'",
                                     durable, stream);
    jsCtx_Destroy(js);
    return s;
}
