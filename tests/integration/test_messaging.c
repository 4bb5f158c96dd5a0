/* SPDX-License-Identifier: MIT */
/*
 * test_messaging.c - natsbridge end to end over a real nats-server: every
 * payload type, the 14 envelope fields, async and sync subscriptions, queue
 * groups, many sends on one connection, file payloads, the peers' envelopes
 * and threads. Each case starts its own server (integ.h).
 */
#include "integ.h"

/* ------------------------------------------------------------------------ */
/* Payload types                                                            */
/* ------------------------------------------------------------------------ */

CASE(text_utf8, 0)
{
    /* é, ö, a check mark, 日本語, an emoji (4-byte UTF-8), and JSON's special characters. */
    const char *text = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                       "\xf0\x9f\x8e\x89 \"quoted\" back\\slash\nnew line\ttab \x01";
    const char *name = "gr\xc3\xbc\xc3\x9f" "e";
    nb_envelope *got = roundtrip(env_text(name, text), "/chat/room1");
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 1);
    const nb_payload *p = nb_envelope_payload(got, 0);
    CHECK(payload_is(p, name, NB_TYPE_TEXT, text, strlen(text)));
    CHECK_STR(nb_payload_text(p), text);
    CHECK(nb_payload_json(p) == NULL);
    CHECK(nb_envelope_payload(got, 1) == NULL);

    /* Invalid UTF-8 never gets as far as the wire. */
    nb_payload *bad = (nb_payload *)&bad;
    CHECK_FAILS(nb_payload_create_text(&bad, "bad", "ok \xc3\x28 not"), NB_BAD_PAYLOAD);
    CHECK(bad == NULL);
    CHECK_FAILS(nb_payload_create(&bad, "bad", NB_TYPE_TEXT, "\xed\xa0\x80", 3), NB_BAD_PAYLOAD);
    CHECK(bad == NULL);
}

CASE(dict_from_json_text, 0)
{
    const char *json = "{\"name\":\"wine-agent\",\"threshold\":0.75,\"count\":3,"
                       "\"tags\":[\"r\xc3\xa9" "d\",\"white\"],\"nested\":{\"on\":true,\"off\":null}}";
    const char *list = "[1,2,3]"; /* a dictionary may hold any JSON value */
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_dict_json(&p, "config", json));
    nb_envelope *e = env_with(p);
    CHECK(e);
    CHECK_OK(nb_payload_create_dict_json(&p, "list", list));
    CHECK(add(e, p));

    nb_envelope *got = roundtrip(e, "/agent/v1/process");
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 2);
    const nb_payload *cfg = nb_envelope_payload(got, 0);
    CHECK(payload_is(cfg, "config", NB_TYPE_DICTIONARY, json, strlen(json)));
    CHECK_STR(nb_payload_text(cfg), json);
    const cJSON *tree = nb_payload_json(cfg);
    CHECK(tree);
    cJSON *want = cJSON_Parse(json);
    bool same = cJSON_Compare(tree, want, true);
    cJSON_Delete(want);
    CHECK(same);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(tree, "threshold")) == 0.75);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(tree, "name")), "wine-agent");

    const nb_payload *arr = nb_envelope_payload(got, 1);
    CHECK(payload_is(arr, "list", NB_TYPE_DICTIONARY, list, strlen(list)));
    CHECK(cJSON_IsArray(nb_payload_json(arr)));
    CHECK(cJSON_GetArraySize(nb_payload_json(arr)) == 3);

    nb_payload *bad = (nb_payload *)&bad;
    CHECK_FAILS(nb_payload_create_dict_json(&bad, "bad", "{\"a\":"), NB_BAD_PAYLOAD);
    CHECK(bad == NULL);
}

CASE(dict_from_tree, 0)
{
    cJSON *tree = cJSON_CreateObject();
    cJSON_AddStringToObject(tree, "city", "K\xc3\xb6ln");
    cJSON_AddNumberToObject(tree, "temperature", -3.5);
    cJSON_AddNumberToObject(tree, "big", 9007199254740991.0);
    cJSON_AddBoolToObject(tree, "ok", 1);
    cJSON_AddNullToObject(tree, "none");
    cJSON *arr = cJSON_AddArrayToObject(tree, "rows");
    for (int i = 0; i < 3; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "id", i);
        cJSON_AddStringToObject(row, "label", i % 2 ? "odd" : "even");
        cJSON_AddItemToArray(arr, row);
    }
    nb_payload *p = NULL;
    nb_status s = nb_payload_create_dict(&p, "weather", tree);
    nb_envelope *e = s == NB_OK ? env_with(p) : NULL;
    nb_envelope *got = e ? roundtrip(e, "/weather") : NULL;
    const nb_payload *gp = got ? nb_envelope_payload(got, 0) : NULL;
    const cJSON *parsed = gp ? nb_payload_json(gp) : NULL;
    bool same_tree = parsed && cJSON_Compare(parsed, tree, true);
    cJSON *from_text = gp && nb_payload_text(gp) ? cJSON_Parse(nb_payload_text(gp)) : NULL;
    bool same_text = from_text && cJSON_Compare(from_text, tree, true);
    cJSON_Delete(from_text);
    cJSON_Delete(tree);
    CHECK_OK(s);
    CHECK(got);
    CHECK(gp);
    /* The receiver gets both the JSON text and the parsed tree, and they agree. */
    CHECK(same_tree);
    CHECK(same_text);
    CHECK(nb_payload_type(gp) == NB_TYPE_DICTIONARY);
    CHECK(nb_payload_size(gp) == strlen(nb_payload_text(gp)));

    nb_payload *bad = (nb_payload *)&bad;
    CHECK_FAILS(nb_payload_create_dict(&bad, "bad", NULL), NB_INVALID_ARG);
    CHECK(bad == NULL);
}

CASE(table_bytes, 0)
{
    /* Arrow IPC stream-like bytes: a continuation marker, a length, then opaque bytes. */
    uint8_t table[1500];
    fill_bytes(table, sizeof table, 7);
    memcpy(table, "\xff\xff\xff\xff\x78\x00\x00\x00", 8);
    nb_envelope *got = roundtrip(env_with(bytes_payload("sales", NB_TYPE_TABLE, table,
                                                        sizeof table)),
                                 "/data/tables");
    CHECK(got);
    const nb_payload *p = nb_envelope_payload(got, 0);
    CHECK(payload_is(p, "sales", NB_TYPE_TABLE, table, sizeof table));
    CHECK(nb_payload_text(p) == NULL);
    CHECK(nb_payload_json(p) == NULL);
}

CASE(media_types, 0)
{
    static const nb_type types[] = {NB_TYPE_IMAGE, NB_TYPE_AUDIO, NB_TYPE_VIDEO};
    static const char *const names[] = {"login_image.png", "voice.wav", "clip.mp4"};
    static const size_t sizes[] = {4096, 12345, 65537};
    static uint8_t bytes[65537];
    nb_client *a;
    nb_subscription *s;
    CHECK(pair(&a, &s, "/media"));
    for (size_t i = 0; i < COUNT(types); i++) {
        fill_bytes(bytes, sizes[i], (uint32_t)(100 + i));
        if (types[i] == NB_TYPE_IMAGE)
            memcpy(bytes, "\x89PNG\r\n\x1a\n", 8);
        nb_envelope *e = env_with(bytes_payload(names[i], types[i], bytes, sizes[i]));
        nb_envelope *got = send_and_next(a, s, "/media", e);
        CHECK(got);
        CHECK(payload_is(nb_envelope_payload(got, 0), names[i], types[i], bytes, sizes[i]));
        CHECK(nb_payload_text(nb_envelope_payload(got, 0)) == NULL);
    }
}

CASE(binary_all_byte_values, 0)
{
    /* Every byte value, at the three lengths mod 3 that base64 pads differently. */
    uint8_t bytes[258];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)i;
    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, bytes_payload("b256", NB_TYPE_BINARY, bytes, 256)));
    CHECK(add(e, bytes_payload("b257", NB_TYPE_BINARY, bytes, 257)));
    CHECK(add(e, bytes_payload("b258", NB_TYPE_BINARY, bytes, 258)));
    nb_envelope *got = roundtrip(e, "/bin");
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 3);
    CHECK(payload_is(nb_envelope_payload(got, 0), "b256", NB_TYPE_BINARY, bytes, 256));
    CHECK(payload_is(nb_envelope_payload(got, 1), "b257", NB_TYPE_BINARY, bytes, 257));
    CHECK(payload_is(nb_envelope_payload(got, 2), "b258", NB_TYPE_BINARY, bytes, 258));
}

CASE(binary_empty, 0)
{
    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, bytes_payload("nothing", NB_TYPE_BINARY, NULL, 0)));
    CHECK(add(e, text_payload("empty text", "")));
    CHECK(add(e, bytes_payload("one", NB_TYPE_BINARY, "\0", 1)));
    nb_envelope *got = roundtrip(e, "/bin/empty");
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 3);
    CHECK(payload_is(nb_envelope_payload(got, 0), "nothing", NB_TYPE_BINARY, "", 0));
    CHECK(payload_is(nb_envelope_payload(got, 1), "empty text", NB_TYPE_TEXT, "", 0));
    CHECK_STR(nb_payload_text(nb_envelope_payload(got, 1)), "");
    CHECK(payload_is(nb_envelope_payload(got, 2), "one", NB_TYPE_BINARY, "\0", 1));
}

CASE(multi_payload_order, 0)
{
    uint8_t img[600], bin[77], snd[999];
    fill_bytes(img, sizeof img, 1);
    fill_bytes(bin, sizeof bin, 2);
    fill_bytes(snd, sizeof snd, 3);
    const char *dict = "{\"k\":\"v\"}";
    nb_payload *d = NULL;
    CHECK_OK(nb_payload_create_dict_json(&d, "p1", dict));
    nb_envelope *e = env_new();
    CHECK(e);
    CHECK(add(e, text_payload("p0", "first")));
    CHECK(add(e, d));
    CHECK(add(e, bytes_payload("p2", NB_TYPE_BINARY, bin, sizeof bin)));
    CHECK(add(e, bytes_payload("p3", NB_TYPE_IMAGE, img, sizeof img)));
    CHECK(add(e, text_payload("p4", "fifth")));
    CHECK(add(e, bytes_payload("p5", NB_TYPE_AUDIO, snd, sizeof snd)));
    CHECK(nb_envelope_payload_count(e) == 6);
    nb_envelope *got = roundtrip(e, "/multi");
    CHECK(got);
    CHECK(nb_envelope_payload_count(got) == 6);
    CHECK(payload_is(nb_envelope_payload(got, 0), "p0", NB_TYPE_TEXT, "first", 5));
    CHECK(payload_is(nb_envelope_payload(got, 1), "p1", NB_TYPE_DICTIONARY, dict, strlen(dict)));
    CHECK(payload_is(nb_envelope_payload(got, 2), "p2", NB_TYPE_BINARY, bin, sizeof bin));
    CHECK(payload_is(nb_envelope_payload(got, 3), "p3", NB_TYPE_IMAGE, img, sizeof img));
    CHECK(payload_is(nb_envelope_payload(got, 4), "p4", NB_TYPE_TEXT, "fifth", 5));
    CHECK(payload_is(nb_envelope_payload(got, 5), "p5", NB_TYPE_AUDIO, snd, sizeof snd));
    /* Payload ids are distinct UUIDs. */
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            CHECK(strcmp(nb_payload_id(nb_envelope_payload(got, i)),
                         nb_payload_id(nb_envelope_payload(got, j))) != 0);
}

/* ------------------------------------------------------------------------ */
/* Envelope fields                                                          */
/* ------------------------------------------------------------------------ */

CASE(all_envelope_fields, 0)
{
    const char *corr = "3f2a7c1e-9b4d-4e8f-a1c2-5d6e7f809a1b";
    const char *msgid = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";
    const char *sender_id = "7d8e9fa0-b1c2-43d4-95e6-f708192a3b4c";
    const char *receiver_id = "c4b3a291-8076-4e5d-bc3a-291807f6e5d4";
    const char *answers = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
    const char *env_meta = "{\"content_type\":\"application/octet-stream\","
                           "\"content_length\":123456,\"nested\":{\"k\":[1,2]}}";
    const char *pay_meta = "{\"checksum\":\"abc\",\"lang\":\"fr\",\"n\":1.5}";
    const char *subject = "/agent/wine/api/v1/prompt";

    nb_payload *p = text_payload("msg", "Which wine goes with fish?");
    CHECK(p);
    nb_status ms = nb_payload_set_metadata_json(p, pay_meta);
    if (ms != NB_OK)
        nb_payload_destroy(p);
    CHECK_OK(ms);
    nb_envelope *e = env_with(p);
    CHECK(e);
    CHECK_OK(nb_envelope_set_correlation_id(e, corr));
    CHECK_OK(nb_envelope_set_msg_id(e, msgid));
    CHECK_OK(nb_envelope_set_msg_purpose(e, "command"));
    CHECK_OK(nb_envelope_set_sender_name(e, "agent-wine-web-frontend"));
    CHECK_OK(nb_envelope_set_sender_id(e, sender_id));
    CHECK_OK(nb_envelope_set_receiver_name(e, "agent-backend"));
    CHECK_OK(nb_envelope_set_receiver_id(e, receiver_id));
    CHECK_OK(nb_envelope_set_reply_to(e, "/agent/wine/api/v1/answers"));
    CHECK_OK(nb_envelope_set_reply_to_msg_id(e, answers));
    CHECK_OK(nb_envelope_set_metadata_json(e, env_meta));

    nb_envelope *got = roundtrip(e, subject);
    CHECK(got);
    CHECK_STR(nb_envelope_correlation_id(got), corr);
    CHECK_STR(nb_envelope_msg_id(got), msgid);
    CHECK(is_timestamp(nb_envelope_timestamp(got)));
    CHECK_STR(nb_envelope_timestamp(got), nb_envelope_timestamp(e));
    CHECK_STR(nb_envelope_send_to(got), subject);
    CHECK_STR(nb_envelope_msg_purpose(got), "command");
    CHECK_STR(nb_envelope_sender_name(got), "agent-wine-web-frontend");
    CHECK_STR(nb_envelope_sender_id(got), sender_id);
    CHECK_STR(nb_envelope_receiver_name(got), "agent-backend");
    CHECK_STR(nb_envelope_receiver_id(got), receiver_id);
    CHECK_STR(nb_envelope_reply_to(got), "/agent/wine/api/v1/answers");
    CHECK_STR(nb_envelope_reply_to_msg_id(got), answers);
    CHECK_STR(nb_envelope_broker_url(got), T.srv.url);
    CHECK(json_text_subset(env_meta, nb_envelope_metadata(got)));
    CHECK(nb_envelope_payload_count(got) == 1);
    const nb_payload *gp = nb_envelope_payload(got, 0);
    CHECK(json_text_subset(pay_meta, nb_payload_metadata(gp)));
    CHECK_STR(nb_payload_id(gp), nb_payload_id(nb_envelope_payload(e, 0)));

    /* The sender's envelope holds what was sent, wire text included. */
    CHECK_STR(nb_envelope_send_to(e), subject);
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    CHECK(json && len > 0 && strlen(json) == len);
    const char *gjson = nb_envelope_json(got, &len);
    CHECK(gjson && strcmp(json, gjson) == 0);
}

CASE(correlation_id_generated, 0)
{
    nb_client *a;
    nb_subscription *s;
    CHECK(pair(&a, &s, "/ids"));
    nb_envelope *e1 = env_text("msg", "one");
    nb_envelope *e2 = env_text("msg", "two");
    nb_envelope *g1 = send_and_next(a, s, "/ids", e1);
    nb_envelope *g2 = send_and_next(a, s, "/ids", e2);
    CHECK(g1 && g2);
    CHECK(is_uuid4(nb_envelope_correlation_id(g1)));
    CHECK(is_uuid4(nb_envelope_msg_id(g1)));
    CHECK(is_uuid4(nb_envelope_sender_id(g1)));
    CHECK_STR(nb_envelope_correlation_id(g1), nb_envelope_correlation_id(e1));
    CHECK_STR(nb_envelope_msg_id(g1), nb_envelope_msg_id(e1));
    CHECK(strcmp(nb_envelope_correlation_id(g1), nb_envelope_msg_id(g1)) != 0);
    /* Fresh ids per message; one sender id per client. */
    CHECK(is_uuid4(nb_envelope_correlation_id(g2)));
    CHECK(strcmp(nb_envelope_correlation_id(g1), nb_envelope_correlation_id(g2)) != 0);
    CHECK(strcmp(nb_envelope_msg_id(g1), nb_envelope_msg_id(g2)) != 0);
    CHECK_STR(nb_envelope_sender_id(g1), nb_envelope_sender_id(g2));
    /* Defaults of the unset fields. */
    CHECK(is_timestamp(nb_envelope_timestamp(g1)));
    CHECK_STR(nb_envelope_send_to(g1), "/ids");
    CHECK_STR(nb_envelope_msg_purpose(g1), NB_DEFAULT_MSG_PURPOSE);
    CHECK_STR(nb_envelope_sender_name(g1), NB_DEFAULT_SENDER_NAME);
    CHECK_STR(nb_envelope_receiver_name(g1), "");
    CHECK_STR(nb_envelope_receiver_id(g1), "");
    CHECK_STR(nb_envelope_reply_to(g1), "");
    CHECK_STR(nb_envelope_reply_to_msg_id(g1), "");
    CHECK_STR(nb_envelope_broker_url(g1), T.srv.url);
    CHECK(cJSON_IsObject(nb_envelope_metadata(g1)));
}

/* ------------------------------------------------------------------------ */
/* Subscriptions                                                            */
/* ------------------------------------------------------------------------ */

CASE(async_subscribe, 0)
{
    nb_client *a = new_client();
    nb_subscription *s = sub_async(new_client(), "/async", NULL, &cols[0]);
    CHECK(a && s);
    CHECK_STR(nb_subscription_subject(s), "/async");
    for (int i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "n=%d", i);
        nb_envelope *e = env_text("msg", text);
        CHECK(e);
        CHECK_OK(nb_client_send(a, "/async", e));
    }
    CHECK_OK(nb_client_flush(a, 5000));
    CHECK(col_wait(&cols[0], &cols[0].total, 5, 5000));
    /* One publisher: NATS keeps the order. */
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "n=%zu", i);
        CHECK_STR(first_text(col_env(&cols[0], i)), want);
        CHECK_STR(nb_envelope_send_to(col_env(&cols[0], i)), "/async");
    }
    sleep_ms(100);
    CHECK(col_read(&cols[0], &cols[0].total) == 5);
    CHECK(col_read(&cols[0], &cols[0].errors) == 0);
}

CASE(sync_subscribe, 0)
{
    nb_client *a = new_client();
    nb_subscription *s = sub_sync(new_client(), "orders.>", NULL);
    CHECK(a && s);
    CHECK_STR(nb_subscription_subject(s), "orders.>");
    nb_envelope *none = (nb_envelope *)&none;
    int64_t t0 = now_ms();
    CHECK_FAILS(nb_subscription_next(s, 100, &none), NB_TIMEOUT);
    int64_t waited = now_ms() - t0;
    CHECK(none == NULL);
    CHECK(waited >= 80 && waited < 2000);

    const char *subjects[] = {"orders.eu.new", "orders.us", "orders.eu.cancel"};
    for (size_t i = 0; i < COUNT(subjects); i++) {
        nb_envelope *e = env_text("order", subjects[i]);
        CHECK(e);
        CHECK_OK(nb_client_send(a, subjects[i], e));
    }
    for (size_t i = 0; i < COUNT(subjects); i++) {
        nb_envelope *got = next_env(s, 5000);
        CHECK(got);
        CHECK_STR(first_text(got), subjects[i]);
        CHECK_STR(nb_envelope_send_to(got), subjects[i]); /* the concrete subject, not the wildcard */
    }
    CHECK_FAILS(nb_subscription_next(s, 50, &none), NB_TIMEOUT);
}

CASE(unsubscribe_stops_delivery, 0)
{
    nb_client *a = new_client();
    nb_client *b = new_client();
    nb_subscription *s = sub_async(b, "/unsub", NULL, &cols[0]);
    CHECK(a && s);
    CHECK_OK(nb_client_send(a, "/unsub", env_text("msg", "before")));
    CHECK(col_wait(&cols[0], &cols[0].total, 1, 5000));
    drop_sub(s);
    CHECK_OK(nb_client_flush(b, 5000));
    CHECK_OK(nb_client_send(a, "/unsub", env_text("msg", "after")));
    CHECK_OK(nb_client_flush(a, 5000));
    sleep_ms(300);
    CHECK(col_read(&cols[0], &cols[0].total) == 1);
}

CASE(client_receive, 0)
{
    nb_client *c = new_client();
    nb_options *o = opts_new();
    nb_envelope *e = env_text("msg", "built, not sent");
    CHECK(c && o && e);
    CHECK_OK(nb_envelope_build(e, "/built", o));
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    CHECK(json && len == strlen(json));
    nb_envelope *got = NULL;
    CHECK_OK(nb_client_receive(c, json, len, &got));
    keep(got);
    CHECK_STR(first_text(got), "built, not sent");
    CHECK_STR(nb_envelope_msg_id(got), nb_envelope_msg_id(e));
    CHECK_STR(nb_envelope_send_to(got), "/built");

    nb_envelope *bad = (nb_envelope *)&bad;
    CHECK_FAILS(nb_client_receive(c, "not json", 8, &bad), NB_BAD_ENVELOPE);
    CHECK(bad == NULL);
    CHECK_FAILS(nb_client_receive(c, json, len / 2, &bad), NB_BAD_ENVELOPE);
    CHECK(bad == NULL);
    CHECK_FAILS(nb_client_receive(c, "", 0, &bad), NB_BAD_ENVELOPE);
    CHECK(bad == NULL);
}

/* ------------------------------------------------------------------------ */
/* Queue groups                                                             */
/* ------------------------------------------------------------------------ */

/* Counts how often each "job N" text was seen in c. */
static void tally(collector *c, int *seen, int n)
{
    for (size_t i = 0; i < col_read(c, &c->kept); i++) {
        int k = -1;
        if (sscanf(first_text(col_env(c, i)), "job %d", &k) == 1 && k >= 0 && k < n)
            seen[k]++;
    }
}

CASE(queue_groups, 0)
{
    enum { JOBS = 50 };
    nb_client *a = new_client();
    nb_subscription *q1 = sub_async(new_client(), "/jobs", "workers", &cols[0]);
    nb_subscription *q2 = sub_async(new_client(), "/jobs", "workers", &cols[1]);
    nb_subscription *all = sub_async(new_client(), "/jobs", NULL, &cols[2]);
    CHECK(a && q1 && q2 && all);
    for (int i = 0; i < JOBS; i++) {
        char text[32];
        snprintf(text, sizeof text, "job %d", i);
        nb_envelope *e = env_text("job", text);
        CHECK(e);
        CHECK_OK(nb_client_send(a, "/jobs", e));
    }
    CHECK_OK(nb_client_flush(a, 5000));
    CHECK(col_wait(&cols[2], &cols[2].total, JOBS, 10000));
    int64_t until = now_ms() + 10000;
    while (col_read(&cols[0], &cols[0].total) + col_read(&cols[1], &cols[1].total) < JOBS &&
           now_ms() < until)
        sleep_ms(10);
    sleep_ms(200); /* duplicates, if any, would show up now */
    size_t n1 = col_read(&cols[0], &cols[0].total), n2 = col_read(&cols[1], &cols[1].total);
    CHECK(n1 + n2 == JOBS);
    CHECK(n1 > 0 && n2 > 0); /* random choice: all 50 to one member has probability 2^-49 */
    CHECK(col_read(&cols[2], &cols[2].total) == JOBS);
    int group[JOBS] = {0}, plain[JOBS] = {0};
    tally(&cols[0], group, JOBS);
    tally(&cols[1], group, JOBS);
    tally(&cols[2], plain, JOBS);
    for (int i = 0; i < JOBS; i++) {
        CHECK(group[i] == 1);
        CHECK(plain[i] == 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Seed-shaped sending: (dataname, data, type) items                        */
/* ------------------------------------------------------------------------ */

CASE(send_items_seed_shape, 0)
{
    nb_options *o = opts_new();
    nb_subscription *s = sub_sync(new_client(), "items.seed", NULL);
    CHECK(o && s);
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0, 1, 2, 0xff};
    const char *dict = "{\"temperature\":21.5,\"unit\":\"C\"}";
    nb_item items[] = {
        {"caption", "hello from C", 12, NB_TYPE_TEXT},
        {"config", dict, strlen(dict), NB_TYPE_DICTIONARY},
        {"photo", png, sizeof png, NB_TYPE_IMAGE},
    };
    nb_send_fields f = {0};
    f.correlation_id = "corr-items-1";
    f.msg_purpose = "request";
    f.receiver_name = "svc";
    f.reply_to = "items.replies";
    f.metadata_json = "{\"k\":1}";
    nb_envelope *sent = NULL;
    CHECK_OK(nb_smartsend_items("items.seed", items, COUNT(items), &f, o, &sent));
    CHECK(sent);
    keep(sent);
    size_t len = 0;
    CHECK(nb_envelope_json(sent, &len) && len > 0);
    CHECK_STR(nb_envelope_correlation_id(sent), "corr-items-1");
    CHECK(is_uuid4(nb_envelope_msg_id(sent)));

    nb_envelope *got = next_env(s, 5000);
    CHECK(got);
    CHECK_STR(nb_envelope_msg_id(got), nb_envelope_msg_id(sent));
    CHECK_STR(nb_envelope_correlation_id(got), "corr-items-1");
    CHECK_STR(nb_envelope_msg_purpose(got), "request");
    CHECK_STR(nb_envelope_receiver_name(got), "svc");
    CHECK_STR(nb_envelope_reply_to(got), "items.replies");
    CHECK(nb_envelope_payload_count(got) == 3);
    CHECK(payload_is(nb_envelope_payload(got, 0), "caption", NB_TYPE_TEXT, "hello from C", 12));
    CHECK(payload_is(nb_envelope_payload(got, 1), "config", NB_TYPE_DICTIONARY, dict,
                     strlen(dict)));
    CHECK(payload_is(nb_envelope_payload(got, 2), "photo", NB_TYPE_IMAGE, png, sizeof png));
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(nb_envelope_metadata(got), "k");
    CHECK(cJSON_IsNumber(k) && k->valuedouble == 1);

    /* Over a connected client, without asking for the envelope back. */
    nb_client *c = new_client();
    CHECK(c);
    nb_item one = {"msg", "again", 5, NB_TYPE_TEXT};
    CHECK_OK(nb_client_send_items(c, "items.seed", &one, 1, NULL, NULL));
    got = next_env(s, 5000);
    CHECK(got);
    CHECK_STR(first_text(got), "again");
    CHECK_STR(nb_envelope_msg_purpose(got), "chat");
}

/* Every refusal names the item or field that was wrong, and sends nothing. */
CASE(send_items_refusals, 0)
{
    nb_client *c = new_client();
    nb_subscription *s = sub_sync(new_client(), "items.bad", NULL);
    CHECK(c && s);
    nb_envelope *out = (nb_envelope *)&out; /* must come back NULL */
    nb_item ok = {"a", "x", 1, NB_TYPE_TEXT};
    CHECK_FAILS(nb_client_send_items(c, "items.bad", NULL, 0, NULL, &out), NB_INVALID_ARG);
    CHECK(out == NULL && strstr(nb_last_error(), "at least one"));
    CHECK_FAILS(nb_client_send_items(c, "items.bad", &ok, 0, NULL, NULL), NB_INVALID_ARG);

    nb_item dup[] = {{"same", "1", 1, NB_TYPE_TEXT}, {"same", "2", 1, NB_TYPE_TEXT}};
    CHECK_FAILS(nb_client_send_items(c, "items.bad", dup, 2, NULL, NULL), NB_NOT_ALLOWED);
    CHECK(strstr(nb_last_error(), "payloads[1] 'same'") && strstr(nb_last_error(), "payloads[0]"));

    nb_item noname[] = {ok, {NULL, "x", 1, NB_TYPE_TEXT}};
    CHECK_FAILS(nb_client_send_items(c, "items.bad", noname, 2, NULL, NULL), NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "items[1]: dataname is NULL"));

    nb_item badtype = {"t", "x", 1, (nb_type)99};
    CHECK_FAILS(nb_client_send_items(c, "items.bad", &badtype, 1, NULL, NULL), NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "items[0] 't': unknown type 99"));

    nb_item badtext[] = {ok, {"t2", "\xff\xfe", 2, NB_TYPE_TEXT}};
    CHECK(nb_client_send_items(c, "items.bad", badtext, 2, NULL, NULL) != NB_OK);
    CHECK(strstr(nb_last_error(), "items[1]") && strstr(nb_last_error(), "t2"));

    nb_item baddict = {"cfg", "{nope", 5, NB_TYPE_DICTIONARY};
    CHECK(nb_client_send_items(c, "items.bad", &baddict, 1, NULL, NULL) != NB_OK);
    CHECK(strstr(nb_last_error(), "items[0]") && strstr(nb_last_error(), "cfg"));

    nb_item nodata = {"n", NULL, 3, NB_TYPE_BINARY};
    CHECK_FAILS(nb_client_send_items(c, "items.bad", &nodata, 1, NULL, NULL), NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "items[0]") && strstr(nb_last_error(), "NULL"));

    nb_send_fields f = {0};
    f.metadata_json = "[1,2]";
    CHECK(nb_client_send_items(c, "items.bad", &ok, 1, &f, NULL) != NB_OK);
    CHECK(strstr(nb_last_error(), "object"));
    nb_send_fields g = {0};
    g.msg_id = "";
    CHECK_FAILS(nb_client_send_items(c, "items.bad", &ok, 1, &g, NULL), NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "msg_id"));

    CHECK_FAILS(nb_client_send_items(c, "", &ok, 1, NULL, NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_send_items(NULL, "items.bad", &ok, 1, NULL, NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_envelope_create_items(NULL, &ok, 1, NULL), NB_INVALID_ARG);

    /* Nothing of the above reached the subscriber. */
    nb_envelope *none = NULL;
    CHECK(nb_subscription_next(s, 300, &none) == NB_TIMEOUT && none == NULL);
}

/* ------------------------------------------------------------------------ */
/* One-shot and many sends                                                  */
/* ------------------------------------------------------------------------ */

CASE(smartsend_one_shot, 0)
{
    nb_options *o = opts_new();
    nb_subscription *s = sub_sync(new_client(), "/oneshot", NULL);
    nb_envelope *e = env_text("msg", "one call");
    CHECK(o && s && e);
    CHECK_OK(nb_smartsend("/oneshot", e, o));
    size_t len = 0;
    CHECK(nb_envelope_json(e, &len) && len > 0);
    nb_envelope *got = next_env(s, 5000);
    CHECK(got);
    CHECK_STR(first_text(got), "one call");
    CHECK_STR(nb_envelope_msg_id(got), nb_envelope_msg_id(e));

    /* Nobody at that address: a connection error naming it, quickly. */
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", closed_port());
    nb_options *dead = opts_new();
    CHECK(dead);
    CHECK_OK(nb_options_set_url(dead, url));
    CHECK_OK(nb_options_set_connect_timeout(dead, 1000));
    nb_envelope *e2 = env_text("msg", "lost");
    CHECK(e2);
    int64_t t0 = now_ms();
    CHECK_FAILS(nb_smartsend("/oneshot", e2, dead), NB_CONNECTION);
    CHECK(now_ms() - t0 < 5000);
}

CASE(send_1000_one_connection, 0)
{
    nb_client *a = new_client();
    nb_subscription *s = sub_sync(new_client(), "/many", NULL);
    CHECK(a && s);
    int before = sockets_on_port(T.srv.port);
    int64_t t0 = now_ms();
    CHECK(send_many(a, "/many", 1000));
    int64_t took = now_ms() - t0;
    int after = sockets_on_port(T.srv.port);
    fprintf(stderr, "note: 1000 sends in %lld ms; sockets on the server port %d -> %d\n",
            (long long)took, before, after);
    /* A connection per send would leave ~1000 sockets in TIME_WAIT. */
    CHECK(before > 0 && after >= 0 && after <= before + 2);
    for (int i = 0; i < 1000; i++) {
        nb_envelope *e = NULL;
        CHECK_OK(nb_subscription_next(s, 5000, &e));
        char want[32];
        snprintf(want, sizeof want, "m%d", i);
        bool same = strcmp(first_text(e), want) == 0;
        nb_envelope_destroy(e);
        CHECK(same);
    }
}

/* ------------------------------------------------------------------------ */
/* Files and the peers' envelopes                                           */
/* ------------------------------------------------------------------------ */

CASE(file_payload, 0)
{
    static uint8_t bytes[5000];
    fill_bytes(bytes, sizeof bytes, 21);
    const char *dir = case_dir();
    CHECK(dir);
    char path[400];
    snprintf(path, sizeof path, "%s/report.bin", dir);
    CHECK(write_file(path, bytes, sizeof bytes));
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_file(&p, "report.bin", NB_TYPE_BINARY, path));
    nb_envelope *got = roundtrip(env_with(p), "/files");
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "report.bin", NB_TYPE_BINARY, bytes,
                     sizeof bytes));

    char missing[420];
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    nb_payload *bad = (nb_payload *)&bad;
    CHECK_FAIL(nb_payload_create_file(&bad, "missing", NB_TYPE_BINARY, missing), NB_IO, missing);
    CHECK(bad == NULL);
    bad = (nb_payload *)&bad;
    CHECK_FAIL(nb_payload_create_file(&bad, "dir", NB_TYPE_BINARY, dir), NB_IO, "regular file");
    CHECK(bad == NULL);
}

/* Envelopes as the Julia / JavaScript / Python peers write them (docs: seed wire format). */
static const char *const peer_texts[] = {
    /* README form (2026-02-22): snake_case, payload field "type". */
    "{\"correlation_id\":\"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\","
    "\"msg_id\":\"0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d\",\"timestamp\":\"2026-02-22T10:00:00.000Z\","
    "\"send_to\":\"/peer\",\"msg_purpose\":\"chat\",\"sender_name\":\"julia-peer\","
    "\"sender_id\":\"1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e\",\"receiver_name\":\"\",\"receiver_id\":\"\","
    "\"reply_to\":\"\",\"reply_to_msg_id\":\"\",\"broker_url\":\"nats://localhost:4222\",\"metadata\":{},"
    "\"payloads\":[{\"id\":\"2c3d4e5f-6071-4c8d-8e9f-1a2b3c4d5e6f\",\"dataname\":\"msg\",\"type\":\"text\","
    "\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":5,\"data\":\"aGVsbG8=\",\"metadata\":{}}]}",
    /* Newer form: payload_type, a dictionary, a jsontable with literal JSON data. */
    "{\"correlation_id\":\"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\","
    "\"msg_id\":\"3d4e5f60-7182-4d9e-9fa0-2b3c4d5e6f70\",\"timestamp\":\"2026-03-13T07:02:50.443Z\","
    "\"send_to\":\"/peer\",\"msg_purpose\":\"chat\",\"sender_name\":\"js-peer\","
    "\"sender_id\":\"1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e\",\"receiver_name\":\"\",\"receiver_id\":\"\","
    "\"reply_to\":\"\",\"reply_to_msg_id\":\"\",\"broker_url\":\"nats://localhost:4222\",\"metadata\":{},"
    "\"payloads\":[{\"id\":\"4e5f6071-8293-4eaf-a0b1-3c4d5e6f7081\",\"dataname\":\"cfg\","
    "\"payload_type\":\"dictionary\",\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":7,"
    "\"data\":\"eyJhIjoxfQ==\",\"metadata\":{}},"
    "{\"id\":\"5f607182-93a4-4fb0-b1c2-4d5e6f708192\",\"dataname\":\"rows\","
    "\"payload_type\":\"jsontable\",\"transport\":\"direct\",\"encoding\":\"json\",\"size\":10,"
    "\"data\":\"[{\\\"id\\\":1}]\",\"metadata\":{}}]}",
    /* First version (Feb 2026): camelCase, BrokerURL, note, Julia's local timestamp. */
    "{\"correlationId\":\"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\","
    "\"msgId\":\"60718293-a4b5-40c1-82d3-5e6f708192a3\",\"timestamp\":\"2026-02-10T10:00:00.123\","
    "\"sendTo\":\"/peer\",\"msgPurpose\":\"chat\",\"senderName\":\"old-julia-peer\","
    "\"senderId\":\"1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e\",\"receiverName\":\"\",\"receiverId\":\"\","
    "\"replyTo\":\"\",\"replyToMsgId\":\"\",\"BrokerURL\":\"nats://localhost:4222\",\"note\":\"hi\","
    "\"payloads\":[{\"id\":\"718293a4-b5c6-41d2-93e4-6f708192a3b4\",\"dataname\":\"msg\",\"type\":\"text\","
    "\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":2,\"data\":\"b2s=\",\"metadata\":{}}]}",
};

CASE(peer_envelopes, 0)
{
    nb_subscription *s = sub_sync(new_client(), "/peer", NULL);
    CHECK(s);
    for (size_t i = 0; i < COUNT(peer_texts); i++)
        CHECK(raw_publish("/peer", peer_texts[i], strlen(peer_texts[i])));

    nb_envelope *e = next_env(s, 5000);
    CHECK(e);
    CHECK_STR(nb_envelope_sender_name(e), "julia-peer");
    CHECK(payload_is(nb_envelope_payload(e, 0), "msg", NB_TYPE_TEXT, "hello", 5));

    e = next_env(s, 5000);
    CHECK(e);
    CHECK_STR(nb_envelope_sender_name(e), "js-peer");
    CHECK(payload_is(nb_envelope_payload(e, 0), "cfg", NB_TYPE_DICTIONARY, "{\"a\":1}", 7));
    const nb_payload *rows = nb_envelope_payload(e, 1);
    CHECK(rows && nb_payload_type(rows) == NB_TYPE_JSONTABLE);
    CHECK(cJSON_IsArray(nb_payload_json(rows)));
    CHECK_STR(nb_payload_text(rows), "[{\"id\":1}]");

    e = next_env(s, 5000);
    CHECK(e);
    CHECK_STR(nb_envelope_sender_name(e), "old-julia-peer");
    CHECK_STR(nb_envelope_msg_id(e), "60718293-a4b5-40c1-82d3-5e6f708192a3");
    CHECK_STR(nb_envelope_broker_url(e), "nats://localhost:4222");
    CHECK(payload_is(nb_envelope_payload(e, 0), "msg", NB_TYPE_TEXT, "ok", 2));
}

/* ------------------------------------------------------------------------ */
/* Threads and callbacks                                                    */
/* ------------------------------------------------------------------------ */

typedef struct sender_arg {
    nb_client *client;
    int id;
    int failures;
} sender_arg;

static void *sender(void *arg)
{
    sender_arg *a = arg;
    for (int i = 0; i < 250; i++) {
        char text[32];
        snprintf(text, sizeof text, "%d:%d", a->id, i);
        if (send_text(a->client, "/threads", text) != NB_OK) {
            fprintf(stderr, "sender %d: %s\n", a->id, nb_last_error());
            a->failures++;
        }
    }
    return NULL;
}

CASE(send_from_threads, 0)
{
    /* One client shared by four sending threads; each thread's messages keep their order. */
    nb_client *a = new_client();
    nb_subscription *s = sub_sync(new_client(), "/threads", NULL);
    CHECK(a && s);
    sender_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (sender_arg){a, i, 0};
        CHECK(pthread_create(&th[i], NULL, sender, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    CHECK_OK(nb_client_flush(a, 5000));
    int next[4] = {0};
    for (int n = 0; n < 1000; n++) {
        nb_envelope *e = NULL;
        CHECK_OK(nb_subscription_next(s, 5000, &e));
        int id = -1, i = -1;
        bool parsed = sscanf(first_text(e), "%d:%d", &id, &i) == 2;
        nb_envelope_destroy(e);
        CHECK(parsed && id >= 0 && id < 4);
        CHECK(i == next[id]);
        next[id]++;
    }
    nb_envelope *none = NULL;
    CHECK_FAILS(nb_subscription_next(s, 100, &none), NB_TIMEOUT);
}

typedef struct self_destroy {
    pthread_mutex_t mu;
    int calls;
} self_destroy;

static void destroy_self(nb_subscription *sub, nb_envelope *env, void *closure)
{
    self_destroy *d = closure;
    nb_envelope_destroy(env);
    pthread_mutex_lock(&d->mu);
    d->calls++;
    pthread_mutex_unlock(&d->mu);
    nb_subscription_destroy(sub); /* allowed from its own callback */
}

CASE(destroy_in_callback, 0)
{
    static self_destroy d = {PTHREAD_MUTEX_INITIALIZER, 0};
    d.calls = 0;
    nb_client *a = new_client();
    nb_client *b = new_client();
    CHECK(a && b);
    nb_subscription *s = NULL;
    CHECK_OK(nb_client_subscribe(b, &s, "/once", NULL, destroy_self, NULL, &d));
    (void)s; /* freed by its own callback: not tracked */
    CHECK_OK(nb_client_flush(b, 5000));
    for (int i = 0; i < 5; i++)
        CHECK_OK(nb_client_send(a, "/once", env_text("msg", "x")));
    CHECK_OK(nb_client_flush(a, 5000));
    sleep_ms(300);
    pthread_mutex_lock(&d.mu);
    int calls = d.calls;
    pthread_mutex_unlock(&d.mu);
    if (calls != 1)
        fprintf(stderr, "destroy_in_callback: the callback ran %d times\n", calls);
    CHECK(calls == 1);
}

static const nbt_case cases[] = {
    NBT_ENTRY(text_utf8),
    NBT_ENTRY(dict_from_json_text),
    NBT_ENTRY(dict_from_tree),
    NBT_ENTRY(table_bytes),
    NBT_ENTRY(media_types),
    NBT_ENTRY(binary_all_byte_values),
    NBT_ENTRY(binary_empty),
    NBT_ENTRY(multi_payload_order),
    NBT_ENTRY(all_envelope_fields),
    NBT_ENTRY(correlation_id_generated),
    NBT_ENTRY(async_subscribe),
    NBT_ENTRY(sync_subscribe),
    NBT_ENTRY(unsubscribe_stops_delivery),
    NBT_ENTRY(client_receive),
    NBT_ENTRY(queue_groups),
    NBT_ENTRY(smartsend_one_shot),
    NBT_ENTRY(send_items_seed_shape),
    NBT_ENTRY(send_items_refusals),
    NBT_ENTRY(send_1000_one_connection),
    NBT_ENTRY(file_payload),
    NBT_ENTRY(peer_envelopes),
    NBT_ENTRY(send_from_threads),
    NBT_ENTRY(destroy_in_callback),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
