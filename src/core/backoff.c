/* SPDX-License-Identifier: MIT */
/*
 * backoff.c - exponential back-off with full jitter, a monotonic clock and a
 * sleep that survives signals. The random source is a per-thread splitmix64
 * generator seeded from getrandom(), so no lock and no shared state.
 */
#include "backoff.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t rng_state;
static _Thread_local bool rng_seeded;

static void rng_seed(void)
{
    uint64_t seed = 0;
    /* Fall back on time and a stack address if the kernel has no getrandom. */
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&ts;
    }
    rng_state = seed;
    rng_seeded = true;
}

/* splitmix64: tiny, fast and good enough for jitter (not for secrets). */
static uint64_t rng_next(void)
{
    if (!rng_seeded)
        rng_seed();
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, hi] without modulo bias (hi >= 0). */
static int64_t rng_uniform(int64_t hi)
{
    uint64_t n = (uint64_t)hi + 1; /* hi <= INT64_MAX, so no wrap */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = rng_next();
    while (r >= limit);
    return (int64_t)(r % n);
}

int64_t nbi_backoff_delay_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    /* Double until the cap is reached; never multiply past max_ms, so no
     * overflow whatever attempt is, and at most 63 rounds. */
    int64_t cap = base_ms < max_ms ? base_ms : max_ms;
    for (int i = 0; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    return rng_uniform(cap);
}

int64_t nbi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nbi_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

bool nbi_sleep_unless_stopped(int64_t ms, const volatile sig_atomic_t *stop)
{
    /* Slices keep a SIGINT from waiting out a long back-off delay. */
    int64_t end = nbi_now_ms() + (ms > 0 ? ms : 0);
    for (;;) {
        if (stop && *stop)
            return true;
        int64_t left = end - nbi_now_ms();
        if (left <= 0)
            return false;
        nbi_sleep_ms(left < 50 ? left : 50);
    }
}

void nbi_deadline_after(clockid_t clock, int64_t ms, struct timespec *until)
{
    clock_gettime(clock, until);
    until->tv_sec += (time_t)(ms / 1000);
    until->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}
