/* SPDX-License-Identifier: MIT */
/*
 * integ.h - what the integration tests share: one nats-server per case
 * (CASE), everything a case creates tracked in T and freed by teardown()
 * even when a CHECK returns early, collectors for async callbacks, and
 * small helpers to build, send and check envelopes.
 */
#ifndef NB_INTEG_H
#define NB_INTEG_H

#include "server.h"
#include "test.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <nats/nats.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* CHECK for helpers that return bool: print where and return false. */
#define REQUIRE(cond)                                                             \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            return false;                                                         \
        }                                                                         \
    } while (0)

#define REQUIRE_OK(expr)                                                          \
    do {                                                                          \
        nb_status req_s_ = (expr);                                                \
        if (req_s_ != NB_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr, \
                    nb_status_text(req_s_), nb_last_error());                     \
            return false;                                                         \
        }                                                                         \
    } while (0)

#define REQUIRE_STR(a, b)                                                         \
    do {                                                                          \
        const char *req_a_ = (a), *req_b_ = (b);                                  \
        if (!req_a_ || !req_b_ || strcmp(req_a_, req_b_) != 0) {                  \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\" (%s vs %s)\n", __FILE__, __LINE__, \
                    req_a_ ? req_a_ : "(null)", req_b_ ? req_b_ : "(null)", #a, #b); \
            return false;                                                         \
        }                                                                         \
    } while (0)

/* A call must fail with status st and leave a non-empty message. */
#define CHECK_FAILS(expr, st)                                                     \
    do {                                                                          \
        nb_status cf_s_ = (expr);                                                 \
        if (cf_s_ != (st) || nb_last_error()[0] == '\0') {                        \
            fprintf(stderr, "%s:%d: %s returned %s \"%s\", expected %s with a message\n", \
                    __FILE__, __LINE__, #expr, nb_status_text(cf_s_), nb_last_error(), \
                    nb_status_text(st));                                          \
            nbt_failures++;                                                       \
            return;                                                               \
        }                                                                         \
    } while (0)

/* CASE(name, max_payload) { body }: a test case with its own nats-server. */
#define CASE(name, max_payload) NBT_CASE_WITH(name, setup(max_payload), teardown())

/* ---- per-case state ------------------------------------------------------ */

typedef struct it_state {
    nbt_server srv;
    bool server_up;
    nb_options *opts[16];
    size_t nopts;
    nb_client *clients[16];
    size_t nclients;
    nb_subscription *subs[16];
    size_t nsubs;
    nb_envelope *envs[256];
    size_t nenvs;
    natsConnection *raw;
    nb_fileserver *fs;
    char tmpdir[256]; /* removed at teardown when set */
} it_state;

extern it_state T;

/* Starts this case's server (max_payload 0 = server default); teardown() frees everything. */
bool setup(long max_payload);
void teardown(void);

/* ---- collectors: what async callbacks saw, behind a mutex and condvar ---- */

#define COL_KEEP 256
#define COL_ERRS 16

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nb_envelope *envs[COL_KEEP]; /* the first COL_KEEP envelopes, in arrival order */
    size_t kept;
    size_t total;                /* envelopes received */
    size_t errors;               /* error callbacks */
    size_t by_status[NB_STATUS_COUNT];
    size_t dropped;              /* sum of the first number in each NB_SLOW_CONSUMER message */
    nb_status err_status[COL_ERRS];
    char err_msg[COL_ERRS][512]; /* the first COL_ERRS error messages */
    bool block;                  /* envelope callbacks wait while true */
    nb_client *responder;        /* when set, every envelope is answered with "echo: <text>" */
    nb_status reply_status;      /* last nb_client_reply result */
    char reply_error[512];
} collector;

/* Four collectors, reset for every case. */
extern collector cols[4];

/* nb_envelope_cb and nb_error_cb recording into the collector given as closure. */
void on_envelope(nb_subscription *sub, nb_envelope *env, void *closure);
void on_error(nb_subscription *sub, nb_status s, const char *message, void *closure);
/* Waits until *counter (a field of c) >= n; false after ms. */
bool col_wait(collector *c, const size_t *counter, size_t n, int64_t ms);
/* Reads a field of c under its lock. */
size_t col_read(collector *c, const size_t *counter);
/* While on, envelope callbacks wait (to make a slow consumer). */
void col_block(collector *c, bool on);
/* The i-th kept envelope (NULL when fewer arrived). */
const nb_envelope *col_env(collector *c, size_t i);

/* Connection events, in order. */
typedef struct evlog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nb_event seq[64];
    size_t n;
} evlog;

extern evlog evs[2];

/* nb_event_cb appending to the evlog given as closure. */
void on_event(nb_event ev, nb_status s, const char *detail, void *closure);
/* Waits for ev logged at or after index from; returns its index or -1. */
long ev_wait(evlog *l, nb_event ev, size_t from, int64_t ms);

/* ---- clients, subscriptions, envelopes (all tracked for teardown) -------- */

/* Options pointing at this case's server. */
nb_options *opts_new(void);
nb_client *connect_with(const nb_options *o);
nb_client *new_client(void);
/* Subscribes and flushes, so that the server has the SUB before anyone publishes. */
nb_subscription *sub_sync(nb_client *c, const char *subject, const char *queue);
nb_subscription *sub_async(nb_client *c, const char *subject, const char *queue, collector *col);
/* Unsubscribes s now (and forgets it). */
void drop_sub(nb_subscription *s);
/* Tracks e for teardown and returns it. */
nb_envelope *keep(nb_envelope *e);
nb_envelope *env_new(void);
/* Appends p to e; p is destroyed when that fails. */
bool add(nb_envelope *e, nb_payload *p);
nb_payload *text_payload(const char *name, const char *text);
nb_payload *bytes_payload(const char *name, nb_type t, const void *data, size_t n);
/* A tracked envelope with one payload (NULL when p is NULL). */
nb_envelope *env_with(nb_payload *p);
nb_envelope *env_text(const char *name, const char *text);
/* The text of e's first payload, or "". */
const char *first_text(const nb_envelope *e);
/* The next envelope of a sync subscription (tracked), or NULL with the reason printed. */
nb_envelope *next_env(nb_subscription *s, int64_t ms);
/* A sending client, and a receiving client with a sync subscription on subject. */
bool pair(nb_client **a, nb_subscription **s, const char *subject);
nb_envelope *send_and_next(nb_client *a, nb_subscription *s, const char *subject, nb_envelope *e);
/* Sends e on subject from one connection and receives it on another. */
nb_envelope *roundtrip(nb_envelope *e, const char *subject);
/* A new envelope with one text payload, NOT tracked (the caller destroys it): usable from any
 * thread. *out is NULL when the status is not NB_OK. */
nb_status text_envelope(nb_envelope **out, const char *name, const char *text);
/* Sends an untracked envelope with one text payload "msg" (usable from any thread). */
nb_status send_text(nb_client *a, const char *subject, const char *text);
/* Sends n text envelopes "m0", "m1", ... and flushes. */
bool send_many(nb_client *a, const char *subject, int n);
/* Publishes bytes with nats.c directly, bypassing natsbridge, and flushes. */
bool raw_publish(const char *subject, const void *data, size_t len);

/* ---- checks -------------------------------------------------------------- */

/* A received payload carries exactly these name, type and bytes, sent directly. */
bool payload_is(const nb_payload *p, const char *name, nb_type t, const void *data, size_t n);
/* Every key of the JSON object want_text is in got with an equal value. */
bool json_text_subset(const char *want_text, const cJSON *got);
/* A UUID v4 as the peers require it: lowercase, hyphenated, version 4, variant 10xx. */
bool is_uuid4(const char *s);
/* "2026-03-13T07:02:50.443Z": ISO 8601 UTC with milliseconds. */
bool is_timestamp(const char *s);
/* True when msg holds a decimal number greater than floor. */
bool names_number_above(const char *msg, unsigned long long floor);

/* ---- odds and ends ------------------------------------------------------- */

int64_t now_ms(void);
void sleep_ms(int64_t ms);
/* The absolute CLOCK_REALTIME time ms from now: a deadline for pthread_cond_timedwait. */
struct timespec deadline_in(int64_t ms);
/* Deterministic filler bytes (xorshift32), so failures are reproducible. */
void fill_bytes(uint8_t *out, size_t n, uint32_t seed);
/* malloc'd copy of s, or NULL. */
char *dup_text(const char *s);
/* A loopback TCP port nobody listens on (bound, then released). */
int closed_port(void);
/* TCP sockets of this network namespace with port as local or remote port (any state). */
int sockets_on_port(int port);
/* A temporary directory for this case (removed at teardown). */
const char *case_dir(void);
bool write_file(const char *path, const void *data, size_t n);

#endif
