/* SPDX-License-Identifier: MIT */
/*
 * fuzz_base64.c - libFuzzer target for strict base64 (base64.c), which
 * decodes the data of every direct payload received. Properties besides
 * memory safety: the input's bytes encode and decode back to themselves;
 * what the decoder accepts (as text) re-encodes to text that decodes to the
 * same bytes; and every implementation the CPU runs (portable, SSSE3, AVX2)
 * is differential-checked against the portable one: same characters, same
 * verdict, same bytes, same error message (so the same offset). A failure
 * must say why. See tests/fuzz/CMakeLists.txt.
 */
#include "base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the fuzzer with the reason on stderr. */
static void fail(const char *why, nbi_base64_impl impl, size_t size)
{
    fprintf(stderr, "fuzz_base64: %s (%s, %zu bytes of input)\n", why, nbi_base64_impl_name(impl),
            size);
    abort();
}

/* Decodes the n characters of text with impl into a malloc'd copy; NULL when refused. */
static uint8_t *decode(nbi_base64_impl impl, const char *text, size_t n, size_t *out_len)
{
    uint8_t *out = malloc(nbi_base64_decoded_max(n) + 1);
    if (!out)
        abort();
    nb_status s = nbi_base64_decode_with(impl, text, n, out, out_len);
    if (s != NB_OK && nb_last_error()[0] == '\0')
        fail("a refusal must name the bad character", impl, n);
    if (s != NB_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* The base64 text of n bytes (malloc'd, exact size so ASan sees over-writes). */
static char *encode(nbi_base64_impl impl, const uint8_t *bytes, size_t n, size_t *len)
{
    *len = nbi_base64_encoded_len(n);
    char *text = malloc(*len ? *len : 1);
    if (!text)
        abort();
    nbi_base64_encode_with(impl, bytes, n, text);
    return text;
}

/* The portable implementation's verdict on the input as text, for the others to match. */
typedef struct {
    uint8_t *bytes; /* NULL when refused */
    size_t len;
    char error[256];
} verdict;

static void differential(nbi_base64_impl impl, const uint8_t *data, size_t size,
                         const char *ref_text, size_t ref_tlen, const verdict *ref)
{
    size_t tlen = 0, blen = 0;
    char *text = encode(impl, data, size, &tlen);
    if (tlen != ref_tlen || (tlen && memcmp(text, ref_text, tlen) != 0))
        fail("encoding differs from the portable one", impl, size);
    free(text);
    /* An exact-size copy of the input so that an over-read of the text is an ASan report. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    uint8_t *bytes = decode(impl, copy, size, &blen);
    if (!bytes != !ref->bytes)
        fail("accepts what the portable one refuses, or the reverse", impl, size);
    if (bytes && (blen != ref->len || (blen && memcmp(bytes, ref->bytes, blen) != 0)))
        fail("decodes to other bytes than the portable one", impl, size);
    if (!bytes && strcmp(nb_last_error(), ref->error) != 0)
        fail("error message (offset) differs from the portable one", impl, size);
    free(bytes);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const nbi_base64_impl portable = NBI_BASE64_SCALAR;
    /* Any bytes encode, and decode back to themselves. */
    size_t tlen = 0, blen = 0;
    char *text = encode(portable, data, size, &tlen);
    uint8_t *back = decode(portable, text, tlen, &blen);
    if (!back || blen != size || (size && memcmp(back, data, size) != 0))
        fail("bytes do not survive encode + decode", portable, size);
    free(back);
    /* The input as base64 text: if accepted, its canonical form means the same bytes. */
    verdict ref = {0};
    ref.bytes = decode(portable, (const char *)data, size, &ref.len);
    if (ref.bytes) {
        size_t clen = 0, again_len = 0;
        char *canon = encode(portable, ref.bytes, ref.len, &clen);
        uint8_t *again = decode(portable, canon, clen, &again_len);
        if (!again || again_len != ref.len || (ref.len && memcmp(again, ref.bytes, ref.len) != 0))
            fail("the canonical spelling of accepted text means other bytes", portable, size);
        free(again);
        free(canon);
    } else {
        snprintf(ref.error, sizeof ref.error, "%s", nb_last_error());
    }
    for (int i = 0; i < NBI_BASE64_IMPL_COUNT; i++)
        if ((nbi_base64_impl)i != portable && nbi_base64_impl_available((nbi_base64_impl)i))
            differential((nbi_base64_impl)i, data, size, text, tlen, &ref);
    free(ref.bytes);
    free(text);
    return 0;
}
