/* SPDX-License-Identifier: MIT */
/*
 * fuzz_codec.c - libFuzzer target for the envelope decoder (nbi_codec_decode),
 * the decoder of every byte that arrives from NATS, and for the tables of the
 * direct table payloads it accepts (nb_payload_table, as `listen` prints them).
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

/*
 * The tables of the envelope's direct table and jsontable payloads, decoded as
 * `natsbridge listen` does to print them (the path of issue 11's over-read).
 */
static void decode_tables(const nb_envelope *e)
{
    for (size_t i = 0; i < nb_envelope_payload_count(e); i++) {
        const nb_payload *p = nb_envelope_payload(e, i);
        size_t n = 0;
        nb_type type = nb_payload_type(p);
        if ((type != NB_TYPE_TABLE && type != NB_TYPE_JSONTABLE) || !nb_payload_data(p, &n))
            continue; /* links were not fetched: no bytes (nor a file) to read */
        nb_table *t = NULL;
        if (nb_payload_table(p, &t) != NB_OK && (t != NULL || nb_last_error()[0] == '\0'))
            abort(); /* a failure leaves *out NULL and says why */
        nb_table_destroy(t);
    }
}

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
        decode_tables(e);
    } else if (e != NULL || nb_last_error()[0] == '\0') {
        abort(); /* a failure must leave *out NULL and say why */
    }
    nb_envelope_destroy(e);
    return 0;
}

#ifdef NB_FUZZ_REPLAY_MAIN
#include <cjson/cJSON.h>
#include <dirent.h>

#include "replay.h"
#include "test.h"

static int replay_file(const char *path)
{
    size_t n = 0;
    char *text = nbf_read(path, &n);
    if (!text)
        return 1;
    nbf_run(text, n);
    /* A vector file: its "envelope" string is the real input, plus every prefix of it. */
    cJSON *doc = cJSON_ParseWithLength(text, n);
    const cJSON *env = cJSON_GetObjectItem(doc, "envelope");
    if (cJSON_IsString(env)) {
        size_t m = strlen(env->valuestring);
        for (size_t k = 0; k <= m; k++)
            nbf_run(env->valuestring, k);
    }
    cJSON_Delete(doc);
    free(text);
    return 0;
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
        char *text = ent->d_name[0] == '.' ? NULL : nbt_read_file(in, &n);
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
    return nbf_replay_main(argc, argv, replay_file);
}
#endif
