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
 * and natsbridge's rows show whether it pays that delay.
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

static result run_nb(const char *url, bool asap, int warmup, int count, double *lat)
{
    result r = {0, 0, 0, false};
    const char *subject = asap ? "bench.rr.nb.asap" : "bench.rr.nb";
    nb_client *q = NULL, *resp = NULL;
    nb_subscription *sub = NULL;
    nb_status s = nb_connect(&resp, url, asap);
    if (s == NB_OK)
        s = nb_connect(&q, url, asap);
    if (s == NB_OK)
        s = nb_client_subscribe(resp, &sub, subject, NULL, on_request, NULL, resp);
    if (s == NB_OK)
        s = nb_client_flush(resp, 5000);
    for (int i = 0; s == NB_OK && i < warmup; i++)
        s = nb_one(q, subject);
    double t0 = bench_now_s();
    for (int i = 0; s == NB_OK && i < count; i++) {
        double t = bench_now_s();
        s = nb_one(q, subject);
        lat[i] = bench_now_s() - t;
    }
    double elapsed = bench_now_s() - t0;
    if (s == NB_OK)
        r = summarize(lat, count, elapsed);
    else
        fprintf(stderr, "natsbridge request: %s: %s\n", nb_status_text(s), nb_last_error());
    nb_subscription_destroy(sub);
    nb_client_destroy(q);
    nb_client_destroy(resp);
    return r;
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

static result run_raw(const char *url, bool asap, int warmup, int count, double *lat,
                      const char *json, int len)
{
    result r = {0, 0, 0, false};
    const char *subject = asap ? "bench.rr.raw.asap" : "bench.rr.raw";
    raw_reply reply = {json, len};
    natsConnection *q = NULL, *resp = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = raw_connect(&resp, url, asap);
    if (s == NATS_OK)
        s = raw_connect(&q, url, asap);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&sub, resp, subject, on_raw_request, &reply);
    if (s == NATS_OK)
        s = natsConnection_Flush(resp);
    double t0 = 0;
    for (int i = 0; s == NATS_OK && i < warmup + count; i++) {
        if (i == warmup)
            t0 = bench_now_s();
        natsMsg *m = NULL;
        double t = bench_now_s();
        s = natsConnection_Request(&m, q, subject, json, len, 5000);
        if (i >= warmup)
            lat[i - warmup] = bench_now_s() - t;
        natsMsg_Destroy(m);
    }
    double elapsed = bench_now_s() - t0;
    if (s == NATS_OK)
        r = summarize(lat, count, elapsed);
    else
        fprintf(stderr, "raw request: %s\n", nats_GetLastError(NULL));
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(q);
    natsConnection_Destroy(resp);
    return r;
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

    double *lat = malloc(sizeof *lat * (size_t)count);
    int json_len = 0;
    char *json = envelope_text(&json_len);
    nbt_server srv;
    bool own = url == NULL;
    if (!lat || !json || (own && nbt_server_start(&srv, false, 0) != 0)) {
        free(lat);
        free(json);
        return 1;
    }
    if (own)
        url = srv.url;
    printf("bench_rr: natsbridge %s, nats.c %s, server %s%s\n", nb_version_string(),
           nats_GetVersion(), url, own ? " (started here)" : "");
    printf("%d round trips after %d warm-up, one in flight, 100 B text (envelope %d B)\n\n",
           count, warmup, json_len);
    printf("%-52s %9s %9s %9s\n", "variant", "req/s", "p50 us", "p99 us");
    result r[4];
    r[0] = run_nb(url, false, warmup, count, lat);
    print_row("natsbridge nb_client_request + nb_client_reply", r[0]);
    r[1] = run_nb(url, true, warmup, count, lat);
    print_row("natsbridge, send_asap on both clients", r[1]);
    r[2] = run_raw(url, false, warmup, count, lat, json, json_len);
    print_row("raw natsConnection_Request + Publish reply", r[2]);
    r[3] = run_raw(url, true, warmup, count, lat, json, json_len);
    print_row("raw nats.c, SendAsap on both connections", r[3]);
    printf("\nA p50 near 1000 us means a reply waited for nats.c's 1 ms flusher.\n");
    if (own)
        nbt_server_stop(&srv);
    free(lat);
    free(json);
    return r[0].ok && r[1].ok && r[2].ok && r[3].ok ? 0 : 1;
}
