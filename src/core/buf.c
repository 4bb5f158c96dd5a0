/* SPDX-License-Identifier: MIT */
/*
 * buf.c - growable byte buffer: doubling growth, overflow-checked, always
 * NUL-terminated so that text can be handed out without a copy.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

nb_status nbi_buf_reserve(nbi_buf *b, size_t extra)
{
    /* Catch size_t overflow before it turns into a short allocation. */
    if (extra > SIZE_MAX - b->len - 1)
        return nbi_fail(NB_TOO_LARGE, "buffer: %zu more bytes overflow size_t", extra);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return NB_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *data = realloc(b->data, cap);
    if (!data)
        return nbi_fail(NB_NO_MEMORY, "buffer: cannot grow to %zu bytes", cap);
    b->data = data;
    b->cap = cap;
    return NB_OK;
}

/*
 * A block of *cap bytes. A large one is advised for transparent huge pages
 * over the whole 2 MiB-aligned pages inside it. It stays a plain malloc
 * block (glibc maps a block this large on its own and unmaps it on free, so
 * the heap that other buffers reuse is left alone). The advice is a hint (the
 * kernel may have THP off): its failure costs speed only.
 */
static uint8_t *alloc_sized(size_t *cap)
{
    uint8_t *p = malloc(*cap);
#ifdef MADV_HUGEPAGE
    if (p && *cap >= 2 * NBI_BUF_HUGE) {
        uintptr_t lo = ((uintptr_t)p + NBI_BUF_HUGE - 1) & ~(uintptr_t)(NBI_BUF_HUGE - 1);
        uintptr_t hi = ((uintptr_t)p + *cap) & ~(uintptr_t)(NBI_BUF_HUGE - 1);
        if (hi > lo)
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    return p;
}

nb_status nbi_buf_reserve_exact(nbi_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return nbi_fail(NB_TOO_LARGE, "buffer: %zu more bytes overflow size_t", extra);
    size_t cap = b->len + extra + 1;
    if (cap <= b->cap)
        return NB_OK;
    uint8_t *data = alloc_sized(&cap);
    if (!data)
        return nbi_fail(NB_NO_MEMORY, "buffer: cannot allocate %zu bytes", cap);
    if (b->len)
        memcpy(data, b->data, b->len);
    data[b->len] = '\0';
    free(b->data);
    b->data = data;
    b->cap = cap;
    return NB_OK;
}

nb_status nbi_buf_append(nbi_buf *b, const void *data, size_t n)
{
    nb_status s = nbi_buf_reserve(b, n);
    if (s != NB_OK)
        return s;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return NB_OK;
}

nb_status nbi_buf_append_str(nbi_buf *b, const char *s)
{
    return nbi_buf_append(b, s, strlen(s));
}

void nbi_buf_free(nbi_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *nbi_buf_detach(nbi_buf *b, size_t *len)
{
    if (!b->data && nbi_buf_reserve(b, 0) != NB_OK)
        return NULL;
    b->data[b->len] = '\0';
    uint8_t *data = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}
