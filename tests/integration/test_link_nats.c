/*
 * test_link_nats.c - link payloads end to end over NATS: through the built-in
 * file server, refused from an unknown origin, not fetched on request, and a
 * send that fails cleanly when no file server answers.
 */
#include "integ.h"

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

/* Starts nb_fileserver on a free port; url gets its base URL. */
static bool start_fileserver(char *url, size_t urlsz)
{
    const char *dir = case_dir();
    REQUIRE(dir);
    char files[300];
    snprintf(files, sizeof files, "%s/files", dir);
    nb_fileserver_config cfg = {"127.0.0.1", 0, files, 0, 0, NULL, true};
    REQUIRE_OK(nb_fileserver_start(&T.fs, &cfg));
    snprintf(url, urlsz, "http://127.0.0.1:%d", nb_fileserver_port(T.fs));
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

static const nbt_case cases[] = {
    NBT_ENTRY(threshold_without_fileserver),
    NBT_ENTRY(link_via_fileserver),
    NBT_ENTRY(link_origin_not_allowed),
    NBT_ENTRY(link_fetch_off),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
