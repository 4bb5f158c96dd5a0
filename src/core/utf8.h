/* SPDX-License-Identifier: MIT */
/*
 * utf8.h - UTF-8 validation (utf8.c): every text, dataname, field and table
 * string the library accepts passes through it.
 */
#ifndef NB_UTF8_H
#define NB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when n bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool nbi_utf8_valid(const uint8_t *s, size_t n);

/* True when n bytes are all ASCII (< 0x80): the quick scan nbi_utf8_check starts with. */
bool nbi_ascii(const uint8_t *s, size_t n);

/* Offset of the first byte that starts no valid UTF-8 sequence, or n when all are valid. */
size_t nbi_utf8_check(const uint8_t *s, size_t n);

#endif /* NB_UTF8_H */
