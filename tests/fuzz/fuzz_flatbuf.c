/* SPDX-License-Identifier: MIT */
/*
 * fuzz_flatbuf.c - libFuzzer target for the bounds-checked FlatBuffers reader
 * (flatbuf.c) on its own, the layer under every Arrow IPC message. The input
 * is a flatbuffer (an Arrow IPC message's continuation marker and size, when
 * present, are skipped so that the IPC corpus seeds it); the walk follows the
 * input's own vtables: every field of every table is read as every scalar
 * width, as a string, a sub-table, and a vector of 1, 2, 4, 8 and 16-byte
 * elements whose 4-byte elements are also opened as tables. Every byte a
 * getter hands out is read, so ASan sees any view that leaves the buffer. A
 * budget of 64 tables bounds the walk (shared sub-tables would make it
 * exponential; 512 ran 368 inputs/s, 64 still reaches NBI_FB_MAX_DEPTH, the
 * nesting the reader itself refuses beyond).
 */
#include "flatbuf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLES 64
#define MAX_FIELDS 32
#define MAX_ELEMS 64

typedef struct walk {
    const uint8_t *buf;
    size_t len;
    unsigned tables;
    volatile uint64_t sum; /* what was read, so that no read is optimised away */
} walk;

static void table(walk *w, const nbi_fb_table *t);

/* A view [p, p + n) handed out by the reader must lie inside the buffer: read it all. */
static void touch(walk *w, const uint8_t *p, size_t n)
{
    if (n && (p < w->buf || p + n > w->buf + w->len))
        abort();
    for (size_t i = 0; i < n; i++)
        w->sum += p[i];
}

static void vectors(walk *w, const nbi_fb_table *t, unsigned id)
{
    static const size_t sizes[] = {1, 2, 4, 8, 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        nbi_fb_vec v;
        if (nbi_fb_vector(t, id, sizes[k], &v) != NB_OK || v.count == 0)
            continue;
        touch(w, nbi_fb_vec_at(&v, 0, sizes[k]), (size_t)v.count * sizes[k]);
        for (uint32_t i = 0; sizes[k] == 4 && i < v.count && i < MAX_ELEMS; i++) {
            nbi_fb_table sub;
            if (nbi_fb_vec_table(&v, i, &sub) == NB_OK)
                table(w, &sub);
        }
    }
}

static void field(walk *w, const nbi_fb_table *t, unsigned id)
{
    bool b;
    uint8_t u8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    const char *s;
    size_t n;
    nbi_fb_table sub;
    bool present;
    w->sum += nbi_fb_has(t, id);
    if (nbi_fb_bool(t, id, false, &b) == NB_OK)
        w->sum += b;
    if (nbi_fb_u8(t, id, 0, &u8) == NB_OK)
        w->sum += u8;
    if (nbi_fb_i16(t, id, 0, &i16) == NB_OK)
        w->sum += (uint64_t)i16;
    if (nbi_fb_i32(t, id, 0, &i32) == NB_OK)
        w->sum += (uint64_t)i32;
    if (nbi_fb_i64(t, id, 0, &i64) == NB_OK)
        w->sum += (uint64_t)i64;
    if (nbi_fb_string(t, id, &s, &n) == NB_OK && s) {
        touch(w, (const uint8_t *)s, n + 1); /* with its NUL */
        if (s[n] != '\0')
            abort();
    }
    if (nbi_fb_table_field(t, id, &sub, &present) == NB_OK && present)
        table(w, &sub);
    vectors(w, t, id);
}

static void table(walk *w, const nbi_fb_table *t)
{
    if (++w->tables > MAX_TABLES)
        return;
    if (t->depth > NBI_FB_MAX_DEPTH)
        abort(); /* the reader must refuse deeper nesting */
    touch(w, w->buf + t->vt, t->vt_len);
    touch(w, w->buf + t->pos, t->tab_len);
    unsigned fields = (t->vt_len - 4u) / 2u;
    for (unsigned id = 0; id < fields && id < MAX_FIELDS; id++)
        field(w, t, id);
    field(w, t, fields); /* one past the vtable: absent, the default */
}

/* Walks the n bytes at p from an exact-size copy, so that ASan sees over-reads. */
static void walk_buffer(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, p, n);
    walk w = {copy, n, 0, 0};
    nbi_fb_table root;
    nb_status s = nbi_fb_root(&root, copy, n);
    if (s == NB_OK)
        table(&w, &root);
    else if (nb_last_error()[0] == '\0')
        abort();
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk_buffer(data, size);
    /* An Arrow IPC message: 0xFFFFFFFF, int32 size, then the flatbuffer. */
    if (size >= 8 && nbi_le32(data) == 0xFFFFFFFFu) {
        size_t n = nbi_le32(data + 4);
        walk_buffer(data + 8, n < size - 8 ? n : size - 8);
    }
    return 0;
}
