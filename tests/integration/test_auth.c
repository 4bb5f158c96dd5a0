/* SPDX-License-Identifier: MIT */
/*
 * test_auth.c - the library against nats-servers that want credentials
 * (issue 10): user/password (option and URL) with per-user permissions,
 * token, NKey; refused publishes and subscribes are NB_PERMISSION naming
 * the subject, reported once (a later allowed send is fine); tls:// never
 * falls back to plain text; the nats_configure hook; no error message or
 * broker_url carries a secret. TLS with certificates and .creds live in
 * tests/security.
 */
#include "cluster.h"
#include "server.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* A throwaway user NKey (see tests/unit/test_secure_options.c), not a secret of anyone. */
#define SEED "SUAMIYA2KYYJNQTYHZDVD4A4I42FKF4TIIVWY3HUZZ37I6YVTSI6GYDCZI"
#define SEED_PUBLIC "UBZTKOHB2YANIQZDBZMF5AYBNQYUJHSR7WSF4E42QSP6NZWC4CANKXQA"
#define PASSWORD "pw-Xq81secret"
#define TOKEN "tok-Zr55secret"

static struct {
    pid_t pid;
    char dir[256];
    char url[64];
    int port;
} S;

/* Starts nats-server with conf (its "listen" added here) on a free loopback port; 0 or -1. */
static int start(const char *conf)
{
    memset(&S, 0, sizeof S);
    snprintf(S.dir, sizeof S.dir, "/tmp/nbt-auth-XXXXXX");
    if (!mkdtemp(S.dir) || nbt_free_ports(&S.port, 1) != 0)
        return -1;
    char path[300], log[300];
    snprintf(path, sizeof path, "%s/server.conf", S.dir);
    snprintf(log, sizeof log, "%s/server.log", S.dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "listen: 127.0.0.1:%d\n%s\n", S.port, conf);
    fclose(f);
    char *args[] = {NULL, "-c", path, "--ports_file_dir", S.dir, NULL};
    if ((S.pid = nbt_spawn_nats(log, args)) <= 0)
        return -1;
    snprintf(S.url, sizeof S.url, "nats://127.0.0.1:%d", S.port);
    char ports[300];
    snprintf(ports, sizeof ports, "%s/nats-server_%d.ports", S.dir, (int)S.pid);
    for (int i = 0; i < 500; i++) { /* 10 s: the ports file appears once it listens */
        struct stat st;
        if (stat(ports, &st) == 0 && st.st_size > 0)
            return 0;
        nbt_sleep_ms(20);
    }
    fprintf(stderr, "nats-server did not start (see %s)\n", log);
    return -1;
}

static void stop(void)
{
    nbt_end_process(&S.pid, SIGTERM);
    nbt_remove_dir(S.dir);
}

/* Fails the case when the last error holds a secret. */
#define CHECK_NO_SECRET()                                                          \
    CHECK(!strstr(nb_last_error(), PASSWORD) && !strstr(nb_last_error(), TOKEN) && \
          !strstr(nb_last_error(), SEED))

static nb_options *opts_for(const char *url)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK || nb_options_set_url(o, url) != NB_OK ||
        nb_options_set_connect_timeout(o, 2000) != NB_OK || nb_options_set_allow_reconnect(o, false)) {
        nb_options_destroy(o);
        return NULL;
    }
    return o;
}

static nb_envelope *text_envelope(void)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    if (nb_envelope_create(&e) != NB_OK || nb_payload_create_text(&p, "t", "hello") != NB_OK ||
        nb_envelope_add_payload(e, &p) != NB_OK) {
        nb_payload_destroy(p);
        nb_envelope_destroy(e);
        return NULL;
    }
    return e;
}

#define USERS_CONF                                                                         \
    "authorization { users = [ {user: alice, password: \"" PASSWORD "\", permissions: {"  \
    "publish: {deny: [\"forbidden.>\"]}, subscribe: {deny: [\"secret.>\"]}}} ] }"

/* what events said (NB_EVENT_ERROR with NB_PERMISSION) */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static int permission_events;
static void count_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)closure;
    (void)detail;
    pthread_mutex_lock(&ev_mu);
    permission_events += ev == NB_EVENT_ERROR && s == NB_PERMISSION;
    pthread_mutex_unlock(&ev_mu);
}

NBT_CASE_WITH(user_password, start(USERS_CONF) == 0, stop())
{
    nb_options *o = opts_for(S.url);
    nb_client *c = NULL;
    CHECK(o);
    /* none, then wrong: refused, saying what was tried, never the password */
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "none were given");
    CHECK_OK(nb_options_set_user_password(o, "alice", "wrong-" PASSWORD));
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "tried: user/password");
    CHECK(strstr(nb_last_error(), "Authorization Violation"));
    CHECK(!strstr(nb_last_error(), "conn.c")); /* nats.c's source locations dropped */
    CHECK_NO_SECRET();
    CHECK_OK(nb_options_set_user_password(o, "alice", PASSWORD));
    CHECK_OK(nb_client_connect(&c, o));
    nb_client_destroy(c);
    /* in the URL: connects, and neither broker_url nor an error shows it */
    char url[200];
    snprintf(url, sizeof url, "nats://alice:%s@127.0.0.1:%d", PASSWORD, S.port);
    nb_options *in_url = opts_for(url);
    CHECK(in_url);
    nb_envelope *e = text_envelope();
    CHECK(e);
    CHECK_OK(nb_smartsend("allowed.x", e, in_url));
    CHECK_STR(nb_envelope_broker_url(e), S.url);
    size_t len = 0;
    CHECK(!strstr(nb_envelope_json(e, &len), PASSWORD));
    snprintf(url, sizeof url, "nats://alice:wrong%s@127.0.0.1:%d", PASSWORD, S.port);
    CHECK_OK(nb_options_set_url(in_url, url));
    CHECK_FAIL(nb_client_connect(&c, in_url), NB_CONNECTION, "tried: user/password or token in the URL");
    CHECK_NO_SECRET();
    nb_envelope_destroy(e);
    nb_options_destroy(in_url);
    nb_options_destroy(o);
}

NBT_CASE_WITH(refused_publish, start(USERS_CONF) == 0, stop())
{
    nb_options *o = opts_for(S.url);
    nb_client *c = NULL;
    CHECK(o);
    CHECK_OK(nb_options_set_user_password(o, "alice", PASSWORD));
    CHECK_OK(nb_options_set_event_cb(o, count_event, NULL));
    CHECK_OK(nb_client_connect(&c, o));
    nb_envelope *e = text_envelope();
    CHECK(e);
    CHECK_OK(nb_client_send(c, "forbidden.x", e));
    CHECK_FAIL(nb_client_flush(c, 5000), NB_PERMISSION, "publish on 'forbidden.x': permissions violation");
    /* reported once: an allowed send afterwards flushes fine */
    CHECK_OK(nb_client_send(c, "allowed.x", e));
    CHECK_OK(nb_client_flush(c, 5000));
    CHECK_OK(nb_client_flush(c, 5000));
    /* and again for the next refused one */
    CHECK_OK(nb_client_send(c, "forbidden.y", e));
    CHECK_FAIL(nb_client_flush(c, 5000), NB_PERMISSION, "'forbidden.y'");
    /* the event callback heard of both (bounded wait: it runs on nats.c's thread) */
    int seen = 0;
    for (int i = 0; i < 100 && seen < 2; i++, nbt_sleep_ms(20)) {
        pthread_mutex_lock(&ev_mu);
        seen = permission_events;
        pthread_mutex_unlock(&ev_mu);
    }
    CHECK(seen >= 2);
    /* a request on a refused subject, and the one-shot smartsend */
    nb_envelope *reply = NULL;
    CHECK_FAIL(nb_client_request(c, "forbidden.req", e, 2000, &reply), NB_PERMISSION,
               "'forbidden.req'");
    nb_client_destroy(c);
    CHECK_FAIL(nb_smartsend("forbidden.z", e, o), NB_PERMISSION, "permissions violation");
    nb_envelope_destroy(e);
    nb_options_destroy(o);
}

static void got_envelope(nb_subscription *s, nb_envelope *e, void *closure)
{
    (void)s;
    (void)closure;
    nb_envelope_destroy(e);
}

NBT_CASE_WITH(refused_subscribe, start(USERS_CONF) == 0, stop())
{
    nb_options *o = opts_for(S.url);
    nb_client *c = NULL;
    nb_subscription *s = NULL;
    CHECK(o);
    CHECK_OK(nb_options_set_user_password(o, "alice", PASSWORD));
    CHECK_OK(nb_client_connect(&c, o));
    CHECK_FAIL(nb_client_subscribe_sync(c, &s, "secret.a", NULL), NB_PERMISSION,
               "subscribe to 'secret.a': permissions violation");
    CHECK(s == NULL);
    CHECK_FAIL(nb_client_subscribe_sync(c, &s, "secret.b", "workers"), NB_PERMISSION, "'secret.b'");
    CHECK(s == NULL);
    /* a callback subscription too */
    CHECK_FAIL(nb_client_subscribe(c, &s, "secret.c", NULL, got_envelope, NULL, NULL), NB_PERMISSION,
               "subscribe to 'secret.c': permissions violation");
    CHECK(s == NULL);
    /* an allowed subscription still works, and is not blamed for the refused ones */
    CHECK_OK(nb_client_subscribe_sync(c, &s, "open.a", NULL));
    nb_envelope *e = text_envelope(), *got = NULL;
    CHECK(e);
    CHECK_OK(nb_client_send(c, "open.a", e));
    CHECK_OK(nb_client_flush(c, 5000));
    CHECK_OK(nb_subscription_next(s, 5000, &got));
    nb_envelope_destroy(got);
    nb_subscription_destroy(s);
    nb_envelope_destroy(e);
    nb_client_destroy(c);
    nb_options_destroy(o);
}

NBT_CASE_WITH(token, start("authorization { token: \"" TOKEN "\" }") == 0, stop())
{
    nb_options *o = opts_for(S.url);
    nb_client *c = NULL;
    CHECK(o);
    CHECK_OK(nb_options_set_token(o, "not-" TOKEN));
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "tried: token");
    CHECK_NO_SECRET();
    CHECK_OK(nb_options_set_token(o, TOKEN));
    CHECK_OK(nb_client_connect(&c, o));
    nb_client_destroy(c);
    nb_options_destroy(o);
}

NBT_CASE_WITH(nkey, start("authorization { users = [ {nkey: " SEED_PUBLIC "} ] }") == 0, stop())
{
    char path[300];
    snprintf(path, sizeof path, "%s/user.nk", S.dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(SEED "\n", f);
    fclose(f);
    nb_options *o = opts_for(S.url);
    nb_client *c = NULL;
    CHECK(o);
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "authentication failed");
    CHECK_OK(nb_options_set_nkey_seed_file(o, path));
    CHECK_OK(nb_client_connect(&c, o));
    nb_client_destroy(c);
    nb_options_destroy(o);
}

static int configured;
static nb_status configure(void *nats_options, void *closure)
{
    configured += nats_options != NULL;
    return closure ? NB_NOT_ALLOWED : NB_OK;
}

NBT_CASE_WITH(tls_never_plain_and_configure_hook, start("") == 0, stop())
{
    char url[100];
    snprintf(url, sizeof url, "tls://127.0.0.1:%d", S.port);
    nb_options *o = opts_for(url);
    nb_client *c = NULL;
    CHECK(o);
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "does not offer TLS");
    CHECK_OK(nb_options_set_url(o, S.url));
    CHECK_OK(nb_options_set_tls_required(o, true));
    CHECK_FAIL(nb_client_connect(&c, o), NB_CONNECTION, "does not offer TLS");
    CHECK_OK(nb_options_set_tls_required(o, false));
    /* the hook sees nats.c's options; its failure stops the connect */
    CHECK_OK(nb_options_set_nats_configure(o, configure, NULL));
    CHECK_OK(nb_options_set_connection_name(o, "auth-test"));
    CHECK_OK(nb_client_connect(&c, o));
    nb_client_destroy(c);
    CHECK(configured == 1);
    CHECK_OK(nb_options_set_nats_configure(o, configure, (void *)1));
    CHECK_FAIL(nb_client_connect(&c, o), NB_NOT_ALLOWED, "nats_configure callback failed");
    CHECK(c == NULL);
    nb_options_destroy(o);
}

static const nbt_case cases[] = {NBT_ENTRY(user_password), NBT_ENTRY(refused_publish),
                                 NBT_ENTRY(refused_subscribe), NBT_ENTRY(token), NBT_ENTRY(nkey),
                                 NBT_ENTRY(tls_never_plain_and_configure_hook), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
