/* SPDX-License-Identifier: MIT */
/*
 * test_jetstream.c - JetStream end to end against a real nats-server with
 * JetStream: streams, publish with dedupe (sync and async), durable pull
 * consumers that ack after the callback, at-least-once across a consumer
 * restart and a server restart, nak while the file server is down, term on
 * bad messages, replay starts, and bad arguments that name what was wrong.
 */
#include "integ.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Per-case set-up: the integration state with a JetStream server           */
/* ------------------------------------------------------------------------ */

static nb_js_consumer *consumers[8];
static nb_js_publisher *publishers[4];

static void tally_reset(void);

/* setup() starts a core server; JetStream cases swap it for one with -js. Tallies start empty. */
static bool js_setup(long max_payload)
{
    tally_reset();
    if (!setup(0))
        return false;
    nbt_server_stop(&T.srv);
    T.server_up = nbt_server_start(&T.srv, true, max_payload) == 0;
    if (!T.server_up)
        fprintf(stderr, "setup: could not start nats-server with JetStream\n");
    return T.server_up;
}

/* Consumers and publishers go before the clients they use. */
static void js_teardown(void)
{
    for (size_t i = 0; i < COUNT(consumers); i++) {
        nb_js_consumer_destroy(consumers[i]);
        consumers[i] = NULL;
    }
    for (size_t i = 0; i < COUNT(publishers); i++) {
        nb_js_publisher_destroy(publishers[i]);
        publishers[i] = NULL;
    }
    teardown();
}

/* JCASE(name, max_payload) { body }: a case with its own JetStream server. */
#define JCASE(name, max_payload) NBT_CASE_WITH(name, js_setup(max_payload), js_teardown())

/* ------------------------------------------------------------------------ */
/* What consumer callbacks saw                                              */
/* ------------------------------------------------------------------------ */

#define MAX_MSGS 1100

typedef struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int seen[MAX_MSGS];           /* times message "m<i>" was handed over */
    uint64_t delivered[MAX_MSGS]; /* its delivery count, the last time */
    size_t total, distinct, dups, unknown;
    size_t naks, terms, pull_errors;
    uint64_t term_seq[16];
    nb_status term_status[16];
    char first_error[512];
    char last_error[512];
    uint64_t seqs[64];            /* stream sequences, in arrival order */
    size_t nseqs;
    /* What the callback answers. */
    bool nak_first;               /* NB_JS_NAK on a first delivery */
    bool nak_all;                 /* NB_JS_NAK always */
    int64_t slow_first_ms;        /* a first delivery takes this long to handle */
    int term_index;               /* NB_JS_TERM for "m<term_index>" (-1: none) */
    int destroy_at;               /* destroy the consumer at this total (0: never) */
    nb_js_consumer **self;        /* where that consumer is kept */
} tally;

static tally tallies[4];

static void tally_reset(void)
{
    for (size_t i = 0; i < COUNT(tallies); i++) {
        memset(&tallies[i], 0, sizeof tallies[i]);
        pthread_mutex_init(&tallies[i].mu, NULL);
        pthread_cond_init(&tallies[i].cv, NULL);
        tallies[i].term_index = -1;
    }
}

/* The i of a "m<i>" text payload, or -1. */
static int index_of(const nb_envelope *env)
{
    const char *t = first_text(env);
    if (t[0] != 'm')
        return -1;
    int i = atoi(t + 1);
    return i >= 0 && i < MAX_MSGS ? i : -1;
}

static nb_js_action on_js_envelope(nb_js_consumer *cons, nb_envelope *env,
                                   const nb_js_delivery *d, void *closure)
{
    tally *t = closure;
    int i = index_of(env);
    nb_js_action a = NB_JS_ACK;
    bool destroy = false;
    pthread_mutex_lock(&t->mu);
    if ((t->nak_first && d->delivered == 1) || t->nak_all)
        a = NB_JS_NAK;
    else if (i >= 0 && i == t->term_index)
        a = NB_JS_TERM;
    if (i < 0) {
        t->unknown++;
    } else if (a == NB_JS_ACK) {
        t->seen[i]++;
        t->delivered[i] = d->delivered;
        t->distinct += t->seen[i] == 1;
        t->dups += t->seen[i] > 1;
    }
    t->total++;
    if (t->nseqs < COUNT(t->seqs))
        t->seqs[t->nseqs++] = d->stream_seq;
    destroy = t->destroy_at > 0 && t->total == (size_t)t->destroy_at && t->self;
    if (destroy)
        *t->self = NULL; /* under the lock: the test thread reads it after waiting on t */
    int64_t slow = d->delivered == 1 ? t->slow_first_ms : 0;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    nb_envelope_destroy(env);
    if (slow)
        sleep_ms(slow);
    if (destroy) {
        nb_js_consumer_destroy(cons);
        return NB_JS_ACK; /* still applied: the consumer is freed after this callback */
    }
    return a;
}

static void on_js_error(nb_js_consumer *cons, nb_status s, const char *message,
                        const nb_js_delivery *d, nb_js_action action, void *closure)
{
    (void)cons;
    tally *t = closure;
    pthread_mutex_lock(&t->mu);
    if (!t->first_error[0])
        snprintf(t->first_error, sizeof t->first_error, "%s", message);
    snprintf(t->last_error, sizeof t->last_error, "%s", message);
    if (action == NB_JS_NAK)
        t->naks++;
    else if (action == NB_JS_TERM && d) {
        if (t->terms < COUNT(t->term_seq)) {
            t->term_seq[t->terms] = d->stream_seq;
            t->term_status[t->terms] = s;
        }
        t->terms++;
    } else if (!d) {
        t->pull_errors++;
    }
    fprintf(stderr, "note: consumer error (%s): %s\n", nb_status_text(s), message);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Waits until *field (a counter of t) >= n; false after ms. */
static bool tally_wait(tally *t, const size_t *field, size_t n, int64_t ms)
{
    struct timespec dl = deadline_in(ms);
    pthread_mutex_lock(&t->mu);
    int rc = 0;
    while (*field < n && rc == 0)
        rc = pthread_cond_timedwait(&t->cv, &t->mu, &dl);
    bool ok = *field >= n;
    if (!ok) {
        fprintf(stderr, "tally_wait: %zu of %zu after %lld ms (total %zu, distinct %zu, naks %zu, "
                "terms %zu, pull errors %zu; first stream seqs:", *field, n, (long long)ms,
                t->total, t->distinct, t->naks, t->terms, t->pull_errors);
        for (size_t i = 0; i < t->nseqs && i < 12; i++)
            fprintf(stderr, " %llu", (unsigned long long)t->seqs[i]);
        fprintf(stderr, ")\n");
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

static size_t tally_read(tally *t, const size_t *field)
{
    pthread_mutex_lock(&t->mu);
    size_t v = *field;
    pthread_mutex_unlock(&t->mu);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static bool make_stream(nb_client *c, const char *name, const char *subject)
{
    const char *subjects[] = {subject};
    nb_js_stream_config cfg = {name, subjects, 1, NB_JS_FILE, 0, 0, 0};
    REQUIRE_OK(nb_js_stream_ensure(c, &cfg, NULL));
    return true;
}

static nb_js_consumer_config consumer_cfg(const char *subject, const char *durable)
{
    nb_js_consumer_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.subject = subject;
    cfg.durable = durable;
    cfg.ack_wait_ms = 2000;
    cfg.nak_delay_ms = 100;
    cfg.max_nak_delay_ms = 400;
    return cfg;
}

/* Creates a consumer kept in consumers[slot] (destroyed at teardown). */
static nb_js_consumer *consume(nb_client *c, size_t slot, const nb_js_consumer_config *cfg,
                               tally *t)
{
    nb_js_consumer *k = NULL;
    nb_status s = nb_js_consumer_create(&k, c, cfg, on_js_envelope, on_js_error, t);
    if (s != NB_OK) {
        fprintf(stderr, "consumer create: %s: %s\n", nb_status_text(s), nb_last_error());
        return NULL;
    }
    consumers[slot] = k;
    return k;
}

static void stop_consumer(size_t slot)
{
    nb_js_consumer_destroy(consumers[slot]);
    consumers[slot] = NULL;
}

/* A fresh envelope "m<i>" (not tracked: the caller destroys it). */
static nb_envelope *numbered(int i)
{
    char text[32];
    snprintf(text, sizeof text, "m%d", i);
    nb_envelope *e = NULL;
    text_envelope(&e, "msg", text);
    return e;
}

/* Publishes "m<from>" .. "m<to-1>" synchronously. */
static bool publish_range(nb_client *c, const char *subject, int from, int to)
{
    for (int i = from; i < to; i++) {
        nb_envelope *e = numbered(i);
        REQUIRE(e);
        nb_js_ack ack;
        nb_status s = nb_client_js_publish(c, subject, e, NULL, &ack);
        nb_envelope_destroy(e);
        REQUIRE_OK(s);
        REQUIRE(!ack.duplicate);
    }
    return true;
}

static uint64_t stream_messages(nb_client *c, const char *name)
{
    nb_js_stream_info *info = NULL;
    if (nb_js_stream_info_get(c, name, &info) != NB_OK) {
        fprintf(stderr, "stream info: %s\n", nb_last_error());
        return UINT64_MAX;
    }
    uint64_t n = info->messages;
    nb_js_stream_info_destroy(info);
    return n;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Options that reconnect quickly and forever (for server restarts). */
static nb_options *sturdy_opts(void)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_reconnect_wait(o, 100) != NB_OK ||
        nb_options_set_reconnect_jitter(o, 10) != NB_OK ||
        nb_options_set_max_reconnect(o, -1) != NB_OK) {
        fprintf(stderr, "sturdy_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Streams                                                                  */
/* ------------------------------------------------------------------------ */

JCASE(streams, 0)
{
    nb_client *c = new_client();
    CHECK(c);
    const char *subjects[] = {"orders.>", "audit.orders"};
    nb_js_stream_config cfg = {"ORDERS", subjects, 2, NB_JS_MEMORY, 1, 60000, 30000};
    bool created = false;
    CHECK_OK(nb_js_stream_ensure(c, &cfg, &created));
    CHECK(created);
    /* The same settings again (subjects in another order): checked, not created. */
    const char *swapped[] = {"audit.orders", "orders.>"};
    cfg.subjects = swapped;
    CHECK_OK(nb_js_stream_ensure(c, &cfg, &created));
    CHECK(!created);

    nb_js_stream_info *info = NULL;
    CHECK_OK(nb_js_stream_info_get(c, "ORDERS", &info));
    bool ok = strcmp(info->config.name, "ORDERS") == 0 && info->config.subject_count == 2 &&
              info->config.storage == NB_JS_MEMORY && info->config.replicas == 1 &&
              info->config.max_age_ms == 60000 && info->config.duplicate_window_ms == 30000 &&
              info->messages == 0 && info->consumers == 0;
    nb_js_stream_info_destroy(info);
    CHECK(ok);

    /* Every differing setting is named; the stream is left as it was. */
    const char *other[] = {"orders.>"};
    nb_js_stream_config diff = {"ORDERS", other, 1, NB_JS_FILE, 1, 0, 0};
    CHECK_FAIL(nb_js_stream_ensure(c, &diff, &created), NB_INVALID_ARG,
               "subjects [orders.>, audit.orders] (asked [orders.>])");
    CHECK(strstr(nb_last_error(), "storage memory (asked file)"));
    CHECK(strstr(nb_last_error(), "max age ms 60000 (asked 0)"));
    CHECK(!created);
    /* Overlapping subjects with another stream: the server's refusal is passed on. */
    const char *overlap[] = {"orders.new"};
    nb_js_stream_config clash = {"CLASH", overlap, 1, NB_JS_FILE, 0, 0, 0};
    CHECK_FAIL(nb_js_stream_ensure(c, &clash, NULL), NB_INVALID_ARG, "overlap");

    CHECK_OK(nb_js_stream_delete(c, "ORDERS"));
    CHECK_FAIL(nb_js_stream_info_get(c, "ORDERS", &info), NB_NOT_FOUND, "no such stream");
    CHECK(info == NULL);
    CHECK_FAIL(nb_js_stream_delete(c, "ORDERS"), NB_NOT_FOUND, "no such stream");
}

/* ------------------------------------------------------------------------ */
/* Publishing                                                               */
/* ------------------------------------------------------------------------ */

JCASE(publish_dedupe, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "DEDUPE", "dd.>"));
    nb_envelope *e = env_text("msg", "once");
    CHECK(e);
    nb_js_ack first, second;
    CHECK_OK(nb_client_js_publish(c, "dd.a", e, NULL, &first));
    CHECK_STR(first.stream, "DEDUPE");
    CHECK(first.sequence == 1 && !first.duplicate);
    /* The same envelope again: same msg_id, so the server keeps one copy. */
    CHECK_OK(nb_client_js_publish(c, "dd.a", e, NULL, &second));
    CHECK(second.duplicate && second.sequence == 1);
    /* Another envelope with that msg_id set by hand is a duplicate too. */
    nb_envelope *twin = env_text("msg", "twin");
    CHECK(twin);
    CHECK_OK(nb_envelope_set_msg_id(twin, nb_envelope_msg_id(e)));
    CHECK_OK(nb_client_js_publish(c, "dd.a", twin, NULL, &second));
    CHECK(second.duplicate);
    CHECK(stream_messages(c, "DEDUPE") == 1);
    /* A fresh envelope is stored as the next message; expect_stream is honoured. */
    nb_js_publish_options po = {2000, 0, 0, "DEDUPE"};
    CHECK_OK(nb_client_js_publish(c, "dd.b", env_text("msg", "two"), &po, &second));
    CHECK(second.sequence == 2 && !second.duplicate);
    po.expect_stream = "OTHER";
    CHECK_FAIL(nb_client_js_publish(c, "dd.b", env_text("msg", "three"), &po, &second),
               NB_NATS, "dd.b");
    CHECK(stream_messages(c, "DEDUPE") == 2);
}

JCASE(publish_too_large, 65536)
{
    static uint8_t bytes[60000];
    fill_bytes(bytes, sizeof bytes, 5);
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_size_threshold(o, 10 * 1000 * 1000)); /* all direct */
    nb_client *c = connect_with(o);
    CHECK(c && make_stream(c, "BIG", "big"));
    nb_envelope *e = env_with(bytes_payload("b", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    CHECK_FAIL(nb_client_js_publish(c, "big", e, NULL, NULL), NB_TOO_LARGE, "65536");
    CHECK(strstr(nb_last_error(), "of headers"));
    CHECK(stream_messages(c, "BIG") == 0);
}

JCASE(publish_no_stream, 0)
{
    nb_client *c = new_client();
    CHECK(c);
    nb_js_ack ack;
    nb_js_publish_options po = {500, 2, 20, NULL};
    CHECK_FAIL(nb_client_js_publish(c, "nowhere", env_text("m", "x"), &po, &ack),
               NB_NO_RESPONDERS, "no stream holds this subject");
    CHECK(strstr(nb_last_error(), "3 attempts"));
    CHECK(ack.sequence == 0 && ack.stream[0] == '\0');
}

/* ---- asynchronous -------------------------------------------------------- */

typedef struct acks {
    pthread_mutex_t mu;
    size_t ok, failed, duplicates;
    uint64_t max_seq;
    uint64_t seq_sum;
    char first_error[256];
    nb_status last_status;
    char last_error[256];
} acks;

static void on_ack(nb_js_publisher *p, const char *msg_id, const char *subject, nb_status s,
                   const char *error, const nb_js_ack *ack, void *closure)
{
    (void)p;
    acks *a = closure;
    pthread_mutex_lock(&a->mu);
    if (s == NB_OK && ack && msg_id[0] && subject[0]) {
        a->ok++;
        a->duplicates += ack->duplicate;
        a->seq_sum += ack->duplicate ? 0 : ack->sequence;
        a->max_seq = ack->sequence > a->max_seq ? ack->sequence : a->max_seq;
    } else {
        a->failed++;
        a->last_status = s;
        snprintf(a->last_error, sizeof a->last_error, "%s", error);
        if (!a->first_error[0])
            snprintf(a->first_error, sizeof a->first_error, "%s: %s", nb_status_text(s), error);
    }
    pthread_mutex_unlock(&a->mu);
}

JCASE(async_publisher, 0)
{
    enum { N = 500 };
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "ASYNC", "as.>"));
    static acks a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.mu, NULL);
    CHECK_OK(nb_js_publisher_create(&publishers[0], c, 16, 3000, on_ack, &a));
    nb_envelope *again = NULL;
    for (int i = 0; i < N; i++) {
        nb_envelope *e = numbered(i);
        CHECK(e);
        nb_status s = nb_js_publisher_send(publishers[0], "as.x", e);
        if (i == 7)
            again = keep(e);
        else
            nb_envelope_destroy(e);
        CHECK_OK(s);
    }
    CHECK_OK(nb_js_publisher_send(publishers[0], "as.x", again)); /* same msg_id */
    CHECK_OK(nb_js_publisher_wait(publishers[0], 10000));
    CHECK(nb_js_publisher_pending(publishers[0]) == 0);
    pthread_mutex_lock(&a.mu);
    bool ok = a.ok == N + 1 && a.failed == 0 && a.duplicates == 1 && a.max_seq == N &&
              a.seq_sum == (uint64_t)N * (N + 1) / 2;
    if (!ok)
        fprintf(stderr, "acks: ok %zu failed %zu dup %zu max %llu (%s)\n", a.ok, a.failed,
                a.duplicates, (unsigned long long)a.max_seq, a.first_error);
    pthread_mutex_unlock(&a.mu);
    CHECK(ok);
    CHECK(stream_messages(c, "ASYNC") == N);
    /* No stream on the subject: the ack callback gets the failure, naming it. */
    nb_envelope *lost = env_text("m", "nowhere");
    CHECK(lost);
    CHECK_OK(nb_js_publisher_send(publishers[0], "nowhere", lost));
    CHECK_OK(nb_js_publisher_wait(publishers[0], 10000));
    pthread_mutex_lock(&a.mu);
    ok = a.failed == 1 && strstr(a.first_error, "no stream holds this subject");
    pthread_mutex_unlock(&a.mu);
    CHECK(ok);
    /* Someone listens but no stream answers: no ack within the ack timeout is NB_TIMEOUT. */
    nb_subscription *silent = sub_sync(new_client(), "silent.x", NULL);
    CHECK(silent);
    nb_js_publisher *quick = NULL;
    CHECK_OK(nb_js_publisher_create(&quick, c, 4, 300, on_ack, &a));
    publishers[1] = quick;
    int64_t t0 = now_ms();
    CHECK_OK(nb_js_publisher_send(quick, "silent.x", env_text("m", "unheard")));
    CHECK(nb_js_publisher_pending(quick) == 1);
    CHECK_OK(nb_js_publisher_wait(quick, 5000));
    int64_t took = now_ms() - t0;
    pthread_mutex_lock(&a.mu);
    ok = a.failed == 2 && a.last_status == NB_TIMEOUT && strstr(a.last_error, "no ack in time");
    if (!ok)
        fprintf(stderr, "silent: failed %zu, last %s: %s\n", a.failed, nb_status_text(a.last_status),
                a.last_error);
    pthread_mutex_unlock(&a.mu);
    CHECK(ok && took >= 250);
    nb_js_publisher_destroy(publishers[0]);
    publishers[0] = NULL;
}

/* ------------------------------------------------------------------------ */
/* Bad arguments                                                            */
/* ------------------------------------------------------------------------ */

JCASE(bad_arguments, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "ARGS", "args.>"));
    const char *subjects[] = {"a.b"};
    const char *spaced[] = {"a b"};
    nb_js_stream_config cfg = {"S", subjects, 1, NB_JS_FILE, 0, 0, 0};
    CHECK_FAIL(nb_js_stream_ensure(NULL, &cfg, NULL), NB_INVALID_ARG, "client and config");
    CHECK_FAIL(nb_js_stream_ensure(c, NULL, NULL), NB_INVALID_ARG, "client and config");
    cfg.name = "a.b";
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "'a.b' holds '.'");
    cfg.name = "";
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "a name is required");
    cfg.name = "S";
    cfg.subject_count = 0;
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "at least one subject");
    cfg.subject_count = 1;
    cfg.subjects = spaced;
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "subjects[0]");
    cfg.subjects = subjects;
    cfg.replicas = 9;
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "replicas 9");
    cfg.replicas = 0;
    cfg.storage = (nb_js_storage)7;
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "storage 7");
    cfg.storage = NB_JS_FILE;
    cfg.max_age_ms = -1;
    CHECK_FAIL(nb_js_stream_ensure(c, &cfg, NULL), NB_INVALID_ARG, "max age -1");
    nb_js_stream_info *info = NULL;
    CHECK_FAIL(nb_js_stream_info_get(c, "x>", &info), NB_INVALID_ARG, "holds '>'");
    CHECK_FAIL(nb_js_stream_info_get(c, "x", NULL), NB_INVALID_ARG, "out is NULL");
    CHECK_FAIL(nb_js_stream_delete(c, NULL), NB_INVALID_ARG, "a name is required");

    nb_envelope *e = env_text("m", "x");
    CHECK(e);
    CHECK_FAIL(nb_client_js_publish(NULL, "args.a", e, NULL, NULL), NB_INVALID_ARG,
               "client and envelope");
    CHECK_FAIL(nb_client_js_publish(c, "args.a", NULL, NULL, NULL), NB_INVALID_ARG,
               "client and envelope");
    CHECK_FAIL(nb_client_js_publish(c, "args a", e, NULL, NULL), NB_INVALID_ARG, "whitespace");
    CHECK_FAIL(nb_client_js_publish(c, "", e, NULL, NULL), NB_INVALID_ARG, "empty subject");
    nb_js_publish_options po = {-1, 0, 0, NULL};
    CHECK_FAIL(nb_client_js_publish(c, "args.a", e, &po, NULL), NB_INVALID_ARG, "timeout_ms -1");
    po.timeout_ms = 0;
    po.expect_stream = "no.dots";
    CHECK_FAIL(nb_client_js_publish(c, "args.a", e, &po, NULL), NB_INVALID_ARG, "expect_stream");

    nb_js_publisher *p = NULL;
    CHECK_FAIL(nb_js_publisher_create(&p, c, 4, 1000, NULL, NULL), NB_INVALID_ARG, "on_ack");
    CHECK_FAIL(nb_js_publisher_create(&p, c, -4, 1000, on_ack, NULL), NB_INVALID_ARG,
               "max_pending -4");
    CHECK(p == NULL);
    CHECK_FAIL(nb_js_publisher_send(NULL, "args.a", e), NB_INVALID_ARG, "publisher is NULL");
    CHECK_FAIL(nb_js_publisher_wait(NULL, 10), NB_INVALID_ARG, "publisher wait");
    nb_js_publisher_destroy(NULL);

    nb_js_consumer *k = NULL;
    nb_js_consumer_config cc = consumer_cfg("args.>", "D");
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, NULL, NULL, NULL), NB_INVALID_ARG,
               "on_envelope");
    /* No durable is an ephemeral consumer (issue 13); an empty name is still refused. */
    cc.durable = NULL;
    CHECK_OK(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]));
    nb_js_consumer_destroy(k);
    k = NULL;
    cc.inactive_threshold_ms = -1;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "inactive_threshold_ms -1");
    cc.inactive_threshold_ms = 0;
    cc.durable = "";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "durable: a name is required");
    cc.durable = "has.dot";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "'has.dot' holds '.'");
    cc.durable = "D";
    cc.subject = "";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "empty subject");
    cc.subject = "args.>";
    cc.batch = -1;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "batch -1");
    cc.batch = 0;
    cc.start = NB_JS_START_SEQUENCE;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "start_sequence must be at least 1");
    cc.start = (nb_js_start)42;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "start 42");
    cc.start = NB_JS_START_ALL;
    cc.ack_wait_ms = -5;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "ack_wait_ms -5");
    cc.ack_wait_ms = 0;
    cc.subject = "nothing.here";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "no stream holds subject 'nothing.here'");
    cc.stream = "NOPE";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_NOT_FOUND, "no such stream");
    /* The server refuses a filter outside the stream: its reason, naming durable and stream. */
    cc.stream = "ARGS";
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "durable 'D' on stream 'ARGS': ");
    CHECK(strstr(nb_last_error(), "filter subject"));
    CHECK(k == NULL);
    CHECK_FAIL(nb_js_consumer_delete(c, "ARGS", "never"), NB_NOT_FOUND, "no such consumer");
    nb_js_consumer_destroy(NULL);
}

/* ------------------------------------------------------------------------ */
/* Consuming                                                                */
/* ------------------------------------------------------------------------ */

JCASE(consume_acks_after_callback, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "WORK", "work.>"));
    CHECK(publish_range(c, "work.a", 0, 20));
    nb_js_consumer_config cfg = consumer_cfg("work.>", "worker");
    cfg.batch = 7;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 20, 10000));
    /* In order, first deliveries, metadata filled. */
    for (size_t i = 0; i < 20; i++)
        CHECK(tallies[0].seqs[i] == i + 1 && tallies[0].delivered[i] == 1);
    stop_consumer(0);
    /* Everything was acked: the same durable gets only what comes next. */
    CHECK(publish_range(c, "work.b", 20, 25));
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 25, 10000));
    sleep_ms(300);
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 25);
    CHECK(tally_read(&tallies[0], &tallies[0].dups) == 0);
    stop_consumer(0);
    CHECK_OK(nb_js_consumer_delete(c, "WORK", "worker"));
}

JCASE(callback_nak_and_term, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "VERDICT", "v.>"));
    CHECK(publish_range(c, "v.a", 0, 5));
    tallies[0].nak_first = true; /* every message comes back once */
    tallies[0].term_index = 3;   /* m3 is rejected for good on its second delivery */
    nb_js_consumer_config cfg = consumer_cfg("v.>", "picky");
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 4, 10000));
    sleep_ms(2500); /* past the ack wait: nothing more may come */
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 10);
    for (int i = 0; i < 5; i++)
        CHECK(i == 3 ? tallies[0].seen[i] == 0 : tallies[0].seen[i] == 1 && tallies[0].delivered[i] == 2);
}

JCASE(destroy_in_callback, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "SELF", "self.>"));
    CHECK(publish_range(c, "self.a", 0, 10));
    tallies[0].destroy_at = 3;
    tallies[0].self = &consumers[0];
    nb_js_consumer_config cfg = consumer_cfg("self.>", "quitter");
    cfg.batch = 10;
    cfg.ack_wait_ms = 20000; /* so "straight away" below cannot be a redelivery after ack wait */
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].total, 3, 10000));
    sleep_ms(300);
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 3);
    /* The rest of the batch was naked at once: a new consumer gets m3..m9 straight away. */
    CHECK(consume(c, 1, &cfg, &tallies[1]));
    CHECK(tally_wait(&tallies[1], &tallies[1].distinct, 7, 10000));
    CHECK(tallies[1].seen[2] == 0 && tallies[1].seen[3] == 1 && tallies[1].seen[9] == 1);
}

/* ---- at-least-once ------------------------------------------------------- */

typedef struct pub_job {
    nb_client *client;
    const char *subject;
    int count;
    int64_t pause_ms;
    atomic_int done;
    nb_status status;
    char error[512];
    int duplicates; /* acks saying duplicate: a retry after a lost ack */
} pub_job;

/* Publishes m0..m<count-1> with retries, as a sender that must not lose any would. */
static void *publisher_main(void *arg)
{
    pub_job *j = arg;
    nb_js_publish_options po = {2000, 100, 100, NULL};
    for (int i = 0; i < j->count; i++) {
        nb_envelope *e = numbered(i);
        nb_js_ack ack;
        nb_status s = e ? nb_client_js_publish(j->client, j->subject, e, &po, &ack) : NB_NO_MEMORY;
        nb_envelope_destroy(e);
        if (s != NB_OK) {
            j->status = s;
            snprintf(j->error, sizeof j->error, "m%d: %s", i, nb_last_error());
            break;
        }
        j->duplicates += ack.duplicate;
        atomic_store(&j->done, i + 1);
        if (j->pause_ms)
            sleep_ms(j->pause_ms);
    }
    return NULL;
}

/* Resets *job and starts publisher_main for m0..m<count-1> on subject on thread *th. */
static bool start_publisher(pub_job *job, pthread_t *th, nb_client *c, const char *subject,
                            int count, int64_t pause_ms)
{
    memset(job, 0, sizeof *job);
    job->client = c;
    job->subject = subject;
    job->count = count;
    job->pause_ms = pause_ms;
    return pthread_create(th, NULL, publisher_main, job) == 0;
}

/* A durable with batch 50 and a 1 s ack wait: lost acks come back as redeliveries soon. */
static nb_js_consumer_config restart_cfg(const char *subject, const char *durable)
{
    nb_js_consumer_config cfg = consumer_cfg(subject, durable);
    cfg.batch = 50;
    cfg.ack_wait_ms = 1000;
    return cfg;
}

static bool wait_published(pub_job *j, int n, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += 10) {
        if (atomic_load(&j->done) >= n || j->status != NB_OK)
            return atomic_load(&j->done) >= n;
        sleep_ms(10);
    }
    return false;
}

static bool all_seen(tally *t, int n)
{
    for (int i = 0; i < n; i++)
        if (t->seen[i] < 1) {
            fprintf(stderr, "m%d was never processed\n", i);
            return false;
        }
    return true;
}

JCASE(at_least_once_consumer_restart, 0)
{
    enum { N = 1000 };
    nb_client *pc = new_client();
    nb_client *cc = new_client();
    CHECK(pc && cc && make_stream(pc, "ALO", "alo.>"));
    nb_js_consumer_config cfg = restart_cfg("alo.>", "survivor");
    CHECK(consume(cc, 0, &cfg, &tallies[0]));
    static pub_job job;
    pthread_t th;
    CHECK(start_publisher(&job, &th, pc, "alo.x", N, 1));
    /* Midway: the consumer goes away while messages keep coming, then comes back. */
    bool midway = tally_wait(&tallies[0], &tallies[0].total, 300, 30000);
    stop_consumer(0);
    size_t at_stop = tally_read(&tallies[0], &tallies[0].total);
    int published_at_stop = atomic_load(&job.done);
    sleep_ms(300);
    nb_js_consumer *again = consume(cc, 0, &cfg, &tallies[0]);
    pthread_join(th, NULL);
    CHECK(midway && again);
    CHECK_OK(job.status);
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, N, 60000));
    sleep_ms(1500); /* past the ack wait: redeliveries of lost acks would show now */
    pthread_mutex_lock(&tallies[0].mu);
    bool every = all_seen(&tallies[0], N);
    fprintf(stderr,
            "note: consumer restart: stopped after %zu processed (%d published), then: "
            "%zu processed, %zu distinct, %zu duplicates, %zu unknown\n",
            at_stop, published_at_stop, tallies[0].total, tallies[0].distinct, tallies[0].dups,
            tallies[0].unknown);
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(every);
    CHECK(published_at_stop < N); /* the restart really was midway */
    CHECK(stream_messages(pc, "ALO") == N);
}

JCASE(at_least_once_server_restart, 0)
{
    enum { N = 1000 };
    nb_client *pc = connect_with(sturdy_opts());
    nb_client *cc = connect_with(sturdy_opts());
    CHECK(pc && cc && make_stream(pc, "ALS", "als.>"));
    nb_js_consumer_config cfg = restart_cfg("als.>", "steadfast");
    CHECK(consume(cc, 0, &cfg, &tallies[0]));
    static pub_job job;
    pthread_t th;
    CHECK(start_publisher(&job, &th, pc, "als.x", N, 2));
    bool midway = wait_published(&job, 300, 30000);
    nbt_server_kill(&T.srv);
    int published_at_kill = atomic_load(&job.done);
    sleep_ms(500);
    int restarted = nbt_server_restart(&T.srv);
    pthread_join(th, NULL);
    CHECK(midway && restarted == 0);
    CHECK_OK(job.status);
    if (job.status != NB_OK)
        fprintf(stderr, "publisher: %s\n", job.error);
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, N, 60000));
    sleep_ms(1500);
    pthread_mutex_lock(&tallies[0].mu);
    bool every = all_seen(&tallies[0], N);
    fprintf(stderr,
            "note: server restart after %d published: %zu processed, %zu distinct, "
            "%zu duplicates, %zu pull errors; %d publish acks said duplicate\n",
            published_at_kill, tallies[0].total, tallies[0].distinct, tallies[0].dups,
            tallies[0].pull_errors, job.duplicates);
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(every);
    CHECK(published_at_kill < N);
    /* Retries with the same msg_id were dropped by the duplicate window: exactly N stored. */
    CHECK(stream_messages(pc, "ALS") == N);
}

/* ------------------------------------------------------------------------ */
/* Link payloads: nak while the file server is down, term when they are bad */
/* ------------------------------------------------------------------------ */

static char fs_dir[300];
static char fs_url[64];

static bool fs_start_on(int port)
{
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .port = port, .dir = fs_dir, .quiet = true};
    REQUIRE_OK(nb_fileserver_start(&T.fs, &cfg));
    snprintf(fs_url, sizeof fs_url, "http://127.0.0.1:%d", nb_fileserver_port(T.fs));
    return true;
}

static bool fs_start(void)
{
    const char *dir = case_dir();
    REQUIRE(dir);
    snprintf(fs_dir, sizeof fs_dir, "%s/files", dir);
    return fs_start_on(0);
}

/* Sender: everything over 1000 bytes by link; receiver: few quick retries. */
static nb_client *link_client(void)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_fileserver_url(o, fs_url) != NB_OK ||
        nb_options_set_size_threshold(o, 1000) != NB_OK ||
        nb_options_set_backoff(o, 1, 20, 50) != NB_OK) {
        fprintf(stderr, "link_client: %s\n", nb_last_error());
        return NULL;
    }
    return connect_with(o);
}

/* The one stored file of the file server with this suffix. */
static bool stored_file(const char *suffix, char *out, size_t outsz)
{
    DIR *d = opendir(fs_dir);
    REQUIRE(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0 && n++ == 0)
            snprintf(out, outsz, "%s/%s", fs_dir, de->d_name);
    }
    closedir(d);
    REQUIRE(n == 1);
    return true;
}

static nb_envelope *link_envelope(const char *text, uint8_t *bytes, size_t n)
{
    nb_envelope *e = env_text("msg", text);
    if (e && !add(e, bytes_payload("blob", NB_TYPE_BINARY, bytes, n)))
        return NULL;
    return e;
}

/* Starts the file server: a link_client with stream LINKS (links.>), or NULL. */
static nb_client *links_setup(void)
{
    nb_client *c = fs_start() ? link_client() : NULL;
    return c && make_stream(c, "LINKS", "links.>") ? c : NULL;
}

/* Publishes "m0" with n bytes as payload "blob" on links.a: the envelope (tracked), or NULL. */
static nb_envelope *publish_link(nb_client *c, uint8_t *bytes, size_t n)
{
    nb_envelope *e = link_envelope("m0", bytes, n);
    REQUIRE(e);
    REQUIRE_OK(nb_client_js_publish(c, "links.a", e, NULL, NULL));
    return e;
}

JCASE(nak_during_fileserver_outage, 0)
{
    static uint8_t bytes[20000];
    fill_bytes(bytes, sizeof bytes, 77);
    nb_client *c = links_setup();
    CHECK(c);
    nb_envelope *e = publish_link(c, bytes, sizeof bytes);
    CHECK(e);
    CHECK(nb_payload_transport(nb_envelope_payload(e, 1)) == NB_TRANSPORT_LINK);
    int port = nb_fileserver_port(T.fs);
    nb_fileserver_stop(T.fs); /* the file stays on disk */
    T.fs = NULL;

    nb_js_consumer_config cfg = consumer_cfg("links.>", "patient");
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    /* Downloads fail: naked, and it comes back (twice at least) while the server is down. */
    CHECK(tally_wait(&tallies[0], &tallies[0].naks, 2, 10000));
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 0);
    CHECK(strstr(tallies[0].first_error, "stream seq 1 (delivery 1): naked, back in 100 ms"));
    CHECK(fs_start_on(port));
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 1, 10000));
    CHECK(tallies[0].delivered[0] >= 3);
    CHECK(tallies[0].terms == 0);
}

JCASE(max_deliver_gives_up, 0)
{
    static uint8_t bytes[5000];
    nb_client *c = links_setup();
    CHECK(c);
    nb_envelope *e = publish_link(c, bytes, sizeof bytes);
    CHECK(e);
    nb_fileserver_stop(T.fs); /* down for good */
    T.fs = NULL;
    /* The second delivery is the last one allowed: terminated, and said so, not naked again. */
    nb_js_consumer_config cfg = consumer_cfg("links.>", "bounded");
    cfg.max_deliver = 2;
    cfg.ack_wait_ms = 500;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].terms, 1, 10000));
    sleep_ms(1000);
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].naks == 1 && tallies[0].terms == 1 && tallies[0].term_seq[0] == 1 &&
              tallies[0].term_status[0] == NB_HTTP && tallies[0].total == 0;
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
    CHECK(strstr(tallies[0].last_error, "(delivery 2): terminated, the last of max_deliver 2"));
}

/* Flips one byte in the middle of a file, keeping its length. */
static bool corrupt(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    int c = fseek(f, at, SEEK_SET) == 0 ? fgetc(f) : EOF;
    bool ok = c != EOF && fseek(f, at, SEEK_SET) == 0 && fputc(c ^ 0xff, f) != EOF;
    ok = fclose(f) == 0 && ok;
    REQUIRE(ok);
    return true;
}

/* Publishes bytes as a message of stream "LINKS" without natsbridge (a malformed envelope). */
static bool raw_js_publish(const char *subject, const char *text)
{
    jsCtx *js = NULL;
    natsConnection *nc = NULL;
    REQUIRE(natsConnection_ConnectTo(&nc, T.srv.url) == NATS_OK);
    bool ok = natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
              js_Publish(NULL, js, subject, text, (int)strlen(text), NULL, NULL) == NATS_OK;
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    REQUIRE(ok);
    return true;
}

JCASE(term_corrupted, 0)
{
    static uint8_t bytes[20000];
    fill_bytes(bytes, sizeof bytes, 78);
    nb_client *c = links_setup();
    CHECK(c);
    CHECK(raw_js_publish("links.raw", "{\"this is\": \"not an envelope\""));
    CHECK(raw_js_publish("links.raw", "{\"correlation_id\":\"x\",\"payloads\":7}"));
    nb_envelope *e = publish_link(c, bytes, sizeof bytes);
    CHECK(e);
    char data[400];
    CHECK(stored_file(".data", data, sizeof data));
    CHECK(corrupt(data, 10000));
    CHECK(publish_range(c, "links.b", 1, 2)); /* and a good one after them */

    nb_js_consumer_config cfg = consumer_cfg("links.>", "strict");
    cfg.ack_wait_ms = 1000;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 1, 10000));
    CHECK(tally_wait(&tallies[0], &tallies[0].terms, 3, 10000));
    sleep_ms(1500); /* past the ack wait: terminated messages never come back */
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].terms == 3 && tallies[0].naks == 0 && tallies[0].total == 1 &&
              tallies[0].seen[1] == 1 && tallies[0].term_seq[0] == 1 &&
              tallies[0].term_status[0] == NB_BAD_ENVELOPE && tallies[0].term_seq[1] == 2 &&
              tallies[0].term_status[1] == NB_BAD_ENVELOPE && tallies[0].term_seq[2] == 3 &&
              tallies[0].term_status[2] == NB_INTEGRITY;
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
    CHECK(strstr(tallies[0].first_error,
                 "consumer 'strict' on stream 'LINKS': stream seq 1 (delivery 1): terminated"));
}

JCASE(term_not_found, 0)
{
    static uint8_t bytes[5000];
    nb_client *c = links_setup();
    CHECK(c);
    nb_envelope *e = publish_link(c, bytes, sizeof bytes);
    CHECK(e);
    char data[400], side[400];
    CHECK(stored_file(".data", data, sizeof data));
    CHECK(stored_file(".json", side, sizeof side));
    CHECK(unlink(data) == 0 && unlink(side) == 0);
    /* 404: maybe late (a replica), so it is naked until the 3rd delivery, then terminated. */
    nb_js_consumer_config cfg = consumer_cfg("links.>", "seeker");
    cfg.not_found_deliveries = 3;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].terms, 1, 10000));
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].naks == 2 && tallies[0].term_seq[0] == 1 &&
              tallies[0].term_status[0] == NB_NOT_FOUND && tallies[0].total == 0;
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
}

JCASE(term_object_not_found, 0)
{
    /* An Object Store link whose bucket is gone: like a 404, naked, then terminated. */
    static uint8_t bytes[5000];
    fill_bytes(bytes, sizeof bytes, 79);
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_link_store(o, "nats-os://LINKOS"));
    CHECK_OK(nb_options_set_size_threshold(o, 1000));
    nb_client *c = connect_with(o);
    CHECK(c && make_stream(c, "LINKS", "links.>"));
    nb_envelope *e = publish_link(c, bytes, sizeof bytes);
    CHECK(e);
    CHECK(strncmp(nb_payload_url(nb_envelope_payload(e, 1)), "nats-os://LINKOS/", 17) == 0);
    CHECK_OK(nb_objstore_delete_bucket(c, "LINKOS"));
    nb_js_consumer_config cfg = consumer_cfg("links.>", "osseeker");
    cfg.not_found_deliveries = 2;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].terms, 1, 10000));
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].naks == 1 && tallies[0].term_seq[0] == 1 &&
              tallies[0].term_status[0] == NB_NOT_FOUND && tallies[0].total == 0;
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
    CHECK(strstr(tallies[0].last_error, "not found"));
}

/* ------------------------------------------------------------------------ */
/* Replay and durables                                                      */
/* ------------------------------------------------------------------------ */

JCASE(replay_starts, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "REPLAY", "rp.>"));
    CHECK(publish_range(c, "rp.a", 0, 5));
    /* A start time early in its second (.0xy): nats.c 3.4.1 would send it as .xy (later). */
    sleep_ms(20);
    while (unix_ms() % 1000 < 10 || unix_ms() % 1000 > 60)
        sleep_ms(5);
    int64_t middle = unix_ms();
    sleep_ms(50);
    CHECK(publish_range(c, "rp.a", 5, 10));

    nb_js_consumer_config all = consumer_cfg("rp.>", "from-start");
    CHECK(consume(c, 0, &all, &tallies[0]));
    nb_js_consumer_config seq = consumer_cfg("rp.>", "from-seq");
    seq.start = NB_JS_START_SEQUENCE;
    seq.start_sequence = 4;
    CHECK(consume(c, 1, &seq, &tallies[1]));
    nb_js_consumer_config tm = consumer_cfg("rp.>", "from-time");
    tm.start = NB_JS_START_TIME;
    tm.start_time_ms = middle;
    CHECK(consume(c, 2, &tm, &tallies[2]));
    nb_js_consumer_config fresh = consumer_cfg("rp.>", "new-only");
    fresh.start = NB_JS_START_NEW;
    CHECK(consume(c, 3, &fresh, &tallies[3]));

    CHECK(tally_wait(&tallies[0], &tallies[0].total, 10, 10000));
    CHECK(tally_wait(&tallies[1], &tallies[1].total, 7, 10000));
    CHECK(tally_wait(&tallies[2], &tallies[2].total, 5, 10000));
    sleep_ms(300);
    CHECK(tally_read(&tallies[3], &tallies[3].total) == 0);
    CHECK(publish_range(c, "rp.a", 10, 11));
    CHECK(tally_wait(&tallies[3], &tallies[3].total, 1, 10000));
    CHECK(tally_wait(&tallies[0], &tallies[0].total, 11, 10000));
    CHECK(tallies[1].seqs[0] == 4 && tallies[1].seen[3] == 1 && tallies[1].seen[2] == 0);
    CHECK(tallies[2].seqs[0] == 6 && tallies[2].seen[5] == 1 && tallies[2].seen[4] == 0);
    CHECK(tallies[3].seqs[0] == 11 && tallies[3].seen[10] == 1);
    for (int i = 0; i < 11; i++)
        CHECK(tallies[0].seen[i] == 1 && tallies[0].seqs[i] == (uint64_t)i + 1);
}

/* A durable's start time, ack wait and max deliver as the server has them, read with nats.c. */
static bool raw_consumer_info(const char *stream, const char *durable, int64_t *start_ms,
                              int64_t *ack_wait_ms, int64_t *max_deliver)
{
    jsCtx *js = NULL;
    natsConnection *nc = NULL;
    jsConsumerInfo *ci = NULL;
    REQUIRE(natsConnection_ConnectTo(&nc, T.srv.url) == NATS_OK);
    bool ok = natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
              js_GetConsumerInfo(&ci, js, stream, durable, NULL, NULL) == NATS_OK;
    if (ok) {
        *start_ms = ci->Config->OptStartTime / 1000000;
        *ack_wait_ms = ci->Config->AckWait / 1000000;
        *max_deliver = ci->Config->MaxDeliver;
    }
    jsConsumerInfo_Destroy(ci);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    REQUIRE(ok);
    return true;
}

JCASE(durable_conflicts, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "DUR", "dur.>"));
    nb_js_consumer_config cfg = consumer_cfg("dur.a", "one");
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    stop_consumer(0);
    nb_js_consumer *k = NULL;
    nb_js_consumer_config other = consumer_cfg("dur.b", "one");
    CHECK_FAIL(nb_js_consumer_create(&k, c, &other, on_js_envelope, on_js_error, &tallies[0]),
               NB_INVALID_ARG, "durable 'one' exists with subject 'dur.a' (asked 'dur.b')");
    other = consumer_cfg("dur.a", "one");
    other.start = NB_JS_START_SEQUENCE;
    other.start_sequence = 3;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &other, on_js_envelope, on_js_error, &tallies[0]),
               NB_INVALID_ARG, "exists with start 'all' (asked 'from a sequence')");
    CHECK(k == NULL);
    /* A durable from a time is kept as it is: the same start binds, another ack wait is named. */
    nb_js_consumer_config when = consumer_cfg("dur.a", "when");
    when.start = NB_JS_START_TIME;
    when.start_time_ms = unix_ms() / 1000 * 1000 + 7;
    CHECK(consume(c, 0, &when, &tallies[0]));
    stop_consumer(0);
    CHECK(consume(c, 0, &when, &tallies[0]));
    stop_consumer(0);
    int64_t start_ms = 0, ack_wait_ms = 0, max_deliver = 0;
    CHECK(raw_consumer_info("DUR", "when", &start_ms, &ack_wait_ms, &max_deliver));
    CHECK(start_ms == when.start_time_ms && ack_wait_ms == 2000 && max_deliver == -1);
    when.ack_wait_ms = 9000;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &when, on_js_envelope, on_js_error, &tallies[0]),
               NB_INVALID_ARG, "starts from a time and cannot be updated: it has ack wait 2000 ms");
    /* Ack wait and max deliver are updated on an existing durable. */
    other = consumer_cfg("dur.a", "one");
    other.ack_wait_ms = 7000;
    other.max_deliver = 4;
    CHECK(consume(c, 0, &other, &tallies[0]));
    stop_consumer(0);
    CHECK_OK(nb_js_consumer_delete(c, "DUR", "one"));
    CHECK_FAIL(nb_js_consumer_delete(c, "DUR", "one"), NB_NOT_FOUND, "no such consumer");
}

/* ------------------------------------------------------------------------ */
/* Review cases: bounds, destroy from callbacks, in progress, last delivery  */
/* ------------------------------------------------------------------------ */

JCASE(duration_bounds, 0)
{
    /* Durations near INT64_MAX would overflow nats.c's clock (ms) or the server's ns. */
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "BOUNDS", "bounds.>"));
    nb_js_consumer *k = NULL;
    nb_js_consumer_config cc = consumer_cfg("bounds.>", "D");
    cc.nak_delay_ms = INT64_MAX;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "consumer 'D': nak_delay_ms 9223372036854775807 ms");
    cc.nak_delay_ms = 0;
    cc.max_nak_delay_ms = INT64_MAX / 1000;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "max_nak_delay_ms");
    cc.max_nak_delay_ms = 0;
    cc.ack_wait_ms = INT64_MAX / 1000000;
    CHECK_FAIL(nb_js_consumer_create(&k, c, &cc, on_js_envelope, NULL, &tallies[0]),
               NB_INVALID_ARG, "ack_wait_ms");
    CHECK(k == NULL);
    nb_js_publisher *p = NULL;
    CHECK_FAIL(nb_js_publisher_create(&p, c, 4, INT64_MAX, on_ack, NULL), NB_INVALID_ARG,
               "ack_timeout_ms 9223372036854775807");
    nb_js_publisher_destroy(p);
    nb_js_publish_options po = {INT64_MAX, 0, 0, NULL};
    CHECK_FAIL(nb_client_js_publish(c, "bounds.a", env_text("m", "x"), &po, NULL), NB_INVALID_ARG,
               "JetStream publish on 'bounds.a': timeout_ms 9223372036854775807");
    po.timeout_ms = 0;
    po.retry_delay_ms = -1;
    CHECK_FAIL(nb_client_js_publish(c, "bounds.a", env_text("m", "x"), &po, NULL), NB_INVALID_ARG,
               "retry_delay_ms -1");
    CHECK(stream_messages(c, "BOUNDS") == 0);
    /* A long ack wait (20 days in ns is 1.728e15) reaches the server as an integer. */
    nb_js_consumer_config when = consumer_cfg("bounds.>", "patient");
    when.start = NB_JS_START_TIME;
    when.start_time_ms = unix_ms();
    when.ack_wait_ms = 20LL * 24 * 3600 * 1000;
    CHECK(consume(c, 0, &when, &tallies[0]));
    stop_consumer(0);
    CHECK(consume(c, 0, &when, &tallies[0])); /* bound again: the same ack wait */
}

static nb_client *doomed_client;

/* Destroys its consumer, then the client: nothing of the client may be used afterwards. */
static nb_js_action destroy_all_cb(nb_js_consumer *cons, nb_envelope *env,
                                   const nb_js_delivery *d, void *closure)
{
    (void)d;
    tally *t = closure;
    nb_envelope_destroy(env);
    nb_js_consumer_destroy(cons);
    nb_client_destroy(doomed_client);
    pthread_mutex_lock(&t->mu);
    t->total++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return NB_JS_ACK;
}

JCASE(destroy_client_in_callback, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "GONE", "gone.>"));
    CHECK(publish_range(c, "gone.a", 0, 5));
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_client_connect(&doomed_client, o));
    nb_js_consumer *k = NULL;
    nb_js_consumer_config cfg = consumer_cfg("gone.>", "last-one");
    cfg.batch = 5;
    CHECK_OK(nb_js_consumer_create(&k, doomed_client, &cfg, destroy_all_cb, NULL, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].total, 1, 10000));
    sleep_ms(1500); /* the consumer's thread ends on its own, using no freed client */
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 1);
}

JCASE(destroy_during_callback, 0)
{
    /* Destroyed from another thread while its callback runs: waits for it, applies its ack. */
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "BUSY", "busy.>"));
    CHECK(publish_range(c, "busy.a", 0, 3));
    tallies[0].slow_first_ms = 1000;
    nb_js_consumer_config cfg = consumer_cfg("busy.>", "busy");
    cfg.batch = 3;
    cfg.ack_wait_ms = 1000;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].total, 1, 10000));
    stop_consumer(0); /* m0's callback is still sleeping */
    CHECK(tally_read(&tallies[0], &tallies[0].total) == 1);
    /* m0 was acked; m1 and m2 were handed back at once: the next consumer gets just those. */
    tallies[0].slow_first_ms = 0;
    CHECK(consume(c, 0, &cfg, &tallies[1]));
    CHECK(tally_wait(&tallies[1], &tallies[1].distinct, 2, 10000));
    sleep_ms(1500); /* past the ack wait: m0 would be back by now had its ack been lost */
    pthread_mutex_lock(&tallies[1].mu);
    bool ok = tallies[1].total == 2 && tallies[1].seen[0] == 0 && tallies[1].seen[1] == 1 &&
              tallies[1].seen[2] == 1;
    pthread_mutex_unlock(&tallies[1].mu);
    CHECK(ok);
}

JCASE(in_progress_while_handling, 0)
{
    /* Two consumers share a durable; handling takes 2.5 ack waits: no one else gets it. */
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "SLOW", "slow.>"));
    tallies[0].slow_first_ms = 2500;
    nb_js_consumer_config cfg = consumer_cfg("slow.>", "shared");
    cfg.ack_wait_ms = 1000;
    cfg.batch = 2;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(consume(c, 1, &cfg, &tallies[0]));
    CHECK(publish_range(c, "slow.a", 0, 2)); /* m1 may wait behind m0 in one batch */
    CHECK(tally_wait(&tallies[0], &tallies[0].distinct, 2, 10000));
    sleep_ms(3500);
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].total == 2 && tallies[0].dups == 0 && tallies[0].delivered[0] == 1 &&
              tallies[0].delivered[1] == 1;
    if (!ok)
        fprintf(stderr, "in progress: total %zu, dups %zu, deliveries %llu %llu\n",
                tallies[0].total, tallies[0].dups, (unsigned long long)tallies[0].delivered[0],
                (unsigned long long)tallies[0].delivered[1]);
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
}

JCASE(callback_nak_last_delivery, 0)
{
    /* The callback naks every time: the last delivery max_deliver allows is a reported term. */
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "LAST", "last.>"));
    CHECK(publish_range(c, "last.a", 0, 1));
    tallies[0].nak_all = true;
    nb_js_consumer_config cfg = consumer_cfg("last.>", "giver-up");
    cfg.max_deliver = 2;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].terms, 1, 10000));
    sleep_ms(500);
    pthread_mutex_lock(&tallies[0].mu);
    bool ok = tallies[0].total == 2 && tallies[0].terms == 1 && tallies[0].term_seq[0] == 1 &&
              strstr(tallies[0].last_error, "stream seq 1 (delivery 2): the callback naked the "
                                            "last of max_deliver 2") &&
              strstr(tallies[0].last_error, "giver-up");
    pthread_mutex_unlock(&tallies[0].mu);
    CHECK(ok);
}

/* What on_ack saw when its calls are held back until every message is sent. */
typedef struct held_acks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool all_sent;
    size_t calls, ok, abandoned;
    size_t inside, overlaps; /* calls running now; calls begun while another ran */
} held_acks;

static void held_acks_init(held_acks *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
}

/* Under a->mu: waits until the test has sent everything, then counts this call (true: the first). */
static bool held_ack_enter(held_acks *a, nb_status s)
{
    while (!a->all_sent)
        pthread_cond_wait(&a->cv, &a->mu);
    a->ok += s == NB_OK;
    return a->calls++ == 0;
}

/* Lets the held on_ack calls go. */
static void held_acks_release(held_acks *a)
{
    pthread_mutex_lock(&a->mu);
    a->all_sent = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Sends "m0" .. "m<n-1>" through the async publisher p. */
static bool send_numbered(nb_js_publisher *p, const char *subject, int n)
{
    for (int i = 0; i < n; i++) {
        nb_envelope *e = numbered(i);
        REQUIRE(e);
        nb_status s = nb_js_publisher_send(p, subject, e);
        nb_envelope_destroy(e);
        REQUIRE_OK(s);
    }
    return true;
}

/* The first ack (once all are sent) destroys the publisher; every message still gets one call. */
static void destroying_ack(nb_js_publisher *p, const char *msg_id, const char *subject,
                           nb_status s, const char *error, const nb_js_ack *ack, void *closure)
{
    (void)msg_id;
    (void)subject;
    (void)error;
    (void)ack;
    held_acks *a = closure;
    pthread_mutex_lock(&a->mu);
    bool first = held_ack_enter(a, s);
    a->abandoned += s == NB_TIMEOUT;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (first) {
        CHECK_FAIL(nb_js_publisher_wait(p, 10), NB_INVALID_ARG, "not from its own on_ack");
        nb_js_publisher_destroy(p);
    }
}

JCASE(publisher_destroy_in_ack, 0)
{
    enum { N = 50 };
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "PDA", "pda.>"));
    static held_acks a;
    held_acks_init(&a);
    nb_js_publisher *p = NULL;
    CHECK_OK(nb_js_publisher_create(&p, c, N, 500, destroying_ack, &a));
    CHECK(send_numbered(p, "pda.x", N));
    held_acks_release(&a); /* acks held back until now: the first one destroys p */
    pthread_mutex_lock(&a.mu);
    struct timespec dl = deadline_in(10000);
    while (a.calls < N && pthread_cond_timedwait(&a.cv, &a.mu, &dl) == 0)
        ;
    pthread_mutex_unlock(&a.mu);
    sleep_ms(1000); /* no call comes after the last one, and p is gone without a trace */
    pthread_mutex_lock(&a.mu);
    bool ok = a.calls == N && a.calls == a.ok + a.abandoned;
    fprintf(stderr, "note: destroy in on_ack: %zu calls, %zu ok, %zu abandoned\n", a.calls, a.ok,
            a.abandoned);
    pthread_mutex_unlock(&a.mu);
    CHECK(ok);
}

/* The first call takes 1.5 s, holding up nats.c's ack thread; calls must never overlap. */
static void slow_ack(nb_js_publisher *p, const char *msg_id, const char *subject, nb_status s,
                     const char *error, const nb_js_ack *ack, void *closure)
{
    (void)p;
    (void)msg_id;
    (void)subject;
    (void)ack;
    held_acks *a = closure;
    pthread_mutex_lock(&a->mu);
    bool first = held_ack_enter(a, s); /* so that destroy gives up while the first call still runs */
    a->overlaps += a->inside++ > 0;
    a->abandoned += s == NB_TIMEOUT && strstr(error, "publisher destroyed before the ack came");
    pthread_mutex_unlock(&a->mu);
    if (first)
        sleep_ms(1500);
    pthread_mutex_lock(&a->mu);
    a->inside--;
    pthread_mutex_unlock(&a->mu);
}

JCASE(publisher_destroy_abandons, 0)
{
    /* Acks stuck behind a slow on_ack: destroy gives up on them; one call each, one at a time. */
    enum { N = 20 };
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "PAB", "pab.>"));
    static held_acks a;
    held_acks_init(&a);
    nb_js_publisher *p = NULL;
    CHECK_OK(nb_js_publisher_create(&p, c, N, 200, slow_ack, &a));
    CHECK(send_numbered(p, "pab.x", N));
    held_acks_release(&a);
    nb_js_publisher_destroy(p); /* waits 1.2 s, then abandons what nats.c still holds */
    pthread_mutex_lock(&a.mu);
    bool ok = a.calls == N && a.overlaps == 0 && a.inside == 0 && a.ok + a.abandoned == N &&
              a.abandoned > 0;
    fprintf(stderr, "note: destroy with acks held up: %zu calls, %zu ok, %zu abandoned, "
            "%zu overlaps\n", a.calls, a.ok, a.abandoned, a.overlaps);
    pthread_mutex_unlock(&a.mu);
    CHECK(ok);
    CHECK(stream_messages(c, "PAB") == N); /* stored all the same: "may or may not be stored" */
}

/* ------------------------------------------------------------------------ */
/* A consumer in a process of its own, to be killed (SIGKILL) midway         */
/* ------------------------------------------------------------------------ */

#define CHILD_FLAG "--consumer-child"

static int child_out = -1;

/* Child: one line "m<i> <delivery>" per processed message, written before the ack. */
static nb_js_action child_envelope(nb_js_consumer *cons, nb_envelope *env,
                                   const nb_js_delivery *d, void *closure)
{
    (void)cons;
    (void)closure;
    char line[64];
    int n = snprintf(line, sizeof line, "%s %llu\n", first_text(env),
                     (unsigned long long)d->delivered);
    nb_envelope_destroy(env);
    return write(child_out, line, (size_t)n) == n ? NB_JS_ACK : NB_JS_NAK;
}

/* `test_jetstream --consumer-child URL SUBJECT DURABLE OUTFILE`: consumes for at most 60 s. */
static int consumer_child(char **argv)
{
    child_out = open(argv[5], O_WRONLY | O_APPEND | O_CREAT, 0644);
    nb_options *o = NULL;
    nb_client *c = NULL;
    nb_js_consumer *k = NULL;
    nb_js_consumer_config cfg = consumer_cfg(argv[3], argv[4]);
    cfg.batch = 50;
    cfg.ack_wait_ms = 1000;
    if (child_out < 0 || nb_options_create(&o) || nb_options_set_url(o, argv[2]) ||
        nb_client_connect(&c, o) ||
        nb_js_consumer_create(&k, c, &cfg, child_envelope, NULL, NULL)) {
        fprintf(stderr, "consumer child: %s\n", nb_last_error());
        return 1;
    }
    sleep_ms(60000);
    nb_js_consumer_destroy(k);
    nb_client_destroy(c);
    nb_options_destroy(o);
    return 0;
}

static char self_exe[4096];

static pid_t spawn_consumer(const char *subject, const char *durable, const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, CHILD_FLAG, T.srv.url, subject, durable, out, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Reads the child's lines: seen[i] counts "m<i>"; returns the number of lines. */
static size_t read_lines(const char *path, int *seen, int n, uint64_t *max_delivery)
{
    memset(seen, 0, sizeof *seen * (size_t)n);
    FILE *f = fopen(path, "r");
    size_t lines = 0;
    int i;
    unsigned long long dl;
    while (f && fscanf(f, "m%d %llu\n", &i, &dl) == 2) {
        lines++;
        if (i >= 0 && i < n)
            seen[i]++;
        if (max_delivery && dl > *max_delivery)
            *max_delivery = dl;
    }
    if (f)
        fclose(f);
    return lines;
}

static int distinct_of(const int *seen, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d += seen[i] > 0;
    return d;
}

JCASE(at_least_once_consumer_killed, 0)
{
    enum { N = 1000 };
    static int seen[N];
    nb_client *pc = new_client();
    CHECK(pc && make_stream(pc, "KILL", "kill.>"));
    const char *dir = case_dir();
    CHECK(dir);
    char out[400];
    snprintf(out, sizeof out, "%s/processed.txt", dir);
    static pub_job job;
    pthread_t th;
    CHECK(start_publisher(&job, &th, pc, "kill.x", N, 1));
    pid_t a = spawn_consumer("kill.>", "phoenix", out);
    /* Midway, the consumer process dies without a chance to ack what it printed. */
    size_t lines = 0;
    for (int t = 0; t < 3000 && lines < 300; t++, sleep_ms(10))
        lines = read_lines(out, seen, N, NULL);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    size_t at_kill = read_lines(out, seen, N, NULL);
    int published_at_kill = atomic_load(&job.done);
    pid_t b = spawn_consumer("kill.>", "phoenix", out);
    pthread_join(th, NULL);
    uint64_t max_delivery = 0;
    for (int t = 0; t < 6000 && distinct_of(seen, N) < N; t++, sleep_ms(10))
        lines = read_lines(out, seen, N, &max_delivery);
    sleep_ms(1500); /* redeliveries of what the dead process had not acked show up now */
    lines = read_lines(out, seen, N, &max_delivery);
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    int distinct = distinct_of(seen, N);
    fprintf(stderr,
            "note: consumer killed after %zu processed (%d published): %zu processed, %d "
            "distinct, %zu duplicates, highest delivery count %llu\n",
            at_kill, published_at_kill, lines, distinct, lines - (size_t)distinct,
            (unsigned long long)max_delivery);
    CHECK_OK(job.status);
    CHECK(at_kill >= 300 && published_at_kill < N);
    CHECK(distinct == N);
    CHECK(stream_messages(pc, "KILL") == N);
}

/* ------------------------------------------------------------------------ */
/* Forked publishers (issue 11 item 3)                                       */
/* ------------------------------------------------------------------------ */

#define FORKED_PUBLISHERS 3
#define FORKED_SENDS 20

/*
 * One forked publisher: waits for the parent's go (EOF on the pipe), then
 * publishes FORKED_SENDS envelopes with library-made msg_ids on a connection
 * of its own. Exit 0 when every publish was stored as a new message.
 */
static void forked_publisher(int go, const char *url, int index)
{
    char byte;
    while (read(go, &byte, 1) > 0) /* the parent never writes: EOF is the go */
        ;
    nb_options *o = NULL;
    nb_client *c = NULL;
    int bad = nb_options_create(&o) != NB_OK || nb_options_set_url(o, url) != NB_OK ||
              nb_client_connect(&c, o) != NB_OK;
    for (int i = 0; !bad && i < FORKED_SENDS; i++) {
        char text[32];
        snprintf(text, sizeof text, "p%d-%d", index, i);
        nb_envelope *e = NULL;
        nb_payload *p = NULL;
        nb_js_ack ack;
        bad = nb_envelope_create(&e) != NB_OK || nb_payload_create_text(&p, "msg", text) != NB_OK ||
              nb_envelope_add_payload(e, &p) != NB_OK ||
              nb_client_js_publish(c, "fork.x", e, NULL, &ack) != NB_OK || ack.duplicate;
        if (bad)
            fprintf(stderr, "publisher %d, envelope %d: %s\n", index, i,
                    nb_last_error()[0] ? nb_last_error() : "stored as a duplicate");
        nb_payload_destroy(p);
        nb_envelope_destroy(e);
    }
    nb_client_destroy(c);
    nb_options_destroy(o);
    _exit(bad ? 1 : 0);
}

/* Waits up to ms for pid; kills it when it overstays. True when it exited 0. */
static bool wait_child(pid_t pid, int64_t ms)
{
    int status = 0;
    for (int64_t waited = 0; waited < ms; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (r < 0)
            return false;
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "publisher %d did not finish in %lld ms\n", (int)pid, (long long)ms);
    return false;
}

/*
 * The parent makes msg_ids first (its random pool is full when it forks),
 * then three children publish 20 envelopes each: 60 stored, no duplicates.
 */
JCASE(forked_publishers_unique, 0)
{
    nb_envelope *warm = env_text("msg", "warm");
    CHECK(warm);
    CHECK_OK(nb_envelope_build(warm, "fork.x", NULL)); /* fills this thread's UUID pool */
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t pids[FORKED_PUBLISHERS];
    for (int i = 0; i < FORKED_PUBLISHERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(go[1]);
            forked_publisher(go[0], T.srv.url, i);
        }
    }
    close(go[0]);
    /* The stream exists before any child publishes; nats.c is used only after the forks. */
    nb_client *c = new_client();
    bool ready = c && make_stream(c, "FORKED", "fork.>");
    close(go[1]);
    bool all_ok = true;
    for (int i = 0; i < FORKED_PUBLISHERS; i++)
        all_ok = (pids[i] > 0 && wait_child(pids[i], 60000)) && all_ok;
    CHECK(ready && all_ok);
    uint64_t stored = stream_messages(c, "FORKED");
    if (stored != FORKED_PUBLISHERS * FORKED_SENDS)
        fprintf(stderr, "stream kept %llu of %d envelopes\n", (unsigned long long)stored,
                FORKED_PUBLISHERS * FORKED_SENDS);
    CHECK(stored == FORKED_PUBLISHERS * FORKED_SENDS);
}


/* ------------------------------------------------------------------------ */
/* Management (issue 13): list, purge, update streams; list, read consumers; */
/* ephemeral consumers                                                       */
/* ------------------------------------------------------------------------ */

/* The index of stream name in list, or -1. */
static int stream_at(nb_js_stream_info **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->config.name, name) == 0)
            return (int)i;
    return -1;
}

JCASE(manage_streams, 0)
{
    nb_client *c = new_client();
    CHECK(c);
    if (!c)
        return;
    nb_js_stream_info **list = NULL;
    size_t n = 99;
    CHECK_OK(nb_js_stream_list(c, &list, &n));
    CHECK(n == 0 && list == NULL);
    CHECK(make_stream(c, "MA", "ma.>") && make_stream(c, "MB", "mb.>"));
    CHECK(publish_range(c, "ma.x", 0, 4) && publish_range(c, "ma.y", 4, 10));
    CHECK_OK(nb_js_stream_list(c, &list, &n));
    CHECK(n == 2);
    int a = stream_at(list, n, "MA");
    CHECK(a >= 0 && stream_at(list, n, "MB") >= 0);
    if (a >= 0)
        CHECK(list[a]->messages == 10 && list[a]->config.subject_count == 1 &&
              strcmp(list[a]->config.subjects[0], "ma.>") == 0 && list[a]->max_msgs == -1);
    nb_js_stream_list_destroy(list, n);

    /* Purge ma.y keeping the newest 2, then ma.x entirely, then the rest. */
    uint64_t purged = 0;
    CHECK_OK(nb_js_stream_purge(c, "MA", "ma.y", 2, &purged));
    CHECK(purged == 4);
    CHECK(stream_messages(c, "MA") == 6);
    CHECK_OK(nb_js_stream_purge(c, "MA", "ma.x", 0, &purged));
    CHECK(purged == 4);
    CHECK_OK(nb_js_stream_purge(c, "MA", NULL, 0, &purged));
    CHECK(purged == 2 && stream_messages(c, "MA") == 0);
    CHECK(nb_js_stream_purge(c, "NOPE", NULL, 0, &purged) == NB_NOT_FOUND);
    CHECK(strstr(nb_last_error(), "NOPE") != NULL);
    CHECK(nb_js_stream_purge(c, "MA", "bad subject", 0, NULL) == NB_INVALID_ARG);

    /* Update: every changeable setting reaches the server; the others stay. */
    const char *subjects[] = {"ma.>", "audit.ma"};
    nb_js_stream_changes ch = {NB_JS_SET_SUBJECTS | NB_JS_SET_MAX_AGE | NB_JS_SET_MAX_MSGS |
                                   NB_JS_SET_MAX_BYTES | NB_JS_SET_DUPLICATE_WINDOW,
                               subjects, 2, 3600000, 500, 1000000, 60000, 0};
    CHECK_OK(nb_js_stream_update(c, "MA", &ch));
    nb_js_stream_info *info = NULL;
    CHECK_OK(nb_js_stream_info_get(c, "MA", &info));
    if (info)
        CHECK(info->config.subject_count == 2 && info->config.max_age_ms == 3600000 &&
              info->max_msgs == 500 && info->max_bytes == 1000000 &&
              info->config.duplicate_window_ms == 60000 && info->config.storage == NB_JS_FILE);
    nb_js_stream_info_destroy(info);
    nb_js_stream_changes unlimited = {NB_JS_SET_MAX_MSGS, NULL, 0, 0, -1, 0, 0, 0};
    CHECK_OK(nb_js_stream_update(c, "MA", &unlimited));
    CHECK_OK(nb_js_stream_info_get(c, "MA", &info));
    if (info)
        CHECK(info->max_msgs == -1 && info->max_bytes == 1000000);
    nb_js_stream_info_destroy(info);
    /* The server's refusal is the caller's mistake, with its reason. */
    nb_js_stream_changes overlap = {NB_JS_SET_SUBJECTS, (const char *[]){"mb.x"}, 1, 0, 0, 0, 0, 0};
    CHECK(nb_js_stream_update(c, "MA", &overlap) == NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "update stream 'MA'") != NULL);
    /* A single server takes replicas 1 (a cluster is needed for more); 9 is refused here. */
    nb_js_stream_changes replicas = {NB_JS_SET_REPLICAS, NULL, 0, 0, 0, 0, 0, 1};
    CHECK_OK(nb_js_stream_update(c, "MA", &replicas));
    replicas.replicas = 9;
    CHECK(nb_js_stream_update(c, "MA", &replicas) == NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "replicas 9 is not between 1 and 5") != NULL);
    nb_js_stream_changes none = {0, NULL, 0, 0, 0, 0, 0, 0};
    CHECK(nb_js_stream_update(c, "MA", &none) == NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "nothing to change") != NULL);
    nb_js_stream_changes zero = {NB_JS_SET_MAX_MSGS, NULL, 0, 0, 0, 0, 0, 0};
    CHECK(nb_js_stream_update(c, "MA", &zero) == NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "max msgs 0") != NULL);
    CHECK(nb_js_stream_update(c, "NOPE", &unlimited) == NB_NOT_FOUND);
}

JCASE(manage_consumers, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "MC", "mc.>"));
    if (!c)
        return;
    nb_js_consumer_info **list = NULL;
    size_t n = 99;
    CHECK_OK(nb_js_consumer_list(c, "MC", &list, &n));
    CHECK(n == 0 && list == NULL);
    CHECK(nb_js_consumer_list(c, "NOPE", &list, &n) == NB_NOT_FOUND);
    CHECK(publish_range(c, "mc.a", 0, 3));
    nb_js_consumer_config cfg = consumer_cfg("mc.a", "worker");
    cfg.max_deliver = 7;
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    CHECK(tally_wait(&tallies[0], &tallies[0].total, 3, 10000));
    stop_consumer(0);
    CHECK_OK(nb_js_consumer_list(c, "MC", &list, &n));
    CHECK(n == 1);
    if (n == 1)
        CHECK(strcmp(list[0]->name, "worker") == 0 && strcmp(list[0]->stream, "MC") == 0 &&
              strcmp(list[0]->subject, "mc.a") == 0 && list[0]->durable && list[0]->pull);
    nb_js_consumer_list_destroy(list, n);
    CHECK(publish_range(c, "mc.a", 3, 5));
    nb_js_consumer_info *ci = NULL;
    CHECK_OK(nb_js_consumer_info_get(c, "MC", "worker", &ci));
    if (ci)
        CHECK(ci->ack_wait_ms == 2000 && ci->max_deliver == 7 && ci->start == NB_JS_START_ALL &&
              ci->ack_floor_seq == 3 && ci->delivered_seq == 3 && ci->pending == 2 &&
              ci->ack_pending == 0 && ci->created_ms > 0);
    nb_js_consumer_info_destroy(ci);
    CHECK_OK(nb_js_consumer_delete(c, "MC", "worker"));
    CHECK(nb_js_consumer_info_get(c, "MC", "worker", &ci) == NB_NOT_FOUND && ci == NULL);
    CHECK(strstr(nb_last_error(), "worker") != NULL);
    CHECK(nb_js_consumer_info_get(c, "MC", "bad.name", &ci) == NB_INVALID_ARG);
}

/* A durable that differs names the command that deletes it (and that command exists). */
JCASE(durable_conflict_names_command, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "MX", "mx.>"));
    if (!c)
        return;
    nb_js_consumer_config cfg = consumer_cfg("mx.a", "d1");
    CHECK(consume(c, 0, &cfg, &tallies[0]));
    stop_consumer(0);
    cfg.start = NB_JS_START_SEQUENCE;
    cfg.start_sequence = 1;
    nb_js_consumer *k = NULL;
    CHECK(nb_js_consumer_create(&k, c, &cfg, on_js_envelope, on_js_error, &tallies[0]) ==
          NB_INVALID_ARG);
    CHECK(strstr(nb_last_error(), "natsbridge consumer rm MX d1") != NULL);
}

static size_t consumer_count(nb_client *c, const char *stream)
{
    nb_js_consumer_info **list = NULL;
    size_t n = 0;
    if (nb_js_consumer_list(c, stream, &list, &n) != NB_OK)
        return SIZE_MAX;
    nb_js_consumer_list_destroy(list, n);
    return n;
}

JCASE(ephemeral_consumers, 0)
{
    nb_client *c = new_client();
    CHECK(c && make_stream(c, "EP", "ep.>"));
    if (!c)
        return;
    CHECK(publish_range(c, "ep.a", 0, 5));
    sleep_ms(20);
    while (unix_ms() % 1000 < 10 || unix_ms() % 1000 > 60)
        sleep_ms(5);
    int64_t middle = unix_ms();
    sleep_ms(50);
    CHECK(publish_range(c, "ep.a", 5, 8));

    nb_js_consumer_config all = consumer_cfg("ep.>", NULL);
    all.inactive_threshold_ms = 5000;
    CHECK(consume(c, 0, &all, &tallies[0]));
    nb_js_consumer_config last = consumer_cfg("ep.>", NULL);
    last.start = NB_JS_START_LAST;
    CHECK(consume(c, 1, &last, &tallies[1]));
    nb_js_consumer_config tm = consumer_cfg("ep.>", NULL);
    tm.start = NB_JS_START_TIME;
    tm.start_time_ms = middle;
    CHECK(consume(c, 2, &tm, &tallies[2]));
    nb_js_consumer_config fresh = consumer_cfg("ep.>", NULL);
    fresh.start = NB_JS_START_NEW;
    CHECK(consume(c, 3, &fresh, &tallies[3]));
    CHECK(consumer_count(c, "EP") == 4);

    CHECK(tally_wait(&tallies[0], &tallies[0].total, 8, 10000));
    CHECK(tally_wait(&tallies[1], &tallies[1].total, 1, 10000));
    CHECK(tally_wait(&tallies[2], &tallies[2].total, 3, 10000));
    sleep_ms(300);
    CHECK(tally_read(&tallies[3], &tallies[3].total) == 0);
    CHECK(tally_read(&tallies[1], &tallies[1].total) == 1 && tallies[1].seqs[0] == 8);
    CHECK(tallies[2].seqs[0] == 6 && tallies[2].seen[5] == 1 && tallies[2].seen[4] == 0);
    CHECK(publish_range(c, "ep.a", 8, 9));
    CHECK(tally_wait(&tallies[3], &tallies[3].total, 1, 10000));
    CHECK(tallies[3].seqs[0] == 9);

    /* Listed as ephemeral with its inactive threshold; gone once destroyed. */
    nb_js_consumer_info **list = NULL;
    size_t n = 0;
    CHECK_OK(nb_js_consumer_list(c, "EP", &list, &n));
    size_t ephemerals = 0, with_threshold = 0;
    for (size_t i = 0; i < n; i++) {
        ephemerals += !list[i]->durable;
        with_threshold += list[i]->inactive_threshold_ms == 5000;
    }
    CHECK(n == 4 && ephemerals == 4 && with_threshold == 1);
    nb_js_consumer_list_destroy(list, n);
    for (size_t i = 0; i < 4; i++)
        stop_consumer(i);
    CHECK(consumer_count(c, "EP") == 0);
}

static const nbt_case cases[] = {
    NBT_ENTRY(streams),
    NBT_ENTRY(publish_dedupe),
    NBT_ENTRY(publish_too_large),
    NBT_ENTRY(publish_no_stream),
    NBT_ENTRY(async_publisher),
    NBT_ENTRY(bad_arguments),
    NBT_ENTRY(consume_acks_after_callback),
    NBT_ENTRY(callback_nak_and_term),
    NBT_ENTRY(destroy_in_callback),
    NBT_ENTRY(at_least_once_consumer_restart),
    NBT_ENTRY(at_least_once_server_restart),
    NBT_ENTRY(at_least_once_consumer_killed),
    NBT_ENTRY(nak_during_fileserver_outage),
    NBT_ENTRY(max_deliver_gives_up),
    NBT_ENTRY(term_corrupted),
    NBT_ENTRY(term_not_found),
    NBT_ENTRY(term_object_not_found),
    NBT_ENTRY(replay_starts),
    NBT_ENTRY(durable_conflicts),
    NBT_ENTRY(duration_bounds),
    NBT_ENTRY(destroy_client_in_callback),
    NBT_ENTRY(destroy_during_callback),
    NBT_ENTRY(in_progress_while_handling),
    NBT_ENTRY(callback_nak_last_delivery),
    NBT_ENTRY(publisher_destroy_in_ack),
    NBT_ENTRY(publisher_destroy_abandons),
    NBT_ENTRY(forked_publishers_unique),
    NBT_ENTRY(manage_streams),
    NBT_ENTRY(manage_consumers),
    NBT_ENTRY(durable_conflict_names_command),
    NBT_ENTRY(ephemeral_consumers),
    {0},
};

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], CHILD_FLAG) == 0)
        return consumer_child(argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    self_exe[n > 0 ? n : 0] = '\0';
    return nbt_main(argc, argv, cases);
}
