/* SPDX-License-Identifier: MIT */
/*
 * test_download.c - downloads that are bounded, interruptible and resumable
 * (issue 11 items 5 and 10): nb_download_http against the real built-in file
 * server (killed and restarted mid-download) and against a hostile HTTP
 * server written here (loopback, in a thread) that trickles bytes, cuts the
 * connection, ignores Range or changes the file between attempts; and
 * `natsbridge listen` stopped by SIGINT during such a download.
 */
#include "test.h"
#include "cluster.h" /* nbt_free_ports */
#include "server.h"  /* nbt_server: a real nats-server for the CLI case */

#include "backoff.h"
#include "integrity.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Fixture: a temporary directory and, when asked, the built-in file server */
/* ------------------------------------------------------------------------ */

typedef struct env {
    nb_fileserver *fs;
    int port;
    char dir[64];
    char store[96];
    char base[64];
} env;

static env E;

static nb_status server_start(nb_fileserver **fs, int port)
{
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .port = port, .dir = E.store, .quiet = true};
    return nb_fileserver_start(fs, &cfg);
}

static void run(void (*body)(void), bool fileserver)
{
    memset(&E, 0, sizeof E);
    strcpy(E.dir, "/tmp/nbt_download_XXXXXX");
    if (!mkdtemp(E.dir)) {
        nbt_failures++;
        return;
    }
    snprintf(E.store, sizeof E.store, "%s/store", E.dir);
    if (fileserver && server_start(&E.fs, 0) != NB_OK) {
        fprintf(stderr, "file server: %s\n", nb_last_error());
        nbt_failures++;
    } else {
        if (E.fs) {
            E.port = nb_fileserver_port(E.fs);
            snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", E.port);
        }
        body();
    }
    nb_fileserver_stop(E.fs);
    nbt_remove_dir(E.dir);
}

static nb_download_request dl_req(const char *url)
{
    nb_download_request r = {.url = url, .max_retries = 5, .base_delay_ms = 10,
                             .max_delay_ms = 50, .correlation_id = "test-download"};
    return r;
}

static void pause_ms(int64_t ms) { nbi_sleep_ms(ms); }

/* ------------------------------------------------------------------------ */
/* A hostile HTTP server: one connection at a time, a script of behaviours  */
/* ------------------------------------------------------------------------ */

typedef enum h_mode {
    H_TRICKLE,      /* 200, then one byte every trickle_ms */
    H_CUT_HALF,     /* 200 (ETag v1), half of the body, then the connection closes */
    H_FULL,         /* 200 (ETag v1), the whole body, whatever the Range */
    H_RANGE,        /* 206 for a Range (ETag v1), else 200 */
    H_RANGE_OTHER,  /* 206 for a Range, but ETag v2: the file changed */
} h_mode;

#define H_MAX_REQ 16

typedef struct hostile {
    int fd, port;
    pthread_t thread;
    atomic_bool quit;
    const uint8_t *body;
    size_t size;
    h_mode script[4]; /* behaviour of request i; the last one repeats */
    int nscript;
    int64_t trickle_ms;
    atomic_int requests;
    char range[H_MAX_REQ][64];    /* the Range header of each request ("" none) */
    char if_range[H_MAX_REQ][64]; /* its If-Range header */
} hostile;

/* The value of header name in the request head req, into out ("" when absent). */
static void req_header(const char *req, const char *name, char *out, size_t outsz)
{
    out[0] = '\0';
    for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        size_t n = strlen(name);
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            snprintf(out, outsz, "%.*s", (int)strcspn(v, "\r\n"), v);
            return;
        }
    }
}

/* True when the peer has closed (or reset) the connection. */
static bool peer_gone(int c)
{
    struct pollfd p = {c, POLLIN, 0};
    char b;
    return poll(&p, 1, 0) > 0 && recv(c, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

static bool send_all(int c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = send(c, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

/* Sleeps ms in slices; false when told to quit or the peer left. */
static bool hostile_wait(hostile *h, int c, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += 20) {
        if (atomic_load(&h->quit) || peer_gone(c))
            return false;
        pause_ms(20);
    }
    return true;
}

static void hostile_answer(hostile *h, int c, int index, const char *range)
{
    h_mode m = h->script[index < h->nscript ? index : h->nscript - 1];
    unsigned long long from = 0;
    bool ranged = sscanf(range, "bytes=%llu-", &from) == 1 && from < h->size &&
                  (m == H_RANGE || m == H_RANGE_OTHER);
    char head[256];
    size_t len = ranged ? h->size - from : h->size;
    if (ranged)
        snprintf(head, sizeof head,
                 "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\nContent-Range: bytes "
                 "%llu-%zu/%zu\r\nETag: \"%s\"\r\nConnection: close\r\n\r\n",
                 len, from, h->size - 1, h->size, m == H_RANGE_OTHER ? "v2" : "v1");
    else
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nETag: \"v1\"\r\n"
                 "Connection: close\r\n\r\n",
                 len);
    if (!send_all(c, head, strlen(head)))
        return;
    const uint8_t *p = h->body + (ranged ? from : 0);
    if (m == H_TRICKLE) {
        for (size_t i = 0; i < len && hostile_wait(h, c, h->trickle_ms); i++)
            if (!send_all(c, p + i, 1))
                return;
        return;
    }
    send_all(c, p, m == H_CUT_HALF ? len / 2 : len);
}

static void *hostile_main(void *arg)
{
    hostile *h = arg;
    while (!atomic_load(&h->quit)) {
        struct pollfd pf = {h->fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[4096];
        size_t n = 0;
        req[0] = '\0';
        /* The request head, within 5 s. */
        for (int i = 0; i < 250 && n < sizeof req - 1 && !strstr(req, "\r\n\r\n"); i++) {
            struct pollfd pc = {c, POLLIN, 0};
            if (poll(&pc, 1, 20) > 0) {
                ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
                if (k <= 0)
                    break;
                n += (size_t)k;
            }
            req[n] = '\0';
        }
        req[n] = '\0';
        int index = atomic_load(&h->requests);
        char range[64];
        req_header(req, "Range", range, sizeof range);
        if (index < H_MAX_REQ) {
            snprintf(h->range[index], sizeof h->range[index], "%s", range);
            req_header(req, "If-Range", h->if_range[index], sizeof h->if_range[index]);
        }
        atomic_fetch_add(&h->requests, 1);
        hostile_answer(h, c, index, range);
        close(c);
    }
    return NULL;
}

/* Listens on a free loopback port; body (borrowed) of size bytes is what it serves. */
static bool hostile_start(hostile *h, const uint8_t *body, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    h->body = body;
    h->size = size;
    atomic_store(&h->quit, false);
    atomic_store(&h->requests, 0);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(h->fd, 16) != 0 ||
        getsockname(h->fd, (struct sockaddr *)&a, &alen) != 0) {
        if (h->fd >= 0)
            close(h->fd);
        return false;
    }
    h->port = ntohs(a.sin_port);
    return pthread_create(&h->thread, NULL, hostile_main, h) == 0;
}

static void hostile_stop(hostile *h)
{
    atomic_store(&h->quit, true);
    pthread_join(h->thread, NULL);
    close(h->fd);
}

/* Waits (at most 10 s) until the server saw n requests. */
static bool hostile_saw(hostile *h, int n)
{
    for (int i = 0; i < 500 && atomic_load(&h->requests) < n; i++)
        pause_ms(20);
    return atomic_load(&h->requests) >= n;
}

/* ------------------------------------------------------------------------ */
/* Item 5: a slow server cannot hold a receiver                             */
/* ------------------------------------------------------------------------ */

static uint8_t small_body[1000];

/* No byte for idle_timeout_ms fails the attempt, and names the idle timeout. */
static void idle_timeout_body(void)
{
    hostile h = {.script = {H_TRICKLE}, .nscript = 1, .trickle_ms = 3000};
    CHECK(hostile_start(&h, small_body, sizeof small_body));
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/slow", h.port);
    nb_download_request d = dl_req(url);
    d.max_retries = 0;
    d.idle_timeout_ms = 400;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    nb_status s = nb_download_http(&d, &data, &len, NULL);
    int64_t took = nbi_now_ms() - t0;
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    /* with a retry budget the same stall is retried, then given up, naming both */
    d.retry_budget_ms = 1200;
    d.idle_timeout_ms = 300;
    t0 = nbi_now_ms();
    nb_status s2 = nb_download_http(&d, &data, &len, NULL);
    int64_t took2 = nbi_now_ms() - t0;
    char err2[1024];
    snprintf(err2, sizeof err2, "%s", nb_last_error());
    hostile_stop(&h);
    fprintf(stderr, "note: %lld ms: %s\nnote: %lld ms: %s\n", (long long)took, err,
            (long long)took2, err2);
    CHECK(s == NB_HTTP && !data);
    CHECK(strstr(err, "no data for 400 ms (idle timeout") && strstr(err, url));
    CHECK(took >= 350 && took < 1500);
    CHECK(s2 == NB_HTTP && strstr(err2, "retry budget of 1200 ms spent") &&
          strstr(err2, "idle timeout"));
    CHECK(took2 >= 1100 && took2 < 1200 + 300 + 1500);
}

NBT_CASE(idle_timeout_trickle) { run(idle_timeout_body, false); }

/* One byte every 150 ms is never idle for 1 s: the deadline ends it (the 1 byte / 20 s). */
static void deadline_trickle_body(void)
{
    hostile h = {.script = {H_TRICKLE}, .nscript = 1, .trickle_ms = 150};
    CHECK(hostile_start(&h, small_body, sizeof small_body));
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/slow", h.port);
    nb_download_request d = dl_req(url);
    d.idle_timeout_ms = 1000;
    d.deadline_ms = 1000;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    nb_status s = nb_download_http(&d, &data, &len, NULL);
    int64_t took = nbi_now_ms() - t0;
    hostile_stop(&h);
    fprintf(stderr, "note: %lld ms: %s\n", (long long)took, nb_last_error());
    CHECK_FAIL(s, NB_TIMEOUT, "deadline of 1000 ms");
    CHECK(took >= 950 && took < 2000);
}

NBT_CASE(deadline_trickle) { run(deadline_trickle_body, false); }

typedef struct stopper {
    nb_download_request d;
    nb_status s;
    char err[1024];
    int64_t done_ms;
} stopper;

static void *download_thread(void *arg)
{
    stopper *st = arg;
    uint8_t *data = NULL;
    size_t len = 0;
    st->s = nb_download_http(&st->d, &data, &len, NULL);
    snprintf(st->err, sizeof st->err, "%s", nb_last_error());
    st->done_ms = nbi_now_ms();
    free(data);
    return NULL;
}

/* The stop flag ends a stalled transfer, and a back-off sleep, at once. */
static void stop_flag_body(void)
{
    static volatile sig_atomic_t stop;
    hostile h = {.script = {H_TRICKLE}, .nscript = 1, .trickle_ms = 5000};
    CHECK(hostile_start(&h, small_body, sizeof small_body));
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/slow", h.port);
    stopper st = {.d = dl_req(url)};
    st.d.stop = &stop; /* no idle timeout, no deadline: only the flag can end it */
    stop = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, download_thread, &st) == 0);
    bool seen = hostile_saw(&h, 1);
    pause_ms(300);
    int64_t t0 = nbi_now_ms();
    stop = 1;
    pthread_join(t, NULL);
    int64_t took = st.done_ms - t0;
    hostile_stop(&h);
    fprintf(stderr, "note: stopped %lld ms after the flag: %s\n", (long long)took, st.err);
    CHECK(seen);
    CHECK(st.s == NB_HTTP && strstr(st.err, "interrupted (stop flag set)"));
    CHECK(took < 600); /* waits last at most 100 ms */

    /* a server that is down: the flag cuts the back-off sleep short */
    int port = 0;
    CHECK(nbt_free_ports(&port, 1) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/x", port);
    stopper down = {.d = dl_req(url)};
    down.d.stop = &stop;
    down.d.retry_budget_ms = 30000;
    down.d.base_delay_ms = down.d.max_delay_ms = 5000;
    stop = 0;
    CHECK(pthread_create(&t, NULL, download_thread, &down) == 0);
    pause_ms(300);
    t0 = nbi_now_ms();
    stop = 1;
    pthread_join(t, NULL);
    took = down.done_ms - t0;
    fprintf(stderr, "note: stopped %lld ms after the flag: %s\n", (long long)took, down.err);
    CHECK(down.s == NB_HTTP && strstr(down.err, "interrupted (stop flag set)"));
    CHECK(took < 300);
}

NBT_CASE(stop_flag_interrupts) { run(stop_flag_body, false); }

/* ------------------------------------------------------------------------ */
/* Item 10: resumable, patient downloads                                    */
/* ------------------------------------------------------------------------ */

/* A server down longer than the budget: a clear error naming it, at the budget's end. */
static void budget_spent_body(void)
{
    int port = 0;
    CHECK(nbt_free_ports(&port, 1) == 0);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/a/b/c.bin", port);
    nb_download_request d = dl_req(url);
    d.retry_budget_ms = 1500;
    d.base_delay_ms = 50;
    d.max_delay_ms = 200;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    nb_status s = nb_download_http(&d, &data, &len, NULL);
    int64_t took = nbi_now_ms() - t0;
    fprintf(stderr, "note: %lld ms: %s\n", (long long)took, nb_last_error());
    CHECK_FAIL(s, NB_HTTP, "retry budget of 1500 ms spent without receiving a byte");
    CHECK(strstr(nb_last_error(), url) && strstr(nb_last_error(), "--retry-budget"));
    CHECK(took >= 1450 && took < 1500 + 1000);
}

NBT_CASE(retry_budget_spent) { run(budget_spent_body, false); }

typedef struct restart {
    size_t size;
    bool stopped;
    uint64_t done_at_stop;   /* bytes kept when the server went away */
    uint64_t min_after_stop; /* least "done" reported afterwards: no restart from 0 */
    int calls_after_stop;
    pthread_t thread;
    bool thread_made;
    nb_status restarted;
} restart;

static void *restart_later(void *arg)
{
    restart *r = arg;
    pause_ms(6000); /* a file-server restart of ~6 s, within the 30 s budget */
    r->restarted = server_start(&E.fs, E.port);
    return NULL;
}

/* Kills the file server once an eighth is in, from inside the transfer. */
static void on_restart_progress(const char *name, uint64_t done, uint64_t total, void *closure)
{
    (void)name, (void)total;
    restart *r = closure;
    if (r->stopped) {
        r->calls_after_stop++;
        if (done < r->min_after_stop)
            r->min_after_stop = done;
        return;
    }
    if (done < r->size / 8)
        return;
    r->stopped = true;
    r->done_at_stop = r->min_after_stop = done;
    nb_fileserver_stop(E.fs);
    E.fs = NULL;
    r->thread_made = pthread_create(&r->thread, NULL, restart_later, r) == 0;
}

/*
 * Downloads url into dst with the file server killed once an eighth is in
 * and started again 6 s later (r), timing it (*took) and keeping the error.
 */
static nb_status download_through_restart(const char *url, const char *dst, const char *sha,
                                          char got[65], restart *r, int64_t *took, char *err,
                                          size_t errsz)
{
    nb_download_request d = dl_req(url);
    d.path = dst;
    d.retry_budget_ms = 30000;
    d.idle_timeout_ms = 5000;
    d.base_delay_ms = 100;
    d.max_delay_ms = 1000;
    d.sha256_hex = sha;
    d.sha256_out = got;
    d.progress = on_restart_progress;
    d.progress_closure = r;
    int64_t t0 = nbi_now_ms();
    nb_status s = nb_download_http(&d, NULL, NULL, NULL);
    *took = nbi_now_ms() - t0;
    snprintf(err, errsz, "%s", nb_last_error());
    if (r->thread_made)
        pthread_join(r->thread, NULL);
    return s;
}

static void resume_body(void)
{
    const size_t n = 48u << 20;
    char src[128], dst[128], sha[65], got[65] = "";
    snprintf(src, sizeof src, "%s/src.bin", E.dir);
    snprintf(dst, sizeof dst, "%s/dst.bin", E.dir);
    uint8_t *bytes = malloc(n);
    CHECK(bytes);
    nbt_fill_bytes(bytes, n, 42);
    FILE *f = fopen(src, "wb");
    bool written = f && fwrite(bytes, 1, n, f) == n;
    if (f)
        fclose(f);
    free(bytes);
    CHECK(written);
    uint64_t size = 0;
    CHECK_OK(nbi_sha256_file_hex(src, sha, &size));
    nb_upload_request up = {.fileserver_url = E.base, .dataname = "big.bin", .path = src,
                            .size = n, .sha256_hex = sha};
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_put(&up, &res, NULL));

    restart r;
    nb_status s = NB_INTERNAL;
    int64_t took = 0;
    char err[1024] = "";
    /*
     * The server must go away mid-transfer. On a loaded machine the first
     * progress report past an eighth can come with nearly every byte already
     * read (curl reports progress far apart on a fast loopback transfer, and
     * the rest sits in socket buffers), and then the download ends without
     * needing the restart: such a try proves nothing, so it is made again (at
     * most six times; each waits for the restart).
     */
    for (int attempt = 0; attempt < 6; attempt++) {
        r = (restart){.size = n, .restarted = NB_INTERNAL};
        remove(dst);
        s = download_through_restart(res.url, dst, sha, got, &r, &took, err, sizeof err);
        if (!r.stopped || !r.thread_made || r.restarted != NB_OK || n - r.done_at_stop >= n / 4)
            break;
        fprintf(stderr, "note: try %d: the server stopped at %llu of %zu bytes, too late to "
                "test a resume; trying again\n", attempt + 1,
                (unsigned long long)r.done_at_stop, n);
    }
    free(res.uploadid);
    free(res.fileid);
    free(res.url);
    fprintf(stderr,
            "note: %s in %lld ms; server stopped at %llu of %zu bytes; after the restart the "
            "download went on from %llu (fetched %llu bytes after it, not %zu)\n",
            s == NB_OK ? "done" : err, (long long)took, (unsigned long long)r.done_at_stop, n,
            (unsigned long long)r.min_after_stop,
            (unsigned long long)(n - r.min_after_stop), n);
    CHECK(r.stopped && r.thread_made);
    CHECK_OK(r.restarted);
    CHECK(s == NB_OK);
    CHECK(took >= 6000);
    CHECK(r.done_at_stop > 0 && r.min_after_stop >= r.done_at_stop);
    CHECK(n - r.min_after_stop < n); /* fewer bytes fetched after the restart than the file */
    CHECK_STR(got, sha);
    CHECK(nbt_same_files(src, dst));
}

NBT_CASE(resume_after_restart) { run(resume_body, true); }

/* One download of a hostile script into memory: the bytes, or a failure. */
static nb_status fetch_script(hostile *h, const h_mode *script, int n, uint8_t **data,
                              size_t *len, char sha_out[65])
{
    memcpy(h->script, script, (size_t)n * sizeof *script);
    h->nscript = n;
    atomic_store(&h->requests, 0);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/r", h->port);
    nb_download_request d = dl_req(url);
    d.retry_budget_ms = 5000;
    d.sha256_out = sha_out;
    return nb_download_http(&d, data, len, NULL);
}

/* Range resumes; a server that ignores it, or a file that changed, starts over. */
static void resume_fallbacks_body(void)
{
    enum { N = 300000 };
    static uint8_t body[N];
    nbt_fill_bytes(body, N, 7);
    char want[65], got[65];
    CHECK_OK(nbi_sha256_hex(body, N, want));
    hostile h = {.nscript = 1};
    CHECK(hostile_start(&h, body, N));
    char half[64];
    snprintf(half, sizeof half, "bytes=%d-", N / 2);
    uint8_t *data = NULL;
    size_t len = 0;

    /* 1: cut, then a 206 from where it stopped */
    h_mode resumed[] = {H_CUT_HALF, H_RANGE};
    nb_status s1 = fetch_script(&h, resumed, 2, &data, &len, got);
    bool ok1 = s1 == NB_OK && len == N && memcmp(data, body, N) == 0 && !strcmp(got, want) &&
               atomic_load(&h.requests) == 2 && !h.range[0][0] && !strcmp(h.range[1], half) &&
               !strcmp(h.if_range[1], "\"v1\"");
    free(data);
    data = NULL;
    /* 2: cut, then the server ignores the Range (200): that whole body is used */
    h_mode ignored[] = {H_CUT_HALF, H_FULL};
    nb_status s2 = fetch_script(&h, ignored, 2, &data, &len, got);
    bool ok2 = s2 == NB_OK && len == N && memcmp(data, body, N) == 0 && !strcmp(got, want) &&
               atomic_load(&h.requests) == 2 && !strcmp(h.range[1], half);
    free(data);
    data = NULL;
    /* 3: cut, then a 206 of another version (ETag): starts over from byte 0 */
    h_mode changed[] = {H_CUT_HALF, H_RANGE_OTHER, H_FULL};
    nb_status s3 = fetch_script(&h, changed, 3, &data, &len, got);
    bool ok3 = s3 == NB_OK && len == N && memcmp(data, body, N) == 0 && !strcmp(got, want) &&
               atomic_load(&h.requests) == 3 && !strcmp(h.range[1], half) && !h.range[2][0];
    free(data);
    data = NULL;
    /* 4: the same into a file */
    char path[128];
    snprintf(path, sizeof path, "%s/r.bin", E.dir);
    memcpy(h.script, resumed, sizeof resumed);
    h.nscript = 2;
    atomic_store(&h.requests, 0);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/r", h.port);
    nb_download_request d = dl_req(url);
    d.path = path;
    d.sha256_hex = want;
    nb_status s4 = nb_download_http(&d, NULL, &len, NULL);
    char *file = nbt_read_file(path, NULL);
    bool ok4 = s4 == NB_OK && len == N && file && memcmp(file, body, N) == 0 &&
               atomic_load(&h.requests) == 2;
    free(file);
    /* 5: a wrong expected digest fails and leaves nothing behind */
    atomic_store(&h.requests, 0);
    d.sha256_hex = "00";
    remove(path);
    nb_status s5 = nb_download_http(&d, NULL, &len, NULL);
    char err5[512];
    snprintf(err5, sizeof err5, "%s", nb_last_error());
    struct stat st;
    bool gone = stat(path, &st) != 0;
    hostile_stop(&h);
    CHECK(ok1);
    CHECK(ok2);
    CHECK(ok3);
    CHECK(ok4);
    CHECK(s5 == NB_INTEGRITY && strstr(err5, "sha256 mismatch") && gone);
}

NBT_CASE(resume_fallbacks) { run(resume_fallbacks_body, false); }

/* A planted symbolic link or file at DIR/name.part is refused, not followed nor truncated. */
static void part_symlink_body(void)
{
    char path[128], part[140], victim[128];
    snprintf(path, sizeof path, "%s/x.bin", E.dir);
    snprintf(part, sizeof part, "%s.part", path);
    snprintf(victim, sizeof victim, "%s/victim", E.dir);
    FILE *f = fopen(victim, "w");
    CHECK(f && fputs("keep", f) >= 0 && fclose(f) == 0);
    CHECK(symlink(victim, part) == 0);
    hostile h = {.script = {H_FULL}, .nscript = 1};
    CHECK(hostile_start(&h, small_body, sizeof small_body));
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/r", h.port);
    nb_download_request d = dl_req(url);
    d.path = path;
    nb_status s = nb_download_http(&d, NULL, NULL, NULL);
    char err[512];
    snprintf(err, sizeof err, "%s", nb_last_error());
    hostile_stop(&h);
    char *kept = nbt_read_file(victim, NULL);
    bool intact = kept && strcmp(kept, "keep") == 0;
    free(kept);
    CHECK(s == NB_NOT_ALLOWED && strstr(err, "symbolic link"));
    CHECK(intact);
    /* a planted regular file is not truncated either, and stays */
    CHECK(unlink(part) == 0);
    f = fopen(part, "w");
    CHECK(f && fputs("planted", f) >= 0 && fclose(f) == 0);
    CHECK(hostile_start(&h, small_body, sizeof small_body));
    s = nb_download_http(&d, NULL, NULL, NULL);
    snprintf(err, sizeof err, "%s", nb_last_error());
    hostile_stop(&h);
    kept = nbt_read_file(part, NULL);
    intact = kept && strcmp(kept, "planted") == 0;
    free(kept);
    CHECK(s == NB_NOT_ALLOWED && strstr(err, "already exists"));
    CHECK(intact);
}

NBT_CASE(part_symlink_refused) { run(part_symlink_body, false); }

/* ------------------------------------------------------------------------ */
/* The CLI: `natsbridge listen` during a stalled download                   */
/* ------------------------------------------------------------------------ */

typedef struct child {
    pid_t pid;
    char err[128];
} child;

static bool child_start(child *ch, const char *name, const char *const *argv)
{
    snprintf(ch->err, sizeof ch->err, "%s/%s.err", E.dir, name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, ch->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&ch->pid, NBT_CLI, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0;
}

/* Waits at most ms for the child; its exit status, or -1 (then it is killed). */
static int child_wait(child *ch, int64_t ms)
{
    int st = 0;
    for (int64_t t = 0; t < ms; t += 10) {
        pid_t r = waitpid(ch->pid, &st, WNOHANG);
        if (r == ch->pid) {
            ch->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        pause_ms(10);
    }
    kill(ch->pid, SIGKILL);
    waitpid(ch->pid, &st, 0);
    ch->pid = 0;
    return -1;
}

static bool file_says(const char *path, const char *text, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += 50) {
        char *body = nbt_read_file(path, NULL);
        bool found = body && strstr(body, text);
        free(body);
        if (found)
            return true;
        pause_ms(50);
    }
    return false;
}

/* An envelope with one link payload (size bytes at url), as the wire carries it. */
static void link_envelope(char *out, size_t cap, const char *url, size_t size)
{
    snprintf(out, cap,
             "{\"correlation_id\":\"c\",\"msg_id\":\"7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5d\","
             "\"timestamp\":\"2026-03-13T07:02:50.443Z\",\"send_to\":\"t.slow\","
             "\"msg_purpose\":\"chat\",\"sender_name\":\"s\",\"sender_id\":\"i\","
             "\"receiver_name\":\"\",\"receiver_id\":\"\",\"reply_to\":\"\","
             "\"reply_to_msg_id\":\"\",\"broker_url\":\"\",\"metadata\":{},\"payloads\":[{"
             "\"id\":\"p\",\"dataname\":\"slow.bin\",\"type\":\"binary\",\"transport\":\"link\","
             "\"encoding\":\"none\",\"size\":%zu,\"data\":\"%s\",\"metadata\":{}}]}",
             size, url);
}

static void listen_sigint_body(void)
{
    nbt_server srv;
    CHECK(nbt_server_start(&srv, false, 0) == 0);
    hostile h = {.script = {H_TRICKLE}, .nscript = 1, .trickle_ms = 5000};
    bool up = hostile_start(&h, small_body, sizeof small_body);
    char origin[64], url[96], env[2048];
    snprintf(origin, sizeof origin, "http://127.0.0.1:%d", h.port);
    snprintf(url, sizeof url, "%s/file/a/b/slow.bin", origin);
    link_envelope(env, sizeof env, url, sizeof small_body);
    natsConnection *nc = NULL;
    up = up && natsConnection_ConnectTo(&nc, srv.url) == NATS_OK;

    /* 1: --idle-timeout: the stalled message is reported, naming the idle timeout */
    child idle = {0};
    const char *a1[] = {NBT_CLI, "listen", "t.slow", "--server", srv.url, "--allow-origin", origin,
                        "--idle-timeout", "0.5", "--retries", "0", NULL};
    bool idle_up = up && child_start(&idle, "idle", a1) &&
                   file_says(idle.err, "listening on t.slow", 10000);
    int64_t t0 = nbi_now_ms();
    if (idle_up)
        natsConnection_PublishString(nc, "t.slow", env);
    bool named = idle_up && file_says(idle.err, "no data for 500 ms (idle timeout", 5000);
    int64_t reported = nbi_now_ms() - t0;
    if (idle.pid)
        kill(idle.pid, SIGINT);
    int idle_rc = idle.pid ? child_wait(&idle, 5000) : -1;

    /* 2: the defaults (idle 30 s): SIGINT during the stalled download exits at once */
    child slow = {0};
    const char *a2[] = {NBT_CLI, "listen", "t.slow", "--server", srv.url, "--allow-origin", origin,
                        NULL};
    bool slow_up = up && child_start(&slow, "slow", a2) &&
                   file_says(slow.err, "listening on t.slow", 10000);
    int before = atomic_load(&h.requests);
    if (slow_up)
        natsConnection_PublishString(nc, "t.slow", env);
    bool stalled = slow_up && hostile_saw(&h, before + 1);
    pause_ms(500); /* well inside the transfer */
    int64_t t1 = nbi_now_ms();
    if (slow.pid)
        kill(slow.pid, SIGINT);
    int slow_rc = slow.pid ? child_wait(&slow, 10000) : -1;
    int64_t exited = nbi_now_ms() - t1;
    bool told = file_says(slow.err, "interrupted (stop flag set)", 1000);

    /* 3: --download-timeout: one byte every 150 ms is never idle; the deadline is reported */
    hostile h3 = {.script = {H_TRICKLE}, .nscript = 1, .trickle_ms = 150};
    bool h3_up = up && hostile_start(&h3, small_body, sizeof small_body);
    char origin3[64], url3[96], env3[2048];
    snprintf(origin3, sizeof origin3, "http://127.0.0.1:%d", h3_up ? h3.port : 0);
    snprintf(url3, sizeof url3, "%s/file/a/b/slow.bin", origin3);
    link_envelope(env3, sizeof env3, url3, sizeof small_body);
    child dl = {0};
    const char *a3[] = {NBT_CLI, "listen", "t.slow", "--server", srv.url, "--allow-origin", origin3,
                        "--download-timeout", "1", NULL};
    bool dl_up = h3_up && child_start(&dl, "deadline", a3) &&
                 file_says(dl.err, "listening on t.slow", 10000);
    if (dl_up)
        natsConnection_PublishString(nc, "t.slow", env3);
    bool deadline = dl_up && file_says(dl.err, "deadline of 1000 ms", 5000);
    if (dl.pid)
        kill(dl.pid, SIGINT);
    int dl_rc = dl.pid ? child_wait(&dl, 5000) : -1;
    if (h3_up)
        hostile_stop(&h3);

    natsConnection_Destroy(nc);
    hostile_stop(&h);
    nbt_server_stop(&srv);
    fprintf(stderr, "note: idle timeout reported after %lld ms; SIGINT exit after %lld ms\n",
            (long long)reported, (long long)exited);
    CHECK(deadline && dl_rc == 0);
    CHECK(up);
    CHECK(named && reported < 3000);
    CHECK(idle_rc == 0);
    CHECK(stalled);
    CHECK(slow_rc == 0);
    CHECK(exited < 1500);
    CHECK(told);
}

NBT_CASE(listen_sigint_during_download) { run(listen_sigint_body, false); }

/* The setters refuse what makes no sense, naming the option. */
static void options_body(void)
{
    static volatile sig_atomic_t flag;
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    nb_status idle = nb_options_set_idle_timeout(o, -1);
    char idle_err[256];
    snprintf(idle_err, sizeof idle_err, "%s", nb_last_error());
    nb_status budget = nb_options_set_retry_budget(o, -5);
    char budget_err[256];
    snprintf(budget_err, sizeof budget_err, "%s", nb_last_error());
    nb_status ok = nb_options_set_idle_timeout(o, 0);
    if (ok == NB_OK)
        ok = nb_options_set_retry_budget(o, 0);
    if (ok == NB_OK)
        ok = nb_options_set_stop_flag(o, &flag);
    if (ok == NB_OK)
        ok = nb_options_set_stop_flag(o, NULL);
    nb_status null_opts = nb_options_set_stop_flag(NULL, &flag);
    nb_options_destroy(o);
    nb_download_request d = dl_req("http://127.0.0.1:1/x");
    d.idle_timeout_ms = -1;
    uint8_t *data = NULL;
    size_t len = 0;
    nb_status neg = nb_download_http(&d, &data, &len, NULL);
    CHECK(idle == NB_INVALID_ARG && strstr(idle_err, "idle_timeout must be >= 0"));
    CHECK(budget == NB_INVALID_ARG && strstr(budget_err, "retry_budget must be >= 0"));
    CHECK_OK(ok);
    CHECK(null_opts == NB_INVALID_ARG);
    CHECK(neg == NB_INVALID_ARG && strstr(nb_last_error(), "idle timeout"));
}

NBT_CASE(download_options) { run(options_body, false); }

static const nbt_case cases[] = {
    NBT_ENTRY(download_options),
    NBT_ENTRY(idle_timeout_trickle),   NBT_ENTRY(deadline_trickle),
    NBT_ENTRY(stop_flag_interrupts),   NBT_ENTRY(retry_budget_spent),
    NBT_ENTRY(resume_after_restart),   NBT_ENTRY(resume_fallbacks),
    NBT_ENTRY(part_symlink_refused),   NBT_ENTRY(listen_sigint_during_download),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
