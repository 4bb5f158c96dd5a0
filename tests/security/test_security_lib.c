/* SPDX-License-Identifier: MIT */
/*
 * test_security_lib.c - the library side of issue 10 against real nats-servers
 * configured by tests/security/lib.sh: user/password, token, NKey seed file,
 * .creds file and in-memory creds, TLS with a private CA, mutual TLS, tls://
 * never falling back, ws:// refused, NB_PERMISSION for a refused publish and
 * subscribe, the nats_configure escape hatch. Every error message, broker_url
 * and envelope JSON is checked for every secret of the fixture.
 *
 * Run by run_lib.sh, which makes the material, starts one server per method
 * (shared by all cases) and passes them in the environment: SEC_M (material
 * directory), SEC_URL_<method>, SEC_PORT_<method>, SEC_MON_<method>,
 * SEC_PASSWORD, SEC_LIMITED_PASSWORD, SEC_TOKEN, SEC_BAD_PASSWORD, SEC_BAD_TOKEN.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "http.h"
#include "test.h"

#define WAIT_MS 5000

/* ---- fixture access ---------------------------------------------------- */

/* An environment value set by run_lib.sh; a missing one is a broken runner, reported once. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test_security_lib: %s is not set (run through run_lib.sh)\n", name);
        return "";
    }
    return v;
}

/* A file of the material directory, in a static buffer per slot (up to 4 at a time). */
static const char *mfile(const char *name)
{
    static char paths[4][512];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", env("SEC_M"), name);
    return paths[slot];
}

/* True when text holds any line of $SEC_M/secrets (passwords, tokens, seeds, key lines). */
static bool has_secret(const char *text)
{
    if (!text)
        return false;
    char *all = nbt_read_file(mfile("secrets"), NULL);
    if (!all) {
        fprintf(stderr, "cannot read the secrets list\n");
        return true; /* fail closed */
    }
    bool hit = false;
    char *save = NULL; /* strtok_r: the event callback runs this on a nats.c thread */
    for (char *line = strtok_r(all, "\n", &save); line && !hit; line = strtok_r(NULL, "\n", &save))
        hit = *line && strstr(text, line) != NULL;
    free(all);
    return hit;
}

/* Case-insensitive substring test (error texts are checked for words, not case). */
static bool mentions(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (; text && *text; text++) {
        size_t i = 0;
        while (i < n && text[i] && tolower((unsigned char)text[i]) == tolower((unsigned char)word[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* Options for url that fail fast: no reconnect, a bounded connect. */
static nb_options *opts_for(const char *url)
{
    nb_options *o = NULL;
    if (nb_options_create(&o) != NB_OK || nb_options_set_url(o, url) != NB_OK ||
        nb_options_set_allow_reconnect(o, false) != NB_OK ||
        nb_options_set_connect_timeout(o, WAIT_MS) != NB_OK) {
        fprintf(stderr, "options for %s: %s\n", url, nb_last_error());
        nb_options_destroy(o);
        return NULL;
    }
    return o;
}

/* ---- the two outcomes every method is checked for ---------------------- */

/*
 * Connects with o, subscribes to subject, sends one text payload and receives
 * it. The envelope's broker_url must be want_broker_url (no userinfo) and no
 * secret may appear in the wire JSON. Prints why and returns false on failure.
 */
static bool roundtrip(const nb_options *o, const char *subject, const char *want_broker_url)
{
    nb_client *c = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *out = NULL, *in = NULL;
    nb_payload *p = NULL;
    bool ok = false;
    const char *step = "connect";
    if (nb_client_connect(&c, o) != NB_OK)
        goto done;
    step = "subscribe";
    if (nb_client_subscribe_sync(c, &sub, subject, NULL) != NB_OK)
        goto done;
    step = "send";
    if (nb_envelope_create(&out) != NB_OK || nb_payload_create_text(&p, "greeting", "hello") != NB_OK ||
        nb_envelope_add_payload(out, &p) != NB_OK || nb_client_send(c, subject, out) != NB_OK)
        goto done;
    step = "receive";
    if (nb_subscription_next(sub, WAIT_MS, &in) != NB_OK)
        goto done;
    step = "check";
    const nb_payload *got = nb_envelope_payload(in, 0);
    const char *json = nb_envelope_json(out, NULL);
    ok = got && nb_payload_text(got) && strcmp(nb_payload_text(got), "hello") == 0 &&
         strcmp(nb_envelope_broker_url(in), want_broker_url) == 0 && !has_secret(json) &&
         !has_secret(nb_envelope_json(in, NULL));
    if (!ok)
        fprintf(stderr, "roundtrip on %s: broker_url \"%s\" (want \"%s\")%s\n", subject,
                nb_envelope_broker_url(in), want_broker_url,
                has_secret(json) ? ", and the envelope holds a secret" : "");
done:
    if (!ok && strcmp(step, "check") != 0)
        fprintf(stderr, "roundtrip on %s: %s failed: %s\n", subject, step, nb_last_error());
    nb_payload_destroy(p);
    nb_envelope_destroy(in);
    nb_envelope_destroy(out);
    nb_subscription_destroy(sub);
    nb_client_destroy(c);
    return ok;
}

/*
 * Connecting with o fails with NB_CONNECTION (or want) and a message holding
 * every word of the NULL-terminated list words and no secret.
 */
static bool connect_fails(const nb_options *o, nb_status want, const char *const *words)
{
    nb_client *c = NULL;
    nb_status s = nb_client_connect(&c, o);
    const char *msg = nb_last_error();
    bool ok = s == want && !c && !has_secret(msg);
    for (; ok && *words; words++)
        ok = mentions(msg, *words);
    if (!ok)
        fprintf(stderr, "connect: %s \"%s\", expected %s naming the words given%s\n",
                nb_status_text(s), msg, nb_status_text(want),
                has_secret(msg) ? " (and the message holds a secret)" : "");
    nb_client_destroy(c);
    return ok;
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- cases -------------------------------------------------------------- */

/* nb_options *o in every case below is created from one URL and destroyed at the end. */
static nb_options *o;
#define WITH_OPTS(name, url) NBT_CASE_WITH(name, (o = opts_for(url)) != NULL, (nb_options_destroy(o), o = NULL))

WITH_OPTS(user_password, env("SEC_URL_userpass"))
{
    CHECK_OK(nb_options_set_user_password(o, "alice", env("SEC_PASSWORD")));
    CHECK(roundtrip(o, "sec.lib.up", env("SEC_URL_userpass")));
    CHECK_OK(nb_options_set_user_password(o, "alice", env("SEC_BAD_PASSWORD")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("user/password", "refused")));
    CHECK_OK(nb_options_set_user_password(o, NULL, NULL));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("authentication")));
}

/* Userinfo in the URL authenticates but never reaches broker_url or an error. */
WITH_OPTS(url_userinfo_redacted, env("SEC_URL_userpass"))
{
    char url[512];
    snprintf(url, sizeof url, "nats://alice:%s@127.0.0.1:%s", env("SEC_PASSWORD"),
             env("SEC_PORT_userpass"));
    CHECK_OK(nb_options_set_url(o, url));
    CHECK(roundtrip(o, "sec.lib.url", env("SEC_URL_userpass")));
    snprintf(url, sizeof url, "nats://alice:%s@127.0.0.1:%s", env("SEC_BAD_PASSWORD"),
             env("SEC_PORT_userpass"));
    CHECK_OK(nb_options_set_url(o, url));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("127.0.0.1", "refused")));
    snprintf(url, sizeof url, "nats://%s@127.0.0.1:%s", env("SEC_TOKEN"), env("SEC_PORT_userpass"));
    char red[512];
    CHECK_STR(nb_url_redact(url, red, sizeof red), env("SEC_URL_userpass"));
}

WITH_OPTS(token, env("SEC_URL_token"))
{
    CHECK_OK(nb_options_set_token(o, env("SEC_TOKEN")));
    CHECK(roundtrip(o, "sec.lib.tok", env("SEC_URL_token")));
    CHECK_OK(nb_options_set_token(o, env("SEC_BAD_TOKEN")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("token", "refused")));
}

WITH_OPTS(nkey_seed_file, env("SEC_URL_nkey"))
{
    CHECK_OK(nb_options_set_nkey_seed_file(o, mfile("nkey.seed")));
    CHECK(roundtrip(o, "sec.lib.nk", env("SEC_URL_nkey")));
    CHECK_OK(nb_options_set_nkey_seed_file(o, mfile("nkey-other.seed")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("nkey", "refused")));
    /* A file that is not there is refused when set, naming the path. */
    CHECK_FAIL(nb_options_set_nkey_seed_file(o, mfile("no-such.seed")), NB_INVALID_ARG, "no-such.seed");
    /* A file that holds no seed (a certificate) is refused when set or at connect. */
    nb_status s = nb_options_set_nkey_seed_file(o, mfile("ca.pem"));
    if (s == NB_OK)
        CHECK(connect_fails(o, NB_CONNECTION, WORDS("nkey")));
    else
        CHECK(s == NB_INVALID_ARG && mentions(nb_last_error(), "nkey"));
}

WITH_OPTS(creds_file, env("SEC_URL_operator"))
{
    CHECK_OK(nb_options_set_creds_file(o, mfile("user.creds")));
    CHECK(roundtrip(o, "sec.lib.op", env("SEC_URL_operator")));
    /* A clone carries the credentials on its own (copied, not shared with o). */
    nb_options *copy = NULL;
    CHECK_OK(nb_options_clone(&copy, o));
    bool cloned_ok = nb_options_set_creds_file(o, NULL) == NB_OK &&
                     roundtrip(copy, "sec.lib.clone", env("SEC_URL_operator"));
    nb_options_destroy(copy);
    CHECK(cloned_ok);
    CHECK_OK(nb_options_set_creds_file(o, mfile("stranger.creds")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("creds", "refused")));
    CHECK_FAIL(nb_options_set_creds_file(o, mfile("no-such.creds")), NB_INVALID_ARG, "no-such.creds");
    CHECK_OK(nb_options_set_creds_file(o, NULL));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("authentication")));
}

/* The line after the BEGIN line of block in a .creds text, copied into out. */
static bool creds_block(const char *creds, const char *block, char *out, size_t n)
{
    const char *p = strstr(creds, block);
    p = p ? strchr(p, '\n') : NULL;
    if (!p)
        return false;
    p++;
    size_t len = strcspn(p, "\r\n");
    if (len == 0 || len >= n)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

WITH_OPTS(creds_in_memory, env("SEC_URL_operator"))
{
    char *creds = nbt_read_file(mfile("user.creds"), NULL);
    char jwt[2048], seed[128];
    bool parsed = creds && creds_block(creds, "BEGIN NATS USER JWT", jwt, sizeof jwt) &&
                  creds_block(creds, "BEGIN USER NKEY SEED", seed, sizeof seed);
    free(creds);
    CHECK(parsed);
    CHECK_OK(nb_options_set_creds(o, jwt, seed));
    CHECK(roundtrip(o, "sec.lib.mem", env("SEC_URL_operator")));
    /* A seed that is not the JWT's user: the server refuses the signature. */
    char *other = nbt_read_file(mfile("nkey.seed"), NULL);
    CHECK(other);
    other[strcspn(other, "\r\n")] = '\0';
    nb_status s = nb_options_set_creds(o, jwt, other);
    free(other);
    CHECK_OK(s);
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("creds", "refused")));
    CHECK(nb_options_set_creds(o, "not a jwt", "SUnot-a-seed") == NB_INVALID_ARG);
    CHECK(!has_secret(nb_last_error()));
}

WITH_OPTS(tls_private_ca, env("SEC_URL_tls"))
{
    char url[128];
    snprintf(url, sizeof url, "tls://127.0.0.1:%s", env("SEC_PORT_tls"));
    CHECK_OK(nb_options_set_url(o, url));
    /* Without the CA: the server's certificate is not trusted, and the message says which option. */
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("certificate", "tls_ca_file")));
    CHECK_OK(nb_options_set_tls_ca_file(o, mfile("ca2.pem")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("certificate", "CA")));
    CHECK_OK(nb_options_set_tls_ca_file(o, mfile("ca.pem")));
    CHECK(roundtrip(o, "sec.lib.tls", url));
    CHECK_FAIL(nb_options_set_tls_ca_file(o, mfile("no-such-ca.pem")), NB_INVALID_ARG, "no-such-ca.pem");
}

WITH_OPTS(tls_hostname, env("SEC_URL_tls"))
{
    CHECK_OK(nb_options_set_tls_ca_file(o, mfile("ca.pem")));
    CHECK_OK(nb_options_set_tls_hostname(o, "localhost"));
    CHECK(roundtrip(o, "sec.lib.host", env("SEC_URL_tls")));
    CHECK_OK(nb_options_set_tls_hostname(o, "not-this-server.invalid"));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("TLS", "hostname")));
}

/* A nats:// URL against a TLS-required server: nats.c follows the server's INFO into TLS. */
WITH_OPTS(tls_negotiated_from_plain_url, env("SEC_URL_tls"))
{
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("certificate")));
    CHECK_OK(nb_options_set_tls_ca_file(o, mfile("ca.pem")));
    CHECK(roundtrip(o, "sec.lib.neg", env("SEC_URL_tls")));
    CHECK_OK(nb_options_set_tls_required(o, true));
    CHECK(roundtrip(o, "sec.lib.neg", env("SEC_URL_tls")));
}

/* tls:// or "TLS required" against a plain server fails: nothing goes out in clear. */
WITH_OPTS(tls_never_falls_back, env("SEC_URL_plain"))
{
    CHECK(roundtrip(o, "sec.lib.plain", env("SEC_URL_plain")));
    CHECK_OK(nb_options_set_tls_required(o, true));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("TLS")));
    CHECK_OK(nb_options_set_tls_required(o, false));
    char url[128];
    snprintf(url, sizeof url, "tls://127.0.0.1:%s", env("SEC_PORT_plain"));
    CHECK_OK(nb_options_set_url(o, url));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("TLS")));
}

WITH_OPTS(mutual_tls, env("SEC_URL_mtls"))
{
    CHECK_OK(nb_options_set_tls_ca_file(o, mfile("ca.pem")));
    CHECK(connect_fails(o, NB_CONNECTION, WORDS("client")));
    CHECK_OK(nb_options_set_tls_client_cert(o, mfile("client2.pem"), mfile("client2.key")));
    nb_client *c = NULL;
    CHECK(nb_client_connect(&c, o) == NB_CONNECTION && !c);
    CHECK(!has_secret(nb_last_error()));
    CHECK_OK(nb_options_set_tls_client_cert(o, mfile("client.pem"), mfile("client.key")));
    CHECK(roundtrip(o, "sec.lib.mtls", env("SEC_URL_mtls")));
    CHECK_FAIL(nb_options_set_tls_client_cert(o, mfile("client.pem"), mfile("no-such.key")),
               NB_INVALID_ARG, "no-such.key");
}

NBT_CASE(websocket_refused)
{
    nb_options *w = NULL;
    CHECK_OK(nb_options_create(&w));
    nb_status s1 = nb_options_set_url(w, "ws://127.0.0.1:8080");
    bool m1 = mentions(nb_last_error(), "WebSocket");
    nb_status s2 = nb_options_set_url(w, "nats://127.0.0.1:4222,wss://127.0.0.1:8443");
    bool m2 = mentions(nb_last_error(), "WebSocket");
    nb_options_destroy(w);
    CHECK(s1 == NB_INVALID_ARG && m1);
    CHECK(s2 == NB_INVALID_ARG && m2);
}

/* The escape hatch gets nats.c's options: here it alone supplies the user and password. */
static int configure_calls;
static nb_status configure_user(void *nats_options, void *closure)
{
    configure_calls++;
    natsStatus s = natsOptions_SetUserInfo(nats_options, "alice", closure);
    return s == NATS_OK ? NB_OK : NB_NATS;
}
static nb_status configure_refuse(void *nats_options, void *closure)
{
    (void)nats_options;
    (void)closure;
    return NB_NOT_ALLOWED;
}

WITH_OPTS(nats_configure_escape_hatch, env("SEC_URL_userpass"))
{
    configure_calls = 0;
    CHECK_OK(nb_options_set_nats_configure(o, configure_user, (void *)env("SEC_PASSWORD")));
    CHECK(roundtrip(o, "sec.lib.cfg", env("SEC_URL_userpass")));
    CHECK(configure_calls == 1);
    CHECK_OK(nb_options_set_nats_configure(o, configure_refuse, NULL));
    nb_client *c = NULL;
    CHECK(nb_client_connect(&c, o) == NB_NOT_ALLOWED && !c);
}

/* The connection name (copied when set) is what the server lists in its monitoring /connz. */
WITH_OPTS(connection_name, env("SEC_URL_userpass"))
{
    CHECK_OK(nb_options_set_user_password(o, "alice", env("SEC_PASSWORD")));
    char name[] = "nbtest-lib-name";
    CHECK_OK(nb_options_set_connection_name(o, name));
    name[0] = 'X';
    nb_client *c = NULL;
    CHECK_OK(nb_client_connect(&c, o));
    char url[256];
    snprintf(url, sizeof url, "%s/connz", env("SEC_MON_userpass"));
    http_req req = {.url = url};
    http_res res = {0};
    bool got = http_do(&req, &res) && res.status == 200;
    bool named = got && res.body.data && strstr((const char *)res.body.data, "\"nbtest-lib-name\"");
    http_res_free(&res);
    nb_client_destroy(c);
    CHECK(got);
    CHECK(named);
}

/* The event callback also hears of refusals (NB_EVENT_ERROR with NB_PERMISSION), secret-free. */
static int permission_events, secret_events;
static void on_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)closure;
    if (ev == NB_EVENT_ERROR && s == NB_PERMISSION)
        __atomic_add_fetch(&permission_events, 1, __ATOMIC_SEQ_CST);
    if (has_secret(detail))
        __atomic_add_fetch(&secret_events, 1, __ATOMIC_SEQ_CST);
}

/* An outgoing envelope with one text payload, or NULL. */
static nb_envelope *text_envelope(void)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    if (nb_envelope_create(&e) != NB_OK || nb_payload_create_text(&p, "a", "b") != NB_OK ||
        nb_envelope_add_payload(e, &p) != NB_OK) {
        nb_payload_destroy(p);
        nb_envelope_destroy(e);
        return NULL;
    }
    return e;
}

/* s is NB_PERMISSION and the last error names subject and "permissions violation". */
static bool is_permission_error(nb_status s, const char *subject, const char *what)
{
    const char *msg = nb_last_error();
    bool ok = s == NB_PERMISSION && mentions(msg, subject) && mentions(msg, "permissions violation") &&
              !has_secret(msg);
    if (!ok)
        fprintf(stderr, "%s: %s \"%s\", expected %s naming %s\n", what, nb_status_text(s), msg,
                nb_status_text(NB_PERMISSION), subject);
    return ok;
}

/* Publishing is asynchronous: a refusal surfaces at the send or, at the latest, the flush. */
static bool forbidden_publish(nb_client *c, const char *subject)
{
    nb_envelope *e = text_envelope();
    nb_status s = e ? nb_client_send(c, subject, e) : NB_NO_MEMORY;
    if (s == NB_OK)
        s = nb_client_flush(c, WAIT_MS);
    bool ok = is_permission_error(s, subject, "forbidden publish");
    nb_envelope_destroy(e);
    return ok;
}

/* nb_smartsend connects, sends and flushes: the refusal is its own status. */
static bool forbidden_smartsend(const nb_options *opts, const char *subject)
{
    nb_envelope *e = text_envelope();
    nb_status s = e ? nb_smartsend(subject, e, opts) : NB_NO_MEMORY;
    bool ok = is_permission_error(s, subject, "forbidden smartsend");
    nb_envelope_destroy(e);
    return ok;
}

/* A refused subscribe surfaces at subscribe or, at the latest, at the next read. */
static bool forbidden_subscribe(nb_client *c, const char *subject)
{
    nb_subscription *sub = NULL;
    nb_envelope *in = NULL;
    nb_status s = nb_client_subscribe_sync(c, &sub, subject, NULL);
    if (s == NB_OK)
        s = nb_subscription_next(sub, WAIT_MS, &in);
    bool ok = is_permission_error(s, subject, "forbidden subscribe");
    nb_envelope_destroy(in);
    nb_subscription_destroy(sub);
    return ok;
}

/* user "limited" may publish and subscribe only on allowed.> */
WITH_OPTS(permission_violations, env("SEC_URL_perms"))
{
    permission_events = secret_events = 0;
    CHECK_OK(nb_options_set_user_password(o, "limited", env("SEC_LIMITED_PASSWORD")));
    CHECK_OK(nb_options_set_event_cb(o, on_event, NULL));
    CHECK(roundtrip(o, "allowed.lib", env("SEC_URL_perms")));
    nb_client *c = NULL;
    CHECK_OK(nb_client_connect(&c, o));
    bool pub = forbidden_publish(c, "forbidden.lib.pub");
    bool sub = forbidden_subscribe(c, "forbidden.lib.sub");
    nb_client_destroy(c);
    CHECK(pub);
    CHECK(sub);
    CHECK(forbidden_smartsend(o, "forbidden.lib.smart"));
    CHECK(__atomic_load_n(&permission_events, __ATOMIC_SEQ_CST) >= 3);
    CHECK(__atomic_load_n(&secret_events, __ATOMIC_SEQ_CST) == 0);
    /* The connection still works for what is allowed. */
    CHECK(roundtrip(o, "allowed.lib.after", env("SEC_URL_perms")));
}

static const nbt_case cases[] = {
    NBT_ENTRY(user_password),
    NBT_ENTRY(url_userinfo_redacted),
    NBT_ENTRY(token),
    NBT_ENTRY(nkey_seed_file),
    NBT_ENTRY(creds_file),
    NBT_ENTRY(creds_in_memory),
    NBT_ENTRY(tls_private_ca),
    NBT_ENTRY(tls_hostname),
    NBT_ENTRY(tls_negotiated_from_plain_url),
    NBT_ENTRY(tls_never_falls_back),
    NBT_ENTRY(mutual_tls),
    NBT_ENTRY(websocket_refused),
    NBT_ENTRY(nats_configure_escape_hatch),
    NBT_ENTRY(connection_name),
    NBT_ENTRY(permission_violations),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
