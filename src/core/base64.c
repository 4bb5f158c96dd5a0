/* SPDX-License-Identifier: MIT */
/*
 * base64.c - standard base64 (RFC 4648 section 4): portable table-driven
 * code plus, on x86-64, SSSE3 and AVX2 kernels (base64_x86.c) chosen once
 * at run time.
 *
 * The encoder always pads. The decoder is strict (PROTOCOL.md, "Base64"):
 * the standard alphabet only, no whitespace, padding optional but never
 * wrong, and the unused bits of the last character must be zero, so that
 * every byte string has exactly one accepted spelling per padding choice.
 *
 * The vector kernels only ever consume blocks that are entirely valid; the
 * portable loop below takes over at the first block they refuse and is the
 * one place that finds and names a bad character. So every implementation
 * reports the same offset (tests/unit/test_base64_impl.c checks it).
 */
#include "base64.h"
#include "base64_simd.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 64 for '=', 255 for everything else. */
#define PAD 64
#define BAD 255
static const uint8_t decode_table[256] = {
#define R16 BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD
    R16, R16,
    /* 0x20 */ BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, 62, BAD, BAD, BAD, 63,
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, BAD, BAD, BAD, PAD, BAD, BAD,
    /* 0x40 */ BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, BAD, BAD, BAD, BAD, BAD,
    /* 0x60 */ BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, BAD, BAD, BAD, BAD, BAD,
    R16, R16, R16, R16, R16, R16, R16, R16,
#undef R16
};

/*
 * Tables of the portable code, filled once (init_once):
 * enc_pairs[v] is the two characters of the 12-bit value v, so 3 bytes take
 * two look-ups instead of four; dec_quad[p][c] is the contribution of
 * character c at position p of a 4-character group to the group's 3 bytes,
 * laid out in memory order, with its fourth byte set when c is not in the
 * alphabet: OR-ing four look-ups gives the bytes and the validity at once.
 * Both are built with memcpy of byte arrays, so they suit either endianness.
 */
static uint16_t enc_pairs[4096];
static uint32_t dec_quad[4][256];
static uint32_t dec_bad_bits; /* the fourth byte of a uint32_t in memory */
static nbi_base64_impl active_impl = NBI_BASE64_SCALAR;
static bool impl_ok[NBI_BASE64_IMPL_COUNT];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static const char *const impl_names[NBI_BASE64_IMPL_COUNT] = {"scalar", "ssse3", "avx2"};

static void build_tables(void)
{
    for (unsigned v = 0; v < 4096; v++) {
        char pair[2] = {alphabet[v >> 6], alphabet[v & 63]};
        memcpy(&enc_pairs[v], pair, 2);
    }
    const uint8_t bad[4] = {0, 0, 0, 0xff};
    memcpy(&dec_bad_bits, bad, 4);
    for (unsigned c = 0; c < 256; c++) {
        unsigned d = decode_table[c];
        for (unsigned p = 0; p < 4; p++) {
            uint8_t bytes[4] = {0, 0, 0, 0};
            if (d >= 64) {
                bytes[3] = 1;
            } else {
                /* The group's 24 bits are d0 d1 d2 d3, 6 bits each, most significant first. */
                uint32_t bits = (uint32_t)d << (18 - 6 * p);
                bytes[0] = (uint8_t)(bits >> 16);
                bytes[1] = (uint8_t)(bits >> 8);
                bytes[2] = (uint8_t)bits;
            }
            memcpy(&dec_quad[p][c], bytes, 4);
        }
    }
}

static void init(void)
{
    build_tables();
    impl_ok[NBI_BASE64_SCALAR] = true;
#if NBI_BASE64_X86
    impl_ok[NBI_BASE64_SSSE3] = nbi_base64_cpu_ssse3();
    impl_ok[NBI_BASE64_AVX2] = impl_ok[NBI_BASE64_SSSE3] && nbi_base64_cpu_avx2();
#endif
    for (int i = 0; i < NBI_BASE64_IMPL_COUNT; i++)
        if (impl_ok[i])
            active_impl = (nbi_base64_impl)i;
    /* A forced implementation lets the tests and the bench run each path in the whole library. */
    const char *want = getenv("NB_BASE64_IMPL");
    for (int i = 0; want && i < NBI_BASE64_IMPL_COUNT; i++)
        if (strcmp(want, impl_names[i]) == 0 && impl_ok[i])
            active_impl = (nbi_base64_impl)i;
}

static inline void ensure_init(void) { pthread_once(&init_once, init); }

const char *nbi_base64_impl_name(nbi_base64_impl impl)
{
    return (unsigned)impl < NBI_BASE64_IMPL_COUNT ? impl_names[impl] : "unknown";
}

bool nbi_base64_impl_available(nbi_base64_impl impl)
{
    ensure_init();
    return (unsigned)impl < NBI_BASE64_IMPL_COUNT && impl_ok[impl];
}

nbi_base64_impl nbi_base64_impl_active(void)
{
    ensure_init();
    return active_impl;
}

size_t nbi_base64_encoded_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return SIZE_MAX;
    return groups * 4;
}

/* The 8 bytes at p as a big-endian number (one load; the compiler folds memcpy). */
static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    x = (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
        (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
#endif
    return x;
}

/* Portable encoding of the whole 3-byte groups of in[i..n); returns where it stopped. */
static size_t encode_groups(const uint8_t *in, size_t i, size_t n, char *out)
{
    out += i / 3 * 4;
    /* 6 bytes per step from one 8-byte load (the 2 extra bytes must be readable). */
    for (; i + 8 <= n; i += 6, out += 8) {
        uint64_t x = load_be64(in + i);
        memcpy(out, &enc_pairs[x >> 52], 2);
        memcpy(out + 2, &enc_pairs[(x >> 40) & 0xfff], 2);
        memcpy(out + 4, &enc_pairs[(x >> 28) & 0xfff], 2);
        memcpy(out + 6, &enc_pairs[(x >> 16) & 0xfff], 2);
    }
    for (; i + 3 <= n; i += 3, out += 4) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        memcpy(out, &enc_pairs[v >> 12], 2);
        memcpy(out + 2, &enc_pairs[v & 0xfff], 2);
    }
    return i;
}

void nbi_base64_encode_with(nbi_base64_impl impl, const uint8_t *in, size_t n, char *out)
{
    ensure_init();
    size_t i = 0;
#if NBI_BASE64_X86
    if (impl == NBI_BASE64_AVX2)
        i = nbi_base64_enc_avx2(in, n, out);
    if (impl >= NBI_BASE64_SSSE3)
        i += nbi_base64_enc_ssse3(in + i, n - i, out + i / 3 * 4);
#else
    (void)impl;
#endif
    i = encode_groups(in, i, n, out);
    out += i / 3 * 4;
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = '=';
    }
}

void nbi_base64_encode(const uint8_t *in, size_t n, char *out)
{
    nbi_base64_encode_with(nbi_base64_impl_active(), in, n, out);
}

size_t nbi_base64_decoded_max(size_t n) { return n / 4 * 3 + (n % 4 ? 3 : 0); }

static nb_status bad_char(const char *in, size_t at)
{
    unsigned char c = (unsigned char)in[at];
    if (c == '=')
        return nbi_fail(NB_BAD_PAYLOAD, "invalid base64 at offset %zu: misplaced padding", at);
    if (c > 0x20 && c < 0x7f)
        return nbi_fail(NB_BAD_PAYLOAD, "invalid base64 at offset %zu: '%c' is not in the alphabet",
                        at, c);
    return nbi_fail(NB_BAD_PAYLOAD, "invalid base64 at offset %zu: byte 0x%02x is not in the alphabet",
                    at, c);
}

/*
 * Checks the padding once the characters before it are known to be valid:
 * it must complete the last group exactly (2 or 3 characters + "==" or "="),
 * and without it the last group must still hold 2 or more characters.
 */
static nb_status check_padding(size_t n, size_t pads)
{
    size_t d = n - pads;
    if (pads && (n % 4 != 0 || pads > 2 || d % 4 < 2 || d % 4 + pads != 4))
        return nbi_fail(NB_BAD_PAYLOAD, "invalid base64 at offset %zu: wrong padding", d);
    if (!pads && d % 4 == 1)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "invalid base64 at offset %zu: length %zu leaves a lone character",
                        d - 1, n);
    return NB_OK;
}

/* Decodes the last 1 to 3 characters (a partial group) into k - 1 bytes. */
static nb_status decode_tail(const char *in, size_t at, size_t k, uint8_t *out)
{
    uint32_t v = 0;
    for (size_t j = 0; j < k; j++) {
        uint8_t d = decode_table[(unsigned char)in[at + j]];
        if (d >= 64)
            return bad_char(in, at + j);
        v |= (uint32_t)d << (18 - 6 * j);
    }
    if (k == 1)
        return NB_OK; /* a lone character: check_padding names it */
    /* RFC 4648 3.5: the bits past the last byte must be zero (canonical). */
    uint32_t spare = k == 2 ? (v & 0xffff) : (v & 0xff);
    if (spare)
        return nbi_fail(NB_BAD_PAYLOAD, "invalid base64 at offset %zu: non-zero trailing bits",
                        at + k - 1);
    out[0] = (uint8_t)(v >> 16);
    if (k == 3)
        out[1] = (uint8_t)(v >> 8);
    return NB_OK;
}

/* The four characters at p as one uint32_t of bytes (dec_bad_bits set when one is bad). */
static inline uint32_t decode_quad(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return dec_quad[0][u[0]] | dec_quad[1][u[1]] | dec_quad[2][u[2]] | dec_quad[3][u[3]];
}

/*
 * Portable decoding of the whole groups in[i..full); the error names the
 * first bad character. Every group but the last stores 4 bytes (one more
 * than it owns, overwritten by the next group), so out is never written past
 * full / 4 * 3.
 */
static nb_status decode_groups(const char *in, size_t i, size_t full, uint8_t *out)
{
    out += i / 4 * 3;
    /* Two groups per step while a third follows (its room takes the spare 4th byte). */
    for (; i + 8 < full; i += 8, out += 6) {
        uint32_t x = decode_quad(in + i), y = decode_quad(in + i + 4);
        if ((x | y) & dec_bad_bits)
            break; /* the loop below names the character */
        memcpy(out, &x, 4);
        memcpy(out + 3, &y, 4);
    }
    for (; i < full; i += 4, out += 3) {
        uint32_t x = decode_quad(in + i);
        if (x & dec_bad_bits) {
            /* Slow path only on error: find which of the four is wrong. */
            size_t at = i;
            while (decode_table[(unsigned char)in[at]] < 64)
                at++;
            return bad_char(in, at);
        }
        if (i + 4 == full) {
            memcpy(out, &x, 3);
            break;
        }
        memcpy(out, &x, 4);
    }
    return NB_OK;
}

nb_status nbi_base64_decode_with(nbi_base64_impl impl, const char *in, size_t n, uint8_t *out,
                                 size_t *out_len)
{
    ensure_init();
    *out_len = 0;
    size_t pads = 0;
    while (pads < n && pads < 3 && in[n - 1 - pads] == '=')
        pads++;
    /* Bad characters are reported before a length or padding problem they may cause. */
    size_t data = n - pads, full = data / 4 * 4, i = 0;
    nb_status s;
#if NBI_BASE64_X86
    if (impl == NBI_BASE64_AVX2)
        i = nbi_base64_dec_avx2(in, full, out);
    if (impl >= NBI_BASE64_SSSE3)
        i += nbi_base64_dec_ssse3(in + i, full - i, out + i / 4 * 3);
#else
    (void)impl;
#endif
    if ((s = decode_groups(in, i, full, out)) != NB_OK)
        return s;
    size_t o = full / 4 * 3;
    if (data > full && (s = decode_tail(in, full, data - full, out + o)) != NB_OK)
        return s;
    if ((s = check_padding(n, pads)) != NB_OK)
        return s;
    *out_len = o + (data > full ? data - full - 1 : 0);
    return NB_OK;
}

nb_status nbi_base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    return nbi_base64_decode_with(nbi_base64_impl_active(), in, n, out, out_len);
}

nb_status nbi_base64_append(nbi_buf *b, const uint8_t *data, size_t n)
{
    size_t chars = nbi_base64_encoded_len(n);
    if (chars == SIZE_MAX)
        return nbi_fail(NB_TOO_LARGE, "%zu bytes are too many to encode in base64", n);
    nb_status s = nbi_buf_reserve(b, chars);
    if (s != NB_OK)
        return s;
    nbi_base64_encode(data, n, (char *)b->data + b->len);
    b->len += chars;
    b->data[b->len] = '\0';
    return NB_OK;
}
