/* SPDX-License-Identifier: MIT */
/*
 * jetstream_worker.c - durable jobs: publish to a stream, work them off.
 *
 * JetStream stores every envelope in a stream before it says OK, so jobs
 * survive a worker that is not running yet. The publisher gets an ack naming
 * the stream and sequence; publishing the same envelope again (as after a
 * lost ack) is dropped by the stream, which knows its msg_id. A durable pull
 * consumer hands each job to a callback and acks it only once the callback
 * says so: a job that fails for now is naked and comes back (delivered 2).
 * The server needs JetStream (nats-server -js). NATS_URL says where it is
 * (default nats://localhost:4222).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <natsbridge.h>

#include "example.h" /* TRY, nats_url, example_connect */

#define JOBS 3

/* Publishes one job and prints the stream's ack. */
static nb_status publish(nb_client *c, nb_envelope *job)
{
    nb_js_publish_options po = {.retries = 3}; /* retries reuse the msg_id: no second copy */
    nb_js_ack ack;
    nb_status s = nb_client_js_publish(c, "jobs.resize", job, &po, &ack);
    if (s == NB_OK)
        printf("published %s: stream %s seq %llu%s\n",
               nb_payload_text(nb_envelope_payload(job, 0)), ack.stream,
               (unsigned long long)ack.sequence, ack.duplicate ? " duplicate" : "");
    return s;
}

/* The worker: job 2 fails the first time (say, a database was busy). */
static nb_js_action on_job(nb_js_consumer *cons, nb_envelope *env, const nb_js_delivery *d,
                           void *closure)
{
    (void)cons;
    atomic_int *done = closure;
    const char *job = nb_payload_text(nb_envelope_payload(env, 0));
    nb_js_action action = NB_JS_ACK;
    if (d->stream_seq == 2 && d->delivered == 1) {
        printf("worker: %s failed for now (delivery %llu): nak\n", job,
               (unsigned long long)d->delivered);
        action = NB_JS_NAK; /* comes back after the consumer's nak delay */
    } else {
        printf("worker: %s done (seq %llu, delivery %llu): ack\n", job,
               (unsigned long long)d->stream_seq, (unsigned long long)d->delivered);
        atomic_fetch_add(done, 1);
    }
    nb_envelope_destroy(env); /* the callback owns env */
    return action;
}

static void on_error(nb_js_consumer *cons, nb_status s, const char *message,
                     const nb_js_delivery *d, nb_js_action action, void *closure)
{
    (void)cons, (void)d, (void)action, (void)closure;
    fprintf(stderr, "worker error: %s: %s\n", nb_status_text(s), message);
}

int main(void)
{
    static const char *const subjects[] = {"jobs.>"};
    nb_js_stream_config stream = {.name = "JOBS", .subjects = subjects, .subject_count = 1};
    nb_js_consumer_config worker = {.subject = "jobs.>", .durable = "resizer",
                                    .nak_delay_ms = 200, .max_deliver = 5};
    nb_client *client = NULL;
    nb_js_consumer *consumer = NULL;
    nb_envelope *job = NULL, *first = NULL;
    nb_payload *p = NULL;
    atomic_int done = 0;
    bool created = false, have_stream = false;
    int rc = 1;

    TRY(example_connect(&client, NULL));
    TRY(nb_js_stream_ensure(client, &stream, &created));
    have_stream = true;
    printf("stream JOBS %s\n", created ? "created" : "exists");

    for (int i = 1; i <= JOBS; i++) {
        char text[32];
        snprintf(text, sizeof text, "job %d", i);
        TRY(nb_envelope_create(&job));
        TRY(nb_payload_create_text(&p, "job", text));
        TRY(nb_envelope_add_payload(job, &p));
        TRY(publish(client, job));
        if (i == 1)
            first = job; /* kept to publish again below */
        else
            nb_envelope_destroy(job);
        job = NULL;
    }
    /* As if the first ack had been lost: the same envelope, the same msg_id. */
    TRY(publish(client, first));

    TRY(nb_js_consumer_create(&consumer, client, &worker, on_job, on_error, &done));
    for (int i = 0; i < 200 && atomic_load(&done) < JOBS; i++) /* up to 10 s */
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
    if (atomic_load(&done) < JOBS) {
        fprintf(stderr, "only %d of %d jobs done within 10 s\n", atomic_load(&done), JOBS);
        goto done;
    }
    printf("all %d jobs done, each acked once\n", JOBS);
    rc = 0;

done:
    nb_js_consumer_destroy(consumer); /* stops pulling; the durable keeps its place... */
    /* ...but this example leaves nothing behind: the stream goes, with its durables. */
    if (have_stream && nb_js_stream_delete(client, "JOBS") != NB_OK)
        fprintf(stderr, "deleting stream JOBS: %s\n", nb_last_error());
    nb_payload_destroy(p);
    nb_envelope_destroy(job);
    nb_envelope_destroy(first);
    nb_client_destroy(client);
    return rc;
}
