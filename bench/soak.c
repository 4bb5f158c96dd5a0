/* SPDX-License-Identifier: MIT */
/*
 * soak.c - a long run of small envelopes through the real `natsbridge listen`,
 * printing the listener's resident memory as it goes (docs/SECURITY.md,
 * "Memory"). Nothing is asserted: a flat RSS column is what to look for.
 *
 * Method: a nats-server of its own (the test fixture), `natsbridge listen
 * SUBJECT --json --count N+1` as a child process whose stdout this program
 * reads (one JSON line per envelope: that is how it counts deliveries), and a
 * library publisher in this process. The publisher keeps at most WINDOW
 * envelopes ahead of the listener, so the listener is never a slow consumer
 * and every envelope is delivered; drops would show on its stderr and are
 * counted. Every --every envelopes one row: elapsed seconds, envelopes
 * received, rate, the listener's VmRSS and VmHWM (from /proc), and this
 * publisher's VmRSS.
 *
 * Usage: soak [--cli PATH] [--count N] [--size BYTES] [--every K]
 * Defaults: --cli ./natsbridge (next to the build's bench/ directory the CLI is
 * ../natsbridge), --count 1000000, --size 100, --every 100000.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <natsbridge.h>

#include "bench_util.h"
#include "server.h"

#define WINDOW 20000L

typedef struct soak_args {
    const char *cli;
    long count;
    size_t size;
    long every;
} soak_args;

typedef struct listener {
    pid_t pid;
    int out; /* its stdout: one JSON line per envelope */
    int err; /* its stderr: "listening on", then any report of a bad or dropped message */
    long lines;
    long reports;
} listener;

/* A /proc/PID/status field in KiB ("VmRSS", "VmHWM"), or -1. */
static long proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static int listener_start(listener *l, const soak_args *a, const char *url)
{
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0)
        return -1;
    char count[32];
    /* One more than is sent: the listener stays up to be measured after the last one. */
    snprintf(count, sizeof count, "%ld", a->count + 1);
    l->pid = fork();
    if (l->pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        execl(a->cli, a->cli, "listen", "soak.subject", "--json", "--count", count, "--server",
              url, (char *)NULL);
        fprintf(stderr, "soak: cannot run %s: %s\n", a->cli, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    l->out = out[0];
    l->err = err[0];
    l->lines = l->reports = 0;
    return l->pid > 0 ? 0 : -1;
}

/* Waits for the listener's "listening on" note; 0 when it came within 10 s. */
static int listener_ready(listener *l)
{
    char buf[512];
    size_t have = 0;
    long long until = nbt_now_ms() + 10000;
    while (nbt_now_ms() < until && have < sizeof buf - 1) {
        ssize_t n = read(l->err, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, "listening on"))
            return 0;
    }
    return -1;
}

/* Reads what the listener wrote so far without blocking; counts lines and stderr reports. */
static void listener_poll(listener *l)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(l->out, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            l->lines += buf[i] == '\n';
    while ((n = read(l->err, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, stderr);
        for (ssize_t i = 0; i < n; i++)
            l->reports += buf[i] == '\n';
    }
}

static void print_row(const listener *l, double t0, double last_t, long last_n)
{
    double t = bench_now_s();
    printf("%9.1f %10ld %10.0f %12ld %12ld %12ld\n", t - t0, l->lines,
           (double)(l->lines - last_n) / (t - last_t), proc_kib(l->pid, "VmRSS"),
           proc_kib(l->pid, "VmHWM"), proc_kib(getpid(), "VmRSS"));
    fflush(stdout);
}

static nb_status send_one(nb_client *c, const char *text)
{
    nb_envelope *env;
    nb_payload *p;
    nb_status s = nb_envelope_create(&env);
    if (s != NB_OK)
        return s;
    s = nb_payload_create_text(&p, "msg", text);
    if (s == NB_OK)
        s = nb_envelope_add_payload(env, &p);
    if (s == NB_OK)
        s = nb_client_send(c, "soak.subject", env);
    nb_envelope_destroy(env);
    return s;
}

/* Publishes a->count envelopes, WINDOW at most ahead of the listener; rows as it goes. */
static int run(const soak_args *a, listener *l, nb_client *c)
{
    char *text = malloc(a->size + 1);
    if (!text)
        return -1;
    memset(text, 'x', a->size);
    text[a->size] = '\0';
    printf("%9s %10s %10s %12s %12s %12s\n", "seconds", "received", "env/s", "listen_rss_kb",
           "listen_hwm_kb", "sender_rss_kb");
    double t0 = bench_now_s(), last_t = t0;
    long last_n = 0, next_row = a->every;
    int rc = 0;
    for (long sent = 0; sent < a->count && rc == 0;) {
        if (sent - l->lines < WINDOW) {
            if (send_one(c, text) != NB_OK) {
                fprintf(stderr, "soak: send %ld: %s\n", sent, nb_last_error());
                rc = -1;
            }
            sent++;
            if (sent % 1000 == 0)
                listener_poll(l);
        } else {
            nbt_sleep_ms(1);
            listener_poll(l);
        }
        while (l->lines >= next_row) {
            print_row(l, t0, last_t, last_n);
            last_t = bench_now_s();
            last_n = l->lines;
            next_row += a->every;
        }
    }
    nb_client_flush(c, 5000);
    for (long long until = nbt_now_ms() + 30000; l->lines < a->count && nbt_now_ms() < until;) {
        nbt_sleep_ms(5);
        listener_poll(l);
    }
    if (l->lines >= next_row || l->lines != last_n)
        print_row(l, t0, last_t, last_n);
    double secs = bench_now_s() - t0;
    printf("soak: %ld of %ld envelopes of %zu B received in %.1f s (%.0f/s), %ld stderr reports, "
           "listener peak RSS %ld KiB\n",
           l->lines, a->count, a->size, secs, (double)l->lines / secs, l->reports,
           proc_kib(l->pid, "VmHWM"));
    printf("SOAK count=%ld received=%ld size=%zu seconds=%.1f reports=%ld listener_hwm_kib=%ld\n",
           a->count, l->lines, a->size, secs, l->reports, proc_kib(l->pid, "VmHWM"));
    free(text);
    return rc == 0 && l->lines == a->count ? 0 : -1;
}

static int parse_args(int argc, char **argv, soak_args *a)
{
    *a = (soak_args){"./natsbridge", 1000000, 100, 100000};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cli") == 0)
            a->cli = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0)
            a->count = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--size") == 0)
            a->size = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--every") == 0)
            a->every = strtol(argv[i + 1], NULL, 10);
        else
            return -1;
    }
    return (argc % 2 == 1 && a->count > 0 && a->every > 0 && a->size > 0) ? 0 : -1;
}

int main(int argc, char **argv)
{
    soak_args a;
    if (parse_args(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: soak [--cli PATH] [--count N] [--size BYTES] [--every K]\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    nbt_server srv;
    if (nbt_server_start(&srv, false, 0) != 0)
        return 2;
    listener l;
    nb_client *c = NULL;
    nb_options *o = NULL;
    int rc = 2;
    if (listener_start(&l, &a, srv.url) == 0 && listener_ready(&l) == 0 &&
        nb_options_create(&o) == NB_OK && nb_options_set_url(o, srv.url) == NB_OK &&
        nb_client_connect(&c, o) == NB_OK) {
        fcntl(l.out, F_SETFL, O_NONBLOCK);
        fcntl(l.err, F_SETFL, O_NONBLOCK);
        rc = run(&a, &l, c) == 0 ? 0 : 2;
    } else {
        fprintf(stderr, "soak: could not start the listener or connect: %s\n", nb_last_error());
    }
    nb_client_destroy(c);
    nb_options_destroy(o);
    if (l.pid > 0) {
        int status;
        kill(l.pid, SIGTERM);
        waitpid(l.pid, &status, 0);
    }
    nbt_server_stop(&srv);
    return rc;
}
