/* SPDX-License-Identifier: MIT */
/*
 * bench_tables.c - throughput of the table model's other ways in and out
 * (the Arrow IPC codec has bench_arrow.c): jsontable encode and decode
 * (nb_table_to_json, nb_table_from_json) and the Arrow C Data Interface
 * round trip (nb_table_export + nb_table_import), on a 1,000,000-row table
 * of int64, float64, utf8 (nulls in every tenth row) and bool.
 *
 * Prints the median of REPS runs in MB/s (1 MB = 10^6 bytes) of JSON text
 * for JSON, and of column buffer bytes for the C Data round trip.
 *
 *   build/bench/bench_tables [rows] [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natsbridge.h"

#include "bench_util.h"

static void check(const char *what, nb_status s)
{
    if (s == NB_OK)
        return;
    fprintf(stderr, "%s: %s: %s\n", what, nb_status_text(s), nb_last_error());
    exit(1);
}

/* The table and the byte count of its column buffers. */
static nb_table *make_table(int64_t rows, size_t *buffer_bytes)
{
    size_t n = (size_t)rows;
    int64_t *ints = malloc(n * 8);
    double *dbl = malloc(n * 8);
    uint8_t *bools = calloc(n / 8 + 1, 1), *valid = malloc(n / 8 + 1);
    int32_t *offs = malloc((n + 1) * 4);
    char *text = malloc(n * 24 + 1);
    size_t len = 0;
    memset(valid, 0, n / 8 + 1);
    offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        ints[i] = (int64_t)(i * 2654435761u) - 1000000000;
        dbl[i] = (double)i / 3.0;
        if (i % 3 == 0)
            bools[i / 8] |= (uint8_t)(1u << (i % 8));
        if (i % 10 != 9)
            valid[i / 8] |= (uint8_t)(1u << (i % 8));
        len += (size_t)snprintf(text + len, 24, "row-%zu%.*s", i, (int)(i % 12), "abcdefghijkl");
        offs[i + 1] = (int32_t)len;
    }
    nb_table *t = NULL;
    check("create", nb_table_create(&t));
    check("int64", nb_table_add_column(t, "id", NB_COL_INT64, rows, ints, NULL, NULL));
    check("float64", nb_table_add_column(t, "score", NB_COL_FLOAT64, rows, dbl, NULL, NULL));
    check("utf8", nb_table_add_column(t, "name", NB_COL_UTF8, rows, text, offs, valid));
    check("bool", nb_table_add_column(t, "flag", NB_COL_BOOL, rows, bools, NULL, NULL));
    *buffer_bytes = n * 8 * 2 + (n + 1) * 4 + len + 2 * (n / 8 + 1);
    free(ints);
    free(dbl);
    free(bools);
    free(valid);
    free(offs);
    free(text);
    return t;
}

int main(int argc, char **argv)
{
    int64_t rows = argc > 1 ? atoll(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (rows <= 0 || reps <= 0 || reps > 1000) {
        fprintf(stderr, "usage: bench_tables [rows > 0] [reps 1..1000]\n");
        return 1;
    }
    size_t bytes = 0;
    nb_table *t = make_table(rows, &bytes);
    double *enc = calloc((size_t)reps, sizeof *enc), *dec = calloc((size_t)reps, sizeof *dec);
    double *cdata = calloc((size_t)reps, sizeof *cdata);
    size_t json_len = 0;
    for (int r = 0; r < reps; r++) {
        char *json = NULL;
        nb_table *back = NULL;
        double t0 = bench_now_s();
        check("to_json", nb_table_to_json(t, &json, &json_len));
        double t1 = bench_now_s();
        check("from_json", nb_table_from_json(&back, json, json_len));
        double t2 = bench_now_s();
        nb_table_destroy(back);
        free(json);
        struct ArrowSchema schema;
        struct ArrowArray array;
        double t3 = bench_now_s();
        check("export", nb_table_export(t, &schema, &array));
        check("import", nb_table_import(&back, &schema, &array));
        double t4 = bench_now_s();
        nb_table_destroy(back);
        enc[r] = (double)json_len / 1e6 / (t1 - t0);
        dec[r] = (double)json_len / 1e6 / (t2 - t1);
        cdata[r] = (double)bytes / 1e6 / (t4 - t3);
    }
    printf("table: %lld rows (int64, float64, utf8 with nulls, bool), %.1f MB of buffers, "
           "%.1f MB as JSON; median of %d runs\n", (long long)rows, bytes / 1e6,
           json_len / 1e6, reps);
    printf("jsontable encode      %8.1f MB/s of JSON\n", bench_median(enc, reps));
    printf("jsontable decode      %8.1f MB/s of JSON\n", bench_median(dec, reps));
    printf("C Data export+import  %8.1f MB/s of buffers (two copies)\n", bench_median(cdata, reps));
    free(enc);
    free(dec);
    free(cdata);
    nb_table_destroy(t);
    return 0;
}
