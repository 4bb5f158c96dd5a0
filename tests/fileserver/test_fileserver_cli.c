/* SPDX-License-Identifier: MIT */
/*
 * test_fileserver_cli.c - `natsbridge fileserver` as a process: the port line
 * on stdout, serving, a clean exit 0 on SIGTERM/SIGINT, exit 1 on usage
 * errors (one line on stderr), exit 2 on runtime errors.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "test.h"

#ifndef NBT_CLI
#error "NBT_CLI must name the natsbridge binary"
#endif

extern char **environ;

typedef struct proc {
    pid_t pid;
    int out, err; /* read ends of its stdout and stderr */
} proc;

/* Runs `natsbridge fileserver <args...>` (args NULL-terminated). */
static bool spawn(proc *p, const char *const *args)
{
    const char *argv[16] = {NBT_CLI, "fileserver"};
    int n = 2;
    for (; args[n - 2] && n < 15; n++)
        argv[n] = args[n - 2];
    argv[n] = NULL;
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    int rc = posix_spawn(&p->pid, NBT_CLI, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    p->out = out[0];
    p->err = err[0];
    return rc == 0;
}

/* Reads from fd until a newline, EOF or timeout_ms; the text is NUL-terminated. */
static bool read_line(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (got + 1 < n && !memchr(buf, '\n', got) && poll(&pf, 1, timeout_ms) > 0) {
        ssize_t k = read(fd, buf + got, n - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
    }
    buf[got] = '\0';
    return memchr(buf, '\n', got) != NULL;
}

/* Waits up to timeout_ms for the exit code; kills the process (-1) past it. */
static int wait_exit(proc *p, int timeout_ms)
{
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    return -1;
}

static void proc_close(proc *p)
{
    close(p->out);
    close(p->err);
}

/* Runs to completion; returns the exit code and what stderr said. */
static int run(const char *const *args, char *err, size_t errsz, char *out, size_t outsz)
{
    proc p;
    if (!spawn(&p, args))
        return -2;
    int rc = wait_exit(&p, 10000);
    read_line(p.out, out, outsz, 100);
    ssize_t k = read(p.err, err, errsz - 1);
    err[k > 0 ? k : 0] = '\0';
    proc_close(&p);
    return rc;
}

/* Starts a server on port 0 in dir; fills its port from the first stdout line. */
static bool serve(proc *p, const char *dir, const char *token, int *port)
{
    const char *args[] = {"--listen", "127.0.0.1:0", "--dir", dir, "--quiet", "--max-size",
                          "1000", "--token", token, NULL};
    char line[512], want[400];
    if (!spawn(p, args))
        return false;
    bool ok = read_line(p->out, line, sizeof line, 10000) &&
              sscanf(line, "natsbridge fileserver listening on http://127.0.0.1:%d", port) == 1;
    snprintf(want, sizeof want, " (dir %s)\n", dir);
    if (!ok || !strstr(line, want))
        fprintf(stderr, "first line: '%s'\n", line);
    return ok && strstr(line, want);
}

static long http_status(const char *method, int port, const char *path, const char *body,
                        size_t len, const char *header)
{
    char u[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", port, path);
    http_req rq = {.method = method, .url = u, .body = body, .len = len, .headers = {header}};
    http_res res;
    http_do(&rq, &res);
    http_res_free(&res);
    return res.status;
}

static void serve_until(int sig)
{
    char root[256], dir[300];
    proc p;
    int port = 0;
    CHECK(tmp_dir(root));
    snprintf(dir, sizeof dir, "%s/files", root);
    bool started = serve(&p, dir, "tok", &port);
    bool ok = started &&
              http_status("PUT", port, "/a/b", "hello", 5, "Authorization: Bearer tok") == 201 &&
              http_status("PUT", port, "/a/c", "hello", 5, NULL) == 401 &&
              http_status("GET", port, "/a/b", NULL, 0, NULL) == 200 &&
              http_status("HEAD", port, "/a/b", NULL, 0, NULL) == 200;
    static char big[2000];
    ok = ok && http_status("PUT", port, "/a/d", big, sizeof big, "Authorization: Bearer tok") == 413;
    if (started)
        kill(p.pid, sig);
    int rc = started ? wait_exit(&p, 10000) : -1;
    if (started)
        proc_close(&p);
    bool kept = count_entries(dir, ".data") == 1; /* files outlive the process */
    rm_tree(root);
    CHECK(ok);
    CHECK(rc == 0);
    CHECK(kept);
}

NBT_CASE(cli_serve_sigterm) { serve_until(SIGTERM); }
NBT_CASE(cli_serve_sigint) { serve_until(SIGINT); }

NBT_CASE(cli_help)
{
    const char *args[] = {"--help", NULL};
    char err[512], out[512];
    CHECK(run(args, err, sizeof err, out, sizeof out) == 0);
    CHECK(strstr(out, "usage: natsbridge fileserver"));
    CHECK(err[0] == '\0');
}

NBT_CASE(cli_usage_errors)
{
    static const struct {
        const char *args[4];
        const char *needle;
    } cases[] = {
        {{"--ttl", "abc"}, "--ttl: 'abc'"},
        {{"--ttl", "0"}, "--ttl: '0'"},
        {{"--listen", "nohostport"}, "--listen: 'nohostport'"},
        {{"--listen", "127.0.0.1:99999"}, "--listen: '127.0.0.1:99999'"},
        {{"--listen", ":80"}, "--listen: ':80'"},
        {{"--max-size", "-1"}, "--max-size: '-1'"},
        {{"--max-size=12x"}, "--max-size: '12x'"},
        {{"--token="}, "--token: empty token"},
        {{"--dir"}, "--dir needs a value"},
        {{"--bogus"}, "unknown argument '--bogus'"},
        {{"stray"}, "unknown argument 'stray'"},
        {{"--max-connections", "0"}, "--max-connections: '0' is not a number in 1.."},
        {{"--max-connections-per-ip=x"}, "--max-connections-per-ip: 'x'"},
        {{"--header-timeout", "99999999"}, "--header-timeout: '99999999'"},
        {{"--idle-timeout="}, "--idle-timeout: ''"},
        {{"--max-pending-uploads", "-3"}, "--max-pending-uploads: '-3'"},
        {{"--tls-cert="}, "--tls-cert: empty file name"},
        {{"--token", "a", "--token-file", "/etc/hostname"}, "--token or --token-file, not both"},
        {{"--token-file", "/nonexistent/t"}, "--token-file /nonexistent/t: No such file"},
        {{"--cors-origin="}, "--cors-origin: empty origin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512], out[512];
        int rc = run(cases[i].args, err, sizeof err, out, sizeof out);
        char *nl = strchr(err, '\n');
        bool one_line = nl && nl[1] == '\0';
        bool ok = rc == 1 && one_line && strstr(err, cases[i].needle) &&
                  strncmp(err, "natsbridge fileserver: ", 23) == 0 && out[0] == '\0';
        if (!ok)
            fprintf(stderr, "case %zu: rc %d, stderr '%s'\n", i, rc, err);
        CHECK(ok);
    }
}

NBT_CASE(cli_runtime_errors)
{
    char root[256], file[300], dir[320], err[512], out[512];
    CHECK(tmp_dir(root));
    snprintf(file, sizeof file, "%s/plain", root);
    FILE *fp = fopen(file, "w");
    bool made = fp && fclose(fp) == 0;
    snprintf(dir, sizeof dir, "%s/sub", file);
    const char *bad_dir[] = {"--listen", "127.0.0.1:0", "--dir", dir, NULL};
    int rc1 = made ? run(bad_dir, err, sizeof err, out, sizeof out) : -3;
    bool dir_msg = strstr(err, "cannot create directory") != NULL;

    proc p;
    int port = 0;
    snprintf(dir, sizeof dir, "%s/files", root);
    bool started = serve(&p, dir, "tok", &port);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    const char *busy[] = {"--listen", listen, "--dir", dir, NULL};
    int rc2 = started ? run(busy, err, sizeof err, out, sizeof out) : -3;
    bool port_msg = strstr(err, "Address already in use") != NULL;
    if (started) {
        kill(p.pid, SIGTERM);
        wait_exit(&p, 10000);
        proc_close(&p);
    }
    /* An origin no browser sends (issue 15): refused at start, naming it. */
    snprintf(dir, sizeof dir, "%s/cors", root);
    const char *bad_origin[] = {"--listen", "127.0.0.1:0", "--dir", dir, "--cors-origin",
                                "http://page.example/", NULL};
    int rc3 = run(bad_origin, err, sizeof err, out, sizeof out);
    bool origin_msg = strstr(err, "'http://page.example/': origin must be") != NULL;
    rm_tree(root);
    CHECK(rc3 == 2 && origin_msg);
    CHECK(rc1 == 2 && dir_msg);
    CHECK(rc2 == 2 && port_msg);
}

static const nbt_case cases[] = {
    NBT_ENTRY(cli_serve_sigterm), NBT_ENTRY(cli_serve_sigint), NBT_ENTRY(cli_help),
    NBT_ENTRY(cli_usage_errors),  NBT_ENTRY(cli_runtime_errors), {0},
};

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = nbt_main(argc, argv, cases);
    curl_global_cleanup();
    return rc;
}
