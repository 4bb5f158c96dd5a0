/* SPDX-License-Identifier: MIT */
/*
 * test_fileclient.c - the HTTP client of link payloads (nb_upload_plik,
 * nb_upload_put, nb_download_http) against the real built-in file server,
 * started in-process on a loopback port: round trips in memory and through
 * files, streaming in constant memory, back-off, deadlines, caps and errors.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "test.h"
#include "cluster.h" /* nbt_free_ports */

#include "backoff.h"
#include "integrity.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Fixture: a file server in a temporary directory                          */
/* ------------------------------------------------------------------------ */

typedef struct env {
    nb_fileserver *fs;
    char dir[64];   /* temporary directory: files/ for the server, the rest for the test */
    char store[96]; /* the server's directory */
    char base[64];  /* "http://127.0.0.1:PORT" */
} env;

static env E;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static nb_status server_start(nb_fileserver **fs, int port, uint64_t max_size, const char *token)
{
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .port = port, .dir = E.store,
                                .max_size = max_size, .token = token, .quiet = true};
    return nb_fileserver_start(fs, &cfg);
}

/* Runs body with a fresh directory and, when port >= 0, a server on it. */
static void run(void (*body)(void), int port, uint64_t max_size, const char *token)
{
    memset(&E, 0, sizeof E);
    strcpy(E.dir, "/tmp/nbt_fileclient_XXXXXX");
    if (!mkdtemp(E.dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        nbt_failures++;
        return;
    }
    snprintf(E.store, sizeof E.store, "%s/store", E.dir);
    if (port >= 0 && server_start(&E.fs, port, max_size, token) != NB_OK) {
        fprintf(stderr, "file server: %s\n", nb_last_error());
        nbt_failures++;
    } else {
        if (E.fs)
            snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", nb_fileserver_port(E.fs));
        body();
    }
    nb_fileserver_stop(E.fs);
    nftw(E.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A free loopback port (nobody listens on it once this returns), or -1. */
static int free_port(void)
{
    int port;
    return nbt_free_ports(&port, 1) == 0 ? port : -1;
}

/* ------------------------------------------------------------------------ */
/* Bytes and files                                                          */
/* ------------------------------------------------------------------------ */

static uint8_t *make_bytes(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p)
        nbt_fill_bytes(p, n, seed);
    return p;
}

/* Writes n pseudo-random bytes in 1 MiB blocks (never the whole file in memory). */
static int write_file(const char *path, uint64_t n, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    static uint8_t block[1 << 20];
    int rc = f ? 0 : -1;
    for (uint64_t done = 0; rc == 0 && done < n; seed++) {
        size_t k = n - done < sizeof block ? (size_t)(n - done) : sizeof block;
        nbt_fill_bytes(block, k, seed);
        rc = fwrite(block, 1, k, f) == k ? 0 : -1;
        done += k;
    }
    if (f && fclose(f) != 0)
        rc = -1;
    return rc;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Peak resident set (VmHWM) in KiB, or -1. */
static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */
/* ------------------------------------------------------------------------ */

static nb_upload_request mem_req(const char *name, const uint8_t *data, size_t n, char *sha)
{
    nbi_sha256_hex(data ? (const void *)data : "", n, sha);
    nb_upload_request r = {.fileserver_url = E.base, .dataname = name, .data = data,
                           .size = n, .sha256_hex = sha};
    return r;
}

static nb_upload_request file_req(const char *name, const char *path, char *sha)
{
    uint64_t size = 0;
    nbi_sha256_file_hex(path, sha, &size);
    nb_upload_request r = {.fileserver_url = E.base, .dataname = name, .path = path,
                           .size = size, .sha256_hex = sha};
    return r;
}

static nb_download_request dl_req(const char *url)
{
    nb_download_request r = {.url = url, .max_retries = 5, .base_delay_ms = 10,
                             .max_delay_ms = 50, .correlation_id = "test-correlation"};
    return r;
}

static void result_free(nb_upload_result *r)
{
    free(r->uploadid);
    free(r->fileid);
    free(r->url);
    memset(r, 0, sizeof *r);
}

/* Downloads url into memory and compares with want[n]. */
static bool download_equals(const char *url, const uint8_t *want, size_t n)
{
    nb_download_request d = dl_req(url);
    uint8_t *got = NULL;
    size_t len = 99;
    nb_status s = nb_download_http(&d, &got, &len, NULL);
    if (s != NB_OK)
        fprintf(stderr, "download: %s\n", nb_last_error());
    bool ok = s == NB_OK && got && len == n && (n == 0 || memcmp(got, want, n) == 0) &&
              got[len] == '\0';
    free(got);
    return ok;
}

/* Downloads url into path and compares with the file want. */
static bool download_file_equals(const char *url, const char *path, const char *want)
{
    nb_download_request d = dl_req(url);
    d.path = path;
    uint8_t *data = (uint8_t *)"x";
    size_t len = 0;
    nb_status s = nb_download_http(&d, &data, &len, NULL);
    if (s != NB_OK)
        fprintf(stderr, "download: %s\n", nb_last_error());
    char part[256];
    snprintf(part, sizeof part, "%s.part", path);
    return s == NB_OK && !data && (long long)len == file_size(want) && !exists(part) &&
           nbt_same_files(path, want);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

static void plik_memory_body(void)
{
    const char *text = "hello, link payload";
    char sha[65], prefix[160];
    nb_upload_request req = mem_req("greeting #1 (\xc3\xbc).txt", (const uint8_t *)text,
                                    strlen(text), sha);
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    CHECK(res.status >= 200 && res.status <= 299);
    CHECK(res.uploadid && res.fileid && res.url);
    snprintf(prefix, sizeof prefix, "%s/file/%s/%s/", E.base, res.uploadid, res.fileid);
    CHECK(strncmp(res.url, prefix, strlen(prefix)) == 0);
    /* The name travels percent-encoded in the URL. */
    CHECK_STR(res.url + strlen(prefix), "greeting%20%231%20%28%C3%BC%29.txt");
    CHECK(download_equals(res.url, (const uint8_t *)text, strlen(text)));
    /* A second download works too: uploads are not one-shot (fan-out safe). */
    CHECK(download_equals(res.url, (const uint8_t *)text, strlen(text)));
    result_free(&res);
}

NBT_CASE(plik_memory_roundtrip) { run(plik_memory_body, 0, 0, NULL); }

static void plik_empty_body(void)
{
    char sha[65], path[128];
    nb_upload_request req = mem_req("empty.bin", (const uint8_t *)"", 0, sha);
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    CHECK(download_equals(res.url, NULL, 0));
    result_free(&res);
    req.data = NULL; /* no bytes at all is fine for 0 bytes */
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    snprintf(path, sizeof path, "%s/empty.out", E.dir);
    nb_download_request d = dl_req(res.url);
    d.path = path;
    size_t len = 7;
    CHECK_OK(nb_download_http(&d, NULL, &len, NULL));
    CHECK(len == 0 && file_size(path) == 0);
    result_free(&res);
}

NBT_CASE(plik_empty_roundtrip) { run(plik_empty_body, 0, 0, NULL); }

static void plik_5mb_body(void)
{
    const size_t n = 5 * 1000 * 1000;
    char sha[65], in[128], out[128];
    uint8_t *bytes = make_bytes(n, 5);
    CHECK(bytes);
    nb_upload_request req = mem_req("five.bin", bytes, n, sha);
    nb_upload_result res = {0};
    nb_status s = nb_upload_plik(&req, &res, NULL);
    bool same = s == NB_OK && download_equals(res.url, bytes, n);
    /* The same upload into a file, compared with the bytes written out. */
    snprintf(in, sizeof in, "%s/five.in", E.dir);
    snprintf(out, sizeof out, "%s/five.out", E.dir);
    FILE *f = fopen(in, "wb");
    bool written = f && fwrite(bytes, 1, n, f) == n;
    written = f && fclose(f) == 0 && written;
    free(bytes);
    CHECK_OK(s);
    CHECK(same);
    CHECK(written);
    CHECK(download_file_equals(res.url, out, in));
    result_free(&res);
}

NBT_CASE(plik_5mb_roundtrip) { run(plik_5mb_body, 0, 0, NULL); }

typedef struct progress_seen {
    int calls;
    uint64_t last_done, last_total;
    bool named_right;
} progress_seen;

static void on_progress(const char *dataname, uint64_t done, uint64_t total, void *closure)
{
    progress_seen *p = closure;
    p->calls++;
    p->named_right = strcmp(dataname, "progress.bin") == 0;
    if (done > p->last_done)
        p->last_done = done;
    if (total)
        p->last_total = total;
}

static void progress_body(void)
{
    const size_t n = 3 * 1000 * 1000;
    char sha[65];
    uint8_t *bytes = make_bytes(n, 9);
    CHECK(bytes);
    progress_seen up = {0}, down = {0};
    nb_upload_request req = mem_req("progress.bin", bytes, n, sha);
    req.progress = on_progress;
    req.progress_closure = &up;
    nb_upload_result res = {0};
    nb_status s = nb_upload_put(&req, &res, NULL);
    uint8_t *got = NULL;
    size_t len = 0;
    if (s == NB_OK) {
        nb_download_request d = dl_req(res.url);
        d.dataname = "progress.bin";
        d.progress = on_progress;
        d.progress_closure = &down;
        s = nb_download_http(&d, &got, &len, NULL);
    }
    bool same = s == NB_OK && len == n && memcmp(got, bytes, n) == 0;
    free(bytes);
    free(got);
    result_free(&res);
    CHECK_OK(s);
    CHECK(same);
    CHECK(up.calls > 0 && up.named_right && up.last_done == n && up.last_total == n);
    CHECK(down.calls > 0 && down.named_right && down.last_done == n && down.last_total == n);
}

NBT_CASE(progress_reported) { run(progress_body, 0, 0, NULL); }

static void plik_file_body(void)
{
    char sha[65], in[128], out[128];
    snprintf(in, sizeof in, "%s/data.in", E.dir);
    snprintf(out, sizeof out, "%s/data.out", E.dir);
    CHECK(write_file(in, 1048576 + 7, 11) == 0);
    nb_upload_request req = file_req("data.arrow", in, sha);
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    CHECK(strstr(res.url, "/data.arrow"));
    CHECK(download_file_equals(res.url, out, in));
    /* Downloading again replaces the file in one step. */
    CHECK(download_file_equals(res.url, out, in));
    size_t n = 0;
    uint8_t *want = (uint8_t *)nbt_read_file(in, &n);
    bool same = want && download_equals(res.url, want, n);
    free(want);
    CHECK(same);
    /* An empty file. */
    CHECK(write_file(in, 0, 1) == 0);
    result_free(&res);
    req = file_req("nothing.bin", in, sha);
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    CHECK(download_file_equals(res.url, out, in));
    result_free(&res);
}

NBT_CASE(plik_file_roundtrip) { run(plik_file_body, 0, 0, NULL); }

static void put_body(void)
{
    const size_t n = 300000;
    char sha[65];
    uint8_t *bytes = make_bytes(n, 3);
    CHECK(bytes);
    nb_upload_request req = mem_req("table 1.arrow", bytes, n, sha);
    nb_upload_result res = {0};
    nb_status s = nb_upload_put(&req, &res, NULL);
    bool same = s == NB_OK && download_equals(res.url, bytes, n);
    free(bytes);
    CHECK_OK(s);
    CHECK(same);
    CHECK(res.status >= 200 && res.status <= 299);
    /* {base}/{uuid}/{name}, the name escaped */
    size_t b = strlen(E.base);
    CHECK(strncmp(res.url, E.base, b) == 0 && res.url[b] == '/');
    CHECK(strlen(res.url) == b + 1 + 36 + 1 + strlen("table%201.arrow"));
    CHECK(res.url[b + 1 + 36] == '/');
    CHECK_STR(res.url + b + 1 + 36 + 1, "table%201.arrow");
    result_free(&res);
    /* Two uploads of the same name do not collide. */
    nb_upload_result r1 = {0}, r2 = {0};
    nb_upload_request small = mem_req("same", (const uint8_t *)"1", 1, sha);
    CHECK_OK(nb_upload_put(&small, &r1, NULL));
    small = mem_req("same", (const uint8_t *)"2", 1, sha);
    s = nb_upload_put(&small, &r2, NULL);
    same = s == NB_OK && strcmp(r1.url, r2.url) != 0 &&
           download_equals(r1.url, (const uint8_t *)"1", 1) &&
           download_equals(r2.url, (const uint8_t *)"2", 1);
    result_free(&r1);
    result_free(&r2);
    CHECK_OK(s);
    CHECK(same);
}

NBT_CASE(put_roundtrip) { run(put_body, 0, 0, NULL); }

static void put_file_body(void)
{
    char sha[65], in[128], out[128];
    snprintf(in, sizeof in, "%s/put.in", E.dir);
    snprintf(out, sizeof out, "%s/put.out", E.dir);
    CHECK(write_file(in, 3 * 1000 * 1000 + 1, 21) == 0);
    nb_upload_request req = file_req("put.bin", in, sha);
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_put(&req, &res, NULL));
    CHECK(download_file_equals(res.url, out, in));
    result_free(&res);
}

NBT_CASE(put_file_roundtrip) { run(put_file_body, 0, 0, NULL); }

/* Names that need escaping travel intact; names the server refuses fail clearly. */
static void datanames_body(void)
{
    static const char *const good[] = {"a\"b.txt", "sp ace.txt", "pct%41.txt", "\xc3\xbc.bin",
                                       "a;b=c&d?.txt", "#", "x+y=z"};
    static const char *const bad[] = {"dir/file.txt", "..", "x\\y", "tab\there"};
    char sha[65];
    nb_upload_result res = {0};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        nb_upload_request req = mem_req(good[i], (const uint8_t *)good[i], strlen(good[i]), sha);
        for (int put = 0; put < 2; put++) {
            nb_status s = put ? nb_upload_put(&req, &res, NULL) : nb_upload_plik(&req, &res, NULL);
            bool same = s == NB_OK && download_equals(res.url, req.data, req.size);
            if (!same)
                fprintf(stderr, "dataname '%s' (%s): %s\n", good[i], put ? "PUT" : "Plik",
                        nb_last_error());
            result_free(&res);
            CHECK(same);
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_upload_request req = mem_req(bad[i], (const uint8_t *)"x", 1, sha);
        CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_HTTP, "HTTP 400: ");
        CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_HTTP, "HTTP 400: ");
        CHECK(!res.url);
    }
}

NBT_CASE(unusual_datanames) { run(datanames_body, 0, 0, NULL); }

/* 50 MB up and down through files: the peak RSS must not grow by the file size. */
static void stream_50mb_body(void)
{
    char sha[65], in[128], out[128];
    snprintf(in, sizeof in, "%s/big.in", E.dir);
    snprintf(out, sizeof out, "%s/big.out", E.dir);
    CHECK(write_file(in, 50 * 1000 * 1000, 50) == 0);
    nb_upload_request req = file_req("big.bin", in, sha);
    nb_upload_result res = {0}, res2 = {0};
    long before = vm_hwm_kb();
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    bool same = download_file_equals(res.url, out, in);
    nb_status s = nb_upload_put(&req, &res2, NULL);
    same = same && s == NB_OK && download_file_equals(res2.url, out, in);
    long after = vm_hwm_kb();
    result_free(&res);
    result_free(&res2);
    CHECK_OK(s);
    CHECK(same);
    fprintf(stderr, "VmHWM %ld kB -> %ld kB (+%ld kB)\n", before, after, after - before);
    CHECK(before > 0 && after > 0);
    CHECK(after - before < 32 * 1024); /* measured: +3.4 MB, +5.3 MB under ASan */
}

NBT_CASE(stream_50mb_rss) { run(stream_50mb_body, 0, 0, NULL); }

/* Several threads at once: curl is set up once, handles are per call. */
typedef struct worker {
    int id;
    bool ok;
} worker;

static void *parallel_worker(void *arg)
{
    worker *w = arg;
    const size_t n = 200000 + (size_t)w->id;
    char sha[65], name[32];
    uint8_t *bytes = make_bytes(n, (uint64_t)w->id);
    snprintf(name, sizeof name, "part-%d.bin", w->id);
    nb_upload_request req = mem_req(name, bytes, n, sha);
    nb_upload_result res = {0};
    nb_status s = !bytes                ? NB_NO_MEMORY
                  : w->id % 2 ? nb_upload_put(&req, &res, NULL)
                              : nb_upload_plik(&req, &res, NULL);
    w->ok = s == NB_OK && download_equals(res.url, bytes, n);
    if (!w->ok)
        fprintf(stderr, "worker %d: %s\n", w->id, nb_last_error());
    result_free(&res);
    free(bytes);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Failures, back-off, deadlines                                            */
/* ------------------------------------------------------------------------ */

static void not_found_body(void)
{
    char url[160], path[128], part[140], want[200];
    snprintf(url, sizeof url, "%s/file/nope/nope/x.bin", E.base);
    snprintf(path, sizeof path, "%s/x.out", E.dir);
    snprintf(part, sizeof part, "%s.part", path);
    snprintf(want, sizeof want, "download %s: HTTP 404", url);
    nb_download_request d = dl_req(url);
    d.base_delay_ms = 2000;
    d.max_delay_ms = 5000;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_NOT_FOUND, want);
    CHECK(nbi_now_ms() - t0 < 1000); /* no retry: well under base_delay */
    CHECK(!data);
    d.path = path;
    CHECK_FAIL(nb_download_http(&d, NULL, NULL, NULL), NB_NOT_FOUND, want);
    CHECK(!exists(path) && !exists(part));
}

NBT_CASE(not_found_fails_at_once) { run(not_found_body, 0, 0, NULL); }

static void server_down_body(void)
{
    char url[128], path[128], part[140];
    int port = free_port();
    CHECK(port > 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/a/b/c.bin", port);
    snprintf(path, sizeof path, "%s/c.out", E.dir);
    snprintf(part, sizeof part, "%s.part", path);
    nb_download_request d = dl_req(url); /* 5 retries, base 10 ms, max 50 ms */
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_HTTP, "gave up after 6 attempts: ");
    int64_t took = nbi_now_ms() - t0;
    CHECK(strstr(nb_last_error(), url));
    CHECK(took < 5 * 50 + 1000); /* at most 5 sleeps of 50 ms, refused connects are instant */
    d.max_retries = 0;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_HTTP, "gave up after 1 attempt: ");
    d.max_retries = 1;
    d.deadline_ms = INT64_MAX; /* too far to add up: no deadline, no overflow */
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_HTTP, "gave up after 2 attempts: ");
    d.deadline_ms = 0;
    d.path = path;
    d.max_retries = 2;
    CHECK_FAIL(nb_download_http(&d, NULL, NULL, NULL), NB_HTTP, "gave up after 3 attempts");
    CHECK(!exists(path) && !exists(part));
}

NBT_CASE(server_down_gives_up) { run(server_down_body, -1, 0, NULL); }

typedef struct late_start {
    int port;
    nb_fileserver *fs;
    nb_status status;
} late_start;

static void *start_late(void *arg)
{
    late_start *l = arg;
    nbi_sleep_ms(300);
    l->status = server_start(&l->fs, l->port, 0, NULL);
    return NULL;
}

static void server_down_then_up_body(void)
{
    char sha[65];
    late_start late = {free_port(), NULL, NB_INTERNAL};
    CHECK(late.port > 0);
    /* Upload to a first server on that port, then stop it: the file stays on disk. */
    nb_fileserver *first = NULL;
    CHECK_OK(server_start(&first, late.port, 0, NULL));
    snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", late.port);
    nb_upload_request req = mem_req("late.txt", (const uint8_t *)"worth the wait", 14, sha);
    nb_upload_result res = {0};
    nb_status s = nb_upload_put(&req, &res, NULL);
    nb_fileserver_stop(first);
    CHECK_OK(s);

    pthread_t t;
    CHECK(pthread_create(&t, NULL, start_late, &late) == 0);
    nb_download_request d = dl_req(res.url);
    d.max_retries = 30;
    d.base_delay_ms = 20;
    d.max_delay_ms = 100;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    s = nb_download_http(&d, &data, &len, NULL);
    int64_t took = nbi_now_ms() - t0;
    pthread_join(t, NULL);
    nb_fileserver_stop(late.fs);
    bool same = s == NB_OK && len == 14 && memcmp(data, "worth the wait", 14) == 0;
    free(data);
    result_free(&res);
    CHECK_OK(late.status);
    CHECK_OK(s);
    CHECK(same);
    CHECK(took >= 250); /* it did wait for the server */
}

NBT_CASE(server_down_then_up) { run(server_down_then_up_body, -1, 0, NULL); }

static void max_bytes_body(void)
{
    const size_t n = 100000;
    char sha[65], path[128], part[140];
    uint8_t *bytes = make_bytes(n, 9);
    CHECK(bytes);
    nb_upload_request req = mem_req("cap.bin", bytes, n, sha);
    nb_upload_result res = {0};
    nb_status s = nb_upload_plik(&req, &res, NULL);
    free(bytes);
    CHECK_OK(s);
    snprintf(path, sizeof path, "%s/cap.out", E.dir);
    snprintf(part, sizeof part, "%s.part", path);
    nb_download_request d = dl_req(res.url);
    d.base_delay_ms = 2000; /* not retried: must fail at once */
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    d.max_bytes = 1000;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_TOO_LARGE,
               "over the limit of 1000 bytes");
    CHECK(!data && nbi_now_ms() - t0 < 1000);
    d.max_bytes = n - 1;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_TOO_LARGE,
               "over the limit of 99999 bytes");
    d.path = path;
    CHECK_FAIL(nb_download_http(&d, NULL, &len, NULL), NB_TOO_LARGE, "download http://127.0.0.1:");
    CHECK(!exists(path) && !exists(part));
    d.max_bytes = n; /* exactly the size is fine */
    CHECK_OK(nb_download_http(&d, NULL, &len, NULL));
    CHECK(len == n && file_size(path) == (long long)n);
    d.path = NULL;
    CHECK_OK(nb_download_http(&d, &data, &len, NULL));
    free(data);
    CHECK(len == n);
    result_free(&res);
}

NBT_CASE(max_bytes_cap) { run(max_bytes_body, 0, 0, NULL); }

static void deadline_between_body(void)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", free_port());
    nb_download_request d = dl_req(url);
    d.max_retries = 1000;
    d.base_delay_ms = 100;
    d.max_delay_ms = 100;
    d.deadline_ms = 300;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_TIMEOUT, "deadline of 300 ms");
    int64_t took = nbi_now_ms() - t0;
    fprintf(stderr, "gave up after %lld ms: %s\n", (long long)took, nb_last_error());
    CHECK(took <= 300 + 250); /* never slept past it (slack for a loaded machine) */
    CHECK(took >= 150);       /* but did retry for a while */
}

NBT_CASE(deadline_between_attempts) { run(deadline_between_body, -1, 0, NULL); }

/* A peer that accepts TCP connections (kernel backlog) but never answers. */
static void deadline_stalled_body(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    bool up = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 16) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &n) == 0;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/a/b/c", ntohs(a.sin_port));
    nb_download_request d = dl_req(url);
    d.deadline_ms = 400;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t t0 = nbi_now_ms();
    nb_status s = nb_download_http(&d, &data, &len, NULL);
    int64_t took = nbi_now_ms() - t0;
    close(fd);
    CHECK(up);
    CHECK_FAIL(s, NB_TIMEOUT, "deadline of 400 ms");
    CHECK(took >= 350 && took < 1500);
}

NBT_CASE(deadline_stalled_server) { run(deadline_stalled_body, -1, 0, NULL); }

static void non_http_body(void)
{
    static const char *const urls[] = {
        "ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/",
        "dict://127.0.0.1:11211/", "scp://127.0.0.1/x", "127.0.0.1:8080/x", "",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        nb_download_request d = dl_req(urls[i]);
        uint8_t *data = NULL;
        size_t len = 0;
        CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_INVALID_ARG,
                   "download: url '");
        CHECK(strstr(nb_last_error(), "not an http:// or https:// URL"));
    }
    nb_download_request d = dl_req("http://user:pw@127.0.0.1:1/x");
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_INVALID_ARG, "user info");
    char sha[65];
    nb_upload_request req = mem_req("x", (const uint8_t *)"x", 1, sha);
    nb_upload_result res = {0};
    req.fileserver_url = "ftp://127.0.0.1:21";
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_INVALID_ARG, "upload: fileserver_url");
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_INVALID_ARG, "not an http");
    CHECK(!res.url);
}

NBT_CASE(non_http_refused) { run(non_http_body, -1, 0, NULL); }

static void upload_413_body(void)
{
    char sha[65], want[160], in[128];
    const size_t n = 5000;
    uint8_t *bytes = make_bytes(n, 4);
    CHECK(bytes);
    nb_upload_request req = mem_req("big.bin", bytes, n, sha);
    nb_upload_result res = {0};
    nb_status plik = nb_upload_plik(&req, &res, NULL);
    char plik_msg[1024];
    snprintf(plik_msg, sizeof plik_msg, "%s", nb_last_error());
    int plik_status = res.status;
    result_free(&res);
    nb_status put = nb_upload_put(&req, &res, NULL);
    free(bytes);
    snprintf(want, sizeof want, "upload: PUT %s/", E.base);
    CHECK_FAIL(put, NB_HTTP, want);
    CHECK(strstr(nb_last_error(), ": HTTP 413"));
    CHECK(res.status == 413 && !res.url);
    snprintf(want, sizeof want, "upload: POST %s/", E.base);
    CHECK_FAIL(plik, NB_HTTP, "");
    CHECK(strstr(plik_msg, want) && strstr(plik_msg, ": HTTP 413"));
    CHECK(plik_status == 413);
    /* A big file is refused the same way, even though the server stops reading. */
    snprintf(in, sizeof in, "%s/huge.in", E.dir);
    CHECK(write_file(in, 8 * 1000 * 1000, 8) == 0);
    req = file_req("huge.bin", in, sha);
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_HTTP, "HTTP 413");
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_HTTP, "HTTP 413");
    /* Under the limit all is well. */
    req = mem_req("small.bin", (const uint8_t *)"small", 5, sha);
    CHECK_OK(nb_upload_plik(&req, &res, NULL));
    result_free(&res);
    CHECK_OK(nb_upload_put(&req, &res, NULL));
    result_free(&res);
}

NBT_CASE(upload_413) { run(upload_413_body, 0, 1000, NULL); }

static void bearer_body(void)
{
    char sha[65];
    nb_upload_request req = mem_req("secret.txt", (const uint8_t *)"classified", 10, sha);
    nb_upload_result res = {0};
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_HTTP, "HTTP 40");
    CHECK(res.status == 401 || res.status == 403);
    CHECK(!res.url);
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_HTTP, "HTTP 40");
    CHECK_FAIL(nb_upload_plik(&req, &res, (void *)"wrong"), NB_HTTP, "HTTP 40");
    CHECK_FAIL(nb_upload_put(&req, &res, (void *)"wrong"), NB_HTTP, "HTTP 40");
    CHECK_FAIL(nb_upload_put(&req, &res, (void *)"t0ken\r\nX-Evil: 1"), NB_INVALID_ARG,
               "bearer token");
    /* ctx is the token itself. */
    CHECK_OK(nb_upload_plik(&req, &res, (void *)"t0ken"));
    CHECK(download_equals(res.url, (const uint8_t *)"classified", 10)); /* GET needs no token */
    result_free(&res);
    CHECK_OK(nb_upload_put(&req, &res, (void *)"t0ken"));
    CHECK(download_equals(res.url, (const uint8_t *)"classified", 10));
    result_free(&res);
}

NBT_CASE(upload_bearer_token) { run(bearer_body, 0, 0, "t0ken"); }

static void no_token_body(void)
{
    /* A server without a token takes uploads with or without one. */
    char sha[65];
    nb_upload_request req = mem_req("open.txt", (const uint8_t *)"open", 4, sha);
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_plik(&req, &res, (void *)"any"));
    result_free(&res);
    CHECK_OK(nb_upload_put(&req, &res, NULL));
    result_free(&res);
}

NBT_CASE(upload_token_not_required) { run(no_token_body, 0, 0, NULL); }

static void unreadable_body(void)
{
    char sha[65], in[128];
    nb_upload_request req = mem_req("x.bin", NULL, 0, sha);
    nb_upload_result res = {0};
    req.path = "/nonexistent/dir/x.bin";
    req.size = 3;
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_IO, "upload: open /nonexistent/dir/x.bin");
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_IO, "upload: open /nonexistent/dir/x.bin");
    req.path = E.dir;
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_IO, "not a regular file");
    snprintf(in, sizeof in, "%s/short.in", E.dir);
    CHECK(write_file(in, 10, 1) == 0);
    req.path = in;
    req.size = 12;
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_IO, "has 10 bytes, expected 12");
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_IO, "has 10 bytes, expected 12");
    req.path = NULL;
    req.data = NULL;
    req.size = 5;
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_INVALID_ARG, "no data and no path");
    CHECK(!res.url && !res.uploadid && !res.fileid);
}

NBT_CASE(upload_unreadable_file) { run(unreadable_body, 0, 0, NULL); }

static void upload_down_body(void)
{
    char sha[65], want[128];
    snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d/", free_port());
    nb_upload_request req = mem_req("x.bin", (const uint8_t *)"x", 1, sha);
    nb_upload_result res = {0};
    /* The trailing slash of the base URL is not doubled. */
    snprintf(want, sizeof want, "upload: POST %supload: ", E.base);
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_HTTP, want);
    CHECK(strstr(nb_last_error(), "onnect"));
    snprintf(want, sizeof want, "upload: PUT %s", E.base);
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_HTTP, want);
    CHECK(!res.url && res.status == 0);
}

NBT_CASE(upload_server_down) { run(upload_down_body, -1, 0, NULL); }

/* A server that reads a little of the request, then resets the connection (no answer). */
typedef struct resetter {
    int listen_fd;
    int accepted;
} resetter;

static void *reset_main(void *arg)
{
    resetter *r = arg;
    struct timeval tv = {5, 0};
    setsockopt(r->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int fd = accept(r->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    r->accepted = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[16384];
    size_t got = 0;
    ssize_t n;
    while (got < 64 * 1024 && (n = recv(fd, buf, sizeof buf, 0)) > 0)
        got += (size_t)n;
    struct linger lg = {1, 0}; /* close with RST: what is unread and in flight is lost */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return NULL;
}

static void upload_reset_body(void)
{
    resetter r = {socket(AF_INET, SOCK_STREAM, 0), 0};
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(r.listen_fd >= 0);
    bool up = bind(r.listen_fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(r.listen_fd, 4) == 0 &&
              getsockname(r.listen_fd, (struct sockaddr *)&a, &alen) == 0;
    pthread_t t;
    if (!up || pthread_create(&t, NULL, reset_main, &r) != 0) {
        close(r.listen_fd);
        CHECK(false);
    }
    snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    const size_t n = 900 * 1000; /* under the Expect threshold: the body is on its way */
    uint8_t *bytes = make_bytes(n, 5);
    char sha[65];
    nb_upload_request req = mem_req("cut.bin", bytes, n, sha);
    nb_upload_result res = {0};
    nb_status s = nb_upload_put(&req, &res, NULL);
    pthread_join(t, NULL);
    close(r.listen_fd);
    free(bytes);
    CHECK(r.accepted);
    CHECK_FAIL(s, NB_HTTP, "the server closed the connection during the upload and may have "
                           "refused its size (900000 bytes)");
    CHECK(!res.url);
}

NBT_CASE(upload_server_closes) { run(upload_reset_body, -1, 0, NULL); }

static void bad_args_body(void)
{
    char sha[65];
    nb_upload_request req = mem_req("x", (const uint8_t *)"x", 1, sha);
    nb_upload_result res = {0};
    CHECK_FAIL(nb_upload_plik(NULL, &res, NULL), NB_INVALID_ARG, "upload: NULL");
    CHECK_FAIL(nb_upload_put(&req, NULL, NULL), NB_INVALID_ARG, "upload: NULL");
    req.dataname = "";
    CHECK_FAIL(nb_upload_put(&req, &res, NULL), NB_INVALID_ARG, "dataname");
    req.dataname = NULL;
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_INVALID_ARG, "dataname");
    req.dataname = "x";
    req.fileserver_url = NULL;
    CHECK_FAIL(nb_upload_plik(&req, &res, NULL), NB_INVALID_ARG, "fileserver_url");

    uint8_t *data = (uint8_t *)"junk";
    size_t len = 5;
    CHECK_FAIL(nb_download_http(NULL, &data, &len, NULL), NB_INVALID_ARG, "download: NULL");
    CHECK(!data && len == 0);
    nb_download_request d = dl_req(NULL);
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_INVALID_ARG, "download: NULL");
    d.url = "http://127.0.0.1:1/x";
    CHECK_FAIL(nb_download_http(&d, NULL, &len, NULL), NB_INVALID_ARG, "NULL data or len");
    CHECK_FAIL(nb_download_http(&d, &data, NULL, NULL), NB_INVALID_ARG, "NULL data or len");
    d.max_retries = -1;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_INVALID_ARG, "negative");
    d.max_retries = 1;
    d.deadline_ms = -1;
    CHECK_FAIL(nb_download_http(&d, &data, &len, NULL), NB_INVALID_ARG, "negative");
    /* The .part file cannot be created: an I/O error, not retried. */
    d.deadline_ms = 0;
    d.path = "/nonexistent/dir/out.bin";
    d.url = "http://127.0.0.1:1/x";
    CHECK_FAIL(nb_download_http(&d, NULL, NULL, NULL), NB_IO, "cannot create '/nonexistent/dir/out.bin.part'");
}

NBT_CASE(bad_arguments) { run(bad_args_body, -1, 0, NULL); }

static void parallel_body(void)
{
    pthread_t t[6];
    worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i].id = i;
        w[i].ok = false;
        CHECK(pthread_create(&t[i], NULL, parallel_worker, &w[i]) == 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++)
        CHECK(w[i].ok);
}

NBT_CASE(parallel_transfers) { run(parallel_body, 0, 0, NULL); }

static const nbt_case cases[] = {
    NBT_ENTRY(plik_memory_roundtrip),   NBT_ENTRY(plik_empty_roundtrip),
    NBT_ENTRY(plik_5mb_roundtrip),      NBT_ENTRY(progress_reported),      NBT_ENTRY(plik_file_roundtrip),
    NBT_ENTRY(put_roundtrip),           NBT_ENTRY(put_file_roundtrip),
    NBT_ENTRY(unusual_datanames),       NBT_ENTRY(stream_50mb_rss),
    NBT_ENTRY(parallel_transfers),
    NBT_ENTRY(not_found_fails_at_once), NBT_ENTRY(server_down_gives_up),
    NBT_ENTRY(server_down_then_up),     NBT_ENTRY(max_bytes_cap),
    NBT_ENTRY(deadline_between_attempts), NBT_ENTRY(deadline_stalled_server),
    NBT_ENTRY(non_http_refused),        NBT_ENTRY(upload_413),
    NBT_ENTRY(upload_bearer_token),     NBT_ENTRY(upload_token_not_required),
    NBT_ENTRY(upload_unreadable_file),
    NBT_ENTRY(upload_server_down),      NBT_ENTRY(upload_server_closes),      NBT_ENTRY(bad_arguments),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
