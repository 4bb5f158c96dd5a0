/* SPDX-License-Identifier: MIT */
/*
 * cmd_reply.c - `natsbridge reply`: a responder that answers every request
 * on a subject with a copy of its payloads (--echo) or with the output of a
 * shell command fed the request as one JSON line (--exec).
 */
#include "cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Output of --exec kept at most; a command that writes more is killed. */
#define MAX_OUTPUT ((size_t)64 << 20)

static const char reply_usage[] =
    "Usage: natsbridge reply SUBJECT (--echo | --exec CMD) [OPTION]...\n"
    "Answers every request arriving on SUBJECT.\n\n"
    "  --echo                     answer with a copy of the request's payloads\n"
    "  --exec CMD                 run `/bin/sh -c CMD` with the request as one JSON line\n"
    "                             (the shape of `listen --json`) on its stdin; answer\n"
    "                             with a text payload \"result\" holding its stdout (at\n"
    "                             most 64 MiB; binary when not UTF-8); a non-zero exit\n"
    "                             is reported and answered with metadata exit_status\n"
    "  --count N                  stop after answering N requests\n"
    "  --timeout SECONDS          overall time limit (exit 3); default: until interrupted\n"
    "  --queue GROUP              join queue group GROUP (share requests with others)\n"
    NATS_CONNECT_HELP
    "  --fileserver URL           file server for link payloads\n"
    "  --threshold BYTES          payloads this large or larger go by link\n"
    "  --sender-name NAME         sender_name of the replies\n"
    "  --allow-origin ORIGIN      also download links from ORIGIN (repeatable); an\n"
    "                             Object Store bucket is nats-os://BUCKET\n"
    "  --store nats-os://BUCKET   fetch nats-os:// links only from BUCKET (others need\n"
    "                             --allow-origin) and put reply links there\n"
    "  --fileserver-token TOKEN   bearer token for uploads to the file server (also\n"
    "                             $NB_FILESERVER_TOKEN)\n"
    "  --fileserver-token-file F  read that token from the first line of file F\n"
    "  --put                      upload by HTTP PUT instead of the Plik API\n"
    "  --sha256                   direct payloads carry metadata.sha256 too\n"
    DOWNLOAD_HELP
    LIMITS_HELP
    "  --quiet                    no informational messages on stderr\n"
    "  --help                     show this help\n"
    "Messages without reply_to are reported and not answered.\n"
    "Exit status: 0 done or interrupted (SIGINT, SIGTERM), 1 usage error,\n"
    "2 connection or runtime error, 3 timeout.\n";

static const cli_flag reply_flags[] = {
    CLI_FLAGS_COMMON,           CLI_FLAGS_SENDER,         {"echo", F_ECHO, false},
    {"exec", F_EXEC, true},     {"count", F_COUNT, true}, {"timeout", F_TIMEOUT, true},
    {"queue", F_QUEUE, true},
    {"store", F_STORE, true}, /* links in, and reply links out, of that bucket */
    CLI_FLAGS_LIMITS, CLI_FLAGS_END};

/* ---- --echo -------------------------------------------------------------- */

static nb_status copy_payload(const nb_payload *p, nb_payload **out)
{
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    const char *path = nb_payload_path(p);
    const char *name = nb_payload_dataname(p);
    nb_status s = !data && path
                      ? nb_payload_create_file(out, name, nb_payload_type(p), path)
                      : nb_payload_create(out, name, nb_payload_type(p), data ? data : (const uint8_t *)"", len);
    if (!s)
        s = nb_payload_set_metadata(*out, nb_payload_metadata(p));
    if (s) {
        nb_payload_destroy(*out);
        *out = NULL;
    }
    return s;
}

static int echo_reply(const nb_envelope *req, nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create(&e);
    for (size_t i = 0; !s && i < nb_envelope_payload_count(req); i++) {
        nb_payload *p = NULL;
        s = copy_payload(nb_envelope_payload(req, i), &p);
        if (!s)
            s = nb_envelope_add_payload(e, &p);
        nb_payload_destroy(p);
    }
    if (s) {
        nb_envelope_destroy(e);
        return cli_fail(CLI_RUNTIME, s, "--echo");
    }
    *out = e;
    return CLI_OK;
}

/* ---- --exec: running the command ----------------------------------------- */

typedef struct exec_result {
    char *out; /* the command's stdout */
    size_t len, cap;
    int exit_status;  /* 128 + N when killed by signal N */
    char error[256];  /* why there is no output, or "" */
} exec_result;

static void set_error(exec_result *r, const char *fmt, ...) CLI_PRINTF(2, 3);
static void set_error(exec_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

/* The child gets the pipes as stdin and stdout and default SIGPIPE (we ignore it). */
static int spawn_shell(const char *cmd, int in[2], int out[2], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t dflt, none;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int err = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* Writes what the pipe takes now; true when done (or the command closed its stdin). */
static bool feed(int fd, const char *in, size_t len, size_t *off)
{
    ssize_t w = write(fd, in + *off, len - *off);
    if (w > 0)
        *off += (size_t)w;
    else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return true; /* EPIPE: the command does not read its input, which is its right */
    return *off == len;
}

/* Reads what the pipe holds now; true at the end of the output (or on error). */
static bool drain(int fd, exec_result *r)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false;
    if (n < 0)
        set_error(r, "reading the output: %s", strerror(errno));
    if (n <= 0)
        return true;
    if ((size_t)n > MAX_OUTPUT - r->len) {
        set_error(r, "the output is over the %zu MiB limit", MAX_OUTPUT >> 20);
        return true;
    }
    if (r->len + (size_t)n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        char *grown = realloc(r->out, cap < r->len + (size_t)n + 1 ? r->len + (size_t)n + 1 : cap);
        if (!grown) {
            set_error(r, "out of memory for the output");
            return true;
        }
        r->out = grown;
        r->cap = cap < r->len + (size_t)n + 1 ? r->len + (size_t)n + 1 : cap;
    }
    memcpy(r->out + r->len, chunk, (size_t)n);
    r->len += (size_t)n;
    return false;
}

/* Feeds the input and collects the output together, so that neither side can block the other. */
static void pump(int to, int from, const char *in, size_t in_len, exec_result *r)
{
    size_t off = 0;
    while (from >= 0 && !r->error[0]) {
        struct pollfd fds[2] = {{to, POLLOUT, 0}, {from, POLLIN, 0}};
        if (poll(fds, 2, 200) < 0 && errno != EINTR)
            set_error(r, "poll: %s", strerror(errno));
        else if (cli_stop)
            set_error(r, "interrupted");
        if (!r->error[0] && to >= 0 && fds[0].revents && feed(to, in, in_len, &off)) {
            close(to);
            to = -1;
        }
        if (!r->error[0] && fds[1].revents && drain(from, r)) {
            close(from);
            from = -1;
        }
    }
    if (to >= 0)
        close(to);
    if (from >= 0)
        close(from);
}

static int reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return 127;
        if (cli_stop)
            kill(pid, SIGKILL);
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Runs `/bin/sh -c cmd` with in on its stdin; fills r (output, exit status, error). */
static void run_command(const char *cmd, const char *in, size_t in_len, exec_result *r)
{
    int p[4] = {-1, -1, -1, -1}; /* stdin pipe, stdout pipe */
    pid_t pid = -1;
    int err = pipe(p) != 0 || pipe(p + 2) != 0 ? errno : 0;
    for (int i = 0; !err && i < 4; i++)
        fcntl(p[i], F_SETFD, FD_CLOEXEC); /* only the dup2'd copies reach the child */
    if (!err)
        err = spawn_shell(cmd, p, p + 2, &pid);
    if (err) {
        close_fds(p, 4);
        set_error(r, "cannot run /bin/sh: %s", strerror(err));
        r->exit_status = 127;
        return;
    }
    close(p[0]);
    close(p[3]);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    fcntl(p[2], F_SETFL, O_NONBLOCK);
    pump(p[1], p[2], in, in_len, r);
    if (r->error[0])
        kill(pid, SIGKILL);
    r->exit_status = reap(pid);
}

/* ---- --exec: the answer -------------------------------------------------- */

static nb_status set_status_metadata(nb_envelope *e, const exec_result *r)
{
    cJSON *meta = cJSON_CreateObject();
    bool ok = meta && cJSON_AddNumberToObject(meta, "exit_status", r->exit_status);
    if (ok && r->error[0])
        ok = cJSON_AddStringToObject(meta, "error", r->error) != NULL;
    nb_status s = ok ? nb_envelope_set_metadata(e, meta) : NB_NO_MEMORY;
    cJSON_Delete(meta);
    return s;
}

static int build_result(const exec_result *r, nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    const char *data = r->out && !r->error[0] ? r->out : "";
    size_t len = r->error[0] ? 0 : r->len;
    nb_status s = nb_envelope_create(&e);
    if (!s)
        s = nb_payload_create(&p, "result", NB_TYPE_TEXT, data, len);
    if (s == NB_BAD_PAYLOAD) {
        cli_error("--exec: the output is not valid UTF-8: sent as binary");
        s = nb_payload_create(&p, "result", NB_TYPE_BINARY, data, len);
    }
    if (!s)
        s = nb_envelope_add_payload(e, &p);
    if (!s && (r->exit_status != 0 || r->error[0]))
        s = set_status_metadata(e, r);
    nb_payload_destroy(p);
    if (s) {
        nb_envelope_destroy(e);
        return cli_fail(CLI_RUNTIME, s, "--exec");
    }
    *out = e;
    return CLI_OK;
}

static int exec_reply(const cli_args *a, const nb_envelope *req, nb_envelope **out)
{
    exec_result r = {0};
    char *line = cli_render_json(req, NULL);
    size_t n = line ? strlen(line) : 0;
    char *in = line ? malloc(n + 2) : NULL;
    if (!in) {
        cJSON_free(line);
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    memcpy(in, line, n);
    in[n] = '\n';
    cJSON_free(line);
    run_command(a->exec, in, n + 1, &r);
    free(in);
    const char *id = nb_envelope_msg_id(req);
    if (r.error[0])
        cli_error("--exec: request %s: %s", id, r.error);
    else if (r.exit_status != 0)
        cli_error("--exec: request %s: the command exited with status %d", id, r.exit_status);
    /* Interrupted: we are stopping, so the request is left unanswered. */
    int rc = cli_stop ? CLI_RUNTIME : build_result(&r, out);
    free(r.out);
    return rc;
}

/* ---- the responder ------------------------------------------------------- */

static int answer(nb_client *c, nb_envelope *req, const cli_args *a, void *ctx)
{
    (void)ctx;
    int counted = 0;
    const char *id = nb_envelope_msg_id(req);
    if (!*nb_envelope_reply_to(req)) {
        cli_error("message %s has no reply_to: not answered", id);
    } else {
        nb_envelope *rep = NULL;
        int rc = a->echo ? echo_reply(req, &rep) : exec_reply(a, req, &rep);
        nb_status s = rc == CLI_OK ? nb_client_reply(c, req, rep) : NB_OK;
        if (rc == CLI_OK && s)
            cli_fail(0, s, NULL);
        else if (rc == CLI_OK) {
            counted = 1;
            cli_note("answered %s", id);
        }
        nb_envelope_destroy(rep);
    }
    nb_envelope_destroy(req);
    return counted;
}

int cmd_reply(int argc, char **argv)
{
    cli_args a;
    nb_client *c = NULL;
    int rc = cli_parse(argc, argv, reply_flags, reply_usage, &a);
    if (rc == CLI_CONTINUE && a.echo == (a.exec != NULL)) {
        cli_error("give one of --echo or --exec CMD (see natsbridge reply --help)");
        rc = CLI_USAGE;
    }
    if (rc == CLI_CONTINUE) {
        /* A command that exits without reading its input must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        cli_catch_signals();
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = cli_receive_loop(c, &a, answer, NULL);
    }
    cli_close(c);
    cli_args_free(&a);
    return rc;
}
