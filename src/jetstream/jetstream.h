/* SPDX-License-Identifier: MIT */
/*
 * jetstream.h - what jetstream.c (streams, publishing) shares with
 * jsconsumer.c (durable pull consumers).
 */
#ifndef NB_JETSTREAM_H
#define NB_JETSTREAM_H

#include "internal.h"

#include <nats/nats.h>
#include <time.h>

#define DEFAULT_WAIT_MS 5000 /* JetStream API requests and acks */
#define NS_PER_MS 1000000LL

/* Stream and consumer names: not empty, <= 255 bytes, no '.', '*', '>', '/', '\\' or spaces. */
nb_status nbi_js_check_name(const char *what, const char *name);

/* A nats.c JetStream failure, naming what; a missing stream or consumer is NB_NOT_FOUND. */
nb_status nbi_js_fail(natsStatus ns, jsErrCode jerr, const char *what);
/* nbi_js_fail with what formatted (only when there is a failure to name). */
nb_status nbi_js_failf(natsStatus ns, jsErrCode jerr, const char *fmt, ...) NBI_PRINTF(3, 4);

/* True when a JetStream call failed because the stream (code) or consumer is not there. */
static inline bool nbi_js_missing(natsStatus ns, jsErrCode jerr, jsErrCode code)
{
    return ns == NATS_NOT_FOUND || jerr == code;
}

/* Keeps the recorded message but makes it NB_INVALID_ARG (the server refused a config). */
nb_status nbi_js_as_invalid_arg(void);

/* A copy of si as the public info (free with nb_js_stream_info_destroy). */
nb_status nbi_js_copy_stream_info(const jsStreamInfo *si, nb_js_stream_info **out);

/* A JetStream context on c's connection with wait_ms for API calls; o may be NULL. */
nb_status nbi_js_context(nb_client *c, int64_t wait_ms, jsOptions *o, jsCtx **out);

/*
 * Longest duration natsbridge passes to nats.c or the server: nats.c adds
 * timeouts to its clock in milliseconds and the server counts nanoseconds,
 * so anything near INT64_MAX ms would overflow. 30 days is plenty.
 */
#define NBI_JS_MAX_DURATION_MS (30LL * 24 * 3600 * 1000)

/* A duration argument: 0 (the default) to NBI_JS_MAX_DURATION_MS, or NB_INVALID_ARG naming it. */
nb_status nbi_js_check_duration(const char *what, const char *name, int64_t ms);

/* Next delay of a back-off without jitter (a nak names its delay): twice ms, at most cap. */
static inline int64_t nbi_js_doubled(int64_t ms, int64_t cap)
{
    return ms > cap / 2 ? cap : ms * 2;
}

/* -- jsprogress.c: "in progress" for a fetched batch while it is worked through -- */

typedef struct nbi_js_progress nbi_js_progress;

/* Starts the thread that restarts the ack wait of unsettled messages every ack_wait_ms / 2. */
nb_status nbi_js_progress_start(nbi_js_progress **out, int64_t ack_wait_ms);
/* Watches batch (borrowed until the next call; NULL: none), all of it unsettled. */
void nbi_js_progress_track(nbi_js_progress *p, natsMsgList *batch);
/* Messages before index upto are settled: never touched again (call before acking one). */
void nbi_js_progress_settle(nbi_js_progress *p, int upto);
/* Stops and joins the thread, frees p. NULL is ignored. */
void nbi_js_progress_stop(nbi_js_progress *p);

#endif /* NB_JETSTREAM_H */
