/* SPDX-License-Identifier: MIT */
/*
 * bench_arrow.c - Arrow IPC encode and decode throughput of natsbridge
 * (nb_table_to_ipc, nb_table_from_ipc) on a 1,000,000-row table of mixed
 * types: int64, float64, utf8, bool and timestamp[us, UTC], with nulls in
 * every tenth row of the int64, utf8 and timestamp columns.
 *
 * Prints the median of REPS runs in MB/s of stream bytes (1 MB = 10^6 bytes),
 * for one batch and for batches of 65,536 rows, and, as a yardstick, the
 * memcpy rate of the same number of bytes in the same run.
 *
 *   build/bench/bench_arrow [rows] [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "natsbridge.h"

#include "bench_util.h"

static void die(const char *what, nb_status s)
{
    fprintf(stderr, "%s: %s: %s\n", what, nb_status_text(s), nb_last_error());
    exit(1);
}

/* The mixed table: strings of 0 to 23 ASCII bytes ("row-<i>" padded). */
static nb_table *make_table(int64_t rows)
{
    size_t n = (size_t)rows;
    int64_t *ints = malloc(n * 8), *ts = malloc(n * 8);
    double *dbl = malloc(n * 8);
    uint8_t *bools = calloc(n / 8 + 1, 1), *valid = malloc(n / 8 + 1);
    int32_t *offs = malloc((n + 1) * 4);
    char *text = malloc(n * 24 + 1);
    size_t len = 0;
    memset(valid, 0xff, n / 8 + 1);
    offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        ints[i] = (int64_t)(i * 2654435761u);
        ts[i] = 1700000000000000 + (int64_t)i * 1000;
        dbl[i] = (double)i / 3.0;
        if (i % 3 == 0)
            bools[i / 8] |= (uint8_t)(1u << (i % 8));
        if (i % 10 == 9)
            valid[i / 8] &= (uint8_t)~(1u << (i % 8));
        len += (size_t)snprintf(text + len, 24, "%.*s", (int)(i % 24), "row-abcdefghijklmnopqrst");
        offs[i + 1] = (int32_t)len;
    }
    nb_table *t = NULL;
    nb_status s = nb_table_create(&t);
    if (s == NB_OK)
        s = nb_table_add_column(t, "id", NB_COL_INT64, rows, ints, NULL, valid);
    if (s == NB_OK)
        s = nb_table_add_column(t, "value", NB_COL_FLOAT64, rows, dbl, NULL, NULL);
    if (s == NB_OK)
        s = nb_table_add_column(t, "label", NB_COL_UTF8, rows, text, offs, valid);
    if (s == NB_OK)
        s = nb_table_add_column(t, "flag", NB_COL_BOOL, rows, bools, NULL, NULL);
    if (s == NB_OK)
        s = nb_table_add_timestamp_column(t, "at", NB_TIME_MICROSECOND, "UTC", rows, ts, valid);
    if (s != NB_OK)
        die("building the table", s);
    free(ints), free(ts), free(dbl), free(bools), free(valid), free(offs), free(text);
    return t;
}

/* Minor page faults of this process so far: fresh memory costs one per page touched. */
static double minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_minflt;
}

typedef struct result {
    double enc, dec;             /* median seconds */
    double enc_faults, dec_faults; /* median minor page faults per run */
    size_t bytes;                /* stream size */
} result;

/* Median encode and decode seconds and page faults of reps runs with batch_rows. */
static void measure(const nb_table *t, size_t batch_rows, int reps, result *res)
{
    double e[64], d[64], ef[64], df[64];
    for (int r = 0; r < reps; r++) {
        uint8_t *p = NULL;
        size_t len = 0;
        nb_table *back = NULL;
        double f0 = minor_faults(), t0 = bench_now_s();
        nb_status s = nb_table_to_ipc(t, batch_rows, &p, &len);
        double t1 = bench_now_s(), f1 = minor_faults();
        if (s != NB_OK)
            die("encode", s);
        if ((s = nb_table_from_ipc(&back, p, len)) != NB_OK)
            die("decode", s);
        double t2 = bench_now_s(), f2 = minor_faults();
        e[r] = t1 - t0;
        d[r] = t2 - t1;
        ef[r] = f1 - f0;
        df[r] = f2 - f1;
        res->bytes = len;
        nb_table_destroy(back);
        free(p);
    }
    res->enc = bench_median(e, reps);
    res->dec = bench_median(d, reps);
    res->enc_faults = bench_median(ef, reps);
    res->dec_faults = bench_median(df, reps);
}

/*
 * Median seconds to memcpy bytes: into a fresh malloc'd buffer (page faults
 * included, as encode and decode pay them), and into a warm one (*warm).
 */
static double measure_memcpy(size_t bytes, int reps, double *warm)
{
    double m[64], w[64];
    uint8_t *src = malloc(bytes), *hot = malloc(bytes);
    memset(src, 0x5a, bytes);
    memset(hot, 0, bytes);
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now_s();
        uint8_t *dst = malloc(bytes);
        memcpy(dst, src, bytes);
        volatile uint8_t sink = dst[bytes / 2];
        (void)sink;
        double t1 = bench_now_s();
        memcpy(hot, src, bytes);
        sink = hot[bytes / 3];
        w[r] = bench_now_s() - t1;
        m[r] = t1 - t0;
        free(dst);
    }
    free(src);
    free(hot);
    *warm = bench_median(w, reps);
    return bench_median(m, reps);
}

int main(int argc, char **argv)
{
    int64_t rows = argc > 1 ? atoll(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    if (rows <= 0 || reps <= 0 || reps > 64) {
        fprintf(stderr, "usage: %s [rows > 0] [reps 1..64]\n", argv[0]);
        return 2;
    }
    nb_table *t = make_table(rows);
    printf("command: %s %lld %d\n", argv[0], (long long)rows, reps);
    printf("table: %lld rows x 5 columns (int64, float64, utf8, bool, timestamp[us, UTC]), "
           "nulls in 10%% of 3 columns; median of %d runs; MB = 10^6 bytes\n",
           (long long)rows, reps);
    static const size_t batches[] = {0, 65536};
    for (int i = 0; i < 2; i++) {
        result res;
        measure(t, batches[i], reps, &res);
        double warm, mc = measure_memcpy(res.bytes, reps, &warm), mb = (double)res.bytes / 1e6;
        printf("batch_rows %-6zu stream %.1f MB | encode %6.0f MB/s (%5.0f faults) | decode %6.0f "
               "MB/s (%5.0f faults) | memcpy %6.0f MB/s (fresh buffer), %6.0f MB/s (warm)\n",
               batches[i], mb, mb / res.enc, res.enc_faults, mb / res.dec, res.dec_faults,
               mb / mc, mb / warm);
        /* S8 of issue 16: absolute targets; the yardstick is memcpy into a fresh buffer. */
        printf("bench name=S8-encode-b%zu nb=%.0f yardstick=%.0f unit=MB/s ratio=%.2f "
               "target=1000MB/s page_faults=%.0f\n", batches[i], mb / res.enc, mb / mc,
               mc / res.enc, res.enc_faults);
        printf("bench name=S8-decode-b%zu nb=%.0f yardstick=%.0f unit=MB/s ratio=%.2f "
               "target=2000MB/s page_faults=%.0f\n", batches[i], mb / res.dec, mb / mc,
               mc / res.dec, res.dec_faults);
    }
    nb_table_destroy(t);
    return 0;
}
