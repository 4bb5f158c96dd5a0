/* SPDX-License-Identifier: MIT */
/*
 * base64.c - standard base64 (RFC 4648 section 4), table-driven.
 *
 * The encoder always pads. The decoder is strict (PROTOCOL.md, "Base64"):
 * the standard alphabet only, no whitespace, padding optional but never
 * wrong, and the unused bits of the last character must be zero, so that
 * every byte string has exactly one accepted spelling per padding choice.
 */
#include "base64.h"

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

size_t nbi_base64_encoded_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return SIZE_MAX;
    return groups * 4;
}

void nbi_base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
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

nb_status nbi_base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    size_t pads = 0;
    while (pads < n && pads < 3 && in[n - 1 - pads] == '=')
        pads++;
    /* Bad characters are reported before a length or padding problem they may cause. */
    size_t data = n - pads, full = data / 4 * 4, o = 0;
    nb_status s;
    for (size_t i = 0; i < full; i += 4) {
        uint8_t a = decode_table[(unsigned char)in[i]], b = decode_table[(unsigned char)in[i + 1]],
                c = decode_table[(unsigned char)in[i + 2]], d = decode_table[(unsigned char)in[i + 3]];
        if ((a | b | c | d) >= 64) {
            /* Slow path only on error: find which of the four is wrong. */
            size_t at = i;
            while (decode_table[(unsigned char)in[at]] < 64)
                at++;
            return bad_char(in, at);
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (data > full && (s = decode_tail(in, full, data - full, out + o)) != NB_OK)
        return s;
    if ((s = check_padding(n, pads)) != NB_OK)
        return s;
    *out_len = o + (data > full ? data - full - 1 : 0);
    return NB_OK;
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
