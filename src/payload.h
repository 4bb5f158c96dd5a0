/*
 * payload.h - the nb_payload struct and the checks every payload passes,
 * shared by the codec (envelope.c, codec.c) and transport.c.
 */
#ifndef NB_PAYLOAD_H
#define NB_PAYLOAD_H

#include "internal.h"

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
    cJSON *json;     /* parsed dictionary / jsontable, else NULL */
    cJSON *metadata; /* always an object */
    bool force_link;
};

/* A zeroed payload with an empty metadata object. */
nb_status nbi_payload_new(nb_payload **out);

/*
 * Checks that bytes are right for the type (text is UTF-8, a dictionary or
 * jsontable parses as JSON) and, for JSON types, keeps the parsed tree in
 * p->json. who names the payload in errors, e.g. "payloads[2] 'cfg'".
 */
nb_status nbi_payload_check_content(nb_payload *p, const char *who);

/* True when n bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool nbi_utf8_valid(const uint8_t *s, size_t n);

/* Takes data (malloc'd, with room for a NUL at data[len]) as the payload's bytes. */
void nbi_payload_take_data(nb_payload *p, uint8_t *data, size_t len);

#endif
