/* SPDX-License-Identifier: MIT */
/*
 * nkeygen.c - makes the NKeys, JWTs and .creds files of the security tests,
 * with libcrypto only (no nsc, no network).
 *
 *     nkeygen DIR
 *
 * writes into DIR (which must exist):
 *   op.jwt, sys.jwt, acct.jwt   operator (self-signed), system and user accounts (signed by it)
 *   user.creds                  a user of acct, in the nsc .creds format (JWT + seed)
 *   stranger.creds              a user of an account the operator never signed: refused
 *   expired.creds               a user of acct whose JWT expired an hour ago: refused
 *   nkey.seed, nkey-other.seed  plain NKey users (only the first is in a server config)
 *   keys.env                    OP_PUB SYS_PUB ACCT_PUB USER_PUB NKEY_PUB (sh syntax)
 *   seeds.txt                   every seed written, one a line (the secret grep reads it)
 *
 * Encodings (nats-io/nkeys strkey.go, nats-io/jwt v2; checked by the tests
 * against a real nats-server):
 *  - public key: base32 (RFC 4648 alphabet, no padding) of
 *    prefix byte + 32-byte Ed25519 public key + CRC-16/XMODEM of those, little-endian;
 *    prefixes: operator 14<<3 'O', account 0 'A', user 20<<3 'U'.
 *  - seed: the same over two bytes (18<<3 | prefix>>5, (prefix&31)<<3) + the 32-byte seed.
 *  - JWT: base64url (no padding) of {"typ":"JWT","alg":"ed25519-nkey"}, '.', of the
 *    claims, '.', of the Ed25519 signature over "header.claims"; the jti is the base32
 *    SHA-256 of the claims without a jti.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

enum { PREFIX_SEED = 18 << 3, PREFIX_OPERATOR = 14 << 3, PREFIX_ACCOUNT = 0, PREFIX_USER = 20 << 3 };

typedef struct key {
    EVP_PKEY *pkey;
    char pub[64];  /* 56 characters */
    char seed[64]; /* 58 characters */
} key;

static const char *out_dir;

static void die(const char *what)
{
    fprintf(stderr, "nkeygen: %s\n", what);
    exit(1);
}

/* CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection (nkeys crc16.go). */
static unsigned crc16(const unsigned char *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

/* RFC 4648 base32 without padding; out must hold n * 8 / 5 + 2 bytes. */
static void base32(const unsigned char *p, size_t n, char *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        for (bits += 8; bits >= 5; bits -= 5)
            *out++ = alphabet[(acc >> (bits - 5)) & 31];
    }
    if (bits > 0)
        *out++ = alphabet[(acc << (5 - bits)) & 31];
    *out = '\0';
}

/* head (1 or 2 bytes) + 32 key bytes + CRC-16 little-endian, base32-encoded into out. */
static void encode_nkey(const unsigned char *head, size_t head_len, const unsigned char key32[32],
                        char *out)
{
    unsigned char raw[2 + 32 + 2];
    memcpy(raw, head, head_len);
    memcpy(raw + head_len, key32, 32);
    unsigned crc = crc16(raw, head_len + 32);
    raw[head_len + 32] = (unsigned char)(crc & 0xff);
    raw[head_len + 33] = (unsigned char)(crc >> 8);
    base32(raw, head_len + 34, out);
}

/* A fresh Ed25519 key pair of the given type, encoded as NKey public key and seed. */
static void make_key(key *k, unsigned char prefix)
{
    unsigned char seed[32], pub[32];
    size_t pub_len = sizeof pub;
    if (RAND_bytes(seed, sizeof seed) != 1)
        die("RAND_bytes failed");
    k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, pub, &pub_len) != 1 || pub_len != 32)
        die("cannot make an Ed25519 key");
    unsigned char pub_head[1] = {prefix};
    encode_nkey(pub_head, 1, pub, k->pub);
    unsigned char seed_head[2] = {(unsigned char)(PREFIX_SEED | (prefix >> 5)),
                                  (unsigned char)((prefix & 31) << 3)};
    encode_nkey(seed_head, 2, seed, k->seed);
    OPENSSL_cleanse(seed, sizeof seed);
}

/* base64url without padding (RFC 4648 §5, as JWTs use it); returns a malloc'd string. */
static char *base64url(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        die("out of memory");
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

/*
 * A signed JWT (malloc'd) for subject sub issued by iss, valid from iat (Unix seconds) until
 * exp (0: for ever). nats_body is the inside of the "nats" object without braces and without
 * type/version, which are added here.
 */
static char *make_jwt(const key *iss, const char *sub, const char *name, const char *type,
                      const char *nats_body, long iat, long exp)
{
    char claims[4096], with_jti[4200], jti[64], exp_field[40] = "";
    if (exp > 0)
        snprintf(exp_field, sizeof exp_field, "\"exp\":%ld,", exp);
    const char *sep = nats_body[0] ? "," : "";
    snprintf(claims, sizeof claims,
             "{%s\"iat\":%ld,\"iss\":\"%s\",\"name\":\"%s\",\"sub\":\"%s\","
             "\"nats\":{%s%s\"type\":\"%s\",\"version\":2}}",
             exp_field, iat, iss->pub, name, sub, nats_body, sep, type);
    unsigned char digest[32];
    if (EVP_Digest(claims, strlen(claims), digest, NULL, EVP_sha256(), NULL) != 1)
        die("SHA-256 failed");
    base32(digest, sizeof digest, jti);
    snprintf(with_jti, sizeof with_jti, "{\"jti\":\"%s\",%s", jti, claims + 1);

    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
    char *h = base64url((const unsigned char *)header, strlen(header));
    char *c = base64url((const unsigned char *)with_jti, strlen(with_jti));
    size_t signed_len = strlen(h) + 1 + strlen(c);
    char *signing_input = malloc(signed_len + 1);
    if (!signing_input)
        die("out of memory");
    snprintf(signing_input, signed_len + 1, "%s.%s", h, c);

    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, iss->pkey) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)signing_input, signed_len) != 1)
        die("Ed25519 signing failed");
    EVP_MD_CTX_free(md);
    char *s = base64url(sig, sig_len);
    char *jwt = malloc(signed_len + 1 + strlen(s) + 1);
    if (!jwt)
        die("out of memory");
    sprintf(jwt, "%s.%s", signing_input, s);
    free(h);
    free(c);
    free(s);
    free(signing_input);
    return jwt;
}

static FILE *open_out(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "nkeygen: cannot write %s\n", path);
        exit(1);
    }
    return f;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = open_out(name);
    fprintf(f, "%s\n", text);
    if (fclose(f) != 0)
        die("write failed");
}

/* The nsc .creds layout, which nats.c, natscli and nats-server read. */
static void write_creds(const char *name, const char *jwt, const char *seed)
{
    FILE *f = open_out(name);
    fprintf(f,
            "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n"
            "NKEYs are sensitive and should be treated as secrets.\n\n"
            "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n\n"
            "*************************************************************\n",
            jwt, seed);
    if (fclose(f) != 0)
        die("write failed");
}

/* Unlimited account limits: a missing limit decodes as 0, and "conn": 0 admits nobody. */
static const char account_body[] =
    "\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,\"imports\":-1,\"exports\":-1,"
    "\"wildcards\":true,\"conn\":-1,\"leaf\":-1}";
static const char user_body[] = "\"pub\":{},\"sub\":{},\"subs\":-1,\"data\":-1,\"payload\":-1";

/* A user of account acct with a .creds file (JWT expiring at exp, 0 = never); its seed goes to seeds. */
static void make_user(const key *acct, const char *name, const char *file, long exp, FILE *seeds,
                      char *pub_out)
{
    key user;
    make_key(&user, PREFIX_USER);
    long now = (long)time(NULL);
    char *jwt = make_jwt(acct, user.pub, name, "user", user_body, exp > 0 ? exp - 3600 : now, exp);
    write_creds(file, jwt, user.seed);
    fprintf(seeds, "%s\n", user.seed);
    if (pub_out)
        strcpy(pub_out, user.pub);
    free(jwt);
    EVP_PKEY_free(user.pkey);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: nkeygen DIR");
    out_dir = argv[1];
    key op, sys, acct, stranger_acct, nk, nk_other;
    make_key(&op, PREFIX_OPERATOR);
    make_key(&sys, PREFIX_ACCOUNT);
    make_key(&acct, PREFIX_ACCOUNT);
    make_key(&stranger_acct, PREFIX_ACCOUNT);
    make_key(&nk, PREFIX_USER);
    make_key(&nk_other, PREFIX_USER);

    char op_body[200];
    snprintf(op_body, sizeof op_body, "\"system_account\":\"%s\"", sys.pub);
    long now = (long)time(NULL);
    char *op_jwt = make_jwt(&op, op.pub, "nbtest-operator", "operator", op_body, now, 0);
    char *sys_jwt = make_jwt(&op, sys.pub, "SYS", "account", account_body, now, 0);
    char *acct_jwt = make_jwt(&op, acct.pub, "nbtest-account", "account", account_body, now, 0);
    write_text("op.jwt", op_jwt);
    write_text("sys.jwt", sys_jwt);
    write_text("acct.jwt", acct_jwt);

    FILE *seeds = open_out("seeds.txt");
    fprintf(seeds, "%s\n%s\n%s\n%s\n%s\n%s\n", op.seed, sys.seed, acct.seed, stranger_acct.seed,
            nk.seed, nk_other.seed);
    char user_pub[64];
    make_user(&acct, "nbtest-user", "user.creds", 0, seeds, user_pub);
    make_user(&stranger_acct, "nbtest-stranger", "stranger.creds", 0, seeds, NULL);
    make_user(&acct, "nbtest-expired", "expired.creds", now - 3600, seeds, NULL);
    if (fclose(seeds) != 0)
        die("write failed");
    write_text("nkey.seed", nk.seed);
    write_text("nkey-other.seed", nk_other.seed);

    FILE *env = open_out("keys.env");
    fprintf(env, "OP_PUB=%s\nSYS_PUB=%s\nACCT_PUB=%s\nUSER_PUB=%s\nNKEY_PUB=%s\n", op.pub,
            sys.pub, acct.pub, user_pub, nk.pub);
    if (fclose(env) != 0)
        die("write failed");

    free(op_jwt);
    free(sys_jwt);
    free(acct_jwt);
    key *all[] = {&op, &sys, &acct, &stranger_acct, &nk, &nk_other};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        EVP_PKEY_free(all[i]->pkey);
    return 0;
}
