/* SPDX-License-Identifier: MIT */
/*
 * osurl.h - Object Store names and nats-os:// URLs (osurl.c): the rules the
 * options, the Object Store and its claim-check links share.
 */
#ifndef NB_OSURL_H
#define NB_OSURL_H

#include "internal.h"

#include <stdbool.h>

#define NBI_OBJSTORE_SCHEME "nats-os://"

/* Bucket names as nats.go accepts them (^[a-zA-Z0-9_-]+$); errors name the bucket. */
nb_status nbi_objstore_check_bucket(const char *bucket);
/* Object names: non-empty UTF-8 whose encoded subject fits a protocol line. */
nb_status nbi_objstore_check_name(const char *name);
/* True when url is an Object Store link (scheme nats-os, any case). */
bool nbi_objstore_is_url(const char *url);
/* An allowed origin "nats-os://BUCKET" (nb_options_add_allowed_origin): NB_INVALID_ARG naming it when malformed. */
nb_status nbi_objstore_check_origin(const char *origin);
/*
 * nats-os://BUCKET[/NAME] split into a checked bucket and a percent-decoded,
 * checked name (malloc'd; NULL on failure). want_name: a name must be there
 * (and name is non-NULL), else it must not.
 */
nb_status nbi_objstore_parse_url(const char *url, bool want_name, char **bucket, char **name);
/* RFC 3986 percent-encoding of an object name, '/' kept (malloc'd; NULL when out of memory). */
char *nbi_objstore_url_encode(const char *name);

#endif
