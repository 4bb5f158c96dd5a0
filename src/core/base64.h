/* SPDX-License-Identifier: MIT */
/*
 * base64.h - standard, padded base64 (RFC 4648 section 4), the variant the
 * peers write in direct payloads (PROTOCOL.md). Vectorized where the CPU
 * allows (SSSE3, AVX2 on x86-64), chosen once at run time.
 */
#ifndef NB_BASE64_H
#define NB_BASE64_H

#include "buf.h"
#include "internal.h"

/* Characters needed to encode n bytes (with padding); SIZE_MAX on overflow. */
size_t nbi_base64_encoded_len(size_t n);
/* Encodes n bytes into out (nbi_base64_encoded_len(n) chars, no NUL written). */
void nbi_base64_encode(const uint8_t *in, size_t n, char *out);
/*
 * Appends the base64 of n bytes to b, encoded in place (no intermediate copy);
 * NB_TOO_LARGE when n is too many to encode.
 */
nb_status nbi_base64_append(nbi_buf *b, const uint8_t *data, size_t n);
/* Upper bound of bytes decoded from n characters. */
size_t nbi_base64_decoded_max(size_t n);
/*
 * Decodes n characters into out (room for nbi_base64_decoded_max(n) bytes;
 * nothing is ever written past the decoded length, so an exact-size buffer
 * also works). Strict: only the standard alphabet; padding may be present or
 * absent but never wrong; no whitespace. On error names the offset of the
 * bad character (the first one, whichever implementation runs).
 */
nb_status nbi_base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);

/*
 * Implementations. Every one gives the same output and the same errors; the
 * library uses the best the CPU has, or the one NB_BASE64_IMPL names
 * (scalar, ssse3, avx2; read once; an unknown or unavailable name means
 * the best available). Tests and bench/bench_base64.c run each explicitly.
 */
typedef enum {
    NBI_BASE64_SCALAR, /* portable C: lookup tables, 6 bytes / 4 chars per step */
    NBI_BASE64_SSSE3,  /* x86-64, 12 bytes / 16 chars per step */
    NBI_BASE64_AVX2,   /* x86-64, 24 bytes / 32 chars per step */
    NBI_BASE64_IMPL_COUNT
} nbi_base64_impl;

/* "scalar", "ssse3" or "avx2". */
const char *nbi_base64_impl_name(nbi_base64_impl impl);
/* Whether this build and this CPU can run impl. */
bool nbi_base64_impl_available(nbi_base64_impl impl);
/* The implementation nbi_base64_encode/decode use in this process. */
nbi_base64_impl nbi_base64_impl_active(void);
/* nbi_base64_encode with a given implementation (which must be available). */
void nbi_base64_encode_with(nbi_base64_impl impl, const uint8_t *in, size_t n, char *out);
/* nbi_base64_decode with a given implementation (which must be available). */
nb_status nbi_base64_decode_with(nbi_base64_impl impl, const char *in, size_t n, uint8_t *out,
                                 size_t *out_len);

#endif
