/* SPDX-License-Identifier: MIT */
/*
 * fuzz_base64.c - libFuzzer target for strict base64 (base64.c), which
 * decodes the data of every direct payload received. Two properties besides
 * memory safety: the input's bytes encode and decode back to themselves, and
 * what the decoder accepts (as text) re-encodes to text that decodes to the
 * same bytes. A failure must say why. See tests/fuzz/CMakeLists.txt.
 */
#include "base64.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes the n characters of text into a malloc'd copy; NULL when refused. */
static uint8_t *decode(const char *text, size_t n, size_t *out_len)
{
    uint8_t *out = malloc(nbi_base64_decoded_max(n) + 1);
    if (!out)
        abort();
    nb_status s = nbi_base64_decode(text, n, out, out_len);
    if (s != NB_OK && nb_last_error()[0] == '\0')
        abort(); /* a refusal names the bad character */
    if (s != NB_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* The base64 text of n bytes (malloc'd, exact size so ASan sees over-reads). */
static char *encode(const uint8_t *bytes, size_t n, size_t *len)
{
    *len = nbi_base64_encoded_len(n);
    char *text = malloc(*len ? *len : 1);
    if (!text)
        abort();
    nbi_base64_encode(bytes, n, text);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Any bytes encode, and decode back to themselves. */
    size_t tlen = 0, blen = 0;
    char *text = encode(data, size, &tlen);
    uint8_t *back = decode(text, tlen, &blen);
    if (!back || blen != size || (size && memcmp(back, data, size) != 0))
        abort();
    free(back);
    free(text);
    /* The input as base64 text: if accepted, its canonical form means the same bytes. */
    uint8_t *bytes = decode((const char *)data, size, &blen);
    if (bytes) {
        text = encode(bytes, blen, &tlen);
        size_t again_len = 0;
        uint8_t *again = decode(text, tlen, &again_len);
        if (!again || again_len != blen || (blen && memcmp(again, bytes, blen) != 0))
            abort();
        free(again);
        free(text);
        free(bytes);
    }
    return 0;
}
