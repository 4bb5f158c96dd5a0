/* SPDX-License-Identifier: MIT */
/*
 * ipc_read.c - Arrow IPC stream, legacy stream and file bytes to an nb_table
 * (Columnar.rst, "Serialization and IPC"; shared/reference/arrow-ipc.md §4).
 *
 * The bytes are untrusted: every flatbuffer access is bounds-checked
 * (flatbuf.c), every buffer must lie inside its message body, and every
 * length is compared with the batch length before anything is copied.
 * Reading is two passes: first every message is parsed and checked, its
 * record batches listed and their dictionary indices checked; then the
 * columns are reserved at their final size and each batch appended, so the
 * data is copied once.
 *
 * Dictionary-encoded columns (apache-arrow JS encodes string arrays so) are
 * read as plain columns of their value type: nb_table has no dictionary
 * type. Dictionary batches stay views of the input; pass 2 copies each entry
 * a row names straight into the column. In a stream a dictionary batch
 * applies to the record batches after it (a delta appends entries, any other
 * replaces the dictionary); in a file every dictionary applies to every
 * batch, so a replacement is refused there, as Columnar.rst says.
 */
#include "ipc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h" /* nbi_utf8_valid */

/*
 * Dictionary entries copied into columns may add up to this many bytes:
 * 64 MiB, plus 1024 bytes per input byte. A few bytes of indices would
 * otherwise name a long entry millions of times.
 */
#define DICT_BASE_BYTES ((uint64_t)64 << 20)
#define DICT_EXPANSION 1024

/* One framed message: its metadata flatbuffer and its body. */
typedef struct message {
    size_t start;            /* offset of the message in the input */
    bool end;                /* no message: EOS marker or end of input */
    uint8_t header_type;
    nbi_fb_table header;
    const uint8_t *body;
    size_t body_len;
} message;

/* A buffer of a batch, checked inside the body. */
typedef struct span {
    const uint8_t *p;
    size_t len;
} span;

/* A checked record batch, appended in the second pass. */
typedef struct batch {
    size_t start;            /* offset of its message in the input (file blocks name it) */
    int64_t length;
    const uint8_t *body;
    nbi_fb_vec nodes, buffers;
    size_t refs;             /* r->refs[refs + d]: what it sees of dictionary d */
} batch;

typedef struct field_type {
    nb_column_type type;
    nb_time_unit unit;
    const char *timezone;    /* a view of the input; NULL or "" when naive */
} field_type;

/* One DictionaryBatch's entries, checked (views of the input). */
typedef struct dict_chunk {
    int64_t first;           /* index of its first entry in its dictionary */
    int64_t length;
    span sp[3];              /* validity, values or offsets, utf8/binary data */
} dict_chunk;

/* A dictionary of the schema and every batch received for it. */
typedef struct dictionary {
    int64_t id;
    field_type value;        /* the type of its entries */
    dict_chunk *chunks;
    size_t n_chunks, cap_chunks;
    size_t current;          /* the dictionary now: chunks [current, n_chunks) */
    int64_t length;          /* entries it holds now */
} dictionary;

/* What a record batch sees of a dictionary: chunks [first, end) holding length entries. */
typedef struct dict_ref {
    size_t first, end;
    int64_t length;
} dict_ref;

/* How record batches carry a column (r->cols[i] goes with r->t->cols[i]). */
typedef struct layout {
    nb_column_type stored;   /* the column's type, or its dictionary's index type */
    size_t dict;             /* 1 + its dictionary in r->dicts; 0 when not encoded */
    uint64_t gathered;       /* utf8/binary: the bytes its entries fill (counted in pass 1) */
} layout;

typedef struct reader {
    const uint8_t *data;
    size_t len;              /* the stream ends here (a file's footer follows) */
    size_t input_len;        /* the whole input */
    size_t pos;
    size_t n_msgs;           /* messages read, for error messages */
    bool file;               /* the schema came from a file's footer */
    nb_table *t;
    batch *batches;
    size_t n_batches, cap_batches;
    layout *cols;
    size_t cap_cols;
    dictionary *dicts;
    size_t n_dicts, cap_dicts;
    dict_ref *refs;
    size_t n_refs, cap_refs;
    size_t *dict_starts;     /* where each DictionaryBatch message starts (file blocks name them) */
    size_t n_dict_msgs, cap_dict_msgs;
    uint64_t expanded;       /* bytes dictionary entries will fill, against the limit */
} reader;

static const char *const type_names[NBI_IPC_T_LAST + 1] = {
    "NONE", "Null", "Int", "FloatingPoint", "Binary", "Utf8", "Bool", "Decimal", "Date", "Time",
    "Timestamp", "Interval", "List", "Struct", "Union", "FixedSizeBinary", "FixedSizeList",
    "Map", "Duration", "LargeBinary", "LargeUtf8", "LargeList", "RunEndEncoded", "BinaryView",
    "Utf8View", "ListView", "LargeListView"};

/*
 * The array arr of *cap elements of elem bytes with room for need of them:
 * arr itself, or a larger copy (*cap updated); NULL when memory runs out
 * (arr is then left as it was).
 */
static void *grown(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && arr)
        return arr; /* (an empty array is allocated anyway: NULL means no memory) */
    size_t c = *cap ? *cap : 8;
    while (c < need && c <= SIZE_MAX / 2)
        c *= 2;
    if (c < need || c > SIZE_MAX / elem)
        return NULL;
    void *g = realloc(arr, c * elem);
    if (g)
        *cap = c;
    return g;
}

/* Whether entry i of a validity buffer is valid (a missing bitmap means no nulls). */
static bool valid_at(const span *validity, int64_t i)
{
    return validity->len == 0 || ((validity->p[i >> 3] >> (i & 7)) & 1);
}

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
    if (s != NB_OK) /* the kind of message, once known, says what was cut or broken */
        return nbi_fail_prefix(s, "arrow: message %zu%s", r->n_msgs,
                               m->header_type == NBI_IPC_HDR_SCHEMA       ? " (Schema)"
                               : m->header_type == NBI_IPC_HDR_DICTIONARY ? " (DictionaryBatch)"
                               : m->header_type == NBI_IPC_HDR_RECORD_BATCH ? " (RecordBatch)"
                                                                            : "");
    r->pos += prefix + size + m->body_len;
    r->n_msgs++;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */
/* ------------------------------------------------------------------------ */

/* Whether the n bytes of a flatbuffer string are text: valid UTF-8 without a NUL inside. */
static bool is_text(const char *s, size_t n)
{
    return !memchr(s, '\0', n) && nbi_utf8_valid((const uint8_t *)s, n);
}

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
    if (*tz && !is_text(*tz, n))
        return nbi_fail(NB_BAD_PAYLOAD, "timestamp timezone is not valid UTF-8 text");
    *unit = (nb_time_unit)u;
    return NB_OK;
}

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

/* Field f's children (named before its type: a nested dictionary is its own refusal). */
static nb_status refuse_nested_dictionaries(const nbi_fb_table *f, nbi_fb_vec *children)
{
    nbi_fb_table child;
    nb_status s = nbi_fb_vector(f, NBI_FIELD_CHILDREN, 4, children);
    for (uint32_t i = 0; s == NB_OK && i < children->count; i++) {
        s = nbi_fb_vec_table(children, i, &child);
        if (s == NB_OK && nbi_fb_has(&child, NBI_FIELD_DICTIONARY))
            s = nbi_fail(NB_BAD_PAYLOAD, "nested dictionary-encoded fields are not supported");
    }
    return s;
}

/* The Field's type (a dictionary's value type when encoded), refusing nested children. */
static nb_status field_type_of(const nbi_fb_table *f, field_type *ft)
{
    uint8_t code;
    bool has_type;
    nbi_fb_table ty;
    nbi_fb_vec children;
    nb_status s = nbi_fb_u8(f, NBI_FIELD_TYPE_TYPE, 0, &code);
    if (s == NB_OK)
        s = nbi_fb_table_field(f, NBI_FIELD_TYPE, &ty, &has_type);
    if (s == NB_OK && !has_type)
        s = nbi_fail(NB_BAD_PAYLOAD, "field has no type");
    if (s == NB_OK)
        s = refuse_nested_dictionaries(f, &children);
    if (s == NB_OK)
        s = map_type(code, &ty, ft);
    if (s == NB_OK && children.count) /* map_type knows code */
        s = nbi_fail(NB_BAD_PAYLOAD, "type %s has %u children", type_names[code],
                     children.count);
    return s;
}

/* Field.dictionary: its id and index type (int32 when absent, as Schema.fbs says). */
static nb_status dictionary_encoding(const nbi_fb_table *enc, int64_t *id, nb_column_type *index)
{
    nbi_fb_table it;
    bool has_index;
    int16_t kind;
    nb_status s = nbi_fb_i64(enc, NBI_DICTENC_ID, 0, id);
    if (s == NB_OK)
        s = nbi_fb_i16(enc, NBI_DICTENC_KIND, 0, &kind);
    if (s == NB_OK && kind != 0)
        s = nbi_fail(NB_BAD_PAYLOAD, "dictionary kind %d is not supported (DenseArray is)", kind);
    if (s == NB_OK)
        s = nbi_fb_table_field(enc, NBI_DICTENC_INDEX_TYPE, &it, &has_index);
    *index = NB_COL_INT32;
    if (s == NB_OK && has_index && (s = int_type(&it, index)) != NB_OK)
        s = nbi_fail_prefix(s, "dictionary index");
    return s;
}

static bool same_value_type(const field_type *a, const field_type *b)
{
    const char *za = a->timezone && *a->timezone ? a->timezone : "";
    const char *zb = b->timezone && *b->timezone ? b->timezone : "";
    return a->type == b->type &&
           (a->type != NB_COL_TIMESTAMP || (a->unit == b->unit && strcmp(za, zb) == 0));
}

/* The dictionary id of value type ft (new, or shared with an earlier column): 1 + its index. */
static nb_status use_dictionary(reader *r, int64_t id, const field_type *ft, size_t *out)
{
    for (size_t d = 0; d < r->n_dicts; d++) {
        if (r->dicts[d].id != id)
            continue;
        if (!same_value_type(&r->dicts[d].value, ft))
            return nbi_fail(NB_BAD_PAYLOAD,
                            "dictionary id %lld holds %s values, this column is %s",
                            (long long)id, nbi_column_type_name(r->dicts[d].value.type),
                            nbi_column_type_name(ft->type));
        *out = d + 1;
        return NB_OK;
    }
    dictionary *g = grown(r->dicts, &r->cap_dicts, r->n_dicts + 1, sizeof *g);
    if (!g)
        return nbi_fail(NB_NO_MEMORY, "out of memory for %zu dictionaries", r->n_dicts + 1);
    r->dicts = g;
    memset(&g[r->n_dicts], 0, sizeof *g);
    g[r->n_dicts].id = id;
    g[r->n_dicts].value = *ft;
    *out = ++r->n_dicts;
    return NB_OK;
}

/* How record batches carry Field f: its own type, or dictionary indices. */
static nb_status field_layout(reader *r, const nbi_fb_table *f, field_type *ft, layout *l)
{
    nbi_fb_table enc;
    bool encoded;
    int64_t id = 0;
    nb_status s = nbi_fb_table_field(f, NBI_FIELD_DICTIONARY, &enc, &encoded);
    if (s == NB_OK && encoded)
        s = dictionary_encoding(&enc, &id, &l->stored);
    if (s == NB_OK && (s = field_type_of(f, ft)) != NB_OK && encoded)
        s = nbi_fail_prefix(s, "dictionary id %lld values", (long long)id);
    if (s == NB_OK && encoded)
        s = use_dictionary(r, id, ft, &l->dict);
    if (s == NB_OK && !encoded)
        l->stored = ft->type;
    return s;
}

/* Adds the column of Field table f (index i) to r->t, and its layout to r->cols. */
static nb_status add_field(reader *r, const nbi_fb_table *f, size_t i)
{
    const char *name;
    size_t n;
    bool nullable;
    field_type ft = {NB_COL_BOOL, NB_TIME_SECOND, NULL};
    nbi_column *col;
    layout *cols = grown(r->cols, &r->cap_cols, r->t->n_cols + 1, sizeof *cols);
    if (!cols)
        return nbi_fail(NB_NO_MEMORY, "arrow: out of memory for %zu columns", i + 1);
    r->cols = cols;
    layout *l = &cols[r->t->n_cols];
    memset(l, 0, sizeof *l);
    nb_status s = nbi_fb_string(f, NBI_FIELD_NAME, &name, &n);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: column %zu: name", i);
    if (name && !is_text(name, n))
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: column %zu: name is not valid UTF-8 text", i);
    name = name ? name : "";
    s = nbi_fb_bool(f, NBI_FIELD_NULLABLE, false, &nullable);
    if (s == NB_OK)
        s = field_layout(r, f, &ft, l);
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
/* Record and dictionary batches: pass 1, checks                            */
/* ------------------------------------------------------------------------ */

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

/* Buffers k .. k + n - 1 of a checked batch. */
static void batch_spans(const batch *b, size_t k, size_t n, span *sp)
{
    for (size_t j = 0; j < n; j++) {
        const uint8_t *e = nbi_fb_vec_at(&b->buffers, k + j, NBI_IPC_STRUCT16);
        sp[j] = (span){b->body + nbi_le64(e), (size_t)nbi_le64(e + 8)};
    }
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

/*
 * utf8/binary offsets: every one of the rows + 1 is checked before any byte is
 * read through it (the UTF-8 checks and pass 2 rely on it): the first is not
 * negative, none is below the one before it and none lies past the data, so
 * offsets[i] .. offsets[i + 1] is inside the data for every i. what names an
 * element in errors: "row" in a record batch, "entry" in a dictionary batch.
 */
static nb_status check_offsets(const span *offs, const span *data, int64_t rows, const char *what)
{
    if (rows == 0 && offs->len == 0)
        return NB_OK; /* some writers leave the offsets of an empty array out */
    nb_status s = need_bytes(offs, (uint64_t)rows + 1, 4, "offsets");
    if (s != NB_OK)
        return s;
    int32_t prev = (int32_t)nbi_le32(offs->p);
    if (prev < 0)
        return nbi_fail(NB_BAD_PAYLOAD, "offsets run from %d, below 0", prev);
    /* Rising from >= 0 to the last inside the data: every one is inside. */
    if (nbi_offsets_rise(offs->p, rows) && nbi_le32(offs->p + 4 * rows) <= data->len)
        return NB_OK;
    for (int64_t i = 0; i <= rows; i++) { /* which one, for the error */
        int32_t o = (int32_t)nbi_le32(offs->p + 4 * i);
        if (o < prev)
            return nbi_fail(NB_BAD_PAYLOAD, "offsets not monotonic at %s %lld (%d < %d)", what,
                            (long long)i - 1, o, prev);
        if ((uint64_t)o > data->len)
            return nbi_fail(NB_BAD_PAYLOAD, "offset %lld is %d, data has %zu bytes",
                            (long long)i, o, data->len);
        prev = o;
    }
    return NB_OK;
}

/*
 * FieldNode i and buffers *k on of a column stored as type; *used adds up their
 * lengths. what names its elements in errors ("row" or "entry").
 */
static nb_status check_column(const batch *b, size_t body_len, nb_column_type type, size_t i,
                              size_t *k, uint64_t *used, const char *what)
{
    const uint8_t *node = nbi_fb_vec_at(&b->nodes, i, NBI_IPC_STRUCT16);
    int64_t rows = (int64_t)nbi_le64(node), nulls = (int64_t)nbi_le64(node + 8);
    span sp[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t np = nbi_ipc_buffer_count(type);
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
        s = check_offsets(&sp[1], &sp[2], rows, what);
    else if (s == NB_OK)
        s = need_bytes(&sp[1], (uint64_t)rows, nbi_column_type_width(type), "values");
    return s;
}

/* The n columns laid out as cols (named by t's columns; NULL for a dictionary's one). */
static nb_status check_batch(const batch *b, size_t body_len, const layout *cols, size_t n,
                             const nb_table *t)
{
    size_t need = 0, k = 0;
    uint64_t used = 0;
    for (size_t i = 0; i < n; i++)
        need += nbi_ipc_buffer_count(cols[i].stored);
    if (b->nodes.count != n)
        return nbi_fail(NB_BAD_PAYLOAD, "%u field nodes for %zu columns", b->nodes.count, n);
    if (b->buffers.count != need)
        return nbi_fail(NB_BAD_PAYLOAD, "%u buffers, the schema needs %zu", b->buffers.count,
                        need);
    for (size_t i = 0; i < n; i++) {
        nb_status s = check_column(b, body_len, cols[i].stored, i, &k, &used, t ? "row" : "entry");
        if (s != NB_OK && t)
            return nbi_fail_prefix(s, "column '%.100s'", t->cols[i].name);
        if (s != NB_OK)
            return s;
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

/* Parses and checks the RecordBatch table rb, whose body is m's, into b. */
static nb_status parse_batch(const nbi_fb_table *rb, const message *m, const layout *cols,
                             size_t n, const nb_table *t, batch *b)
{
    b->start = m->start;
    b->body = m->body;
    nb_status s = refuse_compression(rb);
    if (s == NB_OK)
        s = nbi_fb_i64(rb, NBI_RB_LENGTH, 0, &b->length);
    if (s == NB_OK && b->length < 0)
        s = nbi_fail(NB_BAD_PAYLOAD, "negative length %lld", (long long)b->length);
    if (s == NB_OK)
        s = nbi_fb_vector(rb, NBI_RB_NODES, NBI_IPC_STRUCT16, &b->nodes);
    if (s == NB_OK)
        s = nbi_fb_vector(rb, NBI_RB_BUFFERS, NBI_IPC_STRUCT16, &b->buffers);
    if (s == NB_OK)
        s = check_batch(b, m->body_len, cols, n, t);
    return s;
}

/* The dictionary of a column that has no dictionary batch yet (the column in *col), or NULL. */
static const dictionary *missing_dictionary(const reader *r, size_t *col)
{
    for (size_t i = 0; i < r->t->n_cols; i++) {
        const dictionary *d = r->cols[i].dict ? &r->dicts[r->cols[i].dict - 1] : NULL;
        if (d && d->n_chunks == 0) {
            *col = i;
            return d;
        }
    }
    return NULL;
}

/* Records what batch b sees of every dictionary; in a stream, a dictionary must come first. */
static nb_status note_dictionaries(reader *r, batch *b)
{
    dict_ref *refs = grown(r->refs, &r->cap_refs, r->n_refs + r->n_dicts, sizeof *refs);
    if (!refs)
        return nbi_fail(NB_NO_MEMORY, "out of memory for %zu dictionary references",
                        r->n_refs + r->n_dicts);
    r->refs = refs;
    b->refs = r->n_refs;
    for (size_t d = 0; d < r->n_dicts; d++)
        refs[b->refs + d] = (dict_ref){r->dicts[d].current, r->dicts[d].n_chunks,
                                       r->dicts[d].length};
    r->n_refs += r->n_dicts;
    size_t i = 0;
    const dictionary *d = !r->file && b->length > 0 ? missing_dictionary(r, &i) : NULL;
    if (d)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "column '%.100s': no dictionary batch with id %lld before it",
                        r->t->cols[i].name, (long long)d->id);
    return NB_OK;
}

static nb_status add_batch(reader *r, const message *m)
{
    batch *grown_batches = grown(r->batches, &r->cap_batches, r->n_batches + 1, sizeof *r->batches);
    if (!grown_batches)
        return nbi_fail(NB_NO_MEMORY, "arrow: cannot list %zu record batches", r->n_batches + 1);
    r->batches = grown_batches;
    batch *b = &r->batches[r->n_batches];
    nb_status s = parse_batch(&m->header, m, r->cols, r->t->n_cols, r->t, b);
    if (s == NB_OK && b->length > INT64_MAX - r->t->rows)
        s = nbi_fail(NB_BAD_PAYLOAD, "row count overflows");
    if (s == NB_OK)
        s = note_dictionaries(r, b);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: record batch %zu", r->n_batches);
    r->t->rows += b->length; /* a running total for the overflow check; reset before appending */
    r->n_batches++;
    return NB_OK;
}

/*
 * Every non-null entry of a utf8 dictionary batch is valid UTF-8: checked once
 * here, as rows may name an entry many times. check_offsets (through
 * parse_batch) has already bounded every offset, so each entry lies inside
 * the data.
 */
static nb_status check_entries(int64_t n, const span sp[3])
{
    for (int64_t i = 0; i < n; i++) {
        int32_t a = (int32_t)nbi_le32(sp[1].p + 4 * i), z = (int32_t)nbi_le32(sp[1].p + 4 * i + 4);
        if (valid_at(&sp[0], i) && !nbi_utf8_valid(sp[2].p + a, (size_t)(z - a)))
            return nbi_fail(NB_BAD_PAYLOAD, "entry %lld is not valid UTF-8", (long long)i);
    }
    return NB_OK;
}

/* Checks the RecordBatch rb of dictionary batch m and adds it to d (a delta, or the new d). */
static nb_status add_chunk(reader *r, dictionary *d, const nbi_fb_table *rb, const message *m,
                           bool delta)
{
    batch b;
    layout one = {d->value.type, 0, 0};
    size_t np = nbi_ipc_buffer_count(d->value.type);
    dict_chunk c = {0, 0, {{NULL, 0}, {NULL, 0}, {NULL, 0}}};
    memset(&b, 0, sizeof b);
    nb_status s = parse_batch(rb, m, &one, 1, NULL, &b);
    if (s == NB_OK)
        batch_spans(&b, 0, np, c.sp);
    if (s == NB_OK && d->value.type == NB_COL_UTF8)
        s = check_entries(b.length, c.sp);
    if (s == NB_OK && r->file && !delta && d->n_chunks > 0)
        s = nbi_fail(NB_BAD_PAYLOAD, "a file may not replace a dictionary (only add deltas)");
    if (s == NB_OK && delta && b.length > INT64_MAX - d->length)
        s = nbi_fail(NB_BAD_PAYLOAD, "dictionary length overflows");
    dict_chunk *chunks = s == NB_OK ? grown(d->chunks, &d->cap_chunks, d->n_chunks + 1, sizeof c)
                                    : NULL;
    if (s == NB_OK && !chunks)
        s = nbi_fail(NB_NO_MEMORY, "out of memory for %zu dictionary batches", d->n_chunks + 1);
    if (s != NB_OK)
        return s;
    d->chunks = chunks;
    if (!delta) { /* a replacement: later record batches see only the new entries */
        d->current = d->n_chunks;
        d->length = 0;
    }
    c.first = d->length;
    c.length = b.length;
    d->chunks[d->n_chunks++] = c;
    d->length += b.length;
    return NB_OK;
}

/* A DictionaryBatch message: its entries checked and added to its dictionary (views). */
static nb_status add_dictionary_batch(reader *r, const message *m)
{
    int64_t id = 0;
    bool delta = false, has_data = false;
    nbi_fb_table data;
    dictionary *d = NULL;
    size_t *starts = grown(r->dict_starts, &r->cap_dict_msgs, r->n_dict_msgs + 1, sizeof *starts);
    nb_status s = starts ? NB_OK : nbi_fail(NB_NO_MEMORY, "out of memory for dictionary batches");
    if (s == NB_OK) {
        r->dict_starts = starts;
        s = nbi_fb_i64(&m->header, NBI_DICTBATCH_ID, 0, &id);
    }
    if (s == NB_OK)
        s = nbi_fb_bool(&m->header, NBI_DICTBATCH_DELTA, false, &delta);
    if (s == NB_OK)
        s = nbi_fb_table_field(&m->header, NBI_DICTBATCH_DATA, &data, &has_data);
    if (s == NB_OK && !has_data)
        s = nbi_fail(NB_BAD_PAYLOAD, "no data (RecordBatch)");
    for (size_t i = 0; s == NB_OK && !d && i < r->n_dicts; i++)
        d = r->dicts[i].id == id ? &r->dicts[i] : NULL;
    if (s == NB_OK && !d)
        s = nbi_fail(NB_BAD_PAYLOAD, "unknown dictionary id %lld (no column uses it)",
                     (long long)id);
    if (s == NB_OK)
        s = add_chunk(r, d, &data, m, delta);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "arrow: dictionary batch %zu (id %lld)", r->n_dict_msgs,
                               (long long)id);
    r->dict_starts[r->n_dict_msgs++] = m->start;
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
            s = add_dictionary_batch(r, &m);
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
/* Dictionary indices: pass 1, once every dictionary batch is known          */
/* ------------------------------------------------------------------------ */

/* The little-endian integer of w bytes at p, sign-extended when sign. */
static uint64_t load_index(const uint8_t *p, size_t w, bool sign)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    if (sign && w < 8 && ((v >> (8 * w - 1)) & 1))
        v |= ~(uint64_t)0 << (8 * w);
    return v;
}

/* The chunk of ref holding entry idx (0 <= idx < ref->length): the last starting by idx. */
static const dict_chunk *chunk_of(const dictionary *d, const dict_ref *ref, int64_t idx)
{
    size_t lo = ref->first, hi = ref->end - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (d->chunks[mid].first <= idx)
            lo = mid;
        else
            hi = mid - 1;
    }
    return &d->chunks[lo];
}

/* Bytes of utf8/binary entry idx of ref. */
static uint64_t entry_bytes(const dictionary *d, const dict_ref *ref, int64_t idx)
{
    const dict_chunk *c = chunk_of(d, ref, idx);
    const uint8_t *o = c->sp[1].p + 4 * (idx - c->first);
    return (uint64_t)((int64_t)(int32_t)nbi_le32(o + 4) - (int32_t)nbi_le32(o));
}

/* The most bytes dictionary entries may fill (DICT_BASE_BYTES + DICT_EXPANSION per input byte). */
static uint64_t expansion_limit(const reader *r)
{
    uint64_t per = (uint64_t)r->input_len;
    return per > (UINT64_MAX - DICT_BASE_BYTES) / DICT_EXPANSION
               ? UINT64_MAX
               : DICT_BASE_BYTES + per * DICT_EXPANSION;
}

static nb_status out_of_range(int64_t row, uint64_t idx, bool sign, const dictionary *d,
                              const dict_ref *ref)
{
    char text[32];
    if (sign)
        snprintf(text, sizeof text, "%lld", (long long)idx);
    else
        snprintf(text, sizeof text, "%llu", (unsigned long long)idx);
    return nbi_fail(NB_BAD_PAYLOAD,
                    "row %lld: dictionary index %s is out of range (dictionary id %lld has %lld "
                    "entries)",
                    (long long)row, text, (long long)d->id, (long long)ref->length);
}

/*
 * Every non-null index of column i of b (buffers k, k + 1) names an entry;
 * adds the bytes they will fill to the column's and the reader's counts.
 */
static nb_status check_indices(reader *r, const batch *b, size_t i, size_t k)
{
    layout *l = &r->cols[i];
    const dictionary *d = &r->dicts[l->dict - 1];
    const dict_ref *ref = &r->refs[b->refs + l->dict - 1];
    size_t iw = nbi_column_type_width(l->stored), vw = nbi_column_type_width(d->value.type);
    bool sign = nbi_column_type_is_signed(l->stored);
    bool variable = nbi_column_type_is_variable(d->value.type);
    uint64_t bytes = variable ? 0 : (uint64_t)b->length * (vw ? vw : 1);
    span sp[2];
    batch_spans(b, k, 2, sp);
    for (int64_t j = 0; j < b->length; j++) {
        if (!valid_at(&sp[0], j))
            continue; /* a null index is a null value, whatever its bits */
        uint64_t idx = load_index(sp[1].p + (size_t)j * iw, iw, sign);
        if ((sign && (int64_t)idx < 0) || idx >= (uint64_t)ref->length)
            return out_of_range(j, idx, sign, d, ref);
        /* Checked per row, so that the sums cannot overflow. */
        if (variable && (bytes += entry_bytes(d, ref, (int64_t)idx)) > INT32_MAX - l->gathered)
            return nbi_fail(NB_TOO_LARGE, "more than 2 GiB of %s data (int32 offsets)",
                            nbi_column_type_name(d->value.type));
    }
    r->expanded += bytes;
    l->gathered += variable ? bytes : 0;
    return NB_OK;
}

/* Pass 1's last step: the indices of every dictionary-encoded column of every batch. */
static nb_status check_all_indices(reader *r)
{
    for (size_t bi = 0; bi < r->n_batches; bi++) {
        size_t k = 0;
        for (size_t i = 0; i < r->t->n_cols; i++) {
            nb_status s = r->cols[i].dict ? check_indices(r, &r->batches[bi], i, k) : NB_OK;
            if (s == NB_OK && r->expanded > expansion_limit(r))
                s = nbi_fail(NB_TOO_LARGE,
                             "dictionary entries expand to over %llu bytes (%zu-byte input)",
                             (unsigned long long)expansion_limit(r), r->input_len);
            if (s != NB_OK)
                return nbi_fail_prefix(s, "arrow: record batch %zu: column '%.100s'", bi,
                                       r->t->cols[i].name);
            k += nbi_ipc_buffer_count(r->cols[i].stored);
        }
    }
    return NB_OK;
}

/* In a file every dictionary batch applies to every record batch: each sees the whole. */
static nb_status settle_file_dictionaries(reader *r)
{
    for (size_t bi = 0; bi < r->n_batches; bi++)
        for (size_t d = 0; d < r->n_dicts; d++)
            r->refs[r->batches[bi].refs + d] = (dict_ref){0, r->dicts[d].n_chunks,
                                                          r->dicts[d].length};
    size_t i = 0;
    const dictionary *d = r->t->rows > 0 ? missing_dictionary(r, &i) : NULL;
    if (d)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow file: column '%.100s': no dictionary batch "
                                        "with id %lld", r->t->cols[i].name, (long long)d->id);
    return NB_OK;
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

/*
 * Reserves every column's final size in one block each, so appending copies
 * each byte once; big blocks get huge pages (nbi_buf_reserve_exact), as fresh
 * memory otherwise costs a page fault per 4 KiB written.
 */
static nb_status reserve_columns(reader *r)
{
    nb_status s = NB_OK;
    size_t rows = (size_t)r->t->rows, k = 0;
    for (size_t i = 0; s == NB_OK && i < r->t->n_cols; i++) {
        nbi_column *c = &r->t->cols[i];
        const layout *l = &r->cols[i];
        size_t w = nbi_column_type_width(c->type);
        if (c->type == NB_COL_BOOL)
            s = nbi_buf_reserve_exact(&c->values, rows / 8 + 1);
        else if (w)
            s = nbi_buf_reserve_exact(&c->values, rows * w);
        else if ((s = nbi_buf_reserve_exact(&c->values, l->dict ? (size_t)l->gathered
                                                                : variable_bytes(r, k))) == NB_OK)
            s = nbi_buf_reserve_exact(&c->offsets, 4 * rows);
        k += nbi_ipc_buffer_count(l->stored);
    }
    return s;
}

/*
 * Appends batch b's column c (field node i, buffers k on), copying offsets the
 * body leaves unaligned. A bitmap pass 1 counted no nulls in is left out, so
 * that append does not count them again.
 */
static nb_status append_column(const batch *b, size_t i, nbi_column *c, size_t k)
{
    span sp[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t np = nbi_ipc_buffer_count(c->type);
    batch_spans(b, k, np, sp);
    uint64_t nulls = nbi_le64(nbi_fb_vec_at(&b->nodes, i, NBI_IPC_STRUCT16) + 8);
    const uint8_t *validity = nulls ? sp[0].p : NULL;
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

/*
 * Makes the bitmap b (holding at bits) hold at + n bits, the new ones 0; an
 * empty b gets its first at bits set to 1 (a column's rows before its first null).
 */
static nb_status open_bits(nbi_buf *b, int64_t at, int64_t n, bool ones_before)
{
    size_t have = b->len, need = (size_t)((at + n + 7) / 8);
    nb_status s = nbi_buf_reserve(b, need - have);
    if (s != NB_OK)
        return s;
    memset(b->data + have, 0, need - have);
    if (have == 0 && ones_before) {
        memset(b->data, 0xff, (size_t)(at / 8));
        for (int64_t i = at & ~(int64_t)7; i < at; i++)
            b->data[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    b->len = need;
    b->data[need] = '\0';
    return NB_OK;
}

static void set_bit(nbi_buf *b, int64_t i) { b->data[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Appends entry pos of chunk ch (NULL: a null row) to c, whose values are reserved. */
static nb_status put_entry(nbi_column *c, int64_t row, const dict_chunk *ch, int64_t pos)
{
    static const uint8_t zeros[8] = {0};
    size_t w = nbi_column_type_width(c->type);
    if (c->type == NB_COL_BOOL) {
        if (ch && ((ch->sp[1].p[pos >> 3] >> (pos & 7)) & 1))
            set_bit(&c->values, row);
        return NB_OK;
    }
    if (w)
        return nbi_buf_append(&c->values, ch ? ch->sp[1].p + (size_t)pos * w : zeros, w);
    int32_t base, a = 0, z = 0;
    memcpy(&base, c->offsets.data + c->offsets.len - 4, 4);
    if (ch) {
        a = (int32_t)nbi_le32(ch->sp[1].p + 4 * pos);
        z = (int32_t)nbi_le32(ch->sp[1].p + 4 * pos + 4);
    }
    if ((int64_t)z - a > INT32_MAX - (int64_t)base)
        return nbi_fail(NB_TOO_LARGE, "column '%s': more than 2 GiB of %s data (int32 offsets)",
                        c->name, nbi_column_type_name(c->type));
    int32_t end = base + (z - a);
    nb_status s = nbi_buf_append(&c->values, ch ? ch->sp[2].p + a : NULL, (size_t)(z - a));
    return s == NB_OK ? nbi_buf_append(&c->offsets, &end, 4) : s;
}

/*
 * Appends batch b's dictionary-encoded column c (indices in buffers k, k + 1),
 * copying each named entry straight from its dictionary batch into the column
 * (through a scratch copy and nbi_column_append it would be copied twice).
 * Pass 1 checked what this relies on: the indices, the entries' offsets and
 * UTF-8; nulls (a null index or a null entry) are counted here and refused in
 * a non-nullable column, as nbi_column_append does. On failure c's lengths
 * are restored (and the reader drops the table).
 */
static nb_status gather_column(const reader *r, const batch *b, nbi_column *c, size_t i, size_t k)
{
    const layout *l = &r->cols[i];
    const dictionary *d = &r->dicts[l->dict - 1];
    const dict_ref *ref = &r->refs[b->refs + l->dict - 1];
    size_t iw = nbi_column_type_width(l->stored);
    bool sign = nbi_column_type_is_signed(l->stored);
    size_t old_values = c->values.len, old_offsets = c->offsets.len, old_valid = c->validity.len;
    int64_t nulls = 0, rows = b->length;
    span sp[2];
    if (rows == 0)
        return NB_OK;
    batch_spans(b, k, 2, sp);
    nb_status s = open_bits(&c->validity, c->length, rows, true);
    if (s == NB_OK && c->type == NB_COL_BOOL)
        s = open_bits(&c->values, c->length, rows, false);
    for (int64_t j = 0; s == NB_OK && j < rows; j++) {
        const dict_chunk *ch = NULL;
        int64_t pos = 0;
        if (valid_at(&sp[0], j)) {
            int64_t idx = (int64_t)load_index(sp[1].p + (size_t)j * iw, iw, sign);
            ch = chunk_of(d, ref, idx);
            pos = idx - ch->first;
            ch = valid_at(&ch->sp[0], pos) ? ch : NULL;
        }
        if (ch)
            set_bit(&c->validity, c->length + j);
        nulls += !ch;
        s = put_entry(c, c->length + j, ch, pos);
    }
    if (s == NB_OK && nulls > 0 && !c->nullable)
        s = nbi_fail(NB_BAD_PAYLOAD, "column '%s': %lld nulls in a non-nullable column", c->name,
                     (long long)nulls);
    if (s != NB_OK) {
        c->values.len = old_values;
        c->offsets.len = old_offsets;
        c->validity.len = old_valid;
        return s;
    }
    if (c->null_count + nulls == 0) /* no bitmap while a column has no nulls (table.h) */
        c->validity.len = 0, c->validity.data[0] = '\0';
    c->length += rows;
    c->null_count += nulls;
    return NB_OK;
}

static nb_status append_batches(reader *r)
{
    nb_status s = reserve_columns(r);
    r->t->rows = 0;
    for (size_t bi = 0; s == NB_OK && bi < r->n_batches; bi++) {
        const batch *b = &r->batches[bi];
        size_t k = 0;
        for (size_t i = 0; s == NB_OK && i < r->t->n_cols; i++) {
            nbi_column *c = &r->t->cols[i];
            s = r->cols[i].dict ? gather_column(r, b, c, i, k) : append_column(b, i, c, k);
            k += nbi_ipc_buffer_count(r->cols[i].stored);
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

static size_t batch_start(const reader *r, size_t i) { return r->batches[i].start; }
static size_t dict_start(const reader *r, size_t i) { return r->dict_starts[i]; }

/* The blocks of a file's footer must name the n messages of its stream that start_of gives. */
static nb_status check_blocks(const reader *r, const nbi_fb_vec *blocks, size_t n,
                              size_t (*start_of)(const reader *, size_t), const char *what)
{
    if (blocks->count != n)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "arrow file: the footer lists %u %s, the stream holds %zu",
                        blocks->count, what, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t off = nbi_le64(nbi_fb_vec_at(blocks, i, NBI_IPC_BLOCK_SIZE));
        if (off != start_of(r, i))
            return nbi_fail(NB_BAD_PAYLOAD,
                            "arrow file: footer block %zu of the %s points at %llu, the "
                            "message is at %zu",
                            i, what, (unsigned long long)off, start_of(r, i));
    }
    return NB_OK;
}

/*
 * Opens the footer of a file, [ARROW1\0\0][stream][footer][int32 size][ARROW1],
 * and reads its schema: the stream inside may lack the Schema message.
 */
static nb_status read_footer(reader *r, nbi_fb_vec *blocks, nbi_fb_vec *dict_blocks)
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
        s = nbi_fb_vector(&footer, NBI_FOOTER_DICTS, NBI_IPC_BLOCK_SIZE, dict_blocks);
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

static nb_status read_file(reader *r)
{
    nbi_fb_vec blocks, dict_blocks;
    nb_status s = read_footer(r, &blocks, &dict_blocks);
    if (s == NB_OK)
        s = read_batches(r);
    if (s == NB_OK)
        s = check_blocks(r, &dict_blocks, r->n_dict_msgs, dict_start, "dictionary batches");
    if (s == NB_OK)
        s = check_blocks(r, &blocks, r->n_batches, batch_start, "record batches");
    if (s == NB_OK)
        s = settle_file_dictionaries(r);
    return s;
}

static nb_status read_any(reader *r)
{
    bool file = r->len >= NBI_IPC_MAGIC_LEN &&
                memcmp(r->data, NBI_IPC_MAGIC, NBI_IPC_MAGIC_LEN) == 0;
    nb_status s = file ? read_file(r) : read_stream(r);
    if (s == NB_OK)
        s = check_all_indices(r);
    if (s == NB_OK)
        s = append_batches(r);
    return s;
}

static void reader_free(reader *r)
{
    for (size_t d = 0; d < r->n_dicts; d++)
        free(r->dicts[d].chunks);
    free(r->dicts);
    free(r->batches);
    free(r->cols);
    free(r->refs);
    free(r->dict_starts);
}

nb_status nb_table_from_ipc(nb_table **out, const void *data, size_t len)
{
    if (out)
        *out = NULL;
    if (!out || (!data && len))
        return nbi_fail(NB_INVALID_ARG, "arrow: %s is NULL", !out ? "out" : "data");
    if (len == 0)
        return nbi_fail(NB_BAD_PAYLOAD, "arrow: empty input, no schema");
    reader r;
    memset(&r, 0, sizeof r);
    r.data = data;
    r.len = r.input_len = len;
    nb_status s = nb_table_create(&r.t);
    if (s == NB_OK)
        s = read_any(&r);
    reader_free(&r);
    if (s != NB_OK) {
        nb_table_destroy(r.t);
        return s;
    }
    *out = r.t;
    return NB_OK;
}
