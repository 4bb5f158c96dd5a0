/* SPDX-License-Identifier: MIT */
/*
 * ids.h - UUID v4 identifiers and ISO 8601 UTC timestamps for envelopes.
 */
#ifndef NB_IDS_H
#define NB_IDS_H

#include "internal.h"

#define NBI_UUID_LEN 36      /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define NBI_TIMESTAMP_LEN 24 /* "2026-03-13T07:02:50.443Z" */

/* A fresh random UUID v4, lowercase and hyphenated, into out[37]. */
void nbi_uuid4(char out[NBI_UUID_LEN + 1]);
/* The current UTC time with milliseconds and 'Z' into out[25]. */
void nbi_timestamp_now(char out[NBI_TIMESTAMP_LEN + 1]);
/* The 16 bytes u as a lowercase hyphenated UUID into out[37] (hex by table). */
void nbi_uuid_format(const uint8_t u[16], char out[NBI_UUID_LEN + 1]);
/*
 * The UTC time sec.nsec (seconds since 1970) as the timestamp text into
 * out[25]; nbi_timestamp_now's formatter, which tests call with chosen times.
 * Each thread reuses its last date and time of day until the second changes.
 * Times outside the years 0000-9999 are clamped to them.
 */
void nbi_timestamp_at(char out[NBI_TIMESTAMP_LEN + 1], int64_t sec, long nsec);
/* True when s is a hyphenated UUID (any version, either case). */
bool nbi_is_uuid(const char *s);

#endif
