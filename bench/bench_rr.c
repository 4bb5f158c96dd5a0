/* SPDX-License-Identifier: MIT */
/*
 * bench_rr.c - request/reply round trips per second and p50/p99 latency,
 * natsbridge next to raw nats.c.
 *
 * One requester connection and one responder connection in one process,
 * requests sent one after the other (one in flight), 100-byte text payload.
 *  - natsbridge: nb_client_request; the responder answers from its
 *    subscription callback with nb_client_reply.
 *  - raw nats.c: natsConnection_Request with the JSON text of the same
 *    envelope; the responder publishes the same bytes back on the reply
 *    subject with natsConnection_Publish.
 * Each runs with nats.c's default options and with SendAsap on both
 * connections. A plain Publish waits for nats.c's flusher thread (~1 ms,
 * docs reference nats-c.md §3c); the gap between the two raw rows shows it,
 * and natsbridge's rows show whether it pays that delay. The variants take
 * turns (CHUNK round trips each) so that a busy machine loads them alike;
 * the last line, "bench name=S6 ...", is natsbridge's default mode against
 * raw nats.c with SendAsap (issue 16, target 1.2).
 *
 * Usage: bench_rr [--url nats://...] [--count N] [--warmup N]
 * Without --url it starts its own nats-server.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
#include <natsbridge.h>

#include "server.h"
#include "bench_util.h"

typedef struct result {
    double per_s, p50_us, p99_us;
    bool ok;
} result;

/* Rate over the measured requests and their latency percentiles (lat in seconds, sorted here). */
static result summarize(double *lat, int n, double elapsed)
{
    result r = {n / elapsed, 0, 0, true};
    bench_sort(lat, n);
    r.p50_us = lat[n / 2] * 1e6;
    int i99 = (int)(n * 0.99);
    r.p99_us = lat[i99 < n ? i99 : n - 1] * 1e6;
    return r;
}

static char text100[101];

/* ------------------------------------------------------------------------ */
/* natsbridge                                                               */
/* ------------------------------------------------------------------------ */

static void on_request(nb_subscription *sub, nb_envelope *req, void *closure)
{
    (void)sub;
    nb_envelope *rep = NULL;
    nb_payload *p = NULL;
    nb_status s = nb_envelope_create(&rep);
    if (s == NB_OK)
        s = nb_payload_create_text(&p, "answer", text100);
    if (s == NB_OK)
        s = nb_envelope_add_payload(rep, &p);
    if (s == NB_OK)
        s = nb_client_reply(closure, req, rep);
    if (s != NB_OK)
        fprintf(stderr, "responder: %s: %s\n", nb_status_text(s), nb_last_error());
    nb_payload_destroy(p);
    nb_envelope_destroy(rep);
    nb_envelope_destroy(req);
}

static nb_status nb_connect(nb_client **out, const char *url, bool asap)
{
    nb_options *o = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_url(o, url);
    if (s == NB_OK)
        s = nb_options_set_send_asap(o, asap);
    if (s == NB_OK)
        s = nb_client_connect(out, o);
    nb_options_destroy(o);
    return s;
}

static nb_status nb_one(nb_client *c, const char *subject)
{
    nb_envelope *req = NULL, *rep = NULL;
    nb_payload *p = NULL;
    nb_status s = nb_envelope_create(&req);
    if (s == NB_OK)
        s = nb_payload_create_text(&p, "question", text100);
    if (s == NB_OK)
        s = nb_envelope_add_payload(req, &p);
    if (s == NB_OK)
        s = nb_client_request(c, subject, req, 5000, &rep);
    if (s == NB_OK && strcmp(nb_envelope_reply_to_msg_id(rep), nb_envelope_msg_id(req)) != 0)
        s = NB_INTERNAL; /* a reply to another request: the benchmark would be meaningless */
    nb_payload_destroy(p);
    nb_envelope_destroy(req);
    nb_envelope_destroy(rep);
    return s;
}

/* One natsbridge pair: a requester client and a responder client with its subscription. */
typedef struct nb_pair {
    nb_client *q, *resp;
    nb_subscription *sub;
    const char *subject;
} nb_pair;

static nb_status nb_setup(nb_pair *p, const char *url, bool asap)
{
    p->subject = asap ? "bench.rr.nb.asap" : "bench.rr.nb";
    nb_status s = nb_connect(&p->resp, url, asap);
    if (s == NB_OK)
        s = nb_connect(&p->q, url, asap);
    if (s == NB_OK)
        s = nb_client_subscribe(p->resp, &p->sub, p->subject, NULL, on_request, NULL, p->resp);
    if (s == NB_OK)
        s = nb_client_flush(p->resp, 5000);
    if (s != NB_OK)
        fprintf(stderr, "natsbridge setup: %s: %s\n", nb_status_text(s), nb_last_error());
    return s;
}

/* n round trips, latencies (seconds) into lat; false on the first failure. */
static bool nb_batch(nb_pair *p, int n, double *lat)
{
    for (int i = 0; i < n; i++) {
        double t = bench_now_s();
        nb_status s = nb_one(p->q, p->subject);
        if (lat)
            lat[i] = bench_now_s() - t;
        if (s != NB_OK) {
            fprintf(stderr, "natsbridge request: %s: %s\n", nb_status_text(s), nb_last_error());
            return false;
        }
    }
    return true;
}

static void nb_teardown(nb_pair *p)
{
    nb_subscription_destroy(p->sub);
    nb_client_destroy(p->q);
    nb_client_destroy(p->resp);
}

/* ------------------------------------------------------------------------ */
/* raw nats.c                                                               */
/* ------------------------------------------------------------------------ */

typedef struct raw_reply {
    const char *data;
    int len;
} raw_reply;

static void on_raw_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    const raw_reply *r = closure;
    if (natsMsg_GetReply(msg))
        natsConnection_Publish(nc, natsMsg_GetReply(msg), r->data, r->len);
    natsMsg_Destroy(msg);
}

static natsStatus raw_connect(natsConnection **out, const char *url, bool asap)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, asap);
    if (s == NATS_OK)
        s = natsConnection_Connect(out, o);
    natsOptions_Destroy(o);
    return s;
}

typedef struct raw_pair {
    natsConnection *q, *resp;
    natsSubscription *sub;
    const char *subject;
    raw_reply reply;
} raw_pair;

static natsStatus raw_setup(raw_pair *p, const char *url, bool asap, const char *json, int len)
{
    p->subject = asap ? "bench.rr.raw.asap" : "bench.rr.raw";
    p->reply = (raw_reply){json, len};
    natsStatus s = raw_connect(&p->resp, url, asap);
    if (s == NATS_OK)
        s = raw_connect(&p->q, url, asap);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&p->sub, p->resp, p->subject, on_raw_request, &p->reply);
    if (s == NATS_OK)
        s = natsConnection_Flush(p->resp);
    if (s != NATS_OK)
        fprintf(stderr, "raw setup: %s\n", nats_GetLastError(NULL));
    return s;
}

static bool raw_batch(raw_pair *p, int n, double *lat)
{
    for (int i = 0; i < n; i++) {
        natsMsg *m = NULL;
        double t = bench_now_s();
        natsStatus s = natsConnection_Request(&m, p->q, p->subject, p->reply.data, p->reply.len, 5000);
        if (lat)
            lat[i] = bench_now_s() - t;
        natsMsg_Destroy(m);
        if (s != NATS_OK) {
            fprintf(stderr, "raw request: %s\n", nats_GetLastError(NULL));
            return false;
        }
    }
    return true;
}

static void raw_teardown(raw_pair *p)
{
    natsSubscription_Destroy(p->sub);
    natsConnection_Destroy(p->q);
    natsConnection_Destroy(p->resp);
}

/* The wire text of a request envelope with the 100-byte text. */
static char *envelope_text(int *len)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    char *copy = NULL;
    size_t n = 0;
    nb_status s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_payload_create_text(&p, "question", text100);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s == NB_OK)
        s = nb_envelope_build(e, "bench.rr.raw", NULL);
    const char *json = s == NB_OK ? nb_envelope_json(e, &n) : NULL;
    if (json && (copy = malloc(n + 1))) {
        memcpy(copy, json, n + 1);
        *len = (int)n;
    }
    nb_payload_destroy(p);
    nb_envelope_destroy(e);
    return copy;
}

static void print_row(const char *label, result r)
{
    if (r.ok)
        printf("%-52s %9.0f %9.0f %9.0f\n", label, r.per_s, r.p50_us, r.p99_us);
    else
        printf("%-52s %9s %9s %9s\n", label, "failed", "-", "-");
    fflush(stdout);
}

#define VARIANTS 4
#define CHUNK 50 /* round trips per variant before the next variant's turn */

static const char *const labels[VARIANTS] = {
    "natsbridge nb_client_request + nb_client_reply",
    "natsbridge, send_asap on both clients",
    "raw natsConnection_Request + Publish reply",
    "raw nats.c, SendAsap on both connections",
};

/*
 * The four variants take turns, CHUNK round trips each, so that the load of
 * a busy machine falls on all of them alike: their ratios are what counts.
 */
static void run_all(const char *url, const char *json, int json_len, int warmup, int count,
                    result r[VARIANTS])
{
    nb_pair nb[2] = {{0}};
    raw_pair raw[2] = {{0}};
    double *lat[VARIANTS] = {0};
    double elapsed[VARIANTS] = {0};
    bool ok[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) {
        r[v] = (result){0, 0, 0, false};
        lat[v] = malloc(sizeof *lat[v] * (size_t)count);
        bool asap = v % 2 == 1;
        ok[v] = lat[v] && (v < 2 ? nb_setup(&nb[v], url, asap) == NB_OK
                                 : raw_setup(&raw[v - 2], url, asap, json, json_len) == NATS_OK);
        if (ok[v])
            ok[v] = v < 2 ? nb_batch(&nb[v], warmup, NULL) : raw_batch(&raw[v - 2], warmup, NULL);
    }
    for (int done = 0; done < count; done += CHUNK) {
        int n = count - done < CHUNK ? count - done : CHUNK;
        for (int v = 0; v < VARIANTS; v++) {
            if (!ok[v])
                continue;
            double t0 = bench_now_s();
            ok[v] = v < 2 ? nb_batch(&nb[v], n, lat[v] + done)
                          : raw_batch(&raw[v - 2], n, lat[v] + done);
            elapsed[v] += bench_now_s() - t0;
        }
    }
    for (int v = 0; v < VARIANTS; v++) {
        if (ok[v])
            r[v] = summarize(lat[v], count, elapsed[v]);
        if (v < 2)
            nb_teardown(&nb[v]);
        else
            raw_teardown(&raw[v - 2]);
        free(lat[v]);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* rows appear as they are measured */
    const char *url = NULL;
    int count = 2000, warmup = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0)
            count = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atoi(argv[i + 1]);
    }
    if (argc % 2 == 0 || count < 10 || warmup < 0) {
        fprintf(stderr, "usage: bench_rr [--url nats://host:port] [--count N>=10] [--warmup N]\n");
        return 1;
    }
    for (int i = 0; i < 100; i++)
        text100[i] = (char)('a' + i % 26);

    int json_len = 0;
    char *json = envelope_text(&json_len);
    nbt_server srv;
    bool own = url == NULL;
    if (!json || (own && nbt_server_start(&srv, false, 0) != 0)) {
        free(json);
        return 1;
    }
    if (own)
        url = srv.url;
    printf("bench_rr: natsbridge %s, nats.c %s, server %s%s\n", nb_version_string(),
           nats_GetVersion(), url, own ? " (started here)" : "");
    printf("%d round trips after %d warm-up, one in flight, 100 B text (envelope %d B);\n"
           "the variants take turns, %d round trips at a time\n\n",
           count, warmup, json_len, CHUNK);
    printf("%-52s %9s %9s %9s\n", "variant", "req/s", "p50 us", "p99 us");
    result r[VARIANTS];
    run_all(url, json, json_len, warmup, count, r);
    for (int v = 0; v < VARIANTS; v++)
        print_row(labels[v], r[v]);
    printf("\nA p50 near 1000 us means a reply waited for nats.c's 1 ms flusher.\n");
    /* S6 (issue 16): natsbridge in its default mode against raw nats.c with SendAsap. */
    if (r[0].ok && r[3].ok)
        printf("bench name=S6 metric=p50_us natsbridge=%.0f yardstick=%.0f ratio=%.2f target=1.2 "
               "p99_natsbridge=%.0f p99_yardstick=%.0f asap_ratio=%.2f\n",
               r[0].p50_us, r[3].p50_us, r[0].p50_us / r[3].p50_us, r[0].p99_us, r[3].p99_us,
               r[1].ok ? r[1].p50_us / r[3].p50_us : 0.0);
    if (own)
        nbt_server_stop(&srv);
    free(json);
    return r[0].ok && r[1].ok && r[2].ok && r[3].ok ? 0 : 1;
}
