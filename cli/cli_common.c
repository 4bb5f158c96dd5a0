/* SPDX-License-Identifier: MIT */
/*
 * cli_common.c - the code the natsbridge subcommands share (see cli_common.h).
 */
#include "cli_common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* Messages                                                                 */
/* ======================================================================== */

static const char *command_name;
static bool quiet;
/* Set while the client is being closed, so that its own disconnect is not reported. */
static atomic_bool closing;

void cli_set_command(const char *name) { command_name = name; }

/* The subcommand's name for "see natsbridge <cmd> --help". */
static const char *cmd(void) { return command_name ? command_name : "COMMAND"; }

static void vreport(const char *fmt, va_list ap)
{
    char raw[2048], line[2048];
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* No URL's user info (a password, a token) ever reaches stderr. */
    nb_url_redact(raw, line, sizeof line);
    /* One line per error, whatever the message holds (names come from the network). */
    for (unsigned char *c = (unsigned char *)line; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = *c == '\n' || *c == '\r' || *c == '\t' ? ' ' : '?';
    if (command_name)
        fprintf(stderr, "natsbridge %s: %s\n", command_name, line);
    else
        fprintf(stderr, "natsbridge: %s\n", line);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
}

void cli_note(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
}

/* issue 13: the library's origin refusal stays neutral; the CLI names its flag. */
const char *cli_hint(const char *msg)
{
    return msg && strstr(msg, "not from an allowed origin") ? "; allow it with --allow-origin ORIGIN"
                                                            : "";
}

int cli_fail(int code, nb_status s, const char *what)
{
    const char *msg = nb_last_error();
    if (!msg || !*msg)
        msg = nb_status_text(s);
    const char *hint = cli_hint(msg);
    if (what)
        cli_error("%s: %s%s", what, msg, hint);
    else
        cli_error("%s%s", msg, hint);
    return code;
}

char *cli_quote(const char *s)
{
    cJSON *str = cJSON_CreateString(s ? s : "");
    char *text = str ? cJSON_PrintUnformatted(str) : NULL;
    cJSON_Delete(str);
    return text;
}

/* ======================================================================== */
/* Flags                                                                    */
/* ======================================================================== */

int cli_parse_u64(const char *flag, const char *text, uint64_t *out)
{
    char *end = NULL;
    /* strtoull would accept " 1", "+1" and "-1" (as a huge number): digits only. */
    if (!isdigit((unsigned char)text[0])) {
        cli_error("--%s: '%s' is not a non-negative whole number", flag, text);
        return CLI_USAGE;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        cli_error("--%s: '%s' is not a whole number in range", flag, text);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_CONTINUE;
}

int cli_parse_seconds(const char *flag, const char *text, int64_t *ms)
{
    size_t digits = strspn(text, "0123456789");
    const char *rest = text + digits;
    if (*rest == '.') {
        size_t frac = strspn(rest + 1, "0123456789");
        digits += frac;
        rest += 1 + frac;
    }
    /* Plain decimal only: strtod would also take "inf", "nan", "-1" and hex. */
    if (digits == 0 || *rest != '\0') {
        cli_error("--%s: '%s' is not a number of seconds", flag, text);
        return CLI_USAGE;
    }
    double s = strtod(text, NULL);
    if (!(s <= 1e9)) {
        cli_error("--%s: %s seconds is too long", flag, text);
        return CLI_USAGE;
    }
    *ms = (int64_t)(s * 1000.0 + 0.5);
    return CLI_CONTINUE;
}

static const cli_flag *find_flag(const cli_flag *t, const char *name, size_t len)
{
    for (; t->name; t++)
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

/* The one-letter flags, as in natscli, for every command that has the long one. */
static const struct {
    char letter;
    const char *name;
} short_flags[] = {{'s', "server"}, {'J', "json"}, {'q', "quiet"}, /* -J -q: issue 13 */
                   {'f', "force"}}; /* JetStream management (issue 13) */

char cli_short_flag(const char *name)
{
    for (size_t i = 0; i < sizeof short_flags / sizeof *short_flags; i++)
        if (strcmp(short_flags[i].name, name) == 0)
            return short_flags[i].letter;
    return '\0';
}

/* The row of a one-letter flag ("-s" is --server, as in natscli), or NULL. */
static const cli_flag *find_short(const cli_flag *t, char c)
{
    for (size_t i = 0; i < sizeof short_flags / sizeof *short_flags; i++)
        if (short_flags[i].letter == c)
            return find_flag(t, short_flags[i].name, strlen(short_flags[i].name));
    return NULL;
}

/* Splits the flag at argv[*i] from its value; NULL after an error line. */
static const cli_flag *take_flag(int argc, char **argv, int *i, const cli_flag *table,
                                 const char **value)
{
    const char *word = argv[*i];
    bool short_help = strcmp(word, "-h") == 0;
    /* "-s URL" and "-s=URL": one letter after a single dash (natscli's -s). */
    bool short_flag = !short_help && word[1] != '-' && (word[2] == '\0' || word[2] == '=');
    const char *name = short_help ? "help" : short_flag ? word + 1 : word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_flag *f = short_help || word[1] == '-' ? find_flag(table, name, len)
                        : short_flag                  ? find_short(table, word[1])
                                                      : NULL;
    *value = NULL;
    if (!f) { /* without its "=VALUE": a mistyped --pasword=SECRET must not print the secret */
        cli_error("unknown flag '%.*s' (see natsbridge %s --help)", (int)strcspn(word, "="), word,
                  cmd());
        return NULL;
    }
    if (!f->has_value && eq) {
        cli_error("--%s takes no value", f->name);
        return NULL;
    }
    if (f->has_value && eq)
        *value = eq + 1;
    else if (f->has_value && *i + 1 < argc)
        *value = argv[++*i];
    else if (f->has_value) {
        cli_error("--%s needs a value", f->name);
        return NULL;
    }
    return f;
}

static const char **string_slot(cli_args *a, int id)
{
    switch (id) {
    case F_SERVER: return &a->server;
    case F_FILESERVER: return &a->fileserver;
    case F_SENDER_NAME: return &a->sender_name;
    case F_CORRELATION_ID: return &a->correlation_id;
    case F_PURPOSE: return &a->purpose;
    case F_RECEIVER_NAME: return &a->receiver_name;
    case F_RECEIVER_ID: return &a->receiver_id;
    case F_REPLY_TO: return &a->reply_to;
    case F_REPLY_TO_MSG_ID: return &a->reply_to_msg_id;
    case F_METADATA: return &a->metadata;
    case F_QUEUE: return &a->queue;
    case F_SAVE_DIR: return &a->save_dir;
    case F_EXEC: return &a->exec;
    case F_FILESERVER_TOKEN: return &a->fileserver_token;
    case F_FILESERVER_TOKEN_FILE: return &a->fileserver_token_file;
    case F_FILESERVER_CA: return &a->fileserver_ca;
    case F_FILESERVER_CERT: return &a->fileserver_cert;
    case F_FILESERVER_KEY: return &a->fileserver_key;
    case F_STORE: return &a->store;
    /* connecting to a secured NATS (issue 10) */
    case F_USER: return &a->user;
    case F_PASSWORD: return &a->password;
    case F_NATS_TOKEN: return &a->nats_token;
    case F_CREDS: return &a->creds;
    case F_NKEY: return &a->nkey;
    case F_TLSCERT: return &a->tlscert;
    case F_TLSKEY: return &a->tlskey;
    case F_TLSCA: return &a->tlsca;
    case F_CONNECTION_NAME: return &a->connection_name;
    case F_CONTEXT: return &a->context;
    default: return NULL;
    }
}

/* The flags that take a plain byte count or a count of milliseconds. */
static uint64_t *number_slot(cli_args *a, int id)
{
    switch (id) {
    case F_MAX_DOWNLOAD: return &a->max_download;
    case F_RETRIES: return &a->retries;
    case F_BASE_DELAY: return &a->base_delay_ms;
    case F_MAX_DELAY: return &a->max_delay_ms;
    default: return NULL;
    }
}

static int store_number(cli_args *a, const cli_flag *f, const char *v)
{
    int rc = CLI_CONTINUE;
    uint64_t *slot = number_slot(a, f->id);
    if (slot) {
        a->has_retries = a->has_retries || f->id == F_RETRIES;
        a->has_base_delay = a->has_base_delay || f->id == F_BASE_DELAY;
        a->has_max_delay = a->has_max_delay || f->id == F_MAX_DELAY;
        a->has_backoff = a->has_retries || a->has_base_delay || a->has_max_delay;
        rc = cli_parse_u64(f->name, v, slot);
        uint64_t limit = f->id == F_RETRIES ? 1000 : f->id == F_MAX_DOWNLOAD ? UINT64_MAX : 3600000;
        if (rc == CLI_CONTINUE && *slot > limit) {
            cli_error("--%s: %s is over the limit of %llu", f->name, v, (unsigned long long)limit);
            rc = CLI_USAGE;
        }
        return rc;
    }
    if (f->id == F_TIMEOUT)
        return cli_parse_seconds(f->name, v, &a->timeout_ms);
    if (f->id == F_DOWNLOAD_TIMEOUT || f->id == F_IDLE_TIMEOUT || f->id == F_RETRY_BUDGET)
        return cli_parse_seconds(f->name, v,
                                 f->id == F_DOWNLOAD_TIMEOUT ? &a->download_timeout_ms
                                 : f->id == F_IDLE_TIMEOUT   ? &a->idle_timeout_ms
                                                             : &a->retry_budget_ms);
    if (f->id == F_THRESHOLD) {
        rc = cli_parse_u64(f->name, v, &a->threshold);
        a->has_threshold = true;
        if (rc == CLI_CONTINUE && a->threshold > SIZE_MAX) {
            cli_error("--threshold: %s is too large", v);
            rc = CLI_USAGE;
        }
        return rc;
    }
    rc = cli_parse_u64(f->name, v, &a->count); /* F_COUNT */
    if (rc == CLI_CONTINUE && a->count == 0) {
        cli_error("--count: must be at least 1");
        rc = CLI_USAGE;
    }
    return rc;
}

/* Records one flag in a; CLI_CONTINUE, or CLI_USAGE after an error line. */
static int store_flag(cli_args *a, const cli_flag *f, const char *v)
{
    const char **slot = string_slot(a, f->id);
    if (slot) {
        *slot = v;
        return CLI_CONTINUE;
    }
    switch (f->id) {
    case F_QUIET: a->quiet = quiet = true; break;
    case F_JSON: a->json = true; break;
    case F_ECHO: a->echo = true; break;
    case F_PUT: a->put = true; break;
    case F_SHA256: a->sha256 = true; break;
    case F_DATA: a->data = true; break;         /* issue 13, cliout */
    case F_NO_FETCH: a->no_fetch = true; break; /* issue 13, cliout */
    case F_NO_AUTO_LINK: a->no_auto_link = true; break; /* issue 16, link */
    case F_ALLOW_ORIGIN: a->origins[a->n_origins++] = v; break;
    case F_LINK: a->links[a->n_links++] = v; break;
    case F_TEXT:
    case F_DICT:
    case F_FILE: a->payloads[a->n_payloads++] = (cli_payload_arg){f->id, v}; break;
    /* tables: --csv NAME=FILE sends a CSV (send, request); a bare --csv saves CSVs (listen) */
    case F_CSV:
        if (v)
            a->payloads[a->n_payloads++] = (cli_payload_arg){f->id, v};
        a->csv_out = !v;
        break;
    case F_ROWS:
        a->has_rows = true;
        return cli_parse_u64(f->name, v, &a->rows);
    case F_INTERVAL: /* issue 13, clisend */
        return cli_parse_duration(f->name, v, &a->interval_ms);
    default:
        if (CLI_IS_JETSTREAM_FLAG(f->id))
            return cli_store_jetstream_flag(a, f, v);
        if (CLI_IS_LIMIT_FLAG(f->id)) /* receive limits */
            return cli_store_limit_flag(a, f, v);
        if (CLI_IS_REPLY_FLAG(f->id)) /* issue 13, clireply: reply_exec.c */
            return cli_store_reply_flag(a, f, v);
        return store_number(a, f, v);
    }
    return CLI_CONTINUE;
}

/* A NATS subject is one word of printable characters. */
static int store_subject(cli_args *a, const char *word)
{
    if (a->subject) {
        cli_error("unexpected argument '%s' (see natsbridge %s --help)", word, cmd());
        return CLI_USAGE;
    }
    if (!*word) {
        cli_error("SUBJECT must not be empty");
        return CLI_USAGE;
    }
    for (const char *c = word; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c)) {
            cli_error("SUBJECT '%s' contains a space or control character", word);
            return CLI_USAGE;
        }
    a->subject = word;
    return CLI_CONTINUE;
}

static int parse_words(int argc, char **argv, const cli_flag *table, const char *usage,
                       cli_args *a)
{
    int rc = CLI_CONTINUE;
    bool flags_done = false;
    for (int i = 1; rc == CLI_CONTINUE && i < argc; i++) {
        const char *w = argv[i], *value = NULL;
        if (!flags_done && strcmp(w, "--") == 0) {
            flags_done = true;
        } else if (flags_done || w[0] != '-' || w[1] == '\0') {
            rc = store_subject(a, w);
        } else {
            const cli_flag *f = take_flag(argc, argv, &i, table, &value);
            if (!f)
                rc = CLI_USAGE;
            else if (f->id == F_HELP) {
                fputs(usage, stdout);
                rc = CLI_OK;
            } else
                rc = store_flag(a, f, value);
        }
    }
    return rc;
}

const cli_flag **cli_flag_probe;

int cli_parse(int argc, char **argv, const cli_flag *table, const char *usage, cli_args *a)
{
    memset(a, 0, sizeof *a);
    if (cli_flag_probe) { /* completion: hand over the table, parse nothing */
        *cli_flag_probe = table;
        return CLI_OK;
    }
    a->timeout_ms = -1;
    a->download_timeout_ms = a->idle_timeout_ms = a->retry_budget_ms = -1;
    a->interval_ms = -1; /* issue 13, clisend */
    /* A repeatable flag cannot occur more often than there are words. */
    size_t n = argc > 0 ? (size_t)argc : 1;
    a->origins = calloc(n, sizeof *a->origins);
    a->links = calloc(n, sizeof *a->links);
    a->payloads = calloc(n, sizeof *a->payloads);
    if (!a->origins || !a->links || !a->payloads) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    int rc = parse_words(argc, argv, table, usage, a);
    if (rc == CLI_CONTINUE && !a->subject) {
        cli_error("missing SUBJECT (see natsbridge %s --help)", cmd());
        rc = CLI_USAGE;
    }
    /* tables: a bare --csv saves CSVs next to the payloads, so it needs their directory */
    if (rc == CLI_CONTINUE && a->csv_out && !a->save_dir) {
        cli_error("--csv (save tables as CSV) needs --save-dir DIR");
        rc = CLI_USAGE;
    }
    return rc;
}

void cli_args_free(cli_args *a)
{
    free(a->origins);
    free(a->links);
    free(a->payloads);
    memset(a, 0, sizeof *a);
}

/* ======================================================================== */
/* Options and connecting                                                   */
/* ======================================================================== */

static void on_event(nb_event ev, nb_status s, const char *detail, void *closure)
{
    (void)s;
    (void)closure;
    if (atomic_load(&closing) || (ev != NB_EVENT_DISCONNECTED && ev != NB_EVENT_RECONNECTED))
        return;
    if (detail && *detail)
        cli_note("%s", detail);
    else
        cli_note(ev == NB_EVENT_DISCONNECTED ? "disconnected from the NATS server"
                                             : "reconnected to the NATS server");
}

/* Applies the connection flags; on failure *what names the flag. */
/* Progress bars: only for transfers of more than a few MB, only on a terminal. */
#define PROGRESS_MIN_BYTES (4u * 1000 * 1000)
#define PROGRESS_REDRAW_MS 200


/* One transfer runs at a time per process here, so one redraw clock is enough. */
static void on_progress(const char *dataname, uint64_t done, uint64_t total, void *closure)
{
    static int64_t last_draw;
    static bool ended; /* curl reports the last figure more than once: one final line */
    (void)closure;
    if (total < PROGRESS_MIN_BYTES)
        return;
    int64_t now = cli_now_ms();
    bool finished = done >= total;
    if (finished ? ended : now - last_draw < PROGRESS_REDRAW_MS) {
        ended = ended && finished;
        return;
    }
    ended = finished;
    last_draw = now;
    int width = 30, filled = (int)(done * (uint64_t)width / total);
    char bar[31];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    fprintf(stderr, "\r%-24.24s [%s] %3d%% %8.1f / %.1f MB%s", dataname, bar,
            (int)(done * 100 / total), done / 1e6, total / 1e6, finished ? "\n" : "");
    fflush(stderr);
}

/* Unset back-off flags keep the library's defaults. */
static nb_status apply_backoff(const cli_args *a, nb_options *o)
{
    uint64_t retries = a->has_retries ? a->retries : NB_DEFAULT_MAX_RETRIES;
    uint64_t base = a->has_base_delay ? a->base_delay_ms : NB_DEFAULT_BASE_DELAY_MS;
    uint64_t max = a->has_max_delay ? a->max_delay_ms : NB_DEFAULT_MAX_DELAY_MS;
    return nb_options_set_backoff(o, (int)retries, (int64_t)base, (int64_t)(max < base ? base : max));
}

/* ---- file server TLS and token (issue 10) -------------------------------- */

/*
 * The upload token: --fileserver-token, else the first line of
 * --fileserver-token-file, else $NB_FILESERVER_TOKEN (so that it need not be
 * on the command line, visible in ps). The token itself is never printed.
 * Errors of the CLI's own making are printed here, with *what set to NULL.
 */
static nb_status apply_fileserver_token(const cli_args *a, nb_options *o, const char **what)
{
    if (a->fileserver_token && a->fileserver_token_file) {
        cli_error("give --fileserver-token or --fileserver-token-file, not both");
        *what = NULL;
        return NB_INVALID_ARG;
    }
    if (a->fileserver_token) {
        *what = "--fileserver-token";
        return nb_options_set_fileserver_token(o, a->fileserver_token);
    }
    if (a->fileserver_token_file) {
        *what = "--fileserver-token-file";
        char *text = NULL;
        size_t len = 0;
        int err = cli_read_file(a->fileserver_token_file, &text, &len);
        if (err) {
            cli_error("--fileserver-token-file %s: %s", a->fileserver_token_file, strerror(err));
            *what = NULL;
            return NB_IO;
        }
        text[strcspn(text, "\r\n")] = '\0'; /* the first line; an editor's newline is no part */
        nb_status s = nb_options_set_fileserver_token(o, text);
        memset(text, 0, len);
        free(text);
        return s;
    }
    const char *env = getenv("NB_FILESERVER_TOKEN");
    *what = "$NB_FILESERVER_TOKEN";
    return env && env[0] ? nb_options_set_fileserver_token(o, env) : NB_OK;
}

static nb_status apply_fileserver_auth(const cli_args *a, nb_options *o, const char **what)
{
    nb_status s = apply_fileserver_token(a, o, what);
    if (s)
        return s;
    *what = "--fileserver-ca";
    if (a->fileserver_ca && (s = nb_options_set_fileserver_ca(o, a->fileserver_ca)))
        return s;
    *what = "--fileserver-cert and --fileserver-key";
    if ((a->fileserver_cert || a->fileserver_key) &&
        (s = nb_options_set_fileserver_client_cert(o, a->fileserver_cert, a->fileserver_key)))
        return s;
    return NB_OK;
}

/*
 * The download bounds, and the stop flag that SIGINT/SIGTERM set: a download
 * in progress stops at once instead of holding the receive loop. --retries
 * alone counts retries (nb_options_set_backoff's rule); --retry-budget wins.
 */
static nb_status apply_downloads(const cli_args *a, nb_options *o, const char **what)
{
    nb_status s = NB_OK;
    *what = "--retry-budget";
    if ((a->retry_budget_ms >= 0 || (a->has_backoff && !a->has_retries)) &&
        (s = nb_options_set_retry_budget(o, a->retry_budget_ms >= 0 ? a->retry_budget_ms
                                                                     : NB_DEFAULT_RETRY_BUDGET_MS)))
        return s;
    *what = "--download-timeout";
    if (a->download_timeout_ms >= 0 && (s = nb_options_set_download_deadline(o, a->download_timeout_ms)))
        return s;
    *what = "--idle-timeout";
    if (a->idle_timeout_ms >= 0 && (s = nb_options_set_idle_timeout(o, a->idle_timeout_ms)))
        return s;
    *what = "options";
    return nb_options_set_stop_flag(o, &cli_stop);
}

static nb_status apply_options(const cli_args *a, nb_options *o, const char **what)
{
    nb_status s = NB_OK;
    *what = "--fileserver";
    if (a->fileserver && (s = nb_options_set_fileserver_url(o, a->fileserver)))
        return s;
    *what = "--threshold";
    if (a->has_threshold && (s = nb_options_set_size_threshold(o, (size_t)a->threshold)))
        return s;
    *what = "--sender-name";
    if (a->sender_name && (s = nb_options_set_sender_name(o, a->sender_name)))
        return s;
    *what = "--allow-origin";
    for (size_t i = 0; i < a->n_origins; i++)
        if ((s = nb_options_add_allowed_origin(o, a->origins[i])))
            return s;
    *what = "--save-dir";
    if (a->save_dir && (s = nb_options_set_download_dir(o, a->save_dir)))
        return s;
    *what = "--max-download";
    if (a->max_download && (s = nb_options_set_max_download(o, a->max_download)))
        return s;
    *what = "--retries, --base-delay and --max-delay";
    if (a->has_backoff && (s = apply_backoff(a, o)))
        return s;
    if ((s = apply_downloads(a, o, what)))
        return s;
    if ((s = apply_fileserver_auth(a, o, what)))
        return s;
    *what = "--put";
    if (a->put && (s = nb_options_set_upload_handler(o, nb_upload_put, NULL)))
        return s;
    *what = "--sha256";
    if (a->sha256 && (s = nb_options_set_direct_sha256(o, true)))
        return s;
    *what = "--store";
    if (a->store && (s = nb_options_set_link_store(o, a->store)))
        return s;
    *what = "--no-auto-link"; /* issue 16, link */
    if (a->no_auto_link && (s = nb_options_set_auto_link(o, false)))
        return s;
    *what = "--no-fetch"; /* issue 13, cliout */
    if (a->no_fetch && (s = nb_options_set_fetch_links(o, false)))
        return s;
    if ((s = cli_apply_limits(a, o, what))) /* receive limits */
        return s;
    *what = "options";
    if (!a->quiet && isatty(STDERR_FILENO) && (s = nb_options_set_progress_cb(o, on_progress, NULL)))
        return s;
    return nb_options_set_event_cb(o, on_event, NULL);
}

int cli_build_options(const cli_args *a, nb_options **out)
{
    nb_options *o = NULL;
    const char *what = "options";
    nb_status s = nb_options_create(&o);
    *out = NULL;
    if (s)
        return cli_fail(CLI_RUNTIME, s, what);
    /* The server, credentials and TLS first: flags, environment, natscli context. */
    int rc = cli_apply_connection(a, o);
    if (rc != CLI_CONTINUE) {
        nb_options_destroy(o);
        return rc;
    }
    s = apply_options(a, o, &what);
    if (s) {
        nb_options_destroy(o);
        if (!what) /* already reported */
            return CLI_USAGE;
        return cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, what);
    }
    *out = o;
    return CLI_OK;
}

int cli_connect(const cli_args *a, nb_client **out)
{
    nb_options *o = NULL;
    *out = NULL;
    int rc = cli_build_options(a, &o);
    if (rc != CLI_OK)
        return rc;
    nb_status s = nb_client_connect(out, o);
    nb_options_destroy(o);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    return CLI_OK;
}

void cli_close(nb_client *c)
{
    if (!c)
        return;
    atomic_store(&closing, true);
    nb_client_destroy(c);
}

/* ======================================================================== */
/* Building an envelope from the payload flags                              */
/* ======================================================================== */

typedef nb_status (*field_setter)(nb_envelope *, const char *);

static int set_fields(const cli_args *a, nb_envelope *e)
{
    const struct {
        const char *flag, *value;
        field_setter set;
    } f[] = {
        {"--correlation-id", a->correlation_id, nb_envelope_set_correlation_id},
        {"--purpose", a->purpose, nb_envelope_set_msg_purpose},
        {"--receiver-name", a->receiver_name, nb_envelope_set_receiver_name},
        {"--receiver-id", a->receiver_id, nb_envelope_set_receiver_id},
        {"--reply-to", a->reply_to, nb_envelope_set_reply_to},
        {"--reply-to-msg-id", a->reply_to_msg_id, nb_envelope_set_reply_to_msg_id},
        {"--metadata", a->metadata, nb_envelope_set_metadata_json},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        nb_status s = f[i].value ? f[i].set(e, f[i].value) : NB_OK;
        if (s)
            return cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, f[i].flag);
    }
    return CLI_CONTINUE;
}

int cli_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int err = f ? 0 : errno;
    while (!err) {
        if (cap - n < 2) {
            size_t grown_cap = cap ? cap * 2 : 4096;
            char *grown = cap < SIZE_MAX / 4 ? realloc(buf, grown_cap) : NULL;
            if (!grown) {
                err = ENOMEM;
                break;
            }
            buf = grown;
            cap = grown_cap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            err = ferror(f) ? EIO : -1; /* -1: the end of the file */
    }
    if (f)
        fclose(f);
    if (err != -1) {
        free(buf);
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int make_dict(const char *name, const char *value, nb_payload **p)
{
    char *owned = NULL;
    size_t len = strlen(value);
    if (value[0] == '@') {
        int err = cli_read_file(value + 1, &owned, &len);
        if (err) {
            cli_error("--dict %s: cannot read '%s': %s", name, value + 1, strerror(err));
            return CLI_USAGE;
        }
        value = owned;
    }
    nb_status s = nb_payload_create(p, name, NB_TYPE_DICTIONARY, value, len);
    free(owned);
    return s ? cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, "--dict") : CLI_CONTINUE;
}

/* PATH[:TYPE], or standard input: cli_send.c (issue 13). */
static int make_file(const char *name, const char *value, nb_payload **p)
{
    return cli_file_payload(name, value, p);
}

static bool is_linked(const cli_args *a, const char *name)
{
    for (size_t i = 0; i < a->n_links; i++)
        if (strcmp(a->links[i], name) == 0)
            return true;
    return false;
}

static int make_payload(int id, const char *name, const char *value, nb_payload **p)
{
    if (id == F_DICT)
        return make_dict(name, value, p);
    if (id == F_FILE)
        return make_file(name, value, p);
    if (id == F_CSV)
        return cli_csv_payload(name, value, p);
    nb_status s = nb_payload_create_text(p, name, value);
    return s ? cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, "--text") : CLI_CONTINUE;
}

static int add_payload(const cli_args *a, nb_envelope *e, const cli_payload_arg *pa)
{
    const char *eq = strchr(pa->arg, '=');
    if (!eq || eq == pa->arg) {
        cli_error("--%s: expected NAME=VALUE, got '%s'",
                  pa->id == F_TEXT ? "text" : pa->id == F_DICT ? "dict"
                  : pa->id == F_CSV ? "csv" : "file", pa->arg);
        return CLI_USAGE;
    }
    char *name = strndup(pa->arg, (size_t)(eq - pa->arg));
    nb_payload *p = NULL;
    int rc = name ? make_payload(pa->id, name, eq + 1, &p) : CLI_RUNTIME;
    nb_status s = NB_OK;
    if (rc == CLI_CONTINUE && is_linked(a, name))
        s = nb_payload_force_link(p, true);
    if (rc == CLI_CONTINUE && !s)
        s = nb_envelope_add_payload(e, &p);
    if (rc == CLI_CONTINUE && s)
        rc = cli_fail(CLI_RUNTIME, s, name);
    nb_payload_destroy(p);
    free(name);
    return rc;
}

/* Every --link must name a payload: a typo would otherwise go unnoticed. */
static int check_links(const cli_args *a)
{
    for (size_t i = 0; i < a->n_links; i++) {
        size_t len = strlen(a->links[i]);
        bool found = false;
        for (size_t j = 0; j < a->n_payloads && !found; j++)
            found = strncmp(a->payloads[j].arg, a->links[i], len) == 0 &&
                    a->payloads[j].arg[len] == '=';
        if (!found) {
            cli_error("--link: no payload is named '%s'", a->links[i]);
            return CLI_USAGE;
        }
    }
    return CLI_CONTINUE;
}

int cli_build_envelope(const cli_args *a, nb_envelope **out)
{
    nb_envelope *e = NULL;
    *out = NULL;
    if (a->n_payloads == 0) {
        cli_error("no payload: give at least one --text, --dict or --file");
        return CLI_USAGE;
    }
    int rc = check_links(a);
    nb_status s = rc == CLI_CONTINUE ? nb_envelope_create(&e) : NB_OK;
    if (s)
        rc = cli_fail(CLI_RUNTIME, s, "envelope");
    if (rc == CLI_CONTINUE)
        rc = set_fields(a, e);
    for (size_t i = 0; rc == CLI_CONTINUE && i < a->n_payloads; i++)
        rc = add_payload(a, e, &a->payloads[i]);
    if (rc != CLI_CONTINUE) {
        nb_envelope_destroy(e);
        return rc;
    }
    *out = e;
    return CLI_OK;
}

/* ======================================================================== */
/* The receive loop of listen and reply                                     */
/* ======================================================================== */

volatile sig_atomic_t cli_stop;

static void on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking wait returns early and the loop sees cli_stop. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Statuses after which the subscription cannot go on. */
static bool is_fatal(nb_status s)
{
    return s == NB_CONNECTION || s == NB_NATS || s == NB_INVALID_ARG || s == NB_NO_MEMORY ||
           s == NB_INTERNAL || s == NB_PERMISSION;
}

typedef struct loop_state {
    nb_client *client;
    nb_subscription *sub;
    const cli_args *a;
    cli_handler fn;
    void *ctx;
    int64_t deadline; /* -1: none */
    uint64_t done;
} loop_state;

/* Waits for one envelope (at most 200 ms, so that signals are seen); CLI_CONTINUE to go on. */
static int receive_one(loop_state *st)
{
    int64_t wait = 200;
    if (cli_stop || (st->a->count && st->done >= st->a->count))
        return CLI_OK;
    if (st->deadline >= 0) {
        int64_t left = st->deadline - cli_now_ms();
        if (left <= 0) {
            cli_note("timed out after %llu message%s", (unsigned long long)st->done,
                     st->done == 1 ? "" : "s");
            return CLI_TIMEOUT;
        }
        wait = left < wait ? left : wait;
    }
    nb_envelope *env = NULL;
    nb_status s = nb_subscription_next(st->sub, wait, &env);
    if (s == NB_OK) {
        int r = st->fn(st->client, env, st->a, st->ctx);
        if (r < 0)
            return -r;
        st->done += (uint64_t)r;
    } else if (is_fatal(s)) {
        return cli_fail(CLI_RUNTIME, s, NULL);
    } else if (s != NB_TIMEOUT || !strstr(nb_last_error(), "no message within")) {
        /* (an NB_TIMEOUT of a message's download, --download-timeout, is reported too) */
        /* Never dropped silently: a bad message or lost ones get a line each. */
        /* cli_stop: a signal stopped the message's download, the message was fine */
        const char *what = s == NB_SLOW_CONSUMER ? "messages dropped"
                           : cli_stop            ? "message dropped: interrupted"
                                                 : "bad message skipped";
        cli_fail(0, s, what);
    }
    return CLI_CONTINUE;
}

int cli_receive_loop(nb_client *c, const cli_args *a, cli_handler fn, void *ctx)
{
    loop_state st = {c, NULL, a, fn, ctx, -1, 0};
    nb_status s = nb_client_subscribe_sync(c, &st.sub, a->subject, a->queue);
    /* The flush makes sure the server knows the subscription before we say we listen. */
    if (!s)
        s = nb_client_flush(c, 5000);
    if (s) {
        nb_subscription_destroy(st.sub);
        return cli_fail(CLI_RUNTIME, s, NULL);
    }
    cli_note("listening on %s%s%s", a->subject, a->queue ? " in queue group " : "",
             a->queue ? a->queue : "");
    if (a->timeout_ms >= 0)
        st.deadline = cli_now_ms() + a->timeout_ms;
    int rc = CLI_CONTINUE;
    while (rc == CLI_CONTINUE)
        rc = receive_one(&st);
    nb_subscription_destroy(st.sub);
    return rc;
}

int cli_stdout_checked(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to stdout");
        return CLI_RUNTIME;
    }
    return rc;
}

int cli_pick_action(int argc, char **argv, const void *rows, size_t stride, size_t n,
                    const char *usage, const char *command_words, int *rc)
{
    const char *word = argc >= 2 ? argv[1] : NULL;
    if (!word) {
        cli_error("missing %s (see natsbridge %s --help)", command_words, command_name);
        *rc = CLI_USAGE;
        return -1;
    }
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
        fputs(usage, stdout);
        *rc = cli_stdout_checked(CLI_OK);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)rows + i * stride);
        if (strcmp(word, name) == 0)
            return (int)i;
    }
    cli_error("unknown action '%s': %s (see natsbridge %s --help)", word, command_words,
              command_name);
    *rc = CLI_USAGE;
    return -1;
}

int cli_print_json(cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return CLI_OK;
}
