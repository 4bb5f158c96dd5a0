/* SPDX-License-Identifier: MIT */
/*
 * test_resilience.c - what goes wrong, end to end: reconnects, size limits,
 * bad bytes on the wire, tampered payloads, slow consumers, bad arguments and
 * subjects, unreachable servers. Nothing may crash, hang or pass silently.
 */
#include "integ.h"

#include "backoff.h"

#include <time.h>

/* ------------------------------------------------------------------------ */
/* Reconnect                                                                */
/* ------------------------------------------------------------------------ */

static nb_options *reconnecting_opts(evlog *log)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_reconnect_wait(o, 100) != NB_OK ||
        nb_options_set_reconnect_jitter(o, 10) != NB_OK ||
        nb_options_set_max_reconnect(o, -1) != NB_OK ||
        nb_options_set_event_cb(o, on_event, log) != NB_OK) {
        fprintf(stderr, "reconnecting_opts: %s\n", nb_last_error());
        return NULL;
    }
    return o;
}

CASE(reconnect, 0)
{
    nb_client *a = connect_with(reconnecting_opts(&evs[0]));
    nb_client *b = connect_with(reconnecting_opts(&evs[1]));
    nb_subscription *s = sub_async(b, "/survive", NULL, &cols[0]);
    CHECK(a && b && s);
    CHECK_OK(nb_client_send(a, "/survive", env_text("msg", "before")));
    CHECK(col_wait(&cols[0], &cols[0].total, 1, 5000));

    nbt_server_kill(&T.srv);
    long down_a = ev_wait(&evs[0], NB_EVENT_DISCONNECTED, 0, 10000);
    long down_b = ev_wait(&evs[1], NB_EVENT_DISCONNECTED, 0, 10000);
    CHECK(down_a >= 0 && down_b >= 0);
    CHECK(nbt_server_restart(&T.srv) == 0);
    CHECK(ev_wait(&evs[0], NB_EVENT_RECONNECTED, (size_t)down_a + 1, 15000) > down_a);
    CHECK(ev_wait(&evs[1], NB_EVENT_RECONNECTED, (size_t)down_b + 1, 15000) > down_b);

    /* The subscription was restored: flush so the server has it, then send again. */
    CHECK_OK(nb_client_flush(b, 5000));
    CHECK_OK(nb_client_send(a, "/survive", env_text("msg", "after")));
    CHECK_OK(nb_client_flush(a, 5000));
    CHECK(col_wait(&cols[0], &cols[0].total, 2, 5000));
    CHECK_STR(first_text(col_env(&cols[0], 0)), "before");
    CHECK_STR(first_text(col_env(&cols[0], 1)), "after");
}

/* ------------------------------------------------------------------------ */
/* Size limits                                                              */
/* ------------------------------------------------------------------------ */

CASE(too_large_for_server, 65536)
{
    static uint8_t bytes[60000];
    fill_bytes(bytes, sizeof bytes, 11);
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_size_threshold(o, 10 * 1000 * 1000)); /* everything goes direct */
    nb_client *a = connect_with(o);
    nb_subscription *s = sub_sync(new_client(), "/big", NULL);
    CHECK(a && s);
    CHECK(nb_client_max_payload(a) == 65536);

    /* 40,000 bytes -> ~53 KB of base64: fits. */
    nb_envelope *ok = env_with(bytes_payload("fits", NB_TYPE_BINARY, bytes, 40000));
    nb_envelope *got = send_and_next(a, s, "/big", ok);
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "fits", NB_TYPE_BINARY, bytes, 40000));

    /* 60,000 bytes -> ~80 KB of base64: refused before publishing, naming both sizes. */
    nb_envelope *big = env_with(bytes_payload("too big", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(big);
    CHECK_FAIL(nb_client_send(a, "/big", big), NB_TOO_LARGE, "65536");
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", nb_last_error());
    fprintf(stderr, "note: too large: %s\n", msg);
    CHECK(names_number_above(msg, 65536)); /* the envelope's own size */
    nb_envelope *none = NULL;
    CHECK_FAILS(nb_subscription_next(s, 300, &none), NB_TIMEOUT);

    /* The connection survived the refusal. */
    got = send_and_next(a, s, "/big", env_text("msg", "still here"));
    CHECK(got);
    CHECK_STR(first_text(got), "still here");
}

/* ------------------------------------------------------------------------ */
/* Bad bytes on the wire                                                    */
/* ------------------------------------------------------------------------ */

/* Bodies that are not envelopes; filled by bad_bodies(). */
typedef struct body {
    char *data;
    size_t len;
} body;

static char deep[4001];

static size_t bad_bodies(body *out)
{
    /* Nested 4000 deep: past cJSON's nesting limit. */
    memset(deep, '[', 4000);
    deep[4000] = '\0';
    static char *const texts[] = {
        "garbage",
        "{}",
        "",
        "[1,2,3]",
        "null",
        "{\"payloads\":5}",
        "{\"correlation_id\":\"x\",\"msg_id\":\"y\",\"payloads\":[{\"dataname\":1}]}",
        "\xff\xfe\x00\x01",
        deep,
    };
    for (size_t i = 0; i < COUNT(texts); i++)
        out[i] = (body){texts[i], strlen(texts[i])};
    out[7].len = 4; /* contains a NUL */
    return COUNT(texts);
}

CASE(bad_message_async, 0)
{
    body bodies[16];
    size_t n = bad_bodies(bodies);
    nb_client *a = new_client();
    nb_subscription *s = sub_async(new_client(), "/in", NULL, &cols[0]);
    CHECK(a && s);
    for (size_t i = 0; i < n; i++)
        CHECK(raw_publish("/in", bodies[i].data, bodies[i].len));
    CHECK(col_wait(&cols[0], &cols[0].errors, n, 5000));
    CHECK(col_read(&cols[0], &cols[0].by_status[NB_BAD_ENVELOPE]) == n);
    for (size_t i = 0; i < n && i < COL_ERRS; i++) {
        pthread_mutex_lock(&cols[0].mu);
        bool named = cols[0].err_msg[i][0] != '\0';
        pthread_mutex_unlock(&cols[0].mu);
        CHECK(named);
    }
    fprintf(stderr, "note: bad envelope message: %s\n", cols[0].err_msg[0]);
    CHECK(col_read(&cols[0], &cols[0].total) == 0);

    /* The subscription keeps working. */
    CHECK_OK(nb_client_send(a, "/in", env_text("msg", "good one")));
    CHECK(col_wait(&cols[0], &cols[0].total, 1, 5000));
    CHECK_STR(first_text(col_env(&cols[0], 0)), "good one");
}

CASE(bad_message_sync, 0)
{
    body bodies[16];
    size_t n = bad_bodies(bodies);
    nb_client *a = new_client();
    nb_subscription *s = sub_sync(new_client(), "/in", NULL);
    CHECK(a && s);
    for (size_t i = 0; i < n; i++)
        CHECK(raw_publish("/in", bodies[i].data, bodies[i].len));
    CHECK_OK(nb_client_send(a, "/in", env_text("msg", "good one")));
    for (size_t i = 0; i < n; i++) {
        nb_envelope *e = (nb_envelope *)&e;
        CHECK_FAILS(nb_subscription_next(s, 5000, &e), NB_BAD_ENVELOPE);
        CHECK(e == NULL);
    }
    nb_envelope *got = next_env(s, 5000);
    CHECK(got);
    CHECK_STR(first_text(got), "good one");
}

/* The JSON of a built envelope with one binary payload, changed by edit(). */
static char *edited_envelope(nb_options *o, void (*edit)(cJSON *payload))
{
    nb_envelope *e = env_with(bytes_payload("blob", NB_TYPE_BINARY, "0123456789", 10));
    if (!e || nb_envelope_build(e, "/in", o) != NB_OK)
        return NULL;
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "payloads"), 0);
    char *text = NULL;
    if (p) {
        edit(p);
        text = cJSON_PrintUnformatted(doc);
    }
    cJSON_Delete(doc);
    return text;
}

static void set_str(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObject(obj, key);
    cJSON_AddStringToObject(obj, key, value);
}

static void edit_bad_base64(cJSON *p) { set_str(p, "data", "!!not base64!!"); }

static void edit_wrong_size(cJSON *p)
{
    cJSON_DeleteItemFromObject(p, "size");
    cJSON_AddNumberToObject(p, "size", 999);
}

static void edit_unknown_type(cJSON *p)
{
    /* Whichever name the codec writes: the README's "type" or the newer "payload_type". */
    set_str(p, cJSON_GetObjectItem(p, "payload_type") ? "payload_type" : "type", "vidoe");
}

CASE(bad_payload_async, 0)
{
    void (*edits[])(cJSON *) = {edit_bad_base64, edit_wrong_size, edit_unknown_type};
    nb_options *o = opts_new();
    nb_client *a = new_client();
    nb_subscription *s = sub_async(new_client(), "/in", NULL, &cols[0]);
    CHECK(o && a && s);
    for (size_t i = 0; i < COUNT(edits); i++) {
        char *text = edited_envelope(o, edits[i]);
        CHECK(text);
        bool sent = raw_publish("/in", text, strlen(text));
        free(text);
        CHECK(sent);
    }
    CHECK(col_wait(&cols[0], &cols[0].errors, COUNT(edits), 5000));
    CHECK(col_read(&cols[0], &cols[0].total) == 0);
    for (size_t i = 0; i < COUNT(edits); i++) {
        nb_status st = cols[0].err_status[i];
        fprintf(stderr, "note: bad payload %zu: %s: %s\n", i, nb_status_text(st), cols[0].err_msg[i]);
        CHECK(st == NB_BAD_PAYLOAD || st == NB_BAD_ENVELOPE);
        CHECK(strstr(cols[0].err_msg[i], "payload") != NULL); /* names the payload at fault */
    }
    CHECK_OK(nb_client_send(a, "/in", env_text("msg", "good one")));
    CHECK(col_wait(&cols[0], &cols[0].total, 1, 5000));
}

/* ------------------------------------------------------------------------ */
/* Slow consumers                                                           */
/* ------------------------------------------------------------------------ */

static nb_client *tiny_pending_client(void)
{
    nb_options *o = opts_new();
    if (!o || nb_options_set_pending_limits(o, 10, 1 << 20) != NB_OK) {
        fprintf(stderr, "pending limits: %s\n", nb_last_error());
        return NULL;
    }
    return connect_with(o);
}

CASE(slow_consumer_async, 0)
{
    nb_client *a = new_client();
    nb_subscription *s = sub_async(tiny_pending_client(), "/flood", NULL, &cols[0]);
    CHECK(a && s);
    col_block(&cols[0], true); /* the first callback stalls: everything else piles up */
    CHECK(send_many(a, "/flood", 200));
    /* Reported while the callback is still blocked, or at the latest once it returns. */
    bool seen = col_wait(&cols[0], &cols[0].by_status[NB_SLOW_CONSUMER], 1, 3000);
    col_block(&cols[0], false);
    if (!seen)
        seen = col_wait(&cols[0], &cols[0].by_status[NB_SLOW_CONSUMER], 1, 5000);
    CHECK(seen);
    sleep_ms(300);
    size_t got = col_read(&cols[0], &cols[0].total);
    fprintf(stderr, "note: slow consumer received %zu of 200: %s\n", got, cols[0].err_msg[0]);
    CHECK(got >= 1 && got < 200);
    CHECK(cols[0].err_msg[0][0] != '\0');
    /* Every dropped message is accounted for in the reports, not only the first few. */
    CHECK(col_wait(&cols[0], &cols[0].dropped, 200 - got, 2000));
    size_t reported = col_read(&cols[0], &cols[0].dropped);
    fprintf(stderr, "note: %zu slow-consumer reports, %zu drops reported, %zu dropped\n",
            col_read(&cols[0], &cols[0].by_status[NB_SLOW_CONSUMER]), reported, 200 - got);
    CHECK(reported == 200 - got);
}

CASE(slow_consumer_sync, 0)
{
    nb_client *a = new_client();
    nb_subscription *s = sub_sync(tiny_pending_client(), "/flood", NULL);
    CHECK(a && s);
    CHECK(send_many(a, "/flood", 200));
    int ok = 0, slow = 0, other = 0;
    for (int i = 0; i < 300; i++) {
        nb_envelope *e = NULL;
        nb_status st = nb_subscription_next(s, 500, &e);
        nb_envelope_destroy(e);
        if (st == NB_TIMEOUT)
            break;
        if (st == NB_OK)
            ok++;
        else if (st == NB_SLOW_CONSUMER)
            slow++;
        else
            other++;
    }
    fprintf(stderr, "note: sync slow consumer: %d received, %d slow-consumer reports\n", ok, slow);
    CHECK(slow >= 1);
    CHECK(other == 0);
    CHECK(ok >= 1 && ok < 200);
    /* After the report the subscription goes on. */
    CHECK_OK(nb_client_send(a, "/flood", env_text("msg", "later")));
    nb_envelope *got = next_env(s, 5000);
    CHECK(got);
    CHECK_STR(first_text(got), "later");
}

/* ------------------------------------------------------------------------ */
/* Bad arguments and unreachable servers                                    */
/* ------------------------------------------------------------------------ */

CASE(connect_refused, 0)
{
    int port = closed_port();
    char url[64], port_text[16];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    snprintf(port_text, sizeof port_text, "%d", port);
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_url(o, url));
    CHECK_OK(nb_options_set_connect_timeout(o, 1000));
    nb_client *c = (nb_client *)&c;
    int64_t t0 = now_ms();
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, port_text); /* names the address */
    CHECK(c == NULL);
    CHECK(now_ms() - t0 < 5000);
}

CASE(bad_arguments, 0)
{
    nb_client *c = new_client();
    nb_envelope *e = env_text("msg", "x");
    CHECK(c && e);
    nb_subscription *s = (nb_subscription *)&s;
    nb_envelope *out = (nb_envelope *)&out;

    CHECK_FAILS(nb_client_connect(NULL, NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_send(NULL, "/x", e), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_send(c, NULL, e), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_send(c, "", e), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_send(c, "/x", NULL), NB_INVALID_ARG);

    CHECK_FAILS(nb_client_subscribe(c, &s, "/x", NULL, NULL, NULL, NULL), NB_INVALID_ARG);
    CHECK(s == NULL);
    s = (nb_subscription *)&s;
    CHECK_FAILS(nb_client_subscribe_sync(c, &s, NULL, NULL), NB_INVALID_ARG);
    CHECK(s == NULL);
    CHECK_FAILS(nb_client_subscribe_sync(NULL, &s, "/x", NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_subscribe_sync(c, NULL, "/x", NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_subscription_next(NULL, 10, &out), NB_INVALID_ARG);
    CHECK(out == NULL);

    CHECK_FAILS(nb_client_request(c, "/x", e, 100, NULL), NB_INVALID_ARG);
    out = (nb_envelope *)&out;
    CHECK_FAILS(nb_client_request(c, NULL, e, 100, &out), NB_INVALID_ARG);
    CHECK(out == NULL);
    CHECK_FAILS(nb_client_reply(c, NULL, e), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_reply(c, e, NULL), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_receive(c, NULL, 5, &out), NB_INVALID_ARG);
    CHECK_FAILS(nb_client_flush(NULL, 100), NB_INVALID_ARG);
    CHECK(nb_client_max_payload(NULL) == -1);

    /* Harmless no-ops. */
    nb_client_destroy(NULL);
    nb_subscription_destroy(NULL);

    /* After all that, the client is fine. */
    nb_subscription *ok = sub_sync(c, "/x", NULL);
    CHECK(ok);
    CHECK_OK(nb_client_send(c, "/x", e));
    CHECK(next_env(ok, 5000));

    /* Arguments are checked before connecting: no connection attempt for a NULL subject. */
    CHECK_FAILS(nb_smartsend(NULL, e, T.opts[0]), NB_INVALID_ARG);
    CHECK_FAILS(nb_smartsend("", e, T.opts[0]), NB_INVALID_ARG);
    CHECK_FAILS(nb_smartsend("/x", NULL, T.opts[0]), NB_INVALID_ARG);
}


CASE(direct_sha256, 0)
{
    uint8_t bytes[3000];
    fill_bytes(bytes, sizeof bytes, 5);
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_options_set_direct_sha256(o, true));
    nb_client *a = connect_with(o);
    nb_subscription *s = sub_async(new_client(), "/sums", NULL, &cols[0]);
    CHECK(a && s);
    nb_envelope *e = env_with(bytes_payload("blob", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(e);
    CHECK_OK(nb_client_send(a, "/sums", e));
    CHECK(col_wait(&cols[0], &cols[0].total, 1, 5000));
    const nb_payload *gp = nb_envelope_payload(col_env(&cols[0], 0), 0);
    CHECK(payload_is(gp, "blob", NB_TYPE_BINARY, bytes, sizeof bytes));
    char hex[65];
    CHECK_OK(nb_payload_sha256_hex(gp, hex));
    const char *sent = cJSON_GetStringValue(cJSON_GetObjectItem(nb_payload_metadata(gp), "sha256"));
    CHECK_STR(sent, hex);

    /* The same envelope with one data byte changed (and the size kept) is refused. */
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    CHECK(json);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "payloads"), 0);
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(p0, "data"));
    char *tampered = data ? dup_text(data) : NULL;
    if (tampered)
        tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
    if (tampered)
        set_str(p0, "data", tampered);
    char *text = tampered ? cJSON_PrintUnformatted(doc) : NULL;
    free(tampered);
    cJSON_Delete(doc);
    CHECK(text);
    bool sent_raw = raw_publish("/sums", text, strlen(text));
    free(text);
    CHECK(sent_raw);
    CHECK(col_wait(&cols[0], &cols[0].errors, 1, 5000));
    fprintf(stderr, "note: tampered direct payload: %s\n", cols[0].err_msg[0]);
    CHECK(cols[0].err_status[0] == NB_INTEGRITY);
    CHECK(strstr(cols[0].err_msg[0], "sha256") != NULL);
    CHECK(col_read(&cols[0], &cols[0].total) == 1);
}

CASE(near_default_max_payload, 0)
{
    /* Default options: threshold 1,000,000 bytes, server max_payload 1 MiB. Base64 makes
     * a direct payload 4/3 larger, so 700 KB fits in an envelope and 800 KB does not. */
    static uint8_t bytes[800000];
    fill_bytes(bytes, sizeof bytes, 9);
    nb_client *a;
    nb_subscription *s;
    CHECK(pair(&a, &s, "/near"));
    CHECK(nb_client_max_payload(a) == 1048576);
    nb_envelope *got = send_and_next(a, s, "/near",
                                     env_with(bytes_payload("b", NB_TYPE_BINARY, bytes, 700000)));
    CHECK(got);
    CHECK(payload_is(nb_envelope_payload(got, 0), "b", NB_TYPE_BINARY, bytes, 700000));
    nb_envelope *big = env_with(bytes_payload("b", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(big);
    CHECK_FAIL(nb_client_send(a, "/near", big), NB_TOO_LARGE, "1048576");
    fprintf(stderr, "note: 800,000 B with default options: %s\n", nb_last_error());
}

CASE(bad_subjects, 0)
{
    /* nats.c writes the subject into the protocol line as it is: "PUB a b 5" would
     * publish on "a" with reply subject "b", and a CR LF would start a new command. */
    static const char *const bad[] = {"a b", "a\tb", "a\r\nPUB x 1", "a\nb", "a\rb"};
    nb_client *c = new_client();
    nb_subscription *watch = sub_sync(c, ">", NULL);
    nb_envelope *e = env_text("msg", "x");
    CHECK(c && watch && e);
    for (size_t i = 0; i < COUNT(bad); i++) {
        nb_subscription *s = (nb_subscription *)&s;
        nb_envelope *out = (nb_envelope *)&out;
        CHECK_FAILS(nb_client_send(c, bad[i], e), NB_INVALID_ARG);
        CHECK_FAILS(nb_client_request(c, bad[i], e, 100, &out), NB_INVALID_ARG);
        CHECK(out == NULL);
        CHECK_FAILS(nb_client_subscribe_sync(c, &s, bad[i], NULL), NB_INVALID_ARG);
        CHECK(s == NULL);
        s = (nb_subscription *)&s;
        CHECK_FAILS(nb_client_subscribe(c, &s, bad[i], NULL, on_envelope, on_error, &cols[0]),
                    NB_INVALID_ARG);
        CHECK(s == NULL);
        CHECK_FAILS(nb_client_subscribe_sync(c, &s, "/ok", bad[i]), NB_INVALID_ARG); /* queue */
        CHECK(s == NULL);
    }
    /* Nothing reached the server. */
    nb_envelope *none = NULL;
    CHECK_FAILS(nb_subscription_next(watch, 300, &none), NB_TIMEOUT);
}

/* A client destroyed while its callback subscription still has messages in flight: the
 * subscription is stopped first, no callback runs on the freed client (ASan watches), and the
 * subscription is still freed by nb_subscription_destroy afterwards. */
CASE(client_destroyed_before_subscription, 0)
{
    nb_options *o = opts_new();
    CHECK(o);
    nb_client *c = NULL;
    CHECK_OK(nb_client_connect(&c, o));
    nb_subscription *s = NULL;
    nb_status st = nb_client_subscribe(c, &s, "early.destroy", NULL, on_envelope, on_error, &cols[0]);
    if (st == NB_OK)
        st = nb_client_flush(c, 2000);
    nb_client *a = new_client();
    bool sent = a && st == NB_OK && send_many(a, "early.destroy", 200);
    bool some = sent && col_wait(&cols[0], &cols[0].total, 1, 5000);
    nb_client_destroy(c); /* messages may still be queued for the callback */
    size_t seen = col_read(&cols[0], &cols[0].total);
    nb_subscription_destroy(s);
    CHECK_OK(st);
    CHECK(sent && some);
    CHECK(col_read(&cols[0], &cols[0].total) == seen); /* nothing delivered after the stop */
}

/* The client destroyed from inside its own subscription's callback, then the subscription:
 * nats.c still completes the subscription after the callback returns (ASan watches). */
typedef struct self_destruct {
    nb_client *client;
    nb_subscription *sub;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} self_destruct;

static void destroy_all_in_callback(nb_subscription *sub, nb_envelope *env, void *closure)
{
    self_destruct *d = closure;
    (void)sub;
    nb_envelope_destroy(env);
    pthread_mutex_lock(&d->mu);
    bool first = !d->done;
    d->done = true;
    pthread_mutex_unlock(&d->mu);
    if (!first)
        return;
    nb_client_destroy(d->client);
    nb_subscription_destroy(d->sub);
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

CASE(client_destroyed_in_callback, 0)
{
    self_destruct d = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    nb_options *o = opts_new();
    CHECK(o);
    CHECK_OK(nb_client_connect(&d.client, o));
    nb_status st = nb_client_subscribe(d.client, &d.sub, "self.destruct", NULL,
                                       destroy_all_in_callback, NULL, &d);
    if (st == NB_OK)
        st = nb_client_flush(d.client, 2000);
    nb_client *a = new_client();
    bool sent = st == NB_OK && a && send_many(a, "self.destruct", 3);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&d.mu);
    while (!d.done && pthread_cond_timedwait(&d.cv, &d.mu, &until) == 0)
        ;
    bool done = d.done;
    pthread_mutex_unlock(&d.mu);
    if (!done) { /* never called back: free what the callback would have freed */
        nb_client_destroy(d.client);
        nb_subscription_destroy(d.sub);
    }
    nbi_sleep_ms(200); /* let nats.c complete the subscription before the case ends */
    CHECK_OK(st);
    CHECK(sent);
    CHECK(done);
}

/* Envelopes whose payloads would be saved into one directory: a repeated dataname and a
 * digest that is not a string are refused, not half-checked. */
CASE(save_dir_refusals, 0)
{
    nb_options *o = opts_new();
    CHECK(o);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/saved", case_dir());
    CHECK_OK(nb_options_set_download_dir(o, dir));
    static const char dup[] =
        "{\"correlation_id\":\"c\",\"msg_id\":\"m1\",\"send_to\":\"s\",\"payloads\":["
        "{\"dataname\":\"a\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"eA==\"},"
        "{\"dataname\":\"a\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"eQ==\"}]}";
    nb_envelope *e = NULL;
    CHECK_FAIL(nb_envelope_parse(&e, dup, strlen(dup), o), NB_NOT_ALLOWED,
               "payloads[1] 'a': the same dataname as payloads[0]");
    CHECK(e == NULL);
    static const char digest[] =
        "{\"correlation_id\":\"c\",\"msg_id\":\"m2\",\"send_to\":\"s\",\"payloads\":["
        "{\"dataname\":\"a\",\"type\":\"text\",\"transport\":\"direct\",\"data\":\"eA==\","
        "\"metadata\":{\"sha256\":12345}}]}";
    CHECK_FAIL(nb_envelope_parse(&e, digest, strlen(digest), NULL), NB_BAD_ENVELOPE,
               "payloads[0] 'a': metadata.sha256 must be a hex string");
    CHECK(e == NULL);
}

static const nbt_case cases[] = {
    NBT_ENTRY(reconnect),
    NBT_ENTRY(too_large_for_server),
    NBT_ENTRY(bad_message_async),
    NBT_ENTRY(bad_message_sync),
    NBT_ENTRY(bad_payload_async),
    NBT_ENTRY(slow_consumer_async),
    NBT_ENTRY(slow_consumer_sync),
    NBT_ENTRY(connect_refused),
    NBT_ENTRY(bad_arguments),
    NBT_ENTRY(direct_sha256),
    NBT_ENTRY(near_default_max_payload),
    NBT_ENTRY(bad_subjects),
    NBT_ENTRY(client_destroyed_before_subscription),
    NBT_ENTRY(client_destroyed_in_callback),
    NBT_ENTRY(save_dir_refusals),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
