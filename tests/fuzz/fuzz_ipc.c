/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ipc.c - libFuzzer target for the Arrow IPC reader (nb_table_from_ipc),
 * which reads every table payload that arrives from a peer.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt):
 *  - fuzz_ipc (clang, NB_BUILD_FUZZ=ON): the libFuzzer binary, seeded with
 *    tests/fuzz/corpus/ipc (streams, files and legacy streams written by
 *    natsbridge and by apache-arrow 17, and the crash reproducers).
 *  - fuzz_ipc_replay (always, with NB_FUZZ_REPLAY_MAIN): runs every file named
 *    on the command line, or every file of a folder, and every prefix of
 *    each, through the same entry point. It is the CTest fuzz_ipc.replay.
 *    `fuzz_ipc_replay --write-seeds OUT` writes natsbridge's own seeds.
 */
#include "natsbridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the reader accepted must write again, and read back to the same bytes. */
static void check_fixed_point(const nb_table *t)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    nb_table *again = NULL;
    /* Small batches exercise slicing; a huge column-less table is written in one. */
    size_t batch_rows = nb_table_rows(t) > 4096 ? 0 : 3;
    if (nb_table_to_ipc(t, batch_rows, &a, &alen) != NB_OK)
        abort();
    if (nb_table_from_ipc(&again, a, alen) != NB_OK)
        abort();
    if (nb_table_to_ipc(again, batch_rows, &b, &blen) != NB_OK || alen != blen || memcmp(a, b, alen) != 0)
        abort();
    nb_table_destroy(again);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_table *t = (nb_table *)&size; /* must come back NULL on failure */
    nb_status s = nb_table_from_ipc(&t, data, size);
    if (s == NB_OK)
        check_fixed_point(t);
    else if (t != NULL || nb_last_error()[0] == '\0')
        abort(); /* a failure leaves *out NULL and says why */
    nb_table_destroy(t);
    return 0;
}

#ifdef NB_FUZZ_REPLAY_MAIN
#include "replay.h"

/* Writes t as a stream (file: as a file) to dir/name. */
static int write_seed(const char *dir, const char *name, const nb_table *t, bool file)
{
    char path[4096];
    uint8_t *bytes = NULL;
    size_t n = 0;
    nb_status s = file ? nb_table_to_ipc_file(t, 0, &bytes, &n) : nb_table_to_ipc(t, 2, &bytes, &n);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = s == NB_OK ? fopen(path, "wb") : NULL;
    int rc = !f || fwrite(bytes, 1, n, f) != n;
    if (f && fclose(f) != 0)
        rc = 1;
    free(bytes);
    return rc;
}

/* natsbridge's seeds: a small table of several types with nulls, as stream and file. */
static int write_seeds(const char *dir)
{
    int32_t ints[5] = {1, -2, 3, 2147483647, -5}, offs[6] = {0, 1, 3, 3, 6, 9};
    int64_t ts[5] = {0, 1, -1, 1700000000000, 5};
    uint8_t valid[1] = {0x1b}, bools[1] = {0x05};
    nb_table *t = NULL;
    int rc = nb_table_create(&t) != NB_OK;
    rc |= nb_table_add_column(t, "i", NB_COL_INT32, 5, ints, NULL, valid) != NB_OK;
    rc |= nb_table_add_column(t, "s", NB_COL_UTF8, 5, "aébcdéf", offs, valid) != NB_OK;
    rc |= nb_table_add_column(t, "b", NB_COL_BOOL, 5, bools, NULL, NULL) != NB_OK;
    rc |= nb_table_add_timestamp_column(t, "t", NB_TIME_MILLISECOND, "UTC", 5, ts, valid) != NB_OK;
    rc |= write_seed(dir, "nb_stream_batches_of_2.arrows", t, false);
    rc |= write_seed(dir, "nb_file.arrow", t, true);
    nb_table_destroy(t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    return nbf_replay_main(argc, argv, nbf_replay_prefixes);
}
#endif
