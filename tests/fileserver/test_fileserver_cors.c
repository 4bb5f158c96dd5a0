/* SPDX-License-Identifier: MIT */
/*
 * test_fileserver_cors.c - CORS for browser peers (issue 15): the built-in
 * file server started in-process on a free loopback port and asked over real
 * HTTP (libcurl) what a browser would ask: preflights allowed and denied, the
 * headers on real responses, none at all without origins, and "*" never
 * applied to uploads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "test.h"

#define PAGE "http://127.0.0.1:5500"      /* the listed origin */
#define OTHER "http://evil.example:8000"  /* an origin on no list */
#define ORIGIN_H(o) "Origin: " o

/* A case against a fresh server with the CORS origins given (none: no CORS). */
#define CORS_CASE(name, token_, ...)                                           \
    static void name##_body(fx *f);                                            \
    NBT_CASE(name)                                                             \
    {                                                                          \
        static const char *const origins[] = {__VA_ARGS__};                    \
        size_t n = sizeof origins / sizeof origins[0];                         \
        bool none = n == 1 && origins[0] == NULL;                              \
        fx f = {0};                                                            \
        nb_fileserver_config cfg = {.token = token_, .quiet = true,            \
                                    .cors_origins = none ? NULL : origins,     \
                                    .cors_origin_count = none ? 0 : n};        \
        if (fx_start(&f, cfg))                                                 \
            name##_body(&f);                                                   \
        else                                                                   \
            nbt_failures++;                                                    \
        fx_done(&f);                                                           \
    }                                                                          \
    static void name##_body(fx *f)

static const char *url(const fx *f, const char *path, char out[512])
{
    snprintf(out, 512, "http://127.0.0.1:%d%.400s", f->port, path);
    return out;
}

/* One request with up to four extra header lines (NULL-terminated). */
static long ask(http_res *res, const char *method, const char *u, const char *body,
                const char *h1, const char *h2, const char *h3, const char *h4)
{
    http_req rq = {.method = method, .url = u, .body = body, .len = body ? strlen(body) : 0,
                   .headers = {h1, h2, h3, h4}};
    http_do(&rq, res);
    return res->status;
}

/* True when header name has exactly the value want. */
static bool header_is(const http_res *res, const char *name, const char *want)
{
    char v[512];
    return http_header(res, name, v, sizeof v) && strcmp(v, want) == 0;
}

static bool header_has(const http_res *res, const char *name, const char *needle)
{
    char v[512];
    return http_header(res, name, v, sizeof v) && strstr(v, needle);
}

/* True when no Access-Control-* header at all is in the answer. */
static bool no_cors(const http_res *res)
{
    return res->headers.data && !strstr((const char *)res->headers.data, "Access-Control-") &&
           !strstr((const char *)res->headers.data, "access-control-");
}

/* A string member of the JSON body, copied into out. */
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

/* ------------------------------------------------------------------------ */

/* Without origins the server is as before: OPTIONS is 405, no CORS header anywhere. */
CORS_CASE(no_origins_no_headers, NULL, NULL)
{
    char u[512];
    http_res r;
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: POST", NULL, NULL) == 405);
    bool ok = no_cors(&r) && !header_is(&r, "Vary", "Origin");
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "PUT", url(f, "/a/b.bin", u), "hello", ORIGIN_H(PAGE), NULL, NULL, NULL) ==
          201);
    ok = no_cors(&r) && !header_is(&r, "Vary", "Origin");
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "GET", url(f, "/a/b.bin", u), NULL, ORIGIN_H(PAGE), NULL, NULL, NULL) == 200);
    ok = no_cors(&r) && r.body.len == 5;
    http_res_free(&r);
    CHECK(ok);
}

/* A listed origin: every route's preflight answers with what a peer sends. */
CORS_CASE(preflight_allowed, NULL, PAGE, "http://localhost:8081")
{
    char u[512];
    http_res r;
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: POST",
              "Access-Control-Request-Headers: authorization,content-type", NULL) == 204);
    bool ok = header_is(&r, "Access-Control-Allow-Origin", PAGE) &&
              header_is(&r, "Access-Control-Allow-Methods", "POST") &&
              header_has(&r, "Access-Control-Allow-Headers", "Authorization") &&
              header_has(&r, "Access-Control-Allow-Headers", "X-UploadToken") &&
              header_has(&r, "Access-Control-Allow-Headers", "Range") &&
              header_has(&r, "Access-Control-Allow-Headers", "Content-Type") &&
              header_is(&r, "Access-Control-Max-Age", "600") && header_is(&r, "Vary", "Origin");
    http_res_free(&r);
    CHECK(ok);
    /* POST /file/{id} with the upload token header, then the download route. */
    CHECK(ask(&r, "OPTIONS", url(f, "/file/0b6c9d4e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", u), NULL,
              "Origin: http://localhost:8081", "Access-Control-Request-Method: POST",
              "Access-Control-Request-Headers: x-uploadtoken", NULL) == 204);
    ok = header_is(&r, "Access-Control-Allow-Origin", "http://localhost:8081") &&
         header_is(&r, "Access-Control-Allow-Methods", "POST, GET, HEAD");
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "OPTIONS", url(f, "/file/a/b/photo.png", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: range",
              NULL) == 204);
    ok = header_is(&r, "Access-Control-Allow-Origin", PAGE);
    http_res_free(&r);
    CHECK(ok);
    /* A plain PUT path. */
    CHECK(ask(&r, "OPTIONS", url(f, "/9f1c/photo.png", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: PUT", NULL, NULL) == 204);
    ok = header_is(&r, "Access-Control-Allow-Methods", "PUT, GET, HEAD") &&
         header_is(&r, "Access-Control-Allow-Origin", PAGE);
    http_res_free(&r);
    CHECK(ok);
}

/* Denied preflights get no Access-Control-Allow-* header, so a browser refuses. */
CORS_CASE(preflight_denied, NULL, PAGE)
{
    char u[512];
    http_res r;
    /* An origin on no list. */
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, ORIGIN_H(OTHER),
              "Access-Control-Request-Method: POST", NULL, NULL) == 403);
    bool ok = no_cors(&r) && header_is(&r, "Vary", "Origin") &&
              strstr((const char *)r.body.data, "evil.example");
    http_res_free(&r);
    CHECK(ok);
    /* A near miss: same host, other port; and a trailing slash. */
    CHECK(ask(&r, "OPTIONS", url(f, "/x/y", u), NULL, "Origin: http://127.0.0.1:5501",
              "Access-Control-Request-Method: GET", NULL, NULL) == 403);
    ok = no_cors(&r);
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "OPTIONS", url(f, "/x/y", u), NULL, "Origin: " PAGE "/",
              "Access-Control-Request-Method: GET", NULL, NULL) == 403);
    http_res_free(&r);
    /* The listed origin, but a method pages never get, or one the route has not. */
    CHECK(ask(&r, "OPTIONS", url(f, "/x/y", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: DELETE", NULL, NULL) == 403);
    ok = no_cors(&r);
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "OPTIONS", url(f, "/x/y", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: POST", NULL, NULL) == 403);
    http_res_free(&r);
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, ORIGIN_H(PAGE),
              "Access-Control-Request-Method: PUT", NULL, NULL) == 403);
    http_res_free(&r);
    /* Not a preflight at all. */
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, NULL, NULL, NULL, NULL) == 400);
    ok = no_cors(&r) && strstr((const char *)r.body.data, "Access-Control-Request-Method");
    http_res_free(&r);
    CHECK(ok);
}

/* Real responses of a whole Plik upload and download from the listed origin. */
CORS_CASE(headers_on_responses, "s3cret-token", PAGE)
{
    char u[512], id[64], utok[64], xtok[128], fileid[64], path[512];
    http_res r;
    CHECK(ask(&r, "POST", url(f, "/upload", u), "{}", ORIGIN_H(PAGE),
              "Authorization: Bearer s3cret-token", "Content-Type: application/json",
              NULL) == 200);
    bool ok = header_is(&r, "Access-Control-Allow-Origin", PAGE) &&
              header_has(&r, "Access-Control-Expose-Headers", "Content-Range") &&
              header_has(&r, "Access-Control-Expose-Headers", "Content-Length") &&
              header_is(&r, "Vary", "Origin") && json_str(&r, "id", id, sizeof id) &&
              json_str(&r, "uploadToken", utok, sizeof utok);
    http_res_free(&r);
    CHECK(ok);
    snprintf(path, sizeof path, "/file/%s", id);
    snprintf(xtok, sizeof xtok, "X-UploadToken: %s", utok);
    curl_mime *mime = http_file_part("photo.png", "0123456789", 10);
    const char *hdr[] = {ORIGIN_H(PAGE), "Authorization: Bearer s3cret-token", xtok, NULL};
    http_req rq = {.method = "POST", .url = url(f, path, u), .mime = mime,
                   .headers = {hdr[0], hdr[1], hdr[2], NULL}};
    http_do(&rq, &r);
    curl_mime_free(mime);
    ok = r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", PAGE) &&
         json_str(&r, "id", fileid, sizeof fileid);
    http_res_free(&r);
    CHECK(ok);
    /* A ranged download: the page may read Content-Range. */
    snprintf(path, sizeof path, "/file/%s/%s/photo.png", id, fileid);
    CHECK(ask(&r, "GET", url(f, path, u), NULL, ORIGIN_H(PAGE), "Range: bytes=2-5", NULL,
              NULL) == 206);
    ok = header_is(&r, "Access-Control-Allow-Origin", PAGE) &&
         header_is(&r, "Content-Range", "bytes 2-5/10") && r.body.len == 4;
    http_res_free(&r);
    CHECK(ok);
    /* A refusal the page can read: 401 without the token still names the origin. */
    CHECK(ask(&r, "PUT", url(f, "/k/v.bin", u), "x", ORIGIN_H(PAGE), NULL, NULL, NULL) == 401);
    ok = header_is(&r, "Access-Control-Allow-Origin", PAGE);
    http_res_free(&r);
    CHECK(ok);
    /* Another origin downloading: served (CORS is the browser's rule), but unreadable to it. */
    CHECK(ask(&r, "GET", url(f, path, u), NULL, ORIGIN_H(OTHER), NULL, NULL, NULL) == 200);
    ok = no_cors(&r) && header_is(&r, "Vary", "Origin");
    http_res_free(&r);
    CHECK(ok);
    /* No Origin (curl, the C peer): Vary only. */
    CHECK(ask(&r, "HEAD", url(f, path, u), NULL, NULL, NULL, NULL, NULL) == 200);
    ok = no_cors(&r) && header_is(&r, "Vary", "Origin");
    http_res_free(&r);
    CHECK(ok);
}

/* "*": any page may download; uploads from an unlisted origin get nothing and are refused. */
CORS_CASE(star_downloads_only, NULL, "*", PAGE)
{
    char u[512];
    http_res r;
    CHECK(ask(&r, "PUT", url(f, "/s/t.bin", u), "abc", NULL, NULL, NULL, NULL) == 201);
    http_res_free(&r);
    CHECK(ask(&r, "GET", url(f, "/s/t.bin", u), NULL, ORIGIN_H(OTHER), NULL, NULL, NULL) == 200);
    bool ok = header_is(&r, "Access-Control-Allow-Origin", "*") && r.body.len == 3;
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "OPTIONS", url(f, "/s/t.bin", u), NULL, ORIGIN_H(OTHER),
              "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: range",
              NULL) == 204);
    ok = header_is(&r, "Access-Control-Allow-Origin", "*") &&
         header_is(&r, "Access-Control-Allow-Methods", "GET, HEAD");
    http_res_free(&r);
    CHECK(ok);
    /* The upload preflights of an unlisted origin: denied, without any header. */
    CHECK(ask(&r, "OPTIONS", url(f, "/s/t.bin", u), NULL, ORIGIN_H(OTHER),
              "Access-Control-Request-Method: PUT", NULL, NULL) == 403);
    ok = no_cors(&r);
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "OPTIONS", url(f, "/upload", u), NULL, ORIGIN_H(OTHER),
              "Access-Control-Request-Method: POST", NULL, NULL) == 403);
    ok = no_cors(&r);
    http_res_free(&r);
    CHECK(ok);
    /* A form POST needs no preflight: the server itself refuses it, and stores nothing. */
    CHECK(ask(&r, "POST", url(f, "/upload", u), "{}", ORIGIN_H(OTHER),
              "Content-Type: text/plain", NULL, NULL) == 403);
    ok = no_cors(&r) && !strstr((const char *)r.body.data, "uploadToken");
    http_res_free(&r);
    CHECK(ok);
    CHECK(ask(&r, "PUT", url(f, "/s/t.bin", u), "overwritten", ORIGIN_H(OTHER), NULL, NULL,
              NULL) == 403);
    http_res_free(&r);
    CHECK(ask(&r, "GET", url(f, "/s/t.bin", u), NULL, NULL, NULL, NULL, NULL) == 200);
    ok = r.body.len == 3;
    http_res_free(&r);
    CHECK(ok);
    /* The listed origin still uploads, and gets its own origin back, not "*". */
    CHECK(ask(&r, "PUT", url(f, "/s/u.bin", u), "abc", ORIGIN_H(PAGE), NULL, NULL, NULL) == 201);
    ok = header_is(&r, "Access-Control-Allow-Origin", PAGE);
    http_res_free(&r);
    CHECK(ok);
}

/* Origins that no browser sends are refused at start, each error naming the origin. */
NBT_CASE(bad_origins)
{
    static const char *const bad[] = {"http://a.example/", "ftp://a.example", "a.example:80",
                                      "http://a.example:99999", "http://", "http://[::1",
                                      "http://a b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_fileserver *fs = NULL;
        nb_fileserver_config cfg = {.dir = "/tmp/nbt-cors-never-created", .quiet = true,
                                    .listen_addr = "127.0.0.1", .cors_origins = &bad[i],
                                    .cors_origin_count = 1};
        nb_status s = nb_fileserver_start(&fs, &cfg);
        if (s != NB_INVALID_ARG || !strstr(nb_last_error(), "--cors-origin") || fs) {
            fprintf(stderr, "origin '%s': %s %s\n", bad[i], nb_status_text(s), nb_last_error());
            nb_fileserver_stop(fs);
            nbt_failures++;
        }
    }
    nb_fileserver *fs = NULL;
    nb_fileserver_config cfg = {.dir = "/tmp/x", .cors_origin_count = 2};
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "cors_origins is NULL");
}

static const nbt_case cases[] = {
    NBT_ENTRY(no_origins_no_headers), NBT_ENTRY(preflight_allowed),
    NBT_ENTRY(preflight_denied),      NBT_ENTRY(headers_on_responses),
    NBT_ENTRY(star_downloads_only),   NBT_ENTRY(bad_origins),
    {0},
};

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = nbt_main(argc, argv, cases);
    curl_global_cleanup();
    return rc;
}
