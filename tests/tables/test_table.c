/* SPDX-License-Identifier: MIT */
/*
 * test_table.c - the table model (src/table/table.c): building column by column,
 * reading through views, appending batches, and every refusal naming what
 * was wrong.
 */
#include "test.h"

#include "table.h"
#include "table_fixture.h"

NBT_CASE(every_type_with_nulls)
{
    nb_table *t = fx_every_type(100);
    CHECK(t);
    CHECK(nb_table_rows(t) == 100);
    CHECK(nb_table_column_count(t) == 18);
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 4, &v));
    CHECK_STR(v.name, "int64_col");
    CHECK(v.type == NB_COL_INT64 && v.rows == 100);
    CHECK(v.null_count == 33); /* (i + 4) % 3 == 2 for i = 1, 4, ..., 97 */
    CHECK(v.validity && nb_table_is_null(&v, 1) && !nb_table_is_null(&v, 0));
    int64_t first;
    memcpy(&first, v.values, 8);
    CHECK(first == INT64_MIN + 1);
    CHECK_OK(nb_table_column(t, 11, &v));
    CHECK(v.type == NB_COL_UTF8 && v.offsets && v.offsets[0] == 0);
    size_t len;
    const uint8_t *s = nb_table_bytes_at(&v, 3, &len);
    CHECK(len == strlen("日本語") && memcmp(s, "日本語", len) == 0);
    CHECK(nb_table_bytes_at(&v, 100, &len) == NULL && len == 0);
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.type == NB_COL_BOOL);
    CHECK(nb_table_bool_at(&v, 0) && nb_table_bool_at(&v, 1) && !nb_table_bool_at(&v, 3));
    CHECK(!nb_table_bool_at(&v, 2)); /* null */
    CHECK_OK(nb_table_column(t, 17, &v));
    CHECK(v.type == NB_COL_TIMESTAMP && v.unit == NB_TIME_NANOSECOND);
    CHECK_STR(v.timezone, "+05:30");
    CHECK_OK(nb_table_column(t, 14, &v));
    CHECK(v.unit == NB_TIME_SECOND && v.timezone == NULL);
    size_t idx;
    CHECK_OK(nb_table_find_column(t, "float64_col", &idx));
    CHECK(idx == 10);
    CHECK_FAIL(nb_table_find_column(t, "nope", &idx), NB_INVALID_ARG, "no column named 'nope'");
    CHECK_FAIL(nb_table_column(t, 18, &v), NB_INVALID_ARG, "column 18 out of range (18 columns)");
    nb_table_destroy(t);
}

NBT_CASE(type_names)
{
    static const char *const names[] = {"bool",   "int8",   "int16",   "int32",   "int64",
                                        "uint8",  "uint16", "uint32",  "uint64",  "float32",
                                        "float64", "utf8",  "binary",  "date32",  "timestamp"};
    for (int i = 0; i < NB_COL_TYPE_COUNT; i++)
        CHECK_STR(nb_table_type_name((nb_column_type)i), names[i]);
    CHECK_STR(nb_table_type_name(NB_COL_TYPE_COUNT), "unknown");
    CHECK(nbi_column_type_width(NB_COL_INT16) == 2 && nbi_column_type_width(NB_COL_BOOL) == 0);
}

NBT_CASE(empty_tables)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    CHECK(nb_table_rows(t) == 0 && nb_table_column_count(t) == 0);
    /* zero-row columns of every kind */
    CHECK_OK(nb_table_add_column(t, "i", NB_COL_INT32, 0, NULL, NULL, NULL));
    CHECK_OK(nb_table_add_column(t, "s", NB_COL_UTF8, 0, NULL, NULL, NULL));
    CHECK_OK(nb_table_add_column(t, "b", NB_COL_BOOL, 0, NULL, NULL, NULL));
    CHECK_OK(nb_table_add_timestamp_column(t, "", NB_TIME_MILLISECOND, "", 0, NULL, NULL));
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(v.rows == 0 && v.offsets && v.offsets[0] == 0 && v.values && !v.validity);
    CHECK_OK(nb_table_column(t, 3, &v));
    CHECK(v.timezone == NULL && strcmp(v.name, "") == 0); /* "" is naive */
    CHECK_FAIL(nb_table_add_column(t, "x", NB_COL_INT8, 1, "a", NULL, NULL), NB_INVALID_ARG,
               "column 'x': 1 rows, the table has 0");
    nb_table_destroy(t);
    nb_table_destroy(NULL);
    CHECK(nb_table_rows(NULL) == 0 && nb_table_column_count(NULL) == 0);
}

NBT_CASE(bad_columns)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    int32_t v32[3] = {1, 2, 3};
    CHECK_OK(nb_table_add_column(t, "a", NB_COL_INT32, 3, v32, NULL, NULL));
    CHECK_FAIL(nb_table_add_column(t, "b", NB_COL_INT32, 2, v32, NULL, NULL), NB_INVALID_ARG,
               "column 'b': 2 rows, the table has 3");
    CHECK_FAIL(nb_table_add_column(t, "c", NB_COL_INT32, 3, NULL, NULL, NULL), NB_INVALID_ARG,
               "column 'c': values are NULL for 3 rows");
    CHECK_FAIL(nb_table_add_column(t, "d", NB_COL_TIMESTAMP, 3, v32, NULL, NULL),
               NB_INVALID_ARG, "use nb_table_add_timestamp_column");
    CHECK_FAIL(nb_table_add_column(t, "e", NB_COL_TYPE_COUNT, 3, v32, NULL, NULL),
               NB_INVALID_ARG, "column 'e': unknown type 15");
    CHECK_FAIL(nb_table_add_timestamp_column(t, "f", (nb_time_unit)7, NULL, 3, NULL, NULL),
               NB_INVALID_ARG, "column 'f': unknown time unit 7");
    CHECK_FAIL(nb_table_add_column(t, "g", NB_COL_UTF8, 3, "abc", NULL, NULL), NB_INVALID_ARG,
               "column 'g': offsets buffer is missing");
    int32_t backwards[4] = {0, 2, 1, 3};
    CHECK_FAIL(nb_table_add_column(t, "h", NB_COL_UTF8, 3, "abc", backwards, NULL),
               NB_INVALID_ARG, "column 'h': offsets not monotonic at row 1 (1 < 2)");
    int32_t negative[4] = {-1, 0, 1, 2};
    CHECK_FAIL(nb_table_add_column(t, "i", NB_COL_BINARY, 3, "abc", negative, NULL),
               NB_INVALID_ARG, "first offset -1 is negative");
    int32_t fine[4] = {0, 1, 2, 3};
    CHECK_FAIL(nb_table_add_column(t, "j", NB_COL_UTF8, 3, "a\xff" "c", fine, NULL),
               NB_BAD_PAYLOAD, "column 'j': row 1 is not valid UTF-8");
    CHECK_FAIL(nb_table_add_column(t, "\xc3", NB_COL_INT32, 3, v32, NULL, NULL),
               NB_INVALID_ARG, "column name is not valid UTF-8");
    CHECK_FAIL(nb_table_add_column(t, "k", NB_COL_INT32, -1, v32, NULL, NULL), NB_INVALID_ARG,
               "-1 rows is negative");
    CHECK_FAIL(nb_table_add_column(NULL, "l", NB_COL_INT32, 3, v32, NULL, NULL),
               NB_INVALID_ARG, "NULL table adding column 'l'");
    /* binary may hold anything; invalid UTF-8 under a null is no value at all */
    CHECK_OK(nb_table_add_column(t, "m", NB_COL_BINARY, 3, "a\xff" "c", fine, NULL));
    uint8_t second_null = 0x5;
    CHECK_OK(nb_table_add_column(t, "n", NB_COL_UTF8, 3, "a\xff" "c", fine, &second_null));
    /* valid UTF-8 as a whole, "x\xc3" and "\xa9" row by row: é cut in two */
    int32_t cut[4] = {0, 2, 3, 5};
    CHECK_FAIL(nb_table_add_column(t, "o", NB_COL_UTF8, 3, "x\xc3\xa9yz", cut, NULL),
               NB_BAD_PAYLOAD, "column 'o': row 0 is not valid UTF-8");
    uint8_t first_null = 0x6; /* the same cut under a null: the other rows alone are checked */
    CHECK_FAIL(nb_table_add_column(t, "p", NB_COL_UTF8, 3, "x\xc3\xa9yz", cut, &first_null),
               NB_BAD_PAYLOAD, "column 'p': row 1 is not valid UTF-8");
    CHECK(nb_table_column_count(t) == 3); /* refused columns left nothing behind */
    CHECK_FAIL(nb_table_create(NULL), NB_INVALID_ARG, "out is NULL");
    nb_table_destroy(t);
}

NBT_CASE(offsets_rebased)
{
    /* offsets need not start at 0: the column's own start at 0 */
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    int32_t off[3] = {4, 6, 9};
    CHECK_OK(nb_table_add_column(t, "s", NB_COL_UTF8, 2, "xxxxabcde", off, NULL));
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.offsets[0] == 0 && v.offsets[1] == 2 && v.offsets[2] == 5);
    CHECK(memcmp(v.values, "abcde", 5) == 0);
    nb_table_destroy(t);
}

/* The IPC reader's path: columns first, then batches appended at bit offsets. */
NBT_CASE(append_batches)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    nbi_column *b, *s, *n;
    CHECK_OK(nbi_table_add_column(t, "b", NB_COL_BOOL, NB_TIME_SECOND, NULL, true, &b));
    CHECK_OK(nbi_table_add_column(t, "s", NB_COL_UTF8, NB_TIME_SECOND, NULL, true, &s));
    CHECK_OK(nbi_table_add_column(t, "n", NB_COL_INT16, NB_TIME_SECOND, NULL, false, &n));
    b = &t->cols[0]; /* the array may have moved */
    s = &t->cols[1];
    n = &t->cols[2];
    /* batch 1: 3 rows without nulls; batch 2: 5 rows from bit 3 with a null */
    uint8_t bits1 = 0x5, bits2 = 0x48, valid2 = 0xe8; /* rows 3..7 at bits 3..7 */
    int32_t off1[4] = {0, 1, 2, 3}, off2[6] = {0, 2, 2, 4, 6, 8};
    int16_t ints[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_OK(nbi_column_append(b, 3, 0, NULL, 0, &bits1, 0, NULL, NULL, 0));
    CHECK_OK(nbi_column_append(s, 3, 0, NULL, 0, NULL, 0, off1, (const uint8_t *)"xyz", 3));
    CHECK_OK(nbi_column_append(n, 3, 0, NULL, 0, (const uint8_t *)ints, 0, NULL, NULL, 0));
    t->rows = 3;
    CHECK_OK(nbi_column_append(b, 5, 1, &valid2, 3, &bits2, 3, NULL, NULL, 0));
    CHECK_OK(nbi_column_append(s, 5, -1, &valid2, 3, NULL, 0, off2,
                               (const uint8_t *)"aabbccdd", 8));
    CHECK_FAIL(nbi_column_append(n, 5, 1, &valid2, 3, (const uint8_t *)ints, 3, NULL, NULL, 0),
               NB_BAD_PAYLOAD, "column 'n': 1 nulls in a non-nullable column");
    CHECK_OK(nbi_column_append(n, 5, 0, NULL, 0, (const uint8_t *)ints, 3, NULL, NULL, 0));
    t->rows = 8;
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.null_count == 1 && v.validity);
    /* rows 0-2 valid (filled in when the first null came), row 4 (bit 4 of batch 2 = row 4) */
    for (int64_t i = 0; i < 8; i++)
        CHECK(nb_table_is_null(&v, i) == (i == 4));
    CHECK(nb_table_bool_at(&v, 0) && !nb_table_bool_at(&v, 1) && nb_table_bool_at(&v, 2));
    CHECK(nb_table_bool_at(&v, 3) && !nb_table_bool_at(&v, 5) && nb_table_bool_at(&v, 6));
    CHECK_OK(nb_table_column(t, 1, &v));
    size_t len;
    const uint8_t *p = nb_table_bytes_at(&v, 3, &len);
    CHECK(len == 2 && memcmp(p, "aa", 2) == 0);
    CHECK(v.offsets[8] == 11 && v.null_count == 1);
    CHECK_OK(nb_table_column(t, 2, &v));
    CHECK(((const int16_t *)v.values)[7] == 8 && v.null_count == 0 && !v.validity);
    /* a failed append leaves the column as it was */
    int32_t bad[2] = {0, 99};
    CHECK_FAIL(nbi_column_append(s, 1, 0, NULL, 0, NULL, 0, bad, (const uint8_t *)"a", 1),
               NB_BAD_PAYLOAD, "column 's': offset 99 is beyond the 1 data bytes");
    CHECK(s->length == 8 && s->offsets.len == 9 * 4);
    CHECK_FAIL(nbi_table_add_column(t, "late", NB_COL_INT8, NB_TIME_SECOND, NULL, true, &n),
               NB_INTERNAL, "column 'late' added after rows");
    nb_table_destroy(t);
}

NBT_CASE(unicode_and_big_strings)
{
    /* 40,000 strings of 40 bytes: 1.6 MB of UTF-8, 4-byte sequences included */
    int64_t rows = 40000;
    const char *unit = "ü日😀-abcdefghijklmnopqrstuvwxyz0123";
    size_t ulen = strlen(unit);
    char *data = malloc((size_t)rows * ulen);
    int32_t *off = malloc(((size_t)rows + 1) * 4);
    CHECK(data && off);
    off[0] = 0;
    for (int64_t i = 0; i < rows; i++) {
        memcpy(data + i * (int64_t)ulen, unit, ulen);
        off[i + 1] = (int32_t)((i + 1) * (int64_t)ulen);
    }
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    CHECK_OK(nb_table_add_column(t, "名前", NB_COL_UTF8, rows, data, off, NULL));
    free(data);
    free(off);
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.offsets[rows] == (int32_t)(rows * (int64_t)ulen) && v.offsets[rows] > 1000000);
    CHECK_STR(v.name, "名前");
    size_t len;
    const uint8_t *p = nb_table_bytes_at(&v, rows - 1, &len);
    CHECK(len == ulen && memcmp(p, unit, len) == 0);
    nb_table_destroy(t);
}

NBT_CASE(view_helpers_null_safe)
{
    CHECK(!nb_table_is_null(NULL, 0));
    CHECK(!nb_table_bool_at(NULL, 0));
    size_t len = 7;
    CHECK(nb_table_bytes_at(NULL, 0, &len) == NULL && len == 0);
    nb_column_view v;
    CHECK_FAIL(nb_table_column(NULL, 0, &v), NB_INVALID_ARG, "NULL table");
    nb_table *t = fx_every_type(4);
    CHECK(t);
    CHECK_OK(nb_table_column(t, 4, &v));
    CHECK(!nb_table_is_null(&v, -1) && !nb_table_is_null(&v, 4));
    CHECK(!nb_table_bool_at(&v, 0)); /* not a bool column */
    CHECK(nb_table_bytes_at(&v, 0, &len) == NULL);
    nb_table_destroy(t);
}

/* Row counts no buffer can hold are refused before any buffer is read or sized. */
NBT_CASE(huge_counts)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    uint8_t one = 0xff;
    int32_t off[2] = {0, 0};
    CHECK_FAIL(nb_table_add_column(t, "b", NB_COL_BOOL, INT64_MAX, &one, NULL, &one),
               NB_TOO_LARGE, "column 'b': 9223372036854775807 rows is more than a table");
    CHECK_FAIL(nb_table_add_column(t, "l", NB_COL_INT64, INT64_MAX / 8, &one, NULL, NULL),
               NB_TOO_LARGE, "rows is more than a table can hold");
    CHECK_FAIL(nb_table_add_column(t, "s", NB_COL_UTF8, INT64_MAX - 1, "", off, NULL),
               NB_TOO_LARGE, "column 's'");
    int64_t ts = 0;
    CHECK_FAIL(nb_table_add_timestamp_column(t, "t", NB_TIME_SECOND, "Europe/\xff", 1, &ts,
                                             NULL),
               NB_INVALID_ARG, "column 't': timezone is not valid UTF-8");
    CHECK(nb_table_column_count(t) == 0);
    nb_table_destroy(t);
}

static const nbt_case cases[] = {
    NBT_ENTRY(huge_counts),
    NBT_ENTRY(every_type_with_nulls), NBT_ENTRY(type_names),      NBT_ENTRY(empty_tables),
    NBT_ENTRY(bad_columns),           NBT_ENTRY(offsets_rebased), NBT_ENTRY(append_batches),
    NBT_ENTRY(unicode_and_big_strings), NBT_ENTRY(view_helpers_null_safe), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
