/* SPDX-License-Identifier: MIT */
/*
 * replay.c - the replay driver of the fuzz targets (see replay.h).
 */
#include "replay.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long runs;

void nbf_run(const void *bytes, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, bytes, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    runs++;
}

char *nbf_read(const char *path, size_t *len)
{
    char *bytes = nbt_read_file(path, len);
    if (!bytes)
        fprintf(stderr, "cannot read %s\n", path);
    return bytes;
}

int nbf_replay_prefixes(const char *path)
{
    size_t n = 0;
    char *bytes = nbf_read(path, &n);
    if (!bytes)
        return 1;
    for (size_t k = 0; k <= n; k++)
        nbf_run(bytes, k);
    free(bytes);
    return 0;
}

static int replay_dir(const char *path, int (*replay_file)(const char *path))
{
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, ent->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            rc |= replay_file(full);
    }
    closedir(dir);
    return rc;
}

int nbf_replay_main(int argc, char **argv, int (*replay_file)(const char *path))
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", argv[i]);
            rc = 1;
        } else {
            rc |= S_ISDIR(st.st_mode) ? replay_dir(argv[i], replay_file) : replay_file(argv[i]);
        }
    }
    fprintf(stderr, "%lu inputs replayed\n", runs);
    return rc || runs == 0;
}
