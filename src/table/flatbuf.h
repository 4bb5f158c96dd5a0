/* SPDX-License-Identifier: MIT */
/*
 * flatbuf.h - a small bounds-checked FlatBuffers reader and a small builder,
 * enough for Arrow IPC metadata (Message.fbs, Schema.fbs, File.fbs).
 *
 * Reading: every offset, vtable and length is checked against the buffer
 * before use; values are loaded byte by byte (no unaligned access), and
 * nesting is limited to NBI_FB_MAX_DEPTH tables. A failure returns
 * NB_BAD_PAYLOAD with a message starting "flatbuffer: ..."; callers prefix
 * it with what they were reading.
 *
 * Building: front to back. A table is written before its children, its
 * offset fields are recorded as slots and patched once each child exists
 * (FlatBuffers offsets only point forward, which this order satisfies).
 * Errors are sticky: the first allocation failure is kept in b->status and
 * later calls do nothing.
 */
#ifndef NB_FLATBUF_H
#define NB_FLATBUF_H

#include "buf.h"

#define NBI_FB_MAX_DEPTH 32

/* Little-endian loads and stores (FlatBuffers and Arrow bodies are little-endian). */
static inline uint16_t nbi_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t nbi_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t nbi_le64(const uint8_t *p)
{
    return (uint64_t)nbi_le32(p) | (uint64_t)nbi_le32(p + 4) << 32;
}
static inline void nbi_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline void nbi_put_le64(uint8_t *p, uint64_t v)
{
    nbi_put_le32(p, (uint32_t)v);
    nbi_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* A table inside a flatbuffer (a view of the caller's bytes). */
typedef struct nbi_fb_table {
    const uint8_t *buf; /* the whole flatbuffer */
    size_t len;
    size_t pos;         /* the table's start (its soffset to the vtable) */
    size_t vt;          /* its vtable */
    uint16_t vt_len;    /* vtable size in bytes */
    uint16_t tab_len;   /* inline size of the table in bytes */
    int depth;          /* tables above this one */
} nbi_fb_table;

/* A vector inside a flatbuffer: count elements starting at pos. */
typedef struct nbi_fb_vec {
    const uint8_t *buf;
    size_t len;
    size_t pos;         /* first element */
    uint32_t count;
    int depth;          /* of the table holding the vector */
} nbi_fb_vec;

/* Opens the root table of the len bytes at buf (borrowed; *t views them). */
nb_status nbi_fb_root(nbi_fb_table *t, const uint8_t *buf, size_t len);

/* Whether field id is present (not defaulted) in t. */
bool nbi_fb_has(const nbi_fb_table *t, unsigned id);

/* Scalar field id of t, or dflt when absent. Fails when it lies outside the table. */
nb_status nbi_fb_bool(const nbi_fb_table *t, unsigned id, bool dflt, bool *out);
nb_status nbi_fb_u8(const nbi_fb_table *t, unsigned id, uint8_t dflt, uint8_t *out);
nb_status nbi_fb_i16(const nbi_fb_table *t, unsigned id, int16_t dflt, int16_t *out);
nb_status nbi_fb_i32(const nbi_fb_table *t, unsigned id, int32_t dflt, int32_t *out);
nb_status nbi_fb_i64(const nbi_fb_table *t, unsigned id, int64_t dflt, int64_t *out);

/* Sub-table field id; *present false (and *out untouched) when absent. */
nb_status nbi_fb_table_field(const nbi_fb_table *t, unsigned id, nbi_fb_table *out,
                             bool *present);

/* String field id: *s views n bytes (NUL-terminated in the buffer); NULL, 0 when absent. */
nb_status nbi_fb_string(const nbi_fb_table *t, unsigned id, const char **s, size_t *n);

/*
 * Vector field id whose elements are elem_size bytes each (structs or scalars;
 * 4 for vectors of tables or strings); an absent vector has count 0. Every
 * element is checked to lie inside the buffer.
 */
nb_status nbi_fb_vector(const nbi_fb_table *t, unsigned id, size_t elem_size, nbi_fb_vec *out);

/* Element i (< v->count) of a struct vector of elem_size-byte elements. */
static inline const uint8_t *nbi_fb_vec_at(const nbi_fb_vec *v, size_t i, size_t elem_size)
{
    return v->buf + v->pos + i * elem_size;
}

/* Table element i (< v->count) of a vector of tables. */
nb_status nbi_fb_vec_table(const nbi_fb_vec *v, size_t i, nbi_fb_table *out);

/* ------------------------------------------------------------------------ */
/* Builder                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct nbi_fbb {
    nbi_buf buf;
    nb_status status; /* the first failure; later calls do nothing */
} nbi_fbb;

/* One field of a table to build: a scalar (size 1, 2, 4 or 8) or an offset. */
typedef struct nbi_fbb_field {
    uint16_t id;
    uint8_t size;     /* bytes of a scalar; 0 for an offset to patch later */
    uint64_t value;   /* the scalar, little-endian truncated to size */
} nbi_fbb_field;

#define NBI_FBB_SCALAR(id_, size_, v) {(uint16_t)(id_), (uint8_t)(size_), (uint64_t)(v)}
#define NBI_FBB_OFFSET(id_) {(uint16_t)(id_), 0, 0}

/* Starts a flatbuffer with a root offset to patch with nbi_fbb_set_root. */
void nbi_fbb_init(nbi_fbb *b);
/* Frees the bytes. */
void nbi_fbb_free(nbi_fbb *b);

/*
 * Writes a table (and its vtable) of n fields; slots[i] (may be NULL when no
 * field is an offset) receives where field i's offset must be patched.
 * Returns the table's position.
 */
size_t nbi_fbb_table(nbi_fbb *b, const nbi_fbb_field *fields, size_t n, size_t *slots);
/* Writes a string of n bytes; returns its position. */
size_t nbi_fbb_string(nbi_fbb *b, const char *s, size_t n);
/* Writes a vector of count structs of elem_size (8-aligned) bytes; returns its position. */
size_t nbi_fbb_struct_vector(nbi_fbb *b, const void *elems, size_t elem_size, size_t count);
/* Writes a vector of count offsets to patch: slot i is at return value + 4 + 4 * i. */
size_t nbi_fbb_offset_vector(nbi_fbb *b, size_t count);
/* Points the offset at slot to target (which must come after it). */
void nbi_fbb_patch(nbi_fbb *b, size_t slot, size_t target);
/* Points the root offset to the table at pos. */
static inline void nbi_fbb_set_root(nbi_fbb *b, size_t pos) { nbi_fbb_patch(b, 0, pos); }

#endif /* NB_FLATBUF_H */
