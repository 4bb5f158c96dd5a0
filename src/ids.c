/* SPDX-License-Identifier: MIT */
/*
 * ids.c - UUID v4 (libuuid's random generator) and UTC timestamps.
 */
#include "ids.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

/*
 * Random bytes for UUIDs, drawn from the kernel 4 KiB at a time: libuuid's
 * uuid_generate_random makes several system calls per UUID (~2.3 us, 40% of
 * building a small envelope), and an envelope needs three or four UUIDs.
 */
static _Thread_local uint8_t pool[4096];
static _Thread_local size_t pool_left;

static void random16(uint8_t out[16])
{
    if (pool_left < 16) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got < sizeof pool) { /* no getrandom: libuuid has its own sources */
            uuid_generate_random(out);
            return;
        }
        pool_left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - pool_left, 16);
    memset(pool + sizeof pool - pool_left, 0, 16); /* a UUID is never handed out twice */
    pool_left -= 16;
}

void nbi_uuid4(char out[NBI_UUID_LEN + 1])
{
    uuid_t u;
    random16(u);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
    uuid_unparse_lower(u, out);
}

void nbi_timestamp_now(char out[NBI_TIMESTAMP_LEN + 1])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* PROTOCOL.md: ISO 8601 UTC with milliseconds and 'Z', as the spec asks. */
    /* strftime bounds every field, so the length is exactly 24. */
    char secs[20];
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
    memcpy(out, secs, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

bool nbi_is_uuid(const char *s)
{
    if (!s || strlen(s) != NBI_UUID_LEN)
        return false;
    for (int i = 0; i < NBI_UUID_LEN; i++) {
        bool hyphen = (i == 8 || i == 13 || i == 18 || i == 23);
        if (hyphen ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}
