/*
 * ids.c - UUID v4 (libuuid's random generator) and UTC timestamps.
 */
#include "ids.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

void nbi_uuid4(char out[NBI_UUID_LEN + 1])
{
    uuid_t u;
    uuid_generate_random(u); /* version 4, variant 10xx */
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
