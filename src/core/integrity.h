/* SPDX-License-Identifier: MIT */
/*
 * integrity.h - SHA-256 of payload bytes, in memory, from a file, or
 * incrementally while streaming (OpenSSL libcrypto).
 */
#ifndef NB_INTEGRITY_H
#define NB_INTEGRITY_H

#include "internal.h"

#define NBI_SHA256_HEX_LEN 64

typedef struct nbi_sha256 nbi_sha256;

/* Incremental hashing: create, update any number of times, finish (frees). */
nb_status nbi_sha256_create(nbi_sha256 **out);
nb_status nbi_sha256_update(nbi_sha256 *h, const void *data, size_t n);
/* Writes the lowercase hex digest into out[65] and frees h. */
nb_status nbi_sha256_finish(nbi_sha256 *h, char out[NBI_SHA256_HEX_LEN + 1]);
/* Starts h over, as if just created (a body that is sent again from its start). */
nb_status nbi_sha256_reset(nbi_sha256 *h);
/* Frees h without a digest (error paths). */
void nbi_sha256_discard(nbi_sha256 *h);

/* One-shot digest of bytes in memory. */
nb_status nbi_sha256_hex(const void *data, size_t n, char out[NBI_SHA256_HEX_LEN + 1]);
/* Digest of a file, read in 64 KiB blocks; *size gets its byte count (may be NULL). */
nb_status nbi_sha256_file_hex(const char *path, char out[NBI_SHA256_HEX_LEN + 1],
                              uint64_t *size);

#endif
