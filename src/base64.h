/* SPDX-License-Identifier: MIT */
/*
 * base64.h - standard, padded base64 (RFC 4648 section 4), the variant the
 * peers write in direct payloads (PROTOCOL.md).
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
 * Decodes n characters into out (room for nbi_base64_decoded_max(n) bytes).
 * Strict: only the standard alphabet; padding may be present or absent but
 * never wrong; no whitespace. On error names the offset of the bad character.
 */
nb_status nbi_base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);

#endif
