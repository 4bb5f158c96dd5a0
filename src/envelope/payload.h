/* SPDX-License-Identifier: MIT */
/*
 * payload.h - the nb_payload struct and the checks every payload passes,
 * shared by the codec (envelope.c, codec_write.c, codec_read.c) and transport.c.
 */
#ifndef NB_PAYLOAD_H
#define NB_PAYLOAD_H

#include "internal.h"
#include "utf8.h"

#include <stdio.h>

struct nb_payload {
    char *id;        /* UUID v4; made when the envelope is built if unset */
    char *dataname;
    nb_type type;
    char *type_name; /* as on the wire: "table", "arrowtable", ... */
    nb_transport transport;
    char *encoding;  /* "base64", "none", "json", ... */
    uint64_t size;   /* serialized byte count */
    uint8_t *data;   /* decoded bytes + a NUL not counted in len; NULL when in a file */
    size_t len;
    char *path;      /* bytes live in this file (file payloads, downloads) */
    char *url;       /* link payloads */
    cJSON *json;     /* dictionary / jsontable tree, built on first nb_payload_json, else NULL */
    cJSON *metadata; /* always an object */
    bool force_link;
    bool made_file;  /* path was created by this message (receivers remove only those) */
    /* streamed payloads (issue 13): the reader until the first send consumed it */
    nb_read_fn reader;
    void *reader_ctx;
    bool streamed;   /* uploaded from the reader: later sends keep url, size, sha256 */
    /* A received payload's strings may point into its envelope's arena (not freed here). */
    const char *arena;
    size_t arena_len;
};

/* Marks [arena, arena + len) as the envelope's string block that p's strings may point into. */
void nbi_payload_share_arena(nb_payload *p, const char *arena, size_t len);

/* Copies p's strings that point into the arena (see nbi_envelope_unshare). */
nb_status nbi_payload_unshare(nb_payload *p);

/* A zeroed payload with an empty metadata object. */
nb_status nbi_payload_new(nb_payload **out);

/*
 * Checks that bytes are right for the type (text is UTF-8, a dictionary or
 * jsontable is JSON, validated by the scanner without a tree: p->json is
 * built only when nb_payload_json asks). who names the payload in errors,
 * e.g. "payloads[2] 'cfg'".
 */
nb_status nbi_payload_check_content(nb_payload *p, const char *who);

/* The same for the payload at index of a received envelope ("payloads[i] 'name'", formatted on error only). */
nb_status nbi_payload_check_received(nb_payload *p, size_t index);

/*
 * True when bytes start with '[' after JSON whitespace: JSON rows, never
 * Arrow IPC (which starts with 0xFFFFFFFF or "ARROW1"). A "table" like that
 * is read as a jsontable; a table payload like that is refused.
 */
bool nbi_payload_is_json_rows(const uint8_t *data, size_t len);

/* Takes data (malloc'd, with room for a NUL at data[len]) as the payload's bytes. */
/* (p->size is left as is; a stale p->json is freed: call nbi_payload_check_content again.) */
void nbi_payload_take_data(nb_payload *p, uint8_t *data, size_t len);

/*
 * Parses exactly len bytes of JSON text (trailing JSON whitespace allowed).
 * NULL when they are not one JSON value; *err_at (may be NULL) then gets
 * the byte offset where parsing stopped. Records no error message.
 */
cJSON *nbi_payload_parse_json(const char *text, size_t len, size_t *err_at);

/*
 * Replaces *dst with a deep copy of src, which must be a JSON object.
 * NB_INVALID_ARG "<who>: metadata must be a JSON object" otherwise; *dst kept.
 */
nb_status nbi_payload_copy_object(cJSON **dst, const cJSON *src, const char *who);

/* The same from JSON text (NUL-terminated), e.g. for *_set_metadata_json. */
nb_status nbi_payload_parse_object(cJSON **dst, const char *json, const char *who);

/* ---- files that hold received payloads (issue 11 items 7 and 12) ---------- */

/*
 * Creates path for a received payload's bytes: always a new file (O_EXCL),
 * never through a symbolic link (O_NOFOLLOW), mode 0600 whatever the umask,
 * so that no one else can read it. NB_NOT_ALLOWED naming path when something
 * is there already (a planted file or link), NB_IO otherwise. *out gets the
 * stream (mode "wb").
 */
nb_status nbi_create_private_file(const char *path, FILE **out);

/*
 * Makes the directory path (mode 0700) unless it exists; an existing one must
 * be a real directory (not a link) of this user that no one else may write
 * to, or a local attacker could plant links in it. NB_NOT_ALLOWED names why.
 */
nb_status nbi_make_private_dir(const char *path);

#endif
