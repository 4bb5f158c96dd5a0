/* SPDX-License-Identifier: MIT */
/*
 * envelope.c - nb_envelope: life cycle, payload list, field setters and
 * accessors, and the defaults filled in when an envelope is built.
 * The JSON wire text is the codec's business (codec_write.c, codec_read.c).
 */
#include "envelope.h"
#include "redact.h"

#include "ids.h"
#include "options.h"

#include <stdlib.h>
#include <string.h>

/* The 12 string fields of an envelope in wire order, with the old peers' names. */
const struct nbi_envelope_field nbi_envelope_fields[NBI_ENVELOPE_FIELD_COUNT] = {
    {{"correlation_id", "correlationId"}, offsetof(nb_envelope, correlation_id), true},
    {{"msg_id", "msgId"}, offsetof(nb_envelope, msg_id), true},
    {{"timestamp"}, offsetof(nb_envelope, timestamp), false},
    {{"send_to", "sendTo"}, offsetof(nb_envelope, send_to), false},
    {{"msg_purpose", "msgPurpose"}, offsetof(nb_envelope, msg_purpose), false},
    {{"sender_name", "senderName"}, offsetof(nb_envelope, sender_name), false},
    {{"sender_id", "senderId"}, offsetof(nb_envelope, sender_id), false},
    {{"receiver_name", "receiverName"}, offsetof(nb_envelope, receiver_name), false},
    {{"receiver_id", "receiverId"}, offsetof(nb_envelope, receiver_id), false},
    {{"reply_to", "replyTo"}, offsetof(nb_envelope, reply_to), false},
    {{"reply_to_msg_id", "replyToMsgId"}, offsetof(nb_envelope, reply_to_msg_id), false},
    {{"broker_url", "brokerURL", "BrokerURL", "brokerUrl"}, offsetof(nb_envelope, broker_url),
     false},
};

char **nbi_envelope_field_at(nb_envelope *e, size_t i)
{
    return (char **)((char *)e + nbi_envelope_fields[i].offset);
}

nb_status nb_envelope_create(nb_envelope **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "envelope: out is NULL");
    nb_envelope *e = calloc(1, sizeof *e);
    if (e && !(e->metadata = cJSON_CreateObject())) {
        free(e);
        e = NULL;
    }
    *out = e;
    return e ? NB_OK : nbi_fail(NB_NO_MEMORY, "envelope: out of memory");
}

void nb_envelope_destroy(nb_envelope *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < NBI_ENVELOPE_FIELD_COUNT; i++) {
        char *field = *nbi_envelope_field_at(e, i);
        if (!nbi_envelope_in_arena(e, field))
            free(field);
    }
    for (size_t i = 0; i < e->count; i++)
        nb_payload_destroy(e->payloads[i]);
    free(e->payloads);
    cJSON_Delete(e->metadata);
    free(e->json);
    free(e->arena); /* after the payloads: their strings may live here */
    free(e);
}

nb_status nbi_envelope_unshare(nb_envelope *e)
{
    if (!e || !e->arena)
        return NB_OK;
    for (size_t i = 0; i < NBI_ENVELOPE_FIELD_COUNT; i++) {
        char **field = nbi_envelope_field_at(e, i);
        if (!nbi_envelope_in_arena(e, *field))
            continue;
        char *copy = nbi_strdup(*field);
        if (!copy)
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory copying its fields");
        *field = copy;
    }
    for (size_t i = 0; i < e->count; i++) {
        nb_status s = nbi_payload_unshare(e->payloads[i]);
        if (s != NB_OK)
            return s;
    }
    free(e->arena);
    e->arena = NULL;
    e->arena_len = 0;
    return NB_OK;
}

nb_status nb_envelope_add_payload(nb_envelope *e, nb_payload **p)
{
    if (!e || !p || !*p)
        return nbi_fail(NB_INVALID_ARG, "envelope: add_payload needs an envelope and a payload");
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        nb_payload **grown = cap > SIZE_MAX / sizeof *grown
                                 ? NULL
                                 : realloc(e->payloads, cap * sizeof *grown);
        if (!grown)
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory adding a payload");
        e->payloads = grown;
        e->cap = cap;
    }
    e->payloads[e->count++] = *p;
    *p = NULL;
    return NB_OK;
}

/* FNV-1a: the distinct-name check hashes every dataname once. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/*
 * An open addressing set of payload indices keeps this O(n) (a receiver's
 * count is bounded by max_payloads; the table is at most half full).
 */
nb_status nbi_envelope_check_distinct_names(const nb_envelope *e, const char *why)
{
    size_t cap = 16;
    while (cap < e->count * 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot); /* payload index + 1; 0 is empty */
    if (!slot)
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory checking %zu datanames", e->count);
    memset(slot, 0, cap * sizeof *slot);
    nb_status s = NB_OK;
    for (size_t i = 0; s == NB_OK && i < e->count; i++) {
        const char *name = e->payloads[i]->dataname;
        size_t at = (size_t)name_hash(name) & (cap - 1);
        for (; slot[at]; at = (at + 1) & (cap - 1)) {
            size_t j = slot[at] - 1;
            if (strcmp(e->payloads[j]->dataname, name) == 0) {
                s = nbi_fail(NB_NOT_ALLOWED,
                             "payloads[%zu] '%.200s': the same dataname as payloads[%zu]; %s",
                             i, name, j, why);
                break;
            }
        }
        slot[at] = i + 1;
    }
    free(slot);
    return s;
}

/* Copies value into *field: a UTF-8 string, non-empty when required. */
static nb_status set_field(nb_envelope *e, char **field, const char *name, const char *value,
                           bool non_empty)
{
    if (!e || !value)
        return nbi_fail(NB_INVALID_ARG, "envelope: %s: NULL envelope or value", name);
    if (non_empty && !*value)
        return nbi_fail(NB_INVALID_ARG, "envelope: %s must not be empty", name);
    if (!nbi_utf8_valid((const uint8_t *)value, strlen(value)))
        return nbi_fail(NB_INVALID_ARG, "envelope: %s is not valid UTF-8", name);
    /* A received envelope's old value may live in its arena: that is not freed here. */
    char *copy = nbi_strdup(value);
    if (!copy)
        return nbi_fail(NB_NO_MEMORY, "envelope: %s: out of memory", name);
    if (!nbi_envelope_in_arena(e, *field))
        free(*field);
    *field = copy;
    return NB_OK;
}

#define NBI_SETTER(field, non_empty)                                           \
    nb_status nb_envelope_set_##field(nb_envelope *e, const char *value)        \
    {                                                                          \
        return set_field(e, e ? &e->field : NULL, #field, value, non_empty);    \
    }
NBI_SETTER(correlation_id, true)
NBI_SETTER(msg_id, true)
NBI_SETTER(msg_purpose, false)
NBI_SETTER(sender_name, true)
NBI_SETTER(sender_id, true)
NBI_SETTER(receiver_name, false)
NBI_SETTER(receiver_id, false)
NBI_SETTER(reply_to, false)
NBI_SETTER(reply_to_msg_id, false)
#undef NBI_SETTER

nb_status nb_envelope_set_metadata_json(nb_envelope *e, const char *json)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL envelope");
    return nbi_payload_parse_object(&e->metadata, json, "envelope");
}

nb_status nb_envelope_set_metadata(nb_envelope *e, const cJSON *object)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL envelope");
    return nbi_payload_copy_object(&e->metadata, object, "envelope");
}

#define NBI_GETTER(field)                                                      \
    const char *nb_envelope_##field(const nb_envelope *e)                      \
    {                                                                          \
        return e ? nbi_or_empty(e->field) : "";                                \
    }
NBI_GETTER(correlation_id)
NBI_GETTER(msg_id)
NBI_GETTER(timestamp)
NBI_GETTER(send_to)
NBI_GETTER(msg_purpose)
NBI_GETTER(sender_name)
NBI_GETTER(sender_id)
NBI_GETTER(receiver_name)
NBI_GETTER(receiver_id)
NBI_GETTER(reply_to)
NBI_GETTER(reply_to_msg_id)
NBI_GETTER(broker_url)
#undef NBI_GETTER

const cJSON *nb_envelope_metadata(const nb_envelope *e)
{
    static const cJSON empty = {.type = cJSON_Object};
    return e && e->metadata ? e->metadata : &empty;
}

size_t nb_envelope_payload_count(const nb_envelope *e) { return e ? e->count : 0; }

const nb_payload *nb_envelope_payload(const nb_envelope *e, size_t i)
{
    return e && i < e->count ? e->payloads[i] : NULL;
}

const char *nb_envelope_json(const nb_envelope *e, size_t *len)
{
    if (len)
        *len = e && e->json ? e->json_len : 0;
    return e ? e->json : NULL;
}

/* ------------------------------------------------------------------------ */
/* Defaults (PROTOCOL.md "Sending")                                         */
/* ------------------------------------------------------------------------ */

static bool unset(const char *s) { return !s || !*s; }

/* Sets *field to value when it is unset (or always, when force). */
static nb_status fill(char **field, const char *value, bool force)
{
    if (!force && !unset(*field))
        return NB_OK;
    if (*field && strcmp(*field, value) == 0)
        return NB_OK; /* a rebuilt envelope: send_to and broker_url are usually unchanged */
    return nbi_set_string(field, value);
}

/* Sets *field to a fresh UUID v4 when it is unset, formatted straight into its own block. */
static nb_status fill_uuid(char **field)
{
    if (!unset(*field))
        return NB_OK;
    char *id = malloc(NBI_UUID_LEN + 1);
    if (!id)
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory for an id");
    nbi_uuid4(id);
    free(*field); /* an empty string */
    *field = id;
    return NB_OK;
}

/* Sets the timestamp to now, reusing its block when it holds one of the same length (a rebuild). */
static nb_status fill_timestamp(char **field)
{
    if (!*field || strlen(*field) != NBI_TIMESTAMP_LEN) {
        char *now = malloc(NBI_TIMESTAMP_LEN + 1);
        if (!now)
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory for the timestamp");
        free(*field);
        *field = now;
    }
    nbi_timestamp_now(*field);
    return NB_OK;
}

/*
 * broker_url from the options' URL: the first of a cluster's list ("nats://a,
 * nats://b"; peers read one URL here), never with the user, password or token
 * (every peer and stream reads it). Redacting costs more than the rest of the
 * defaults together, and a sender's URL rarely changes: each thread keeps the
 * last URL it redacted and its result. The key is the whole URL text (not the
 * options pointer), so a changed or freed options object is never mistaken.
 */
#define BROKER_URL_MAX 1024
static _Thread_local char broker_in[BROKER_URL_MAX];
static _Thread_local char broker_out[BROKER_URL_MAX];

static const char *broker_url_of(const char *url)
{
    size_t n = strlen(url);
    if (n < BROKER_URL_MAX && broker_in[0] && memcmp(broker_in, url, n + 1) == 0)
        return broker_out;
    char first[BROKER_URL_MAX];
    size_t k = strcspn(url, ",");
    k = k < sizeof first - 1 ? k : sizeof first - 1; /* cut as before, never overrun */
    memcpy(first, url, k);
    first[k] = '\0';
    nbi_redact(first, broker_out, sizeof broker_out, true);
    if (n < BROKER_URL_MAX)
        memcpy(broker_in, url, n + 1);
    else
        broker_in[0] = '\0'; /* too long to keep as a key: the next call redacts again */
    return broker_out;
}

nb_status nbi_envelope_fill_defaults(nb_envelope *e, const char *subject, const nb_options *o)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL envelope");
    if (unset(subject))
        return nbi_fail(NB_INVALID_ARG, "envelope: subject must not be empty");
    if (!o)
        o = nbi_options_default();
    /* The fills below free old values: a received envelope's must be its own (issue 16). */
    nb_status us = nbi_envelope_unshare(e);
    if (us != NB_OK)
        return us;
    const char *name = o->sender_name ? o->sender_name : NB_DEFAULT_SENDER_NAME;
    const char *url = o->url ? o->url : NB_DEFAULT_NATS_URL;
    nb_status s = fill_uuid(&e->msg_id);
    if (s == NB_OK)
        s = fill_timestamp(&e->timestamp);
    if (s == NB_OK)
        s = fill(&e->send_to, subject, true);
    if (s == NB_OK)
        s = fill_uuid(&e->correlation_id);
    if (s == NB_OK)
        s = fill(&e->msg_purpose, NB_DEFAULT_MSG_PURPOSE, false);
    if (s == NB_OK)
        s = fill(&e->sender_name, name, false);
    if (s == NB_OK)
        s = o->sender_id ? fill(&e->sender_id, o->sender_id, false) : fill_uuid(&e->sender_id);
    if (s == NB_OK)
        s = fill(&e->broker_url, broker_url_of(url), true);
    for (size_t i = 0; s == NB_OK && i < e->count; i++)
        s = fill_uuid(&e->payloads[i]->id);
    return s;
}
