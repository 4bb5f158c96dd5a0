/* SPDX-License-Identifier: MIT */
/*
 * cli_common.h - what the natsbridge subcommands share: one flag parser, the
 * payload flags, options building (cli_common.c), the listen-style JSON rendering,
 * saving payloads to a directory (output.c) and error printing.
 * Public API only (include/natsbridge.h).
 */
#ifndef NB_CLI_COMMON_H
#define NB_CLI_COMMON_H

#include "cli.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* ---- messages ------------------------------------------------------------ */

/* Names the running subcommand in messages ("send" gives "natsbridge send: ..."). */
void cli_set_command(const char *name);
/* One line on stderr: "natsbridge <cmd>: <message>". */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Like cli_error, unless --quiet was given. */
void cli_note(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Prints doc (taken; NULL: out of memory) as one JSON line: CLI_OK, or CLI_RUNTIME with a message. */
int cli_print_json(cJSON *doc);

/* Flushes stdout: rc, or CLI_RUNTIME (with a message) when what was printed was lost. */
int cli_stdout_checked(int rc);

/*
 * "natsbridge COMMAND ACTION ...": the index of argv[1] among n actions whose
 * rows (stride bytes apart) begin with their name, as `const char *`. -1 when
 * there is none: *rc is then CLI_OK after printing usage (--help, -h) or
 * CLI_USAGE after an error naming the actions (command_words: "ls, info or rm").
 */
int cli_pick_action(int argc, char **argv, const void *rows, size_t stride, size_t n,
                    const char *usage, const char *command_words, int *rc);

/* "natsbridge <cmd>: <what>: <nb_last_error()>"; returns code, for `return cli_fail(...)`. */
int cli_fail(int code, nb_status s, const char *what);

/* The JSON-quoted form of s, safe on one line (free with cJSON_free; NULL when out of memory). */
char *cli_quote(const char *s);

/* ---- flags --------------------------------------------------------------- */

/* Every flag of every subcommand; each subcommand lists those it accepts. */
enum cli_flag_id {
    F_HELP = 1, F_SERVER, F_FILESERVER, F_ALLOW_ORIGIN, F_THRESHOLD, F_QUIET, F_JSON,
    F_TEXT, F_DICT, F_FILE, F_LINK,
    F_CORRELATION_ID, F_PURPOSE, F_SENDER_NAME, F_RECEIVER_NAME, F_RECEIVER_ID,
    F_REPLY_TO, F_REPLY_TO_MSG_ID, F_METADATA,
    F_COUNT, F_TIMEOUT, F_QUEUE, F_SAVE_DIR, F_ECHO, F_EXEC,
    F_FILESERVER_TOKEN, F_PUT, F_SHA256, F_MAX_DOWNLOAD, F_RETRIES, F_BASE_DELAY, F_MAX_DELAY,
    /* tables */
    F_CSV, F_ROWS,
    /* JetStream */
    F_JETSTREAM, F_DURABLE, F_MSG_ID, F_STREAM, F_FROM_SEQ, F_FROM_TIME, F_NEW, F_BATCH,
    F_ACK_WAIT, F_MAX_DELIVER, F_SUBJECTS, F_STORAGE, F_REPLICAS, F_MAX_AGE, F_DUPE_WINDOW,
    /* Object Store */
    F_STORE,
    /* connecting to a secured NATS (issue 10) */
    F_USER, F_PASSWORD, F_NATS_TOKEN, F_CREDS, F_NKEY, F_TLSCERT, F_TLSKEY, F_TLSCA,
    F_CONNECTION_NAME, F_CONTEXT,
    /* receive limits */
    F_MAX_PAYLOADS, F_MAX_LINK_BYTES, F_MAX_DATANAME, F_MAX_METADATA_DEPTH, F_MAX_ENVELOPE_BYTES,
    /* File server TLS and token (issue 10) */
    F_FILESERVER_TOKEN_FILE, F_FILESERVER_CA, F_FILESERVER_CERT, F_FILESERVER_KEY,
    /* downloads */
    F_DOWNLOAD_TIMEOUT, F_IDLE_TIMEOUT, F_RETRY_BUDGET,
    /* issue 13, cliout: scriptable output of listen and request */
    F_DATA, F_NO_FETCH,
    /* issue 13, clireply: reply's default queue group and the --exec protocol (reply_exec.c) */
    F_NO_QUEUE, F_EXEC_TIMEOUT, F_EXEC_MAX_OUTPUT,
    /* JetStream management, ephemeral listen (issue 13, clijs): parsed in cli_jetstream.c */
    F_FORCE, F_ALL, F_LAST, F_SINCE, F_KEEP, F_SUBJECT, F_MAX_MSGS, F_MAX_BYTES,
    /* issue 13, clisend: send --count N --interval DURATION */
    F_INTERVAL,
    /* issue 16, link: send --no-auto-link (envelopes over max_payload are refused) */
    F_NO_AUTO_LINK,
    F_FLAG_ID_END
};

/*
 * One flag a subcommand accepts: "--name VALUE", "--name=VALUE" or "--name".
 * A few have a one-letter form too ("-s URL" for --server, as natscli):
 * see short_flags in cli_common.c.
 */
typedef struct cli_flag {
    const char *name; /* without the leading "--"; NULL ends a table */
    int id;           /* enum cli_flag_id */
    bool has_value;
} cli_flag;

/* Table rows shared by several subcommands. */
#define CLI_FLAGS_COMMON                                                                \
    CLI_FLAGS_NATS, {"fileserver", F_FILESERVER, true},                                 \
        {"allow-origin", F_ALLOW_ORIGIN, true}, {"quiet", F_QUIET, false},              \
        {"max-download", F_MAX_DOWNLOAD, true}, {"retries", F_RETRIES, true},           \
        {"base-delay", F_BASE_DELAY, true}, {"max-delay", F_MAX_DELAY, true},           \
        {"fileserver-ca", F_FILESERVER_CA, true},                                       \
        {"fileserver-cert", F_FILESERVER_CERT, true},                                   \
        {"fileserver-key", F_FILESERVER_KEY, true},                                     \
        {"download-timeout", F_DOWNLOAD_TIMEOUT, true},                                 \
        {"idle-timeout", F_IDLE_TIMEOUT, true}, {"retry-budget", F_RETRY_BUDGET, true}, \
        {"help", F_HELP, false}
#define CLI_FLAGS_SENDER                                                                \
    {"threshold", F_THRESHOLD, true}, {"sender-name", F_SENDER_NAME, true},             \
        {"fileserver-token", F_FILESERVER_TOKEN, true},                                 \
        {"fileserver-token-file", F_FILESERVER_TOKEN_FILE, true}, {"put", F_PUT, false}, \
        {"sha256", F_SHA256, false}, {"no-auto-link", F_NO_AUTO_LINK, false}
#define CLI_FLAGS_PAYLOAD                                                               \
    {"text", F_TEXT, true}, {"dict", F_DICT, true}, {"file", F_FILE, true},             \
        {"link", F_LINK, true}, {"correlation-id", F_CORRELATION_ID, true},             \
        {"purpose", F_PURPOSE, true}, {"receiver-name", F_RECEIVER_NAME, true},         \
        {"receiver-id", F_RECEIVER_ID, true}, {"reply-to", F_REPLY_TO, true},           \
        {"reply-to-msg-id", F_REPLY_TO_MSG_ID, true}, {"metadata", F_METADATA, true},   \
        {"csv", F_CSV, true}
#define CLI_FLAGS_END {NULL, 0, false}

/* Connecting to a secured NATS (issue 10): natscli's flags, in every NATS command. */
#define CLI_FLAGS_NATS                                                                  \
    {"server", F_SERVER, true}, {"user", F_USER, true},                                 \
        {"password", F_PASSWORD, true}, {"token", F_NATS_TOKEN, true},                  \
        {"creds", F_CREDS, true}, {"nkey", F_NKEY, true}, {"tlscert", F_TLSCERT, true}, \
        {"tlskey", F_TLSKEY, true}, {"tlsca", F_TLSCA, true},                           \
        {"connection-name", F_CONNECTION_NAME, true}, {"context", F_CONTEXT, true}

/* --help text of CLI_FLAGS_NATS: every source and the precedence. */
#define NATS_CONNECT_HELP                                                                  \
    "NATS connection (natscli-compatible; a flag beats the environment, which beats the\n" \
    "natscli context, which beats the default):\n"                                        \
    "  -s, --server URL           NATS server(s), comma-separated; nats:// or tls://\n"   \
    "                             (tls:// never falls back to plain text) [NATS_URL]\n"   \
    "                             (default " NB_DEFAULT_NATS_URL ")\n"                    \
    "  --user USER --password PW  user and password [NATS_USER, NATS_PASSWORD]\n"         \
    "  --token TOKEN              NATS authentication token [NATS_TOKEN]\n"               \
    "  --creds FILE               user JWT and NKey seed (.creds, as nsc writes) [NATS_CREDS]\n" \
    "  --nkey FILE                NKey user seed file (SU...) [NATS_NKEY]\n"               \
    "  --tlscert FILE --tlskey FILE  client certificate and key for mutual TLS\n"         \
    "                             [NATS_CERT, NATS_KEY]\n"                                \
    "  --tlsca FILE               CA that signed the server's certificate [NATS_CA]\n"    \
    "  --connection-name NAME     name shown in the server's monitoring\n"              \
    "  --context NAME             natscli context to read [NATS_CONTEXT]; default: the one\n" \
    "                             selected in $XDG_CONFIG_HOME/nats/context.txt (read from\n" \
    "                             $XDG_CONFIG_HOME/nats/context/NAME.json, XDG_CONFIG_HOME\n" \
    "                             defaulting to ~/.config); honours url, user, password,\n" \
    "                             token, creds, nkey, cert, key, ca\n"                      \
    "  Secrets never appear in messages, errors or --json (URLs lose their user info).\n"

/* --help text of the download flags in CLI_FLAGS_COMMON. */
#define DOWNLOAD_HELP                                                                      \
    "  --max-download BYTES       refuse link payloads larger than BYTES\n"               \
    "  --retries N                count download retries instead of --retry-budget\n"     \
    "  --base-delay MS            first back-off delay (default 100)\n"                    \
    "  --max-delay MS             longest back-off delay (default 5000)\n"                 \
    "  --retry-budget SECONDS     retry a download (resuming it) until no byte came for\n" \
    "                             SECONDS (default 30; 0: count --retries, default 5)\n"  \
    "  --download-timeout SECONDS whole download, retries included (default 600; 0: none)\n" \
    "  --idle-timeout SECONDS     an attempt receiving nothing this long fails (default 30;\n" \
    "                             0: none)\n"                                              \
    "  --fileserver-ca FILE       trust the CA certificates in FILE (PEM) for an https\n"  \
    "                             file server, instead of the system's\n"                  \
    "  --fileserver-cert FILE     client certificate (PEM) for a file server that asks\n"  \
    "  --fileserver-key FILE      its private key (PEM)\n"

/* A payload flag as given, kept in command-line order. */
typedef struct cli_payload_arg {
    int id;          /* F_TEXT, F_DICT, F_FILE or F_CSV */
    const char *arg; /* "NAME=VALUE" (a view into argv) */
} cli_payload_arg;

/* Everything the flags say; strings are views into argv. */
typedef struct cli_args {
    const char *subject;
    const char *server, *fileserver;
    const char **origins;
    size_t n_origins;
    bool has_threshold;
    uint64_t threshold;
    const char *sender_name;
    bool json, quiet;
    const char *fileserver_token;      /* bearer token for uploads (a secret) */
    const char *fileserver_token_file; /* ... read from this file */
    const char *fileserver_ca, *fileserver_cert, *fileserver_key;
    bool put, sha256;      /* PUT upload handler; sha256 on direct payloads too */
    uint64_t max_download; /* 0: none */
    /* Download back-off: each value counts only when its has_ flag is set. */
    bool has_backoff, has_retries, has_base_delay, has_max_delay;
    uint64_t retries, base_delay_ms, max_delay_ms;

    cli_payload_arg *payloads;
    size_t n_payloads;
    const char **links;
    size_t n_links;
    const char *correlation_id, *purpose, *receiver_name, *receiver_id;
    const char *reply_to, *reply_to_msg_id, *metadata;

    uint64_t count;     /* 0: no limit */
    int64_t timeout_ms; /* -1: none */
    const char *queue, *save_dir;
    bool echo;
    const char *exec;

    /* tables */
    bool csv_out;       /* listen --csv: also save table payloads as NAME.csv */
    bool has_rows;      /* --rows given */
    uint64_t rows;      /* table rows printed by listen (default 10) */

    /* JetStream (cli_jetstream.c); zero numbers mean the library's defaults */
    bool jetstream, new_only;
    const char *durable, *msg_id, *stream, *subjects, *storage;
    uint64_t from_seq, batch, max_deliver, replicas;
    int64_t from_time_ms; /* Unix time; 0: not given */
    int64_t ack_wait_ms, max_age_ms, dupe_window_ms;

    /* Object Store */
    const char *store; /* --store nats-os://BUCKET: link payloads go into that bucket */

    /* connecting to a secured NATS (issue 10); NULL: from the environment or a context */
    const char *user, *password, *nats_token, *creds, *nkey, *tlscert, *tlskey, *tlsca;
    const char *connection_name, *context;
    /* receive limits (cli_limits.c): 0 keeps the library's default */
    uint64_t max_payloads, max_link_bytes, max_dataname, max_metadata_depth, max_envelope_bytes;
    /* downloads: -1 when not given (the library's defaults) */
    int64_t download_timeout_ms, idle_timeout_ms, retry_budget_ms;
    /* issue 13, cliout: --json --data (payload bytes and table rows), --no-fetch */
    bool data, no_fetch;
    /* issue 13, clireply: reply (reply_exec.c); 0: the defaults */
    bool no_queue;
    int64_t exec_timeout_ms;
    uint64_t exec_max_output;
    /* JetStream management, ephemeral listen (issue 13, clijs) */
    bool force;               /* -f: no confirmation */
    bool start_all, start_last;
    const char *purge_subject; /* stream purge --subject */
    uint64_t keep;             /* stream purge --keep; 0: none */
    int64_t max_msgs, max_bytes; /* stream edit; -1: no limit */
    unsigned js_given;         /* NB_JS_SET_* of the stream settings given (stream edit) */
    /* issue 13, clisend: send --interval (-1 when not given) */
    int64_t interval_ms;
    /* issue 16, link: --no-auto-link */
    bool no_auto_link;
} cli_args;

/* issue 13, cliout: the output flags of listen and request, and their --help lines. */
#define CLI_FLAGS_OUTPUT {"data", F_DATA, false}, {"no-fetch", F_NO_FETCH, false}
#define OUTPUT_HELP                                                                        \
    "  --data                     with --json, also the bytes of every payload in \"data\":\n" \
    "                             binary, image, audio and video as base64, tables as\n"  \
    "                             JSON rows (at most --rows, \"truncated\" when cut)\n"   \
    "  --no-fetch                 do not download link payloads: print their url, size\n" \
    "                             and the sha256 the sender put in their metadata\n"


/* The JetStream flags of send and listen, and their --help lines. */
#define CLI_FLAGS_JS_SEND                                                               \
    {"jetstream", F_JETSTREAM, false}, {"msg-id", F_MSG_ID, true}, {"stream", F_STREAM, true}
#define CLI_FLAGS_JS_LISTEN                                                             \
    {"jetstream", F_JETSTREAM, false}, {"durable", F_DURABLE, true},                    \
        {"stream", F_STREAM, true}, {"from-seq", F_FROM_SEQ, true},                     \
        {"from-time", F_FROM_TIME, true}, {"new", F_NEW, false}, {"batch", F_BATCH, true}, \
        {"ack-wait", F_ACK_WAIT, true}, {"max-deliver", F_MAX_DELIVER, true},           \
        {"all", F_ALL, false}, {"last", F_LAST, false}, {"since", F_SINCE, true}
#define JS_SEND_HELP                                                                       \
    "JetStream:\n"                                                                          \
    "  --jetstream                store the message in the stream holding SUBJECT and\n"   \
    "                             print the ack: msg_id, stream, sequence (duplicate);\n"  \
    "                             with --json, one object: the envelope with an \"ack\"\n" \
    "                             member {\"stream\",\"seq\",\"duplicate\"}\n"              \
    "  --msg-id ID                the envelope's msg_id, the stream's dedupe key (also\n"  \
    "                             without --jetstream: the msg_id of a core send)\n"      \
    "  --stream NAME              fail unless stream NAME stores it\n"
#define JS_LISTEN_HELP                                                                     \
    "JetStream (at-least-once: a message is acked once printed):\n"                       \
    "  --jetstream                pull from an ephemeral consumer, deleted when listen\n"  \
    "                             exits (by the server 30 s after a crash)\n"             \
    "  --durable NAME             pull from durable consumer NAME instead (made when\n"    \
    "                             missing; it keeps its place between runs)\n"            \
    "  --stream NAME              the stream (default: the one holding SUBJECT)\n"         \
    "  --all | --last | --new | --since DURATION | --from-seq N | --from-time TIME\n"     \
    "                             where the consumer starts (default --all): every\n"     \
    "                             message, the newest one, only new ones, those of the\n"  \
    "                             last DURATION (1h, 30m, 10s, 1h30m, 2d, 500ms), from\n"  \
    "                             a sequence, from TIME (RFC 3339 or a DURATION ago);\n"  \
    "                             an existing durable keeps its place\n"                  \
    "  --batch N                  messages per pull (default 64)\n"                         \
    "  --ack-wait SECONDS         redelivered when not acked in time (default 30)\n"       \
    "  --max-deliver N            deliveries before giving up (default: no limit)\n"

/* JetStream flags are parsed by cli_jetstream.c; CLI_CONTINUE or CLI_USAGE. */
#define CLI_IS_JETSTREAM_FLAG(id)                                                       \
    (((id) >= F_JETSTREAM && (id) <= F_DUPE_WINDOW) || ((id) >= F_FORCE && (id) <= F_MAX_BYTES))
int cli_store_jetstream_flag(cli_args *a, const cli_flag *f, const char *v);
/* Flags that only go together (--durable needs --jetstream, ...): CLI_CONTINUE or CLI_USAGE. */
int cli_js_check(const cli_args *a, bool listen);
/* send --jetstream: stores e in the stream of a->subject and prints the ack. Exit code. */
int cli_js_publish(const cli_args *a, nb_client *c, nb_envelope *e);
/* listen --jetstream: a durable pull consumer printing as listen does. Exit code. */
int cli_js_listen(nb_client *c, const cli_args *a);
/*
 * JetStream management (issue 13, clijs): asks "QUESTION [y/N]" on the terminal
 * unless -f; CLI_CONTINUE when confirmed, else an exit code after an error line
 * (stdin not a terminal and no -f: refused, naming -f; never blocks a script).
 */
int cli_js_confirm(const cli_args *a, const char *question);
/* "2026-03-13T07:02:50.443Z" for Unix milliseconds, into out[32]. */
void cli_js_time_text(int64_t ms, char out[32]);

/* ---- receive limits (cli_limits.c) ---------------------------------------- */

/* The limit flags of listen, reply and request, and their --help lines. */
#define CLI_FLAGS_LIMITS                                                                \
    {"max-payloads", F_MAX_PAYLOADS, true}, {"max-link-bytes", F_MAX_LINK_BYTES, true}, \
        {"max-dataname", F_MAX_DATANAME, true},                                         \
        {"max-metadata-depth", F_MAX_METADATA_DEPTH, true},                             \
        {"max-envelope-bytes", F_MAX_ENVELOPE_BYTES, true}
#define LIMITS_HELP                                                                        \
    "Receive limits (a message over one is refused, naming it):\n"                         \
    "  --max-payloads N           payloads per message (default 256)\n"                    \
    "  --max-link-bytes BYTES     link payload bytes per message, added up before any\n"   \
    "                             download (default 1073741824)\n"                         \
    "  --max-dataname BYTES       longest dataname (default 1024)\n"                       \
    "  --max-metadata-depth N     deepest metadata nesting (default 64)\n"                 \
    "  --max-envelope-bytes BYTES largest message text accepted (default 67108864)\n"
#define CLI_IS_LIMIT_FLAG(id) ((id) >= F_MAX_PAYLOADS && (id) <= F_MAX_ENVELOPE_BYTES)
/* Stores one limit flag (a whole number >= 1): CLI_CONTINUE or CLI_USAGE. */
int cli_store_limit_flag(cli_args *a, const cli_flag *f, const char *v);
/* Sets the limits given on o; on failure *what names the flag. */
nb_status cli_apply_limits(const cli_args *a, nb_options *o, const char **what);

/* ---- reply --exec (issue 13, clireply: reply_exec.c) ---------------------- */

#define CLI_IS_REPLY_FLAG(id) ((id) >= F_NO_QUEUE && (id) <= F_EXEC_MAX_OUTPUT)
/* Stores --no-queue, --exec-timeout or --exec-max-output: CLI_CONTINUE or CLI_USAGE. */
int cli_store_reply_flag(cli_args *a, const cli_flag *f, const char *v);
/*
 * The message of an error reply (msg_purpose "error", text payload "error", as
 * `reply --exec` sends when its command fails), or NULL when e is not one.
 */
const char *cli_reply_error_message(const nb_envelope *e);
/* rc, or CLI_RUNTIME after printing "SUBJECT answered with an error: MESSAGE" for one. */
int cli_reply_error_check(const nb_envelope *reply, const char *subject, int rc);

/* What cli_parse returns besides an exit code: carry on with the command. */
#define CLI_CONTINUE (-1)

/*
 * Parses argv (argv[0] is the subcommand) against table into a. --help prints
 * usage to stdout and returns CLI_OK; a bad flag prints one line and returns
 * CLI_USAGE; otherwise CLI_CONTINUE. A SUBJECT is required. Free a with
 * cli_args_free whatever the result.
 */
int cli_parse(int argc, char **argv, const cli_flag *table, const char *usage, cli_args *a);
void cli_args_free(cli_args *a);

/* ---- completion (completion.c) --------------------------------------------- */

/*
 * When set, cli_parse stores the flag table it was given in *cli_flag_probe and
 * returns CLI_OK without parsing or printing: `natsbridge completion` runs each
 * subcommand once this way, so that completion follows the very tables the
 * subcommands parse with.
 */
extern const cli_flag **cli_flag_probe;

/* Reads a whole file into *out (malloc'd, NUL-terminated) and *len; 0 or an errno. */
int cli_read_file(const char *path, char **out, size_t *len);

/* Whole-string unsigned and seconds parsers; a bad value is a usage error naming flag. */
int cli_parse_u64(const char *flag, const char *text, uint64_t *out);
int cli_parse_seconds(const char *flag, const char *text, int64_t *ms);

/* ---- building ------------------------------------------------------------ */

/*
 * Connecting to a secured NATS (cli_connect.c): the server URL, credentials
 * and TLS files from the flags, else the NATS_* environment, else the natscli
 * context, applied to o. CLI_CONTINUE, or an exit code after an error line
 * (1 for a bad context or URL, 2 for credential or certificate files).
 */
int cli_apply_connection(const cli_args *a, nb_options *o);

/* A natscli context's fields (cli_connect.c); every field malloc'd or NULL. */
typedef struct cli_context {
    char *name;
    char *url, *user, *password, *token, *creds, *nkey, *cert, *key, *ca;
} cli_context;
/*
 * Loads natscli context name (NULL: the one selected in context.txt, if any)
 * into ctx. CLI_CONTINUE (ctx->name stays NULL when no context is selected),
 * or CLI_USAGE after an error line. Free with cli_context_free.
 */
int cli_context_load(const char *name, cli_context *ctx);
void cli_context_free(cli_context *ctx);

/* Options from the connection flags (and download_dir = --save-dir). Exit code. */
int cli_build_options(const cli_args *a, nb_options **out);
/* Connects with cli_build_options; an exit code (CLI_RUNTIME when unreachable). */
int cli_connect(const cli_args *a, nb_client **out);
/* Closes and frees c without reporting its own disconnect (NULL is fine). */
void cli_close(nb_client *c);
/* The envelope of the payload and envelope flags; CLI_USAGE on a bad flag value. */
int cli_build_envelope(const cli_args *a, nb_envelope **out);

/* ---- send and request (issue 13, part clisend) --------------------------- */

/*
 * The payload of --file NAME=VALUE (cli_send.c): VALUE is PATH[:TYPE];
 * PATH "-" or /dev/stdin streams standard input. CLI_CONTINUE, or an exit
 * code after an error line (an unknown TYPE is named).
 */
int cli_file_payload(const char *name, const char *value, nb_payload **p);
/* "; allow it with --allow-origin ORIGIN" when msg is an origin refusal, else "" (cli_fail's too). */
const char *cli_hint(const char *msg);
/* The one-letter form of the long flag name ('J' for "json"), or '\0' (for completion). */
char cli_short_flag(const char *name);
/* A DURATION: a decimal number with ms, s, m or h (no unit: seconds). CLI_CONTINUE or CLI_USAGE. */
int cli_parse_duration(const char *flag, const char *text, int64_t *ms);

/* ---- output -------------------------------------------------------------- */

/*
 * The listen-style JSON object of e, one compact line without newline
 * (free with cJSON_free; NULL when memory ran out). paths[i], when paths and it are not
 * NULL, is reported as payload i's "path".
 */
char *cli_render_json(const nb_envelope *e, char *const *paths);
/*
 * Prints a received envelope as listen does: saves its payloads under
 * a->save_dir when set, then one JSON line (--json) or a human summary.
 * stdout is flushed. CLI_OK, or CLI_RUNTIME when stdout fails.
 */
int cli_print_envelope(const cli_args *a, const nb_envelope *e);
/* Output flags that only go together (--data needs --json): CLI_CONTINUE or CLI_USAGE. */
int cli_output_check(const cli_args *a);

/* ---- help topics (help_topics.c, issue 13) ---------------------------------- */

/* Prints the topics of `natsbridge help TOPIC`, one line each, for the main --help. */
void cli_help_list_topics(void);
/* The topic names, each after a space, for completion. */
void cli_help_topic_names(void);
/* `natsbridge help TOPIC`: prints the topic and returns CLI_OK; CLI_CONTINUE when no topic has that name. */
int cli_help_topic(const char *topic);

/* ---- tables (csv.c, table_print.c) --------------------------------------- */

/* A table from a CSV file; CLI_CONTINUE, or CLI_USAGE naming the file, line and column. */
int cli_csv_table(const char *path, nb_table **out);
/* A "table" payload (Arrow IPC) from a CSV file, for --csv NAME=FILE.csv. */
int cli_csv_payload(const char *name, const char *path, nb_payload **out);
/* t as CSV text: a header row, RFC 4180 quoting, CRLF (malloc'd; NULL when out of memory). */
char *cli_csv_text(const nb_table *t, size_t *len);
/* "int64", "timestamp[ms, UTC]", ... of a column into buf; snprintf's result. */
int cli_table_type_text(const nb_column_view *v, char *buf, size_t n);
/* Prints t as aligned text columns (names, types, at most max_rows rows), lines indented. */
void cli_print_table(const nb_table *t, int64_t max_rows, const char *indent);

/* ---- receiving ----------------------------------------------------------- */

/* Milliseconds on a monotonic clock. */
int64_t cli_now_ms(void);

/* Set by SIGINT and SIGTERM once cli_catch_signals() was called. */
extern volatile sig_atomic_t cli_stop;
void cli_catch_signals(void);

/*
 * What cli_receive_loop does with each envelope (taken): returns 1 when it
 * counts towards --count, 0 when not, or a negative exit code to stop with.
 */
typedef int (*cli_handler)(nb_client *c, nb_envelope *env, const cli_args *a, void *ctx);

/*
 * Subscribes to a->subject (in a->queue) and hands every envelope to fn until
 * a->count were counted (CLI_OK), --timeout passed (CLI_TIMEOUT) or a signal
 * came (CLI_OK). Bad messages and dropped ones are reported and skipped.
 */
int cli_receive_loop(nb_client *c, const cli_args *a, cli_handler fn, void *ctx);

#endif
