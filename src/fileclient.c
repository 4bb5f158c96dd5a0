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

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* No total timeout (a 1 GB file may take minutes); instead a connect limit
 * and "less than 1 byte/s for 30 s" counts as a dead transfer. */
#define CONNECT_TIMEOUT_MS 10000L
#define LOW_SPEED_LIMIT 1L
#define LOW_SPEED_TIME_S 30L
/* Upload answers are small JSON objects; a longer one is refused. */
#define ANSWER_MAX (64 * 1024)
/* Memory downloads reserve Content-Length up front, but never more than this
 * on a server's word alone. */
#define PREALLOC_MAX ((curl_off_t)64 * 1024 * 1024)
/* Plik upload options: not one-shot, so fan-out and retried downloads work
 * (a one-shot file is deleted after its first download). */
#define PLIK_OPTIONS "{\"oneShot\":false}"
#define REASON_MAX 512

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
} source;

static nb_status source_open(source *s, const nb_upload_request *req)
{
    memset(s, 0, sizeof *s);
    s->size = req->size;
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

static void source_close(source *s)
{
    if (s->file)
        fclose(s->file);
    s->file = NULL;
}

/* curl read callback (PUT body and the multipart part): never past size. */
static size_t source_read(char *buf, size_t size, size_t nitems, void *arg)
{
    source *s = arg;
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
    return want;
}

/* curl seek callback: curl rewinds a body it has to send again. */
static int source_seek(void *arg, curl_off_t offset, int origin)
{
    source *s = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > s->size)
        return CURL_SEEKFUNC_CANTSEEK;
    if (s->file && fseeko(s->file, (off_t)offset, SEEK_SET) != 0)
        return CURL_SEEKFUNC_FAIL;
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
 * handlers is NULL or the bearer token itself (a const char *): it is sent as
 * "Authorization: Bearer <token>".
 */
static nb_status call_begin(upload_call *u, const char *method, char *url, const void *ctx)
{
    memset(u, 0, sizeof *u);
    u->method = method;
    u->url = url;
    const char *token = ctx;
    if (token && !header_safe(token))
        return nbi_fail(NB_INVALID_ARG,
                        "upload: the bearer token has spaces or control characters");
    nb_status s = easy_new(&u->curl, url, u->err);
    /* Expect: 100-continue costs a round trip: measured 10-20% slower on big bodies. */
    if (s == NB_OK)
        s = header_add(&u->headers, "Expect", "");
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
                       curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, u)))
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
    if (curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, u->headers) != CURLE_OK)
        return nbi_fail(NB_HTTP, "upload: %s %s: cannot set headers", u->method, u->url);
    CURLcode rc = curl_easy_perform(u->curl);
    curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &u->status);
    if (src && src->read_errno)
        return nbi_fail(NB_IO, "upload: read %s: %s", src->path,
                        src->read_errno > 0 ? strerror(src->read_errno)
                                            : "file shrank while sending");
    if (u->answer_too_long)
        return nbi_fail(NB_HTTP, "upload: %s %s: answer longer than %d bytes", u->method, u->url,
                        ANSWER_MAX);
    if (rc != CURLE_OK)
        return nbi_fail(NB_HTTP, "upload: %s %s: %s", u->method, u->url, curl_reason(rc, u->err));
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
static nb_status plik_create(const char *base, const void *ctx, long *status, char **id,
                             char **token)
{
    static const char *const segs[] = {"upload"};
    upload_call u;
    char *url = NULL;
    *id = *token = NULL;
    nb_status s = url_build(&url, base, segs, 1);
    if (s != NB_OK)
        return s;
    s = call_begin(&u, "POST", url, ctx);
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
        curl_mime_data_cb(part, (curl_off_t)src->size, source_read, source_seek, NULL, src) ||
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
    s = call_begin(&u, "POST", url, ctx);
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

nb_status nb_upload_plik(const nb_upload_request *req, nb_upload_result *res, void *ctx)
{
    nb_status s = check_upload_args(req, res);
    if (s != NB_OK)
        return s;
    long status = 0;
    char *id = NULL, *token = NULL, *file_id = NULL, *file_name = NULL, *url = NULL;
    source src;
    s = source_open(&src, req);
    if (s == NB_OK)
        s = plik_create(req->fileserver_url, ctx, &status, &id, &token);
    if (s == NB_OK)
        s = plik_add_file(req->fileserver_url, ctx, req, &src, id, token, &status, &file_id,
                          &file_name);
    if (s == NB_OK) {
        /* Plik serves the file under the name it stored, which is ours unless it changed it. */
        const char *segs[] = {"file", id, file_id, file_name ? file_name : req->dataname};
        s = url_build(&url, req->fileserver_url, segs, 4);
    }
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
        curl_easy_setopt(u->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src->size))
        return nbi_fail(NB_HTTP, "upload: PUT %s: cannot set the body", u->url);
    return header_add(&u->headers, "Content-Type", "application/octet-stream");
}

nb_status nb_upload_put(const nb_upload_request *req, nb_upload_result *res, void *ctx)
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
    s = source_open(&src, req);
    if (s != NB_OK)
        return s;
    s = url_build(&url, req->fileserver_url, segs, 2);
    if (s != NB_OK) {
        source_close(&src);
        return s;
    }
    s = call_begin(&u, "PUT", url, ctx);
    if (s == NB_OK)
        s = progress_attach(u.curl, &u.prog, req->progress, req->progress_closure, req->dataname);
    if (s == NB_OK)
        s = put_body(&u, &src);
    if (s == NB_OK)
        s = call_run(&u, &src);
    res->status = (int)u.status;
    if (s == NB_OK && !(res->url = nbi_strdup(u.url)))
        s = nbi_fail(NB_NO_MEMORY, "upload: out of memory");
    call_end(&u);
    source_close(&src);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Download with back-off                                                   */
/* ------------------------------------------------------------------------ */

/* Where the body of one attempt goes: memory, or the ".part" file. */
typedef struct sink {
    CURL *curl;
    nbi_buf mem;
    FILE *file;
    const char *part;
    uint64_t got;
    uint64_t max;          /* 0: no cap */
    curl_off_t announced;  /* Content-Length, -1 when unknown */
    bool checked;          /* status and Content-Length looked at */
    bool discard;          /* not 2xx: the body is an error page, dropped */
    nb_status fail;        /* why the write callback stopped the transfer */
    int err_no;
    progress prog;
} sink;

/* What one attempt came to. */
typedef struct outcome {
    nb_status status;
    bool transient;         /* worth another try */
    int64_t retry_after_ms; /* the server's Retry-After, capped */
    char why[REASON_MAX];
} outcome;

/* First bytes of the answer: refuse a too-long Content-Length before reading the body. */
static bool sink_check(sink *k)
{
    long code = 0;
    k->checked = true;
    curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        k->discard = true;
        return true;
    }
    curl_easy_getinfo(k->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &k->announced);
    if (k->max && k->announced > 0 && (uint64_t)k->announced > k->max) {
        k->fail = NB_TOO_LARGE;
        return false;
    }
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
    k->got += len;
    return len;
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

/* Sorts an attempt into success, a transient failure or a final one. */
static void classify(CURL *c, CURLcode rc, const sink *k, const char *err, int64_t max_delay,
                     outcome *o)
{
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (k->fail == NB_TOO_LARGE && k->announced > 0 && (uint64_t)k->announced > k->max)
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
    else if (rc != CURLE_OK)
        outcome_set(o, NB_HTTP, curl_transient(rc), "%s", curl_reason(rc, err));
    else if (code < 200 || code > 299) {
        bool transient = code == 408 || code == 429 || code >= 500;
        nb_status s = code == 404 || code == 410 ? NB_NOT_FOUND : NB_HTTP;
        outcome_set(o, s, transient, "HTTP %ld%s", code,
                    code >= 300 && code <= 399 ? " (redirects are not followed)" : "");
        if (transient)
            o->retry_after_ms = retry_after_ms(c, max_delay);
    }
}

/* One GET; the time left before the deadline bounds the whole attempt. */
static void download_once(CURL *c, const nb_download_request *req, int64_t deadline, sink *k,
                          char *err, outcome *o)
{
    memset(o, 0, sizeof *o);
    k->got = 0;
    k->mem.len = 0;
    k->announced = -1;
    k->checked = k->discard = false;
    k->fail = NB_OK;
    err[0] = '\0';
    /* A retry starts the file over: simpler than Range, and always right. */
    if (k->part && !(k->file = fopen(k->part, "wb"))) {
        outcome_set(o, NB_IO, false, "open %s: %s", k->part, strerror(errno));
        return;
    }
    if (deadline) {
        int64_t left = deadline - nbi_now_ms();
        left = left < 1 ? 1 : left > INT32_MAX ? INT32_MAX : left; /* long may be 32-bit */
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(left < CONNECT_TIMEOUT_MS ? left : CONNECT_TIMEOUT_MS));
    }
    CURLcode rc = curl_easy_perform(c);
    if (k->file && fclose(k->file) != 0 && rc == CURLE_OK && k->fail == NB_OK) {
        k->fail = NB_IO;
        k->err_no = errno;
    }
    k->file = NULL;
    classify(c, rc, k, err, req->max_delay_ms, o);
}

/* Tries up to max_retries + 1 times with back-off, never sleeping past the deadline. */
static nb_status download_loop(CURL *c, const nb_download_request *req, sink *k, char *err)
{
    int64_t start = nbi_now_ms();
    /* A deadline too far to add up is no deadline. */
    int64_t deadline = req->deadline_ms > 0 && req->deadline_ms < INT64_MAX - start
                           ? start + req->deadline_ms
                           : 0;
    int64_t tries = (int64_t)req->max_retries + 1;
    const char *url = req->url;
    outcome o;
    for (int i = 0;; i++) {
        download_once(c, req, deadline, k, err, &o);
        if (o.status == NB_OK)
            return NB_OK;
        if (!o.transient)
            return nbi_fail(o.status, "download %.400s: %s", url, o.why);
        int64_t now = nbi_now_ms();
        const char *s = i == 0 ? "" : "s";
        if (deadline && now >= deadline)
            return nbi_fail(NB_TIMEOUT,
                            "download %.400s: deadline of %lld ms passed after %d attempt%s: %s",
                            url, (long long)req->deadline_ms, i + 1, s, o.why);
        if (i + 1 >= tries)
            return nbi_fail(o.status, "download %.400s: gave up after %d attempt%s: %s", url, i + 1,
                            s, o.why);
        int64_t delay = nbi_backoff_delay_ms(i, req->base_delay_ms, req->max_delay_ms);
        if (o.retry_after_ms > delay)
            delay = o.retry_after_ms;
        if (deadline && now + delay >= deadline)
            return nbi_fail(NB_TIMEOUT,
                            "download %.400s: deadline of %lld ms would pass before attempt %d: %s",
                            url, (long long)req->deadline_ms, i + 2, o.why);
        nbi_sleep_ms(delay);
    }
}

static nb_status check_download_args(const nb_download_request *req, uint8_t **data, size_t *len)
{
    if (!req || !req->url)
        return nbi_fail(NB_INVALID_ARG, "download: NULL request or url");
    if (!req->path && (!data || !len))
        return nbi_fail(NB_INVALID_ARG, "download %.400s: NULL data or len", req->url);
    if (req->max_retries < 0 || req->base_delay_ms < 0 || req->max_delay_ms < 0 ||
        req->deadline_ms < 0)
        return nbi_fail(NB_INVALID_ARG, "download %.400s: negative retries, delay or deadline",
                        req->url);
    char origin[512];
    nb_status s = nbi_url_origin(req->url, origin, sizeof origin);
    return s == NB_OK ? NB_OK : nbi_fail_prefix(s, "download");
}

/* Hands over the result: the .part file renamed into place, or the bytes. */
static nb_status download_finish(const nb_download_request *req, sink *k, uint8_t **data,
                                 size_t *len)
{
    if (k->part) {
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
    sink k = {.max = req->max_bytes, .announced = -1};
    char *part = NULL;
    char err[CURL_ERROR_SIZE];
    if (req->path) {
        size_t n = strlen(req->path) + sizeof ".part";
        if (!(part = malloc(n)))
            return nbi_fail(NB_NO_MEMORY, "download %.400s: out of memory", req->url);
        snprintf(part, n, "%s.part", req->path);
        k.part = part;
    }
    s = easy_new(&k.curl, req->url, err);
    if (s == NB_OK && (curl_easy_setopt(k.curl, CURLOPT_WRITEFUNCTION, sink_write) ||
                       curl_easy_setopt(k.curl, CURLOPT_WRITEDATA, &k)))
        s = nbi_fail(NB_HTTP, "download %.400s: curl refused the write callback", req->url);
    if (s == NB_OK)
        s = progress_attach(k.curl, &k.prog, req->progress, req->progress_closure, req->dataname);
    if (s == NB_OK)
        s = download_loop(k.curl, req, &k, err);
    if (s == NB_OK)
        s = download_finish(req, &k, data, len);
    if (part && s != NB_OK)
        remove(part);
    curl_easy_cleanup(k.curl);
    nbi_buf_free(&k.mem);
    free(part);
    return s;
}
