/* SPDX-License-Identifier: MIT */
/*
 * test_fileserver_limits.c - the file server under hostile clients (issue 11,
 * items 8, 9 and 11): ambiguous framing refused before any body is stored,
 * refusals a client can read (Expect: 100-continue, drained bodies), a
 * slowloris cut off by the header deadline, ~1,100 idle connections from one
 * address that do not stop the server serving others, and the cap on pending
 * Plik uploads. Real server on loopback, raw sockets; every wait is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "test.h"

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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to the server from source address src ("127.0.0.x"), or -1. */
static int dial(int port, const char *src)
{
    struct sockaddr_in a = {0}, from = {0};
    a.sin_family = from.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (src && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
                bind(fd, (struct sockaddr *)&from, sizeof from) != 0)) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what arrives within ms (until the peer closes or out is full); returns the byte count. */
static size_t read_for(int fd, char *out, size_t outsz, int ms, bool *closed)
{
    size_t got = 0;
    int64_t end = now_ms() + ms;
    *closed = false;
    while (got < outsz - 1) {
        int left = (int)(end - now_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, out + got, outsz - 1 - got, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        got += (size_t)n;
    }
    out[got] = '\0';
    return got;
}

/* Sends request on a fresh connection; returns the status of the first answer, or -1. */
static int exchange(int port, const char *request, size_t len, char *answer, size_t answersz)
{
    int fd = dial(port, NULL);
    if (fd < 0)
        return -1;
    bool closed;
    bool sent = send(fd, request, len, MSG_NOSIGNAL) == (ssize_t)len;
    read_for(fd, answer, answersz, 3000, &closed);
    close(fd);
    int status = -1;
    if (!sent || sscanf(answer, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static long get_status(const fx *f, const char *path)
{
    char u[512];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", f->port, path);
    http_req rq = {.method = "GET", .url = u};
    http_res res;
    http_do(&rq, &res);
    long s = res.status;
    http_res_free(&res);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Ambiguous framing (item 11)                                              */
/* ------------------------------------------------------------------------ */

FS_CASE(framing_refused)
{
    static const char *const bad[] = {
        /* two Content-Length values that differ */
        "PUT /f/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        /* Content-Length and Transfer-Encoding together */
        "PUT /f/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n",
        "PUT /f/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n",
        /* Content-Length that is not a number */
        "PUT /f/d HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello",
        "PUT /f/e HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        "PUT /f/f HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
        /* a Transfer-Encoding other than chunked */
        "PUT /f/g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n",
        /* the same on a GET and on the Plik route */
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\nab",
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked"
        "\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    };
    char answer[2048];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int s = exchange(f->port, bad[i], strlen(bad[i]), answer, sizeof answer);
        if (s != 400)
            fprintf(stderr, "request %zu: status %d: %.200s\n", i, s, answer);
        CHECK(s == 400);
    }
    /* Nothing of those bodies was stored. */
    static const char *const paths[] = {"/f/a", "/f/b", "/f/c", "/f/d", "/f/e", "/f/f", "/f/g"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        CHECK(get_status(f, paths[i]) == 404);
    CHECK(count_entries(f->dir, ".data") == 0);
    /* Our own answer, not MHD's: it says what was wrong, and the connection closes. */
    static const char both[] = "PUT /f/h HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    CHECK(exchange(f->port, both, sizeof both - 1, answer, sizeof answer) == 400);
    CHECK(strstr(answer, "ambiguous request framing: both Content-Length and Transfer-Encoding"));
    CHECK(strstr(answer, "Connection: close") || strstr(answer, "connection: close"));
    /* Unambiguous requests still work: equal duplicates, plain length, chunked alone. */
    static const char same[] = "PUT /f/ok1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok";
    static const char plain[] = "PUT /f/ok2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                "Content-Length: 2\r\n\r\nok";
    static const char chunked[] = "PUT /f/ok3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    CHECK(exchange(f->port, same, sizeof same - 1, answer, sizeof answer) == 201);
    CHECK(exchange(f->port, plain, sizeof plain - 1, answer, sizeof answer) == 201);
    CHECK(exchange(f->port, chunked, sizeof chunked - 1, answer, sizeof answer) == 201);
    CHECK(get_status(f, "/f/ok3") == 200);
}

/* ------------------------------------------------------------------------ */
/* Refusals the client can read (item 9)                                    */
/* ------------------------------------------------------------------------ */

FS_CASE(refusal_readable, .token = "t0ken", .max_size = 1000)
{
    char answer[4096];
    /* Expect: 100-continue: the refusal comes at once, with no "100 Continue" first. */
    static const char expect[] = "PUT /r/a HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
                                 "Expect: 100-continue\r\n\r\n";
    int fd = dial(f->port, NULL);
    CHECK(fd >= 0);
    bool closed;
    CHECK(send(fd, expect, sizeof expect - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof expect - 1));
    read_for(fd, answer, sizeof answer, 2000, &closed);
    close(fd);
    CHECK(strncmp(answer, "HTTP/1.1 401", 12) == 0);
    /* Without Expect, the client is sending its body: it is read and dropped, then the
     * answer comes, so the client is never cut off mid-send (no broken pipe). */
    static char body[600 * 1024];
    memset(body, 'x', sizeof body);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "PUT /r/b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n"
                     "Connection: close\r\n"
                     "Content-Length: %zu\r\n\r\n", sizeof body);
    fd = dial(f->port, NULL);
    CHECK(fd >= 0);
    bool sent = send(fd, head, (size_t)n, MSG_NOSIGNAL) == n;
    for (size_t off = 0; sent && off < sizeof body;) {
        ssize_t w = send(fd, body + off, sizeof body - off, MSG_NOSIGNAL);
        sent = w > 0;
        off += w > 0 ? (size_t)w : 0;
    }
    read_for(fd, answer, sizeof answer, 3000, &closed);
    close(fd);
    CHECK(sent); /* the whole body went out: the server kept reading */
    CHECK(strncmp(answer, "HTTP/1.1 413", 12) == 0);
    CHECK(strstr(answer, "limit of 1000 bytes"));
    CHECK(count_entries(f->dir, ".data") == 0 && count_entries(f->dir, ".part") == 0);
}

/* ------------------------------------------------------------------------ */
/* Header deadline: a slowloris is cut off                                  */
/* ------------------------------------------------------------------------ */

FS_CASE(slowloris_cut, .header_timeout_ms = 600)
{
    static const char trickle[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaa"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    int fd = dial(f->port, NULL);
    CHECK(fd >= 0);
    int64_t start = now_ms();
    bool cut = false;
    /* One byte every 50 ms: never idle, so MHD's idle timeout alone would never fire. */
    for (size_t i = 0; i < sizeof trickle - 1 && now_ms() - start < 5000; i++) {
        if (send(fd, trickle + i, 1, MSG_NOSIGNAL) != 1) {
            cut = true;
            break;
        }
        char c;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0) {
            cut = true;
            break;
        }
        /* A normal client is served meanwhile. */
        if (i == 5)
            CHECK(get_status(f, "/") == 200);
    }
    int64_t took = now_ms() - start;
    close(fd);
    if (!cut || took < 500 || took > 3000)
        fprintf(stderr, "cut %d after %lld ms\n", cut, (long long)took);
    CHECK(cut);
    CHECK(took >= 500 && took <= 3000);
    /* A complete request on a fresh connection is not affected. */
    CHECK(get_status(f, "/") == 200);
}

/* ------------------------------------------------------------------------ */
/* ~1,100 idle connections from one address                                 */
/* ------------------------------------------------------------------------ */

#define FLOOD 1100

NBT_CASE(idle_flood_keeps_serving)
{
    /* The test holds FLOOD sockets and the in-process server its side of them. */
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t want = 3 * FLOOD;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    CHECK(rl.rlim_cur >= (rlim_t)FLOOD + 200);
    fx fx0 = {0}, *f = &fx0;
    nb_fileserver_config cfg = {.quiet = true, .header_timeout_ms = 60000};
    if (!fx_start(f, cfg)) {
        nbt_failures++;
        return;
    }
    static int fds[FLOOD];
    int opened = 0;
    /* The attacker: 127.0.0.2, a loopback address of its own, idle after connecting. */
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = dial(f->port, "127.0.0.2");
        opened += fds[i] >= 0;
    }
    bool ok = opened == FLOOD;
    if (!ok)
        fprintf(stderr, "opened %d of %d connections\n", opened, FLOOD);
    /* Others are served at once, several times over. */
    int64_t start = now_ms();
    for (int i = 0; ok && i < 20; i++)
        ok = get_status(f, "/") == 200;
    int64_t took = now_ms() - start;
    if (!ok || took > 5000)
        fprintf(stderr, "GETs during the flood: ok %d, %lld ms\n", ok, (long long)took);
    /* The server kept at most its per-address limit of them: the rest were closed. */
    int closed = 0;
    for (int i = 0; i < FLOOD; i++) {
        char c;
        struct pollfd p = {fds[i], POLLIN, 0};
        if (fds[i] >= 0 && poll(&p, 1, 0) > 0 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            closed++;
    }
    for (int i = 0; i < FLOOD; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (closed < FLOOD - 64 - 8)
        fprintf(stderr, "only %d of %d flood connections were closed\n", closed, FLOOD);
    bool limited = closed >= FLOOD - 64 - 8; /* the default per-IP limit is 64 */
    fx_done(f);
    CHECK(ok && took <= 5000);
    CHECK(limited);
}

/* ------------------------------------------------------------------------ */
/* Pending Plik uploads                                                     */
/* ------------------------------------------------------------------------ */

static long new_upload(const fx *f, char id[64], char token[64], http_res *res)
{
    char u[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/upload", f->port);
    http_req rq = {.method = "POST", .url = u, .body = "{}", .len = 2};
    http_do(&rq, res);
    cJSON *o = cJSON_ParseWithLength((const char *)res->body.data, res->body.len);
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "uploadToken");
    if (id && cJSON_IsString(i) && cJSON_IsString(t)) {
        snprintf(id, 64, "%s", i->valuestring);
        snprintf(token, 64, "%s", t->valuestring);
    }
    cJSON_Delete(o);
    return res->status;
}

FS_CASE(pending_uploads_capped, .max_pending_uploads = 5)
{
    char id[64] = "", token[64] = "", first_id[64] = "", first_token[64] = "";
    http_res res;
    for (int i = 0; i < 5; i++) {
        long s = new_upload(f, i == 0 ? first_id : id, i == 0 ? first_token : token, &res);
        http_res_free(&res);
        CHECK(s == 200);
    }
    CHECK(new_upload(f, NULL, NULL, &res) == 503);
    char v[64];
    CHECK(http_header(&res, "Retry-After", v, sizeof v) && atoi(v) > 0);
    CHECK(res.body.data && strstr((const char *)res.body.data, "limit 5"));
    http_res_free(&res);
    /* An upload that gets its file no longer counts: one more is allowed. */
    char u[256], h[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/file/%s", f->port, first_id);
    snprintf(h, sizeof h, "X-UploadToken: %s", first_token);
    http_req add = {.method = "POST", .url = u, .headers = {h},
                    .mime = http_file_part("a.txt", "abc", 3)};
    CHECK(http_do(&add, &res));
    curl_mime_free(add.mime);
    long added = res.status;
    http_res_free(&res);
    CHECK(added == 200);
    CHECK(new_upload(f, NULL, NULL, &res) == 200);
    http_res_free(&res);
    CHECK(new_upload(f, NULL, NULL, &res) == 503);
    http_res_free(&res);
}

/* ------------------------------------------------------------------------ */
/* Configuration checks                                                     */
/* ------------------------------------------------------------------------ */

NBT_CASE(limit_config_errors)
{
    char root[256];
    CHECK(tmp_dir(root));
    nb_fileserver *fs = NULL;
    nb_fileserver_config cfg = {.dir = root, .quiet = true, .max_connections = 10,
                                .max_connections_per_ip = 20};
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "max_connections_per_ip 20");
    cfg = (nb_fileserver_config){.dir = root, .quiet = true, .tls_cert_file = "/nonexistent"};
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_INVALID_ARG, "--tls-key");
    cfg.tls_key_file = "/nonexistent.key";
    CHECK_FAIL(nb_fileserver_start(&fs, &cfg), NB_IO, "certificate /nonexistent");
    CHECK(!fs);
    rm_tree(root);
}

static const nbt_case cases[] = {
    NBT_ENTRY(framing_refused),       NBT_ENTRY(refusal_readable),
    NBT_ENTRY(slowloris_cut),         NBT_ENTRY(idle_flood_keeps_serving),
    NBT_ENTRY(pending_uploads_capped), NBT_ENTRY(limit_config_errors),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
