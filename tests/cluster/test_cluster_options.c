/* SPDX-License-Identifier: MIT */
/*
 * test_cluster_options.c - several server URLs in nb_options_set_url: a
 * comma-separated list is accepted and normalized, and every bad element is
 * refused with a message naming its position and text (no server needed).
 */
#include "options.h"
#include "test.h"

/* Options, or NULL with the reason printed. */
static nb_options *new_options(void)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK)
        fprintf(stderr, "nb_options_create: %s\n", nb_last_error());
    return o;
}

/* Sets url and checks what is kept. */
static int set_and_expect(nb_options *o, const char *url, const char *kept)
{
    nb_status s = nb_options_set_url(o, url);
    if (s != NB_OK) {
        fprintf(stderr, "set_url('%s'): %s: %s\n", url, nb_status_text(s), nb_last_error());
        return 0;
    }
    if (strcmp(o->url, kept) != 0) {
        fprintf(stderr, "set_url('%s') kept '%s', expected '%s'\n", url, o->url, kept);
        return 0;
    }
    return 1;
}

/* A url that must be refused, and what the message must say. */
typedef struct refusal {
    const char *url;
    const char *says;
} refusal;

/* Every url of bad[0..n) is refused with NB_INVALID_ARG and its text; 0 at the first that is not. */
static int refuses_all(nb_options *o, const refusal *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nb_status s = nb_options_set_url(o, bad[i].url);
        if (s != NB_INVALID_ARG || !strstr(nb_last_error(), bad[i].says)) {
            fprintf(stderr, "set_url('%s') returned %s \"%s\", expected NB_INVALID_ARG with \"%s\"\n",
                    bad[i].url ? bad[i].url : "(null)", nb_status_text(s), nb_last_error(),
                    bad[i].says);
            return 0;
        }
    }
    return 1;
}

NBT_CASE(single_url_unchanged)
{
    nb_options *o = new_options();
    CHECK(o);
    /* ws:// and wss:// are refused (issue 10: nats.c 3.4.1 has no WebSocket transport). */
    static const char *const good[] = {"nats://127.0.0.1:4222", "tls://h:4443", "localhost:4222",
                                       "nats://user:pw@h:4222"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(set_and_expect(o, good[i], good[i]));
    CHECK(set_and_expect(o, "  nats://h:1\t", "nats://h:1"));
    nb_options_destroy(o);
}

NBT_CASE(list_accepted)
{
    nb_options *o = new_options();
    CHECK(o);
    CHECK(set_and_expect(o, "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
                         "nats://127.0.0.1:4222,nats://127.0.0.1:4223"));
    /* Spaces around the commas (as typed on a command line) are dropped. */
    CHECK(set_and_expect(o, " nats://a:1 , tls://b:2,\ttls://c:3 ", "nats://a:1,tls://b:2,tls://c:3"));
    CHECK(set_and_expect(o, "a:1,b:2", "a:1,b:2"));

    /* Clones carry the list. */
    nb_options *copy = NULL;
    CHECK_OK(nb_options_clone(&copy, o));
    CHECK_STR(copy->url, "a:1,b:2");
    nb_options_destroy(copy);
    nb_options_destroy(o);
}

NBT_CASE(bad_scheme_named)
{
    nb_options *o = new_options();
    CHECK(o);
    CHECK_OK(nb_options_set_url(o, "nats://keep:1"));
    static const refusal bad[] = {
        {"nats://a:1,http://b:2",
         "server 2 of the list: 'http://b:2': scheme must be nats or tls"},
        {"ftp://a:1,nats://b:2", "server 1 of the list: 'ftp://a:1'"},
        {"nats://a:1,nats://b:2,https://c:3", "server 3 of the list: 'https://c:3'"},
        /* A lone URL is named without a position. */
        {"http://a:1", "url 'http://a:1': 'http://a:1': scheme must be nats"},
    };
    CHECK(refuses_all(o, bad, sizeof bad / sizeof *bad));
    /* Nothing was changed by the refusals. */
    CHECK_STR(o->url, "nats://keep:1");
    nb_options_destroy(o);
}

NBT_CASE(empty_elements_refused)
{
    nb_options *o = new_options();
    CHECK(o);
    static const refusal bad[] = {
        {"nats://a:1,,nats://b:2", "server 2 of the list: empty"},
        {"nats://a:1,", "server 2 of the list: empty"},
        {",nats://a:1", "server 1 of the list: empty"},
        {"nats://a:1, ,nats://b:2", "server 2 of the list: empty"},
        {",", "server 1 of the list: empty"},
        {"", "url must not be empty"},
        {"   ", "url must not be empty"},
        {NULL, "url must not be empty"},
    };
    CHECK(refuses_all(o, bad, sizeof bad / sizeof *bad));
    CHECK_FAIL(nb_options_set_url(NULL, "nats://a:1"), NB_INVALID_ARG, "options is NULL");
    CHECK_STR(o->url, NB_DEFAULT_NATS_URL);
    nb_options_destroy(o);
}

NBT_CASE(whitespace_inside_refused)
{
    nb_options *o = new_options();
    CHECK(o);
    static const refusal bad[] = {
        {"nats://a:1,nats://b c:2", "server 2 of the list: 'nats://b c:2' holds whitespace"},
        {"nats://a\r\n:1", "holds whitespace"},
    };
    CHECK(refuses_all(o, bad, sizeof bad / sizeof *bad));
    nb_options_destroy(o);
}

NBT_CASE(long_list)
{
    /* 200 servers, one of them bad near the end: named by its position, no overflow. */
    char url[200 * 32];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(url + n, sizeof url - n, "%snats://127.0.0.1:%d", i ? "," : "",
                              10000 + i);
    nb_options *o = new_options();
    CHECK(o);
    CHECK_OK(nb_options_set_url(o, url));
    CHECK_STR(o->url, url);
    char *bad = strstr(url, "nats://127.0.0.1:10190");
    CHECK(bad);
    memcpy(bad, "xxxx", 4);
    CHECK_FAIL(nb_options_set_url(o, url), NB_INVALID_ARG, "server 191 of the list: 'xxxx://");
    nb_options_destroy(o);
}

static const nbt_case cases[] = {
    NBT_ENTRY(single_url_unchanged), NBT_ENTRY(list_accepted),
    NBT_ENTRY(bad_scheme_named),     NBT_ENTRY(empty_elements_refused),
    NBT_ENTRY(whitespace_inside_refused), NBT_ENTRY(long_list),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
