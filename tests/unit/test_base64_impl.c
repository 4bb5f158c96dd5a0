/* SPDX-License-Identifier: MIT */
/*
 * test_base64_impl.c - every base64 implementation the CPU can run (portable
 * tables, SSSE3, AVX2; src/core/base64.c) against a reference: the plain scalar
 * codec the library had before it was vectorized, kept here verbatim in
 * behaviour. Same characters out, same bytes back, and for every refused
 * input the same message, so the same offset of the first bad character.
 * Buffers are malloc'd at their exact size so that ASan sees any read or
 * write past them.
 */
#include "test.h"

#include "base64.h"

#include <stdlib.h>

/* ---- the reference (the scalar code of base64.c before issue 16) ---- */

static const char ref_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for the alphabet, 64 for '=', 255 for the rest (computed, not copied). */
static int ref_value(unsigned char c)
{
    const char *p = c ? strchr(ref_alphabet, c) : NULL;
    if (p)
        return (int)(p - ref_alphabet);
    return c == '=' ? 64 : 255;
}

static void ref_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 0; k < 4; k++)
            *out++ = ref_alphabet[(v >> (18 - 6 * k)) & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = ref_alphabet[v >> 18];
        *out++ = ref_alphabet[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = ref_alphabet[v >> 18];
        *out++ = ref_alphabet[(v >> 12) & 63];
        *out++ = ref_alphabet[(v >> 6) & 63];
        *out++ = '=';
    }
}

/* Writes the message the library gives for the bad character at `at`. */
static void ref_bad_char(const char *in, size_t at, char *msg, size_t cap)
{
    unsigned char c = (unsigned char)in[at];
    if (c == '=')
        snprintf(msg, cap, "invalid base64 at offset %zu: misplaced padding", at);
    else if (c > 0x20 && c < 0x7f)
        snprintf(msg, cap, "invalid base64 at offset %zu: '%c' is not in the alphabet", at, c);
    else
        snprintf(msg, cap, "invalid base64 at offset %zu: byte 0x%02x is not in the alphabet", at, c);
}

/* True when accepted (bytes in out, *len set); otherwise msg holds the expected error. */
static bool ref_decode(const char *in, size_t n, uint8_t *out, size_t *len, char *msg, size_t cap)
{
    size_t pads = 0, o = 0;
    while (pads < n && pads < 3 && in[n - 1 - pads] == '=')
        pads++;
    size_t data = n - pads, full = data / 4 * 4;
    for (size_t i = 0; i < data; i += 4) {
        size_t k = data - i < 4 ? data - i : 4;
        uint32_t v = 0;
        for (size_t j = 0; j < k; j++) {
            int d = ref_value((unsigned char)in[i + j]);
            if (d >= 64) {
                ref_bad_char(in, i + j, msg, cap);
                return false;
            }
            v |= (uint32_t)d << (18 - 6 * j);
        }
        if (i < full) {
            out[o++] = (uint8_t)(v >> 16);
            out[o++] = (uint8_t)(v >> 8);
            out[o++] = (uint8_t)v;
        } else if (k > 1) {
            if (k == 2 ? (v & 0xffff) : (v & 0xff)) {
                snprintf(msg, cap, "invalid base64 at offset %zu: non-zero trailing bits", i + k - 1);
                return false;
            }
            out[o++] = (uint8_t)(v >> 16);
            if (k == 3)
                out[o++] = (uint8_t)(v >> 8);
        }
    }
    if (pads && (n % 4 != 0 || pads > 2 || data % 4 < 2 || data % 4 + pads != 4)) {
        snprintf(msg, cap, "invalid base64 at offset %zu: wrong padding", data);
        return false;
    }
    if (!pads && data % 4 == 1) {
        snprintf(msg, cap, "invalid base64 at offset %zu: length %zu leaves a lone character",
                 data - 1, n);
        return false;
    }
    *len = o;
    return true;
}

/* ---- comparing one implementation with the reference ---- */

static int impls[NBI_BASE64_IMPL_COUNT], n_impls;

/* Every implementation this CPU runs; the portable one always. */
static void find_impls(void)
{
    n_impls = 0;
    for (int i = 0; i < NBI_BASE64_IMPL_COUNT; i++)
        if (nbi_base64_impl_available((nbi_base64_impl)i))
            impls[n_impls++] = i;
    static bool said;
    if (!said) {
        said = true;
        fprintf(stderr, "base64 implementations on this CPU:");
        for (int i = 0; i < n_impls; i++)
            fprintf(stderr, " %s", nbi_base64_impl_name((nbi_base64_impl)impls[i]));
        fprintf(stderr, " (active: %s)\n", nbi_base64_impl_name(nbi_base64_impl_active()));
    }
}

/*
 * Decodes the n characters of text with impl into an exact-size buffer and
 * compares status, message and bytes with the reference; prints why not.
 */
static bool decode_matches(nbi_base64_impl impl, const char *text, size_t n)
{
    /* The reference's output first, to learn the exact size for the implementation's buffer. */
    uint8_t *want = malloc(nbi_base64_decoded_max(n) + 1);
    char want_msg[160] = "", where[64];
    size_t want_len = 0, got_len = 99;
    bool ok = want != NULL, want_ok = ok && ref_decode(text, n, want, &want_len, want_msg,
                                                        sizeof want_msg);
    char *copy = malloc(n ? n : 1); /* exact size: an over-read is an ASan report */
    uint8_t *got = malloc(want_ok ? (want_len ? want_len : 1) : nbi_base64_decoded_max(n) + 1);
    if (!ok || !copy || !got) {
        fprintf(stderr, "out of memory\n");
        free(want), free(copy), free(got);
        return false;
    }
    memcpy(copy, text, n);
    nb_status s = nbi_base64_decode_with(impl, copy, n, got, &got_len);
    snprintf(where, sizeof where, "%s, %zu chars", nbi_base64_impl_name(impl), n);
    if (want_ok && (s != NB_OK || got_len != want_len || (n && memcmp(got, want, want_len) != 0))) {
        fprintf(stderr, "%s: %s, len %zu vs %zu (%s)\n", where, s == NB_OK ? "other bytes" : "refused",
                got_len, want_len, nb_last_error());
        ok = false;
    } else if (!want_ok && (s != NB_BAD_PAYLOAD || strcmp(nb_last_error(), want_msg) != 0 ||
                            got_len != 0)) {
        fprintf(stderr, "%s: got %s \"%s\" len %zu, want \"%s\"\n", where, nb_status_text(s),
                nb_last_error(), got_len, want_msg);
        ok = false;
    }
    free(want), free(copy), free(got);
    return ok;
}

/* Encodes n bytes with impl into an exact-size buffer; compares with the reference. */
static bool encode_matches(nbi_base64_impl impl, const uint8_t *bytes, size_t n)
{
    size_t m = nbi_base64_encoded_len(n);
    uint8_t *in = malloc(n ? n : 1);
    char *got = malloc(m ? m : 1), *want = malloc(m ? m : 1);
    bool ok = in && got && want;
    if (ok) {
        memcpy(in, bytes, n);
        ref_encode(in, n, want);
        nbi_base64_encode_with(impl, in, n, got);
        ok = memcmp(got, want, m) == 0;
        if (!ok)
            fprintf(stderr, "%s: encoding of %zu bytes differs\n", nbi_base64_impl_name(impl), n);
    }
    free(in), free(got), free(want);
    return ok;
}

#define MAXN 300
/* 300 bytes encode to 400 characters; room for a few more in the decoding tests. */
#define MAXC 408

/* Every implementation, every length 0..300, random bytes: encode, decode both spellings. */
NBT_CASE(every_length_matches_reference)
{
    find_impls();
    uint8_t bytes[MAXN];
    char text[MAXC];
    for (size_t n = 0; n <= MAXN; n++) {
        nbt_fill_bytes(bytes, n, 1000 + n);
        size_t m = nbi_base64_encoded_len(n), unpadded = m;
        ref_encode(bytes, n, text);
        while (unpadded && text[unpadded - 1] == '=')
            unpadded--;
        for (int k = 0; k < n_impls; k++) {
            nbi_base64_impl impl = (nbi_base64_impl)impls[k];
            CHECK(encode_matches(impl, bytes, n));
            CHECK(decode_matches(impl, text, m));
            CHECK(decode_matches(impl, text, unpadded));
        }
    }
}

/* All 256 byte values, in every position of each 3-byte group and so every lane. */
NBT_CASE(every_byte_value)
{
    find_impls();
    uint8_t bytes[768];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i % 256 ^ i / 256 * 0x55);
    char text[1024];
    ref_encode(bytes, sizeof bytes, text);
    for (int k = 0; k < n_impls; k++) {
        CHECK(encode_matches((nbi_base64_impl)impls[k], bytes, sizeof bytes));
        CHECK(decode_matches((nbi_base64_impl)impls[k], text, nbi_base64_encoded_len(sizeof bytes)));
    }
}

/*
 * Every length 0..300 and every position: one character replaced by a bad
 * byte (a rotation through the boundaries of the alphabet's ranges, '=' and
 * bytes >= 0x80) and, separately, by another alphabet character (which can
 * make trailing bits non-zero). Status, message (offset) and bytes as the
 * reference's.
 */
NBT_CASE(every_corruption_position)
{
    find_impls();
    static const unsigned char bad[] = {'=', 0x00, ' ', '\n', '*', ',', '-', '.', ':', '@', '[',
                                        '`', '{', 0x7f, 0x80, 0xaf, 0xff, '_', '\\', 0x2e};
    uint8_t bytes[MAXN];
    char text[MAXC];
    for (size_t n = 0; n <= MAXN; n++) {
        nbt_fill_bytes(bytes, n, 7 * n + 1);
        size_t m = nbi_base64_encoded_len(n);
        for (size_t pos = 0; pos < m; pos++) {
            for (int variant = 0; variant < 2; variant++) {
                ref_encode(bytes, n, text);
                text[pos] = variant ? ref_alphabet[(pos * 7 + n) % 64]
                                    : (char)bad[(pos + n) % sizeof bad];
                for (int k = 0; k < n_impls; k++)
                    CHECK(decode_matches((nbi_base64_impl)impls[k], text, m));
            }
        }
    }
}

/* Every one of the 256 byte values at every position of a 100-character text (many blocks). */
NBT_CASE(every_byte_at_every_position)
{
    find_impls();
    uint8_t bytes[75];
    char text[100];
    nbt_fill_bytes(bytes, sizeof bytes, 42);
    for (size_t pos = 0; pos < sizeof text; pos++)
        for (int c = 0; c < 256; c++) {
            ref_encode(bytes, sizeof bytes, text);
            text[pos] = (char)c;
            for (int k = 0; k < n_impls; k++)
                CHECK(decode_matches((nbi_base64_impl)impls[k], text, sizeof text));
        }
}

/* Random texts over a skewed alphabet (mostly valid, some '=' and bad bytes), lengths 0..300. */
NBT_CASE(random_texts)
{
    find_impls();
    uint64_t x = 0x9e3779b97f4a7c15u;
    char text[MAXC];
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % (MAXN + 1));
        /* Bad characters rarer in most rounds so that some reach the vector blocks' ends. */
        unsigned rarity = round % 3 == 0 ? 8 : round % 3 == 1 ? 200 : 5000;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned r = (unsigned)(x >> 32);
            if (r % rarity == 0)
                text[i] = (char)(r >> 8);
            else if (r % rarity == 1)
                text[i] = '=';
            else
                text[i] = ref_alphabet[(r >> 8) % 64];
        }
        /* Padding endings half the time, right or wrong. */
        if (n >= 2 && round % 2)
            text[n - 1] = '=';
        if (n >= 2 && round % 4 == 1)
            text[n - 2] = '=';
        for (int k = 0; k < n_impls; k++)
            CHECK(decode_matches((nbi_base64_impl)impls[k], text, n));
    }
}

/* Large buffers (the 64 KiB and 1 MiB payloads of the bench), every implementation. */
NBT_CASE(large_buffers)
{
    find_impls();
    static const size_t sizes[] = {65536, 65537, 65538, 1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], m = nbi_base64_encoded_len(n);
        uint8_t *bytes = malloc(n);
        char *text = malloc(m);
        CHECK(bytes && text);
        nbt_fill_bytes(bytes, n, n);
        ref_encode(bytes, n, text);
        bool ok = true;
        for (int k = 0; ok && k < n_impls; k++) {
            nbi_base64_impl impl = (nbi_base64_impl)impls[k];
            ok = encode_matches(impl, bytes, n) && decode_matches(impl, text, m);
            /* A bad character near the end, after thousands of good vector blocks. */
            char keep = text[m - 37];
            text[m - 37] = '!';
            ok = ok && decode_matches(impl, text, m);
            text[m - 37] = keep;
        }
        free(bytes);
        free(text);
        CHECK(ok);
    }
}

/* NB_BASE64_IMPL (set by the CTest entries base64_forced.*) picks the active implementation. */
NBT_CASE(env_forces_impl)
{
    find_impls();
    const char *want = getenv("NB_BASE64_IMPL");
    nbi_base64_impl active = nbi_base64_impl_active();
    CHECK(nbi_base64_impl_available(active));
    if (!want) {
        /* Unforced: the best one available. */
        CHECK(active == (nbi_base64_impl)impls[n_impls - 1]);
        return;
    }
    bool known = false;
    for (int k = 0; k < n_impls; k++)
        if (strcmp(want, nbi_base64_impl_name((nbi_base64_impl)impls[k])) == 0)
            known = true;
    if (known)
        CHECK_STR(nbi_base64_impl_name(active), want);
    else /* unknown or not on this CPU: the best one */
        CHECK(active == (nbi_base64_impl)impls[n_impls - 1]);
    /* And the default entry points use it: a round trip through them. */
    uint8_t bytes[200], back[200];
    char text[268];
    size_t len = 0;
    nbt_fill_bytes(bytes, sizeof bytes, 5);
    nbi_base64_encode(bytes, sizeof bytes, text);
    CHECK_OK(nbi_base64_decode(text, sizeof text, back, &len));
    CHECK(len == sizeof bytes && memcmp(back, bytes, len) == 0);
}

static const nbt_case cases[] = {
    NBT_ENTRY(every_length_matches_reference),
    NBT_ENTRY(every_byte_value),
    NBT_ENTRY(every_corruption_position),
    NBT_ENTRY(every_byte_at_every_position),
    NBT_ENTRY(random_texts),
    NBT_ENTRY(large_buffers),
    NBT_ENTRY(env_forces_impl),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
