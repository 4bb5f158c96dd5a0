/* SPDX-License-Identifier: MIT */
/*
 * test_ipc_repro.c - regression tests for issue 11 item 1: a remote heap
 * over-read in the Arrow IPC reader. The reproducer (shared/repro, copied to
 * tests/fuzz/corpus/ipc/ and tests/fuzz/corpus/codec/) is a stream whose
 * utf8 dictionary batch has offsets [0, 1, 2, 6291463, 0] over 8 bytes of
 * data: the old reader checked entry 2's UTF-8 (bytes 2 .. 6291463) before
 * its offsets, reading 6 MB past the buffer. Every offset must now be bounded
 * before any byte is read through it, and the error must name the bad one.
 * Inputs are read from exact-size heap copies so that ASan and valgrind see
 * any over-read.
 */
#include "test.h"

#ifndef NB_FUZZ_CORPUS_DIR
#error "NB_FUZZ_CORPUS_DIR must name tests/fuzz/corpus"
#endif

#define REPRO_IPC NB_FUZZ_CORPUS_DIR "/ipc/repro-ipc-dictionary-overread.arrows"
#define REPRO_ENVELOPE NB_FUZZ_CORPUS_DIR "/codec/repro-envelope-ipc-dictionary-overread.json"

/* nb_table_from_ipc on an exact-size copy of len bytes; a failure must leave *t NULL. */
static nb_status read_exact(const uint8_t *p, size_t len, nb_table **t)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, p, len);
    *t = NULL;
    nb_status s = nb_table_from_ipc(t, copy, len);
    free(copy);
    if (s != NB_OK && *t != NULL)
        abort();
    return s;
}

/* Where the reproducer's dictionary offsets start: 12 bytes before the 6291463. */
static size_t offsets_at(const uint8_t *p, size_t len)
{
    static const uint8_t huge[4] = {0x07, 0x00, 0x60, 0x00}; /* 6291463, little-endian */
    for (size_t i = 12; i + 4 <= len; i++)
        if (memcmp(p + i, huge, 4) == 0)
            return i - 12;
    return 0;
}

static void put_offsets(uint8_t *p, const int32_t five[5])
{
    for (int i = 0; i < 5; i++) {
        uint32_t v = (uint32_t)five[i];
        for (int b = 0; b < 4; b++)
            p[4 * i + b] = (uint8_t)(v >> (8 * b));
    }
}

NBT_CASE(dictionary_overread_repro)
{
    size_t len = 0;
    char *bytes = nbt_read_file(REPRO_IPC, &len);
    nb_table *t = NULL;
    CHECK(bytes);
    nb_status s = read_exact((const uint8_t *)bytes, len, &t);
    free(bytes);
    CHECK(t == NULL);
    CHECK(s == NB_BAD_PAYLOAD);
    CHECK_STR(nb_last_error(), "arrow: dictionary batch 0 (id 2): offset 3 is 6291463, "
                               "data has 8 bytes");
}

/* The same dictionary batch with other offsets: each bad one is named, sound ones pass. */
NBT_CASE(dictionary_offsets_each_checked)
{
    static const struct {
        int32_t offs[5];
        const char *error;
    } cases[] = {
        {{0, 1, 2, 9, 8}, "offset 3 is 9, data has 8 bytes"},
        {{0, 1, 2, 3, 9}, "offset 4 is 9, data has 8 bytes"},
        {{0, 9, 2, 3, 8}, "offset 1 is 9, data has 8 bytes"},
        {{0, 1, 2, 1, 8}, "offsets not monotonic at entry 2 (1 < 2)"},
        {{0, 1, 2, INT32_MIN, 8}, "offsets not monotonic at entry 2 (-2147483648 < 2)"},
        {{-1, 1, 2, 3, 8}, "offsets run from -1, below 0"},
        {{0, 1, 2, 3, 0}, "offsets not monotonic at entry 3 (0 < 3)"},
        /* Sound offsets pass the dictionary batch: the reproducer then ends in a cut message. */
        {{0, 0, 0, 0, 0}, "arrow: message 2: metadata of 131072 bytes, only 22 bytes left"},
    };
    size_t len = 0;
    char *bytes = nbt_read_file(REPRO_IPC, &len);
    CHECK(bytes);
    size_t at = offsets_at((const uint8_t *)bytes, len);
    if (at == 0)
        free(bytes);
    CHECK(at > 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_table *t = NULL;
        put_offsets((uint8_t *)bytes + at, cases[i].offs);
        nb_status s = read_exact((const uint8_t *)bytes, len, &t);
        nb_table_destroy(t);
        bool ok = s == NB_BAD_PAYLOAD && strstr(nb_last_error(), cases[i].error);
        if (!ok)
            fprintf(stderr, "case %zu: %s \"%s\", expected \"%s\"\n", i, nb_status_text(s),
                    nb_last_error(), cases[i].error);
        nbt_failures += !ok;
    }
    free(bytes);
}

/* The reproducer as a direct table payload: the envelope reads, its table does not. */
NBT_CASE(envelope_repro)
{
    size_t len = 0;
    char *json = nbt_read_file(REPRO_ENVELOPE, &len);
    nb_envelope *e = NULL;
    nb_table *t = NULL;
    CHECK(json);
    nb_status s = nb_envelope_parse(&e, json, len, NULL);
    free(json);
    CHECK_OK(s);
    CHECK(nb_envelope_payload_count(e) == 1);
    s = nb_payload_table(nb_envelope_payload(e, 0), &t);
    nb_envelope_destroy(e);
    CHECK(t == NULL);
    CHECK(s == NB_BAD_PAYLOAD);
    CHECK_STR(nb_last_error(), "payload 'tbl': arrow: dictionary batch 0 (id 2): offset 3 is "
                               "6291463, data has 8 bytes");
}

static const nbt_case cases[] = {NBT_ENTRY(dictionary_overread_repro),
                                 NBT_ENTRY(dictionary_offsets_each_checked),
                                 NBT_ENTRY(envelope_repro), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
