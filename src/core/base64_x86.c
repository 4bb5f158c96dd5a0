/* SPDX-License-Identifier: MIT */
/*
 * base64_x86.c - SSSE3 and AVX2 base64 kernels (see base64_simd.h).
 *
 * The algorithms are Wojciech Mula's and Daniel Lemire's ("Faster Base64
 * Encoding and Decoding using AVX2 Instructions", 2018): encode by a byte
 * shuffle, two multiplies that move the 6-bit fields into bytes, and a
 * 16-entry offset table; decode by checking every character against two
 * nibble-indexed tables, adding the offset of its range, and packing four
 * 6-bit fields into three bytes with two multiply-adds.
 *
 * Each function carries its own target attribute so that the rest of the
 * library is built for the baseline CPU; base64.c calls them only once
 * __builtin_cpu_supports has said yes.
 */
#include "base64_simd.h"

#if NBI_BASE64_X86

#include <immintrin.h>

#define NBI_SSSE3 __attribute__((target("ssse3")))
#define NBI_AVX2 __attribute__((target("avx2")))

bool nbi_base64_cpu_ssse3(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("ssse3");
}

bool nbi_base64_cpu_avx2(void)
{
    /* gcc's and clang's runtimes report avx2 only when the OS saves the YMM state. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

/* ---- SSSE3 ---- */

/* 12 input bytes (of 16 loaded) -> sixteen 6-bit values, one per byte. */
static inline NBI_SSSE3 __m128i enc_split_128(__m128i in)
{
    /* Each 32-bit lane gets bytes b1 b0 b2 b1 of its 3-byte group. */
    in = _mm_shuffle_epi8(in, _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1));
    __m128i t0 = _mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00));
    __m128i t1 = _mm_mulhi_epu16(t0, _mm_set1_epi32(0x04000040));
    __m128i t2 = _mm_and_si128(in, _mm_set1_epi32(0x003f03f0));
    __m128i t3 = _mm_mullo_epi16(t2, _mm_set1_epi32(0x01000010));
    return _mm_or_si128(t1, t3);
}

/* 6-bit values -> ASCII: add the offset of the range each falls in. */
static inline NBI_SSSE3 __m128i enc_translate_128(__m128i v)
{
    /* Index 0: A-Z (+65), 1: a-z (+71), 2..11: 0-9 (-4), 12: '+' (-19), 13: '/' (-16). */
    const __m128i offsets =
        _mm_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    __m128i idx = _mm_subs_epu8(v, _mm_set1_epi8(51));
    idx = _mm_sub_epi8(idx, _mm_cmpgt_epi8(v, _mm_set1_epi8(25)));
    return _mm_add_epi8(v, _mm_shuffle_epi8(offsets, idx));
}

NBI_SSSE3 size_t nbi_base64_enc_ssse3(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    /* 16 bytes are loaded for 12 used: stop while 16 remain readable. */
    for (; i + 16 <= n; i += 12, out += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        _mm_storeu_si128((__m128i *)(void *)out, enc_translate_128(enc_split_128(v)));
    }
    return i;
}

/*
 * Validity and value of sixteen characters. The two tables hold, per low and
 * high nibble, a bit for each range the nibble excludes: a character is in
 * the alphabet when its two entries share no bit. '/' is the one character
 * whose offset differs from the rest of its high nibble (that of '+').
 */
#define DEC_LUT_LO 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, \
                   0x1b, 0x1b, 0x1b, 0x1a
#define DEC_LUT_HI 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, \
                   0x10, 0x10, 0x10, 0x10
#define DEC_ROLL 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0
/* Per 32-bit lane: bytes 2 1 0 of the packed 24 bits, in output order. */
#define DEC_PACK 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1

/* Four 6-bit values per 32-bit lane -> their 24 bits, big-endian in bytes 0..2 after DEC_PACK. */
static inline NBI_SSSE3 __m128i dec_pack_128(__m128i v)
{
    __m128i ab_cd = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
    __m128i abcd = _mm_madd_epi16(ab_cd, _mm_set1_epi32(0x00011000));
    return _mm_shuffle_epi8(abcd, _mm_setr_epi8(DEC_PACK));
}

NBI_SSSE3 size_t nbi_base64_dec_ssse3(const char *in, size_t n, uint8_t *out)
{
    const __m128i lut_lo = _mm_setr_epi8(DEC_LUT_LO), lut_hi = _mm_setr_epi8(DEC_LUT_HI),
                  roll = _mm_setr_epi8(DEC_ROLL), mask_2f = _mm_set1_epi8(0x2f),
                  zero = _mm_setzero_si128();
    size_t i = 0;
    /* A 16-byte store for 12 bytes: stop while out has 16 bytes of room (24 chars). */
    for (; i + 24 <= n; i += 16, out += 12) {
        __m128i s = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        __m128i hi_nib = _mm_and_si128(_mm_srli_epi32(s, 4), mask_2f);
        __m128i lo_nib = _mm_and_si128(s, mask_2f);
        __m128i bad = _mm_and_si128(_mm_shuffle_epi8(lut_lo, lo_nib),
                                    _mm_shuffle_epi8(lut_hi, hi_nib));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, zero)) != 0xffff)
            break; /* the portable code finds and names the character */
        __m128i is_2f = _mm_cmpeq_epi8(s, mask_2f);
        s = _mm_add_epi8(s, _mm_shuffle_epi8(roll, _mm_add_epi8(is_2f, hi_nib)));
        _mm_storeu_si128((__m128i *)(void *)out, dec_pack_128(s));
    }
    return i;
}

/* ---- AVX2: the same steps, 32 characters or 24 bytes at a time ---- */

static inline NBI_AVX2 __m256i enc_split_256(__m256i in)
{
    in = _mm256_shuffle_epi8(in, _mm256_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1,
                                                 10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1));
    __m256i t0 = _mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00));
    __m256i t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
    __m256i t2 = _mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0));
    __m256i t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
    return _mm256_or_si256(t1, t3);
}

static inline NBI_AVX2 __m256i enc_translate_256(__m256i v)
{
    const __m256i offsets =
        _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0, 65, 71,
                         -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    __m256i idx = _mm256_subs_epu8(v, _mm256_set1_epi8(51));
    idx = _mm256_sub_epi8(idx, _mm256_cmpgt_epi8(v, _mm256_set1_epi8(25)));
    return _mm256_add_epi8(v, _mm256_shuffle_epi8(offsets, idx));
}

/* 24 bytes at p: the first 12 into the low lane, the next 12 into the high lane. */
static inline NBI_AVX2 __m256i enc_load_256(const uint8_t *p)
{
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(p + 12));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

NBI_AVX2 size_t nbi_base64_enc_avx2(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    /* Two steps per turn so that the loads of one overlap the work of the other. */
    for (; i + 52 <= n; i += 48, out += 64) {
        __m256i a = enc_translate_256(enc_split_256(enc_load_256(in + i)));
        __m256i b = enc_translate_256(enc_split_256(enc_load_256(in + i + 24)));
        _mm256_storeu_si256((__m256i *)(void *)out, a);
        _mm256_storeu_si256((__m256i *)(void *)(out + 32), b);
    }
    /* The high lane's load reads 16 bytes from i + 12. */
    for (; i + 28 <= n; i += 24, out += 32)
        _mm256_storeu_si256((__m256i *)(void *)out,
                            enc_translate_256(enc_split_256(enc_load_256(in + i))));
    return i;
}

/* One 32-character block: false (nothing written) when a character is bad. */
static inline NBI_AVX2 bool dec_block_256(const char *in, uint8_t *out)
{
    const __m256i lut_lo = _mm256_setr_epi8(DEC_LUT_LO, DEC_LUT_LO),
                  lut_hi = _mm256_setr_epi8(DEC_LUT_HI, DEC_LUT_HI),
                  roll = _mm256_setr_epi8(DEC_ROLL, DEC_ROLL), mask_2f = _mm256_set1_epi8(0x2f);
    __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)in);
    __m256i hi_nib = _mm256_and_si256(_mm256_srli_epi32(s, 4), mask_2f);
    __m256i lo_nib = _mm256_and_si256(s, mask_2f);
    if (!_mm256_testz_si256(_mm256_shuffle_epi8(lut_lo, lo_nib), _mm256_shuffle_epi8(lut_hi, hi_nib)))
        return false;
    __m256i is_2f = _mm256_cmpeq_epi8(s, mask_2f);
    s = _mm256_add_epi8(s, _mm256_shuffle_epi8(roll, _mm256_add_epi8(is_2f, hi_nib)));
    __m256i ab_cd = _mm256_maddubs_epi16(s, _mm256_set1_epi32(0x01400140));
    __m256i abcd = _mm256_madd_epi16(ab_cd, _mm256_set1_epi32(0x00011000));
    abcd = _mm256_shuffle_epi8(abcd, _mm256_setr_epi8(DEC_PACK, DEC_PACK));
    /* 12 bytes per lane -> 24 contiguous bytes in the low 6 dwords. */
    abcd = _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
    _mm256_storeu_si256((__m256i *)(void *)out, abcd);
    return true;
}

NBI_AVX2 size_t nbi_base64_dec_avx2(const char *in, size_t n, uint8_t *out)
{
    size_t i = 0;
    /* A 32-byte store for 24 bytes: stop while out has 32 bytes of room (44 chars). */
    for (; i + 44 <= n; i += 32, out += 24)
        if (!dec_block_256(in + i, out))
            break; /* the portable code finds and names the character */
    return i;
}

#else
/* Not x86-64: base64.c uses its portable code only (ISO C wants a declaration here). */
typedef int nbi_base64_x86_unused;
#endif /* NBI_BASE64_X86 */
