/* SPDX-License-Identifier: MIT */
/*
 * test_payload.c - payload types, constructors, accessors and content checks
 * (src/envelope/payload.c).
 */
#include "test.h"

#include "payload.h"

#include <unistd.h>

NBT_CASE(type_names)
{
    static const char *const names[] = {"text",  "dictionary", "table",  "image",
                                        "audio", "video",      "binary", "jsontable"};
    for (int t = 0; t < NB_TYPE_COUNT; t++) {
        CHECK_STR(nb_type_name((nb_type)t), names[t]);
        nb_type back;
        CHECK_OK(nb_type_parse(names[t], &back));
        CHECK(back == (nb_type)t);
    }
    CHECK_STR(nb_type_name(NB_TYPE_COUNT), "unknown");
    nb_type t;
    CHECK_OK(nb_type_parse("arrowtable", &t));
    CHECK(t == NB_TYPE_TABLE);
    CHECK_OK(nb_type_parse("json", &t));
    CHECK(t == NB_TYPE_DICTIONARY);
    CHECK_FAIL(nb_type_parse("vidoe", &t), NB_INVALID_ARG, "unknown type 'vidoe'");
    CHECK_FAIL(nb_type_parse("Text", &t), NB_INVALID_ARG, "unknown type 'Text'");
    CHECK_FAIL(nb_type_parse("", &t), NB_INVALID_ARG, "unknown type ''");
    CHECK_FAIL(nb_type_parse(NULL, &t), NB_INVALID_ARG, "NULL");
    CHECK_STR(nb_transport_name(NB_TRANSPORT_DIRECT), "direct");
    CHECK_STR(nb_transport_name(NB_TRANSPORT_LINK), "link");
}

#define U8(s) (const uint8_t *)(s), sizeof(s) - 1

NBT_CASE(utf8_valid)
{
    CHECK(nbi_utf8_valid(U8("")));
    CHECK(nbi_utf8_valid(U8("plain ascii, long enough for the fast path")));
    CHECK(nbi_utf8_valid(U8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
    CHECK(nbi_utf8_valid(U8("\xc2\x80")));                 /* U+0080 */
    CHECK(nbi_utf8_valid(U8("\xdf\xbf")));                 /* U+07FF */
    CHECK(nbi_utf8_valid(U8("\xe0\xa0\x80")));             /* U+0800 */
    CHECK(nbi_utf8_valid(U8("\xed\x9f\xbf")));             /* U+D7FF */
    CHECK(nbi_utf8_valid(U8("\xee\x80\x80")));             /* U+E000 */
    CHECK(nbi_utf8_valid(U8("\xef\xbf\xbf")));             /* U+FFFF */
    CHECK(nbi_utf8_valid(U8("\xf0\x90\x80\x80")));         /* U+10000 */
    CHECK(nbi_utf8_valid(U8("\xf4\x8f\xbf\xbf")));         /* U+10FFFF */
    CHECK(nbi_utf8_valid((const uint8_t *)"a\0b", 3));     /* NUL is a character */
}

NBT_CASE(utf8_invalid)
{
    static const struct {
        const char *s;
        size_t at;
    } bad[] = {
        {"\x80", 0},                   /* lone continuation */
        {"ab\xbf", 2},                 /* lone continuation */
        {"\xc0\x80", 0},               /* overlong NUL */
        {"\xc1\xbf", 0},               /* overlong */
        {"\xe0\x80\x80", 0},           /* overlong 3-byte */
        {"\xe0\x9f\xbf", 0},           /* overlong 3-byte */
        {"\xf0\x80\x80\x80", 0},       /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 0},       /* overlong 4-byte */
        {"x\xed\xa0\x80", 1},          /* surrogate U+D800 */
        {"\xed\xbf\xbf", 0},           /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 0},       /* U+110000 */
        {"\xf5\x80\x80\x80", 0},       /* beyond */
        {"\xfe", 0},                   /* never valid */
        {"\xff", 0},                   /* never valid */
        {"abc\xe2\x82", 3},            /* truncated */
        {"\xe2\x28\xa1", 0},           /* bad continuation */
        {"0123456789\xc3", 10},        /* truncated after the fast path */
        {"0123456789abcdef\xc3(", 16}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i].s);
        CHECK(!nbi_utf8_valid((const uint8_t *)bad[i].s, n));
        CHECK(nbi_utf8_check((const uint8_t *)bad[i].s, n) == bad[i].at);
    }
}

NBT_CASE(create_text)
{
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_text(&p, "msg", "h\xc3\xa9llo"));
    CHECK_STR(nb_payload_dataname(p), "msg");
    CHECK(nb_payload_type(p) == NB_TYPE_TEXT);
    CHECK_STR(nb_payload_type_name(p), "text");
    CHECK(nb_payload_size(p) == 6);
    size_t len;
    const uint8_t *data = nb_payload_data(p, &len);
    CHECK(len == 6 && data[6] == '\0');
    CHECK_STR(nb_payload_text(p), "h\xc3\xa9llo");
    CHECK(nb_payload_json(p) == NULL);
    CHECK(nb_payload_url(p) == NULL);
    CHECK(nb_payload_path(p) == NULL);
    CHECK_STR(nb_payload_id(p), "");
    CHECK(cJSON_IsObject(nb_payload_metadata(p)));
    CHECK(nb_payload_transport(p) == NB_TRANSPORT_DIRECT);
    nb_payload_destroy(p);

    CHECK_OK(nb_payload_create_text(&p, "empty", ""));
    CHECK(nb_payload_size(p) == 0);
    CHECK_STR(nb_payload_text(p), "");
    nb_payload_destroy(p);

    p = (nb_payload *)1;
    CHECK_FAIL(nb_payload_create_text(&p, "msg", "ab\xff"), NB_BAD_PAYLOAD,
               "payload 'msg': text is not valid UTF-8 at byte 2");
    CHECK(p == NULL);
    CHECK_FAIL(nb_payload_create_text(&p, "", "x"), NB_INVALID_ARG, "dataname must not be empty");
    CHECK_FAIL(nb_payload_create_text(&p, NULL, "x"), NB_INVALID_ARG, "dataname");
    CHECK_FAIL(nb_payload_create_text(&p, "n\xc0", "x"), NB_INVALID_ARG, "not valid UTF-8");
    CHECK_FAIL(nb_payload_create_text(&p, "msg", NULL), NB_INVALID_ARG, "text is NULL");
    CHECK_FAIL(nb_payload_create_text(NULL, "msg", "x"), NB_INVALID_ARG, "out is NULL");
}

NBT_CASE(create_dict_json)
{
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_dict_json(&p, "cfg", " {\"a\": [1, 2], \"b\": null}\n"));
    CHECK(nb_payload_type(p) == NB_TYPE_DICTIONARY);
    const cJSON *j = nb_payload_json(p);
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(j, "a")));
    CHECK_STR(nb_payload_text(p), " {\"a\": [1, 2], \"b\": null}\n");
    nb_payload_destroy(p);
    /* Any JSON value is a dictionary payload. */
    static const char *const values[] = {"42", "\"s\"", "[1]", "null", "true"};
    for (size_t i = 0; i < 5; i++) {
        CHECK_OK(nb_payload_create_dict_json(&p, "v", values[i]));
        CHECK(nb_payload_json(p) != NULL);
        nb_payload_destroy(p);
    }
    CHECK_FAIL(nb_payload_create_dict_json(&p, "cfg", "{\"a\":"), NB_BAD_PAYLOAD,
               "payload 'cfg': dictionary is not valid JSON (near byte");
    CHECK_FAIL(nb_payload_create_dict_json(&p, "cfg", "{} x"), NB_BAD_PAYLOAD,
               "not valid JSON (near byte 3)");
    CHECK_FAIL(nb_payload_create_dict_json(&p, "cfg", ""), NB_BAD_PAYLOAD, "not valid JSON");
    CHECK_FAIL(nb_payload_create_dict_json(&p, "cfg", "\"\xff\""), NB_BAD_PAYLOAD,
               "dictionary is not valid UTF-8 at byte 1");
    CHECK_FAIL(nb_payload_create(&p, "cfg", NB_TYPE_DICTIONARY, "{\0}", 3), NB_BAD_PAYLOAD,
               "dictionary is not valid JSON (NUL byte at 1)");
    CHECK_FAIL(nb_payload_create(&p, "cfg", NB_TYPE_DICTIONARY, "{}\0", 3), NB_BAD_PAYLOAD,
               "NUL byte at 2");
    CHECK_FAIL(nb_payload_create_dict_json(&p, "cfg", NULL), NB_INVALID_ARG, "JSON is NULL");
    CHECK(p == NULL);
}

NBT_CASE(create_dict)
{
    cJSON *tree = cJSON_CreateObject();
    cJSON_AddStringToObject(tree, "name", "x");
    cJSON_AddNumberToObject(tree, "n", 3);
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_dict(&p, "cfg", tree));
    cJSON_Delete(tree);
    CHECK_STR(nb_payload_text(p), "{\"name\":\"x\",\"n\":3}");
    CHECK(cJSON_GetObjectItem(nb_payload_json(p), "n")->valueint == 3);
    nb_payload_destroy(p);
    CHECK_FAIL(nb_payload_create_dict(&p, "cfg", NULL), NB_INVALID_ARG, "tree is NULL");
}

NBT_CASE(create_bytes)
{
    nb_payload *p = NULL;
    static const uint8_t bytes[] = {0, 1, 2, 0xff, 0};
    CHECK_OK(nb_payload_create(&p, "blob", NB_TYPE_BINARY, bytes, sizeof bytes));
    size_t len;
    const uint8_t *d = nb_payload_data(p, &len);
    CHECK(len == 5 && memcmp(d, bytes, 5) == 0 && d[5] == 0);
    CHECK(nb_payload_text(p) == NULL);
    CHECK(nb_payload_json(p) == NULL);
    nb_payload_destroy(p);
    CHECK_OK(nb_payload_create(&p, "nothing", NB_TYPE_IMAGE, NULL, 0));
    d = nb_payload_data(p, &len);
    CHECK(d != NULL && len == 0);
    nb_payload_destroy(p);
    CHECK_FAIL(nb_payload_create(&p, "x", NB_TYPE_AUDIO, NULL, 3), NB_INVALID_ARG,
               "data is NULL with length 3");
    CHECK_FAIL(nb_payload_create(&p, "x", NB_TYPE_COUNT, bytes, 1), NB_INVALID_ARG,
               "unknown type");
    CHECK_FAIL(nb_payload_create(&p, "x", (nb_type)-1, bytes, 1), NB_INVALID_ARG, "unknown type");
}

NBT_CASE(create_jsontable)
{
    nb_payload *p = NULL;
    const char *rows = "[{\"id\":1},{\"id\":2}]";
    CHECK_OK(nb_payload_create(&p, "rows", NB_TYPE_JSONTABLE, rows, strlen(rows)));
    CHECK(cJSON_GetArraySize(nb_payload_json(p)) == 2);
    CHECK_STR(nb_payload_text(p), rows);
    nb_payload_destroy(p);
    CHECK_FAIL(nb_payload_create(&p, "rows", NB_TYPE_JSONTABLE, "{}", 2), NB_BAD_PAYLOAD,
               "payload 'rows': jsontable is not a JSON array");
    CHECK_FAIL(nb_payload_create(&p, "rows", NB_TYPE_JSONTABLE, "[", 1), NB_BAD_PAYLOAD,
               "jsontable is not valid JSON");
    /* JSON rows are not an Arrow table: peers would read them as a jsontable. */
    CHECK_FAIL(nb_payload_create(&p, "t", NB_TYPE_TABLE, " \n[{}]", 6), NB_BAD_PAYLOAD,
               "payload 't': table bytes start with '[' (JSON rows, not Arrow IPC): use jsontable");
    CHECK_OK(nb_payload_create(&p, "t", NB_TYPE_TABLE, "\xff\xff\xff\xff[", 5));
    nb_payload_destroy(p);
    CHECK(nbi_payload_is_json_rows((const uint8_t *)"\t[", 2));
    CHECK(!nbi_payload_is_json_rows((const uint8_t *)"  ", 2));
    CHECK(!nbi_payload_is_json_rows((const uint8_t *)"ARROW1", 6));
}

NBT_CASE(create_file)
{
    char path[] = "/tmp/nbt_payload_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello file", 10) == 10);
    close(fd);
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_file(&p, "f", NB_TYPE_BINARY, path));
    CHECK(nb_payload_size(p) == 10);
    CHECK_STR(nb_payload_path(p), path);
    size_t len = 99;
    CHECK(nb_payload_data(p, &len) == NULL && len == 0);
    CHECK(nb_payload_text(p) == NULL);
    char hex[65];
    CHECK_OK(nb_payload_sha256_hex(p, hex));
    nb_payload *m = NULL;
    CHECK_OK(nb_payload_create(&m, "m", NB_TYPE_BINARY, "hello file", 10));
    char hex2[65];
    CHECK_OK(nb_payload_sha256_hex(m, hex2));
    CHECK_STR(hex, hex2);
    nb_payload_destroy(m);
    nb_payload_destroy(p);
    /* A text file is checked when it is loaded, not here. */
    CHECK_OK(nb_payload_create_file(&p, "t", NB_TYPE_TEXT, path));
    nb_payload_destroy(p);
    unlink(path);
    CHECK_FAIL(nb_payload_create_file(&p, "f", NB_TYPE_BINARY, path), NB_IO,
               "No such file or directory");
    CHECK(strstr(nb_last_error(), path) != NULL);
    CHECK_FAIL(nb_payload_create_file(&p, "f", NB_TYPE_BINARY, "/tmp"), NB_IO,
               "'/tmp' is not a regular file");
    CHECK_FAIL(nb_payload_create_file(&p, "f", NB_TYPE_BINARY, ""), NB_INVALID_ARG, "path");
    CHECK_FAIL(nb_payload_create_file(&p, "", NB_TYPE_BINARY, "/etc/hostname"), NB_INVALID_ARG,
               "dataname");
    CHECK(p == NULL);
}

NBT_CASE(metadata_setters)
{
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_text(&p, "msg", "x"));
    CHECK_OK(nb_payload_set_metadata_json(p, "{\"k\":\"v\"}"));
    CHECK_STR(cJSON_GetObjectItem(nb_payload_metadata(p), "k")->valuestring, "v");
    CHECK_FAIL(nb_payload_set_metadata_json(p, "[1]"), NB_INVALID_ARG,
               "payload 'msg': metadata must be a JSON object");
    CHECK_FAIL(nb_payload_set_metadata_json(p, "{"), NB_INVALID_ARG, "metadata is not valid JSON");
    CHECK_FAIL(nb_payload_set_metadata_json(p, NULL), NB_INVALID_ARG, "NULL");
    /* A failed setter keeps the old metadata. */
    CHECK_STR(cJSON_GetObjectItem(nb_payload_metadata(p), "k")->valuestring, "v");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", 1);
    CHECK_OK(nb_payload_set_metadata(p, o));
    cJSON_Delete(o);
    CHECK(cJSON_GetObjectItem(nb_payload_metadata(p), "n")->valueint == 1);
    cJSON *arr = cJSON_CreateArray();
    CHECK_FAIL(nb_payload_set_metadata(p, arr), NB_INVALID_ARG, "must be a JSON object");
    cJSON_Delete(arr);
    CHECK_FAIL(nb_payload_set_metadata(p, NULL), NB_INVALID_ARG, "must be a JSON object");
    CHECK_OK(nb_payload_force_link(p, true));
    CHECK(p->force_link);
    nb_payload_destroy(p);
    CHECK_FAIL(nb_payload_set_metadata_json(NULL, "{}"), NB_INVALID_ARG, "NULL payload");
    CHECK_FAIL(nb_payload_force_link(NULL, true), NB_INVALID_ARG, "NULL payload");
}

NBT_CASE(sha256)
{
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_text(&p, "abc", "abc"));
    char hex[65];
    CHECK_OK(nb_payload_sha256_hex(p, hex));
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* A link payload before download has no bytes to hash. */
    free(p->data);
    p->data = NULL;
    p->len = 0;
    p->transport = NB_TRANSPORT_LINK;
    p->url = strdup("http://127.0.0.1:1/x");
    CHECK_STR(nb_payload_url(p), "http://127.0.0.1:1/x");
    CHECK_FAIL(nb_payload_sha256_hex(p, hex), NB_INVALID_ARG, "payload 'abc': no bytes to hash");
    nb_payload_destroy(p);
}

NBT_CASE(accessors_null)
{
    CHECK_STR(nb_payload_id(NULL), "");
    CHECK_STR(nb_payload_dataname(NULL), "");
    CHECK_STR(nb_payload_type_name(NULL), "");
    CHECK_STR(nb_payload_encoding(NULL), "");
    CHECK(nb_payload_size(NULL) == 0);
    size_t len = 7;
    CHECK(nb_payload_data(NULL, &len) == NULL && len == 0);
    CHECK(nb_payload_text(NULL) == NULL);
    CHECK(nb_payload_json(NULL) == NULL);
    CHECK(cJSON_IsObject(nb_payload_metadata(NULL)));
    CHECK(nb_payload_url(NULL) == NULL);
    CHECK(nb_payload_path(NULL) == NULL);
    char hex[65];
    CHECK_FAIL(nb_payload_sha256_hex(NULL, hex), NB_INVALID_ARG, "NULL");
    nb_payload_destroy(NULL);
}

NBT_CASE(check_content)
{
    nb_payload *p = NULL;
    CHECK_OK(nbi_payload_new(&p));
    CHECK(cJSON_IsObject(p->metadata));
    CHECK_OK(nbi_payload_check_content(p, "x")); /* no bytes: nothing to check */
    uint8_t *d = malloc(8);
    memcpy(d, "{\"a\":1}", 7);
    nbi_payload_take_data(p, d, 7);
    p->type = NB_TYPE_DICTIONARY;
    CHECK_OK(nbi_payload_check_content(p, "payloads[0] 'cfg'"));
    CHECK(p->json == NULL); /* validated without a tree (issue 16) ... */
    CHECK(nb_payload_json(p) != NULL && p->json != NULL); /* ... built when asked */
    p->type = NB_TYPE_TEXT;
    d = malloc(3);
    memcpy(d, "a\xff", 2);
    nbi_payload_take_data(p, d, 2);
    CHECK(p->json == NULL); /* stale tree dropped with the old bytes */
    CHECK_FAIL(nbi_payload_check_content(p, "payloads[2] 'msg'"), NB_BAD_PAYLOAD,
               "payloads[2] 'msg': text is not valid UTF-8 at byte 1");
    p->type = NB_TYPE_IMAGE;
    CHECK_OK(nbi_payload_check_content(p, "x")); /* raw bytes: anything goes */
    nb_payload_destroy(p);
}

NBT_CASE(take_data)
{
    nb_payload *p = NULL;
    CHECK_OK(nb_payload_create_text(&p, "t", "old"));
    uint8_t *d = malloc(4);
    memcpy(d, "new!", 4);
    nbi_payload_take_data(p, d, 3);
    CHECK_STR(nb_payload_text(p), "new"); /* NUL written at data[len] */
    CHECK(nb_payload_size(p) == 3);
    nb_payload_destroy(p);
}

static const nbt_case cases[] = {
    NBT_ENTRY(type_names),       NBT_ENTRY(utf8_valid),       NBT_ENTRY(utf8_invalid),
    NBT_ENTRY(create_text),      NBT_ENTRY(create_dict_json), NBT_ENTRY(create_dict),
    NBT_ENTRY(create_bytes),     NBT_ENTRY(create_jsontable), NBT_ENTRY(create_file),
    NBT_ENTRY(metadata_setters), NBT_ENTRY(sha256),           NBT_ENTRY(accessors_null),
    NBT_ENTRY(check_content),    NBT_ENTRY(take_data),        {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
