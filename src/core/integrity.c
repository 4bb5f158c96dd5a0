/* SPDX-License-Identifier: MIT */
/*
 * integrity.c - SHA-256 through OpenSSL's EVP interface.
 */
#include "integrity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct nbi_sha256 {
    EVP_MD_CTX *ctx;
};

nb_status nbi_sha256_create(nbi_sha256 **out)
{
    nbi_sha256 *h = calloc(1, sizeof *h);
    if (!h || !(h->ctx = EVP_MD_CTX_new())) {
        free(h);
        *out = NULL;
        return nbi_fail(NB_NO_MEMORY, "sha256: out of memory");
    }
    if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        nbi_sha256_discard(h);
        *out = NULL;
        return nbi_fail(NB_INTERNAL, "sha256: EVP_DigestInit_ex failed");
    }
    *out = h;
    return NB_OK;
}

nb_status nbi_sha256_update(nbi_sha256 *h, const void *data, size_t n)
{
    if (n && EVP_DigestUpdate(h->ctx, data, n) != 1)
        return nbi_fail(NB_INTERNAL, "sha256: EVP_DigestUpdate failed");
    return NB_OK;
}

nb_status nbi_sha256_reset(nbi_sha256 *h)
{
    if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
        return nbi_fail(NB_INTERNAL, "sha256: EVP_DigestInit_ex failed");
    return NB_OK;
}

nb_status nbi_sha256_finish(nbi_sha256 *h, char out[NBI_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    nbi_sha256_discard(h);
    if (ok != 1 || mdlen != 32)
        return nbi_fail(NB_INTERNAL, "sha256: EVP_DigestFinal_ex failed");
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[NBI_SHA256_HEX_LEN] = '\0';
    return NB_OK;
}

void nbi_sha256_discard(nbi_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

nb_status nbi_sha256_hex(const void *data, size_t n, char out[NBI_SHA256_HEX_LEN + 1])
{
    nbi_sha256 *h;
    nb_status s = nbi_sha256_create(&h);
    if (s == NB_OK && (s = nbi_sha256_update(h, data, n)) != NB_OK)
        nbi_sha256_discard(h);
    else if (s == NB_OK)
        s = nbi_sha256_finish(h, out);
    return s;
}

nb_status nbi_sha256_file_hex(const char *path, char out[NBI_SHA256_HEX_LEN + 1],
                              uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nbi_fail(NB_IO, "sha256: cannot open '%s': %s", path, strerror(errno));
    nbi_sha256 *h;
    nb_status s = nbi_sha256_create(&h);
    uint64_t total = 0;
    static _Thread_local unsigned char block[65536];
    size_t n;
    while (s == NB_OK && (n = fread(block, 1, sizeof block, f)) > 0) {
        s = nbi_sha256_update(h, block, n);
        total += n;
    }
    if (s == NB_OK && ferror(f))
        s = nbi_fail(NB_IO, "sha256: cannot read '%s'", path);
    fclose(f);
    if (s != NB_OK) {
        nbi_sha256_discard(h);
        return s;
    }
    if (size)
        *size = total;
    return nbi_sha256_finish(h, out);
}
