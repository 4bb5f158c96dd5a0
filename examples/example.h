/* SPDX-License-Identifier: MIT */
/*
 * example.h - the scaffolding every example would otherwise repeat.
 *
 * Each example is a complete program meant to be read top to bottom as
 * documentation. What is here is not natsbridge itself, only the lines
 * around it that were the same in every one of them: stopping at the first
 * failed call with nb_last_error()'s reason, finding the server, and
 * connecting with the peers' defaults. Kept in one place (as nats.c does
 * with its examples/examples.h) so that each example shows only its own
 * natsbridge calls.
 */
#ifndef NB_EXAMPLE_H
#define NB_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>

#include <natsbridge.h>

/* Every natsbridge call returns a status; on failure nb_last_error() says why.
 * TRY prints the failed call and that reason, then jumps to the caller's
 * `done:` label, where everything is destroyed (destroying NULL is a no-op). */
#define TRY(call)                                                                 \
    do {                                                                          \
        nb_status s_ = (call);                                                    \
        if (s_ != NB_OK) {                                                        \
            fprintf(stderr, "%s failed: %s: %s\n", #call, nb_status_text(s_), nb_last_error()); \
            goto done;                                                            \
        }                                                                         \
    } while (0)

/* Where the server is: $NATS_URL, else NB_DEFAULT_NATS_URL (nats://localhost:4222). */
static inline const char *nats_url(void)
{
    const char *url = getenv("NATS_URL");
    return url && *url ? url : NB_DEFAULT_NATS_URL;
}

/* Connects *out to nats_url() as sender_name (NULL: the default name), all
 * other options the peers' defaults. The client keeps a copy of the options. */
static inline nb_status example_connect(nb_client **out, const char *sender_name)
{
    nb_options *opts = NULL;
    nb_status s = nb_options_create(&opts);
    if (s == NB_OK)
        s = nb_options_set_url(opts, nats_url());
    if (s == NB_OK && sender_name)
        s = nb_options_set_sender_name(opts, sender_name);
    if (s == NB_OK)
        s = nb_client_connect(out, opts);
    nb_options_destroy(opts);
    return s;
}

#endif /* NB_EXAMPLE_H */
