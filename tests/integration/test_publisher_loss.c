/* SPDX-License-Identifier: MIT */
/*
 * test_publisher_loss.c - a core publisher's loss is visible (issue 11 item
 * 10, second half), against a real nats-server that the test stops mid-run:
 * of 2,000 sends, each either returns an error, or is confirmed
 * (nb_client_confirm) and then received, or falls in a span that a
 * confirmation reported as possibly lost. None is lost silently. A publisher
 * whose connection closes gets an error per send and a CLOSED event naming
 * what is at stake.
 */
#include "integ.h"

#include <stdatomic.h>

#define SENDS 2000
#define BATCH 50
#define KILL_AT 525    /* mid-batch: 25 envelopes since the last confirmation */
#define RESTART_AT 1025

static atomic_int received[SENDS];

/* The receiver's callback: marks "m<i>" as received. */
static void on_mark(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    (void)closure;
    const char *t = first_text(env);
    int i = t[0] == 'm' ? atoi(t + 1) : -1;
    if (i >= 0 && i < SENDS)
        atomic_fetch_add(&received[i], 1);
    nb_envelope_destroy(env);
}

/* Connection events of the publisher, with their details. */
static struct {
    pthread_mutex_t mu;
    size_t disconnected, closed;
    char detail[2][512];    /* the first DISCONNECTED and the first CLOSED detail */
} events = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {"", ""}};

static void on_pub_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)s;
    (void)closure;
    if (ev != NB_EVENT_DISCONNECTED && ev != NB_EVENT_CLOSED)
        return;
    pthread_mutex_lock(&events.mu);
    if (ev == NB_EVENT_DISCONNECTED)
        events.disconnected++;
    else
        events.closed++;
    char *first = events.detail[ev == NB_EVENT_CLOSED];
    if (!first[0])
        snprintf(first, sizeof events.detail[0], "%s", detail ? detail : "");
    pthread_mutex_unlock(&events.mu);
}

static size_t event_count(const size_t *field, char *detail, size_t cap)
{
    pthread_mutex_lock(&events.mu);
    size_t n = *field;
    if (detail)
        snprintf(detail, cap, "%s", events.detail[field == &events.closed]);
    pthread_mutex_unlock(&events.mu);
    return n;
}

static void events_reset(void)
{
    pthread_mutex_lock(&events.mu);
    events.disconnected = events.closed = 0;
    events.detail[0][0] = events.detail[1][0] = '\0';
    pthread_mutex_unlock(&events.mu);
}

static nb_status send_index(nb_client *c, int i)
{
    char text[16];
    snprintf(text, sizeof text, "m%d", i);
    nb_envelope *e = NULL;
    nb_status s = text_envelope(&e, "msg", text);
    if (s == NB_OK)
        s = nb_client_send(c, "loss.x", e);
    nb_envelope_destroy(e);
    return s;
}

/* Waits (bounded) until n publisher events of a kind were seen. */
static bool wait_events(const size_t *field, size_t n, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += 10) {
        if (event_count(field, NULL, 0) >= n)
            return true;
        sleep_ms(10);
    }
    return false;
}

CASE(loss_is_visible, 0)
{
    events_reset();
    for (int i = 0; i < SENDS; i++)
        atomic_store(&received[i], 0);
    /* The receiver; its reconnect is awaited before sending goes on after the restart. */
    nb_options *ro = opts_new();
    CHECK(ro);
    CHECK_OK(nb_options_set_reconnect_wait(ro, 50));
    CHECK_OK(nb_options_set_max_reconnect(ro, -1));
    CHECK_OK(nb_options_set_event_cb(ro, on_event, &evs[1]));
    nb_client *rc = connect_with(ro);
    CHECK(rc);
    nb_subscription *sub = NULL;
    CHECK_OK(nb_client_subscribe(rc, &sub, "loss.x", NULL, on_mark, NULL, NULL));
    T.subs[T.nsubs++] = sub;
    CHECK_OK(nb_client_flush(rc, 5000));
    /* The publisher: a small reconnect buffer (64 KiB, ~100 envelopes) that the outage overflows. */
    nb_options *po = opts_new();
    CHECK(po);
    CHECK_OK(nb_options_set_reconnect_wait(po, 50));
    CHECK_OK(nb_options_set_max_reconnect(po, -1));
    CHECK_OK(nb_options_set_reconnect_buf_size(po, 64 * 1024));
    CHECK_OK(nb_options_set_event_cb(po, on_pub_event, NULL));
    nb_client *pc = connect_with(po);
    CHECK(pc);

    static nb_status sent[SENDS];
    static bool must_arrive[SENDS]; /* sent, then confirmed */
    memset(must_arrive, 0, sizeof must_arrive);
    int from = 0; /* first send not yet covered by a confirmation's verdict */
    size_t errors = 0, reported = 0, buffer_full = 0, confirm_errors = 0;
    char first_report[512] = "";
    for (int i = 0; i < SENDS; i++) {
        if (i == KILL_AT) {
            nbt_server_kill(&T.srv); /* stopped mid-run */
            CHECK(wait_events(&events.disconnected, 1, 10000));
        }
        if (i == RESTART_AT) {
            long down = ev_wait(&evs[1], NB_EVENT_DISCONNECTED, 0, 10000);
            CHECK(down >= 0 && nbt_server_restart(&T.srv) == 0);
            CHECK(ev_wait(&evs[1], NB_EVENT_RECONNECTED, (size_t)down + 1, 15000) > down);
            CHECK_OK(nb_client_flush(rc, 5000)); /* the server has the subscription again */
        }
        sent[i] = send_index(pc, i);
        if (sent[i] != NB_OK) {
            errors++;
            buffer_full += strstr(nb_last_error(), "reconnect buffer is full") != NULL;
        }
        if ((i + 1) % BATCH && i + 1 < SENDS)
            continue;
        /* A verdict on the sends since the last one: all confirmed, or reported. */
        nb_status c = nb_client_confirm(pc, 1000);
        for (int j = from; j <= i; j++) {
            must_arrive[j] = c == NB_OK && sent[j] == NB_OK;
            reported += c != NB_OK && sent[j] == NB_OK;
        }
        if (c != NB_OK && !first_report[0])
            snprintf(first_report, sizeof first_report, "%s", nb_last_error());
        confirm_errors += c != NB_OK;
        from = i + 1;
    }
    /* Everything confirmed must arrive: wait for the receiver (bounded). */
    int missing = 0;
    for (int waited = 0; waited <= 10000; waited += 50) {
        missing = 0;
        for (int i = 0; i < SENDS; i++)
            missing += must_arrive[i] && atomic_load(&received[i]) == 0;
        if (missing == 0)
            break;
        sleep_ms(50);
    }
    int arrived = 0;
    for (int i = 0; i < SENDS; i++)
        arrived += atomic_load(&received[i]) > 0;
    char detail[512];
    size_t disconnects = event_count(&events.disconnected, detail, sizeof detail);
    fprintf(stderr,
            "%d sends: %zu returned an error (%zu: reconnect buffer full), %zu in spans "
            "reported by %zu confirmations, %d arrived, %d confirmed but missing\n"
            "first report: %s\ndisconnect event: %s\n",
            SENDS, errors, buffer_full, reported, confirm_errors, arrived, missing, first_report,
            detail);
    CHECK(missing == 0);  /* nothing confirmed was lost */
    CHECK(buffer_full > 0); /* the outage overflowed the reconnect buffer: errors, not silence */
    CHECK(confirm_errors > 0 && strstr(first_report, "confirm: "));
    CHECK(disconnects >= 1 &&
          strstr(detail, "disconnected from the NATS server: up to 25 envelopes published since "
                         "the last confirmation (nb_client_confirm) may not have reached it"));
    /* Every send is accounted for: an error, a confirmation, or a reported span. */
    size_t confirmed = 0;
    for (int i = 0; i < SENDS; i++)
        confirmed += must_arrive[i];
    CHECK(errors + confirmed + reported == SENDS);
}

/* Reconnecting off: the connection closes, every later send fails, the CLOSED event says so. */
CASE(closed_connection_fails_sends, 0)
{
    events_reset();
    nb_options *po = opts_new();
    CHECK(po);
    CHECK_OK(nb_options_set_allow_reconnect(po, false));
    CHECK_OK(nb_options_set_event_cb(po, on_pub_event, NULL));
    nb_client *pc = connect_with(po);
    CHECK(pc);
    for (int i = 0; i < 10; i++)
        CHECK_OK(send_index(pc, i));
    nbt_server_kill(&T.srv);
    CHECK(wait_events(&events.closed, 1, 10000));
    char detail[512];
    event_count(&events.closed, detail, sizeof detail);
    CHECK(strstr(detail, "connection closed: up to 10 envelopes published since the last "
                         "confirmation (nb_client_confirm) may not have reached the server"));
    CHECK_FAIL(send_index(pc, 10), NB_CONNECTION, "publish on 'loss.x'");
    CHECK_FAIL(nb_client_confirm(pc, 500), NB_CONNECTION, "confirm: 10 envelopes published");
}

static const nbt_case cases[] = {
    NBT_ENTRY(loss_is_visible),
    NBT_ENTRY(closed_connection_fails_sends),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
