/* SPDX-License-Identifier: MIT */
/*
 * flatbuf.c - bounds-checked FlatBuffers reading and a front-to-back builder
 * (see flatbuf.h). Binary format: flatbuffers_internals.html and flatcc's
 * doc/binary-format.md, summarised in shared/reference/arrow-ipc.md §4.2.
 */
#include "flatbuf.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

static nb_status open_table(const uint8_t *buf, size_t len, size_t pos, int depth,
                            nbi_fb_table *t)
{
    if (depth > NBI_FB_MAX_DEPTH)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: tables nested deeper than %d",
                        NBI_FB_MAX_DEPTH);
    if (pos > len || len - pos < 4)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: table at %zu outside the %zu bytes", pos,
                        len);
    /* The vtable sits at table - soffset, on either side of the table. */
    int64_t vt = (int64_t)pos - (int32_t)nbi_le32(buf + pos);
    if (vt < 0 || (uint64_t)vt > len - 4)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: vtable of table at %zu outside the buffer",
                        pos);
    uint16_t vt_len = nbi_le16(buf + vt), tab_len = nbi_le16(buf + vt + 2);
    if (vt_len < 4 || (vt_len & 1) || vt_len > len - (size_t)vt)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: vtable of table at %zu has bad size %u",
                        pos, vt_len);
    if (tab_len < 4 || tab_len > len - pos)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: table at %zu has bad size %u", pos,
                        tab_len);
    *t = (nbi_fb_table){buf, len, pos, (size_t)vt, vt_len, tab_len, depth};
    return NB_OK;
}

nb_status nbi_fb_root(nbi_fb_table *t, const uint8_t *buf, size_t len)
{
    if (len < 4)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: %zu bytes, too short for a root", len);
    return open_table(buf, len, nbi_le32(buf), 0, t);
}

/* Offset of field id inside t, 0 when absent (vtable too short or slot 0). */
static uint16_t field_offset(const nbi_fb_table *t, unsigned id)
{
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vt_len)
        return 0;
    return nbi_le16(t->buf + t->vt + slot);
}

bool nbi_fb_has(const nbi_fb_table *t, unsigned id) { return field_offset(t, id) != 0; }

/* Points *p at field id's size bytes (NULL when absent), checked inside the table. */
static nb_status field_bytes(const nbi_fb_table *t, unsigned id, size_t size, const uint8_t **p)
{
    uint16_t off = field_offset(t, id);
    *p = NULL;
    if (off == 0)
        return NB_OK;
    if (off < 4 || off + size > t->tab_len)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "flatbuffer: field %u of table at %zu lies outside its %u bytes", id,
                        t->pos, t->tab_len);
    *p = t->buf + t->pos + off;
    return NB_OK;
}

/* Scalar field id of size bytes (1, 2, 4 or 8) as an unsigned value; dflt when absent. */
static nb_status scalar(const nbi_fb_table *t, unsigned id, size_t size, uint64_t dflt,
                        uint64_t *out)
{
    const uint8_t *p;
    nb_status s = field_bytes(t, id, size, &p);
    *out = dflt;
    if (p) {
        *out = 0;
        for (size_t i = size; i-- > 0;) /* little-endian, byte by byte */
            *out = *out << 8 | p[i];
    }
    return s;
}

/* The typed accessors: the same read, converted through the unsigned type of their size. */
#define NBI_FB_SCALAR_GETTER(name, type, utype)                                      \
    nb_status name(const nbi_fb_table *t, unsigned id, type dflt, type *out)         \
    {                                                                                \
        uint64_t v;                                                                  \
        nb_status s = scalar(t, id, sizeof(utype), (utype)dflt, &v);                 \
        *out = (type)(utype)v;                                                       \
        return s;                                                                    \
    }

NBI_FB_SCALAR_GETTER(nbi_fb_bool, bool, uint8_t)
NBI_FB_SCALAR_GETTER(nbi_fb_u8, uint8_t, uint8_t)
NBI_FB_SCALAR_GETTER(nbi_fb_i16, int16_t, uint16_t)
NBI_FB_SCALAR_GETTER(nbi_fb_i32, int32_t, uint32_t)
NBI_FB_SCALAR_GETTER(nbi_fb_i64, int64_t, uint64_t)

/* Follows the uoffset in field id: *target is where it points (0 when absent). */
static nb_status follow(const nbi_fb_table *t, unsigned id, size_t *target)
{
    const uint8_t *p;
    nb_status s = field_bytes(t, id, 4, &p);
    *target = 0;
    if (s != NB_OK || !p)
        return s;
    size_t at = (size_t)(p - t->buf), rel = nbi_le32(p);
    if (rel == 0 || rel > t->len - at)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "flatbuffer: field %u of table at %zu points outside the %zu bytes", id,
                        t->pos, t->len);
    *target = at + rel;
    return NB_OK;
}

nb_status nbi_fb_table_field(const nbi_fb_table *t, unsigned id, nbi_fb_table *out,
                             bool *present)
{
    size_t target;
    nb_status s = follow(t, id, &target);
    *present = false;
    if (s != NB_OK || target == 0)
        return s;
    *present = true;
    return open_table(t->buf, t->len, target, t->depth + 1, out);
}

/* Reads a vector header at target: count elements of elem_size bytes, all inside the buffer. */
static nb_status vector_at(const nbi_fb_table *t, unsigned id, size_t target, size_t elem_size,
                           size_t extra, nbi_fb_vec *v)
{
    if (t->len - target < 4)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: vector of field %u cut short", id);
    uint32_t count = nbi_le32(t->buf + target);
    size_t room = t->len - target - 4;
    if ((uint64_t)count * elem_size + extra > room)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "flatbuffer: field %u holds %u elements of %zu bytes, only %zu bytes left",
                        id, count, elem_size, room);
    *v = (nbi_fb_vec){t->buf, t->len, target + 4, count, t->depth};
    return NB_OK;
}

nb_status nbi_fb_vector(const nbi_fb_table *t, unsigned id, size_t elem_size, nbi_fb_vec *out)
{
    size_t target;
    nb_status s = follow(t, id, &target);
    *out = (nbi_fb_vec){t->buf, t->len, 0, 0, t->depth};
    if (s != NB_OK || target == 0)
        return s;
    return vector_at(t, id, target, elem_size, 0, out);
}

nb_status nbi_fb_string(const nbi_fb_table *t, unsigned id, const char **str, size_t *n)
{
    size_t target;
    nbi_fb_vec v = {0};
    *str = NULL;
    *n = 0;
    nb_status s = follow(t, id, &target);
    if (s != NB_OK || target == 0)
        return s;
    /* One more byte: FlatBuffers strings carry a terminating NUL. */
    if ((s = vector_at(t, id, target, 1, 1, &v)) != NB_OK)
        return s;
    if (v.buf[v.pos + v.count] != 0)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: string of field %u is not NUL-terminated",
                        id);
    *str = (const char *)v.buf + v.pos;
    *n = v.count;
    return NB_OK;
}

nb_status nbi_fb_vec_table(const nbi_fb_vec *v, size_t i, nbi_fb_table *out)
{
    size_t at = v->pos + 4 * i, rel = nbi_le32(v->buf + at);
    if (rel == 0 || rel > v->len - at)
        return nbi_fail(NB_BAD_PAYLOAD, "flatbuffer: table %zu of vector at %zu out of bounds",
                        i, v->pos);
    return open_table(v->buf, v->len, at + rel, v->depth + 1, out);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

/* Appends n zero bytes; NULL (status kept) on failure or after an earlier one. */
static uint8_t *grow(nbi_fbb *b, size_t n)
{
    if (b->status != NB_OK)
        return NULL;
    if ((b->status = nbi_buf_reserve(&b->buf, n)) != NB_OK)
        return NULL;
    uint8_t *p = b->buf.data + b->buf.len;
    memset(p, 0, n);
    b->buf.len += n;
    return p;
}

/* Pads with zeros until (len + phase) is a multiple of align. */
static void pad(nbi_fbb *b, size_t align, size_t phase)
{
    size_t rem = (b->buf.len + phase) % align;
    if (rem)
        grow(b, align - rem);
}

void nbi_fbb_init(nbi_fbb *b)
{
    *b = (nbi_fbb){NBI_BUF_INIT, NB_OK};
    grow(b, 4);
}

void nbi_fbb_free(nbi_fbb *b) { nbi_buf_free(&b->buf); }

static size_t field_size(const nbi_fbb_field *f) { return f->size ? f->size : 4; }

/* Writes the vtable of fields whose in-table offsets are offs[]; returns its position. */
static size_t write_vtable(nbi_fbb *b, const nbi_fbb_field *fields, size_t n,
                           const uint16_t *offs, uint16_t tab_len)
{
    unsigned max_id = 0;
    for (size_t i = 0; i < n; i++)
        max_id = fields[i].id > max_id ? fields[i].id : max_id;
    size_t vt_len = 4 + 2 * (size_t)(n ? max_id + 1 : 0);
    size_t vt = b->buf.len;
    uint8_t *p = grow(b, vt_len);
    if (!p)
        return 0;
    p[0] = (uint8_t)vt_len, p[1] = (uint8_t)(vt_len >> 8);
    p[2] = (uint8_t)tab_len, p[3] = (uint8_t)(tab_len >> 8);
    for (size_t i = 0; i < n; i++) {
        p[4 + 2 * fields[i].id] = (uint8_t)offs[i];
        p[5 + 2 * fields[i].id] = (uint8_t)(offs[i] >> 8);
    }
    return vt;
}

size_t nbi_fbb_table(nbi_fbb *b, const nbi_fbb_field *fields, size_t n, size_t *slots)
{
    /* Largest fields first after the soffset, with the table at 4 mod 8:
     * then every scalar lands on a multiple of its size. */
    uint16_t offs[16];
    size_t cursor = 4;
    if (n > 16)
        n = 16; /* Arrow's tables have at most 7 fields */
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t i = 0; i < n; i++)
            if (field_size(&fields[i]) == size) {
                offs[i] = (uint16_t)cursor;
                cursor += size;
            }
    pad(b, 4, 0);
    size_t vt = write_vtable(b, fields, n, offs, (uint16_t)cursor);
    pad(b, 8, 4);
    size_t pos = b->buf.len;
    uint8_t *p = grow(b, cursor);
    if (!p)
        return 0;
    nbi_put_le32(p, (uint32_t)(pos - vt));
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < fields[i].size; k++)
            p[offs[i] + k] = (uint8_t)(fields[i].value >> (8 * k));
        if (slots)
            slots[i] = pos + offs[i];
    }
    pad(b, 4, 0);
    return pos;
}

size_t nbi_fbb_string(nbi_fbb *b, const char *s, size_t n)
{
    pad(b, 4, 0);
    size_t pos = b->buf.len;
    uint8_t *p = grow(b, 4 + n + 1);
    if (!p)
        return 0;
    nbi_put_le32(p, (uint32_t)n);
    if (n)
        memcpy(p + 4, s, n);
    pad(b, 4, 0);
    return pos;
}

size_t nbi_fbb_struct_vector(nbi_fbb *b, const void *elems, size_t elem_size, size_t count)
{
    pad(b, 8, 4); /* the elements start 8-aligned, after the count */
    size_t pos = b->buf.len;
    uint8_t *p = grow(b, 4 + elem_size * count);
    if (!p)
        return 0;
    nbi_put_le32(p, (uint32_t)count);
    if (count)
        memcpy(p + 4, elems, elem_size * count);
    pad(b, 4, 0);
    return pos;
}

size_t nbi_fbb_offset_vector(nbi_fbb *b, size_t count)
{
    pad(b, 4, 0);
    size_t pos = b->buf.len;
    uint8_t *p = grow(b, 4 + 4 * count);
    if (p)
        nbi_put_le32(p, (uint32_t)count);
    return pos;
}

void nbi_fbb_patch(nbi_fbb *b, size_t slot, size_t target)
{
    if (b->status == NB_OK && target > slot && slot + 4 <= b->buf.len)
        nbi_put_le32(b->buf.data + slot, (uint32_t)(target - slot));
}
