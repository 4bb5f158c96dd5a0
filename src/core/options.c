/* SPDX-License-Identifier: MIT */
/*
 * options.c - nb_options: defaults, validated setters, clone.
 */
#include "options.h"

#include "buf.h"
#include "nkey.h"
#include "redact.h"
#include "osurl.h" /* nats-os:// link stores and allowed origins */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_PENDING_MSGS 65536
/* 256 envelopes of 1 MB: nats.c's 64 MiB would hold only ~64 of them. */
#define DEFAULT_PENDING_BYTES (256LL * 1024 * 1024)

/* The strings of the secured-connection block (issue 10), for destroy and clone. */
#define CONNECTION_STRINGS(o)                                                                  \
    {&(o)->user, &(o)->password, &(o)->token, &(o)->nkey_seed_file, &(o)->nkey_public,       \
     &(o)->creds_file, &(o)->creds_jwt, &(o)->creds_seed, &(o)->tls_ca_file,                 \
     &(o)->tls_cert_file, &(o)->tls_key_file, &(o)->tls_hostname, &(o)->connection_name}
#define N_CONNECTION_STRINGS 13

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
    o->max_payloads = NB_DEFAULT_MAX_PAYLOADS;
    o->max_link_bytes = NB_DEFAULT_MAX_LINK_BYTES;
    o->max_dataname = NB_DEFAULT_MAX_DATANAME;
    o->max_metadata_depth = NB_DEFAULT_MAX_METADATA_DEPTH;
    o->max_envelope_bytes = NB_DEFAULT_MAX_ENVELOPE_BYTES;
    o->download_deadline_ms = NB_DEFAULT_DOWNLOAD_DEADLINE_MS;
    o->idle_timeout_ms = NB_DEFAULT_IDLE_TIMEOUT_MS;
    o->retry_budget_ms = NB_DEFAULT_RETRY_BUDGET_MS;
    o->auto_link = true; /* envelopes that fit the server (issue 16) */
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
    nbi_fsauth_free(o);
    for (size_t i = 0; i < o->allowed_origin_count; i++)
        free(o->allowed_origins[i]);
    free(o->allowed_origins);
    char **conn[N_CONNECTION_STRINGS] = CONNECTION_STRINGS(o);
    for (size_t i = 0; i < N_CONNECTION_STRINGS; i++)
        nbi_free_secret(*conn[i]); /* passwords, tokens, seeds: not left in freed memory */
    free(o);
}

/* Right after *o = *src: gives o its own copies of the secured-connection strings; false when out of memory. */
static bool clone_connection(nb_options *o)
{
    char **dst[N_CONNECTION_STRINGS] = CONNECTION_STRINGS(o);
    bool ok = true;
    for (size_t i = 0; i < N_CONNECTION_STRINGS; i++) {
        const char *from = *dst[i]; /* still src's pointer after *o = *src */
        *dst[i] = nbi_strdup(from);
        ok = ok && (!from || *dst[i]);
    }
    return ok;
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
    ok = clone_connection(o) && ok;
    ok = nbi_fsauth_clone(o, src) && ok;
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

/*
 * Checks one server of the url list (the n bytes at s); index counts from 1,
 * 0 for a lone URL. Messages show the list and the server without userinfo.
 */
static nb_status check_server(const char *list, const char *s, size_t n, size_t index)
{
    static const char *const schemes[] = {"nats://", "tls://", NULL};
    static const char *const websocket[] = {"ws://", "wss://", NULL};
    char one[1024], shown_one[1024], shown[1024];
    snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), s);
    nbi_redact(one, shown_one, sizeof shown_one, true);
    nbi_redact(list, shown, sizeof shown, true);
    char where[64] = "";
    if (index > 0)
        snprintf(where, sizeof where, "server %zu of the list: ", index);
    if (n == 0 && index == 0)
        return nbi_fail(NB_INVALID_ARG, "options: url must not be empty");
    if (n == 0)
        return nbi_fail(NB_INVALID_ARG, "options: url '%.400s': %sempty (no URL at that comma)",
                        shown, where);
    if (strcspn(one, " \t\r\n") != strlen(one))
        return nbi_fail(NB_INVALID_ARG, "options: url '%.400s': %s'%.400s' holds whitespace",
                        shown, where, shown_one);
    if (has_scheme(one, websocket))
        return nbi_fail(NB_INVALID_ARG,
                        "options: url '%.400s': %s'%.400s': WebSocket URLs are not supported: "
                        "nats.c 3.4.1 has no WebSocket transport (use nats:// or tls://)",
                        shown, where, shown_one);
    if (strstr(one, "://") && !has_scheme(one, schemes))
        return nbi_fail(NB_INVALID_ARG,
                        "options: url '%.400s': %s'%.400s': scheme must be nats or tls",
                        shown, where, shown_one);
    /* An '@' past the host would make the user info ambiguous, and half of it printable. */
    const char *auth = strstr(one, "://") ? strstr(one, "://") + 3 : one;
    const char *end = auth + strcspn(auth, "/?#");
    if (*end && strchr(end, '@'))
        return nbi_fail(NB_INVALID_ARG,
                        "options: url: %sthe user info holds '/', '?' or '#': give the credentials "
                        "with nb_options_set_user_password or nb_options_set_token "
                        "(--user/--password, --token) instead",
                        where);
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
    nb_status s = set_required_string(o, &o->fileserver_url, url, "fileserver_url");
    if (s == NB_OK)
        o->fileserver_set = true; /* auto_link may upload there (transport.c) */
    return s;
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
    o->retry_budget_ms = 0; /* an explicit count is honoured as it always was */
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
    /* nats-os://BUCKET allows a bucket (osurl.c checks its name). */
    if (origin && nbi_objstore_is_url(origin) && (s = nbi_objstore_check_origin(origin)) != NB_OK)
        return nbi_fail_prefix(s, "options: allowed origin");
    if (!origin || (!has_scheme(origin, schemes) && !nbi_objstore_is_url(origin)))
        return nbi_fail(NB_INVALID_ARG,
                        "options: allowed origin '%s' must start with http://, https:// or nats-os://",
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

/* ======================================================================== */
/* Connecting to a secured NATS (issue 10)                                  */
/* ======================================================================== */

/* Files of key material are small; a bigger one is surely the wrong file. */
#define MAX_KEY_FILE (1024 * 1024)

/*
 * Reads the file an option names (NUL-terminated, malloc'd into *out; free
 * with nbi_free_secret): a typo fails at the setter, not at connect. Errors
 * name the option and the path, never the content.
 */
static nb_status read_key_file(const char *what, const char *path, char **out)
{
    *out = NULL;
    if (!path || !*path)
        return nbi_fail(NB_INVALID_ARG, "options: %s: the path is empty", what);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nbi_fail(NB_INVALID_ARG, "options: %s '%s': cannot read it: %s", what, path,
                        strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return nbi_fail(NB_INVALID_ARG, "options: %s '%s' is not a regular file", what, path);
    }
    char *buf = malloc(MAX_KEY_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_KEY_FILE + 1, f) : 0;
    int err = ferror(f) ? errno : 0;
    fclose(f);
    nb_status s = NB_OK;
    if (!buf)
        s = nbi_fail(NB_NO_MEMORY, "options: %s: out of memory", what);
    else if (err)
        s = nbi_fail(NB_INVALID_ARG, "options: %s '%s': cannot read it: %s", what, path,
                     strerror(err));
    else if (n > MAX_KEY_FILE)
        s = nbi_fail(NB_INVALID_ARG, "options: %s '%s': larger than 1 MiB, not a key file", what, path);
    else if (n == 0)
        s = nbi_fail(NB_INVALID_ARG, "options: %s '%s': the file is empty", what, path);
    if (s != NB_OK) {
        if (buf)
            nbi_wipe(buf, n); /* n <= MAX_KEY_FILE + 1, the buffer's size */
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    return NB_OK;
}

/* Replaces a secret string: the old value is wiped. */
static nb_status set_secret(char **field, const char *v)
{
    char *copy = NULL;
    if (v && *v && !(copy = nbi_strdup(v)))
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    nbi_free_secret(*field);
    *field = copy;
    return NB_OK;
}

/* Replaces a plain string; NULL or "" clears it. */
static nb_status set_optional(char **field, const char *v)
{
    return nbi_set_string(field, v && *v ? v : NULL);
}

nb_status nb_options_set_user_password(nb_options *o, const char *user, const char *password)
{
    nb_status s = check(o, "user_password");
    if (s != NB_OK)
        return s;
    if ((!user || !*user) && password && *password)
        return nbi_fail(NB_INVALID_ARG, "options: user_password: a password needs a user name");
    char *copy = NULL;
    if (user && *user && !(copy = nbi_strdup(user)))
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    s = set_secret(&o->password, password);
    if (s != NB_OK) {
        free(copy);
        return s;
    }
    free(o->user);
    o->user = copy;
    return NB_OK;
}

nb_status nb_options_set_token(nb_options *o, const char *token)
{
    nb_status s = check(o, "token");
    return s == NB_OK ? set_secret(&o->token, token) : s;
}

nb_status nb_options_set_nkey_seed_file(nb_options *o, const char *path)
{
    nb_status s = check(o, "nkey_seed_file");
    if (s != NB_OK)
        return s;
    if (!path || !*path) { /* clears */
        set_optional(&o->nkey_seed_file, NULL);
        return set_optional(&o->nkey_public, NULL);
    }
    char *text = NULL;
    char pub[NBI_NKEY_PUBLIC_LEN + 1];
    char what[600];
    snprintf(what, sizeof what, "options: nkey seed file '%.500s'", path);
    s = read_key_file("nkey seed file", path, &text);
    if (s == NB_OK) {
        const char *seed = nbi_nkey_find_user_seed(text);
        s = seed ? nbi_nkey_user_public(seed, pub, what)
                 : nbi_fail(NB_INVALID_ARG, "%s: no user seed in it (a word of %d characters "
                            "starting with SU)", what, NBI_NKEY_SEED_LEN);
    }
    nbi_free_secret(text);
    if (s == NB_OK)
        s = set_optional(&o->nkey_public, pub);
    if (s == NB_OK)
        s = set_optional(&o->nkey_seed_file, path);
    return s;
}

/* The text between "-----BEGIN <kind>" ... and the next "------END" line of a .creds file. */
static bool creds_block(const char *text, const char *begin, const char **start, size_t *len)
{
    const char *b = strstr(text, begin);
    if (!b || !(b = strchr(b, '\n')))
        return false;
    while (*b == '\n' || *b == '\r' || *b == ' ')
        b++;
    const char *e = strstr(b, "---");
    if (!e)
        return false;
    size_t n = (size_t)(e - b);
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
        n--;
    *start = b;
    *len = n;
    return n > 0;
}

/* A JWT is three base64url parts joined by dots. */
static bool looks_like_jwt(const char *p, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '='))
            return false;
    }
    return dots == 2;
}

nb_status nb_options_set_creds_file(nb_options *o, const char *path)
{
    nb_status s = check(o, "creds_file");
    if (s != NB_OK)
        return s;
    if (!path || !*path)
        return set_optional(&o->creds_file, NULL);
    char *text = NULL;
    char what[600];
    snprintf(what, sizeof what, "options: creds file '%.500s'", path);
    s = read_key_file("creds file", path, &text);
    const char *jwt = NULL;
    size_t jwt_len = 0;
    char pub[NBI_NKEY_PUBLIC_LEN + 1];
    if (s == NB_OK && (!creds_block(text, "-----BEGIN NATS USER JWT", &jwt, &jwt_len) ||
                       !looks_like_jwt(jwt, jwt_len)))
        s = nbi_fail(NB_INVALID_ARG, "%s: no user JWT in it (expected a \"-----BEGIN NATS USER "
                     "JWT-----\" block as nsc and natscli write)", what);
    if (s == NB_OK) {
        const char *seed = nbi_nkey_find_user_seed(text);
        s = seed ? nbi_nkey_user_public(seed, pub, what)
                 : nbi_fail(NB_INVALID_ARG, "%s: no user NKey seed in it (expected a "
                            "\"-----BEGIN USER NKEY SEED-----\" block)", what);
    }
    nbi_free_secret(text);
    return s == NB_OK ? set_optional(&o->creds_file, path) : s;
}

nb_status nb_options_set_creds(nb_options *o, const char *jwt, const char *seed)
{
    nb_status s = check(o, "creds");
    if (s != NB_OK)
        return s;
    if ((!jwt || !*jwt) && (!seed || !*seed)) {
        set_secret(&o->creds_jwt, NULL);
        return set_secret(&o->creds_seed, NULL);
    }
    if (!jwt || !looks_like_jwt(jwt, strlen(jwt)))
        return nbi_fail(NB_INVALID_ARG, "options: creds: the user JWT is not a JWT "
                        "(three base64url parts joined by dots)");
    char pub[NBI_NKEY_PUBLIC_LEN + 1];
    const char *at = seed ? nbi_nkey_find_user_seed(seed) : NULL;
    s = at ? nbi_nkey_user_public(at, pub, "options: creds")
           : nbi_fail(NB_INVALID_ARG, "options: creds: the seed is not a user NKey seed (SU...)");
    /* Only the seed itself is kept: nats_Sign takes nothing around it. */
    char only[NBI_NKEY_SEED_LEN + 1] = "";
    if (s == NB_OK)
        memcpy(only, at, NBI_NKEY_SEED_LEN);
    if (s == NB_OK)
        s = set_secret(&o->creds_jwt, jwt);
    if (s == NB_OK)
        s = set_secret(&o->creds_seed, only);
    nbi_wipe(only, sizeof only);
    return s;
}

nb_status nb_options_set_tls_ca_file(nb_options *o, const char *path)
{
    nb_status s = check(o, "tls_ca_file");
    char *text = NULL;
    if (s == NB_OK && path && *path)
        s = read_key_file("tls ca file", path, &text);
    nbi_free_secret(text);
    return s == NB_OK ? set_optional(&o->tls_ca_file, path) : s;
}

nb_status nb_options_set_tls_client_cert(nb_options *o, const char *cert_path, const char *key_path)
{
    nb_status s = check(o, "tls_client_cert");
    if (s != NB_OK)
        return s;
    bool cert = cert_path && *cert_path, key = key_path && *key_path;
    if (cert != key)
        return nbi_fail(NB_INVALID_ARG, "options: tls client certificate: give both the "
                        "certificate and its key (got only the %s)", cert ? "certificate" : "key");
    char *text = NULL;
    if (cert)
        s = read_key_file("tls client certificate", cert_path, &text);
    nbi_free_secret(text);
    text = NULL;
    if (s == NB_OK && key)
        s = read_key_file("tls client key", key_path, &text);
    nbi_free_secret(text);
    if (s == NB_OK)
        s = set_optional(&o->tls_cert_file, cert_path);
    if (s == NB_OK)
        s = set_optional(&o->tls_key_file, key_path);
    return s;
}

nb_status nb_options_set_tls_hostname(nb_options *o, const char *name)
{
    nb_status s = check(o, "tls_hostname");
    return s == NB_OK ? set_optional(&o->tls_hostname, name) : s;
}

nb_status nb_options_set_tls_required(nb_options *o, bool required)
{
    nb_status s = check(o, "tls_required");
    if (s == NB_OK)
        o->tls_required = required;
    return s;
}

nb_status nb_options_set_connection_name(nb_options *o, const char *name)
{
    nb_status s = check(o, "connection_name");
    return s == NB_OK ? set_optional(&o->connection_name, name) : s;
}

nb_status nb_options_set_nats_configure(nb_options *o, nb_nats_configure_fn fn, void *closure)
{
    nb_status s = check(o, "nats_configure");
    if (s == NB_OK) {
        o->nats_configure = fn;
        o->nats_configure_closure = closure;
    }
    return s;
}

void nbi_options_auth_methods(const nb_options *o, char *out, size_t outsz)
{
    const char *names[4];
    size_t n = 0;
    if (o->user)
        names[n++] = "user/password";
    if (o->token)
        names[n++] = "token";
    if (o->nkey_seed_file)
        names[n++] = "nkey";
    if (o->creds_file || o->creds_jwt)
        names[n++] = "creds";
    snprintf(out, outsz, "%s%s%s%s%s%s%s", n > 0 ? names[0] : "", n > 1 ? (n > 2 ? ", " : " and ") : "",
             n > 1 ? names[1] : "", n > 2 ? (n > 3 ? ", " : " and ") : "", n > 2 ? names[2] : "",
             n > 3 ? " and " : "", n > 3 ? names[3] : "");
}

/* ---- receive limits (issue 11) ----------------------------------------- */

/* A limit of 0 would refuse everything: every limit is at least 1. */
static nb_status set_limit(nb_options *o, uint64_t value, const char *what)
{
    nb_status s = check(o, what);
    if (s == NB_OK && value == 0)
        return nbi_fail(NB_INVALID_ARG, "options: %s must be at least 1", what);
    return s;
}

nb_status nb_options_set_max_payloads(nb_options *o, size_t count)
{
    nb_status s = set_limit(o, count, "max_payloads");
    if (s == NB_OK)
        o->max_payloads = count;
    return s;
}

nb_status nb_options_set_max_link_bytes(nb_options *o, uint64_t bytes)
{
    nb_status s = set_limit(o, bytes, "max_link_bytes");
    if (s == NB_OK)
        o->max_link_bytes = bytes;
    return s;
}

nb_status nb_options_set_max_dataname(nb_options *o, size_t bytes)
{
    nb_status s = set_limit(o, bytes, "max_dataname");
    if (s == NB_OK)
        o->max_dataname = bytes;
    return s;
}

nb_status nb_options_set_max_metadata_depth(nb_options *o, int depth)
{
    nb_status s = set_limit(o, depth > 0 ? (uint64_t)depth : 0, "max_metadata_depth");
    if (s == NB_OK)
        o->max_metadata_depth = depth;
    return s;
}

nb_status nb_options_set_max_envelope_bytes(nb_options *o, size_t bytes)
{
    nb_status s = set_limit(o, bytes, "max_envelope_bytes");
    if (s == NB_OK)
        o->max_envelope_bytes = bytes;
    return s;
}
/* ------------------------------------------------------------------------ */
/* File server TLS and token (issue 10)                                     */
/* ------------------------------------------------------------------------ */

bool nbi_fsauth_clone(nb_options *dst, const nb_options *src)
{
    dst->fsauth.ca_file = nbi_strdup(src->fsauth.ca_file);
    dst->fsauth.cert_file = nbi_strdup(src->fsauth.cert_file);
    dst->fsauth.key_file = nbi_strdup(src->fsauth.key_file);
    dst->fsauth.token = nbi_strdup(src->fsauth.token);
    return (!src->fsauth.ca_file || dst->fsauth.ca_file) &&
           (!src->fsauth.cert_file || dst->fsauth.cert_file) &&
           (!src->fsauth.key_file || dst->fsauth.key_file) &&
           (!src->fsauth.token || dst->fsauth.token);
}

void nbi_fsauth_free(nb_options *o)
{
    free(o->fsauth.ca_file);
    free(o->fsauth.cert_file);
    free(o->fsauth.key_file);
    nbi_free_secret(o->fsauth.token);
    memset(&o->fsauth, 0, sizeof o->fsauth);
}

nb_fileserver_auth nbi_fsauth_view(const nb_options *o)
{
    nb_fileserver_auth a = {o->fsauth.ca_file, o->fsauth.cert_file, o->fsauth.key_file,
                            o->fsauth.token};
    return a;
}

/* NB_OK when path names a readable key or certificate file (read_key_file); what names the option. */
static nb_status readable_file(const char *path, const char *what)
{
    char *text = NULL;
    nb_status s = read_key_file(what, path, &text);
    nbi_free_secret(text);
    return s;
}

nb_status nb_options_set_fileserver_ca(nb_options *o, const char *path)
{
    nb_status s = check(o, "fileserver_ca");
    if (s == NB_OK && path)
        s = readable_file(path, "fileserver CA file");
    return s == NB_OK ? nbi_set_string(&o->fsauth.ca_file, path) : s;
}

nb_status nb_options_set_fileserver_client_cert(nb_options *o, const char *cert_path,
                                                const char *key_path)
{
    nb_status s = check(o, "fileserver_client_cert");
    if (s == NB_OK && !cert_path != !key_path)
        s = nbi_fail(NB_INVALID_ARG, "options: a fileserver client certificate needs both the "
                                     "certificate file and its key file");
    if (s == NB_OK && cert_path)
        s = readable_file(cert_path, "fileserver client certificate");
    if (s == NB_OK && key_path)
        s = readable_file(key_path, "fileserver client key");
    char *cert = NULL;
    if (s == NB_OK && (s = nbi_set_string(&cert, cert_path)) == NB_OK &&
        (s = nbi_set_string(&o->fsauth.key_file, key_path)) == NB_OK) {
        free(o->fsauth.cert_file);
        o->fsauth.cert_file = cert;
        cert = NULL;
    }
    free(cert);
    return s;
}

nb_status nb_options_set_fileserver_token(nb_options *o, const char *token)
{
    nb_status s = check(o, "fileserver_token");
    if (s != NB_OK)
        return s;
    /* The token goes into a header line: anything that could split it is refused,
     * and the message never repeats the token. */
    for (const char *p = token; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return nbi_fail(NB_INVALID_ARG, "options: the fileserver token has spaces, control "
                                            "or non-ASCII characters");
    if (token && !token[0])
        return nbi_fail(NB_INVALID_ARG, "options: the fileserver token is empty (use NULL)");
    char *copy = nbi_strdup(token);
    if (token && !copy)
        return nbi_fail(NB_NO_MEMORY, "options: out of memory");
    nbi_free_secret(o->fsauth.token);
    o->fsauth.token = copy;
    return NB_OK;
}

/* ---- downloads (issue 11) ------------------------------------------------ */

nb_status nb_options_set_idle_timeout(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->idle_timeout_ms, ms, 0, "idle_timeout");
}

nb_status nb_options_set_retry_budget(nb_options *o, int64_t ms)
{
    return set_ms(o, &o->retry_budget_ms, ms, 0, "retry_budget");
}

nb_status nb_options_set_stop_flag(nb_options *o, const volatile sig_atomic_t *flag)
{
    nb_status s = check(o, "stop_flag");
    if (s == NB_OK)
        o->stop = flag;
    return s;
}

/* ---- envelopes that fit the server (issue 16) --------------------------- */

nb_status nb_options_set_auto_link(nb_options *o, bool on)
{
    nb_status s = check(o, "auto_link");
    if (s == NB_OK)
        o->auto_link = on;
    return s;
}

nb_status nb_options_set_link_store(nb_options *o, const char *url)
{
    if (!o)
        return nbi_fail(NB_INVALID_ARG, "options: link_store: options is NULL");
    if (!url || !*url)
        return nbi_set_string(&o->link_store, NULL);
    char *bucket = NULL;
    nb_status s = nbi_objstore_parse_url(url, false, &bucket, NULL);
    free(bucket);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "options: link_store");
    return nbi_set_string(&o->link_store, url);
}
