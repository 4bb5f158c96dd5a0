/* SPDX-License-Identifier: MIT */
/*
 * client.h - struct nb_client: one NATS connection and what the layers over
 * it read (its natsConnection and options). messaging.c creates, runs and
 * frees it; the struct lives here, not in messaging.c, so that JetStream and
 * the Object Store reach the connection without calling up into messaging.c
 * (messaging -> transport -> Object Store link -> Object Store -> client.h).
 */
#ifndef NB_CLIENT_H
#define NB_CLIENT_H

#include "internal.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct nb_client {
    natsConnection *nc;
    nb_options *opts;       /* cloned at connect; sender_id fixed for the client's life */
    pthread_mutex_t mu;     /* guards subs */
    nb_subscription *subs;  /* async subscriptions, for slow-consumer reports */
    pthread_cond_t closed_cv; /* signalled by on_closed (under mu) */
    bool closed;              /* nats.c called on_closed: no more callbacks use c */
    /* Permissions violations seen by on_async_error (under mu, signalled on closed_cv). */
    uint64_t violations;        /* how many so far; violation i is in ring[i % VIOLATION_RING] */
    struct {
        char text[256];         /* as the server sent it: Permissions Violation for ... "SUBJECT" */
    } ring[32];
    uint64_t flushed;           /* violations reported (or not about publishing) by the last flush */

    /* publisher loss (issue 11): what nb_client_confirm has vouched for */
    atomic_uint_fast64_t published;   /* core publishes nats.c accepted */
    atomic_uint_fast64_t disconnects; /* connections lost so far */
    uint64_t confirmed_published;     /* (under mu) published at the last confirmation */
    uint64_t confirmed_disconnects;   /* (under mu) disconnects at the last confirmation */
    atomic_bool destroying;           /* nb_client_destroy closes: its CLOSED is no loss */

    /* Subscriptions unsubscribed but not destroyed yet (under mu): the inbox of a request
     * with the caller's own reply_to, a reply inbox the server refused. nats.c 3.4.1's reader
     * thread may still be delivering a late reply to one (two responders answered), and it
     * crashes on a destroyed subscription (fixed in nats.c 3.6.1): each is destroyed after a
     * later flush's PONG, when the reader has passed every message sent before it, or once
     * the connection is closed. */
    natsSubscription **retired;
    size_t retired_count, retired_cap;

    /* Requests (messaging.c, "request / reply"): one wildcard inbox subscription
     * "<rr_prefix>.*" made by the first request and kept until the client is destroyed;
     * request n waits for a reply on "<rr_prefix>.<n>". A reply is handed to its waiter
     * by token; one for no waiter (late, unknown) is dropped and counted. */
    pthread_mutex_t rr_mu;          /* guards everything rr_ below */
    pthread_cond_t rr_done_cv;      /* signalled when rr_done is set */
    natsSubscription *rr_sub;       /* NULL until the first request */
    bool rr_done;                   /* nats.c will deliver nothing more to rr_sub */
    bool rr_verified;               /* a flush showed the server accepted its SUB */
    uint64_t rr_since;              /* violations before it was subscribed */
    char rr_prefix[48];             /* "_INBOX.<nuid>" */
    uint64_t rr_next;               /* the last token given out */
    struct nbi_rr_waiter *rr_waiters; /* requests waiting for a reply (a list) */
    uint64_t rr_dropped;            /* replies that found no waiter */

    /* Requests without send_asap (messaging.c, "the request connection"): a second
     * connection with SendAsap that publishes requests only, so that a request is written at
     * once without a flush's PING/PONG. Used while nc holds nothing unconfirmed. */
    natsOptions *req_opts;          /* nc's options, kept to open req_nc; NULL with send_asap */
    natsConnection *req_nc;         /* (under rr_mu) opened by the first request that may use it */
    bool req_failed;                /* (under rr_mu) it could not be opened: requests flush on nc */
    bool req_closed;                /* (under mu) nats.c called its closed callback */
    atomic_uint_fast64_t synced_published;   /* published, as of the last flush that succeeded */
    atomic_uint_fast64_t synced_disconnects; /* disconnects, as of that flush */
};
#define VIOLATION_RING 32

/* The client's NATS connection (NULL for a NULL client). */
static inline natsConnection *nbi_client_nats(const nb_client *c) { return c ? c->nc : NULL; }

/* The options the client was connected with (NULL for a NULL client). */
static inline const nb_options *nbi_client_opts(const nb_client *c) { return c ? c->opts : NULL; }

/*
 * The server's max_payload on c's connection, -1 without one (NULL or closed).
 * Inline here, not in messaging.c, so that transport.c (below messaging in the
 * layers) can fit an envelope to the server without calling up.
 */
static inline int64_t nbi_client_max_payload(const nb_client *c)
{
    if (!c || !c->nc || natsConnection_IsClosed(c->nc))
        return -1;
    return natsConnection_GetMaxPayload(c->nc);
}

/* What nbi_subscription_take found. */
typedef enum {
    NBI_TAKE_DELIVERY, /* an envelope, a message that failed to decode, or drops */
    NBI_TAKE_NONE,     /* nothing within the timeout: no error message was set */
    NBI_TAKE_ENDED,    /* the subscription or its connection is closed: no more will come */
} nbi_take;

/*
 * For binding_py.c, which reads a sync subscription on the binding's own
 * thread: the next envelope, decoded (drops first, as NB_SLOW_CONSUMER), waiting
 * up to timeout_ms (0: only what is queued); *kind says what the status is
 * about. Unlike nb_subscription_next it does not look for a permissions
 * violation: a refusal after subscribing goes to the client's events, as for a
 * callback subscription.
 */
nb_status nbi_subscription_take(nb_subscription *s, int64_t timeout_ms, nb_envelope **out,
                                nbi_take *kind);
/* Unsubscribes a sync subscription now (a thread waiting in it wakes); frees nothing. */
void nbi_subscription_stop(nb_subscription *s);

#endif /* NB_CLIENT_H */
