/* SPDX-License-Identifier: MIT */
/*
 * fuzz_objstore.c - libFuzzer target for the Object Store's parsers of peer
 * text: nats-os:// link URLs (objstore_link.c; every nats-os link received)
 * and object info, the JSON of a bucket's meta messages (objstore.c; ADR-20,
 * written by any client of the bucket). The input is tried as both. A parsed
 * URL's bucket and name must pass the checks they were parsed under and hold
 * no NUL-shortened surprise (a name "" is refused); every failure says why
 * and leaves nothing allocated.
 */
#include "objstore.h"

#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void url(const char *text)
{
    char *bucket = NULL, *name = NULL;
    nb_status s = nbi_objstore_parse_url(text, true, &bucket, &name);
    if (s == NB_OK && (!bucket || !name || !*name || nbi_objstore_check_bucket(bucket) != NB_OK ||
                       nbi_objstore_check_name(name) != NB_OK))
        abort();
    if (s != NB_OK && (bucket || name || nb_last_error()[0] == '\0'))
        abort();
    free(bucket);
    free(name);
    s = nbi_objstore_parse_url(text, false, &bucket, NULL);
    if (s == NB_OK && (!bucket || nbi_objstore_check_bucket(bucket) != NB_OK))
        abort();
    if (s != NB_OK && (bucket || nb_last_error()[0] == '\0'))
        abort();
    free(bucket);
}

static void info(const char *json, size_t len)
{
    nb_object_info oi;
    bool deleted = false;
    char *link_bucket = NULL, *link_name = NULL;
    memset(&oi, 0, sizeof oi);
    nb_status s = nbi_objstore_parse_info(json, len, &oi, &deleted, &link_bucket, &link_name);
    if (s == NB_OK && (!oi.name || !oi.bucket || !oi.nuid || !oi.digest))
        abort(); /* parsed: every string is set ("" when absent) */
    if (s != NB_OK && nb_last_error()[0] == '\0')
        abort();
    nb_object_info_clear(&oi);
    free(link_bucket);
    free(link_name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool opened;
    if (!opened) { /* meta messages are natsMsg: nats.c must be open (and closed at exit for LSan) */
        if (nats_Open(-1) != NATS_OK || atexit(nats_Close) != 0)
            abort();
        opened = true;
    }
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    url(text);
    info(text, size);
    free(text);
    return 0;
}
