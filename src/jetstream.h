/*
 * jetstream.h - what jetstream.c (streams, publishing) shares with
 * jsconsumer.c (durable pull consumers).
 */
#ifndef NB_JETSTREAM_H
#define NB_JETSTREAM_H

#include "internal.h"

#include <nats/nats.h>

#define DEFAULT_WAIT_MS 5000 /* JetStream API requests and acks */
#define NS_PER_MS 1000000LL

/* Stream and consumer names: not empty, <= 255 bytes, no '.', '*', '>', '/', '\\' or spaces. */
nb_status nbi_js_check_name(const char *what, const char *name);

/* A nats.c JetStream failure, naming what; a missing stream or consumer is NB_INVALID_ARG. */
nb_status nbi_js_fail(natsStatus ns, jsErrCode jerr, const char *what);

/* Keeps the recorded message but makes it NB_INVALID_ARG (the server refused a config). */
nb_status nbi_js_as_invalid_arg(void);

/* A JetStream context on c's connection with wait_ms for API calls; o may be NULL. */
nb_status nbi_js_context(nb_client *c, int64_t wait_ms, jsOptions *o, jsCtx **out);

#endif /* NB_JETSTREAM_H */
