/* SPDX-License-Identifier: MIT */
/*
 * test_link_nats.c - link (claim-check) payloads end to end through a real
 * nats-server and the real built-in file server (in process, port 0, its
 * directory in the case's temp dir): every type by link, direct and link
 * mixed, the threshold edges, fan-out, the file server restarting or gone,
 * files deleted, corrupted or truncated on the server, the origin allowlist,
 * the download cap, both upload handlers, the server's size limit and bearer
 * token, streaming 20 MB to disk, and progress reports; also a send that
 * fails cleanly when no file server answers and links not fetched on request.
 */
#include "integ.h"

#include "integrity.h"

#include <curl/curl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

CASE(threshold_without_fileserver, 0)
{
    /* Payloads at or over 10 bytes go by link, and no file server listens: the send must
     * fail as a whole, and nothing may be published. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_size_threshold(o, 10));
    CHECK_OK(nb_options_set_fileserver_url(o, url));
    nb_client *a = connect_with(o);
    nb_subscription *s = sub_sync(new_client(), "/linked", NULL);
    CHECK(a && s);

    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, text_payload("small", "tiny")));
    CHECK(add(e, text_payload("large", "a text of more than ten bytes, so it must go by link")));
    int64_t t0 = now_ms();
    nb_status st = nb_client_send(a, "/linked", e);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "note: link send without file server: %s: %s (%lld ms)\n",
            nb_status_text(st), nb_last_error(), (long long)took);
    CHECK(st != NB_OK);
    CHECK(nb_last_error()[0] != '\0');
    CHECK(took < 10000);
    nb_envelope *none = NULL;
    CHECK_FAILS(nb_subscription_next(s, 300, &none), NB_TIMEOUT);

    /* Payloads under the threshold still go direct on the same client. */
    nb_envelope *got = send_and_next(a, s, "/linked", env_text("s", "under10"));
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "s", NB_TYPE_TEXT, "under10", 7));
}

/* ------------------------------------------------------------------------ */
/* Link payloads through the built-in file server                           */
/* ------------------------------------------------------------------------ */

/* The file server of the current case: its directory and base URL (see fs_start). */
static char fs_dir[300];
static char fs_url[64];

/* A config for this case's file server directory (DIR/files) on port. */
static nb_fileserver_config fs_config(int port, uint64_t max_size, const char *token)
{
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .port = port, .dir = fs_dir,
                                .max_size = max_size, .token = token, .quiet = true};
    return cfg;
}

/* Starts nb_fileserver (T.fs) on a free port over DIR/files; sets fs_dir and fs_url. */
static bool fs_start(uint64_t max_size, const char *token)
{
    const char *dir = case_dir();
    REQUIRE(dir);
    snprintf(fs_dir, sizeof fs_dir, "%s/files", dir);
    nb_fileserver_config cfg = fs_config(0, max_size, token);
    REQUIRE_OK(nb_fileserver_start(&T.fs, &cfg));
    snprintf(fs_url, sizeof fs_url, "http://127.0.0.1:%d", nb_fileserver_port(T.fs));
    return true;
}

/* Starts nb_fileserver on a free port; url gets its base URL. */
static bool start_fileserver(char *url, size_t urlsz)
{
    REQUIRE(fs_start(0, NULL));
    snprintf(url, urlsz, "%s", fs_url);
    return true;
}

static nb_options *fileserver_opts(const char *url, size_t threshold)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_fileserver_url(o, url) != NB_OK ||
        nb_options_set_size_threshold(o, threshold) != NB_OK) {
        fprintf(stderr, "fileserver_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

CASE(link_via_fileserver, 0)
{
    static uint8_t bytes[300000];
    fill_bytes(bytes, sizeof bytes, 33);
    char url[64];
    CHECK(start_fileserver(url, sizeof url));
    nb_client *a = connect_with(fileserver_opts(url, 1000));
    nb_subscription *s = sub_sync(connect_with(fileserver_opts(url, 1000)), "/link", NULL);
    CHECK(a && s);

    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, text_payload("note", "small: direct")));
    CHECK(add(e, bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes)));
    nb_envelope *got = send_and_next(a, s, "/link", e);
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "note", NB_TYPE_TEXT, "small: direct", 13));
    const nb_payload *p = nb_envelope_payload(got, 1);
    CHECK(p && nb_payload_transport(p) == NB_TRANSPORT_LINK);
    CHECK(nb_payload_url(p) && strncmp(nb_payload_url(p), url, strlen(url)) == 0);
    CHECK(nb_payload_size(p) == sizeof bytes);
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    CHECK(data && len == sizeof bytes && memcmp(data, bytes, len) == 0);
    char hex[65];
    CHECK_OK(nb_payload_sha256_hex(p, hex));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(nb_payload_metadata(p), "sha256")), hex);
    /* The envelope itself stayed small. */
    CHECK(nb_envelope_json(got, &len) && len < 5000);
}

CASE(link_origin_not_allowed, 0)
{
    /* The receiver trusts only its own file server (the default http://localhost:8080):
     * a URL elsewhere is refused before anything is downloaded. */
    static uint8_t bytes[5000];
    fill_bytes(bytes, sizeof bytes, 44);
    char url[64];
    CHECK(start_fileserver(url, sizeof url));
    nb_client *a = connect_with(fileserver_opts(url, 1000));
    nb_subscription *s = sub_sync(new_client(), "/link", NULL);
    CHECK(a && s);
    nb_envelope *e = env_with(bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    CHECK_OK(nb_client_send(a, "/link", e));
    nb_envelope *got = (nb_envelope *)&got;
    CHECK_FAIL(nb_subscription_next(s, 5000, &got), NB_NOT_ALLOWED, "127.0.0.1");
    CHECK(got == NULL);
    fprintf(stderr, "note: link from another origin: %s\n", nb_last_error());
}

CASE(link_fetch_off, 0)
{
    static uint8_t bytes[5000];
    fill_bytes(bytes, sizeof bytes, 55);
    char url[64];
    CHECK(start_fileserver(url, sizeof url));
    nb_options *ro = fileserver_opts(url, 1000);
    CHECK(ro);
    CHECK_OK(nb_options_set_fetch_links(ro, false));
    nb_client *a = connect_with(fileserver_opts(url, 1000));
    nb_subscription *s = sub_sync(connect_with(ro), "/link", NULL);
    CHECK(a && s);
    nb_envelope *got = send_and_next(a, s, "/link",
                                     env_with(bytes_payload("b", NB_TYPE_BINARY, bytes, 5000)));
    CHECK(got);
    const nb_payload *p = nb_envelope_payload(got, 0);
    CHECK(p && nb_payload_transport(p) == NB_TRANSPORT_LINK);
    CHECK(nb_payload_url(p) != NULL);
    CHECK(nb_payload_size(p) == 5000);
    size_t len = 1;
    CHECK(nb_payload_data(p, &len) == NULL);
}

/* ------------------------------------------------------------------------ */
/* End to end through nats-server and the built-in file server: helpers     */
/* ------------------------------------------------------------------------ */

/* Options for fs_url with this threshold and, when handler is set, this upload handler. */
static nb_options *link_opts(size_t threshold, nb_upload_fn handler, const char *token)
{
    nb_options *o = fileserver_opts(fs_url, threshold);
    if (o && handler && nb_options_set_upload_handler(o, handler, (void *)token) != NB_OK) {
        fprintf(stderr, "link_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

/* Receiver options for fs_url with a short back-off, so failures come quickly. */
static nb_options *recv_opts(int retries, int64_t base_ms, int64_t max_ms)
{
    nb_options *o = fileserver_opts(fs_url, NB_DEFAULT_SIZE_THRESHOLD);
    if (o && nb_options_set_backoff(o, retries, base_ms, max_ms) != NB_OK) {
        fprintf(stderr, "recv_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

/* A sync subscription on subject from a new client made with o. */
static nb_subscription *sub_with(const nb_options *o, const char *subject)
{
    return sub_sync(connect_with(o), subject, NULL);
}

/* metadata.sha256 of p, or NULL. */
static const char *meta_sha256(const nb_payload *p)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(nb_payload_metadata(p), "sha256"));
}

/* A received payload that came by link from fs_url with exactly these name, type and bytes. */
static bool link_payload_is(const nb_payload *p, const char *name, nb_type t, const void *data,
                            size_t n)
{
    REQUIRE(p);
    REQUIRE_STR(nb_payload_dataname(p), name);
    REQUIRE(nb_payload_type(p) == t);
    REQUIRE(nb_payload_transport(p) == NB_TRANSPORT_LINK);
    REQUIRE_STR(nb_payload_encoding(p), "none");
    REQUIRE(nb_payload_size(p) == n);
    REQUIRE(is_uuid4(nb_payload_id(p)));
    const char *url = nb_payload_url(p);
    REQUIRE(url && strncmp(url, fs_url, strlen(fs_url)) == 0 && url[strlen(fs_url)] == '/');
    size_t len = n + 1;
    const uint8_t *got = nb_payload_data(p, &len);
    REQUIRE(got && len == n && memcmp(got, data, n) == 0 && got[n] == '\0');
    char want[NBI_SHA256_HEX_LEN + 1];
    REQUIRE_OK(nbi_sha256_hex(data, n, want)); /* computed from the source, not the payload */
    REQUIRE_STR(meta_sha256(p), want);
    return true;
}

/* The URL of the i-th payload of a sent envelope (what travelled). */
static const char *sent_url(const nb_envelope *e, size_t i)
{
    const nb_payload *p = nb_envelope_payload(e, i);
    return p ? nb_payload_url(p) : NULL;
}

/* Names of the stored files in fs_dir ending in suffix; returns how many, the first in out. */
static int stored_files(const char *suffix, char *out, size_t outsz)
{
    DIR *d = opendir(fs_dir);
    if (!d)
        return -1;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0 && n++ == 0)
            snprintf(out, outsz, "%s/%s", fs_dir, de->d_name);
    }
    closedir(d);
    return n;
}

/* The one DIR/<uuid>.data file of the file server (the case stored exactly one). */
static bool the_data_file(char *out, size_t outsz)
{
    int n = stored_files(".data", out, outsz);
    if (n != 1)
        fprintf(stderr, "expected 1 stored .data file in %s, found %d\n", fs_dir, n);
    return n == 1;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* An HTTP DELETE with an optional bearer token; returns the status (0 when no answer). */
static long http_delete(const char *url, const char *token)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[256];
    long code = 0;
    if (!c)
        return 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return code;
}

/* A tracked envelope holding one binary payload of n filler bytes (seeded). */
static nb_envelope *env_bytes(const char *name, uint8_t *buf, size_t n, uint32_t seed)
{
    fill_bytes(buf, n, seed);
    return env_with(bytes_payload(name, NB_TYPE_BINARY, buf, n));
}

/* Sends env_bytes(name, buf, n, seed) from a on subject: the sent envelope (tracked), or NULL. */
static nb_envelope *send_bytes(nb_client *a, const char *subject, const char *name,
                               uint8_t *buf, size_t n, uint32_t seed)
{
    nb_envelope *e = env_bytes(name, buf, n, seed);
    REQUIRE(e);
    REQUIRE_OK(nb_client_send(a, subject, e));
    return e;
}

/* Receiver options (short back-off) saving downloads in case_dir()/sub, written to save. */
static nb_options *saving_opts(char *save, size_t savesz, const char *sub)
{
    snprintf(save, savesz, "%s/%s", case_dir(), sub);
    nb_options *o = recv_opts(2, 20, 50);
    if (o && nb_options_set_download_dir(o, save) != NB_OK) {
        fprintf(stderr, "saving_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* End to end: what arrives                                                 */
/* ------------------------------------------------------------------------ */

CASE(link_every_type, 0)
{
    /* Threshold 16: every payload below goes by link, and comes back byte for byte. */
    static const char text[] = "a text of more than sixteen bytes: h\xc3\xa9llo \xe2\x9c\x93";
    static const char dict[] = "{\"rate\":44100,\"channels\":2,\"tags\":[\"demo\",\"c\"]}";
    static uint8_t table[1500], image[4096], audio[12345], video[65537], bin[256];
    fill_bytes(table, sizeof table, 7);
    memcpy(table, "\xff\xff\xff\xff\x78\x00\x00\x00", 8); /* Arrow IPC continuation + length */
    fill_bytes(image, sizeof image, 8);
    memcpy(image, "\x89PNG\r\n\x1a\n", 8);
    fill_bytes(audio, sizeof audio, 9);
    fill_bytes(video, sizeof video, 10);
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)i; /* every byte value, NUL included */
    const struct {
        const char *name;
        nb_type type;
        const void *data;
        size_t n;
    } want[] = {
        {"greeting", NB_TYPE_TEXT, text, sizeof text - 1},
        {"config", NB_TYPE_DICTIONARY, dict, sizeof dict - 1},
        {"sales", NB_TYPE_TABLE, table, sizeof table},
        {"login_image.png", NB_TYPE_IMAGE, image, sizeof image},
        {"voice.wav", NB_TYPE_AUDIO, audio, sizeof audio},
        {"clip.mp4", NB_TYPE_VIDEO, video, sizeof video},
        {"blob", NB_TYPE_BINARY, bin, sizeof bin},
    };
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/types");
    CHECK(a && s);
    nb_envelope *e = env_new();
    CHECK(e);
    for (size_t i = 0; i < COUNT(want); i++)
        CHECK(add(e, bytes_payload(want[i].name, want[i].type, want[i].data, want[i].n)));
    nb_envelope *got = send_and_next(a, s, "/link/types", e);
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == COUNT(want));
    for (size_t i = 0; i < COUNT(want); i++) {
        const nb_payload *p = nb_envelope_payload(got, i);
        if (!link_payload_is(p, want[i].name, want[i].type, want[i].data, want[i].n)) {
            fprintf(stderr, "payload %zu (%s) differs\n", i, nb_type_name(want[i].type));
            CHECK(false);
        }
        CHECK_STR(nb_payload_type_name(p), nb_type_name(want[i].type));
    }
    /* Text and dictionary content is still checked and parsed after the download. */
    CHECK_STR(nb_payload_text(nb_envelope_payload(got, 0)), text);
    const cJSON *tree = nb_payload_json(nb_envelope_payload(got, 1));
    CHECK(tree && cJSON_GetNumberValue(cJSON_GetObjectItem(tree, "rate")) == 44100);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(tree, "tags")) == 2);
    CHECK(nb_payload_json(nb_envelope_payload(got, 2)) == NULL);
    CHECK(nb_payload_text(nb_envelope_payload(got, 6)) == NULL);
    CHECK(stored_files(".data", (char[300]){0}, 300) == (int)COUNT(want));
}

CASE(link_mixed_order, 0)
{
    /* Direct and link payloads interleaved (threshold 100): the order on the wire is kept. */
    static uint8_t b1[500], b4[99], b5[100];
    static const char t3[] = "this text is longer than one hundred bytes, so it must travel by link "
                             "through the file server and come back intact.";
    fill_bytes(b1, sizeof b1, 1);
    fill_bytes(b4, sizeof b4, 4);
    fill_bytes(b5, sizeof b5, 5);
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(100, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/mixed");
    CHECK(a && s);
    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, text_payload("d0", "direct text")));
    CHECK(add(e, bytes_payload("l1", NB_TYPE_IMAGE, b1, sizeof b1)));
    CHECK(add(e, bytes_payload("d2", NB_TYPE_DICTIONARY, "{\"k\":[1,2]}", 11)));
    CHECK(add(e, text_payload("l3", t3)));
    CHECK(add(e, bytes_payload("d4", NB_TYPE_BINARY, b4, sizeof b4)));
    CHECK(add(e, bytes_payload("l5", NB_TYPE_AUDIO, b5, sizeof b5)));
    nb_envelope *got = send_and_next(a, s, "/link/mixed", e);
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 6);
    CHECK(payload_is(nb_envelope_payload(got, 0), "d0", NB_TYPE_TEXT, "direct text", 11));
    CHECK(link_payload_is(nb_envelope_payload(got, 1), "l1", NB_TYPE_IMAGE, b1, sizeof b1));
    CHECK(payload_is(nb_envelope_payload(got, 2), "d2", NB_TYPE_DICTIONARY, "{\"k\":[1,2]}", 11));
    CHECK(link_payload_is(nb_envelope_payload(got, 3), "l3", NB_TYPE_TEXT, t3, sizeof t3 - 1));
    CHECK(payload_is(nb_envelope_payload(got, 4), "d4", NB_TYPE_BINARY, b4, sizeof b4));
    CHECK(link_payload_is(nb_envelope_payload(got, 5), "l5", NB_TYPE_AUDIO, b5, sizeof b5));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(nb_payload_json(nb_envelope_payload(got, 2)),
                                                 "k")) == 2);
    CHECK(stored_files(".data", (char[300]){0}, 300) == 3);
}

CASE(link_threshold_edges, 0)
{
    /* PROTOCOL.md: direct when size < threshold, link when size >= threshold. */
    static uint8_t bytes[1001];
    fill_bytes(bytes, sizeof bytes, 12);
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(1000, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/edge");
    CHECK(a && s);
    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, bytes_payload("under", NB_TYPE_BINARY, bytes, 999)));
    CHECK(add(e, bytes_payload("at", NB_TYPE_BINARY, bytes, 1000)));
    CHECK(add(e, bytes_payload("over", NB_TYPE_BINARY, bytes, 1001)));
    CHECK(add(e, bytes_payload("empty", NB_TYPE_BINARY, "", 0)));
    nb_envelope *got = send_and_next(a, s, "/link/edge", e);
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "under", NB_TYPE_BINARY, bytes, 999));
    CHECK(link_payload_is(nb_envelope_payload(got, 1), "at", NB_TYPE_BINARY, bytes, 1000));
    CHECK(link_payload_is(nb_envelope_payload(got, 2), "over", NB_TYPE_BINARY, bytes, 1001));
    CHECK(payload_is(nb_envelope_payload(got, 3), "empty", NB_TYPE_BINARY, "", 0));

    /* Threshold 0: everything goes by link, even an empty payload. */
    nb_client *z = connect_with(link_opts(0, NULL, NULL));
    CHECK(z);
    got = send_and_next(z, s, "/link/edge", env_with(bytes_payload("e", NB_TYPE_BINARY, "", 0)));
    CHECK(got);
    CHECK(link_payload_is(nb_envelope_payload(got, 0), "e", NB_TYPE_BINARY, "", 0));
}

CASE(link_fan_out, 0)
{
    /* Three subscribers download the same file: it is not removed on the first download. */
    static uint8_t bytes[200000];
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s[3];
    for (size_t i = 0; i < COUNT(s); i++)
        CHECK((s[i] = sub_with(recv_opts(2, 20, 50), "/link/fan")));
    CHECK(a);
    nb_envelope *e = send_bytes(a, "/link/fan", "shared.bin", bytes, sizeof bytes, 21);
    CHECK(e);
    for (size_t i = 0; i < COUNT(s); i++) {
        nb_envelope *got = next_env(s[i], 5000);
        CHECK(got);
        CHECK(link_payload_is(nb_envelope_payload(got, 0), "shared.bin", NB_TYPE_BINARY, bytes,
                              sizeof bytes));
        CHECK_STR(nb_payload_url(nb_envelope_payload(got, 0)), sent_url(e, 0));
    }
    /* Still there for a late reader. */
    char path[400];
    CHECK(the_data_file(path, sizeof path));
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    nb_envelope *late = NULL;
    CHECK_OK(nb_envelope_parse(&late, json, len, recv_opts(2, 20, 50)));
    keep(late);
    CHECK(link_payload_is(nb_envelope_payload(late, 0), "shared.bin", NB_TYPE_BINARY, bytes,
                          sizeof bytes));
}

/* ------------------------------------------------------------------------ */
/* End to end: the file server goes away                                    */
/* ------------------------------------------------------------------------ */

typedef struct restart_job {
    int port;
    int64_t delay_ms;
    nb_fileserver *fs;
    nb_status status;
    char error[512];
} restart_job;

/* Starts a file server on job->port over fs_dir after job->delay_ms. */
static void *restart_main(void *arg)
{
    restart_job *job = arg;
    sleep_ms(job->delay_ms);
    nb_fileserver_config cfg = fs_config(job->port, 0, NULL);
    job->status = nb_fileserver_start(&job->fs, &cfg);
    if (job->status != NB_OK)
        snprintf(job->error, sizeof job->error, "%s", nb_last_error());
    return NULL;
}

CASE(link_fileserver_restart, 0)
{
    /* The file server is down when the receiver starts downloading and comes back on the
     * same port with the same directory ~300 ms later: the back-off (base 50 ms, max 200 ms,
     * 10 retries) outlasts the gap, and the restarted server finds the file again from its
     * sidecar. */
    static uint8_t bytes[100000];
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(10, 50, 200), "/link/restart");
    CHECK(a && s);
    nb_envelope *e = send_bytes(a, "/link/restart", "survivor.bin", bytes, sizeof bytes, 31);
    CHECK(e);
    CHECK_OK(nb_client_flush(a, 5000));
    restart_job job = {nb_fileserver_port(T.fs), 300, NULL, NB_OK, ""};
    nb_fileserver_stop(T.fs); /* the files stay on disk */
    T.fs = NULL;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, restart_main, &job) == 0);
    int64_t t0 = now_ms();
    nb_envelope *got = NULL;
    nb_status st = nb_subscription_next(s, 10000, &got);
    int64_t took = now_ms() - t0;
    char why[1024];
    snprintf(why, sizeof why, "%s", nb_last_error());
    pthread_join(th, NULL);
    T.fs = job.fs; /* stopped at teardown */
    keep(got);
    fprintf(stderr, "note: download across a restart: %s after %lld ms %s\n", nb_status_text(st),
            (long long)took, st == NB_OK ? "" : why);
    CHECK(job.status == NB_OK && job.fs);
    CHECK(st == NB_OK && got);
    CHECK(took >= 250); /* it did wait for the restart */
    CHECK(link_payload_is(nb_envelope_payload(got, 0), "survivor.bin", NB_TYPE_BINARY, bytes,
                          sizeof bytes));
}

CASE(link_fileserver_down, 0)
{
    /* Down for good: max_retries + 1 attempts, then NB_HTTP naming the URL. Sleeps are at most
     * min(max, base * 2^i) each, so the whole receive is bounded by their sum plus slack. */
    enum { RETRIES = 4, BASE_MS = 50, MAX_MS = 200 };
    static uint8_t bytes[5000];
    CHECK(fs_start(0, NULL));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(RETRIES, BASE_MS, MAX_MS), "/link/down");
    CHECK(a && s);
    nb_envelope *e = send_bytes(a, "/link/down", "lost.bin", bytes, sizeof bytes, 41);
    CHECK(e);
    CHECK_OK(nb_client_flush(a, 5000));
    nb_fileserver_stop(T.fs);
    T.fs = NULL;
    int64_t bound = 0;
    for (int i = 0; i < RETRIES; i++)
        bound += (BASE_MS << i) < MAX_MS ? (BASE_MS << i) : MAX_MS;
    int64_t t0 = now_ms();
    nb_envelope *got = NULL;
    nb_status st = nb_subscription_next(s, 5000, &got);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "note: file server down: %s after %lld ms (sleeps <= %lld ms): %s\n",
            nb_status_text(st), (long long)took, (long long)bound, nb_last_error());
    CHECK(st == NB_HTTP && got == NULL);
    CHECK(strstr(nb_last_error(), "gave up after 5 attempts"));
    CHECK(strstr(nb_last_error(), sent_url(e, 0)));
    CHECK(strstr(nb_last_error(), "payloads[0] 'lost.bin'"));
    CHECK(took < bound + 3000);
    /* The subscription goes on: the next message is fine. */
    nb_client *d = new_client();
    CHECK(d);
    got = send_and_next(d, s, "/link/down", env_text("after", "still listening"));
    CHECK(got && strcmp(first_text(got), "still listening") == 0);
}

CASE(link_not_found, 0)
{
    /* The file is gone before the receive: 404 is final, reported at once (no retries, even
     * with a 1 s back-off). PUT files are deleted over HTTP, Plik files on disk. */
    static uint8_t bytes[3000];
    CHECK(fs_start(0, NULL));
    nb_client *put = connect_with(link_opts(16, nb_upload_put, NULL));
    nb_client *plik = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s = sub_with(recv_opts(5, 1000, 1000), "/link/gone");
    CHECK(put && plik && s);

    nb_envelope *e = send_bytes(put, "/link/gone", "gone.bin", bytes, sizeof bytes, 51);
    CHECK(e);
    CHECK(http_delete(sent_url(e, 0), NULL) == 204);
    int64_t t0 = now_ms();
    nb_envelope *got = NULL;
    CHECK_FAIL(nb_subscription_next(s, 5000, &got), NB_NOT_FOUND, sent_url(e, 0));
    fprintf(stderr, "note: deleted file: %s\n", nb_last_error());
    CHECK(strstr(nb_last_error(), "HTTP 404"));
    CHECK(!strstr(nb_last_error(), "gave up"));
    CHECK(now_ms() - t0 < 1000);
    CHECK(http_delete(sent_url(e, 0), NULL) == 404); /* really gone */

    e = send_bytes(plik, "/link/gone", "gone2.bin", bytes, sizeof bytes, 52);
    CHECK(e);
    char data[400], side[400];
    CHECK(the_data_file(data, sizeof data));
    snprintf(side, sizeof side, "%.*s.json", (int)(strlen(data) - 5), data);
    CHECK(unlink(data) == 0 && unlink(side) == 0);
    t0 = now_ms();
    CHECK_FAIL(nb_subscription_next(s, 5000, &got), NB_NOT_FOUND, sent_url(e, 0));
    CHECK(strstr(nb_last_error(), "HTTP 404"));
    CHECK(now_ms() - t0 < 1000);
}

/* ------------------------------------------------------------------------ */
/* End to end: bad bytes on the server                                      */
/* ------------------------------------------------------------------------ */

/* Flips n bytes at off in path, keeping its length. */
static bool corrupt(const char *path, long off, size_t n)
{
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    uint8_t buf[64];
    bool ok = n <= sizeof buf && fseek(f, off, SEEK_SET) == 0 && fread(buf, 1, n, f) == n;
    for (size_t i = 0; ok && i < n; i++)
        buf[i] ^= 0x5a;
    ok = ok && fseek(f, off, SEEK_SET) == 0 && fwrite(buf, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    REQUIRE(ok);
    return true;
}

/* DIR/<msg_id>/<name> and its ".part" are both absent. */
static bool nothing_saved(const char *dir, const nb_envelope *sent, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", dir, nb_envelope_msg_id(sent), name);
    REQUIRE(!file_exists(path));
    strcat(path, ".part");
    REQUIRE(!file_exists(path));
    return true;
}

CASE(link_corrupted, 0)
{
    /* Same length, different bytes: only the sha256 can tell. Nothing is handed over, in
     * memory or on disk. */
    static uint8_t bytes[70000];
    char save[300];
    CHECK(fs_start(0, NULL));
    nb_options *disk = saving_opts(save, sizeof save, "saved");
    CHECK(disk);
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *mem = sub_with(recv_opts(2, 20, 50), "/link/bad");
    nb_subscription *dsk = sub_with(disk, "/link/bad");
    CHECK(a && mem && dsk);
    nb_envelope *e = send_bytes(a, "/link/bad", "tampered.bin", bytes, sizeof bytes, 61);
    CHECK(e);
    char data[400];
    CHECK(the_data_file(data, sizeof data));
    CHECK(corrupt(data, 40000, 16));
    nb_envelope *got = NULL;
    CHECK_FAIL(nb_subscription_next(mem, 5000, &got), NB_INTEGRITY, "sha256 mismatch");
    CHECK(strstr(nb_last_error(), "payloads[0] 'tampered.bin'"));
    CHECK(got == NULL);
    fprintf(stderr, "note: corrupted file: %s\n", nb_last_error());
    CHECK_FAIL(nb_subscription_next(dsk, 5000, &got), NB_INTEGRITY, "sha256 mismatch");
    CHECK(strstr(nb_last_error(), "payloads[0] 'tampered.bin'"));
    CHECK(nothing_saved(save, e, "tampered.bin"));
}

CASE(link_truncated, 0)
{
    /* The envelope claims one byte more than the server holds: NB_INTEGRITY on the count. */
    static uint8_t bytes[50000];
    char save[300];
    CHECK(fs_start(0, NULL));
    nb_options *disk = saving_opts(save, sizeof save, "saved");
    CHECK(disk);
    CHECK_OK(nb_options_set_download_deadline(disk, 3000));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *s = sub_with(disk, "/link/short");
    CHECK(a && s);
    nb_envelope *e = send_bytes(a, "/link/short", "short.bin", bytes, sizeof bytes, 71);
    CHECK(e);
    cJSON *tree = cJSON_Parse(nb_envelope_json(e, NULL));
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "payloads"), 0);
    cJSON_SetNumberValue(cJSON_GetObjectItem(p0, "size"), sizeof bytes + 1);
    char *text = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    CHECK(text);
    nb_envelope *got = NULL;
    nb_status st = nb_envelope_parse(&got, text, strlen(text), recv_opts(2, 20, 50));
    free(text);
    CHECK(st == NB_INTEGRITY && got == NULL);
    CHECK(strstr(nb_last_error(), "payloads[0] 'short.bin': got 50000 bytes, the envelope says "
                                  "50001"));

    /* The stored file shrinks under the server: the server sends what it has (promising the
     * indexed length would stall the answer), the receiver counts the bytes, and no file is
     * left behind. The deadline turns a stall into a quick failure. */
    char data[400];
    CHECK(the_data_file(data, sizeof data));
    CHECK(truncate(data, 20000) == 0);
    int64_t t0 = now_ms();
    CHECK_FAIL(nb_subscription_next(s, 5000, &got), NB_INTEGRITY,
               "payloads[0] 'short.bin': got 20000 bytes, the envelope says 50000");
    CHECK(got == NULL);
    CHECK(now_ms() - t0 < 3000);
    CHECK(nothing_saved(save, e, "short.bin"));
}

/* ------------------------------------------------------------------------ */
/* End to end: receiver policy                                              */
/* ------------------------------------------------------------------------ */

CASE(link_origin_allowlist, 0)
{
    /* The receiver's own file server is elsewhere (same host, another port): the URL is
     * refused, naming it, until its origin is added to the allowlist. */
    static uint8_t bytes[4000];
    char other[64];
    CHECK(fs_start(0, NULL));
    snprintf(other, sizeof other, "http://127.0.0.1:%d", closed_port());
    nb_options *deny = fileserver_opts(other, NB_DEFAULT_SIZE_THRESHOLD);
    nb_options *allow = fileserver_opts(other, NB_DEFAULT_SIZE_THRESHOLD);
    CHECK(deny && allow);
    CHECK_OK(nb_options_add_allowed_origin(allow, fs_url));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *sd = sub_with(deny, "/link/origin");
    nb_subscription *sa = sub_with(allow, "/link/origin");
    CHECK(a && sd && sa);
    nb_envelope *e = send_bytes(a, "/link/origin", "far.bin", bytes, sizeof bytes, 81);
    CHECK(e);
    nb_envelope *got = NULL;
    CHECK_FAIL(nb_subscription_next(sd, 5000, &got), NB_NOT_ALLOWED, sent_url(e, 0));
    CHECK(strstr(nb_last_error(), "allowed origin"));
    got = next_env(sa, 5000);
    CHECK(got);
    CHECK(link_payload_is(nb_envelope_payload(got, 0), "far.bin", NB_TYPE_BINARY, bytes,
                          sizeof bytes));

    /* The same through nb_envelope_parse with the options changed in place. */
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    CHECK_FAIL(nb_envelope_parse(&got, json, len, deny), NB_NOT_ALLOWED, sent_url(e, 0));
    CHECK_OK(nb_options_add_allowed_origin(deny, fs_url));
    CHECK_OK(nb_envelope_parse(&got, json, len, deny));
    keep(got);
    CHECK(link_payload_is(nb_envelope_payload(got, 0), "far.bin", NB_TYPE_BINARY, bytes,
                          sizeof bytes));
}

CASE(link_max_download, 0)
{
    /* A cap one byte under the size refuses the payload before downloading; at the size it
     * passes. */
    static uint8_t bytes[30000];
    CHECK(fs_start(0, NULL));
    nb_options *under = recv_opts(2, 20, 50), *at = recv_opts(2, 20, 50);
    CHECK(under && at);
    CHECK_OK(nb_options_set_max_download(under, sizeof bytes - 1));
    CHECK_OK(nb_options_set_max_download(at, sizeof bytes));
    nb_client *a = connect_with(link_opts(16, NULL, NULL));
    nb_subscription *su = sub_with(under, "/link/cap");
    nb_subscription *sa = sub_with(at, "/link/cap");
    CHECK(a && su && sa);
    nb_envelope *e = send_bytes(a, "/link/cap", "capped.bin", bytes, sizeof bytes, 91);
    CHECK(e);
    nb_envelope *got = NULL;
    CHECK_FAIL(nb_subscription_next(su, 5000, &got), NB_TOO_LARGE, "29999");
    CHECK(strstr(nb_last_error(), "payloads[0] 'capped.bin'"));
    fprintf(stderr, "note: download cap: %s\n", nb_last_error());
    got = next_env(sa, 5000);
    CHECK(got);
    CHECK(link_payload_is(nb_envelope_payload(got, 0), "capped.bin", NB_TYPE_BINARY, bytes,
                          sizeof bytes));
}

/* ------------------------------------------------------------------------ */
/* End to end: upload handlers and the server's own limits                  */
/* ------------------------------------------------------------------------ */

CASE(link_upload_handlers, 0)
{
    /* Plik (default): {fs}/file/<upload id>/<file id>/<name>; PUT: {fs}/<uuid>/<name>. */
    static uint8_t bytes[40000];
    fill_bytes(bytes, sizeof bytes, 101);
    CHECK(fs_start(0, NULL));
    nb_client *plik = connect_with(link_opts(16, NULL, NULL));
    nb_client *plik2 = connect_with(link_opts(16, nb_upload_plik, NULL));
    nb_client *put = connect_with(link_opts(16, nb_upload_put, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/handlers");
    CHECK(plik && plik2 && put && s);
    nb_client *senders[] = {plik, plik2, put};
    for (size_t i = 0; i < COUNT(senders); i++) {
        nb_envelope *e = env_with(bytes_payload("a file.bin", NB_TYPE_BINARY, bytes,
                                                sizeof bytes));
        nb_envelope *got = send_and_next(senders[i], s, "/link/handlers", e);
        CHECK(got);
        const nb_payload *p = nb_envelope_payload(got, 0);
        CHECK(link_payload_is(p, "a file.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
        const char *path = nb_payload_url(p) + strlen(fs_url);
        fprintf(stderr, "note: handler %zu URL path %s\n", i, path);
        CHECK((strncmp(path, "/file/", 6) == 0) == (senders[i] != put));
        CHECK(strcmp(path + strlen(path) - 13, "/a%20file.bin") == 0);
    }
    CHECK(stored_files(".data", (char[300]){0}, 300) == 3);
}

CASE(link_upload_too_large, 0)
{
    /* The server takes at most 1000 bytes: both handlers get 413, and the envelope that
     * would point at the missing file is never published. */
    static uint8_t bytes[5000];
    fill_bytes(bytes, sizeof bytes, 111);
    CHECK(fs_start(1000, NULL));
    nb_client *plik = connect_with(link_opts(16, NULL, NULL));
    nb_client *put = connect_with(link_opts(16, nb_upload_put, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/413");
    CHECK(plik && put && s);
    nb_client *senders[] = {plik, put};
    for (size_t i = 0; i < COUNT(senders); i++) {
        nb_envelope *e = env_with(bytes_payload("huge.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
        CHECK(e);
        CHECK_FAIL(nb_client_send(senders[i], "/link/413", e), NB_HTTP, "413");
        fprintf(stderr, "note: over max_size: %s\n", nb_last_error());
        CHECK(strstr(nb_last_error(), fs_url));
        CHECK(strstr(nb_last_error(), "payloads[0] 'huge.bin'"));
        CHECK_OK(nb_client_flush(senders[i], 5000));
        nb_envelope *none = NULL;
        CHECK_FAILS(nb_subscription_next(s, 300, &none), NB_TIMEOUT);
        /* Under the limit the same sender works. */
        nb_envelope *got = send_and_next(
            senders[i], s, "/link/413", env_with(bytes_payload("ok.bin", NB_TYPE_BINARY, bytes, 900)));
        CHECK(got);
        CHECK(link_payload_is(nb_envelope_payload(got, 0), "ok.bin", NB_TYPE_BINARY, bytes, 900));
    }
    CHECK(stored_files(".part", (char[300]){0}, 300) == 0); /* refused bodies left nothing */
}

CASE(link_bearer_token, 0)
{
    /* Uploads need the token (downloads do not): with it both handlers work; without it, or
     * with a wrong one, 401 and nothing is published. */
    static const char token[] = "s3cret-t0ken";
    static uint8_t bytes[6000];
    fill_bytes(bytes, sizeof bytes, 121);
    CHECK(fs_start(0, token));
    nb_client *good = connect_with(link_opts(16, nb_upload_plik, token));
    nb_client *good_put = connect_with(link_opts(16, nb_upload_put, token));
    nb_client *none = connect_with(link_opts(16, NULL, NULL));
    nb_client *wrong = connect_with(link_opts(16, nb_upload_plik, "not-the-token"));
    nb_client *none_put = connect_with(link_opts(16, nb_upload_put, NULL));
    nb_subscription *s = sub_with(recv_opts(2, 20, 50), "/link/auth");
    CHECK(good && good_put && none && wrong && none_put && s);

    nb_client *refused[] = {none, wrong, none_put};
    for (size_t i = 0; i < COUNT(refused); i++) {
        nb_envelope *e = env_with(bytes_payload("secret.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
        CHECK(e);
        CHECK_FAIL(nb_client_send(refused[i], "/link/auth", e), NB_HTTP, "401");
        fprintf(stderr, "note: no/wrong token: %s\n", nb_last_error());
        CHECK_OK(nb_client_flush(refused[i], 5000));
        nb_envelope *nothing = NULL;
        CHECK_FAILS(nb_subscription_next(s, 300, &nothing), NB_TIMEOUT);
    }
    nb_client *accepted[] = {good, good_put};
    for (size_t i = 0; i < COUNT(accepted); i++) {
        nb_envelope *got = send_and_next(
            accepted[i], s, "/link/auth",
            env_with(bytes_payload("secret.bin", NB_TYPE_BINARY, bytes, sizeof bytes)));
        CHECK(got);
        CHECK(link_payload_is(nb_envelope_payload(got, 0), "secret.bin", NB_TYPE_BINARY, bytes,
                              sizeof bytes));
    }
    CHECK(stored_files(".data", (char[300]){0}, 300) == 2);
}

/* ------------------------------------------------------------------------ */
/* End to end: big files and progress                                       */
/* ------------------------------------------------------------------------ */

CASE(link_stream_to_disk, 0)
{
    /* 20 MB from a file, streamed up and streamed down into DIR/<msg_id>/<dataname>. */
    enum { SIZE = 20 * 1024 * 1024 };
    char src[300], save[300], want[700];
    CHECK(fs_start(0, NULL));
    snprintf(src, sizeof src, "%s/source.mp4", case_dir());
    uint8_t *bytes = malloc(SIZE);
    CHECK(bytes);
    fill_bytes(bytes, SIZE, 131);
    bool written = write_file(src, bytes, SIZE);
    char hex[NBI_SHA256_HEX_LEN + 1];
    nb_status hs = nbi_sha256_hex(bytes, SIZE, hex);
    free(bytes);
    CHECK(written);
    CHECK_OK(hs);
    /* Two levels that do not exist yet: the download directory is made like mkdir -p. */
    nb_options *ro = saving_opts(save, sizeof save, "saved/nested");
    CHECK(ro);
    nb_client *a = connect_with(link_opts(1000000, NULL, NULL));
    nb_subscription *s = sub_with(ro, "/link/big");
    CHECK(a && s);
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_file(&p, "movie.mp4", NB_TYPE_VIDEO, src));
    nb_envelope *e = env_with(p);
    CHECK(e);
    int64_t t0 = now_ms();
    CHECK_OK(nb_client_send(a, "/link/big", e));
    int64_t sent = now_ms();
    nb_envelope *got = next_env(s, 30000);
    fprintf(stderr, "note: 20 MB link: upload %lld ms, download %lld ms\n",
            (long long)(sent - t0), (long long)(now_ms() - sent));
    CHECK(got);
    const nb_payload *r = nb_envelope_payload(got, 0);
    CHECK(r && nb_payload_transport(r) == NB_TRANSPORT_LINK);
    CHECK(nb_payload_size(r) == SIZE);
    CHECK(nb_payload_type(r) == NB_TYPE_VIDEO);
    CHECK_STR(meta_sha256(r), hex);
    size_t len = 1;
    CHECK(nb_payload_data(r, &len) == NULL);
    snprintf(want, sizeof want, "%s/%s/movie.mp4", save, nb_envelope_msg_id(e));
    CHECK_STR(nb_payload_path(r), want);
    CHECK(nbt_same_files(src, want));
    char part[720];
    snprintf(part, sizeof part, "%s.part", want);
    CHECK(!file_exists(part));
}

/* What progress callbacks reported, per direction. */
typedef struct progress_log {
    pthread_mutex_t mu;
    size_t calls;
    bool bad_name;
    bool went_back;   /* done decreased within one total */
    uint64_t last_done, last_total;
    bool reached;     /* done == total > 0 at some call */
    uint64_t reached_total;
} progress_log;

static void on_progress(const char *dataname, uint64_t done, uint64_t total, void *closure)
{
    progress_log *l = closure;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    if (strcmp(dataname, "tracked.bin") != 0)
        l->bad_name = true;
    if (total == l->last_total && done < l->last_done)
        l->went_back = true;
    l->last_done = done;
    l->last_total = total;
    if (total > 0 && done == total) {
        l->reached = true;
        l->reached_total = total;
    }
    pthread_mutex_unlock(&l->mu);
}

CASE(link_progress, 0)
{
    /* The sender's callback sees the upload reach its total (Plik's multipart body is a little
     * bigger than the payload, PUT's is exactly it); the receiver's sees the download reach
     * the payload's size. */
    enum { SIZE = 3 * 1024 * 1024 };
    static uint8_t bytes[SIZE];
    static progress_log up[2], down;
    fill_bytes(bytes, SIZE, 141);
    progress_log *logs[] = {&up[0], &up[1], &down};
    for (size_t i = 0; i < COUNT(logs); i++) {
        memset(logs[i], 0, sizeof *logs[i]);
        pthread_mutex_init(&logs[i]->mu, NULL);
    }
    CHECK(fs_start(0, NULL));
    nb_options *so[] = {link_opts(16, NULL, NULL), link_opts(16, nb_upload_put, NULL)};
    nb_options *ro = recv_opts(2, 20, 50);
    CHECK(so[0] && so[1] && ro);
    CHECK_OK(nb_options_set_progress_cb(ro, on_progress, &down));
    nb_subscription *s = sub_with(ro, "/link/progress");
    CHECK(s);
    for (size_t i = 0; i < COUNT(so); i++) {
        CHECK_OK(nb_options_set_progress_cb(so[i], on_progress, &up[i]));
        nb_client *a = connect_with(so[i]);
        CHECK(a);
        nb_envelope *got = send_and_next(
            a, s, "/link/progress",
            env_with(bytes_payload("tracked.bin", NB_TYPE_BINARY, bytes, SIZE)));
        CHECK(got);
        CHECK(link_payload_is(nb_envelope_payload(got, 0), "tracked.bin", NB_TYPE_BINARY, bytes,
                              SIZE));
    }
    for (size_t i = 0; i < COUNT(up); i++) {
        fprintf(stderr, "note: upload %zu: %zu calls, reached %llu\n", i, up[i].calls,
                (unsigned long long)up[i].reached_total);
        CHECK(up[i].calls > 0 && !up[i].bad_name && !up[i].went_back && up[i].reached);
    }
    CHECK(up[0].reached_total > SIZE && up[0].reached_total < SIZE + 4096);
    CHECK(up[1].reached_total == SIZE);
    fprintf(stderr, "note: downloads: %zu calls, reached %llu\n", down.calls,
            (unsigned long long)down.reached_total);
    CHECK(down.calls > 0 && !down.bad_name && !down.went_back && down.reached);
    CHECK(down.reached_total == SIZE);
}

static const nbt_case cases[] = {
    NBT_ENTRY(threshold_without_fileserver),
    NBT_ENTRY(link_via_fileserver),
    NBT_ENTRY(link_origin_not_allowed),
    NBT_ENTRY(link_fetch_off),
    NBT_ENTRY(link_every_type),
    NBT_ENTRY(link_mixed_order),
    NBT_ENTRY(link_threshold_edges),
    NBT_ENTRY(link_fan_out),
    NBT_ENTRY(link_fileserver_restart),
    NBT_ENTRY(link_fileserver_down),
    NBT_ENTRY(link_not_found),
    NBT_ENTRY(link_corrupted),
    NBT_ENTRY(link_truncated),
    NBT_ENTRY(link_origin_allowlist),
    NBT_ENTRY(link_max_download),
    NBT_ENTRY(link_upload_handlers),
    NBT_ENTRY(link_upload_too_large),
    NBT_ENTRY(link_bearer_token),
    NBT_ENTRY(link_stream_to_disk),
    NBT_ENTRY(link_progress),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
