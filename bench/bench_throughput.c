/* SPDX-License-Identifier: MIT */
/*
 * bench_throughput.c - envelopes per second end to end on loopback, next to
 * raw nats.c moving the same wire bytes (issue 16, scenarios S1-S5, a size
 * sweep and fan-out).
 *
 * Method (docs reference nats-c.md §3a): a publisher connection and one
 * subscriber connection per subscriber, all in one process. The timer runs
 * from the first send until every subscriber has received, and fully decoded
 * (smartreceive), the last envelope. natsbridge builds a fresh envelope per
 * send (ids, base64, JSON) and its subscribers get decoded envelopes, whose
 * payload sizes are checked; raw nats.c publishes the JSON text of one such
 * envelope with natsConnection_Publish and its subscribers only count. All
 * subscribers have unlimited pending limits. So that a lagging subscriber
 * cannot pile up gigabytes, the publisher waits while more than 256 MiB of
 * envelopes are in flight (both variants). Each figure is the median of the
 * repetitions, with min-max; the two variants alternate so that drift hits
 * both alike.
 *
 * Scenarios: S1 100 B text, S2 1 KiB dictionary, S3 64 KiB binary, S4 512 KiB
 * binary, S5 one envelope of 100 B text + 1 KiB dictionary + 16 KiB image.
 * --sweep: binary payloads of 100 B to 4 MiB. --fanout N: N subscribers.
 * After each row a machine-readable line:
 *   bench name=S1 nb=98511 yardstick=525863 unit=env/s ratio=0.19 target=0.75
 *
 * Usage: bench_throughput [--url nats://...] [--reps N] [--scenario S1,S2,..|all]
 *        [--count N] [--sweep] [--fanout N] [--small N] [--large N]
 * --small and --large (older spelling) set the counts of S1 and S4 and, without
 * --scenario, run just those two. Without --url it starts its own nats-server
 * (max_payload 8 MB).
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
#define MAX_FANOUT 16
#define MAX_PARTS 3
#define WAIT_S 120.0 /* the longest wait for the last envelope of one repetition */

/* The connections, opened once and reused by every repetition. */
typedef struct conns {
    nb_client *nb_pub, *nb_sub[MAX_FANOUT];
    natsConnection *raw_pub, *raw_sub[MAX_FANOUT];
    int n_sub;
} conns;

/* One payload of an envelope: its type and size in bytes. */
typedef struct part_spec {
    const char *dataname;
    nb_type type;
    size_t size;
} part_spec;

typedef struct bench_case {
    const char *name;  /* machine-readable: S1, sweep-65536, ... */
    const char *label; /* the row's label */
    part_spec parts[MAX_PARTS];
    size_t n_parts;
    long count;
    double target; /* the target ratio; 0: none */
} bench_case;

/* The payload bytes of a case, made once. */
typedef struct case_data {
    uint8_t *bytes[MAX_PARTS];
    size_t len[MAX_PARTS]; /* the exact sizes (a dictionary's JSON is not a round number) */
} case_data;

/* What the subscribers count, shared with the publisher loop. */
typedef struct counter {
    atomic_long received; /* deliveries, summed over the subscribers */
    atomic_long bad;      /* envelopes that did not decode as expected */
    long target;
    int fanout;
    const case_data *expect; /* NULL: only count (raw) */
    size_t n_parts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} counter;

static void counter_init(counter *c, long count, int fanout, const case_data *expect,
                         size_t n_parts)
{
    atomic_init(&c->received, 0);
    atomic_init(&c->bad, 0);
    c->target = count * fanout;
    c->fanout = fanout;
    c->expect = expect;
    c->n_parts = n_parts;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void counter_free(counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Counts one delivery; wakes the waiter on the last one and now and then for the window. */
static void counter_add(counter *c)
{
    long n = atomic_fetch_add(&c->received, 1) + 1;
    if (n == c->target || (n & 63) == 0) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Waits until deliveries >= n or timeout_s passes; returns whether it got there. */
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

/* The publisher keeps at most WINDOW_BYTES of envelopes in flight to its slowest subscriber. */
static void window_wait(counter *c, long sent, size_t wire_bytes)
{
    long window = (long)(WINDOW_BYTES / (double)(wire_bytes ? wire_bytes : 1));
    if (window < 16)
        window = 16;
    /* Deliveries are summed: sent * fanout of them means every subscriber has all. */
    if ((sent - window) * c->fanout > atomic_load(&c->received))
        counter_wait(c, (sent - window) * c->fanout, 60.0);
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * A JSON object of about size bytes shaped like a configuration (strings,
 * numbers, nesting): the same shape as bench_codec's 1 KiB dictionary.
 */
static uint8_t *make_dict(size_t size, size_t *len)
{
    size_t cap = size + 128, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    n += (size_t)snprintf(s + n, cap - n, "{\"service\":\"inventory\",\"items\":[");
    for (int i = 0; n + 64 < size; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s{\"id\":%d,\"name\":\"item-%d\",\"price\":%d.25}",
                              i ? "," : "", i, i, i * 3);
    n += (size_t)snprintf(s + n, cap - n, "],\"ok\":true}");
    *len = n;
    return (uint8_t *)s;
}

/* Text must be UTF-8 (printable ASCII); bytes take every value. */
static uint8_t *make_part(const part_spec *ps, size_t *len)
{
    if (ps->type == NB_TYPE_DICTIONARY)
        return make_dict(ps->size, len);
    uint8_t *data = malloc(ps->size ? ps->size : 1);
    if (!data)
        return NULL;
    for (size_t i = 0; i < ps->size; i++)
        data[i] = ps->type == NB_TYPE_TEXT ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 131 + 7);
    *len = ps->size;
    return data;
}

static void case_data_free(case_data *d)
{
    for (size_t i = 0; i < MAX_PARTS; i++)
        free(d->bytes[i]);
}

static bool case_data_make(case_data *d, const bench_case *bc)
{
    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < bc->n_parts; i++)
        if (!(d->bytes[i] = make_part(&bc->parts[i], &d->len[i]))) {
            fprintf(stderr, "%s: no memory for %zu bytes\n", bc->name, bc->parts[i].size);
            case_data_free(d);
            return false;
        }
    return true;
}

/* An envelope with the case's payloads (each a fresh copy, as a sender makes them). */
static nb_status make_envelope(nb_envelope **out, const bench_case *bc, const case_data *d)
{
    nb_status s = nb_envelope_create(out);
    for (size_t i = 0; s == NB_OK && i < bc->n_parts; i++) {
        nb_payload *p = NULL;
        s = nb_payload_create(&p, bc->parts[i].dataname, bc->parts[i].type, d->bytes[i], d->len[i]);
        if (s == NB_OK)
            s = nb_envelope_add_payload(*out, &p);
        nb_payload_destroy(p);
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* natsbridge                                                               */
/* ------------------------------------------------------------------------ */

/* Whether env holds the payloads the case sent, with their sizes. */
static bool envelope_as_sent(const nb_envelope *env, const counter *c)
{
    if (nb_envelope_payload_count(env) != c->n_parts)
        return false;
    for (size_t i = 0; i < c->n_parts; i++) {
        size_t len = 0;
        const nb_payload *p = nb_envelope_payload(env, i);
        if (!p || !nb_payload_data(p, &len) || len != c->expect->len[i])
            return false;
    }
    return true;
}

static void on_envelope(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    counter *c = closure;
    if (!envelope_as_sent(env, c))
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

/* One envelope of the case, sent on subject; *wire_bytes (if given) gets its size. */
static nb_status send_one(nb_client *c, const char *subject, const bench_case *bc,
                          const case_data *d, size_t *wire_bytes)
{
    nb_envelope *e = NULL;
    nb_status s = make_envelope(&e, bc, d);
    if (s == NB_OK)
        s = nb_client_send(c, subject, e);
    if (s == NB_OK && wire_bytes)
        nb_envelope_json(e, wire_bytes);
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
 * One repetition through natsbridge to fanout subscribers; returns envelopes
 * sent per second end to end, or -1. *send_rate gets the publisher's own rate
 * (until its flush returned).
 */
static double run_nb(const conns *cn, const bench_case *bc, const case_data *d, int fanout,
                     int rep, size_t *wire_bytes, double *send_rate)
{
    char subject[96];
    snprintf(subject, sizeof subject, "bench.nb.%s.%d.%d", bc->name, fanout, rep);
    nb_subscription *subs[MAX_FANOUT] = {0};
    counter c;
    counter_init(&c, bc->count, fanout, d, bc->n_parts);
    double rate = -1;
    nb_status s = NB_OK;
    for (int i = 0; s == NB_OK && i < fanout; i++) {
        s = nb_client_subscribe(cn->nb_sub[i], &subs[i], subject, NULL, on_envelope, on_error, &c);
        if (s == NB_OK)
            s = nb_client_flush(cn->nb_sub[i], 5000);
    }
    double t0 = bench_now_s();
    for (long i = 0; s == NB_OK && i < bc->count; i++) {
        s = send_one(cn->nb_pub, subject, bc, d, i == 0 ? wire_bytes : NULL);
        window_wait(&c, i + 1, *wire_bytes);
    }
    if (s == NB_OK)
        s = nb_client_flush(cn->nb_pub, 30000);
    *send_rate = s == NB_OK ? bc->count / (bench_now_s() - t0) : -1;
    if (s != NB_OK)
        fprintf(stderr, "natsbridge %s: %s: %s\n", bc->name, nb_status_text(s), nb_last_error());
    else if (!counter_wait(&c, c.target, WAIT_S))
        fprintf(stderr, "natsbridge %s: only %ld of %ld deliveries arrived\n", bc->name,
                atomic_load(&c.received), c.target);
    else if (atomic_load(&c.bad) > 0)
        fprintf(stderr, "natsbridge %s: %ld envelopes were bad\n", bc->name, atomic_load(&c.bad));
    else
        rate = bc->count / (bench_now_s() - t0);
    for (int i = 0; i < fanout; i++)
        nb_subscription_destroy(subs[i]);
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
static double run_raw(const conns *cn, const bench_case *bc, int fanout, const char *json,
                      size_t len, int rep)
{
    char subject[96];
    snprintf(subject, sizeof subject, "bench.raw.%s.%d.%d", bc->name, fanout, rep);
    natsSubscription *subs[MAX_FANOUT] = {0};
    counter c;
    counter_init(&c, bc->count, fanout, NULL, 0);
    double rate = -1;
    natsStatus s = NATS_OK;
    for (int i = 0; s == NATS_OK && i < fanout; i++) {
        s = natsConnection_Subscribe(&subs[i], cn->raw_sub[i], subject, on_raw, &c);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(subs[i], -1, -1);
        if (s == NATS_OK)
            s = natsConnection_Flush(cn->raw_sub[i]);
    }
    double t0 = bench_now_s();
    for (long i = 0; s == NATS_OK && i < bc->count; i++) {
        s = natsConnection_Publish(cn->raw_pub, subject, json, (int)len);
        window_wait(&c, i + 1, len);
    }
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(cn->raw_pub, 30000);
    if (s != NATS_OK)
        fprintf(stderr, "raw nats.c %s: %s\n", bc->name, nats_GetLastError(NULL));
    else if (!counter_wait(&c, c.target, WAIT_S))
        fprintf(stderr, "raw nats.c %s: only %ld of %ld deliveries arrived\n", bc->name,
                atomic_load(&c.received), c.target);
    else
        rate = bc->count / (bench_now_s() - t0);
    for (int i = 0; i < fanout; i++) {
        if (subs[i])
            natsSubscription_Unsubscribe(subs[i]);
        natsSubscription_Destroy(subs[i]);
    }
    counter_free(&c);
    return rate;
}

/* The wire text of one envelope of the case, for the raw variant (malloc'd). */
static char *envelope_text(const bench_case *bc, const case_data *d, size_t *len)
{
    nb_envelope *e = NULL;
    nb_options *o = NULL;
    char *copy = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_size_threshold(o, 16 * 1024 * 1024);
    if (s == NB_OK)
        s = make_envelope(&e, bc, d);
    if (s == NB_OK)
        s = nb_envelope_build(e, "bench.raw", o);
    const char *json = s == NB_OK ? nb_envelope_json(e, len) : NULL;
    if (json && (copy = malloc(*len + 1)))
        memcpy(copy, json, *len + 1);
    if (s != NB_OK)
        fprintf(stderr, "envelope_text %s: %s\n", bc->name, nb_last_error());
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

static size_t payload_bytes(const case_data *d, size_t n_parts)
{
    size_t n = 0;
    for (size_t i = 0; i < n_parts; i++)
        n += d->len[i];
    return n;
}

static void print_row(const bench_case *bc, int fanout, const case_data *d, size_t wire,
                      stats nb, stats send, stats raw)
{
    char label[48], range_nb[48], range_raw[48];
    size_t bytes = payload_bytes(d, bc->n_parts);
    double ratio = raw.median > 0 ? nb.median / raw.median : 0;
    if (fanout > 1)
        snprintf(label, sizeof label, "%s x%d", bc->label, fanout);
    else
        snprintf(label, sizeof label, "%s", bc->label);
    snprintf(range_nb, sizeof range_nb, "%.0f-%.0f", nb.min, nb.max);
    snprintf(range_raw, sizeof range_raw, "%.0f-%.0f", raw.min, raw.max);
    printf("%-20s %9ld %9zu | %10.0f %-17s %8.1f %10.0f | %10.0f %-17s %8.1f | %5.2f\n", label,
           bc->count, wire, nb.median, range_nb, nb.median * (double)bytes / 1e6, send.median,
           raw.median, range_raw, raw.median * (double)bytes / 1e6, ratio);
    char name[64], target[16] = "-";
    if (fanout > 1)
        snprintf(name, sizeof name, "%s-fanout%d", bc->name, fanout);
    else
        snprintf(name, sizeof name, "%s", bc->name);
    if (bc->target > 0 && fanout == 1)
        snprintf(target, sizeof target, "%.2f", bc->target);
    printf("bench name=%s nb=%.0f yardstick=%.0f unit=env/s ratio=%.2f target=%s "
           "wire_bytes=%zu payload_bytes=%zu subscribers=%d ok=%s\n",
           name, nb.median, raw.median, ratio, target, wire, bytes, fanout,
           nb.ok && raw.ok ? "yes" : "no");
}

static bool run_case(const conns *cn, const bench_case *bc, int fanout, int reps)
{
    case_data d;
    size_t raw_len = 0, wire = 0;
    double nb[MAX_REPS], send[MAX_REPS], raw[MAX_REPS];
    bool ok = false;
    if (!case_data_make(&d, bc))
        return false;
    char *json = envelope_text(bc, &d, &raw_len);
    if (json) {
        /* Alternate the two so that drift (page cache, CPU clocks) hits both alike. */
        for (int r = 0; r < reps; r++) {
            nb[r] = run_nb(cn, bc, &d, fanout, r, &wire, &send[r]);
            raw[r] = run_raw(cn, bc, fanout, json, raw_len, r);
        }
        stats snb = summarize(nb, reps), ssend = summarize(send, reps);
        stats sraw = summarize(raw, reps);
        print_row(bc, fanout, &d, wire, snb, ssend, sraw);
        ok = snb.ok && sraw.ok;
    }
    free(json);
    case_data_free(&d);
    return ok;
}

static bool conns_open(conns *cn, const char *url, int n_sub)
{
    memset(cn, 0, sizeof *cn);
    nb_status s = connect_client(&cn->nb_pub, url, false);
    for (int i = 0; s == NB_OK && i < n_sub; i++)
        s = connect_client(&cn->nb_sub[i], url, true);
    if (s != NB_OK) {
        fprintf(stderr, "natsbridge connect: %s: %s\n", nb_status_text(s), nb_last_error());
        return false;
    }
    natsStatus ns = natsConnection_ConnectTo(&cn->raw_pub, url);
    for (int i = 0; ns == NATS_OK && i < n_sub; i++)
        ns = natsConnection_ConnectTo(&cn->raw_sub[i], url);
    if (ns != NATS_OK) {
        fprintf(stderr, "nats.c connect: %s\n", nats_GetLastError(NULL));
        return false;
    }
    cn->n_sub = n_sub;
    return true;
}

static void conns_close(conns *cn)
{
    for (int i = 0; i < MAX_FANOUT; i++) {
        nb_client_destroy(cn->nb_sub[i]);
        natsConnection_Destroy(cn->raw_sub[i]);
    }
    nb_client_destroy(cn->nb_pub);
    natsConnection_Destroy(cn->raw_pub);
}

/* ------------------------------------------------------------------------ */
/* Scenarios and command line                                               */
/* ------------------------------------------------------------------------ */

enum { N_SCENARIOS = 5, N_SWEEP = 8 };

/* S1-S5 of issue 16 with their target ratios. */
static bench_case scenarios[N_SCENARIOS] = {
    {"S1", "100 B text", {{"msg", NB_TYPE_TEXT, 100}}, 1, 100000, 0.75},
    {"S2", "1 KiB dictionary", {{"cfg", NB_TYPE_DICTIONARY, 1024}}, 1, 50000, 0.70},
    {"S3", "64 KiB binary", {{"blob", NB_TYPE_BINARY, 64 * 1024}}, 1, 8192, 0.85},
    {"S4", "512 KiB binary", {{"blob", NB_TYPE_BINARY, 512 * 1024}}, 1, 1024, 0.85},
    {"S5", "text+dict+16K img",
     {{"msg", NB_TYPE_TEXT, 100}, {"cfg", NB_TYPE_DICTIONARY, 1024},
      {"img", NB_TYPE_IMAGE, 16 * 1024}}, 3, 20000, 0.90},
};

/* The size sweep: binary payloads of 100 B to 4 MiB, about 64 MiB of payload per repetition. */
static void make_sweep(bench_case *sweep, char names[][32], char labels[][32])
{
    static const size_t sizes[N_SWEEP] = {100, 1024, 4096, 16384, 65536, 262144,
                                          1048576, 4194304};
    for (int i = 0; i < N_SWEEP; i++) {
        size_t sz = sizes[i];
        long count = (long)((64.0 * 1024 * 1024) / (double)sz);
        count = count > 50000 ? 50000 : count < 32 ? 32 : count;
        snprintf(names[i], 32, "sweep-%zu", sz);
        if (sz >= 1048576)
            snprintf(labels[i], 32, "%zu MiB binary", sz / 1048576);
        else if (sz >= 1024)
            snprintf(labels[i], 32, "%zu KiB binary", sz / 1024);
        else
            snprintf(labels[i], 32, "%zu B binary", sz);
        sweep[i] = (bench_case){names[i], labels[i], {{"blob", NB_TYPE_BINARY, sz}}, 1, count, 0};
    }
}

typedef struct config {
    const char *url;
    int reps, fanout;
    bool sweep, chosen[N_SCENARIOS], any_chosen, legacy;
    long count; /* 0: each case's own */
} config;

static void usage(void)
{
    fprintf(stderr, "usage: bench_throughput [--url nats://host:port] [--reps N (1-%d)]\n"
                    "       [--scenario S1,S2,S3,S4,S5|all] [--count N] [--sweep] [--fanout N (1-%d)]\n"
                    "       [--small COUNT] [--large COUNT]\n", MAX_REPS, MAX_FANOUT);
}

/* Marks the scenarios named in list ("S1,S3" or "all"); false on an unknown name. */
static bool choose(config *cfg, const char *list)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    cfg->any_chosen = true;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool all = strcmp(tok, "all") == 0, found = all;
        for (int i = 0; i < N_SCENARIOS; i++)
            if (all || strcmp(tok, scenarios[i].name) == 0) {
                cfg->chosen[i] = true;
                found = true;
            }
        if (!found) {
            fprintf(stderr, "bench_throughput: unknown scenario '%s'\n", tok);
            return false;
        }
    }
    return true;
}

static bool parse_args(config *cfg, int argc, char **argv)
{
    *cfg = (config){NULL, 5, 1, false, {false}, false, false, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sweep") == 0) {
            cfg->sweep = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val)
            return false;
        if (strcmp(argv[i - 1], "--url") == 0)
            cfg->url = val;
        else if (strcmp(argv[i - 1], "--reps") == 0)
            cfg->reps = atoi(val);
        else if (strcmp(argv[i - 1], "--fanout") == 0)
            cfg->fanout = atoi(val);
        else if (strcmp(argv[i - 1], "--count") == 0)
            cfg->count = atol(val);
        else if (strcmp(argv[i - 1], "--scenario") == 0) {
            if (!choose(cfg, val))
                return false;
        } else if (strcmp(argv[i - 1], "--small") == 0 || strcmp(argv[i - 1], "--large") == 0) {
            bench_case *bc = &scenarios[argv[i - 1][2] == 's' ? 0 : 3];
            bc->count = atol(val);
            if (bc->count < 1)
                return false;
            cfg->legacy = true;
        } else
            return false;
    }
    if (!cfg->any_chosen && !cfg->sweep) /* default: S1-S5, or S1 and S4 for --small/--large */
        for (int i = 0; i < N_SCENARIOS; i++)
            cfg->chosen[i] = !cfg->legacy || i == 0 || i == 3;
    return cfg->reps >= 1 && cfg->reps <= MAX_REPS && cfg->fanout >= 1 &&
           cfg->fanout <= MAX_FANOUT && cfg->count >= 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* rows appear as they are measured */
    config cfg;
    if (!parse_args(&cfg, argc, argv)) {
        usage();
        return 1;
    }
    bench_case sweep[N_SWEEP];
    char sweep_names[N_SWEEP][32], sweep_labels[N_SWEEP][32];
    make_sweep(sweep, sweep_names, sweep_labels);

    nbt_server srv;
    bool own = cfg.url == NULL;
    if (own) {
        if (nbt_server_start(&srv, false, 8L * 1024 * 1024) != 0)
            return 1;
        cfg.url = srv.url;
    }
    double t0 = bench_now_s();
    printf("bench_throughput: natsbridge %s, nats.c %s, server %s%s, %d repetitions, "
           "%d subscriber(s)\n", nb_version_string(), nats_GetVersion(), cfg.url,
           own ? " (started here)" : "", cfg.reps, cfg.fanout);
    printf("end to end: first send until every subscriber has decoded the last message;"
           " median [min-max]; MB/s = payload bytes (10^6) sent\n\n");
    printf("%-20s %9s %9s | %10s %-17s %8s %10s | %10s %-17s %8s | %5s\n", "payload",
           "msgs/rep", "wire B", "nb env/s", "[min-max]", "nb MB/s", "nb send/s", "raw msg/s",
           "[min-max]", "raw MB/s", "ratio");
    conns cn;
    bool ok = conns_open(&cn, cfg.url, cfg.fanout);
    bool connected = ok;
    for (int i = 0; connected && i < N_SCENARIOS; i++) {
        if (!cfg.chosen[i])
            continue;
        if (cfg.count)
            scenarios[i].count = cfg.count;
        ok = run_case(&cn, &scenarios[i], cfg.fanout, cfg.reps) && ok;
    }
    for (int i = 0; connected && cfg.sweep && i < N_SWEEP; i++) {
        if (cfg.count)
            sweep[i].count = cfg.count;
        ok = run_case(&cn, &sweep[i], cfg.fanout, cfg.reps) && ok;
    }
    conns_close(&cn);
    printf("\nnb send/s = the publisher alone (until its flush returned); ratio = nb env/s /"
           " raw msg/s, raw nats.c publishing the same envelope text; env/s counts envelopes"
           " sent (each reaches every subscriber); total %.1f s\n", bench_now_s() - t0);
    if (own)
        nbt_server_stop(&srv);
    return ok ? 0 : 1;
}
