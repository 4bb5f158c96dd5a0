/* SPDX-License-Identifier: MIT */
/*
 * test_fileclient_unit.c - URL origins (the allowlist's key) and the one
 * back-off of natsbridge: bounds, cap, extremes, threads, clock and sleep.
 */
#include "test.h"

#include "backoff.h"
#include "fileclient.h"
#include "options.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

NBT_CASE(origin_valid)
{
    static const char *const table[][2] = {
        {"http://Example.COM/x/y", "http://example.com"},
        {"HTTP://localhost:8080/file/a/b/c.bin", "http://localhost:8080"},
        {"http://h:80/", "http://h"},
        {"http://h", "http://h"},
        {"http://h:/", "http://h"},
        {"https://h:443", "https://h"},
        {"https://H:8443?q=1", "https://h:8443"},
        {"https://h:80", "https://h:80"},
        {"http://h:443", "http://h:443"},
        {"http://h:08080#frag", "http://h:8080"},
        {"http://127.0.0.1:4222/a", "http://127.0.0.1:4222"},
        {"http://[::1]:8080/a", "http://[::1]:8080"},
        {"http://[FE80::1]/", "http://[fe80::1]"},
        {"http://my_host.example-1.org/", "http://my_host.example-1.org"},
        {"http://h/a@b", "http://h"}, /* '@' in the path is no user info */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char out[128];
        CHECK_OK(nbi_url_origin(table[i][0], out, sizeof out));
        CHECK_STR(out, table[i][1]);
    }
    /* The same origin written two ways compares equal. */
    char a[64], b[64];
    CHECK_OK(nbi_url_origin("http://H:80/x", a, sizeof a));
    CHECK_OK(nbi_url_origin("http://h/y", b, sizeof b));
    CHECK_STR(a, b);
}

NBT_CASE(origin_invalid)
{
    static const struct {
        const char *url, *why;
    } table[] = {
        {"", "not an http"},
        {"ftp://h/x", "not an http"},
        {"file:///etc/passwd", "not an http"},
        {"gopher://h", "not an http"},
        {"javascript:alert(1)", "not an http"},
        {"http:/h", "not an http"},
        {"http//h", "not an http"},
        {"httpx://h", "not an http"},
        {"http://", "host"},
        {"http://:80", "host"},
        {"http:///x", "host"},
        {"http://a@b", "user info"},
        {"http://a:b@c/", "user info"},
        {"http://@h", "user info"},
        {"http://h:0", "port"},
        {"http://h:65536", "port"},
        {"http://h:99999999999999999999", "port"},
        {"http://h:8x", "port"},
        {"http://h:-1", "port"},
        {"http://h h/", "space"},
        {"http://h\r\nX: y", "control"},
        {"http://h\\@evil.com/", "backslash"},
        {"http://[::1", "host"},
        {"http://[]/", "host"},
        {"http://[zz]/", "host"},
        {"http://h%2ecom/", "host or port"},
        {"http://h\xc3\xa9.com/", "host or port"},
        {"http://h:80:80/", "port"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char out[128] = "junk";
        CHECK_FAIL(nbi_url_origin(table[i].url, out, sizeof out), NB_INVALID_ARG, table[i].why);
        CHECK_STR(out, "");
    }
    char out[8];
    CHECK_FAIL(nbi_url_origin(NULL, out, sizeof out), NB_INVALID_ARG, "NULL");
    CHECK_FAIL(nbi_url_origin("http://h", NULL, 8), NB_INVALID_ARG, "NULL");
    CHECK_FAIL(nbi_url_origin("http://h", out, 0), NB_INVALID_ARG, "NULL");
}

NBT_CASE(origin_small_buffer)
{
    char out[16];
    CHECK_OK(nbi_url_origin("http://abcdefg/", out, sizeof out)); /* 14 chars + NUL */
    CHECK_STR(out, "http://abcdefg");
    CHECK_FAIL(nbi_url_origin("http://abcdefgh/", out, 15), NB_INVALID_ARG, "does not fit");
    CHECK_STR(out, "");
}

/* The cap of attempt a: min(max, base * 2^a), computed slowly and safely. */
static int64_t expected_cap(int a, int64_t base, int64_t max)
{
    double cap = (double)base;
    for (int i = 0; i < a && cap < (double)max; i++)
        cap *= 2;
    return cap >= (double)max ? max : (int64_t)cap;
}

NBT_CASE(backoff_bounds)
{
    const int64_t base = 10, max = 5000;
    for (int a = 0; a <= 14; a++) {
        int64_t cap = expected_cap(a, base, max), hi = -1, lo = INT64_MAX;
        double sum = 0;
        const int draws = 20000;
        for (int i = 0; i < draws; i++) {
            int64_t d = nbi_backoff_delay_ms(a, base, max);
            CHECK(d >= 0 && d <= cap);
            hi = d > hi ? d : hi;
            lo = d < lo ? d : lo;
            sum += (double)d;
        }
        /* Full jitter: the whole range is used and the mean is near cap/2. */
        CHECK(lo <= cap / 20);
        CHECK(hi >= cap - cap / 20);
        double mean = sum / draws;
        CHECK(mean > cap * 0.45 && mean < cap * 0.55);
    }
}

NBT_CASE(backoff_cap_monotone)
{
    int64_t prev_hi = 0;
    for (int a = 0; a <= 40; a++) {
        int64_t hi = 0;
        for (int i = 0; i < 5000; i++) {
            int64_t d = nbi_backoff_delay_ms(a, 100, 5000);
            CHECK(d >= 0 && d <= 5000);
            hi = d > hi ? d : hi;
        }
        /* Allow sampling noise of 5% below the previous maximum. */
        CHECK(hi >= prev_hi - prev_hi / 20);
        prev_hi = hi > prev_hi ? hi : prev_hi;
    }
    CHECK(prev_hi > 4750);
}

NBT_CASE(backoff_extremes)
{
    for (int i = 0; i < 1000; i++) {
        int64_t d = nbi_backoff_delay_ms(INT_MAX, 1, INT64_MAX);
        CHECK(d >= 0);
        CHECK(nbi_backoff_delay_ms(INT_MAX, INT64_MAX, INT64_MAX) >= 0);
        CHECK(nbi_backoff_delay_ms(62, INT64_MAX / 3, INT64_MAX) >= 0);
        d = nbi_backoff_delay_ms(3, 1000, 10); /* base over max: max wins */
        CHECK(d >= 0 && d <= 10);
        d = nbi_backoff_delay_ms(-5, 40, 1000); /* a negative attempt counts as 0 */
        CHECK(d >= 0 && d <= 40);
        d = nbi_backoff_delay_ms(1, 1, 1);
        CHECK(d == 0 || d == 1);
    }
    CHECK(nbi_backoff_delay_ms(3, 0, 1000) == 0);
    CHECK(nbi_backoff_delay_ms(3, -10, 1000) == 0);
    CHECK(nbi_backoff_delay_ms(3, 10, 0) == 0);
    CHECK(nbi_backoff_delay_ms(3, 10, -1) == 0);
}

typedef struct draws {
    int64_t first[8];
    int bad;
} draws;

static void *draw_thread(void *arg)
{
    draws *d = arg;
    for (int i = 0; i < 20000; i++) {
        int64_t v = nbi_backoff_delay_ms(i % 12, 7, 3000);
        if (v < 0 || v > 3000)
            d->bad++;
        if (i < 8)
            d->first[i] = v;
    }
    return NULL;
}

NBT_CASE(backoff_threads)
{
    draws d[4];
    pthread_t t[4];
    memset(d, 0, sizeof d);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, draw_thread, &d[i]) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK(d[i].bad == 0);
    /* Each thread is seeded on its own: the sequences differ. */
    CHECK(memcmp(d[0].first, d[1].first, sizeof d[0].first) != 0);
    CHECK(memcmp(d[2].first, d[3].first, sizeof d[0].first) != 0);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

NBT_CASE(clock_and_sleep)
{
    int64_t t0 = nbi_now_ms();
    nbi_sleep_ms(50);
    int64_t t1 = nbi_now_ms();
    CHECK(t1 - t0 >= 50 && t1 - t0 < 1000);
    nbi_sleep_ms(0);
    nbi_sleep_ms(-5);
    CHECK(nbi_now_ms() - t1 < 50);

    /* Signals every 10 ms (no SA_RESTART) must not cut a 120 ms sleep short. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 10000}, {0, 10000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    t0 = nbi_now_ms();
    nbi_sleep_ms(120);
    t1 = nbi_now_ms();
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    CHECK(alarms > 0);
    CHECK(t1 - t0 >= 120 && t1 - t0 < 2000);
}

/* The file server TLS and token setters: validated when set, copied, cloned, secret kept out of errors. */
NBT_CASE(fileserver_auth_options)
{
    char ca[] = "/tmp/nbt-ca-XXXXXX";
    int fd = mkstemp(ca);
    CHECK(fd >= 0);
    CHECK(write(fd, "PEM\n", 4) == 4); /* an empty file is refused as no key file */
    close(fd);
    nb_options *o = NULL, *copy = NULL;
    CHECK_OK(nb_options_create(&o));
    CHECK_FAIL(nb_options_set_fileserver_ca(o, "/nonexistent/ca.pem"), NB_INVALID_ARG,
               "fileserver CA file '/nonexistent/ca.pem'");
    CHECK_FAIL(nb_options_set_fileserver_ca(o, "/tmp"), NB_INVALID_ARG, "not a regular file");
    CHECK_OK(nb_options_set_fileserver_ca(o, ca));
    CHECK_FAIL(nb_options_set_fileserver_client_cert(o, ca, NULL), NB_INVALID_ARG,
               "needs both the certificate file and its key file");
    CHECK_FAIL(nb_options_set_fileserver_client_cert(o, ca, "/nonexistent/key.pem"),
               NB_INVALID_ARG, "fileserver client key '/nonexistent/key.pem'");
    CHECK_OK(nb_options_set_fileserver_client_cert(o, ca, ca));
    CHECK_FAIL(nb_options_set_fileserver_token(o, "s3cret\r\nX-Evil: 1"), NB_INVALID_ARG,
               "fileserver token");
    CHECK(!strstr(nb_last_error(), "s3cret"));
    CHECK_FAIL(nb_options_set_fileserver_token(o, ""), NB_INVALID_ARG, "empty");
    CHECK_OK(nb_options_set_fileserver_token(o, "s3cret"));
    CHECK_OK(nb_options_clone(&copy, o));
    nb_options_destroy(o);
    /* The copy owns its strings: the original is gone. */
    CHECK(copy->fsauth.ca_file && strcmp(copy->fsauth.ca_file, ca) == 0);
    CHECK(copy->fsauth.key_file && strcmp(copy->fsauth.key_file, ca) == 0);
    CHECK(copy->fsauth.token && strcmp(copy->fsauth.token, "s3cret") == 0);
    CHECK_OK(nb_options_set_fileserver_client_cert(copy, NULL, NULL));
    CHECK_OK(nb_options_set_fileserver_token(copy, NULL));
    CHECK_OK(nb_options_set_fileserver_ca(copy, NULL));
    CHECK(!copy->fsauth.cert_file && !copy->fsauth.key_file && !copy->fsauth.token &&
          !copy->fsauth.ca_file);
    nb_options_destroy(copy);
    remove(ca);
}

static const nbt_case cases[] = {
    NBT_ENTRY(origin_valid),    NBT_ENTRY(origin_invalid),      NBT_ENTRY(origin_small_buffer),
    NBT_ENTRY(backoff_bounds),  NBT_ENTRY(backoff_cap_monotone), NBT_ENTRY(backoff_extremes),
    NBT_ENTRY(backoff_threads), NBT_ENTRY(clock_and_sleep),     NBT_ENTRY(fileserver_auth_options),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
