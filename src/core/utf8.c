/* SPDX-License-Identifier: MIT */
/*
 * utf8.c - strict UTF-8 validation (RFC 3629). A bottom module: payloads,
 * envelopes, tables and the IPC reader all call it and it calls nothing.
 */
#include "utf8.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid (RFC 3629 table). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                                            : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    /* The second byte's range is narrower after E0, ED, F0 and F4. */
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/*
 * Length of the ASCII prefix of s: 32 bytes a step with SSE2 (every x86-64
 * has it), 8 with a word elsewhere. Most text, JSON and all base64 is ASCII.
 */
static size_t ascii_prefix(const uint8_t *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; n - i >= 32; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(a, b))) /* the top bit of some byte */
            break;
    }
#endif
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull)
            break;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

size_t nbi_utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        i += ascii_prefix(s + i, n - i);
        /* A run of multi-byte sequences (non-Latin text) goes on without the ASCII scan. */
        while (i < n && s[i] >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0)
                return i;
            i += k;
        }
        if (i == n)
            return n;
    }
}

bool nbi_utf8_valid(const uint8_t *s, size_t n) { return nbi_utf8_check(s, n) == n; }

bool nbi_ascii(const uint8_t *s, size_t n) { return ascii_prefix(s, n) == n; }
