/* SPDX-License-Identifier: MIT */
/*
 * test_table_payload.c - table payloads (src/envelope/payload.c "Table payloads"):
 * Arrow IPC and JSON tables through an envelope's wire text and back, the
 * Python peer's JSON inside "table", tables in files, and wrong payloads.
 */
#include "test.h"

#include "table_fixture.h"

#include <unistd.h>

/* Builds an envelope holding p (taken), encodes it, parses it back; the copy's payload 0. */
static nb_envelope *through_wire(nb_payload *p)
{
    nb_envelope *e = NULL, *back = NULL;
    nb_options *o = NULL;
    /* direct whatever the size: no file server here */
    if (nb_options_create(&o) || nb_options_set_size_threshold(o, 100000000) ||
        nb_envelope_create(&e) || nb_envelope_add_payload(e, &p) ||
        nb_envelope_build(e, "tables.test", o)) {
        nb_options_destroy(o);
        fprintf(stderr, "build: %s\n", nb_last_error());
        nb_payload_destroy(p);
        nb_envelope_destroy(e);
        return NULL;
    }
    size_t len;
    const char *json = nb_envelope_json(e, &len);
    if (nb_envelope_parse(&back, json, len, NULL))
        fprintf(stderr, "parse: %s\n", nb_last_error());
    nb_envelope_destroy(e);
    nb_options_destroy(o);
    return back;
}

NBT_CASE(arrow_through_envelope)
{
    nb_table *t = fx_every_type(50), *back = NULL;
    CHECK(t);
    nb_payload *p;
    CHECK_OK(nb_payload_create_table(&p, "df", t, 16));
    CHECK(nb_payload_type(p) == NB_TYPE_TABLE);
    size_t len;
    const uint8_t *bytes = nb_payload_data(p, &len);
    CHECK(len > 8 && memcmp(bytes, "\xff\xff\xff\xff", 4) == 0);
    nb_envelope *e = through_wire(p);
    CHECK(e);
    const nb_payload *got = nb_envelope_payload(e, 0);
    CHECK_STR(nb_payload_type_name(got), "table");
    CHECK_OK(nb_payload_table(got, &back));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    nb_envelope_destroy(e);
    nb_table_destroy(t);
}

NBT_CASE(jsontable_through_envelope)
{
    const char *json = "[{\"a\":1,\"b\":\"x\"},{\"a\":null,\"b\":\"ü\"}]";
    nb_table *t, *back;
    CHECK_OK(nb_table_from_json(&t, json, strlen(json)));
    nb_payload *p;
    CHECK_OK(nb_payload_create_jsontable(&p, "rows", t));
    CHECK_STR(nb_payload_text(p), json);
    CHECK(cJSON_IsArray(nb_payload_json(p)));
    nb_envelope *e = through_wire(p);
    CHECK(e);
    const nb_payload *got = nb_envelope_payload(e, 0);
    CHECK_STR(nb_payload_type_name(got), "jsontable");
    CHECK_OK(nb_payload_table(got, &back));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    nb_envelope_destroy(e);
    nb_table_destroy(t);
}

/* The Python peer's single "table" type carrying JSON rows, as it arrives on the wire. */
NBT_CASE(json_in_table)
{
    /* [{"x": 1, "y": "a"}, {"x": 2, "y": null}] in base64 */
    const char *wire =
        "{\"correlation_id\":\"c\",\"msg_id\":\"m\",\"timestamp\":\"2026-01-01T00:00:00.000Z\","
        "\"send_to\":\"s\",\"msg_purpose\":\"chat\",\"sender_name\":\"py\",\"sender_id\":\"i\","
        "\"receiver_name\":\"\",\"receiver_id\":\"\",\"reply_to\":\"\",\"reply_to_msg_id\":\"\","
        "\"broker_url\":\"\",\"metadata\":{},\"payloads\":[{\"id\":\"p\",\"dataname\":\"df\","
        "\"type\":\"table\",\"transport\":\"direct\",\"encoding\":\"base64\",\"size\":41,"
        "\"data\":\"W3sieCI6IDEsICJ5IjogImEifSwgeyJ4IjogMiwgInkiOiBudWxsfV0=\",\"metadata\":{}}]}";
    nb_envelope *e;
    CHECK_OK(nb_envelope_parse(&e, wire, strlen(wire), NULL));
    const nb_payload *p = nb_envelope_payload(e, 0);
    nb_table *t;
    CHECK_OK(nb_payload_table(p, &t));
    CHECK(nb_table_rows(t) == 2 && nb_table_column_count(t) == 2);
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.type == NB_COL_INT64 && ((const int64_t *)v.values)[1] == 2);
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(v.type == NB_COL_UTF8 && nb_table_is_null(&v, 1));
    nb_table_destroy(t);
    nb_envelope_destroy(e);
}

NBT_CASE(table_in_file)
{
    nb_table *t = fx_every_type(20), *back;
    CHECK(t);
    uint8_t *ipc;
    size_t len;
    CHECK_OK(nb_table_to_ipc(t, 0, &ipc, &len));
    char path[] = "/tmp/nbt-table-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, ipc, len) == (ssize_t)len);
    close(fd);
    free(ipc);
    nb_payload *p;
    CHECK_OK(nb_payload_create_file(&p, "df.arrows", NB_TYPE_TABLE, path));
    CHECK_OK(nb_payload_table(p, &back));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    nb_payload_destroy(p);
    /* an empty file is no Arrow stream; a file gone since is an I/O error */
    CHECK(truncate(path, 0) == 0);
    CHECK_OK(nb_payload_create_file(&p, "empty", NB_TYPE_TABLE, path));
    CHECK_FAIL(nb_payload_table(p, &back), NB_BAD_PAYLOAD, "payload 'empty'");
    unlink(path);
    CHECK_FAIL(nb_payload_table(p, &back), NB_IO, "payload 'empty': cannot open");
    nb_payload_destroy(p);
    nb_table_destroy(t);
}

NBT_CASE(wrong_payloads)
{
    nb_payload *p;
    nb_table *t = (nb_table *)&p;
    CHECK_OK(nb_payload_create_text(&p, "note", "hello"));
    CHECK_FAIL(nb_payload_table(p, &t), NB_INVALID_ARG, "payload 'note': a text payload is not a table");
    CHECK(t == NULL);
    nb_payload_destroy(p);
    CHECK_OK(nb_payload_create(&p, "garbage", NB_TYPE_TABLE, "ARROW", 5));
    CHECK_FAIL(nb_payload_table(p, &t), NB_BAD_PAYLOAD, "payload 'garbage'");
    nb_payload_destroy(p);
    CHECK_OK(nb_payload_create(&p, "obj", NB_TYPE_TABLE, " {\"a\":1}", 8));
    CHECK_FAIL(nb_payload_table(p, &t), NB_BAD_PAYLOAD, "payload 'obj': jsontable: not a JSON array of rows");
    nb_payload_destroy(p);
    CHECK_OK(nb_payload_create(&p, "mixed", NB_TYPE_JSONTABLE, "[{\"a\":1},{\"a\":\"b\"}]", 19));
    CHECK_FAIL(nb_payload_table(p, &t), NB_BAD_PAYLOAD, "payload 'mixed': jsontable: column 'a' row 1");
    nb_payload_destroy(p);
    CHECK_FAIL(nb_payload_table(NULL, &t), NB_INVALID_ARG, "NULL payload");
    CHECK_FAIL(nb_payload_create_table(&p, "", NULL, 0), NB_INVALID_ARG, "dataname must not be empty");
    nb_table *empty;
    CHECK_OK(nb_table_create(&empty));
    CHECK_FAIL(nb_payload_create_table(&p, "x", NULL, 0), NB_INVALID_ARG, "payload 'x'");
    CHECK_OK(nb_payload_create_table(&p, "empty", empty, 0));
    CHECK_OK(nb_payload_table(p, &t));
    CHECK(nb_table_column_count(t) == 0);
    nb_table_destroy(t);
    nb_payload_destroy(p);
    nb_table_destroy(empty);
}

/* Over 1 MB of unicode strings, in batches, through the wire text and back. */
NBT_CASE(big_strings)
{
    int64_t rows = 30000;
    const char *unit = "ünïcödé 日本語 😀 ";
    size_t ulen = strlen(unit);
    char *data = malloc((size_t)rows * ulen * 3);
    int32_t *off = malloc(((size_t)rows + 1) * 4);
    CHECK(data && off);
    size_t len = 0;
    off[0] = 0;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k <= i % 3; k++, len += ulen)
            memcpy(data + len, unit, ulen);
        off[i + 1] = (int32_t)len;
    }
    nb_table *t, *back;
    CHECK_OK(nb_table_create(&t));
    CHECK_OK(nb_table_add_column(t, "text", NB_COL_UTF8, rows, data, off, NULL));
    free(data);
    free(off);
    CHECK(len > 1000000);
    nb_payload *p;
    CHECK_OK(nb_payload_create_table(&p, "big", t, 7000));
    nb_envelope *e = through_wire(p);
    CHECK(e);
    CHECK_OK(nb_payload_table(nb_envelope_payload(e, 0), &back));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    nb_envelope_destroy(e);
    nb_table_destroy(t);
}

static const nbt_case cases[] = {
    NBT_ENTRY(arrow_through_envelope), NBT_ENTRY(jsontable_through_envelope),
    NBT_ENTRY(json_in_table),          NBT_ENTRY(table_in_file),
    NBT_ENTRY(wrong_payloads),         NBT_ENTRY(big_strings), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
