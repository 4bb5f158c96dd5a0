/* SPDX-License-Identifier: MIT */
/*
 * replay.h - the replay driver shared by the fuzz targets' *_replay builds
 * (NB_FUZZ_REPLAY_MAIN): it runs inputs through the target's
 * LLVMFuzzerTestOneInput without libFuzzer, so that CTest replays the seeds
 * and saved crashes under any compiler.
 */
#ifndef NBF_REPLAY_H
#define NBF_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* The fuzz target: defined by the file that includes this header. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file at path (malloc'd, NUL-terminated), or NULL with "cannot read PATH" printed. */
char *nbf_read(const char *path, size_t *len);

/* Feeds n bytes through the target in an exact-size copy, so ASan sees overreads; counts it. */
void nbf_run(const void *bytes, size_t n);

/* Runs the file at path and every prefix of it through the target; 1 when unreadable. */
int nbf_replay_prefixes(const char *path);

/*
 * Replays every argument argv[1..argc): a file through replay_file, a folder
 * through replay_file for each regular file in it (dot files skipped).
 * Prints how many inputs ran; returns 0, or 1 when a path could not be read
 * or nothing ran.
 */
int nbf_replay_main(int argc, char **argv, int (*replay_file)(const char *path));

#endif
