/* SPDX-License-Identifier: MIT */
/*
 * items.c - seed-shaped sending: the peers' smartsend(subject, [(dataname,
 * data, type), ...], options) as one C call. It only assembles an envelope
 * from plain values and hands it to the client (messaging.c); the bindings
 * (bindings/python, bindings/node) are built on it.
 */
#include "envelope.h"

#include <stdio.h>

/* The setter of each nb_send_fields member, in one table so none is forgotten. */
typedef nb_status (*field_setter)(nb_envelope *, const char *);

static nb_status set_fields(nb_envelope *e, const nb_send_fields *f)
{
    const struct {
        const char *name;
        const char *value;
        field_setter set;
    } fields[] = {
        {"correlation_id", f->correlation_id, nb_envelope_set_correlation_id},
        {"msg_id", f->msg_id, nb_envelope_set_msg_id},
        {"msg_purpose", f->msg_purpose, nb_envelope_set_msg_purpose},
        {"receiver_name", f->receiver_name, nb_envelope_set_receiver_name},
        {"receiver_id", f->receiver_id, nb_envelope_set_receiver_id},
        {"reply_to", f->reply_to, nb_envelope_set_reply_to},
        {"reply_to_msg_id", f->reply_to_msg_id, nb_envelope_set_reply_to_msg_id},
        {"metadata", f->metadata_json, nb_envelope_set_metadata_json},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].value)
            continue;
        nb_status s = fields[i].set(e, fields[i].value);
        if (s != NB_OK)
            return s; /* the setter's message names the field */
    }
    return NB_OK;
}

/* items[i] as a payload appended to e; errors name the item by index. */
static nb_status add_item(nb_envelope *e, const nb_item *item, size_t i)
{
    if (!item->dataname)
        return nbi_fail(NB_INVALID_ARG, "items[%zu]: dataname is NULL", i);
    if ((unsigned)item->type >= NB_TYPE_COUNT)
        return nbi_fail(NB_INVALID_ARG, "items[%zu] '%.200s': unknown type %d", i,
                        item->dataname, (int)item->type);
    nb_payload *p = NULL;
    nb_status s = nb_payload_create(&p, item->dataname, item->type, item->data, item->len);
    if (s != NB_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", nb_last_error());
        return nbi_fail(s, "items[%zu]: %s", i, why);
    }
    s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p); /* NULL when taken */
    return s;
}

nb_status nb_envelope_create_items(nb_envelope **out, const nb_item *items, size_t n,
                                   const nb_send_fields *fields)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "items: out is NULL");
    *out = NULL;
    if (!items || n == 0)
        return nbi_fail(NB_INVALID_ARG, "items: a message needs at least one (dataname, data, "
                                        "type) item");
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create(&e);
    for (size_t i = 0; s == NB_OK && i < n; i++)
        s = add_item(e, &items[i], i);
    if (s == NB_OK)
        s = nbi_envelope_check_distinct_names(e, "a receiver could not tell them apart");
    if (s == NB_OK && fields)
        s = set_fields(e, fields);
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        return s;
    }
    *out = e;
    return NB_OK;
}

/* Hands the sent envelope to the caller, or frees it when out is NULL. */
static nb_status finish(nb_status s, nb_envelope *e, nb_envelope **out)
{
    if (s == NB_OK && out)
        *out = e;
    else
        nb_envelope_destroy(e);
    return s;
}

nb_status nb_client_send_items(nb_client *c, const char *subject, const nb_item *items,
                               size_t n, const nb_send_fields *fields, nb_envelope **out)
{
    if (out)
        *out = NULL;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "send: client is NULL");
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create_items(&e, items, n, fields);
    if (s == NB_OK)
        s = nb_client_send(c, subject, e);
    return finish(s, e, out);
}

nb_status nb_smartsend_items(const char *subject, const nb_item *items, size_t n,
                             const nb_send_fields *fields, const nb_options *opts,
                             nb_envelope **out)
{
    if (out)
        *out = NULL;
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create_items(&e, items, n, fields);
    if (s == NB_OK)
        s = nb_smartsend(subject, e, opts);
    return finish(s, e, out);
}
