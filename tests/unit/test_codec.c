/* SPDX-License-Identifier: MIT */
/*
 * test_codec.c - the envelope codec (src/envelope/codec_write.c, src/envelope/codec_read.c) and envelope fields
 * (src/envelope/envelope.c): both directions for every field and type, the exact
 * wire text, the peers' variants, and bad input of every kind.
 */
#include "test.h"

#include "base64.h"
#include "codec.h"
#include "ids.h"
#include "options.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Decodes n bytes and checks that a failure leaves *out NULL. */
static nb_status decode_n(const char *json, size_t n, nb_envelope **out)
{
    nb_envelope *e = (nb_envelope *)&e; /* poison: must become NULL on failure */
    nb_status s = nbi_codec_decode(&e, json, n);
    if (s != NB_OK && e != NULL)
        return nbi_fail(NB_INTERNAL, "decode failed but left *out set");
    if (out)
        *out = e;
    else
        nb_envelope_destroy(e);
    return s;
}

static nb_status decode(const char *json, nb_envelope **out)
{
    return decode_n(json, strlen(json), out);
}

/* Decodes the compact print of tree (freed). */
static nb_status decode_tree(cJSON *tree, nb_envelope **out)
{
    char *text = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    nb_status s = decode(text, out);
    cJSON_free(text);
    return s;
}

/* A malloc'd base64 text of n bytes. */
static char *b64(const void *data, size_t n)
{
    size_t m = nbi_base64_encoded_len(n);
    char *out = malloc(m + 1);
    nbi_base64_encode(data, n, out);
    out[m] = '\0';
    return out;
}

static uint32_t lcg_state = 1;
static uint8_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return (uint8_t)(lcg_state >> 16);
}

#define ENV(payloads) "{\"correlation_id\":\"c1\",\"msg_id\":\"m1\",\"payloads\":[" payloads "]}"
#define TEXT_HI "{\"dataname\":\"msg\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"aGk=\"}"

/* A valid envelope as a tree: every field, one text payload "hi". */
static cJSON *valid_tree(void)
{
    static const char *const text =
        "{\"correlation_id\":\"c1\",\"msg_id\":\"m1\",\"timestamp\":\"t\",\"send_to\":\"s\","
        "\"msg_purpose\":\"chat\",\"sender_name\":\"sn\",\"sender_id\":\"si\","
        "\"receiver_name\":\"rn\",\"receiver_id\":\"ri\",\"reply_to\":\"rt\","
        "\"reply_to_msg_id\":\"rm\",\"broker_url\":\"nats://x:1\",\"metadata\":{},"
        "\"payloads\":[{\"id\":\"p1\",\"dataname\":\"msg\",\"type\":\"text\","
        "\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":2,\"data\":\"aGk=\","
        "\"metadata\":{}}]}";
    return cJSON_Parse(text);
}

static cJSON *payload0(cJSON *tree)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "payloads"), 0);
}

static const char *const field_names[12] = {
    "correlation_id", "msg_id",      "timestamp", "send_to",         "msg_purpose", "sender_name",
    "sender_id",      "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id", "broker_url",
};

/* The 12 string fields through the public accessors, in wire order. */
static const char *field(const nb_envelope *e, int i)
{
    switch (i) {
    case 0: return nb_envelope_correlation_id(e);
    case 1: return nb_envelope_msg_id(e);
    case 2: return nb_envelope_timestamp(e);
    case 3: return nb_envelope_send_to(e);
    case 4: return nb_envelope_msg_purpose(e);
    case 5: return nb_envelope_sender_name(e);
    case 6: return nb_envelope_sender_id(e);
    case 7: return nb_envelope_receiver_name(e);
    case 8: return nb_envelope_receiver_id(e);
    case 9: return nb_envelope_reply_to(e);
    case 10: return nb_envelope_reply_to_msg_id(e);
    default: return nb_envelope_broker_url(e);
    }
}

/* Adds a payload built by nb_payload_create with metadata {"i": i}. */
static nb_status add(nb_envelope *e, const char *name, nb_type t, const void *d, size_t n, int i)
{
    nb_payload *p = NULL;
    nb_status s = nb_payload_create(&p, name, t, d, n);
    if (s != NB_OK)
        return s;
    char meta[32];
    snprintf(meta, sizeof meta, "{\"i\":%d}", i);
    if ((s = nb_payload_set_metadata_json(p, meta)) == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Both directions                                                          */
/* ------------------------------------------------------------------------ */

NBT_CASE(roundtrip_every_type)
{
    uint8_t all[256], arrow[16] = {0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0};
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_OK(nb_options_set_url(o, "nats://127.0.0.1:4333"));
    CHECK_OK(nb_options_set_sender_name(o, "tester"));
    CHECK_OK(nb_options_set_sender_id(o, "sid-1"));
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_envelope_set_correlation_id(e, "corr-1"));
    CHECK_OK(nb_envelope_set_msg_purpose(e, "ACK"));
    CHECK_OK(nb_envelope_set_receiver_name(e, "rx \"quoted\""));
    CHECK_OK(nb_envelope_set_receiver_id(e, "rid"));
    CHECK_OK(nb_envelope_set_reply_to(e, "_INBOX.1"));
    CHECK_OK(nb_envelope_set_reply_to_msg_id(e, "m0"));
    CHECK_OK(nb_envelope_set_metadata_json(e, "{\"k\":[1,2.5,\"\xc3\xa9\"],\"n\":null}"));
    const char *text = "h\xc3\xa9llo \"q\"\n\t\\";
    CHECK_OK(add(e, "msg", NB_TYPE_TEXT, text, strlen(text), 0));
    CHECK_OK(add(e, "cfg", NB_TYPE_DICTIONARY, "{\"a\":1}", 7, 1));
    CHECK_OK(add(e, "arrow", NB_TYPE_TABLE, arrow, sizeof arrow, 2));
    CHECK_OK(add(e, "img", NB_TYPE_IMAGE, all, 256, 3));
    CHECK_OK(add(e, "snd", NB_TYPE_AUDIO, all + 1, 100, 4));
    CHECK_OK(add(e, "vid", NB_TYPE_VIDEO, all + 2, 5, 5));
    CHECK_OK(add(e, "nothing", NB_TYPE_BINARY, NULL, 0, 6));
    CHECK_OK(add(e, "rows", NB_TYPE_JSONTABLE, "[{\"r\":1}]", 9, 7));
    CHECK_OK(nbi_envelope_fill_defaults(e, "/chat/room1", o));
    CHECK_OK(nbi_codec_encode(e));
    size_t len;
    const char *json = nb_envelope_json(e, &len);
    CHECK(json && len == strlen(json));
    nb_envelope *d = NULL;
    CHECK_OK(decode_n(json, len, &d));
    for (int i = 0; i < 12; i++)
        CHECK_STR(field(d, i), field(e, i));
    CHECK_STR(nb_envelope_sender_name(d), "tester");
    CHECK_STR(nb_envelope_sender_id(d), "sid-1");
    CHECK_STR(nb_envelope_broker_url(d), "nats://127.0.0.1:4333");
    CHECK_STR(nb_envelope_send_to(d), "/chat/room1");
    CHECK_STR(nb_envelope_receiver_name(d), "rx \"quoted\"");
    CHECK(cJSON_Compare(nb_envelope_metadata(d), nb_envelope_metadata(e), true));
    CHECK(nb_envelope_payload_count(d) == 8);
    for (size_t i = 0; i < 8; i++) {
        const nb_payload *a = nb_envelope_payload(e, i), *b = nb_envelope_payload(d, i);
        CHECK(nbi_is_uuid(nb_payload_id(a)));
        CHECK_STR(nb_payload_id(b), nb_payload_id(a));
        CHECK_STR(nb_payload_dataname(b), nb_payload_dataname(a));
        CHECK(nb_payload_type(b) == nb_payload_type(a));
        CHECK_STR(nb_payload_type_name(b), nb_type_name(nb_payload_type(a)));
        CHECK(nb_payload_transport(b) == NB_TRANSPORT_DIRECT);
        CHECK_STR(nb_payload_encoding(b), "base64");
        CHECK_STR(nb_payload_encoding(a), "base64");
        CHECK(nb_payload_size(b) == nb_payload_size(a));
        size_t na, nb;
        const uint8_t *da = nb_payload_data(a, &na), *db = nb_payload_data(b, &nb);
        CHECK(na == nb && db && db[nb] == '\0' && (na == 0 || memcmp(da, db, na) == 0));
        CHECK(cJSON_Compare(nb_payload_metadata(a), nb_payload_metadata(b), true));
        CHECK(cJSON_GetObjectItem(nb_payload_metadata(b), "i")->valueint == (int)i);
    }
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 0)), text);
    CHECK(cJSON_IsObject(nb_payload_json(nb_envelope_payload(d, 1))));
    CHECK(cJSON_IsArray(nb_payload_json(nb_envelope_payload(d, 7))));
    size_t dlen;
    CHECK_STR(nb_envelope_json(d, &dlen), json);
    CHECK(dlen == len);
    /* Encoding the decoded envelope gives the same text again. */
    CHECK_OK(nbi_codec_encode(d));
    CHECK_STR(nb_envelope_json(d, NULL), json);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
    nb_options_destroy(o);
}

NBT_CASE(roundtrip_link)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(add(e, "big", NB_TYPE_VIDEO, "abc", 3, 0));
    nb_payload *p = e->payloads[0];
    /* What transport.c does once the bytes are uploaded. */
    p->transport = NB_TRANSPORT_LINK;
    p->url = strdup("http://127.0.0.1:8080/file/u/f/big");
    p->size = 1500000;
    CHECK_OK(nbi_envelope_fill_defaults(e, "subj", NULL));
    CHECK_OK(nbi_codec_encode(e));
    CHECK(strstr(e->json, "\"transport\":\"link\",\"encoding\":\"none\",\"size\":1500000,"
                          "\"data\":\"http://127.0.0.1:8080/file/u/f/big\""));
    nb_envelope *d = NULL;
    CHECK_OK(decode(e->json, &d));
    const nb_payload *q = nb_envelope_payload(d, 0);
    CHECK(nb_payload_transport(q) == NB_TRANSPORT_LINK);
    CHECK_STR(nb_payload_url(q), "http://127.0.0.1:8080/file/u/f/big");
    CHECK(nb_payload_size(q) == 1500000);
    CHECK_STR(nb_payload_encoding(q), "none");
    CHECK(nb_payload_type(q) == NB_TYPE_VIDEO);
    CHECK(nb_payload_data(q, NULL) == NULL);
    CHECK(nb_payload_text(q) == NULL);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
}

NBT_CASE(fill_defaults)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(add(e, "a", NB_TYPE_BINARY, "x", 1, 0));
    CHECK_OK(nbi_envelope_fill_defaults(e, "/agent/v1/process", NULL));
    CHECK(nbi_is_uuid(nb_envelope_msg_id(e)));
    CHECK(nbi_is_uuid(nb_envelope_correlation_id(e)));
    CHECK(nbi_is_uuid(nb_envelope_sender_id(e)));
    CHECK(strcmp(nb_envelope_msg_id(e), nb_envelope_correlation_id(e)) != 0);
    const char *ts = nb_envelope_timestamp(e);
    CHECK(strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z');
    CHECK_STR(nb_envelope_send_to(e), "/agent/v1/process");
    CHECK_STR(nb_envelope_msg_purpose(e), "chat");
    CHECK_STR(nb_envelope_sender_name(e), "NATSBridge");
    CHECK_STR(nb_envelope_broker_url(e), "nats://localhost:4222");
    CHECK_STR(nb_envelope_receiver_name(e), "");
    CHECK_STR(nb_envelope_receiver_id(e), "");
    CHECK_STR(nb_envelope_reply_to(e), "");
    CHECK_STR(nb_envelope_reply_to_msg_id(e), "");
    CHECK(nbi_is_uuid(nb_payload_id(nb_envelope_payload(e, 0))));
    CHECK_FAIL(nbi_envelope_fill_defaults(e, "", NULL), NB_INVALID_ARG, "subject");
    CHECK_FAIL(nbi_envelope_fill_defaults(e, NULL, NULL), NB_INVALID_ARG, "subject");
    CHECK_FAIL(nbi_envelope_fill_defaults(NULL, "s", NULL), NB_INVALID_ARG, "NULL envelope");
    nb_envelope_destroy(e);
}

/* A cluster's server list names its first server as broker_url: peers read one URL there. */
NBT_CASE(broker_url_of_a_server_list)
{
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_OK(nb_options_set_url(o, "nats://127.0.0.1:4222, nats://127.0.0.1:4223"));
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nbi_envelope_fill_defaults(e, "s", o));
    CHECK_STR(nb_envelope_broker_url(e), "nats://127.0.0.1:4222");
    nb_envelope_destroy(e);
    nb_options_destroy(o);
}

NBT_CASE(fill_defaults_keeps)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_envelope_set_msg_id(e, "mine"));
    CHECK_OK(nb_envelope_set_correlation_id(e, "flow"));
    CHECK_OK(nb_envelope_set_sender_name(e, "me"));
    CHECK_OK(nb_envelope_set_sender_id(e, "my-id"));
    CHECK_OK(nb_envelope_set_msg_purpose(e, "updateStatus"));
    CHECK_OK(add(e, "a", NB_TYPE_BINARY, "x", 1, 0));
    e->payloads[0]->id = strdup("pid");
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_OK(nb_options_set_sender_name(o, "other"));
    CHECK_OK(nbi_envelope_fill_defaults(e, "one", o));
    CHECK_STR(nb_envelope_msg_id(e), "mine");
    CHECK_STR(nb_envelope_correlation_id(e), "flow");
    CHECK_STR(nb_envelope_sender_name(e), "me");
    CHECK_STR(nb_envelope_sender_id(e), "my-id");
    CHECK_STR(nb_envelope_msg_purpose(e), "updateStatus");
    CHECK_STR(nb_payload_id(nb_envelope_payload(e, 0)), "pid");
    /* Built again (re-sent): generated values stay, subject and time follow. */
    nb_envelope *f = NULL;
    CHECK_OK(nb_envelope_create(&f));
    CHECK_OK(nbi_envelope_fill_defaults(f, "one", o));
    char msg_id[64], sender_id[64];
    snprintf(msg_id, sizeof msg_id, "%s", nb_envelope_msg_id(f));
    snprintf(sender_id, sizeof sender_id, "%s", nb_envelope_sender_id(f));
    CHECK_STR(nb_envelope_sender_name(f), "other");
    CHECK_OK(nb_options_set_url(o, "nats://127.0.0.1:5"));
    CHECK_OK(nbi_envelope_fill_defaults(f, "two", o));
    CHECK_STR(nb_envelope_msg_id(f), msg_id);
    CHECK_STR(nb_envelope_sender_id(f), sender_id);
    CHECK_STR(nb_envelope_send_to(f), "two");
    CHECK_STR(nb_envelope_broker_url(f), "nats://127.0.0.1:5");
    nb_envelope_destroy(f);
    nb_envelope_destroy(e);
    nb_options_destroy(o);
}

/* The example of docs/PROTOCOL.md, field by field. */
static const char exact[] =
    "{\"correlation_id\":\"2b3c1f0e-8d4a-4f6e-9a7b-1c2d3e4f5a6b\","
    "\"msg_id\":\"7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b\","
    "\"timestamp\":\"2026-03-13T07:02:50.443Z\",\"send_to\":\"/chat/room1\","
    "\"msg_purpose\":\"chat\",\"sender_name\":\"agent-wine-web-frontend\","
    "\"sender_id\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\",\"receiver_name\":\"\","
    "\"receiver_id\":\"\",\"reply_to\":\"\",\"reply_to_msg_id\":\"\","
    "\"broker_url\":\"nats://localhost:4222\",\"metadata\":{\"room\":\"room1\"},"
    "\"payloads\":[{\"id\":\"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d\",\"dataname\":\"msg\","
    "\"type\":\"text\",\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":12,"
    "\"data\":\"aGVsbG8gd29ybGQh\",\"metadata\":{}},"
    "{\"id\":\"6b5c4d3e-2f10-4b0a-9d8e-7f6a5b4c3d2e\",\"dataname\":\"scan\",\"type\":\"image\","
    "\"transport\":\"link\",\"encoding\":\"none\",\"size\":1048576,"
    "\"data\":\"http://localhost:8080/file/Xk2j/Yp9q/scan\","
    "\"metadata\":{\"sha256\":\"1f3c\"}}]}";

static nb_status build_exact(nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create(&e);
    if (s != NB_OK)
        return s;
    e->correlation_id = strdup("2b3c1f0e-8d4a-4f6e-9a7b-1c2d3e4f5a6b");
    e->msg_id = strdup("7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b");
    e->timestamp = strdup("2026-03-13T07:02:50.443Z");
    e->send_to = strdup("/chat/room1");
    e->msg_purpose = strdup("chat");
    e->sender_name = strdup("agent-wine-web-frontend");
    e->sender_id = strdup("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
    e->broker_url = strdup("nats://localhost:4222");
    if ((s = nb_envelope_set_metadata_json(e, "{\"room\":\"room1\"}")) == NB_OK)
        s = add(e, "msg", NB_TYPE_TEXT, "hello world!", 12, 0);
    if (s == NB_OK)
        s = add(e, "scan", NB_TYPE_IMAGE, "x", 1, 1);
    if (s == NB_OK) {
        nb_payload *a = e->payloads[0], *b = e->payloads[1];
        cJSON_DeleteItemFromObject(a->metadata, "i");
        cJSON_DeleteItemFromObject(b->metadata, "i");
        cJSON_AddStringToObject(b->metadata, "sha256", "1f3c");
        a->id = strdup("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d");
        b->id = strdup("6b5c4d3e-2f10-4b0a-9d8e-7f6a5b4c3d2e");
        b->transport = NB_TRANSPORT_LINK;
        b->url = strdup("http://localhost:8080/file/Xk2j/Yp9q/scan");
        b->size = 1048576;
        s = nbi_codec_encode(e);
    }
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        e = NULL;
    }
    *out = e;
    return s;
}

NBT_CASE(exact_text)
{
    nb_envelope *e = NULL;
    CHECK_OK(build_exact(&e));
    size_t len;
    CHECK_STR(nb_envelope_json(e, &len), exact);
    CHECK(len == sizeof exact - 1);
    nb_envelope *d = NULL;
    CHECK_OK(decode(exact, &d));
    CHECK_OK(nbi_codec_encode(d));
    CHECK_STR(nb_envelope_json(d, NULL), exact);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
}

NBT_CASE(escaping)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_envelope_set_correlation_id(e, "c"));
    CHECK_OK(nb_envelope_set_msg_id(e, "m"));
    CHECK_OK(nb_envelope_set_sender_name(e, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \xe2\x82\xac"));
    CHECK_OK(nbi_codec_encode(e));
    CHECK(strstr(e->json, "\"sender_name\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f "
                          "\xe2\x82\xac\""));
    CHECK(strstr(e->json, "\"metadata\":{},\"payloads\":[]}"));
    nb_envelope *d = NULL;
    CHECK_OK(decode(e->json, &d));
    CHECK_STR(nb_envelope_sender_name(d), nb_envelope_sender_name(e));
    CHECK(nb_envelope_payload_count(d) == 0);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
}

NBT_CASE(encode_errors)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(add(e, "blob", NB_TYPE_BINARY, "x", 1, 0));
    nb_payload *p = e->payloads[0];
    uint8_t *data = p->data;
    p->data = NULL;
    p->path = strdup("/tmp/somewhere");
    CHECK_FAIL(nbi_codec_encode(e), NB_INTERNAL,
               "payloads[0] 'blob': file payload not loaded before encoding");
    free(p->path);
    p->path = NULL;
    CHECK_FAIL(nbi_codec_encode(e), NB_INTERNAL, "direct payload has no bytes");
    p->transport = NB_TRANSPORT_LINK;
    CHECK_FAIL(nbi_codec_encode(e), NB_INTERNAL, "link payload has no URL");
    p->transport = NB_TRANSPORT_DIRECT;
    p->data = data;
    CHECK(e->json == NULL);
    e->receiver_name = strdup("bad \xc3");
    CHECK_FAIL(nbi_codec_encode(e), NB_INVALID_ARG, "receiver_name is not valid UTF-8 at byte 4");
    free(e->receiver_name);
    e->receiver_name = NULL;
    cJSON_AddStringToObject(p->metadata, "bad", "\xff");
    CHECK_FAIL(nbi_codec_encode(e), NB_INVALID_ARG, "payloads[0].metadata is not valid UTF-8");
    cJSON_DeleteItemFromObject(p->metadata, "bad");
    free(p->dataname);
    p->dataname = NULL;
    CHECK_FAIL(nbi_codec_encode(e), NB_INVALID_ARG, "payloads[0] has no dataname");
    p->dataname = strdup("blob");
    CHECK(e->json == NULL);
    CHECK_OK(nbi_codec_encode(e));
    CHECK(e->json != NULL);
    CHECK_FAIL(nbi_codec_encode(NULL), NB_INVALID_ARG, "NULL");
    nb_envelope_destroy(e);
}

NBT_CASE(envelope_setters)
{
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    for (int i = 0; i < 12; i++)
        CHECK_STR(field(e, i), "");
    CHECK(cJSON_IsObject(nb_envelope_metadata(e)));
    CHECK(nb_envelope_json(e, NULL) == NULL);
    CHECK(nb_envelope_payload(e, 0) == NULL);
    CHECK_FAIL(nb_envelope_set_correlation_id(e, ""), NB_INVALID_ARG,
               "correlation_id must not be empty");
    CHECK_FAIL(nb_envelope_set_msg_id(e, ""), NB_INVALID_ARG, "msg_id must not be empty");
    CHECK_FAIL(nb_envelope_set_sender_name(e, ""), NB_INVALID_ARG, "sender_name must not be empty");
    CHECK_FAIL(nb_envelope_set_sender_id(e, ""), NB_INVALID_ARG, "sender_id must not be empty");
    CHECK_FAIL(nb_envelope_set_reply_to(e, NULL), NB_INVALID_ARG, "reply_to");
    CHECK_FAIL(nb_envelope_set_receiver_name(e, "\xff"), NB_INVALID_ARG,
               "receiver_name is not valid UTF-8");
    CHECK_FAIL(nb_envelope_set_msg_purpose(NULL, "x"), NB_INVALID_ARG, "msg_purpose");
    CHECK_OK(nb_envelope_set_receiver_name(e, ""));
    CHECK_OK(nb_envelope_set_receiver_id(e, ""));
    CHECK_OK(nb_envelope_set_reply_to(e, "r"));
    CHECK_OK(nb_envelope_set_reply_to(e, "r2"));
    CHECK_STR(nb_envelope_reply_to(e), "r2");
    CHECK_OK(nb_envelope_set_reply_to_msg_id(e, ""));
    CHECK_FAIL(nb_envelope_set_metadata_json(e, "[]"), NB_INVALID_ARG,
               "envelope: metadata must be a JSON object");
    CHECK_FAIL(nb_envelope_set_metadata_json(e, "{"), NB_INVALID_ARG, "not valid JSON");
    CHECK_FAIL(nb_envelope_set_metadata(e, NULL), NB_INVALID_ARG, "must be a JSON object");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddTrueToObject(m, "t");
    CHECK_OK(nb_envelope_set_metadata(e, m));
    cJSON_Delete(m);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(nb_envelope_metadata(e), "t")));
    nb_payload *p = NULL;
    CHECK_FAIL(nb_envelope_add_payload(e, &p), NB_INVALID_ARG, "payload");
    CHECK_FAIL(nb_envelope_add_payload(e, NULL), NB_INVALID_ARG, "payload");
    for (int i = 0; i < 20; i++) {
        CHECK_OK(nb_payload_create_text(&p, "t", "x"));
        CHECK_OK(nb_envelope_add_payload(e, &p));
        CHECK(p == NULL);
    }
    CHECK(nb_envelope_payload_count(e) == 20);
    CHECK(nb_envelope_payload(e, 19) != NULL && nb_envelope_payload(e, 20) == NULL);
    nb_envelope_destroy(e);
    /* NULL handles are harmless. */
    CHECK(nb_envelope_payload_count(NULL) == 0);
    CHECK_STR(nb_envelope_msg_id(NULL), "");
    CHECK(cJSON_IsObject(nb_envelope_metadata(NULL)));
    CHECK(nb_envelope_json(NULL, NULL) == NULL);
    nb_envelope_destroy(NULL);
    CHECK_FAIL(nb_envelope_create(NULL), NB_INVALID_ARG, "out is NULL");
}

NBT_CASE(big_payload)
{
    size_t n = 512 * 1024;
    uint8_t *bytes = malloc(n);
    for (size_t i = 0; i < n; i++)
        bytes[i] = lcg();
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(add(e, "big", NB_TYPE_BINARY, bytes, n, 0));
    CHECK_OK(nbi_envelope_fill_defaults(e, "s", NULL));
    CHECK_OK(nbi_codec_encode(e));
    CHECK(e->json_len > nbi_base64_encoded_len(n) && e->json_len < nbi_base64_encoded_len(n) + 800);
    nb_envelope *d = NULL;
    CHECK_OK(decode_n(e->json, e->json_len, &d));
    size_t len;
    const uint8_t *got = nb_payload_data(nb_envelope_payload(d, 0), &len);
    CHECK(len == n && memcmp(got, bytes, n) == 0);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
    free(bytes);
}

/* ------------------------------------------------------------------------ */
/* The peers' variants                                                      */
/* ------------------------------------------------------------------------ */

NBT_CASE(camelcase_legacy)
{
    const char *legacy =
        "{\"correlationId\":\"c\",\"msgId\":\"m\",\"timestamp\":\"2026-02-10T10:00:00.123\","
        "\"sendTo\":\"/agent/wine/api/v1/prompt\",\"msgPurpose\":\"chat\","
        "\"senderName\":\"agent-wine-web-frontend\",\"senderId\":\"s\",\"receiverName\":\"r\","
        "\"receiverId\":\"ri\",\"replyTo\":\"rt\",\"replyToMsgId\":\"rm\","
        "\"brokerURL\":\"nats://h:4222\",\"metadata\":{\"a\":1},\"payloads\":[" TEXT_HI "]}";
    static const char *const want[12] = {
        "c",  "m",  "2026-02-10T10:00:00.123", "/agent/wine/api/v1/prompt", "chat",
        "agent-wine-web-frontend", "s", "r", "ri", "rt", "rm", "nats://h:4222"};
    nb_envelope *d = NULL;
    CHECK_OK(decode(legacy, &d));
    for (int i = 0; i < 12; i++)
        CHECK_STR(field(d, i), want[i]);
    CHECK(cJSON_GetObjectItem(nb_envelope_metadata(d), "a")->valueint == 1);
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 0)), "hi");
    nb_envelope_destroy(d);
    /* The other broker URL spellings; snake_case wins when both are present. */
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"BrokerURL\":\"u1\",\"payloads\":[]}",
                    &d));
    CHECK_STR(nb_envelope_broker_url(d), "u1");
    nb_envelope_destroy(d);
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"brokerUrl\":\"u2\",\"payloads\":[]}",
                    &d));
    CHECK_STR(nb_envelope_broker_url(d), "u2");
    nb_envelope_destroy(d);
    CHECK_OK(decode("{\"msgId\":\"old\",\"msg_id\":\"new\",\"correlation_id\":\"c\","
                    "\"brokerURL\":\"a\",\"broker_url\":\"b\",\"payloads\":[]}",
                    &d));
    CHECK_STR(nb_envelope_msg_id(d), "new");
    CHECK_STR(nb_envelope_broker_url(d), "b");
    nb_envelope_destroy(d);
    CHECK_FAIL(decode("{\"correlationId\":\"c\",\"msgId\":5,\"payloads\":[]}", NULL),
               NB_BAD_ENVELOPE, "field 'msgId' must be a string");
}

NBT_CASE(note_variants)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"note\":{\"x\":1},\"payloads\":[]}",
                    &d));
    CHECK(cJSON_GetObjectItem(nb_envelope_metadata(d), "x")->valueint == 1);
    nb_envelope_destroy(d);
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"note\":\"hello\",\"payloads\":[]}",
                    &d));
    CHECK_STR(cJSON_GetObjectItem(nb_envelope_metadata(d), "note")->valuestring, "hello");
    nb_envelope_destroy(d);
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"note\":[1],\"metadata\":{\"y\":2},"
                    "\"payloads\":[]}",
                    &d));
    CHECK(cJSON_GetObjectItem(nb_envelope_metadata(d), "y")->valueint == 2);
    CHECK(cJSON_GetObjectItem(nb_envelope_metadata(d), "note") == NULL);
    nb_envelope_destroy(d);
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"metadata\":null,\"note\":7,"
                    "\"payloads\":[]}",
                    &d));
    CHECK(cJSON_GetObjectItem(nb_envelope_metadata(d), "note")->valueint == 7);
    CHECK_OK(nbi_codec_encode(d));
    CHECK(strstr(d->json, "\"metadata\":{\"note\":7}"));
    nb_envelope_destroy(d);
}

NBT_CASE(type_key_variants)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV("{\"dataname\":\"a\",\"payload_type\":\"arrowtable\",\"transport\":"
                        "\"direct\",\"data\":\"/////w==\"},"
                        "{\"dataname\":\"b\",\"payloadType\":\"json\",\"transport\":\"direct\","
                        "\"data\":\"e30=\"},"
                        "{\"dataname\":\"c\",\"type\":\"audio\",\"payload_type\":\"video\","
                        "\"transport\":\"direct\",\"data\":\"\"}"),
                    &d));
    CHECK(nb_payload_type(nb_envelope_payload(d, 0)) == NB_TYPE_TABLE);
    CHECK_STR(nb_payload_type_name(nb_envelope_payload(d, 0)), "arrowtable");
    CHECK(nb_payload_type(nb_envelope_payload(d, 1)) == NB_TYPE_DICTIONARY);
    CHECK_STR(nb_payload_type_name(nb_envelope_payload(d, 1)), "json");
    CHECK(nb_payload_type(nb_envelope_payload(d, 2)) == NB_TYPE_AUDIO);
    CHECK(nb_payload_size(nb_envelope_payload(d, 2)) == 0);
    /* Written back, the canonical names are used. */
    CHECK_OK(nbi_codec_encode(d));
    CHECK(strstr(d->json, "\"dataname\":\"a\",\"type\":\"table\""));
    CHECK(strstr(d->json, "\"dataname\":\"b\",\"type\":\"dictionary\""));
    CHECK_STR(nb_payload_type_name(nb_envelope_payload(d, 0)), "table");
    nb_envelope_destroy(d);
}

NBT_CASE(literal_json)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV("{\"dataname\":\"rows\",\"type\":\"jsontable\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"size\":22,"
                        "\"data\":\" [{\\\"id\\\": 1, \\\"v\\\": \\\"x\\\"}]\"},"
                        "{\"dataname\":\"cfg\",\"type\":\"dictionary\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"data\":\"{\\\"a\\\":1}\"},"
                        "{\"dataname\":\"s\",\"type\":\"dictionary\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"data\":\"\\\"str\\\"\"},"
                        "{\"dataname\":\"b\",\"type\":\"dictionary\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"data\":\"eyJhIjoxfQ==\"}"),
                    &d));
    const nb_payload *p = nb_envelope_payload(d, 0);
    CHECK_STR(nb_payload_text(p), " [{\"id\": 1, \"v\": \"x\"}]");
    CHECK(nb_payload_size(p) == 22);
    CHECK_STR(nb_payload_encoding(p), "json");
    CHECK(cJSON_GetArraySize(nb_payload_json(p)) == 1);
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 1)), "{\"a\":1}");
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 2)), "\"str\"");
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 3)), "{\"a\":1}"); /* base64 after all */
    nb_envelope_destroy(d);
    /* Literal JSON only with encoding json; otherwise it is (bad) base64. */
    CHECK_FAIL(decode(ENV("{\"dataname\":\"cfg\",\"type\":\"dictionary\",\"transport\":\"direct\","
                          "\"encoding\":\"base64\",\"data\":\"{}\"}"),
                      NULL),
               NB_BAD_PAYLOAD, "envelope: payloads[0].data: invalid base64 at offset 0");
    CHECK_FAIL(decode(ENV("{\"dataname\":\"cfg\",\"type\":\"dictionary\",\"transport\":\"direct\","
                          "\"encoding\":\"json\",\"data\":\"{\\\"a\\\":\"}"),
                      NULL),
               NB_BAD_PAYLOAD, "payloads[0] 'cfg': dictionary is not valid JSON");
    CHECK_OK(decode(ENV("{\"dataname\":\"rows\",\"type\":\"jsontable\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"size\":3,\"data\":\"[1]\"}"),
                    NULL));
}

NBT_CASE(json_value_data)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV("{\"dataname\":\"cfg\",\"type\":\"dictionary\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"size\":18,\"data\":{\"a\": 1, \"b\": [true]}},"
                        "{\"dataname\":\"rows\",\"type\":\"jsontable\",\"transport\":\"direct\","
                        "\"data\":[{\"r\":1},{\"r\":2}]}"),
                    &d));
    CHECK_STR(nb_payload_text(nb_envelope_payload(d, 0)), "{\"a\":1,\"b\":[true]}");
    CHECK(nb_payload_size(nb_envelope_payload(d, 0)) == 18);
    CHECK(cJSON_GetArraySize(nb_payload_json(nb_envelope_payload(d, 1))) == 2);
    nb_envelope_destroy(d);
    /* The size counts the compact text. */
    CHECK_FAIL(decode(ENV("{\"dataname\":\"cfg\",\"type\":\"dictionary\",\"transport\":"
                          "\"direct\",\"size\":13,\"data\":{\"a\": 1, \"b\": [true]}}"),
                      NULL),
               NB_BAD_PAYLOAD, "payloads[0] 'cfg': size 13 does not match 18 decoded bytes");
}

NBT_CASE(table_sniffing)
{
    nb_envelope *d = NULL;
    char *rows = b64(" \n[{\"a\":1}]", 11);
    char *arrow = b64("\xff\xff\xff\xff\x08\x00\x00\x00", 8);
    char *magic = b64("ARROW1\0\0", 8);
    char *json = malloc(2048);
    snprintf(json, 2048,
             ENV("{\"dataname\":\"t1\",\"type\":\"table\",\"transport\":\"direct\",\"data\":\"%s\"},"
                 "{\"dataname\":\"t2\",\"type\":\"table\",\"transport\":\"direct\",\"data\":\"%s\"},"
                 "{\"dataname\":\"t3\",\"type\":\"table\",\"transport\":\"direct\",\"data\":\"%s\"}"),
             rows, arrow, magic);
    CHECK_OK(decode(json, &d));
    const nb_payload *p = nb_envelope_payload(d, 0);
    CHECK(nb_payload_type(p) == NB_TYPE_JSONTABLE);
    CHECK_STR(nb_payload_type_name(p), "table");
    CHECK(cJSON_IsArray(nb_payload_json(p)));
    CHECK(nb_payload_type(nb_envelope_payload(d, 1)) == NB_TYPE_TABLE);
    CHECK(nb_payload_type(nb_envelope_payload(d, 2)) == NB_TYPE_TABLE);
    CHECK(nb_payload_json(nb_envelope_payload(d, 2)) == NULL);
    /* Written back, the sniffed table is a jsontable; the Arrow ones stay tables. */
    CHECK_OK(nbi_codec_encode(d));
    CHECK(strstr(d->json, "\"dataname\":\"t1\",\"type\":\"jsontable\""));
    CHECK(strstr(d->json, "\"dataname\":\"t2\",\"type\":\"table\""));
    nb_envelope_destroy(d);
    /* Labelled Arrow but holding JSON rows: refused (we could not send it back as a table). */
    snprintf(json, 2048,
             ENV("{\"dataname\":\"t4\",\"type\":\"arrowtable\",\"transport\":\"direct\","
                 "\"data\":\"%s\"}"),
             rows);
    CHECK_FAIL(decode(json, NULL), NB_BAD_PAYLOAD,
               "payloads[0] 't4': table bytes start with '[' (JSON rows, not Arrow IPC)");
    free(rows);
    rows = b64("[{\"a\":", 6);
    snprintf(json, 2048,
             ENV("{\"dataname\":\"t1\",\"type\":\"table\",\"transport\":\"direct\",\"data\":\"%s\"}"),
             rows);
    CHECK_FAIL(decode(json, NULL), NB_BAD_PAYLOAD, "payloads[0] 't1': jsontable is not valid JSON");
    free(rows);
    free(arrow);
    free(magic);
    free(json);
}

NBT_CASE(link_decode)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV("{\"id\":\"p\",\"dataname\":\"big\",\"type\":\"arrowtable\","
                        "\"transport\":\"link\",\"size\":524288,"
                        "\"data\":\"http://localhost:8080/file/UPLOAD_ID/FILE_ID/data.arrow\"},"
                        "{\"dataname\":\"b2\",\"type\":\"binary\",\"transport\":\"link\","
                        "\"encoding\":\"base64\",\"size\":0,\"data\":\"http://h/x\"}"),
                    &d));
    const nb_payload *p = nb_envelope_payload(d, 0);
    CHECK_STR(nb_payload_url(p), "http://localhost:8080/file/UPLOAD_ID/FILE_ID/data.arrow");
    CHECK(nb_payload_size(p) == 524288);
    CHECK_STR(nb_payload_encoding(p), "none");
    CHECK(nb_payload_data(p, NULL) == NULL);
    CHECK_STR(nb_payload_encoding(nb_envelope_payload(d, 1)), "base64");
    nb_envelope_destroy(d);
    CHECK_FAIL(decode(ENV("{\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\","
                          "\"data\":\"http://h/x\"}"),
                      NULL),
               NB_BAD_ENVELOPE, "payloads[0]: missing field 'size' (required for links)");
    CHECK_FAIL(decode(ENV("{\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\","
                          "\"size\":1,\"data\":\"\"}"),
                      NULL),
               NB_BAD_ENVELOPE, "payloads[0]: field 'data' must be a non-empty URL string");
    CHECK_FAIL(decode(ENV("{\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\","
                          "\"size\":1,\"data\":{}}"),
                      NULL),
               NB_BAD_ENVELOPE, "field 'data' must be a non-empty URL string");
    CHECK_FAIL(decode(ENV("{\"dataname\":\"big\",\"type\":\"binary\",\"transport\":\"link\","
                          "\"size\":-1,\"data\":\"http://h/x\"}"),
                      NULL),
               NB_BAD_ENVELOPE, "field 'size' must not be negative");
}

NBT_CASE(null_and_unknown)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"timestamp\":null,"
                    "\"sender_name\":null,\"extra\":{\"deep\":[1,2]},\"v\":2,\"payloads\":["
                    "{\"id\":null,\"dataname\":\"msg\",\"type\":\"text\",\"transport\":\"direct\","
                    "\"encoding\":null,\"size\":null,\"metadata\":null,\"data\":\"aGk=\","
                    "\"checksum\":\"x\"}]}",
                    &d));
    CHECK_STR(nb_envelope_timestamp(d), "");
    CHECK_STR(nb_envelope_sender_name(d), "");
    const nb_payload *p = nb_envelope_payload(d, 0);
    CHECK_STR(nb_payload_id(p), "");
    CHECK_STR(nb_payload_encoding(p), "base64");
    CHECK(cJSON_IsObject(nb_payload_metadata(p)));
    CHECK(nb_payload_size(p) == 2);
    nb_envelope_destroy(d);
    /* IDs need not be UUIDs on receive, timestamps are any string. */
    CHECK_OK(decode("{\"correlation_id\":\"x_y\",\"msg_id\":\"1\",\"timestamp\":\"2026-02-10T10:00\","
                    "\"payloads\":[]}",
                    &d));
    nb_envelope_destroy(d);
}

NBT_CASE(trailing_nul)
{
    char json[] = ENV(TEXT_HI);
    nb_envelope *d = NULL;
    CHECK_OK(decode_n(json, sizeof json, &d)); /* the terminating NUL included */
    size_t len;
    CHECK_STR(nb_envelope_json(d, &len), json);
    CHECK(len == sizeof json - 1);
    nb_envelope_destroy(d);
    CHECK_OK(decode(" \r\n\t" ENV(TEXT_HI) " \n", NULL));
    CHECK_OK(decode("\xef\xbb\xbf" ENV(TEXT_HI), NULL)); /* a UTF-8 byte-order mark */
    CHECK_FAIL(decode(ENV(TEXT_HI) " x", NULL), NB_BAD_ENVELOPE, "not valid JSON (near byte");
    CHECK_FAIL(decode(ENV(TEXT_HI) "{}", NULL), NB_BAD_ENVELOPE, "not valid JSON");
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                */
/* ------------------------------------------------------------------------ */

NBT_CASE(bad_json)
{
    static const struct {
        const char *json;
        const char *needle;
    } bad[] = {
        {"", "envelope: empty message"},
        {"{", "envelope: not valid JSON (near byte"},
        {"{\"a\":}", "not valid JSON (near byte 5)"},
        {"{'a':1}", "not valid JSON (near byte 2)"},
        {"[]", "envelope: the JSON text must be an object"},
        {"42", "must be an object"},
        {"\"str\"", "must be an object"},
        {"null", "must be an object"},
        {"true", "must be an object"},
        {"{\"correlation_id\":\"c\",}", "not valid JSON"},
        {"{\"correlation_id\":\"c\" \"msg_id\":\"m\"}", "not valid JSON"},
        {"nul", "not valid JSON"},
        {"{\"a\":1e}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_FAIL(decode(bad[i].json, NULL), NB_BAD_ENVELOPE, bad[i].needle);
    CHECK_FAIL(decode_n(NULL, 3, NULL), NB_INVALID_ARG, "NULL text");
    CHECK_FAIL(decode_n(NULL, 0, NULL), NB_BAD_ENVELOPE, "empty");
    CHECK_FAIL(nbi_codec_decode(NULL, "{}", 2), NB_INVALID_ARG, "out is NULL");
    /* Raw invalid UTF-8 anywhere in the text. */
    CHECK_FAIL(decode("{\"correlation_id\":\"c\xff\"}", NULL), NB_BAD_ENVELOPE,
               "envelope: not valid UTF-8 at byte 20");
}

NBT_CASE(wrong_types)
{
    static const char *const values[] = {"5", "true", "[]", "{}", "1.5"};
    for (int f = 0; f < 12; f++) {
        for (size_t v = 0; v < 5; v++) {
            cJSON *t = valid_tree();
            cJSON_ReplaceItemInObject(t, field_names[f], cJSON_Parse(values[v]));
            char want[64];
            snprintf(want, sizeof want, "envelope: field '%s' must be a string", field_names[f]);
            CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, want);
        }
    }
    static const char *const not_objects[] = {"5", "\"x\"", "[]", "true"};
    for (size_t v = 0; v < 4; v++) {
        cJSON *t = valid_tree();
        cJSON_ReplaceItemInObject(t, "metadata", cJSON_Parse(not_objects[v]));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
                   "envelope: field 'metadata' must be a JSON object");
        t = valid_tree();
        cJSON_ReplaceItemInObject(t, "payloads", cJSON_Parse(v == 2 ? "{}" : not_objects[v]));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
                   "envelope: field 'payloads' must be an array");
    }
}

NBT_CASE(payload_wrong_types)
{
    static const char *const strings[] = {"id", "dataname", "type", "transport", "encoding"};
    static const char *const values[] = {"5", "false", "[\"x\"]", "{}"};
    for (size_t f = 0; f < 5; f++) {
        for (size_t v = 0; v < 4; v++) {
            cJSON *t = valid_tree();
            cJSON_ReplaceItemInObject(payload0(t), strings[f], cJSON_Parse(values[v]));
            char want[80];
            snprintf(want, sizeof want, "envelope: payloads[0]: field '%s' must be a string",
                     strings[f]);
            CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, want);
        }
    }
    static const struct {
        const char *key, *value, *needle;
    } more[] = {
        {"metadata", "\"x\"", "payloads[0]: field 'metadata' must be a JSON object"},
        {"metadata", "[]", "payloads[0]: field 'metadata' must be a JSON object"},
        {"data", "5", "payloads[0]: field 'data' must be a string"},
        {"data", "true", "payloads[0]: field 'data' must be a string"},
        {"size", "\"2\"", "payloads[0]: field 'size' must be a JSON integer"},
        {"size", "true", "payloads[0]: field 'size' must be a JSON integer"},
        {"size", "[2]", "payloads[0]: field 'size' must be a JSON integer"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        cJSON *t = valid_tree();
        cJSON_ReplaceItemInObject(payload0(t), more[i].key, cJSON_Parse(more[i].value));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, more[i].needle);
    }
    static const char *const not_payloads[] = {"5", "\"p\"", "[]", "null"};
    for (size_t v = 0; v < 4; v++) {
        cJSON *t = valid_tree();
        cJSON_ReplaceItemInArray(cJSON_GetObjectItem(t, "payloads"), 0, cJSON_Parse(not_payloads[v]));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
                   "envelope: payloads[0] must be a JSON object");
    }
    /* The index names the payload. */
    cJSON *t = valid_tree();
    cJSON *second = cJSON_Duplicate(payload0(t), true);
    cJSON_ReplaceItemInObject(second, "type", cJSON_CreateString("vidoe"));
    cJSON_AddItemToArray(cJSON_GetObjectItem(t, "payloads"), second);
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, "envelope: payloads[1].type: unknown type 'vidoe'");
}

NBT_CASE(missing_required)
{
    static const struct {
        bool in_payload;
        const char *key, *needle;
    } req[] = {
        {false, "correlation_id", "envelope: missing field 'correlation_id'"},
        {false, "msg_id", "envelope: missing field 'msg_id'"},
        {false, "payloads", "envelope: missing field 'payloads'"},
        {true, "dataname", "envelope: payloads[0]: missing field 'dataname'"},
        {true, "type", "envelope: payloads[0]: missing field 'type'"},
        {true, "transport", "envelope: payloads[0]: missing field 'transport'"},
        {true, "data", "envelope: payloads[0]: missing field 'data'"},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        cJSON *t = valid_tree();
        cJSON_DeleteItemFromObject(req[i].in_payload ? payload0(t) : t, req[i].key);
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, req[i].needle);
        /* JSON null is the same as missing. */
        t = valid_tree();
        cJSON_ReplaceItemInObject(req[i].in_payload ? payload0(t) : t, req[i].key, cJSON_CreateNull());
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, "missing field");
    }
    static const struct {
        bool in_payload;
        const char *key, *needle;
    } empty[] = {
        {false, "correlation_id", "envelope: field 'correlation_id' must not be empty"},
        {false, "msg_id", "envelope: field 'msg_id' must not be empty"},
        {true, "dataname", "envelope: payloads[0]: field 'dataname' must not be empty"},
        {true, "type", "envelope: payloads[0]: field 'type' must not be empty"},
        {true, "transport", "envelope: payloads[0]: field 'transport' must not be empty"},
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        cJSON *t = valid_tree();
        cJSON_ReplaceItemInObject(empty[i].in_payload ? payload0(t) : t, empty[i].key,
                                  cJSON_CreateString(""));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, empty[i].needle);
    }
    /* Optional fields may all be missing; an empty payload list is fine. */
    nb_envelope *d = NULL;
    CHECK_OK(decode("{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"payloads\":[]}", &d));
    for (int i = 2; i < 12; i++)
        CHECK_STR(field(d, i), "");
    CHECK(nb_envelope_payload_count(d) == 0);
    nb_envelope_destroy(d);
}

NBT_CASE(bad_base64)
{
    static const struct {
        const char *data, *needle;
    } bad[] = {
        {"aGk*", "envelope: payloads[0].data: invalid base64 at offset 3"},
        {"aG k", "payloads[0].data: invalid base64 at offset 2"},
        {"aGlh\n", "payloads[0].data: invalid base64 at offset 4"},
        {"aGk=\n", "payloads[0].data: invalid base64 at offset 3: misplaced padding"},
        {"aGl", "payloads[0].data: invalid base64 at offset 2: non-zero trailing bits"},
        {"aGk==", "wrong padding"},
        {"a", "lone character"},
        {"aG-_", "'-' is not in the alphabet"},
        {"aGVsbG8gd29ybGQhAAA*", "invalid base64 at offset 19: '*' is not in the alphabet"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *t = valid_tree();
        cJSON_DeleteItemFromObject(payload0(t), "size");
        cJSON_ReplaceItemInObject(payload0(t), "data", cJSON_CreateString(bad[i].data));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_PAYLOAD, bad[i].needle);
    }
}

NBT_CASE(bad_utf8_text)
{
    cJSON *t = valid_tree();
    cJSON_DeleteItemFromObject(payload0(t), "size");
    cJSON_ReplaceItemInObject(payload0(t), "data", cJSON_CreateString("YWKZ")); /* "ab\x99" */
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_PAYLOAD,
               "envelope: payloads[0] 'msg': text is not valid UTF-8 at byte 2");
    t = valid_tree();
    cJSON_DeleteItemFromObject(payload0(t), "size");
    cJSON_ReplaceItemInObject(payload0(t), "data", cJSON_CreateString("7aCA")); /* surrogate */
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_PAYLOAD, "text is not valid UTF-8 at byte 0");
    /* Other types carry any bytes. */
    t = valid_tree();
    cJSON_DeleteItemFromObject(payload0(t), "size");
    cJSON_ReplaceItemInObject(payload0(t), "type", cJSON_CreateString("binary"));
    cJSON_ReplaceItemInObject(payload0(t), "data", cJSON_CreateString("7aCA"));
    CHECK_OK(decode_tree(t, NULL));
}

NBT_CASE(bad_dictionary)
{
    static const struct {
        const char *type, *data, *needle;
    } bad[] = {
        {"dictionary", "ew==", "envelope: payloads[0] 'msg': dictionary is not valid JSON"},
        {"dictionary", "", "dictionary is not valid JSON (near byte 0)"},
        {"dictionary", "e30geA==", "dictionary is not valid JSON (near byte 3)"},
        {"json", "/w==", "dictionary is not valid UTF-8 at byte 0"},
        {"jsontable", "e30=", "envelope: payloads[0] 'msg': jsontable is not a JSON array"},
        {"jsontable", "Ww", "jsontable is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *t = valid_tree();
        cJSON_DeleteItemFromObject(payload0(t), "size");
        cJSON_ReplaceItemInObject(payload0(t), "type", cJSON_CreateString(bad[i].type));
        cJSON_ReplaceItemInObject(payload0(t), "data", cJSON_CreateString(bad[i].data));
        CHECK_FAIL(decode_tree(t, NULL), NB_BAD_PAYLOAD, bad[i].needle);
    }
}

NBT_CASE(sizes)
{
    static const struct {
        const char *size;
        nb_status st;
        const char *needle;
    } cases[] = {
        {"2", NB_OK, ""},
        {"2.0", NB_OK, ""},
        {"0.2e1", NB_OK, ""},
        {"3", NB_BAD_PAYLOAD, "envelope: payloads[0] 'msg': size 3 does not match 2 decoded bytes"},
        {"0", NB_BAD_PAYLOAD, "size 0 does not match 2 decoded bytes"},
        {"-1", NB_BAD_ENVELOPE, "payloads[0]: field 'size' must not be negative"},
        {"-0.5", NB_BAD_ENVELOPE, "must not be negative"},
        {"1.5", NB_BAD_ENVELOPE, "payloads[0]: field 'size' must be a whole number"},
        {"1e300", NB_BAD_ENVELOPE, "payloads[0]: field 'size' is too large"},
        {"1e400", NB_BAD_ENVELOPE, "field 'size' is too large"},
        {"-1e400", NB_BAD_ENVELOPE, "must not be negative"},
        {"9007199254740994", NB_BAD_ENVELOPE, "is too large (over 2^53)"},
        {"9007199254740992", NB_BAD_PAYLOAD, "size 9007199254740992 does not match 2"},
        {"18446744073709551616", NB_BAD_ENVELOPE, "too large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Raw text: cJSON would print 1e400 back as null. */
        char text[256];
        snprintf(text, sizeof text,
                 ENV("{\"dataname\":\"msg\",\"type\":\"text\",\"transport\":\"direct\","
                     "\"size\":%s,\"data\":\"aGk=\"}"),
                 cases[i].size);
        if (cases[i].st == NB_OK)
            CHECK_OK(decode(text, NULL));
        else
            CHECK_FAIL(decode(text, NULL), cases[i].st, cases[i].needle);
    }
    /* 2^53 is the largest size a link may announce. */
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV("{\"dataname\":\"l\",\"type\":\"binary\",\"transport\":\"link\","
                        "\"size\":9007199254740992,\"data\":\"http://h/l\"}"),
                    &d));
    CHECK(nb_payload_size(nb_envelope_payload(d, 0)) == 9007199254740992ull);
    nb_envelope_destroy(d);
}

NBT_CASE(unknown_type_transport)
{
    cJSON *t = valid_tree();
    cJSON_ReplaceItemInObject(payload0(t), "type", cJSON_CreateString("vidoe"));
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
               "envelope: payloads[0].type: unknown type 'vidoe'");
    t = valid_tree();
    cJSON_DeleteItemFromObject(payload0(t), "type");
    cJSON_AddStringToObject(payload0(t), "payload_type", "Text");
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
               "envelope: payloads[0].payload_type: unknown type 'Text'");
    t = valid_tree();
    cJSON_ReplaceItemInObject(payload0(t), "transport", cJSON_CreateString("email"));
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE,
               "envelope: payloads[0].transport: unknown transport 'email'");
    t = valid_tree();
    cJSON_ReplaceItemInObject(payload0(t), "transport", cJSON_CreateString("Direct"));
    CHECK_FAIL(decode_tree(t, NULL), NB_BAD_ENVELOPE, "unknown transport 'Direct'");
}

NBT_CASE(garbage)
{
    size_t n = 4u << 20;
    char *junk = malloc(n);
    for (size_t i = 0; i < n; i++)
        junk[i] = (char)lcg();
    CHECK_FAIL(decode_n(junk, n, NULL), NB_BAD_ENVELOPE, "envelope: ");
    for (size_t i = 0; i < n; i++)
        junk[i] = (char)(' ' + lcg() % 95); /* printable ASCII */
    CHECK_FAIL(decode_n(junk, n, NULL), NB_BAD_ENVELOPE, "envelope: not valid JSON");
    junk[0] = '{';
    CHECK_FAIL(decode_n(junk, n, NULL), NB_BAD_ENVELOPE, "envelope: not valid JSON");
    memset(junk, '"', n);
    CHECK_FAIL(decode_n(junk, n, NULL), NB_BAD_ENVELOPE, "envelope: ");
    memset(junk, '9', n);
    CHECK_FAIL(decode_n(junk, n, NULL), NB_BAD_ENVELOPE, "envelope: ");
    free(junk);
}

NBT_CASE(deep_nesting)
{
    size_t depth = 100000;
    char *deep = malloc(6 * depth + 64);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    CHECK_FAIL(decode_n(deep, n, NULL), NB_BAD_ENVELOPE, "envelope: not valid JSON");
    n = 0;
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "{\"a\":");
    CHECK_FAIL(decode_n(deep, n, NULL), NB_BAD_ENVELOPE, "envelope: not valid JSON");
    free(deep);
    /*
     * Deep but within cJSON's limit (1000) is fine, both ways, once the
     * receiver raises the metadata depth limit (default 64, issue 11).
     */
    cJSON *t = valid_tree();
    cJSON *m = cJSON_GetObjectItem(t, "metadata");
    for (int i = 0; i < 450; i++) { /* 900 levels: an array and an object each */
        cJSON *inner = cJSON_CreateArray();
        cJSON_AddItemToObject(m, "d", inner);
        m = cJSON_CreateObject();
        cJSON_AddItemToArray(inner, m);
    }
    char *text = cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    CHECK(text);
    nb_envelope *d = NULL;
    nb_status st = decode(text, NULL);
    const char *limit_named = strstr(nb_last_error(), "limit of 64 levels (nb_options_set_max_metadata_depth");
    nb_options *o = NULL;
    nb_status so = nb_options_create(&o);
    if (so == NB_OK)
        so = nb_options_set_max_metadata_depth(o, 1000);
    if (so == NB_OK)
        so = nbi_codec_decode_limited(&d, text, strlen(text), o);
    cJSON_free(text);
    CHECK(st == NB_TOO_LARGE && limit_named);
    CHECK_OK(so);
    CHECK_OK(nbi_codec_encode(d));
    nb_envelope *again = NULL;
    so = nbi_codec_decode_limited(&again, d->json, d->json_len, o);
    nb_options_destroy(o);
    CHECK_OK(so);
    /* (cJSON_Compare is exponential in the depth of objects: compare the text.) */
    char *p1 = cJSON_PrintUnformatted(nb_envelope_metadata(d));
    char *p2 = cJSON_PrintUnformatted(nb_envelope_metadata(again));
    CHECK(p1 && p2 && strcmp(p1, p2) == 0 && strlen(p1) > 450 * 8);
    cJSON_free(p1);
    cJSON_free(p2);
    nb_envelope_destroy(again);
    nb_envelope_destroy(d);
}

NBT_CASE(truncated)
{
    size_t n = sizeof exact - 1;
    CHECK_OK(decode_n(exact, n, NULL));
    for (size_t len = 0; len < n; len++) {
        /* A copy of exactly len bytes, so that a read past the end is caught by ASan. */
        char *cut = malloc(len ? len : 1);
        memcpy(cut, exact, len);
        nb_status s = decode_n(cut, len, NULL);
        free(cut);
        if (s != NB_BAD_ENVELOPE || strncmp(nb_last_error(), "envelope: ", 10) != 0) {
            fprintf(stderr, "prefix of %zu bytes: %s: %s\n", len, nb_status_text(s),
                    nb_last_error());
            CHECK(false);
        }
    }
}

NBT_CASE(nul_inside)
{
    const char json[] = "{\"correlation_id\":\"c\0x\",\"msg_id\":\"m\",\"payloads\":[]}";
    CHECK_FAIL(decode_n(json, sizeof json - 1, NULL), NB_BAD_ENVELOPE,
               "envelope: NUL byte at offset 20");
    const char json2[] = "{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"payloads\":[]}\0\0x";
    CHECK_FAIL(decode_n(json2, sizeof json2 - 1, NULL), NB_BAD_ENVELOPE, "NUL byte at offset");
    /* An escaped NUL is JSON; in base64 data it cannot hide bytes from the size check. */
    CHECK_FAIL(decode(ENV("{\"dataname\":\"msg\",\"type\":\"binary\",\"transport\":\"direct\","
                          "\"size\":5,\"data\":\"aGk=\\u0000aGk=\"}"),
                      NULL),
               NB_BAD_PAYLOAD, "size 5 does not match 2 decoded bytes");
}

/* ------------------------------------------------------------------------ */
/* The tree-free reader (issue 16)                                          */
/* ------------------------------------------------------------------------ */

/* A dictionary's received bytes are the sender's bytes: no number goes through a double. */
NBT_CASE(exact_dictionary)
{
    static const char dict[] = "{\"big\":9007199254740993,\"max\":9223372036854775807,"
                               "\"dbl\":1.7976931348623157e+308,\"s\":\"a\\u0000b\"}";
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_dict_json(&p, "cfg", dict));
    CHECK(p->json == NULL); /* validated without a tree */
    nb_envelope *e = NULL;
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_envelope_add_payload(e, &p));
    CHECK_OK(nbi_envelope_fill_defaults(e, "s", NULL));
    CHECK_OK(nbi_codec_encode(e));
    nb_envelope *d = NULL;
    CHECK_OK(decode_n(e->json, e->json_len, &d));
    const nb_payload *q = nb_envelope_payload(d, 0);
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(q, &len);
    CHECK(len == sizeof dict - 1 && memcmp(bytes, dict, len) == 0);
    CHECK(q->json == NULL);
    const cJSON *tree = nb_payload_json(q); /* built on demand, then kept */
    CHECK(cJSON_IsObject(tree) && nb_payload_json(q) == tree);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(tree, "max")) > 9.2e18);
    nb_envelope_destroy(d);
    nb_envelope_destroy(e);
    /* A tree given by the caller is printed once and not parsed again. */
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddNumberToObject(obj, "n", 1);
    CHECK_OK(nb_payload_create_dict(&p, "t", obj));
    CHECK(p->json == NULL && nb_payload_text(p) && strcmp(nb_payload_text(p), "{\"n\":1}") == 0);
    nb_payload_destroy(p);
    cJSON_AddStringToObject(obj, "bad", "\xff");
    CHECK_FAIL(nb_payload_create_dict(&p, "t", obj), NB_BAD_PAYLOAD,
               "payload 't': dictionary is not valid UTF-8 at byte");
    cJSON_Delete(obj);
}

/* Text with U+0000 keeps its length; "\u0000" in literal JSON data is kept too. */
NBT_CASE(text_with_nul)
{
    static const char text[] = "a\0b\0";
    char *data = b64(text, 4);
    char json[512];
    snprintf(json, sizeof json,
             ENV("{\"dataname\":\"t\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"%s\"}"),
             data);
    free(data);
    nb_envelope *d = NULL;
    CHECK_OK(decode(json, &d));
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(nb_envelope_payload(d, 0), &len);
    CHECK(len == 4 && memcmp(bytes, text, 4) == 0);
    nb_envelope_destroy(d);
    CHECK_OK(decode(ENV("{\"dataname\":\"t\",\"type\":\"text\",\"transport\":\"direct\","
                        "\"encoding\":\"json\",\"data\":\"\\\"x\\u0000y\\\"\"}"),
                    &d));
    bytes = nb_payload_data(nb_envelope_payload(d, 0), &len);
    CHECK(len == 5 && memcmp(bytes, "\"x\0y\"", 5) == 0);
    nb_envelope_destroy(d);
}

/* Duplicate keys: the first one counts, as cJSON's lookup did (PROTOCOL.md). */
NBT_CASE(duplicate_keys)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode("{\"correlation_id\":\"first\",\"msg_id\":\"m\",\"correlation_id\":\"second\","
                    "\"payloads\":[{\"dataname\":\"a\",\"dataname\":\"b\",\"type\":\"text\","
                    "\"transport\":\"direct\",\"data\":\"aGk=\"}],\"payloads\":7}",
                    &d));
    CHECK_STR(nb_envelope_correlation_id(d), "first");
    CHECK_STR(nb_payload_dataname(nb_envelope_payload(d, 0)), "a");
    nb_envelope_destroy(d);
    /* a first null hides a later value: null counts as absent */
    CHECK_FAIL(decode("{\"correlation_id\":null,\"correlation_id\":\"c\",\"msg_id\":\"m\","
                      "\"payloads\":[]}", NULL),
               NB_BAD_ENVELOPE, "envelope: missing field 'correlation_id'");
    /* keys are compared unescaped */
    CHECK_OK(decode("{\"correlation\\u005fid\":\"c\",\"msg_id\":\"m\",\"payloads\":[]}", &d));
    CHECK_STR(nb_envelope_correlation_id(d), "c");
    nb_envelope_destroy(d);
}

/* A received envelope's strings live in one arena: setters, re-encoding and destroy still work. */
NBT_CASE(arena_ownership)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode(ENV(TEXT_HI), &d));
    CHECK(d->arena != NULL && nbi_envelope_in_arena(d, d->msg_id));
    CHECK(nbi_envelope_in_arena(d, d->payloads[0]->dataname));
    CHECK_OK(nb_envelope_set_msg_id(d, "m2")); /* the arena copy is not freed */
    CHECK(!nbi_envelope_in_arena(d, d->msg_id));
    CHECK_STR(nb_envelope_msg_id(d), "m2");
    CHECK_OK(nbi_envelope_fill_defaults(d, "again", NULL)); /* replaces fields: unshares first */
    CHECK(d->arena == NULL);
    CHECK_STR(nb_envelope_correlation_id(d), "c1");
    CHECK_STR(nb_payload_dataname(nb_envelope_payload(d, 0)), "msg");
    CHECK_OK(nbi_codec_encode(d));
    nb_envelope *again = NULL;
    CHECK_OK(decode_n(d->json, d->json_len, &again));
    CHECK_STR(nb_envelope_msg_id(again), "m2");
    CHECK_OK(nbi_codec_encode(again)); /* encoding a received envelope directly */
    nb_envelope_destroy(again);
    nb_envelope_destroy(d);
}

/* Escaped strings and sizes read exactly as cJSON read them. */
NBT_CASE(scanner_strings)
{
    nb_envelope *d = NULL;
    CHECK_OK(decode("{\"correlation_id\":\"\\u00e9\\ud83d\\ude00\\/\\t\",\"msg_id\":\"m\","
                    "\"payloads\":[{\"dataname\":\"x\",\"type\":\"binary\",\"transport\":\"direct\","
                    "\"size\":2.0e0,\"data\":\"a\\/8=\"}]}",
                    &d));
    CHECK_STR(nb_envelope_correlation_id(d), "\xc3\xa9\xf0\x9f\x98\x80/\t");
    CHECK(nb_payload_size(nb_envelope_payload(d, 0)) == 2);
    nb_envelope_destroy(d);
    CHECK_FAIL(decode("{\"correlation_id\":\"\\ud800\",\"msg_id\":\"m\",\"payloads\":[]}", NULL),
               NB_BAD_ENVELOPE, "not valid JSON");
    CHECK_FAIL(decode("{\"correlation_id\":\"\\q\",\"msg_id\":\"m\",\"payloads\":[]}", NULL),
               NB_BAD_ENVELOPE, "not valid JSON");
}

static const nbt_case cases[] = {
    NBT_ENTRY(roundtrip_every_type),
    NBT_ENTRY(roundtrip_link),
    NBT_ENTRY(fill_defaults),
    NBT_ENTRY(fill_defaults_keeps),
    NBT_ENTRY(broker_url_of_a_server_list),
    NBT_ENTRY(exact_text),
    NBT_ENTRY(escaping),
    NBT_ENTRY(encode_errors),
    NBT_ENTRY(envelope_setters),
    NBT_ENTRY(big_payload),
    NBT_ENTRY(camelcase_legacy),
    NBT_ENTRY(note_variants),
    NBT_ENTRY(type_key_variants),
    NBT_ENTRY(literal_json),
    NBT_ENTRY(json_value_data),
    NBT_ENTRY(table_sniffing),
    NBT_ENTRY(link_decode),
    NBT_ENTRY(null_and_unknown),
    NBT_ENTRY(trailing_nul),
    NBT_ENTRY(bad_json),
    NBT_ENTRY(wrong_types),
    NBT_ENTRY(payload_wrong_types),
    NBT_ENTRY(missing_required),
    NBT_ENTRY(bad_base64),
    NBT_ENTRY(bad_utf8_text),
    NBT_ENTRY(bad_dictionary),
    NBT_ENTRY(sizes),
    NBT_ENTRY(unknown_type_transport),
    NBT_ENTRY(garbage),
    NBT_ENTRY(deep_nesting),
    NBT_ENTRY(truncated),
    NBT_ENTRY(nul_inside),
    NBT_ENTRY(exact_dictionary),
    NBT_ENTRY(text_with_nul),
    NBT_ENTRY(duplicate_keys),
    NBT_ENTRY(arena_ownership),
    NBT_ENTRY(scanner_strings),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
