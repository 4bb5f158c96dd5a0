/* SPDX-License-Identifier: MIT */
/*
 * ids.c - UUID v4 (from a per-thread pool of kernel random bytes) and UTC
 * timestamps, both written without formatting functions.
 */
#include "ids.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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

/*
 * fork() copies the pool: parent and child would hand out the same UUIDs
 * (msg_ids that JetStream then drops as duplicates, colliding upload paths).
 * A child handler bumps a generation; a pool filled under an older one is
 * thrown away before its next use. Only the forking thread survives in the
 * child, and its check below sees the new generation on its next UUID.
 */
static atomic_uint fork_generation;
static _Thread_local unsigned pool_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

/*
 * Without the handler (pthread_atfork fails only for lack of memory) the pool
 * is not used at all: libuuid's generator is slower but safe across fork.
 * A pid check instead would cost a system call per UUID (getpid is not
 * cached by glibc: 4 us on a virtual machine, 20 times a pooled UUID).
 * Children made by _Fork() or a raw clone() skip atfork handlers: such a
 * child must not make UUIDs before it execs.
 */
static atomic_bool atfork_ready;

static void register_atfork(void)
{
    if (pthread_atfork(NULL, NULL, after_fork_in_child) == 0)
        atomic_store(&atfork_ready, true);
}

static bool pool_is_stale(void)
{
    return atomic_load_explicit(&fork_generation, memory_order_relaxed) != pool_generation;
}

static bool refill(void)
{
    pthread_once(&atfork_once, register_atfork);
    if (!atomic_load(&atfork_ready))
        return false;
    size_t got = 0;
    while (got < sizeof pool) {
        ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof pool)
        return false;
    pool_left = sizeof pool;
    pool_generation = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    return true;
}

static void random16(uint8_t out[16])
{
    if (pool_left >= 16 && pool_is_stale()) {
        memset(pool, 0, sizeof pool); /* the parent's bytes are not ours to use */
        pool_left = 0;
    }
    if (pool_left < 16 && !refill()) { /* no getrandom or no atfork handler: libuuid */
        uuid_generate_random(out);
        return;
    }
    memcpy(out, pool + sizeof pool - pool_left, 16);
    memset(pool + sizeof pool - pool_left, 0, 16); /* a UUID is never handed out twice */
    pool_left -= 16;
}

/* Lowercase hex of every byte value: two table loads per byte instead of libuuid's sprintf. */
static const char hex_pairs[256][2] = {
#define NBI_HEX_ROW(h)                                                                            \
    {h, '0'}, {h, '1'}, {h, '2'}, {h, '3'}, {h, '4'}, {h, '5'}, {h, '6'}, {h, '7'}, {h, '8'},     \
        {h, '9'}, {h, 'a'}, {h, 'b'}, {h, 'c'}, {h, 'd'}, {h, 'e'}, {h, 'f'}
    NBI_HEX_ROW('0'), NBI_HEX_ROW('1'), NBI_HEX_ROW('2'), NBI_HEX_ROW('3'),
    NBI_HEX_ROW('4'), NBI_HEX_ROW('5'), NBI_HEX_ROW('6'), NBI_HEX_ROW('7'),
    NBI_HEX_ROW('8'), NBI_HEX_ROW('9'), NBI_HEX_ROW('a'), NBI_HEX_ROW('b'),
    NBI_HEX_ROW('c'), NBI_HEX_ROW('d'), NBI_HEX_ROW('e'), NBI_HEX_ROW('f'),
#undef NBI_HEX_ROW
};

void nbi_uuid_format(const uint8_t u[16], char out[NBI_UUID_LEN + 1])
{
    char *w = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *w++ = '-';
        memcpy(w, hex_pairs[u[i]], 2);
        w += 2;
    }
    *w = '\0';
}

void nbi_uuid4(char out[NBI_UUID_LEN + 1])
{
    uint8_t u[16];
    random16(u);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
    nbi_uuid_format(u, out);
}

/*
 * Timestamps. "YYYY-MM-DDTHH:MM:SS" changes once a second: each thread keeps
 * the last one it wrote and reformats it only when the second changes (the
 * time of day by hand, the date only when the day changes), so that an
 * envelope pays for a clock_gettime (vDSO, no system call) and five bytes.
 */
#define SECS_PER_DAY 86400
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the four-digit years the format has room for. */
#define TS_MIN_SEC (-62167219200LL)
#define TS_MAX_SEC 253402300799LL

static _Thread_local int64_t ts_sec = INT64_MIN; /* the second ts_text holds; none yet */
static _Thread_local int64_t ts_day = INT64_MIN;
static _Thread_local char ts_text[19];

static void put2(char *w, unsigned v)
{
    w[0] = (char)('0' + v / 10);
    w[1] = (char)('0' + v % 10);
}

/* The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, unsigned *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                        /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

static void format_date(int64_t day)
{
    unsigned y, m, d;
    civil_from_days(day, &y, &m, &d);
    put2(ts_text, y / 100);
    put2(ts_text + 2, y % 100);
    ts_text[4] = '-';
    put2(ts_text + 5, m);
    ts_text[7] = '-';
    put2(ts_text + 8, d);
    ts_text[10] = 'T';
}

static void format_time_of_day(unsigned secs)
{
    put2(ts_text + 11, secs / 3600);
    ts_text[13] = ':';
    put2(ts_text + 14, secs / 60 % 60);
    ts_text[16] = ':';
    put2(ts_text + 17, secs % 60);
}

void nbi_timestamp_at(char out[NBI_TIMESTAMP_LEN + 1], int64_t sec, long nsec)
{
    /* A clock outside the years 0000-9999 is clamped: the text keeps its 24 bytes. */
    sec = sec < TS_MIN_SEC ? TS_MIN_SEC : sec > TS_MAX_SEC ? TS_MAX_SEC : sec;
    if (sec != ts_sec) {
        int64_t day = sec >= 0 ? sec / SECS_PER_DAY : (sec - (SECS_PER_DAY - 1)) / SECS_PER_DAY;
        if (day != ts_day)
            format_date(day);
        format_time_of_day((unsigned)(sec - day * SECS_PER_DAY));
        ts_day = day;
        ts_sec = sec;
    }
    /* PROTOCOL.md: ISO 8601 UTC with milliseconds and 'Z'. */
    unsigned ms = nsec > 0 ? (unsigned)(nsec / 1000000) % 1000 : 0;
    memcpy(out, ts_text, sizeof ts_text);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    put2(out + 21, ms % 100);
    out[23] = 'Z';
    out[24] = '\0';
}

void nbi_timestamp_now(char out[NBI_TIMESTAMP_LEN + 1])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    nbi_timestamp_at(out, (int64_t)ts.tv_sec, ts.tv_nsec);
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
