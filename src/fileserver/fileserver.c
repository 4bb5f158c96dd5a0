/* SPDX-License-Identifier: MIT */
/*
 * fileserver.c - the built-in file server for link (claim-check) payloads,
 * on libmicrohttpd: the Plik API subset the peers use (PROTOCOL.md section 4.3)
 * and plain PUT/GET/HEAD/DELETE. Storage is filestore.c's.
 *
 * URL layout:
 *   POST /upload                       -> 200 {"id","uploadToken","files":{},"oneShot"}
 *   POST /file/{uploadid}[/{fileid}/{filename}]  (X-UploadToken, multipart part "file")
 *                                      -> 200 {"id","fileName","fileSize","fileType","status"}
 *   GET|HEAD /file/{uploadid}/{fileid}/{filename}  (the name must match)
 *   PUT /<path>                        -> 201 {"path","size"}
 *   GET|HEAD|DELETE /<path>            (DELETE -> 204)
 *   GET /                              -> 200 "natsbridge fileserver"
 * PUT and DELETE under /file/ and /upload are 405: those paths are Plik's.
 * Errors answer {"error": "<what was wrong>"}. With a token configured,
 * POST /upload, POST /file, PUT and DELETE need "Authorization: Bearer
 * <token>" (401 otherwise); downloads need nothing. Bodies over max_size get
 * 413 (a multipart body may carry 64 KiB of framing over it). Paths with
 * "..", "//", ".", a backslash, a control character or an encoded "/" or NUL
 * are 400.
 *
 * Browser pages (issue 15): with CORS origins configured, OPTIONS preflights
 * are answered (204, or 403 for an origin or method not allowed) and every
 * response carries Vary: Origin, plus Access-Control-Allow-Origin when the
 * request's Origin may use that method (cors_headers). Without them no
 * Access-Control header is ever sent and OPTIONS is 405 as before.
 *
 * Hostile clients (docs/SECURITY.md, "File server"): connection limits in
 * all and per address, a deadline for complete request headers (a watchdog
 * thread; MHD's own timeout is idle-based), a cap on Plik uploads still
 * without a file (503), 400 for ambiguous framing (two Content-Lengths, one
 * with Transfer-Encoding), and refusals a client can read: answered at once
 * to "Expect: 100-continue", else after the body is drained. HTTPS with a
 * certificate and key (GnuTLS through MHD) when configured.
 *
 * Request paths only ever name index entries: names on disk are generated
 * (filestore.h). Bodies stream to a temp file as they arrive and downloads
 * are sent from the file descriptor (sendfile), so no file is ever held in
 * memory. MHD runs a pool of epoll threads, enough for many concurrent
 * downloads since sendfile never blocks a thread.
 */
#include "fileserver.h"

#include "backoff.h"
#include "buf.h"
#include "filestore.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define FS_DEFAULT_TTL_S (24 * 3600)
#define FS_THREADS 8                      /* sendfile downloads do not block a thread */
#define FS_CONN_MEMORY (256 * 1024)       /* MHD's per-connection pool: upload chunk size */
#define FS_KEY_MAX NBI_FS_KEY_MAX         /* longest request path accepted */
#define FS_JSON_MAX (64 * 1024)           /* POST /upload bodies */
#define FS_MULTIPART_SLACK (64 * 1024)    /* multipart framing allowed over max_size */
#define FS_PP_BUFFER (64 * 1024)
/* After a body is refused mid-stream the rest is read and dropped so that the
 * client gets its 413; past this many bytes the connection is simply closed. */
#define FS_DISCARD_LIMIT (16 * 1024 * 1024)
/* Defaults of the limits in nb_fileserver_config (0 there means these). */
#define FS_DEFAULT_MAX_CONNECTIONS 1000u  /* fits the usual 1024 descriptors */
#define FS_DEFAULT_MAX_PER_IP 64u
#define FS_DEFAULT_HEADER_TIMEOUT_MS 10000u
#define FS_DEFAULT_IDLE_TIMEOUT_S 60u
#define FS_DEFAULT_MAX_PENDING 1000u
#define FS_WATCH_EVERY_MS 200             /* how often the header deadline is checked */
#define FS_RETRY_AFTER_S "60"             /* for refused POST /upload (pending cap) */
#define FS_TLS_FILE_MAX (1024 * 1024)     /* longest PEM file read */
#define FS_LOG_PATH 256
#define FS_CTYPE "application/octet-stream"

/*
 * One TCP connection, from accept to close, for the header deadline: MHD's
 * own timeout is idle-based, so a client sending its headers a byte at a time
 * (slowloris) would hold a connection forever. The watchdog thread shuts
 * down the socket of a connection that waits for headers for too long.
 */
typedef struct fs_conn {
    struct fs_conn *prev, *next;
    int fd;
    int64_t waiting_since_ms; /* headers awaited since (monotonic); 0 while a request runs */
    bool cut;
} fs_conn;

struct nb_fileserver {
    nbi_filestore *store;
    char *token;
    uint64_t max_size;
    size_t max_pending;
    int64_t header_timeout_ms;
    bool quiet;
    bool tls;
    int port;
    struct MHD_Daemon *mhd;
    pthread_mutex_t log_lock; /* guards starting and mhd_error */
    bool lock_ready, starting;
    char mhd_error[256];      /* libmicrohttpd's own message while starting */
    char *tls_cert, *tls_key; /* PEM text; MHD keeps pointers to them while it runs */
    nbi_fs_cors cors;         /* pages allowed by --cors-origin (fileserver_cors.c) */

    pthread_mutex_t conn_lock; /* guards conns and watch_stop */
    pthread_cond_t watch_wake;
    bool conn_ready, watch_running, watch_stop;
    pthread_t watcher;
    fs_conn *conns;
};

typedef enum fs_kind { RQ_OTHER = 0, RQ_PUT, RQ_NEW_UPLOAD, RQ_PLIK_FILE } fs_kind;

/* One HTTP request, from its first access-handler call to its completion. */
typedef struct fs_request {
    nb_fileserver *fs;
    int64_t start_ms;
    char method[16];
    char log_path[FS_LOG_PATH];
    int status;                  /* the status queued, 0 before */
    uint64_t bytes_in, bytes_out;
    fs_kind kind;
    char *key;                   /* index key of the file being written */
    char *name;                  /* Plik file name */
    char fileid[NBI_UUID_LEN + 1];
    char upload_id[NBI_UUID_LEN + 1]; /* Plik: the upload the file joins */
    bool oneshot;
    int64_t expires_ms;
    int fd;                      /* temp file while a body streams in, else -1 */
    char blob[NBI_UUID_LEN + 1]; /* its uuid; "" when nothing is on disk */
    uint64_t received;           /* file bytes written */
    bool got_file_part;
    int err_status;              /* body refused mid-stream: answered at the end */
    char err_msg[256];
    uint64_t discarded;
    nbi_buf json;                /* POST /upload body */
    nbi_fs_framing framing;      /* Content-Length / Transfer-Encoding as sent */
    struct MHD_PostProcessor *pp;
    char oneshot_blob[NBI_UUID_LEN + 1]; /* full GET of a one-shot file in flight */
} fs_request;

/* ------------------------------------------------------------------------ */
/* Request paths                                                            */
/* ------------------------------------------------------------------------ */

/* MHD hands the path over undecoded (see keep_escaped). */
const char *nbi_fs_decode_path(const char *raw, char out[FS_KEY_MAX])
{
    if (raw[0] != '/')
        return "path must start with /";
    size_t n = 0;
    for (const char *p = raw; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '%') {
            int hi = nbi_hex_digit(p[1]), lo = hi < 0 ? -1 : nbi_hex_digit(p[2]);
            if (lo < 0)
                return "bad percent-encoding in path";
            ch = (unsigned char)(hi * 16 + lo);
            p += 2;
            if (ch == '/')
                return "encoded slash (%2f) in path";
            if (ch == 0)
                return "encoded NUL (%00) in path";
        }
        if (ch == '\\')
            return "backslash in path";
        if (ch < 0x20 || ch == 0x7f)
            return "control character in path";
        if (n + 1 >= FS_KEY_MAX)
            return "path too long";
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    if (strstr(out, ".."))
        return "\"..\" in path";
    if (strstr(out, "//"))
        return "empty segment (//) in path";
    if (strstr(out, "/./") || (n >= 2 && strcmp(out + n - 2, "/.") == 0))
        return "\".\" segment in path";
    if (n > 1 && out[n - 1] == '/')
        return "path ends with /";
    return NULL;
}

bool nbi_fs_plik_path(const char *path)
{
    return strcmp(path, "/upload") == 0 || strncmp(path, "/upload/", 8) == 0 ||
           strcmp(path, "/file") == 0 || strncmp(path, "/file/", 6) == 0;
}

int nbi_fs_plik_segments(char *path, char *seg[3])
{
    int n = 0;
    for (char *p = path + strlen("/file/"); p && n < 4; n++) {
        if (n < 3)
            seg[n] = p;
        p = strchr(p, '/');
        if (p)
            *p++ = '\0';
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */
/* ------------------------------------------------------------------------ */

/*
 * The CORS headers of every response once origins are configured: Vary:
 * Origin always (a cache must not hand one page's answer to another), and
 * Access-Control-Allow-Origin with the exposed headers when this page may
 * make this request (nbi_fs_cors_allow). A preflight adds its own.
 */
static void cors_headers(const fs_request *rq, struct MHD_Connection *c, struct MHD_Response *r)
{
    if (!nbi_fs_cors_enabled(&rq->fs->cors))
        return;
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *allow = nbi_fs_cors_allow(&rq->fs->cors, origin, rq->method);
    if (!allow)
        return;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    MHD_add_response_header(r, "Access-Control-Expose-Headers", NBI_FS_CORS_EXPOSE_HEADERS);
}

/* Queues r (taken) with status, recording both for the log line. */
static enum MHD_Result queue(fs_request *rq, struct MHD_Connection *c, int status,
                             struct MHD_Response *r, uint64_t bytes)
{
    if (!r)
        return MHD_NO;
    cors_headers(rq, c, r);
    rq->status = status;
    rq->bytes_out = bytes;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static struct MHD_Response *buffer_response(const char *ctype, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

/* Queues obj (taken) as JSON. */
static enum MHD_Result reply_json(fs_request *rq, struct MHD_Connection *c, int status,
                                  cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        static const char oom[] = "out of memory\n";
        return queue(rq, c, 500, buffer_response("text/plain", oom, sizeof oom - 1),
                     sizeof oom - 1);
    }
    size_t len = strlen(text);
    enum MHD_Result ok = queue(rq, c, status, buffer_response("application/json", text, len), len);
    cJSON_free(text);
    return ok;
}

/* Queues {"error": "<message>"}; 401 also says which scheme is expected. */
NBI_PRINTF(4, 5)
static enum MHD_Result reply_error(fs_request *rq, struct MHD_Connection *c, int status,
                                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddStringToObject(o, "error", msg) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    const char *body = text ? text : "{\"error\":\"out of memory\"}";
    size_t len = strlen(body);
    struct MHD_Response *r = buffer_response("application/json", body, len);
    if (r && status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    cJSON_free(text);
    return queue(rq, c, status, r, len);
}

/* Reads a decimal number, saturating at UINT64_MAX; *end gets the first other char. */
static uint64_t read_number(const char *s, const char **end)
{
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (uint64_t)(*s - '0');
    *end = s;
    return v;
}

int nbi_fs_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (!h || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6, *q;
    bool suffix = *p == '-';
    uint64_t a = suffix ? 0 : read_number(p, &q);
    if (!suffix && (q == p || *q != '-'))
        return 0;
    p = suffix ? p + 1 : q + 1;
    uint64_t b = read_number(p, &q);
    bool has_b = q != p;
    if (*q != '\0' || (suffix && !has_b) || (has_b && !suffix && b < a))
        return 0;
    if (suffix) {
        if (b == 0 || size == 0)
            return -1;
        a = b > size ? 0 : size - b;
        b = size - 1;
    } else if (!has_b || b >= size) {
        b = size - 1;
    }
    if (a >= size)
        return -1;
    *start = a;
    *len = b - a + 1;
    return 1;
}

/* A plain decimal number (spaces around allowed), at most 19 digits so that it cannot wrap. */
static bool parse_length(const char *v, uint64_t *out)
{
    while (*v == ' ' || *v == '\t')
        v++;
    const char *end;
    uint64_t n = read_number(v, &end);
    size_t digits = (size_t)(end - v);
    while (*end == ' ' || *end == '\t')
        end++;
    if (digits == 0 || digits > 19 || *end)
        return false;
    *out = n;
    return true;
}

void nbi_fs_framing_add(nbi_fs_framing *f, const char *name, const char *value)
{
    if (!name)
        return;
    if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        uint64_t n = 0;
        if (!value || !parse_length(value, &n))
            f->bad_length = true;
        else if (f->content_lengths > 0 && n != f->length)
            f->lengths_differ = true;
        if (f->content_lengths++ == 0)
            f->length = n;
    } else if (strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->te_not_chunked = true;
    }
}

const char *nbi_fs_framing_check(const nbi_fs_framing *f)
{
    if (f->bad_length)
        return "Content-Length is not a decimal number";
    if (f->lengths_differ)
        return "Content-Length headers that differ";
    if (f->content_lengths && f->transfer_encodings)
        return "both Content-Length and Transfer-Encoding";
    if (f->transfer_encodings > 1 || f->te_not_chunked)
        return "a Transfer-Encoding other than one \"chunked\"";
    return NULL;
}

/* Queues the file open at fd (taken), whole or the requested range. */
static enum MHD_Result reply_file(fs_request *rq, struct MHD_Connection *c, int fd,
                                  uint64_t size)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    uint64_t start = 0, len = size;
    char crange[96];
    int rc = nbi_fs_parse_range(h, size, &start, &len);
    if (rc < 0) {
        close(fd);
        rq->oneshot_blob[0] = '\0';
        snprintf(crange, sizeof crange, "bytes */%" PRIu64, size);
        static const char msg[] = "{\"error\":\"range not satisfiable\"}";
        struct MHD_Response *r = buffer_response("application/json", msg, sizeof msg - 1);
        if (r) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
            MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
        }
        return queue(rq, c, 416, r, sizeof msg - 1);
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, start);
    if (!r) {
        close(fd);
        return reply_error(rq, c, 500, "cannot create a response for the file");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, FS_CTYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (rc > 0) {
        rq->oneshot_blob[0] = '\0'; /* only a whole download uses up a one-shot file */
        snprintf(crange, sizeof crange, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                 start + len - 1, size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
    }
    return queue(rq, c, rc > 0 ? 206 : 200, r, len);
}

/* ------------------------------------------------------------------------ */
/* Downloads and deletes                                                    */
/* ------------------------------------------------------------------------ */

/* GET/HEAD of key; name is the Plik file name the path gave (NULL for PUT files). */
static enum MHD_Result serve(fs_request *rq, struct MHD_Connection *c, const char *key,
                             const char *name, bool head)
{
    uint64_t size = 0;
    int fd = nbi_filestore_open_file(rq->fs->store, key, name, &size, rq->oneshot_blob);
    if (fd < 0 && errno == ENOENT)
        return reply_error(rq, c, 404, "no file at %s", rq->log_path);
    if (fd < 0)
        return reply_error(rq, c, 500, "cannot open the file: %s", strerror(errno));
    if (head)
        rq->oneshot_blob[0] = '\0'; /* only a whole download uses up a one-shot file */
    if (rq->oneshot_blob[0] && !(rq->key = nbi_strdup(key))) {
        close(fd);
        return reply_error(rq, c, 500, "out of memory");
    }
    return reply_file(rq, c, fd, size);
}

static enum MHD_Result do_delete(fs_request *rq, struct MHD_Connection *c, const char *key)
{
    if (!nbi_filestore_remove(rq->fs->store, key))
        return reply_error(rq, c, 404, "no file at %s", rq->log_path);
    return queue(rq, c, 204, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
                 0);
}

/* ------------------------------------------------------------------------ */
/* Upload bodies: streamed into a temp file, committed when complete        */
/* ------------------------------------------------------------------------ */

/* Drops the temp file, if any. */
static void sink_abort(fs_request *rq)
{
    if (rq->fd >= 0)
        close(rq->fd);
    rq->fd = -1;
    if (rq->blob[0])
        nbi_filestore_discard_temp(rq->fs->store, rq->blob);
    rq->blob[0] = '\0';
}

/* Refuses the body: the temp file goes, the rest of the body is dropped,
 * and the error is answered when the body ends (MHD cannot answer earlier). */
NBI_PRINTF(3, 4)
static void refuse(fs_request *rq, int status, const char *fmt, ...)
{
    if (rq->err_status)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rq->err_msg, sizeof rq->err_msg, fmt, ap);
    va_end(ap);
    rq->err_status = status;
    sink_abort(rq);
}

static int sink_open(fs_request *rq)
{
    rq->fd = nbi_filestore_create_temp(rq->fs->store, rq->blob);
    if (rq->fd < 0) {
        int err = errno;
        rq->blob[0] = '\0';
        refuse(rq, 500, "cannot create a file in the server's directory: %s", strerror(err));
        return -1;
    }
    return 0;
}

static void sink_write(fs_request *rq, const char *data, size_t n)
{
    uint64_t max = rq->fs->max_size;
    if (rq->fd < 0)
        return;
    if (max && (n > max || rq->received > max - n)) {
        refuse(rq, 413, "body over the server's limit of %" PRIu64 " bytes", max);
        return;
    }
    if (nbi_filestore_write_all(rq->fd, data, n) != 0) {
        int err = errno;
        refuse(rq, err == ENOSPC ? 507 : 500, "cannot write the upload: %s", strerror(err));
        return;
    }
    rq->received += n;
}

/* The body is complete: moves it into place and indexes it (replacing any older file). */
static int sink_commit(fs_request *rq)
{
    int fd = rq->fd;
    rq->fd = -1;
    if (close(fd) != 0) {
        refuse(rq, 500, "cannot write the upload: %s", strerror(errno));
        return -1;
    }
    nbi_filestore_meta meta = {.key = rq->key, .name = rq->name, .size = rq->received,
                               .expires_ms = rq->expires_ms, .oneshot = rq->oneshot,
                               .upload_id = rq->upload_id[0] ? rq->upload_id : NULL};
    nb_status s = nbi_filestore_commit(rq->fs->store, rq->blob, &meta);
    rq->blob[0] = '\0'; /* committed, or removed by the failed commit */
    if (s != NB_OK) {
        refuse(rq, 500, "%s", nb_last_error());
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Request starts (first access-handler call: headers only)                 */
/* ------------------------------------------------------------------------ */

static bool authorized(const nb_fileserver *fs, struct MHD_Connection *c)
{
    if (!fs->token)
        return true;
    const char *h =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    for (h += 7; *h == ' '; h++)
        ;
    return nbi_filestore_secret_equal(h, fs->token);
}

/* True when Content-Length announces more than limit (0 = no limit). */
static bool announced_over(struct MHD_Connection *c, uint64_t limit)
{
    const char *h =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *end;
    return limit && h && read_number(h, &end) > limit;
}

/* True when the client waits for "100 Continue" before it sends its body. */
static bool expects_continue(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return h && strcasecmp(h, "100-continue") == 0;
}

/*
 * Refuses an upload from its headers. A client that sent Expect:
 * 100-continue gets the answer at once and never sends its body. Any other
 * client is sending the body right now: answering and closing at once would
 * make it see a broken pipe instead of the status (curl does), so a body of
 * up to FS_DISCARD_LIMIT bytes is read and dropped first, and the answer
 * comes at its end (finish). A bigger one is answered at once and cut.
 */
NBI_PRINTF(4, 5)
static enum MHD_Result refuse_upload(fs_request *rq, struct MHD_Connection *c, int status,
                                     const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const nbi_fs_framing *f = &rq->framing;
    bool body = f->transfer_encodings > 0 || (f->content_lengths > 0 && f->length > 0);
    bool small = f->transfer_encodings > 0 || f->length <= FS_DISCARD_LIMIT;
    if (!body || !small || expects_continue(c))
        return reply_error(rq, c, status, "%s", msg);
    rq->kind = RQ_OTHER; /* the body goes nowhere */
    refuse(rq, status, "%s", msg);
    return MHD_YES;
}

static enum MHD_Result begin_put(fs_request *rq, struct MHD_Connection *c, const char *path)
{
    nb_fileserver *fs = rq->fs;
    if (strcmp(path, "/") == 0)
        return refuse_upload(rq, c, 400, "PUT needs a path naming the file");
    if (!authorized(fs, c))
        return refuse_upload(rq, c, 401, "uploads need Authorization: Bearer <token>");
    if (announced_over(c, fs->max_size))
        return refuse_upload(rq, c, 413, "body over the server's limit of %" PRIu64 " bytes",
                             fs->max_size);
    rq->kind = RQ_PUT;
    if (!(rq->key = nbi_strdup(path)))
        return reply_error(rq, c, 500, "out of memory");
    if (sink_open(rq) != 0)
        return reply_error(rq, c, rq->err_status, "%s", rq->err_msg);
    return MHD_YES;
}

static enum MHD_Result begin_new_upload(fs_request *rq, struct MHD_Connection *c)
{
    if (!authorized(rq->fs, c))
        return refuse_upload(rq, c, 401, "uploads need Authorization: Bearer <token>");
    if (announced_over(c, FS_JSON_MAX))
        return refuse_upload(rq, c, 413, "upload options over %d bytes", FS_JSON_MAX);
    rq->kind = RQ_NEW_UPLOAD;
    return MHD_YES;
}

/* Checks the upload and its X-UploadToken, copying its settings into rq; 0 or an HTTP status. */
static int check_upload(fs_request *rq, struct MHD_Connection *c, const char *uid,
                        const char **why)
{
    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-UploadToken");
    switch (nbi_filestore_check_upload(rq->fs->store, uid, token, &rq->oneshot,
                                       &rq->expires_ms)) {
    case NBI_UPLOAD_OK:
        return 0;
    case NBI_UPLOAD_NO_TOKEN:
        *why = "adding a file needs the X-UploadToken header";
        return 401;
    case NBI_UPLOAD_BAD_TOKEN:
        *why = "wrong X-UploadToken for this upload";
        return 403;
    default:
        *why = "no such upload";
        return 404;
    }
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *ctype, const char *enc,
                               const char *data, uint64_t off, size_t size);

/* POST /file/{uid}[/{fid}/{name}]: seg holds 1 or 3 path segments. */
static enum MHD_Result begin_plik_file(fs_request *rq, struct MHD_Connection *c,
                                       char *seg[3], int nseg)
{
    nb_fileserver *fs = rq->fs;
    const char *why = NULL;
    if (nseg != 1 && nseg != 3)
        return refuse_upload(rq, c, 404, "expected POST /file/{uploadid}[/{fileid}/{filename}]");
    if (!authorized(fs, c))
        return refuse_upload(rq, c, 401, "uploads need Authorization: Bearer <token>");
    int refused = check_upload(rq, c, seg[0], &why);
    if (refused)
        return refuse_upload(rq, c, refused, "%s: %s", why, seg[0]);
    if (fs->max_size && announced_over(c, fs->max_size + FS_MULTIPART_SLACK))
        return refuse_upload(rq, c, 413, "body over the server's limit of %" PRIu64 " bytes",
                             fs->max_size);
    if (nseg == 3 && (!nbi_is_uuid(seg[1]) || !nbi_filestore_valid_name(seg[2])))
        return refuse_upload(rq, c, 400, "file id must be a UUID and the file name plain");
    /* Both were checked above: a live upload's id and a file id are UUIDs. */
    snprintf(rq->upload_id, sizeof rq->upload_id, "%.*s", NBI_UUID_LEN, seg[0]);
    if (nseg == 3)
        snprintf(rq->fileid, sizeof rq->fileid, "%.*s", NBI_UUID_LEN, seg[1]);
    else
        nbi_uuid4(rq->fileid);
    char key[FS_KEY_MAX + 2 * NBI_UUID_LEN];
    snprintf(key, sizeof key, "/file/%s/%s", seg[0], rq->fileid);
    rq->kind = RQ_PLIK_FILE;
    if (!(rq->key = nbi_strdup(key)) || (nseg == 3 && !(rq->name = nbi_strdup(seg[2]))))
        return reply_error(rq, c, 500, "out of memory");
    rq->pp = MHD_create_post_processor(c, FS_PP_BUFFER, on_part, rq);
    if (!rq->pp)
        return reply_error(rq, c, 400, "expected a multipart/form-data body with a part "
                                       "named \"file\"");
    return MHD_YES;
}

static enum MHD_Result begin_plik(fs_request *rq, struct MHD_Connection *c, char *path,
                                  const char *method)
{
    bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(path, "/upload") == 0)
        return post ? begin_new_upload(rq, c)
                    : reply_error(rq, c, 405, "/upload takes POST only");
    char *seg[3] = {NULL, NULL, NULL};
    int nseg = strncmp(path, "/file/", 6) == 0 ? nbi_fs_plik_segments(path, seg) : 0;
    if (post && nseg > 0)
        return begin_plik_file(rq, c, seg, nseg);
    if ((get || head) && nseg == 3) {
        char key[FS_KEY_MAX + 8];
        snprintf(key, sizeof key, "/file/%s/%s", seg[0], seg[1]);
        return serve(rq, c, key, seg[2], head);
    }
    if (get || head || post)
        return reply_error(rq, c, 404, "no such Plik route: %s", rq->log_path);
    return reply_error(rq, c, 405, "%s is not allowed on the Plik API", method);
}

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    nbi_fs_framing_add(cls, key, value);
    return MHD_YES;
}

/* 400 for ambiguous framing, and the connection is closed: where this request
 * ends, and so where the next one starts, is not known. */
static enum MHD_Result refuse_framing(fs_request *rq, struct MHD_Connection *c, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof msg, "{\"error\":\"ambiguous request framing: %s\"}", why);
    size_t len = strlen(msg);
    struct MHD_Response *r = buffer_response("application/json", msg, len);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return queue(rq, c, 400, r, len);
}

/*
 * OPTIONS with CORS configured: a browser's preflight for path. Allowed: 204
 * with the origin, the route's methods this origin may use, the request
 * headers peers send and a Max-Age. Not allowed: 403 without any
 * Access-Control-Allow-* header, so the browser refuses the request.
 */
static enum MHD_Result preflight(fs_request *rq, struct MHD_Connection *c, const char *path)
{
    const nbi_fs_cors *cors = &rq->fs->cors;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *want = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   "Access-Control-Request-Method");
    if (!origin || !want)
        return reply_error(rq, c, 400, "OPTIONS is answered as a CORS preflight only: it needs "
                                       "Origin and Access-Control-Request-Method");
    const char *allow = nbi_fs_cors_allow(cors, origin, want);
    /* Only a listed origin gets the upload methods; "*" gets GET and HEAD. */
    const char *methods = nbi_fs_cors_route_methods(path, allow && strcmp(allow, "*") != 0);
    if (!allow || !nbi_fs_cors_method_listed(methods, want))
        return reply_error(rq, c, 403, "CORS: origin %.256s may not %.16s %s (see --cors-origin)",
                           origin, want, rq->log_path);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", methods);
        MHD_add_response_header(r, "Access-Control-Allow-Headers", NBI_FS_CORS_ALLOW_HEADERS);
        MHD_add_response_header(r, "Access-Control-Max-Age", NBI_FS_CORS_MAX_AGE);
    }
    return queue(rq, c, 204, r, 0);
}

static enum MHD_Result begin(fs_request *rq, struct MHD_Connection *c, const char *url,
                             const char *method)
{
    /* Before anything else, so that no body of such a request is ever stored. */
    MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &rq->framing);
    const char *ambiguous = nbi_fs_framing_check(&rq->framing);
    if (ambiguous)
        return refuse_framing(rq, c, ambiguous);
    char path[FS_KEY_MAX];
    const char *bad = nbi_fs_decode_path(url, path);
    if (bad)
        return reply_error(rq, c, strcmp(bad, "path too long") == 0 ? 414 : 400, "%s", bad);
    if (nbi_fs_cors_enabled(&rq->fs->cors)) {
        if (strcmp(method, "OPTIONS") == 0)
            return preflight(rq, c, path);
        /* A page may POST a form to any site without a preflight: a write from a
         * page whose origin is not allowed to write is refused, not just unreadable. */
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        bool write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
        if (origin && write && !nbi_fs_cors_allow(&rq->fs->cors, origin, method))
            return refuse_upload(rq, c, 403, "CORS: origin %.256s may not %.16s here (see "
                                             "--cors-origin)", origin, method);
    }
    if (nbi_fs_plik_path(path))
        return begin_plik(rq, c, path, method);
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "PUT") == 0)
        return begin_put(rq, c, path);
    if (strcmp(path, "/") == 0 && (head || strcmp(method, "GET") == 0)) {
        static const char hello[] = "natsbridge fileserver\n";
        return queue(rq, c, 200, buffer_response("text/plain", hello, sizeof hello - 1),
                     sizeof hello - 1);
    }
    if (head || strcmp(method, "GET") == 0)
        return serve(rq, c, path, NULL, head);
    if (strcmp(method, "DELETE") == 0)
        return authorized(rq->fs, c)
                   ? do_delete(rq, c, path)
                   : reply_error(rq, c, 401, "deletes need Authorization: Bearer <token>");
    return reply_error(rq, c, 405, "%s is not allowed here", method);
}

/* ------------------------------------------------------------------------ */
/* Request bodies and ends                                                  */
/* ------------------------------------------------------------------------ */

/* The post processor's callback: streams the part named "file" to disk. */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *ctype, const char *enc,
                               const char *data, uint64_t off, size_t size)
{
    fs_request *rq = cls;
    (void)kind, (void)ctype, (void)enc;
    if (!key || strcmp(key, "file") != 0)
        return MHD_YES; /* other form fields are ignored, as Plik does */
    if (rq->err_status)
        return MHD_NO;
    if (rq->got_file_part && off == 0 && rq->received > 0) {
        refuse(rq, 400, "only one part named \"file\" is accepted");
        return MHD_NO;
    }
    if (!rq->got_file_part) {
        rq->got_file_part = true;
        if (!rq->name && (!filename || !nbi_filestore_valid_name(filename))) {
            refuse(rq, 400, "the \"file\" part needs a plain filename (no /, \\, \"..\")");
            return MHD_NO;
        }
        if (!rq->name && !(rq->name = nbi_strdup(filename))) {
            refuse(rq, 500, "out of memory");
            return MHD_NO;
        }
        if (sink_open(rq) != 0)
            return MHD_NO;
    }
    sink_write(rq, data, size);
    return rq->err_status ? MHD_NO : MHD_YES;
}

static void take_body(fs_request *rq, const char *data, size_t n)
{
    rq->bytes_in += n;
    if (rq->err_status) {
        rq->discarded += n;
        return;
    }
    if (rq->kind == RQ_PUT) {
        sink_write(rq, data, n);
    } else if (rq->kind == RQ_NEW_UPLOAD) {
        if (rq->json.len + n > FS_JSON_MAX)
            refuse(rq, 413, "upload options over %d bytes", FS_JSON_MAX);
        else if (nbi_buf_append(&rq->json, data, n) != NB_OK)
            refuse(rq, 500, "out of memory");
    } else if (rq->kind == RQ_PLIK_FILE) {
        if (MHD_post_process(rq->pp, data, n) != MHD_YES)
            refuse(rq, 400, "malformed multipart/form-data body");
    } else {
        rq->discarded += n;
    }
}

bool nbi_fs_upload_options(const char *body, size_t len, cJSON **opts)
{
    const char *p = body;
    size_t n = body ? len : 0;
    while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++, n--;
    *opts = n > 0 ? cJSON_ParseWithLength(p, n) : NULL;
    if (n > 0 && !cJSON_IsObject(*opts)) {
        cJSON_Delete(*opts);
        *opts = NULL;
        return false;
    }
    return true;
}

void nbi_fs_upload_settings(const cJSON *opts, bool *oneshot, int64_t *ttl_ms)
{
    /* cJSON_GetObjectItem ignores case: "oneShot", "OneShot" and "oneshot" all count. */
    *oneshot = cJSON_IsTrue(cJSON_GetObjectItem(opts, "oneShot"));
    const cJSON *ttl = cJSON_GetObjectItem(opts, "ttl");
    *ttl_ms = 0; /* the server's TTL, which also caps what is asked */
    if (cJSON_IsNumber(ttl) && ttl->valuedouble > 0 && ttl->valuedouble < 1e12)
        *ttl_ms = (int64_t)(ttl->valuedouble * 1000);
}

/*
 * Too many uploads wait for their file (a POST /upload flood): 503 with
 * Retry-After, and a log line even when quiet, since an operator must see it.
 */
static enum MHD_Result refuse_pending(fs_request *rq, struct MHD_Connection *c)
{
    fprintf(stderr, "natsbridge fileserver: refused POST /upload: %zu uploads without a file "
            "are pending, the limit (--max-pending-uploads)\n", rq->fs->max_pending);
    char msg[160];
    snprintf(msg, sizeof msg, "{\"error\":\"too many uploads without a file pending (limit "
             "%zu); retry later\"}", rq->fs->max_pending);
    size_t len = strlen(msg);
    struct MHD_Response *r = buffer_response("application/json", msg, len);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, FS_RETRY_AFTER_S);
    return queue(rq, c, MHD_HTTP_SERVICE_UNAVAILABLE, r, len);
}

static enum MHD_Result finish_new_upload(fs_request *rq, struct MHD_Connection *c)
{
    cJSON *opts;
    if (!nbi_fs_upload_options((const char *)rq->json.data, rq->json.len, &opts))
        return reply_error(rq, c, 400, "upload options must be a JSON object");
    bool oneshot;
    int64_t ttl_ms;
    nbi_fs_upload_settings(opts, &oneshot, &ttl_ms);
    cJSON_Delete(opts);
    char id[NBI_UUID_LEN + 1], token[NBI_UUID_LEN + 1];
    nb_status s = nbi_filestore_new_upload(rq->fs->store, oneshot, ttl_ms, rq->fs->max_pending,
                                           id, token);
    if (s == NB_TOO_LARGE)
        return refuse_pending(rq, c);
    if (s != NB_OK)
        return reply_error(rq, c, 500, "%s", nb_last_error());
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", id) ||
        !cJSON_AddStringToObject(o, "uploadToken", token) ||
        !cJSON_AddObjectToObject(o, "files") || !cJSON_AddBoolToObject(o, "oneShot", oneshot)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return reply_json(rq, c, 200, o);
}

static enum MHD_Result finish_plik_file(fs_request *rq, struct MHD_Connection *c)
{
    bool complete = MHD_destroy_post_processor(rq->pp) == MHD_YES;
    rq->pp = NULL;
    if (rq->err_status)
        return reply_error(rq, c, rq->err_status, "%s", rq->err_msg);
    if (!rq->got_file_part || !complete) {
        sink_abort(rq);
        return reply_error(rq, c, 400, "%s", complete ? "the body has no part named \"file\""
                                                      : "incomplete multipart/form-data body");
    }
    if (sink_commit(rq) != 0)
        return reply_error(rq, c, rq->err_status, "%s", rq->err_msg);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", rq->fileid) ||
        !cJSON_AddStringToObject(o, "fileName", rq->name) ||
        !cJSON_AddNumberToObject(o, "fileSize", (double)rq->received) ||
        !cJSON_AddStringToObject(o, "fileType", FS_CTYPE) ||
        !cJSON_AddStringToObject(o, "status", "uploaded")) {
        cJSON_Delete(o);
        o = NULL;
    }
    return reply_json(rq, c, 200, o);
}

static enum MHD_Result finish(fs_request *rq, struct MHD_Connection *c)
{
    if (rq->kind == RQ_PLIK_FILE)
        return finish_plik_file(rq, c);
    if (rq->err_status)
        return reply_error(rq, c, rq->err_status, "%s", rq->err_msg);
    if (rq->kind == RQ_NEW_UPLOAD)
        return finish_new_upload(rq, c);
    if (rq->kind != RQ_PUT)
        return reply_error(rq, c, 500, "internal: request has no handler");
    rq->expires_ms = 0; /* the server's TTL from now */
    if (sink_commit(rq) != 0)
        return reply_error(rq, c, rq->err_status, "%s", rq->err_msg);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "path", rq->key) ||
        !cJSON_AddNumberToObject(o, "size", (double)rq->received)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return reply_json(rq, c, 201, o);
}

/* ------------------------------------------------------------------------ */
/* libmicrohttpd callbacks                                                  */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Connections and the header deadline                                      */
/* ------------------------------------------------------------------------ */

static void conn_set_waiting(nb_fileserver *fs, struct MHD_Connection *c, bool waiting)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    fs_conn *k = info ? info->socket_context : NULL;
    if (!k)
        return;
    pthread_mutex_lock(&fs->conn_lock);
    k->waiting_since_ms = waiting ? nbi_now_ms() : 0;
    pthread_mutex_unlock(&fs->conn_lock);
}

/* MHD's connection notifications: keeps fs->conns, the watchdog's list. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    nb_fileserver *fs = cls;
    fs_conn *k = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info || !(k = calloc(1, sizeof *k)))
            return; /* untracked: only MHD's idle timeout applies to it */
        k->fd = info->connect_fd;
        k->waiting_since_ms = nbi_now_ms();
        pthread_mutex_lock(&fs->conn_lock);
        k->next = fs->conns;
        if (fs->conns)
            fs->conns->prev = k;
        fs->conns = k;
        pthread_mutex_unlock(&fs->conn_lock);
        *socket_context = k;
        return;
    }
    if (!k)
        return;
    /* MHD closes the socket only after this returns, so the watchdog, which
     * shuts sockets down under the same lock, never touches a reused fd. */
    pthread_mutex_lock(&fs->conn_lock);
    if (k->prev)
        k->prev->next = k->next;
    else
        fs->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&fs->conn_lock);
    free(k);
    *socket_context = NULL;
}

/* Shuts down the connections that have waited for headers too long; returns how many. */
static int cut_slow_headers(nb_fileserver *fs, int64_t now)
{
    int cut = 0;
    for (fs_conn *k = fs->conns; k; k = k->next) {
        if (k->cut || !k->waiting_since_ms || now - k->waiting_since_ms < fs->header_timeout_ms)
            continue;
        /* MHD sees the end of the stream at once and closes the connection itself. */
        shutdown(k->fd, SHUT_RDWR);
        k->cut = true;
        cut++;
    }
    return cut;
}

static void *watch_main(void *arg)
{
    nb_fileserver *fs = arg;
    pthread_mutex_lock(&fs->conn_lock);
    while (!fs->watch_stop) {
        struct timespec until;
        nbi_deadline_after(CLOCK_MONOTONIC, FS_WATCH_EVERY_MS, &until);
        while (!fs->watch_stop &&
               pthread_cond_timedwait(&fs->watch_wake, &fs->conn_lock, &until) == 0)
            ;
        if (fs->watch_stop)
            break;
        int cut = cut_slow_headers(fs, nbi_now_ms());
        if (cut && !fs->quiet)
            fprintf(stderr,
                    "natsbridge fileserver: closed %d connection%s that sent no complete "
                    "request headers within %" PRId64 " ms (--header-timeout)\n",
                    cut, cut == 1 ? "" : "s", fs->header_timeout_ms);
    }
    pthread_mutex_unlock(&fs->conn_lock);
    return NULL;
}

static nb_status watch_start(nb_fileserver *fs)
{
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&fs->watch_wake, &ca) == 0;
    if (ok && pthread_mutex_init(&fs->conn_lock, NULL) != 0) {
        pthread_cond_destroy(&fs->watch_wake);
        ok = false;
    }
    pthread_condattr_destroy(&ca);
    if (!ok)
        return nbi_fail(NB_INTERNAL, "fileserver: cannot set up the connection watchdog");
    fs->conn_ready = true;
    if (pthread_create(&fs->watcher, NULL, watch_main, fs) != 0)
        return nbi_fail(NB_INTERNAL, "fileserver: cannot start the connection watchdog thread");
    fs->watch_running = true;
    return NB_OK;
}

static void watch_stop(nb_fileserver *fs)
{
    if (fs->watch_running) {
        pthread_mutex_lock(&fs->conn_lock);
        fs->watch_stop = true;
        pthread_cond_signal(&fs->watch_wake);
        pthread_mutex_unlock(&fs->conn_lock);
        pthread_join(fs->watcher, NULL);
        fs->watch_running = false;
    }
}

/* ------------------------------------------------------------------------ */
/* Request life cycle                                                       */
/* ------------------------------------------------------------------------ */

static fs_request *request_new(nb_fileserver *fs, const char *method, const char *url)
{
    fs_request *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    rq->fs = fs;
    rq->fd = -1;
    rq->start_ms = nbi_now_ms();
    snprintf(rq->method, sizeof rq->method, "%s", method);
    snprintf(rq->log_path, sizeof rq->log_path, "%s", url);
    for (char *p = rq->log_path; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?'; /* one line per request, whatever the client sent */
    return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fs_request *rq = *con_cls;
    (void)version;
    if (!rq) {
        conn_set_waiting(cls, c, false); /* the headers are in: no deadline while it runs */
        if (!(rq = request_new(cls, method, url)))
            return MHD_NO;
        *con_cls = rq;
        return begin(rq, c, url, method);
    }
    if (*upload_data_size) {
        take_body(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return rq->discarded > FS_DISCARD_LIMIT ? MHD_NO : MHD_YES;
    }
    return finish(rq, c);
}

static void log_request(const fs_request *rq, bool completed)
{
    uint64_t bytes = rq->bytes_in ? rq->bytes_in
                     : strcmp(rq->method, "HEAD") == 0 ? 0
                                                       : rq->bytes_out;
    fprintf(stderr, "natsbridge fileserver: %s %s %d %" PRIu64 " bytes %" PRId64 " ms%s\n",
            rq->method, rq->log_path, rq->status, bytes, nbi_now_ms() - rq->start_ms,
            completed ? "" : " (aborted)");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    nb_fileserver *fs = cls;
    fs_request *rq = *con_cls;
    conn_set_waiting(fs, c, true); /* a kept-alive connection awaits its next headers */
    if (!rq)
        return;
    *con_cls = NULL;
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (ok && rq->oneshot_blob[0] && rq->key)
        nbi_filestore_drop(fs->store, rq->key, rq->oneshot_blob);
    if (!fs->quiet)
        log_request(rq, ok);
    sink_abort(rq); /* an aborted upload leaves nothing behind */
    if (rq->pp)
        MHD_destroy_post_processor(rq->pp);
    nbi_buf_free(&rq->json);
    free(rq->key);
    free(rq->name);
    free(rq);
}

/* Hands request paths over undecoded so that decode_path sees %2f and %2e. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    nb_fileserver *fs = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    pthread_mutex_lock(&fs->log_lock);
    if (fs->starting)
        memcpy(fs->mhd_error, msg, sizeof msg);
    pthread_mutex_unlock(&fs->log_lock);
    if (!fs->quiet)
        fprintf(stderr, "natsbridge fileserver: libmicrohttpd: %s\n", msg);
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */
/* ------------------------------------------------------------------------ */

/* Binds and listens ourselves so that a failure names its cause (port in use). */
static nb_status open_listener(const char *host, int port, int *out)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char service[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0)
        return nbi_fail(NB_INVALID_ARG, "fileserver: bad listen address '%s': %s", host,
                        gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return nbi_fail(NB_IO, "fileserver: cannot listen on %s port %d: %s", host, port,
                        strerror(err));
    }
    freeaddrinfo(ai);
    *out = fd;
    return NB_OK;
}

/* Reads a PEM file whole into *out (malloc'd, NUL-terminated); what names the flag. */
static nb_status read_pem(const char *path, const char *what, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nbi_fail(NB_IO, "fileserver: %s %s: %s", what, path, strerror(errno));
    nbi_buf b = NBI_BUF_INIT;
    char chunk[4096];
    size_t n;
    nb_status s = NB_OK;
    while (s == NB_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        s = b.len + n > FS_TLS_FILE_MAX
                ? nbi_fail(NB_TOO_LARGE, "fileserver: %s %s is over %d bytes", what, path,
                           FS_TLS_FILE_MAX)
                : nbi_buf_append(&b, chunk, n);
    if (s == NB_OK && ferror(f))
        s = nbi_fail(NB_IO, "fileserver: %s %s: read error", what, path);
    fclose(f);
    if (s == NB_OK && (b.len == 0 || !strstr((const char *)b.data, "-----BEGIN ")))
        s = nbi_fail(NB_INVALID_ARG, "fileserver: %s %s is not a PEM file", what, path);
    if (s == NB_OK)
        s = nbi_buf_append(&b, "", 1); /* MHD wants a C string */
    if (s != NB_OK) {
        nbi_buf_free(&b);
        return s;
    }
    *out = (char *)nbi_buf_detach(&b, NULL);
    return *out ? NB_OK : nbi_fail(NB_NO_MEMORY, "fileserver: out of memory reading %s", path);
}

/* Loads the certificate and key for HTTPS, if configured. */
static nb_status tls_load(nb_fileserver *fs, const nb_fileserver_config *cfg)
{
    if (!cfg->tls_cert_file && !cfg->tls_key_file)
        return NB_OK;
    if (!cfg->tls_cert_file || !cfg->tls_key_file)
        return nbi_fail(NB_INVALID_ARG, "fileserver: HTTPS needs both a certificate "
                                        "(tls_cert_file, --tls-cert) and its key "
                                        "(tls_key_file, --tls-key)");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return nbi_fail(NB_INVALID_ARG, "fileserver: this libmicrohttpd was built without TLS "
                                        "support: HTTPS is not available");
    nb_status s = read_pem(cfg->tls_cert_file, "certificate", &fs->tls_cert);
    if (s == NB_OK)
        s = read_pem(cfg->tls_key_file, "key", &fs->tls_key);
    fs->tls = s == NB_OK;
    return s;
}

static nb_status start_mhd(nb_fileserver *fs, const nb_fileserver_config *cfg, const char *host)
{
    int sock = -1;
    nb_status s = open_listener(host, cfg->port, &sock);
    if (s != NB_OK)
        return s;
    unsigned max_conn = cfg->max_connections ? cfg->max_connections : FS_DEFAULT_MAX_CONNECTIONS;
    unsigned per_ip = cfg->max_connections_per_ip ? cfg->max_connections_per_ip
                                                  : FS_DEFAULT_MAX_PER_IP;
    unsigned idle = cfg->idle_timeout_s ? cfg->idle_timeout_s : FS_DEFAULT_IDLE_TIMEOUT_S;
    /* The limits, and the certificate when serving HTTPS (MHD_OPTION_END cuts the list). */
    struct MHD_OptionItem more[] = {
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_conn, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)idle, NULL},
        {fs->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, fs->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, fs->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    fs->starting = true; /* no MHD thread runs yet */
    fs->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            (fs->tls ? MHD_USE_TLS : 0),
        0, NULL, NULL, on_request, fs, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        fs, /* first, as MHD wants */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)sock, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)FS_THREADS, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FS_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, fs, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, fs, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_ARRAY,
        more, MHD_OPTION_END);
    pthread_mutex_lock(&fs->log_lock);
    fs->starting = false;
    pthread_mutex_unlock(&fs->log_lock);
    if (!fs->mhd) {
        close(sock); /* MHD leaves a socket it was given open when it fails */
        return nbi_fail(NB_IO, "fileserver: libmicrohttpd could not start on %s port %d%s: %s",
                        host, cfg->port, fs->tls ? " with TLS" : "",
                        fs->mhd_error[0] ? fs->mhd_error : "no reason given");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(fs->mhd, MHD_DAEMON_INFO_BIND_PORT);
    fs->port = info ? info->port : 0;
    return fs->port > 0 ? NB_OK
                        : nbi_fail(NB_INTERNAL, "fileserver: cannot tell which port it bound");
}

static nb_status check_config(const nb_fileserver_config *cfg)
{
    if (!cfg)
        return nbi_fail(NB_INVALID_ARG, "fileserver: config is NULL");
    if (!cfg->dir || !cfg->dir[0])
        return nbi_fail(NB_INVALID_ARG, "fileserver: config.dir is empty");
    if (cfg->port < 0 || cfg->port > 65535)
        return nbi_fail(NB_INVALID_ARG, "fileserver: config.port %d is not in 0..65535",
                        cfg->port);
    if (cfg->ttl_seconds < 0 || cfg->ttl_seconds > INT64_MAX / 1000 / 4)
        return nbi_fail(NB_INVALID_ARG,
                        "fileserver: config.ttl_seconds %" PRId64 " is out of range",
                        cfg->ttl_seconds);
    if (cfg->token && !cfg->token[0])
        return nbi_fail(NB_INVALID_ARG, "fileserver: config.token is empty (use NULL)");
    if (cfg->max_connections_per_ip > (cfg->max_connections ? cfg->max_connections
                                                             : FS_DEFAULT_MAX_CONNECTIONS))
        return nbi_fail(NB_INVALID_ARG,
                        "fileserver: config.max_connections_per_ip %u is over max_connections",
                        cfg->max_connections_per_ip);
    if (cfg->header_timeout_ms > 3600u * 1000)
        return nbi_fail(NB_INVALID_ARG,
                        "fileserver: config.header_timeout_ms %u is over an hour",
                        cfg->header_timeout_ms);
    return NB_OK;
}

nb_status nb_fileserver_start(nb_fileserver **out, const nb_fileserver_config *cfg)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "fileserver: out is NULL");
    *out = NULL;
    nb_status s = check_config(cfg);
    if (s != NB_OK)
        return s;
    nb_fileserver *fs = calloc(1, sizeof *fs);
    if (!fs || (cfg->token && !(fs->token = nbi_strdup(cfg->token))) ||
        pthread_mutex_init(&fs->log_lock, NULL) != 0) {
        nb_fileserver_stop(fs);
        return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory");
    }
    fs->lock_ready = true;
    fs->max_size = cfg->max_size;
    fs->quiet = cfg->quiet;
    fs->max_pending = cfg->max_pending_uploads ? cfg->max_pending_uploads
                                               : FS_DEFAULT_MAX_PENDING;
    fs->header_timeout_ms = cfg->header_timeout_ms ? cfg->header_timeout_ms
                                                   : FS_DEFAULT_HEADER_TIMEOUT_MS;
    int64_t ttl_s = cfg->ttl_seconds ? cfg->ttl_seconds : FS_DEFAULT_TTL_S;
    const char *host = cfg->listen_addr && cfg->listen_addr[0] ? cfg->listen_addr : "127.0.0.1";
    s = nbi_fs_cors_init(&fs->cors, cfg->cors_origins, cfg->cors_origin_count);
    if (s == NB_OK)
        s = tls_load(fs, cfg);
    if (s == NB_OK)
        s = watch_start(fs);
    if (s == NB_OK && (s = nbi_filestore_open(&fs->store, cfg->dir, ttl_s * 1000)) == NB_OK)
        s = start_mhd(fs, cfg, host);
    if (s != NB_OK) {
        nb_fileserver_stop(fs);
        return s;
    }
    *out = fs;
    return NB_OK;
}

int nb_fileserver_port(const nb_fileserver *fs) { return fs ? fs->port : -1; }

void nb_fileserver_stop(nb_fileserver *fs)
{
    if (!fs)
        return;
    if (fs->mhd)
        MHD_stop_daemon(fs->mhd); /* waits for its threads; completes open requests */
    watch_stop(fs);                 /* after MHD: no connection is left to watch */
    nbi_filestore_close(fs->store); /* files stay on disk for the next start */
    if (fs->lock_ready)
        pthread_mutex_destroy(&fs->log_lock);
    if (fs->conn_ready) {
        pthread_mutex_destroy(&fs->conn_lock);
        pthread_cond_destroy(&fs->watch_wake);
    }
    free(fs->tls_cert);
    free(fs->tls_key);
    free(fs->token);
    nbi_fs_cors_free(&fs->cors);
    free(fs);
}
