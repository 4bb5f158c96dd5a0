/* SPDX-License-Identifier: MIT */
/*
 * table.h - the in-memory table of natsbridge (nb_table): a schema and one
 * contiguous Arrow-layout array per column. The Arrow IPC codec (ipc_read.c,
 * ipc_write.c), the C Data Interface (table_cdata.c) and jsontable.c all read
 * and fill this one representation, so a table is laid out exactly once.
 */
#ifndef NB_TABLE_H
#define NB_TABLE_H

#include "buf.h"
#include "internal.h"

/* The most rows a column holds: rows * 16 and bit counts stay far from overflow. */
#define NBI_MAX_ROWS ((int64_t)(SIZE_MAX / 16 < INT64_MAX / 16 ? SIZE_MAX / 16 : INT64_MAX / 16))

/* One column: Arrow's buffers for it, rows = the table's row count. */
typedef struct nbi_column {
    char *name;          /* UTF-8, may be empty, duplicates allowed (as in Arrow) */
    nb_column_type type;
    nb_time_unit unit;   /* NB_COL_TIMESTAMP only */
    char *timezone;      /* NB_COL_TIMESTAMP only; NULL: naive (no zone) */
    bool nullable;       /* the schema's flag; nulls are refused when false */
    int64_t null_count;
    nbi_buf validity;    /* LSB-first bitmap, 1 = valid; len 0 while null_count == 0 */
    nbi_buf values;      /* fixed-width little-endian values; bool bit-packed; utf8/binary bytes */
    nbi_buf offsets;     /* utf8/binary: int32 offsets, rows + 1 of them, offsets[0] == 0 */
    int64_t length;      /* rows appended so far (bool bits do not tell); set by append */
} nbi_column;

struct nb_table {
    nbi_column *cols;
    size_t n_cols, cap_cols;
    int64_t rows;        /* every column holds exactly this many rows */
};

/* Bytes per value of a fixed-width type; 0 for bool (bits), utf8 and binary. */
size_t nbi_column_type_width(nb_column_type t);
/* Arrow's name of a type, as errors print it ("int64", "timestamp"...). */
const char *nbi_column_type_name(nb_column_type t);

/* Whether t is utf8 or binary: int32 offsets and a data buffer instead of fixed-width values. */
static inline bool nbi_column_type_is_variable(nb_column_type t)
{
    return t == NB_COL_UTF8 || t == NB_COL_BINARY;
}

/* Whether t is a signed integer type (int8 to int64). */
static inline bool nbi_column_type_is_signed(nb_column_type t)
{
    return t >= NB_COL_INT8 && t <= NB_COL_INT64;
}

/*
 * Adds an empty column to t (zero rows; only valid while t->rows == 0) and
 * returns it in *out (a view until t changes shape). Names the column in errors.
 */
nb_status nbi_table_add_column(nb_table *t, const char *name, nb_column_type type,
                               nb_time_unit unit, const char *timezone, bool nullable,
                               nbi_column **out);

/*
 * Appends one array of length rows to column c, copying once: validity (NULL
 * when there are no nulls) starts at bit validity_bit; values are the type's
 * values buffer, starting at element (or bit, for bool) offset element_offset;
 * offsets (utf8/binary) are rows + 1 int32 already checked monotonic and within
 * data_len; they are rebased onto the column's data. The caller then sets
 * t->rows once every column has grown by the same count.
 * Whatever the caller checked, append checks again what it relies on: the
 * offsets (nbi_check_offsets), UTF-8 of every non-null utf8 value, and the
 * nulls, recounted from validity (null_count is only a hint; -1 is fine).
 * On failure the column is left as it was.
 */
nb_status nbi_column_append(nbi_column *c, int64_t rows, int64_t null_count,
                            const uint8_t *validity, int64_t validity_bit,
                            const uint8_t *values, int64_t element_offset,
                            const int32_t *offsets, const uint8_t *data, size_t data_len);

/*
 * Checks rows + 1 int32 offsets: offsets[0] >= 0, monotonic, offsets[rows] <=
 * data_len. who names the column in the error (NB_BAD_PAYLOAD).
 */
nb_status nbi_check_offsets(const int32_t *offsets, int64_t rows, size_t data_len,
                            const char *who);

/*
 * Whether rows + 1 int32 offsets (host order, any alignment: an IPC body's
 * may be unaligned) never go down. A quick pass for the common case; callers
 * look for the row to name in errors only when it says no.
 */
bool nbi_offsets_rise(const void *offsets, int64_t rows);

/* Number of zero bits among bits [bit, bit + n) of bitmap (LSB first). */
int64_t nbi_count_nulls(const uint8_t *bitmap, int64_t bit, int64_t n);

/* Whether row i of c is valid (not null). */
static inline bool nbi_column_is_valid(const nbi_column *c, int64_t i)
{
    return c->validity.len == 0 || ((c->validity.data[i >> 3] >> (i & 7)) & 1);
}

#endif /* NB_TABLE_H */
