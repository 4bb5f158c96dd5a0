/* SPDX-License-Identifier: MIT */
/*
 * messaging.c - the NATS side: one connection per nb_client, sends,
 * subscriptions (callback or sync), request and reply (nats.c 3.4.1).
 *
 * Why some things are done the way they are (see ../shared nats-c notes):
 *  - nats.c's plain publish waits up to 1 ms for its flusher thread. Sends
 *    stay batched for throughput, but request and reply flush at once so a
 *    round trip never pays that delay.
 *  - nats.c's default pending limit is 64 MiB per subscription, ~64 envelopes
 *    of 1 MB: limits are set deliberately (options.c) and every drop is
 *    reported to the subscriber's error callback, never silent.
 */
#include "backoff.h"
#include "envelope.h"
#include "ids.h"
#include "client.h"
#include "natsstatus.h"
#include "options.h"
#include "redact.h"

#include <ctype.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


struct nb_subscription {
    nb_client *client;
    natsSubscription *sub;
    char *subject;
    nb_envelope_cb on_envelope;
    nb_error_cb on_error;
    void *closure;
    bool sync;
    int64_t dropped_reported;
    pthread_mutex_t mu;     /* guards completed */
    pthread_cond_t done;
    bool completed;         /* nats.c will call no more callbacks */
    bool free_on_complete;  /* destroyed from inside its own callback */
    bool in_callback;
    pthread_t callback_thread;
    uint64_t since;         /* client->violations when it was made: older ones are not about it */
    nb_subscription *next;  /* in client->subs */
};

/*
 * A request waiting for its reply (on the requester's stack, in c->rr_waiters
 * under c->rr_mu): the inbox callback queues the replies addressed to its
 * token, record_violation asks it to look for a refused publish.
 */
#define RR_QUEUE 8 /* replies held for a waiter that has not read them yet; more are dropped */
typedef struct nbi_rr_waiter {
    uint64_t token;
    pthread_cond_t cv;          /* signalled under c->rr_mu */
    natsMsg *queue[RR_QUEUE];
    unsigned head, count;
    bool look;                  /* a permissions violation arrived: is it this request's? */
    struct nbi_rr_waiter *next;
} rr_waiter;

/* ---- connection events ------------------------------------------------- */

static void emit(nb_client *c, nb_event ev, nb_status s, const char *detail)
{
    if (c->opts->event_cb)
        c->opts->event_cb(ev, s, detail, c->opts->event_closure);
}

/* Envelopes published since the last confirmation (nb_client_confirm): what a loss may cover. */
static uint64_t unconfirmed(nb_client *c)
{
    uint64_t pub = atomic_load(&c->published);
    pthread_mutex_lock(&c->mu);
    /* A confirmation may have counted later publishes than pub. */
    uint64_t since = pub > c->confirmed_published ? pub - c->confirmed_published : 0;
    pthread_mutex_unlock(&c->mu);
    return since;
}

/*
 * What the socket held when the connection dropped is gone, and nats.c cannot
 * tell how much of it the server read: the event says how many envelopes are
 * at stake, so that the loss is never silent.
 */
static void on_disconnected(natsConnection *nc, void *closure)
{
    nb_client *c = closure;
    (void)nc;
    atomic_fetch_add(&c->disconnects, 1);
    uint64_t since = unconfirmed(c);
    char detail[300] = "disconnected from the NATS server";
    if (since > 0)
        snprintf(detail, sizeof detail,
                 "disconnected from the NATS server: up to %" PRIu64 " envelope%s published since "
                 "the last confirmation (nb_client_confirm) may not have reached it",
                 since, since == 1 ? "" : "s");
    emit(c, NB_EVENT_DISCONNECTED, NB_CONNECTION, detail);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    emit(closure, NB_EVENT_RECONNECTED, NB_OK, "reconnected to the NATS server");
}

static void on_closed(natsConnection *nc, void *closure)
{
    nb_client *c = closure;
    (void)nc;
    /* Closed by nats.c (reconnecting gave up): what it still buffered is dropped. */
    uint64_t since = atomic_load(&c->destroying) ? 0 : unconfirmed(c);
    char detail[300] = "connection closed";
    if (since > 0)
        snprintf(detail, sizeof detail,
                 "connection closed: up to %" PRIu64 " envelope%s published since the last "
                 "confirmation (nb_client_confirm) may not have reached the server",
                 since, since == 1 ? "" : "s");
    emit(c, NB_EVENT_CLOSED, NB_CONNECTION, detail);
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_cond_broadcast(&c->closed_cv);
    pthread_mutex_unlock(&c->mu);
}

/*
 * nats.c runs the closed callback on its own thread after natsConnection_Close
 * returns: c must outlive it (bounded wait, 5 s, so that close never hangs).
 */
/* Waits under mu until *flag is set or seconds pass; returns *flag. */
static bool wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *flag, int seconds)
{
    struct timespec until;
    nbi_deadline_after(CLOCK_REALTIME, (int64_t)seconds * 1000, &until);
    pthread_mutex_lock(mu);
    while (!*flag && pthread_cond_timedwait(cv, mu, &until) == 0)
        ;
    bool set = *flag;
    pthread_mutex_unlock(mu);
    return set;
}

static void wait_closed(nb_client *c) { wait_flag(&c->mu, &c->closed_cv, &c->closed, 5); }

static void stop_subscriptions(nb_client *c);
static void rr_stop(nb_client *c);
static void req_close(nb_client *c);

static void unlink_subscription(nb_client *c, nb_subscription *s)
{
    pthread_mutex_lock(&c->mu);
    for (nb_subscription **pp = &c->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
}

static void report_error(nb_subscription *s, nb_status st, const char *message)
{
    if (s->on_error)
        s->on_error(s, st, message, s->closure);
    else
        fprintf(stderr, "natsbridge: subscription '%s': %s\n", s->subject, message);
}

/* Messages dropped since the last report (nats.c's count only grows). */
static int64_t take_new_drops(nb_subscription *s)
{
    int64_t dropped = 0;
    if (natsSubscription_GetDropped(s->sub, &dropped) != NATS_OK)
        return 0;
    pthread_mutex_lock(&s->mu);
    int64_t fresh = dropped - s->dropped_reported;
    if (fresh > 0)
        s->dropped_reported = dropped;
    pthread_mutex_unlock(&s->mu);
    return fresh > 0 ? fresh : 0;
}

static nb_status drops_error(const nb_subscription *s, int64_t n)
{
    return nbi_fail(NB_SLOW_CONSUMER,
                    "subject '%.200s': %lld messages dropped (slow consumer: pending limits reached)",
                    s->subject, (long long)n);
}

/*
 * nats.c tells the error handler once per slow-consumer episode, while the
 * drops go on: every delivery (and the destroy) reports what was dropped
 * since, so the whole count reaches the subscriber.
 */
static void report_new_drops(nb_subscription *s)
{
    int64_t n = take_new_drops(s);
    if (n > 0)
        report_error(s, drops_error(s, n), nb_last_error());
}

static void describe_auth(const nb_options *o, char *out, size_t n);

/* ---- permissions violations ------------------------------------------- */

/*
 * nats.c reports a refused publish or subscribe only asynchronously
 * (-ERR 'Permissions Violation for Publish to "x"'): on_async_error keeps
 * them in a small ring, and the calls that flush (nb_client_flush,
 * subscribe) look there for one that names their subject.
 */
static void record_violation(nb_client *c, const char *text)
{
    pthread_mutex_lock(&c->mu);
    uint64_t seq = ++c->violations;
    snprintf(c->ring[seq % VIOLATION_RING].text, sizeof c->ring[0].text, "%s", text);
    pthread_cond_broadcast(&c->closed_cv);
    pthread_mutex_unlock(&c->mu);
    /* A request does not flush: a refusal of its publish reaches it here (rr_await). */
    pthread_mutex_lock(&c->rr_mu);
    for (rr_waiter *w = c->rr_waiters; w; w = w->next) {
        w->look = true;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&c->rr_mu);
}

/* The subject of a violation text ("... to \"SUBJECT\" ..."), into out; "" when none. */
static void violation_subject(const char *text, char *out, size_t n)
{
    const char *q = strchr(text, '"');
    const char *e = q ? strchr(q + 1, '"') : NULL;
    snprintf(out, n, "%.*s", e ? (int)(e - q - 1) : 0, e ? q + 1 : "");
}

/* Whether text is about kind ("Publish" or "Subscription") on subject (NULL: any subject). */
static bool violation_matches(const char *text, const char *kind, const char *subject)
{
    char pattern[300];
    snprintf(pattern, sizeof pattern, "%s to \"%.200s%s", kind, subject ? subject : "",
             subject ? "\"" : "");
    return strstr(text, pattern) != NULL;
}

/*
 * After a flush: the newest violation after `since` about kind on subject,
 * into text; false when there is none. The read loop records a violation
 * (natsConnection_GetLastError) before it handles the flush's PONG, but
 * on_async_error may run a moment later: when the connection's last error
 * is a violation on_async_error has not seen yet, it is waited for (1 s at
 * most).
 */
static bool find_violation(nb_client *c, uint64_t since, const char *kind, const char *subject,
                           char *text, size_t n, bool wait, uint64_t *upto)
{
    const char *last = NULL;
    bool fresh = wait && natsConnection_GetLastError(c->nc, &last) == NATS_NOT_PERMITTED && last;
    char newest[256] = "";
    if (fresh)
        snprintf(newest, sizeof newest, "%s", last);
    struct timespec until;
    nbi_deadline_after(CLOCK_REALTIME, 1000, &until);
    pthread_mutex_lock(&c->mu);
    /* Not recorded yet when no recorded text is the connection's last one. */
    for (bool seen = !fresh; !seen;) {
        for (uint64_t i = c->violations; i > 0 && i + VIOLATION_RING > c->violations && !seen; i--)
            seen = strcmp(c->ring[i % VIOLATION_RING].text, newest) == 0;
        if (!seen && pthread_cond_timedwait(&c->closed_cv, &c->mu, &until) != 0)
            break;
    }
    bool found = false;
    for (uint64_t i = c->violations; i > since && i + VIOLATION_RING > c->violations && !found; i--)
        if ((found = violation_matches(c->ring[i % VIOLATION_RING].text, kind, subject)))
            snprintf(text, n, "%s", c->ring[i % VIOLATION_RING].text);
    if (upto)
        *upto = c->violations; /* what this search covered */
    pthread_mutex_unlock(&c->mu);
    return found;
}

static uint64_t violations_now(nb_client *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->violations;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* The error of a refused publish or subscribe, naming the subject. */
static nb_status permission_error(const char *text, bool publish)
{
    char subject[256];
    violation_subject(text, subject, sizeof subject);
    return nbi_fail(NB_PERMISSION,
                    "%s '%.200s': permissions violation: the NATS server does not allow this "
                    "user to %s it (%s)",
                    publish ? "publish on" : "subscribe to", subject,
                    publish ? "publish on" : "subscribe to", text);
}

/*
 * write_now makes nats.c subscribe its own reply inbox "_INBOX.<nuid>.*" on
 * a responder's connection, which is never waited on: a server that refuses
 * it (a user without subscribe permission on _INBOX.>) is no error of the
 * caller's. Any other inbox-shaped subject (this client's request inbox, a
 * subscription the caller made) is reported as usual.
 */
static bool resp_inbox_refused(nb_client *c, const char *text)
{
    char subject[256];
    violation_subject(text, subject, sizeof subject);
    size_t n = strlen(subject);
    if (!violation_matches(text, "Subscription", NULL) || strncmp(subject, "_INBOX.", 7) != 0 ||
        n < 9 || strcmp(subject + n - 2, ".*") != 0 || strchr(subject + 7, '.') != subject + n - 2)
        return false;
    pthread_mutex_lock(&c->rr_mu);
    bool ours = strncmp(subject, c->rr_prefix, n - 2) == 0 && c->rr_prefix[n - 2] == '\0';
    pthread_mutex_unlock(&c->rr_mu);
    pthread_mutex_lock(&c->mu);
    for (nb_subscription *s = c->subs; s && !ours; s = s->next)
        ours = strcmp(s->subject, subject) == 0;
    pthread_mutex_unlock(&c->mu);
    return !ours;
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                           void *closure)
{
    (void)nc;
    nb_client *c = closure;
    if (err == NATS_NOT_PERMITTED) {
        /* nats.c set this thread's last error to the server's text for this call. */
        char text[256];
        nbi_nats_text(nats_GetLastError(NULL), text, sizeof text);
        if (resp_inbox_refused(c, text))
            return;
        record_violation(c, text);
        permission_error(text, strstr(text, "Publish") != NULL);
        emit(c, NB_EVENT_ERROR, NB_PERMISSION, nb_last_error());
        return;
    }
    bool ours = false;
    pthread_mutex_lock(&c->mu);
    for (nb_subscription *s = c->subs; s && sub; s = s->next)
        ours = ours || s->sub == sub;
    pthread_mutex_unlock(&c->mu);
    /* Our subscriptions' drops are reported on their next delivery (report_new_drops). */
    if (ours && err == NATS_SLOW_CONSUMER)
        return;
    char msg[600];
    if (err == NATS_CONNECTION_AUTH_FAILED) { /* on a reconnect: credentials revoked or expired */
        char text[256], tried[128];
        nbi_nats_text(nats_GetLastError(NULL), text, sizeof text);
        describe_auth(c->opts, tried, sizeof tried);
        snprintf(msg, sizeof msg, "reconnect: authentication failed: the server refused it "
                 "(tried: %s; %s)", *tried ? tried : "no credentials", text);
        emit(c, NB_EVENT_ERROR, NB_CONNECTION, msg);
        return;
    }
    snprintf(msg, sizeof msg, "asynchronous error: %s", natsStatus_GetText(err));
    emit(c, NB_EVENT_ERROR, err == NATS_SLOW_CONSUMER ? NB_SLOW_CONSUMER : NB_NATS, msg);
}

/* ---- connect ----------------------------------------------------------- */

/*
 * One URL goes to nats.c as is. A comma-separated list (options.c checked
 * each and removed the spaces) becomes nats.c's server list: it connects to
 * one of them and, when that one goes down, reconnects to another.
 */
static natsStatus set_servers(natsOptions *no, const char *url)
{
    if (!strchr(url, ','))
        return natsOptions_SetURL(no, url);
    int count = 1;
    for (const char *p = url; (p = strchr(p, ',')) != NULL; p++)
        count++;
    char *copy = nbi_strdup(url);
    const char **list = copy ? calloc((size_t)count, sizeof *list) : NULL;
    natsStatus ns = NATS_NO_MEMORY;
    if (list) {
        int n = 0;
        for (char *p = copy; p; n++) {
            list[n] = p;
            if ((p = strchr(p, ',')) != NULL)
                *p++ = '\0';
        }
        ns = natsOptions_SetServers(no, list, n); /* copies the strings */
    }
    free(list);
    free(copy);
    return ns;
}

/* ---- authentication and TLS (issue 10) ---------------------------------- */

/* nats.c asks for the JWT at every (re)connect; it frees the copy. */
static natsStatus creds_jwt(char **jwt, char **err, void *closure)
{
    const nb_options *o = closure;
    (void)err;
    *jwt = nbi_strdup(o->creds_jwt);
    return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

/* Signs the server's nonce with the seed given in memory. */
static natsStatus creds_sign(char **err, unsigned char **sig, int *len, const char *nonce,
                             void *closure)
{
    const nb_options *o = closure;
    (void)err;
    return nats_Sign(o->creds_seed, nonce, sig, len);
}

static bool any_tls_url(const char *url)
{
    for (const char *p = url; p; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, "tls://", 6) == 0)
            return true;
    }
    return false;
}

/* Whether the connection must be TLS: asked for, a tls:// URL, a CA or a client certificate. */
static bool wants_tls(const nb_options *o)
{
    return o->tls_required || any_tls_url(o->url) || o->tls_ca_file || o->tls_cert_file;
}

static natsStatus apply_auth(natsOptions *no, const nb_options *o)
{
    natsStatus ns = NATS_OK;
    if (o->user)
        ns = natsOptions_SetUserInfo(no, o->user, o->password);
    if (ns == NATS_OK && o->token)
        ns = natsOptions_SetToken(no, o->token);
    if (ns == NATS_OK && o->nkey_seed_file)
        ns = natsOptions_SetNKeyFromSeed(no, o->nkey_public, o->nkey_seed_file);
    if (ns == NATS_OK && o->creds_file)
        ns = natsOptions_SetUserCredentialsFromFiles(no, o->creds_file, NULL);
    if (ns == NATS_OK && o->creds_jwt)
        ns = natsOptions_SetUserCredentialsCallbacks(no, creds_jwt, (void *)o, creds_sign, (void *)o);
    if (ns == NATS_OK && o->connection_name)
        ns = natsOptions_SetName(no, o->connection_name);
    return ns;
}

/* Secure: never falls back to plain text (nats.c 3.4.1 ignores the tls:// scheme itself). */
static natsStatus apply_tls(natsOptions *no, const nb_options *o)
{
    natsStatus ns = NATS_OK;
    if (wants_tls(o))
        ns = natsOptions_SetSecure(no, true);
    if (ns == NATS_OK && o->tls_ca_file)
        ns = natsOptions_LoadCATrustedCertificates(no, o->tls_ca_file);
    if (ns == NATS_OK && o->tls_cert_file)
        ns = natsOptions_LoadCertificatesChain(no, o->tls_cert_file, o->tls_key_file);
    if (ns == NATS_OK && o->tls_hostname)
        ns = natsOptions_SetExpectedHostname(no, o->tls_hostname);
    return ns;
}

static natsStatus apply_options(natsOptions *no, const nb_options *o, nb_client *c)
{
    natsStatus ns = set_servers(no, o->url);
    if (ns == NATS_OK)
        ns = apply_auth(no, o);
    if (ns == NATS_OK)
        ns = apply_tls(no, o);
    if (ns == NATS_OK && o->connect_timeout_ms > 0)
        ns = natsOptions_SetTimeout(no, o->connect_timeout_ms);
    if (ns == NATS_OK)
        ns = natsOptions_SetAllowReconnect(no, o->allow_reconnect);
    if (ns == NATS_OK)
        ns = natsOptions_SetMaxReconnect(no, o->max_reconnect);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectWait(no, o->reconnect_wait_ms);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectJitter(no, o->reconnect_jitter_ms, 1000);
    if (ns == NATS_OK && o->reconnect_buf_size >= 0)
        ns = natsOptions_SetReconnectBufSize(no, o->reconnect_buf_size);
    if (ns == NATS_OK && o->retry_on_failed_connect)
        ns = natsOptions_SetRetryOnFailedConnect(no, true, NULL, NULL);
    if (ns == NATS_OK)
        ns = natsOptions_SetSendAsap(no, o->send_asap);
    if (ns == NATS_OK && o->pending_msgs > 0)
        ns = natsOptions_SetMaxPendingMsgs(no, o->pending_msgs);
    if (ns == NATS_OK)
        ns = natsOptions_SetDisconnectedCB(no, on_disconnected, c);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectedCB(no, on_reconnected, c);
    if (ns == NATS_OK)
        ns = natsOptions_SetClosedCB(no, on_closed, c);
    if (ns == NATS_OK)
        ns = natsOptions_SetErrorHandler(no, on_async_error, c);
    return ns;
}

static nb_status client_options(nb_client *c, const nb_options *opts)
{
    nb_status s = NB_OK;
    if (opts) {
        s = nb_options_clone(&c->opts, opts);
    } else if ((s = nb_options_create(&c->opts)) != NB_OK) {
        return s;
    }
    if (s == NB_OK && !c->opts->sender_id) {
        /* One sender_id per client: the peers identify a sender across messages by it. */
        char id[NBI_UUID_LEN + 1];
        nbi_uuid4(id);
        s = nb_options_set_sender_id(c->opts, id);
    }
    if (s == NB_OK)
        c->opts->client = c; /* nats-os:// links travel over this connection (objstore.c) */
    return s;
}

/* Whether an item of the server list carries user info ("nats://u:p@h", "tok@h"). */
static bool url_has_userinfo(const char *url)
{
    for (const char *p = url; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        const char *auth = strstr(p, "://");
        size_t item = strcspn(p, ",");
        auth = auth && auth < p + item ? auth + 3 : p;
        size_t n = strcspn(auth, "/?#,");
        if (memchr(auth, '@', n))
            return true;
    }
    return false;
}

/* Names what was tried: "user/password", "token and nkey", ... */
static void describe_auth(const nb_options *o, char *out, size_t n)
{
    nbi_options_auth_methods(o, out, n);
    if (!*out && url_has_userinfo(o->url))
        snprintf(out, n, "user/password or token in the URL");
}

/*
 * A failed connect as a person can act on it: which server (without user
 * info), and for authentication and TLS failures what was tried and what
 * to change. nats.c's own text follows in parentheses, without its source
 * locations.
 */
static nb_status connect_failed(const nb_options *o, natsStatus ns, const char *what)
{
    char detail[512], tried[128], where[600];
    nbi_nats_text(nats_GetLastError(NULL), detail, sizeof detail);
    if (!*detail)
        snprintf(detail, sizeof detail, "%s", natsStatus_GetText(ns));
    nbi_redact(o->url, where, sizeof where, true);
    describe_auth(o, tried, sizeof tried);
    bool auth = ns == NATS_CONNECTION_AUTH_FAILED || ns == NATS_NOT_PERMITTED ||
                strstr(detail, "Authorization Violation") || strstr(detail, "Authentication Expired") ||
                strstr(detail, "authorization violation");
    if (auth && *tried)
        return nbi_fail(NB_CONNECTION, "%s %s: authentication failed: the server refused it "
                        "(tried: %s; %s)", what, where, tried, detail);
    if (auth)
        return nbi_fail(NB_CONNECTION, "%s %s: authentication failed: the server requires "
                        "credentials and none were given (user/password, token, nkey or creds: "
                        "--user/--password, --token, --nkey, --creds) (%s)", what, where, detail);
    if (ns == NATS_SECURE_CONNECTION_WANTED)
        return nbi_fail(NB_CONNECTION, "%s %s: TLS is required (a tls:// URL or a TLS option) but "
                        "the server does not offer TLS; nothing was sent in plain text", what, where);
    /* nats.c reports a failed verification as "SSL handshake error: 20:unable to get ...". */
    const char *hs = strstr(detail, "SSL handshake error: ");
    bool verify = strstr(detail, "certificate verify failed") ||
                  (hs && isdigit((unsigned char)hs[strlen("SSL handshake error: ")]));
    bool alert = strstr(detail, "alert") != NULL;
    /* With TLS 1.3 a refused client certificate only shows as the server hanging up after the handshake. */
    bool hung_up = wants_tls(o) && (strstr(detail, "Expected 'PONG', got ''") ||
                                    strstr(detail, "SSL_write error") || strstr(detail, "SSL_read error"));
    if (verify && !alert)
        return nbi_fail(NB_CONNECTION, "%s %s: TLS: the server's certificate failed verification%s "
                        "(%s)", what, where,
                        o->tls_ca_file ? ": it is not signed by the CA of --tlsca / "
                                         "nb_options_set_tls_ca_file, or names another host"
                                       : ": give the CA that signed it with --tlsca FILE / "
                                         "nb_options_set_tls_ca_file",
                        detail);
    if (alert || hung_up)
        return nbi_fail(NB_CONNECTION, "%s %s: TLS: the server refused the client's certificate%s "
                        "(%s)", what, where,
                        o->tls_cert_file ? " (not signed by a CA the server trusts?)"
                                         : ": it requires one: give --tlscert and --tlskey / "
                                           "nb_options_set_tls_client_cert",
                        hung_up ? "it closed the connection right after the TLS handshake" : detail);
    if (ns == NATS_SSL_ERROR || strstr(detail, "SSL"))
        return nbi_fail(NB_CONNECTION, "%s %s: TLS failed (%s)", what, where, detail);
    if (ns == NATS_TIMEOUT)
        return nbi_fail(NB_TIMEOUT, "%s %s: timed out", what, where);
    nb_status st = nbi_from_nats(ns, what); /* only its status: the message is made here */
    return nbi_fail(st == NB_OK ? NB_CONNECTION : st, "%s %s: %s", what, where, detail);
}

/* Whether a failed connect was the server refusing the credentials. */
static bool refused_login(natsStatus ns)
{
    const char *text = nats_GetLastError(NULL);
    return ns == NATS_CONNECTION_AUTH_FAILED || ns == NATS_NOT_PERMITTED ||
           (text && strstr(text, "Authorization Violation"));
}

/*
 * nats.c 3.4.1 sends an empty signature when the Ed25519 signature of the
 * server's nonce starts with a zero byte, about one connect in 256 with an
 * NKey or a JWT (nats.c issue #705, fixed in 3.8.0): the server refuses it.
 * A refused login with those methods is tried again, with a fresh nonce,
 * twice (one in 16 million then fails; a wrong key fails three times).
 */
static natsStatus connect_nats(const nb_options *o, natsOptions *no, natsConnection **nc)
{
    bool signs = o->nkey_seed_file || o->creds_file || o->creds_jwt;
    natsStatus ns = natsConnection_Connect(nc, no);
    for (int retry = 0; ns != NATS_OK && signs && retry < 2 && refused_login(ns); retry++)
        ns = natsConnection_Connect(nc, no);
    return ns;
}

nb_status nb_client_connect(nb_client **out, const nb_options *opts)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "connect: out is NULL");
    *out = NULL;
    nb_client *c = calloc(1, sizeof *c);
    if (!c)
        return nbi_fail(NB_NO_MEMORY, "connect: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->closed_cv, NULL);
    pthread_mutex_init(&c->rr_mu, NULL);
    pthread_cond_init(&c->rr_done_cv, NULL);
    nb_status s = client_options(c, opts);
    /* nats.c would let the last of them win silently. */
    if (s == NB_OK && c->opts->nkey_seed_file && (c->opts->creds_file || c->opts->creds_jwt))
        s = nbi_fail(NB_INVALID_ARG, "connect: an NKey seed file and user credentials (creds) "
                     "exclude each other: give one of them");
    if (s == NB_OK && c->opts->creds_file && c->opts->creds_jwt)
        s = nbi_fail(NB_INVALID_ARG, "connect: user credentials were given both as a file and "
                     "from memory: give one of them");
    natsOptions *no = NULL;
    if (s == NB_OK) {
        natsStatus ns = natsOptions_Create(&no);
        if (ns == NATS_OK)
            ns = apply_options(no, c->opts, c);
        if (ns != NATS_OK) { /* a CA, certificate or key nats.c (OpenSSL) cannot load */
            char detail[512];
            nbi_nats_text(nats_GetLastError(NULL), detail, sizeof detail);
            s = nbi_fail(ns == NATS_NO_MEMORY ? NB_NO_MEMORY : NB_INVALID_ARG,
                         "connect: the connection options were refused: %s",
                         *detail ? detail : natsStatus_GetText(ns));
        }
        if (s == NB_OK && c->opts->nats_configure &&
            (s = c->opts->nats_configure(no, c->opts->nats_configure_closure)) != NB_OK)
            nbi_fail(s, "connect: the nats_configure callback failed (%s): not connected",
                     nb_status_text(s));
        if (s == NB_OK && (ns = connect_nats(c->opts, no, &c->nc)) != NATS_OK)
            s = connect_failed(c->opts, ns, "connect to");
    }
    if (s == NB_OK && !c->opts->send_asap)
        c->req_opts = no; /* the request connection is opened from the same options */
    else
        natsOptions_Destroy(no);
    if (s != NB_OK) {
        nb_client_destroy(c);
        return s;
    }
    *out = c;
    return NB_OK;
}

/* Destroys the first n retired inboxes (see client.h): nats.c is done with them. */
static void reap_retired(nb_client *c, size_t n)
{
    pthread_mutex_lock(&c->mu);
    n = n < c->retired_count ? n : c->retired_count;
    if (n > 0) { /* (retired is NULL until the first inbox is retired) */
        for (size_t i = 0; i < n; i++)
            natsSubscription_Destroy(c->retired[i]);
        memmove(c->retired, c->retired + n, (c->retired_count - n) * sizeof *c->retired);
        c->retired_count -= n;
    }
    pthread_mutex_unlock(&c->mu);
}

static size_t retired_now(nb_client *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->retired_count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void nb_client_destroy(nb_client *c)
{
    if (!c)
        return;
    stop_subscriptions(c);
    rr_stop(c);
    req_close(c);
    if (c->nc) {
        /* What was sent is not lost on close; if it may be, the event callback hears of it. */
        if (unconfirmed(c) > 0) {
            char kept[1024]; /* the caller's last error outlives the destroy (nb_smartsend) */
            snprintf(kept, sizeof kept, "%s", nb_last_error());
            nb_status st = nb_client_confirm(c, 1000);
            if (st != NB_OK)
                emit(c, NB_EVENT_ERROR, st, nb_last_error());
            nbi_fail(NB_OK, "%s", kept);
        } else {
            natsConnection_FlushTimeout(c->nc, 1000); /* replies, subscriptions: as before */
        }
        atomic_store(&c->destroying, true);
        natsConnection_Close(c->nc);
        wait_closed(c);
        reap_retired(c, SIZE_MAX); /* the reader thread has stopped */
        if (c->rr_sub)
            natsSubscription_Destroy(c->rr_sub);
        natsConnection_Destroy(c->nc);
    }
    reap_retired(c, SIZE_MAX); /* never connected: nothing can deliver to them */
    natsOptions_Destroy(c->req_opts);
    free(c->retired);
    pthread_cond_destroy(&c->rr_done_cv);
    pthread_mutex_destroy(&c->rr_mu);
    nb_options_destroy(c->opts);
    pthread_cond_destroy(&c->closed_cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int64_t nb_client_max_payload(const nb_client *c) { return nbi_client_max_payload(c); }

const nb_options *nb_client_options(const nb_client *c) { return c ? c->opts : NULL; }

/*
 * After a flush that succeeded: a publish the server refused since the
 * previous such check (subject and "permissions violation"), so that a
 * dropped message is an error. Each refusal is reported once; one arriving
 * meanwhile waits for the next check.
 */
static nb_status refused_publish(nb_client *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t since = c->flushed;
    pthread_mutex_unlock(&c->mu);
    char text[256];
    uint64_t upto = since;
    nb_status s = NB_OK;
    if (find_violation(c, since, "Publish", NULL, text, sizeof text, true, &upto))
        s = permission_error(text, true);
    pthread_mutex_lock(&c->mu);
    if (upto > c->flushed)
        c->flushed = upto;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* A flush that succeeded: the server read what nc carried up to pub publishes (request_conn). */
static void note_synced(nb_client *c, uint64_t pub, uint64_t disc)
{
    atomic_store(&c->synced_published, pub);
    atomic_store(&c->synced_disconnects, disc);
}

/* Flushes, then reports a refused publish (refused_publish). */
static nb_status flush_checked(nb_client *c, int64_t timeout_ms, const char *what)
{
    size_t retired = retired_now(c);
    uint64_t pub = atomic_load(&c->published), disc = atomic_load(&c->disconnects);
    nb_status s = nbi_from_nats(natsConnection_FlushTimeout(c->nc, timeout_ms), what);
    if (s == NB_OK) { /* the PONG came after every message for those inboxes */
        reap_retired(c, retired);
        note_synced(c, pub, disc);
    }
    return s == NB_OK ? refused_publish(c) : s;
}

nb_status nb_client_flush(nb_client *c, int64_t timeout_ms)
{
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "flush: client is NULL");
    return flush_checked(c, timeout_ms, "flush");
}

/*
 * A flush (PING/PONG) proves the server read everything written before it on
 * this connection. Envelopes published before a disconnect may have died in
 * the socket, so a disconnect since the last confirmation makes the whole
 * span unconfirmed: reported once, and the next confirmation starts afresh.
 */
nb_status nb_client_confirm(nb_client *c, int64_t timeout_ms)
{
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "confirm: client is NULL");
    if (!c->nc)
        return nbi_fail(NB_CONNECTION, "confirm: not connected");
    uint64_t pub = atomic_load(&c->published);
    natsStatus ns = natsConnection_FlushTimeout(c->nc, timeout_ms > 0 ? timeout_ms : 1);
    uint64_t disc = atomic_load(&c->disconnects);
    pthread_mutex_lock(&c->mu);
    uint64_t since = pub > c->confirmed_published ? pub - c->confirmed_published : 0;
    bool lost = disc != c->confirmed_disconnects;
    if (ns == NATS_OK) {
        c->confirmed_published = pub;
        c->confirmed_disconnects = disc;
    }
    pthread_mutex_unlock(&c->mu);
    if (ns == NATS_OK)
        note_synced(c, pub, disc);
    if (ns != NATS_OK) {
        char what[200];
        snprintf(what, sizeof what,
                 "confirm: %" PRIu64 " envelope%s published since the last confirmation not "
                 "confirmed by the server",
                 since, since == 1 ? "" : "s");
        nb_status st = nbi_from_nats(ns, what);
        return st == NB_NATS ? nbi_fail(NB_CONNECTION, "%s", nb_last_error()) : st;
    }
    if (lost && since > 0)
        return nbi_fail(NB_CONNECTION,
                        "confirm: the connection to the NATS server was lost since the last "
                        "confirmation: up to %" PRIu64 " envelope%s published in between may not "
                        "have reached it",
                        since, since == 1 ? "" : "s");
    return refused_publish(c);
}

/* ---- send -------------------------------------------------------------- */

typedef natsStatus (*send_fn)(natsConnection *nc, const char *subject, const char *data, int len);
static nb_status publish_impl(nb_client *c, natsConnection *nc, const char *subject,
                              const char *reply, nb_envelope *e, send_fn send);

static natsStatus send_batched(natsConnection *nc, const char *subject, const char *data, int len)
{
    return natsConnection_Publish(nc, subject, data, len);
}

/* Builds e and sends it with send (no NATS reply subject). */
static nb_status publish_with(nb_client *c, const char *subject, nb_envelope *e, send_fn send)
{
    return publish_impl(c, c->nc, subject, NULL, e, send);
}

/* Builds e and publishes it, with reply as the NATS reply subject (may be NULL). */
static nb_status publish(nb_client *c, const char *subject, const char *reply, nb_envelope *e)
{
    return publish_impl(c, c->nc, subject, reply, e, send_batched);
}

/* Builds e and publishes it on nc (c's connection or its request connection). */
static nb_status publish_impl(nb_client *c, natsConnection *nc, const char *subject,
                              const char *reply, nb_envelope *e, send_fn send)
{
    nb_status s = nb_envelope_build(e, subject, c->opts);
    if (s != NB_OK)
        return s;
    int64_t max = natsConnection_GetMaxPayload(nc);
    if (max > 0 && (int64_t)e->json_len > max)
        return nbi_fail(NB_TOO_LARGE,
                        "envelope for '%s' is %zu bytes, over the server's max_payload of %lld "
                        "bytes (lower the size threshold so payloads go by link)",
                        subject, e->json_len, (long long)max);
    natsStatus ns = reply ? natsConnection_PublishRequest(nc, subject, reply, e->json,
                                                          (int)e->json_len)
                          : send(nc, subject, e->json, (int)e->json_len);
    if (ns == NATS_INSUFFICIENT_BUFFER)
        return nbi_fail(NB_CONNECTION,
                        "publish on '%.200s': disconnected, and the reconnect buffer is full: "
                        "envelope not sent (nb_options_set_reconnect_buf_size)",
                        subject);
    if (ns != NATS_OK) {
        char what[300];
        snprintf(what, sizeof what, "publish on '%.200s'", subject);
        return nbi_from_nats(ns, what);
    }
    /* Counted on c's connection only: what nb_client_confirm and request_conn look at.
     * A request on the request connection is vouched for by its reply. */
    if (nc == c->nc)
        atomic_fetch_add(&c->published, 1);
    return NB_OK;
}

/*
 * Writes a message to the socket now, without a PING/PONG round trip, on a
 * connection without SendAsap: nats.c 3.4.1 writes in place only for
 * SendAsap, a flush (PING) or a request, so this is a request that does not
 * wait (0 ms). The message carries nats.c's own inbox as its NATS reply
 * subject, which nobody answers: a 503 "no responders" (the requester has
 * gone) or an answer there is dropped by nats.c. Errors of the write itself
 * (closed, too large, reconnect buffer full) come back as from a publish.
 */
static natsStatus write_now(natsConnection *nc, const char *subject, const char *data, int len)
{
    natsMsg *m = NULL, *answer = NULL;
    natsStatus ns = natsMsg_Create(&m, subject, NULL, data, len);
    if (ns == NATS_OK)
        ns = natsConnection_RequestMsg(&answer, nc, m, 0);
    natsMsg_Destroy(m);
    natsMsg_Destroy(answer);
    /* Sent: the wait (0 ms) ended, or a 503 for it came back at once. */
    return ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ? NATS_OK : ns;
}

/* ---- the request connection -------------------------------------------- */

/*
 * Without send_asap, nats.c 3.4.1 writes a publish with a reply subject of
 * our own only at its flusher's next turn (~1 ms) or at a flush, whose
 * PING/PONG the requester then waits for (issue 16: p50 1.3x raw nats.c). It
 * writes in place only with SendAsap, which is a connection's option fixed at
 * connect, and costs plain publishes their batching (S1). So requests get a
 * connection of their own, with SendAsap, opened from the same options by the
 * first request that may use it. It only publishes: the inbox stays on nc,
 * and events come from nc (its closed callback only tells the destroy).
 */
static void on_req_closed(natsConnection *nc, void *closure)
{
    nb_client *c = closure;
    (void)nc;
    pthread_mutex_lock(&c->mu);
    c->req_closed = true;
    pthread_cond_broadcast(&c->closed_cv);
    pthread_mutex_unlock(&c->mu);
}

/* Opens c->req_nc (under rr_mu); on failure requests keep flushing on nc. */
static natsStatus req_open(nb_client *c)
{
    natsOptions *no = c->req_opts;
    natsStatus ns = natsOptions_SetSendAsap(no, true);
    if (ns == NATS_OK) /* a failed connect falls back at once, instead of retrying behind */
        ns = natsOptions_SetRetryOnFailedConnect(no, false, NULL, NULL);
    if (ns == NATS_OK)
        ns = natsOptions_SetDisconnectedCB(no, NULL, NULL);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectedCB(no, NULL, NULL);
    if (ns == NATS_OK)
        ns = natsOptions_SetClosedCB(no, on_req_closed, c);
    if (ns == NATS_OK)
        ns = connect_nats(c->opts, no, &c->req_nc);
    if (ns != NATS_OK && c->req_nc) {
        natsConnection_Destroy(c->req_nc);
        c->req_nc = NULL;
    }
    return ns;
}

static void req_close(nb_client *c)
{
    if (!c->req_nc)
        return;
    natsConnection_Close(c->req_nc);
    wait_flag(&c->mu, &c->closed_cv, &c->req_closed, 5); /* its error callback uses c */
    natsConnection_Destroy(c->req_nc);
    c->req_nc = NULL;
}

/*
 * The connection to publish a request on: the request connection, when the
 * request cannot overtake anything (every publish on nc, replies included,
 * was confirmed by a flush since nc's last reconnect) and the inbox's SUB is
 * known to be in place (rr_verified). NULL: publish on nc and flush, as the
 * first request does (its flush shows a refused inbox or publish at once).
 * A request refused on the request connection reaches rr_await through
 * on_async_error, as with send_asap.
 */
static natsConnection *request_conn(nb_client *c)
{
    if (!c->req_opts || atomic_load(&c->published) != atomic_load(&c->synced_published) ||
        atomic_load(&c->disconnects) != atomic_load(&c->synced_disconnects))
        return NULL;
    pthread_mutex_lock(&c->rr_mu);
    if (c->rr_verified && !c->req_nc && !c->req_failed)
        c->req_failed = req_open(c) != NATS_OK;
    natsConnection *rq = c->rr_verified ? c->req_nc : NULL; /* kept until the destroy */
    pthread_mutex_unlock(&c->rr_mu);
    return rq && natsConnection_Status(rq) == NATS_CONN_STATUS_CONNECTED ? rq : NULL;
}

/*
 * A request or a reply: someone waits for it, so it must not sit in nats.c's
 * buffer for the flusher's 1 ms. With SendAsap every publish is written at
 * once anyway. Otherwise a reply is written now (write_now); a request,
 * which needs its own reply subject, goes on the request connection
 * (request_conn) or else is flushed: the flush reports a refused publish at
 * once.
 */
static nb_status publish_now(nb_client *c, const char *subject, const char *reply, nb_envelope *e)
{
    if (c->opts->send_asap)
        return publish(c, subject, reply, e);
    if (reply) {
        natsConnection *rq = request_conn(c);
        if (rq)
            return publish_impl(c, rq, subject, reply, e, send_batched);
        nb_status s = publish(c, subject, reply, e);
        return s == NB_OK ? flush_checked(c, 5000, "request: flush") : s;
    }
    return publish_with(c, subject, e, write_now);
}

nb_status nb_client_send(nb_client *c, const char *subject, nb_envelope *e)
{
    if (!c || !e)
        return nbi_fail(NB_INVALID_ARG, "send: client and envelope are required");
    nb_status s = nbi_check_token("send", subject, true);
    return s == NB_OK ? publish(c, subject, NULL, e) : s;
}

nb_status nb_smartsend(const char *subject, nb_envelope *e, const nb_options *opts)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "smartsend: envelope is NULL");
    nb_status s = nbi_check_token("smartsend", subject, true);
    if (s != NB_OK)
        return s;
    nb_client *c = NULL;
    s = nb_client_connect(&c, opts);
    if (s == NB_OK)
        s = nb_client_send(c, subject, e);
    if (s == NB_OK)
        s = nb_client_flush(c, 5000);
    nb_client_destroy(c);
    return s;
}

/* ---- receive ----------------------------------------------------------- */

nb_status nb_client_receive(nb_client *c, const void *body, size_t len, nb_envelope **out)
{
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "receive: client is NULL");
    return nb_envelope_parse(out, body, len, c->opts);
}

static nb_status receive_msg(nb_client *c, natsMsg *msg, nb_envelope **out)
{
    if (natsMsg_IsNoResponders(msg))
        return nbi_fail(NB_NO_RESPONDERS, "no responders on the subject");
    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    return nb_envelope_parse(out, data ? data : "", len > 0 ? (size_t)len : 0, c->opts);
}

static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    nb_subscription *s = closure;
    /* nats.c reports one slow-consumer episode once; every drop is counted here. */
    report_new_drops(s);
    nb_envelope *env = NULL;
    nb_status st = receive_msg(s->client, msg, &env);
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&s->mu);
    s->in_callback = true;
    s->callback_thread = pthread_self();
    pthread_mutex_unlock(&s->mu);
    /* Nothing below may touch s: the callback may destroy its subscription. */
    if (st == NB_OK)
        s->on_envelope(s, env, s->closure);
    else
        report_error(s, st, nb_last_error());
}

static void free_subscription(nb_subscription *s)
{
    if (s->sub)
        natsSubscription_Destroy(s->sub);
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    free(s->subject);
    free(s);
}

/* nats.c calls this once no more callbacks will run for the subscription. */
static void on_complete(void *closure)
{
    nb_subscription *s = closure;
    pthread_mutex_lock(&s->mu);
    bool free_now = s->free_on_complete;
    s->completed = true;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    if (free_now)
        free_subscription(s);
}

static nb_status new_subscription(nb_client *c, const char *subject, nb_subscription **out)
{
    *out = NULL;
    if (!c)
        return nbi_fail(NB_INVALID_ARG, "subscribe: client is NULL");
    nb_status st = nbi_check_token("subscribe", subject, true);
    if (st != NB_OK)
        return st;
    nb_subscription *s = calloc(1, sizeof *s);
    if (!s || !(s->subject = nbi_strdup(subject))) {
        free(s);
        return nbi_fail(NB_NO_MEMORY, "subscribe: out of memory");
    }
    s->client = c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->done, NULL);
    *out = s;
    return NB_OK;
}

/* The checks and allocation both kinds of subscription start with. */
static nb_status begin_subscription(nb_client *c, nb_subscription **out, const char *subject,
                                    const char *queue, nb_subscription **s)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "subscribe: out is NULL");
    *out = NULL;
    nb_status st = nbi_check_token("subscribe: queue", queue, false);
    return st == NB_OK ? new_subscription(c, subject, s) : st;
}

/* Sets the pending limits chosen in the options (nats.c's default is too small for 1 MB envelopes). */
static natsStatus set_limits(nb_subscription *s)
{
    const nb_options *o = s->client->opts;
    return natsSubscription_SetPendingLimits(s->sub, o->pending_msgs, (int)(o->pending_bytes > INT32_MAX ? INT32_MAX : o->pending_bytes));
}

static nb_status subscribe_failed(nb_subscription *s, natsStatus ns)
{
    char what[300];
    snprintf(what, sizeof what, "subscribe to '%.200s'", s->subject);
    nb_status st = nbi_from_nats(ns, what);
    if (s->sub)
        natsSubscription_Unsubscribe(s->sub);
    s->completed = true;
    free_subscription(s);
    return st;
}

/*
 * The server answers a refused SUB only with an asynchronous -ERR: a flush
 * makes it arrive now, so that subscribing to a forbidden subject fails here.
 */
static nb_status check_subscribed(nb_subscription *s)
{
    nb_client *c = s->client;
    char what[300], text[256];
    snprintf(what, sizeof what, "subscribe to '%.200s': flush", s->subject);
    nb_status st = nbi_from_nats(natsConnection_FlushTimeout(c->nc, 5000), what);
    if (st == NB_OK && find_violation(c, s->since, "Subscription", s->subject, text, sizeof text, true, NULL))
        st = permission_error(text, false);
    return st;
}

nb_status nb_client_subscribe(nb_client *c, nb_subscription **out, const char *subject,
                              const char *queue, nb_envelope_cb on_envelope,
                              nb_error_cb on_error, void *closure)
{
    nb_subscription *s;
    nb_status st = begin_subscription(c, out, subject, queue, &s);
    if (st == NB_OK && !on_envelope) {
        free_subscription(s);
        st = nbi_fail(NB_INVALID_ARG, "subscribe: on_envelope is required");
    }
    if (st != NB_OK)
        return st;
    s->on_envelope = on_envelope;
    s->on_error = on_error;
    s->closure = closure;
    s->since = violations_now(c);
    /* Registered before the first message can arrive, so no drop goes unreported. */
    pthread_mutex_lock(&c->mu);
    s->next = c->subs;
    c->subs = s;
    pthread_mutex_unlock(&c->mu);
    natsStatus ns = queue && *queue
                        ? natsConnection_QueueSubscribe(&s->sub, c->nc, subject, queue, on_message, s)
                        : natsConnection_Subscribe(&s->sub, c->nc, subject, on_message, s);
    if (ns == NATS_OK)
        ns = set_limits(s);
    if (ns == NATS_OK)
        ns = natsSubscription_SetOnCompleteCB(s->sub, on_complete, s);
    if (ns != NATS_OK) {
        unlink_subscription(c, s);
        return subscribe_failed(s, ns);
    }
    if ((st = check_subscribed(s)) != NB_OK) {
        nb_subscription_destroy(s); /* the usual path: nats.c may still complete it */
        return st;
    }
    *out = s;
    return NB_OK;
}

/* check: flush and fail on a refused subscription (request's inbox skips it: its own flush follows). */
static nb_status subscribe_sync(nb_client *c, nb_subscription **out, const char *subject,
                                const char *queue, bool check)
{
    nb_subscription *s;
    nb_status st = begin_subscription(c, out, subject, queue, &s);
    if (st != NB_OK)
        return st;
    s->sync = true;
    s->since = violations_now(c);
    natsStatus ns = queue && *queue
                        ? natsConnection_QueueSubscribeSync(&s->sub, c->nc, subject, queue)
                        : natsConnection_SubscribeSync(&s->sub, c->nc, subject);
    if (ns == NATS_OK)
        ns = set_limits(s);
    if (ns != NATS_OK)
        return subscribe_failed(s, ns);
    if (check && (st = check_subscribed(s)) != NB_OK) {
        nb_subscription_destroy(s);
        return st;
    }
    *out = s;
    return NB_OK;
}

nb_status nb_client_subscribe_sync(nb_client *c, nb_subscription **out, const char *subject,
                                   const char *queue)
{
    return subscribe_sync(c, out, subject, queue, true);
}

nb_status nbi_subscription_take(nb_subscription *s, int64_t timeout_ms, nb_envelope **out,
                                nbi_take *kind)
{
    *out = NULL;
    *kind = NBI_TAKE_DELIVERY;
    /* Drops are reported before the next message, which stays queued meanwhile. */
    int64_t dropped = take_new_drops(s);
    if (dropped > 0)
        return drops_error(s, dropped);
    int pending = 0;
    if (timeout_ms == 0 && natsSubscription_GetPending(s->sub, &pending, NULL) == NATS_OK &&
        pending == 0) {
        *kind = NBI_TAKE_NONE; /* what a poll usually finds: said without nats.c's error stack */
        return NB_TIMEOUT;
    }
    natsMsg *msg = NULL;
    natsStatus ns = natsSubscription_NextMsg(&msg, s->sub, timeout_ms);
    if (ns == NATS_SLOW_CONSUMER)
        return drops_error(s, take_new_drops(s));
    if (ns == NATS_TIMEOUT) {
        *kind = NBI_TAKE_NONE;
        return NB_TIMEOUT;
    }
    if (ns != NATS_OK) {
        *kind = NBI_TAKE_ENDED;
        char what[300];
        snprintf(what, sizeof what, "next message on '%.200s'", s->subject);
        return nbi_from_nats(ns, what);
    }
    nb_status st = receive_msg(s->client, msg, out);
    natsMsg_Destroy(msg);
    return st;
}

void nbi_subscription_stop(nb_subscription *s)
{
    if (s && s->sync)
        natsSubscription_Unsubscribe(s->sub);
}

nb_status nb_subscription_next(nb_subscription *s, int64_t timeout_ms, nb_envelope **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "next: out is NULL");
    *out = NULL;
    if (!s || !s->sync)
        return nbi_fail(NB_INVALID_ARG, "next: needs a subscription made by nb_client_subscribe_sync");
    /* A subscription the server refused later (after a reconnect, say) gets nothing: say so. */
    char text[256];
    if (find_violation(s->client, s->since, "Subscription", s->subject, text, sizeof text, false, NULL))
        return permission_error(text, false);
    nbi_take kind;
    nb_status st = nbi_subscription_take(s, timeout_ms, out, &kind);
    if (kind == NBI_TAKE_NONE)
        return nbi_fail(NB_TIMEOUT, "subject '%s': no message within %lld ms", s->subject,
                        (long long)timeout_ms);
    return st;
}

const char *nb_subscription_subject(const nb_subscription *s) { return s ? s->subject : ""; }

/* Waits (bounded) until nats.c will run no more callbacks for s; true when it won't. */
static bool wait_completed(nb_subscription *s)
{
    return wait_flag(&s->mu, &s->done, &s->completed, 10);
}

/* True when called from s's own callback, which nats.c completes after it returns. */
static bool in_own_callback(nb_subscription *s)
{
    pthread_mutex_lock(&s->mu);
    bool own = s->in_callback && pthread_equal(s->callback_thread, pthread_self()) && !s->completed;
    pthread_mutex_unlock(&s->mu);
    return own;
}

void nb_subscription_destroy(nb_subscription *s)
{
    if (!s)
        return;
    if (s->sync) {
        natsSubscription_Unsubscribe(s->sub);
        free_subscription(s);
        return;
    }
    if (s->client) { /* else nb_client_destroy stopped it already */
        report_new_drops(s); /* the last drops, if no delivery came after them */
        unlink_subscription(s->client, s);
        natsSubscription_Unsubscribe(s->sub);
    }
    bool later = in_own_callback(s) || !wait_completed(s);
    if (later) {
        /* on_complete frees it: never free what nats.c may still call back with. */
        pthread_mutex_lock(&s->mu);
        bool done = s->completed;
        s->free_on_complete = !done;
        pthread_mutex_unlock(&s->mu);
        if (!done)
            return;
    }
    free_subscription(s);
}

/*
 * A client destroyed before its callback subscriptions stops them first, so
 * that no callback runs on a freed client; they are freed by
 * nb_subscription_destroy as usual.
 */
static void stop_subscriptions(nb_client *c)
{
    pthread_mutex_lock(&c->mu);
    nb_subscription *list = c->subs;
    c->subs = NULL;
    pthread_mutex_unlock(&c->mu);
    for (nb_subscription *s = list; s; s = s->next) {
        report_new_drops(s);
        natsSubscription_Unsubscribe(s->sub);
        if (!in_own_callback(s))
            wait_completed(s);
        s->client = NULL;
    }
}

/* ---- request / reply --------------------------------------------------- */

/* Waits for the envelope answering msg_id; other envelopes on the inbox are not ours. */
/* The timeout of a request; a message refused on the inbox (issue 13: a link from an origin
 * not allowed) is named, or the requester would only see "no reply". */
static nb_status no_reply(const char *msg_id, const char *refused)
{
    if (refused[0])
        return nbi_fail(NB_TIMEOUT, "request: no reply to msg_id %s in time; a message on the "
                                    "reply inbox was refused: %s",
                        msg_id, refused);
    return nbi_fail(NB_TIMEOUT, "request: no reply to msg_id %s in time", msg_id);
}

static nb_status await_reply(nb_subscription *inbox, const char *msg_id, int64_t deadline,
                             nb_envelope **reply)
{
    char refused[600] = "";
    for (;;) {
        int64_t left = deadline - nbi_now_ms();
        if (left <= 0)
            return no_reply(msg_id, refused);
        nb_envelope *env = NULL;
        nb_status s = nb_subscription_next(inbox, left, &env);
        if (s == NB_TIMEOUT) { /* the wait, or a reply's download (--download-timeout) */
            if (!strstr(nb_last_error(), "no message within"))
                snprintf(refused, sizeof refused, "%s", nb_last_error());
            return no_reply(msg_id, refused);
        }
        if (s == NB_NO_RESPONDERS || s == NB_CONNECTION || s == NB_NATS || s == NB_PERMISSION)
            return s;
        if (s != NB_OK) { /* a bad envelope on our inbox is not the reply: keep waiting */
            snprintf(refused, sizeof refused, "%s", nb_last_error());
            continue;
        }
        if (strcmp(env->reply_to_msg_id ? env->reply_to_msg_id : "", msg_id) == 0) {
            *reply = env;
            return NB_OK;
        }
        nb_envelope_destroy(env);
    }
}

/*
 * A subscription unsubscribed at once but destroyed later (client.h, retired): a message for
 * it may be in nats.c's reader thread right now (a second responder's reply to a request with
 * its own reply_to, say). When the list cannot grow, a flush waits for the reader instead.
 */
static void retire_sub(nb_client *c, natsSubscription *sub)
{
    natsSubscription_Unsubscribe(sub);
    pthread_mutex_lock(&c->mu);
    if (c->retired_count == c->retired_cap) {
        size_t cap = c->retired_cap ? c->retired_cap * 2 : 8;
        natsSubscription **grown = realloc(c->retired, cap * sizeof *grown);
        if (grown) {
            c->retired = grown;
            c->retired_cap = cap;
        }
    }
    bool kept = c->retired_count < c->retired_cap;
    if (kept)
        c->retired[c->retired_count++] = sub;
    pthread_mutex_unlock(&c->mu);
    if (!kept) {
        natsConnection_FlushTimeout(c->nc, 1000);
        natsSubscription_Destroy(sub);
    }
}

static void retire_inbox(nb_client *c, nb_subscription *s)
{
    if (!s)
        return;
    retire_sub(c, s->sub);
    s->sub = NULL;
    free_subscription(s);
}

/*
 * A request whose envelope names its own reply_to (not this client's
 * inbox): that subject is subscribed for this request alone, as the caller
 * asked, and retired afterwards.
 */
static nb_status request_own_inbox(nb_client *c, const char *subject, nb_envelope *req,
                                   int64_t timeout_ms, int64_t deadline, nb_envelope **reply)
{
    nb_subscription *sub = NULL;
    nb_status s = subscribe_sync(c, &sub, req->reply_to, NULL, false);
    /* The NATS reply subject is set too, so the server reports "no responders". */
    if (s == NB_OK)
        s = publish(c, subject, req->reply_to, req);
    if (s == NB_OK)
        s = flush_checked(c, timeout_ms, "request: flush");
    char text[256];
    if (s == NB_OK && find_violation(c, sub->since, "Subscription", sub->subject, text, sizeof text, true, NULL))
        s = permission_error(text, false);
    if (s == NB_OK)
        s = await_reply(sub, req->msg_id, deadline, reply);
    retire_inbox(c, sub);
    return s;
}

/* ---- request / reply: one wildcard inbox per client --------------------- */

/* The token n of an inbox subject "<rr_prefix>.<n>" (under rr_mu); 0 when it is not one. */
static uint64_t rr_token(const nb_client *c, const char *subject)
{
    size_t n = strlen(c->rr_prefix);
    if (n == 0 || !subject || strncmp(subject, c->rr_prefix, n) != 0 || subject[n] != '.' ||
        subject[n + 1] == '\0')
        return 0;
    uint64_t token = 0;
    for (const char *p = subject + n + 1; *p; p++) {
        if (*p < '0' || *p > '9' || token > (UINT64_MAX - 9) / 10)
            return 0;
        token = token * 10 + (uint64_t)(*p - '0');
    }
    return token;
}

/*
 * nats.c's delivery thread: the reply goes to the request waiting for its
 * token. One nobody waits for any more (timed out, a second responder) is
 * dropped and counted: it must not reach the next request.
 */
static void on_rr_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    nb_client *c = closure;
    pthread_mutex_lock(&c->rr_mu);
    uint64_t token = rr_token(c, natsMsg_GetSubject(msg));
    rr_waiter *w = c->rr_waiters;
    while (w && w->token != token)
        w = w->next;
    bool kept = token != 0 && w && w->count < RR_QUEUE;
    if (kept) {
        w->queue[(w->head + w->count++) % RR_QUEUE] = msg;
        pthread_cond_signal(&w->cv);
    } else {
        c->rr_dropped++;
    }
    pthread_mutex_unlock(&c->rr_mu);
    if (!kept)
        natsMsg_Destroy(msg);
}

static void on_rr_complete(void *closure)
{
    nb_client *c = closure;
    pthread_mutex_lock(&c->rr_mu);
    c->rr_done = true;
    pthread_cond_broadcast(&c->rr_done_cv);
    pthread_mutex_unlock(&c->rr_mu);
}

/*
 * The client's inbox "_INBOX.<nuid>.*", subscribed by its first request
 * (under rr_mu). Whether the server accepted the SUB is known after the
 * first request's flush (rr_verify).
 */
static nb_status rr_open(nb_client *c)
{
    if (c->rr_sub)
        return NB_OK;
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return nbi_fail(NB_NO_MEMORY, "request: cannot create an inbox");
    snprintf(c->rr_prefix, sizeof c->rr_prefix, "%s", inbox);
    natsInbox_Destroy(inbox);
    char subject[sizeof c->rr_prefix + 2], what[300];
    snprintf(subject, sizeof subject, "%s.*", c->rr_prefix);
    snprintf(what, sizeof what, "request: subscribe to the reply inbox '%s'", subject);
    c->rr_since = violations_now(c);
    c->rr_verified = false;
    c->rr_done = false;
    natsSubscription *sub = NULL;
    natsStatus ns = natsConnection_Subscribe(&sub, c->nc, subject, on_rr_message, c);
    const nb_options *o = c->opts;
    if (ns == NATS_OK)
        ns = natsSubscription_SetPendingLimits(sub, o->pending_msgs,
                                               (int)(o->pending_bytes > INT32_MAX ? INT32_MAX : o->pending_bytes));
    if (ns == NATS_OK)
        ns = natsSubscription_SetOnCompleteCB(sub, on_rr_complete, c);
    if (ns != NATS_OK) {
        nb_status s = nbi_from_nats(ns, what);
        if (sub)
            retire_sub(c, sub); /* it may still see a message: destroyed with the client */
        c->rr_prefix[0] = '\0';
        return s;
    }
    c->rr_sub = sub;
    return NB_OK;
}

/*
 * Until a flush has shown that the server accepted the inbox's SUB, a
 * refusal is looked for after the request's own flush (the refused publish
 * of the request itself is reported first, as by any send). A refused inbox
 * is dropped, so that the next request subscribes again.
 */
static nb_status rr_verify(nb_client *c)
{
    pthread_mutex_lock(&c->rr_mu);
    bool verified = c->rr_verified;
    natsSubscription *sub = c->rr_sub;
    uint64_t since = c->rr_since;
    char subject[sizeof c->rr_prefix + 2];
    snprintf(subject, sizeof subject, "%s.*", c->rr_prefix);
    pthread_mutex_unlock(&c->rr_mu);
    if (verified || !sub)
        return NB_OK;
    nb_status s = NB_OK;
    if (c->opts->send_asap) /* the request was not flushed: this first one is */
        s = flush_checked(c, 5000, "request: flush");
    char text[256];
    if (s == NB_OK && find_violation(c, since, "Subscription", subject, text, sizeof text, true, NULL))
        s = permission_error(text, false);
    pthread_mutex_lock(&c->rr_mu);
    bool mine = c->rr_sub == sub;
    if (mine && s == NB_PERMISSION)
        c->rr_sub = NULL;
    else if (mine && s == NB_OK)
        c->rr_verified = true;
    pthread_mutex_unlock(&c->rr_mu);
    if (mine && s == NB_PERMISSION)
        retire_sub(c, sub); /* waiters on it time out or find the same refusal */
    return s;
}

/* Before the connection closes: no inbox callback may run on a freed client. */
static void rr_stop(nb_client *c)
{
    pthread_mutex_lock(&c->rr_mu);
    natsSubscription *sub = c->rr_sub;
    pthread_mutex_unlock(&c->rr_mu);
    if (sub && natsSubscription_Unsubscribe(sub) == NATS_OK)
        wait_flag(&c->rr_mu, &c->rr_done_cv, &c->rr_done, 10);
}

/* Takes w off the list; replies still queued for it are dropped (counted). */
static void rr_leave(nb_client *c, rr_waiter *w)
{
    pthread_mutex_lock(&c->rr_mu);
    for (rr_waiter **pp = &c->rr_waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    c->rr_dropped += w->count;
    pthread_mutex_unlock(&c->rr_mu);
    for (; w->count > 0; w->count--, w->head = (w->head + 1) % RR_QUEUE)
        natsMsg_Destroy(w->queue[w->head]);
    pthread_cond_destroy(&w->cv);
}

/* A refused publish on subject since `since`: NB_PERMISSION, and a later flush does not report it again. */
static nb_status rr_refused(nb_client *c, uint64_t since, const char *subject)
{
    char text[256];
    uint64_t upto = since;
    if (!find_violation(c, since, "Publish", subject, text, sizeof text, false, &upto))
        return NB_OK;
    pthread_mutex_lock(&c->mu);
    if (upto > c->flushed)
        c->flushed = upto;
    pthread_mutex_unlock(&c->mu);
    return permission_error(text, true);
}

/* The next reply queued for w, NULL at the deadline; *look: a violation to check. */
static natsMsg *rr_next(nb_client *c, rr_waiter *w, const struct timespec *until, bool *look)
{
    natsMsg *msg = NULL;
    pthread_mutex_lock(&c->rr_mu);
    while (w->count == 0 && !w->look && pthread_cond_timedwait(&w->cv, &c->rr_mu, until) == 0)
        ;
    if (w->count > 0) {
        msg = w->queue[w->head];
        w->head = (w->head + 1) % RR_QUEUE;
        w->count--;
    }
    *look = w->look;
    w->look = false;
    pthread_mutex_unlock(&c->rr_mu);
    return msg;
}

/*
 * Waits for the envelope answering msg_id. The token matched it already; a
 * reply that names another msg_id, or cannot be read, is not the answer
 * (the wait goes on, and the timeout names what was refused).
 */
static nb_status rr_await(nb_client *c, rr_waiter *w, const char *subject, const char *msg_id,
                          uint64_t since, int64_t deadline, nb_envelope **reply)
{
    char refused[600] = "";
    struct timespec until;
    nbi_deadline_after(CLOCK_REALTIME, deadline - nbi_now_ms(), &until);
    for (;;) {
        bool look = false;
        natsMsg *msg = rr_next(c, w, &until, &look);
        nb_status s = look || !msg ? rr_refused(c, since, subject) : NB_OK;
        if (s != NB_OK) {
            natsMsg_Destroy(msg);
            return s;
        }
        if (!msg) {
            if (look && nbi_now_ms() < deadline)
                continue; /* a violation about another subject */
            return no_reply(msg_id, refused);
        }
        nb_envelope *env = NULL;
        s = receive_msg(c, msg, &env);
        natsMsg_Destroy(msg);
        if (s == NB_TIMEOUT) /* a reply's download (--download-timeout) */
            return no_reply(msg_id, nb_last_error());
        if (s == NB_NO_RESPONDERS || s == NB_CONNECTION || s == NB_NATS || s == NB_PERMISSION)
            return s;
        if (s != NB_OK) {
            snprintf(refused, sizeof refused, "%s", nb_last_error());
            continue;
        }
        const char *to = env->reply_to_msg_id ? env->reply_to_msg_id : "";
        if (!*to || strcmp(to, msg_id) == 0) {
            *reply = env;
            return NB_OK;
        }
        nb_envelope_destroy(env);
    }
}

/* Whether reply_to is one of this client's inbox subjects (an envelope sent as a request before). */
static bool rr_own_subject(nb_client *c, const char *reply_to)
{
    pthread_mutex_lock(&c->rr_mu);
    bool own = rr_token(c, reply_to) != 0;
    pthread_mutex_unlock(&c->rr_mu);
    return own;
}

/*
 * The request goes out with reply subject "<inbox>.<token>", registered
 * before it is published so that no reply can come first.
 */
static nb_status rr_request(nb_client *c, const char *subject, nb_envelope *req, int64_t deadline,
                            nb_envelope **reply)
{
    rr_waiter w = {0};
    pthread_cond_init(&w.cv, NULL);
    char inbox[sizeof c->rr_prefix + 24];
    pthread_mutex_lock(&c->rr_mu);
    nb_status s = rr_open(c);
    if (s == NB_OK) {
        w.token = ++c->rr_next;
        snprintf(inbox, sizeof inbox, "%s.%" PRIu64, c->rr_prefix, w.token);
        w.next = c->rr_waiters;
        c->rr_waiters = &w;
    }
    pthread_mutex_unlock(&c->rr_mu);
    uint64_t since = violations_now(c);
    if (s == NB_OK)
        s = nb_envelope_set_reply_to(req, inbox);
    /* The NATS reply subject is set too, so the server reports "no responders". */
    if (s == NB_OK)
        s = publish_now(c, subject, inbox, req);
    if (s == NB_OK)
        s = rr_verify(c);
    if (s == NB_OK)
        s = rr_await(c, &w, subject, req->msg_id, since, deadline, reply);
    rr_leave(c, &w);
    return s;
}

nb_status nb_client_request(nb_client *c, const char *subject, nb_envelope *req,
                            int64_t timeout_ms, nb_envelope **reply)
{
    if (!reply)
        return nbi_fail(NB_INVALID_ARG, "request: reply is NULL");
    *reply = NULL;
    if (!c || !req || timeout_ms <= 0)
        return nbi_fail(NB_INVALID_ARG, "request: client, envelope and a timeout > 0 are required");
    nb_status s = nbi_check_token("request", subject, true);
    if (s == NB_OK && req->reply_to && *req->reply_to)
        s = nbi_check_token("request: reply_to", req->reply_to, true);
    if (s != NB_OK)
        return s;
    int64_t deadline = nbi_now_ms() + timeout_ms;
    if (req->reply_to && *req->reply_to && !rr_own_subject(c, req->reply_to))
        s = request_own_inbox(c, subject, req, timeout_ms, deadline, reply);
    else
        s = rr_request(c, subject, req, deadline, reply);
    if (s == NB_NO_RESPONDERS)
        nbi_fail(s, "request on '%s': no responders", subject);
    return s;
}

static nb_status set_if_unset(nb_envelope *e, char *field, nb_status (*set)(nb_envelope *, const char *),
                              const char *value)
{
    if (field && *field)
        return NB_OK;
    return set(e, value && *value ? value : "");
}

nb_status nb_client_reply(nb_client *c, const nb_envelope *request, nb_envelope *reply)
{
    if (!c || !request || !reply)
        return nbi_fail(NB_INVALID_ARG, "reply: client, request and reply are required");
    if (!request->reply_to || !*request->reply_to)
        return nbi_fail(NB_INVALID_ARG, "reply: request %s has no reply_to: no reply expected",
                        nbi_or_empty(request->msg_id));
    /* reply_to came off the wire: it must be one subject, not a protocol line. */
    nb_status s = nbi_check_token("reply: reply_to", request->reply_to, true);
    if (s == NB_OK)
        s = nb_envelope_set_reply_to_msg_id(reply, request->msg_id);
    if (s == NB_OK && request->correlation_id && *request->correlation_id)
        s = nb_envelope_set_correlation_id(reply, request->correlation_id);
    if (s == NB_OK)
        s = set_if_unset(reply, reply->receiver_name, nb_envelope_set_receiver_name,
                         request->sender_name);
    if (s == NB_OK)
        s = set_if_unset(reply, reply->receiver_id, nb_envelope_set_receiver_id,
                         request->sender_id);
    if (s == NB_OK)
        s = publish_now(c, request->reply_to, NULL, reply);
    return s;
}
