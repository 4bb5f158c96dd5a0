/* SPDX-License-Identifier: MIT */
/*
 * objstore.h - what transport.c needs of the Object Store claim-check
 * backend (objstore.c): link payloads put into a bucket on send, and
 * nats-os://BUCKET/NAME links fetched on receive, both over the connection
 * of the client that owns the options (nb_options.client).
 */
#ifndef NB_OBJSTORE_H
#define NB_OBJSTORE_H

#include "integrity.h"
#include "internal.h"
#include "osurl.h"

/* Creates the bucket of cfg on c's connection, or opens it as it is when it exists. */
nb_status nbi_objstore_create(nb_objstore **out, const nb_client *c, const nb_objstore_config *cfg);
/*
 * Gets name (following a link object) into the file at path, or else into
 * *data / *len (malloc'd); refused over max_bytes (0: no cap). Size and digest checked;
 * hex (may be NULL) gets the SHA-256 of the bytes, computed as they arrived.
 */
nb_status nbi_objstore_get(nb_objstore *os, const char *name, uint64_t max_bytes, const char *path,
                           uint8_t **data, size_t *len, char hex[NBI_SHA256_HEX_LEN + 1]);
/* Says whether a link object may be followed into bucket (downloads, issue 11). */
typedef bool (*nbi_bucket_allowed_fn)(const char *bucket, const void *ctx);
/* Gets through os follow links (nats.js options.link) into other buckets only when allowed says so. */
void nbi_objstore_restrict_links(nb_objstore *os, nbi_bucket_allowed_fn allowed, const void *ctx);
/* Opens an existing bucket on c's connection (NB_NOT_FOUND when it is not there). */
nb_status nbi_objstore_open(nb_objstore **out, const nb_client *c, const char *bucket);
/*
 * Puts len bytes of data / the file at path (total bytes expected) as name;
 * info and hex (the SHA-256 of what was stored) describe the stored object.
 */
nb_status nbi_objstore_put_memory(nb_objstore *os, const char *name, const void *data, size_t len,
                                  nb_object_info *info, char hex[NBI_SHA256_HEX_LEN + 1]);
nb_status nbi_objstore_put_path(nb_objstore *os, const char *name, const char *path,
                                uint64_t total, nb_object_info *info,
                                char hex[NBI_SHA256_HEX_LEN + 1]);
/* nb_objstore_put, with hex getting the SHA-256 of the bytes read (a streamed link payload). */
nb_status nbi_objstore_put_reader(nb_objstore *os, const char *name, nb_read_fn read,
                                  void *closure, nb_object_info *info,
                                  char hex[NBI_SHA256_HEX_LEN + 1]);

/*
 * The bucket allowlist of nats-os:// links: url must be well formed
 * (NB_INVALID_ARG) and its bucket the one of o->link_store or one added as
 * an allowed origin "nats-os://BUCKET" (else NB_NOT_ALLOWED naming the bucket
 * and how to allow it). what prefixes the message ("payloads[0] 'x'").
 */
nb_status nbi_objstore_check_link(const char *url, const nb_options *o, const char *what);

/*
 * Puts the bytes of req (memory or file) into the bucket of o->link_store
 * under a fresh name "<uuid>/<dataname>"; *url (malloc'd) gets
 * nats-os://BUCKET/NAME. Refused when o has no client, or when the bytes
 * stored do not match req->size and req->sha256_hex (a file that changed).
 * hex gets the SHA-256 of the bytes stored, computed as they were read.
 */
nb_status nbi_objstore_upload(const nb_upload_request *req, const nb_options *o, char **url,
                              char hex[NBI_SHA256_HEX_LEN + 1]);

/*
 * An nb_download_fn for nats-os:// URLs: ctx is the receiving options
 * (const nb_options *), whose client's connection is used. Honours
 * req->max_bytes, req->path (stream to a file) and req->progress; retries
 * a timed-out or disconnected get with the request's back-off. req->sha256_out
 * gets the digest computed while the bytes arrived.
 */
nb_status nbi_objstore_download(const nb_download_request *req, uint8_t **data, size_t *len,
                                void *ctx);

/* ---- parsers reached by the fuzz targets (tests/fuzz/fuzz_objstore.c) ---- */

/*
 * An object's meta message JSON (len bytes) read into info (freed by
 * nb_object_info_clear, also on failure); *deleted for a tombstone; a link
 * object's target in *link_bucket and *link_name (malloc'd, NULL when none).
 * nats.c must be open (nats_Open): the JSON is read from a natsMsg.
 */
nb_status nbi_objstore_parse_info(const char *json, size_t len, nb_object_info *info,
                                  bool *deleted, char **link_bucket, char **link_name);

#endif
