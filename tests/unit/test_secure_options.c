/* SPDX-License-Identifier: MIT */
/*
 * test_secure_options.c - keeping secrets in the process (issue 10): URL
 * redaction of every URL shape (nb_url_redact), nats.c error texts without
 * source locations, ws:// refusal, the secured-connection setters'
 * validation (their errors never quote a file's content), NKey public keys,
 * and broker_url without userinfo.
 */
#include "test.h"

#include "envelope.h"
#include "nkey.h"
#include "options.h"
#include "redact.h"

#include <unistd.h>

/*
 * A user seed and its public key, computed independently of src/core/nkey.c
 * (Python's cryptography Ed25519 with the nkeys base32 + CRC-16 encoding).
 * A throwaway test key, not a secret.
 */
#define SEED "SUAMIYA2KYYJNQTYHZDVD4A4I42FKF4TIIVWY3HUZZ37I6YVTSI6GYDCZI"
#define SEED_PUBLIC "UBZTKOHB2YANIQZDBZMF5AYBNQYUJHSR7WSF4E42QSP6NZWC4CANKXQA"
#define JWT "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln"

static int redacts(const char *in, const char *want)
{
    char out[512];
    nb_url_redact(in, out, sizeof out);
    if (strcmp(out, want) != 0) {
        fprintf(stderr, "nb_url_redact(\"%s\") gave \"%s\", expected \"%s\"\n", in, out, want);
        return 0;
    }
    return 1;
}

NBT_CASE(redact_url_shapes)
{
    CHECK(redacts("nats://alice:s3cret@127.0.0.1:4222", "nats://127.0.0.1:4222"));
    CHECK(redacts("nats://t0ken@127.0.0.1:4222", "nats://127.0.0.1:4222"));
    CHECK(redacts("tls://alice:s3cret@host.example:4443", "tls://host.example:4443"));
    CHECK(redacts("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"));
    CHECK(redacts("nats://u:p@[::1]:4222", "nats://[::1]:4222"));
    CHECK(redacts("nats://[::1]:4222", "nats://[::1]:4222"));
    /* a password holding '@' or ':' (the last '@' ends the user info) */
    CHECK(redacts("nats://a:p@ss:w@h:1", "nats://h:1"));
    /* lists, with and without schemes, as nats.c accepts them */
    CHECK(redacts("nats://a:b@h1:1,nats://c@h2:2,nats://h3:3", "nats://h1:1,nats://h2:2,nats://h3:3"));
    CHECK(redacts("alice:s3cret@h1:4222,t0k@h2:4222", "h1:4222,h2:4222"));
    CHECK(redacts("localhost:4222", "localhost:4222"));
    /* http links: the path is kept, even with an '@' in it */
    CHECK(redacts("http://u:p@files:8080/file/a/b/report@2024.csv",
                  "http://files:8080/file/a/b/report@2024.csv"));
    CHECK(redacts("https://files/x?y=1#z", "https://files/x?y=1#z"));
    /* free text: only scheme:// URLs are touched, "a@b" subjects are not */
    CHECK(redacts("connect to nats://alice:pw@h:1 failed: 'tls://t@h2:2' (x@y)",
                  "connect to nats://h:1 failed: 'tls://h2:2' (x@y)"));
    CHECK(redacts("publish on 'user.bob@example.com' refused", "publish on 'user.bob@example.com' refused"));
    CHECK(redacts("\"broker_url\":\"nats://a:b@h:1\"", "\"broker_url\":\"nats://h:1\""));
    CHECK(redacts("", ""));
    /* a NULL text, and output cut to its buffer */
    char small[8];
    CHECK_STR(nb_url_redact(NULL, small, sizeof small), "");
    CHECK_STR(nb_url_redact("nats://user:pw@abcdefgh:1", small, sizeof small), "nats://");
    CHECK(nb_url_redact("x", NULL, 0) == NULL);
}

NBT_CASE(nats_text_without_locations)
{
    char out[256];
    CHECK_STR(nbi_nats_text("(conn.c:2088): Authorization Violation", out, sizeof out),
              "Authorization Violation");
    CHECK_STR(nbi_nats_text("(opts.c:12): (conn.c:3): SSL handshake error: 20:x", out, sizeof out),
              "SSL handshake error: 20:x");
    CHECK_STR(nbi_nats_text("no location (here) nats://u:p@h:1", out, sizeof out),
              "no location (here) nats://h:1");
    CHECK_STR(nbi_nats_text(NULL, out, sizeof out), "");
}

NBT_CASE(errors_never_carry_userinfo)
{
    /* nbi_fail redacts whatever a caller formats into a message. */
    nbi_fail(NB_IO, "cannot reach nats://alice:s3cret@h:1 or tls://t0k@h:2");
    CHECK(!strstr(nb_last_error(), "s3cret") && !strstr(nb_last_error(), "t0k"));
    CHECK(strstr(nb_last_error(), "nats://h:1 or tls://h:2"));
    nbi_fail_prefix(NB_IO, "retrying nats://bob:hunter2@h:3");
    CHECK(!strstr(nb_last_error(), "hunter2"));
    CHECK(strstr(nb_last_error(), "retrying nats://h:3: cannot reach nats://h:1"));
    /* Bad URLs are named without their user info, scheme-less ones too. */
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_FAIL(nb_options_set_url(o, "alice:s3cret@h1:1,nats://b c"), NB_INVALID_ARG, "server 2");
    CHECK(!strstr(nb_last_error(), "s3cret"));
    CHECK_FAIL(nb_options_set_url(o, "nats://alice:s3/cret@h:1"), NB_INVALID_ARG, "user info holds");
    CHECK(!strstr(nb_last_error(), "s3") && !strstr(nb_last_error(), "cret"));
    nb_options_destroy(o);
}

NBT_CASE(websocket_refused)
{
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_FAIL(nb_options_set_url(o, "ws://127.0.0.1:8080"), NB_INVALID_ARG,
               "nats.c 3.4.1 has no WebSocket transport");
    CHECK_FAIL(nb_options_set_url(o, "nats://a:1,wss://b:443"), NB_INVALID_ARG,
               "server 2 of the list: 'wss://b:443': WebSocket URLs are not supported");
    CHECK_OK(nb_options_set_url(o, "tls://a:1,nats://b:2"));
    CHECK_STR(o->url, "tls://a:1,nats://b:2");
    nb_options_destroy(o);
}

NBT_CASE(broker_url_without_userinfo)
{
    nb_options *o = NULL;
    nb_envelope *e = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_options_set_url(o, "nats://alice:s3cret@h1:4222,nats://t0k@h2:4222"));
    CHECK_OK(nbi_envelope_fill_defaults(e, "s", o));
    CHECK_STR(nb_envelope_broker_url(e), "nats://h1:4222");
    CHECK_OK(nb_options_set_url(o, "t0ken@h3:4222"));
    CHECK_OK(nbi_envelope_fill_defaults(e, "s", o));
    CHECK_STR(nb_envelope_broker_url(e), "h3:4222");
    nb_envelope_destroy(e);
    nb_options_destroy(o);
}

/* Writes text to a fresh temporary file; its path into path[64]. */
static int temp_file(char *path, const char *text)
{
    snprintf(path, 64, "/tmp/nbt-secure-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

NBT_CASE(nkey_public_key)
{
    char pub[NBI_NKEY_PUBLIC_LEN + 1];
    CHECK_OK(nbi_nkey_user_public(SEED, pub, "t"));
    CHECK_STR(pub, SEED_PUBLIC);
    CHECK(nbi_nkey_find_user_seed("-----BEGIN USER NKEY SEED-----\n" SEED "\n------END") != NULL);
    CHECK(nbi_nkey_find_user_seed("XSU" SEED) == NULL);
    /* one character changed: the CRC catches it */
    char bad[] = SEED;
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    CHECK_FAIL(nbi_nkey_user_public(bad, pub, "t"), NB_INVALID_ARG, "checksum");
    CHECK_FAIL(nbi_nkey_user_public("SUABC", pub, "t"), NB_INVALID_ARG, "not an NKey seed");
}

NBT_CASE(setters_validate)
{
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_FAIL(nb_options_set_user_password(o, NULL, "pw"), NB_INVALID_ARG, "needs a user");
    CHECK_OK(nb_options_set_user_password(o, "alice", "s3cret"));
    CHECK_STR(o->user, "alice");
    CHECK_OK(nb_options_set_token(o, "t0k"));
    CHECK_FAIL(nb_options_set_nkey_seed_file(o, "/nonexistent/user.nk"), NB_INVALID_ARG,
               "nkey seed file '/nonexistent/user.nk': cannot read it");
    CHECK_FAIL(nb_options_set_creds_file(o, "/nonexistent/u.creds"), NB_INVALID_ARG,
               "creds file '/nonexistent/u.creds'");
    CHECK_FAIL(nb_options_set_tls_ca_file(o, "/nonexistent/ca.pem"), NB_INVALID_ARG,
               "tls ca file '/nonexistent/ca.pem'");
    CHECK_FAIL(nb_options_set_tls_ca_file(o, "/tmp"), NB_INVALID_ARG, "not a regular file");
    CHECK_FAIL(nb_options_set_tls_client_cert(o, "/etc/hostname", NULL), NB_INVALID_ARG,
               "give both");
    CHECK_FAIL(nb_options_set_creds(o, "not-a-jwt", SEED), NB_INVALID_ARG, "not a JWT");
    CHECK_FAIL(nb_options_set_creds(o, JWT, "SUNOTASEED"), NB_INVALID_ARG, "not a user NKey seed");
    CHECK_OK(nb_options_set_creds(o, JWT, SEED));
    CHECK_OK(nb_options_set_connection_name(o, "probe"));
    CHECK_OK(nb_options_set_tls_hostname(o, "nats.example"));
    CHECK_OK(nb_options_set_tls_required(o, true));
    CHECK_FAIL(nb_options_set_token(NULL, "x"), NB_INVALID_ARG, "options is NULL");
    /* clones copy every setting */
    nb_options *copy = NULL;
    CHECK_OK(nb_options_clone(&copy, o));
    CHECK(copy->password != o->password && strcmp(copy->password, "s3cret") == 0);
    CHECK_STR(copy->token, "t0k");
    CHECK_STR(copy->creds_seed, SEED);
    CHECK_STR(copy->connection_name, "probe");
    CHECK(copy->tls_required);
    nb_options_destroy(copy);
    /* NULL clears */
    CHECK_OK(nb_options_set_token(o, NULL));
    CHECK(o->token == NULL);
    CHECK_OK(nb_options_set_creds(o, NULL, NULL));
    CHECK(o->creds_jwt == NULL && o->creds_seed == NULL);
    nb_options_destroy(o);
}

NBT_CASE(key_files_checked_never_quoted)
{
    char seedfile[64], notseed[64], creds[64], nojwt[64];
    CHECK(temp_file(seedfile, "# my key\n" SEED "\n"));
    CHECK(temp_file(notseed, "password=TOPSECRETVALUE\n"));
    CHECK(temp_file(creds, "-----BEGIN NATS USER JWT-----\n" JWT "\n------END NATS USER JWT------\n\n"
                           "-----BEGIN USER NKEY SEED-----\n" SEED "\n------END USER NKEY SEED------\n"));
    CHECK(temp_file(nojwt, "-----BEGIN USER NKEY SEED-----\n" SEED "\n------END USER NKEY SEED------\n"));
    nb_options *o = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_OK(nb_options_set_nkey_seed_file(o, seedfile));
    CHECK_STR(o->nkey_public, SEED_PUBLIC);
    CHECK_FAIL(nb_options_set_nkey_seed_file(o, notseed), NB_INVALID_ARG, "no user seed in it");
    CHECK(!strstr(nb_last_error(), "TOPSECRET"));
    CHECK_FAIL(nb_options_set_creds_file(o, notseed), NB_INVALID_ARG, "no user JWT in it");
    CHECK(!strstr(nb_last_error(), "TOPSECRET"));
    CHECK_FAIL(nb_options_set_creds_file(o, nojwt), NB_INVALID_ARG, "no user JWT in it");
    CHECK(!strstr(nb_last_error(), SEED));
    CHECK_OK(nb_options_set_creds_file(o, creds));
    CHECK_STR(o->creds_file, creds);
    /* a refused file keeps the setting before it */
    CHECK_STR(o->nkey_seed_file, seedfile);
    char methods[128];
    nbi_options_auth_methods(o, methods, sizeof methods);
    CHECK_STR(methods, "nkey and creds");
    /* nkey and creds together: nats.c would silently keep one, connect refuses */
    nb_client *c = NULL;
    CHECK_FAIL(nb_client_connect(&c, o), NB_INVALID_ARG, "exclude each other");
    nb_options_destroy(o);
    unlink(seedfile);
    unlink(notseed);
    unlink(creds);
    unlink(nojwt);
}

static const nbt_case cases[] = {
    NBT_ENTRY(redact_url_shapes),   NBT_ENTRY(nats_text_without_locations),
    NBT_ENTRY(errors_never_carry_userinfo), NBT_ENTRY(websocket_refused),
    NBT_ENTRY(broker_url_without_userinfo), NBT_ENTRY(nkey_public_key),
    NBT_ENTRY(setters_validate),    NBT_ENTRY(key_files_checked_never_quoted),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
