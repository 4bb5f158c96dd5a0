/*
 * objstore.h - what transport.c needs of the Object Store claim-check
 * backend (objstore.c): link payloads put into a bucket on send, and
 * nats-os://BUCKET/NAME links fetched on receive, both over the connection
 * of the client that owns the options (nb_options.client).
 */
#ifndef NB_OBJSTORE_H
#define NB_OBJSTORE_H

#include "internal.h"

#define NBI_OBJSTORE_SCHEME "nats-os://"

/* True when url is an Object Store link (scheme nats-os, any case). */
bool nbi_objstore_is_url(const char *url);

/*
 * Puts the bytes of req (memory or file) into the bucket of o->link_store
 * under a fresh name "<uuid>/<dataname>"; *url (malloc'd) gets
 * nats-os://BUCKET/NAME. Refused when o has no client, or when the bytes
 * stored do not match req->size and req->sha256_hex (a file that changed).
 */
nb_status nbi_objstore_upload(const nb_upload_request *req, const nb_options *o, char **url);

/*
 * An nb_download_fn for nats-os:// URLs: ctx is the receiving options
 * (const nb_options *), whose client's connection is used. Honours
 * req->max_bytes, req->path (stream to a file) and req->progress; retries
 * a timed-out or disconnected get with the request's back-off.
 */
nb_status nbi_objstore_download(const nb_download_request *req, uint8_t **data, size_t *len,
                                void *ctx);

#endif
