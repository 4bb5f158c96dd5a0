/* SPDX-License-Identifier: MIT */
/*
 * jetstream.c - JetStream over nats.c 3.4.1: streams (create-or-check,
 * info, delete) and publishing envelopes with Nats-Msg-Id = msg_id, sync
 * with retries or async with a bounded number in flight. The durable pull
 * consumers are in jsconsumer.c.
 *
 * Why it is done this way (see docs/DELIVERY.md and ../shared nats-c notes):
 *  - Sync publish retries reuse the built bytes, so a link payload is
 *    uploaded once and the stream's duplicate window keeps one copy.
 *  - Every async publish carries a MaxWait, so each one ends in exactly one
 *    ack callback (ack or timeout) and a publisher can always drain; destroy
 *    takes back from nats.c what is still pending and reports each itself.
 *  - Durations are bounded (30 days) before they reach nats.c, which adds
 *    them to its millisecond clock, or the server, which counts nanoseconds.
 */
#include "backoff.h"
#include "buf.h"
#include "envelope.h"
#include "jetstream.h"
#include "messaging.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RETRY_DELAY_MS 200
#define MAX_RETRY_DELAY_MS 5000
#define DEFAULT_MAX_PENDING 256
#define MSG_ID_HEADER "Nats-Msg-Id"

/* ======================================================================== */
/* Shared helpers                                                           */
/* ======================================================================== */

/*
 * Stream and consumer names become subject tokens and file names on the
 * server: no '.', wildcards, path separators or whitespace.
 */
nb_status nbi_js_check_name(const char *what, const char *name)
{
    if (!name || !*name)
        return nbi_fail(NB_INVALID_ARG, "%s: a name is required", what);
    if (strlen(name) > 255)
        return nbi_fail(NB_INVALID_ARG, "%s: '%.40s...' is longer than 255 bytes", what, name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p))
            return nbi_fail(NB_INVALID_ARG,
                            "%s: '%.200s' holds '%c' (no '.', '*', '>', '/', '\\' or whitespace)",
                            what, name, *p > ' ' && *p != 0x7f ? *p : '?');
    return NB_OK;
}

/* A nats.c JetStream failure; a stream or consumer that is not there is NB_NOT_FOUND. */
nb_status nbi_js_fail(natsStatus ns, jsErrCode jerr, const char *what)
{
    if (jerr == JSStreamNotFoundErr)
        return nbi_fail(NB_NOT_FOUND, "%s: no such stream", what);
    if (jerr == JSConsumerNotFoundErr)
        return nbi_fail(NB_NOT_FOUND, "%s: no such consumer", what);
    if (ns == NATS_NO_RESPONDERS)
        return nbi_fail(NB_NO_RESPONDERS,
                        "%s: no JetStream answered (not enabled on the server, or not ready yet)",
                        what);
    return nbi_from_nats(ns, what);
}

nb_status nbi_js_failf(natsStatus ns, jsErrCode jerr, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return nbi_js_fail(ns, jerr, what);
}

nb_status nbi_js_check_duration(const char *what, const char *name, int64_t ms)
{
    if (ms < 0 || ms > NBI_JS_MAX_DURATION_MS)
        return nbi_fail(NB_INVALID_ARG, "%s: %s %lld ms is not between 0 and %lld (30 days)", what,
                        name, (long long)ms, (long long)NBI_JS_MAX_DURATION_MS);
    return NB_OK;
}

/* Keeps the recorded message but makes it the caller's mistake (the server refused the config). */
nb_status nbi_js_as_invalid_arg(void)
{
    char message[1024];
    snprintf(message, sizeof message, "%s", nb_last_error());
    return nbi_fail(NB_INVALID_ARG, "%s", message);
}

nb_status nbi_js_context(nb_client *c, int64_t wait_ms, jsOptions *o, jsCtx **out)
{
    jsOptions defaults;
    if (!o) {
        jsOptions_Init(&defaults);
        o = &defaults;
    }
    o->Wait = wait_ms;
    return nbi_from_nats(natsConnection_JetStream(out, nbi_client_nats(c), o), "JetStream context");
}

/* ======================================================================== */
/* Streams                                                                  */
/* ======================================================================== */

static nb_status check_stream_config(const nb_js_stream_config *cfg)
{
    nb_status s = nbi_js_check_name("stream", cfg->name);
    if (s != NB_OK)
        return s;
    if (cfg->subject_count == 0 || !cfg->subjects)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': at least one subject is required", cfg->name);
    if (cfg->subject_count > 10000)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': %zu subjects is too many", cfg->name,
                        cfg->subject_count);
    for (size_t i = 0; i < cfg->subject_count; i++)
        if ((s = nbi_check_token("stream subject", cfg->subjects[i], true)) != NB_OK)
            return nbi_fail_prefix(s, "stream '%s': subjects[%zu]", cfg->name, i);
    if (cfg->storage != NB_JS_FILE && cfg->storage != NB_JS_MEMORY)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': storage %d is neither file nor memory",
                        cfg->name, (int)cfg->storage);
    if (cfg->replicas < 0 || cfg->replicas > 5)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': replicas %d is not between 1 and 5",
                        cfg->name, cfg->replicas);
    if (cfg->max_age_ms < 0 || cfg->max_age_ms > INT64_MAX / NS_PER_MS)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': max age %lld ms is out of range", cfg->name,
                        (long long)cfg->max_age_ms);
    if (cfg->duplicate_window_ms < 0 || cfg->duplicate_window_ms > INT64_MAX / NS_PER_MS)
        return nbi_fail(NB_INVALID_ARG, "stream '%s': duplicate window %lld ms is out of range",
                        cfg->name, (long long)cfg->duplicate_window_ms);
    return NB_OK;
}

static const char *storage_name(int storage) { return storage == js_MemoryStorage ? "memory" : "file"; }

static bool has_subject(const char **list, int n, const char *subject)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], subject) == 0)
            return true;
    return false;
}

static bool same_subjects(const jsStreamConfig *have, const nb_js_stream_config *want)
{
    if ((size_t)have->SubjectsLen != want->subject_count)
        return false;
    for (size_t i = 0; i < want->subject_count; i++)
        if (!has_subject(have->Subjects, have->SubjectsLen, want->subjects[i]))
            return false;
    return true;
}

static void append_subjects(nbi_buf *b, const char *const *list, size_t n)
{
    nbi_buf_append_str(b, "[");
    for (size_t i = 0; i < n; i++) {
        nbi_buf_append_str(b, i ? ", " : "");
        nbi_buf_append_str(b, list[i]);
    }
    nbi_buf_append_str(b, "]");
}

static void append_number_diff(nbi_buf *b, const char *what, long long have, long long want)
{
    char text[160];
    snprintf(text, sizeof text, "; %s %lld (asked %lld)", what, have, want);
    nbi_buf_append_str(b, text);
}

/* Lists every setting in which the existing stream differs from cfg, or returns NB_OK. */
static nb_status compare_stream(const jsStreamConfig *have, const nb_js_stream_config *want)
{
    nbi_buf diff = NBI_BUF_INIT;
    if (!same_subjects(have, want)) {
        nbi_buf_append_str(&diff, "; subjects ");
        append_subjects(&diff, (const char *const *)have->Subjects, (size_t)have->SubjectsLen);
        nbi_buf_append_str(&diff, " (asked ");
        append_subjects(&diff, want->subjects, want->subject_count);
        nbi_buf_append_str(&diff, ")");
    }
    int want_storage = want->storage == NB_JS_MEMORY ? js_MemoryStorage : js_FileStorage;
    if ((int)have->Storage != want_storage) {
        nbi_buf_append_str(&diff, "; storage ");
        nbi_buf_append_str(&diff, storage_name((int)have->Storage));
        nbi_buf_append_str(&diff, " (asked ");
        nbi_buf_append_str(&diff, storage_name(want_storage));
        nbi_buf_append_str(&diff, ")");
    }
    int64_t replicas = have->Replicas > 0 ? have->Replicas : 1;
    int want_replicas = want->replicas > 0 ? want->replicas : 1;
    if (replicas != want_replicas)
        append_number_diff(&diff, "replicas", (long long)replicas, want_replicas);
    if (have->MaxAge / NS_PER_MS != want->max_age_ms)
        append_number_diff(&diff, "max age ms", (long long)(have->MaxAge / NS_PER_MS),
                           (long long)want->max_age_ms);
    if (want->duplicate_window_ms > 0 && have->Duplicates / NS_PER_MS != want->duplicate_window_ms)
        append_number_diff(&diff, "duplicate window ms", (long long)(have->Duplicates / NS_PER_MS),
                           (long long)want->duplicate_window_ms);
    if (diff.len == 0)
        return NB_OK;
    nb_status s = nbi_fail(NB_INVALID_ARG, "stream '%s' exists with other settings: %s",
                           want->name, diff.data ? (char *)diff.data + 2 : "out of memory");
    nbi_buf_free(&diff);
    return s;
}

static nb_status add_stream(jsCtx *js, const nb_js_stream_config *cfg)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = cfg->name;
    sc.Subjects = (const char **)cfg->subjects;
    sc.SubjectsLen = (int)cfg->subject_count;
    sc.Storage = cfg->storage == NB_JS_MEMORY ? js_MemoryStorage : js_FileStorage;
    sc.Replicas = cfg->replicas > 0 ? cfg->replicas : 1;
    sc.MaxAge = cfg->max_age_ms * NS_PER_MS;
    sc.Duplicates = cfg->duplicate_window_ms * NS_PER_MS;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_AddStream(&si, js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (ns == NATS_OK)
        return NB_OK;
    nb_status s = nbi_js_failf(ns, jerr, "create stream '%.200s'", cfg->name);
    /* The server's refusal (overlapping subjects, bad replicas) is about the caller's config. */
    return ns == NATS_ERR ? nbi_js_as_invalid_arg() : s;
}

nb_status nb_js_stream_ensure(nb_client *c, const nb_js_stream_config *cfg, bool *created)
{
    if (created)
        *created = false;
    if (!c || !cfg)
        return nbi_fail(NB_INVALID_ARG, "stream ensure: client and config are required");
    nb_status s = check_stream_config(cfg);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, js, cfg->name, NULL, &jerr);
    if (ns == NATS_OK) {
        s = compare_stream(si->Config, cfg);
    } else if (nbi_js_missing(ns, jerr, JSStreamNotFoundErr)) {
        s = add_stream(js, cfg);
        if (s == NB_OK && created)
            *created = true;
    } else {
        s = nbi_js_failf(ns, jerr, "stream '%.200s'", cfg->name);
    }
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return s;
}

/* The public info and the strings its views point into, freed together. */
typedef struct info_holder {
    nb_js_stream_info pub; /* first: the public pointer is the holder's */
    char *name;
    char **subjects;
    size_t count;
} info_holder;

void nb_js_stream_info_destroy(nb_js_stream_info *info)
{
    info_holder *h = (info_holder *)info;
    if (!h)
        return;
    for (size_t i = 0; i < h->count; i++)
        free(h->subjects[i]);
    free(h->subjects);
    free(h->name);
    free(h);
}

nb_status nbi_js_copy_stream_info(const jsStreamInfo *si, nb_js_stream_info **out)
{
    const jsStreamConfig *sc = si->Config;
    info_holder *h = calloc(1, sizeof *h);
    size_t n = sc && sc->SubjectsLen > 0 ? (size_t)sc->SubjectsLen : 0;
    bool ok = h && sc && (h->name = nbi_strdup(sc->Name)) &&
              (h->subjects = calloc(n ? n : 1, sizeof *h->subjects));
    for (size_t i = 0; ok && i < n; i++, h->count++)
        ok = (h->subjects[i] = nbi_strdup(sc->Subjects[i])) != NULL;
    if (!ok) {
        nb_js_stream_info_destroy(h ? &h->pub : NULL);
        return sc ? nbi_fail(NB_NO_MEMORY, "stream info: out of memory")
                  : nbi_fail(NB_NATS, "stream info: the server sent no config");
    }
    nb_js_stream_config *c = &h->pub.config;
    c->name = h->name;
    c->subjects = (const char *const *)h->subjects;
    c->subject_count = n;
    c->storage = sc->Storage == js_MemoryStorage ? NB_JS_MEMORY : NB_JS_FILE;
    c->replicas = (int)sc->Replicas;
    c->max_age_ms = sc->MaxAge / NS_PER_MS;
    c->duplicate_window_ms = sc->Duplicates / NS_PER_MS;
    h->pub.messages = si->State.Msgs;
    h->pub.bytes = si->State.Bytes;
    h->pub.first_seq = si->State.FirstSeq;
    h->pub.last_seq = si->State.LastSeq;
    h->pub.consumers = si->State.Consumers;
    h->pub.max_msgs = sc->MaxMsgs > 0 ? sc->MaxMsgs : -1;
    h->pub.max_bytes = sc->MaxBytes > 0 ? sc->MaxBytes : -1;
    *out = &h->pub;
    return NB_OK;
}

/* A JetStream context for an operation on the stream name, once the name is checked. */
static nb_status named_context(nb_client *c, const char *what, const char *name, jsCtx **js)
{
    nb_status s = nbi_js_check_name(what, name);
    return s == NB_OK ? nbi_js_context(c, DEFAULT_WAIT_MS, NULL, js) : s;
}

nb_status nb_js_stream_info_get(nb_client *c, const char *name, nb_js_stream_info **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "stream info: out is NULL");
    *out = NULL;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "stream info: client is NULL");
    jsCtx *js = NULL;
    nb_status s = named_context(c, "stream info", name, &js);
    if (s != NB_OK)
        return s;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, js, name, NULL, &jerr);
    s = ns == NATS_OK ? nbi_js_copy_stream_info(si, out) : nbi_js_failf(ns, jerr, "stream '%.200s'", name);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return s;
}

nb_status nb_js_stream_delete(nb_client *c, const char *name)
{
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "stream delete: client is NULL");
    jsCtx *js = NULL;
    nb_status s = named_context(c, "stream delete", name, &js);
    if (s != NB_OK)
        return s;
    jsErrCode jerr = 0;
    natsStatus ns = js_DeleteStream(js, name, NULL, &jerr);
    s = ns == NATS_OK ? NB_OK : nbi_js_failf(ns, jerr, "delete stream '%.200s'", name);
    jsCtx_Destroy(js);
    return s;
}

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
    nb_status s = nb_envelope_build(e, subject, nb_client_options(c));
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
