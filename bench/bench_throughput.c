/* SPDX-License-Identifier: MIT */
/*
 * bench_throughput.c - envelopes per second end to end on loopback, next to
 * raw nats.c moving the same wire bytes.
 *
 * Method (docs reference nats-c.md §3a): a publisher connection and a
 * subscriber connection in one process. The timer runs from the first send
 * until the subscriber has received, and fully decoded (smartreceive), the
 * last envelope. natsbridge builds a fresh envelope per send (ids, base64,
 * JSON) and the subscriber gets decoded envelopes; raw nats.c publishes the
 * JSON text of one such envelope with natsConnection_Publish and its
 * subscriber only counts. Both subscribers have unlimited pending limits.
 * So that a lagging subscriber cannot pile up gigabytes, the publisher
 * waits while more than 256 MiB of envelopes are in flight (both variants).
 * Each figure is the median of the repetitions, with min-max.
 *
 * Usage: bench_throughput [--url nats://...] [--reps N] [--small N] [--large N]
 * Without --url it starts its own nats-server (max_payload 8 MB).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
#include <natsbridge.h>

#include "server.h"
#include "bench_util.h"

#define WINDOW_BYTES (256.0 * 1024 * 1024)
#define MAX_REPS 21

/* The four connections, opened once and reused by every repetition. */
typedef struct conns {
    nb_client *nb_pub, *nb_sub;
    natsConnection *raw_pub, *raw_sub;
} conns;

typedef struct bench_case {
    const char *label;
    nb_type type;
    size_t size;
    long count;
} bench_case;

/* What the subscriber side counts, shared with the publisher loop. */
typedef struct counter {
    atomic_long received;
    atomic_long bad; /* envelopes that did not decode as expected */
    long target;
    size_t expect_size;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} counter;

static void counter_init(counter *c, long target, size_t expect_size)
{
    atomic_init(&c->received, 0);
    atomic_init(&c->bad, 0);
    c->target = target;
    c->expect_size = expect_size;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void counter_free(counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Counts one message; wakes the waiter on the last one and now and then for the window. */
static void counter_add(counter *c)
{
    long n = atomic_fetch_add(&c->received, 1) + 1;
    if (n == c->target || (n & 63) == 0) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Waits until received >= n or timeout_s passes; returns whether it got there. */
static bool counter_wait(counter *c, long n, double timeout_s)
{
    double until = bench_now_s() + timeout_s;
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->received) < n && bench_now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L; /* re-check every 10 ms: wake-ups are batched */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return atomic_load(&c->received) >= n;
}

/* The publisher keeps at most WINDOW_BYTES of envelopes in flight. */
static void window_wait(counter *c, long sent, size_t wire_bytes)
{
    long window = (long)(WINDOW_BYTES / (double)(wire_bytes ? wire_bytes : 1));
    if (window < 16)
        window = 16;
    if (sent - atomic_load(&c->received) > window)
        counter_wait(c, sent - window, 60.0);
}

/* ------------------------------------------------------------------------ */
/* natsbridge                                                               */
/* ------------------------------------------------------------------------ */

static void on_envelope(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    counter *c = closure;
    const nb_payload *p = nb_envelope_payload(env, 0);
    size_t len = 0;
    if (!p || !nb_payload_data(p, &len) || len != c->expect_size)
        atomic_fetch_add(&c->bad, 1);
    nb_envelope_destroy(env);
    counter_add(c);
}

static void on_error(nb_subscription *sub, nb_status s, const char *message, void *closure)
{
    (void)sub;
    counter *c = closure;
    atomic_fetch_add(&c->bad, 1);
    fprintf(stderr, "subscriber error: %s: %s\n", nb_status_text(s), message);
}

/* One envelope with one payload of the case's type, sent on subject. */
static nb_status send_one(nb_client *c, const char *subject, const bench_case *bc,
                          const uint8_t *data, size_t *wire_bytes)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    nb_status s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_payload_create(&p, "data", bc->type, data, bc->size);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s == NB_OK)
        s = nb_client_send(c, subject, e);
    if (s == NB_OK && wire_bytes)
        nb_envelope_json(e, wire_bytes);
    nb_payload_destroy(p);
    nb_envelope_destroy(e);
    return s;
}

static nb_status connect_client(nb_client **out, const char *url, bool unlimited)
{
    nb_options *o = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_url(o, url);
    if (s == NB_OK)
        s = nb_options_set_size_threshold(o, 16 * 1024 * 1024); /* direct: this measures NATS */
    if (s == NB_OK && unlimited)
        s = nb_options_set_pending_limits(o, -1, -1);
    if (s == NB_OK)
        s = nb_client_connect(out, o);
    nb_options_destroy(o);
    return s;
}

/*
 * One repetition through natsbridge; returns envelopes/s end to end, or -1.
 * *send_rate gets the publisher's own rate (until its flush returned).
 */
static double run_nb(const conns *cn, const bench_case *bc, const uint8_t *data, int rep,
                     size_t *wire_bytes, double *send_rate)
{
    char subject[64];
    snprintf(subject, sizeof subject, "bench.nb.%zu.%d", bc->size, rep);
    nb_client *pub = cn->nb_pub, *subc = cn->nb_sub;
    nb_subscription *sub = NULL;
    counter c;
    counter_init(&c, bc->count, bc->size);
    double rate = -1;
    nb_status s = nb_client_subscribe(subc, &sub, subject, NULL, on_envelope, on_error, &c);
    if (s == NB_OK)
        s = nb_client_flush(subc, 5000);
    double t0 = bench_now_s();
    for (long i = 0; s == NB_OK && i < bc->count; i++) {
        s = send_one(pub, subject, bc, data, i == 0 ? wire_bytes : NULL);
        window_wait(&c, i + 1, *wire_bytes);
    }
    if (s == NB_OK)
        s = nb_client_flush(pub, 30000);
    *send_rate = s == NB_OK ? bc->count / (bench_now_s() - t0) : -1;
    if (s != NB_OK)
        fprintf(stderr, "natsbridge: %s: %s\n", nb_status_text(s), nb_last_error());
    else if (!counter_wait(&c, bc->count, 120.0))
        fprintf(stderr, "natsbridge: only %ld of %ld arrived\n", atomic_load(&c.received), bc->count);
    else if (atomic_load(&c.bad) > 0)
        fprintf(stderr, "natsbridge: %ld envelopes were bad\n", atomic_load(&c.bad));
    else
        rate = bc->count / (bench_now_s() - t0);
    nb_subscription_destroy(sub);
    counter_free(&c);
    return rate;
}

/* ------------------------------------------------------------------------ */
/* raw nats.c                                                               */
/* ------------------------------------------------------------------------ */

static void on_raw(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    natsMsg_Destroy(msg);
    counter_add(closure);
}

/* One repetition publishing json (the wire text of one envelope); returns msgs/s, or -1. */
static double run_raw(const conns *cn, const bench_case *bc, const char *json, size_t len,
                      int rep)
{
    char subject[64];
    snprintf(subject, sizeof subject, "bench.raw.%zu.%d", bc->size, rep);
    natsConnection *pub = cn->raw_pub, *subc = cn->raw_sub;
    natsSubscription *sub = NULL;
    counter c;
    counter_init(&c, bc->count, 0);
    double rate = -1;
    natsStatus s = natsConnection_Subscribe(&sub, subc, subject, on_raw, &c);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_Flush(subc);
    double t0 = bench_now_s();
    for (long i = 0; s == NATS_OK && i < bc->count; i++) {
        s = natsConnection_Publish(pub, subject, json, (int)len);
        window_wait(&c, i + 1, len);
    }
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(pub, 30000);
    if (s != NATS_OK)
        fprintf(stderr, "raw nats.c: %s\n", nats_GetLastError(NULL));
    else if (!counter_wait(&c, bc->count, 120.0))
        fprintf(stderr, "raw nats.c: only %ld of %ld arrived\n", atomic_load(&c.received), bc->count);
    else
        rate = bc->count / (bench_now_s() - t0);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    counter_free(&c);
    return rate;
}

/* The wire text of one envelope of the case, for the raw variant. */
static char *envelope_text(const bench_case *bc, const uint8_t *data, size_t *len)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    nb_options *o = NULL;
    char *copy = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_size_threshold(o, 16 * 1024 * 1024);
    if (s == NB_OK)
        s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_payload_create(&p, "data", bc->type, data, bc->size);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s == NB_OK)
        s = nb_envelope_build(e, "bench.raw", o);
    const char *json = s == NB_OK ? nb_envelope_json(e, len) : NULL;
    if (json && (copy = malloc(*len + 1)))
        memcpy(copy, json, *len + 1);
    if (s != NB_OK)
        fprintf(stderr, "envelope_text: %s\n", nb_last_error());
    nb_payload_destroy(p);
    nb_envelope_destroy(e);
    nb_options_destroy(o);
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Statistics and output                                                    */
/* ------------------------------------------------------------------------ */

typedef struct stats {
    double median, min, max;
    bool ok;
} stats;

static stats summarize(double *v, int n)
{
    stats st = {0, 0, 0, true};
    for (int i = 0; i < n; i++)
        if (v[i] < 0)
            st.ok = false;
    st.median = bench_median(v, n); /* sorts v */
    st.min = v[0];
    st.max = v[n - 1];
    return st;
}

static void fill(uint8_t *data, const bench_case *bc)
{
    /* Text must be UTF-8: printable ASCII. Binary: every byte value. */
    for (size_t i = 0; i < bc->size; i++)
        data[i] = bc->type == NB_TYPE_TEXT ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 131 + 7);
}

static void print_row(const bench_case *bc, size_t wire, stats nb, stats send, stats raw)
{
    char range_nb[48], range_raw[48];
    snprintf(range_nb, sizeof range_nb, "%.0f-%.0f", nb.min, nb.max);
    snprintf(range_raw, sizeof range_raw, "%.0f-%.0f", raw.min, raw.max);
    printf("%-16s %9ld %9zu | %10.0f %-17s %8.1f %10.0f | %10.0f %-17s %8.1f | %5.2f\n",
           bc->label, bc->count, wire, nb.median, range_nb, nb.median * bc->size / 1e6,
           send.median, raw.median, range_raw, raw.median * bc->size / 1e6,
           raw.median > 0 ? nb.median / raw.median : 0);
}

static bool run_case(const conns *cn, const bench_case *bc, int reps)
{
    uint8_t *data = malloc(bc->size ? bc->size : 1);
    size_t raw_len = 0, wire = 0;
    char *json = NULL;
    double nb[MAX_REPS], send[MAX_REPS], raw[MAX_REPS];
    bool ok = false;
    if (!data)
        return false;
    fill(data, bc);
    json = envelope_text(bc, data, &raw_len);
    if (json) {
        /* Alternate the two so that drift (page cache, CPU clocks) hits both alike. */
        for (int r = 0; r < reps; r++) {
            nb[r] = run_nb(cn, bc, data, r, &wire, &send[r]);
            raw[r] = run_raw(cn, bc, json, raw_len, r);
        }
        stats snb = summarize(nb, reps), ssend = summarize(send, reps);
        stats sraw = summarize(raw, reps);
        print_row(bc, wire, snb, ssend, sraw);
        fflush(stdout);
        ok = snb.ok && sraw.ok;
    }
    free(json);
    free(data);
    return ok;
}

static bool conns_open(conns *cn, const char *url)
{
    memset(cn, 0, sizeof *cn);
    nb_status s = connect_client(&cn->nb_pub, url, false);
    if (s == NB_OK)
        s = connect_client(&cn->nb_sub, url, true);
    if (s != NB_OK) {
        fprintf(stderr, "natsbridge connect: %s: %s\n", nb_status_text(s), nb_last_error());
        return false;
    }
    if (natsConnection_ConnectTo(&cn->raw_pub, url) != NATS_OK ||
        natsConnection_ConnectTo(&cn->raw_sub, url) != NATS_OK) {
        fprintf(stderr, "nats.c connect: %s\n", nats_GetLastError(NULL));
        return false;
    }
    return true;
}

static void conns_close(conns *cn)
{
    nb_client_destroy(cn->nb_sub);
    nb_client_destroy(cn->nb_pub);
    natsConnection_Destroy(cn->raw_sub);
    natsConnection_Destroy(cn->raw_pub);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_throughput [--url nats://host:port] [--reps N (1-%d)] "
                    "[--small COUNT] [--large COUNT]\n", MAX_REPS);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* rows appear as they are measured */
    const char *url = NULL;
    int reps = 5;
    bench_case cases[] = {
        {"100 B text", NB_TYPE_TEXT, 100, 200000},
        {"512 KiB binary", NB_TYPE_BINARY, 512 * 1024, 2048},
    };
    for (int i = 1; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            usage();
            return 1;
        }
        if (strcmp(argv[i], "--url") == 0)
            url = val;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(val);
        else if (strcmp(argv[i], "--small") == 0)
            cases[0].count = atol(val);
        else if (strcmp(argv[i], "--large") == 0)
            cases[1].count = atol(val);
        else {
            usage();
            return 1;
        }
    }
    if (reps < 1 || reps > MAX_REPS || cases[0].count < 1 || cases[1].count < 1) {
        usage();
        return 1;
    }

    nbt_server srv;
    bool own = url == NULL;
    if (own) {
        if (nbt_server_start(&srv, false, 8L * 1024 * 1024) != 0)
            return 1;
        url = srv.url;
    }
    double t0 = bench_now_s();
    printf("bench_throughput: natsbridge %s, nats.c %s, server %s%s, %d repetitions\n",
           nb_version_string(), nats_GetVersion(), url, own ? " (started here)" : "", reps);
    printf("end to end: first send until the subscriber has decoded the last message;"
           " median [min-max]; MB/s = payload bytes (10^6)\n\n");
    printf("%-16s %9s %9s | %10s %-17s %8s %10s | %10s %-17s %8s | %5s\n", "payload",
           "msgs/rep", "wire B", "nb env/s", "[min-max]", "nb MB/s", "nb send/s", "raw msg/s",
           "[min-max]", "raw MB/s", "ratio");
    conns cn;
    bool ok = conns_open(&cn, url);
    bool connected = ok;
    for (size_t i = 0; connected && i < sizeof cases / sizeof cases[0]; i++)
        ok = run_case(&cn, &cases[i], reps) && ok;
    conns_close(&cn);
    printf("\nnb send/s = the publisher alone (until its flush returned); ratio = nb env/s /"
           " raw msg/s, raw nats.c publishing the same envelope text; total %.1f s\n",
           bench_now_s() - t0);
    if (own)
        nbt_server_stop(&srv);
    return ok ? 0 : 1;
}
