/*
 * ipc_read.c - Arrow IPC stream, legacy stream and file bytes to an nb_table
 * (Columnar.rst, "Serialization and IPC"; shared/reference/arrow-ipc.md §4).
 *
 * The bytes are untrusted: every flatbuffer access is bounds-checked
 * (flatbuf.c), every buffer must lie inside its message body, and every
 * length is compared with the batch length before anything is copied.
 * Reading is two passes: first every message is parsed and checked and its
 * record batches listed; then the columns are reserved at their final size
 * and each batch appended, so the data is copied once.
 */
#include "ipc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h" /* nbi_utf8_valid */

/* One framed message: its metadata flatbuffer and its body. */
typedef struct message {
    size_t start;            /* offset of the message in the input */
    bool end;                /* no message: EOS marker or end of input */
    uint8_t header_type;
    nbi_fb_table header;
    const uint8_t *body;
    size_t body_len;
} message;

/* A checked record batch, appended in the second pass. */
typedef struct batch {
    size_t start;            /* offset of its message in the input (file blocks name it) */
    int64_t length;
    const uint8_t *body;
    nbi_fb_vec nodes, buffers;
} batch;

typedef struct reader {
    const uint8_t *data;
    size_t len;              /* the stream ends here (a file's footer follows) */
    size_t pos;
    size_t n_msgs;           /* messages read, for error messages */
    bool file;               /* the schema came from a file's footer */
    nb_table *t;
    batch *batches;
    size_t n_batches, cap_batches;
} reader;

static const char *const type_names[NBI_IPC_T_LAST + 1] = {
    "NONE", "Null", "Int", "FloatingPoint", "Binary", "Utf8", "Bool", "Decimal", "Date", "Time",
    "Timestamp", "Interval", "List", "Struct", "Union", "FixedSizeBinary", "FixedSizeList",
    "Map", "Duration", "LargeBinary", "LargeUtf8", "LargeList", "RunEndEncoded", "BinaryView",
    "Utf8View", "ListView", "LargeListView"};

/* ------------------------------------------------------------------------ */
/* Framing                                                                  */
/* ------------------------------------------------------------------------ */

/* Reads [0xFFFFFFFF] int32 metadata_size (the marker is absent in legacy streams). */
static nb_status read_prefix(reader *r, size_t *prefix, uint32_t *size)
{
    size_t rem = r->len - r->pos;
    if (rem < 4)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: message %zu: cut short (%zu bytes left)",
                        r->n_msgs, rem);
    *size = nbi_le32(r->data + r->pos);
    *prefix = 4;
    if (*size == NBI_IPC_CONTINUATION) {
        if (rem < 8)
            return nbi_fail(NB_BAD_PAYLOAD, "arrow: message %zu: cut short after its marker",
                            r->n_msgs);
        *size = nbi_le32(r->data + r->pos + 4);
        *prefix = 8;
    }
    if (*size > INT32_MAX)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: message %zu: negative metadata size %d",
                        r->n_msgs, (int32_t)*size);
    if (*size > rem - *prefix)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "arrow: message %zu: metadata of %u bytes, only %zu bytes left",
                        r->n_msgs, *size, rem - *prefix);
    return NB_OK;
}

/* Checks the Message table: version V4 or V5, a header, a body inside the input. */
static nb_status read_message_table(reader *r, const nbi_fb_table *msg, size_t after, message *m)
{
    int16_t version;
    int64_t body_len;
    bool has_header;
    nb_status s = nbi_fb_i16(msg, NBI_MSG_VERSION, 0, &version);
    if (s == NB_OK && version != NBI_IPC_V4 && version != NBI_IPC_V5)
        s = nbi_fail(NB_BAD_PAYLOAD, "metadata version V%d is not supported (V4 and V5 are)",
                     version + 1);
    if (s == NB_OK)
        s = nbi_fb_u8(msg, NBI_MSG_HEADER_TYPE, 0, &m->header_type);
    if (s == NB_OK)
        s = nbi_fb_table_field(msg, NBI_MSG_HEADER, &m->header, &has_header);
    if (s == NB_OK && !has_header)
        s = nbi_fail(NB_BAD_PAYLOAD, "message has no header");
    if (s == NB_OK)
        s = nbi_fb_i64(msg, NBI_MSG_BODY_LEN, 0, &body_len);
    if (s == NB_OK && (body_len < 0 || (uint64_t)body_len > r->len - after))
        s = nbi_fail(NB_BAD_PAYLOAD, "body of %lld bytes, only %zu bytes left",
                     (long long)body_len, r->len - after);
    if (s != NB_OK)
        return s;
    m->body = r->data + after;
    m->body_len = (size_t)body_len;
    return NB_OK;
}

/* Reads the next message at r->pos; m->end at EOS or at the end of the input. */
static nb_status next_message(reader *r, message *m)
{
    size_t prefix = 0;
    uint32_t size = 0;
    nbi_fb_table msg;
    memset(m, 0, sizeof *m);
    m->start = r->pos;
    if (r->pos == r->len) {
        m->end = true; /* a stream may end without EOS */
        return NB_OK;
    }
    nb_status s = read_prefix(r, &prefix, &size);
    if (s != NB_OK || size == 0) {
        m->end = true; /* size 0: the end-of-stream marker */
        return s;
    }
    s = nbi_fb_root(&msg, r->data + r->pos + prefix, size);
    if (s == NB_OK)
        s = read_message_table(r, &msg, r->pos + prefix + size, m);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: message %zu", r->n_msgs);
    r->pos += prefix + size + m->body_len;
    r->n_msgs++;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */
/* ------------------------------------------------------------------------ */

/* Column type from an Int table. */
static nb_status int_type(const nbi_fb_table *ty, nb_column_type *out)
{
    int32_t bits;
    bool sign;
    nb_status s = nbi_fb_i32(ty, 0, 0, &bits);
    if (s == NB_OK)
        s = nbi_fb_bool(ty, 1, false, &sign);
    if (s != NB_OK)
        return s;
    int k = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : bits == 64 ? 3 : -1;
    if (k < 0)
        return nbi_fail(NB_BAD_PAYLOAD, "type Int has bit width %d", bits);
    *out = (nb_column_type)((sign ? NB_COL_INT8 : NB_COL_UINT8) + k);
    return NB_OK;
}

static nb_status float_type(const nbi_fb_table *ty, nb_column_type *out)
{
    int16_t precision;
    nb_status s = nbi_fb_i16(ty, 0, 0, &precision);
    if (s != NB_OK)
        return s;
    if (precision == 0)
        return nbi_fail(NB_BAD_PAYLOAD, "type FloatingPoint(HALF) is not supported");
    if (precision != 1 && precision != 2)
        return nbi_fail(NB_BAD_PAYLOAD, "type FloatingPoint has unknown precision %d", precision);
    *out = precision == 1 ? NB_COL_FLOAT32 : NB_COL_FLOAT64;
    return NB_OK;
}

static nb_status date_type(const nbi_fb_table *ty, nb_column_type *out)
{
    int16_t unit;
    nb_status s = nbi_fb_i16(ty, 0, 1, &unit); /* MILLISECOND when absent */
    if (s != NB_OK)
        return s;
    if (unit == 1)
        return nbi_fail(NB_BAD_PAYLOAD, "type Date(MILLISECOND) is not supported");
    if (unit != 0)
        return nbi_fail(NB_BAD_PAYLOAD, "type Date has unknown unit %d", unit);
    *out = NB_COL_DATE32;
    return NB_OK;
}

/* Timestamp unit and timezone (a view into the buffer, NUL-terminated; NULL when naive). */
static nb_status timestamp_type(const nbi_fb_table *ty, nb_time_unit *unit, const char **tz)
{
    int16_t u;
    size_t n;
    nb_status s = nbi_fb_i16(ty, 0, 0, &u);
    if (s == NB_OK)
        s = nbi_fb_string(ty, 1, tz, &n);
    if (s != NB_OK)
        return s;
    if (u < 0 || u > NB_TIME_NANOSECOND)
        return nbi_fail(NB_BAD_PAYLOAD, "type Timestamp has unknown unit %d", u);
    if (*tz && (strlen(*tz) != n || !nbi_utf8_valid((const uint8_t *)*tz, n)))
        return nbi_fail(NB_BAD_PAYLOAD, "timestamp timezone is not valid UTF-8 text");
    *unit = (nb_time_unit)u;
    return NB_OK;
}

typedef struct field_type {
    nb_column_type type;
    nb_time_unit unit;
    const char *timezone;
} field_type;

/* Maps Field.type (union code code, table ty) to a column type, or names it unsupported. */
static nb_status map_type(uint8_t code, const nbi_fb_table *ty, field_type *ft)
{
    switch (code) {
    case NBI_IPC_T_INT: return int_type(ty, &ft->type);
    case NBI_IPC_T_FLOAT: return float_type(ty, &ft->type);
    case NBI_IPC_T_DATE: return date_type(ty, &ft->type);
    case NBI_IPC_T_BINARY: ft->type = NB_COL_BINARY; return NB_OK;
    case NBI_IPC_T_UTF8: ft->type = NB_COL_UTF8; return NB_OK;
    case NBI_IPC_T_BOOL: ft->type = NB_COL_BOOL; return NB_OK;
    case NBI_IPC_T_TIMESTAMP:
        ft->type = NB_COL_TIMESTAMP;
        return timestamp_type(ty, &ft->unit, &ft->timezone);
    default:
        if (code == 0 || code > NBI_IPC_T_LAST)
            return nbi_fail(NB_BAD_PAYLOAD, "unknown type code %u", code);
        return nbi_fail(NB_BAD_PAYLOAD, "type %s is not supported", type_names[code]);
    }
}

/* The Field's type, refusing dictionaries and nested children. */
static nb_status field_type_of(const nbi_fb_table *f, field_type *ft)
{
    uint8_t code;
    bool has_type;
    nbi_fb_table ty;
    nbi_fb_vec children;
    if (nbi_fb_has(f, NBI_FIELD_DICTIONARY))
        return nbi_fail(NB_BAD_PAYLOAD, "dictionary-encoded columns are not supported");
    nb_status s = nbi_fb_u8(f, NBI_FIELD_TYPE_TYPE, 0, &code);
    if (s == NB_OK)
        s = nbi_fb_table_field(f, NBI_FIELD_TYPE, &ty, &has_type);
    if (s == NB_OK && !has_type)
        s = nbi_fail(NB_BAD_PAYLOAD, "field has no type");
    if (s == NB_OK)
        s = map_type(code, &ty, ft);
    if (s == NB_OK)
        s = nbi_fb_vector(f, NBI_FIELD_CHILDREN, 4, &children);
    if (s == NB_OK && children.count)
        s = nbi_fail(NB_BAD_PAYLOAD, "type %s has %u children", type_names[code],
                     children.count);
    return s;
}

/* Adds the column of Field table f (index i) to r->t. */
static nb_status add_field(reader *r, const nbi_fb_table *f, size_t i)
{
    const char *name;
    size_t n;
    bool nullable;
    field_type ft = {NB_COL_BOOL, NB_TIME_SECOND, NULL};
    nbi_column *col;
    nb_status s = nbi_fb_string(f, NBI_FIELD_NAME, &name, &n);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: column %zu: name", i);
    if (name && (strlen(name) != n || !nbi_utf8_valid((const uint8_t *)name, n)))
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: column %zu: name is not valid UTF-8 text", i);
    name = name ? name : "";
    s = nbi_fb_bool(f, NBI_FIELD_NULLABLE, false, &nullable);
    if (s == NB_OK)
        s = field_type_of(f, &ft);
    if (s == NB_OK)
        s = nbi_table_add_column(r->t, name, ft.type, ft.unit, ft.timezone, nullable, &col);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: column '%.100s'", name);
    return NB_OK;
}

/* Adds a column to r->t per field of the Schema table sc. */
static nb_status read_schema(reader *r, const nbi_fb_table *sc)
{
    int16_t endianness;
    nbi_fb_vec fields;
    nbi_fb_table f;
    nb_status s = nbi_fb_i16(sc, NBI_SCHEMA_ENDIANNESS, 0, &endianness);
    if (s == NB_OK && endianness != 0)
        s = nbi_fail(NB_BAD_PAYLOAD, "big-endian streams are not supported");
    if (s == NB_OK)
        s = nbi_fb_vector(sc, NBI_SCHEMA_FIELDS, 4, &fields);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: schema");
    for (size_t i = 0; s == NB_OK && i < fields.count; i++) {
        s = nbi_fb_vec_table(&fields, i, &f);
        if (s != NB_OK)
            return nbi_fail_prefix(s, "arrow: schema: field %zu", i);
        s = add_field(r, &f, i);
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* Record batches: pass 1, checks                                           */
/* ------------------------------------------------------------------------ */

/* A buffer of a batch, checked inside the body. */
typedef struct span {
    const uint8_t *p;
    size_t len;
} span;

static nb_status get_buffer(const batch *b, size_t body_len, size_t k, span *out)
{
    const uint8_t *e = nbi_fb_vec_at(&b->buffers, k, NBI_IPC_STRUCT16);
    int64_t off = (int64_t)nbi_le64(e), len = (int64_t)nbi_le64(e + 8);
    if (off < 0 || len < 0 || (uint64_t)off > body_len || (uint64_t)len > body_len - (uint64_t)off)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "buffer %zu (offset %lld, length %lld) lies outside the %zu-byte body", k,
                        (long long)off, (long long)len, body_len);
    *out = (span){b->body + off, (size_t)len};
    return NB_OK;
}

/* The bytes a buffer needs for n elements of width bytes (bits when width is 0). */
static nb_status need_bytes(const span *sp, uint64_t n, size_t width, const char *what)
{
    /* Unsigned: n may be INT64_MAX + 1; past SIZE_MAX / 8 no buffer can be big enough. */
    uint64_t need = width ? n * width : n / 8 + (n % 8 != 0);
    if (n > SIZE_MAX / 8 || sp->len < need)
        return nbi_fail(NB_BAD_PAYLOAD, "%s buffer has %zu bytes, %llu elements need %llu", what,
                        sp->len, (unsigned long long)n, (unsigned long long)need);
    return NB_OK;
}

/* Validity: null_count must match the bitmap (a missing bitmap means no nulls). */
static nb_status check_validity(const span *v, int64_t rows, int64_t null_count)
{
    if (null_count < 0 || null_count > rows)
        return nbi_fail(NB_BAD_PAYLOAD, "null_count %lld of %lld rows", (long long)null_count,
                        (long long)rows);
    if (v->len == 0) {
        if (null_count != 0)
            return nbi_fail(NB_BAD_PAYLOAD, "null_count %lld without a validity bitmap",
                            (long long)null_count);
        return NB_OK;
    }
    nb_status s = need_bytes(v, (uint64_t)rows, 0, "validity");
    int64_t counted = s == NB_OK ? nbi_count_nulls(v->p, 0, rows) : 0;
    if (s == NB_OK && counted != null_count)
        s = nbi_fail(NB_BAD_PAYLOAD, "null_count %lld but the bitmap has %lld nulls",
                     (long long)null_count, (long long)counted);
    return s;
}

/* utf8/binary offsets: the first and last lie inside the data (append checks the rest). */
static nb_status check_offsets(const span *offs, const span *data, int64_t rows)
{
    if (rows == 0 && offs->len == 0)
        return NB_OK; /* some writers leave the offsets of an empty array out */
    nb_status s = need_bytes(offs, (uint64_t)rows + 1, 4, "offsets");
    if (s != NB_OK)
        return s;
    int32_t first = (int32_t)nbi_le32(offs->p), last = (int32_t)nbi_le32(offs->p + 4 * rows);
    if (first < 0 || last < first || (uint64_t)last > data->len)
        return nbi_fail(NB_BAD_PAYLOAD, "offsets run from %d to %d, data has %zu bytes", first,
                        last, data->len);
    return NB_OK;
}

/* Column c's FieldNode and buffers starting at *k; *used adds up their lengths. */
static nb_status check_column(const batch *b, size_t body_len, const nbi_column *c, size_t i,
                              size_t *k, uint64_t *used)
{
    const uint8_t *node = nbi_fb_vec_at(&b->nodes, i, NBI_IPC_STRUCT16);
    int64_t rows = (int64_t)nbi_le64(node), nulls = (int64_t)nbi_le64(node + 8);
    span sp[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t np = nbi_ipc_buffer_count(c->type);
    nb_status s = NB_OK;
    if (rows != b->length)
        return nbi_fail(NB_BAD_PAYLOAD, "field node length %lld, the batch has %lld rows",
                        (long long)rows, (long long)b->length);
    for (size_t j = 0; s == NB_OK && j < np; j++) {
        s = get_buffer(b, body_len, (*k)++, &sp[j]);
        *used += s == NB_OK ? sp[j].len : 0;
    }
    if (s == NB_OK)
        s = check_validity(&sp[0], rows, nulls);
    if (s == NB_OK && np == 3)
        s = check_offsets(&sp[1], &sp[2], rows);
    else if (s == NB_OK)
        s = need_bytes(&sp[1], (uint64_t)rows, nbi_column_type_width(c->type), "values");
    return s;
}

static nb_status check_batch(const reader *r, const batch *b, size_t body_len)
{
    size_t need = 0, k = 0;
    uint64_t used = 0;
    for (size_t i = 0; i < r->t->n_cols; i++)
        need += nbi_ipc_buffer_count(r->t->cols[i].type);
    if (b->nodes.count != r->t->n_cols)
        return nbi_fail(NB_BAD_PAYLOAD, "%u field nodes for %zu columns", b->nodes.count,
                        r->t->n_cols);
    if (b->buffers.count != need)
        return nbi_fail(NB_BAD_PAYLOAD, "%u buffers, the schema needs %zu", b->buffers.count,
                        need);
    for (size_t i = 0; i < r->t->n_cols; i++) {
        nb_status s = check_column(b, body_len, &r->t->cols[i], i, &k, &used);
        if (s != NB_OK)
            return nbi_fail_prefix(s, "column '%.100s'", r->t->cols[i].name);
    }
    /* Writers lay buffers out one after another; overlapping ones would let a
     * small body expand into many copies of itself. */
    if (used > body_len)
        return nbi_fail(NB_BAD_PAYLOAD, "buffers of %llu bytes overlap in a %zu-byte body",
                        (unsigned long long)used, body_len);
    return NB_OK;
}

static nb_status refuse_compression(const nbi_fb_table *rb)
{
    nbi_fb_table comp;
    bool present;
    uint8_t codec = 0;
    nb_status s = nbi_fb_table_field(rb, NBI_RB_COMPRESSION, &comp, &present);
    if (s == NB_OK && present)
        s = nbi_fb_u8(&comp, 0, 0, &codec);
    if (s == NB_OK && present) {
        const char *name = codec == 0 ? "LZ4_FRAME" : codec == 1 ? "ZSTD" : "unknown codec";
        s = nbi_fail(NB_BAD_PAYLOAD, "compressed record batches (%s) are not supported", name);
    }
    return s;
}

/* Parses and checks the RecordBatch of m into b. */
static nb_status parse_batch(const reader *r, const message *m, batch *b)
{
    const nbi_fb_table *rb = &m->header;
    b->start = m->start;
    b->body = m->body;
    nb_status s = refuse_compression(rb);
    if (s == NB_OK)
        s = nbi_fb_i64(rb, NBI_RB_LENGTH, 0, &b->length);
    if (s == NB_OK && b->length < 0)
        s = nbi_fail(NB_BAD_PAYLOAD, "negative length %lld", (long long)b->length);
    if (s == NB_OK && b->length > INT64_MAX - r->t->rows)
        s = nbi_fail(NB_BAD_PAYLOAD, "row count overflows");
    if (s == NB_OK)
        s = nbi_fb_vector(rb, NBI_RB_NODES, NBI_IPC_STRUCT16, &b->nodes);
    if (s == NB_OK)
        s = nbi_fb_vector(rb, NBI_RB_BUFFERS, NBI_IPC_STRUCT16, &b->buffers);
    if (s == NB_OK)
        s = check_batch(r, b, m->body_len);
    return s;
}

static nb_status add_batch(reader *r, const message *m)
{
    if (r->n_batches == r->cap_batches) {
        size_t cap = r->cap_batches ? 2 * r->cap_batches : 8;
        batch *grown = realloc(r->batches, cap * sizeof *grown);
        if (!grown)
            return nbi_fail(NB_NO_MEMORY, "arrow: cannot list %zu record batches", cap);
        r->batches = grown;
        r->cap_batches = cap;
    }
    batch *b = &r->batches[r->n_batches];
    nb_status s = parse_batch(r, m, b);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: record batch %zu", r->n_batches);
    r->t->rows += b->length; /* a running total for the overflow check; reset before appending */
    r->n_batches++;
    return NB_OK;
}

/* Every message after the schema, up to EOS or the end. */
static nb_status read_batches(reader *r)
{
    message m;
    nb_status s;
    while ((s = next_message(r, &m)) == NB_OK && !m.end) {
        if (m.header_type == NBI_IPC_HDR_RECORD_BATCH)
            s = add_batch(r, &m);
        else if (m.header_type == NBI_IPC_HDR_DICTIONARY)
            s = nbi_fail(NB_BAD_PAYLOAD, "arrow: dictionary batches are not supported");
        else if (m.header_type == NBI_IPC_HDR_SCHEMA && r->file && r->n_msgs == 1)
            continue; /* a file's copy of its footer's schema (apache-arrow JS leaves it out) */
        else if (m.header_type == NBI_IPC_HDR_SCHEMA)
            s = nbi_fail(NB_BAD_PAYLOAD, "arrow: message %zu: a second Schema", r->n_msgs - 1);
        else
            s = nbi_fail(NB_BAD_PAYLOAD, "arrow: message %zu: header type %u is not supported",
                         r->n_msgs - 1, m.header_type);
        if (s != NB_OK)
            break;
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* Record batches: pass 2, copies                                           */
/* ------------------------------------------------------------------------ */

/* Bytes of utf8/binary data of the column whose offsets are buffer k + 1 of every batch. */
static size_t variable_bytes(const reader *r, size_t k)
{
    size_t data = 0;
    for (size_t bi = 0; bi < r->n_batches; bi++) {
        const batch *b = &r->batches[bi];
        const uint8_t *e = nbi_fb_vec_at(&b->buffers, k + 1, NBI_IPC_STRUCT16);
        const uint8_t *offs = b->body + nbi_le64(e);
        if (b->length > 0) /* checked: 0 <= first <= last */
            data += nbi_le32(offs + 4 * b->length) - nbi_le32(offs);
    }
    return data;
}

/* Reserves every column's final size, so appending copies each byte once. */
static nb_status reserve_columns(reader *r)
{
    nb_status s = NB_OK;
    size_t rows = (size_t)r->t->rows, k = 0;
    for (size_t i = 0; s == NB_OK && i < r->t->n_cols; i++) {
        nbi_column *c = &r->t->cols[i];
        size_t w = nbi_column_type_width(c->type);
        if (c->type == NB_COL_BOOL)
            s = nbi_buf_reserve(&c->values, rows / 8 + 1);
        else if (w)
            s = nbi_buf_reserve(&c->values, rows * w);
        else if ((s = nbi_buf_reserve(&c->values, variable_bytes(r, k))) == NB_OK)
            s = nbi_buf_reserve(&c->offsets, 4 * rows);
        k += nbi_ipc_buffer_count(c->type);
    }
    return s;
}

/* Appends batch b's column c (buffers k on), copying offsets the body leaves unaligned. */
static nb_status append_column(const batch *b, nbi_column *c, size_t k)
{
    span sp[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t np = nbi_ipc_buffer_count(c->type);
    for (size_t j = 0; j < np; j++) {
        const uint8_t *e = nbi_fb_vec_at(&b->buffers, k + j, NBI_IPC_STRUCT16);
        sp[j] = (span){b->body + nbi_le64(e), (size_t)nbi_le64(e + 8)};
    }
    const uint8_t *validity = sp[0].len ? sp[0].p : NULL;
    if (np == 2)
        return nbi_column_append(c, b->length, -1, validity, 0, sp[1].p, 0, NULL, NULL, 0);
    if (b->length == 0)
        return NB_OK;
    int32_t *copy = NULL;
    const int32_t *offs = (const int32_t *)(const void *)sp[1].p;
    if ((uintptr_t)sp[1].p % _Alignof(int32_t)) {
        if (!(copy = malloc(4 * ((size_t)b->length + 1))))
            return nbi_fail(NB_NO_MEMORY, "arrow: cannot align %lld offsets",
                            (long long)b->length);
        memcpy(copy, sp[1].p, 4 * ((size_t)b->length + 1));
        offs = copy;
    }
    nb_status s = nbi_column_append(c, b->length, -1, validity, 0, NULL, 0, offs, sp[2].p,
                                    sp[2].len);
    free(copy);
    return s;
}

static nb_status append_batches(reader *r)
{
    nb_status s = reserve_columns(r);
    r->t->rows = 0;
    for (size_t bi = 0; s == NB_OK && bi < r->n_batches; bi++) {
        const batch *b = &r->batches[bi];
        size_t k = 0;
        for (size_t i = 0; s == NB_OK && i < r->t->n_cols; i++) {
            s = append_column(b, &r->t->cols[i], k);
            k += nbi_ipc_buffer_count(r->t->cols[i].type);
        }
        if (s != NB_OK)
            return nbi_fail_prefix(s, "arrow: record batch %zu", bi);
        r->t->rows += b->length;
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* Stream and file                                                          */
/* ------------------------------------------------------------------------ */

static nb_status read_stream(reader *r)
{
    message m;
    nb_status s = next_message(r, &m);
    if (s == NB_OK && (m.end || m.header_type != NBI_IPC_HDR_SCHEMA))
        s = nbi_fail(NB_BAD_PAYLOAD, "arrow: the stream does not start with a Schema message");
    if (s == NB_OK)
        s = read_schema(r, &m.header);
    if (s == NB_OK)
        s = read_batches(r);
    return s;
}

/* The record batch blocks of a file's footer must name the batches of its stream. */
static nb_status check_blocks(const reader *r, const nbi_fb_vec *blocks)
{
    if (blocks->count != r->n_batches)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "arrow file: the footer lists %u record batches, the stream holds %zu",
                        blocks->count, r->n_batches);
    for (size_t i = 0; i < r->n_batches; i++) {
        uint64_t off = nbi_le64(nbi_fb_vec_at(blocks, i, NBI_IPC_BLOCK_SIZE));
        if (off != r->batches[i].start)
            return nbi_fail(NB_BAD_PAYLOAD,
                            "arrow file: footer block %zu points at %llu, the batch is at %zu",
                            i, (unsigned long long)off, r->batches[i].start);
    }
    return NB_OK;
}

/*
 * Opens the footer of a file, [ARROW1\0\0][stream][footer][int32 size][ARROW1],
 * and reads its schema: the stream inside may lack the Schema message.
 */
static nb_status read_footer(reader *r, nbi_fb_vec *blocks)
{
    const size_t tail = 4 + NBI_IPC_MAGIC_LEN;
    nbi_fb_table footer, sc;
    bool has_schema;
    if (r->len < 8 + tail || memcmp(r->data + r->len - NBI_IPC_MAGIC_LEN, NBI_IPC_MAGIC,
                                    NBI_IPC_MAGIC_LEN) != 0)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow file: no ARROW1 magic at the end");
    uint32_t size = nbi_le32(r->data + r->len - tail);
    if (size == 0 || size > r->len - 8 - tail)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow file: footer size %u does not fit in %zu bytes",
                        size, r->len);
    size_t at = r->len - tail - size;
    nb_status s = nbi_fb_root(&footer, r->data + at, size);
    if (s == NB_OK)
        s = nbi_fb_vector(&footer, NBI_FOOTER_BATCHES, NBI_IPC_BLOCK_SIZE, blocks);
    if (s == NB_OK)
        s = nbi_fb_table_field(&footer, NBI_FOOTER_SCHEMA, &sc, &has_schema);
    if (s == NB_OK && !has_schema)
        s = nbi_fail(NB_BAD_PAYLOAD, "no schema");
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow file: footer");
    r->len = at; /* the stream ends where the footer starts */
    r->pos = 8;
    r->file = true;
    return read_schema(r, &sc);
}

static nb_status read_any(reader *r)
{
    nbi_fb_vec blocks;
    bool file = r->len >= NBI_IPC_MAGIC_LEN &&
                memcmp(r->data, NBI_IPC_MAGIC, NBI_IPC_MAGIC_LEN) == 0;
    nb_status s = file ? read_footer(r, &blocks) : read_stream(r);
    if (s == NB_OK && file)
        s = read_batches(r);
    if (s == NB_OK && file)
        s = check_blocks(r, &blocks);
    if (s == NB_OK)
        s = append_batches(r);
    return s;
}

nb_status nb_table_from_ipc(nb_table **out, const void *data, size_t len)
{
    if (out)
        *out = NULL;
    if (!out || (!data && len))
        return nbi_fail(NB_INVALID_ARG, "arrow: %s is NULL", !out ? "out" : "data");
    if (len == 0)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: empty input, no schema");
    reader r = {data, len, 0, 0, false, NULL, NULL, 0, 0};
    nb_status s = nb_table_create(&r.t);
    if (s == NB_OK)
        s = read_any(&r);
    free(r.batches);
    if (s != NB_OK) {
        nb_table_destroy(r.t);
        return s;
    }
    *out = r.t;
    return NB_OK;
}
