/* SPDX-License-Identifier: MIT */
/*
 * backoff.h - the one exponential back-off of natsbridge: full jitter,
 * capped, with an optional overall deadline.
 */
#ifndef NB_BACKOFF_H
#define NB_BACKOFF_H

#include "internal.h"

#include <signal.h>
#include <time.h>

/*
 * Delay before retry number attempt (0-based): a uniformly random value in
 * [0, min(max_ms, base_ms * 2^attempt)] ("full jitter").
 */
int64_t nbi_backoff_delay_ms(int attempt, int64_t base_ms, int64_t max_ms);

/* Milliseconds on a monotonic clock. */
int64_t nbi_now_ms(void);

/* Sleeps ms milliseconds (resumes after signals). */
void nbi_sleep_ms(int64_t ms);
/*
 * Sleeps ms milliseconds in slices of at most 50 ms, returning early (true)
 * once *stop is non-zero (stop may be NULL: a plain sleep, false).
 */
bool nbi_sleep_unless_stopped(int64_t ms, const volatile sig_atomic_t *stop);

/* *until = now on clock (CLOCK_MONOTONIC or CLOCK_REALTIME) + ms, for timed condition waits. */
void nbi_deadline_after(clockid_t clock, int64_t ms, struct timespec *until);

#endif
