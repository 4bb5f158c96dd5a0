/* SPDX-License-Identifier: MIT */
/*
 * nbnode.h - what the files of the Node-API addon share (bindings/node/src).
 *
 * Threading model: JavaScript runs on the main thread only. Every call that
 * may block (connect, a send with a link payload, request, flush, receive with
 * downloads, JetStream, Object Store, closing) runs in napi_async_work on
 * libuv's thread pool and settles a promise on the main thread; a send with
 * nothing to upload is published from the main thread (sendNow, ops.c).
 * Deliveries from nats.c's threads reach JavaScript through
 * napi_threadsafe_function, a core subscription's in batches (subs.c).
 *
 * Ownership: an nbn_client or nbn_sub is owned jointly by its JS handle (an
 * external whose finalizer drops one reference) and by whatever runs on it
 * (an async operation, a thread-safe function): each holds a reference
 * counted on the main thread, and the struct is freed when the last one goes.
 */
#ifndef NBNODE_H
#define NBNODE_H

#define NAPI_VERSION 8
#include <node_api.h>

#include "natsbridge.h"

#include <pthread.h>
#include <stdbool.h>

/* Checks a napi call made on the main thread; on failure throws and returns NULL. */
#define NBN_CALL(env, call)                                                    \
    do {                                                                       \
        if ((call) != napi_ok) {                                               \
            nbn_throw_napi(env, #call);                                        \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

typedef struct nbn_sub nbn_sub;

/* One connection (nb_client) as JavaScript sees it. */
typedef struct nbn_client {
    nb_client *c;          /* NULL once closed */
    int refs;              /* the JS handle + each subscription struct (main thread only) */
    int ops;               /* operations running on c */
    bool closing;          /* close() was called: no new operation may start */
    napi_deferred *closers; /* promises of close() calls waiting for the close */
    size_t closer_count;
    nbn_sub **subs;        /* open subscriptions and JetStream consumers, stopped with it */
    size_t sub_count;
    bool close_started;
    size_t threshold;      /* the size threshold it connected with: smaller payloads go direct */
} nbn_client;

/* addon.c: errors, values, options. */
void nbn_throw_napi(napi_env env, const char *what);
napi_value nbn_error_value(napi_env env, nb_status s, const char *message);
napi_value nbn_throw(napi_env env, nb_status s, const char *message);
napi_value nbn_undefined(napi_env env);
/* len bytes of UTF-8 as a JS string (Latin-1 when ASCII: no decoding); NULL when it threw. */
napi_value nbn_text(napi_env env, const char *s, size_t len);
/* A malloc'd copy of the string value v (NULL and a thrown TypeError naming what otherwise). */
char *nbn_string(napi_env env, napi_value v, const char *what);
/* obj[name] as a malloc'd string; *out NULL when absent/undefined/null. false when it threw. */
bool nbn_prop_string(napi_env env, napi_value obj, const char *name, char **out);
/* obj[name] as a number; *present false when absent. false when it threw. */
bool nbn_prop_number(napi_env env, napi_value obj, const char *name, double *out, bool *present);
bool nbn_prop_bool(napi_env env, napi_value obj, const char *name, bool *out, bool *present);
/* nb_options from a JS object of connection/sending/receiving settings (NULL when it threw). */
nb_options *nbn_options_from(napi_env env, napi_value obj);
/* The items of one message as the C calls take them (every byte copied). */
typedef struct item_list {
    nb_item *items;
    char **datanames; /* malloc'd, one per item */
    char **owned;     /* malloc'd copies of the data */
    bool *link;       /* sent by link whatever its size */
    size_t n;
    bool any_link;
} item_list;

#define NBN_FIELD_COUNT 8

/* One message to send: copied from JS on the main thread, built on a worker. */
typedef struct nbn_message {
    item_list l;
    nb_send_fields f;              /* views into keep[] */
    char *keep[NBN_FIELD_COUNT];
    char *sender_name, *sender_id; /* not in nb_send_fields */
} nbn_message;

/* Copies (items, fields) as the JS layer normalises them into *m (zeroed); false when it threw. */
bool nbn_message_take(napi_env env, napi_value items, napi_value fields, nbn_message *m);
/* What a borrowed one-payload message points into (on the caller's stack). */
typedef struct nbn_borrowed {
    nb_item item;
    char *dataname, *owned; /* views for item_list; owned stays NULL */
    bool link;
    char buf[4096];         /* the dataname, then a string's data */
} nbn_borrowed;

/*
 * sendOne's message (argv: dataname, type, data, link, fields) without a copy on the heap:
 * strings read into b->buf, a Buffer's bytes borrowed, valid while the caller's call lasts
 * (main thread). 1 when taken (free with nbn_message_unborrow), 0 when the general path
 * must take it (too long for b->buf, a NUL in a string, not a string or a Buffer, an unknown
 * type: nothing thrown), -1 when it threw.
 */
int nbn_message_borrow_one(napi_env env, napi_value *argv, nbn_message *m, nbn_borrowed *b);
void nbn_message_unborrow(nbn_message *m);
/* The envelope of m (any thread); on failure err gets the message. */
nb_status nbn_message_build(const nbn_message *m, nb_envelope **out, char *err, size_t errsz);
void nbn_message_free(nbn_message *m);
/* A received envelope as [json, payload, ...], each payload an array (type: nb_type's
 * number, named by the exported typeNames): [dataname, type, data, size] when plain (direct,
 * base64, in memory, no metadata, its wire type the canonical name), else [dataname, type,
 * typeName, transport, url, path, data, encoding, size, metadata]; an envelope of one plain
 * payload as [json, dataname, type, data, size] (one array). data a string for text and
 * dictionary (JSON text), a Buffer otherwise, null when streamed to path; metadata its JSON
 * text, null when empty. */
napi_value nbn_envelope_to_js(napi_env env, const nb_envelope *e);
/* ops.c: the asynchronous operations and the client's life. */
napi_value nbn_init_ops(napi_env env, napi_value exports);
/* The client behind a handle, or NULL (and a thrown error) when it is closed or not one. */
nbn_client *nbn_client_get(napi_env env, napi_value handle, bool allow_closed);
/* Drops one reference; the last one closes a client still open and frees it. */
void nbn_client_unref(nbn_client *cl);
/* Marks an operation started on cl (ops up, its handle held); false (thrown) when closing. */
bool nbn_client_op_begin(napi_env env, nbn_client *cl);
/* Ends it (main thread), starting a pending close when it was the last one. */
void nbn_client_op_end(napi_env env, nbn_client *cl);

/* subs.c: subscriptions and JetStream consumers. */
napi_value nbn_init_subs(napi_env env, napi_value exports);
/* Called from the close's worker thread: stops every subscription/consumer of cl. */
void nbn_subs_stop_all(nbn_client *cl);
/* Called on the main thread after the close: releases their thread-safe functions. */
void nbn_subs_release_all(nbn_client *cl);

#endif /* NBNODE_H */
