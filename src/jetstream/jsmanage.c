/* SPDX-License-Identifier: MIT */
/*
 * jsmanage.c - JetStream management for operators (issue 13): list streams,
 * purge and update one, list, read consumers. Creating, reading and deleting
 * one stream is in jetstream.c; durable and ephemeral consumers that pull are
 * in jsconsumer.c.
 *
 * Why it is done this way:
 *  - A purge is our own $JS.API.STREAM.PURGE request: js_PurgeStream of
 *    nats.c 3.4.1 does not return how many messages went, which is what an
 *    operator wants to see.
 *  - An update starts from the stream's current config as the server has it
 *    and changes only the members asked for, so that every other setting
 *    (including those natsbridge does not know) stays as it is.
 *  - nats.c answers an empty list with NATS_NOT_FOUND: that is no stream or
 *    no consumer, not an error.
 */
#include "jetstream.h"
#include "client.h"
#include "natsstatus.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* Streams                                                                  */
/* ======================================================================== */

void nb_js_stream_list_destroy(nb_js_stream_info **list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++)
        nb_js_stream_info_destroy(list[i]);
    free(list);
}

static nb_status copy_stream_list(const jsStreamInfoList *sl, nb_js_stream_info ***out,
                                  size_t *count)
{
    size_t n = sl && sl->Count > 0 ? (size_t)sl->Count : 0;
    if (n == 0)
        return NB_OK;
    nb_js_stream_info **list = calloc(n, sizeof *list);
    if (!list)
        return nbi_fail(NB_NO_MEMORY, "stream list: out of memory");
    nb_status s = NB_OK;
    size_t done = 0;
    for (; s == NB_OK && done < n; done++)
        s = nbi_js_copy_stream_info(sl->List[done], &list[done]);
    if (s != NB_OK) {
        nb_js_stream_list_destroy(list, done);
        return s;
    }
    *out = list;
    *count = n;
    return NB_OK;
}

nb_status nb_js_stream_list(nb_client *c, nb_js_stream_info ***out, size_t *count)
{
    if (!out || !count)
        return nbi_fail(NB_INVALID_ARG, "stream list: out and count are required");
    *out = NULL;
    *count = 0;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "stream list: client is NULL");
    jsCtx *js = NULL;
    nb_status s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsStreamInfoList *sl = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_Streams(&sl, js, NULL, &jerr);
    if (ns == NATS_OK)
        s = copy_stream_list(sl, out, count);
    else if (ns != NATS_NOT_FOUND) /* NOT_FOUND: the server has no stream */
        s = nbi_js_fail(ns, jerr, "list streams");
    jsStreamInfoList_Destroy(sl);
    jsCtx_Destroy(js);
    return s;
}

/* Sends a JetStream API request and parses the answer; a refusal is named with its code. */
static nb_status api_request(nb_client *c, const char *subject, const char *body,
                             const char *what, cJSON **answer)
{
    *answer = NULL;
    natsMsg *resp = NULL;
    natsStatus ns = natsConnection_RequestString(&resp, nbi_client_nats(c), subject, body,
                                                 DEFAULT_WAIT_MS);
    if (ns != NATS_OK)
        return nbi_js_fail(ns, 0, what);
    const char *data = natsMsg_GetData(resp);
    cJSON *doc = cJSON_ParseWithLength(data ? data : "", (size_t)natsMsg_GetDataLength(resp));
    natsMsg_Destroy(resp);
    if (!doc)
        return nbi_fail(NB_NATS, "%s: the server's answer is not JSON", what);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    if (err) {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "description"));
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "err_code");
        nb_status s = cJSON_IsNumber(code) && (int)code->valuedouble == JSStreamNotFoundErr
                          ? nbi_fail(NB_NOT_FOUND, "%s: no such stream", what)
                          : nbi_fail(NB_INVALID_ARG, "%s: %s", what,
                                     text ? text : "refused by the server");
        cJSON_Delete(doc);
        return s;
    }
    *answer = doc;
    return NB_OK;
}

/* The body of a purge request: {"filter":..., "keep":N} with what was asked. */
static char *purge_body(const char *subject, uint64_t keep)
{
    cJSON *req = cJSON_CreateObject();
    char number[24];
    snprintf(number, sizeof number, "%llu", (unsigned long long)keep);
    bool ok = req && (!subject || cJSON_AddStringToObject(req, "filter", subject)) &&
              (keep == 0 || cJSON_AddRawToObject(req, "keep", number));
    char *body = ok ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    return body;
}

nb_status nb_js_stream_purge(nb_client *c, const char *name, const char *subject, uint64_t keep,
                             uint64_t *purged)
{
    if (purged)
        *purged = 0;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "stream purge: client is NULL");
    nb_status s = nbi_js_check_name("stream purge", name);
    if (s == NB_OK && subject)
        s = nbi_check_token("stream purge: subject", subject, true);
    if (s != NB_OK)
        return s;
    char *body = purge_body(subject, keep);
    if (!body)
        return nbi_fail(NB_NO_MEMORY, "stream purge: out of memory");
    char api[300], what[600];
    snprintf(api, sizeof api, "$JS.API.STREAM.PURGE.%s", name);
    snprintf(what, sizeof what, "purge stream '%.200s'", name);
    cJSON *answer = NULL;
    s = api_request(c, api, body, what, &answer);
    cJSON_free(body);
    if (s == NB_OK && purged) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(answer, "purged");
        *purged = cJSON_IsNumber(n) && n->valuedouble > 0 ? (uint64_t)n->valuedouble : 0;
    }
    cJSON_Delete(answer);
    return s;
}

/* The changes are checked before anything is sent: the message names the member. */
static nb_status check_changes(const char *name, const nb_js_stream_changes *ch)
{
    const char *w = name;
    if (ch->set & NB_JS_SET_SUBJECTS) {
        if (!ch->subjects || ch->subject_count == 0)
            return nbi_fail(NB_INVALID_ARG, "stream '%s': at least one subject is required", w);
        for (size_t i = 0; i < ch->subject_count; i++) {
            nb_status s = nbi_check_token("stream subject", ch->subjects[i], true);
            if (s != NB_OK)
                return nbi_fail_prefix(s, "stream '%s': subjects[%zu]", w, i);
        }
    }
    if ((ch->set & NB_JS_SET_MAX_AGE) &&
        (ch->max_age_ms < 0 || ch->max_age_ms > INT64_MAX / NS_PER_MS))
        return nbi_fail(NB_INVALID_ARG, "stream '%s': max age %lld ms is out of range", w,
                        (long long)ch->max_age_ms);
    if ((ch->set & NB_JS_SET_DUPLICATE_WINDOW) &&
        (ch->duplicate_window_ms <= 0 || ch->duplicate_window_ms > INT64_MAX / NS_PER_MS))
        return nbi_fail(NB_INVALID_ARG, "stream '%s': duplicate window %lld ms is out of range",
                        w, (long long)ch->duplicate_window_ms);
    if ((ch->set & NB_JS_SET_MAX_MSGS) && (ch->max_msgs < -1 || ch->max_msgs == 0))
        return nbi_fail(NB_INVALID_ARG, "stream '%s': max msgs %lld is neither -1 nor positive",
                        w, (long long)ch->max_msgs);
    if ((ch->set & NB_JS_SET_MAX_BYTES) && (ch->max_bytes < -1 || ch->max_bytes == 0))
        return nbi_fail(NB_INVALID_ARG, "stream '%s': max bytes %lld is neither -1 nor positive",
                        w, (long long)ch->max_bytes);
    if ((ch->set & NB_JS_SET_REPLICAS) && (ch->replicas < 1 || ch->replicas > 5))
        return nbi_fail(NB_INVALID_ARG, "stream '%s': replicas %d is not between 1 and 5", w,
                        ch->replicas);
    return NB_OK;
}

/* cfg (a shallow copy of the server's) with the asked members replaced. */
static void apply_changes(jsStreamConfig *cfg, const nb_js_stream_changes *ch)
{
    if (ch->set & NB_JS_SET_SUBJECTS) {
        cfg->Subjects = (const char **)ch->subjects;
        cfg->SubjectsLen = (int)ch->subject_count;
    }
    if (ch->set & NB_JS_SET_MAX_AGE)
        cfg->MaxAge = ch->max_age_ms * NS_PER_MS;
    if (ch->set & NB_JS_SET_MAX_MSGS)
        cfg->MaxMsgs = ch->max_msgs;
    if (ch->set & NB_JS_SET_MAX_BYTES)
        cfg->MaxBytes = ch->max_bytes;
    if (ch->set & NB_JS_SET_DUPLICATE_WINDOW)
        cfg->Duplicates = ch->duplicate_window_ms * NS_PER_MS;
    if (ch->set & NB_JS_SET_REPLICAS)
        cfg->Replicas = ch->replicas;
}

nb_status nb_js_stream_update(nb_client *c, const char *name, const nb_js_stream_changes *ch)
{
    if (!c || !ch)
        return nbi_fail(NB_INVALID_ARG, "stream update: client and changes are required");
    nb_status s = nbi_js_check_name("stream update", name);
    if (s == NB_OK && ch->set == 0)
        s = nbi_fail(NB_INVALID_ARG, "stream update '%s': nothing to change", name);
    if (s == NB_OK)
        s = check_changes(name, ch);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsStreamInfo *si = NULL, *ui = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, js, name, NULL, &jerr);
    if (ns != NATS_OK) {
        s = nbi_js_failf(ns, jerr, "stream '%.200s'", name);
    } else {
        /* A shallow copy: si keeps owning its strings, ours are only borrowed. */
        jsStreamConfig upd = *si->Config;
        apply_changes(&upd, ch);
        ns = js_UpdateStream(&ui, js, &upd, NULL, &jerr);
        if (ns != NATS_OK) {
            s = nbi_js_failf(ns, jerr, "update stream '%.200s'", name);
            /* The server refused the new settings: the caller's to fix. */
            if (ns == NATS_ERR)
                s = nbi_js_as_invalid_arg();
        }
    }
    jsStreamInfo_Destroy(ui);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return s;
}

/* ======================================================================== */
/* Consumers                                                                */
/* ======================================================================== */

/* The public info and the strings its views point into, freed together. */
typedef struct consumer_holder {
    nb_js_consumer_info pub; /* first: the public pointer is the holder's */
    char *stream, *name, *subject;
} consumer_holder;

void nb_js_consumer_info_destroy(nb_js_consumer_info *info)
{
    consumer_holder *h = (consumer_holder *)info;
    if (!h)
        return;
    free(h->stream);
    free(h->name);
    free(h->subject);
    free(h);
}

static nb_js_start start_of(jsDeliverPolicy p)
{
    switch (p) {
    case js_DeliverByStartSequence: return NB_JS_START_SEQUENCE;
    case js_DeliverByStartTime: return NB_JS_START_TIME;
    case js_DeliverNew: return NB_JS_START_NEW;
    case js_DeliverLast:
    case js_DeliverLastPerSubject: return NB_JS_START_LAST;
    default: return NB_JS_START_ALL;
    }
}

static void fill_consumer(nb_js_consumer_info *p, const jsConsumerInfo *ci)
{
    const jsConsumerConfig *cc = ci->Config;
    p->durable = cc->Durable && *cc->Durable;
    p->pull = !(cc->DeliverSubject && *cc->DeliverSubject);
    p->start = start_of(cc->DeliverPolicy);
    p->start_sequence = cc->OptStartSeq;
    p->start_time_ms = cc->OptStartTime / NS_PER_MS;
    p->ack_wait_ms = cc->AckWait / NS_PER_MS;
    p->max_deliver = cc->MaxDeliver > 0 ? cc->MaxDeliver : -1;
    p->inactive_threshold_ms = cc->InactiveThreshold / NS_PER_MS;
    p->created_ms = ci->Created / NS_PER_MS;
    p->pending = ci->NumPending;
    p->ack_pending = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
    p->redelivered = ci->NumRedelivered > 0 ? (uint64_t)ci->NumRedelivered : 0;
    p->delivered_seq = ci->Delivered.Stream;
    p->ack_floor_seq = ci->AckFloor.Stream;
}

static nb_status copy_consumer(const jsConsumerInfo *ci, nb_js_consumer_info **out)
{
    if (!ci->Config)
        return nbi_fail(NB_NATS, "consumer info: the server sent no config");
    const char *filter = ci->Config->FilterSubject ? ci->Config->FilterSubject : "";
    consumer_holder *h = calloc(1, sizeof *h);
    bool ok = h && (h->stream = nbi_strdup(ci->Stream ? ci->Stream : "")) &&
              (h->name = nbi_strdup(ci->Name ? ci->Name : "")) &&
              (h->subject = nbi_strdup(filter));
    if (!ok) {
        nb_js_consumer_info_destroy(h ? &h->pub : NULL);
        return nbi_fail(NB_NO_MEMORY, "consumer info: out of memory");
    }
    h->pub.stream = h->stream;
    h->pub.name = h->name;
    h->pub.subject = h->subject;
    fill_consumer(&h->pub, ci);
    *out = &h->pub;
    return NB_OK;
}

nb_status nb_js_consumer_info_get(nb_client *c, const char *stream, const char *name,
                                  nb_js_consumer_info **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "consumer info: out is NULL");
    *out = NULL;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "consumer info: client is NULL");
    nb_status s = nbi_js_check_name("consumer info: stream", stream);
    if (s == NB_OK)
        s = nbi_js_check_name("consumer info: name", name);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetConsumerInfo(&ci, js, stream, name, NULL, &jerr);
    s = ns == NATS_OK ? copy_consumer(ci, out)
                      : nbi_js_failf(ns, jerr, "consumer '%.200s' on stream '%.200s'", name,
                                     stream);
    jsConsumerInfo_Destroy(ci);
    jsCtx_Destroy(js);
    return s;
}

void nb_js_consumer_list_destroy(nb_js_consumer_info **list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++)
        nb_js_consumer_info_destroy(list[i]);
    free(list);
}

static nb_status copy_consumer_list(const jsConsumerInfoList *cl, nb_js_consumer_info ***out,
                                    size_t *count)
{
    size_t n = cl && cl->Count > 0 ? (size_t)cl->Count : 0;
    if (n == 0)
        return NB_OK;
    nb_js_consumer_info **list = calloc(n, sizeof *list);
    if (!list)
        return nbi_fail(NB_NO_MEMORY, "consumer list: out of memory");
    nb_status s = NB_OK;
    size_t done = 0;
    for (; s == NB_OK && done < n; done++)
        s = copy_consumer(cl->List[done], &list[done]);
    if (s != NB_OK) {
        nb_js_consumer_list_destroy(list, done);
        return s;
    }
    *out = list;
    *count = n;
    return NB_OK;
}

/* nats.c lists an empty stream as NOT_FOUND, like a missing one: ask which it is. */
static nb_status empty_or_missing(jsCtx *js, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return ns == NATS_OK ? NB_OK : nbi_js_failf(ns, jerr, "stream '%.200s'", stream);
}

nb_status nb_js_consumer_list(nb_client *c, const char *stream, nb_js_consumer_info ***out,
                              size_t *count)
{
    if (!out || !count)
        return nbi_fail(NB_INVALID_ARG, "consumer list: out and count are required");
    *out = NULL;
    *count = 0;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "consumer list: client is NULL");
    nb_status s = nbi_js_check_name("consumer list: stream", stream);
    jsCtx *js = NULL;
    if (s == NB_OK)
        s = nbi_js_context(c, DEFAULT_WAIT_MS, NULL, &js);
    if (s != NB_OK)
        return s;
    jsConsumerInfoList *cl = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_Consumers(&cl, js, stream, NULL, &jerr);
    if (ns == NATS_OK)
        s = copy_consumer_list(cl, out, count);
    else if (ns == NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        s = empty_or_missing(js, stream);
    else
        s = nbi_js_failf(ns, jerr, "consumers of stream '%.200s'", stream);
    jsConsumerInfoList_Destroy(cl);
    jsCtx_Destroy(js);
    return s;
}
