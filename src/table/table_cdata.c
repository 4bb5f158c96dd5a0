/* SPDX-License-Identifier: MIT */
/*
 * table_cdata.c - the Arrow C Data Interface (Arrow's "cdata" specification):
 * nb_table_export hands a table out as a struct array whose children are the
 * columns; nb_table_import takes one in. Exports copy the column buffers, so
 * the consumer may keep them after nb_table_destroy; imports copy once into
 * the table and release the producer's structures.
 */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */
/* ------------------------------------------------------------------------ */

static const char *const formats[] = {
    [NB_COL_BOOL] = "b",    [NB_COL_INT8] = "c",    [NB_COL_INT16] = "s",
    [NB_COL_INT32] = "i",   [NB_COL_INT64] = "l",   [NB_COL_UINT8] = "C",
    [NB_COL_UINT16] = "S",  [NB_COL_UINT32] = "I",  [NB_COL_UINT64] = "L",
    [NB_COL_FLOAT32] = "f", [NB_COL_FLOAT64] = "g", [NB_COL_UTF8] = "u",
    [NB_COL_BINARY] = "z",  [NB_COL_DATE32] = "tdD", [NB_COL_TIMESTAMP] = "ts",
};
static const char unit_letters[] = "smun"; /* nb_time_unit order */

/* The format string of a column, e.g. "l" or "tsu:Europe/Paris" (malloc'd). */
static char *format_of(const nbi_column *c)
{
    if (c->type != NB_COL_TIMESTAMP)
        return nbi_strdup(formats[c->type]);
    const char *tz = c->timezone ? c->timezone : "";
    size_t n = strlen(tz) + 6;
    char *f = malloc(n);
    if (f)
        snprintf(f, n, "ts%c:%s", unit_letters[c->unit], tz);
    return f;
}

/* Parses a child's format; false when natsbridge has no such column type. */
static bool parse_format(const char *f, nb_column_type *type, nb_time_unit *unit,
                         const char **tz)
{
    *unit = NB_TIME_SECOND;
    *tz = NULL;
    for (int t = 0; t < NB_COL_TIMESTAMP; t++)
        if (strcmp(f, formats[t]) == 0) {
            *type = (nb_column_type)t;
            return true;
        }
    const char *u = f[0] == 't' && f[1] == 's' && f[2] ? strchr(unit_letters, f[2]) : NULL;
    if (!u || f[3] != ':')
        return false;
    *type = NB_COL_TIMESTAMP;
    *unit = (nb_time_unit)(u - unit_letters);
    *tz = f + 4;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Export                                                                   */
/* ------------------------------------------------------------------------ */

/* What one exported child owns: its copied buffers and strings. */
typedef struct child_data {
    const void *buffers[3];
    void *owned[3];
} child_data;

/* What the exported parent owns besides its children. */
typedef struct parent_array {
    const void *buffers[1];
    struct ArrowArray **children;
} parent_array;

typedef struct schema_data {
    char *format, *name;
    struct ArrowSchema **children;
} schema_data;

static void release_child_array(struct ArrowArray *a)
{
    child_data *d = a->private_data;
    for (int i = 0; i < 3; i++)
        free(d->owned[i]);
    free(d);
    a->release = NULL;
}

static void release_parent_array(struct ArrowArray *a)
{
    parent_array *d = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++) {
        /* A consumer may have moved a child out (its release is then NULL). */
        if (d->children[i]->release)
            d->children[i]->release(d->children[i]);
        free(d->children[i]);
    }
    free(d->children);
    free(d);
    a->release = NULL;
}

static void release_schema(struct ArrowSchema *s)
{
    schema_data *d = s->private_data;
    for (int64_t i = 0; d->children && i < s->n_children; i++) {
        if (d->children[i]->release)
            d->children[i]->release(d->children[i]);
        free(d->children[i]);
    }
    free(d->children);
    free(d->format);
    free(d->name);
    free(d);
    s->release = NULL;
}

/* A copy of n bytes of b (at least one byte, so that the pointer is never NULL). */
static void *copy_bytes(const nbi_buf *b, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, b->data, n);
    return p;
}

static nb_status export_child_array(const nbi_column *c, int64_t rows, struct ArrowArray *a)
{
    child_data *d = calloc(1, sizeof *d);
    if (!d)
        return nbi_fail(NB_NO_MEMORY, "export: out of memory");
    bool variable = nbi_column_type_is_variable(c->type);
    bool ok = true;
    if (c->null_count > 0)
        ok = (d->owned[0] = copy_bytes(&c->validity, c->validity.len)) != NULL;
    if (variable) {
        ok = ok && (d->owned[1] = copy_bytes(&c->offsets, c->offsets.len)) &&
             (d->owned[2] = copy_bytes(&c->values, c->values.len));
    } else {
        ok = ok && (d->owned[1] = copy_bytes(&c->values, c->values.len));
    }
    for (int i = 0; i < 3; i++)
        d->buffers[i] = d->owned[i];
    *a = (struct ArrowArray){.length = rows, .null_count = c->null_count,
                             .n_buffers = variable ? 3 : 2, .buffers = d->buffers,
                             .release = release_child_array, .private_data = d};
    if (!ok) {
        release_child_array(a);
        return nbi_fail(NB_NO_MEMORY, "export: out of memory copying column '%.100s'", c->name);
    }
    return NB_OK;
}

static nb_status export_schema(const char *format, const char *name, int64_t flags,
                               struct ArrowSchema *s)
{
    schema_data *d = calloc(1, sizeof *d);
    if (d) {
        d->format = nbi_strdup(format);
        d->name = nbi_strdup(name);
    }
    *s = (struct ArrowSchema){.format = d ? d->format : NULL, .name = d ? d->name : NULL,
                              .flags = flags, .release = release_schema, .private_data = d};
    if (!d || !d->format || !d->name) {
        if (d)
            release_schema(s);
        return nbi_fail(NB_NO_MEMORY, "export: out of memory");
    }
    return NB_OK;
}

static nb_status export_children_schema(const nb_table *t, struct ArrowSchema *parent)
{
    schema_data *d = parent->private_data;
    if (!(d->children = calloc(t->n_cols ? t->n_cols : 1, sizeof *d->children)))
        return nbi_fail(NB_NO_MEMORY, "export: out of memory");
    for (size_t i = 0; i < t->n_cols; i++) {
        const nbi_column *c = &t->cols[i];
        char *format = format_of(c);
        struct ArrowSchema *child = calloc(1, sizeof *child);
        nb_status s = format && child ? export_schema(format, c->name,
                                                      c->nullable ? ARROW_FLAG_NULLABLE : 0,
                                                      child)
                                      : nbi_fail(NB_NO_MEMORY, "export: out of memory");
        free(format);
        if (s != NB_OK) {
            free(child);
            return s;
        }
        d->children[i] = child;
        parent->n_children++; /* counted as made, so that release frees exactly those */
    }
    parent->children = d->children;
    return NB_OK;
}

static nb_status export_array(const nb_table *t, struct ArrowArray *a)
{
    parent_array *d = calloc(1, sizeof *d);
    struct ArrowArray **children = calloc(t->n_cols ? t->n_cols : 1, sizeof *children);
    if (!d || !children) {
        free(d);
        free(children);
        return nbi_fail(NB_NO_MEMORY, "export: out of memory");
    }
    d->children = children;
    *a = (struct ArrowArray){.length = t->rows, .n_buffers = 1, .buffers = d->buffers,
                             .children = children, .release = release_parent_array,
                             .private_data = d};
    for (size_t i = 0; i < t->n_cols; i++) {
        struct ArrowArray *child = calloc(1, sizeof *child);
        nb_status s = child ? export_child_array(&t->cols[i], t->rows, child)
                            : nbi_fail(NB_NO_MEMORY, "export: out of memory");
        if (s != NB_OK) {
            free(child);
            release_parent_array(a);
            return s;
        }
        children[i] = child;
        a->n_children++;
    }
    return NB_OK;
}

nb_status nb_table_export(const nb_table *t, struct ArrowSchema *out_schema,
                          struct ArrowArray *out_array)
{
    if (!t || !out_schema || !out_array)
        return nbi_fail(NB_INVALID_ARG, "export: NULL table, schema or array");
    memset(out_schema, 0, sizeof *out_schema);
    memset(out_array, 0, sizeof *out_array);
    nb_status s = export_schema("+s", "", 0, out_schema);
    if (s == NB_OK && (s = export_children_schema(t, out_schema)) != NB_OK)
        out_schema->release(out_schema);
    if (s == NB_OK && (s = export_array(t, out_array)) != NB_OK)
        out_schema->release(out_schema);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Import                                                                   */
/* ------------------------------------------------------------------------ */

/* The struct's own validity: natsbridge tables have no null rows. */
static nb_status check_parent(const struct ArrowSchema *s, const struct ArrowArray *a)
{
    if (!s->format || strcmp(s->format, "+s") != 0)
        return nbi_fail(NB_INVALID_ARG, "import: format '%.32s' is not a struct array (\"+s\")",
                        s->format ? s->format : "(null)");
    if (s->dictionary || a->dictionary)
        return nbi_fail(NB_INVALID_ARG, "import: the struct array is dictionary-encoded");
    if (s->n_children != a->n_children || s->n_children < 0)
        return nbi_fail(NB_INVALID_ARG, "import: schema has %lld children, array %lld",
                        (long long)s->n_children, (long long)a->n_children);
    if ((s->n_children && (!s->children || !a->children)) || a->length < 0 || a->offset < 0 ||
        a->offset > INT64_MAX - a->length)
        return nbi_fail(NB_INVALID_ARG, "import: struct array without children or with a "
                                        "negative length or offset");
    if (a->n_buffers != 1 || !a->buffers)
        return nbi_fail(NB_INVALID_ARG, "import: struct array has %lld buffers, expected 1",
                        (long long)a->n_buffers);
    const uint8_t *valid = a->buffers[0];
    if (a->null_count != 0 && valid && nbi_count_nulls(valid, a->offset, a->length) > 0)
        return nbi_fail(NB_INVALID_ARG, "import: the struct array has null rows (unsupported)");
    return NB_OK;
}

static nb_status check_child(const struct ArrowSchema *cs, const struct ArrowArray *ca,
                             int64_t i, const char *name, nb_column_type type, int64_t need)
{
    bool variable = nbi_column_type_is_variable(type);
    if (cs->dictionary || ca->dictionary)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': dictionary-encoded "
                                        "columns are not supported", (long long)i, name);
    if (cs->n_children != 0 || ca->n_children != 0)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': %s has children",
                        (long long)i, name, cs->format);
    if (ca->n_buffers != (variable ? 3 : 2) || !ca->buffers)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': %lld buffers for "
                        "format '%s', expected %d", (long long)i, name,
                        (long long)ca->n_buffers, cs->format, variable ? 3 : 2);
    if (ca->offset < 0 || ca->length < need)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': length %lld is shorter "
                        "than the table's %lld rows", (long long)i, name,
                        (long long)ca->length, (long long)need);
    if (ca->offset > INT64_MAX - ca->length)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': offset %lld overflows",
                        (long long)i, name, (long long)ca->offset);
    if (ca->null_count < -1 || (need > 0 && ca->null_count > 0 && !ca->buffers[0]))
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': null_count %lld without "
                        "a validity buffer (or below -1)", (long long)i, name,
                        (long long)ca->null_count);
    if (need > 0 && !ca->buffers[1])
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': its %s buffer is NULL",
                        (long long)i, name, variable ? "offsets" : "values");
    return NB_OK;
}

/* Copies the rows [start, start + rows) of one child into a new column of t. */
static nb_status import_child(nb_table *t, const struct ArrowSchema *cs,
                              const struct ArrowArray *ca, int64_t i, int64_t start,
                              int64_t rows)
{
    if (!cs || !ca || !cs->format)
        return nbi_fail(NB_INVALID_ARG, "import: column %lld is NULL or has no format",
                        (long long)i);
    const char *name = cs->name ? cs->name : "";
    nb_column_type type;
    nb_time_unit unit;
    const char *tz;
    if (!parse_format(cs->format, &type, &unit, &tz))
        return nbi_fail(NB_INVALID_ARG, "import: column %lld '%.100s': unsupported format '%.32s'",
                        (long long)i, name, cs->format);
    nb_status s = check_child(cs, ca, i, name, type, start + rows);
    nbi_column *c = NULL;
    if (s == NB_OK)
        s = nbi_table_add_column(t, name, type, unit, tz,
                                 (cs->flags & ARROW_FLAG_NULLABLE) != 0, &c);
    if (s != NB_OK || rows == 0)
        return s;
    int64_t at = ca->offset + start;
    const uint8_t *valid = ca->null_count != 0 ? ca->buffers[0] : NULL;
    if (nbi_column_type_is_variable(type)) {
        const int32_t *off = (const int32_t *)ca->buffers[1] + at;
        /* The C interface gives no buffer sizes: the last offset bounds the data. */
        size_t data_len = ca->buffers[2] && off[rows] > 0 ? (size_t)off[rows] : 0;
        return nbi_column_append(c, rows, ca->null_count, valid, at, NULL, 0, off,
                                 ca->buffers[2], data_len);
    }
    return nbi_column_append(c, rows, ca->null_count, valid, at, ca->buffers[1], at, NULL, NULL,
                             0);
}

static nb_status import_table(nb_table *t, struct ArrowSchema *s, struct ArrowArray *a)
{
    nb_status st = check_parent(s, a);
    for (int64_t i = 0; st == NB_OK && i < s->n_children; i++)
        st = import_child(t, s->children[i], a->children[i], i, a->offset, a->length);
    if (st == NB_OK)
        t->rows = a->length;
    return st;
}

nb_status nb_table_import(nb_table **out, struct ArrowSchema *schema, struct ArrowArray *array)
{
    nb_status s = NB_OK;
    if (out)
        *out = NULL;
    if (!out || !schema || !array)
        s = nbi_fail(NB_INVALID_ARG, "import: NULL out, schema or array");
    else if (!schema->release || !array->release)
        s = nbi_fail(NB_INVALID_ARG, "import: %s already released (release is NULL)",
                     !schema->release ? "schema" : "array");
    nb_table *t = NULL;
    if (s == NB_OK)
        s = nb_table_create(&t);
    if (s == NB_OK)
        s = import_table(t, schema, array);
    /* Taken in every case: the data was copied (or refused), so release now. */
    if (schema && schema->release)
        schema->release(schema);
    if (array && array->release)
        array->release(array);
    if (s != NB_OK) {
        nb_table_destroy(t);
        return s;
    }
    *out = t;
    return NB_OK;
}
