/* SPDX-License-Identifier: MIT */
/*
 * test_ipc.c - Arrow IPC round trips C -> IPC -> C (nb_table_to_ipc,
 * nb_table_to_ipc_file, nb_table_from_ipc): every type with nulls, empty
 * tables, zero-row and many batches, unicode, over 1 MB of strings, legacy
 * and file framing, and the stream's layout (markers, 8-byte alignment, EOS);
 * and against apache-arrow 17 both ways, dictionary-encoded tables included.
 */
#include "test.h"

#include <cjson/cJSON.h>
#include <inttypes.h>

#include "flatbuf.h"
#include "ipc.h"
#include "table.h"
#include "table_describe.h"
#include "table_fixture.h"

/* Writes t with batch_rows, reads it back and compares; *back (may be NULL) keeps the copy. */
static bool roundtrip(const nb_table *t, size_t batch_rows, bool file)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    nb_table *back = NULL;
    nb_status s = file ? nb_table_to_ipc_file(t, batch_rows, &bytes, &len)
                       : nb_table_to_ipc(t, batch_rows, &bytes, &len);
    if (s == NB_OK)
        s = nb_table_from_ipc(&back, bytes, len);
    if (s != NB_OK)
        fprintf(stderr, "batch_rows %zu: %s: %s\n", batch_rows, nb_status_text(s), nb_last_error());
    bool same = s == NB_OK && fx_tables_equal(t, back);
    nb_table_destroy(back);
    free(bytes);
    return same;
}

/* A message of a stream: where it starts, its metadata and body lengths. */
typedef struct msg_span {
    size_t start, meta_len, body_len;
    uint8_t header_type;
} msg_span;

/* Splits a stream with continuation markers into its messages (EOS excluded). */
static size_t split(const uint8_t *p, size_t len, msg_span *out, size_t max)
{
    size_t pos = 0, n = 0;
    while (pos + 8 <= len && n < max) {
        uint32_t size = nbi_le32(p + pos + 4);
        if (size == 0)
            break;
        nbi_fb_table m, unused;
        int64_t body = 0;
        bool has = false;
        if (nbi_fb_root(&m, p + pos + 8, size) != NB_OK ||
            nbi_fb_i64(&m, NBI_MSG_BODY_LEN, 0, &body) != NB_OK ||
            nbi_fb_u8(&m, NBI_MSG_HEADER_TYPE, 0, &out[n].header_type) != NB_OK ||
            nbi_fb_table_field(&m, NBI_MSG_HEADER, &unused, &has) != NB_OK)
            return 0;
        out[n].start = pos;
        out[n].meta_len = 8 + size;
        out[n].body_len = (size_t)body;
        pos += 8 + size + (size_t)body;
        n++;
    }
    return n;
}

NBT_CASE(every_type_one_batch)
{
    nb_table *t = fx_every_type(100);
    CHECK(t);
    CHECK(roundtrip(t, 0, false));
    nb_table_destroy(t);
}

NBT_CASE(every_type_many_batch_sizes)
{
    /* Sizes off the byte boundary make the writer shift bitmaps. */
    static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 16, 63, 64, 99, 100, 1000};
    nb_table *t = fx_every_type(100);
    CHECK(t);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        CHECK(roundtrip(t, sizes[i], false));
    nb_table_destroy(t);
}

NBT_CASE(file_format)
{
    nb_table *t = fx_every_type(50);
    CHECK(t);
    CHECK(roundtrip(t, 0, true));
    CHECK(roundtrip(t, 7, true));
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(nb_table_to_ipc_file(t, 10, &bytes, &len));
    CHECK(len > 16 && memcmp(bytes, "ARROW1\0\0", 8) == 0);
    CHECK(memcmp(bytes + len - 6, "ARROW1", 6) == 0);
    free(bytes);
    nb_table_destroy(t);
}

NBT_CASE(empty_tables)
{
    nb_table *t = NULL;
    CHECK_OK(nb_table_create(&t));
    CHECK(roundtrip(t, 0, false)); /* no columns, no rows */
    CHECK(roundtrip(t, 0, true));
    nb_table_destroy(t);
    t = fx_every_type(0); /* columns, no rows */
    CHECK(t);
    CHECK(roundtrip(t, 0, false));
    CHECK(roundtrip(t, 5, false));
    CHECK(roundtrip(t, 0, true));
    nb_table_destroy(t);
}

NBT_CASE(zero_row_batches)
{
    /* Stream: schema, 0-row batch, batches of 4 rows, 0-row batch, EOS. */
    nb_table *t = fx_every_type(10), *empty = fx_every_type(0), *back = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    msg_span ma[4], mb[8];
    CHECK(t && empty);
    CHECK_OK(nb_table_to_ipc(empty, 0, &a, &alen));
    CHECK_OK(nb_table_to_ipc(t, 4, &b, &blen));
    CHECK(split(a, alen, ma, 4) == 2 && ma[1].header_type == NBI_IPC_HDR_RECORD_BATCH);
    CHECK(split(b, blen, mb, 8) == 4);
    size_t zlen = ma[1].meta_len + ma[1].body_len;
    uint8_t *s = malloc(blen + 2 * zlen);
    size_t at = mb[1].start, tail = blen - at, n = 0;
    memcpy(s, b, at);
    memcpy(s + at, a + ma[1].start, zlen);
    memcpy(s + at + zlen, b + at, tail - 8);
    n = at + zlen + tail - 8;
    memcpy(s + n, a + ma[1].start, zlen);
    memcpy(s + n + zlen, b + blen - 8, 8);
    CHECK_OK(nb_table_from_ipc(&back, s, n + zlen + 8));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    free(s);
    free(a);
    free(b);
    nb_table_destroy(t);
    nb_table_destroy(empty);
}

NBT_CASE(many_batches)
{
    nb_table *t = fx_every_type(5000);
    CHECK(t);
    CHECK(roundtrip(t, 1, false));
    CHECK(roundtrip(t, 13, false));
    CHECK(roundtrip(t, 4999, true));
    nb_table_destroy(t);
}

NBT_CASE(unicode)
{
    static const char *const words[] = {"héllo", "日本語テキスト", "😀🎉", "", "Ωμέγα",
                                        "\xf4\x8f\xbf\xbf" /* U+10FFFF */};
    int32_t offsets[7] = {0};
    char data[256];
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        memcpy(data + len, words[i], strlen(words[i]));
        len += strlen(words[i]);
        offsets[i + 1] = (int32_t)len;
    }
    nb_table *t = NULL, *back = NULL;
    CHECK_OK(nb_table_create(&t));
    CHECK_OK(nb_table_add_column(t, "名前 ✓", NB_COL_UTF8, 6, data, offsets, NULL));
    uint8_t *bytes = NULL;
    size_t n = 0;
    CHECK_OK(nb_table_to_ipc(t, 2, &bytes, &n));
    CHECK_OK(nb_table_from_ipc(&back, bytes, n));
    CHECK(fx_tables_equal(t, back));
    nb_column_view v;
    CHECK_OK(nb_table_column(back, 0, &v));
    CHECK_STR(v.name, "名前 ✓");
    size_t l = 0;
    const uint8_t *p = nb_table_bytes_at(&v, 1, &l);
    CHECK(l == strlen(words[1]) && memcmp(p, words[1], l) == 0);
    free(bytes);
    nb_table_destroy(back);
    nb_table_destroy(t);
}

NBT_CASE(big_strings)
{
    /* Three strings of 600 kB each (1.8 MB), multibyte characters throughout. */
    const size_t each = 600000;
    char *data = malloc(3 * each);
    int32_t offsets[4] = {0, (int32_t)each, (int32_t)(2 * each), (int32_t)(3 * each)};
    for (size_t i = 0; i < 3 * each; i += 3)
        memcpy(data + i, "€", 3);
    nb_table *t = NULL;
    nb_status s = nb_table_create(&t);
    if (s == NB_OK)
        s = nb_table_add_column(t, "big", NB_COL_UTF8, 3, data, offsets, NULL);
    free(data);
    CHECK_OK(s);
    CHECK(roundtrip(t, 0, false));
    CHECK(roundtrip(t, 1, false));
    CHECK(roundtrip(t, 2, true));
    nb_table_destroy(t);
}

/* Rewrites a stream without continuation markers (pre-0.15 framing). */
static uint8_t *to_legacy(const uint8_t *p, size_t len, size_t *out_len)
{
    msg_span m[64];
    size_t n = split(p, len, m, 64), at = 0;
    uint8_t *out = malloc(len);
    for (size_t i = 0; out && i < n; i++) {
        memcpy(out + at, p + m[i].start + 4, m[i].meta_len - 4 + m[i].body_len);
        at += m[i].meta_len - 4 + m[i].body_len;
    }
    if (out)
        memset(out + at, 0, 4); /* legacy EOS: a zero length */
    *out_len = at + 4;
    return out;
}

NBT_CASE(legacy_stream)
{
    nb_table *t = fx_every_type(30), *back = NULL;
    uint8_t *bytes = NULL, *legacy;
    size_t len = 0, llen = 0;
    CHECK(t);
    CHECK_OK(nb_table_to_ipc(t, 8, &bytes, &len));
    legacy = to_legacy(bytes, len, &llen);
    CHECK(legacy && llen == len - 4 * 6); /* 5 messages and EOS lose 4 bytes each */
    CHECK_OK(nb_table_from_ipc(&back, legacy, llen));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    back = NULL;
    CHECK_OK(nb_table_from_ipc(&back, legacy, llen - 4)); /* and without its EOS */
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    free(legacy);
    free(bytes);
    nb_table_destroy(t);
}

NBT_CASE(schema_only_and_no_eos)
{
    nb_table *t = fx_every_type(12), *back = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    msg_span m[8];
    CHECK(t);
    CHECK_OK(nb_table_to_ipc(t, 5, &bytes, &len));
    CHECK(split(bytes, len, m, 8) == 4);
    /* Without EOS: the whole table. */
    CHECK_OK(nb_table_from_ipc(&back, bytes, len - 8));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    /* The schema alone, with and without EOS: columns and no rows. */
    size_t schema_end = m[0].meta_len;
    memcpy(bytes + schema_end, "\xff\xff\xff\xff\0\0\0\0", 8);
    for (int eos = 0; eos <= 1; eos++) {
        back = NULL;
        CHECK_OK(nb_table_from_ipc(&back, bytes, schema_end + 8 * (size_t)eos));
        CHECK(nb_table_rows(back) == 0 && nb_table_column_count(back) == nb_table_column_count(t));
        nb_column_view v;
        CHECK_OK(nb_table_column(back, 17, &v));
        CHECK_STR(v.name, "ts_3");
        CHECK(v.type == NB_COL_TIMESTAMP && v.unit == NB_TIME_NANOSECOND);
        CHECK_STR(v.timezone, "+05:30");
        nb_table_destroy(back);
    }
    free(bytes);
    nb_table_destroy(t);
}

NBT_CASE(trailing_bytes_after_eos)
{
    nb_table *t = fx_every_type(9), *back = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK(t);
    CHECK_OK(nb_table_to_ipc(t, 0, &bytes, &len));
    uint8_t *more = malloc(len + 5);
    memcpy(more, bytes, len);
    memcpy(more + len, "junk!", 5);
    CHECK_OK(nb_table_from_ipc(&back, more, len + 5)); /* EOS ends the stream */
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    free(more);
    free(bytes);
    nb_table_destroy(t);
}

/* The stream's framing: markers, sizes and buffers 8-aligned, V5, EOS, no validity without nulls. */
NBT_CASE(stream_layout)
{
    nb_table *t = NULL;
    int64_t vals[3] = {1, 2, 3};
    uint8_t *p = NULL;
    size_t len = 0;
    msg_span m[4];
    CHECK_OK(nb_table_create(&t));
    CHECK_OK(nb_table_add_column(t, "x", NB_COL_INT64, 3, vals, NULL, NULL));
    CHECK_OK(nb_table_to_ipc(t, 0, &p, &len));
    CHECK(len % 8 == 0 && memcmp(p + len - 8, "\xff\xff\xff\xff\0\0\0\0", 8) == 0);
    CHECK(split(p, len, m, 4) == 2);
    for (int i = 0; i < 2; i++) {
        CHECK(nbi_le32(p + m[i].start) == NBI_IPC_CONTINUATION);
        CHECK(m[i].start % 8 == 0 && m[i].meta_len % 8 == 0 && m[i].body_len % 8 == 0);
        nbi_fb_table msg;
        int16_t version = 0;
        CHECK_OK(nbi_fb_root(&msg, p + m[i].start + 8, m[i].meta_len - 8));
        CHECK_OK(nbi_fb_i16(&msg, NBI_MSG_VERSION, 0, &version));
        CHECK(version == NBI_IPC_V5);
    }
    CHECK(m[0].body_len == 0 && m[1].body_len == 24);
    /* The body is the three values alone: the validity buffer was left out. */
    const uint8_t *body = p + m[1].start + m[1].meta_len;
    CHECK(nbi_le64(body) == 1 && nbi_le64(body + 16) == 3);
    free(p);
    nb_table_destroy(t);
}

NBT_CASE(bad_arguments)
{
    uint8_t *p = (uint8_t *)"x";
    size_t len = 7;
    nb_table *t = NULL;
    CHECK_FAIL(nb_table_to_ipc(NULL, 0, &p, &len), NB_INVALID_ARG, "table");
    CHECK(p == NULL && len == 0);
    CHECK_OK(nb_table_create(&t));
    CHECK_FAIL(nb_table_to_ipc(t, 0, NULL, &len), NB_INVALID_ARG, "out");
    CHECK_FAIL(nb_table_to_ipc_file(t, 0, &p, NULL), NB_INVALID_ARG, "len");
    nb_table_destroy(t);
    t = (nb_table *)&len;
    CHECK_FAIL(nb_table_from_ipc(&t, NULL, 5), NB_INVALID_ARG, "data");
    CHECK(t == NULL);
    CHECK_FAIL(nb_table_from_ipc(NULL, "x", 1), NB_INVALID_ARG, "out");
    CHECK_FAIL(nb_table_from_ipc(&t, "", 0), NB_BAD_PAYLOAD, "empty");
}

/* ------------------------------------------------------------------------ */
/* Against apache-arrow 17 (tests/tables/js; see ipc_common.mjs)            */
/* ------------------------------------------------------------------------ */

#ifndef NB_IPC_INTEROP_DIR
#define NB_IPC_INTEROP_DIR "ipc_interop"
#endif

/* Reads dir/name with natsbridge and compares it with dir/json_name. */
static bool read_matches(const char *name, const char *json_name, int64_t rows)
{
    char path[1024];
    size_t len = 0, jlen = 0;
    snprintf(path, sizeof path, "%s/%s", NB_IPC_INTEROP_DIR, name);
    char *bytes = nbt_read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s", NB_IPC_INTEROP_DIR, json_name);
    char *json = nbt_read_file(path, &jlen);
    nb_table *t = NULL;
    nb_status s = bytes && json ? nb_table_from_ipc(&t, bytes, len) : NB_IO;
    cJSON *want = json ? cJSON_Parse(json) : NULL, *got = t ? fx_describe_table(t) : NULL;
    bool same = s == NB_OK && want && got && nb_table_rows(t) == rows &&
                (rows == 0 || cJSON_Compare(cJSON_GetObjectItem(want, "columns"),
                                            cJSON_GetObjectItem(got, "columns"), true));
    if (!same) {
        char *g = got ? cJSON_PrintUnformatted(got) : NULL;
        fprintf(stderr, "%s: %s %s\ngot %.3000s\nwant %.3000s\n", name, nb_status_text(s),
                s ? nb_last_error() : "", g ? g : "-", json ? json : "-");
        free(g);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
    nb_table_destroy(t);
    free(bytes);
    free(json);
    return same;
}

/* Streams and a file written by apache-arrow (js/write_arrow.mjs, run first by CTest). */
NBT_CASE(read_apache_arrow)
{
    CHECK(read_matches("js_every_type.arrows", "js_every_type.json", 15));
    CHECK(read_matches("js_every_type.arrow", "js_every_type.json", 15));
    CHECK(read_matches("js_schema_only.arrows", "js_every_type.json", 0));
}

/* Dictionary-encoded columns by apache-arrow (js/write_dict.mjs): read as plain columns. */
NBT_CASE(read_apache_arrow_dictionaries)
{
    CHECK(read_matches("js_dict_stream.arrows", "js_dict_stream.arrows.json", 12));
    CHECK(read_matches("js_dict_file.arrow", "js_dict_file.arrow.json", 11));
    CHECK(read_matches("js_dict_arrays.arrows", "js_dict_arrays.arrows.json", 8));
}

/* What a JS peer's tableFromJSON rows become in C: utf8 columns, nulls kept. */
NBT_CASE(table_from_json_reaches_c)
{
    static const char *const names[] = {"js_dict_json.arrows", "js_dict_json.arrow"};
    for (int f = 0; f < 2; f++) {
        char path[1024], json[1100];
        size_t len = 0, n = 0;
        snprintf(json, sizeof json, "%s.json", names[f]);
        CHECK(read_matches(names[f], json, 4));
        snprintf(path, sizeof path, "%s/%s", NB_IPC_INTEROP_DIR, names[f]);
        char *bytes = nbt_read_file(path, &len);
        nb_table *t = NULL;
        CHECK(bytes);
        CHECK_OK(nb_table_from_ipc(&t, bytes, len));
        nb_column_view name, city;
        CHECK_OK(nb_table_column(t, 0, &name));
        CHECK_OK(nb_table_column(t, 1, &city));
        CHECK_STR(name.name, "name");
        CHECK(name.type == NB_COL_UTF8 && city.type == NB_COL_UTF8 && name.null_count == 1);
        const uint8_t *p = nb_table_bytes_at(&name, 2, &n);
        CHECK(n == 3 && memcmp(p, "Ada", 3) == 0 && nb_table_is_null(&name, 3));
        p = nb_table_bytes_at(&city, 2, &n);
        CHECK(n == strlen("東京 😀") && memcmp(p, "東京 😀", n) == 0 && nb_table_is_null(&city, 1));
        nb_table_destroy(t);
        free(bytes);
    }
}

static bool write_file(const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", NB_IPC_INTEROP_DIR, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    return ok;
}

/* Stream, file and their JSON for js/read_natsbridge.mjs (run next by CTest). */
NBT_CASE(write_for_apache_arrow)
{
    nb_table *t = fx_every_type(40), *empty = fx_every_type(0);
    uint8_t *stream = NULL, *file = NULL, *none = NULL;
    size_t slen = 0, flen = 0, nlen = 0;
    CHECK(t && empty);
    CHECK_OK(nb_table_to_ipc(t, 7, &stream, &slen));
    CHECK_OK(nb_table_to_ipc_file(t, 16, &file, &flen));
    CHECK_OK(nb_table_to_ipc(empty, 0, &none, &nlen));
    cJSON *d = fx_describe_table(t), *e = fx_describe_table(empty);
    char *json = cJSON_PrintUnformatted(d), *ejson = cJSON_PrintUnformatted(e);
    bool ok = write_file("c_every_type.arrows", stream, slen) &&
              write_file("c_every_type.arrow", file, flen) &&
              write_file("c_every_type.json", json, strlen(json)) &&
              write_file("c_empty.arrows", none, nlen) &&
              write_file("c_empty.json", ejson, strlen(ejson));
    cJSON_Delete(d);
    cJSON_Delete(e);
    free(json);
    free(ejson);
    free(stream);
    free(file);
    free(none);
    nb_table_destroy(t);
    nb_table_destroy(empty);
    CHECK(ok);
}

static const nbt_case cases[] = {
    NBT_ENTRY(every_type_one_batch), NBT_ENTRY(every_type_many_batch_sizes),
    NBT_ENTRY(file_format),          NBT_ENTRY(empty_tables),
    NBT_ENTRY(zero_row_batches),     NBT_ENTRY(many_batches),
    NBT_ENTRY(unicode),              NBT_ENTRY(big_strings),
    NBT_ENTRY(legacy_stream),        NBT_ENTRY(schema_only_and_no_eos),
    NBT_ENTRY(trailing_bytes_after_eos), NBT_ENTRY(stream_layout),
    NBT_ENTRY(bad_arguments),        NBT_ENTRY(read_apache_arrow),
    NBT_ENTRY(write_for_apache_arrow), NBT_ENTRY(read_apache_arrow_dictionaries),
    NBT_ENTRY(table_from_json_reaches_c), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
