/* SPDX-License-Identifier: MIT */
/*
 * ids.c - UUID v4 (libuuid's random generator) and UTC timestamps.
 */
#include "ids.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
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
