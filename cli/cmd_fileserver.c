/* SPDX-License-Identifier: MIT */
/*
 * cmd_fileserver.c - `natsbridge fileserver`: runs the built-in file server
 * for link payloads until SIGINT or SIGTERM. Public API only.
 */
#include "cli.h"
#include "cli_common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define FS_CMD "natsbridge fileserver"
#define FS_CORS_MAX 64 /* --cors-origin flags kept (the library's limit) */

static const char usage_text[] =
    "usage: natsbridge fileserver [--listen HOST:PORT] [--dir DIR] [--ttl SECONDS]\n"
    "                             [--max-size BYTES] [--token TOKEN | --token-file FILE]\n"
    "                             [--tls-cert FILE --tls-key FILE] [--cors-origin ORIGIN]...\n"
    "                             [LIMITS] [--quiet] [--help]\n"
    "\n"
    "Serves link (claim-check) payloads over HTTP or HTTPS: the Plik API subset\n"
    "(POST /upload, POST /file/ID, GET /file/ID/FILEID/NAME) and plain\n"
    "PUT, GET, HEAD and DELETE of /PATH. Runs until SIGINT or SIGTERM.\n"
    "\n"
    "  --listen HOST:PORT  address to bind (default 127.0.0.1:8080; port 0 picks a\n"
    "                      free port, printed on the first line of output)\n"
    "  --dir DIR           where files are kept (default ./natsbridge-files)\n"
    "  --ttl SECONDS       files older than this are deleted (default 86400)\n"
    "  --max-size BYTES    larger uploads get 413 (default: no limit)\n"
    "  --token TOKEN       uploads and deletes need 'Authorization: Bearer TOKEN'\n"
    "                      (also $NB_FILESERVER_TOKEN; warned about when missing and\n"
    "                      the address is not a loopback one)\n"
    "  --token-file FILE   read that token from the first line of FILE\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate chain ...\n"
    "  --tls-key FILE      ... and its PEM private key\n"
    "  --cors-origin ORIGIN  web pages from ORIGIN (http://host:port) may upload and\n"
    "                      download; '*' lets any page download (GET, HEAD) only.\n"
    "                      Repeatable; without it no CORS header is sent\n"
    "Limits (each refusal is logged):\n"
    "  --max-connections N         open connections in all (default 1000)\n"
    "  --max-connections-per-ip N  open connections per client address (default 64)\n"
    "  --header-timeout MS         a request's headers must be complete within MS\n"
    "                              (default 10000): slow senders are cut off\n"
    "  --idle-timeout SECONDS      idle connections are closed after (default 60)\n"
    "  --max-pending-uploads N     POST /upload records still without a file; more\n"
    "                              get 503 (default 1000)\n"
    "  -q, --quiet         no per-request log lines on stderr\n"
    "  --help              print this text and exit\n"
    "Examples:\n"
    "  natsbridge fileserver --listen 127.0.0.1:8080 --dir /var/lib/natsbridge\n"
    "      serve this machine only: senders and listeners running on it\n"
    "  natsbridge fileserver --listen 0.0.0.0:8080 --token-file /etc/natsbridge/token --ttl 3600\n"
    "      serve the network; uploads need the token; files are kept for an hour\n"
    "  natsbridge fileserver --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem\n"
    "      serve HTTPS (add --token-file as above)\n";

typedef struct fs_args {
    char host[256];
    int port;
    const char *dir;
    int64_t ttl;
    uint64_t max_size;
    const char *token;
    const char *token_file;
    const char *tls_cert, *tls_key;
    uint64_t max_conn, max_per_ip, header_timeout_ms, idle_timeout_s, max_pending;
    const char *cors[FS_CORS_MAX];
    size_t ncors;
    bool quiet;
    bool help;
} fs_args;

/* Prints one line naming the usage error; returns CLI_USAGE. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, FS_CMD ": %s (see --help)\n", msg);
    return CLI_USAGE;
}

/* A whole decimal number in [0, max]; false otherwise. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* "HOST:PORT" or "[IPv6]:PORT" into a->host and a->port. */
static bool parse_listen(const char *s, fs_args *a)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    const char *host = s;
    size_t n = (size_t)(colon - s);
    if (s[0] == '[') {
        if (n < 2 || s[n - 1] != ']')
            return false;
        host = s + 1;
        n -= 2;
    }
    uint64_t port;
    if (n == 0 || n >= sizeof a->host || !parse_uint(colon + 1, 65535, &port))
        return false;
    memcpy(a->host, host, n);
    a->host[n] = '\0';
    a->port = (int)port;
    return true;
}

/* A count flag in [1, max]; returns CLI_OK or CLI_USAGE. */
static int take_count(const char *name, const char *v, uint64_t max, uint64_t *out)
{
    if (!parse_uint(v, max, out) || *out == 0)
        return usage_error("%s: '%s' is not a number in 1..%llu", name, v,
                           (unsigned long long)max);
    return CLI_OK;
}

/* The file, TLS and limit options (take_value's second half). */
static int take_value_more(fs_args *a, const char *name, const char *v)
{
    if (strcmp(name, "--token-file") == 0 || strcmp(name, "--tls-cert") == 0 ||
        strcmp(name, "--tls-key") == 0) {
        if (!v[0])
            return usage_error("%s: empty file name", name);
        const char **slot = strcmp(name, "--token-file") == 0 ? &a->token_file
                            : strcmp(name, "--tls-cert") == 0 ? &a->tls_cert
                                                              : &a->tls_key;
        *slot = v;
        return CLI_OK;
    }
    if (strcmp(name, "--max-connections") == 0)
        return take_count(name, v, 1000000, &a->max_conn);
    if (strcmp(name, "--max-connections-per-ip") == 0)
        return take_count(name, v, 1000000, &a->max_per_ip);
    if (strcmp(name, "--header-timeout") == 0)
        return take_count(name, v, 3600000, &a->header_timeout_ms);
    if (strcmp(name, "--idle-timeout") == 0)
        return take_count(name, v, 86400, &a->idle_timeout_s);
    return take_count(name, v, 100000000, &a->max_pending);
}

/* Applies one option that takes a value; returns CLI_OK or CLI_USAGE. */
static int take_value(fs_args *a, const char *name, const char *v)
{
    uint64_t n;
    if (strcmp(name, "--listen") == 0) {
        if (!parse_listen(v, a))
            return usage_error("--listen: '%s' is not HOST:PORT", v);
    } else if (strcmp(name, "--dir") == 0) {
        if (!v[0])
            return usage_error("--dir: empty directory name");
        a->dir = v;
    } else if (strcmp(name, "--ttl") == 0) {
        if (!parse_uint(v, INT32_MAX, &n) || n == 0)
            return usage_error("--ttl: '%s' is not a positive number of seconds", v);
        a->ttl = (int64_t)n;
    } else if (strcmp(name, "--max-size") == 0) {
        if (!parse_uint(v, UINT64_MAX, &n))
            return usage_error("--max-size: '%s' is not a number of bytes", v);
        a->max_size = n;
    } else if (strcmp(name, "--cors-origin") == 0) {
        if (!v[0])
            return usage_error("--cors-origin: empty origin");
        if (a->ncors == FS_CORS_MAX)
            return usage_error("--cors-origin: more than %d origins", FS_CORS_MAX);
        a->cors[a->ncors++] = v; /* checked by the library, which names what is wrong */
    } else if (strcmp(name, "--token") == 0) {
        if (!v[0])
            return usage_error("--token: empty token");
        a->token = v;
    } else {
        return take_value_more(a, name, v);
    }
    return CLI_OK;
}

static int parse_args(int argc, char **argv, fs_args *a)
{
    static const char *const valued[] = {
        "--listen",          "--dir",           "--ttl",
        "--max-size",        "--token",         "--token-file",
        "--tls-cert",        "--tls-key",       "--max-connections",
        "--max-connections-per-ip", "--header-timeout", "--idle-timeout",
        "--max-pending-uploads", "--cors-origin"};
    const size_t nvalued = sizeof valued / sizeof valued[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            continue;
        }
        if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) { /* -q: issue 13 */
            a->quiet = true;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        size_t k = 0;
        while (k < nvalued && (strlen(valued[k]) != len || strncmp(arg, valued[k], len) != 0))
            k++;
        if (k == nvalued)
            return usage_error("unknown argument '%s'", arg);
        if (!eq && i + 1 >= argc)
            return usage_error("%s needs a value", valued[k]);
        int rc = take_value(a, valued[k], eq ? eq + 1 : argv[++i]);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/*
 * The server's token: --token, else the first line of --token-file (into
 * *owned, which the caller wipes), else $NB_FILESERVER_TOKEN. Never printed.
 */
static int resolve_token(fs_args *a, char **owned)
{
    *owned = NULL;
    if (a->token && a->token_file)
        return usage_error("give --token or --token-file, not both");
    if (a->token_file) {
        size_t len = 0;
        int err = cli_read_file(a->token_file, owned, &len);
        if (err) {
            fprintf(stderr, FS_CMD ": --token-file %s: %s\n", a->token_file, strerror(err));
            return CLI_USAGE;
        }
        (*owned)[strcspn(*owned, "\r\n")] = '\0';
        if (!(*owned)[0]) {
            free(*owned);
            *owned = NULL;
            return usage_error("--token-file %s: the first line is empty", a->token_file);
        }
        a->token = *owned;
    } else if (!a->token) {
        const char *env = getenv("NB_FILESERVER_TOKEN");
        a->token = env && env[0] ? env : NULL;
    }
    return CLI_OK;
}

/* True for 127.0.0.0/8, ::1 and "localhost": only this machine can connect. */
static bool is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* Each connection is a descriptor: lift the soft limit toward what the limits allow. */
static void raise_fd_limit(uint64_t connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 64; /* files being served, the listener, stdio */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int cmd_fileserver(int argc, char **argv)
{
    fs_args a = {.host = "127.0.0.1", .port = 8080, .dir = "./natsbridge-files"};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK || a.help) {
        if (a.help && rc == CLI_OK)
            fputs(usage_text, stdout);
        return rc;
    }
    /* Blocked before the server starts so that its threads inherit the mask
     * and the signals reach only sigwait below. A peer that hangs up mid-
     * download must not kill the process either. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *file_token = NULL;
    rc = resolve_token(&a, &file_token);
    if (rc != CLI_OK)
        return rc;
    if (!a.token && !is_loopback(a.host))
        fprintf(stderr, FS_CMD ": warning: listening on %s without a token: anyone who can "
                "reach it can upload and delete (give --token-file or $NB_FILESERVER_TOKEN)\n",
                a.host);
    nb_fileserver_config cfg = {
        .listen_addr = a.host, .port = a.port, .dir = a.dir, .ttl_seconds = a.ttl,
        .max_size = a.max_size, .token = a.token, .quiet = a.quiet,
        .max_connections = (unsigned)a.max_conn, .max_connections_per_ip = (unsigned)a.max_per_ip,
        .header_timeout_ms = (unsigned)a.header_timeout_ms,
        .idle_timeout_s = (unsigned)a.idle_timeout_s, .max_pending_uploads = (size_t)a.max_pending,
        .tls_cert_file = a.tls_cert, .tls_key_file = a.tls_key,
        .cors_origins = a.cors, .cors_origin_count = a.ncors};
    raise_fd_limit(a.max_conn ? a.max_conn : 1000);
    nb_fileserver *fs = NULL;
    nb_status s = nb_fileserver_start(&fs, &cfg);
    if (file_token) { /* the server keeps its own copy */
        memset(file_token, 0, strlen(file_token));
        free(file_token);
    }
    if (s != NB_OK) {
        fprintf(stderr, FS_CMD ": %s\n", nb_last_error());
        return CLI_RUNTIME;
    }
    bool v6 = strchr(a.host, ':') != NULL;
    printf(FS_CMD " listening on %s://%s%s%s:%d (dir %s)\n", a.tls_cert ? "https" : "http",
           v6 ? "[" : "", a.host, v6 ? "]" : "", nb_fileserver_port(fs), a.dir);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    nb_fileserver_stop(fs);
    return CLI_OK;
}
