/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jsontable.c - libFuzzer target for nb_table_from_json (jsontable.c):
 * JSON arrays of row objects, as jsontable payloads and the Python peer's
 * JSON "table" arrive. What it accepts must write as JSON (nb_table_to_json)
 * and as Arrow IPC, and the JSON it writes must read back and write the very
 * same text again (a fixed point after one pass). A failure leaves *out NULL
 * and says why. See tests/fuzz/CMakeLists.txt.
 */
#include "natsbridge.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_written(const nb_table *t)
{
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    uint8_t *ipc = NULL;
    size_t ipc_len = 0;
    nb_table *again = NULL;
    if (nb_table_to_json(t, &a, &alen) != NB_OK || nb_table_to_ipc(t, 0, &ipc, &ipc_len) != NB_OK)
        abort();
    if (nb_table_from_json(&again, a, alen) != NB_OK)
        abort();
    if (nb_table_to_json(again, &b, &blen) != NB_OK || alen != blen || memcmp(a, b, alen) != 0)
        abort();
    nb_table_destroy(again);
    free(a);
    free(b);
    free(ipc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_table *t = (nb_table *)&size; /* must come back NULL on failure */
    nb_status s = nb_table_from_json(&t, (const char *)data, size);
    if (s == NB_OK)
        check_written(t);
    else if (t != NULL || nb_last_error()[0] == '\0')
        abort();
    nb_table_destroy(t);
    return 0;
}
