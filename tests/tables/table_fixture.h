/* SPDX-License-Identifier: MIT */
/*
 * table_fixture.h - a table of every column type with nulls, and a deep
 * comparison of two tables, shared by the tests of tests/tables. Header-only
 * (static functions) so that each test executable stays one file.
 */
#ifndef NBT_TABLE_FIXTURE_H
#define NBT_TABLE_FIXTURE_H

#include "natsbridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row i is null in column c when (i + c) % 3 == 2: every column has some nulls. */
static inline bool fx_is_null(int64_t i, size_t c) { return (i + (int64_t)c) % 3 == 2; }

static inline void fx_validity(uint8_t *v, int64_t rows, size_t c)
{
    memset(v, 0, (size_t)(rows + 7) / 8 + 1);
    for (int64_t i = 0; i < rows; i++)
        if (!fx_is_null(i, c))
            v[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Column c of the fixed-width kind type: rows values that stretch the type's range. */
static inline void fx_fill_fixed(uint8_t *out, nb_column_type type, int64_t rows)
{
    for (int64_t i = 0; i < rows; i++) {
        int64_t s = (i % 2 ? -1 : 1) * (i * 7919 + 3);
        switch (type) {
        case NB_COL_INT8: { int8_t v = (int8_t)(i == 0 ? -128 : s); memcpy(out + i, &v, 1); break; }
        case NB_COL_UINT8: { uint8_t v = (uint8_t)(i == 0 ? 255 : i); memcpy(out + i, &v, 1); break; }
        case NB_COL_INT16: { int16_t v = (int16_t)(i == 0 ? -32768 : s); memcpy(out + i * 2, &v, 2); break; }
        case NB_COL_UINT16: { uint16_t v = (uint16_t)(i == 0 ? 65535 : s); memcpy(out + i * 2, &v, 2); break; }
        case NB_COL_INT32:
        case NB_COL_DATE32: { int32_t v = (int32_t)(i == 0 ? -719162 : s); memcpy(out + i * 4, &v, 4); break; }
        case NB_COL_UINT32: { uint32_t v = (uint32_t)(i == 0 ? 4294967295u : (uint64_t)s); memcpy(out + i * 4, &v, 4); break; }
        case NB_COL_INT64:
        case NB_COL_TIMESTAMP: { int64_t v = i == 0 ? INT64_MIN + 1 : i == 1 ? INT64_MAX : s * 1000003; memcpy(out + i * 8, &v, 8); break; }
        case NB_COL_UINT64: { uint64_t v = i == 0 ? UINT64_MAX : (uint64_t)(i * 1000003); memcpy(out + i * 8, &v, 8); break; }
        case NB_COL_FLOAT32: { float v = i == 0 ? -0.0f : (float)s / 3.0f; memcpy(out + i * 4, &v, 4); break; }
        case NB_COL_FLOAT64: { double v = i == 0 ? 1e308 : (double)s / 7.0; memcpy(out + i * 8, &v, 8); break; }
        default: break;
        }
    }
}

/* Strings of varied length, with non-ASCII, for utf8 (and binary, with a NUL inside). */
static inline char *fx_strings(int64_t rows, int32_t *offsets, bool binary)
{
    static const char *const words[] = {"", "a", "héllo", "日本語", "emoji 😀", "tab\there",
                                        "\"quoted\" \\ back", "line\nbreak"};
    size_t cap = (size_t)rows * 24 + 1, len = 0;
    char *data = malloc(cap);
    offsets[0] = 0;
    for (int64_t i = 0; i < rows; i++) {
        const char *w = words[i % 8];
        size_t n = strlen(w);
        memcpy(data + len, w, n);
        len += n;
        if (binary)
            data[len++] = (char)(i & 0xff); /* NUL and high bytes */
        offsets[i + 1] = (int32_t)len;
    }
    return data;
}

/* Every type, rows rows, nulls in every column; timestamps in all four units. */
static inline nb_table *fx_every_type(int64_t rows)
{
    nb_table *t = NULL;
    if (nb_table_create(&t) != NB_OK)
        return NULL;
    uint8_t *valid = malloc((size_t)(rows + 7) / 8 + 1);
    uint8_t *values = calloc((size_t)rows * 8 + 8, 1);
    int32_t *offsets = malloc(((size_t)rows + 1) * sizeof *offsets);
    nb_status s = NB_OK;
    size_t c = 0;
    char name[32];
    for (int type = NB_COL_BOOL; s == NB_OK && type <= NB_COL_DATE32; type++, c++) {
        fx_validity(valid, rows, c);
        snprintf(name, sizeof name, "%s_col", nb_table_type_name((nb_column_type)type));
        if (type == NB_COL_BOOL) {
            memset(values, 0, (size_t)rows / 8 + 1);
            for (int64_t i = 0; i < rows; i++)
                if (i % 5 < 2)
                    values[i >> 3] |= (uint8_t)(1u << (i & 7));
            s = nb_table_add_column(t, name, NB_COL_BOOL, rows, values, NULL, valid);
        } else if (type == NB_COL_UTF8 || type == NB_COL_BINARY) {
            char *data = fx_strings(rows, offsets, type == NB_COL_BINARY);
            s = nb_table_add_column(t, name, (nb_column_type)type, rows, data, offsets, valid);
            free(data);
        } else {
            fx_fill_fixed(values, (nb_column_type)type, rows);
            s = nb_table_add_column(t, name, (nb_column_type)type, rows, values, NULL, valid);
        }
    }
    static const char *const zones[] = {NULL, "UTC", "Europe/Paris", "+05:30"};
    for (int unit = NB_TIME_SECOND; s == NB_OK && unit <= NB_TIME_NANOSECOND; unit++, c++) {
        fx_validity(valid, rows, c);
        fx_fill_fixed(values, NB_COL_TIMESTAMP, rows);
        snprintf(name, sizeof name, "ts_%d", unit);
        s = nb_table_add_timestamp_column(t, name, (nb_time_unit)unit, zones[unit], rows,
                                          (const int64_t *)(void *)values, valid);
    }
    free(valid);
    free(values);
    free(offsets);
    if (s != NB_OK) {
        fprintf(stderr, "fx_every_type: %s\n", nb_last_error());
        nb_table_destroy(t);
        return NULL;
    }
    return t;
}

/* Bytes per value of fixed-width types (0: bool, utf8, binary). */
static inline size_t fx_width(nb_column_type t)
{
    static const size_t w[] = {0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0, 0, 4, 8};
    return w[t];
}

/* Whether two tables hold the same schema and values (nulls' slots ignored); prints why not. */
static inline bool fx_tables_equal(const nb_table *a, const nb_table *b)
{
    if (nb_table_rows(a) != nb_table_rows(b) ||
        nb_table_column_count(a) != nb_table_column_count(b)) {
        fprintf(stderr, "shape %lld x %zu vs %lld x %zu\n", (long long)nb_table_rows(a),
                nb_table_column_count(a), (long long)nb_table_rows(b), nb_table_column_count(b));
        return false;
    }
    for (size_t c = 0; c < nb_table_column_count(a); c++) {
        nb_column_view x, y;
        if (nb_table_column(a, c, &x) != NB_OK || nb_table_column(b, c, &y) != NB_OK)
            return false;
        bool same_tz = (!x.timezone && !y.timezone) ||
                       (x.timezone && y.timezone && strcmp(x.timezone, y.timezone) == 0);
        if (strcmp(x.name, y.name) != 0 || x.type != y.type || x.null_count != y.null_count ||
            (x.type == NB_COL_TIMESTAMP && (x.unit != y.unit || !same_tz))) {
            fprintf(stderr, "column %zu: schema or null count differs ('%s' %d %lld vs '%s' %d %lld)\n",
                    c, x.name, x.type, (long long)x.null_count, y.name, y.type, (long long)y.null_count);
            return false;
        }
        for (int64_t i = 0; i < x.rows; i++) {
            bool nx = nb_table_is_null(&x, i), ny = nb_table_is_null(&y, i);
            bool same = nx == ny;
            if (same && !nx) {
                size_t w = fx_width(x.type), lx, ly;
                if (x.type == NB_COL_BOOL)
                    same = nb_table_bool_at(&x, i) == nb_table_bool_at(&y, i);
                else if (w)
                    same = memcmp((const uint8_t *)x.values + i * (int64_t)w,
                                  (const uint8_t *)y.values + i * (int64_t)w, w) == 0;
                else {
                    const uint8_t *bx = nb_table_bytes_at(&x, i, &lx);
                    const uint8_t *by = nb_table_bytes_at(&y, i, &ly);
                    same = lx == ly && (lx == 0 || memcmp(bx, by, lx) == 0);
                }
            }
            if (!same) {
                fprintf(stderr, "column '%s' row %lld differs\n", x.name, (long long)i);
                return false;
            }
        }
    }
    return true;
}

#endif
