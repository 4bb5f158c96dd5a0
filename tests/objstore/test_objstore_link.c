/* SPDX-License-Identifier: MIT */
/*
 * test_objstore_link.c - link payloads through an Object Store bucket
 * (nb_options_set_link_store), end to end through NATS: the sender puts,
 * the envelope carries nats-os://BUCKET/NAME, receivers fetch it over their
 * own connection with the same checks as HTTP links.
 */
#include "os_fixture.h"

#include "integrity.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BIG 300000

typedef struct side {
    nb_options *o;
    nb_client *c;
    nb_subscription *sub;
} side;

static nb_options *options(void)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK || nb_options_set_url(o, E.srv.url) != NB_OK) {
        nb_options_destroy(o);
        return NULL;
    }
    return o;
}

/* A sender whose link payloads go to nats-os://LINKS, threshold 1000 bytes. */
static bool sender(side *s)
{
    memset(s, 0, sizeof *s);
    s->o = options();
    return s->o && nb_options_set_link_store(s->o, "nats-os://LINKS") == NB_OK &&
           nb_options_set_size_threshold(s->o, 1000) == NB_OK &&
           nb_client_connect(&s->c, s->o) == NB_OK;
}

/*
 * Receiver options: nats-os:// links are fetched only from the bucket the
 * options name for links (LINKS here) and allowed ones (issue 11 item 6).
 */
static nb_options *reader_options(void)
{
    nb_options *o = options();
    if (o && nb_options_set_link_store(o, "nats-os://LINKS") != NB_OK) {
        nb_options_destroy(o);
        return NULL;
    }
    return o;
}

/* A client that reads LINKS, and NOBUCKET (which does not exist) through the allowlist. */
static nb_client *reader_client(void)
{
    nb_options *o = reader_options();
    nb_client *c = NULL;
    if (!o || nb_options_add_allowed_origin(o, "nats-os://NOBUCKET") != NB_OK ||
        nb_client_connect(&c, o) != NB_OK)
        fprintf(stderr, "reader_client: %s\n", nb_last_error());
    nb_options_destroy(o);
    return c;
}

/* A receiver with a sync subscription on subject; tweak adjusts its options first. */
static bool receiver(side *s, const char *subject, void (*tweak)(nb_options *))
{
    memset(s, 0, sizeof *s);
    s->o = reader_options();
    if (!s->o)
        return false;
    if (tweak)
        tweak(s->o);
    return nb_client_connect(&s->c, s->o) == NB_OK &&
           nb_client_subscribe_sync(s->c, &s->sub, subject, NULL) == NB_OK &&
           nb_client_flush(s->c, 5000) == NB_OK;
}

static void side_free(side *s)
{
    nb_subscription_destroy(s->sub);
    nb_client_destroy(s->c);
    nb_options_destroy(s->o);
    memset(s, 0, sizeof *s);
}

static uint8_t *pattern(size_t n)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; b && i < n; i++)
        b[i] = (uint8_t)(i * 7 + i / 251);
    return b;
}

/* An envelope with a big binary payload (by link) and a small text one (direct). */
static nb_envelope *two_payloads(const uint8_t *big)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL, *q = NULL;
    if (nb_envelope_create(&e) != NB_OK)
        return NULL;
    if (nb_payload_create(&p, "big.bin", NB_TYPE_BINARY, big, BIG) != NB_OK ||
        nb_envelope_add_payload(e, &p) != NB_OK ||
        nb_payload_create_text(&q, "note", "small") != NB_OK ||
        nb_envelope_add_payload(e, &q) != NB_OK) {
        nb_payload_destroy(p);
        nb_payload_destroy(q);
        nb_envelope_destroy(e);
        return NULL;
    }
    return e;
}

/* Sends two_payloads on subject from a and returns what r received (NULL on failure). */
static nb_envelope *send_receive(side *a, side *r, const char *subject, const uint8_t *big,
                                 nb_status *got)
{
    nb_envelope *e = two_payloads(big), *in = NULL;
    nb_status s = e ? nb_client_send(a->c, subject, e) : NB_NO_MEMORY;
    if (s != NB_OK)
        fprintf(stderr, "send: %s\n", nb_last_error());
    nb_envelope_destroy(e);
    *got = s == NB_OK ? nb_subscription_next(r->sub, 15000, &in) : s;
    return in;
}

/* One envelope (two_payloads) from a link-store sender to a receiver, and what came of it. */
typedef struct trip {
    side a, r;
    uint8_t *big;     /* the BIG bytes sent */
    bool ok;          /* sender and receiver were set up */
    nb_status s;      /* the send, then the receive */
    nb_envelope *in;  /* what the receiver got, or NULL */
} trip;

/* Sends on subject to a receiver whose options tweak adjusts (may be NULL); see trip_free. */
static void trip_run(trip *t, const char *subject, void (*tweak)(nb_options *))
{
    memset(t, 0, sizeof *t);
    t->s = NB_INTERNAL;
    t->big = pattern(BIG);
    t->ok = t->big && sender(&t->a) && receiver(&t->r, subject, tweak);
    if (t->ok)
        t->in = send_receive(&t->a, &t->r, subject, t->big, &t->s);
}

/* Frees what trip_run made; t->ok and t->s stay readable. */
static void trip_free(trip *t)
{
    nb_envelope_destroy(t->in);
    t->in = NULL;
    side_free(&t->a);
    side_free(&t->r);
    free(t->big);
    t->big = NULL;
}

/* Waits (at most 15 s) until *counter, bumped by a callback thread, is not 0. */
static void wait_nonzero(int *counter)
{
    for (int i = 0; i < 1500 && __atomic_load_n(counter, __ATOMIC_SEQ_CST) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static bool is_store_link(const nb_payload *p)
{
    const char *url = nb_payload_url(p);
    return nb_payload_transport(p) == NB_TRANSPORT_LINK && url &&
           strncmp(url, "nats-os://LINKS/", 16) == 0 && strstr(url, "/big.bin") &&
           cJSON_GetObjectItem(nb_payload_metadata(p), "sha256");
}

OS_CASE(link_in_memory)
{
    trip t;
    trip_run(&t, "os.mem", NULL);
    const nb_envelope *in = t.in;
    size_t len = 0;
    const uint8_t *data = in ? nb_payload_data(nb_envelope_payload(in, 0), &len) : NULL;
    bool same = data && len == BIG && memcmp(data, t.big, BIG) == 0;
    bool link = in && is_store_link(nb_envelope_payload(in, 0));
    bool direct = in && nb_payload_transport(nb_envelope_payload(in, 1)) == NB_TRANSPORT_DIRECT &&
                  strcmp(nb_payload_text(nb_envelope_payload(in, 1)), "small") == 0;
    trip_free(&t);
    CHECK(t.ok);
    CHECK_OK(t.s);
    CHECK(link && same && direct);
}

static void save_to_dir(nb_options *o)
{
    char dir[512];
    os_path(dir, "saved");
    nb_options_set_download_dir(o, dir);
}

OS_CASE(link_download_dir)
{
    trip t;
    trip_run(&t, "os.dir", save_to_dir);
    const nb_envelope *in = t.in;
    const char *path = in ? nb_payload_path(nb_envelope_payload(in, 0)) : NULL;
    char want[512], hex[65] = "", got[65] = "";
    os_path(want, "saved/");
    bool under = path && strncmp(path, want, strlen(want)) == 0 && strstr(path, "/big.bin");
    if (path)
        os_sha_file(path, got);
    if (t.big)
        nbi_sha256_hex(t.big, BIG, hex);
    bool no_memory = in && nb_payload_data(nb_envelope_payload(in, 0), NULL) == NULL;
    trip_free(&t);
    CHECK(t.ok);
    CHECK_OK(t.s);
    CHECK(under && no_memory);
    CHECK_STR(got, hex);
}

/* A file payload is streamed into the bucket (5 MB, 40 chunks). */
OS_CASE(link_file_payload)
{
    char src[512], hex[65], got[65] = "";
    os_path(src, "five.bin");
    CHECK(os_fill_file(src, 5 * 1000 * 1000, 3));
    os_sha_file(src, hex);
    side a, r;
    bool ok = sender(&a) && receiver(&r, "os.file", save_to_dir);
    nb_envelope *e = NULL, *in = NULL;
    nb_payload *p = NULL;
    nb_status s = ok ? nb_envelope_create(&e) : NB_INTERNAL;
    if (s == NB_OK)
        s = nb_payload_create_file(&p, "five.bin", NB_TYPE_VIDEO, src);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s == NB_OK)
        s = nb_client_send(a.c, "os.file", e);
    if (s == NB_OK)
        s = nb_subscription_next(r.sub, 20000, &in);
    const char *path = in ? nb_payload_path(nb_envelope_payload(in, 0)) : NULL;
    if (path)
        os_sha_file(path, got);
    bool typed = in && nb_payload_type(nb_envelope_payload(in, 0)) == NB_TYPE_VIDEO &&
                 nb_payload_size(nb_envelope_payload(in, 0)) == 5000000;
    nb_payload_destroy(p);
    nb_envelope_destroy(e);
    nb_envelope_destroy(in);
    side_free(&a);
    side_free(&r);
    CHECK(ok);
    CHECK_OK(s);
    CHECK(typed);
    CHECK_STR(got, hex);
}

typedef struct inbox {
    nb_envelope *env;
    nb_status err;
    int calls;
} inbox;

static void on_env(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    inbox *b = closure;
    if (!b->env)
        b->env = env;
    else
        nb_envelope_destroy(env);
    __atomic_add_fetch(&b->calls, 1, __ATOMIC_SEQ_CST);
}

static void on_err(nb_subscription *sub, nb_status s, const char *message, void *closure)
{
    (void)sub;
    inbox *b = closure;
    fprintf(stderr, "subscription error: %s\n", message);
    b->err = s;
    __atomic_add_fetch(&b->calls, 1, __ATOMIC_SEQ_CST);
}

OS_CASE(link_async_subscription)
{
    side a, r;
    inbox box = {NULL, NB_OK, 0};
    uint8_t *big = pattern(BIG);
    bool ok = big && sender(&a);
    memset(&r, 0, sizeof r);
    r.o = ok ? reader_options() : NULL;
    ok = ok && r.o && nb_client_connect(&r.c, r.o) == NB_OK &&
         nb_client_subscribe(r.c, &r.sub, "os.async", NULL, on_env, on_err, &box) == NB_OK &&
         nb_client_flush(r.c, 5000) == NB_OK;
    nb_envelope *e = ok ? two_payloads(big) : NULL;
    nb_status s = e ? nb_client_send(a.c, "os.async", e) : NB_INTERNAL;
    if (s == NB_OK)
        wait_nonzero(&box.calls);
    nb_subscription_destroy(r.sub);
    r.sub = NULL;
    size_t len = 0;
    const uint8_t *data = box.env ? nb_payload_data(nb_envelope_payload(box.env, 0), &len) : NULL;
    bool same = data && len == BIG && memcmp(data, big, BIG) == 0;
    nb_envelope_destroy(box.env);
    nb_envelope_destroy(e);
    side_free(&a);
    side_free(&r);
    free(big);
    CHECK(ok);
    CHECK_OK(s);
    CHECK(box.err == NB_OK && same);
}

static void no_fetch(nb_options *o) { nb_options_set_fetch_links(o, false); }

OS_CASE(link_fetch_off)
{
    trip t;
    trip_run(&t, "os.off", no_fetch);
    const nb_payload *p = t.in ? nb_envelope_payload(t.in, 0) : NULL;
    bool kept = p && is_store_link(p) && nb_payload_data(p, NULL) == NULL &&
                nb_payload_size(p) == BIG;
    trip_free(&t);
    CHECK(t.ok);
    CHECK_OK(t.s);
    CHECK(kept);
}

/* The envelope a sender built, as wire text (malloc'd), and the link's URL into url. */
static char *sent_json(const uint8_t *big, char url[512])
{
    side a;
    char *json = NULL;
    nb_envelope *e = sender(&a) ? two_payloads(big) : NULL;
    if (e && nb_client_send(a.c, "os.json", e) == NB_OK) {
        size_t len = 0;
        const char *text = nb_envelope_json(e, &len);
        json = text ? strdup(text) : NULL;
        snprintf(url, 512, "%s", nb_payload_url(nb_envelope_payload(e, 0)));
    }
    nb_envelope_destroy(e);
    side_free(&a);
    return json;
}

OS_CASE(link_parse_without_client)
{
    uint8_t *big = pattern(BIG);
    char url[512] = "";
    char *json = big ? sent_json(big, url) : NULL;
    nb_envelope *in = NULL, *denied = NULL;
    /* without options no bucket is allowed at all */
    nb_status d = json ? nb_envelope_parse(&denied, json, strlen(json), NULL) : NB_INTERNAL;
    char derr[1024];
    snprintf(derr, sizeof derr, "%s", nb_last_error());
    nb_options *o = reader_options();
    nb_status s = json && o ? nb_envelope_parse(&in, json, strlen(json), o) : NB_INTERNAL;
    nb_options_destroy(o);
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    /* the same text through a client resolves */
    nb_envelope *ok = NULL;
    nb_client *rc = reader_client();
    nb_status c = json && rc ? nb_client_receive(rc, json, strlen(json), &ok) : NB_INTERNAL;
    nb_client_destroy(rc);
    size_t len = 0;
    bool same = ok && nb_payload_data(nb_envelope_payload(ok, 0), &len) && len == BIG;
    nb_envelope_destroy(ok);
    free(json);
    free(big);
    CHECK(d == NB_NOT_ALLOWED && denied == NULL && strstr(derr, "bucket 'LINKS'"));
    CHECK(s == NB_INVALID_ARG && in == NULL);
    CHECK(strstr(err, url) && strstr(err, "nb_client") && strstr(err, "payloads[0] 'big.bin'"));
    CHECK_OK(c);
    CHECK(same);
}

OS_CASE(link_build_without_client)
{
    nb_options *o = options();
    uint8_t *big = pattern(BIG);
    nb_envelope *e = big ? two_payloads(big) : NULL;
    nb_status s = o && e ? nb_options_set_link_store(o, "nats-os://LINKS") : NB_INTERNAL;
    if (s == NB_OK)
        s = nb_options_set_size_threshold(o, 1000);
    nb_status b = s == NB_OK ? nb_envelope_build(e, "os.x", o) : NB_INTERNAL;
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    /* a copy of a client's options has no client either */
    nb_options *copy = NULL;
    nb_status cl = nb_options_clone(&copy, nb_client_options(E.client));
    nb_status b2 = cl == NB_OK ? nb_options_set_link_store(copy, "nats-os://LINKS") : cl;
    if (b2 == NB_OK)
        b2 = nb_options_set_size_threshold(copy, 1000);
    if (b2 == NB_OK)
        b2 = nb_envelope_build(e, "os.x", copy);
    nb_options_destroy(copy);
    nb_options_destroy(o);
    nb_envelope_destroy(e);
    free(big);
    CHECK_OK(s);
    CHECK(b == NB_INVALID_ARG && strstr(err, "nats-os://LINKS") && strstr(err, "nb_client_send"));
    CHECK(b2 == NB_INVALID_ARG);
}

OS_CASE(link_deleted_object)
{
    uint8_t *big = pattern(BIG);
    char url[512] = "";
    char *json = big ? sent_json(big, url) : NULL;
    nb_objstore *os = NULL;
    nb_status s = json ? nb_objstore_open(&os, E.client, "LINKS") : NB_INTERNAL;
    const char *name = strchr(url + 10, '/');
    if (s == NB_OK)
        s = nb_objstore_delete(os, name ? name + 1 : "");
    nb_objstore_destroy(os);
    nb_envelope *in = NULL;
    nb_client *rc = reader_client();
    nb_status r = s == NB_OK && rc ? nb_client_receive(rc, json, strlen(json), &in) : NB_INTERNAL;
    nb_client_destroy(rc);
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    free(json);
    free(big);
    CHECK_OK(s);
    CHECK(r == NB_NOT_FOUND && in == NULL);
    CHECK(strstr(err, "not found") && strstr(err, "big.bin"));
}

static void small_cap(nb_options *o) { nb_options_set_max_download(o, 1000); }

OS_CASE(link_max_download)
{
    trip t;
    trip_run(&t, "os.cap", small_cap);
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    trip_free(&t);
    CHECK(t.ok);
    CHECK(t.s == NB_TOO_LARGE && strstr(err, "download cap of 1000"));
}

/* An envelope whose only payload is a link to url (size 3, no digest). */
static char *link_envelope(const char *url)
{
    static const char fmt[] =
        "{\"correlation_id\":\"c\",\"msg_id\":\"7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b\","
        "\"timestamp\":\"2026-03-13T07:02:50.443Z\",\"send_to\":\"x\",\"msg_purpose\":\"chat\","
        "\"sender_name\":\"s\",\"sender_id\":\"i\",\"receiver_name\":\"\",\"receiver_id\":\"\","
        "\"reply_to\":\"\",\"reply_to_msg_id\":\"\",\"broker_url\":\"\",\"metadata\":{},"
        "\"payloads\":[{\"id\":\"p\",\"dataname\":\"d\",\"type\":\"binary\",\"transport\":\"link\","
        "\"encoding\":\"none\",\"size\":3,\"data\":\"%s\",\"metadata\":{}}]}";
    char *out = malloc(sizeof fmt + strlen(url));
    if (out)
        sprintf(out, fmt, url);
    return out;
}

OS_CASE(link_bad_urls)
{
    static const struct {
        const char *url;
        nb_status st;
        const char *says;
    } bad[] = {
        {"nats-os://bad.bucket/x", NB_INVALID_ARG, "bucket name 'bad.bucket' is invalid"},
        {"nats-os://LINKS", NB_INVALID_ARG, "names no object"},
        {"nats-os://LINKS/", NB_INVALID_ARG, "names no object"},
        {"nats-os:///x", NB_INVALID_ARG, "bucket name is empty"},
        {"nats-os://LINKS/%zz", NB_INVALID_ARG, "bad percent-escape"},
        {"nats-os://LINKS/a%00b", NB_INVALID_ARG, "bad percent-escape"},
        {"nats-os://NOBUCKET/x", NB_NOT_FOUND, "bucket 'NOBUCKET' not found"},
        {"nats-os://PAYROLL/x", NB_NOT_ALLOWED,
         "in Object Store bucket 'PAYROLL', which is not allowed (the link store is "
         "nats-os://LINKS; allow it with --allow-origin nats-os://PAYROLL"},
        {"nats-os://links/x", NB_NOT_ALLOWED, "bucket 'links', which is not allowed"},
        {"nats-os://LINKS/missing", NB_NOT_FOUND, "object 'missing' in bucket 'LINKS' not found"},
    };
    nb_objstore *os = NULL;
    CHECK_OK(nb_objstore_create(&os, E.client, &(nb_objstore_config){.bucket = "LINKS"}));
    nb_objstore_destroy(os);
    nb_client *rc = reader_client();
    CHECK(rc);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *json = link_envelope(bad[i].url);
        nb_envelope *in = NULL;
        nb_status s = json ? nb_client_receive(rc, json, strlen(json), &in) : NB_NO_MEMORY;
        free(json);
        nb_envelope_destroy(in);
        if (s != bad[i].st || !strstr(nb_last_error(), bad[i].says) ||
            (bad[i].st == NB_INVALID_ARG && !strstr(nb_last_error(), bad[i].url))) {
            fprintf(stderr, "%s: got %s \"%s\"\n", bad[i].url, nb_status_text(s), nb_last_error());
            nb_client_destroy(rc);
            CHECK(false);
        }
    }
    nb_client_destroy(rc);
}

OS_CASE(link_store_option)
{
    static const char *const bad[] = {"http://x/y", "nats-os://", "nats-os://B/name",
                                      "nats-os://a.b", "nats://B"};
    nb_options *o = options();
    CHECK(o);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_status s = nb_options_set_link_store(o, bad[i]);
        if (s != NB_INVALID_ARG || !strstr(nb_last_error(), "link_store")) {
            fprintf(stderr, "%s: got %s \"%s\"\n", bad[i], nb_status_text(s), nb_last_error());
            nb_options_destroy(o);
            CHECK(false);
        }
    }
    nb_status ok1 = nb_options_set_link_store(o, "NATS-OS://Ok_bucket-1");
    nb_status ok2 = nb_options_set_link_store(o, "nats-os://B/");
    nb_status off = nb_options_set_link_store(o, NULL);
    nb_status null_opts = nb_options_set_link_store(NULL, "nats-os://B");
    nb_options_destroy(o);
    CHECK(ok1 == NB_OK && ok2 == NB_OK && off == NB_OK);
    CHECK(null_opts == NB_INVALID_ARG);
}

/* Without a link store, links still go to the file server over HTTP. */
OS_CASE(link_http_unchanged)
{
    char dir[512];
    os_path(dir, "files");
    nb_fileserver *fs = NULL;
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .dir = dir, .quiet = true};
    CHECK_OK(nb_fileserver_start(&fs, &cfg));
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", nb_fileserver_port(fs));
    side a, r;
    memset(&a, 0, sizeof a);
    a.o = options();
    uint8_t *big = pattern(BIG);
    bool ok = a.o && big && nb_options_set_fileserver_url(a.o, base) == NB_OK &&
              nb_options_set_size_threshold(a.o, 1000) == NB_OK &&
              nb_client_connect(&a.c, a.o) == NB_OK && receiver(&r, "os.http", NULL) &&
              nb_options_set_fileserver_url(r.o, base) == NB_OK;
    /* the receiver's client holds a copy of its options: allow the origin there too */
    nb_client_destroy(r.c);
    nb_subscription_destroy(r.sub);
    r.c = NULL;
    r.sub = NULL;
    ok = ok && nb_client_connect(&r.c, r.o) == NB_OK &&
         nb_client_subscribe_sync(r.c, &r.sub, "os.http", NULL) == NB_OK &&
         nb_client_flush(r.c, 5000) == NB_OK;
    nb_status s = NB_INTERNAL;
    nb_envelope *in = ok ? send_receive(&a, &r, "os.http", big, &s) : NULL;
    const nb_payload *p = in ? nb_envelope_payload(in, 0) : NULL;
    size_t len = 0;
    bool http = p && strncmp(nb_payload_url(p), base, strlen(base)) == 0 &&
                nb_payload_data(p, &len) && len == BIG;
    nb_envelope_destroy(in);
    side_free(&a);
    side_free(&r);
    nb_fileserver_stop(fs);
    free(big);
    CHECK(ok);
    CHECK_OK(s);
    CHECK(http);
}

typedef struct js_box {
    nb_envelope *env;
    int seen;
} js_box;

static nb_js_action on_js_env(nb_js_consumer *cons, nb_envelope *env, const nb_js_delivery *d,
                              void *closure)
{
    (void)cons, (void)d;
    js_box *b = closure;
    if (!b->env)
        b->env = env;
    else
        nb_envelope_destroy(env);
    __atomic_add_fetch(&b->seen, 1, __ATOMIC_SEQ_CST);
    return NB_JS_ACK;
}

/* JetStream publish + durable consumer: the consumer fetches the nats-os:// link before its callback. */
OS_CASE(link_through_jetstream)
{
    static const char *const subjects[] = {"ev.>"};
    nb_js_stream_config sc = {.name = "EVENTS", .subjects = subjects, .subject_count = 1};
    side a;
    js_box box = {NULL, 0};
    nb_js_consumer *cons = NULL;
    uint8_t *big = pattern(BIG);
    bool ok = big && sender(&a);
    nb_status s = ok ? nb_js_stream_ensure(a.c, &sc, NULL) : NB_INTERNAL;
    nb_envelope *e = s == NB_OK ? two_payloads(big) : NULL;
    if (s == NB_OK)
        s = e ? nb_client_js_publish(a.c, "ev.one", e, NULL, NULL) : NB_NO_MEMORY;
    nb_js_consumer_config cc = {.subject = "ev.>", .durable = "objstore-test"};
    nb_client *rc = s == NB_OK ? reader_client() : NULL;
    if (s == NB_OK)
        s = rc ? nb_js_consumer_create(&cons, rc, &cc, on_js_env, NULL, &box) : NB_INTERNAL;
    if (s == NB_OK)
        wait_nonzero(&box.seen);
    nb_js_consumer_destroy(cons);
    nb_client_destroy(rc);
    const nb_payload *p = box.env ? nb_envelope_payload(box.env, 0) : NULL;
    size_t len = 0;
    bool same = p && is_store_link(p) && nb_payload_data(p, &len) && len == BIG &&
                memcmp(nb_payload_data(p, NULL), big, BIG) == 0;
    nb_envelope_destroy(box.env);
    nb_envelope_destroy(e);
    side_free(&a);
    free(big);
    CHECK(ok);
    CHECK_OK(s);
    CHECK(same);
}

/* ------------------------------------------------------------------------ */
/* The bucket allowlist (issue 11 item 6)                                   */
/* ------------------------------------------------------------------------ */

static void allow_links_only(nb_options *o)
{
    /* its own link store is elsewhere: LINKS is read only because it is allowed */
    nb_options_set_link_store(o, "nats-os://OTHER");
    nb_options_add_allowed_origin(o, "nats-os://LINKS/");
}

static void no_bucket(nb_options *o) { nb_options_set_link_store(o, NULL); }

OS_CASE(link_bucket_allowlist)
{
    trip deny, allow;
    trip_run(&deny, "os.deny", no_bucket);
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    bool denied = deny.ok && deny.s == NB_NOT_ALLOWED && !deny.in;
    trip_free(&deny);
    trip_run(&allow, "os.allow", allow_links_only);
    size_t len = 0;
    const uint8_t *data = allow.in ? nb_payload_data(nb_envelope_payload(allow.in, 0), &len) : NULL;
    bool same = data && len == BIG && memcmp(data, allow.big, BIG) == 0;
    nb_status as = allow.s;
    trip_free(&allow);
    /* allowed origins are checked like the link store */
    nb_options *o = options();
    CHECK(o);
    nb_status bad = nb_options_add_allowed_origin(o, "nats-os://bad.bucket");
    char bad_err[512];
    snprintf(bad_err, sizeof bad_err, "%s", nb_last_error());
    nb_status named = nb_options_add_allowed_origin(o, "nats-os://B/name");
    nb_status ftp = nb_options_add_allowed_origin(o, "ftp://x");
    nb_options_destroy(o);
    fprintf(stderr, "note: refused: %s\n", err);
    CHECK(denied);
    CHECK(strstr(err, "payloads[0] 'big.bin'") && strstr(err, "bucket 'LINKS'") &&
          strstr(err, "--allow-origin nats-os://LINKS") && strstr(err, "link store is unset"));
    CHECK_OK(as);
    CHECK(same);
    CHECK(bad == NB_INVALID_ARG && strstr(bad_err, "allowed origin") && strstr(bad_err, "bad.bucket"));
    CHECK(named == NB_INVALID_ARG && ftp == NB_INVALID_ARG);
}

/* An envelope whose only payload links to url (size bytes), answered on reply_to ("" none). */
static char *link_request(const char *url, size_t size, const char *reply_to)
{
    static const char fmt[] =
        "{\"correlation_id\":\"c\",\"msg_id\":\"7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5c\","
        "\"timestamp\":\"2026-03-13T07:02:50.443Z\",\"send_to\":\"echo.svc\",\"msg_purpose\":\"chat\","
        "\"sender_name\":\"mallory\",\"sender_id\":\"i\",\"receiver_name\":\"\",\"receiver_id\":\"\","
        "\"reply_to\":\"%s\",\"reply_to_msg_id\":\"\",\"broker_url\":\"\",\"metadata\":{},"
        "\"payloads\":[{\"id\":\"p\",\"dataname\":\"loot\",\"type\":\"binary\",\"transport\":\"link\","
        "\"encoding\":\"none\",\"size\":%zu,\"data\":\"%s\",\"metadata\":{}}]}";
    size_t n = sizeof fmt + strlen(url) + strlen(reply_to) + 24;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, fmt, reply_to, size, url);
    return out;
}

/* A nats.js link object in an allowed bucket must not lead into a bucket that is not. */
OS_CASE(link_object_into_other_bucket)
{
    static const char secret[] = "alice 120000\n";
    nb_objstore *pay = NULL, *links = NULL;
    CHECK_OK(nb_objstore_create(&pay, E.client, &(nb_objstore_config){.bucket = "PAYROLL"}));
    nb_status s = nb_objstore_put_bytes(pay, "salaries", secret, sizeof secret - 1, NULL);
    if (s == NB_OK)
        s = nb_objstore_create(&links, E.client, &(nb_objstore_config){.bucket = "LINKS"});
    nb_objstore_destroy(pay);
    nb_objstore_destroy(links);
    CHECK_OK(s);
    js_result r;
    CHECK(os_js("link", "LINKS", "alias", "PAYROLL/salaries", &r));
    char *json = link_request("nats-os://LINKS/alias", sizeof secret - 1, "");
    CHECK(json);
    nb_client *rc = reader_client(); /* LINKS and NOBUCKET, not PAYROLL */
    nb_envelope *in = NULL;
    nb_status got = rc ? nb_client_receive(rc, json, strlen(json), &in) : NB_INTERNAL;
    char err[1024];
    snprintf(err, sizeof err, "%s", nb_last_error());
    nb_envelope_destroy(in);
    nb_client_destroy(rc);
    /* control: a reader that allows PAYROLL follows the same link */
    nb_options *o = reader_options();
    nb_client *ok_c = NULL;
    nb_envelope *ok_in = NULL;
    nb_status ok = o ? nb_options_add_allowed_origin(o, "nats-os://PAYROLL") : NB_INTERNAL;
    if (ok == NB_OK)
        ok = nb_client_connect(&ok_c, o);
    if (ok == NB_OK)
        ok = nb_client_receive(ok_c, json, strlen(json), &ok_in);
    size_t len = 0;
    const uint8_t *data = ok_in ? nb_payload_data(nb_envelope_payload(ok_in, 0), &len) : NULL;
    bool same = data && len == sizeof secret - 1 && memcmp(data, secret, len) == 0;
    nb_envelope_destroy(ok_in);
    nb_client_destroy(ok_c);
    nb_options_destroy(o);
    free(json);
    fprintf(stderr, "note: %s\n", err);
    CHECK(got == NB_NOT_ALLOWED && strstr(err, "links to bucket 'PAYROLL'") &&
          strstr(err, "--allow-origin nats-os://PAYROLL"));
    CHECK_OK(ok);
    CHECK(same);
}

/* A CLI service running in the background, its stderr in a file. */
typedef struct service {
    pid_t pid;
    char err[512];
} service;

static bool service_start(service *sv, const char *const *argv)
{
    os_path(sv->err, "service.err");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, sv->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&sv->pid, NBT_CLI, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0;
}

/* Stops it: SIGTERM, a bounded wait, then SIGKILL. */
static void service_stop(service *sv)
{
    if (sv->pid <= 0)
        return;
    kill(sv->pid, SIGTERM);
    for (int i = 0; i < 100 && waitpid(sv->pid, NULL, WNOHANG) == 0; i++)
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    if (kill(sv->pid, 0) == 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, NULL, 0);
    }
    sv->pid = 0;
}

/* True once the file holds text (at most 10 s). */
static bool file_says(const char *path, const char *text)
{
    for (int i = 0; i < 200; i++) {
        char *body = nbt_read_file(path, NULL);
        bool found = body && strstr(body, text);
        free(body);
        if (found)
            return true;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return false;
}

/* What the service answers on a fresh inbox to the link request for url ("" when nothing in 3 s). */
static void ask(natsConnection *nc, const char *url, size_t size, char *answer, size_t cap)
{
    char inbox[128];
    snprintf(inbox, sizeof inbox, "_INBOX.mallory.%ld", (long)random());
    answer[0] = '\0';
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    char *json = link_request(url, size, inbox);
    if (json && natsConnection_SubscribeSync(&sub, nc, inbox) == NATS_OK &&
        natsConnection_PublishString(nc, "echo.svc", json) == NATS_OK &&
        natsSubscription_NextMsg(&m, sub, 3000) == NATS_OK)
        snprintf(answer, cap, "%.*s", natsMsg_GetDataLength(m), natsMsg_GetData(m));
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    free(json);
}

/* The bytes of the first payload of an answer (direct), or false. */
static bool answer_holds(const char *answer, const char *bytes, size_t n)
{
    nb_envelope *e = NULL;
    nb_options *o = options();
    bool same = false;
    if (o && nb_options_set_fetch_links(o, false) == NB_OK &&
        nb_envelope_parse(&e, answer, strlen(answer), o) == NB_OK) {
        size_t len = 0;
        const uint8_t *d = nb_payload_data(nb_envelope_payload(e, 0), &len);
        same = d && len == n && memcmp(d, bytes, n) == 0;
    }
    nb_envelope_destroy(e);
    nb_options_destroy(o);
    return same;
}

/*
 * The PAYROLL scenario of issue 11: `reply --echo` reads links from its own
 * bucket ECHO; a caller allowed to publish to echo.svc sends it a link into
 * PAYROLL, which the service's credentials can read. It must be refused,
 * and the secret bytes never come back. A link into ECHO is echoed (control).
 */
OS_CASE(payroll_echo_refused)
{
    static const char secret[] = "alice 120000; bob 95000\n";
    static const char public[] = "hello from the echo bucket\n";
    nb_objstore *pay = NULL, *echo = NULL;
    nb_status s = nb_objstore_create(&pay, E.client, &(nb_objstore_config){.bucket = "PAYROLL"});
    if (s == NB_OK)
        s = nb_objstore_put_bytes(pay, "salaries.csv", secret, sizeof secret - 1, NULL);
    if (s == NB_OK)
        s = nb_objstore_create(&echo, E.client, &(nb_objstore_config){.bucket = "ECHO"});
    if (s == NB_OK)
        s = nb_objstore_put_bytes(echo, "hello.txt", public, sizeof public - 1, NULL);
    nb_objstore_destroy(pay);
    nb_objstore_destroy(echo);
    CHECK_OK(s);
    service sv = {0};
    const char *argv[] = {NBT_CLI, "reply", "echo.svc", "--echo", "--server", E.srv.url,
                          "--store", "nats-os://ECHO", "--timeout", "60", NULL};
    CHECK(service_start(&sv, argv));
    natsConnection *nc = NULL;
    char stolen[8192] = "", control[8192] = "";
    bool up = file_says(sv.err, "listening on echo.svc") &&
              natsConnection_ConnectTo(&nc, E.srv.url) == NATS_OK;
    if (up) {
        ask(nc, "nats-os://PAYROLL/salaries.csv", sizeof secret - 1, stolen, sizeof stolen);
        ask(nc, "nats-os://ECHO/hello.txt", sizeof public - 1, control, sizeof control);
    }
    bool told = up && file_says(sv.err, "bucket 'PAYROLL', which is not allowed");
    bool flag = told && file_says(sv.err, "--allow-origin nats-os://PAYROLL");
    natsConnection_Destroy(nc);
    service_stop(&sv);
    CHECK(up);
    CHECK(stolen[0] == '\0'); /* no answer at all: the bytes never came back */
    CHECK(answer_holds(control, public, sizeof public - 1));
    CHECK(told && flag);
}

static const nbt_case cases[] = {
    NBT_ENTRY(link_in_memory),         NBT_ENTRY(link_download_dir),
    NBT_ENTRY(link_file_payload),      NBT_ENTRY(link_async_subscription),
    NBT_ENTRY(link_fetch_off),         NBT_ENTRY(link_parse_without_client),
    NBT_ENTRY(link_build_without_client), NBT_ENTRY(link_deleted_object),
    NBT_ENTRY(link_max_download),      NBT_ENTRY(link_bad_urls),
    NBT_ENTRY(link_store_option),      NBT_ENTRY(link_http_unchanged),
    NBT_ENTRY(link_through_jetstream),
    NBT_ENTRY(link_bucket_allowlist),  NBT_ENTRY(link_object_into_other_bucket),
    NBT_ENTRY(payroll_echo_refused),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
