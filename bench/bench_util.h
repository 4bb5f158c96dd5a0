/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - the timing and statistics every benchmark program needs:
 * one monotonic clock in seconds, an ascending sort of samples and their
 * median. Header-only (static inline) so that each bench stays one .c file.
 */
#ifndef NB_BENCH_UTIL_H
#define NB_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock: only differences mean anything. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) ascending in place (for medians and percentiles). */
static inline void bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

/* The median of n > 0 samples (the mean of the middle two when n is even); sorts v. */
static inline double bench_median(double *v, int n)
{
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
