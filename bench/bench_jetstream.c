/* SPDX-License-Identifier: MIT */
/*
 * bench_jetstream.c - JetStream publish and pull-consume rates, natsbridge
 * next to raw nats.c on the same bytes in the same run.
 *
 * Messages are envelopes with one 100-byte text payload (~560 bytes of
 * JSON). Every message carries a unique Nats-Msg-Id on both sides, so the
 * server does the same dedupe work. File storage, one stream per phase.
 *  - sync publish: nb_client_js_publish (builds each envelope, waits for the
 *    ack) vs js_Publish of the pre-built JSON text.
 *  - async publish: nb_js_publisher_send + wait, 256 in flight, vs
 *    js_PublishAsync (MaxPending 256) + js_PublishAsyncComplete.
 *  - pull consume: nb_js_consumer (batch 256; decode, callback, ack) vs
 *    js_PullSubscribe + natsSubscription_Fetch(256) + natsMsg_Ack.
 * Each phase runs --reps times (default 3; natsbridge and raw take turns
 * going first); the median is printed.
 *
 * Usage: bench_jetstream [--url nats://...] [--sync N] [--async N] [--pull N] [--reps N]
 * Without --url it starts its own nats-server with JetStream.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
#include <natsbridge.h>

#include "server.h"
#include "bench_util.h"

#define MAX_REPS 9
#define IN_FLIGHT 256
#define BATCH 256

static const char *url;
static int n_sync = 5000, n_async = 50000, n_pull = 50000, reps = 3;
static char text100[101];
static int stream_no;

static void die(const char *what)
{
    fprintf(stderr, "bench_jetstream: %s: %s\n", what, nb_last_error());
    exit(1);
}

static nb_envelope *envelope(void)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    if (nb_envelope_create(&e) || nb_payload_create_text(&p, "msg", text100) ||
        nb_envelope_add_payload(e, &p))
        die("envelope");
    return e;
}

/* A fresh stream (and its subject) for one phase of one repetition. */
static void new_stream(nb_client *c, char *name, char *subject)
{
    sprintf(name, "BENCH%d", ++stream_no);
    sprintf(subject, "bench.%d", stream_no);
    const char *subjects[] = {subject};
    nb_js_stream_config cfg = {name, subjects, 1, NB_JS_FILE, 0, 0, 0};
    if (nb_js_stream_ensure(c, &cfg, NULL))
        die("stream");
}

/* The JSON text of one built envelope: what the raw rows publish. */
static char *sample_json(const char *subject, size_t *len)
{
    nb_envelope *e = envelope();
    if (nb_envelope_build(e, subject, NULL))
        die("build");
    const char *json = nb_envelope_json(e, len);
    char *copy = malloc(*len);
    memcpy(copy, json, *len);
    nb_envelope_destroy(e);
    return copy;
}

/* ---- sync ---------------------------------------------------------------- */

static double nb_sync(nb_client *c)
{
    char name[32], subject[32];
    new_stream(c, name, subject);
    double t0 = bench_now_s();
    for (int i = 0; i < n_sync; i++) {
        nb_envelope *e = envelope();
        if (nb_client_js_publish(c, subject, e, NULL, NULL))
            die("js publish");
        nb_envelope_destroy(e);
    }
    double rate = n_sync / (bench_now_s() - t0);
    nb_js_stream_delete(c, name);
    return rate;
}

/* What a raw publish row sends: a fresh stream, one envelope's JSON text, a Nats-Msg-Id each. */
typedef struct raw_run {
    char name[32], subject[32];
    char id[32]; /* po.MsgId points here: set it with raw_id before each publish */
    char *json;
    size_t len;
    jsPubOptions po;
} raw_run;

static void raw_begin(nb_client *c, raw_run *r)
{
    new_stream(c, r->name, r->subject);
    r->json = sample_json(r->subject, &r->len);
    jsPubOptions_Init(&r->po);
    r->po.MsgId = r->id;
}

static void raw_id(raw_run *r, int i) { snprintf(r->id, sizeof r->id, "raw-%d", i); }

static void raw_end(nb_client *c, raw_run *r)
{
    free(r->json);
    nb_js_stream_delete(c, r->name);
}

static double raw_sync(nb_client *c, jsCtx *js)
{
    raw_run r;
    raw_begin(c, &r);
    double t0 = bench_now_s();
    for (int i = 0; i < n_sync; i++) {
        raw_id(&r, i);
        if (js_Publish(NULL, js, r.subject, r.json, (int)r.len, &r.po, NULL) != NATS_OK)
            die("raw js_Publish");
    }
    double rate = n_sync / (bench_now_s() - t0);
    raw_end(c, &r);
    return rate;
}

/* ---- async --------------------------------------------------------------- */

static void on_ack(nb_js_publisher *p, const char *msg_id, const char *subject, nb_status s,
                   const char *error, const nb_js_ack *ack, void *closure)
{
    (void)p, (void)msg_id, (void)subject, (void)ack, (void)closure;
    if (s != NB_OK)
        fprintf(stderr, "bench_jetstream: async ack: %s\n", error);
}

static nb_js_publisher *new_publisher(nb_client *c)
{
    nb_js_publisher *p = NULL;
    if (nb_js_publisher_create(&p, c, IN_FLIGHT, 10000, on_ack, NULL))
        die("publisher");
    return p;
}

/* Sends n envelopes through p and waits for every ack. */
static void send_all(nb_js_publisher *p, const char *subject, int n)
{
    for (int i = 0; i < n; i++) {
        nb_envelope *e = envelope();
        if (nb_js_publisher_send(p, subject, e))
            die("publisher send");
        nb_envelope_destroy(e);
    }
    if (nb_js_publisher_wait(p, 60000))
        die("publisher wait");
}

static double nb_async(nb_client *c)
{
    char name[32], subject[32];
    new_stream(c, name, subject);
    nb_js_publisher *p = new_publisher(c);
    double t0 = bench_now_s();
    send_all(p, subject, n_async);
    double rate = n_async / (bench_now_s() - t0);
    nb_js_publisher_destroy(p);
    nb_js_stream_delete(c, name);
    return rate;
}

static double raw_async(nb_client *c, natsConnection *nc)
{
    raw_run r;
    raw_begin(c, &r);
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = IN_FLIGHT;
    jsCtx *js = NULL;
    if (natsConnection_JetStream(&js, nc, &o) != NATS_OK)
        die("raw context");
    double t0 = bench_now_s();
    for (int i = 0; i < n_async; i++) {
        raw_id(&r, i);
        if (js_PublishAsync(js, r.subject, r.json, (int)r.len, &r.po) != NATS_OK)
            die("raw js_PublishAsync");
    }
    jsPubOptions done;
    jsPubOptions_Init(&done);
    done.MaxWait = 60000;
    if (js_PublishAsyncComplete(js, &done) != NATS_OK)
        die("raw js_PublishAsyncComplete");
    double rate = n_async / (bench_now_s() - t0);
    jsCtx_Destroy(js);
    raw_end(c, &r);
    return rate;
}

/* ---- pull ---------------------------------------------------------------- */

/* Fills a fresh stream with n_pull envelopes (async, not timed). */
static void fill(nb_client *c, char *name, char *subject)
{
    new_stream(c, name, subject);
    nb_js_publisher *p = new_publisher(c);
    send_all(p, subject, n_pull);
    nb_js_publisher_destroy(p);
}

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
} counter;

static nb_js_action on_envelope(nb_js_consumer *k, nb_envelope *env, const nb_js_delivery *d,
                                void *closure)
{
    (void)k, (void)d;
    counter *c = closure;
    nb_envelope_destroy(env);
    pthread_mutex_lock(&c->mu);
    if (++c->n >= n_pull)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NB_JS_ACK;
}

static double nb_pull(nb_client *c)
{
    char name[32], subject[32];
    fill(c, name, subject);
    counter cnt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    nb_js_consumer_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stream = name;
    cfg.subject = subject;
    cfg.durable = "bench";
    cfg.batch = BATCH;
    nb_js_consumer *k = NULL;
    double t0 = bench_now_s();
    if (nb_js_consumer_create(&k, c, &cfg, on_envelope, NULL, &cnt))
        die("consumer");
    pthread_mutex_lock(&cnt.mu);
    while (cnt.n < n_pull)
        pthread_cond_wait(&cnt.cv, &cnt.mu);
    pthread_mutex_unlock(&cnt.mu);
    double rate = n_pull / (bench_now_s() - t0);
    nb_js_consumer_destroy(k);
    nb_js_stream_delete(c, name);
    return rate;
}

static double raw_pull(nb_client *c, jsCtx *js)
{
    char name[32], subject[32];
    fill(c, name, subject);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = name;
    natsSubscription *sub = NULL;
    double t0 = bench_now_s();
    if (js_PullSubscribe(&sub, js, subject, "rawbench", NULL, &so, NULL) != NATS_OK)
        die("raw js_PullSubscribe");
    for (int got = 0; got < n_pull;) {
        natsMsgList list = {NULL, 0};
        natsStatus s = natsSubscription_Fetch(&list, sub, BATCH, 5000, NULL);
        if (s != NATS_OK && s != NATS_TIMEOUT)
            die("raw Fetch");
        for (int i = 0; i < list.Count; i++)
            natsMsg_Ack(list.Msgs[i], NULL);
        got += list.Count;
        natsMsgList_Destroy(&list);
    }
    double rate = n_pull / (bench_now_s() - t0);
    natsSubscription_Destroy(sub);
    nb_js_stream_delete(c, name);
    return rate;
}

/* ---- main ---------------------------------------------------------------- */

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--sync") == 0)
            n_sync = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--async") == 0)
            n_async = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--pull") == 0)
            n_pull = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    }
    if (n_sync < 1 || n_async < 1 || n_pull < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_jetstream [--url URL] [--sync N] [--async N] [--pull N] "
                        "[--reps 1..%d]\n", MAX_REPS);
        exit(1);
    }
}

static void row(const char *what, int n, double *nb, double *raw)
{
    double a = bench_median(nb, reps), b = bench_median(raw, reps);
    printf("%-22s %8d %14.0f %14.0f %8.2f\n", what, n, a, b, a / b);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    memset(text100, 'x', 100);
    nbt_server srv;
    if (!url) {
        if (nbt_server_start(&srv, true, 0) != 0)
            return 1;
        url = srv.url;
    }
    nb_options *o = NULL;
    nb_client *c = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    if (nb_options_create(&o) || nb_options_set_url(o, url) || nb_client_connect(&c, o))
        die("connect");
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK ||
        natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
        die("raw connect");
    double r[6][MAX_REPS];
    /* Which side goes first alternates, so that neither always gets a warmer server. */
    for (int i = 0; i < reps; i++) {
        bool nb_first = i % 2 == 0;
        for (int side = 0; side < 2; side++) {
            if ((side == 0) == nb_first) {
                r[0][i] = nb_sync(c);
                r[2][i] = nb_async(c);
                r[4][i] = nb_pull(c);
            } else {
                r[1][i] = raw_sync(c, js);
                r[3][i] = raw_async(c, nc);
                r[5][i] = raw_pull(c, js);
            }
        }
    }
    printf("JetStream, file storage, 100-byte text payload envelopes, median of %d runs\n", reps);
    printf("%-22s %8s %14s %14s %8s\n", "phase", "msgs", "natsbridge/s", "raw nats.c/s",
           "ratio");
    row("sync publish", n_sync, r[0], r[1]);
    row("async publish (256)", n_async, r[2], r[3]);
    row("pull consume (256)", n_pull, r[4], r[5]);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nb_client_destroy(c);
    nb_options_destroy(o);
    if (url == srv.url)
        nbt_server_stop(&srv);
    return 0;
}
