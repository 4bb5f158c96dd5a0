/* SPDX-License-Identifier: MIT */
/*
 * test_objstore.c - the Object Store API (ADR-20 over JetStream) against a
 * real nats-server, with nats.js (views.os) as the other client: what one
 * puts the other gets, with the same SHA-256, at the sizes that matter
 * (empty, one byte, exactly one chunk, many chunks). Corruption, delete,
 * TTL, names and bad input.
 */
#include "os_fixture.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MB10 (10u * 1024 * 1024)

/* Opens (creating) bucket on E.client, tracked by the caller. */
static nb_objstore *bucket(const char *name)
{
    nb_objstore *os = NULL;
    nb_objstore_config cfg = {.bucket = name};
    if (nb_objstore_create(&os, E.client, &cfg) != NB_OK)
        fprintf(stderr, "create bucket %s: %s\n", name, nb_last_error());
    return os;
}

/* ---- C puts, nats.js gets ------------------------------------------------ */

static void c_put_js_get(uint64_t size)
{
    char src[512], dst[512], hex[65];
    os_path(src, "src.bin");
    os_path(dst, "dst.bin");
    CHECK(os_fill_file(src, size, 7));
    os_sha_file(src, hex);
    nb_objstore *os = bucket("INTEROP");
    CHECK(os);
    nb_object_info info = {0};
    nb_status s = nb_objstore_put_file(os, "blob.bin", src, &info);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK(info.size == size);
    CHECK(info.chunks == (size + 131071) / 131072);
    CHECK(strncmp(info.digest, "SHA-256=", 8) == 0 && strlen(info.digest) == 52);
    js_result r;
    bool ok = os_js("get", "INTEROP", "blob.bin", dst, &r);
    char digest[80];
    snprintf(digest, sizeof digest, "%s", info.digest);
    nb_object_info_clear(&info);
    CHECK(ok);
    CHECK(r.size == size);
    CHECK_STR(r.sha256, hex);
    CHECK_STR(r.digest, digest);
}

OS_CASE(c_put_js_get_0) { c_put_js_get(0); }
OS_CASE(c_put_js_get_1) { c_put_js_get(1); }
OS_CASE(c_put_js_get_131072) { c_put_js_get(131072); }
OS_CASE(c_put_js_get_10mb) { c_put_js_get(MB10); }

/* ---- nats.js puts, C gets ------------------------------------------------ */

static void js_put_c_get(uint64_t size)
{
    char src[512], dst[512], hex[65], got[65];
    os_path(src, "src.bin");
    os_path(dst, "dst.bin");
    CHECK(os_fill_file(src, size, 11));
    os_sha_file(src, hex);
    js_result r;
    CHECK(os_js("put", "INTEROP", "from js", src, &r));
    CHECK_STR(r.sha256, hex);
    nb_objstore *os = NULL;
    CHECK_OK(nb_objstore_open(&os, E.client, "INTEROP"));
    nb_object_info info = {0};
    nb_status s = nb_objstore_get_info(os, "from js", &info);
    if (s == NB_OK)
        s = nb_objstore_get_file(os, "from js", dst);
    nb_objstore_destroy(os);
    bool same_digest = info.digest && strcmp(info.digest, r.digest) == 0;
    uint64_t info_size = info.size;
    nb_object_info_clear(&info);
    CHECK_OK(s);
    CHECK(same_digest);
    CHECK(info_size == size);
    os_sha_file(dst, got);
    CHECK_STR(got, hex);
}

OS_CASE(js_put_c_get_0) { js_put_c_get(0); }
OS_CASE(js_put_c_get_1) { js_put_c_get(1); }
OS_CASE(js_put_c_get_131072) { js_put_c_get(131072); }
OS_CASE(js_put_c_get_10mb) { js_put_c_get(MB10); }

/* ---- names -------------------------------------------------------------- */

/*
 * The meta subject is the name's UTF-8 bytes in padded base64url, as nats.go
 * writes it (nats.c 3.11 forgot the padding). nats.js 2.29 reads ASCII names
 * the same way, but encodes a non-ASCII name as Latin-1 (btoa), so only the
 * ASCII name is checked against it.
 */
OS_CASE(name_encoding)
{
    static const char utf8[] = "dir/\xc3\xbcn\xc3\xaf c\xc3\xb6" "d\xc3\xa9?>.bin";
    static const char ascii[] = "dir/a b?>~.bin";
    nb_objstore *os = bucket("NAMES");
    CHECK(os);
    nb_status s = nb_objstore_put_bytes(os, utf8, "x", 1, NULL);
    if (s == NB_OK)
        s = nb_objstore_put_bytes(os, ascii, "yz", 2, NULL);
    if (s == NB_OK)
        s = nb_objstore_put_bytes(os, "a", "y", 1, NULL);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    jsCtx *js = os_raw_js();
    CHECK(js);
    natsMsg *m1 = NULL, *m2 = NULL, *m3 = NULL;
    natsStatus n1 = js_GetLastMsg(&m1, js, "OBJ_NAMES", "$O.NAMES.M.ZGlyL8O8bsOvIGPDtmTDqT8-LmJpbg==",
                                  NULL, NULL);
    natsStatus n2 = js_GetLastMsg(&m2, js, "OBJ_NAMES", "$O.NAMES.M.YQ==", NULL, NULL);
    natsStatus n3 = js_GetLastMsg(&m3, js, "OBJ_NAMES", "$O.NAMES.M.ZGlyL2EgYj8-fi5iaW4=", NULL, NULL);
    const char *rollup = NULL;
    if (m1)
        natsMsgHeader_Get(m1, "Nats-Rollup", &rollup);
    bool no_mtime = m1 && !strstr(natsMsg_GetData(m1), "mtime");
    bool rolled = rollup && strcmp(rollup, "sub") == 0;
    natsMsg_Destroy(m1);
    natsMsg_Destroy(m2);
    natsMsg_Destroy(m3);
    jsCtx_Destroy(js);
    CHECK(n1 == NATS_OK && n2 == NATS_OK && n3 == NATS_OK);
    CHECK(rolled);
    CHECK(no_mtime);
    /* and nats.js finds the ASCII one under its name */
    char dst[512];
    os_path(dst, "dst.bin");
    js_result r;
    CHECK(os_js("get", "NAMES", ascii, dst, &r));
    CHECK(r.size == 2);
}

OS_CASE(bad_bucket_names)
{
    static const char *const bad[] = {"", "a.b", "a b", "x*", "y>", "$O", "\xc3\xbc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_objstore *os = NULL;
        nb_objstore_config cfg = {.bucket = bad[i]};
        CHECK_FAIL(nb_objstore_create(&os, E.client, &cfg), NB_INVALID_ARG, "bucket name");
        CHECK(os == NULL);
        if (*bad[i])
            CHECK(strstr(nb_last_error(), bad[i]));
        CHECK_FAIL(nb_objstore_open(&os, E.client, bad[i]), NB_INVALID_ARG, "bucket name");
    }
    nb_objstore *os = NULL;
    CHECK_FAIL(nb_objstore_open(&os, E.client, "MISSING"), NB_NOT_FOUND, "bucket 'MISSING' not found");
    CHECK_FAIL(nb_objstore_delete_bucket(E.client, "MISSING"), NB_NOT_FOUND, "bucket 'MISSING' not found");
    CHECK_FAIL(nb_objstore_create(&os, E.client, NULL), NB_INVALID_ARG, "config is NULL");
    nb_objstore_config neg = {.bucket = "B", .ttl_ms = -1};
    CHECK_FAIL(nb_objstore_create(&os, E.client, &neg), NB_INVALID_ARG, "ttl_ms");
    nb_objstore_config reps = {.bucket = "B", .replicas = 9};
    CHECK_FAIL(nb_objstore_create(&os, E.client, &reps), NB_INVALID_ARG, "replicas 9");
    CHECK_FAIL(nb_objstore_create(&os, NULL, &(nb_objstore_config){.bucket = "B"}), NB_INVALID_ARG,
               "client is NULL");
}

OS_CASE(bad_object_names)
{
    nb_objstore *os = bucket("B");
    CHECK(os);
    uint8_t *data = NULL;
    size_t len = 0;
    nb_status s1 = nb_objstore_put_bytes(os, "", "x", 1, NULL);
    char e1[512];
    snprintf(e1, sizeof e1, "%s", nb_last_error());
    nb_status s2 = nb_objstore_put_bytes(os, "bad\xff", "x", 1, NULL);
    char e2[512];
    snprintf(e2, sizeof e2, "%s", nb_last_error());
    nb_status s3 = nb_objstore_get_bytes(os, NULL, 0, &data, &len);
    nb_status s4 = nb_objstore_set_idle_timeout(os, 0);
    nb_status s5 = nb_objstore_set_max_in_flight(os, 0);
    nb_status s6 = nb_objstore_put_file(os, "f", "/nonexistent/file", NULL);
    char e6[512];
    snprintf(e6, sizeof e6, "%s", nb_last_error());
    nb_objstore_destroy(os);
    CHECK(s1 == NB_INVALID_ARG && strstr(e1, "object name is empty"));
    CHECK(s2 == NB_INVALID_ARG && strstr(e2, "not valid UTF-8"));
    CHECK(s3 == NB_INVALID_ARG && data == NULL);
    CHECK(s4 == NB_INVALID_ARG && s5 == NB_INVALID_ARG);
    CHECK(s6 == NB_IO && strstr(e6, "/nonexistent/file"));
}

/* ---- integrity ------------------------------------------------------------ */

/* Re-publishes the chunks of info's object, the second one with a byte flipped. */
static bool corrupt_chunks(const nb_object_info *info, const uint8_t *data, size_t len, bool extra)
{
    jsCtx *js = os_raw_js();
    if (!js)
        return false;
    char subject[200];
    snprintf(subject, sizeof subject, "$O.CORRUPT.C.%s", info->nuid);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Purge.Subject = subject;
    bool ok = js_PurgeStream(js, "OBJ_CORRUPT", &jo, NULL) == NATS_OK;
    uint8_t *copy = malloc(len + 1);
    ok = ok && copy;
    if (ok) {
        memcpy(copy, data, len);
        copy[len] = 0x5a;
        if (!extra)
            copy[131072 + 17] ^= 0x01;
    }
    for (size_t off = 0; ok && off < len; off += 131072) {
        size_t n = len - off < 131072 ? len - off : 131072;
        if (extra && off + n == len)
            n++; /* one byte more than the info says */
        ok = js_Publish(NULL, js, subject, copy + off, (int)n, NULL, NULL) == NATS_OK;
    }
    free(copy);
    jsCtx_Destroy(js);
    return ok;
}

OS_CASE(corrupted_chunk)
{
    size_t len = 3 * 131072 + 5;
    uint8_t *data = malloc(len);
    CHECK(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    nb_objstore *os = bucket("CORRUPT");
    nb_object_info info = {0};
    nb_status s = os ? nb_objstore_put_bytes(os, "obj", data, len, &info) : NB_INTERNAL;
    bool flipped = s == NB_OK && corrupt_chunks(&info, data, len, false);
    uint8_t *got = NULL;
    size_t got_len = 0;
    nb_status g = flipped ? nb_objstore_get_bytes(os, "obj", 0, &got, &got_len) : NB_INTERNAL;
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    char path[512], part[520];
    os_path(path, "corrupt.bin");
    snprintf(part, sizeof part, "%s.part", path);
    nb_status gf = flipped ? nb_objstore_get_file(os, "obj", path) : NB_INTERNAL;
    bool no_file = access(path, F_OK) != 0 && access(part, F_OK) != 0;
    bool longer = flipped && corrupt_chunks(&info, data, len, true);
    nb_status g2 = longer ? nb_objstore_get_bytes(os, "obj", 0, &got, &got_len) : NB_INTERNAL;
    char err2[1024];
    snprintf(err2, sizeof err2, "%s", nb_last_error());
    nb_object_info_clear(&info);
    nb_objstore_destroy(os);
    free(data);
    CHECK_OK(s);
    CHECK(flipped && longer);
    CHECK(g == NB_INTEGRITY && got == NULL);
    CHECK(strstr(err, "received a corrupt object, digests do not match"));
    CHECK(strstr(err, "'obj'") && strstr(err, "'CORRUPT'"));
    CHECK(g2 == NB_INTEGRITY && strstr(err2, "more bytes than its size"));
    CHECK(gf == NB_INTEGRITY && no_file);
}

OS_CASE(size_cap)
{
    nb_objstore *os = bucket("CAP");
    CHECK(os);
    static const char text[] = "0123456789";
    uint8_t *got = NULL;
    size_t len = 0;
    nb_status s = nb_objstore_put_bytes(os, "ten", text, 10, NULL);
    nb_status g = s == NB_OK ? nb_objstore_get_bytes(os, "ten", 9, &got, &len) : NB_INTERNAL;
    char err[512];
    snprintf(err, sizeof err, "%s", nb_last_error());
    nb_status g2 = s == NB_OK ? nb_objstore_get_bytes(os, "ten", 10, &got, &len) : NB_INTERNAL;
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK(g == NB_TOO_LARGE && strstr(err, "over the cap of 9"));
    CHECK(g2 == NB_OK && len == 10 && memcmp(got, text, 10) == 0 && got[10] == '\0');
    free(got);
}

/* ---- lifecycle ------------------------------------------------------------ */

static uint64_t stream_state(const char *stream, bool consumers)
{
    jsCtx *js = os_raw_js();
    jsStreamInfo *si = NULL;
    uint64_t n = UINT64_MAX;
    if (js && js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK)
        n = consumers ? (uint64_t)si->State.Consumers : si->State.Msgs;
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return n;
}

static uint64_t stream_msgs(const char *stream) { return stream_state(stream, false); }

OS_CASE(delete_then_get)
{
    nb_objstore *os = bucket("DEL");
    CHECK(os);
    uint8_t buf[300000];
    memset(buf, 'q', sizeof buf);
    nb_status s = nb_objstore_put_bytes(os, "gone", buf, sizeof buf, NULL);
    uint64_t before = stream_msgs("OBJ_DEL");
    nb_status d = s == NB_OK ? nb_objstore_delete(os, "gone") : NB_INTERNAL;
    uint64_t after = stream_msgs("OBJ_DEL");
    nb_object_info info = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    nb_status i = nb_objstore_get_info(os, "gone", &info);
    char ei[512];
    snprintf(ei, sizeof ei, "%s", nb_last_error());
    nb_status g = nb_objstore_get_bytes(os, "gone", 0, &data, &len);
    char eg[512];
    snprintf(eg, sizeof eg, "%s", nb_last_error());
    nb_status d2 = nb_objstore_delete(os, "gone");
    nb_status never = nb_objstore_get_info(os, "never", &info);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK_OK(d);
    CHECK(before == 4 && after == 1); /* 3 chunks + info, then the tombstone alone */
    CHECK(i == NB_NOT_FOUND && strstr(ei, "object 'gone' in bucket 'DEL' not found"));
    CHECK(g == NB_NOT_FOUND && strstr(eg, "not found") && data == NULL);
    CHECK(d2 == NB_NOT_FOUND && never == NB_NOT_FOUND);
    /* nats.js agrees */
    char dst[512];
    os_path(dst, "dst.bin");
    js_result r;
    CHECK(!os_js("get", "DEL", "gone", dst, &r));
    CHECK(strstr(r.output, "not found"));
}

OS_CASE(replace_purges_old_chunks)
{
    nb_objstore *os = bucket("REPL");
    CHECK(os);
    uint8_t buf[200000];
    memset(buf, 'a', sizeof buf);
    nb_object_info a = {0}, b = {0};
    nb_status s1 = nb_objstore_put_bytes(os, "x", buf, sizeof buf, &a);
    memset(buf, 'b', sizeof buf);
    nb_status s2 = nb_objstore_put_bytes(os, "x", buf, 100, &b);
    uint64_t msgs = stream_msgs("OBJ_REPL");
    uint8_t *data = NULL;
    size_t len = 0;
    nb_status g = nb_objstore_get_bytes(os, "x", 0, &data, &len);
    bool fresh_nuid = a.nuid && b.nuid && strcmp(a.nuid, b.nuid) != 0;
    nb_object_info_clear(&a);
    nb_object_info_clear(&b);
    nb_objstore_destroy(os);
    CHECK_OK(s1);
    CHECK_OK(s2);
    CHECK_OK(g);
    CHECK(fresh_nuid);
    CHECK(msgs == 2); /* one chunk and one info: the old two chunks and info are gone */
    CHECK(len == 100 && data[0] == 'b');
    free(data);
}

OS_CASE(ttl_bucket_config)
{
    nb_objstore *os = NULL;
    nb_objstore_config cfg = {.bucket = "TTL", .description = "claim checks", .ttl_ms = 90000,
                              .memory_storage = true, .max_bytes = 50 * 1024 * 1024};
    CHECK_OK(nb_objstore_create(&os, E.client, &cfg));
    nb_objstore_destroy(os);
    os = NULL;
    /* an existing bucket is used as it is */
    CHECK_OK(nb_objstore_create(&os, E.client, &(nb_objstore_config){.bucket = "TTL"}));
    nb_objstore_destroy(os);
    jsCtx *js = os_raw_js();
    CHECK(js);
    jsStreamInfo *si = NULL;
    natsStatus ns = js_GetStreamInfo(&si, js, "OBJ_TTL", NULL, NULL);
    jsCtx_Destroy(js);
    CHECK(ns == NATS_OK);
    jsStreamConfig *c = si->Config;
    bool ok = c->MaxAge == 90000LL * 1000000 && c->Storage == js_MemoryStorage &&
              c->Discard == js_DiscardNew && c->AllowRollup && c->AllowDirect &&
              c->MaxBytes == 50 * 1024 * 1024 && c->SubjectsLen == 2 &&
              strcmp(c->Subjects[0], "$O.TTL.C.>") == 0 && strcmp(c->Subjects[1], "$O.TTL.M.>") == 0 &&
              c->Description && strcmp(c->Description, "claim checks") == 0;
    jsStreamInfo_Destroy(si);
    CHECK(ok);
    CHECK_OK(nb_objstore_delete_bucket(E.client, "TTL"));
    CHECK_FAIL(nb_objstore_open(&os, E.client, "TTL"), NB_NOT_FOUND, "not found");
}

/* Objects older than the TTL are gone: the server removes them (bounded wait). */
OS_CASE(ttl_expires_objects)
{
    nb_objstore *os = NULL;
    CHECK_OK(nb_objstore_create(&os, E.client, &(nb_objstore_config){.bucket = "SHORT", .ttl_ms = 1000}));
    nb_status s = nb_objstore_put_bytes(os, "brief", "abc", 3, NULL);
    nb_object_info info = {0};
    nb_status found = nb_objstore_get_info(os, "brief", &info);
    nb_object_info_clear(&info);
    nb_status later = NB_OK;
    for (int i = 0; i < 100 && later == NB_OK; i++) { /* up to 10 s */
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        later = nb_objstore_get_info(os, "brief", &info);
        nb_object_info_clear(&info);
    }
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK_OK(found);
    CHECK(later == NB_NOT_FOUND && strstr(nb_last_error(), "not found"));
}

/* ---- streaming ------------------------------------------------------------ */

typedef struct trickle {
    uint64_t left;
    uint8_t next;
} trickle;

/* Hands out 1000 bytes at a time at most: put must fill whole chunks itself. */
static nb_status read_trickle(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    trickle *t = closure;
    size_t n = cap < 1000 ? cap : 1000;
    if (n > t->left)
        n = (size_t)t->left;
    for (size_t i = 0; i < n; i++)
        buf[i] = t->next++;
    t->left -= n;
    *got = n;
    return NB_OK;
}

typedef struct checker {
    uint64_t seen;
    uint8_t next;
    bool ok;
    size_t calls;
} checker;

static nb_status write_check(void *closure, const uint8_t *buf, size_t n)
{
    checker *c = closure;
    for (size_t i = 0; i < n; i++)
        c->ok = c->ok && buf[i] == c->next++;
    c->seen += n;
    c->calls++;
    return NB_OK;
}

static nb_status write_refuse(void *closure, const uint8_t *buf, size_t n)
{
    (void)closure, (void)buf, (void)n;
    return NB_IO;
}

static nb_status read_fail(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    trickle *t = closure;
    if (t->left == 0)
        return NB_IO;
    return read_trickle(closure, buf, cap, got);
}

OS_CASE(stream_callbacks)
{
    nb_objstore *os = bucket("STREAM");
    CHECK(os);
    trickle t = {1000003, 0};
    nb_object_info info = {0};
    nb_status s = nb_objstore_put(os, "t", read_trickle, &t, &info);
    checker c = {0, 0, true, 0};
    nb_object_info got = {0};
    nb_status g = s == NB_OK ? nb_objstore_get(os, "t", write_check, &c, &got) : NB_INTERNAL;
    nb_status w = nb_objstore_get(os, "t", write_refuse, NULL, NULL);
    /* a reader failing midway leaves no chunks behind */
    trickle bad = {400000, 0};
    uint64_t before = stream_msgs("OBJ_STREAM");
    nb_status f = nb_objstore_put(os, "half", read_fail, &bad, NULL);
    char ef[512];
    snprintf(ef, sizeof ef, "%s", nb_last_error());
    uint64_t after = stream_msgs("OBJ_STREAM");
    uint64_t consumers = stream_state("OBJ_STREAM", true); /* every get removed its consumer */
    bool same = info.digest && got.digest && strcmp(info.digest, got.digest) == 0;
    nb_object_info_clear(&info);
    nb_object_info_clear(&got);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK_OK(g);
    CHECK(c.ok && c.seen == 1000003 && c.calls == 8);
    CHECK(same);
    CHECK(w == NB_IO);
    CHECK(f == NB_IO && strstr(ef, "'half'"));
    CHECK(before == after);
    CHECK(consumers == 0);
}

/* A bucket too small for the object: the server refuses chunks, the partial object is purged. */
OS_CASE(put_refused_is_purged)
{
    nb_objstore *os = NULL;
    CHECK_OK(nb_objstore_create(&os, E.client,
                                &(nb_objstore_config){.bucket = "SMALL", .max_bytes = 300000}));
    uint8_t *buf = calloc(1, 1000000);
    nb_status s = buf ? nb_objstore_put_bytes(os, "big", buf, 1000000, NULL) : NB_NO_MEMORY;
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    nb_object_info info = {0};
    nb_status i = nb_objstore_get_info(os, "big", &info);
    nb_objstore_destroy(os);
    free(buf);
    CHECK(s == NB_NATS);
    CHECK(strstr(err, "put 'big' into bucket 'SMALL'"));
    CHECK(i == NB_NOT_FOUND);
    CHECK(stream_msgs("OBJ_SMALL") == 0);
}

typedef struct progress_log {
    size_t calls;
    uint64_t done, total;
    bool named;
} progress_log;

static void on_progress(const char *dataname, uint64_t done, uint64_t total, void *closure)
{
    progress_log *p = closure;
    p->calls++;
    p->done = done;
    p->total = total;
    p->named = p->named || strcmp(dataname, "p") == 0;
}

OS_CASE(progress_reported)
{
    nb_objstore *os = bucket("PROG");
    CHECK(os);
    progress_log put = {0}, get = {0};
    uint8_t *buf = calloc(1, 500000);
    nb_status s = buf ? nb_objstore_set_progress_cb(os, on_progress, &put) : NB_NO_MEMORY;
    if (s == NB_OK)
        s = nb_objstore_put_bytes(os, "p", buf, 500000, NULL);
    if (s == NB_OK)
        s = nb_objstore_set_progress_cb(os, on_progress, &get);
    uint8_t *data = NULL;
    size_t len = 0;
    if (s == NB_OK)
        s = nb_objstore_get_bytes(os, "p", 0, &data, &len);
    free(buf);
    free(data);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK(put.calls == 4 && put.done == 500000 && put.total == 500000 && put.named);
    CHECK(get.calls == 5 && get.done == 500000 && get.total == 500000 && get.named);
}

/* Links made by nats.js (options.link) are followed, one level, within and across buckets. */
OS_CASE(links_followed)
{
    nb_objstore *a = bucket("LA"), *b = bucket("LB");
    nb_status s = a && b ? nb_objstore_put_bytes(a, "target", "linked bytes", 12, NULL) : NB_INTERNAL;
    js_result r;
    bool made = s == NB_OK && os_js("link", "LA", "alias", "LA/target", &r) &&
                os_js("link", "LB", "far", "LA/target", &r) &&
                os_js("linkbucket", "LB", "whole", "LA", &r);
    uint8_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0;
    nb_status g1 = made ? nb_objstore_get_bytes(a, "alias", 0, &d1, &n1) : NB_INTERNAL;
    nb_status g2 = made ? nb_objstore_get_bytes(b, "far", 0, &d2, &n2) : NB_INTERNAL;
    nb_status g3 = made ? nb_objstore_get_bytes(b, "whole", 0, &d3, &n3) : NB_INTERNAL;
    char e3[512];
    snprintf(e3, sizeof e3, "%s", nb_last_error());
    bool one = g1 == NB_OK && n1 == 12 && memcmp(d1, "linked bytes", 12) == 0;
    bool two = g2 == NB_OK && n2 == 12 && memcmp(d2, "linked bytes", 12) == 0;
    free(d1);
    free(d2);
    free(d3);
    nb_objstore_destroy(a);
    nb_objstore_destroy(b);
    CHECK_OK(s);
    CHECK(made);
    CHECK(one && two);
    CHECK(g3 == NB_INVALID_ARG && strstr(e3, "links to the whole bucket 'LA'"));
}

static nb_status write_slowly(void *closure, const uint8_t *buf, size_t n)
{
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return write_check(closure, buf, n);
}

/*
 * The idle timeout bounds the wait for each request, not the whole get
 * (nats.go#1003): a writer slower than it in total still gets everything.
 * Also one chunk in flight at a time on the put.
 */
OS_CASE(slow_writer_no_deadline)
{
    nb_objstore *os = bucket("SLOW");
    CHECK(os);
    trickle t = {64 * 131072, 0};
    nb_status s = nb_objstore_set_max_in_flight(os, 1);
    if (s == NB_OK)
        s = nb_objstore_put(os, "slow", read_trickle, &t, NULL);
    if (s == NB_OK)
        s = nb_objstore_set_idle_timeout(os, 500);
    checker c = {0, 0, true, 0};
    if (s == NB_OK)
        s = nb_objstore_get(os, "slow", write_slowly, &c, NULL); /* ~2 s of writing */
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK(c.ok && c.seen == 64 * 131072);
}

/* A pipe fed by another thread: put_fd streams until the writer closes it. */
static void *feed_pipe(void *arg)
{
    int fd = *(int *)arg;
    uint8_t block[4096];
    uint8_t next = 0;
    for (int i = 0; i < 100; i++) { /* 409600 bytes */
        for (size_t j = 0; j < sizeof block; j++)
            block[j] = next++;
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            break;
    }
    close(fd);
    return NULL;
}

OS_CASE(put_from_pipe)
{
    nb_objstore *os = bucket("PIPE");
    CHECK(os);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, feed_pipe, &fds[1]) == 0);
    nb_object_info info = {0};
    nb_status s = nb_objstore_put_fd(os, "piped", fds[0], &info);
    pthread_join(t, NULL);
    close(fds[0]);
    checker c = {0, 0, true, 0};
    nb_status g = s == NB_OK ? nb_objstore_get(os, "piped", write_check, &c, NULL) : NB_INTERNAL;
    nb_status bad = nb_objstore_put_fd(os, "x", -1, NULL);
    uint64_t size = info.size;
    nb_object_info_clear(&info);
    nb_objstore_destroy(os);
    CHECK_OK(s);
    CHECK_OK(g);
    CHECK(size == 409600 && c.ok && c.seen == 409600);
    CHECK(bad == NB_INVALID_ARG);
}

static const nbt_case cases[] = {
    NBT_ENTRY(c_put_js_get_0),   NBT_ENTRY(c_put_js_get_1),
    NBT_ENTRY(c_put_js_get_131072), NBT_ENTRY(c_put_js_get_10mb),
    NBT_ENTRY(js_put_c_get_0),   NBT_ENTRY(js_put_c_get_1),
    NBT_ENTRY(js_put_c_get_131072), NBT_ENTRY(js_put_c_get_10mb),
    NBT_ENTRY(name_encoding),    NBT_ENTRY(bad_bucket_names),
    NBT_ENTRY(bad_object_names), NBT_ENTRY(corrupted_chunk),
    NBT_ENTRY(size_cap),         NBT_ENTRY(delete_then_get),
    NBT_ENTRY(replace_purges_old_chunks), NBT_ENTRY(ttl_bucket_config),
    NBT_ENTRY(ttl_expires_objects), NBT_ENTRY(stream_callbacks),
    NBT_ENTRY(put_refused_is_purged), NBT_ENTRY(progress_reported),
    NBT_ENTRY(links_followed), NBT_ENTRY(slow_writer_no_deadline),
    NBT_ENTRY(put_from_pipe),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
