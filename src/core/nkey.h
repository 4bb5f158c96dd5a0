/* SPDX-License-Identifier: MIT */
/*
 * nkey.h - the little of NATS NKeys natsbridge needs itself: finding a user
 * seed ("SU...") in a seed or .creds file and deriving its public key
 * ("U..."), which nats.c 3.4.1 wants besides the seed file
 * (natsOptions_SetNKeyFromSeed). Signing stays with nats.c (nats_Sign).
 */
#ifndef NB_NKEY_H
#define NB_NKEY_H

#include "internal.h"

#define NBI_NKEY_PUBLIC_LEN 56 /* base32 of 1 prefix + 32 key + 2 CRC bytes */
#define NBI_NKEY_SEED_LEN 58   /* base32 of 2 prefix + 32 seed + 2 CRC bytes */

/*
 * The first user seed in text: a word of NBI_NKEY_SEED_LEN base32 characters
 * starting with "SU" (nsc seed files and .creds files keep it on a line of
 * its own). Returns a pointer into text, or NULL.
 */
const char *nbi_nkey_find_user_seed(const char *text);

/*
 * Checks the user seed at seed (NBI_NKEY_SEED_LEN characters: prefix and
 * CRC-16) and writes its public key, NUL-terminated, into
 * pub[NBI_NKEY_PUBLIC_LEN + 1]. NB_INVALID_ARG naming `what` (never the seed).
 */
nb_status nbi_nkey_user_public(const char *seed, char *pub, const char *what);

#endif
