/* SPDX-License-Identifier: MIT */
/*
 * fuzz_origin.c - libFuzzer target for nbi_url_origin (fileclient.c): the
 * "scheme://host[:port]" of every link URL a receiver is sent, compared with
 * its allowlist. The input is the URL (NUL-terminated copy). Properties: an
 * origin is itself a URL whose origin is the same text; a buffer too small
 * fails cleanly with "" in it; every failure says why.
 */
#include "fileclient.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        abort();
    memcpy(url, data, size);
    url[size] = '\0';
    char origin[512], again[512], small[16];
    nb_status s = nbi_url_origin(url, origin, sizeof origin);
    if (s != NB_OK && (origin[0] != '\0' || nb_last_error()[0] == '\0'))
        abort();
    if (s == NB_OK) {
        /* Idempotent: the allowlist compares origins of origins. */
        if (nbi_url_origin(origin, again, sizeof again) != NB_OK || strcmp(origin, again) != 0)
            abort();
        /* A short buffer: the same origin when it fits, else a clean refusal. */
        nb_status t = nbi_url_origin(url, small, sizeof small);
        if (t == NB_OK ? strcmp(small, origin) != 0 : (small[0] != '\0' || strlen(origin) < sizeof small))
            abort();
    }
    free(url);
    return 0;
}
