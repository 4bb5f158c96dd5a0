/* SPDX-License-Identifier: MIT */
/*
 * envelope.h - the nb_envelope struct, shared by envelope.c (fields and
 * accessors), codec_write.c and codec_read.c (JSON), transport.c and messaging.c.
 */
#ifndef NB_ENVELOPE_H
#define NB_ENVELOPE_H

#include "internal.h"
#include "payload.h"

struct nb_envelope {
    char *correlation_id;
    char *msg_id;
    char *timestamp;
    char *send_to;
    char *msg_purpose;
    char *sender_name;
    char *sender_id;
    char *receiver_name;
    char *receiver_id;
    char *reply_to;
    char *reply_to_msg_id;
    char *broker_url;
    cJSON *metadata; /* always an object */
    nb_payload **payloads;
    size_t count;
    size_t cap;
    char *json;      /* wire text after build or parse */
    size_t json_len;
    /*
     * A received envelope's strings: its 12 fields and its payloads' id,
     * dataname, type_name, encoding and url point into this one block (see
     * nbi_envelope_unshare), which only nb_envelope_destroy frees.
     */
    char *arena;
    size_t arena_len;
};

/* True when s points into e's string arena (then e, not the field, owns it). */
static inline bool nbi_envelope_in_arena(const nb_envelope *e, const char *s)
{
    return s && e->arena && s >= e->arena && s < e->arena + e->arena_len;
}

/*
 * Gives every field of e and of its payloads that points into the arena its
 * own malloc'd copy and frees the arena, so that code that replaces a field
 * with nbi_set_string (filling defaults, encoding) may free the old value.
 * Cheap when there is no arena. NB_NO_MEMORY leaves e consistent.
 */
nb_status nbi_envelope_unshare(nb_envelope *e);

/* The 12 string fields of an envelope in wire order, with the old peers' names. */
struct nbi_envelope_field {
    const char *keys[5]; /* snake_case first, then the legacy spellings; NULL-ended */
    size_t offset;       /* of the char * in nb_envelope */
    bool required;
};
#define NBI_ENVELOPE_FIELD_COUNT 12
extern const struct nbi_envelope_field nbi_envelope_fields[NBI_ENVELOPE_FIELD_COUNT];
/* The field i of e (an index into nbi_envelope_fields). */
char **nbi_envelope_field_at(nb_envelope *e, size_t i);

/*
 * Fills what building needs and the caller left unset: msg_id, timestamp,
 * send_to = subject, correlation_id, purpose, sender name/id, broker_url
 * (from opts), payload ids. Does not touch transports or JSON.
 */
nb_status nbi_envelope_fill_defaults(nb_envelope *e, const char *subject, const nb_options *o);

/*
 * Refuses two payloads of one dataname, naming both indices and why they
 * must differ: a receiver saving DIR/<msg_id>/<dataname> would overwrite the
 * first, verified file with the second; a sender of items must not send such
 * a message.
 */
nb_status nbi_envelope_check_distinct_names(const nb_envelope *e, const char *why);

#endif
