/* SPDX-License-Identifier: MIT */
/*
 * objstore_link.c - the Object Store claim-check backend: link payloads put
 * into a bucket on send (nb_options_set_link_store) and nats-os://BUCKET/NAME
 * links fetched on receive, over the connection of the client that owns the
 * options. The bucket protocol itself (ADR-20) is objstore.c.
 */
#include "objstore.h"

#include "backoff.h"
#include "ids.h"
#include "integrity.h"
#include "options.h"
#include "payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* True when origin is "nats-os://BUCKET" of exactly this bucket (names are case-sensitive). */
static bool origin_is_bucket(const char *origin, const char *bucket)
{
    if (!origin || !nbi_objstore_is_url(origin))
        return false;
    const char *b = origin + strlen(NBI_OBJSTORE_SCHEME);
    size_t n = strcspn(b, "/");
    return n == strlen(bucket) && strncmp(b, bucket, n) == 0;
}

static bool bucket_allowed(const char *bucket, const void *ctx)
{
    const nb_options *o = ctx;
    if (origin_is_bucket(o->link_store, bucket))
        return true;
    for (size_t i = 0; i < o->allowed_origin_count; i++)
        if (origin_is_bucket(o->allowed_origins[i], bucket))
            return true;
    return false;
}

nb_status nbi_objstore_check_link(const char *url, const nb_options *o, const char *what)
{
    char *bucket = NULL, *name = NULL;
    nb_status s = nbi_objstore_parse_url(url, true, &bucket, &name);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "%s", what);
    /* Like an HTTP origin: the receiver's credentials may read buckets the sender must not
     * make it read (and hand back, as reply --echo does). */
    if (!bucket_allowed(bucket, o))
        s = nbi_fail(NB_NOT_ALLOWED,
                     "%s: link URL '%.300s' is in Object Store bucket '%s', which is not allowed "
                     "(the link store is %.200s; allow it with --allow-origin nats-os://%s or "
                     "nb_options_add_allowed_origin)",
                     what, url, bucket, o->link_store ? o->link_store : "unset", bucket);
    free(bucket);
    free(name);
    return s;
}

/* "nats-os://BUCKET/" + the percent-encoded name (malloc'd). */
static char *link_url(const char *bucket, const char *name)
{
    char *encoded = nbi_objstore_url_encode(name);
    size_t n = encoded ? strlen(NBI_OBJSTORE_SCHEME) + strlen(bucket) + strlen(encoded) + 2 : 0;
    char *url = n ? malloc(n) : NULL;
    if (url)
        snprintf(url, n, "%s%s/%s", NBI_OBJSTORE_SCHEME, bucket, encoded);
    free(encoded);
    return url;
}

/* "<uuid>/<dataname>": unique per upload, and readable in a listing of the bucket. */
static char *upload_name(const char *dataname)
{
    char id[NBI_UUID_LEN + 1];
    nbi_uuid4(id);
    const char *d = dataname && *dataname ? dataname : "payload";
    size_t n = sizeof id + strlen(d) + 1;
    char *name = malloc(n);
    if (name)
        snprintf(name, n, "%s/%s", id, d);
    return name;
}

static nb_status no_client(const char *url, const char *why)
{
    return nbi_fail(NB_INVALID_ARG,
                    "'%.300s': %s over a NATS connection; nb_envelope_build and "
                    "nb_envelope_parse have none: use an nb_client (nb_client_send, "
                    "nb_client_receive or a subscription)",
                    url, why);
}

/* The stored object must be exactly the bytes the envelope describes. */
static nb_status check_stored(const nb_upload_request *req, const nb_object_info *info,
                              const char *hex)
{
    if (info->size != req->size)
        return nbi_fail(NB_IO, "'%s' holds %llu bytes, not %llu: it changed while being uploaded",
                        req->path ? req->path : "payload", (unsigned long long)info->size,
                        (unsigned long long)req->size);
    if (req->sha256_hex && strcasecmp(hex, req->sha256_hex) != 0)
        return nbi_fail(NB_IO, "'%s' changed while being uploaded (sha256 differs)",
                        req->path ? req->path : "payload");
    return NB_OK;
}

static nb_status upload_to(nb_objstore *os, const nb_upload_request *req, const char *name,
                           char hex[NBI_SHA256_HEX_LEN + 1])
{
    nb_object_info info = {0};
    nb_objstore_set_progress_cb(os, req->progress, req->progress_closure);
    /* A streamed payload (issue 13) has no size to check: transport.c counts the bytes the
     * reader gives. Every kind is hashed by the put as it reads (one pass, issue 16). */
    nb_status s = req->read ? nbi_objstore_put_reader(os, name, req->read, req->read_ctx, &info, hex)
                  : req->path
                      ? nbi_objstore_put_path(os, name, req->path, req->size, &info, hex)
                      : nbi_objstore_put_memory(os, name, req->data, (size_t)req->size, &info, hex);
    if (s == NB_OK && !req->read && (s = check_stored(req, &info, hex)) != NB_OK)
        nb_objstore_delete(os, name); /* never leave torn bytes behind a link */
    nb_object_info_clear(&info);
    return s;
}

nb_status nbi_objstore_upload(const nb_upload_request *req, const nb_options *o, char **url,
                              char hex[NBI_SHA256_HEX_LEN + 1])
{
    *url = NULL;
    hex[0] = '\0';
    if (!o->client)
        return no_client(o->link_store, "link payloads are put into the Object Store");
    char *bucket = NULL, *name = NULL;
    nb_objstore *os = NULL;
    nb_status s = nbi_objstore_parse_url(o->link_store, false, &bucket, NULL);
    if (s == NB_OK) {
        nb_objstore_config cfg = {.bucket = bucket};
        s = nbi_objstore_create(&os, o->client, &cfg);
    }
    if (s == NB_OK && !(name = upload_name(req->dataname)))
        s = nbi_fail(NB_NO_MEMORY, "out of memory");
    if (s == NB_OK)
        s = upload_to(os, req, name, hex);
    if (s == NB_OK && !(*url = link_url(bucket, name)))
        s = nbi_fail(NB_NO_MEMORY, "out of memory");
    nb_objstore_destroy(os);
    free(bucket);
    free(name);
    return s;
}

/* A lost connection or a silent server may pass; a missing or corrupt object will not. */
static bool transient(nb_status s) { return s == NB_TIMEOUT || s == NB_CONNECTION; }

/* Retries within the request's budget: its time budget when set, else max_retries. */
static nb_status download_retrying(nb_objstore *os, const nb_download_request *req,
                                   const char *name, uint8_t **data, size_t *len)
{
    int64_t start = nbi_now_ms();
    for (int attempt = 0;; attempt++) {
        nb_status s = nbi_objstore_get(os, name, req->max_bytes, req->path, data, len,
                                       req->sha256_out);
        bool spent = req->retry_budget_ms > 0 ? nbi_now_ms() - start >= req->retry_budget_ms
                                              : attempt >= req->max_retries;
        if (s == NB_OK || !transient(s) || spent)
            return s;
        int64_t delay = nbi_backoff_delay_ms(attempt, req->base_delay_ms, req->max_delay_ms);
        if (req->deadline_ms > 0 && nbi_now_ms() + delay - start >= req->deadline_ms)
            return s;
        if (nbi_sleep_unless_stopped(delay, req->stop))
            return nbi_fail(NB_HTTP, "get '%.300s' interrupted (stop flag set) before retry %d",
                            req->url, attempt + 1);
    }
}

nb_status nbi_objstore_download(const nb_download_request *req, uint8_t **data, size_t *len,
                                void *ctx)
{
    const nb_options *o = ctx;
    *data = NULL;
    *len = 0;
    if (req->sha256_out)
        req->sha256_out[0] = '\0';
    if (!o || !o->client)
        return no_client(req->url, "nats-os:// links are fetched from the Object Store");
    char *bucket = NULL, *name = NULL;
    nb_objstore *os = NULL;
    nb_status s = nbi_objstore_parse_url(req->url, true, &bucket, &name);
    if (s == NB_OK)
        s = nbi_objstore_open(&os, o->client, bucket);
    if (s == NB_OK) {
        nb_objstore_set_progress_cb(os, req->progress, req->progress_closure);
        nbi_objstore_restrict_links(os, bucket_allowed, o);
        s = download_retrying(os, req, name, data, len);
    }
    nb_objstore_destroy(os);
    free(bucket);
    free(name);
    return s;
}
