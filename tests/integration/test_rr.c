/* SPDX-License-Identifier: MIT */
/*
 * test_rr.c - requests over the client's one wildcard inbox (issue 16,
 * messaging.c "request / reply: one wildcard inbox per client"): many
 * threads on one client, a reply that comes after its request timed out,
 * requests across a reconnect, an envelope sent as a request twice, a
 * reply_to of the caller's own, and a client destroyed while a reply is on
 * its way. Real nats-server per case; every wait is bounded.
 */
#include "integ.h"

#include "client.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether a request of c is registered as waiting (under the inbox's lock). */
static bool waiting(nb_client *c)
{
    pthread_mutex_lock(&c->rr_mu);
    bool any = c->rr_waiters != NULL;
    pthread_mutex_unlock(&c->rr_mu);
    return any;
}

/* Replies c's inbox dropped: late, or for no request of c's. */
static uint64_t dropped(nb_client *c)
{
    pthread_mutex_lock(&c->rr_mu);
    uint64_t n = c->rr_dropped;
    pthread_mutex_unlock(&c->rr_mu);
    return n;
}

/* A responder answering "late: <text>" after delay_ms, from its subscription callback. */
typedef struct late_responder {
    nb_client *client;
    int64_t delay_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int answered;       /* replies sent (nb_client_reply returned) */
    nb_status last;     /* its status */
} late_responder;

static void on_late_request(nb_subscription *sub, nb_envelope *req, void *closure)
{
    (void)sub;
    late_responder *r = closure;
    sleep_ms(r->delay_ms);
    char text[300];
    snprintf(text, sizeof text, "late: %s", first_text(req));
    nb_envelope *rep = NULL;
    nb_status s = text_envelope(&rep, "answer", text);
    if (s == NB_OK)
        s = nb_client_reply(r->client, req, rep);
    nb_envelope_destroy(rep);
    nb_envelope_destroy(req);
    pthread_mutex_lock(&r->mu);
    r->answered++;
    r->last = s;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool late_wait(late_responder *r, int n, int64_t ms)
{
    int64_t until = now_ms() + ms;
    pthread_mutex_lock(&r->mu);
    while (r->answered < n && now_ms() < until) {
        pthread_mutex_unlock(&r->mu);
        sleep_ms(5);
        pthread_mutex_lock(&r->mu);
    }
    bool ok = r->answered >= n && r->last == NB_OK;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static bool start_late(late_responder *r, const char *subject, int64_t delay_ms)
{
    *r = (late_responder){.delay_ms = delay_ms, .last = NB_OK};
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->client = new_client();
    REQUIRE(r->client);
    nb_subscription *s = NULL;
    REQUIRE_OK(nb_client_subscribe(r->client, &s, subject, NULL, on_late_request, NULL, r));
    T.subs[T.nsubs++] = s; /* unsubscribed at teardown */
    return true;
}

/* A responder on subject answering "echo: <text>" from its own connection. */
static bool start_echo(const char *subject, collector *col)
{
    col->responder = new_client();
    REQUIRE(col->responder);
    REQUIRE(sub_async(col->responder, subject, NULL, col));
    return true;
}

/* One request on subject; the reply must answer it and read "<prefix><text>". */
static bool ask(nb_client *c, const char *subject, const char *text, const char *prefix)
{
    nb_envelope *req = NULL, *rep = NULL;
    char want[300];
    snprintf(want, sizeof want, "%s%s", prefix, text);
    nb_status s = text_envelope(&req, "q", text);
    if (s == NB_OK)
        s = nb_client_request(c, subject, req, 10000, &rep);
    bool ok = s == NB_OK && strcmp(nb_envelope_reply_to_msg_id(rep), nb_envelope_msg_id(req)) == 0 &&
              strcmp(first_text(rep), want) == 0;
    if (!ok)
        fprintf(stderr, "request \"%s\" on %s: %s: %s (reply \"%s\")\n", text, subject,
                nb_status_text(s), nb_last_error(), rep ? first_text(rep) : "none");
    nb_envelope_destroy(req);
    nb_envelope_destroy(rep);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct rr_thread {
    nb_client *client;
    int id, failures;
} rr_thread;

static void *hundred_requests(void *arg)
{
    rr_thread *a = arg;
    for (int i = 0; i < 100; i++) {
        char text[64];
        snprintf(text, sizeof text, "t%d-%d", a->id, i);
        if (!ask(a->client, "/svc/echo", text, "echo: "))
            a->failures++;
    }
    return NULL;
}

/* Eight threads, 100 requests each, on one client: every reply reaches its own request. */
CASE(rr_threads, 0)
{
    CHECK(start_echo("/svc/echo", &cols[0]));
    nb_client *q = new_client();
    CHECK(q);
    rr_thread args[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (rr_thread){q, i, 0};
        CHECK(pthread_create(&th[i], NULL, hundred_requests, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    CHECK(!waiting(q));
    CHECK(dropped(q) == 0); /* one responder: no reply without its request */
    CHECK(col_wait(&cols[0], &cols[0].total, 800, 5000));
}

/*
 * A reply that comes after its request timed out is dropped (and counted):
 * it never reaches a later request, and the timeout left nothing behind.
 */
CASE(rr_timeout_then_late_reply, 0)
{
    static late_responder late; /* static: its callback may outlive a failed CHECK */
    CHECK(start_late(&late, "/svc/late", 400));
    CHECK(start_echo("/svc/echo", &cols[0]));
    nb_client *q = new_client();
    CHECK(q);
    nb_envelope *req = env_text("q", "too slow");
    nb_envelope *rep = (nb_envelope *)&rep;
    CHECK(req);
    int64_t t0 = now_ms();
    nb_status s = nb_client_request(q, "/svc/late", req, 150, &rep);
    CHECK(s == NB_TIMEOUT && rep == NULL);
    CHECK(strstr(nb_last_error(), "no reply to msg_id") != NULL);
    CHECK(now_ms() - t0 < 2000);
    CHECK(!waiting(q));
    /* Requests go on while the late reply arrives: each gets its own answer. */
    int n = 0;
    for (int64_t until = now_ms() + 700; now_ms() < until && n < 2000; n++) {
        char text[32];
        snprintf(text, sizeof text, "on time %d", n);
        CHECK(ask(q, "/svc/echo", text, "echo: "));
    }
    CHECK(late_wait(&late, 1, 5000));
    /* The late reply reached the inbox and was dropped (bounded wait: it is in flight). */
    for (int i = 0; i < 200 && dropped(q) == 0; i++)
        sleep_ms(10);
    CHECK(dropped(q) == 1);
    CHECK(ask(q, "/svc/echo", "afterwards", "echo: "));
    CHECK(!waiting(q));
    CHECK(dropped(q) == 1);
}

/* nats.c subscribes the inbox again after a reconnect: requests work as before. */
CASE(rr_after_reconnect, 0)
{
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_reconnect_wait(o, 100));
    CHECK_OK(nb_options_set_reconnect_jitter(o, 10));
    CHECK_OK(nb_options_set_max_reconnect(o, -1));
    CHECK_OK(nb_options_set_event_cb(o, on_event, &evs[0]));
    nb_client *q = connect_with(o);
    CHECK(q);
    cols[0].responder = connect_with(o);
    CHECK(cols[0].responder && sub_async(cols[0].responder, "/svc/echo", NULL, &cols[0]));
    CHECK(ask(q, "/svc/echo", "before", "echo: "));

    nbt_server_kill(&T.srv);
    long down = ev_wait(&evs[0], NB_EVENT_DISCONNECTED, 0, 10000);
    CHECK(down >= 0);
    CHECK(nbt_server_restart(&T.srv) == 0);
    /* Both clients log into evs[0]: wait for two reconnects. */
    long up = ev_wait(&evs[0], NB_EVENT_RECONNECTED, (size_t)down + 1, 15000);
    CHECK(up > down);
    CHECK(ev_wait(&evs[0], NB_EVENT_RECONNECTED, (size_t)up + 1, 15000) > up);
    /* The SUBs were sent again on reconnect: a flush on each makes sure the server has them. */
    CHECK_OK(nb_client_flush(cols[0].responder, 5000));
    CHECK_OK(nb_client_flush(q, 5000));
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof text, "after %d", i);
        CHECK(ask(q, "/svc/echo", text, "echo: "));
    }
    CHECK(!waiting(q));
}

/*
 * An envelope sent as a request twice gets a fresh inbox subject the second
 * time; a reply_to the caller set itself is used as given.
 */
CASE(rr_reply_to, 0)
{
    CHECK(start_echo("/svc/echo", &cols[0]));
    nb_client *q = new_client();
    nb_envelope *req = env_text("q", "twice");
    CHECK(q && req);
    nb_envelope *rep = NULL;
    CHECK_OK(nb_client_request(q, "/svc/echo", req, 5000, &rep));
    keep(rep);
    char first[128];
    snprintf(first, sizeof first, "%s", nb_envelope_reply_to(req));
    CHECK(strncmp(first, "_INBOX.", 7) == 0);
    CHECK_OK(nb_client_request(q, "/svc/echo", req, 5000, &rep));
    keep(rep);
    CHECK_STR(first_text(rep), "echo: twice");
    CHECK_STR(nb_envelope_reply_to_msg_id(rep), nb_envelope_msg_id(req));
    CHECK(strcmp(nb_envelope_reply_to(req), first) != 0);
    /* the same inbox, another token */
    CHECK(strncmp(nb_envelope_reply_to(req), first, strrchr(first, '.') - first + 1) == 0);

    nb_envelope *own = env_text("q", "own inbox");
    CHECK(own);
    CHECK_OK(nb_envelope_set_reply_to(own, "my.own.inbox"));
    CHECK_OK(nb_client_request(q, "/svc/echo", own, 5000, &rep));
    keep(rep);
    CHECK_STR(first_text(rep), "echo: own inbox");
    CHECK(col_wait(&cols[0], &cols[0].total, 3, 5000));
    CHECK_STR(nb_envelope_reply_to(col_env(&cols[0], 2)), "my.own.inbox");
    CHECK(!waiting(q));
}

/* A responder counting "ev" envelopes and answering a request with that count. */
typedef struct counter {
    nb_client *client;
    atomic_int events;
} counter;

static void on_counted(nb_subscription *sub, nb_envelope *e, void *closure)
{
    (void)sub;
    counter *k = closure;
    if (strcmp(first_text(e), "ev") == 0) {
        atomic_fetch_add(&k->events, 1);
    } else {
        char text[32];
        snprintf(text, sizeof text, "%d", atomic_load(&k->events));
        nb_envelope *rep = NULL;
        if (text_envelope(&rep, "answer", text) == NB_OK)
            nb_client_reply(k->client, e, rep);
        nb_envelope_destroy(rep);
    }
    nb_envelope_destroy(e);
}

/* A request to the counter: its answer must be want. */
static bool counted(nb_client *q, int want)
{
    nb_envelope *req = NULL, *rep = NULL;
    nb_status s = text_envelope(&req, "q", "count");
    if (s == NB_OK)
        s = nb_client_request(q, "ord.q", req, 10000, &rep);
    char text[16];
    snprintf(text, sizeof text, "%d", want);
    bool ok = s == NB_OK && strcmp(first_text(rep), text) == 0;
    if (!ok)
        fprintf(stderr, "count: %s: %s (answer \"%s\", want %s)\n", nb_status_text(s),
                nb_last_error(), rep ? first_text(rep) : "none", text);
    nb_envelope_destroy(req);
    nb_envelope_destroy(rep);
    return ok;
}

/*
 * From its second request on, a client publishes requests on its request
 * connection; a request after an unconfirmed send goes on the client's own
 * connection instead, so it never overtakes the send: the responder, reading
 * both on one subscription, has counted every send when it answers.
 */
CASE(rr_request_connection, 0)
{
    static counter k; /* static: its callback may outlive a failed CHECK */
    atomic_store(&k.events, 0);
    k.client = new_client();
    CHECK(k.client);
    nb_subscription *sub = NULL;
    CHECK_OK(nb_client_subscribe(k.client, &sub, "ord.>", NULL, on_counted, NULL, &k));
    T.subs[T.nsubs++] = sub;
    CHECK_OK(nb_client_flush(k.client, 5000));
    nb_client *q = new_client();
    CHECK(q);
    CHECK(counted(q, 0));
    CHECK(q->req_nc == NULL); /* the first request flushes on the client's connection */
    CHECK(counted(q, 0));
    CHECK(q->req_nc != NULL);
    for (int i = 1; i <= 20; i++) {
        nb_envelope *ev = NULL;
        CHECK_OK(text_envelope(&ev, "q", "ev"));
        nb_status s = nb_client_send(q, "ord.ev", ev);
        nb_envelope_destroy(ev);
        CHECK_OK(s);
        CHECK(counted(q, i));
    }
}

/* A client destroyed while a reply is on its way: the reply meets no client, nothing crashes. */
CASE(rr_destroy_before_reply, 0)
{
    static late_responder late; /* static: its callback may outlive a failed CHECK */
    CHECK(start_late(&late, "/svc/late", 200));
    nb_options *o = opts_new();
    CHECK(o);
    for (int i = 0; i < 5; i++) {
        nb_client *q = NULL;
        CHECK_OK(nb_client_connect(&q, o));
        nb_envelope *req = NULL, *rep = NULL;
        CHECK_OK(text_envelope(&req, "q", "gone"));
        nb_status s = nb_client_request(q, "/svc/late", req, 50, &rep);
        nb_envelope_destroy(req);
        nb_client_destroy(q);
        CHECK(s == NB_TIMEOUT);
    }
    /* Every late reply was sent (to an inbox nobody holds any more). */
    CHECK(late_wait(&late, 5, 10000));
}

static const nbt_case cases[] = {
    NBT_ENTRY(rr_threads),
    NBT_ENTRY(rr_timeout_then_late_reply),
    NBT_ENTRY(rr_after_reconnect),
    NBT_ENTRY(rr_reply_to),
    NBT_ENTRY(rr_destroy_before_reply),
    NBT_ENTRY(rr_request_connection),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
