/* SPDX-License-Identifier: MIT */
/*
 * options.c - nb_options: defaults, validated setters, clone.
 */
#include "options.h"

#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PENDING_MSGS 65536
/* 256 envelopes of 1 MB: nats.c's 64 MiB would hold only ~64 of them. */
#define DEFAULT_PENDING_BYTES (256LL * 1024 * 1024)

static void set_defaults(nb_options *o)
{
    memset(o, 0, sizeof *o);
    o->size_threshold = NB_DEFAULT_SIZE_THRESHOLD;
    o->connect_timeout_ms = -1;
    o->allow_reconnect = true;
    o->max_reconnect = 60;
    o->reconnect_wait_ms = 2000;
    o->reconnect_jitter_ms = 100;
    o->reconnect_buf_size = -1;
    o->pending_msgs = DEFAULT_PENDING_MSGS;
    o->pending_bytes = DEFAULT_PENDING_BYTES;
    o->max_retries = NB_DEFAULT_MAX_RETRIES;
    o->base_delay_ms = NB_DEFAULT_BASE_DELAY_MS;
    o->max_delay_ms = NB_DEFAULT_MAX_DELAY_MS;
    o->fetch_links = true;
    /* upload and download stay NULL: transport.c then uses the built-in
     * nb_upload_plik and nb_download_http. */
}

const nb_options *nbi_options_default(void)
{
    /* Built once; the strings are the compile-time defaults, never freed. */
    static nb_options defaults;
    static bool ready;
    if (!ready) {
        set_defaults(&defaults);
        defaults.url = (char *)NB_DEFAULT_NATS_URL;
        defaults.fileserver_url = (char *)NB_DEFAULT_FILESERVER_URL;
        defaults.sender_name = (char *)NB_DEFAULT_SENDER_NAME;
        ready = true;
    }
    return &defaults;
}

nb_status nb_options_create(nb_options **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "options: out is NULL");
    nb_options *o = malloc(sizeof *o);
    *out = NULL;
    if (!o)
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    set_defaults(o);
    o->url = nbi_strdup(NB_DEFAULT_NATS_URL);
    o->fileserver_url = nbi_strdup(NB_DEFAULT_FILESERVER_URL);
    o->sender_name = nbi_strdup(NB_DEFAULT_SENDER_NAME);
    if (!o->url || !o->fileserver_url || !o->sender_name) {
        nb_options_destroy(o);
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    }
    *out = o;
    return NB_OK;
}

void nb_options_destroy(nb_options *o)
{
    if (!o)
        return;
    free(o->url);
    free(o->fileserver_url);
    free(o->sender_name);
    free(o->sender_id);
    free(o->download_dir);
    free(o->link_store);
    for (size_t i = 0; i < o->allowed_origin_count; i++)
        free(o->allowed_origins[i]);
    free(o->allowed_origins);
    free(o);
}

nb_status nb_options_clone(nb_options **out, const nb_options *src)
{
    if (!out || !src)
        return nbi_fail(NB_INVALID_ARG, "options: clone needs out and src");
    *out = NULL;
    nb_options *o = malloc(sizeof *o);
    if (!o)
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    *o = *src;
    o->url = nbi_strdup(src->url);
    o->fileserver_url = nbi_strdup(src->fileserver_url);
    o->sender_name = nbi_strdup(src->sender_name);
    o->sender_id = nbi_strdup(src->sender_id);
    o->download_dir = nbi_strdup(src->download_dir);
    o->link_store = nbi_strdup(src->link_store);
    o->client = NULL; /* a copy may outlive the client */
    o->allowed_origins = NULL;
    o->allowed_origin_count = 0;
    bool ok = (!src->url || o->url) && (!src->fileserver_url || o->fileserver_url) &&
              (!src->sender_name || o->sender_name) && (!src->sender_id || o->sender_id) &&
              (!src->download_dir || o->download_dir) && (!src->link_store || o->link_store);
    for (size_t i = 0; ok && i < src->allowed_origin_count; i++)
        ok = nb_options_add_allowed_origin(o, src->allowed_origins[i]) == NB_OK;
    if (!ok) {
        nb_options_destroy(o);
        return nbi_fail(NB_NO_MEMORY, "options: out of memory cloning");
    }
    *out = o;
    return NB_OK;
}

static nb_status check(const nb_options *o, const char *what)
{
    if (!o)
        return nbi_fail(NB_INVALID_ARG, "options: %s: options is NULL", what);
    return NB_OK;
}

static nb_status set_required_string(nb_options *o, char **field, const char *v,
                                     const char *what)
{
    nb_status s = check(o, what);
    if (s != NB_OK)
        return s;
    if (!v || !*v)
        return nbi_fail(NB_INVALID_ARG, "options: %s must not be empty", what);
    return nbi_set_string(field, v);
}

static bool has_scheme(const char *url, const char *const *schemes)
{
    for (; *schemes; schemes++)
        if (strncmp(url, *schemes, strlen(*schemes)) == 0)
            return true;
    return false;
}

/* Checks one server of the url list (the n bytes at s); index counts from 1, 0 for a lone URL. */
static nb_status check_server(const char *list, const char *s, size_t n, size_t index)
{
    static const char *const schemes[] = {"nats://", "tls://", "ws://", "wss://", NULL};
    char one[1024];
    snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), s);
    char where[64] = "";
    if (index > 0)
        snprintf(where, sizeof where, "server %zu of the list: ", index);
    if (n == 0 && index == 0)
        return nbi_fail(NB_INVALID_ARG, "options: url must not be empty");
    if (n == 0)
        return nbi_fail(NB_INVALID_ARG, "options: url '%.400s': %sempty (no URL at that comma)",
                        list, where);
    if (strcspn(one, " \t\r\n") != strlen(one))
        return nbi_fail(NB_INVALID_ARG, "options: url '%.400s': %s'%.400s' holds whitespace",
                        list, where, one);
    if (strstr(one, "://") && !has_scheme(one, schemes))
        return nbi_fail(NB_INVALID_ARG,
                        "options: url '%.400s': %s'%.400s': scheme must be nats, tls, ws or wss",
                        list, where, one);
    return NB_OK;
}

/* Length of s without the spaces at both ends; *start is moved past the leading ones. */
static size_t trim(const char **start, size_t n)
{
    while (n > 0 && (**start == ' ' || **start == '\t')) {
        (*start)++;
        n--;
    }
    while (n > 0 && ((*start)[n - 1] == ' ' || (*start)[n - 1] == '\t'))
        n--;
    return n;
}

/*
 * url may list servers of one cluster, comma-separated: "nats://a:4222,
 * nats://b:4222". Each is checked (a bad one is named by its position) and
 * the list is kept without the spaces around its commas, as apply_options
 * (messaging.c) hands it to nats.c.
 */
static nb_status normalize_servers(const char *url, nbi_buf *out)
{
    bool list = strchr(url, ',') != NULL;
    size_t index = 1;
    for (const char *p = url;; index++) {
        const char *comma = strchr(p, ',');
        const char *s = p;
        size_t n = trim(&s, comma ? (size_t)(comma - p) : strlen(p));
        nb_status st = check_server(url, s, n, list ? index : 0);
        if (st == NB_OK && index > 1)
            st = nbi_buf_append(out, ",", 1);
        if (st == NB_OK)
            st = nbi_buf_append(out, s, n);
        if (st != NB_OK || !comma)
            return st;
        p = comma + 1;
    }
}

nb_status nb_options_set_url(nb_options *o, const char *url)
{
    nb_status s = check(o, "url");
    if (s != NB_OK)
        return s;
    if (!url || !*url)
        return nbi_fail(NB_INVALID_ARG, "options: url must not be empty");
    nbi_buf servers = NBI_BUF_INIT;
    s = normalize_servers(url, &servers);
    if (s == NB_OK)
        s = nbi_set_string(&o->url, (const char *)servers.data);
    nbi_buf_free(&servers);
    return s;
}

nb_status nb_options_set_fileserver_url(nb_options *o, const char *url)
{
    static const char *const schemes[] = {"http://", "https://", NULL};
    if (url && *url && !has_scheme(url, schemes))
        return nbi_fail(NB_INVALID_ARG, "options: fileserver_url '%s' must start with http:// or https://",
                        url);
    return set_required_string(o, &o->fileserver_url, url, "fileserver_url");
}

nb_status nb_options_set_size_threshold(nb_options *o, size_t bytes)
{
    nb_status s = check(o, "size_threshold");
    if (s == NB_OK)
        o->size_threshold = bytes;
    return s;
}

nb_status nb_options_set_sender_name(nb_options *o, const char *name)
{
    return set_required_string(o, &o->sender_name, name, "sender_name");
}

nb_status nb_options_set_sender_id(nb_options *o, const char *id)
{
    return set_required_string(o, &o->sender_id, id, "sender_id");
}

nb_status nb_options_set_direct_sha256(nb_options *o, bool on)
{
    nb_status s = check(o, "direct_sha256");
    if (s == NB_OK)
        o->direct_sha256 = on;
    return s;
}

static nb_status set_ms(nb_options *o, int64_t *field, int64_t ms, int64_t min, const char *what)
{
    nb_status s = check(o, what);
    if (s != NB_OK)
        return s;
    if (ms < min)
        return nbi_fail(NB_INVALID_ARG, "options: %s must be >= %lld, got %lld", what,
                        (long long)min, (long long)ms);
    *field = ms;
    return NB_OK;
}

nb_status nb_options_set_connect_timeout(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->connect_timeout_ms, ms, 1, "connect_timeout");
}

nb_status nb_options_set_allow_reconnect(nb_options *o, bool allow)
{
    nb_status s = check(o, "allow_reconnect");
    if (s == NB_OK)
        o->allow_reconnect = allow;
    return s;
}

nb_status nb_options_set_max_reconnect(nb_options *o, int attempts)
{
    nb_status s = check(o, "max_reconnect");
    if (s != NB_OK)
        return s;
    if (attempts < -1)
        return nbi_fail(NB_INVALID_ARG, "options: max_reconnect must be >= -1, got %d", attempts);
    o->max_reconnect = attempts;
    return NB_OK;
}

nb_status nb_options_set_reconnect_wait(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->reconnect_wait_ms, ms, 0, "reconnect_wait");
}

nb_status nb_options_set_reconnect_jitter(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->reconnect_jitter_ms, ms, 0, "reconnect_jitter");
}

nb_status nb_options_set_reconnect_buf_size(nb_options *o, int bytes)
{
    nb_status s = check(o, "reconnect_buf_size");
    if (s != NB_OK)
        return s;
    if (bytes < 0)
        return nbi_fail(NB_INVALID_ARG, "options: reconnect_buf_size must be >= 0, got %d", bytes);
    o->reconnect_buf_size = bytes;
    return NB_OK;
}

nb_status nb_options_set_retry_on_failed_connect(nb_options *o, bool on)
{
    nb_status s = check(o, "retry_on_failed_connect");
    if (s == NB_OK)
        o->retry_on_failed_connect = on;
    return s;
}

nb_status nb_options_set_send_asap(nb_options *o, bool on)
{
    nb_status s = check(o, "send_asap");
    if (s == NB_OK)
        o->send_asap = on;
    return s;
}

nb_status nb_options_set_pending_limits(nb_options *o, int msgs, int64_t bytes)
{
    nb_status s = check(o, "pending_limits");
    if (s != NB_OK)
        return s;
    /* nats.c rejects 0; -1 means unlimited. */
    if (msgs == 0 || msgs < -1 || bytes == 0 || bytes < -1)
        return nbi_fail(NB_INVALID_ARG,
                        "options: pending limits must be > 0 or -1 (unlimited), got %d msgs, %lld bytes",
                        msgs, (long long)bytes);
    o->pending_msgs = msgs;
    o->pending_bytes = bytes;
    return NB_OK;
}

nb_status nb_options_set_event_cb(nb_options *o, nb_event_cb cb, void *closure)
{
    nb_status s = check(o, "event_cb");
    if (s == NB_OK) {
        o->event_cb = cb;
        o->event_closure = closure;
    }
    return s;
}

nb_status nb_options_set_backoff(nb_options *o, int max_retries, int64_t base_delay_ms,
                                 int64_t max_delay_ms)
{
    nb_status s = check(o, "backoff");
    if (s != NB_OK)
        return s;
    if (max_retries < 0 || base_delay_ms < 0 || max_delay_ms < base_delay_ms)
        return nbi_fail(NB_INVALID_ARG,
                        "options: backoff needs max_retries >= 0 and 0 <= base_delay <= max_delay "
                        "(got %d, %lld ms, %lld ms)",
                        max_retries, (long long)base_delay_ms, (long long)max_delay_ms);
    o->max_retries = max_retries;
    o->base_delay_ms = base_delay_ms;
    o->max_delay_ms = max_delay_ms;
    return NB_OK;
}

nb_status nb_options_set_download_deadline(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->download_deadline_ms, ms, 0, "download_deadline");
}

nb_status nb_options_add_allowed_origin(nb_options *o, const char *origin)
{
    static const char *const schemes[] = {"http://", "https://", NULL};
    nb_status s = check(o, "allowed_origin");
    if (s != NB_OK)
        return s;
    if (!origin || !has_scheme(origin, schemes))
        return nbi_fail(NB_INVALID_ARG, "options: allowed origin '%s' must start with http:// or https://",
                        origin ? origin : "(null)");
    char **list = realloc(o->allowed_origins, (o->allowed_origin_count + 1) * sizeof *list);
    if (!list)
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    o->allowed_origins = list;
    if (!(list[o->allowed_origin_count] = nbi_strdup(origin)))
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    o->allowed_origin_count++;
    return NB_OK;
}

nb_status nb_options_set_max_download(nb_options *o, uint64_t bytes)
{
    nb_status s = check(o, "max_download");
    if (s == NB_OK)
        o->max_download = bytes;
    return s;
}

nb_status nb_options_set_download_dir(nb_options *o, const char *dir)
{
    nb_status s = check(o, "download_dir");
    if (s != NB_OK)
        return s;
    s = nbi_set_string(&o->download_dir, dir && *dir ? dir : NULL);
    /* "out/" and "out" name the same place: paths are built as DIR/<msg_id>/<dataname>. */
    for (size_t n = o->download_dir ? strlen(o->download_dir) : 0; n > 1 && o->download_dir[n - 1] == '/'; n--)
        o->download_dir[n - 1] = '\0';
    return s;
}

nb_status nb_options_set_fetch_links(nb_options *o, bool on)
{
    nb_status s = check(o, "fetch_links");
    if (s == NB_OK)
        o->fetch_links = on;
    return s;
}

nb_status nb_options_set_progress_cb(nb_options *o, nb_progress_cb cb, void *closure)
{
    nb_status s = check(o, "progress_cb");
    if (s == NB_OK) {
        o->progress = cb;
        o->progress_closure = closure;
    }
    return s;
}

nb_status nb_options_set_upload_handler(nb_options *o, nb_upload_fn fn, void *ctx)
{
    nb_status s = check(o, "upload_handler");
    if (s != NB_OK)
        return s;
    if (!fn)
        return nbi_fail(NB_INVALID_ARG, "options: upload handler must not be NULL");
    o->upload = fn;
    o->upload_ctx = ctx;
    return NB_OK;
}

nb_status nb_options_set_download_handler(nb_options *o, nb_download_fn fn, void *ctx)
{
    nb_status s = check(o, "download_handler");
    if (s != NB_OK)
        return s;
    if (!fn)
        return nbi_fail(NB_INVALID_ARG, "options: download handler must not be NULL");
    o->download = fn;
    o->download_ctx = ctx;
    return NB_OK;
}
