/* SPDX-License-Identifier: MIT */
/*
 * buf.c - growable byte buffer: doubling growth, overflow-checked, always
 * NUL-terminated so that text can be handed out without a copy.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

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
