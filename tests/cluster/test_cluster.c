/* SPDX-License-Identifier: MIT */
/*
 * test_cluster.c - natsbridge against a 3-node nats-server cluster on
 * loopback (tests/fixture/cluster.h): clients given every node's URL, one
 * node stopped midway through a 10,000-message run.
 *  - core: the subscriber's own node is stopped; it reconnects to another
 *    node and keeps receiving. Core NATS is at-most-once: what was lost is
 *    reported, never asserted to be zero.
 *  - JetStream R3: a stream with 3 replicas loses nothing.
 * Every case cleans up its servers, clients and directories, even on failure.
 */
#include "cluster.h"
#include "client.h"
#include "natsstatus.h"
#include "server.h"
#include "test.h"

#include <pthread.h>
#include <stdint.h>

#define MSGS 10000
#define STOP_AT (MSGS / 2)
#define READY_MS 30000

/* ---- per-case state, freed by teardown even when a CHECK returns early --- */

static struct {
    nbt_cluster cluster;
    nbt_server single;
    nb_options *opts[4];
    nb_client *clients[4];
    nb_subscription *subs[4];
    size_t nopts, nclients, nsubs;
} K;

static void teardown(void)
{
    for (size_t i = 0; i < K.nsubs; i++)
        nb_subscription_destroy(K.subs[i]);
    /* Clients before servers: no reconnect loop against a dying cluster. */
    for (size_t i = 0; i < K.nclients; i++)
        nb_client_destroy(K.clients[i]);
    for (size_t i = 0; i < K.nopts; i++)
        nb_options_destroy(K.opts[i]);
    nbt_cluster_destroy(&K.cluster);
    nbt_server_stop(&K.single);
    memset(&K, 0, sizeof K);
}

static bool cluster_setup(void)
{
    memset(&K, 0, sizeof K);
    int64_t t0 = nbt_now_ms();
    if (nbt_cluster_start(&K.cluster, READY_MS) != 0)
        return false;
    fprintf(stderr, "note: cluster ready in %lld ms\n", (long long)(nbt_now_ms() - t0));
    return true;
}

/* CLUSTER_CASE(name) { body }: a case with its own 3-node cluster. */
#define CLUSTER_CASE(name) NBT_CASE_WITH(name, cluster_setup(), teardown())

/* Connection events of one client. */
typedef struct events {
    pthread_mutex_t mu;
    size_t disconnected, reconnected;
} events;

static void on_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)s;
    (void)detail;
    events *e = closure;
    pthread_mutex_lock(&e->mu);
    e->disconnected += ev == NB_EVENT_DISCONNECTED;
    e->reconnected += ev == NB_EVENT_RECONNECTED;
    pthread_mutex_unlock(&e->mu);
}

static size_t reconnects(events *e)
{
    pthread_mutex_lock(&e->mu);
    size_t n = e->reconnected;
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* Options for url (tracked), reconnecting fast and forever; events logged when ev is set. */
static nb_options *opts_for(const char *url, events *ev)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK)
        return NULL;
    K.opts[K.nopts++] = o;
    nb_status s = nb_options_set_url(o, url);
    if (s == NB_OK)
        s = nb_options_set_connect_timeout(o, 1000);
    if (s == NB_OK)
        s = nb_options_set_reconnect_wait(o, 100);
    if (s == NB_OK)
        s = nb_options_set_reconnect_jitter(o, 10);
    if (s == NB_OK)
        s = nb_options_set_max_reconnect(o, -1);
    if (s == NB_OK && ev)
        s = nb_options_set_event_cb(o, on_event, ev);
    if (s != NB_OK) {
        fprintf(stderr, "options for %s: %s\n", url, nb_last_error());
        return NULL;
    }
    return o;
}

static nb_client *connect_with(const nb_options *o)
{
    nb_client *c = NULL;
    if (!o)
        return NULL;
    if (nb_client_connect(&c, o) != NB_OK) {
        fprintf(stderr, "connect: %s\n", nb_last_error());
        return NULL;
    }
    K.clients[K.nclients++] = c;
    return c;
}

/* The index of the cluster node c is connected to, or -1. */
static int node_of(nb_client *c)
{
    char url[256] = "";
    if (natsConnection_GetConnectedUrl(nbi_client_nats(c), url, sizeof url) != NATS_OK)
        return -1;
    return nbt_cluster_node_of(&K.cluster, url);
}

/* An envelope with one text payload "m<i>" (or text when i < 0). */
static nb_envelope *numbered(int i, const char *text)
{
    char body[32];
    snprintf(body, sizeof body, "m%d", i);
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    nb_status s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_payload_create_text(&p, "msg", i < 0 ? text : body);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s != NB_OK) {
        fprintf(stderr, "envelope %d: %s\n", i, nb_last_error());
        nb_payload_destroy(p);
        nb_envelope_destroy(e);
        return NULL;
    }
    return e;
}

/* The number n of an "m<n>" envelope, or -1. */
static int number_of(const nb_envelope *e)
{
    const char *text = nb_payload_text(nb_envelope_payload(e, 0));
    if (!text || text[0] != 'm')
        return -1;
    char *end = NULL;
    long n = strtol(text + 1, &end, 10);
    return end && *end == '\0' && n >= 0 && n < MSGS ? (int)n : -1;
}

/* ---- several URLs, one server ------------------------------------------ */

static bool single_setup(void)
{
    memset(&K, 0, sizeof K);
    return nbt_server_start(&K.single, false, 0) == 0;
}

/* SERVER_CASE(name) { body }: a case with one nats-server (K.single). */
#define SERVER_CASE(name) NBT_CASE_WITH(name, single_setup(), teardown())

/* Sends "m<i>" from a and returns the number s received next, or -1. */
static int roundtrip_number(nb_client *a, nb_subscription *s, int i)
{
    nb_envelope *e = numbered(i, NULL), *got = NULL;
    nb_status st = e ? nb_client_send(a, "list.x", e) : NB_NO_MEMORY;
    if (st == NB_OK)
        st = nb_subscription_next(s, 5000, &got);
    if (st != NB_OK)
        fprintf(stderr, "send/receive over a URL list: %s\n", nb_last_error());
    int n = st == NB_OK ? number_of(got) : -1;
    nb_envelope_destroy(got);
    nb_envelope_destroy(e);
    return n;
}

SERVER_CASE(connect_list)
{
    int dead[2];
    CHECK(nbt_free_ports(dead, 2) == 0);
    char list[512], none[256], port[16];
    /* Dead servers in the list: nats.c shuffles it and skips those it cannot reach. */
    snprintf(list, sizeof list, "nats://127.0.0.1:%d, nats://127.0.0.1:%d,%s", dead[0], dead[1],
             K.single.url);
    snprintf(none, sizeof none, "nats://127.0.0.1:%d,nats://127.0.0.1:%d", dead[0], dead[1]);
    snprintf(port, sizeof port, "%d", dead[1]);

    nb_client *a = connect_with(opts_for(list, NULL));
    nb_client *b = connect_with(opts_for(list, NULL));
    CHECK(a && b);
    char url[256] = "";
    CHECK(natsConnection_GetConnectedUrl(nbi_client_nats(a), url, sizeof url) == NATS_OK);
    CHECK_STR(url, K.single.url);
    nb_subscription *s = NULL;
    CHECK_OK(nb_client_subscribe_sync(b, &s, "list.x", NULL));
    K.subs[K.nsubs++] = s;
    CHECK_OK(nb_client_flush(b, 5000));
    CHECK(roundtrip_number(a, s, 7) == 7);

    /* None alive: refused, naming the servers tried. */
    nb_client *c = NULL;
    const nb_options *o = opts_for(none, NULL);
    CHECK(o);
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, port);
    fprintf(stderr, "note: no live server in the list: %s\n", nb_last_error());
    CHECK(c == NULL);
}

/* ---- core: the subscriber's node stops ---------------------------------- */

/* What the core subscriber saw. */
typedef struct tally {
    pthread_mutex_t mu;
    unsigned char seen[MSGS];
    size_t received; /* distinct numbered envelopes */
    size_t after_reconnect; /* of those, received once the subscriber had reconnected */
    size_t duplicates, warmups, errors;
    int highest;
} tally;

static tally core;
/* The core subscriber's connection events. */
static events sub_ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

static void count_envelope(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    tally *t = closure;
    int n = number_of(env);
    bool reconnected = reconnects(&sub_ev) > 0;
    pthread_mutex_lock(&t->mu);
    if (n < 0) {
        t->warmups++;
    } else if (t->seen[n]) {
        t->duplicates++;
    } else {
        t->seen[n] = 1;
        t->received++;
        t->after_reconnect += reconnected;
        if (n > t->highest)
            t->highest = n;
    }
    pthread_mutex_unlock(&t->mu);
    nb_envelope_destroy(env);
}

static void count_error(nb_subscription *sub, nb_status s, const char *message, void *closure)
{
    (void)sub;
    tally *t = closure;
    pthread_mutex_lock(&t->mu);
    t->errors++;
    pthread_mutex_unlock(&t->mu);
    fprintf(stderr, "subscriber error: %s: %s\n", nb_status_text(s), message);
}

static size_t tally_read(tally *t, const size_t *field)
{
    pthread_mutex_lock(&t->mu);
    size_t v = *field;
    pthread_mutex_unlock(&t->mu);
    return v;
}

/* Sends warm-up envelopes until the subscriber has one: its interest has crossed the routes. */
static bool warm_up(nb_client *pub, const char *subject, tally *t)
{
    for (int i = 0; i < 100; i++) { /* 10 s */
        nb_envelope *e = numbered(-1, "warm-up");
        nb_status s = e ? nb_client_send(pub, subject, e) : NB_NO_MEMORY;
        nb_envelope_destroy(e);
        if (s == NB_OK)
            nb_client_flush(pub, 1000);
        nbt_sleep_ms(100);
        if (tally_read(t, &t->warmups) > 0)
            return true;
    }
    fprintf(stderr, "the subscriber's interest did not reach the publisher's node in 10 s\n");
    return false;
}

/* Waits until everything arrived or nothing more came for 1 s (at most 20 s). */
static void settle(tally *t)
{
    size_t last = tally_read(t, &t->received);
    int64_t changed = nbt_now_ms(), deadline = nbt_now_ms() + 20000;
    while (last < MSGS && nbt_now_ms() - changed < 1000 && nbt_now_ms() < deadline) {
        nbt_sleep_ms(50);
        size_t n = tally_read(t, &t->received);
        if (n != last) {
            last = n;
            changed = nbt_now_ms();
        }
    }
}

/* Stops a node from its own thread, so that publishing goes on meanwhile. */
typedef struct stopper {
    pthread_t thread;
    int node;
    bool kill; /* SIGKILL (a crash) rather than SIGTERM */
    bool started;
} stopper;

static void *stop_node(void *arg)
{
    stopper *st = arg;
    (st->kill ? nbt_cluster_kill_node : nbt_cluster_stop_node)(&K.cluster, st->node);
    return NULL;
}

static void stop_in_background(stopper *st, int node)
{
    st->node = node;
    st->started = pthread_create(&st->thread, NULL, stop_node, st) == 0;
    if (!st->started) /* then at least stop it, if synchronously */
        stop_node(st);
}

static void stopper_join(stopper *st)
{
    if (st->started)
        pthread_join(st->thread, NULL);
    st->started = false;
}

CLUSTER_CASE(core_node_stopped)
{
    static events pub_ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    memset(core.seen, 0, sizeof core.seen);
    core.received = core.after_reconnect = core.duplicates = core.warmups = core.errors = 0;
    core.highest = -1;
    sub_ev.reconnected = pub_ev.reconnected = 0;
    pthread_mutex_init(&core.mu, NULL);

    nb_client *sc = connect_with(opts_for(K.cluster.urls, &sub_ev));
    nb_client *pc = connect_with(opts_for(K.cluster.urls, &pub_ev));
    CHECK(sc && pc);
    nb_subscription *s = NULL;
    CHECK_OK(nb_client_subscribe(sc, &s, "cluster.core", NULL, count_envelope, count_error, &core));
    K.subs[K.nsubs++] = s;
    CHECK_OK(nb_client_flush(sc, 5000));
    CHECK(warm_up(pc, "cluster.core", &core));
    int victim = node_of(sc), pub_node = node_of(pc);
    CHECK(victim >= 0 && pub_node >= 0);
    fprintf(stderr, "note: subscriber on %s, publisher on %s\n", K.cluster.nodes[victim].name,
            K.cluster.nodes[pub_node].name);

    /* Paced (a pause of 1 ms every 5 messages), so that the second half is still
     * being sent when the subscriber is back on another node. */
    size_t at_stop = 0, send_errors = 0;
    stopper st = {0};
    int64_t t0 = nbt_now_ms();
    for (int i = 0; i < MSGS; i++) {
        if (i == STOP_AT) {
            at_stop = tally_read(&core, &core.received);
            stop_in_background(&st, victim);
        }
        nb_envelope *e = numbered(i, NULL);
        if (!e)
            break;
        send_errors += nb_client_send(pc, "cluster.core", e) != NB_OK;
        nb_envelope_destroy(e);
        if (i % 5 == 4)
            nbt_sleep_ms(1);
    }
    stopper_join(&st); /* before any CHECK can return: the thread uses K */
    nb_client_flush(pc, 5000);
    settle(&core);
    int64_t elapsed = nbt_now_ms() - t0;

    size_t received = tally_read(&core, &core.received);
    size_t after = received - at_stop, after_reconnect = tally_read(&core, &core.after_reconnect);
    int now_on = node_of(sc);
    fprintf(stderr,
            "note: core, %d msgs, subscriber's node %s stopped after %d sent: received %zu, "
            "lost %zu (%.2f%%), %zu received after the stop (%zu after the reconnect), "
            "%zu duplicates, %zu send errors, "
            "%zu/%zu reconnects (sub/pub), subscriber now on %s, %lld ms\n",
            MSGS, K.cluster.nodes[victim].name, STOP_AT, received, (size_t)MSGS - received,
            100.0 * (double)(MSGS - received) / MSGS, after, after_reconnect, core.duplicates,
            send_errors,
            reconnects(&sub_ev), reconnects(&pub_ev), now_on >= 0 ? K.cluster.nodes[now_on].name : "?",
            (long long)elapsed);
    CHECK(reconnects(&sub_ev) >= 1);
    CHECK(now_on >= 0 && now_on != victim);
    CHECK(after > 0 && after_reconnect > 0); /* core is at-most-once: losses are only reported */
    pthread_mutex_lock(&core.mu);
    int highest = core.highest;
    size_t dups = core.duplicates, errs = core.errors;
    pthread_mutex_unlock(&core.mu);
    CHECK(highest > STOP_AT); /* delivery went on past the stop */
    CHECK(dups == 0 && errs == 0);

    /* The node comes back and rejoins. */
    CHECK(nbt_cluster_restart_node(&K.cluster, victim, READY_MS) == 0);
}

/* ---- JetStream R3: one node stopped while publishing -------------------- */

#define R3_STREAM "CLUSTER_R3"
#define R3_SUBJECT "cluster.r3"

/* The number n of msg_id "r3-<n>", or -1. */
static int msg_id_number(const char *id)
{
    if (!id || strncmp(id, "r3-", 3) != 0)
        return -1;
    char *end = NULL;
    long n = strtol(id + 3, &end, 10);
    return end && *end == '\0' && n >= 0 && n < MSGS ? (int)n : -1;
}

/* The node leading the stream's replicas (the one to stop), or -1. */
static int stream_leader(nb_client *c, const char *stream)
{
    int node = -1;
    for (int attempt = 0; attempt < 50 && node < 0; attempt++) { /* 5 s */
        jsCtx *js = NULL;
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        if (natsConnection_JetStream(&js, nbi_client_nats(c), NULL) == NATS_OK &&
            js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK && si->Cluster &&
            si->Cluster->Leader)
            for (int i = 0; i < NBT_CLUSTER_NODES; i++)
                if (strcmp(si->Cluster->Leader, K.cluster.nodes[i].name) == 0)
                    node = i;
        jsStreamInfo_Destroy(si);
        jsCtx_Destroy(js);
        if (node < 0)
            nbt_sleep_ms(100);
    }
    return node;
}

/* The stream with 3 replicas; retried while the meta group is still gathering its peers. */
static bool make_r3_stream(nb_client *c)
{
    const char *subjects[] = {R3_SUBJECT};
    nb_js_stream_config cfg = {.name = R3_STREAM, .subjects = subjects, .subject_count = 1,
                               .storage = NB_JS_FILE, .replicas = 3};
    nb_status s = NB_OK;
    for (int64_t deadline = nbt_now_ms() + 20000; nbt_now_ms() < deadline; nbt_sleep_ms(250))
        if ((s = nb_js_stream_ensure(c, &cfg, NULL)) == NB_OK)
            return true;
    fprintf(stderr, "R3 stream: %s: %s\n", nb_status_text(s), nb_last_error());
    return false;
}

/* What the publisher got back, per message number. */
static struct {
    uint64_t seq[MSGS];
    size_t acked, duplicates, failed_attempts;
} pub;

/*
 * Publishes message i (msg_id "r3-<i>") until it is acked: the library
 * retries within one call; a call that still fails (the stream's leader
 * gone, a new one not yet elected) is repeated with the same envelope, hence
 * the same msg_id, so the stream keeps one copy. At most 8 calls, none
 * started after deadline.
 */
static bool publish_r3(nb_client *c, int i, int64_t deadline)
{
    nb_envelope *e = numbered(i, NULL);
    char id[32];
    snprintf(id, sizeof id, "r3-%05d", i);
    if (!e || nb_envelope_set_msg_id(e, id) != NB_OK) {
        nb_envelope_destroy(e);
        return false;
    }
    nb_js_publish_options po = {.timeout_ms = 2000, .retries = 5, .retry_delay_ms = 100};
    nb_js_ack ack;
    nb_status s = NB_TIMEOUT;
    for (int call = 0; call < 8 && s != NB_OK && nbt_now_ms() < deadline; call++) {
        memset(&ack, 0, sizeof ack);
        s = nb_client_js_publish(c, R3_SUBJECT, e, &po, &ack);
        if (s != NB_OK) {
            if (pub.failed_attempts++ < 10)
                fprintf(stderr, "note: publish %s: %s: %s (again)\n", id, nb_status_text(s),
                        nb_last_error());
            nbt_sleep_ms(250);
        }
    }
    nb_envelope_destroy(e);
    if (s != NB_OK)
        return false;
    pub.seq[i] = ack.sequence;
    pub.acked++;
    pub.duplicates += ack.duplicate;
    return true;
}

/* What the durable consumer read, per message number. */
typedef struct r3_reader {
    pthread_mutex_t mu;
    uint64_t seq[MSGS]; /* the stream sequence it was read at; 0 = not yet */
    size_t distinct, redelivered, strangers, moved, errors;
} r3_reader;

static r3_reader reader;

static nb_js_action read_r3(nb_js_consumer *cons, nb_envelope *env, const nb_js_delivery *d,
                            void *closure)
{
    (void)cons;
    r3_reader *r = closure;
    int n = msg_id_number(nb_envelope_msg_id(env));
    pthread_mutex_lock(&r->mu);
    if (n < 0 || number_of(env) != n) {
        r->strangers++;
    } else if (r->seq[n]) {
        r->redelivered++;
        r->moved += r->seq[n] != d->stream_seq;
    } else {
        r->seq[n] = d->stream_seq;
        r->distinct++;
    }
    pthread_mutex_unlock(&r->mu);
    nb_envelope_destroy(env);
    return NB_JS_ACK;
}

static void read_error(nb_js_consumer *cons, nb_status s, const char *message,
                       const nb_js_delivery *d, nb_js_action action, void *closure)
{
    (void)cons;
    (void)d;
    (void)action;
    r3_reader *r = closure;
    pthread_mutex_lock(&r->mu);
    r->errors++;
    pthread_mutex_unlock(&r->mu);
    fprintf(stderr, "note: consumer: %s: %s\n", nb_status_text(s), message);
}

static size_t reader_distinct(void)
{
    pthread_mutex_lock(&reader.mu);
    size_t n = reader.distinct;
    pthread_mutex_unlock(&reader.mu);
    return n;
}

/* The durable consumer, created (retried while a new meta leader is elected). */
static nb_js_consumer *read_all_r3(nb_client *c)
{
    nb_js_consumer_config cfg = {.stream = R3_STREAM, .subject = R3_SUBJECT,
                                 .durable = "r3-reader", .batch = 256};
    nb_js_consumer *cons = NULL;
    nb_status s = NB_OK;
    for (int64_t deadline = nbt_now_ms() + 15000; !cons && nbt_now_ms() < deadline;) {
        s = nb_js_consumer_create(&cons, c, &cfg, read_r3, read_error, &reader);
        if (s != NB_OK)
            nbt_sleep_ms(250);
    }
    if (!cons)
        fprintf(stderr, "consumer: %s: %s\n", nb_status_text(s), nb_last_error());
    return cons;
}

/* Waits until the reader has every message or made no progress for 10 s (at most 30 s). */
static void wait_read_all(void)
{
    size_t last = reader_distinct();
    int64_t changed = nbt_now_ms(), deadline = nbt_now_ms() + 30000;
    while (last < MSGS && nbt_now_ms() - changed < 10000 && nbt_now_ms() < deadline) {
        nbt_sleep_ms(50);
        size_t n = reader_distinct();
        if (n != last) {
            last = n;
            changed = nbt_now_ms();
        }
    }
}

/* Every message read once, at the sequence its publish was acked with; the sequences 1..MSGS. */
static int count_r3_mismatches(void)
{
    static unsigned char seq_used[MSGS + 1];
    memset(seq_used, 0, sizeof seq_used);
    int bad = 0;
    for (int i = 0; i < MSGS; i++) {
        uint64_t seq = reader.seq[i];
        bool ok = seq >= 1 && seq <= MSGS && seq == pub.seq[i] && !seq_used[seq];
        if (!ok && bad++ < 5)
            fprintf(stderr, "r3-%05d: read at seq %llu, acked at %llu\n", i,
                    (unsigned long long)seq, (unsigned long long)pub.seq[i]);
        if (seq >= 1 && seq <= MSGS)
            seq_used[seq] = 1;
    }
    return bad;
}

/* Publishes MSGS messages to an R3 stream, its leader stopped (or killed) midway, and reads them all. */
static void r3_run(bool kill)
{
    memset(&pub, 0, sizeof pub);
    memset(reader.seq, 0, sizeof reader.seq);
    reader.distinct = reader.redelivered = reader.strangers = reader.moved = reader.errors = 0;
    pthread_mutex_init(&reader.mu, NULL);

    nb_client *c = connect_with(opts_for(K.cluster.urls, NULL));
    CHECK(c);
    CHECK(make_r3_stream(c));
    int victim = stream_leader(c, R3_STREAM), on = node_of(c);
    CHECK(victim >= 0 && on >= 0);
    fprintf(stderr, "note: R3 stream leader %s (%s midway), publisher on %s\n",
            K.cluster.nodes[victim].name, kill ? "killed" : "stopped", K.cluster.nodes[on].name);

    stopper st = {.kill = kill};
    int published = 0;
    /* Bounded: the case must end well within CTest's 120 s, cleanup included. */
    int64_t t0 = nbt_now_ms(), t_stop = 0, deadline = nbt_now_ms() + 50000;
    for (; published < MSGS; published++) {
        if (published == STOP_AT) {
            t_stop = nbt_now_ms();
            stop_in_background(&st, victim);
        }
        if (!publish_r3(c, published, deadline))
            break;
    }
    stopper_join(&st);
    int64_t t_pub = nbt_now_ms() - t0;
    fprintf(stderr, "note: R3 publish: %d of %d acked in %lld ms (%lld ms after the stop), "
                    "%zu calls failed and were repeated, %zu acks said duplicate\n",
            published, MSGS, (long long)t_pub, (long long)(nbt_now_ms() - t_stop), pub.failed_attempts,
            pub.duplicates);
    CHECK(published == MSGS);

    int64_t t1 = nbt_now_ms();
    nb_js_consumer *cons = read_all_r3(c);
    CHECK(cons);
    wait_read_all();
    nb_js_consumer_destroy(cons);
    pthread_mutex_lock(&reader.mu);
    size_t distinct = reader.distinct, again = reader.redelivered, strangers = reader.strangers;
    size_t moved = reader.moved;
    pthread_mutex_unlock(&reader.mu);
    fprintf(stderr, "note: R3 read with %s down: %zu of %d distinct in %lld ms, %zu redelivered, "
                    "%zu strangers, %zu consumer errors\n",
            K.cluster.nodes[victim].name, distinct, MSGS, (long long)(nbt_now_ms() - t1), again,
            strangers, reader.errors);
    CHECK(distinct == MSGS); /* none lost */
    CHECK(strangers == 0 && moved == 0);
    CHECK(count_r3_mismatches() == 0);

    nb_js_stream_info *info = NULL;
    CHECK_OK(nb_js_stream_info_get(c, R3_STREAM, &info));
    uint64_t stored = info->messages, last = info->last_seq;
    nb_js_stream_info_destroy(info);
    fprintf(stderr, "note: R3 stream holds %llu messages, last seq %llu\n",
            (unsigned long long)stored, (unsigned long long)last);
    CHECK(stored == MSGS && last == MSGS); /* no duplicate stored */

    /* The stopped node comes back and rejoins. */
    CHECK(nbt_cluster_restart_node(&K.cluster, victim, READY_MS) == 0);
}

CLUSTER_CASE(jetstream_r3_node_stopped) { r3_run(false); }

CLUSTER_CASE(jetstream_r3_node_killed) { r3_run(true); }

static const nbt_case cases[] = {
    NBT_ENTRY(connect_list),
    NBT_ENTRY(core_node_stopped),
    NBT_ENTRY(jetstream_r3_node_stopped),
    NBT_ENTRY(jetstream_r3_node_killed),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
