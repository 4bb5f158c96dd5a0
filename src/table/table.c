/* SPDX-License-Identifier: MIT */
/*
 * table.c - nb_table: the schema and one Arrow-layout array per column
 * (table.h), building it column by column and reading it through views.
 * Every way in (the public builders, the C Data Interface, the IPC reader,
 * JSON) goes through nbi_column_append, so the checks live in one place.
 */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h" /* nbi_utf8_valid */

static const char *const type_names[] = {
    [NB_COL_BOOL] = "bool",       [NB_COL_INT8] = "int8",       [NB_COL_INT16] = "int16",
    [NB_COL_INT32] = "int32",     [NB_COL_INT64] = "int64",     [NB_COL_UINT8] = "uint8",
    [NB_COL_UINT16] = "uint16",   [NB_COL_UINT32] = "uint32",   [NB_COL_UINT64] = "uint64",
    [NB_COL_FLOAT32] = "float32", [NB_COL_FLOAT64] = "float64", [NB_COL_UTF8] = "utf8",
    [NB_COL_BINARY] = "binary",   [NB_COL_DATE32] = "date32",   [NB_COL_TIMESTAMP] = "timestamp",
};
_Static_assert(sizeof(type_names) / sizeof(type_names[0]) == NB_COL_TYPE_COUNT,
               "every column type needs a name");

static const uint8_t type_widths[] = {
    [NB_COL_BOOL] = 0,    [NB_COL_INT8] = 1,    [NB_COL_INT16] = 2,   [NB_COL_INT32] = 4,
    [NB_COL_INT64] = 8,   [NB_COL_UINT8] = 1,   [NB_COL_UINT16] = 2,  [NB_COL_UINT32] = 4,
    [NB_COL_UINT64] = 8,  [NB_COL_FLOAT32] = 4, [NB_COL_FLOAT64] = 8, [NB_COL_UTF8] = 0,
    [NB_COL_BINARY] = 0,  [NB_COL_DATE32] = 4,  [NB_COL_TIMESTAMP] = 8,
};

size_t nbi_column_type_width(nb_column_type t)
{
    return (unsigned)t < NB_COL_TYPE_COUNT ? type_widths[t] : 0;
}

const char *nbi_column_type_name(nb_column_type t)
{
    return (unsigned)t < NB_COL_TYPE_COUNT ? type_names[t] : "unknown";
}

const char *nb_table_type_name(nb_column_type type) { return nbi_column_type_name(type); }

/* ------------------------------------------------------------------------ */
/* Bitmaps and offsets                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Set bits of w. Portable bit arithmetic: without -mpopcnt (the default on
 * x86-64) __builtin_popcount is a libgcc call per use.
 */
static int64_t popcount64(uint64_t w)
{
    w -= (w >> 1) & 0x5555555555555555ull;
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int64_t)((w * 0x0101010101010101ull) >> 56);
}

int64_t nbi_count_nulls(const uint8_t *bitmap, int64_t bit, int64_t n)
{
    int64_t valid = 0, i = 0;
    for (; i < n && ((bit + i) & 7); i++)
        valid += (bitmap[(bit + i) >> 3] >> ((bit + i) & 7)) & 1;
    /* Whole words, then whole bytes, at once in the aligned middle. */
    for (; n - i >= 64; i += 64) {
        uint64_t w;
        memcpy(&w, bitmap + ((bit + i) >> 3), 8);
        valid += popcount64(w);
    }
    for (; n - i >= 8; i += 8)
        valid += popcount64(bitmap[(bit + i) >> 3]);
    for (; i < n; i++)
        valid += (bitmap[(bit + i) >> 3] >> ((bit + i) & 7)) & 1;
    return n - valid;
}

bool nbi_offsets_rise(const void *offsets, int64_t rows)
{
    const uint8_t *p = offsets;
    unsigned down = 0; /* (a bool here keeps gcc 12 from vectorizing) */
    /* No early exit and no carried value, so that the compiler vectorizes it. */
    for (int64_t i = 0; i < rows; i++) {
        int32_t a, z;
        memcpy(&a, p + 4 * i, 4);
        memcpy(&z, p + 4 * i + 4, 4);
        down |= (unsigned)(z < a);
    }
    return !down;
}

nb_status nbi_check_offsets(const int32_t *offsets, int64_t rows, size_t data_len,
                            const char *who)
{
    if (!offsets)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: offsets buffer is missing", who);
    if (offsets[0] < 0)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: first offset %d is negative", who, (int)offsets[0]);
    bool rise = nbi_offsets_rise(offsets, rows);
    for (int64_t i = 0; !rise && i < rows; i++) /* which row, for the error */
        if (offsets[i + 1] < offsets[i])
            return nbi_fail(NB_BAD_PAYLOAD, "%s: offsets not monotonic at row %lld (%d < %d)",
                            who, (long long)i, (int)offsets[i + 1], (int)offsets[i]);
    if ((uint64_t)offsets[rows] > data_len)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: offset %d is beyond the %zu data bytes", who,
                        (int)offsets[rows], data_len);
    return NB_OK;
}

/*
 * Appends n bits from src (starting at bit src_bit; NULL = all ones) to the
 * bitmap b holding at bits, keeping the unused bits of the last byte zero.
 */
static nb_status append_bits(nbi_buf *b, int64_t at, const uint8_t *src, int64_t src_bit,
                             int64_t n)
{
    size_t need = (size_t)((at + n + 7) / 8);
    nb_status s = nbi_buf_reserve(b, need - b->len);
    if (s != NB_OK)
        return s;
    memset(b->data + b->len, 0, need - b->len);
    b->len = need;
    if (src && (at & 7) == 0 && (src_bit & 7) == 0) {
        memcpy(b->data + at / 8, src + src_bit / 8, (size_t)(n / 8));
        for (int64_t i = n & ~(int64_t)7; i < n; i++)
            if ((src[(src_bit + i) >> 3] >> ((src_bit + i) & 7)) & 1)
                b->data[(at + i) >> 3] |= (uint8_t)(1u << ((at + i) & 7));
    } else {
        for (int64_t i = 0; i < n; i++)
            if (!src || ((src[(src_bit + i) >> 3] >> ((src_bit + i) & 7)) & 1))
                b->data[(at + i) >> 3] |= (uint8_t)(1u << ((at + i) & 7));
    }
    b->data[b->len] = '\0';
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Appending                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Whether the rows values are all valid UTF-8, checked in one pass over their
 * data rather than value by value: valid UTF-8 cut only where characters
 * start is valid in every piece. False says nothing about the non-null
 * values alone (a null's bytes may be anything).
 */
static bool utf8_as_a_whole(int64_t rows, const int32_t *offsets, const uint8_t *data)
{
    size_t end = (size_t)offsets[rows], n = end - (size_t)offsets[0];
    if (n == 0 || nbi_ascii(data + offsets[0], n))
        return true; /* the common case: no character to cut */
    if (!nbi_utf8_valid(data + offsets[0], n))
        return false;
    bool cut = false; /* an offset at a continuation byte, inside a character */
    for (int64_t i = 1; i < rows; i++)
        cut |= (size_t)offsets[i] < end && (data[offsets[i]] & 0xc0) == 0x80;
    return !cut;
}

/* Every non-null value of rows utf8 values is valid UTF-8. */
static nb_status check_utf8_values(const nbi_column *c, int64_t rows, const uint8_t *validity,
                                   int64_t validity_bit, const int32_t *offsets,
                                   const uint8_t *data)
{
    if (utf8_as_a_whole(rows, offsets, data))
        return NB_OK;
    for (int64_t i = 0; i < rows; i++) {
        bool valid = !validity || ((validity[(validity_bit + i) >> 3] >>
                                    ((validity_bit + i) & 7)) & 1);
        size_t n = (size_t)(offsets[i + 1] - offsets[i]);
        if (valid && n && !nbi_utf8_valid(data + offsets[i], n))
            return nbi_fail(NB_BAD_PAYLOAD, "column '%s': row %lld is not valid UTF-8",
                            c->name, (long long)(c->length + i));
    }
    return NB_OK;
}

static nb_status append_variable(nbi_column *c, int64_t rows, const uint8_t *validity,
                                 int64_t validity_bit, const int32_t *offsets,
                                 const uint8_t *data, size_t data_len)
{
    char who[160];
    snprintf(who, sizeof who, "column '%.100s'", c->name);
    nb_status s = nbi_check_offsets(offsets, rows, data_len, who);
    if (s == NB_OK && c->type == NB_COL_UTF8)
        s = check_utf8_values(c, rows, validity, validity_bit, offsets, data);
    if (s != NB_OK)
        return s;
    int32_t base;
    memcpy(&base, c->offsets.data + c->offsets.len - 4, 4);
    int64_t bytes = (int64_t)offsets[rows] - offsets[0];
    if (bytes > INT32_MAX - (int64_t)base)
        return nbi_fail(NB_TOO_LARGE, "column '%s': more than 2 GiB of %s data (int32 offsets)",
                        c->name, nbi_column_type_name(c->type));
    if ((s = nbi_buf_append(&c->values, data ? data + offsets[0] : NULL, (size_t)bytes)) ||
        (s = nbi_buf_reserve(&c->offsets, (size_t)rows * 4)))
        return s;
    int32_t *out = (int32_t *)(void *)(c->offsets.data + c->offsets.len);
    for (int64_t i = 1; i <= rows; i++)
        out[i - 1] = base + (offsets[i] - offsets[0]);
    c->offsets.len += (size_t)rows * 4;
    c->offsets.data[c->offsets.len] = '\0';
    return NB_OK;
}

static nb_status append_values(nbi_column *c, int64_t rows, const uint8_t *values,
                               int64_t element_offset)
{
    if (!values)
        return nbi_fail(NB_INVALID_ARG, "column '%s': values are NULL for %lld rows", c->name,
                        (long long)rows);
    if (c->type == NB_COL_BOOL)
        return append_bits(&c->values, c->length, values, element_offset, rows);
    size_t width = nbi_column_type_width(c->type);
    return nbi_buf_append(&c->values, values + (size_t)element_offset * width,
                          (size_t)rows * width);
}

/* Validity bits for the rows before the first null: all valid. */
static nb_status materialize_validity(nbi_column *c)
{
    if (c->validity.len > 0 || c->length == 0)
        return NB_OK;
    return append_bits(&c->validity, 0, NULL, 0, c->length);
}

nb_status nbi_column_append(nbi_column *c, int64_t rows, int64_t null_count,
                            const uint8_t *validity, int64_t validity_bit,
                            const uint8_t *values, int64_t element_offset,
                            const int32_t *offsets, const uint8_t *data, size_t data_len)
{
    if (rows < 0 || validity_bit < 0 || element_offset < 0)
        return nbi_fail(NB_INVALID_ARG, "column '%s': negative length or offset", c->name);
    if (rows == 0)
        return NB_OK;
    /* Bounds every later size computation (rows * 8, bit + rows + 7) far from overflow. */
    if (rows > NBI_MAX_ROWS - c->length || element_offset > NBI_MAX_ROWS)
        return nbi_fail(NB_TOO_LARGE, "column '%s': %lld rows at element %lld is more than a "
                        "table can hold", c->name, (long long)rows, (long long)element_offset);
    /* Recounted whatever the producer said: a wrong count would mislead every reader. */
    (void)null_count;
    int64_t nulls = validity ? nbi_count_nulls(validity, validity_bit, rows) : 0;
    if (nulls > 0 && !c->nullable)
        return nbi_fail(NB_BAD_PAYLOAD, "column '%s': %lld nulls in a non-nullable column",
                        c->name, (long long)nulls);
    size_t old_values = c->values.len, old_offsets = c->offsets.len, old_valid = c->validity.len;
    nb_status s = nbi_column_type_is_variable(c->type)
                      ? append_variable(c, rows, nulls ? validity : NULL, validity_bit, offsets,
                                        data, data_len)
                      : append_values(c, rows, values, element_offset);
    if (s == NB_OK && (nulls > 0 || c->validity.len > 0)) {
        s = materialize_validity(c);
        if (s == NB_OK)
            s = append_bits(&c->validity, c->length, nulls ? validity : NULL, validity_bit, rows);
    }
    if (s != NB_OK) { /* leave the column as it was */
        c->values.len = old_values;
        c->offsets.len = old_offsets;
        c->validity.len = old_valid;
        return s;
    }
    c->length += rows;
    c->null_count += nulls;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Columns and tables                                                       */
/* ------------------------------------------------------------------------ */

static void column_free(nbi_column *c)
{
    free(c->name);
    free(c->timezone);
    nbi_buf_free(&c->validity);
    nbi_buf_free(&c->values);
    nbi_buf_free(&c->offsets);
}

/* Appends an empty column whatever the table's row count (callers check it). */
static nb_status add_empty_column(nb_table *t, const char *name, nb_column_type type,
                                  nb_time_unit unit, const char *timezone, bool nullable,
                                  nbi_column **out)
{
    name = name ? name : "";
    if ((unsigned)type >= NB_COL_TYPE_COUNT)
        return nbi_fail(NB_INVALID_ARG, "column '%.100s': unknown type %d", name, (int)type);
    if (type == NB_COL_TIMESTAMP && (unsigned)unit > NB_TIME_NANOSECOND)
        return nbi_fail(NB_INVALID_ARG, "column '%.100s': unknown time unit %d", name, (int)unit);
    if (!nbi_utf8_valid((const uint8_t *)name, strlen(name)))
        return nbi_fail(NB_INVALID_ARG, "column name is not valid UTF-8");
    if (timezone && !nbi_utf8_valid((const uint8_t *)timezone, strlen(timezone)))
        return nbi_fail(NB_INVALID_ARG, "column '%.100s': timezone is not valid UTF-8", name);
    if (t->n_cols == t->cap_cols) {
        size_t cap = t->cap_cols ? t->cap_cols * 2 : 8;
        nbi_column *grown = realloc(t->cols, cap * sizeof *grown);
        if (!grown)
            return nbi_fail(NB_NO_MEMORY, "table: out of memory for %zu columns", cap);
        t->cols = grown;
        t->cap_cols = cap;
    }
    nbi_column *c = &t->cols[t->n_cols];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->unit = type == NB_COL_TIMESTAMP ? unit : NB_TIME_SECOND;
    c->nullable = nullable;
    c->name = nbi_strdup(name);
    bool zoned = type == NB_COL_TIMESTAMP && timezone && *timezone;
    c->timezone = zoned ? nbi_strdup(timezone) : NULL;
    int32_t zero = 0;
    nb_status s = !c->name || (zoned && !c->timezone)
                      ? nbi_fail(NB_NO_MEMORY, "column '%.100s': out of memory", name)
                      : NB_OK;
    /* utf8/binary columns hold rows + 1 offsets, so one even when empty. */
    if (s == NB_OK && nbi_column_type_is_variable(type))
        s = nbi_buf_append(&c->offsets, &zero, 4);
    if (s != NB_OK) {
        column_free(c);
        return s;
    }
    t->n_cols++;
    *out = c;
    return NB_OK;
}

nb_status nbi_table_add_column(nb_table *t, const char *name, nb_column_type type,
                               nb_time_unit unit, const char *timezone, bool nullable,
                               nbi_column **out)
{
    if (t->rows != 0)
        return nbi_fail(NB_INTERNAL, "table: column '%.100s' added after rows",
                        nbi_or_empty(name));
    return add_empty_column(t, name, type, unit, timezone, nullable, out);
}

nb_status nb_table_create(nb_table **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "table: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? NB_OK : nbi_fail(NB_NO_MEMORY, "table: out of memory");
}

void nb_table_destroy(nb_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cols; i++)
        column_free(&t->cols[i]);
    free(t->cols);
    free(t);
}

/*
 * The data length of a caller's utf8/binary column: its last offset, once the
 * offsets are checked (here as well as in append, since the length comes from
 * them). A bad offset is the caller's mistake (NB_INVALID_ARG), not a bad payload.
 */
static nb_status caller_data_len(const char *name, int64_t rows, const void *values,
                                 const int32_t *offsets, size_t *len)
{
    char who[160];
    snprintf(who, sizeof who, "column '%.100s'", name);
    if (nbi_check_offsets(offsets, rows, SIZE_MAX, who) != NB_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", nb_last_error());
        return nbi_fail(NB_INVALID_ARG, "%s", msg);
    }
    *len = (size_t)offsets[rows];
    if (!values && *len > (size_t)offsets[0])
        return nbi_fail(NB_INVALID_ARG, "%s: values are NULL for %zu bytes", who, *len);
    return NB_OK;
}

/* A whole column given by the caller: the checks, then one append. */
static nb_status add_filled_column(nb_table *t, const char *name, nb_column_type type,
                                   nb_time_unit unit, const char *timezone, int64_t rows,
                                   const void *values, const int32_t *offsets,
                                   const uint8_t *validity)
{
    const char *n = nbi_or_empty(name);
    if (!t)
        return nbi_fail(NB_INVALID_ARG, "table: NULL table adding column '%.100s'", n);
    if (rows < 0 || rows > NBI_MAX_ROWS)
        return nbi_fail(rows < 0 ? NB_INVALID_ARG : NB_TOO_LARGE,
                        "column '%.100s': %lld rows is %s", n, (long long)rows,
                        rows < 0 ? "negative" : "more than a table can hold");
    if (t->n_cols > 0 && rows != t->rows)
        return nbi_fail(NB_INVALID_ARG, "column '%.100s': %lld rows, the table has %lld", n,
                        (long long)rows, (long long)t->rows);
    size_t data_len = 0;
    nb_status s = nbi_column_type_is_variable(type) && rows > 0
                      ? caller_data_len(n, rows, values, offsets, &data_len) : NB_OK;
    nbi_column *c = NULL;
    if (s == NB_OK)
        s = add_empty_column(t, name, type, unit, timezone, true, &c);
    if (s != NB_OK)
        return s;
    if (nbi_column_type_is_variable(type))
        s = nbi_column_append(c, rows, -1, validity, 0, NULL, 0, offsets, values, data_len);
    else
        s = nbi_column_append(c, rows, -1, validity, 0, values, 0, NULL, NULL, 0);
    if (s != NB_OK) {
        column_free(c);
        t->n_cols--;
        return s;
    }
    t->rows = rows;
    return NB_OK;
}

nb_status nb_table_add_column(nb_table *t, const char *name, nb_column_type type, int64_t rows,
                              const void *values, const int32_t *offsets,
                              const uint8_t *validity)
{
    if (type == NB_COL_TIMESTAMP)
        return nbi_fail(NB_INVALID_ARG,
                        "column '%.100s': use nb_table_add_timestamp_column for timestamps",
                        nbi_or_empty(name));
    return add_filled_column(t, name, type, NB_TIME_SECOND, NULL, rows, values, offsets,
                             validity);
}

nb_status nb_table_add_timestamp_column(nb_table *t, const char *name, nb_time_unit unit,
                                        const char *timezone, int64_t rows,
                                        const int64_t *values, const uint8_t *validity)
{
    return add_filled_column(t, name, NB_COL_TIMESTAMP, unit, timezone, rows, values, NULL,
                             validity);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

int64_t nb_table_rows(const nb_table *t) { return t ? t->rows : 0; }

size_t nb_table_column_count(const nb_table *t) { return t ? t->n_cols : 0; }

nb_status nb_table_column(const nb_table *t, size_t i, nb_column_view *out)
{
    static const uint64_t empty = 0;
    if (!t || !out)
        return nbi_fail(NB_INVALID_ARG, "table: NULL table or view");
    memset(out, 0, sizeof *out);
    if (i >= t->n_cols)
        return nbi_fail(NB_INVALID_ARG, "table: column %zu out of range (%zu columns)", i,
                        t->n_cols);
    const nbi_column *c = &t->cols[i];
    out->name = c->name;
    out->type = c->type;
    out->unit = c->unit;
    out->timezone = c->timezone;
    out->rows = t->rows;
    out->null_count = c->null_count;
    out->validity = c->null_count ? c->validity.data : NULL;
    out->values = c->values.data ? (const void *)c->values.data : (const void *)&empty;
    out->offsets = nbi_column_type_is_variable(c->type)
                       ? (const int32_t *)(const void *)c->offsets.data : NULL;
    return NB_OK;
}

nb_status nb_table_find_column(const nb_table *t, const char *name, size_t *index)
{
    if (!t || !name || !index)
        return nbi_fail(NB_INVALID_ARG, "table: NULL table, name or index");
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0) {
            *index = i;
            return NB_OK;
        }
    return nbi_fail(NB_INVALID_ARG, "table: no column named '%.100s'", name);
}

bool nb_table_is_null(const nb_column_view *v, int64_t row)
{
    if (!v || row < 0 || row >= v->rows)
        return false;
    return v->validity && !((v->validity[row >> 3] >> (row & 7)) & 1);
}

bool nb_table_bool_at(const nb_column_view *v, int64_t row)
{
    if (!v || v->type != NB_COL_BOOL || row < 0 || row >= v->rows || nb_table_is_null(v, row))
        return false;
    return (((const uint8_t *)v->values)[row >> 3] >> (row & 7)) & 1;
}

const uint8_t *nb_table_bytes_at(const nb_column_view *v, int64_t row, size_t *len)
{
    if (len)
        *len = 0;
    if (!v || !v->offsets || row < 0 || row >= v->rows)
        return NULL;
    if (len)
        *len = (size_t)(v->offsets[row + 1] - v->offsets[row]);
    return (const uint8_t *)v->values + v->offsets[row];
}
