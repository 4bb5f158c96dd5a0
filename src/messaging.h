/* SPDX-License-Identifier: MIT */
/*
 * messaging.h - what the NATS-facing modules (jetstream.c, objstore.c) share
 * with messaging.c: the client's nats.c connection and nats.c status mapping.
 */
#ifndef NB_MESSAGING_H
#define NB_MESSAGING_H

#include "internal.h"

#include <nats/nats.h>

/* The nats.c connection of c (a view, valid until nb_client_destroy). */
natsConnection *nbi_client_nats(const nb_client *c);

/* Maps a nats.c status to ours, recording "<what>: <nats.c's detail>" as the error. */
nb_status nbi_from_nats(natsStatus ns, const char *what);

/* NATS subjects and queue names are refused when empty (if required) or holding whitespace. */
nb_status nbi_check_token(const char *what, const char *name, bool required);

#endif /* NB_MESSAGING_H */
