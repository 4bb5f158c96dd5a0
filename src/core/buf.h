/* SPDX-License-Identifier: MIT */
/*
 * buf.h - the one growable byte buffer of natsbridge.
 */
#ifndef NB_BUF_H
#define NB_BUF_H

#include "internal.h"

typedef struct nbi_buf {
    uint8_t *data; /* always NUL-terminated after len when data != NULL */
    size_t len;
    size_t cap;
} nbi_buf;

#define NBI_BUF_INIT {NULL, 0, 0}

/* Makes room for extra more bytes (plus the NUL); NB_NO_MEMORY or NB_TOO_LARGE on overflow. */
nb_status nbi_buf_reserve(nbi_buf *b, size_t extra);
nb_status nbi_buf_append(nbi_buf *b, const void *data, size_t n);
nb_status nbi_buf_append_str(nbi_buf *b, const char *s);
/*
 * Makes room for exactly extra more bytes (plus the NUL) in one allocation, for
 * a writer that has sized its output: no doubling slack, no growth copies. A
 * block of 2 * NBI_BUF_HUGE bytes or more starts on a 2 MiB boundary, is rounded
 * up to whole 2 MiB pages when that adds at most an eighth, and is advised for
 * transparent huge pages, so that filling a fresh buffer takes one page fault
 * per 2 MiB instead of one per 4 KiB. The bytes stay free()-able; later appends
 * past the reserve grow as usual.
 */
#define NBI_BUF_HUGE ((size_t)2 << 20)
nb_status nbi_buf_reserve_exact(nbi_buf *b, size_t extra);
/* Frees the bytes and resets b to empty. */
void nbi_buf_free(nbi_buf *b);
/* Hands the bytes to the caller (malloc'd, NUL-terminated) and resets b. */
uint8_t *nbi_buf_detach(nbi_buf *b, size_t *len);

#endif
