/* SPDX-License-Identifier: MIT */
/*
 * test_request.c - request/reply over a real nats-server: replies matched by
 * msg_id, concurrent requests on one client, no responders, timeouts.
 */
#include "integ.h"

/* ------------------------------------------------------------------------ */
/* Request / reply                                                          */
/* ------------------------------------------------------------------------ */

/* A responder on subject answering "echo: <text>" from its own connection. */
static bool start_responder(const char *subject, collector *col)
{
    col->responder = new_client();
    REQUIRE(col->responder);
    REQUIRE(sub_async(col->responder, subject, NULL, col));
    return true;
}

CASE(request_reply, 0)
{
    CHECK(start_responder("/svc/echo", &cols[0]));
    nb_client *q = new_client();
    CHECK(q);
    const char *sender_id = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
    for (int i = 0; i < 3; i++) {
        char text[32], want[48];
        snprintf(text, sizeof text, "ping %d", i);
        snprintf(want, sizeof want, "echo: %s", text);
        nb_envelope *req = env_text("q", text);
        CHECK(req);
        CHECK_OK(nb_envelope_set_sender_name(req, "requester"));
        CHECK_OK(nb_envelope_set_sender_id(req, sender_id));
        nb_envelope *rep = NULL;
        CHECK_OK(nb_client_request(q, "/svc/echo", req, 5000, &rep));
        keep(rep);
        CHECK(is_uuid4(nb_envelope_msg_id(req)));
        CHECK_STR(nb_envelope_reply_to_msg_id(rep), nb_envelope_msg_id(req));
        CHECK_STR(nb_envelope_correlation_id(rep), nb_envelope_correlation_id(req));
        CHECK_STR(nb_envelope_receiver_name(rep), "requester");
        CHECK_STR(nb_envelope_receiver_id(rep), sender_id);
        CHECK(strcmp(nb_envelope_msg_id(rep), nb_envelope_msg_id(req)) != 0);
        CHECK_STR(first_text(rep), want);
        /* The responder saw the request with a reply subject (an inbox). */
        CHECK(col_wait(&cols[0], &cols[0].total, (size_t)i + 1, 5000));
        const nb_envelope *seen = col_env(&cols[0], (size_t)i);
        CHECK(seen && nb_envelope_reply_to(seen)[0] != '\0');
        CHECK_STR(nb_envelope_reply_to(seen), nb_envelope_reply_to(req));
        CHECK_STR(nb_envelope_send_to(seen), "/svc/echo");
    }
    CHECK(cols[0].reply_status == NB_OK);
}

typedef struct rq_arg {
    nb_client *client;
    int id;
    int failures;
} rq_arg;

static bool one_request(nb_client *c, const char *text)
{
    nb_envelope *req = NULL, *rep = NULL;
    char want[96];
    snprintf(want, sizeof want, "echo: %s", text);
    nb_status s = text_envelope(&req, "q", text);
    if (s == NB_OK)
        s = nb_client_request(c, "/svc/echo", req, 10000, &rep);
    bool ok = s == NB_OK && strcmp(nb_envelope_reply_to_msg_id(rep), nb_envelope_msg_id(req)) == 0 &&
              strcmp(first_text(rep), want) == 0;
    if (!ok)
        fprintf(stderr, "request \"%s\": %s: %s (reply \"%s\")\n", text, nb_status_text(s),
                nb_last_error(), rep ? first_text(rep) : "none");
    nb_envelope_destroy(req);
    nb_envelope_destroy(rep);
    return ok;
}

/*
 * Two responders answer every request (no queue group): the second reply reaches the inbox
 * as the request returns. nats.c 3.4.1 crashes when such a message meets a destroyed
 * subscription; a request inbox was once destroyed after each request, and `natsbridge request`
 * against two `reply --no-queue` crashed about once in 30. Now the client's one inbox drops the
 * second reply (messaging.c, on_rr_message).
 */
CASE(request_two_responders, 0)
{
    CHECK(start_responder("/svc/echo", &cols[0]));
    CHECK(start_responder("/svc/echo", &cols[1]));
    nb_client *q = new_client();
    CHECK(q);
    for (int i = 0; i < 300; i++) {
        char text[32];
        snprintf(text, sizeof text, "twice %d", i);
        CHECK(one_request(q, text));
    }
    /* Both answered every request: 600 replies, 300 of them late. */
    CHECK(col_wait(&cols[0], &cols[0].total, 300, 10000));
    CHECK(col_wait(&cols[1], &cols[1].total, 300, 10000));
    CHECK_OK(nb_client_flush(q, 5000));
}

static void *requester(void *arg)
{
    rq_arg *a = arg;
    for (int i = 0; i < 10; i++) {
        char text[64];
        snprintf(text, sizeof text, "t%d-%d", a->id, i);
        if (!one_request(a->client, text))
            a->failures++;
    }
    return NULL;
}

CASE(request_concurrent, 0)
{
    /* One client shared by four threads: every reply must reach its own request. */
    CHECK(start_responder("/svc/echo", &cols[0]));
    nb_client *q = new_client();
    CHECK(q);
    rq_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (rq_arg){q, i, 0};
        CHECK(pthread_create(&th[i], NULL, requester, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    /* The responder counts a request after answering it: wait for the last count. */
    CHECK(col_wait(&cols[0], &cols[0].total, 40, 5000));
    sleep_ms(100);
    CHECK(col_read(&cols[0], &cols[0].total) == 40);
}

CASE(reply_without_reply_to, 0)
{
    nb_client *a, *b;
    nb_subscription *s;
    CHECK(pair(&a, &s, "/plain"));
    b = new_client();
    nb_envelope *got = send_and_next(a, s, "/plain", env_text("msg", "no answer expected"));
    CHECK(b && got);
    CHECK_STR(nb_envelope_reply_to(got), "");
    nb_envelope *rep = env_text("answer", "nobody asked");
    CHECK(rep);
    CHECK_FAIL(nb_client_reply(b, got, rep), NB_INVALID_ARG, "reply_to");
}

CASE(request_no_responders, 0)
{
    nb_client *q = new_client();
    nb_envelope *req = env_text("q", "anyone?");
    CHECK(q && req);
    nb_envelope *rep = (nb_envelope *)&rep;
    int64_t t0 = now_ms();
    CHECK_FAILS(nb_client_request(q, "/nobody/home", req, 5000, &rep), NB_NO_RESPONDERS);
    int64_t took = now_ms() - t0;
    CHECK(rep == NULL);
    CHECK(took < 1000); /* the server says so at once: no waiting for the timeout */
}

CASE(request_timeout, 0)
{
    /* A subscriber that never answers. */
    nb_subscription *s = sub_async(new_client(), "/svc/silent", NULL, &cols[0]);
    nb_client *q = new_client();
    nb_envelope *req = env_text("q", "hello?");
    CHECK(s && q && req);
    nb_envelope *rep = (nb_envelope *)&rep;
    int64_t t0 = now_ms();
    CHECK_FAILS(nb_client_request(q, "/svc/silent", req, 300, &rep), NB_TIMEOUT);
    int64_t took = now_ms() - t0;
    CHECK(rep == NULL);
    CHECK(took >= 250 && took < 3000);
    CHECK(col_read(&cols[0], &cols[0].total) == 1); /* it was delivered, just not answered */
    /* The client still works after a timeout. */
    CHECK(start_responder("/svc/echo", &cols[1]));
    CHECK(one_request(q, "after timeout"));
}

static const nbt_case cases[] = {
    NBT_ENTRY(request_reply),
    NBT_ENTRY(request_concurrent),
    NBT_ENTRY(request_two_responders),
    NBT_ENTRY(reply_without_reply_to),
    NBT_ENTRY(request_no_responders),
    NBT_ENTRY(request_timeout),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
