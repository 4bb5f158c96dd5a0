/* SPDX-License-Identifier: MIT */
/*
 * test_encode.c - the envelope writer's string fast path (issue 16): a byte
 * that needs escaping or UTF-8 checking is found at every position of
 * strings of 0 to 40 bytes (across the 8-byte words the scan reads and the
 * overlapping last word), written exactly as a byte-at-a-time reference
 * escaper writes it, and read back unchanged; bad UTF-8 is refused naming
 * its byte offset; the broker_url cache follows a changed URL.
 */
#include "test.h"

#include "codec.h"
#include "options.h"

/* The JSON string of s (n bytes) as RFC 8259 wants it, one byte at a time: the reference. */
static void reference_escape(const char *s, size_t n, char *out)
{
    char *w = out;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : NULL;
        if (named)
            w += sprintf(w, "%s", named);
        else if (c < 0x20)
            w += sprintf(w, "\\u%04x", c);
        else
            *w++ = (char)c;
    }
    *w++ = '"';
    *w = '\0';
}

/* Builds an envelope whose receiver_name is s; checks its text and what parsing gives back. */
static int check_string(const char *s)
{
    nb_envelope *e = NULL, *back = NULL;
    if (nb_envelope_create(&e) != NB_OK || nb_envelope_set_receiver_name(e, s) != NB_OK ||
        nb_envelope_build(e, "enc.test", NULL) != NB_OK) {
        fprintf(stderr, "building with a string of %zu bytes: %s\n", strlen(s), nb_last_error());
        nb_envelope_destroy(e);
        return 1;
    }
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    char want[512];
    reference_escape(s, strlen(s), want);
    char key[600];
    snprintf(key, sizeof key, "\"receiver_name\":%s,\"receiver_id\":", want);
    bool text_ok = json && strlen(json) == len && strstr(json, key) != NULL;
    bool back_ok = nb_envelope_parse(&back, json, len, NULL) == NB_OK &&
                   strcmp(nb_envelope_receiver_name(back), s) == 0;
    static int printed;
    if ((!text_ok || !back_ok) && printed++ < 5)
        fprintf(stderr, "string of %zu bytes: want %s in %s (read back: %s)\n", strlen(s), key,
                json ? json : "(none)", back ? nb_envelope_receiver_name(back) : "(failed)");
    nb_envelope_destroy(back);
    nb_envelope_destroy(e);
    return !(text_ok && back_ok);
}

NBT_CASE(special_at_every_position)
{
    static const char *const specials[] = {"\"", "\\", "\n", "\x01", "\x1f", "\t", "\x7f", "\xc3\xa9",
                                           "\xe2\x82\xac", "\xf0\x9f\x98\x80", " ", "~"};
    int bad = 0;
    char s[64];
    for (size_t len = 0; len <= 40; len++) {
        memset(s, 'a', len);
        s[len] = '\0';
        bad += check_string(s);
        for (size_t sp = 0; sp < sizeof specials / sizeof specials[0]; sp++) {
            size_t k = strlen(specials[sp]);
            for (size_t pos = 0; pos + k <= len; pos++) {
                memset(s, 'a', len);
                memcpy(s + pos, specials[sp], k);
                s[len] = '\0';
                bad += check_string(s);
            }
        }
    }
    /* Two specials far apart: the scan resumes correctly after escaping the first. */
    bad += check_string("ab\"cdefghijklmnopqrstuvwxyz0123456789\n");
    bad += check_string("\xc3\xa9" "bcdefghijklmnopqrstuvwxyz\"");
    CHECK(bad == 0);
}

/* Bad UTF-8 in a field set behind the setters' back is refused, naming the field and byte. */
NBT_CASE(bad_utf8_offsets)
{
    for (size_t len = 1; len <= 24; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            nb_envelope *e = NULL;
            CHECK_OK(nb_envelope_create(&e));
            char *s = malloc(len + 1);
            CHECK(s != NULL);
            memset(s, 'b', len);
            s[pos] = (char)0xff;
            s[len] = '\0';
            e->receiver_id = s; /* the envelope frees it */
            char want[96];
            snprintf(want, sizeof want, "receiver_id is not valid UTF-8 at byte %zu", pos);
            CHECK_FAIL(nb_envelope_build(e, "enc.test", NULL), NB_INVALID_ARG, want);
            nb_envelope_destroy(e);
        }
    }
    /* In a payload: payloads[i].dataname, with its index. */
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_payload_create_text(&p, "fine", "hello"));
    CHECK_OK(nb_envelope_add_payload(e, &p));
    CHECK_OK(nb_payload_create_text(&p, "name", "hello"));
    p->dataname[2] = (char)0xc3; /* a lead byte followed by 'e': not a sequence */
    CHECK_OK(nb_envelope_add_payload(e, &p));
    CHECK_FAIL(nb_envelope_build(e, "enc.test", NULL), NB_INVALID_ARG,
               "payloads[1].dataname is not valid UTF-8 at byte 2");
    nb_envelope_destroy(e);
}

/* broker_url is redacted once per URL and thread: a different URL must not get the last one's. */
NBT_CASE(broker_url_follows_options)
{
    static const char *const urls[][2] = {
        {"nats://alice:secret@a.example:4222", "nats://a.example:4222"},
        {"nats://b.example:4222,nats://c.example:4222", "nats://b.example:4222"},
        {"nats://alice:secret@a.example:4222", "nats://a.example:4222"},
        {"nats://tok@d.example:4222", "nats://d.example:4222"},
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
            nb_options *o = NULL;
            CHECK_OK(nb_options_create(&o));
            CHECK_OK(nb_options_set_url(o, urls[i][0]));
            nb_envelope *e = NULL;
            CHECK_OK(nb_envelope_create(&e));
            CHECK_OK(nb_envelope_build(e, "enc.test", o));
            CHECK_STR(nb_envelope_broker_url(e), urls[i][1]);
            CHECK(strstr(nb_envelope_json(e, NULL), "secret") == NULL);
            nb_envelope_destroy(e);
            nb_options_destroy(o);
        }
    }
}

/* A rebuilt envelope gets a fresh timestamp and the same text otherwise; type and encoding kept. */
NBT_CASE(rebuild_same_text)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_payload_create(&p, "blob", NB_TYPE_BINARY, "\x00\x01\x02", 3));
    CHECK_OK(nb_envelope_add_payload(e, &p));
    CHECK_OK(nb_envelope_build(e, "enc.test", NULL));
    char *first = strdup(nb_envelope_json(e, NULL));
    CHECK(first != NULL);
    CHECK_OK(nb_envelope_build(e, "enc.test", NULL));
    const char *second = nb_envelope_json(e, NULL);
    /* Equal apart from the 24 bytes of the timestamp value. */
    const char *t1 = strstr(first, "\"timestamp\":\""), *t2 = strstr(second, "\"timestamp\":\"");
    CHECK(t1 && t2 && t1 - first == t2 - second && strlen(first) == strlen(second));
    size_t at = (size_t)(t1 - first) + 13;
    CHECK(memcmp(first, second, at) == 0);
    CHECK(strcmp(first + at + 24, second + at + 24) == 0);
    CHECK(strstr(second, "\"type\":\"binary\",\"transport\":\"direct\",\"encoding\":\"base64\","
                         "\"size\":3,\"data\":\"AAEC\",\"metadata\":{}}") != NULL);
    CHECK_STR(nb_payload_encoding(nb_envelope_payload(e, 0)), "base64");
    free(first);
    nb_envelope_destroy(e);
}

static const nbt_case cases[] = {
    NBT_ENTRY(special_at_every_position),
    NBT_ENTRY(bad_utf8_offsets),
    NBT_ENTRY(broker_url_follows_options),
    NBT_ENTRY(rebuild_same_text),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
