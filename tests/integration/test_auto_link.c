/* SPDX-License-Identifier: MIT */
/*
 * test_auto_link.c - envelopes that fit the server (issue 16): a direct
 * payload under the size threshold whose envelope would exceed the server's
 * max_payload goes by link instead, through a real nats-server started with a
 * small max_payload and the real built-in file server (or a JetStream Object
 * Store); with auto-link off, or with no file server chosen, the envelope is
 * refused with NB_TOO_LARGE and nothing is published.
 */
#include "integ.h"

#include "integrity.h"

#define MAX_PAYLOAD 102400L /* 100 KB: a 300 KB payload's envelope cannot fit */
#define THRESHOLD 1000000   /* 1 MB: every payload here is under it */

static char fs_url[64];

/* The built-in file server over the case's directory, on a free loopback port. */
static bool fs_start(void)
{
    const char *dir = case_dir();
    REQUIRE(dir);
    char files[300];
    snprintf(files, sizeof files, "%s/files", dir);
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .port = 0, .dir = files,
                                .quiet = true};
    REQUIRE_OK(nb_fileserver_start(&T.fs, &cfg));
    snprintf(fs_url, sizeof fs_url, "http://127.0.0.1:%d", nb_fileserver_port(T.fs));
    return true;
}

/* Options with threshold 1 MB and, when url is set, that file server. */
static nb_options *opts_at(const char *url)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_size_threshold(o, THRESHOLD) != NB_OK ||
        (url && nb_options_set_fileserver_url(o, url) != NB_OK)) {
        fprintf(stderr, "opts_at: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

/* The payload arrived by link with exactly bytes, and its sha256 is theirs (computed here). */
static bool arrived_by_link(const nb_payload *p, const char *name, const uint8_t *bytes, size_t n)
{
    REQUIRE(p);
    REQUIRE(nb_payload_transport(p) == NB_TRANSPORT_LINK);
    REQUIRE(strcmp(nb_payload_dataname(p), name) == 0 && nb_payload_type(p) == NB_TYPE_BINARY);
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    REQUIRE(data && len == n && memcmp(data, bytes, n) == 0);
    char want[NBI_SHA256_HEX_LEN + 1];
    REQUIRE_OK(nbi_sha256_hex(bytes, n, want));
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItem(nb_payload_metadata(p), "sha256"));
    REQUIRE(sha && strcmp(sha, want) == 0);
    return true;
}

/* Nothing reaches s within 300 ms. */
static bool nothing_arrives(nb_subscription *s)
{
    nb_envelope *none = NULL;
    nb_status st = nb_subscription_next(s, 300, &none);
    REQUIRE(st == NB_TIMEOUT && none == NULL);
    return true;
}

CASE(auto_link_fits, MAX_PAYLOAD)
{
    /* 300 KB under a 1 MB threshold, 100 KB max_payload: sent by link, verified on arrival. */
    static uint8_t bytes[300000];
    fill_bytes(bytes, sizeof bytes, 161);
    CHECK(fs_start());
    nb_client *a = connect_with(opts_at(fs_url));
    nb_subscription *s = sub_sync(connect_with(opts_at(fs_url)), "/fit", NULL);
    CHECK(a && s);
    CHECK(nb_client_max_payload(a) == MAX_PAYLOAD);
    nb_envelope *e = env_new();
    CHECK(e && add(e, text_payload("note", "small: stays direct")));
    CHECK(add(e, bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes)));
    nb_envelope *got = send_and_next(a, s, "/fit", e);
    CHECK(got);
    CHECK(nb_payload_transport(nb_envelope_payload(e, 1)) == NB_TRANSPORT_LINK);
    const nb_payload *note = nb_envelope_payload(got, 0);
    CHECK(nb_payload_transport(note) == NB_TRANSPORT_DIRECT);
    CHECK(payload_is(note, "note", NB_TYPE_TEXT, "small: stays direct", 19));
    const nb_payload *big = nb_envelope_payload(got, 1);
    CHECK(arrived_by_link(big, "big.bin", bytes, sizeof bytes));
    CHECK(strncmp(nb_payload_url(big), fs_url, strlen(fs_url)) == 0);
    size_t len = 0;
    CHECK(nb_envelope_json(got, &len) && len < 5000); /* only the URL travelled */
}

CASE(auto_link_off, MAX_PAYLOAD)
{
    /* The option off keeps the refusal, naming the server's limit; nothing is published
     * and nothing is uploaded. */
    static uint8_t bytes[300000];
    fill_bytes(bytes, sizeof bytes, 162);
    CHECK(fs_start());
    nb_options *o = opts_at(fs_url);
    CHECK(o);
    CHECK_OK(nb_options_set_auto_link(o, false));
    nb_client *a = connect_with(o);
    nb_subscription *s = sub_sync(connect_with(opts_at(fs_url)), "/off", NULL);
    CHECK(a && s);
    nb_envelope *e = env_with(bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    CHECK_FAIL(nb_client_send(a, "/off", e), NB_TOO_LARGE, "max_payload of 102400");
    CHECK(nb_payload_transport(nb_envelope_payload(e, 0)) == NB_TRANSPORT_DIRECT);
    CHECK(nothing_arrives(s));
    CHECK_FAILS(nb_options_set_auto_link(NULL, true), NB_INVALID_ARG);
}

CASE(auto_link_largest_first, MAX_PAYLOAD)
{
    /* 60 KB + 40 KB + 20 KB of binary is ~160 KB of base64: moving the 60 KB payload
     * (~80 KB) is enough, so the other two stay direct. A second send of the same
     * envelope decides again and arrives the same. */
    static uint8_t a60[60000], b40[40000], c20[20000];
    fill_bytes(a60, sizeof a60, 1);
    fill_bytes(b40, sizeof b40, 2);
    fill_bytes(c20, sizeof c20, 3);
    CHECK(fs_start());
    nb_client *a = connect_with(opts_at(fs_url));
    nb_subscription *s = sub_sync(connect_with(opts_at(fs_url)), "/multi", NULL);
    CHECK(a && s);
    nb_envelope *e = env_new();
    CHECK(e && add(e, bytes_payload("b40", NB_TYPE_BINARY, b40, sizeof b40)));
    CHECK(add(e, bytes_payload("a60", NB_TYPE_BINARY, a60, sizeof a60)));
    CHECK(add(e, bytes_payload("c20", NB_TYPE_BINARY, c20, sizeof c20)));
    for (int round = 0; round < 2; round++) {
        nb_envelope *got = send_and_next(a, s, "/multi", e);
        CHECK(got);
        const nb_payload *p0 = nb_envelope_payload(got, 0), *p2 = nb_envelope_payload(got, 2);
        CHECK(nb_payload_transport(p0) == NB_TRANSPORT_DIRECT);
        CHECK(payload_is(p0, "b40", NB_TYPE_BINARY, b40, sizeof b40));
        CHECK(arrived_by_link(nb_envelope_payload(got, 1), "a60", a60, sizeof a60));
        CHECK(nb_payload_transport(p2) == NB_TRANSPORT_DIRECT);
        CHECK(payload_is(p2, "c20", NB_TYPE_BINARY, c20, sizeof c20));
    }

    /* 70 KB + 70 KB: both must go (either alone leaves ~93 KB of base64 plus the rest). */
    static uint8_t d70[70000], e70[70000];
    fill_bytes(d70, sizeof d70, 4);
    fill_bytes(e70, sizeof e70, 5);
    nb_envelope *two = env_new();
    CHECK(two && add(two, bytes_payload("d70", NB_TYPE_BINARY, d70, sizeof d70)));
    CHECK(add(two, bytes_payload("e70", NB_TYPE_BINARY, e70, sizeof e70)));
    CHECK(add(two, bytes_payload("f20", NB_TYPE_BINARY, c20, sizeof c20)));
    nb_envelope *got = send_and_next(a, s, "/multi", two);
    CHECK(got);
    CHECK(arrived_by_link(nb_envelope_payload(got, 0), "d70", d70, sizeof d70));
    CHECK(arrived_by_link(nb_envelope_payload(got, 1), "e70", e70, sizeof e70));
    CHECK(nb_payload_transport(nb_envelope_payload(got, 2)) == NB_TRANSPORT_DIRECT);
}

CASE(auto_link_without_fileserver, MAX_PAYLOAD)
{
    /* No file server chosen (the built-in default URL is not a choice): refused as before.
     * A chosen one that does not answer: refused, naming the payload and the failed upload. */
    static uint8_t bytes[300000];
    fill_bytes(bytes, sizeof bytes, 163);
    nb_client *a = connect_with(opts_at(NULL));
    char down[64];
    snprintf(down, sizeof down, "http://127.0.0.1:%d", closed_port());
    nb_client *b = connect_with(opts_at(down));
    nb_subscription *s = sub_sync(new_client(), "/none", NULL);
    CHECK(a && b && s);
    nb_envelope *e = env_with(bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    CHECK_FAIL(nb_client_send(a, "/none", e), NB_TOO_LARGE, "max_payload of 102400");
    CHECK_FAIL(nb_client_send(b, "/none", e), NB_TOO_LARGE,
               "moving payloads[0] 'big.bin' to link failed");
    CHECK(strstr(nb_last_error(), "upload to") && strstr(nb_last_error(), "102400"));
    fprintf(stderr, "note: file server down: %s\n", nb_last_error());
    CHECK(nothing_arrives(s));
}

/* ---- the same through a JetStream Object Store ---------------------------- */

static nbt_server js_srv;

/* Object Store chunks are 128 KiB: max_payload 200 KB still cannot hold 300 KB in base64. */
#define JS_MAX_PAYLOAD 204800L

static bool js_setup(void)
{
    REQUIRE(setup(0));
    REQUIRE(nbt_server_start(&js_srv, true, JS_MAX_PAYLOAD) == 0);
    return true;
}

static void js_teardown(void)
{
    teardown(); /* the clients first: they use js_srv */
    if (js_srv.pid > 0)
        nbt_server_stop(&js_srv);
    memset(&js_srv, 0, sizeof js_srv);
}

static nb_options *store_opts(void)
{
    nb_options *o = opts_at(NULL);
    if (!o || nb_options_set_url(o, js_srv.url) != NB_OK ||
        nb_options_set_link_store(o, "nats-os://AUTOLINK") != NB_OK) {
        fprintf(stderr, "store_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

NBT_CASE_WITH(auto_link_object_store, js_setup(), js_teardown())
{
    static uint8_t bytes[300000];
    fill_bytes(bytes, sizeof bytes, 164);
    nb_client *a = connect_with(store_opts());
    nb_subscription *s = sub_sync(connect_with(store_opts()), "/os", NULL);
    CHECK(a && s);
    CHECK(nb_client_max_payload(a) == JS_MAX_PAYLOAD);
    nb_envelope *e = env_with(bytes_payload("big.bin", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    nb_envelope *got = send_and_next(a, s, "/os", e);
    CHECK(got);
    const nb_payload *p = nb_envelope_payload(got, 0);
    CHECK(arrived_by_link(p, "big.bin", bytes, sizeof bytes));
    CHECK(strncmp(nb_payload_url(p), "nats-os://AUTOLINK/", 19) == 0);
}

static const nbt_case cases[] = {
    NBT_ENTRY(auto_link_fits),
    NBT_ENTRY(auto_link_off),
    NBT_ENTRY(auto_link_largest_first),
    NBT_ENTRY(auto_link_without_fileserver),
    NBT_ENTRY(auto_link_object_store),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
