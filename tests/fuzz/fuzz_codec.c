/*
 * fuzz_codec.c - libFuzzer target for the envelope decoder (nbi_codec_decode),
 * the decoder of every byte that arrives from NATS.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt):
 *  - fuzz_codec (clang, NB_BUILD_FUZZ=ON): the libFuzzer binary; seed it with
 *    the envelopes of tests/vectors (see docs/PROTOCOL.md, "Testing").
 *  - fuzz_codec_replay (always, with NB_FUZZ_REPLAY_MAIN): runs every file
 *    named on the command line, or every file of a folder, through the same
 *    entry point: the whole file, and for a tests/vectors file also the
 *    "envelope" string inside it and every prefix of it. It is the CTest of
 *    label `fuzz`. `fuzz_codec_replay --write-seeds OUT tests/vectors`
 *    writes those envelopes as seed files for the fuzzer.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_envelope *e = NULL;
    nb_status s = nbi_codec_decode(&e, (const char *)data, size);
    if (s == NB_OK) {
        /* What was accepted must encode again, and the result decode again ... */
        if (nbi_codec_encode(e) != NB_OK)
            abort();
        nb_envelope *again = NULL;
        if (nbi_codec_decode(&again, e->json, e->json_len) != NB_OK)
            abort();
        /* ... to the very same text: the codec is a fixed point after one pass. */
        if (nbi_codec_encode(again) != NB_OK || again->json_len != e->json_len ||
            memcmp(again->json, e->json, e->json_len) != 0)
            abort();
        nb_envelope_destroy(again);
    } else if (e != NULL || nb_last_error()[0] == '\0') {
        abort(); /* a failure must leave *out NULL and say why */
    }
    nb_envelope_destroy(e);
    return 0;
}

#ifdef NB_FUZZ_REPLAY_MAIN
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/stat.h>

static unsigned long runs;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, got;
    char block[65536];
    while ((got = fread(block, 1, sizeof block, f)) > 0) {
        char *grown = realloc(buf, n + got + 1);
        if (!grown) {
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = grown;
        memcpy(buf + n, block, got);
        n += got;
    }
    fclose(f);
    if (!buf && !(buf = malloc(1)))
        return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Feeds bytes through the target in an exact-size copy, so ASan sees overreads. */
static void run(const char *bytes, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, bytes, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    runs++;
}

static int replay_file(const char *path)
{
    size_t n = 0;
    char *text = read_all(path, &n);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    run(text, n);
    /* A vector file: its "envelope" string is the real input, plus every prefix of it. */
    cJSON *doc = cJSON_ParseWithLength(text, n);
    const cJSON *env = cJSON_GetObjectItem(doc, "envelope");
    if (cJSON_IsString(env)) {
        size_t m = strlen(env->valuestring);
        for (size_t k = 0; k <= m; k++)
            run(env->valuestring, k);
    }
    cJSON_Delete(doc);
    free(text);
    return 0;
}

static int replay_dir(const char *path)
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

/* Writes the "envelope" of every vector file in vectors/ to out/<name> (fuzzer seeds). */
static int write_seeds(const char *out, const char *vectors)
{
    DIR *dir = opendir(vectors);
    if (!dir)
        return 1;
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL) {
        char in[4096], to[4096];
        size_t n = 0;
        snprintf(in, sizeof in, "%s/%s", vectors, ent->d_name);
        snprintf(to, sizeof to, "%s/%s", out, ent->d_name);
        char *text = ent->d_name[0] == '.' ? NULL : read_all(in, &n);
        cJSON *doc = text ? cJSON_ParseWithLength(text, n) : NULL;
        const cJSON *env = cJSON_GetObjectItem(doc, "envelope");
        FILE *f = cJSON_IsString(env) ? fopen(to, "wb") : NULL;
        if (f) {
            fputs(env->valuestring, f);
            rc |= fclose(f) != 0;
        }
        cJSON_Delete(doc);
        free(text);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2], argv[3]);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", argv[i]);
            rc = 1;
        } else {
            rc |= S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
        }
    }
    fprintf(stderr, "%lu inputs replayed\n", runs);
    return rc || runs == 0;
}
#endif
