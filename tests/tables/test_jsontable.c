/* SPDX-License-Identifier: MIT */
/*
 * test_jsontable.c - tables as JSON arrays of row objects (src/table/jsontable.c):
 * the mapping of every type, exact integers, type inference, round trips,
 * and bad JSON refused naming the column and row.
 */
#include "test.h"

#include "table_fixture.h"

#include <math.h>

/* Writes t as JSON and compares with want. */
static bool json_is(const nb_table *t, const char *want)
{
    char *json = NULL;
    size_t len = 0;
    if (nb_table_to_json(t, &json, &len) != NB_OK) {
        fprintf(stderr, "to_json: %s\n", nb_last_error());
        return false;
    }
    bool same = len == strlen(want) && strcmp(json, want) == 0;
    if (!same)
        fprintf(stderr, "got  %s\nwant %s\n", json, want);
    free(json);
    return same;
}

NBT_CASE(every_type_mapping)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    uint8_t valid = 0x5; /* rows 0 and 2 valid, row 1 null */
    int64_t i64[3] = {INT64_MIN, 0, INT64_MAX};
    uint64_t u64[3] = {UINT64_MAX, 0, 9007199254740993ull};
    double f64[3] = {0.1, 0, 2};
    float f32[3] = {1.5f, 0, 0.1f};
    int32_t date[3] = {0, 0, -1};
    int8_t i8[3] = {-128, 0, 127};
    uint8_t bools = 0x1;
    int32_t off[4] = {0, 3, 3, 8};
    int64_t ts[3] = {1700000000123456789, 0, -1};
    CHECK_OK(nb_table_add_column(t, "i64", NB_COL_INT64, 3, i64, NULL, NULL));
    CHECK_OK(nb_table_add_column(t, "u64", NB_COL_UINT64, 3, u64, NULL, &valid));
    CHECK_OK(nb_table_add_column(t, "f64", NB_COL_FLOAT64, 3, f64, NULL, &valid));
    CHECK_OK(nb_table_add_column(t, "f32", NB_COL_FLOAT32, 3, f32, NULL, &valid));
    CHECK_OK(nb_table_add_column(t, "d", NB_COL_DATE32, 3, date, NULL, &valid));
    CHECK_OK(nb_table_add_column(t, "i8", NB_COL_INT8, 3, i8, NULL, NULL));
    CHECK_OK(nb_table_add_column(t, "b", NB_COL_BOOL, 3, &bools, NULL, &valid));
    CHECK_OK(nb_table_add_column(t, "s\"\n", NB_COL_UTF8, 3, "é\x01\\xy\"z", off, &valid));
    CHECK_OK(nb_table_add_column(t, "bin", NB_COL_BINARY, 3, "\0\xff\x01xy\"z!", off, NULL));
    CHECK_OK(nb_table_add_timestamp_column(t, "tn", NB_TIME_NANOSECOND, "UTC", 3, ts, &valid));
    int64_t secs[3] = {1700000000, 0, -1};
    CHECK_OK(nb_table_add_timestamp_column(t, "ts", NB_TIME_SECOND, NULL, 3, secs, &valid));
    CHECK(json_is(t,
        "[{\"i64\":-9223372036854775808,\"u64\":18446744073709551615,\"f64\":0.1,\"f32\":1.5,"
        "\"d\":\"1970-01-01\",\"i8\":-128,\"b\":true,\"s\\\"\\n\":\"é\\u0001\","
        "\"bin\":\"AP8B\",\"tn\":\"2023-11-14T22:13:20.123456789Z\","
        "\"ts\":\"2023-11-14T22:13:20\"},"
        "{\"i64\":0,\"u64\":null,\"f64\":null,\"f32\":null,\"d\":null,\"i8\":0,\"b\":null,"
        "\"s\\\"\\n\":null,\"bin\":\"\",\"tn\":null,\"ts\":null},"
        "{\"i64\":9223372036854775807,\"u64\":9007199254740993,\"f64\":2.0,\"f32\":0.1,"
        "\"d\":\"1969-12-31\",\"i8\":127,\"b\":false,\"s\\\"\\n\":\"\\\\xy\\\"z\",\"bin\":\"eHkieiE=\","
        "\"tn\":\"1969-12-31T23:59:59.999999999Z\",\"ts\":\"1969-12-31T23:59:59\"}]"));
    nb_table_destroy(t);
}

NBT_CASE(dates_and_times)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    int32_t date[4] = {19000, -719162, 2932896, 11016};
    int64_t ms[4] = {951782400000, -62135596800000, 253402300799999, 0};
    CHECK_OK(nb_table_add_column(t, "d", NB_COL_DATE32, 4, date, NULL, NULL));
    CHECK_OK(nb_table_add_timestamp_column(t, "ms", NB_TIME_MILLISECOND, "Europe/Paris", 4,
                                           ms, NULL));
    CHECK(json_is(t, "[{\"d\":\"2022-01-08\",\"ms\":\"2000-02-29T00:00:00.000Z\"},"
                     "{\"d\":\"0001-01-01\",\"ms\":\"0001-01-01T00:00:00.000Z\"},"
                     "{\"d\":\"9999-12-31\",\"ms\":\"9999-12-31T23:59:59.999Z\"},"
                     "{\"d\":\"2000-02-29\",\"ms\":\"1970-01-01T00:00:00.000Z\"}]"));
    nb_table_destroy(t);
}

NBT_CASE(empty_tables)
{
    nb_table *t, *back;
    CHECK_OK(nb_table_create(&t));
    CHECK(json_is(t, "[]"));
    CHECK_OK(nb_table_add_column(t, "x", NB_COL_INT32, 0, NULL, NULL, NULL));
    CHECK(json_is(t, "[]"));
    nb_table_destroy(t);
    CHECK_OK(nb_table_from_json(&back, " [ ] \n", 6));
    CHECK(nb_table_rows(back) == 0 && nb_table_column_count(back) == 0);
    nb_table_destroy(back);
    CHECK_OK(nb_table_from_json(&back, "[{},{}]", 7));
    CHECK(nb_table_rows(back) == 0 && nb_table_column_count(back) == 0);
    nb_table_destroy(back);
}

NBT_CASE(inference)
{
    const char *json =
        "[{\"i\":1,\"f\":1,\"b\":true,\"s\":\"a\",\"n\":null,\"u\":1},"
        " {\"i\":-9223372036854775808,\"f\":2.5,\"b\":false,\"s\":\"\\ud83d\\ude00\\u00e9\\/\","
        "  \"u\":18446744073709551615,\"late\":\"x\"},"
        " {\"f\":1e3,\"i\":9223372036854775807}]";
    nb_table *t;
    CHECK_OK(nb_table_from_json(&t, json, strlen(json)));
    CHECK(nb_table_rows(t) == 3 && nb_table_column_count(t) == 7);
    static const nb_column_type want[] = {NB_COL_INT64, NB_COL_FLOAT64, NB_COL_BOOL,
                                          NB_COL_UTF8,  NB_COL_UTF8,    NB_COL_UINT64,
                                          NB_COL_UTF8};
    static const char *const names[] = {"i", "f", "b", "s", "n", "u", "late"};
    nb_column_view v;
    for (size_t c = 0; c < 7; c++) {
        CHECK_OK(nb_table_column(t, c, &v));
        CHECK(v.type == want[c]);
        CHECK_STR(v.name, names[c]);
    }
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(((const int64_t *)v.values)[1] == INT64_MIN && ((const int64_t *)v.values)[2] == INT64_MAX);
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(((const double *)v.values)[0] == 1.0 && ((const double *)v.values)[2] == 1000.0);
    CHECK_OK(nb_table_column(t, 3, &v));
    size_t len;
    const uint8_t *s = nb_table_bytes_at(&v, 1, &len);
    CHECK(len == 7 && memcmp(s, "😀é/", 7) == 0);
    CHECK(nb_table_is_null(&v, 2));
    CHECK_OK(nb_table_column(t, 4, &v));
    CHECK(v.null_count == 3);
    CHECK_OK(nb_table_column(t, 5, &v));
    CHECK(((const uint64_t *)v.values)[1] == UINT64_MAX && nb_table_is_null(&v, 2));
    CHECK_OK(nb_table_column(t, 6, &v));
    CHECK(v.null_count == 2 && !nb_table_is_null(&v, 1));
    nb_table_destroy(t);
    /* a negative integer with one above INT64_MAX: only a double holds both */
    const char *mixed = "[{\"x\":-1},{\"x\":18446744073709551615}]";
    CHECK_OK(nb_table_from_json(&t, mixed, strlen(mixed)));
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.type == NB_COL_FLOAT64);
    nb_table_destroy(t);
}

/* Types JSON keeps exactly come back as they were. */
NBT_CASE(roundtrip)
{
    nb_table *t, *back;
    CHECK_OK(nb_table_create(&t));
    int64_t rows = 500;
    int64_t *ints = malloc((size_t)rows * 8);
    double *dbl = malloc((size_t)rows * 8);
    uint8_t *bits = calloc((size_t)rows / 8 + 1, 1), *valid = malloc((size_t)(rows + 7) / 8 + 1);
    int32_t *off = malloc(((size_t)rows + 1) * 4);
    CHECK(ints && dbl && bits && valid && off);
    for (int64_t i = 0; i < rows; i++) {
        ints[i] = (i % 2 ? -1 : 1) * (int64_t)(i * 36028797018963971ull % 9223372036854775807ull);
        dbl[i] = i == 0 ? 5e-324 : i == 1 ? 1.7976931348623157e308 : (double)i / 3.0 - 77.0;
        if (i % 3 == 0)
            bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    char *text = fx_strings(rows, off, false);
    for (int c = 0; c < 4; c++) {
        fx_validity(valid, rows, (size_t)c);
        const char *name = c == 0 ? "ints" : c == 1 ? "floats" : c == 2 ? "flags" : "名前";
        nb_column_type type = c == 0 ? NB_COL_INT64 : c == 1 ? NB_COL_FLOAT64
                              : c == 2 ? NB_COL_BOOL : NB_COL_UTF8;
        const void *values = c == 0 ? (void *)ints : c == 1 ? (void *)dbl
                             : c == 2 ? (void *)bits : (void *)text;
        CHECK_OK(nb_table_add_column(t, name, type, rows, values, c == 3 ? off : NULL, valid));
    }
    free(ints);
    free(dbl);
    free(bits);
    free(valid);
    free(off);
    free(text);
    char *json;
    size_t len;
    CHECK_OK(nb_table_to_json(t, &json, &len));
    CHECK_OK(nb_table_from_json(&back, json, len));
    free(json);
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(t);
    nb_table_destroy(back);
}

NBT_CASE(bad_json)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"", "not a JSON array of rows at byte 0"},
        {"{\"a\":1}", "not a JSON array of rows"},
        {"[1]", "row is not an object at byte 1 (row 0)"},
        {"[{\"a\":1},{\"a\":\"x\"}]", "column 'a' row 1: string value in a number column (row 0)"},
        {"[{\"a\":true},{\"a\":1.5}]", "column 'a' row 1: number value in a boolean column"},
        {"[{\"a\":null},{\"a\":\"s\"},{\"a\":false}]", "column 'a' row 2: boolean value in a string column (row 1)"},
        {"[{\"a\":{\"b\":1}}]", "column 'a' row 0: nested object not supported"},
        {"[{\"a\":[1]}]", "column 'a' row 0: nested array not supported"},
        {"[{\"a\":1,\"a\":2}]", "row 0: key 'a' appears twice"},
        {"[{\"a\":1}] x", "text after the array"},
        {"[{\"a\":1}", "expected ',' or ']'"},
        {"[{\"a\":1,}]", "expected a key"},
        {"[{\"a\" 1}]", "expected ':'"},
        {"[{\"a\":1 \"b\":2}]", "expected ',' or '}'"},
        {"[{\"a\":\"abc}]", "unterminated string"},
        {"[{\"a\":\"\\x\"}]", "bad escape"},
        {"[{\"a\":\"\\ud800\"}]", "bad \\u escape"},
        {"[{\"a\":\"\\udc00\"}]", "bad \\u escape"},
        {"[{\"a\":\"\\u12\"}]", "bad \\u escape"},
        {"[{\"a\":\"tab\there\"}]", "control character in a string"},
        {"[{\"a\":01}]", "bad number"},
        {"[{\"a\":-}]", "bad number"},
        {"[{\"a\":1.}]", "bad number"},
        {"[{\"a\":1e}]", "bad number"},
        {"[{\"a\":tru}]", "bad value"},
        {"[{\"a\":NaN}]", "bad value"},
        {"[{\"a\":\"\xc3\"}]", "not valid UTF-8 at byte 7"},
        {"[{\"a\\u0000\":1}]", "key with a NUL character"},
        {"[{\"a\":1},{\"a\":1e999}]", "column 'a' row 1: number 1e999 is beyond the range"},
        {"[{\"b\":-1E+400}]", "column 'b' row 0: number -1E+400 is beyond the range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_table *t = (nb_table *)&i;
        nb_status s = nb_table_from_json(&t, cases[i].json, strlen(cases[i].json));
        if (s != NB_BAD_PAYLOAD || !strstr(nb_last_error(), cases[i].needle) || t) {
            fprintf(stderr, "case %zu %s: %s \"%s\"\n", i, cases[i].json, nb_status_text(s),
                    nb_last_error());
            CHECK(0);
        }
    }
    nb_table *t;
    CHECK_FAIL(nb_table_from_json(&t, NULL, 3), NB_INVALID_ARG, "NULL text");
    CHECK_FAIL(nb_table_from_json(NULL, "[]", 2), NB_INVALID_ARG, "out is NULL");
    char *out;
    CHECK_FAIL(nb_table_to_json(NULL, &out, NULL), NB_INVALID_ARG, "NULL table");
}

NBT_CASE(special_floats)
{
    nb_table *t;
    CHECK_OK(nb_table_create(&t));
    double v[4] = {INFINITY, -INFINITY, NAN, -0.0};
    CHECK_OK(nb_table_add_column(t, "f", NB_COL_FLOAT64, 4, v, NULL, NULL));
    CHECK(json_is(t, "[{\"f\":null},{\"f\":null},{\"f\":null},{\"f\":-0.0}]"));
    nb_table_destroy(t);
}

/* The corners: exact extremes, -0.0, huge and tiny numbers, nesting, duplicates, sparsity. */
NBT_CASE(edge_cases)
{
    const char *json = "[{\"z\":-0.0,\"big\":123456789012345678901234567890,\"tiny\":1e-999,"
                       "\"neg0\":-0}]";
    nb_table *t;
    nb_column_view v;
    CHECK_OK(nb_table_from_json(&t, json, strlen(json)));
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.type == NB_COL_FLOAT64 && signbit(((const double *)v.values)[0]));
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(v.type == NB_COL_FLOAT64 && ((const double *)v.values)[0] == 1.2345678901234568e29);
    CHECK_OK(nb_table_column(t, 2, &v));
    CHECK(v.type == NB_COL_FLOAT64 && ((const double *)v.values)[0] == 0.0);
    CHECK_OK(nb_table_column(t, 3, &v));
    CHECK(v.type == NB_COL_INT64 && ((const int64_t *)v.values)[0] == 0);
    CHECK(json_is(t, "[{\"z\":-0.0,\"big\":1.2345678901234568e+29,\"tiny\":0.0,\"neg0\":0}]"));
    nb_table_destroy(t);
    /* deep nesting is refused at its first bracket, without recursion */
    size_t depth = 100000;
    char *deep = malloc(depth + 16);
    CHECK(deep);
    memcpy(deep, "[{\"a\":", 6);
    memset(deep + 6, '[', depth);
    CHECK_FAIL(nb_table_from_json(&t, deep, depth + 6), NB_BAD_PAYLOAD,
               "column 'a' row 0: nested array not supported");
    free(deep);
    /* two columns of one name cannot be one JSON object */
    int64_t one = 1;
    CHECK_OK(nb_table_create(&t));
    CHECK_OK(nb_table_add_column(t, "b", NB_COL_INT64, 1, &one, NULL, NULL));
    CHECK_OK(nb_table_add_column(t, "a", NB_COL_INT64, 1, &one, NULL, NULL));
    CHECK(json_is(t, "[{\"b\":1,\"a\":1}]"));
    CHECK_OK(nb_table_add_column(t, "b", NB_COL_INT64, 1, &one, NULL, NULL));
    char *out = (char *)&one;
    CHECK_FAIL(nb_table_to_json(t, &out, NULL), NB_INVALID_ARG, "two columns are named 'b'");
    CHECK(out == NULL);
    nb_table_destroy(t);
}

/* A new key per row would need rows x keys cells: refused before it is allocated. */
NBT_CASE(too_sparse)
{
    size_t rows = 200000;
    char *json = malloc(rows * 24 + 2), *p = json;
    CHECK(json);
    *p++ = '[';
    for (size_t i = 0; i < rows; i++)
        p += sprintf(p, "%s{\"k%zu\":1}", i ? "," : "", i);
    *p++ = ']';
    nb_table *t;
    CHECK_FAIL(nb_table_from_json(&t, json, (size_t)(p - json)), NB_BAD_PAYLOAD,
               "is too sparse for");
    CHECK(t == NULL);
    /* a few late or rare keys are fine */
    p = json;
    *p++ = '[';
    for (size_t i = 0; i < 1000; i++)
        p += sprintf(p, "%s{\"a\":%zu%s}", i ? "," : "", i, i % 100 == 7 ? ",\"rare\":true" : "");
    *p++ = ']';
    CHECK_OK(nb_table_from_json(&t, json, (size_t)(p - json)));
    CHECK(nb_table_rows(t) == 1000 && nb_table_column_count(t) == 2);
    nb_table_destroy(t);
    free(json);
}

/* Many keys, the second row in reverse order: every key finds its own column. */
NBT_CASE(many_keys)
{
    size_t keys = 30000;
    char *json = malloc(keys * 2 * 24 + 8), *p = json;
    CHECK(json);
    p += sprintf(p, "[{");
    for (size_t i = 0; i < keys; i++)
        p += sprintf(p, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    p += sprintf(p, "},{");
    for (size_t i = keys; i-- > 0;)
        p += sprintf(p, "\"k%zu\":%zu%s", i, i + 1, i ? "," : "");
    p += sprintf(p, "}]");
    nb_table *t;
    CHECK_OK(nb_table_from_json(&t, json, (size_t)(p - json)));
    free(json);
    CHECK(nb_table_column_count(t) == keys && nb_table_rows(t) == 2);
    size_t at;
    nb_column_view v;
    CHECK_OK(nb_table_find_column(t, "k12345", &at));
    CHECK_OK(nb_table_column(t, at, &v));
    CHECK(at == 12345 && ((const int64_t *)v.values)[0] == 12345 &&
          ((const int64_t *)v.values)[1] == 12346 && v.null_count == 0);
    nb_table_destroy(t);
}

static const nbt_case cases[] = {
    NBT_ENTRY(edge_cases), NBT_ENTRY(too_sparse), NBT_ENTRY(many_keys),
    NBT_ENTRY(every_type_mapping), NBT_ENTRY(dates_and_times), NBT_ENTRY(empty_tables),
    NBT_ENTRY(inference),          NBT_ENTRY(roundtrip),       NBT_ENTRY(bad_json),
    NBT_ENTRY(special_floats),     {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
