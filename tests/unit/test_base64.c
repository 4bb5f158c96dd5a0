/* SPDX-License-Identifier: MIT */
/*
 * test_base64.c - the strict base64 codec of src/core/base64.c.
 */
#include "test.h"

#include "base64.h"

/* Decodes a NUL-terminated string; the result is NUL-terminated in out. */
static nb_status decode(const char *in, uint8_t *out, size_t *len)
{
    nb_status s = nbi_base64_decode(in, strlen(in), out, len);
    if (s == NB_OK)
        out[*len] = '\0';
    return s;
}

NBT_CASE(rfc4648_vectors)
{
    /* RFC 4648 section 10. */
    static const char *const vec[][2] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char enc[16] = {0};
        size_t n = strlen(vec[i][0]);
        CHECK(nbi_base64_encoded_len(n) == strlen(vec[i][1]));
        nbi_base64_encode((const uint8_t *)vec[i][0], n, enc);
        CHECK_STR(enc, vec[i][1]);
        uint8_t dec[16];
        size_t len;
        CHECK_OK(decode(vec[i][1], dec, &len));
        CHECK(len == n);
        CHECK_STR((char *)dec, vec[i][0]);
        /* The same without padding. */
        char unpadded[16];
        snprintf(unpadded, sizeof unpadded, "%s", vec[i][1]);
        char *eq = strchr(unpadded, '=');
        if (eq)
            *eq = '\0';
        CHECK_OK(decode(unpadded, dec, &len));
        CHECK(len == n);
        CHECK_STR((char *)dec, vec[i][0]);
    }
}

NBT_CASE(encoded_len)
{
    CHECK(nbi_base64_encoded_len(0) == 0);
    CHECK(nbi_base64_encoded_len(1) == 4);
    CHECK(nbi_base64_encoded_len(3) == 4);
    CHECK(nbi_base64_encoded_len(4) == 8);
    CHECK(nbi_base64_encoded_len(524288) == 699052);
    CHECK(nbi_base64_encoded_len(SIZE_MAX) == SIZE_MAX);
    CHECK(nbi_base64_encoded_len(SIZE_MAX / 4 * 3) == SIZE_MAX - 3);
    CHECK(nbi_base64_encoded_len(SIZE_MAX / 4 * 3 + 1) == SIZE_MAX);
}

NBT_CASE(all_lengths_roundtrip)
{
    uint8_t in[300], dec[304];
    char enc[404];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof in; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (uint8_t)(x >> 16);
    }
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t m = nbi_base64_encoded_len(n);
        CHECK(m % 4 == 0 && m <= sizeof enc);
        nbi_base64_encode(in, n, enc);
        size_t len = 0;
        CHECK(nbi_base64_decoded_max(m) >= n);
        CHECK_OK(nbi_base64_decode(enc, m, dec, &len));
        CHECK(len == n);
        CHECK(n == 0 || memcmp(in, dec, n) == 0);
        /* Unpadded spelling decodes to the same bytes. */
        size_t trimmed = m;
        while (trimmed && enc[trimmed - 1] == '=')
            trimmed--;
        CHECK_OK(nbi_base64_decode(enc, trimmed, dec, &len));
        CHECK(len == n);
        CHECK(n == 0 || memcmp(in, dec, n) == 0);
    }
}

NBT_CASE(padding_variants)
{
    uint8_t out[32];
    size_t len;
    CHECK_OK(decode("Zg", out, &len));
    CHECK(len == 1 && out[0] == 'f');
    CHECK_OK(decode("Zg==", out, &len));
    CHECK_OK(decode("Zm8", out, &len));
    CHECK_OK(decode("Zm8=", out, &len));
    CHECK_FAIL(decode("Zg=", out, &len), NB_BAD_PAYLOAD, "offset 2: wrong padding");
    CHECK_FAIL(decode("Zg===", out, &len), NB_BAD_PAYLOAD, "wrong padding");
    CHECK_FAIL(decode("Zm8==", out, &len), NB_BAD_PAYLOAD, "wrong padding");
    CHECK_FAIL(decode("Zm9v=", out, &len), NB_BAD_PAYLOAD, "offset 4: wrong padding");
    CHECK_FAIL(decode("Zm9v==", out, &len), NB_BAD_PAYLOAD, "wrong padding");
    CHECK_FAIL(decode("Z===", out, &len), NB_BAD_PAYLOAD, "wrong padding");
    CHECK_FAIL(decode("=", out, &len), NB_BAD_PAYLOAD, "offset 0: wrong padding");
    CHECK_FAIL(decode("==", out, &len), NB_BAD_PAYLOAD, "wrong padding");
    CHECK_FAIL(decode("====", out, &len), NB_BAD_PAYLOAD, "offset 0: misplaced padding");
    CHECK_FAIL(decode("Zg==Zg==", out, &len), NB_BAD_PAYLOAD, "offset 2: misplaced padding");
    CHECK_FAIL(decode("Z=g=", out, &len), NB_BAD_PAYLOAD, "offset 1: misplaced padding");
    CHECK_FAIL(decode("Zm=v", out, &len), NB_BAD_PAYLOAD, "offset 2: misplaced padding");
}

NBT_CASE(invalid_chars)
{
    /* Every byte outside the alphabet, at each position of a group and in a tail. */
    for (int c = 0; c < 256; c++) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (ok || c == '=')
            continue;
        for (size_t pos = 0; pos < 7; pos++) {
            char in[8] = "Zm9vYmE";
            in[pos] = (char)c;
            uint8_t out[8];
            size_t len = 99;
            char want[48];
            snprintf(want, sizeof want, "invalid base64 at offset %zu", pos);
            CHECK_FAIL(nbi_base64_decode(in, 7, out, &len), NB_BAD_PAYLOAD, want);
            CHECK(len == 0);
            CHECK(strstr(nb_last_error(), "not in the alphabet"));
        }
    }
    uint8_t out[8];
    size_t len;
    /* Whitespace and the URL-safe alphabet are refused too. */
    CHECK_FAIL(decode("Zm9v\nYmFy", out, &len), NB_BAD_PAYLOAD, "offset 4");
    CHECK_FAIL(decode("Zm9v YmFy", out, &len), NB_BAD_PAYLOAD, "offset 4");
    CHECK_FAIL(decode("Zm-_", out, &len), NB_BAD_PAYLOAD, "'-' is not in the alphabet");
    CHECK_FAIL(decode("Zm9\x80", out, &len), NB_BAD_PAYLOAD, "byte 0x80");
}

NBT_CASE(bad_lengths)
{
    uint8_t out[16];
    size_t len;
    CHECK_FAIL(decode("Z", out, &len), NB_BAD_PAYLOAD, "offset 0: length 1 leaves a lone");
    CHECK_FAIL(decode("Zm9vY", out, &len), NB_BAD_PAYLOAD, "offset 4: length 5 leaves a lone");
    CHECK_FAIL(decode("Zm9vYmFyZ", out, &len), NB_BAD_PAYLOAD, "lone character");
    CHECK_OK(decode("Zm9vYg", out, &len)); /* 6 = 4 + 2: one more byte */
    CHECK(len == 4);
    CHECK_OK(nbi_base64_decode("", 0, out, &len));
    CHECK(len == 0);
}

NBT_CASE(trailing_bits)
{
    uint8_t out[8];
    size_t len;
    /* "Zh" has bits past the byte 'f': a non-canonical spelling. */
    CHECK_FAIL(decode("Zh==", out, &len), NB_BAD_PAYLOAD, "offset 1: non-zero trailing bits");
    CHECK_FAIL(decode("Zh", out, &len), NB_BAD_PAYLOAD, "non-zero trailing bits");
    CHECK_FAIL(decode("Zm9=", out, &len), NB_BAD_PAYLOAD, "offset 2: non-zero trailing bits");
    CHECK_OK(decode("Zm8=", out, &len));
}

NBT_CASE(decoded_max)
{
    CHECK(nbi_base64_decoded_max(0) == 0);
    CHECK(nbi_base64_decoded_max(2) == 3);
    CHECK(nbi_base64_decoded_max(4) == 3);
    CHECK(nbi_base64_decoded_max(5) == 6);
    CHECK(nbi_base64_decoded_max(8) == 6);
    CHECK(nbi_base64_decoded_max(SIZE_MAX) <= SIZE_MAX / 4 * 3 + 3);
}

static const nbt_case cases[] = {
    NBT_ENTRY(rfc4648_vectors), NBT_ENTRY(encoded_len),   NBT_ENTRY(all_lengths_roundtrip),
    NBT_ENTRY(padding_variants), NBT_ENTRY(invalid_chars), NBT_ENTRY(bad_lengths),
    NBT_ENTRY(trailing_bits),   NBT_ENTRY(decoded_max),   {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
