/* SPDX-License-Identifier: MIT */
/*
 * nkey.c - NKey user seeds: encoding checks and the public key (nkey.h).
 *
 * An NKey is base32 (RFC 4648, no padding) of prefix byte(s), the raw
 * Ed25519 key and a CRC-16/XMODEM of the bytes before it, little-endian
 * (github.com/nats-io/nkeys, strkey.go). A seed has two prefix bytes: 'S'
 * (18 << 3) or'ed with the key type's top bits, then the rest of the type
 * ('U', 20 << 3, for users).
 */
#include "nkey.h"

#include "redact.h"

#include <openssl/evp.h>
#include <string.h>

#define PREFIX_SEED (18u << 3)
#define PREFIX_USER (20u << 3)
#define RAW_SEED_LEN 36 /* 2 prefix + 32 + 2 CRC */
#define RAW_PUBLIC_LEN 35

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint16_t crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* Decodes exactly n base32 characters into out (n * 5 / 8 bytes); false on a bad character. */
static bool b32_decode(const char *s, size_t n, unsigned char *out)
{
    unsigned buf = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = s[i] ? strchr(b32, s[i]) : NULL;
        if (!c)
            return false;
        buf = (buf << 5) | (unsigned)(c - b32);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(buf >> bits);
        }
    }
    return true;
}

static void b32_encode(const unsigned char *p, size_t n, char *out)
{
    unsigned buf = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        buf = (buf << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32[(buf >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = b32[(buf << (5 - bits)) & 31];
    out[o] = '\0';
}

static bool is_b32(char c) { return c && strchr(b32, c) != NULL; }

const char *nbi_nkey_find_user_seed(const char *text)
{
    for (const char *p = text ? strstr(text, "SU") : NULL; p; p = strstr(p + 1, "SU")) {
        if (p > text && is_b32(p[-1]))
            continue; /* inside a longer word */
        size_t n = 0;
        while (is_b32(p[n]))
            n++;
        if (n == NBI_NKEY_SEED_LEN)
            return p;
    }
    return NULL;
}

/* Ed25519 public key of a 32-byte private seed, with OpenSSL; false on failure. */
static bool ed25519_public(const unsigned char *seed, unsigned char *pub)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t len = 32;
    bool ok = k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32;
    EVP_PKEY_free(k); /* OpenSSL clears its private key copy on free */
    return ok;
}

nb_status nbi_nkey_user_public(const char *seed, char *pub, const char *what)
{
    unsigned char raw[RAW_SEED_LEN];
    unsigned char key[RAW_PUBLIC_LEN];
    nb_status s = NB_OK;
    size_t n = 0;
    while (seed && n <= NBI_NKEY_SEED_LEN && is_b32(seed[n]))
        n++;
    if (n != NBI_NKEY_SEED_LEN || !b32_decode(seed, n, raw)) {
        s = nbi_fail(NB_INVALID_ARG, "%s: not an NKey seed (expected %d base32 characters "
                     "starting with SU)", what, NBI_NKEY_SEED_LEN);
    } else if (crc16(raw, RAW_SEED_LEN - 2) != (uint16_t)(raw[RAW_SEED_LEN - 2] | raw[RAW_SEED_LEN - 1] << 8)) {
        s = nbi_fail(NB_INVALID_ARG, "%s: the NKey seed's checksum does not match (damaged or mistyped)",
                     what);
    } else if ((raw[0] & 0xf8) != PREFIX_SEED ||
               (((raw[0] & 7u) << 5) | ((raw[1] & 0xf8u) >> 3)) != PREFIX_USER) {
        s = nbi_fail(NB_INVALID_ARG, "%s: the NKey seed is not a user seed (SU...)", what);
    } else {
        key[0] = PREFIX_USER;
        if (!ed25519_public(raw + 2, key + 1)) {
            s = nbi_fail(NB_INTERNAL, "%s: OpenSSL cannot derive the Ed25519 public key", what);
        } else {
            uint16_t crc = crc16(key, RAW_PUBLIC_LEN - 2);
            key[RAW_PUBLIC_LEN - 2] = (unsigned char)(crc & 0xff);
            key[RAW_PUBLIC_LEN - 1] = (unsigned char)(crc >> 8);
            b32_encode(key, RAW_PUBLIC_LEN, pub);
        }
    }
    nbi_wipe(raw, sizeof raw);
    return s;
}
