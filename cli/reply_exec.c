/* SPDX-License-Identifier: MIT */
/*
 * reply_exec.c - the `natsbridge reply --exec CMD` protocol (issue 13).
 *
 * The command runs as `/bin/sh -c CMD` in its own process group, with
 *   stdin   the request as one listen --json line;
 *   env     NB_SUBJECT, NB_MSG_ID, NB_CORRELATION_ID, NB_SENDER_NAME, NB_REPLY_TO and
 *           NB_TEXT_<DATANAME> per text payload of at most 64 KiB (the dataname upper-cased,
 *           every byte outside [A-Z0-9] as '_'; the first payload wins a name; 1 MiB in all).
 * It answers on stdout with plain text (a text payload "result", binary when not UTF-8) or
 * with an answer document, a JSON object holding "natsbridge_reply": 1 (see parse_document).
 * A non-zero exit, a death by signal, --exec-timeout, output over --exec-max-output or a
 * bad answer document become an error reply (cli_error_reply) carrying the last 4 KiB of
 * the command's stderr; `natsbridge request` exits 2 on one (cli_reply_error_check).
 */
#include "reply_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STDERR_TAIL 4096                /* bytes of the command's stderr kept */
#define ENV_TEXT_MAX ((size_t)64 << 10) /* largest text payload given as NB_TEXT_* */
#define ENV_TEXT_TOTAL ((size_t)1 << 20) /* all NB_TEXT_* together (execve has a limit) */

/* ---- flags --------------------------------------------------------------- */

int cli_store_reply_flag(cli_args *a, const cli_flag *f, const char *v)
{
    if (f->id == F_NO_QUEUE) {
        a->no_queue = true;
        return CLI_CONTINUE;
    }
    if (f->id == F_EXEC_MAX_OUTPUT) {
        int rc = cli_parse_u64(f->name, v, &a->exec_max_output);
        if (rc == CLI_CONTINUE && (a->exec_max_output == 0 || a->exec_max_output > SIZE_MAX / 2)) {
            cli_error("--exec-max-output: %s is not a byte count from 1 to %zu", v, SIZE_MAX / 2);
            rc = CLI_USAGE;
        }
        return rc;
    }
    int rc = cli_parse_seconds(f->name, v, &a->exec_timeout_ms); /* F_EXEC_TIMEOUT */
    if (rc == CLI_CONTINUE && a->exec_timeout_ms == 0) {
        cli_error("--exec-timeout: must be at least 0.001 seconds");
        rc = CLI_USAGE;
    }
    return rc;
}

/* ---- error replies ------------------------------------------------------- */

int cli_error_reply(const char *reason, int exit_status, const char *message, nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    cJSON *meta = cJSON_CreateObject();
    bool ok = meta && cJSON_AddStringToObject(meta, "reason", reason) &&
              (exit_status < 0 || cJSON_AddNumberToObject(meta, "exit_status", exit_status));
    nb_status s = ok ? nb_envelope_create(&e) : NB_NO_MEMORY;
    if (!s)
        s = nb_envelope_set_msg_purpose(e, "error");
    if (!s)
        s = nb_envelope_set_metadata(e, meta);
    if (!s)
        s = nb_payload_create_text(&p, "error", message);
    if (!s)
        s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p);
    cJSON_Delete(meta);
    if (s) {
        nb_envelope_destroy(e);
        return cli_fail(CLI_RUNTIME, s, "--exec: the error reply");
    }
    *out = e;
    return CLI_OK;
}

const char *cli_reply_error_message(const nb_envelope *e)
{
    if (!e || strcmp(nb_envelope_msg_purpose(e), "error") != 0)
        return NULL;
    for (size_t i = 0; i < nb_envelope_payload_count(e); i++) {
        const nb_payload *p = nb_envelope_payload(e, i);
        if (strcmp(nb_payload_dataname(p), "error") == 0 && nb_payload_type(p) == NB_TYPE_TEXT)
            return nb_payload_text(p) ? nb_payload_text(p) : "(the message is in a file)";
    }
    return "(no error payload)";
}

/* Moves i back to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

/*
 * msg made to fit one error line (cli_error keeps 2 KiB): its start, which says what
 * failed, and its end, where a command's stderr says why.
 */
static const char *shorten(const char *msg, char *buf, size_t cap)
{
    enum { HEAD = 300, TAIL = 1300 };
    size_t n = strlen(msg);
    if (n <= HEAD + TAIL || cap < HEAD + TAIL + 8)
        return msg;
    size_t head = char_start(msg, HEAD), tail = char_start(msg, n - TAIL);
    snprintf(buf, cap, "%.*s [...] %s", (int)head, msg, msg + tail);
    return buf;
}

int cli_reply_error_check(const nb_envelope *reply, const char *subject, int rc)
{
    const char *msg = cli_reply_error_message(reply);
    if (!msg)
        return rc;
    char buf[1800]; /* (cli_error makes it one line without control characters) */
    cli_error("%s answered with an error: %s", subject, shorten(msg, buf, sizeof buf));
    return CLI_RUNTIME;
}

/* ---- the command's environment ------------------------------------------- */

typedef struct env_list {
    char **v;       /* NULL-terminated, for posix_spawn */
    size_t n, cap;
    size_t owned;   /* v[owned..n) were malloc'd here; those before are environ's */
    size_t text_bytes;
} env_list;

static bool env_push(env_list *l, char *s)
{
    if (!s)
        return false;
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
    return true;
}

static void env_free(env_list *l)
{
    for (size_t i = l->owned; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Ours to set: an inherited NB_SUBJECT=... must not pose as the request's. */
static bool is_request_var(const char *kv)
{
    static const char *const names[] = {"NB_SUBJECT=", "NB_MSG_ID=", "NB_CORRELATION_ID=",
                                        "NB_SENDER_NAME=", "NB_REPLY_TO=", "NB_TEXT_"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strncmp(kv, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static char *join(const char *name, const char *value, size_t len)
{
    size_t n = strlen(name);
    char *s = malloc(n + 1 + len + 1);
    if (s) {
        memcpy(s, name, n);
        s[n] = '=';
        memcpy(s + n + 1, value, len);
        s[n + 1 + len] = '\0';
    }
    return s;
}

/* "NB_TEXT_" and the dataname upper-cased, every other byte than [A-Z0-9] as '_'. */
static char *text_var_name(const char *dataname)
{
    size_t n = strlen(dataname);
    char *s = malloc(sizeof "NB_TEXT_" + n);
    if (!s)
        return NULL;
    memcpy(s, "NB_TEXT_", 8);
    for (size_t i = 0; i < n; i++) {
        char c = dataname[i];
        c = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        s[8 + i] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    s[8 + n] = '\0';
    return s;
}

static bool env_has(const env_list *l, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = l->owned; i < l->n; i++)
        if (strncmp(l->v[i], name, n) == 0 && l->v[i][n] == '=')
            return true;
    return false;
}

/* NB_TEXT_<NAME> for p when it is a small text held in memory without a NUL byte. */
static bool env_add_text(env_list *l, const nb_payload *p)
{
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    if (nb_payload_type(p) != NB_TYPE_TEXT || !data || len > ENV_TEXT_MAX ||
        memchr(data, '\0', len) || l->text_bytes + len > ENV_TEXT_TOTAL)
        return true; /* not given in the environment: stdin has it */
    char *name = text_var_name(nb_payload_dataname(p));
    if (!name)
        return false;
    bool ok = true;
    if (!env_has(l, name)) {
        ok = env_push(l, join(name, (const char *)data, len));
        l->text_bytes += len;
    }
    free(name);
    return ok;
}

static bool build_env(const nb_envelope *req, env_list *l)
{
    for (char **e = environ; e && *e; e++)
        if (!is_request_var(*e) && !env_push(l, *e))
            return false;
    l->owned = l->n;
    const char *fields[][2] = {{"NB_SUBJECT", nb_envelope_send_to(req)},
                               {"NB_MSG_ID", nb_envelope_msg_id(req)},
                               {"NB_CORRELATION_ID", nb_envelope_correlation_id(req)},
                               {"NB_SENDER_NAME", nb_envelope_sender_name(req)},
                               {"NB_REPLY_TO", nb_envelope_reply_to(req)}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (!env_push(l, join(fields[i][0], fields[i][1], strlen(fields[i][1]))))
            return false;
    for (size_t i = 0; i < nb_envelope_payload_count(req); i++)
        if (!env_add_text(l, nb_envelope_payload(req, i)))
            return false;
    return true;
}

/* ---- running the command ------------------------------------------------- */

typedef struct exec_result {
    char *out; /* the command's stdout */
    size_t len, cap, max;
    char err[STDERR_TAIL]; /* the last bytes of its stderr */
    size_t err_len;
    int exit_status;     /* 128 + N when killed by signal N */
    int signal;          /* N, or 0 */
    const char *reason;  /* why the run failed ("timeout", ...), or NULL */
    char error[256];     /* the message of that failure */
} exec_result;

static void set_error(exec_result *r, const char *reason, const char *fmt, ...) CLI_PRINTF(3, 4);
static void set_error(exec_result *r, const char *reason, const char *fmt, ...)
{
    if (r->reason)
        return; /* the first failure is the one to report */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->reason = reason;
}

static void set_timeout(exec_result *r, int64_t timeout_ms)
{
    set_error(r, "timeout", "the command did not finish within %.3f s (--exec-timeout)",
              (double)timeout_ms / 1000.0);
}

/*
 * The child gets the pipes as stdin, stdout and stderr, default SIGPIPE (we ignore
 * it), and a process group of its own so that a timeout kills what the shell started.
 */
static int spawn_shell(const char *cmd, const int fds[3], char **env, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t dflt, none;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < 3; i++)
        posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int err = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
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

static bool keep_output(exec_result *r, const char *chunk, size_t n)
{
    if (n > r->max - r->len) {
        set_error(r, "output_limit", "the command's output is over the %zu-byte limit (--exec-max-output)",
                  r->max);
        return false;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        cap = cap < r->len + n + 1 ? r->len + n + 1 : cap;
        char *grown = realloc(r->out, cap);
        if (!grown) {
            set_error(r, "internal", "out of memory for the command's output");
            return false;
        }
        r->out = grown;
        r->cap = cap;
    }
    memcpy(r->out + r->len, chunk, n);
    r->len += n;
    r->out[r->len] = '\0';
    return true;
}

/* Keeps the last STDERR_TAIL bytes: the end of an error output says what went wrong. */
static void keep_stderr(exec_result *r, const char *chunk, size_t n)
{
    if (n >= STDERR_TAIL) {
        memcpy(r->err, chunk + n - STDERR_TAIL, STDERR_TAIL);
        r->err_len = STDERR_TAIL;
        return;
    }
    size_t drop = r->err_len + n > STDERR_TAIL ? r->err_len + n - STDERR_TAIL : 0;
    memmove(r->err, r->err + drop, r->err_len - drop);
    memcpy(r->err + r->err_len - drop, chunk, n);
    r->err_len = r->err_len - drop + n;
}

/* Reads what the pipe holds now; true at its end (or on error). */
static bool drain(int fd, bool is_stderr, exec_result *r)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false;
    if (n < 0)
        set_error(r, "internal", "reading the command's output: %s", strerror(errno));
    if (n <= 0)
        return true;
    if (is_stderr)
        keep_stderr(r, chunk, (size_t)n);
    else if (!keep_output(r, chunk, (size_t)n))
        return true;
    return false;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Feeds stdin and collects stdout and stderr together, so that no side blocks another. */
static void pump(int fds[3], const char *in, size_t in_len, int64_t timeout_ms, exec_result *r)
{
    size_t off = 0;
    int64_t deadline = cli_now_ms() + timeout_ms;
    while ((fds[1] >= 0 || fds[2] >= 0) && !r->reason) {
        struct pollfd p[3] = {{fds[0], POLLOUT, 0}, {fds[1], POLLIN, 0}, {fds[2], POLLIN, 0}};
        int64_t left = deadline - cli_now_ms();
        if (left <= 0) { /* also when the shell is gone but what it started holds the pipes */
            set_timeout(r, timeout_ms);
            break;
        }
        if (poll(p, 3, left < 200 ? (int)left : 200) < 0 && errno != EINTR)
            set_error(r, "internal", "poll: %s", strerror(errno));
        if (cli_stop)
            set_error(r, "interrupted", "interrupted");
        if (!r->reason && fds[0] >= 0 && p[0].revents && feed(fds[0], in, in_len, &off))
            close_fd(&fds[0]);
        for (int i = 1; i < 3; i++)
            if (!r->reason && fds[i] >= 0 && p[i].revents && drain(fds[i], i == 2, r))
                close_fd(&fds[i]);
    }
    for (int i = 0; i < 3; i++)
        close_fd(&fds[i]);
}

/* Waits for the command until the deadline, then kills its process group. */
static void reap(pid_t pid, int64_t deadline, int64_t timeout_ms, exec_result *r)
{
    int st = 0;
    pid_t got = 0;
    while (!r->reason && (got = waitpid(pid, &st, WNOHANG)) == 0 && cli_now_ms() < deadline &&
           !cli_stop)
        nanosleep(&(struct timespec){0, 5000000}, NULL); /* 5 ms */
    if (got == 0 && !r->reason && cli_stop)
        set_error(r, "interrupted", "interrupted");
    if (got == 0 && !r->reason)
        set_timeout(r, timeout_ms);
    if (got == 0 || r->reason)
        kill(-pid, SIGKILL); /* also what it started, still holding our pipes or not */
    while (got == 0 && (got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        got = 0;
    if (got < 0) {
        r->exit_status = 127;
        return;
    }
    r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    r->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + r->signal;
}

/* Runs `/bin/sh -c cmd` with in on its stdin and env as its environment; fills r. */
static void run_command(const cli_args *a, char **env, const char *in, size_t in_len,
                        exec_result *r)
{
    int p[6] = {-1, -1, -1, -1, -1, -1}; /* stdin, stdout, stderr pipes: read end, write end */
    pid_t pid = -1;
    int err = pipe(p) != 0 || pipe(p + 2) != 0 || pipe(p + 4) != 0 ? errno : 0;
    for (int i = 0; !err && i < 6; i++)
        fcntl(p[i], F_SETFD, FD_CLOEXEC); /* only the dup2'd copies reach the child */
    int child[3] = {p[0], p[3], p[5]};
    if (!err)
        err = spawn_shell(a->exec, child, env, &pid);
    if (err) {
        for (int i = 0; i < 6; i++)
            close_fd(&p[i]);
        set_error(r, "spawn", "cannot run /bin/sh: %s", strerror(err));
        r->exit_status = 127;
        return;
    }
    close_fd(&p[0]);
    close_fd(&p[3]);
    close_fd(&p[5]);
    int ours[3] = {p[1], p[2], p[4]};
    for (int i = 0; i < 3; i++)
        fcntl(ours[i], F_SETFL, O_NONBLOCK);
    int64_t timeout = a->exec_timeout_ms > 0 ? a->exec_timeout_ms : CLI_EXEC_TIMEOUT_MS;
    int64_t deadline = cli_now_ms() + timeout;
    pump(ours, in, in_len, timeout, r);
    reap(pid, deadline, timeout, r);
}

/* ---- the answer document --------------------------------------------------- */

/*
 * {"natsbridge_reply": 1,
 *  "payloads": [{"dataname": D, "type": "text", "text": S}
 *             | {"dataname": D, "type": "dictionary", "value": JSON}
 *             | {"dataname": D, "type": T, "path": FILE, "link": BOOL}, ...]   (at least one;
 *              each may have "metadata": {...}; datanames distinct)
 *  "metadata": {...}}                                                       (optional)
 * Any other member, or a member of the wrong kind, is an error naming it.
 */
typedef struct doc_error {
    char text[512];
} doc_error;

static bool bad(doc_error *d, const char *fmt, ...) CLI_PRINTF(2, 3);
static bool bad(doc_error *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
    return false;
}

static bool only_members(const cJSON *o, const char *const *names, size_t n, const char *where,
                         doc_error *d)
{
    for (const cJSON *m = o->child; m; m = m->next) {
        size_t i = 0;
        while (i < n && strcmp(m->string, names[i]) != 0)
            i++;
        if (i == n)
            return bad(d, "%s: unknown member \"%.64s\"", where, m->string);
        /* cJSON keeps both of {"text": 1, "text": 2} and we would read the first: refused */
        for (const cJSON *seen = o->child; seen != m; seen = seen->next)
            if (strcmp(seen->string, m->string) == 0)
                return bad(d, "%s: member \"%s\" given twice", where, m->string);
    }
    return true;
}

/* The one of "text", "value", "path" the payload has, checked against its type. */
static bool payload_source(const cJSON *o, nb_type type, const char *where, const cJSON **src,
                           doc_error *d)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");
    if ((text != NULL) + (value != NULL) + (path != NULL) != 1)
        return bad(d, "%s: give exactly one of \"text\", \"value\" or \"path\"", where);
    if (text && (!cJSON_IsString(text) || type != NB_TYPE_TEXT))
        return bad(d, "%s.text: must be a string, with type \"text\"", where);
    if (value && type != NB_TYPE_DICTIONARY)
        return bad(d, "%s.value: only with type \"dictionary\"", where);
    if (path && (!cJSON_IsString(path) || !*path->valuestring))
        return bad(d, "%s.path: must be a file name", where);
    if (type == NB_TYPE_JSONTABLE)
        return bad(d, "%s.type: \"jsontable\" is not sent; use \"table\" with a path", where);
    *src = text ? text : value ? value : path;
    return true;
}

static bool make_payload(const cJSON *o, const char *where, nb_payload **p, doc_error *d)
{
    static const char *const names[] = {"dataname", "type", "text", "value", "path", "link", "metadata"};
    if (!cJSON_IsObject(o))
        return bad(d, "%s: must be an object", where);
    if (!only_members(o, names, sizeof names / sizeof *names, where, d))
        return false;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "dataname");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    const cJSON *link = cJSON_GetObjectItemCaseSensitive(o, "link");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    nb_type t = NB_TYPE_TEXT;
    const cJSON *src = NULL;
    if (!cJSON_IsString(name) || !*name->valuestring)
        return bad(d, "%s.dataname: must be a non-empty string", where);
    if (!cJSON_IsString(type) || nb_type_parse(type->valuestring, &t) != NB_OK)
        return bad(d, "%s.type: must be one of text, dictionary, table, image, audio, video, binary",
                   where);
    if (link && (!cJSON_IsBool(link) || !cJSON_GetObjectItemCaseSensitive(o, "path")))
        return bad(d, "%s.link: must be true or false, with \"path\"", where);
    if (meta && !cJSON_IsObject(meta))
        return bad(d, "%s.metadata: must be an object", where);
    if (!payload_source(o, t, where, &src, d))
        return false;
    const char *n = name->valuestring;
    nb_status s = src == cJSON_GetObjectItemCaseSensitive(o, "text")
                      ? nb_payload_create_text(p, n, src->valuestring)
                  : src == cJSON_GetObjectItemCaseSensitive(o, "value")
                      ? nb_payload_create_dict(p, n, src)
                      : nb_payload_create_file(p, n, t, src->valuestring);
    if (!s && meta)
        s = nb_payload_set_metadata(*p, meta);
    if (!s && cJSON_IsTrue(link))
        s = nb_payload_force_link(*p, true);
    if (s)
        return bad(d, "%s: %s", where, nb_last_error());
    return true;
}

static bool add_payloads(const cJSON *list, nb_envelope *e, doc_error *d)
{
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n == 0)
        return bad(d, "\"payloads\": must be a non-empty array");
    for (int i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "payloads[%d]", i);
        const cJSON *o = cJSON_GetArrayItem(list, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "dataname");
        for (int j = 0; cJSON_IsString(name) && j < i; j++) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, j), "dataname");
            if (strcmp(other->valuestring, name->valuestring) == 0)
                return bad(d, "%s.dataname: \"%.64s\" is already payloads[%d]'s", where,
                           name->valuestring, j);
        }
        nb_payload *p = NULL;
        bool ok = make_payload(o, where, &p, d);
        if (ok && nb_envelope_add_payload(e, &p) != NB_OK)
            ok = bad(d, "%s: %s", where, nb_last_error());
        nb_payload_destroy(p);
        if (!ok)
            return false;
    }
    return true;
}

/* The parsed document when out is one (marked by "natsbridge_reply"), else NULL. */
static cJSON *find_document(const char *out, size_t len)
{
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", out[i]))
        i++;
    if (i == len || out[i] != '{')
        return NULL;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(out + i, len - i, &end, false);
    if (!doc)
        return NULL;
    while (end && end < out + len && strchr(" \t\r\n", *end))
        end++;
    if (end != out + len || !cJSON_GetObjectItemCaseSensitive(doc, "natsbridge_reply")) {
        cJSON_Delete(doc);
        return NULL; /* plain text that happens to be JSON: answered as text */
    }
    return doc;
}

/* Builds the reply the document describes; false (d says why) when it is not valid. */
static bool parse_document(const cJSON *doc, nb_envelope **out, doc_error *d)
{
    static const char *const names[] = {"natsbridge_reply", "payloads", "metadata"};
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "natsbridge_reply");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    if (!cJSON_IsObject(doc))
        return bad(d, "the answer document must be a JSON object");
    if (!cJSON_IsNumber(version) || version->valuedouble != 1)
        return bad(d, "\"natsbridge_reply\": must be 1 (the only version)");
    if (!only_members(doc, names, sizeof names / sizeof *names, "the answer document", d))
        return false;
    if (meta && !cJSON_IsObject(meta))
        return bad(d, "\"metadata\": must be an object");
    nb_envelope *e = NULL;
    if (nb_envelope_create(&e) != NB_OK)
        return bad(d, "%s", nb_last_error());
    bool ok = add_payloads(cJSON_GetObjectItemCaseSensitive(doc, "payloads"), e, d);
    if (ok && meta && nb_envelope_set_metadata(e, meta) != NB_OK)
        ok = bad(d, "\"metadata\": %s", nb_last_error());
    if (!ok) {
        nb_envelope_destroy(e);
        return false;
    }
    *out = e;
    return true;
}

/* ---- the reply ------------------------------------------------------------- */

/* stdout as a text payload "result" (binary when not UTF-8), as before answer documents. */
static int plain_reply(const exec_result *r, nb_envelope **out)
{
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    const char *data = r->out ? r->out : "";
    nb_status s = nb_envelope_create(&e);
    if (!s)
        s = nb_payload_create(&p, "result", NB_TYPE_TEXT, data, r->len);
    if (s == NB_BAD_PAYLOAD) {
        cli_error("--exec: the output is not valid UTF-8: sent as binary");
        s = nb_payload_create(&p, "result", NB_TYPE_BINARY, data, r->len);
    }
    if (!s)
        s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p);
    if (s) {
        nb_envelope_destroy(e);
        return cli_fail(CLI_RUNTIME, s, "--exec");
    }
    *out = e;
    return CLI_OK;
}

/* Bytes that are not UTF-8 (a tail cut mid-character, a binary stderr) become '?'. */
static void scrub_utf8(char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xf5 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        bool ok = k > 0 && k <= n - i && c != 0;
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
        if (ok && k == 3) /* no overlong forms, no surrogates */
            ok = !(c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) &&
                 !(c == 0xed && (unsigned char)s[i + 1] >= 0xa0);
        if (ok && k == 4)
            ok = !(c == 0xf0 && (unsigned char)s[i + 1] < 0x90) &&
                 !(c == 0xf4 && (unsigned char)s[i + 1] >= 0x90);
        if (!ok)
            s[i] = '?';
        i += ok ? k : 1;
    }
}

/* The error reply of a failed run: "what: the end of its stderr". */
static int failure_reply(const char *reason, const char *what, const char *id, exec_result *r,
                         nb_envelope **out)
{
    size_t n = r->err_len;
    while (n > 0 && (r->err[n - 1] == '\n' || r->err[n - 1] == '\r'))
        n--;
    scrub_utf8(r->err, n);
    size_t cap = strlen(what) + n + 3;
    char *msg = malloc(cap);
    if (!msg) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    snprintf(msg, cap, "%s%s%.*s", what, n ? ": " : "", (int)n, r->err);
    char buf[1800];
    cli_error("--exec: request %s: %s", id, shorten(msg, buf, sizeof buf));
    int rc = cli_error_reply(reason, strcmp(reason, "spawn") == 0 ? -1 : r->exit_status, msg, out);
    free(msg);
    return rc;
}

/* What the run gives: an error reply, the answer document's reply, or the plain text one. */
static int build_reply(const cli_args *a, const char *id, exec_result *r, nb_envelope **out)
{
    char what[600];
    if (r->reason) {
        return failure_reply(r->reason, r->error, id, r, out);
    } else if (r->signal) {
        snprintf(what, sizeof what, "the command was killed by signal %d", r->signal);
        return failure_reply("signal", what, id, r, out);
    } else if (r->exit_status != 0) {
        snprintf(what, sizeof what, "the command exited with status %d", r->exit_status);
        return failure_reply("exit", what, id, r, out);
    }
    if (r->err_len && !a->quiet) /* a command that succeeded may have warned: the operator sees it */
        fprintf(stderr, "%.*s%s", (int)r->err_len, r->err, r->err[r->err_len - 1] == '\n' ? "" : "\n");
    cJSON *doc = find_document(r->out ? r->out : "", r->len);
    if (!doc)
        return plain_reply(r, out);
    doc_error d = {{0}};
    bool ok = parse_document(doc, out, &d);
    cJSON_Delete(doc);
    if (ok)
        return CLI_OK;
    snprintf(what, sizeof what, "bad answer document: %s", d.text);
    r->err_len = 0; /* the command succeeded: its stderr does not explain the document */
    return failure_reply("bad_answer", what, id, r, out);
}

int cli_exec_reply(const cli_args *a, const nb_envelope *req, nb_envelope **out)
{
    exec_result r = {0};
    r.max = a->exec_max_output ? (size_t)a->exec_max_output : (size_t)CLI_EXEC_MAX_OUTPUT;
    env_list env = {0};
    char *line = cli_render_json(req, NULL);
    size_t n = line ? strlen(line) : 0;
    char *in = line ? malloc(n + 2) : NULL;
    bool ok = in && build_env(req, &env);
    if (ok) {
        memcpy(in, line, n);
        in[n] = '\n';
        run_command(a, env.v, in, n + 1, &r);
    }
    cJSON_free(line);
    free(in);
    env_free(&env);
    int rc = CLI_RUNTIME;
    if (!ok)
        cli_error("out of memory");
    else if (cli_stop) /* we are stopping: the request is left unanswered */
        cli_note("--exec: request %s: interrupted", nb_envelope_msg_id(req));
    else
        rc = build_reply(a, nb_envelope_msg_id(req), &r, out);
    free(r.out);
    return rc;
}
