/* SPDX-License-Identifier: MIT */
/*
 * jetstream.c - JetStream over nats.c 3.4.1: what every JetStream module
 * shares (names, durations, failures, contexts) and streams (create-or-check,
 * info, delete). It builds no envelope, so the Object Store (objstore.c) can
 * stand on it: publishing envelopes is jspublish.c, the durable pull
 * consumers are jsconsumer.c.
 *
 * Durations are bounded (30 days) before they reach nats.c, which adds them
 * to its millisecond clock, or the server, which counts nanoseconds.
 */
#include "backoff.h"
#include "buf.h"
#include "envelope.h"
#include "jetstream.h"
#include "client.h"
#include "natsstatus.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


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
