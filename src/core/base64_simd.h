/* SPDX-License-Identifier: MIT */
/*
 * base64_simd.h - the vector kernels of base64.c (base64_x86.c). Each one
 * does the bulk of a buffer and leaves the rest, including any block with a
 * bad character, to the portable code, which owns every error message: so
 * the offset an error names never depends on the implementation.
 */
#ifndef NB_BASE64_SIMD_H
#define NB_BASE64_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gcc and clang on x86-64: target attributes and __builtin_cpu_supports. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NBI_BASE64_X86 1
#else
#define NBI_BASE64_X86 0
#endif

#if NBI_BASE64_X86
/* Whether the CPU (and the OS, for AVX2's registers) supports the kernel. */
bool nbi_base64_cpu_ssse3(void);
bool nbi_base64_cpu_avx2(void);
/*
 * Encode a prefix of the n bytes of in: returns how many bytes were done (a
 * multiple of 3), their nbi_base64_encoded_len characters written to out.
 */
size_t nbi_base64_enc_ssse3(const uint8_t *in, size_t n, char *out);
size_t nbi_base64_enc_avx2(const uint8_t *in, size_t n, char *out);
/*
 * Decode a prefix of n characters (a multiple of 4, no padding) that are all
 * in the alphabet: returns how many were done (a multiple of 4), their bytes
 * (3 per 4) written to out, which has room for n / 4 * 3 bytes and is never
 * written past that. Stops before the first block holding a bad character.
 */
size_t nbi_base64_dec_ssse3(const char *in, size_t n, uint8_t *out);
size_t nbi_base64_dec_avx2(const char *in, size_t n, uint8_t *out);
#endif

#endif
