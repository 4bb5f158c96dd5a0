/* SPDX-License-Identifier: MIT */
/*
 * objstore.c - JetStream Object Store buckets (ADR-20) over nats.c 3.4.1
 * primitives. The claim-check backend that puts link payloads there is
 * objstore_link.c.
 *
 * nats.c gained an object store only in 3.11 (and wrote wrong meta subjects
 * until 3.12); Debian 12 has 3.4.1, so the protocol is implemented here, to
 * the letter of ADR-20, so that nats.go, nats.js (views.os) and nats.py read
 * what we put and we read what they put:
 *  - stream OBJ_<bucket> on $O.<bucket>.C.> and $O.<bucket>.M.>, discard
 *    new, rollup headers and direct get allowed, max_age = the bucket's TTL;
 *  - an object's chunks (128 KiB) go to $O.<bucket>.C.<nuid>, a fresh NUID
 *    per put, so a new version never mixes with the old one's chunks;
 *  - its info (JSON, without mtime) goes to $O.<bucket>.M.<name in padded
 *    base64url> with "Nats-Rollup: sub", which keeps one info per name;
 *  - digest "SHA-256=" + padded base64url of the SHA-256 of all bytes.
 *
 * Lessons from other clients (see the reference notes):
 *  - puts keep a bounded number of chunks in flight and wait as long as acks
 *    progress (natscli#993 failed on "too many outstanding" after 200 ms);
 *  - gets read through a pull consumer, a few chunks per request, with a
 *    per-chunk idle timeout instead of a hard deadline (nats.go#1003), and
 *    no flow control to forget to answer (nats.js#430); memory stays bounded.
 */
#include "objstore.h"

#include "backoff.h"
#include "base64.h"
#include "ids.h"
#include "integrity.h"
#include "jetstream.h"
#include "client.h"
#include "natsstatus.h"
#include "options.h"
#include "payload.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK_SIZE (128 * 1024)   /* ADR-20's default chunk */
#define DEFAULT_IDLE_MS 10000
#define DEFAULT_IN_FLIGHT 32      /* 4 MiB of chunks awaiting their acks */
#define FETCH_BATCH 32            /* chunks asked for per pull request: 4 MiB */
#define DIGEST_PREFIX "SHA-256="
#define DIGEST_LEN (8 + 44)       /* prefix + padded base64 of 32 bytes */
#define NUID_MAX 64

struct nb_objstore {
    natsConnection *nc;
    jsCtx *js;
    char *bucket;
    char *stream; /* OBJ_<bucket> */
    int64_t idle_ms;
    int max_in_flight;
    nb_progress_cb progress;
    void *progress_closure;
    /* downloads (issue 11): links into other buckets are followed only where this allows */
    nbi_bucket_allowed_fn link_allowed; /* NULL: any bucket */
    const void *link_allowed_ctx;
};

void nbi_objstore_restrict_links(nb_objstore *os, nbi_bucket_allowed_fn allowed, const void *ctx)
{
    os->link_allowed = allowed;
    os->link_allowed_ctx = ctx;
}

/* ======================================================================== */
/* Names                                                                    */
/* ======================================================================== */

/* Standard base64 into the URL alphabet, in place ('=' padding is kept). */
static void to_url_alphabet(char *s)
{
    for (; *s; s++)
        *s = *s == '+' ? '-' : *s == '/' ? '_' : *s;
}

/* Padded base64url of n bytes (malloc'd), as Go's base64.URLEncoding writes it. */
static char *base64url(const void *data, size_t n)
{
    size_t m = nbi_base64_encoded_len(n);
    char *out = m == SIZE_MAX ? NULL : malloc(m + 1);
    if (!out)
        return NULL;
    nbi_base64_encode(data, n, out);
    out[m] = '\0';
    to_url_alphabet(out);
    return out;
}

/* "$O.<bucket>.<kind>.<token>" (malloc'd). */
static char *subject_of(const nb_objstore *os, char kind, const char *token)
{
    size_t n = strlen(os->bucket) + strlen(token) + 8;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "$O.%s.%c.%s", os->bucket, kind, token);
    return s;
}

/* The meta subject of an object: its name in padded base64url (ADR-20, nats.c#934). */
static char *meta_subject(const nb_objstore *os, const char *name)
{
    char *encoded = base64url(name, strlen(name));
    char *subject = encoded ? subject_of(os, 'M', encoded) : NULL;
    free(encoded);
    return subject;
}

/* A fresh NUID: nats.c 3.4.1 does not export its generator, but inboxes end with one. */
static nb_status new_nuid(char out[NUID_MAX])
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return nbi_fail(NB_NO_MEMORY, "object store: cannot make a NUID");
    const char *dot = strrchr(inbox, '.');
    snprintf(out, NUID_MAX, "%s", dot ? dot + 1 : inbox);
    natsInbox_Destroy(inbox);
    return NB_OK;
}

/* ======================================================================== */
/* Digests                                                                  */
/* ======================================================================== */

/* "SHA-256=" + padded base64url of the digest whose hex is given. */
static void digest_from_hex(const char hex[NBI_SHA256_HEX_LEN + 1], char out[DIGEST_LEN + 1])
{
    uint8_t raw[32];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(nbi_hex_digit(hex[2 * i]) << 4 | nbi_hex_digit(hex[2 * i + 1]));
    memcpy(out, DIGEST_PREFIX, 8);
    nbi_base64_encode(raw, sizeof raw, out + 8);
    out[DIGEST_LEN] = '\0';
    to_url_alphabet(out + 8);
}

/* Ends *hash (set to NULL): hex gets the SHA-256, digest its ADR-20 text. */
static nb_status finish_digest(nbi_sha256 **hash, char hex[NBI_SHA256_HEX_LEN + 1],
                               char digest[DIGEST_LEN + 1])
{
    nb_status s = nbi_sha256_finish(*hash, hex);
    *hash = NULL;
    if (s == NB_OK)
        digest_from_hex(hex, digest);
    return s;
}

/*
 * Two digests are the same when their base64 text is, whatever the alphabet
 * or padding: some clients once wrote standard or unpadded base64
 * (nats.deno#489), and their objects are still readable.
 */
static bool same_digest(const char *a, const char *b)
{
    if (strncasecmp(a, DIGEST_PREFIX, 8) != 0 || strncasecmp(b, DIGEST_PREFIX, 8) != 0)
        return false;
    a += 8;
    b += 8;
    for (;; a++, b++) {
        char ca = *a == '+' ? '-' : *a == '/' ? '_' : *a == '=' ? '\0' : *a;
        char cb = *b == '+' ? '-' : *b == '/' ? '_' : *b == '=' ? '\0' : *b;
        if (ca != cb)
            return false;
        if (!ca)
            return true;
    }
}

/* ======================================================================== */
/* Buckets                                                                  */
/* ======================================================================== */

static nb_status js_failed(natsStatus ns, jsErrCode jerr, const char *fmt, const char *arg)
{
    char what[400];
    snprintf(what, sizeof what, fmt, arg);
    nb_status s = nbi_from_nats(ns, what);
    if (jerr)
        nbi_fail_prefix(s, "JetStream error %d", (int)jerr);
    return s;
}

static nb_status bucket_not_found(const char *bucket)
{
    return nbi_fail(NB_NOT_FOUND, "object store: bucket '%.200s' not found (no stream OBJ_%.200s)", bucket,
                    bucket);
}

void nb_objstore_destroy(nb_objstore *os)
{
    if (!os)
        return;
    jsCtx_Destroy(os->js);
    free(os->bucket);
    free(os->stream);
    free(os);
}

/* A handle on bucket over the connection nc; the stream is not looked at yet. */
static nb_status handle_on(nb_objstore **out, natsConnection *nc, const char *bucket)
{
    *out = NULL;
    nb_status s = nbi_objstore_check_bucket(bucket);
    if (s != NB_OK)
        return s;
    if (!nc)
        return nbi_fail(NB_INVALID_ARG, "object store: bucket '%s': client is NULL", bucket);
    nb_objstore *os = calloc(1, sizeof *os);
    size_t n = strlen(bucket) + 5;
    if (!os || !(os->bucket = nbi_strdup(bucket)) || !(os->stream = malloc(n))) {
        nb_objstore_destroy(os);
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    }
    snprintf(os->stream, n, "OBJ_%s", bucket);
    os->nc = nc;
    os->idle_ms = DEFAULT_IDLE_MS;
    os->max_in_flight = DEFAULT_IN_FLIGHT;
    natsStatus ns = natsConnection_JetStream(&os->js, nc, NULL);
    if (ns != NATS_OK) {
        nb_objstore_destroy(os);
        return nbi_from_nats(ns, "object store: JetStream context");
    }
    *out = os;
    return NB_OK;
}

static nb_status new_handle(nb_objstore **out, const nb_client *c, const char *bucket)
{
    return handle_on(out, nbi_client_nats(c), bucket);
}

/* The stream must exist: a missing bucket is named, not reported as a JetStream code. */
static nb_status check_stream(nb_objstore *os, bool *missing)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, os->js, os->stream, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    bool gone = nbi_js_missing(ns, jerr, JSStreamNotFoundErr);
    if (missing)
        *missing = gone;
    if (ns == NATS_OK)
        return NB_OK;
    if (gone)
        return bucket_not_found(os->bucket);
    return js_failed(ns, jerr, "object store: bucket '%.200s'", os->bucket);
}

/* prepareObjectStoreConfig of nats.go, and the stream nats.js views.os makes. */
static nb_status add_stream(nb_objstore *os, const nb_objstore_config *cfg)
{
    char *chunks = subject_of(os, 'C', ">");
    char *metas = subject_of(os, 'M', ">");
    nb_status s = NB_OK;
    if (!chunks || !metas)
        s = nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[2] = {chunks, metas};
    sc.Name = os->stream;
    sc.Description = cfg->description;
    sc.Subjects = subjects;
    sc.SubjectsLen = 2;
    sc.MaxAge = cfg->ttl_ms * NS_PER_MS;
    sc.MaxBytes = cfg->max_bytes > 0 ? cfg->max_bytes : -1;
    sc.Storage = cfg->memory_storage ? js_MemoryStorage : js_FileStorage;
    sc.Replicas = cfg->replicas > 0 ? cfg->replicas : 1;
    sc.Discard = js_DiscardNew;
    sc.AllowRollup = true;
    sc.AllowDirect = true;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = s == NB_OK ? js_AddStream(&si, os->js, &sc, NULL, &jerr) : NATS_OK;
    jsStreamInfo_Destroy(si);
    free(chunks);
    free(metas);
    if (s != NB_OK || ns == NATS_OK)
        return s;
    if (jerr == JSStreamNameExistErr) /* made meanwhile, or with another config: use it as is */
        return check_stream(os, NULL);
    return js_failed(ns, jerr, "object store: cannot create bucket '%.200s'", os->bucket);
}

static nb_status check_config(const nb_objstore_config *cfg)
{
    if (!cfg)
        return nbi_fail(NB_INVALID_ARG, "object store: config is NULL");
    nb_status s = nbi_objstore_check_bucket(cfg->bucket);
    if (s == NB_OK && (cfg->ttl_ms < 0 || cfg->ttl_ms > INT64_MAX / NS_PER_MS))
        s = nbi_fail(NB_INVALID_ARG, "object store: bucket '%s': ttl_ms %lld is out of range",
                     cfg->bucket, (long long)cfg->ttl_ms);
    if (s == NB_OK && (cfg->replicas < 0 || cfg->replicas > 5))
        s = nbi_fail(NB_INVALID_ARG, "object store: bucket '%s': replicas %d is not 0 to 5",
                     cfg->bucket, cfg->replicas);
    if (s == NB_OK && cfg->max_bytes < 0)
        s = nbi_fail(NB_INVALID_ARG, "object store: bucket '%s': max_bytes is negative", cfg->bucket);
    return s;
}

nb_status nbi_objstore_create(nb_objstore **out, const nb_client *c, const nb_objstore_config *cfg)
{
    nb_status s = check_config(cfg);
    if (s == NB_OK)
        s = new_handle(out, c, cfg->bucket);
    if (s != NB_OK)
        return s;
    /* Looked up first: an existing bucket is used as it is, like nats.js views.os. */
    bool missing = false;
    s = check_stream(*out, &missing);
    if (missing)
        s = add_stream(*out, cfg);
    if (s != NB_OK) {
        nb_objstore_destroy(*out);
        *out = NULL;
    }
    return s;
}

nb_status nbi_objstore_open(nb_objstore **out, const nb_client *c, const char *bucket)
{
    nb_status s = new_handle(out, c, bucket);
    if (s == NB_OK && (s = check_stream(*out, NULL)) != NB_OK) {
        nb_objstore_destroy(*out);
        *out = NULL;
    }
    return s;
}

nb_status nb_objstore_create(nb_objstore **out, nb_client *c, const nb_objstore_config *cfg)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "object store: out is NULL");
    return nbi_objstore_create(out, c, cfg);
}

nb_status nb_objstore_open(nb_objstore **out, nb_client *c, const char *bucket)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "object store: out is NULL");
    return nbi_objstore_open(out, c, bucket);
}

nb_status nb_objstore_delete_bucket(nb_client *c, const char *bucket)
{
    nb_objstore *os = NULL;
    nb_status s = new_handle(&os, c, bucket);
    if (s != NB_OK)
        return s;
    jsErrCode jerr = 0;
    natsStatus ns = js_DeleteStream(os->js, os->stream, NULL, &jerr);
    if (ns != NATS_OK)
        s = nbi_js_missing(ns, jerr, JSStreamNotFoundErr)
                ? bucket_not_found(bucket)
                : js_failed(ns, jerr, "object store: cannot delete bucket '%.200s'", bucket);
    nb_objstore_destroy(os);
    return s;
}

nb_status nb_objstore_set_idle_timeout(nb_objstore *os, int64_t ms)
{
    if (!os || ms <= 0 || ms > 3600000)
        return nbi_fail(NB_INVALID_ARG, "object store: idle timeout must be 1 to 3600000 ms");
    os->idle_ms = ms;
    return NB_OK;
}

nb_status nb_objstore_set_max_in_flight(nb_objstore *os, int chunks)
{
    if (!os || chunks < 1 || chunks > 4096)
        return nbi_fail(NB_INVALID_ARG, "object store: chunks in flight must be 1 to 4096");
    os->max_in_flight = chunks;
    return NB_OK;
}

nb_status nb_objstore_set_progress_cb(nb_objstore *os, nb_progress_cb cb, void *closure)
{
    if (!os)
        return nbi_fail(NB_INVALID_ARG, "object store: handle is NULL");
    os->progress = cb;
    os->progress_closure = closure;
    return NB_OK;
}

/* ======================================================================== */
/* Object info (the meta message)                                           */
/* ======================================================================== */

void nb_object_info_clear(nb_object_info *info)
{
    if (!info)
        return;
    free(info->name);
    free(info->bucket);
    free(info->nuid);
    free(info->digest);
    memset(info, 0, sizeof *info);
}

/*
 * The ObjectInfo JSON of ADR-20, without mtime (readers take it from the
 * message's time). A tombstone has deleted:true, size 0, chunks 0, digest "".
 */
static char *info_json(const nb_object_info *info, bool deleted)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *options = cJSON_CreateObject();
    bool ok = o && options && cJSON_AddStringToObject(o, "name", info->name) &&
              cJSON_AddStringToObject(o, "bucket", info->bucket) &&
              cJSON_AddStringToObject(o, "nuid", info->nuid) &&
              cJSON_AddNumberToObject(o, "size", (double)info->size) &&
              cJSON_AddNumberToObject(o, "chunks", (double)info->chunks) &&
              cJSON_AddStringToObject(o, "digest", nbi_or_empty(info->digest));
    if (ok && deleted)
        ok = cJSON_AddBoolToObject(o, "deleted", true) != NULL;
    if (ok && !deleted) {
        ok = cJSON_AddNumberToObject(options, "max_chunk_size", CHUNK_SIZE) != NULL &&
             cJSON_AddItemToObject(o, "options", options);
        options = ok ? NULL : options;
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(options);
    cJSON_Delete(o);
    return text;
}

static nb_status copy_field(char **dst, const cJSON *o, const char *key, bool required)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    if (!v && required)
        return nbi_fail(NB_BAD_PAYLOAD, "object info: field '%s' is missing or not a string", key);
    return nbi_set_string(dst, v ? v : "");
}

static nb_status number_field(const cJSON *o, const char *key, double max, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = 0;
    if (!v) /* a tombstone may omit them */
        return NB_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max)
        return nbi_fail(NB_BAD_PAYLOAD, "object info: field '%s' is not a count", key);
    *out = v->valuedouble;
    return NB_OK;
}

/* options.link of an info: the object is a link to bucket/name (name "" = to a whole bucket). */
typedef struct obj_link {
    bool present;
    char *bucket;
    char *name;
} obj_link;

static void link_clear(obj_link *l)
{
    free(l->bucket);
    free(l->name);
    memset(l, 0, sizeof *l);
}

static nb_status parse_link(const cJSON *o, obj_link *link)
{
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(o, "options");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(options, "link");
    if (!link || !l || cJSON_IsNull(l))
        return NB_OK;
    if (!cJSON_IsObject(l))
        return nbi_fail(NB_BAD_PAYLOAD, "object info: options.link is not an object");
    link->present = true;
    nb_status s = copy_field(&link->bucket, l, "bucket", true);
    return s == NB_OK ? copy_field(&link->name, l, "name", false) : s;
}

/* Reads a meta message's JSON into info; unknown fields are ignored (ADR-20). */
static nb_status parse_info(natsMsg *msg, nb_object_info *info, bool *deleted, obj_link *link)
{
    int len = natsMsg_GetDataLength(msg);
    cJSON *o = cJSON_ParseWithLength(natsMsg_GetData(msg), len > 0 ? (size_t)len : 0);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return nbi_fail(NB_BAD_PAYLOAD, "object info: not a JSON object");
    }
    double size = 0, chunks = 0;
    nb_status s = copy_field(&info->name, o, "name", true);
    if (s == NB_OK)
        s = copy_field(&info->bucket, o, "bucket", false);
    if (s == NB_OK)
        s = copy_field(&info->nuid, o, "nuid", false); /* nats.js links have none */
    if (s == NB_OK)
        s = copy_field(&info->digest, o, "digest", false);
    if (s == NB_OK)
        s = number_field(o, "size", 9007199254740992.0, &size);
    if (s == NB_OK)
        s = number_field(o, "chunks", 4294967295.0, &chunks);
    if (s == NB_OK)
        s = parse_link(o, link);
    info->size = (uint64_t)size;
    info->chunks = (uint32_t)chunks;
    info->mtime_ns = natsMsg_GetTime(msg);
    *deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted"));
    cJSON_Delete(o);
    return s;
}

static nb_status object_not_found(const nb_objstore *os, const char *name)
{
    return nbi_fail(NB_NOT_FOUND, "object store: object '%.300s' in bucket '%.200s' not found", name,
                    os->bucket);
}

/*
 * The last meta message of name (even a tombstone); *found is false when
 * there is none. The bucket's absence is an error of its own.
 */
static nb_status read_info(nb_objstore *os, const char *name, nb_object_info *info, bool *found,
                           bool *deleted, obj_link *link)
{
    *found = *deleted = false;
    char *subject = meta_subject(os, name);
    if (!subject)
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetLastMsg(&msg, os->js, os->stream, subject, NULL, &jerr);
    free(subject);
    nb_status s = NB_OK;
    if (ns == NATS_OK) {
        *found = true;
        s = parse_info(msg, info, deleted, link);
        if (s != NB_OK)
            nbi_fail_prefix(s, "object store: object '%.300s' in bucket '%.200s'", name, os->bucket);
    } else if (jerr == JSStreamNotFoundErr) {
        s = bucket_not_found(os->bucket);
    } else if (jerr != JSNoMessageFoundErr && ns != NATS_NOT_FOUND) {
        s = js_failed(ns, jerr, "object store: info of an object in bucket '%.200s'", os->bucket);
    }
    natsMsg_Destroy(msg);
    return s;
}

/* Info of a live object: a missing or deleted one is "not found". link may be NULL. */
static nb_status live_info_link(nb_objstore *os, const char *name, nb_object_info *info,
                                obj_link *link)
{
    bool found, deleted;
    nb_status s = nbi_objstore_check_name(name);
    if (s == NB_OK)
        s = read_info(os, name, info, &found, &deleted, link);
    if (s == NB_OK && (!found || deleted))
        s = object_not_found(os, name);
    if (s != NB_OK) {
        nb_object_info_clear(info);
        if (link)
            link_clear(link);
    }
    return s;
}

static nb_status live_info(nb_objstore *os, const char *name, nb_object_info *info)
{
    return live_info_link(os, name, info, NULL);
}

/* A handle on another bucket of os's connection, with os's settings. */
static nb_status sibling(nb_objstore *os, const char *bucket, nb_objstore **out)
{
    nb_status s = handle_on(out, os->nc, bucket);
    if (s == NB_OK) {
        (*out)->idle_ms = os->idle_ms;
        (*out)->progress = os->progress;
        (*out)->progress_closure = os->progress_closure;
    }
    return s;
}

/* Reads the target of a link into info, one level only (as nats.go: no links to links). */
static nb_status follow_link(nb_objstore *os, const char *name, const obj_link *link,
                             nb_object_info *info, nb_objstore **other)
{
    if (!link->name || !*link->name)
        return nbi_fail(NB_INVALID_ARG,
                        "object store: object '%.300s' in bucket '%.200s' links to the whole "
                        "bucket '%.200s', which cannot be read as one object",
                        name, os->bucket, link->bucket);
    nb_objstore *target = os;
    bool elsewhere = strcmp(link->bucket, os->bucket) != 0;
    /* A link object must not carry a reader into a bucket it was not allowed to read. */
    if (elsewhere && os->link_allowed && !os->link_allowed(link->bucket, os->link_allowed_ctx))
        return nbi_fail(NB_NOT_ALLOWED,
                        "object store: object '%.300s' in bucket '%.200s' links to bucket "
                        "'%.200s', which is not allowed (--allow-origin nats-os://%.200s)",
                        name, os->bucket, link->bucket, link->bucket);
    nb_status s = elsewhere ? sibling(os, link->bucket, other) : NB_OK;
    if (s == NB_OK && *other)
        target = *other;
    obj_link again = {0};
    if (s == NB_OK)
        s = live_info_link(target, link->name, info, &again);
    if (s == NB_OK && again.present)
        s = nbi_fail(NB_INVALID_ARG, "object store: object '%.300s' links to a link", name);
    link_clear(&again);
    if (s != NB_OK)
        nbi_fail_prefix(s, "object store: link '%.300s' in bucket '%.200s'", name, os->bucket);
    return s;
}

/*
 * The info of the object whose bytes a get of name reads, following a link
 * (ADR-20); *reader is the handle to read the chunks with: os, or *other,
 * a handle on the linked bucket that the caller destroys.
 */
static nb_status target_info(nb_objstore *os, const char *name, nb_object_info *info,
                             nb_objstore **other, nb_objstore **reader)
{
    obj_link link = {0};
    *other = NULL;
    *reader = os;
    nb_status s = live_info_link(os, name, info, &link);
    if (s == NB_OK && link.present) {
        nb_object_info_clear(info);
        s = follow_link(os, name, &link, info, other);
        if (*other)
            *reader = *other;
    }
    link_clear(&link);
    return s;
}

nb_status nb_objstore_get_info(nb_objstore *os, const char *name, nb_object_info *info)
{
    if (!os || !info)
        return nbi_fail(NB_INVALID_ARG, "object store: get_info needs a handle and info");
    memset(info, 0, sizeof *info);
    return live_info(os, name, info);
}

/* Publishes an info with "Nats-Rollup: sub", which drops the subject's older infos. */
static nb_status publish_info(nb_objstore *os, const nb_object_info *info, bool deleted)
{
    char *subject = meta_subject(os, info->name);
    char *json = info_json(info, deleted);
    natsMsg *msg = NULL;
    natsStatus ns = subject && json ? natsMsg_Create(&msg, subject, NULL, json, (int)strlen(json))
                                    : NATS_NO_MEMORY;
    if (ns == NATS_OK)
        ns = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = os->idle_ms;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    if (ns == NATS_OK)
        ns = js_PublishMsg(&ack, os->js, msg, &po, &jerr);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    free(subject);
    cJSON_free(json);
    if (ns != NATS_OK)
        return js_failed(ns, jerr, "object store: cannot store the info of '%.300s'", info->name);
    return NB_OK;
}

/* Removes every chunk of nuid; best effort where the caller says so. */
static nb_status purge_chunks(nb_objstore *os, const char *nuid)
{
    char *subject = subject_of(os, 'C', nuid);
    if (!subject)
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Purge.Subject = subject;
    jsErrCode jerr = 0;
    natsStatus ns = js_PurgeStream(os->js, os->stream, &jo, &jerr);
    free(subject);
    if (ns != NATS_OK)
        return js_failed(ns, jerr, "object store: cannot purge the chunks of bucket '%.200s'",
                         os->bucket);
    return NB_OK;
}

static void report(const nb_objstore *os, const char *name, uint64_t done, uint64_t total)
{
    if (os->progress)
        os->progress(name, done, total, os->progress_closure);
}

/* ======================================================================== */
/* Put                                                                      */
/* ======================================================================== */

typedef struct put_state {
    nb_objstore *os;
    const char *name;
    uint64_t total; /* for progress; 0 = unknown */
    jsCtx *js;      /* its own context: the ack error handler is this put's */
    char *chunk_subject;
    nbi_sha256 *hash;
    uint8_t *buf;
    nb_object_info info;
    pthread_mutex_t mu; /* guards ack_error */
    char ack_error[300];
} put_state;

/* Called by nats.c for a chunk the server refused or did not ack in time. */
static void on_ack_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    put_state *ps = closure;
    pthread_mutex_lock(&ps->mu);
    if (!ps->ack_error[0])
        snprintf(ps->ack_error, sizeof ps->ack_error, "%s (JetStream error %d)",
                 pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err), (int)pae->ErrCode);
    pthread_mutex_unlock(&ps->mu);
}

static nb_status ack_failure(put_state *ps)
{
    pthread_mutex_lock(&ps->mu);
    nb_status s = ps->ack_error[0] ? nbi_fail(NB_NATS, "a chunk was not stored: %s", ps->ack_error)
                                   : NB_OK;
    pthread_mutex_unlock(&ps->mu);
    return s;
}

static nb_status start_put(put_state *ps, nb_objstore *os, const char *name, uint64_t total)
{
    memset(ps, 0, sizeof *ps);
    pthread_mutex_init(&ps->mu, NULL);
    ps->os = os;
    ps->name = name;
    ps->total = total;
    char nuid[NUID_MAX];
    nb_status s = new_nuid(nuid);
    if (s == NB_OK && (!(ps->chunk_subject = subject_of(os, 'C', nuid)) ||
                       !(ps->buf = malloc(CHUNK_SIZE)) || !(ps->info.name = nbi_strdup(name)) ||
                       !(ps->info.bucket = nbi_strdup(os->bucket)) ||
                       !(ps->info.nuid = nbi_strdup(nuid))))
        s = nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    if (s == NB_OK)
        s = nbi_sha256_create(&ps->hash);
    if (s != NB_OK)
        return s;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = os->max_in_flight;
    /* A full window waits as long as a chunk may take, not nats.c's 200 ms (natscli#993). */
    jo.PublishAsync.StallWait = os->idle_ms;
    jo.PublishAsync.ErrHandler = on_ack_error;
    jo.PublishAsync.ErrHandlerClosure = ps;
    return nbi_from_nats(natsConnection_JetStream(&ps->js, os->nc, &jo),
                         "object store: JetStream context");
}

static void end_put(put_state *ps)
{
    jsCtx_Destroy(ps->js);
    nbi_sha256_discard(ps->hash);
    free(ps->chunk_subject);
    free(ps->buf);
    nb_object_info_clear(&ps->info);
    pthread_mutex_destroy(&ps->mu);
}

/* Fills up to a whole chunk: readers may return less than asked before the end. */
static nb_status read_chunk(put_state *ps, nb_read_fn read, void *closure, size_t *got)
{
    *got = 0;
    while (*got < CHUNK_SIZE) {
        size_t n = 0;
        nb_status s = read(closure, ps->buf + *got, CHUNK_SIZE - *got, &n);
        if (s != NB_OK)
            return nbi_fail_prefix(s, "reading the bytes to put");
        if (n == 0)
            break;
        if (n > CHUNK_SIZE - *got)
            return nbi_fail(NB_INTERNAL, "the reader returned more bytes than asked for");
        *got += n;
    }
    return NB_OK;
}

static nb_status publish_chunk(put_state *ps, size_t n)
{
    nb_status s = ack_failure(ps);
    if (s != NB_OK)
        return s;
    if (ps->info.chunks == UINT32_MAX)
        return nbi_fail(NB_TOO_LARGE, "more than 2^32-1 chunks");
    s = nbi_sha256_update(ps->hash, ps->buf, n);
    if (s != NB_OK)
        return s;
    /* nats.c copies the bytes; at most max_in_flight chunks wait for their acks. */
    natsStatus ns = js_PublishAsync(ps->js, ps->chunk_subject, ps->buf, (int)n, NULL);
    if (ns != NATS_OK)
        return nbi_from_nats(ns, "publish a chunk");
    ps->info.chunks++;
    ps->info.size += n;
    report(ps->os, ps->name, ps->info.size, ps->total);
    return NB_OK;
}

/* Waits until every chunk is acknowledged (each ack restarts no clock: bounded by in-flight). */
static nb_status await_acks(put_state *ps)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = ps->os->idle_ms * 2;
    natsStatus ns = js_PublishAsyncComplete(ps->js, &po);
    if (ns != NATS_OK)
        return nbi_from_nats(ns, "waiting for the acks of the chunks");
    return ack_failure(ps);
}

/* A failed put leaves nothing behind: unacked chunks are dropped, stored ones purged. */
static void abandon_put(put_state *ps)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000;
    if (js_PublishAsyncComplete(ps->js, &po) != NATS_OK) {
        natsMsgList pending = {NULL, 0};
        if (js_PublishAsyncGetPendingList(&pending, ps->js) == NATS_OK)
            natsMsgList_Destroy(&pending);
    }
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", nb_last_error());
    purge_chunks(ps->os, ps->info.nuid);
    nbi_fail(NB_OK, "%s", saved); /* the cause is reported, not the purge's own error */
}

static nb_status finish_put_digest(put_state *ps, char hex[NBI_SHA256_HEX_LEN + 1])
{
    char digest[DIGEST_LEN + 1];
    nb_status s = finish_digest(&ps->hash, hex, digest);
    return s == NB_OK ? nbi_set_string(&ps->info.digest, digest) : s;
}

/* Chunks, acks, digest, then the info that makes the new version live. */
static nb_status put_all(put_state *ps, nb_read_fn read, void *closure,
                         char hex[NBI_SHA256_HEX_LEN + 1])
{
    nb_status s = NB_OK;
    for (size_t n = CHUNK_SIZE; s == NB_OK && n == CHUNK_SIZE;) {
        s = read_chunk(ps, read, closure, &n);
        if (s == NB_OK && n > 0)
            s = publish_chunk(ps, n);
    }
    if (s == NB_OK)
        s = await_acks(ps);
    if (s == NB_OK)
        s = finish_put_digest(ps, hex);
    /* The info goes last, once every chunk is stored: it never points at missing ones. */
    if (s == NB_OK)
        s = publish_info(ps->os, &ps->info, false);
    return s;
}

/* Hands the put's info to the caller (moved, not copied). */
static void give_info(put_state *ps, nb_object_info *out)
{
    if (!out)
        return;
    *out = ps->info;
    memset(&ps->info, 0, sizeof ps->info);
}

static nb_status put_stream(nb_objstore *os, const char *name, nb_read_fn read, void *closure,
                            uint64_t total, nb_object_info *out, char hex[NBI_SHA256_HEX_LEN + 1])
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!os || !read)
        return nbi_fail(NB_INVALID_ARG, "object store: put needs a handle and a reader");
    nb_object_info old = {0};
    bool found = false, deleted = false;
    nb_status s = nbi_objstore_check_name(name);
    if (s == NB_OK)
        s = read_info(os, name, &old, &found, &deleted, NULL);
    put_state ps;
    memset(&ps, 0, sizeof ps);
    if (s == NB_OK)
        s = start_put(&ps, os, name, total);
    if (s == NB_OK)
        s = put_all(&ps, read, closure, hex);
    if (s == NB_OK && found && old.nuid && *old.nuid && strcmp(old.nuid, ps.info.nuid) != 0)
        purge_chunks(os, old.nuid); /* the old version's chunks; the new one is live already */
    else if (s != NB_OK && ps.js)
        abandon_put(&ps);
    if (s == NB_OK)
        give_info(&ps, out);
    if (ps.os)
        end_put(&ps);
    nb_object_info_clear(&old);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "object store: put '%.300s' into bucket '%.200s'", name ? name : "",
                               os->bucket);
    return NB_OK;
}

nb_status nb_objstore_put(nb_objstore *os, const char *name, nb_read_fn read, void *closure,
                          nb_object_info *info)
{
    char hex[NBI_SHA256_HEX_LEN + 1];
    return put_stream(os, name, read, closure, 0, info, hex);
}

nb_status nbi_objstore_put_reader(nb_objstore *os, const char *name, nb_read_fn read,
                                  void *closure, nb_object_info *info,
                                  char hex[NBI_SHA256_HEX_LEN + 1])
{
    return put_stream(os, name, read, closure, 0, info, hex);
}

typedef struct memory_reader {
    const uint8_t *data;
    size_t len, off;
} memory_reader;

static nb_status read_memory(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    memory_reader *r = closure;
    size_t n = r->len - r->off < cap ? r->len - r->off : cap;
    if (n)
        memcpy(buf, r->data + r->off, n);
    r->off += n;
    *got = n;
    return NB_OK;
}

nb_status nbi_objstore_put_memory(nb_objstore *os, const char *name, const void *data, size_t len,
                            nb_object_info *info, char hex[NBI_SHA256_HEX_LEN + 1])
{
    if (!data && len > 0)
        return nbi_fail(NB_INVALID_ARG, "object store: put: data is NULL");
    memory_reader r = {data, len, 0};
    return put_stream(os, name, read_memory, &r, len, info, hex);
}

nb_status nb_objstore_put_bytes(nb_objstore *os, const char *name, const void *data, size_t len,
                                nb_object_info *info)
{
    char hex[NBI_SHA256_HEX_LEN + 1];
    return nbi_objstore_put_memory(os, name, data, len, info, hex);
}

typedef struct file_io {
    FILE *f;
    const char *path;
} file_io;

static nb_status read_file(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    file_io *r = closure;
    *got = fread(buf, 1, cap, r->f);
    if (*got == 0 && ferror(r->f))
        return nbi_fail(NB_IO, "cannot read '%s': %s", r->path, strerror(errno));
    return NB_OK;
}

nb_status nbi_objstore_put_path(nb_objstore *os, const char *name, const char *path, uint64_t total,
                          nb_object_info *info, char hex[NBI_SHA256_HEX_LEN + 1])
{
    if (!path)
        return nbi_fail(NB_INVALID_ARG, "object store: put_file: path is NULL");
    file_io r = {fopen(path, "rb"), path};
    if (!r.f)
        return nbi_fail(NB_IO, "object store: cannot open '%s': %s", path, strerror(errno));
    nb_status s = put_stream(os, name, read_file, &r, total, info, hex);
    fclose(r.f);
    return s;
}

nb_status nb_objstore_put_file(nb_objstore *os, const char *name, const char *path,
                               nb_object_info *info)
{
    char hex[NBI_SHA256_HEX_LEN + 1];
    return nbi_objstore_put_path(os, name, path, 0, info, hex);
}

static nb_status read_fd(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    int fd = *(const int *)closure;
    ssize_t n;
    do
        n = read(fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return nbi_fail(NB_IO, "cannot read file descriptor %d: %s", fd, strerror(errno));
    *got = (size_t)n;
    return NB_OK;
}

nb_status nb_objstore_put_fd(nb_objstore *os, const char *name, int fd, nb_object_info *info)
{
    if (fd < 0)
        return nbi_fail(NB_INVALID_ARG, "object store: put_fd: file descriptor %d is invalid", fd);
    char hex[NBI_SHA256_HEX_LEN + 1];
    return put_stream(os, name, read_fd, &fd, 0, info, hex);
}

/* ======================================================================== */
/* Get                                                                      */
/* ======================================================================== */

typedef struct get_state {
    nb_objstore *os;
    const nb_object_info *info;
    natsSubscription *sub;
    nbi_sha256 *hash;
    uint64_t bytes;
    uint32_t chunks;
    bool drained; /* a batch's last chunk said nothing is pending after it */
    nb_write_fn write;
    void *closure;
} get_state;

/*
 * An ephemeral pull consumer on the object's chunk subject: each request
 * asks for the next few chunks only, so memory stays bounded whatever the
 * object's size, and a slow writer never makes the server drop anything.
 * (Pull consumers need an ack policy on nats-server 2.9: ack-all, once per batch.)
 */
static nb_status subscribe_chunks(get_state *gs)
{
    if (!*gs->info->nuid)
        return nbi_fail(NB_BAD_PAYLOAD, "object info: %u chunks but no nuid", gs->info->chunks);
    char *subject = subject_of(gs->os, 'C', gs->info->nuid);
    if (!subject)
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = gs->os->stream;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckPolicy = js_AckAll;
    so.Config.MemoryStorage = true;
    /* Generous: a slow writer may take long between two requests. Removed by the server only
     * if we vanish; nats.c deletes it when the get ends. */
    so.Config.InactiveThreshold = 300 * 1000 * NS_PER_MS;
    so.Config.AckWait = 300 * 1000 * NS_PER_MS;
    jsErrCode jerr = 0;
    natsStatus ns = js_PullSubscribe(&gs->sub, gs->os->js, subject, NULL, NULL, &so, &jerr);
    free(subject);
    if (ns != NATS_OK)
        return js_failed(ns, jerr, "object store: cannot read the chunks of bucket '%.200s'",
                         gs->os->bucket);
    return NB_OK;
}

static nb_status take_chunk(get_state *gs, natsMsg *msg)
{
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    size_t n = len > 0 ? (size_t)len : 0;
    if (n > gs->info->size - gs->bytes)
        return nbi_fail(NB_INTEGRITY, "received a corrupt object: more bytes than its size of %llu",
                        (unsigned long long)gs->info->size);
    gs->bytes += n;
    gs->chunks++;
    nb_status s = n ? nbi_sha256_update(gs->hash, data, n) : NB_OK;
    if (s == NB_OK && n)
        s = gs->write(gs->closure, data, n);
    if (s == NB_OK)
        report(gs->os, gs->info->name, gs->bytes, gs->info->size);
    return s;
}

/* One pull request for the next chunks; NB_TIMEOUT when none came within the idle timeout. */
static nb_status fetch_batch(get_state *gs)
{
    uint32_t left = gs->info->chunks - gs->chunks;
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = left < FETCH_BATCH ? (int)left : FETCH_BATCH;
    fr.Expires = gs->os->idle_ms * NS_PER_MS;
    natsMsgList list = {NULL, 0};
    natsStatus ns = natsSubscription_FetchRequest(&list, gs->sub, &fr);
    if (ns == NATS_TIMEOUT || (ns == NATS_OK && list.Count == 0))
        return nbi_fail(NB_TIMEOUT, "no chunk arrived within %lld ms (after %u of %u chunks)",
                        (long long)gs->os->idle_ms, gs->chunks, gs->info->chunks);
    nb_status s = ns == NATS_OK ? NB_OK : nbi_from_nats(ns, "fetching chunks");
    /* Acked (all of the batch at once) before a slow writer could outlast the ack wait. */
    if (s == NB_OK)
        natsMsg_Ack(list.Msgs[list.Count - 1], NULL);
    for (int i = 0; s == NB_OK && i < list.Count; i++)
        s = take_chunk(gs, list.Msgs[i]);
    /* Only the batch's last chunk says whether any are left: its metadata is read once. */
    jsMsgMetaData *meta = NULL;
    if (s == NB_OK && natsMsg_GetMetaData(&meta, list.Msgs[list.Count - 1]) == NATS_OK) {
        gs->drained = meta->NumPending == 0;
        jsMsgMetaData_Destroy(meta);
    }
    natsMsgList_Destroy(&list);
    return s;
}

static nb_status check_whole(get_state *gs, char hex[NBI_SHA256_HEX_LEN + 1])
{
    if (gs->bytes != gs->info->size)
        return nbi_fail(NB_INTEGRITY, "received a corrupt object: %llu bytes, its info says %llu",
                        (unsigned long long)gs->bytes, (unsigned long long)gs->info->size);
    char digest[DIGEST_LEN + 1];
    nb_status s = finish_digest(&gs->hash, hex, digest);
    if (s != NB_OK)
        return s;
    /* A tombstone-like info without digest is accepted only when empty (nats.go does the same). */
    if (gs->info->digest && *gs->info->digest && !same_digest(gs->info->digest, digest))
        return nbi_fail(NB_INTEGRITY, "received a corrupt object, digests do not match: info "
                        "says %.60s, the bytes give %s", gs->info->digest, digest);
    return NB_OK;
}

/* Streams the chunks of info's object into write; hex gets the SHA-256 of the bytes. */
static nb_status get_chunks(nb_objstore *os, const nb_object_info *info, nb_write_fn write,
                            void *closure, char hex[NBI_SHA256_HEX_LEN + 1])
{
    get_state gs = {os, info, NULL, NULL, 0, 0, false, write, closure};
    nb_status s = nbi_sha256_create(&gs.hash);
    report(os, info->name, 0, info->size);
    if (s == NB_OK && info->chunks > 0)
        s = subscribe_chunks(&gs);
    /* The end: the chunk count of the info, or nothing pending on the server. */
    while (s == NB_OK && gs.chunks < info->chunks && !gs.drained)
        s = fetch_batch(&gs);
    if (gs.sub) {
        natsSubscription_Unsubscribe(gs.sub); /* nats.c deletes the consumer it created */
        natsSubscription_Destroy(gs.sub);
    }
    if (s == NB_OK)
        s = check_whole(&gs, hex);
    nbi_sha256_discard(gs.hash);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "object store: get '%.300s' from bucket '%.200s'", info->name,
                               os->bucket);
    return NB_OK;
}

nb_status nb_objstore_get(nb_objstore *os, const char *name, nb_write_fn write, void *closure,
                          nb_object_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!os || !write)
        return nbi_fail(NB_INVALID_ARG, "object store: get needs a handle and a writer");
    nb_object_info got = {0};
    nb_objstore *other = NULL, *reader = NULL;
    char hex[NBI_SHA256_HEX_LEN + 1];
    nb_status s = target_info(os, name, &got, &other, &reader);
    if (s == NB_OK)
        s = get_chunks(reader, &got, write, closure, hex);
    nb_objstore_destroy(other);
    if (s == NB_OK && info)
        *info = got;
    else
        nb_object_info_clear(&got);
    return s;
}

typedef struct memory_writer {
    uint8_t *data;
    size_t len, cap;
} memory_writer;

static nb_status write_memory(void *closure, const uint8_t *buf, size_t n)
{
    memory_writer *w = closure;
    if (n > w->cap - w->len) /* take_chunk stops at the info's size already */
        return nbi_fail(NB_INTEGRITY, "more bytes than the object's size");
    memcpy(w->data + w->len, buf, n);
    w->len += n;
    return NB_OK;
}

static nb_status check_cap(const nb_objstore *os, const nb_object_info *info, uint64_t max_bytes)
{
    if (max_bytes && info->size > max_bytes)
        return nbi_fail(NB_TOO_LARGE,
                        "object store: object '%.300s' in bucket '%.200s' is %llu bytes, over the "
                        "cap of %llu",
                        info->name, os->bucket, (unsigned long long)info->size,
                        (unsigned long long)max_bytes);
    if (info->size >= SIZE_MAX)
        return nbi_fail(NB_TOO_LARGE, "object store: object '%.300s' does not fit in memory",
                        info->name);
    return NB_OK;
}

/* The object of info into memory (NUL-terminated, as payload bytes are kept). */
static nb_status get_memory(nb_objstore *os, const nb_object_info *info, uint8_t **data,
                            size_t *len, char hex[NBI_SHA256_HEX_LEN + 1])
{
    memory_writer w = {malloc((size_t)info->size + 1), 0, (size_t)info->size};
    if (!w.data)
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory for %llu bytes",
                        (unsigned long long)info->size);
    nb_status s = get_chunks(os, info, write_memory, &w, hex);
    if (s != NB_OK) {
        free(w.data);
        return s;
    }
    w.data[w.len] = '\0';
    *data = w.data;
    *len = w.len;
    return NB_OK;
}

static nb_status get_path(nb_objstore *os, const nb_object_info *info, const char *path,
                          char hex[NBI_SHA256_HEX_LEN + 1]);

/* name (a link followed) into the file at path, or into memory when path is NULL. */
nb_status nbi_objstore_get(nb_objstore *os, const char *name, uint64_t max_bytes, const char *path,
                          uint8_t **data, size_t *len, char hex[NBI_SHA256_HEX_LEN + 1])
{
    nb_object_info info = {0};
    nb_objstore *other = NULL, *reader = NULL;
    char own[NBI_SHA256_HEX_LEN + 1];
    if (!hex)
        hex = own;
    nb_status s = target_info(os, name, &info, &other, &reader);
    if (s == NB_OK)
        s = check_cap(reader, &info, max_bytes);
    if (s == NB_OK && path)
        s = get_path(reader, &info, path, hex);
    else if (s == NB_OK)
        s = get_memory(reader, &info, data, len, hex);
    nb_objstore_destroy(other);
    nb_object_info_clear(&info);
    return s;
}

nb_status nb_objstore_get_bytes(nb_objstore *os, const char *name, uint64_t max_bytes,
                                uint8_t **data, size_t *len)
{
    if (!data || !len)
        return nbi_fail(NB_INVALID_ARG, "object store: get_bytes needs data and len");
    *data = NULL;
    *len = 0;
    if (!os)
        return nbi_fail(NB_INVALID_ARG, "object store: handle is NULL");
    return nbi_objstore_get(os, name, max_bytes, NULL, data, len, NULL);
}

static nb_status write_file(void *closure, const uint8_t *buf, size_t n)
{
    file_io *w = closure;
    if (fwrite(buf, 1, n, w->f) != n)
        return nbi_fail(NB_IO, "cannot write '%s': %s", w->path, strerror(errno));
    return NB_OK;
}

/*
 * The object of info into the file at path, through "<path>.part" renamed
 * once size and digest are checked: path never holds bad or partial bytes.
 */
static nb_status get_path(nb_objstore *os, const nb_object_info *info, const char *path,
                          char hex[NBI_SHA256_HEX_LEN + 1])
{
    size_t n = strlen(path) + 6;
    char *part = malloc(n);
    if (!part)
        return nbi_fail(NB_NO_MEMORY, "object store: out of memory");
    snprintf(part, n, "%s.part", path);
    /* New, 0600, never through a planted symbolic link (issue 11 item 12). */
    file_io w = {NULL, part};
    nb_status s = nbi_create_private_file(part, &w.f);
    if (s != NB_OK)
        s = nbi_fail_prefix(s, "object store");
    if (s == NB_OK)
        s = get_chunks(os, info, write_file, &w, hex);
    if (w.f && fclose(w.f) != 0 && s == NB_OK)
        s = nbi_fail(NB_IO, "object store: cannot write '%s': %s", part, strerror(errno));
    if (s == NB_OK && rename(part, path) != 0)
        s = nbi_fail(NB_IO, "object store: cannot rename '%s' to '%s': %s", part, path,
                     strerror(errno));
    if (s != NB_OK && w.f)
        unlink(part);
    free(part);
    return s;
}

nb_status nb_objstore_get_file(nb_objstore *os, const char *name, const char *path)
{
    if (!os || !path)
        return nbi_fail(NB_INVALID_ARG, "object store: get_file needs a handle and a path");
    return nbi_objstore_get(os, name, 0, path, NULL, NULL, NULL);
}

/* ======================================================================== */
/* Delete                                                                   */
/* ======================================================================== */

nb_status nb_objstore_delete(nb_objstore *os, const char *name)
{
    if (!os)
        return nbi_fail(NB_INVALID_ARG, "object store: handle is NULL");
    nb_object_info info = {0};
    nb_status s = live_info(os, name, &info);
    if (s != NB_OK)
        return s;
    /* The tombstone first (it rolls the info up), then the chunks it no longer points at. */
    nb_object_info tomb = info;
    tomb.size = 0;
    tomb.chunks = 0;
    tomb.digest = NULL;
    s = publish_info(os, &tomb, true);
    if (s == NB_OK && *info.nuid) /* a link has no chunks of its own */
        s = purge_chunks(os, info.nuid);
    nb_object_info_clear(&info);
    return s;
}

/* For the fuzz target (objstore.h): parse_info on a meta message made of json. */
nb_status nbi_objstore_parse_info(const char *json, size_t len, nb_object_info *info,
                                  bool *deleted, char **link_bucket, char **link_name)
{
    natsMsg *msg = NULL;
    obj_link link = {false, NULL, NULL};
    *link_bucket = *link_name = NULL;
    if (len > INT32_MAX || natsMsg_Create(&msg, "$O.fuzz.M.x", NULL, json, (int)len) != NATS_OK)
        return nbi_fail(NB_NO_MEMORY, "object info: cannot make a message of %zu bytes", len);
    nb_status s = parse_info(msg, info, deleted, &link);
    natsMsg_Destroy(msg);
    *link_bucket = link.bucket;
    *link_name = link.name;
    return s;
}
