/* SPDX-License-Identifier: MIT */
/*
 * test_fileserver.c - the built-in file server, started in-process on a free
 * loopback port and driven over real HTTP (libcurl, or raw sockets where
 * libcurl would clean the path up first).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "ids.h"
#include "integrity.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* Fixture: a server on DIR = <root>/files; <root>/outside is not its own   */
/* ------------------------------------------------------------------------ */

/* A case run against a fresh quiet server with the config fields given. */
#define FS_CASE(name, ...)                                                     \
    static void name##_body(fx *f);                                            \
    NBT_CASE(name)                                                             \
    {                                                                          \
        fx f = {0};                                                            \
        nb_fileserver_config cfg = {.quiet = true, __VA_ARGS__};               \
        if (fx_start(&f, cfg))                                                 \
            name##_body(&f);                                                   \
        else                                                                   \
            nbt_failures++;                                                    \
        fx_done(&f);                                                           \
    }                                                                          \
    static void name##_body(fx *f)

static const char *url(const fx *f, const char *path, char out[1024])
{
    snprintf(out, 1024, "http://127.0.0.1:%d%.900s", f->port, path);
    return out;
}

/* One request with up to two extra headers; the answer stays in res. */
static long req(http_res *res, const char *method, const char *u, const void *body, size_t len,
                const char *h1, const char *h2)
{
    http_req rq = {.method = method, .url = u, .body = body, .len = len, .headers = {h1, h2}};
    http_do(&rq, res);
    return res->status;
}

static long status_of(const char *method, const char *u, const void *body, size_t len,
                      const char *h1, const char *h2)
{
    http_res res;
    long s = req(&res, method, u, body, len, h1, h2);
    http_res_free(&res);
    return s;
}

static bool body_is(const http_res *res, const void *data, size_t len)
{
    return res->body.len == len && (len == 0 || memcmp(res->body.data, data, len) == 0);
}

static bool body_has(const http_res *res, const char *needle)
{
    return res->body.data && strstr((const char *)res->body.data, needle);
}

/* String member key of the JSON body into out. */
static bool json_str(const http_res *res, const char *key, char *out, size_t outsz)
{
    cJSON *o = cJSON_ParseWithLength((const char *)res->body.data, res->body.len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    bool ok = cJSON_IsString(v) && strlen(v->valuestring) < outsz;
    if (ok)
        strcpy(out, v->valuestring);
    cJSON_Delete(o);
    return ok;
}

static double json_num(const http_res *res, const char *key)
{
    cJSON *o = cJSON_ParseWithLength((const char *)res->body.data, res->body.len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(o);
    return d;
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Polls (up to 3 s) until GET u answers want. */
static bool eventually_status(const char *u, long want)
{
    for (int i = 0; i < 60; i++) {
        if (status_of("GET", u, NULL, 0, NULL, NULL) == want)
            return true;
        sleep_ms(50);
    }
    return false;
}

/* Polls (up to 3 s) until dir holds n entries ending in suffix. */
static bool eventually_entries(const char *dir, const char *suffix, int n)
{
    for (int i = 0; i < 60; i++) {
        if (count_entries(dir, suffix) == n)
            return true;
        sleep_ms(50);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Plik helpers                                                             */
/* ------------------------------------------------------------------------ */

/* POST /upload with options (may be NULL); fills the upload id and token. */
static long plik_create(const fx *f, const char *options, const char *auth, char id[64],
                        char token[64])
{
    char u[1024];
    http_res res;
    long s = req(&res, "POST", url(f, "/upload", u), options, options ? strlen(options) : 0,
                 "Content-Type: application/json", auth);
    if (s == 200 && (!json_str(&res, "id", id, 64) || !json_str(&res, "uploadToken", token, 64)))
        s = -1;
    http_res_free(&res);
    return s;
}

typedef struct plik_file {
    const char *path;     /* "/file/<id>" or "/file/<id>/<fid>/<name>" */
    const char *token;    /* X-UploadToken, or NULL for none */
    const char *filename; /* of the multipart part */
    const void *data;
    size_t len;
    const char *auth;     /* an extra header, e.g. Authorization */
    bool chunked;
} plik_file;

/* POST /file/...; fills the file id on 200. res keeps the answer. */
static long plik_add(const fx *f, const plik_file *pf, http_res *res, char fileid[64])
{
    char u[1024], tok[128];
    snprintf(tok, sizeof tok, "X-UploadToken: %s", pf->token ? pf->token : "");
    curl_mime *m = http_file_part(pf->filename, pf->data, pf->len);
    http_req rq = {.method = "POST", .url = url(f, pf->path, u), .mime = m,
                   .chunked = pf->chunked,
                   .headers = {pf->token ? tok : pf->auth, pf->token ? pf->auth : NULL}};
    http_do(&rq, res);
    curl_mime_free(m);
    if (res->status == 200 && fileid && !json_str(res, "id", fileid, 64))
        return -1;
    return res->status;
}

/* ------------------------------------------------------------------------ */
/* PUT, GET, HEAD, DELETE                                                   */
/* ------------------------------------------------------------------------ */

FS_CASE(put_get_head_delete)
{
    static const char body[] = "hello, file server";
    const size_t n = sizeof body - 1;
    char u[1024], v[128];
    url(f, "/6a1f7c0e-1111-4000-8000-000000000001/data.bin", u);
    http_res r;
    CHECK(req(&r, "PUT", u, body, n, NULL, NULL) == 201);
    CHECK(json_str(&r, "path", v, sizeof v));
    CHECK_STR(v, "/6a1f7c0e-1111-4000-8000-000000000001/data.bin");
    CHECK(json_num(&r, "size") == (double)n);
    http_res_free(&r);

    CHECK(req(&r, "GET", u, NULL, 0, NULL, NULL) == 200);
    CHECK(body_is(&r, body, n));
    CHECK(http_header(&r, "Content-Type", v, sizeof v));
    CHECK_STR(v, "application/octet-stream");
    CHECK(http_header(&r, "Accept-Ranges", v, sizeof v));
    CHECK_STR(v, "bytes");
    CHECK(http_header(&r, "Content-Length", v, sizeof v) && atoi(v) == (int)n);
    http_res_free(&r);

    CHECK(req(&r, "HEAD", u, NULL, 0, NULL, NULL) == 200);
    CHECK(r.body.len == 0);
    CHECK(http_header(&r, "Content-Length", v, sizeof v) && atoi(v) == (int)n);
    http_res_free(&r);

    /* The name on disk is generated: a data file and its sidecar, nothing else. */
    CHECK(count_entries(f->dir, ".data") == 1 && count_entries(f->dir, ".json") == 1);
    CHECK(count_entries(f->dir, "") == 2);

    CHECK(status_of("DELETE", u, NULL, 0, NULL, NULL) == 204);
    CHECK(req(&r, "GET", u, NULL, 0, NULL, NULL) == 404);
    CHECK(body_has(&r, "\"error\"") && body_has(&r, "no file"));
    http_res_free(&r);
    CHECK(status_of("DELETE", u, NULL, 0, NULL, NULL) == 404);
    CHECK(count_entries(f->dir, "") == 0);
}

FS_CASE(put_overwrite_empty_and_routes)
{
    char u[1024], v[64];
    http_res r;
    url(f, "/x/a", u);
    CHECK(status_of("PUT", u, "one", 3, NULL, NULL) == 201);
    CHECK(status_of("PUT", u, "second", 6, NULL, NULL) == 201);
    CHECK(req(&r, "GET", u, NULL, 0, NULL, NULL) == 200 && body_is(&r, "second", 6));
    http_res_free(&r);
    CHECK(count_entries(f->dir, "") == 2); /* the first version is gone */

    CHECK(status_of("PUT", url(f, "/x/empty", u), "", 0, NULL, NULL) == 201);
    CHECK(req(&r, "GET", u, NULL, 0, NULL, NULL) == 200 && r.body.len == 0);
    CHECK(http_header(&r, "Content-Length", v, sizeof v) && strcmp(v, "0") == 0);
    http_res_free(&r);

    CHECK(req(&r, "GET", url(f, "/", u), NULL, 0, NULL, NULL) == 200);
    CHECK(body_has(&r, "natsbridge fileserver"));
    http_res_free(&r);
    CHECK(status_of("POST", url(f, "/x/a", u), "z", 1, NULL, NULL) == 405);
    CHECK(status_of("PUT", url(f, "/file/a/b/c", u), "z", 1, NULL, NULL) == 405);
    CHECK(status_of("PUT", url(f, "/upload", u), "z", 1, NULL, NULL) == 405);
    CHECK(status_of("PUT", url(f, "/", u), "z", 1, NULL, NULL) == 400);
    CHECK(status_of("GET", url(f, "/nothing/here", u), NULL, 0, NULL, NULL) == 404);
}

/* ------------------------------------------------------------------------ */
/* Plik                                                                     */
/* ------------------------------------------------------------------------ */

FS_CASE(plik_flow)
{
    char id[64], token[64], fid[64], fid2[64], u[1024], p[512], v[128];
    uint8_t data[5000];
    fill_random(data, sizeof data, 7);
    CHECK(plik_create(f, "{\"oneShot\":false}", NULL, id, token) == 200);
    CHECK(nbi_is_uuid(id) && strlen(token) >= 32);

    http_res r;
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "data.arrow", .data = data,
                    .len = sizeof data};
    CHECK(plik_add(f, &pf, &r, fid) == 200);
    CHECK(nbi_is_uuid(fid));
    CHECK(json_str(&r, "fileName", v, sizeof v));
    CHECK_STR(v, "data.arrow");
    CHECK(json_str(&r, "status", v, sizeof v));
    CHECK_STR(v, "uploaded");
    CHECK(json_num(&r, "fileSize") == (double)sizeof data);
    http_res_free(&r);

    snprintf(p, sizeof p, "/file/%s/%s/data.arrow", id, fid);
    CHECK(req(&r, "GET", url(f, p, u), NULL, 0, NULL, NULL) == 200);
    CHECK(body_is(&r, data, sizeof data));
    http_res_free(&r);
    CHECK(req(&r, "HEAD", u, NULL, 0, NULL, NULL) == 200);
    CHECK(http_header(&r, "Content-Length", v, sizeof v) && atoi(v) == (int)sizeof data);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/other.arrow", id, fid);
    CHECK(status_of("GET", url(f, p, u), NULL, 0, NULL, NULL) == 404); /* name must match */

    /* The long form names the file id and name in the path. */
    char newfid[NBI_UUID_LEN + 1];
    nbi_uuid4(newfid);
    snprintf(p, sizeof p, "/file/%s/%s/my%%20data.bin", id, newfid);
    pf.path = p;
    CHECK(plik_add(f, &pf, &r, fid2) == 200);
    CHECK_STR(fid2, newfid);
    CHECK(json_str(&r, "fileName", v, sizeof v));
    CHECK_STR(v, "my data.bin");
    http_res_free(&r);
    CHECK(req(&r, "GET", url(f, p, u), NULL, 0, NULL, NULL) == 200);
    CHECK(body_is(&r, data, sizeof data));
    http_res_free(&r);
}

FS_CASE(plik_errors)
{
    char id[64], token[64], u[1024], p[512];
    http_res r;
    CHECK(plik_create(f, NULL, NULL, id, token) == 200); /* options are optional */
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = "wrong", .filename = "a.bin", .data = "abc", .len = 3};
    CHECK(plik_add(f, &pf, &r, NULL) == 403);
    CHECK(body_has(&r, "X-UploadToken"));
    http_res_free(&r);
    pf.token = NULL;
    CHECK(plik_add(f, &pf, &r, NULL) == 401);
    http_res_free(&r);
    pf.token = token;
    pf.path = "/file/00000000-0000-4000-8000-000000000000";
    CHECK(plik_add(f, &pf, &r, NULL) == 404);
    CHECK(body_has(&r, "no such upload"));
    http_res_free(&r);

    pf.path = p;
    pf.filename = "../evil.bin";
    CHECK(plik_add(f, &pf, &r, NULL) == 400);
    http_res_free(&r);

    char tok[128];
    snprintf(tok, sizeof tok, "X-UploadToken: %s", token);
    CHECK(req(&r, "POST", url(f, p, u), "plain", 5, tok, "Content-Type: text/plain") == 400);
    CHECK(body_has(&r, "multipart/form-data"));
    http_res_free(&r);
    CHECK(req(&r, "POST", u, "k=v", 3, tok, "Content-Type: application/x-www-form-urlencoded") ==
          400);
    CHECK(body_has(&r, "no part named"));
    http_res_free(&r);

    CHECK(req(&r, "POST", url(f, "/upload", u), "[1,2]", 5, NULL, NULL) == 400);
    CHECK(body_has(&r, "JSON object"));
    http_res_free(&r);
    CHECK(status_of("POST", u, "{bad", 4, NULL, NULL) == 400);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 405);
    CHECK(status_of("DELETE", url(f, "/file/a/b/c", u), NULL, 0, NULL, NULL) == 405);
    CHECK(status_of("GET", url(f, p, u), NULL, 0, NULL, NULL) == 404);
    CHECK(count_entries(f->dir, "") == 0);
}

FS_CASE(oneshot_and_fanout)
{
    char id[64], token[64], fid[64], u[1024], p[512];
    http_res r;
    CHECK(plik_create(f, "{\"OneShot\":true}", NULL, id, token) == 200);
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "once.bin", .data = "0123456789",
                    .len = 10};
    CHECK(plik_add(f, &pf, &r, fid) == 200);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/once.bin", id, fid);
    url(f, p, u);
    /* Neither HEAD nor a partial GET uses the one download up. */
    CHECK(status_of("HEAD", u, NULL, 0, NULL, NULL) == 200);
    CHECK(status_of("GET", u, NULL, 0, "Range: bytes=0-1", NULL) == 206);
    CHECK(req(&r, "GET", u, NULL, 0, NULL, NULL) == 200 && body_is(&r, "0123456789", 10));
    http_res_free(&r);
    CHECK(eventually_status(u, 404));
    CHECK(count_entries(f->dir, ".data") == 0);

    /* By default files stay for every subscriber. */
    CHECK(plik_create(f, "{\"oneShot\":false}", NULL, id, token) == 200);
    snprintf(p, sizeof p, "/file/%s", id);
    CHECK(plik_add(f, &pf, &r, fid) == 200);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/once.bin", id, fid);
    for (int i = 0; i < 3; i++) {
        CHECK(req(&r, "GET", url(f, p, u), NULL, 0, NULL, NULL) == 200);
        CHECK(body_is(&r, "0123456789", 10));
        http_res_free(&r);
    }
    sleep_ms(200);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 200);
}

typedef struct dl_job {
    const char *url;
    char want[NBI_SHA256_HEX_LEN + 1];
    bool ok;
} dl_job;

static void *download(void *arg)
{
    dl_job *j = arg;
    http_res r;
    http_req rq = {.url = j->url};
    char got[NBI_SHA256_HEX_LEN + 1];
    j->ok = http_do(&rq, &r) && r.status == 200 && r.body.len == 8u << 20 &&
            nbi_sha256_hex(r.body.data, r.body.len, got) == NB_OK && strcmp(got, j->want) == 0;
    http_res_free(&r);
    return NULL;
}

FS_CASE(concurrent_downloads)
{
    enum { N = 10 };
    size_t size = 8u << 20;
    uint8_t *data = malloc(size);
    CHECK(data);
    fill_random(data, size, 42);
    char u[1024];
    dl_job jobs[N];
    pthread_t t[N];
    bool put = status_of("PUT", url(f, "/big/8mb.bin", u), data, size, NULL, NULL) == 201;
    nb_status hs = nbi_sha256_hex(data, size, jobs[0].want);
    free(data);
    CHECK(put && hs == NB_OK);
    for (int i = 0; i < N; i++) {
        jobs[i].url = u;
        memcpy(jobs[i].want, jobs[0].want, sizeof jobs[i].want);
        jobs[i].ok = false;
        CHECK(pthread_create(&t[i], NULL, download, &jobs[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += jobs[i].ok;
    }
    CHECK(ok == N);
}

/* ------------------------------------------------------------------------ */
/* Ranges, limits, tokens                                                   */
/* ------------------------------------------------------------------------ */

typedef struct range_case {
    const char *range;
    long status;
    const char *content_range; /* NULL: must be absent */
    size_t start, len;
} range_case;

FS_CASE(ranges)
{
    static const range_case cases[] = {
        {"bytes=0-9", 206, "bytes 0-9/1000", 0, 10},
        {"bytes=990-", 206, "bytes 990-999/1000", 990, 10},
        {"bytes=-5", 206, "bytes 995-999/1000", 995, 5},
        {"bytes=995-2000", 206, "bytes 995-999/1000", 995, 5},
        {"bytes=-5000", 206, "bytes 0-999/1000", 0, 1000},
        {"bytes=1000-", 416, "bytes */1000", 0, 0},
        {"bytes=5000-6000", 416, "bytes */1000", 0, 0},
        {"bytes=-0", 416, "bytes */1000", 0, 0},
        {"bytes=0-1,5-6", 200, NULL, 0, 1000}, /* several ranges: the whole file */
        {"bytes=x", 200, NULL, 0, 1000},       /* malformed: ignored */
        {"bytes=9-1", 200, NULL, 0, 1000},
    };
    uint8_t data[1000];
    fill_random(data, sizeof data, 3);
    char u[1024], hdr[64], v[64];
    CHECK(status_of("PUT", url(f, "/r/file", u), data, sizeof data, NULL, NULL) == 201);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const range_case *c = &cases[i];
        http_res r;
        snprintf(hdr, sizeof hdr, "Range: %s", c->range);
        long s = req(&r, "GET", u, NULL, 0, hdr, NULL);
        bool has = http_header(&r, "Content-Range", v, sizeof v);
        bool ok = s == c->status && (c->content_range ? has && !strcmp(v, c->content_range) : !has);
        if (ok && s != 416)
            ok = body_is(&r, data + c->start, c->len) &&
                 http_header(&r, "Content-Length", v, sizeof v) && atoi(v) == (int)c->len;
        http_res_free(&r);
        if (!ok)
            fprintf(stderr, "range '%s': status %ld\n", c->range, s);
        CHECK(ok);
    }
    CHECK(status_of("PUT", url(f, "/r/empty", u), "", 0, NULL, NULL) == 201);
    CHECK(status_of("GET", u, NULL, 0, "Range: bytes=0-", NULL) == 416);
}

FS_CASE(too_large, .max_size = 1000)
{
    static uint8_t big[3u << 20];
    char u[1024], id[64], token[64], p[512];
    http_res r;
    url(f, "/big/x", u);
    CHECK(req(&r, "PUT", u, big, 1001, NULL, NULL) == 413);
    CHECK(body_has(&r, "limit of 1000 bytes"));
    http_res_free(&r);
    http_req chunked = {.method = "PUT", .url = u, .body = big, .len = 1001, .chunked = true};
    CHECK(http_do(&chunked, &r) && r.status == 413);
    http_res_free(&r);
    chunked.len = sizeof big;
    CHECK(http_do(&chunked, &r) && r.status == 413);
    http_res_free(&r);
    CHECK(status_of("PUT", u, big, 1000, NULL, NULL) == 201); /* exactly the limit */
    /* An announced Content-Length is refused before any body is sent (no 100 Continue). */
    static const char announced[] = "PUT /big/y HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n";
    CHECK(http_raw_status(f->port, announced, sizeof announced - 1) == 413);

    CHECK(plik_create(f, NULL, NULL, id, token) == 200);
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "a.bin", .data = big, .len = 2000};
    CHECK(plik_add(f, &pf, &r, NULL) == 413);
    http_res_free(&r);
    pf.chunked = true;
    CHECK(plik_add(f, &pf, &r, NULL) == 413);
    http_res_free(&r);
    pf.len = sizeof big; /* announced far over the limit */
    pf.chunked = false;
    CHECK(plik_add(f, &pf, &r, NULL) == 413);
    http_res_free(&r);
    pf.len = 1000;
    CHECK(plik_add(f, &pf, &r, NULL) == 200);
    http_res_free(&r);
    /* Only the two accepted files remain: no temp file of a refused body. */
    CHECK(eventually_entries(f->dir, ".part", 0));
    CHECK(count_entries(f->dir, "") == 4);
}

FS_CASE(bearer_token, .token = "s3cret")
{
    const char *good = "Authorization: Bearer s3cret";
    char u[1024], v[64], id[64], token[64], p[512];
    http_res r;
    url(f, "/t/file", u);
    CHECK(req(&r, "PUT", u, "abc", 3, NULL, NULL) == 401);
    CHECK(http_header(&r, "WWW-Authenticate", v, sizeof v) && strcmp(v, "Bearer") == 0);
    CHECK(body_has(&r, "Bearer"));
    http_res_free(&r);
    CHECK(status_of("PUT", u, "abc", 3, "Authorization: Bearer nope", NULL) == 401);
    CHECK(status_of("PUT", u, "abc", 3, "Authorization: Basic czNjcmV0", NULL) == 401);
    CHECK(status_of("PUT", u, "abc", 3, "Authorization: Bearer s3cret2", NULL) == 401);
    CHECK(status_of("PUT", u, "abc", 3, good, NULL) == 201);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 200); /* downloads need nothing */
    CHECK(status_of("HEAD", u, NULL, 0, NULL, NULL) == 200);
    CHECK(status_of("DELETE", u, NULL, 0, NULL, NULL) == 401);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 200);
    CHECK(status_of("DELETE", u, NULL, 0, good, NULL) == 204);

    CHECK(plik_create(f, "{}", NULL, id, token) == 401);
    CHECK(plik_create(f, "{}", good, id, token) == 200);
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "a.bin", .data = "abc", .len = 3};
    CHECK(plik_add(f, &pf, &r, NULL) == 401); /* the upload token alone is not enough */
    http_res_free(&r);
    pf.auth = good;
    char fid[64];
    CHECK(plik_add(f, &pf, &r, fid) == 200);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/a.bin", id, fid);
    CHECK(status_of("GET", url(f, p, u), NULL, 0, NULL, NULL) == 200);
}

/* ------------------------------------------------------------------------ */
/* Path traversal                                                           */
/* ------------------------------------------------------------------------ */

static int raw_put(const fx *f, const char *target)
{
    char rq[2048];
    int n = snprintf(rq, sizeof rq,
                     "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                     "Connection: close\r\n\r\nEVIL!",
                     target);
    return http_raw_status(f->port, rq, (size_t)n);
}

static int raw_get(const fx *f, const char *target)
{
    char rq[2048];
    int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     target);
    return http_raw_status(f->port, rq, (size_t)n);
}

FS_CASE(path_traversal)
{
    static const char *const bad[] = {
        "/../outside/victim",  "/a/../../outside/victim", "/%2e%2e/outside/victim",
        "/%2E%2E/outside/victim", "/.%2e/outside/victim", "/a%2f..%2f..%2foutside%2fvictim",
        "/a%2Fb",              "//outside/victim",       "//tmp/victim",
        "/a\\..\\b",           "/a%5cb",                 "/a%00b",
        "/a/./b",              "/a/.",                   "/a/",
        "/..",                 "/%zz",                   "/a%2",
        "outside/victim",      "http://127.0.0.1/../outside/victim",
        "/file/%2e%2e/x/y",    "/file/a/%2e%2e/y",
    };
    char victim[512], outside[300], u[1024];
    snprintf(outside, sizeof outside, "%s/outside", f->root);
    snprintf(victim, sizeof victim, "%s/victim", outside);
    CHECK(mkdir(outside, 0700) == 0);
    FILE *vf = fopen(victim, "w");
    CHECK(vf && fputs("original", vf) >= 0 && fclose(vf) == 0);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int sp = raw_put(f, bad[i]), sg = raw_get(f, bad[i]);
        if (sp != 400 || sg != 400)
            fprintf(stderr, "'%s': PUT %d GET %d\n", bad[i], sp, sg);
        CHECK(sp == 400 && sg == 400);
    }
    /* An absolute-looking path is only a name in the index: nothing outside changes. */
    char abs_path[1024];
    snprintf(abs_path, sizeof abs_path, "%s", victim);
    CHECK(status_of("PUT", url(f, abs_path, u), "EVIL!", 5, NULL, NULL) == 201);
    size_t len = 0;
    char *text = nbt_read_file(victim, &len);
    bool same = text && strcmp(text, "original") == 0;
    free(text);
    CHECK(same);
    CHECK(count_entries(outside, "") == 1);
    CHECK(count_entries(f->root, "") == 2); /* files/ and outside/ */
    CHECK(count_entries(f->dir, ".data") == 1);
}

/* ------------------------------------------------------------------------ */
/* Lifetime: TTL, restart, aborted uploads                                  */
/* ------------------------------------------------------------------------ */

FS_CASE(ttl_expiry, .ttl_seconds = 1)
{
    char u[1024];
    CHECK(status_of("PUT", url(f, "/ttl/x", u), "abc", 3, NULL, NULL) == 201);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 200);
    sleep_ms(1300);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 404);
    CHECK(eventually_entries(f->dir, "", 0)); /* the sweep (every 0.5 s) removed it */
}

/* The server's TTL is an hour (sweep every 60 s); the upload asks for 1 s. */
FS_CASE(upload_ttl_404_before_sweep, .ttl_seconds = 3600)
{
    char id[64], token[64], fid[64], p[512], u[1024];
    http_res r;
    CHECK(plik_create(f, "{\"ttl\":1}", NULL, id, token) == 200);
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "t.bin", .data = "abc", .len = 3};
    CHECK(plik_add(f, &pf, &r, fid) == 200);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/t.bin", id, fid);
    CHECK(status_of("GET", url(f, p, u), NULL, 0, NULL, NULL) == 200);
    sleep_ms(1300);
    CHECK(status_of("GET", u, NULL, 0, NULL, NULL) == 404);
    CHECK(count_entries(f->dir, ".data") == 1); /* still on disk: not swept yet */
    pf.path = p;
    snprintf(p, sizeof p, "/file/%s", id);
    CHECK(plik_add(f, &pf, &r, NULL) == 404); /* the upload expired too */
    http_res_free(&r);
}

static bool write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    return fp && fputs(text, fp) >= 0 && fclose(fp) == 0;
}

NBT_CASE(restart_keeps_files)
{
    fx f = {0};
    nb_fileserver_config cfg = {.quiet = true};
    char id[64], token[64], fid[64], p[512], u[1024], stale[64];
    http_res r;
    CHECK(fx_start(&f, cfg));
    bool ok = status_of("PUT", url(&f, "/keep/me", u), "kept", 4, NULL, NULL) == 201 &&
              plik_create(&f, NULL, NULL, id, token) == 200;
    snprintf(p, sizeof p, "/file/%s", id);
    plik_file pf = {.path = p, .token = token, .filename = "k.bin", .data = "plik", .len = 4};
    ok = ok && plik_add(&f, &pf, &r, fid) == 200;
    http_res_free(&r);
    nb_fileserver_stop(f.fs);
    f.fs = NULL;
    /* What a crash leaves: a temp file, an orphan data file; and a file that is not ours. */
    nbi_uuid4(stale);
    strcat(stale, ".part");
    ok = ok && write_file(f.dir, stale, "x") && write_file(f.dir, "keep.txt", "not ours");
    nbi_uuid4(stale);
    strcat(stale, ".data");
    ok = ok && write_file(f.dir, stale, "orphan");
    ok = ok && fx_start(&f, cfg);
    ok = ok && req(&r, "GET", url(&f, "/keep/me", u), NULL, 0, NULL, NULL) == 200 &&
         body_is(&r, "kept", 4);
    http_res_free(&r);
    snprintf(p, sizeof p, "/file/%s/%s/k.bin", id, fid);
    ok = ok && req(&r, "GET", url(&f, p, u), NULL, 0, NULL, NULL) == 200 &&
         body_is(&r, "plik", 4);
    http_res_free(&r);
    ok = ok && count_entries(f.dir, ".part") == 0 && count_entries(f.dir, ".data") == 2 &&
         count_entries(f.dir, "keep.txt") == 1;
    fx_done(&f);
    CHECK(ok);
}

FS_CASE(aborted_upload_leaves_nothing)
{
    char rq[4096], u[1024];
    int n = snprintf(rq, sizeof rq,
                     "PUT /abort/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n");
    memset(rq + n, 'a', 1000);
    /* The server never answers: the body is short. The helper's 5 s read timeout
     * would be slow, so send and close here instead. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    bool sent = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                send(fd, rq, (size_t)n + 1000, MSG_NOSIGNAL) == n + 1000;
    bool part_seen = eventually_entries(f->dir, ".part", 1);
    close(fd);
    CHECK(sent && part_seen);
    CHECK(eventually_entries(f->dir, "", 0));
    CHECK(status_of("GET", url(f, "/abort/x", u), NULL, 0, NULL, NULL) == 404);
}

/* ------------------------------------------------------------------------ */
/* Start errors and the log                                                 */
/* ------------------------------------------------------------------------ */

NBT_CASE(start_errors)
{
    nb_fileserver *fs = (nb_fileserver *)1;
    nb_fileserver_config cfg = {.quiet = true};
    CHECK_FAIL(nb_fileserver_start(&fs, NULL), NB_INVALID_ARG, "config is NULL");
    CHECK(fs == NULL);
    CHECK_FAIL(nb_fileserver_start(NULL, &cfg), NB_INVALID_ARG, "out is NULL");
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "config.dir");
    cfg.dir = "/tmp/x";
    cfg.port = 70000;
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "config.port 70000");
    cfg.port = 0;
    cfg.ttl_seconds = -1;
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "ttl_seconds");
    cfg.ttl_seconds = 0;
    nb_fileserver_stop(NULL);
    CHECK(nb_fileserver_port(NULL) == -1);

    fx f = {0};
    CHECK(fx_start(&f, cfg));
    char path[512], port_dir[512];
    snprintf(path, sizeof path, "%s/plain-file", f.root);
    bool ok = write_file(f.root, "plain-file", "x");
    cfg.dir = path; /* not a directory */
    nb_status s1 = nb_fileserver_start(&fs, &cfg);
    bool dir_msg = strstr(nb_last_error(), "cannot create directory") != NULL;
    snprintf(path, sizeof path, "%s/plain-file/sub", f.root);
    nb_status s2 = nb_fileserver_start(&fs, &cfg);
    bool sub_msg = strstr(nb_last_error(), "cannot create directory") != NULL;
    snprintf(port_dir, sizeof port_dir, "%s/second", f.root);
    cfg.dir = port_dir;
    cfg.port = f.port; /* taken by the first server */
    nb_status s3 = nb_fileserver_start(&fs, &cfg);
    bool port_msg = strstr(nb_last_error(), "Address already in use") != NULL;
    fx_done(&f);
    CHECK(ok && s1 == NB_IO && dir_msg && s2 == NB_IO && sub_msg);
    CHECK(s3 == NB_IO && port_msg);
}

NBT_CASE(log_lines)
{
    fx f = {0};
    char logpath[300], u[1024];
    nb_fileserver_config cfg = {.quiet = false};
    CHECK(tmp_dir(f.root));
    snprintf(logpath, sizeof logpath, "%s/stderr.log", f.root);
    fflush(stderr);
    int saved = dup(2), logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bool redirected = saved >= 0 && logfd >= 0 && dup2(logfd, 2) == 2;
    bool ok = redirected && fx_start(&f, cfg) &&
              status_of("PUT", url(&f, "/log/x", u), "hello", 5, NULL, NULL) == 201 &&
              status_of("GET", u, NULL, 0, NULL, NULL) == 200 &&
              status_of("GET", url(&f, "/log/none", u), NULL, 0, NULL, NULL) == 404;
    nb_fileserver_stop(f.fs); /* every request has completed and logged */
    f.fs = NULL;
    fflush(stderr);
    if (saved >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (logfd >= 0)
        close(logfd);
    char *log = nbt_read_file(logpath, NULL);
    if (log)
        fprintf(stderr, "server log:\n%s", log);
    ok = ok && log && strstr(log, "natsbridge fileserver: PUT /log/x 201 5 bytes ") &&
         strstr(log, "GET /log/x 200 5 bytes ") && strstr(log, "GET /log/none 404 ") &&
         strstr(log, " ms\n");
    free(log);
    fx_done(&f);
    CHECK(ok);
}

/* ------------------------------------------------------------------------ */
/* 200 MB streamed both ways                                                */
/* ------------------------------------------------------------------------ */

#define BIG_SIZE (200ull << 20)

static uint8_t pattern_at(uint64_t i) { return (uint8_t)((i ^ (i >> 8) ^ (i >> 17)) * 31u); }

typedef struct stream_state {
    uint64_t pos;
    bool mismatch;
} stream_state;

static size_t produce(char *out, size_t size, size_t n, void *ctx)
{
    stream_state *s = ctx;
    size_t k = size * n;
    if (k > BIG_SIZE - s->pos)
        k = (size_t)(BIG_SIZE - s->pos);
    for (size_t i = 0; i < k; i++)
        out[i] = (char)pattern_at(s->pos + i);
    s->pos += k;
    return k;
}

static size_t consume(char *data, size_t size, size_t n, void *ctx)
{
    stream_state *s = ctx;
    size_t k = size * n;
    for (size_t i = 0; i < k && !s->mismatch; i++)
        s->mismatch = (uint8_t)data[i] != pattern_at(s->pos + i);
    s->pos += k;
    return k;
}

/* Peak resident set size in KiB (VmHWM), or -1. */
static long vm_hwm_kib(void)
{
    char *status = nbt_read_file("/proc/self/status", NULL);
    const char *p = status ? strstr(status, "VmHWM:") : NULL;
    long kib = p ? strtol(p + 6, NULL, 10) : -1;
    free(status);
    return kib;
}

FS_CASE(stream_200mb)
{
    char u[1024];
    stream_state up = {0}, down = {0};
    long before = vm_hwm_kib();
    http_req put = {.method = "PUT", .url = url(f, "/big/200mb", u), .len = BIG_SIZE,
                    .reader = produce, .reader_ctx = &up};
    http_res r;
    CHECK(http_do(&put, &r) && r.status == 201);
    http_res_free(&r);
    http_req get = {.url = u, .writer = consume, .writer_ctx = &down};
    CHECK(http_do(&get, &r) && r.status == 200);
    http_res_free(&r);
    long after = vm_hwm_kib();
    fprintf(stderr, "VmHWM %ld KiB -> %ld KiB\n", before, after);
    CHECK(down.pos == BIG_SIZE && !down.mismatch);
    CHECK(before > 0 && after - before < 64 * 1024);
}

static const nbt_case cases[] = {
    NBT_ENTRY(put_get_head_delete),
    NBT_ENTRY(put_overwrite_empty_and_routes),
    NBT_ENTRY(plik_flow),
    NBT_ENTRY(plik_errors),
    NBT_ENTRY(oneshot_and_fanout),
    NBT_ENTRY(concurrent_downloads),
    NBT_ENTRY(ranges),
    NBT_ENTRY(too_large),
    NBT_ENTRY(bearer_token),
    NBT_ENTRY(path_traversal),
    NBT_ENTRY(ttl_expiry),
    NBT_ENTRY(upload_ttl_404_before_sweep),
    NBT_ENTRY(restart_keeps_files),
    NBT_ENTRY(aborted_upload_leaves_nothing),
    NBT_ENTRY(start_errors),
    NBT_ENTRY(log_lines),
    NBT_ENTRY(stream_200mb),
    {0},
};

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = nbt_main(argc, argv, cases);
    curl_global_cleanup();
    return rc;
}
