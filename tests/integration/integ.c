/* SPDX-License-Identifier: MIT */
/*
 * integ.c - the integration tests' shared state and helpers (see integ.h).
 */
#include "integ.h"

#include "cluster.h" /* nbt_free_ports */

#include <errno.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

int64_t now_ms(void) { return nbt_now_ms(); }

void sleep_ms(int64_t ms) { nbt_sleep_ms((long)ms); }

struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Deterministic filler bytes (xorshift32), so failures are reproducible. */
void fill_bytes(uint8_t *out, size_t n, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

/* A UUID v4 as the peers require it: lowercase, hyphenated, version 4, variant 10xx. */
bool is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool hyphen = (i == 8 || i == 13 || i == 18 || i == 23);
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
        if (hyphen ? s[i] != '-' : !hex)
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* "2026-03-13T07:02:50.443Z": ISO 8601 UTC with milliseconds (PROTOCOL.md). */
bool is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!s || strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        bool ok = shape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
        if (!ok)
            return false;
    }
    return true;
}

char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

/* A loopback TCP port nobody listens on (bound, then released). */
int closed_port(void)
{
    int port;
    return nbt_free_ports(&port, 1) == 0 ? port : 9; /* 9, discard: closed on any test machine */
}

/* TCP sockets of this network namespace with port as local or remote port (any state). */
int sockets_on_port(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned lport, rport;
        if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x", &lport, &rport) == 2 &&
            ((int)lport == port || (int)rport == port))
            n++;
    }
    fclose(f);
    return n;
}

/* True when msg holds a decimal number greater than floor. */
bool names_number_above(const char *msg, unsigned long long floor)
{
    for (const char *p = msg; *p; p++) {
        if (*p >= '0' && *p <= '9' && (p == msg || p[-1] < '0' || p[-1] > '9')) {
            unsigned long long v = strtoull(p, NULL, 10);
            if (v > floor)
                return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Collectors: what async callbacks saw, behind a mutex and condvar          */
/* ------------------------------------------------------------------------ */

static void col_init(collector *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void col_free(collector *c)
{
    for (size_t i = 0; i < c->kept; i++)
        nb_envelope_destroy(c->envs[i]);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof *c);
}

const char *first_text(const nb_envelope *e)
{
    const nb_payload *p = e ? nb_envelope_payload(e, 0) : NULL;
    const char *t = p ? nb_payload_text(p) : NULL;
    return t ? t : "";
}

/* Responder mode: answer req with one text payload "echo: <request text>". */
static void answer(collector *c, const nb_envelope *req)
{
    nb_envelope *rep = NULL;
    char text[512];
    snprintf(text, sizeof text, "echo: %s", first_text(req));
    nb_status s = text_envelope(&rep, "answer", text);
    if (s == NB_OK)
        s = nb_client_reply(c->responder, req, rep);
    pthread_mutex_lock(&c->mu);
    c->reply_status = s;
    if (s != NB_OK)
        snprintf(c->reply_error, sizeof c->reply_error, "%s", nb_last_error());
    pthread_mutex_unlock(&c->mu);
    nb_envelope_destroy(rep);
}

void on_envelope(nb_subscription *sub, nb_envelope *env, void *closure)
{
    (void)sub;
    collector *c = closure;
    if (c->responder)
        answer(c, env);
    pthread_mutex_lock(&c->mu);
    c->total++;
    if (c->kept < COL_KEEP) {
        c->envs[c->kept++] = env;
        env = NULL;
    }
    pthread_cond_broadcast(&c->cv);
    while (c->block)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    nb_envelope_destroy(env);
}

void on_error(nb_subscription *sub, nb_status s, const char *message, void *closure)
{
    (void)sub;
    collector *c = closure;
    pthread_mutex_lock(&c->mu);
    if (c->errors < COL_ERRS) {
        c->err_status[c->errors] = s;
        snprintf(c->err_msg[c->errors], sizeof c->err_msg[0], "%s", message ? message : "(null)");
    }
    c->errors++;
    if ((unsigned)s < NB_STATUS_COUNT)
        c->by_status[s]++;
    const char *digit = message ? strpbrk(message, "0123456789") : NULL;
    if (s == NB_SLOW_CONSUMER && digit)
        c->dropped += (size_t)strtoull(digit, NULL, 10);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until *counter >= n (counter lives in c, read under c->mu). */
bool col_wait(collector *c, const size_t *counter, size_t n, int64_t ms)
{
    struct timespec dl = deadline_in(ms);
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    while (*counter < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &dl);
    bool ok = *counter >= n;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

size_t col_read(collector *c, const size_t *counter)
{
    pthread_mutex_lock(&c->mu);
    size_t v = *counter;
    pthread_mutex_unlock(&c->mu);
    return v;
}

void col_block(collector *c, bool on)
{
    pthread_mutex_lock(&c->mu);
    c->block = on;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* The i-th kept envelope (NULL when fewer arrived). */
const nb_envelope *col_env(collector *c, size_t i)
{
    pthread_mutex_lock(&c->mu);
    const nb_envelope *e = i < c->kept ? c->envs[i] : NULL;
    pthread_mutex_unlock(&c->mu);
    return e;
}

static void ev_init(evlog *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void ev_free(evlog *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
}

void on_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)s;
    (void)detail;
    evlog *l = closure;
    pthread_mutex_lock(&l->mu);
    if (l->n < COUNT(l->seq))
        l->seq[l->n++] = ev;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Index of the first ev in the log at or after from, or -1. Caller holds l->mu. */
static long ev_find_locked(const evlog *l, nb_event ev, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        if (l->seq[i] == ev)
            return (long)i;
    return -1;
}

/* Waits for ev to be logged at or after index from; returns its index or -1. */
long ev_wait(evlog *l, nb_event ev, size_t from, int64_t ms)
{
    struct timespec dl = deadline_in(ms);
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    long at;
    while ((at = ev_find_locked(l, ev, from)) < 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cv, &l->mu, &dl);
    pthread_mutex_unlock(&l->mu);
    return at;
}

/* ------------------------------------------------------------------------ */
/* Per-case state and teardown                                              */
/* ------------------------------------------------------------------------ */

it_state T;

collector cols[4];
evlog evs[2];

bool setup(long max_payload)
{
    memset(&T, 0, sizeof T);
    for (size_t i = 0; i < COUNT(cols); i++)
        col_init(&cols[i]);
    for (size_t i = 0; i < COUNT(evs); i++)
        ev_init(&evs[i]);
    T.server_up = nbt_server_start(&T.srv, false, max_payload) == 0;
    if (!T.server_up)
        fprintf(stderr, "setup: could not start nats-server\n");
    return T.server_up;
}

/* Frees in dependency order: subscriptions (their callbacks use collectors), clients, the rest. */
void teardown(void)
{
    for (size_t i = 0; i < COUNT(cols); i++)
        col_block(&cols[i], false); /* a blocked callback would stall the unsubscribe */
    while (T.nsubs > 0)
        nb_subscription_destroy(T.subs[--T.nsubs]);
    while (T.nclients > 0)
        nb_client_destroy(T.clients[--T.nclients]);
    if (T.raw)
        natsConnection_Destroy(T.raw);
    nb_fileserver_stop(T.fs);
    if (T.tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "teardown: could not remove %s\n", T.tmpdir);
    }
    while (T.nenvs > 0)
        nb_envelope_destroy(T.envs[--T.nenvs]);
    while (T.nopts > 0)
        nb_options_destroy(T.opts[--T.nopts]);
    for (size_t i = 0; i < COUNT(cols); i++)
        col_free(&cols[i]);
    for (size_t i = 0; i < COUNT(evs); i++)
        ev_free(&evs[i]);
    if (T.server_up)
        nbt_server_stop(&T.srv);
    memset(&T, 0, sizeof T);
}

/* Tracks e for teardown and returns it. */
nb_envelope *keep(nb_envelope *e)
{
    if (e && T.nenvs < COUNT(T.envs))
        T.envs[T.nenvs++] = e;
    else if (e)
        fprintf(stderr, "keep: too many envelopes in one case (one leaks)\n");
    return e;
}

/* Options pointing at this case's server. */
nb_options *opts_new(void)
{
    nb_options *o = NULL;
    if (T.nopts == COUNT(T.opts) || nb_options_create(&o) != NB_OK ||
        nb_options_set_url(o, T.srv.url) != NB_OK) {
        fprintf(stderr, "opts_new: %s\n", nb_last_error());
        nb_options_destroy(o);
        return NULL;
    }
    T.opts[T.nopts++] = o;
    return o;
}

nb_client *connect_with(const nb_options *o)
{
    nb_client *c = NULL;
    if (!o || T.nclients == COUNT(T.clients))
        return NULL;
    nb_status s = nb_client_connect(&c, o);
    if (s != NB_OK) {
        fprintf(stderr, "connect %s: %s: %s\n", T.srv.url, nb_status_text(s), nb_last_error());
        return NULL;
    }
    T.clients[T.nclients++] = c;
    return c;
}

nb_client *new_client(void) { return connect_with(opts_new()); }

/* Flushing after subscribing makes sure the server has the SUB before anyone publishes. */
static nb_subscription *track_sub(nb_client *c, nb_subscription *s, nb_status st)
{
    if (st != NB_OK) {
        fprintf(stderr, "subscribe: %s: %s\n", nb_status_text(st), nb_last_error());
        return NULL;
    }
    T.subs[T.nsubs++] = s;
    if ((st = nb_client_flush(c, 5000)) != NB_OK) {
        fprintf(stderr, "flush after subscribe: %s: %s\n", nb_status_text(st), nb_last_error());
        return NULL;
    }
    return s;
}

nb_subscription *sub_sync(nb_client *c, const char *subject, const char *queue)
{
    nb_subscription *s = NULL;
    if (!c || T.nsubs == COUNT(T.subs))
        return NULL;
    nb_status st = nb_client_subscribe_sync(c, &s, subject, queue);
    return track_sub(c, s, st);
}

nb_subscription *sub_async(nb_client *c, const char *subject, const char *queue,
                                  collector *col)
{
    nb_subscription *s = NULL;
    if (!c || T.nsubs == COUNT(T.subs))
        return NULL;
    nb_status st = nb_client_subscribe(c, &s, subject, queue, on_envelope, on_error, col);
    return track_sub(c, s, st);
}

/* Unsubscribes s now (and forgets it). */
void drop_sub(nb_subscription *s)
{
    for (size_t i = 0; i < T.nsubs; i++) {
        if (T.subs[i] == s) {
            T.subs[i] = T.subs[--T.nsubs];
            break;
        }
    }
    nb_subscription_destroy(s);
}

/* Appends p to e; p is destroyed when that fails. */
bool add(nb_envelope *e, nb_payload *p)
{
    nb_status s = p ? nb_envelope_add_payload(e, &p) : NB_INVALID_ARG;
    if (s != NB_OK) {
        fprintf(stderr, "add payload: %s\n", nb_last_error());
        nb_payload_destroy(p);
    }
    return s == NB_OK;
}

nb_payload *text_payload(const char *name, const char *text)
{
    nb_payload *p = NULL;
    if (nb_payload_create_text(&p, name, text) != NB_OK)
        fprintf(stderr, "text payload: %s\n", nb_last_error());
    return p;
}

nb_payload *bytes_payload(const char *name, nb_type t, const void *data, size_t n)
{
    nb_payload *p = NULL;
    if (nb_payload_create(&p, name, t, data, n) != NB_OK)
        fprintf(stderr, "%s payload: %s\n", nb_type_name(t), nb_last_error());
    return p;
}

nb_envelope *env_new(void)
{
    nb_envelope *e = NULL;
    if (nb_envelope_create(&e) != NB_OK)
        fprintf(stderr, "envelope: %s\n", nb_last_error());
    return keep(e);
}

/* A tracked envelope with one payload. */
nb_envelope *env_with(nb_payload *p)
{
    nb_envelope *e = env_new();
    if (!e || !add(e, p))
        return NULL;
    return e;
}

nb_envelope *env_text(const char *name, const char *text)
{
    return env_with(text_payload(name, text));
}

/* The next envelope of a sync subscription (tracked), or NULL with the reason printed. */
nb_envelope *next_env(nb_subscription *s, int64_t ms)
{
    nb_envelope *e = NULL;
    nb_status st = s ? nb_subscription_next(s, ms, &e) : NB_INVALID_ARG;
    if (st != NB_OK) {
        fprintf(stderr, "nb_subscription_next: %s: %s\n", nb_status_text(st), nb_last_error());
        return NULL;
    }
    return keep(e);
}

/* A sending client, and a receiving client with a sync subscription on subject. */
bool pair(nb_client **a, nb_subscription **s, const char *subject)
{
    *a = new_client();
    *s = sub_sync(new_client(), subject, NULL);
    return *a && *s;
}

nb_envelope *send_and_next(nb_client *a, nb_subscription *s, const char *subject,
                                  nb_envelope *e)
{
    nb_status st = e ? nb_client_send(a, subject, e) : NB_INVALID_ARG;
    if (st != NB_OK) {
        fprintf(stderr, "nb_client_send: %s: %s\n", nb_status_text(st), nb_last_error());
        return NULL;
    }
    return next_env(s, 5000);
}

/* Sends e on subject from one connection and receives it on another. */
nb_envelope *roundtrip(nb_envelope *e, const char *subject)
{
    nb_client *a;
    nb_subscription *s;
    if (!pair(&a, &s, subject))
        return NULL;
    return send_and_next(a, s, subject, e);
}

/* A received payload carries exactly these name, type and bytes, sent directly. */
bool payload_is(const nb_payload *p, const char *name, nb_type t, const void *data,
                       size_t n)
{
    REQUIRE(p);
    REQUIRE_STR(nb_payload_dataname(p), name);
    REQUIRE(nb_payload_type(p) == t);
    REQUIRE_STR(nb_payload_type_name(p), nb_type_name(t));
    REQUIRE(nb_payload_transport(p) == NB_TRANSPORT_DIRECT);
    REQUIRE(nb_payload_size(p) == n);
    REQUIRE(is_uuid4(nb_payload_id(p)));
    REQUIRE(nb_payload_url(p) == NULL);
    size_t len = n + 1;
    const uint8_t *got = nb_payload_data(p, &len);
    REQUIRE(got != NULL);
    REQUIRE(len == n);
    REQUIRE(n == 0 || memcmp(got, data, n) == 0);
    REQUIRE(got[n] == '\0'); /* the header promises a NUL after the bytes */
    return true;
}

/* Every key of want is in got with an equal value (the library may add keys). */
static bool json_subset(const cJSON *want, const cJSON *got)
{
    REQUIRE(cJSON_IsObject(want) && cJSON_IsObject(got));
    const cJSON *item;
    cJSON_ArrayForEach(item, want)
    {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(got, item->string);
        if (!other || !cJSON_Compare(item, other, true)) {
            fprintf(stderr, "json_subset: key \"%s\" missing or different\n", item->string);
            return false;
        }
    }
    return true;
}

bool json_text_subset(const char *want_text, const cJSON *got)
{
    cJSON *want = cJSON_Parse(want_text);
    bool ok = want && json_subset(want, got);
    cJSON_Delete(want);
    return ok;
}

static natsConnection *raw_conn(void)
{
    if (!T.raw && natsConnection_ConnectTo(&T.raw, T.srv.url) != NATS_OK) {
        fprintf(stderr, "nats.c connect: %s\n", nats_GetLastError(NULL));
        T.raw = NULL;
    }
    return T.raw;
}

/* Publishes bytes with nats.c directly, bypassing natsbridge, and flushes. */
bool raw_publish(const char *subject, const void *data, size_t len)
{
    natsConnection *nc = raw_conn();
    REQUIRE(nc);
    REQUIRE(natsConnection_Publish(nc, subject, data, (int)len) == NATS_OK);
    REQUIRE(natsConnection_FlushTimeout(nc, 5000) == NATS_OK);
    return true;
}

nb_status text_envelope(nb_envelope **out, const char *name, const char *text)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    nb_status s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_payload_create_text(&p, name, text);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p);
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        e = NULL;
    }
    *out = e;
    return s;
}

nb_status send_text(nb_client *a, const char *subject, const char *text)
{
    nb_envelope *e = NULL;
    nb_status s = text_envelope(&e, "msg", text);
    if (s == NB_OK)
        s = nb_client_send(a, subject, e);
    nb_envelope_destroy(e);
    return s;
}

bool send_many(nb_client *a, const char *subject, int n)
{
    for (int i = 0; i < n; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        REQUIRE_OK(send_text(a, subject, text));
    }
    REQUIRE_OK(nb_client_flush(a, 10000));
    return true;
}

/* A temporary directory for this case (removed at teardown). */
const char *case_dir(void)
{
    if (!T.tmpdir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(T.tmpdir, sizeof T.tmpdir, "%s/nbinteg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(T.tmpdir)) {
            fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
            T.tmpdir[0] = '\0';
            return NULL;
        }
    }
    return T.tmpdir;
}

bool write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    bool ok = fwrite(data, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    REQUIRE(ok);
    return true;
}

