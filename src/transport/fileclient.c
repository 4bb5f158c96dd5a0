/* SPDX-License-Identifier: MIT */
/*
 * fileclient.c - the HTTP side of link payloads, on libcurl: the Plik and
 * PUT upload handlers (bodies streamed from memory or a file, never copied
 * whole), the download handler with back-off (into memory or streamed into a
 * file), and the URL origin the allowlist compares.
 *
 * Security choices: only http and https, redirects are not followed (the
 * origin allowlist is checked on the URL, a redirect could leave it), tokens
 * that would split a header line are refused, and answers are size-capped.
 */
#include "fileclient.h"

#include "backoff.h"
#include "buf.h"
#include "ids.h"
#include "payload.h" /* nbi_create_private_file: .part files (issue 11 item 12) */
#include "integrity.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* No total timeout (a 1 GB file may take minutes); instead a connect limit
 * and "less than 1 byte/s for 30 s" counts as a dead transfer. */
#define CONNECT_TIMEOUT_MS 10000L
#define LOW_SPEED_LIMIT 1L
#define LOW_SPEED_TIME_S 30L
/* Bodies over this many bytes are sent with "Expect: 100-continue" so that a
 * refusal (413, 401) arrives before the body, never as a broken pipe. Under
 * it the round trip costs more than it saves (curl's own threshold). */
#define EXPECT_CONTINUE_MIN ((uint64_t)1024 * 1024)
/* Upload answers are small JSON objects; a longer one is refused. */
#define ANSWER_MAX (64 * 1024)
/* Memory downloads reserve Content-Length up front, but never more than this
 * on a server's word alone. */
#define PREALLOC_MAX ((curl_off_t)64 * 1024 * 1024)
/* Plik upload options: not one-shot, so fan-out and retried downloads work
 * (a one-shot file is deleted after its first download). */
#define PLIK_OPTIONS "{\"oneShot\":false}"
#define REASON_MAX 512
/* Bytes per curl read or write callback (S7, issue 16): curl's defaults (64 KiB up, 16 KiB
 * down) cost a system call per 8-32 KiB on each side; 512 KiB makes them rare, and a
 * transfer still holds well under 64 MB. */
#define XFER_BUFFER (512L * 1024)

/* ------------------------------------------------------------------------ */
/* URL origin                                                               */
/* ------------------------------------------------------------------------ */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Host of an authority: a bracketed IPv6 literal or letters, digits, '.',
 * '-', '_'. Strict on purpose: what we compare must be what curl connects to. */
static const char *parse_host(const char *p, const char *end)
{
    if (p < end && *p == '[') {
        const char *q = p + 1;
        while (q < end && (is_hex(*q) || *q == ':' || *q == '.'))
            q++;
        return (q > p + 1 && q < end && *q == ']') ? q + 1 : NULL;
    }
    const char *q = p;
    while (q < end && (is_alnum(*q) || *q == '.' || *q == '-' || *q == '_'))
        q++;
    return q > p ? q : NULL;
}

/* Port after the host: "" or ":" (the default), or ":1".. ":65535". */
static long parse_port(const char *p, const char *end, long dflt)
{
    if (p == end || (*p == ':' && p + 1 == end))
        return dflt;
    if (*p != ':')
        return -1;
    long port = 0;
    for (p++; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (*p - '0');
        if (port > 65535)
            return -1;
    }
    return port > 0 ? port : -1;
}

static nb_status bad_url(const char *url, const char *why)
{
    return nbi_fail(NB_INVALID_ARG, "url '%.300s': %s", url, why);
}

nb_status nbi_url_origin(const char *url, char *out, size_t outsz)
{
    if (!url || !out || outsz == 0)
        return nbi_fail(NB_INVALID_ARG, "url origin: NULL argument");
    out[0] = '\0';
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '\\')
            return bad_url(url, "space, control character or backslash");
    bool tls = strncasecmp(url, "https://", 8) == 0;
    if (!tls && strncasecmp(url, "http://", 7) != 0)
        return bad_url(url, "not an http:// or https:// URL");
    const char *auth = url + (tls ? 8 : 7);
    const char *end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth)))
        return bad_url(url, "user info ('user@') is not allowed");
    const char *host_end = parse_host(auth, end);
    if (!host_end)
        return bad_url(url, "missing or malformed host");
    long dflt = tls ? 443 : 80;
    long port = parse_port(host_end, end, dflt);
    if (port < 0)
        return bad_url(url, "malformed host or port");
    /* Default ports are dropped so that http://h and http://h:80 compare equal. */
    int n = port == dflt ? snprintf(out, outsz, "%s://%.*s", tls ? "https" : "http",
                                    (int)(host_end - auth), auth)
                         : snprintf(out, outsz, "%s://%.*s:%ld", tls ? "https" : "http",
                                    (int)(host_end - auth), auth, port);
    if (n < 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return bad_url(url, "origin does not fit the buffer");
    }
    for (char *p = out; *p; p++)
        *p = to_lower(*p);
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Shared pieces: curl set-up, URLs, headers                                */
/* ------------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code = CURLE_FAILED_INIT;

static void curl_init(void) { curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* An easy handle with the options every request shares; err receives curl's detail. */
static nb_status easy_new(CURL **out, const char *url, char err[CURL_ERROR_SIZE])
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_code != CURLE_OK)
        return nbi_fail(NB_HTTP, "curl_global_init: %s", curl_easy_strerror(curl_init_code));
    CURL *c = curl_easy_init();
    if (!c)
        return nbi_fail(NB_NO_MEMORY, "curl_easy_init failed for %.300s", url);
    err[0] = '\0';
    CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc == CURLE_OK) /* no SIGALRM: the library runs in many threads */
        rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "natsbridge/" NB_VERSION_STRING);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(c);
        return nbi_fail(NB_HTTP, "curl set-up for %.300s: %s", url, curl_easy_strerror(rc));
    }
    *out = c;
    return NB_OK;
}

/* Forwards curl's transfer progress to the caller's nb_progress_cb. */
typedef struct progress {
    nb_progress_cb cb;
    void *closure;
    const char *dataname;
} progress;

static int on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const progress *p = arg;
    if (ultotal > 0 || ulnow > 0)
        p->cb(p->dataname, (uint64_t)ulnow, (uint64_t)ultotal, p->closure);
    else
        p->cb(p->dataname, (uint64_t)dlnow, (uint64_t)dltotal, p->closure);
    return 0;
}

/* Turns progress reports on for c when the caller asked for them (p must outlive c's transfers). */
static nb_status progress_attach(CURL *c, progress *p, nb_progress_cb cb, void *closure,
                                 const char *dataname)
{
    if (!cb)
        return NB_OK;
    *p = (progress){cb, closure, dataname ? dataname : ""};
    if (curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo) ||
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, p) ||
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L))
        return nbi_fail(NB_HTTP, "curl refused the progress callback");
    return NB_OK;
}

/* curl's own detail when it gave one, else the code's text. */
static const char *curl_reason(CURLcode rc, const char *err)
{
    return err[0] ? err : curl_easy_strerror(rc);
}

/*
 * Says which side of a failed TLS handshake is to blame, to go before
 * curl's detail: the server's certificate (fix: the CA option) or the
 * client's (fix: the client certificate options). "" for other failures.
 */
static const char *tls_hint(CURLcode rc, const char *err)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return "the file server's certificate could not be verified (give the CA that signed "
               "it with --fileserver-ca or nb_options_set_fileserver_ca): ";
    case CURLE_SSL_CACERT_BADFILE:
        return "the CA file (--fileserver-ca) could not be read as PEM certificates: ";
    case CURLE_SSL_CERTPROBLEM:
        return "the client certificate or key (--fileserver-cert, --fileserver-key) could not "
               "be used: ";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* OpenSSL names the alert the server sent when it refused our certificate. */
        if (strstr(err, "certificate required") || strstr(err, "bad certificate") ||
            strstr(err, "unknown ca") || strstr(err, "certificate unknown") ||
            strstr(err, "unsupported certificate"))
            return "the file server refused the client certificate (or needs one: "
                   "--fileserver-cert, --fileserver-key): ";
        return rc == CURLE_SSL_CONNECT_ERROR ? "TLS handshake with the file server failed: "
                                             : "";
    default:
        return "";
    }
}

/* Applies the CA and the client certificate of auth (NULL: none) to c. */
static nb_status apply_tls(CURL *c, const nb_fileserver_auth *auth)
{
    if (!auth)
        return NB_OK;
    CURLcode rc = CURLE_OK;
    if (auth->ca_file)
        rc = curl_easy_setopt(c, CURLOPT_CAINFO, auth->ca_file);
    if (rc == CURLE_OK && auth->cert_file)
        rc = curl_easy_setopt(c, CURLOPT_SSLCERT, auth->cert_file);
    if (rc == CURLE_OK && auth->key_file)
        rc = curl_easy_setopt(c, CURLOPT_SSLKEY, auth->key_file);
    if (rc != CURLE_OK)
        return nbi_fail(NB_HTTP, "curl refused the TLS settings (CA file, client certificate): "
                                 "%s", curl_easy_strerror(rc));
    return NB_OK;
}

/* Appends s percent-encoded: only RFC 3986 unreserved characters stay. */
static nb_status url_append_escaped(nbi_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    nb_status st = NB_OK;
    for (; *s && st == NB_OK; s++) {
        char c = *s;
        if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            st = nbi_buf_append(b, &c, 1);
        } else {
            unsigned char u = (unsigned char)c;
            char enc[3] = {'%', hex[u >> 4], hex[u & 15]};
            st = nbi_buf_append(b, enc, 3);
        }
    }
    return st;
}

/* base (without its trailing slashes) + "/" + each segment escaped. */
static nb_status url_build(char **out, const char *base, const char *const *segs, size_t n)
{
    nbi_buf b = NBI_BUF_INIT;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    nb_status s = nbi_buf_append(&b, base, blen);
    for (size_t i = 0; i < n && s == NB_OK; i++) {
        s = nbi_buf_append(&b, "/", 1);
        /* "." and ".." would be squashed by curl as dot-segments: send them encoded. */
        if (s == NB_OK && (!strcmp(segs[i], ".") || !strcmp(segs[i], "..")))
            s = nbi_buf_append_str(&b, segs[i][1] ? "%2E%2E" : "%2E");
        else if (s == NB_OK)
            s = url_append_escaped(&b, segs[i]);
    }
    if (s != NB_OK) {
        nbi_buf_free(&b);
        return s;
    }
    *out = (char *)nbi_buf_detach(&b, NULL);
    return *out ? NB_OK : nbi_fail(NB_NO_MEMORY, "out of memory building a URL");
}

/* True when s can go into a header line: visible ASCII only (no CR/LF, no spaces). */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Appends "name: value" to list. */
static nb_status header_add(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line)
        return nbi_fail(NB_NO_MEMORY, "out of memory for header %s", name);
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *grown = curl_slist_append(*list, line);
    free(line);
    if (!grown)
        return nbi_fail(NB_NO_MEMORY, "out of memory for header %s", name);
    *list = grown;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Upload: a body source (memory or file) and one request at a time        */
/* ------------------------------------------------------------------------ */

typedef struct source {
    const uint8_t *mem; /* bytes in memory, or NULL when file is set */
    FILE *file;
    const char *path;
    uint64_t size;
    uint64_t pos;
    int read_errno;     /* the file could not be read (-1: it shrank) */
    nb_read_fn read;    /* a streamed payload (issue 13): size unknown, sent chunked */
    void *read_ctx;
    bool read_failed;   /* the reader failed: its nbi_fail message stands */
    /* The SHA-256 of the bytes handed to curl, from the body's start (issue 16: one pass
     * over the bytes). NULL when the caller did not ask; hash_lost when curl rewound the
     * body to anywhere but its start, so the digest no longer covers what was sent. */
    nbi_sha256 *hash;
    bool hash_lost;
} source;

static nb_status source_open_bytes(source *s, const nb_upload_request *req)
{
    memset(s, 0, sizeof *s);
    s->size = req->size;
    if (req->read) {
        s->read = req->read;
        s->read_ctx = req->read_ctx;
        s->path = "the stream";
        return NB_OK;
    }
    if (!req->path) {
        if (!req->data && req->size)
            return nbi_fail(NB_INVALID_ARG, "upload '%s': no data and no path", req->dataname);
        s->mem = req->data ? req->data : (const uint8_t *)"";
        return NB_OK;
    }
    s->path = req->path;
    if (!(s->file = fopen(req->path, "rb")))
        return nbi_fail(NB_IO, "upload: open %s: %s", req->path, strerror(errno));
    struct stat st;
    nb_status rc = NB_OK;
    if (fstat(fileno(s->file), &st) != 0 || !S_ISREG(st.st_mode))
        rc = nbi_fail(NB_IO, "upload: %s is not a regular file", req->path);
    else if ((uint64_t)st.st_size != req->size)
        rc = nbi_fail(NB_IO, "upload: %s has %lld bytes, expected %llu (changed?)", req->path,
                      (long long)st.st_size, (unsigned long long)req->size);
    if (rc != NB_OK) {
        fclose(s->file);
        s->file = NULL;
    }
    return rc;
}

/* Opens req's bytes; hashed: they are hashed as curl takes them (source_digest). */
static nb_status source_open(source *s, const nb_upload_request *req, bool hashed)
{
    nb_status st = source_open_bytes(s, req);
    if (st == NB_OK && hashed && (st = nbi_sha256_create(&s->hash)) != NB_OK && s->file) {
        fclose(s->file);
        s->file = NULL;
    }
    return st;
}

static void source_close(source *s)
{
    if (s->file)
        fclose(s->file);
    s->file = NULL;
    nbi_sha256_discard(s->hash);
    s->hash = NULL;
}

/* The digest of every byte sent, into hex ("" when it was not kept whole); ends the hash. */
static nb_status source_digest(source *s, char hex[NBI_SHA256_HEX_LEN + 1])
{
    hex[0] = '\0';
    if (!s->hash || s->hash_lost)
        return NB_OK;
    nb_status st = nbi_sha256_finish(s->hash, hex);
    s->hash = NULL;
    return st;
}

/* Feeds n bytes just handed to curl to the hash; false (abort) only when hashing fails. */
static bool source_hash(source *s, const char *buf, size_t n)
{
    return !s->hash || s->hash_lost || nbi_sha256_update(s->hash, buf, n) == NB_OK;
}

/* curl read callback (PUT body and the multipart part): never past size. */
static size_t source_read(char *buf, size_t size, size_t nitems, void *arg)
{
    source *s = arg;
    if (s->read) { /* a stream: as much as the reader gives, until it ends */
        size_t n = 0;
        if (s->read(s->read_ctx, (uint8_t *)buf, size * nitems, &n) != NB_OK) {
            s->read_failed = true; /* the reader's message is the one kept */
            return CURL_READFUNC_ABORT;
        }
        if (n > size * nitems)
            n = size * nitems; /* a reader claiming more than it was given is not trusted */
        s->pos += n;
        return source_hash(s, buf, n) ? n : CURL_READFUNC_ABORT;
    }
    uint64_t left = s->size - s->pos;
    size_t want = size * nitems;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (s->mem) {
        memcpy(buf, s->mem + s->pos, want);
    } else {
        size_t got = fread(buf, 1, want, s->file);
        if (got == 0) {
            s->read_errno = ferror(s->file) ? errno : -1;
            return CURL_READFUNC_ABORT;
        }
        want = got;
    }
    s->pos += want;
    return source_hash(s, buf, want) ? want : CURL_READFUNC_ABORT;
}

/* curl seek callback: curl rewinds a body it has to send again. */
static int source_seek(void *arg, curl_off_t offset, int origin)
{
    source *s = arg;
    if (s->read) /* a stream cannot go back; "seeking" where it is costs nothing */
        return origin == SEEK_SET && offset >= 0 && (uint64_t)offset == s->pos
                   ? CURL_SEEKFUNC_OK
                   : CURL_SEEKFUNC_CANTSEEK;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > s->size)
        return CURL_SEEKFUNC_CANTSEEK;
    if (s->file && fseeko(s->file, (off_t)offset, SEEK_SET) != 0)
        return CURL_SEEKFUNC_FAIL;
    if (s->hash && (uint64_t)offset != s->pos) {
        /* Sent again from the start: hash it afresh. From elsewhere: the caller hashes apart. */
        if (offset == 0 && !s->hash_lost)
            s->hash_lost = nbi_sha256_reset(s->hash) != NB_OK;
        else
            s->hash_lost = true;
    }
    s->pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* One upload request: its handle, headers, multipart body and answer. */
typedef struct upload_call {
    CURL *curl;
    struct curl_slist *headers;
    curl_mime *mime;
    const char *method;
    char *url;
    nbi_buf answer;
    bool answer_too_long;
    long status;
    char err[CURL_ERROR_SIZE];
    progress prog;
} upload_call;

static size_t answer_write(char *p, size_t size, size_t n, void *arg)
{
    upload_call *u = arg;
    size_t len = size * n;
    if (len > ANSWER_MAX - u->answer.len) {
        u->answer_too_long = true;
        return 0;
    }
    return nbi_buf_append(&u->answer, p, len) == NB_OK ? len : 0;
}

/*
 * Starts a request to url (taken, even on failure). ctx of the upload
 * handlers is NULL or the bearer token itself (a const char *); when NULL,
 * auth's token (if any) is used. It is sent as "Authorization: Bearer <token>".
 */
static nb_status call_begin(upload_call *u, const char *method, char *url, const void *ctx,
                            const nb_fileserver_auth *auth)
{
    memset(u, 0, sizeof *u);
    u->method = method;
    u->url = url;
    const char *token = ctx ? ctx : auth ? auth->token : NULL;
    if (token && !header_safe(token))
        return nbi_fail(NB_INVALID_ARG,
                        "upload: the bearer token has spaces or control characters");
    nb_status s = easy_new(&u->curl, url, u->err);
    if (s == NB_OK)
        s = apply_tls(u->curl, auth);
    if (s == NB_OK && token && *token) {
        size_t n = strlen(token) + 8;
        char *v = malloc(n);
        if (!v)
            return nbi_fail(NB_NO_MEMORY, "out of memory for the bearer token");
        snprintf(v, n, "Bearer %s", token);
        s = header_add(&u->headers, "Authorization", v);
        free(v);
    }
    if (s == NB_OK && (curl_easy_setopt(u->curl, CURLOPT_WRITEFUNCTION, answer_write) ||
                       curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, u) ||
                       curl_easy_setopt(u->curl, CURLOPT_UPLOAD_BUFFERSIZE, XFER_BUFFER)))
        s = nbi_fail(NB_HTTP, "upload: curl refused the write callback");
    return s;
}

static void call_end(upload_call *u)
{
    curl_easy_cleanup(u->curl);
    curl_slist_free_all(u->headers);
    curl_mime_free(u->mime); /* after the handle that used it */
    free(u->url);
    nbi_buf_free(&u->answer);
    memset(u, 0, sizeof *u);
}

/* The reason in an error answer ({"error": ...} or Plik's {"message": ...}),
 * cut and with control characters replaced: it is the server's text. */
static void answer_reason(const upload_call *u, char *out, size_t outsz)
{
    out[0] = '\0';
    cJSON *root = cJSON_ParseWithLength((const char *)u->answer.data, u->answer.len);
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!cJSON_IsString(why))
        why = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsString(why) && why->valuestring[0]) {
        snprintf(out, outsz, ": %.200s", why->valuestring);
        for (char *p = out; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    cJSON_Delete(root);
}

/* Performs the request; any failure or non-2xx answer is an error naming the URL. */
static nb_status call_run(upload_call *u, const source *src)
{
    /* A stream of unknown size may be large: ask first, as for a large file. */
    bool expect = src && (src->read || src->size > EXPECT_CONTINUE_MIN);
    if (header_add(&u->headers, "Expect", expect ? "100-continue" : "") != NB_OK ||
        curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, u->headers) != CURLE_OK)
        return nbi_fail(NB_HTTP, "upload: %s %s: cannot set headers", u->method, u->url);
    CURLcode rc = curl_easy_perform(u->curl);
    curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &u->status);
    if (src && src->read_failed)
        return nbi_fail_prefix(NB_IO, "upload: %s %s: reading the stream", u->method, u->url);
    if (src && src->read_errno)
        return nbi_fail(NB_IO, "upload: read %s: %s", src->path,
                        src->read_errno > 0 ? strerror(src->read_errno)
                                            : "file shrank while sending");
    if (u->answer_too_long)
        return nbi_fail(NB_HTTP, "upload: %s %s: answer longer than %d bytes", u->method, u->url,
                        ANSWER_MAX);
    const char *hint = tls_hint(rc, u->err);
    if ((rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR) && src && !hint[0])
        return nbi_fail(NB_HTTP,
                        "upload: %s %s: the server closed the connection during the upload and "
                        "may have refused its size (%llu bytes): %s",
                        u->method, u->url,
                        (unsigned long long)(src->read ? src->pos : src->size),
                        curl_reason(rc, u->err));
    if (rc != CURLE_OK)
        return nbi_fail(NB_HTTP, "upload: %s %s: %s%s", u->method, u->url, hint,
                        curl_reason(rc, u->err));
    if (u->status >= 200 && u->status <= 299)
        return NB_OK;
    char why[256];
    answer_reason(u, why, sizeof why);
    return nbi_fail(NB_HTTP, "upload: %s %s: HTTP %ld%s", u->method, u->url, u->status, why);
}

/* Copies the string member name of the JSON answer into *out (NULL when absent and optional). */
static nb_status answer_string(const upload_call *u, const char *name, bool required, char **out)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength((const char *)u->answer.data, u->answer.len);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    nb_status s = NB_OK;
    if (!root || !cJSON_IsObject(root))
        s = nbi_fail(NB_HTTP, "upload: %s %s: answer is not a JSON object", u->method, u->url);
    else if (cJSON_IsString(item) && item->valuestring[0] && !(*out = nbi_strdup(item->valuestring)))
        s = nbi_fail(NB_NO_MEMORY, "upload: out of memory");
    else if (!*out && required)
        s = nbi_fail(NB_HTTP, "upload: %s %s: answer has no \"%s\" string", u->method, u->url,
                     name);
    cJSON_Delete(root);
    return s;
}

static nb_status check_upload_args(const nb_upload_request *req, nb_upload_result *res)
{
    if (!req || !res)
        return nbi_fail(NB_INVALID_ARG, "upload: NULL request or result");
    if (!req->fileserver_url || !req->dataname || !req->dataname[0])
        return nbi_fail(NB_INVALID_ARG, "upload: missing fileserver_url or dataname");
    char origin[512];
    nb_status s = nbi_url_origin(req->fileserver_url, origin, sizeof origin);
    return s == NB_OK ? NB_OK : nbi_fail_prefix(s, "upload: fileserver_url");
}

/* ------------------------------------------------------------------------ */
/* Plik                                                                     */
/* ------------------------------------------------------------------------ */

/* POST {base}/upload -> {"id": upload id, "uploadToken": token}. */
static nb_status plik_create(const char *base, const void *ctx,
                             const nb_fileserver_auth *auth, long *status, char **id,
                             char **token)
{
    static const char *const segs[] = {"upload"};
    upload_call u;
    char *url = NULL;
    *id = *token = NULL;
    nb_status s = url_build(&url, base, segs, 1);
    if (s != NB_OK)
        return s;
    s = call_begin(&u, "POST", url, ctx, auth);
    if (s == NB_OK)
        s = header_add(&u.headers, "Content-Type", "application/json");
    if (s == NB_OK && (curl_easy_setopt(u.curl, CURLOPT_POSTFIELDS, PLIK_OPTIONS) ||
                       curl_easy_setopt(u.curl, CURLOPT_POSTFIELDSIZE, (long)strlen(PLIK_OPTIONS))))
        s = nbi_fail(NB_HTTP, "upload: POST %s: cannot set the body", url);
    if (s == NB_OK)
        s = call_run(&u, NULL);
    *status = u.status;
    if (s == NB_OK)
        s = answer_string(&u, "id", true, id);
    if (s == NB_OK)
        s = answer_string(&u, "uploadToken", true, token);
    if (s == NB_OK && !header_safe(*token))
        s = nbi_fail(NB_HTTP, "upload: POST %s: uploadToken has unsafe characters", url);
    call_end(&u);
    return s;
}

/* The body of POST /file/{id}: one multipart part "file" streamed from src. */
static nb_status plik_mime(upload_call *u, const char *dataname, source *src)
{
    curl_mimepart *part = NULL;
    if (!(u->mime = curl_mime_init(u->curl)) || !(part = curl_mime_addpart(u->mime)))
        return nbi_fail(NB_NO_MEMORY, "upload: out of memory for the multipart body");
    if (curl_mime_name(part, "file") || curl_mime_filename(part, dataname) ||
        curl_mime_type(part, "application/octet-stream") ||
        curl_mime_data_cb(part, src->read ? (curl_off_t)-1 : (curl_off_t)src->size, source_read,
                          source_seek, NULL, src) ||
        curl_easy_setopt(u->curl, CURLOPT_MIMEPOST, u->mime))
        return nbi_fail(NB_HTTP, "upload: POST %s: cannot build the multipart body", u->url);
    return NB_OK;
}

/* POST {base}/file/{id} with X-UploadToken -> {"id": file id, "fileName": name}. */
static nb_status plik_add_file(const char *base, const void *ctx, const nb_upload_request *req,
                               source *src, const char *id, const char *token, long *status,
                               char **file_id, char **file_name)
{
    const char *segs[] = {"file", id};
    upload_call u;
    char *url = NULL;
    *file_id = *file_name = NULL;
    nb_status s = url_build(&url, base, segs, 2);
    if (s != NB_OK)
        return s;
    s = call_begin(&u, "POST", url, ctx, req->auth);
    if (s == NB_OK)
        s = progress_attach(u.curl, &u.prog, req->progress, req->progress_closure, req->dataname);
    if (s == NB_OK)
        s = header_add(&u.headers, "X-UploadToken", token);
    if (s == NB_OK)
        s = plik_mime(&u, req->dataname, src);
    if (s == NB_OK)
        s = call_run(&u, src);
    *status = u.status;
    if (s == NB_OK)
        s = answer_string(&u, "id", true, file_id);
    if (s == NB_OK)
        s = answer_string(&u, "fileName", false, file_name);
    call_end(&u);
    return s;
}

/* Plik's two requests; hex (may be NULL) gets the digest of the bytes sent (source_digest). */
static nb_status plik_upload(const nb_upload_request *req, nb_upload_result *res, void *ctx,
                             char *hex)
{
    nb_status s = check_upload_args(req, res);
    if (s != NB_OK)
        return s;
    long status = 0;
    char *id = NULL, *token = NULL, *file_id = NULL, *file_name = NULL, *url = NULL;
    source src;
    s = source_open(&src, req, hex != NULL);
    if (s == NB_OK)
        s = plik_create(req->fileserver_url, ctx, req->auth, &status, &id, &token);
    if (s == NB_OK)
        s = plik_add_file(req->fileserver_url, ctx, req, &src, id, token, &status, &file_id,
                          &file_name);
    if (s == NB_OK) {
        /* Plik serves the file under the name it stored, which is ours unless it changed it. */
        const char *segs[] = {"file", id, file_id, file_name ? file_name : req->dataname};
        s = url_build(&url, req->fileserver_url, segs, 4);
    }
    if (s == NB_OK && hex)
        s = source_digest(&src, hex);
    source_close(&src);
    res->status = (int)status;
    if (s == NB_OK) {
        res->uploadid = id;
        res->fileid = file_id;
        res->url = url;
        id = file_id = NULL;
    }
    free(id);
    free(token);
    free(file_id);
    free(file_name);
    return s;
}

/* ------------------------------------------------------------------------ */
/* PUT                                                                      */
/* ------------------------------------------------------------------------ */

static nb_status put_body(upload_call *u, source *src)
{
    if (curl_easy_setopt(u->curl, CURLOPT_UPLOAD, 1L) ||
        curl_easy_setopt(u->curl, CURLOPT_READFUNCTION, source_read) ||
        curl_easy_setopt(u->curl, CURLOPT_READDATA, src) ||
        curl_easy_setopt(u->curl, CURLOPT_SEEKFUNCTION, source_seek) ||
        curl_easy_setopt(u->curl, CURLOPT_SEEKDATA, src) ||
        curl_easy_setopt(u->curl, CURLOPT_INFILESIZE_LARGE,
                         src->read ? (curl_off_t)-1 : (curl_off_t)src->size))
        return nbi_fail(NB_HTTP, "upload: PUT %s: cannot set the body", u->url);
    return header_add(&u->headers, "Content-Type", "application/octet-stream");
}

nb_status nb_upload_plik(const nb_upload_request *req, nb_upload_result *res, void *ctx)
{
    return plik_upload(req, res, ctx, NULL);
}

/* One PUT; hex (may be NULL) gets the digest of the bytes sent (source_digest). */
static nb_status put_upload(const nb_upload_request *req, nb_upload_result *res, void *ctx,
                            char *hex)
{
    nb_status s = check_upload_args(req, res);
    if (s != NB_OK)
        return s;
    char uuid[NBI_UUID_LEN + 1];
    nbi_uuid4(uuid);
    const char *segs[] = {uuid, req->dataname};
    char *url = NULL;
    source src;
    upload_call u;
    s = source_open(&src, req, hex != NULL);
    if (s != NB_OK)
        return s;
    s = url_build(&url, req->fileserver_url, segs, 2);
    if (s != NB_OK) {
        source_close(&src);
        return s;
    }
    s = call_begin(&u, "PUT", url, ctx, req->auth);
    if (s == NB_OK)
        s = progress_attach(u.curl, &u.prog, req->progress, req->progress_closure, req->dataname);
    if (s == NB_OK)
        s = put_body(&u, &src);
    if (s == NB_OK)
        s = call_run(&u, &src);
    res->status = (int)u.status;
    if (s == NB_OK && !(res->url = nbi_strdup(u.url)))
        s = nbi_fail(NB_NO_MEMORY, "upload: out of memory");
    if (s == NB_OK && hex)
        s = source_digest(&src, hex);
    call_end(&u);
    source_close(&src);
    return s;
}

nb_status nb_upload_put(const nb_upload_request *req, nb_upload_result *res, void *ctx)
{
    return put_upload(req, res, ctx, NULL);
}

nb_status nbi_upload_hashed(nb_upload_fn fn, const nb_upload_request *req, nb_upload_result *res,
                            void *ctx, char hex[NBI_SHA256_HEX_LEN + 1])
{
    hex[0] = '\0';
    if (fn == nb_upload_plik)
        return plik_upload(req, res, ctx, hex);
    if (fn == nb_upload_put)
        return put_upload(req, res, ctx, hex);
    return fn(req, res, ctx); /* a caller's handler: its bytes are hashed apart */
}

/* ------------------------------------------------------------------------ */
/* Download: bounded in time, resumed with Range, hashed while streaming    */
/* ------------------------------------------------------------------------ */

/* Why the transfer callback stopped an attempt. */
enum { STOP_NONE = 0, STOP_IDLE, STOP_FLAG };

#define VALIDATOR_MAX 256

/*
 * Where the body goes, across attempts: memory or the ".part" file (open for
 * the whole download), hashed as it arrives. got bytes are kept; a retry
 * asks for the rest with "Range: bytes=got-".
 */
typedef struct sink {
    CURL *curl;
    const nb_download_request *req;
    nbi_buf mem;
    FILE *file;
    char *file_buf;         /* file's stdio buffer (XFER_BUFFER), freed after file is closed */
    const char *part;
    nbi_sha256 *hash;       /* over the got bytes kept */
    uint64_t got;           /* bytes kept, all attempts */
    uint64_t max;           /* 0: no cap */
    uint64_t total;         /* the whole size the server announced; 0: unknown */
    char validator[VALIDATOR_MAX]; /* ETag, else Last-Modified, of the bytes kept; "" none */
    int64_t progress_ms;    /* when a byte was last kept (the retry budget counts from it) */
    /* this attempt */
    uint64_t offset;        /* the Range start: got when the attempt began */
    curl_off_t announced;   /* Content-Length, -1 when unknown */
    bool checked;           /* status and headers looked at */
    bool discard;           /* not 2xx: the body is an error page, dropped */
    bool restart;           /* the kept bytes are stale: the next attempt starts at byte 0 */
    nb_status fail;         /* why the write callback stopped the transfer */
    int err_no;
    int stopped;            /* STOP_*: why the transfer callback stopped it */
    curl_off_t seen;        /* dlnow at the last transfer callback */
    int64_t idle_since;     /* when this attempt last received a byte (or began) */
} sink;

/* What one attempt came to. */
typedef struct outcome {
    nb_status status;
    bool transient;         /* worth another try */
    bool at_once;           /* retry without a back-off delay (a restart from byte 0) */
    int64_t retry_after_ms; /* the server's Retry-After, capped */
    char why[REASON_MAX];
} outcome;

/* The value of response header name of the last answer into out ("" when absent). */
static void header_of(CURL *c, const char *name, char *out, size_t outsz)
{
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value)
        snprintf(out, outsz, "%s", h->value);
}

/* What identifies the version of the bytes: a strong ETag, else Last-Modified. */
static void validator_of(CURL *c, char out[VALIDATOR_MAX])
{
    header_of(c, "ETag", out, VALIDATOR_MAX);
    if (!out[0] || strncmp(out, "W/", 2) == 0)
        header_of(c, "Last-Modified", out, VALIDATOR_MAX);
}

/* Drops the bytes kept: the next ones start the payload over. */
static bool sink_reset(sink *k)
{
    k->got = 0;
    k->mem.len = 0;
    k->total = 0;
    k->validator[0] = '\0';
    nbi_sha256_discard(k->hash);
    k->hash = NULL;
    if (nbi_sha256_create(&k->hash) != NB_OK) {
        k->fail = NB_NO_MEMORY;
        return false;
    }
    if (k->file && (fflush(k->file) != 0 || ftruncate(fileno(k->file), 0) != 0 ||
                    fseeko(k->file, 0, SEEK_SET) != 0)) {
        k->fail = NB_IO;
        k->err_no = errno;
        return false;
    }
    return true;
}

static bool over_cap(sink *k, uint64_t size)
{
    if (k->max && size > k->max) {
        k->fail = NB_TOO_LARGE;
        return true;
    }
    return false;
}

/*
 * A 206 must continue exactly the bytes kept: it starts at offset, the whole
 * has the size and validator of the first answer. Anything else means the
 * file changed: the attempt stops and the next one starts over.
 */
static bool resume_check(sink *k)
{
    char range[128], now[VALIDATOR_MAX];
    unsigned long long first = 0, last = 0, total = 0;
    header_of(k->curl, "Content-Range", range, sizeof range);
    validator_of(k->curl, now);
    bool same = sscanf(range, "bytes %llu-%llu/%llu", &first, &last, &total) == 3 &&
                first == k->offset && last >= first && last < total &&
                (k->total == 0 || total == k->total) && strcmp(now, k->validator) == 0;
    if (!same) {
        k->restart = true;
        return false;
    }
    k->total = total;
    return !over_cap(k, total);
}

/* First bytes of an answer: its status, size and, for a resumed one, its range. */
static bool sink_check(sink *k)
{
    long code = 0;
    k->checked = true;
    curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code == 206)
        return resume_check(k);
    if (code < 200 || code > 299) {
        k->discard = true;
        return true;
    }
    /* A whole body: the server ignored the Range, or the file changed (If-Range). */
    if (k->got > 0 && !sink_reset(k))
        return false;
    curl_easy_getinfo(k->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &k->announced);
    if (k->announced > 0 && over_cap(k, (uint64_t)k->announced))
        return false;
    k->total = k->announced > 0 ? (uint64_t)k->announced : 0;
    validator_of(k->curl, k->validator);
    if (!k->file && k->announced > 0) /* a hint only: growth still works if it fails */
        (void)nbi_buf_reserve(&k->mem, (size_t)(k->announced < PREALLOC_MAX ? k->announced
                                                                               : PREALLOC_MAX));
    return true;
}

static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
    sink *k = arg;
    size_t len = size * n;
    if (!k->checked && !sink_check(k))
        return 0;
    if (k->discard)
        return len;
    if (k->max && len > k->max - k->got) {
        k->fail = NB_TOO_LARGE;
        return 0;
    }
    if (k->file) {
        if (fwrite(p, 1, len, k->file) != len) {
            k->fail = NB_IO;
            k->err_no = errno;
            return 0;
        }
    } else if (nbi_buf_append(&k->mem, p, len) != NB_OK) {
        k->fail = NB_NO_MEMORY;
        return 0;
    }
    if (nbi_sha256_update(k->hash, p, len) != NB_OK) {
        k->fail = NB_INTERNAL;
        return 0;
    }
    k->got += len;
    k->progress_ms = nbi_now_ms();
    return len;
}

/*
 * curl calls this during the transfer, also when nothing arrives: the stop
 * flag and the idle timeout are checked here (non-zero aborts the attempt),
 * and the caller's progress is reported as bytes kept of the whole.
 */
static int sink_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    (void)ulnow;
    sink *k = arg;
    const nb_download_request *r = k->req;
    int64_t now = nbi_now_ms();
    if (r->stop && *r->stop) {
        k->stopped = STOP_FLAG;
        return 1;
    }
    if (dlnow != k->seen) {
        k->seen = dlnow;
        k->idle_since = now;
    } else if (r->idle_timeout_ms > 0 && now - k->idle_since >= r->idle_timeout_ms) {
        k->stopped = STOP_IDLE;
        return 1;
    }
    if (r->progress)
        r->progress(r->dataname ? r->dataname : "", k->got, k->total, r->progress_closure);
    return 0;
}

static void outcome_set(outcome *o, nb_status s, bool transient, const char *fmt, ...)
    NBI_PRINTF(4, 5);

static void outcome_set(outcome *o, nb_status s, bool transient, const char *fmt, ...)
{
    va_list ap;
    o->status = s;
    o->transient = transient;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
}

/* Failures another try may cure: no connection, reset, timeout, cut short. */
static bool curl_transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* A Retry-After in seconds, as milliseconds capped at max_ms (0 when absent). */
static int64_t retry_after_ms(CURL *c, int64_t max_ms)
{
    curl_off_t secs = 0;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK || secs <= 0)
        return 0;
    return secs > max_ms / 1000 ? max_ms : (int64_t)secs * 1000;
}

/* The write callback's reason to stop, if it had one. */
static bool classify_sink(const sink *k, outcome *o)
{
    if (k->fail == NB_TOO_LARGE && k->total > k->max)
        outcome_set(o, NB_TOO_LARGE, false, "the server announced %llu bytes, over the limit of %llu bytes",
                    (unsigned long long)k->total, (unsigned long long)k->max);
    else if (k->fail == NB_TOO_LARGE && k->announced > 0 && (uint64_t)k->announced > k->max)
        outcome_set(o, NB_TOO_LARGE, false, "Content-Length %lld is over the limit of %llu bytes",
                    (long long)k->announced, (unsigned long long)k->max);
    else if (k->fail == NB_TOO_LARGE)
        outcome_set(o, NB_TOO_LARGE, false, "body is over the limit of %llu bytes",
                    (unsigned long long)k->max);
    else if (k->fail == NB_IO)
        outcome_set(o, NB_IO, false, "write %s: %s", k->part, strerror(k->err_no));
    else if (k->fail == NB_NO_MEMORY)
        outcome_set(o, NB_NO_MEMORY, false, "out of memory after %llu bytes",
                    (unsigned long long)k->got);
    else if (k->fail != NB_OK)
        outcome_set(o, k->fail, false, "cannot hash the bytes received");
    else
        return false;
    return true;
}

/* Sorts an attempt into success, a transient failure or a final one. */
static void classify(CURL *c, CURLcode rc, sink *k, const char *err, outcome *o)
{
    const nb_download_request *r = k->req;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (classify_sink(k, o))
        return;
    if (k->stopped == STOP_FLAG) {
        outcome_set(o, NB_HTTP, false, "interrupted (stop flag set) after %llu bytes",
                    (unsigned long long)k->got);
    } else if (k->stopped == STOP_IDLE) {
        outcome_set(o, NB_HTTP, true,
                    "no data for %lld ms (idle timeout: nb_options_set_idle_timeout, --idle-timeout)",
                    (long long)r->idle_timeout_ms);
    } else if (k->restart || (code == 416 && k->offset > 0)) {
        /* 416: the file is now shorter than the bytes kept. */
        k->restart = true;
        outcome_set(o, NB_HTTP, true,
                    "the file changed on the server during the download (HTTP %ld to a Range "
                    "request), starting over",
                    code);
        o->at_once = k->offset > 0; /* a restart that already started at 0 waits as usual */
    } else if (rc != CURLE_OK) {
        outcome_set(o, NB_HTTP, curl_transient(rc), "%s%s", tls_hint(rc, err), curl_reason(rc, err));
    } else if (code < 200 || code > 299) {
        bool transient = code == 408 || code == 429 || code >= 500;
        nb_status s = code == 404 || code == 410 ? NB_NOT_FOUND : NB_HTTP;
        outcome_set(o, s, transient, "HTTP %ld%s", code,
                    code >= 300 && code <= 399 ? " (redirects are not followed)" : "");
        if (transient)
            o->retry_after_ms = retry_after_ms(c, r->max_delay_ms);
    } else if (k->total && k->got < k->total) {
        /* A 206 that ended early: the rest is asked for again. */
        outcome_set(o, NB_HTTP, true, "the answer ended after %llu of %llu bytes",
                    (unsigned long long)k->got, (unsigned long long)k->total);
    }
}

/* A validator echoed in If-Range: printable ASCII and spaces only (no CR/LF). */
static bool validator_safe(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f)
            return false;
    return true;
}

/* "Range: bytes=got-" and, when the bytes kept have a validator, "If-Range". */
static nb_status set_range(sink *k, struct curl_slist **headers)
{
    char range[32];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)k->offset);
    CURLcode rc = curl_easy_setopt(k->curl, CURLOPT_RANGE, k->offset ? range : NULL);
    nb_status s = rc == CURLE_OK ? NB_OK : nbi_fail(NB_HTTP, "curl refused the Range %s", range);
    if (s == NB_OK && k->offset && k->validator[0] && validator_safe(k->validator))
        s = header_add(headers, "If-Range", k->validator);
    if (s == NB_OK && curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, *headers) != CURLE_OK)
        s = nbi_fail(NB_HTTP, "curl refused the request headers");
    return s;
}

/* The stop flag or the idle timeout, checked between waits; true to stop the attempt. */
static bool must_stop(sink *k)
{
    const nb_download_request *r = k->req;
    if (r->stop && *r->stop)
        k->stopped = STOP_FLAG;
    else if (r->idle_timeout_ms > 0 && nbi_now_ms() - k->idle_since >= r->idle_timeout_ms)
        k->stopped = STOP_IDLE;
    return k->stopped != STOP_NONE;
}

/*
 * curl_easy_perform, but through a multi handle whose waits last at most
 * 100 ms: curl_easy_perform waits up to a second between progress calls when
 * nothing arrives, and a SIGINT must not wait that long.
 */
static CURLcode perform(sink *k)
{
    CURLM *m = curl_multi_init();
    if (!m || curl_multi_add_handle(m, k->curl) != CURLM_OK) {
        curl_multi_cleanup(m);
        return CURLE_OUT_OF_MEMORY;
    }
    int running = 1;
    CURLMcode mc = CURLM_OK;
    while (mc == CURLM_OK && running && !must_stop(k)) {
        mc = curl_multi_perform(m, &running);
        if (mc == CURLM_OK && running)
            mc = curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    CURLcode rc = k->stopped ? CURLE_ABORTED_BY_CALLBACK : CURLE_FAILED_INIT;
    int left = 0;
    for (CURLMsg *msg; !k->stopped && (msg = curl_multi_info_read(m, &left));)
        if (msg->msg == CURLMSG_DONE)
            rc = msg->data.result;
    if (mc != CURLM_OK && !k->stopped)
        rc = CURLE_RECV_ERROR; /* a multi failure ends the attempt; another may do better */
    curl_multi_remove_handle(m, k->curl);
    curl_multi_cleanup(m);
    return rc;
}

/* One GET of the bytes not kept yet; the time left before the deadline bounds it. */
static void download_once(sink *k, int64_t deadline, char *err, outcome *o)
{
    memset(o, 0, sizeof *o);
    if (k->restart && !sink_reset(k)) {
        classify_sink(k, o);
        return;
    }
    k->offset = k->got;
    k->announced = -1;
    k->checked = k->discard = k->restart = false;
    k->fail = NB_OK;
    k->stopped = STOP_NONE;
    k->seen = 0;
    k->idle_since = nbi_now_ms();
    err[0] = '\0';
    struct curl_slist *headers = NULL;
    if (set_range(k, &headers) != NB_OK) {
        curl_slist_free_all(headers);
        outcome_set(o, NB_HTTP, false, "%s", nb_last_error());
        return;
    }
    if (deadline) {
        int64_t left = deadline - nbi_now_ms();
        left = left < 1 ? 1 : left > INT32_MAX ? INT32_MAX : left; /* long may be 32-bit */
        curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(left < CONNECT_TIMEOUT_MS ? left : CONNECT_TIMEOUT_MS));
    }
    CURLcode rc = perform(k);
    curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (k->file && fflush(k->file) != 0 && k->fail == NB_OK) {
        k->fail = NB_IO;
        k->err_no = errno;
    }
    classify(k->curl, rc, k, err, o);
}

/* The attempt count, time and budget in a failure message. */
static nb_status give_up(const nb_download_request *req, const outcome *o, nb_status s,
                         int attempts, const char *why)
{
    return nbi_fail(s, "download %.400s: %s after %d attempt%s: %s", req->url, why, attempts,
                    attempts == 1 ? "" : "s", o->why);
}

/* The delay before the next attempt, or -1 to give up (the message is set). */
static int64_t next_delay(const nb_download_request *req, const sink *k, const outcome *o,
                          int attempts, int fruitless, int64_t deadline, nb_status *s)
{
    int64_t now = nbi_now_ms();
    char why[160];
    if (deadline && now >= deadline) {
        snprintf(why, sizeof why, "deadline of %lld ms passed", (long long)req->deadline_ms);
        *s = give_up(req, o, NB_TIMEOUT, attempts, why);
        return -1;
    }
    int64_t budget_end = req->retry_budget_ms > 0 ? k->progress_ms + req->retry_budget_ms : 0;
    if (budget_end && now >= budget_end) {
        snprintf(why, sizeof why,
                 "retry budget of %lld ms spent without receiving a byte "
                 "(nb_options_set_retry_budget, --retry-budget)",
                 (long long)req->retry_budget_ms);
        *s = give_up(req, o, o->status, attempts, why);
        return -1;
    }
    if (!budget_end && attempts > req->max_retries) {
        *s = give_up(req, o, o->status, attempts, "gave up");
        return -1;
    }
    int64_t delay = o->at_once ? 0 : nbi_backoff_delay_ms(fruitless > 0 ? fruitless - 1 : 0,
                                                          req->base_delay_ms, req->max_delay_ms);
    if (o->retry_after_ms > delay)
        delay = o->retry_after_ms;
    if (budget_end && now + delay > budget_end) /* one last try as the budget ends */
        delay = budget_end - now;
    if (deadline && now + delay >= deadline) {
        snprintf(why, sizeof why, "deadline of %lld ms would pass before attempt %d",
                 (long long)req->deadline_ms, attempts + 1);
        *s = nbi_fail(NB_TIMEOUT, "download %.400s: %s: %s", req->url, why, o->why);
        return -1;
    }
    return delay;
}

/*
 * Attempts until the bytes are complete: a retry resumes where the last one
 * stopped, after a back-off delay that restarts when an attempt made progress.
 * Bounded by the retry budget (time without a byte; or max_retries when it
 * is 0), the deadline and the stop flag.
 */
static nb_status download_loop(const nb_download_request *req, sink *k, char *err)
{
    int64_t start = nbi_now_ms();
    /* A deadline too far to add up is no deadline. */
    int64_t deadline = req->deadline_ms > 0 && req->deadline_ms < INT64_MAX - start
                           ? start + req->deadline_ms
                           : 0;
    k->progress_ms = start;
    outcome o;
    int fruitless = 0; /* attempts in a row that kept no byte: the back-off exponent */
    for (int attempts = 1;; attempts++) {
        if (req->stop && *req->stop)
            return nbi_fail(NB_HTTP, "download %.400s: interrupted (stop flag set) before attempt %d",
                            req->url, attempts);
        int64_t before = k->progress_ms;
        download_once(k, deadline, err, &o);
        if (o.status == NB_OK)
            return NB_OK;
        if (!o.transient)
            return nbi_fail(o.status, "download %.400s: %s", req->url, o.why);
        fruitless = k->progress_ms != before ? 0 : fruitless + 1;
        nb_status s = NB_OK;
        int64_t delay = next_delay(req, k, &o, attempts, fruitless, deadline, &s);
        if (delay < 0)
            return s;
        if (nbi_sleep_unless_stopped(delay, req->stop))
            return nbi_fail(NB_HTTP, "download %.400s: interrupted (stop flag set) waiting to "
                            "retry after: %s", req->url, o.why);
    }
}

static nb_status check_download_args(const nb_download_request *req, uint8_t **data, size_t *len)
{
    if (!req || !req->url)
        return nbi_fail(NB_INVALID_ARG, "download: NULL request or url");
    if (!req->path && (!data || !len))
        return nbi_fail(NB_INVALID_ARG, "download %.400s: NULL data or len", req->url);
    if (req->max_retries < 0 || req->base_delay_ms < 0 || req->max_delay_ms < 0 ||
        req->deadline_ms < 0 || req->idle_timeout_ms < 0 || req->retry_budget_ms < 0)
        return nbi_fail(NB_INVALID_ARG,
                        "download %.400s: negative retries, delay, deadline, idle timeout or "
                        "retry budget",
                        req->url);
    char origin[512];
    nb_status s = nbi_url_origin(req->url, origin, sizeof origin);
    return s == NB_OK ? NB_OK : nbi_fail_prefix(s, "download");
}

/*
 * The ".part" file, new and private (0600, whatever the umask), never through
 * a planted file or symbolic link: anything already there is refused. It stays
 * open across attempts: a resumed download appends to it.
 */
static nb_status part_open(sink *k, const char *url)
{
    nb_status s = nbi_create_private_file(k->part, &k->file);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "download %.400s", url);
    /* curl hands over 16 KiB at a time, which stdio writes as 12 + 4 KiB: buffered in large
     * blocks instead, one write per XFER_BUFFER (S7). Without memory, stdio's own buffer. */
    k->file_buf = malloc((size_t)XFER_BUFFER);
    if (k->file_buf && setvbuf(k->file, k->file_buf, _IOFBF, (size_t)XFER_BUFFER) != 0) {
        free(k->file_buf);
        k->file_buf = NULL;
    }
    return NB_OK;
}

/* The digest of the bytes, checked against the one expected (NB_INTEGRITY), handed back. */
static nb_status check_digest(const nb_download_request *req, sink *k)
{
    char hex[NBI_SHA256_HEX_LEN + 1];
    nb_status s = nbi_sha256_finish(k->hash, hex);
    k->hash = NULL;
    if (s != NB_OK)
        return nbi_fail_prefix(s, "download %.400s", req->url);
    if (req->sha256_hex && strcasecmp(hex, req->sha256_hex) != 0)
        return nbi_fail(NB_INTEGRITY, "download %.400s: sha256 mismatch: expected %.64s, got %s",
                        req->url, req->sha256_hex, hex);
    if (req->sha256_out)
        memcpy(req->sha256_out, hex, sizeof hex);
    return NB_OK;
}

/* Hands over the result: the .part file renamed into place, or the bytes. */
static nb_status download_finish(const nb_download_request *req, sink *k, uint8_t **data,
                                 size_t *len)
{
    nb_status s = check_digest(req, k);
    if (s != NB_OK)
        return s;
    if (k->part) {
        FILE *f = k->file;
        k->file = NULL;
        if (fclose(f) != 0)
            return nbi_fail(NB_IO, "download %.400s: close %s: %s", req->url, k->part,
                            strerror(errno));
        if (rename(k->part, req->path) != 0)
            return nbi_fail(NB_IO, "download %.400s: rename %s to %s: %s", req->url, k->part,
                            req->path, strerror(errno));
        if (len)
            *len = (size_t)k->got;
        return NB_OK;
    }
    *data = nbi_buf_detach(&k->mem, len);
    return *data ? NB_OK : nbi_fail(NB_NO_MEMORY, "download %.400s: out of memory", req->url);
}

/* The easy handle of a download: our callbacks, and no low-speed limit (the idle timeout is ours). */
static nb_status download_handle(sink *k, char err[CURL_ERROR_SIZE])
{
    const char *url = k->req->url;
    nb_status s = easy_new(&k->curl, url, err);
    if (s == NB_OK)
        s = apply_tls(k->curl, k->req->auth);
    if (s == NB_OK && (curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, sink_write) ||
                       curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, k) ||
                       curl_easy_setopt(k->curl, CURLOPT_XFERINFOFUNCTION, sink_xferinfo) ||
                       curl_easy_setopt(k->curl, CURLOPT_XFERINFODATA, k) ||
                       curl_easy_setopt(k->curl, CURLOPT_NOPROGRESS, 0L) ||
                       curl_easy_setopt(k->curl, CURLOPT_LOW_SPEED_TIME, 0L) ||
                       curl_easy_setopt(k->curl, CURLOPT_BUFFERSIZE, XFER_BUFFER)))
        s = nbi_fail(NB_HTTP, "download %.400s: curl refused a callback", url);
    if (s == NB_OK && nbi_sha256_create(&k->hash) != NB_OK)
        s = nbi_fail(NB_NO_MEMORY, "download %.400s: out of memory", url);
    return s;
}

nb_status nb_download_http(const nb_download_request *req, uint8_t **data, size_t *len,
                           void *ctx)
{
    (void)ctx;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    nb_status s = check_download_args(req, data, len);
    if (s != NB_OK)
        return s;
    if (req->sha256_out)
        req->sha256_out[0] = '\0';
    sink k = {.req = req, .max = req->max_bytes, .announced = -1};
    char *part = NULL;
    char err[CURL_ERROR_SIZE];
    if (req->path) {
        size_t n = strlen(req->path) + sizeof ".part";
        if (!(part = malloc(n)))
            return nbi_fail(NB_NO_MEMORY, "download %.400s: out of memory", req->url);
        snprintf(part, n, "%s.part", req->path);
        k.part = part;
    }
    s = download_handle(&k, err);
    if (s == NB_OK && part)
        s = part_open(&k, req->url);
    bool created = k.file != NULL;
    if (s == NB_OK)
        s = download_loop(req, &k, err);
    if (s == NB_OK)
        s = download_finish(req, &k, data, len);
    if (k.file)
        fclose(k.file);
    free(k.file_buf); /* after the FILE that used it is closed */
    if (created && s != NB_OK)
        remove(part); /* never leave torn bytes behind */
    nbi_sha256_discard(k.hash);
    curl_easy_cleanup(k.curl);
    nbi_buf_free(&k.mem);
    free(part);
    return s;
}
