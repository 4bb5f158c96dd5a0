/* SPDX-License-Identifier: MIT */
/*
 * buf.c - growable byte buffer: doubling growth, overflow-checked, always
 * NUL-terminated so that text can be handed out without a copy.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The bytes b needs for extra more (plus the NUL) in *need, or NB_TOO_LARGE. */
static nb_status needed(const nbi_buf *b, size_t extra, size_t *need)
{
    /* Catch size_t overflow before it turns into a short allocation. */
    if (extra > SIZE_MAX - b->len - 1)
        return nbi_fail(NB_TOO_LARGE, "buffer: %zu more bytes overflow size_t", extra);
    *need = b->len + extra + 1;
    return NB_OK;
}

nb_status nbi_buf_reserve(nbi_buf *b, size_t extra)
{
    size_t need = 0;
    nb_status s = needed(b, extra, &need);
    if (s != NB_OK || need <= b->cap)
        return s;
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
 * A block of at least *cap bytes (*cap updated). A large one starts on a
 * 2 MiB boundary and is advised for transparent huge pages, so that filling
 * it takes one page fault per 2 MiB: its size is rounded up to whole 2 MiB
 * pages when that adds at most an eighth (else its tail, under 2 MiB, keeps
 * 4 KiB pages). It stays a plain free()-able block (glibc maps a block this
 * large on its own and unmaps it on free, so the heap that other buffers
 * reuse is left alone). The advice is a hint (the kernel may have THP off):
 * its failure costs speed only.
 */
static uint8_t *alloc_sized(size_t *cap)
{
#ifdef MADV_HUGEPAGE
    if (*cap >= 2 * NBI_BUF_HUGE && *cap <= SIZE_MAX - NBI_BUF_HUGE) {
        size_t pages = (*cap + NBI_BUF_HUGE - 1) & ~(NBI_BUF_HUGE - 1);
        size_t size = pages - *cap <= *cap / 8 ? pages : *cap;
        uint8_t *p = aligned_alloc(NBI_BUF_HUGE, pages); /* (a multiple of the alignment) */
        if (p) {
            (void)madvise(p, size & ~(NBI_BUF_HUGE - 1), MADV_HUGEPAGE);
            *cap = size;
        }
        return p;
    }
#endif
    return malloc(*cap);
}

nb_status nbi_buf_reserve_exact(nbi_buf *b, size_t extra)
{
    size_t cap = 0;
    nb_status s = needed(b, extra, &cap);
    if (s != NB_OK || cap <= b->cap)
        return s;
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
