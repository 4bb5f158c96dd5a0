/* SPDX-License-Identifier: MIT */
/*
 * ipc_write.c - nb_table to an Arrow IPC stream (Columnar.rst, "Serialization
 * and IPC"; shared/reference/arrow-ipc.md §4): metadata version V5,
 * little-endian, continuation markers, 8-byte aligned metadata and buffers,
 * a Schema message, record batches of at most batch_rows rows, then EOS.
 * The file format (ARROW1 magic, footer) wraps the same stream.
 */
#include "ipc.h"

#include <stdlib.h>
#include <string.h>

/* Buffers inside a body start at multiples of 8 (the format's minimum). */
#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* Where a record batch went in the stream: a File.fbs Block. */
typedef struct block {
    int64_t offset;
    int32_t meta_len;
    int64_t body_len;
} block;

typedef struct writer {
    nbi_buf out;
    block *blocks;          /* record batches written (for the file footer) */
    size_t n_blocks, cap_blocks;
} writer;

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */
/* ------------------------------------------------------------------------ */

static uint8_t type_code(nb_column_type t)
{
    switch (t) {
    case NB_COL_BOOL: return NBI_IPC_T_BOOL;
    case NB_COL_FLOAT32:
    case NB_COL_FLOAT64: return NBI_IPC_T_FLOAT;
    case NB_COL_UTF8: return NBI_IPC_T_UTF8;
    case NB_COL_BINARY: return NBI_IPC_T_BINARY;
    case NB_COL_DATE32: return NBI_IPC_T_DATE;
    case NB_COL_TIMESTAMP: return NBI_IPC_T_TIMESTAMP;
    default: return NBI_IPC_T_INT;
    }
}

/* Writes the Type table of column c; returns its position. */
static size_t build_type(nbi_fbb *b, const nbi_column *c)
{
    switch (c->type) {
    case NB_COL_BOOL:
    case NB_COL_UTF8:
    case NB_COL_BINARY:
        return nbi_fbb_table(b, NULL, 0, NULL); /* empty tables, still present */
    case NB_COL_FLOAT32:
    case NB_COL_FLOAT64: {
        nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 2, c->type == NB_COL_FLOAT32 ? 1 : 2)};
        return nbi_fbb_table(b, f, 1, NULL);
    }
    case NB_COL_DATE32: {
        nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 2, 0)}; /* DAY; absent would mean MILLISECOND */
        return nbi_fbb_table(b, f, 1, NULL);
    }
    case NB_COL_TIMESTAMP: {
        nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 2, c->unit), NBI_FBB_OFFSET(1)};
        size_t slots[2];
        bool zoned = c->timezone && c->timezone[0];
        size_t pos = nbi_fbb_table(b, f, zoned ? 2 : 1, slots);
        if (zoned)
            nbi_fbb_patch(b, slots[1], nbi_fbb_string(b, c->timezone, strlen(c->timezone)));
        return pos;
    }
    default: {
        nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 4, 8 * nbi_column_type_width(c->type)),
                             NBI_FBB_SCALAR(1, 1, nbi_column_type_is_signed(c->type))};
        return nbi_fbb_table(b, f, 2, NULL);
    }
    }
}

/* Writes the Field table of column c and points slot at it. */
static void build_field(nbi_fbb *b, size_t slot, const nbi_column *c)
{
    const char *name = nbi_or_empty(c->name);
    nbi_fbb_field f[] = {NBI_FBB_OFFSET(NBI_FIELD_NAME),
                         NBI_FBB_SCALAR(NBI_FIELD_NULLABLE, 1, c->nullable),
                         NBI_FBB_SCALAR(NBI_FIELD_TYPE_TYPE, 1, type_code(c->type)),
                         NBI_FBB_OFFSET(NBI_FIELD_TYPE), NBI_FBB_OFFSET(NBI_FIELD_CHILDREN)};
    size_t slots[5];
    nbi_fbb_patch(b, slot, nbi_fbb_table(b, f, 5, slots));
    nbi_fbb_patch(b, slots[0], nbi_fbb_string(b, name, strlen(name)));
    nbi_fbb_patch(b, slots[3], build_type(b, c));
    /* Arrow C++ refuses a Field without its (here empty) children vector. */
    nbi_fbb_patch(b, slots[4], nbi_fbb_offset_vector(b, 0));
}

/* Starts a Message of header type ht and body_len bytes; returns the slot of its header. */
static size_t build_message(nbi_fbb *b, uint8_t ht, int64_t body_len)
{
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(NBI_MSG_VERSION, 2, NBI_IPC_V5),
                         NBI_FBB_SCALAR(NBI_MSG_HEADER_TYPE, 1, ht),
                         NBI_FBB_OFFSET(NBI_MSG_HEADER),
                         NBI_FBB_SCALAR(NBI_MSG_BODY_LEN, 8, body_len)};
    size_t slots[4];
    nbi_fbb_init(b);
    nbi_fbb_set_root(b, nbi_fbb_table(b, f, 4, slots));
    return slots[2];
}

/* Writes the Schema table of t and points slot at it. */
static void build_schema(nbi_fbb *b, size_t slot, const nb_table *t)
{
    nbi_fbb_field f[] = {NBI_FBB_OFFSET(NBI_SCHEMA_FIELDS)};
    size_t fields_slot;
    nbi_fbb_patch(b, slot, nbi_fbb_table(b, f, 1, &fields_slot));
    size_t vec = nbi_fbb_offset_vector(b, t->n_cols);
    nbi_fbb_patch(b, fields_slot, vec);
    for (size_t i = 0; i < t->n_cols; i++)
        build_field(b, vec + 4 + 4 * i, &t->cols[i]);
}

/* Appends [continuation][metadata_size][flatbuffer][padding to 8]. */
static nb_status put_metadata(writer *w, nbi_fbb *b)
{
    uint8_t prefix[8];
    size_t padded = ALIGN8(b->buf.len);
    nb_status s = b->status;
    if (s == NB_OK && padded > INT32_MAX)
        s = nbi_fail(NB_TOO_LARGE, "arrow: metadata of %zu bytes", padded);
    nbi_put_le32(prefix, NBI_IPC_CONTINUATION);
    nbi_put_le32(prefix + 4, (uint32_t)padded);
    static const uint8_t zeros[8];
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, prefix, 8);
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, b->buf.data, b->buf.len);
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, zeros, padded - b->buf.len);
    nbi_fbb_free(b);
    return s;
}

static nb_status write_schema(writer *w, const nb_table *t)
{
    nbi_fbb b;
    build_schema(&b, build_message(&b, NBI_IPC_HDR_SCHEMA, 0), t);
    return put_metadata(w, &b);
}

/* ------------------------------------------------------------------------ */
/* Record batches                                                           */
/* ------------------------------------------------------------------------ */

/* How one body buffer is produced from a column. */
typedef enum part_kind { PART_BYTES, PART_BITS, PART_OFFSETS } part_kind;

typedef struct part {
    part_kind kind;
    const uint8_t *src; /* the column's buffer (may be NULL when len is 0) */
    size_t len;       /* bytes in the body, before padding */
    int64_t first;    /* PART_BYTES: first byte; PART_BITS: first bit; PART_OFFSETS: index */
    int64_t n;        /* PART_BITS: bits; PART_OFFSETS: offsets (rows + 1) */
} part;

/* Rows of column c in [r0, r0 + n): its FieldNode and buffers (parts). */
static int64_t plan_column(const nbi_column *c, int64_t r0, int64_t n, part *parts)
{
    int64_t nulls = 0;
    if (c->null_count > 0 && c->validity.len)
        nulls = nbi_count_nulls(c->validity.data, r0, n);
    parts[0] = (part){PART_BITS, c->validity.data, nulls ? (size_t)(n + 7) / 8 : 0, r0, n};
    size_t w = nbi_column_type_width(c->type);
    if (c->type == NB_COL_BOOL) {
        parts[1] = (part){PART_BITS, c->values.data, (size_t)(n + 7) / 8, r0, n};
    } else if (nbi_column_type_is_variable(c->type)) {
        /* A column without rows may have no offsets yet: it writes the single 0. */
        static const uint8_t zero_offset[4];
        const uint8_t *offs = c->offsets.len ? c->offsets.data : zero_offset;
        int32_t lo = (int32_t)nbi_le32(offs + 4 * r0);
        int32_t hi = (int32_t)nbi_le32(offs + 4 * (r0 + n));
        parts[1] = (part){PART_OFFSETS, offs, 4 * (size_t)(n + 1), r0, n + 1};
        parts[2] = (part){PART_BYTES, c->values.data, (size_t)(hi - lo), lo, 0};
    } else {
        parts[1] = (part){PART_BYTES, c->values.data, w * (size_t)n, (int64_t)w * r0, 0};
    }
    return nulls;
}

/* Copies n bits starting at bit first of src into dst (whole bytes, unused bits zero). */
static void copy_bits(uint8_t *dst, const uint8_t *src, int64_t first, int64_t n)
{
    size_t bytes = (size_t)(n + 7) / 8, shift = (size_t)(first & 7);
    const uint8_t *s = src + (first >> 3);
    if (shift == 0) {
        memcpy(dst, s, bytes);
    } else {
        size_t src_bytes = (size_t)((first + n + 7) >> 3) - (size_t)(first >> 3);
        for (size_t i = 0; i < bytes; i++) {
            unsigned hi = i + 1 < src_bytes ? s[i + 1] : 0;
            dst[i] = (uint8_t)((s[i] >> shift) | (hi << (8 - shift)));
        }
    }
    if (n & 7)
        dst[bytes - 1] &= (uint8_t)((1u << (n & 7)) - 1);
}

/* Writes part p at dst (p->len bytes). */
static void fill_part(uint8_t *dst, const part *p)
{
    if (p->len == 0)
        return;
    if (p->kind == PART_BITS) {
        copy_bits(dst, p->src, p->first, p->n);
    } else if (p->kind == PART_OFFSETS) {
        /* A batch's offsets start at 0 in its own data buffer. */
        const uint8_t *src = p->src + 4 * p->first;
        int32_t base = (int32_t)nbi_le32(src);
        if (base == 0) { /* the first batch: the column's own offsets, as they are */
            memcpy(dst, src, p->len);
            return;
        }
        for (int64_t i = 0; i < p->n; i++) {
            int32_t v = (int32_t)nbi_le32(src + 4 * i) - base;
            memcpy(dst + 4 * i, &v, 4);
        }
    } else {
        memcpy(dst, p->src + p->first, p->len);
    }
}

typedef struct batch_plan {
    part *parts;       /* nbi_ipc_buffer_count per column, in column order */
    uint8_t *nodes;    /* FieldNode structs, little-endian */
    uint8_t *buffers;  /* Buffer structs, little-endian */
    size_t n_parts;
    int64_t body_len;
} batch_plan;

/* Fills plan for rows [r0, r0 + n): nodes, buffers and their offsets in the body. */
static void plan_batch(const nb_table *t, int64_t r0, int64_t n, batch_plan *plan)
{
    size_t k = 0, body = 0;
    for (size_t i = 0; i < t->n_cols; i++) {
        const nbi_column *c = &t->cols[i];
        size_t np = nbi_ipc_buffer_count(c->type);
        int64_t nulls = plan_column(c, r0, n, plan->parts + k);
        nbi_put_le64(plan->nodes + 16 * i, (uint64_t)n);
        nbi_put_le64(plan->nodes + 16 * i + 8, (uint64_t)nulls);
        for (size_t j = 0; j < np; j++, k++) {
            nbi_put_le64(plan->buffers + 16 * k, body);
            nbi_put_le64(plan->buffers + 16 * k + 8, plan->parts[k].len);
            body += ALIGN8(plan->parts[k].len);
        }
    }
    plan->n_parts = k;
    plan->body_len = (int64_t)body;
}

static nb_status put_batch_metadata(writer *w, const batch_plan *plan, size_t n_cols, int64_t n)
{
    nbi_fbb b;
    size_t slot = build_message(&b, NBI_IPC_HDR_RECORD_BATCH, plan->body_len);
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(NBI_RB_LENGTH, 8, n), NBI_FBB_OFFSET(NBI_RB_NODES),
                         NBI_FBB_OFFSET(NBI_RB_BUFFERS)};
    size_t slots[3];
    nbi_fbb_patch(&b, slot, nbi_fbb_table(&b, f, 3, slots));
    nbi_fbb_patch(&b, slots[1], nbi_fbb_struct_vector(&b, plan->nodes, 16, n_cols));
    nbi_fbb_patch(&b, slots[2], nbi_fbb_struct_vector(&b, plan->buffers, 16, plan->n_parts));
    return put_metadata(w, &b);
}

static nb_status put_body(writer *w, const batch_plan *plan)
{
    nb_status s = nbi_buf_reserve(&w->out, (size_t)plan->body_len);
    if (s != NB_OK)
        return s;
    uint8_t *dst = w->out.data + w->out.len;
    for (size_t k = 0; k < plan->n_parts; k++) {
        size_t len = plan->parts[k].len;
        fill_part(dst, &plan->parts[k]);
        memset(dst + len, 0, ALIGN8(len) - len); /* padding is zeros */
        dst += ALIGN8(len);
    }
    w->out.len += (size_t)plan->body_len;
    w->out.data[w->out.len] = '\0';
    return NB_OK;
}

static nb_status note_block(writer *w, size_t start, size_t body_start, int64_t body_len)
{
    if (w->n_blocks == w->cap_blocks) {
        size_t cap = w->cap_blocks ? 2 * w->cap_blocks : 16;
        block *grown = realloc(w->blocks, cap * sizeof *grown);
        if (!grown)
            return nbi_fail(NB_NO_MEMORY, "arrow: cannot list %zu record batches", cap);
        w->blocks = grown;
        w->cap_blocks = cap;
    }
    w->blocks[w->n_blocks++] = (block){(int64_t)start, (int32_t)(body_start - start), body_len};
    return NB_OK;
}

static nb_status write_batch(writer *w, const nb_table *t, int64_t r0, int64_t n,
                             batch_plan *plan)
{
    plan_batch(t, r0, n, plan);
    size_t start = w->out.len;
    nb_status s = put_batch_metadata(w, plan, t->n_cols, n);
    size_t body_start = w->out.len;
    if (s == NB_OK)
        s = put_body(w, plan);
    if (s == NB_OK)
        s = note_block(w, start, body_start, plan->body_len);
    return s;
}

static size_t buffers_of(const nb_table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_cols; i++)
        n += nbi_ipc_buffer_count(t->cols[i].type);
    return n;
}

/* Every record batch of t, batch_rows rows each (0: one batch); an empty table gets one. */
static nb_status write_batches(writer *w, const nb_table *t, size_t batch_rows)
{
    size_t nb = buffers_of(t);
    batch_plan plan = {calloc(nb ? nb : 1, sizeof(part)), calloc(t->n_cols + 1, 16),
                       calloc(nb + 1, 16), 0, 0};
    nb_status s = NB_OK;
    if (!plan.parts || !plan.nodes || !plan.buffers)
        s = nbi_fail(NB_NO_MEMORY, "arrow: cannot plan a batch of %zu columns", t->n_cols);
    int64_t step = batch_rows == 0 || batch_rows > (size_t)INT64_MAX ? t->rows : (int64_t)batch_rows;
    int64_t r0 = 0;
    do {
        int64_t n = t->rows - r0 < step ? t->rows - r0 : step;
        if (s == NB_OK)
            s = write_batch(w, t, r0, n, &plan);
        r0 += n;
    } while (s == NB_OK && r0 < t->rows);
    free(plan.parts);
    free(plan.nodes);
    free(plan.buffers);
    return s;
}

/* Record batches of batch_rows rows (0: one batch) in t; an empty table still has one. */
static size_t batch_count(const nb_table *t, size_t batch_rows)
{
    size_t rows = (size_t)t->rows;
    if (batch_rows == 0 || rows == 0)
        return 1;
    return rows / batch_rows + (rows % batch_rows != 0);
}

/*
 * An upper bound of the bytes write_stream (and write_footer, for the file
 * format) appends, so that the output is allocated once and never copied to
 * grow: the column buffers, which the bodies copy at most whole, plus per
 * batch and buffer the slack of slicing (a partial bitmap byte, the extra
 * offset, 8-byte padding), plus the metadata flatbuffers, bounded generously
 * from their contents (names, time zones, one 16-byte struct per node and
 * buffer). Too small would only cost a growth copy, never correctness.
 */
static size_t output_bound(const nb_table *t, size_t batch_rows, bool file)
{
    size_t batches = batch_count(t, batch_rows), parts = 0, schema = 512, body = 0;
    for (size_t i = 0; i < t->n_cols; i++) {
        const nbi_column *c = &t->cols[i];
        parts += nbi_ipc_buffer_count(c->type);
        body += c->values.len + c->validity.len + c->offsets.len;
        schema += 256 + strlen(nbi_or_empty(c->name)) + (c->timezone ? strlen(c->timezone) : 0);
    }
    size_t per_batch = 512 + 16 * t->n_cols + 16 * parts /* metadata */ + 16 * parts /* slack */;
    size_t footer = file ? schema + 64 + NBI_IPC_BLOCK_SIZE * batches + NBI_IPC_MAGIC_LEN : 0;
    return schema + body + batches * per_batch + 8 /* EOS */ + footer;
}

/* Reserves the output once (huge pages for a large one): see output_bound. */
static nb_status reserve_output(writer *w, const nb_table *t, size_t batch_rows, bool file)
{
    return nbi_buf_reserve_exact(&w->out, output_bound(t, batch_rows, file));
}

static nb_status write_stream(writer *w, const nb_table *t, size_t batch_rows, bool file)
{
    static const uint8_t eos[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    nb_status s = reserve_output(w, t, batch_rows, file);
    if (s == NB_OK)
        s = write_schema(w, t);
    if (s == NB_OK)
        s = write_batches(w, t, batch_rows);
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, eos, sizeof eos);
    return s;
}

static nb_status check_args(const nb_table *t, uint8_t **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!t || !out || !len)
        return nbi_fail(NB_INVALID_ARG, "arrow: %s is NULL", !t ? "table" : !out ? "out" : "len");
    return NB_OK;
}

/* Hands the bytes out on success; frees what the writer holds. */
static nb_status finish(writer *w, nb_status s, uint8_t **out, size_t *len)
{
    if (s == NB_OK && !(*out = nbi_buf_detach(&w->out, len)))
        s = nbi_fail(NB_NO_MEMORY, "arrow: cannot hand out the stream");
    nbi_buf_free(&w->out);
    free(w->blocks);
    return s;
}

nb_status nb_table_to_ipc(const nb_table *t, size_t batch_rows, uint8_t **out, size_t *len)
{
    nb_status s = check_args(t, out, len);
    if (s != NB_OK)
        return s;
    writer w = {NBI_BUF_INIT, NULL, 0, 0};
    return finish(&w, write_stream(&w, t, batch_rows, false), out, len);
}

/* ------------------------------------------------------------------------ */
/* File format                                                              */
/* ------------------------------------------------------------------------ */

/* The Footer flatbuffer: version, schema, no dictionaries, the batches' blocks. */
static nb_status write_footer(writer *w, const nb_table *t)
{
    nbi_fbb b;
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(NBI_FOOTER_VERSION, 2, NBI_IPC_V5),
                         NBI_FBB_OFFSET(NBI_FOOTER_SCHEMA), NBI_FBB_OFFSET(NBI_FOOTER_BATCHES)};
    size_t slots[3];
    uint8_t *blocks = calloc(w->n_blocks + 1, NBI_IPC_BLOCK_SIZE);
    if (!blocks)
        return nbi_fail(NB_NO_MEMORY, "arrow: cannot list %zu blocks", w->n_blocks);
    for (size_t i = 0; i < w->n_blocks; i++) {
        uint8_t *p = blocks + NBI_IPC_BLOCK_SIZE * i;
        nbi_put_le64(p, (uint64_t)w->blocks[i].offset); /* from the file's start */
        nbi_put_le32(p + 8, (uint32_t)w->blocks[i].meta_len);
        nbi_put_le64(p + 16, (uint64_t)w->blocks[i].body_len);
    }
    nbi_fbb_init(&b);
    nbi_fbb_set_root(&b, nbi_fbb_table(&b, f, 3, slots));
    build_schema(&b, slots[1], t);
    nbi_fbb_patch(&b, slots[2],
                  nbi_fbb_struct_vector(&b, blocks, NBI_IPC_BLOCK_SIZE, w->n_blocks));
    free(blocks);
    uint8_t size[4];
    nbi_put_le32(size, (uint32_t)b.buf.len);
    nb_status s = b.status;
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, b.buf.data, b.buf.len);
    if (s == NB_OK)
        s = nbi_buf_append(&w->out, size, 4);
    nbi_fbb_free(&b);
    return s;
}

nb_status nb_table_to_ipc_file(const nb_table *t, size_t batch_rows, uint8_t **out, size_t *len)
{
    static const uint8_t head[8] = {'A', 'R', 'R', 'O', 'W', '1', 0, 0};
    nb_status s = check_args(t, out, len);
    if (s != NB_OK)
        return s;
    writer w = {NBI_BUF_INIT, NULL, 0, 0};
    s = nbi_buf_append(&w.out, head, sizeof head);
    if (s == NB_OK)
        s = write_stream(&w, t, batch_rows, true);
    if (s == NB_OK)
        s = write_footer(&w, t);
    if (s == NB_OK)
        s = nbi_buf_append(&w.out, NBI_IPC_MAGIC, NBI_IPC_MAGIC_LEN);
    return finish(&w, s, out, len);
}
