/* SPDX-License-Identifier: MIT */
/*
 * table_describe.h - a table as JSON in the very form js/ipc_common.mjs's
 * describe() gives apache-arrow's tables: {"rows", "columns": [{"name",
 * "type", "nullable", ("unit", "timezone"), "values"}]}, so that a C test
 * compares what it read with what Node read, value by value. Header-only
 * (static functions), like table_fixture.h.
 */
#ifndef NBT_TABLE_DESCRIBE_H
#define NBT_TABLE_DESCRIBE_H

#include "table.h"
#include "table_fixture.h"

#include <cjson/cJSON.h>
#include <inttypes.h>

/* Row i of column v: null, a bool, or a string (decimal for numbers, hex for binary). */
static inline cJSON *fx_describe_value(const nb_column_view *v, int64_t i)
{
    char text[64];
    size_t w = fx_width(v->type), n = 0;
    if (nb_table_is_null(v, i))
        return cJSON_CreateNull();
    if (v->type == NB_COL_BOOL)
        return cJSON_CreateBool(nb_table_bool_at(v, i));
    if (v->type == NB_COL_UTF8 || v->type == NB_COL_BINARY) {
        const uint8_t *b = nb_table_bytes_at(v, i, &n);
        char *s = malloc(2 * n + 1);
        if (!s)
            return NULL;
        s[0] = '\0';
        if (v->type == NB_COL_UTF8) {
            memcpy(s, b, n);
            s[n] = '\0';
        }
        for (size_t k = 0; v->type == NB_COL_BINARY && k < n; k++)
            snprintf(s + 2 * k, 3, "%02x", b[k]);
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    uint64_t bits = 0;
    memcpy(&bits, (const uint8_t *)v->values + (size_t)i * w, w); /* little-endian host */
    bool is_signed = v->type == NB_COL_DATE32 || v->type == NB_COL_TIMESTAMP ||
                     (v->type >= NB_COL_INT8 && v->type <= NB_COL_INT64);
    if (is_signed && w < 8 && ((bits >> (8 * w - 1)) & 1))
        bits |= ~(uint64_t)0 << (8 * w); /* sign-extend */
    if (is_signed)
        snprintf(text, sizeof text, "%" PRId64, (int64_t)bits);
    else
        snprintf(text, sizeof text, "%" PRIu64, bits);
    return cJSON_CreateString(text);
}

/* {"rows": n, "columns": [...]} of t (free with cJSON_Delete). */
static inline cJSON *fx_describe_table(const nb_table *t)
{
    static const char *const units[] = {"s", "ms", "us", "ns"};
    cJSON *root = cJSON_CreateObject(), *cols = cJSON_AddArrayToObject(root, "columns");
    cJSON_AddNumberToObject(root, "rows", (double)nb_table_rows(t));
    for (size_t c = 0; c < nb_table_column_count(t); c++) {
        nb_column_view v;
        nb_table_column(t, c, &v);
        cJSON *col = cJSON_CreateObject();
        cJSON_AddStringToObject(col, "name", v.name);
        cJSON_AddStringToObject(col, "type", nb_table_type_name(v.type));
        cJSON_AddBoolToObject(col, "nullable", t->cols[c].nullable);
        if (v.type == NB_COL_TIMESTAMP) {
            cJSON_AddStringToObject(col, "unit", units[v.unit]);
            if (v.timezone)
                cJSON_AddStringToObject(col, "timezone", v.timezone);
            else
                cJSON_AddNullToObject(col, "timezone");
        }
        cJSON *vals = cJSON_AddArrayToObject(col, "values");
        for (int64_t i = 0; i < v.rows; i++)
            cJSON_AddItemToArray(vals, fx_describe_value(&v, i));
        cJSON_AddItemToArray(cols, col);
    }
    return root;
}

#endif
