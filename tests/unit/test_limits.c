/* SPDX-License-Identifier: MIT */
/*
 * test_limits.c - the receive limits of issue 11 (item 4): payloads per
 * envelope, total announced link bytes, dataname length, metadata depth and
 * envelope size, each refused with an error naming the limit, its value, the
 * setter and the CLI flag; and the O(n) distinct-dataname check (100,000
 * payloads in well under a second).
 */
#include "test.h"

#include "codec.h"
#include "envelope.h"
#include "transport.h"

#include <stdarg.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A growing text, for envelopes of many payloads. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (!t->s || t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (!t->s)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

#define HEAD "{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"metadata\":{},\"payloads\":["

/*
 * An envelope of n payloads: link payloads of link_size bytes at
 * http://127.0.0.1:9 (nothing listens there) or direct text "aGk=" ("hi").
 * dup >= 0 makes payload n-1 reuse the dataname of payload dup.
 */
static char *envelope_of(size_t n, bool link, uint64_t link_size, long dup)
{
    text t = {0};
    put(&t, HEAD);
    for (size_t i = 0; i < n; i++) {
        size_t name = dup >= 0 && i == n - 1 ? (size_t)dup : i;
        if (link)
            put(&t, "%s{\"dataname\":\"f%zu\",\"type\":\"binary\",\"transport\":\"link\","
                    "\"size\":%llu,\"data\":\"http://127.0.0.1:9/f/%zu\"}",
                i ? "," : "", name, (unsigned long long)link_size, i);
        else
            put(&t, "%s{\"dataname\":\"t%zu\",\"type\":\"text\",\"transport\":\"direct\","
                    "\"data\":\"aGk=\"}",
                i ? "," : "", name);
    }
    put(&t, "]}");
    return t.s;
}

static nb_options *options(void)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK)
        return NULL;
    /* Links point at a port where nothing listens: a download that starts fails fast. */
    if (nb_options_set_fileserver_url(o, "http://127.0.0.1:9") != NB_OK ||
        nb_options_set_backoff(o, 0, 0, 0) != NB_OK) {
        nb_options_destroy(o);
        return NULL;
    }
    return o;
}

static nb_status parse(const char *json, const nb_options *o)
{
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_parse(&e, json, strlen(json), o);
    nb_envelope_destroy(e);
    return s;
}

/* The 61 KB envelope of 300 link payloads: refused by count before any payload state. */
NBT_CASE(payload_count)
{
    char *json = envelope_of(300, true, 1000000, -1);
    nb_options *o = options();
    CHECK(json && o);
    nb_status s = parse(json, o);
    bool named = strstr(nb_last_error(), "envelope: 300 payloads exceed the limit of 256 "
                                         "(nb_options_set_max_payloads, --max-payloads)");
    nb_status raised = nb_options_set_max_payloads(o, 300);
    nb_envelope *e = NULL;
    nb_status decoded = nbi_codec_decode_limited(&e, json, strlen(json), o);
    size_t count = nb_envelope_payload_count(e);
    nb_envelope_destroy(e);
    free(json);
    nb_options_destroy(o);
    CHECK(s == NB_TOO_LARGE && named);
    CHECK_OK(raised);
    CHECK_OK(decoded);
    CHECK(count == 300);
}

/* Decodes json under o, then times the receive step (the distinct-name check) alone. */
static nb_status decode_and_resolve(const char *json, const nb_options *o, int64_t *resolve_ms)
{
    nb_envelope *e = NULL;
    nb_status s = nbi_codec_decode_limited(&e, json, strlen(json), o);
    int64_t t0 = now_ms();
    if (s == NB_OK)
        s = nbi_transport_resolve(e, o);
    *resolve_ms = now_ms() - t0;
    nb_envelope_destroy(e);
    return s;
}

/*
 * 100,000 payloads: refused by default; when allowed, the distinct-dataname
 * check is O(n) (the O(n^2) one took 80 s). The JSON parse of the 7 MB text
 * is cJSON's and is timed but not bounded (the machine may be loaded).
 */
NBT_CASE(hundred_thousand)
{
    char *json = envelope_of(100000, false, 0, -1);
    char *dup = envelope_of(100000, false, 0, 99990);
    nb_options *o = options();
    CHECK(json && dup && o);
    int64_t t0 = now_ms();
    nb_status refused = parse(json, o);
    int64_t refuse_ms = now_ms() - t0;
    bool named = strstr(nb_last_error(), "100000 payloads exceed the limit of 256");
    nb_status s = nb_options_set_max_payloads(o, 100000);
    if (s == NB_OK)
        s = nb_options_set_download_dir(o, "/nonexistent-natsbridge-dir"); /* names checked */
    int64_t whole_ms = 0, twin_ms = 0;
    nb_status whole = s == NB_OK ? decode_and_resolve(json, o, &whole_ms) : s;
    nb_status twin = decode_and_resolve(dup, o, &twin_ms);
    bool twin_named = strstr(nb_last_error(), "payloads[99999] 't99990': the same dataname as "
                                              "payloads[99990]");
    free(json);
    free(dup);
    nb_options_destroy(o);
    fprintf(stderr, "100,000 payloads: refused in %lld ms (JSON parse included); names checked "
                    "in %lld ms, duplicate found in %lld ms\n",
            (long long)refuse_ms, (long long)whole_ms, (long long)twin_ms);
    CHECK(refused == NB_TOO_LARGE && named);
    CHECK_OK(whole);
    CHECK(twin == NB_NOT_ALLOWED && twin_named);
    CHECK(whole_ms < 1000 && twin_ms < 1000);
}

/* Link bytes are added up before any download starts. */
NBT_CASE(link_total)
{
    char *json = envelope_of(3, true, 400ULL * 1024 * 1024, -1); /* 1.2 GiB announced */
    nb_options *o = options();
    CHECK(json && o);
    nb_status s = parse(json, o);
    bool named = strstr(nb_last_error(), "envelope: 3 link payloads announce 1258291200 bytes in "
                                         "total, over the limit of 1073741824 "
                                         "(nb_options_set_max_link_bytes, --max-link-bytes)");
    /* Under a raised limit the downloads start (and fail: nothing listens on port 9). */
    nb_status raised = nb_options_set_max_link_bytes(o, 2ULL * 1024 * 1024 * 1024);
    nb_status fetched = parse(json, o);
    bool download_tried = strstr(nb_last_error(), "download") != NULL;
    /* Not fetching links costs nothing: no limit applies. */
    nb_status kept = nb_options_set_max_link_bytes(o, 1);
    if (kept == NB_OK)
        kept = nb_options_set_fetch_links(o, false);
    if (kept == NB_OK)
        kept = parse(json, o);
    free(json);
    nb_options_destroy(o);
    CHECK(s == NB_TOO_LARGE && named);
    CHECK_OK(raised);
    CHECK(fetched != NB_OK && fetched != NB_TOO_LARGE && download_tried);
    CHECK_OK(kept);
}

NBT_CASE(dataname_length)
{
    text t = {0};
    put(&t, HEAD "{\"dataname\":\"");
    for (int i = 0; i < 1025; i++)
        put(&t, "n");
    put(&t, "\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"aGk=\"}]}");
    nb_options *o = options();
    CHECK(t.s && o);
    nb_status s = parse(t.s, o);
    bool named = strstr(nb_last_error(), "envelope: payloads[0]: dataname is 1025 bytes, over the "
                                         "limit of 1024 (nb_options_set_max_dataname, "
                                         "--max-dataname)");
    nb_status raised = nb_options_set_max_dataname(o, 1025);
    nb_status ok = parse(t.s, o);
    free(t.s);
    nb_options_destroy(o);
    CHECK(s == NB_TOO_LARGE && named);
    CHECK_OK(raised);
    CHECK_OK(ok);
}

/* {"d":{"d":...}} n levels deep, as the envelope's or the payload's metadata. */
static char *deep_metadata(int levels, bool in_payload)
{
    text t = {0};
    put(&t, "{\"correlation_id\":\"c\",\"msg_id\":\"m\",%s", in_payload ? "" : "\"metadata\":");
    if (in_payload)
        put(&t, "\"payloads\":[{\"dataname\":\"a\",\"type\":\"text\",\"transport\":\"direct\","
                "\"data\":\"aGk=\",\"metadata\":");
    for (int i = 1; i < levels; i++)
        put(&t, "{\"d\":");
    put(&t, "{}");
    for (int i = 1; i < levels; i++)
        put(&t, "}");
    put(&t, in_payload ? "}]}" : ",\"payloads\":[]}");
    return t.s;
}

NBT_CASE(metadata_depth)
{
    char *env64 = deep_metadata(64, false), *env65 = deep_metadata(65, false);
    char *pay64 = deep_metadata(64, true), *pay65 = deep_metadata(65, true);
    nb_options *o = options();
    CHECK(env64 && env65 && pay64 && pay65 && o);
    nb_status a = parse(env64, o), b = parse(pay64, o);
    nb_status c = parse(env65, o);
    bool c_named = strstr(nb_last_error(), "envelope: metadata nests deeper than the limit of 64 "
                                           "levels (nb_options_set_max_metadata_depth, "
                                           "--max-metadata-depth)");
    nb_status d = parse(pay65, o);
    bool d_named = strstr(nb_last_error(), "envelope: payloads[0].metadata nests deeper than the "
                                           "limit of 64 levels");
    nb_status raised = nb_options_set_max_metadata_depth(o, 65);
    nb_status e = raised == NB_OK ? parse(pay65, o) : raised;
    free(env64);
    free(env65);
    free(pay64);
    free(pay65);
    nb_options_destroy(o);
    CHECK_OK(a);
    CHECK_OK(b);
    CHECK(c == NB_TOO_LARGE && c_named);
    CHECK(d == NB_TOO_LARGE && d_named);
    CHECK_OK(e);
}

NBT_CASE(envelope_size)
{
    char *json = envelope_of(40, false, 0, -1);
    nb_options *o = options();
    CHECK(json && o);
    size_t n = strlen(json);
    nb_status raised = nb_options_set_max_envelope_bytes(o, n - 1);
    nb_status s = parse(json, o);
    char want[200];
    snprintf(want, sizeof want, "envelope: %zu bytes exceed the limit of %zu "
                                "(nb_options_set_max_envelope_bytes, --max-envelope-bytes)",
             n, n - 1);
    bool named = strstr(nb_last_error(), want) != NULL;
    nb_status exact = nb_options_set_max_envelope_bytes(o, n);
    nb_status ok = exact == NB_OK ? parse(json, o) : exact;
    free(json);
    nb_options_destroy(o);
    CHECK_OK(raised);
    CHECK(s == NB_TOO_LARGE && named);
    CHECK_OK(ok);
}

NBT_CASE(setters)
{
    nb_options *o = options();
    CHECK(o);
    nb_status s[5] = {nb_options_set_max_payloads(o, 0), nb_options_set_max_link_bytes(o, 0),
                      nb_options_set_max_dataname(o, 0), nb_options_set_max_metadata_depth(o, 0),
                      nb_options_set_max_envelope_bytes(o, 0)};
    nb_status neg = nb_options_set_max_metadata_depth(o, -3);
    bool named = strstr(nb_last_error(), "max_metadata_depth must be at least 1") != NULL;
    nb_options *copy = NULL;
    nb_status cloned = nb_options_set_max_payloads(o, 7);
    if (cloned == NB_OK)
        cloned = nb_options_clone(&copy, o);
    nb_options_destroy(o);
    for (int i = 0; i < 5; i++)
        CHECK(s[i] == NB_INVALID_ARG);
    CHECK(neg == NB_INVALID_ARG && named);
    CHECK_OK(cloned);
    char *json = envelope_of(8, false, 0, -1);
    nb_status over = parse(json, copy); /* the clone keeps the limit */
    free(json);
    nb_options_destroy(copy);
    CHECK(over == NB_TOO_LARGE);
}

static const nbt_case cases[] = {
    NBT_ENTRY(payload_count), NBT_ENTRY(hundred_thousand), NBT_ENTRY(link_total),
    NBT_ENTRY(dataname_length), NBT_ENTRY(metadata_depth), NBT_ENTRY(envelope_size),
    NBT_ENTRY(setters), {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
