/* SPDX-License-Identifier: MIT */
/*
 * test_cdata.c - the Arrow C Data Interface (src/table/table_cdata.c): export and
 * import round trips, exports outliving their table, slices (offsets), and
 * hostile imports. Leaks are caught by the ASan build (detect_leaks).
 */
#include "test.h"

#include "table_fixture.h"

NBT_CASE(roundtrip_every_type)
{
    nb_table *t = fx_every_type(77), *back = NULL;
    CHECK(t);
    struct ArrowSchema schema;
    struct ArrowArray array;
    CHECK_OK(nb_table_export(t, &schema, &array));
    CHECK_STR(schema.format, "+s");
    CHECK(schema.n_children == 18 && array.n_children == 18 && array.length == 77);
    CHECK_STR(schema.children[4]->format, "l");
    CHECK_STR(schema.children[4]->name, "int64_col");
    CHECK(schema.children[4]->flags & ARROW_FLAG_NULLABLE);
    CHECK_STR(schema.children[13]->format, "tdD");
    CHECK_STR(schema.children[14]->format, "tss:");
    CHECK_STR(schema.children[15]->format, "tsm:UTC");
    CHECK_STR(schema.children[16]->format, "tsu:Europe/Paris");
    CHECK_STR(schema.children[17]->format, "tsn:+05:30");
    CHECK(array.children[11]->n_buffers == 3 && array.children[4]->n_buffers == 2);
    CHECK(array.children[4]->null_count == 26);
    CHECK_OK(nb_table_import(&back, &schema, &array));
    CHECK(schema.release == NULL && array.release == NULL);
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(t);
    nb_table_destroy(back);
}

NBT_CASE(export_outlives_table)
{
    nb_table *t = fx_every_type(10);
    CHECK(t);
    struct ArrowSchema schema;
    struct ArrowArray array;
    CHECK_OK(nb_table_export(t, &schema, &array));
    nb_table_destroy(t);
    /* the copies are still there: read utf8 row 4 ("emoji 😀") */
    const struct ArrowArray *s = array.children[11];
    const int32_t *off = s->buffers[1];
    const char *data = s->buffers[2];
    CHECK(off[5] - off[4] == (int32_t)strlen("emoji 😀"));
    CHECK(memcmp(data + off[4], "emoji 😀", strlen("emoji 😀")) == 0);
    /* a consumer may move a child out and release it on its own */
    struct ArrowArray moved = *array.children[3];
    array.children[3]->release = NULL;
    moved.release(&moved);
    CHECK(moved.release == NULL);
    array.release(&array);
    schema.release(&schema);
    CHECK(array.release == NULL && schema.release == NULL);
}

NBT_CASE(empty_tables)
{
    nb_table *t, *back;
    CHECK_OK(nb_table_create(&t));
    struct ArrowSchema schema;
    struct ArrowArray array;
    CHECK_OK(nb_table_export(t, &schema, &array));
    CHECK(schema.n_children == 0 && array.length == 0);
    CHECK_OK(nb_table_import(&back, &schema, &array));
    CHECK(nb_table_column_count(back) == 0 && nb_table_rows(back) == 0);
    nb_table_destroy(back);
    CHECK_OK(nb_table_add_column(t, "s", NB_COL_UTF8, 0, NULL, NULL, NULL));
    CHECK_OK(nb_table_export(t, &schema, &array));
    CHECK_OK(nb_table_import(&back, &schema, &array));
    CHECK(fx_tables_equal(t, back));
    nb_table_destroy(back);
    nb_table_destroy(t);
}

/* ---- a hand-made producer, as another library would export ------------- */

static int releases;

/* The producers below have at most 2 children, whatever a test wrote into n_children. */
static void count_schema_release(struct ArrowSchema *s)
{
    for (int64_t i = 0; i < s->n_children && i < 2; i++)
        if (s->children[i]->release)
            s->children[i]->release(s->children[i]);
    s->release = NULL;
    releases++;
}

static void count_array_release(struct ArrowArray *a)
{
    for (int64_t i = 0; i < a->n_children && i < 2 && a->children; i++)
        if (a->children[i]->release)
            a->children[i]->release(a->children[i]);
    a->release = NULL;
    releases++;
}

typedef struct producer {
    struct ArrowSchema schema, child_schema[2], *schema_children[2];
    struct ArrowArray array, child_array[2], *array_children[2];
    const void *parent_buffers[1], *buffers[2][3];
} producer;

/* A struct of two children: int32 "i" and utf8 "s", 6 rows each, nulls at 1 and 4. */
static void make_producer(producer *p)
{
    static const int32_t ints[6] = {10, 11, 12, 13, 14, 15};
    static const int32_t offs[7] = {0, 1, 3, 3, 6, 6, 10};
    static const char text[] = "abbcccdddd";
    static const uint8_t valid = 0x2d; /* 101101: rows 1 and 4 null */
    memset(p, 0, sizeof *p);
    p->buffers[0][0] = &valid;
    p->buffers[0][1] = ints;
    p->buffers[1][0] = &valid;
    p->buffers[1][1] = offs;
    p->buffers[1][2] = text;
    const char *formats[2] = {"i", "u"}, *names[2] = {"i", "s"};
    for (int c = 0; c < 2; c++) {
        p->child_schema[c] = (struct ArrowSchema){.format = formats[c], .name = names[c],
                                                  .flags = ARROW_FLAG_NULLABLE,
                                                  .release = count_schema_release};
        p->child_array[c] = (struct ArrowArray){.length = 6, .null_count = 2,
                                                .n_buffers = c ? 3 : 2, .buffers = p->buffers[c],
                                                .release = count_array_release};
        p->schema_children[c] = &p->child_schema[c];
        p->array_children[c] = &p->child_array[c];
    }
    p->schema = (struct ArrowSchema){.format = "+s", .name = "", .n_children = 2,
                                     .children = p->schema_children,
                                     .release = count_schema_release};
    p->array = (struct ArrowArray){.length = 6, .n_buffers = 1, .n_children = 2,
                                   .buffers = p->parent_buffers, .children = p->array_children,
                                   .release = count_array_release};
}

NBT_CASE(import_foreign)
{
    producer p;
    make_producer(&p);
    p.child_array[0].null_count = -1; /* unknown: counted on import */
    nb_table *t;
    releases = 0;
    CHECK_OK(nb_table_import(&t, &p.schema, &p.array));
    CHECK(releases == 6); /* every schema and array, parents and children, once */
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    CHECK(v.null_count == 2 && nb_table_is_null(&v, 1) && nb_table_is_null(&v, 4));
    CHECK(((const int32_t *)v.values)[5] == 15);
    CHECK_OK(nb_table_column(t, 1, &v));
    size_t len;
    const uint8_t *s = nb_table_bytes_at(&v, 5, &len);
    CHECK(len == 4 && memcmp(s, "dddd", 4) == 0);
    nb_table_destroy(t);
}

NBT_CASE(import_offsets)
{
    producer p;
    make_producer(&p);
    /* the struct starts at row 1 of its children, which start at element 1: rows 2..5 */
    p.array.offset = 1;
    p.array.length = 4;
    p.child_array[0].offset = 1;
    p.child_array[0].length = 5;
    p.child_array[1].offset = 1;
    p.child_array[1].length = 5;
    nb_table *t;
    CHECK_OK(nb_table_import(&t, &p.schema, &p.array));
    CHECK(nb_table_rows(t) == 4);
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    /* rows 2, 3, 4, 5 of the original: 12, 13, null, 15 */
    CHECK(((const int32_t *)v.values)[0] == 12 && ((const int32_t *)v.values)[3] == 15);
    CHECK(v.null_count == 1 && nb_table_is_null(&v, 2));
    CHECK_OK(nb_table_column(t, 1, &v));
    size_t len;
    const uint8_t *s = nb_table_bytes_at(&v, 1, &len);
    CHECK(len == 3 && memcmp(s, "ccc", 3) == 0 && v.offsets[0] == 0 && v.offsets[4] == 7);
    nb_table_destroy(t);
}

/* Each hostile import fails naming the problem, and still releases everything. */
#define HOSTILE(setup, needle)                                                \
    do {                                                                      \
        producer p;                                                           \
        make_producer(&p);                                                    \
        setup;                                                                \
        nb_table *t = (nb_table *)&p; /* must be reset to NULL */             \
        releases = 0;                                                         \
        CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_INVALID_ARG, needle); \
        CHECK(t == NULL);                                                     \
        CHECK(p.schema.release == NULL && p.array.release == NULL);           \
    } while (0)

NBT_CASE(import_hostile)
{
    HOSTILE(p.child_schema[1].format = "+l", "column 1 's': unsupported format '+l'");
    HOSTILE(p.child_schema[0].format = "w:16", "unsupported format 'w:16'");
    HOSTILE(p.child_schema[0].format = "tsx:", "unsupported format 'tsx:'");
    HOSTILE(p.child_schema[0].format = "tdm", "unsupported format 'tdm'");
    HOSTILE(p.child_schema[0].format = "U", "unsupported format 'U'");
    HOSTILE(p.child_schema[0].format = "", "unsupported format ''");
    HOSTILE(p.child_schema[0].format = NULL, "column 0 is NULL or has no format");
    HOSTILE(p.schema.format = "i", "format 'i' is not a struct array");
    HOSTILE(p.schema.n_children = 1, "schema has 1 children, array 2");
    HOSTILE(p.array.n_children = 3, "schema has 2 children, array 3");
    HOSTILE(p.child_array[1].n_buffers = 2, "column 1 's': 2 buffers for format 'u', expected 3");
    HOSTILE(p.child_array[0].length = 5, "length 5 is shorter than the table's 6 rows");
    HOSTILE(p.array.length = -3, "negative length");
    HOSTILE(p.array.offset = INT64_MAX, "negative length or offset");
    HOSTILE(p.child_array[0].offset = INT64_MAX, "offset 9223372036854775807 overflows");
    HOSTILE(p.child_array[0].buffers = NULL, "2 buffers for format 'i', expected 2");
    HOSTILE(p.buffers[0][1] = NULL, "its values buffer is NULL");
    HOSTILE(p.buffers[1][1] = NULL, "its offsets buffer is NULL");
    HOSTILE(p.child_schema[0].dictionary = &p.child_schema[1], "dictionary-encoded");
    HOSTILE((p.parent_buffers[0] = "\x00", p.array.null_count = 1), "struct array has null rows");
    HOSTILE(p.array.n_buffers = 0, "struct array has 0 buffers, expected 1");
    /* released input: nothing is called, and it says so */
    producer p;
    make_producer(&p);
    p.schema.release = NULL;
    nb_table *t;
    releases = 0;
    CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_INVALID_ARG,
               "schema already released");
    CHECK(releases == 3 && p.array.release == NULL); /* the live array is still released */
    make_producer(&p);
    p.array.release = NULL;
    CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_INVALID_ARG,
               "array already released");
    CHECK(p.schema.release == NULL);
    CHECK_FAIL(nb_table_import(&t, NULL, &p.array), NB_INVALID_ARG, "NULL out, schema");
    CHECK_FAIL(nb_table_export(NULL, &p.schema, &p.array), NB_INVALID_ARG, "NULL table");
}

NBT_CASE(import_bad_values)
{
    static const int32_t bad_offs[7] = {0, 1, 3, 2, 6, 6, 10};
    static const int32_t far_offs[7] = {0, 1, 3, 3, 6, 6, -10};
    static const char bad_utf8[] = "abbc\xff" "cdddd";
    for (int k = 0; k < 3; k++) {
        producer p;
        make_producer(&p);
        if (k == 0)
            p.buffers[1][1] = bad_offs;
        else if (k == 1)
            p.buffers[1][1] = far_offs;
        else
            p.buffers[1][2] = bad_utf8;
        nb_table *t;
        static const char *const needles[] = {"column 's': offsets not monotonic at row 2",
                                              "column 's': offsets not monotonic at row 5",
                                              "column 's': row 3 is not valid UTF-8"};
        CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_BAD_PAYLOAD, needles[k]);
        CHECK(t == NULL && p.schema.release == NULL && p.array.release == NULL);
    }
}

/* The nullable flag is kept: refused nulls in a non-nullable field, and exported back as is. */
NBT_CASE(import_not_nullable)
{
    producer p;
    make_producer(&p);
    p.child_schema[0].flags = 0;
    nb_table *t;
    CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_BAD_PAYLOAD,
               "column 'i': 2 nulls in a non-nullable column");
    make_producer(&p);
    p.child_schema[0].flags = 0;
    p.child_array[0].null_count = 0;
    p.buffers[0][0] = NULL;
    CHECK_OK(nb_table_import(&t, &p.schema, &p.array));
    struct ArrowSchema schema;
    struct ArrowArray array;
    CHECK_OK(nb_table_export(t, &schema, &array));
    CHECK(schema.children[0]->flags == 0 && schema.children[1]->flags == ARROW_FLAG_NULLABLE);
    CHECK(array.children[0]->null_count == 0 && array.children[0]->buffers[0] == NULL);
    schema.release(&schema);
    array.release(&array);
    nb_table_destroy(t);
}

/* Bit-packed buffers sliced at offsets that are not multiples of 8: values and validity. */
NBT_CASE(import_bit_offsets)
{
    static const uint8_t bits[3] = {0xa5, 0x3c, 0x0f}, valid[3] = {0xff, 0xfb, 0xff};
    producer p;
    make_producer(&p);
    p.child_schema[0].format = "b";
    p.buffers[0][0] = valid;
    p.buffers[0][1] = bits;
    p.child_array[0].null_count = -1;
    p.child_array[0].offset = 5; /* the struct's rows 1..4 are bits 6..9 of the child */
    p.child_array[0].length = 10;
    p.child_array[1].length = 6;
    p.array.offset = 1;
    p.array.length = 5;
    p.parent_buffers[0] = "\xfe"; /* the struct's own null is row 0, sliced off */
    p.array.null_count = 1;
    nb_table *t;
    CHECK_OK(nb_table_import(&t, &p.schema, &p.array));
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 0, &v));
    /* bits 6..10 of a5 3c: 0 1 0 0 1; validity bit 10 (row 4) is the only zero */
    CHECK(!nb_table_bool_at(&v, 0) && nb_table_bool_at(&v, 1) && !nb_table_bool_at(&v, 2));
    CHECK(!nb_table_bool_at(&v, 3) && !nb_table_is_null(&v, 3) && nb_table_is_null(&v, 4));
    CHECK(v.null_count == 1 && nb_table_rows(t) == 5);
    nb_table_destroy(t);
}

/* Counts the spec forbids or that no buffer can hold are refused, never trusted. */
NBT_CASE(import_bad_counts)
{
    HOSTILE((p.buffers[0][0] = NULL), "column 0 'i': null_count 2 without a validity buffer");
    HOSTILE((p.child_array[0].null_count = -2), "null_count -2 without");
    HOSTILE((p.schema.dictionary = &p.child_schema[0]), "the struct array is dictionary-encoded");
    producer p;
    make_producer(&p);
    p.child_schema[0].format = "b";
    p.buffers[0][0] = NULL;
    p.child_array[0].null_count = 0;
    p.array.length = p.child_array[0].length = p.child_array[1].length = INT64_MAX - 1;
    nb_table *t;
    CHECK_FAIL(nb_table_import(&t, &p.schema, &p.array), NB_TOO_LARGE,
               "column 'i': 9223372036854775806 rows at element 0 is more than a table");
    CHECK(t == NULL && p.schema.release == NULL && p.array.release == NULL);
}

static const nbt_case cases[] = {
    NBT_ENTRY(import_bit_offsets), NBT_ENTRY(import_bad_counts),
    NBT_ENTRY(roundtrip_every_type), NBT_ENTRY(export_outlives_table), NBT_ENTRY(empty_tables),
    NBT_ENTRY(import_foreign),       NBT_ENTRY(import_offsets),        NBT_ENTRY(import_hostile),
    NBT_ENTRY(import_bad_values),    NBT_ENTRY(import_not_nullable), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
