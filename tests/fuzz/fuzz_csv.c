/* SPDX-License-Identifier: MIT */
/*
 * fuzz_csv.c - libFuzzer target for the CLI's CSV reader (cli/csv.c,
 * `send --csv NAME=FILE.csv`), compiled in with the CLI helpers it uses. The
 * reader takes a path, so the input goes into a memfd read back through
 * /proc/self/fd. What it accepts must write as CSV again (cli_csv_text) and
 * as Arrow IPC; what it refuses must not leave a table behind.
 *
 * cli_error prints every refusal to stderr: the target points the stdio
 * stream stderr at /dev/null so that a long run does not write gigabytes of
 * them. libFuzzer and the sanitizers write their reports to file descriptor
 * 2 directly, which stays open.
 */
#define _GNU_SOURCE /* memfd_create */
#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

static void open_input(void)
{
    FILE *null = fopen("/dev/null", "w");
    if (null)
        stderr = null;
    fd = memfd_create("fuzz_csv", 0);
    if (fd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0)
        open_input();
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    nb_table *t = (nb_table *)&size; /* must come back NULL on a refusal */
    int rc = cli_csv_table(path, &t);
    if (rc != CLI_CONTINUE) {
        if (t != NULL)
            abort();
        return 0;
    }
    size_t len = 0, ipc_len = 0;
    char *text = cli_csv_text(t, &len);
    uint8_t *ipc = NULL;
    if (!text || nb_table_to_ipc(t, 0, &ipc, &ipc_len) != NB_OK)
        abort();
    free(text);
    free(ipc);
    nb_table_destroy(t);
    return 0;
}
