/* SPDX-License-Identifier: MIT */
/*
 * cmd_send.c - `natsbridge send` (publish one message, or --count of them)
 * and `natsbridge request` (publish one and print the reply), both built from
 * the payload flags of cli_common.c. natscli's names `pub` and `req` run them too.
 */
#include "cli_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PAYLOAD_HELP                                                                       \
    "Payloads (at least one; repeatable, kept in order):\n"                                \
    "  --text NAME=STRING         a text payload\n"                                        \
    "  --dict NAME=JSON           a dictionary payload from JSON text\n"                   \
    "  --dict NAME=@FILE          a dictionary payload from a JSON file\n"                 \
    "  --file NAME=PATH[:TYPE]    a payload streamed from a file; TYPE is text,\n"         \
    "                             dictionary, table, image, audio, video or binary\n"      \
    "                             (default binary); PATH - (or /dev/stdin) reads standard\n" \
    "                             input, streamed by link when it reaches --threshold\n"  \
    "                             (no temporary file), else sent direct\n"                \
    "  --csv NAME=FILE.csv        a table payload (Arrow IPC) from a CSV file with a\n"    \
    "                             header row; types inferred (int64, float64, bool,\n"     \
    "                             utf8); empty cells are nulls\n"                          \
    "  --link NAME                send payload NAME by link whatever its size\n"           \
    "Envelope:\n"                                                                          \
    "  --correlation-id ID  --purpose P  --sender-name N  --receiver-name N\n"             \
    "  --receiver-id ID  --reply-to SUBJECT  --reply-to-msg-id ID\n"                       \
    "  --metadata JSON            envelope metadata (a JSON object)\n"                     \
    NATS_CONNECT_HELP                                                                      \
    "Links:\n"                                                                             \
    "  --fileserver URL           file server for link payloads (default "                 \
    NB_DEFAULT_FILESERVER_URL ")\n"                                                        \
    "  --threshold BYTES          payloads this large or larger go by link (default "      \
    "1000000)\n"                                                                           \
    "  --allow-origin ORIGIN      also download links from ORIGIN (repeatable); an\n"    \
    "                             Object Store bucket is nats-os://BUCKET\n"             \
    "  --fileserver-token TOKEN   bearer token for uploads to the file server (also\n"     \
    "                             $NB_FILESERVER_TOKEN)\n"                                 \
    "  --fileserver-token-file F  read that token from the first line of file F\n"          \
    "  --put                      upload by HTTP PUT instead of the Plik API\n"           \
    "  --sha256                   direct payloads carry metadata.sha256 too\n"            \
    "  --no-auto-link             refuse an envelope over the server's max_payload\n"      \
    "                             instead of sending its largest payloads by link\n"      \
    "  --store nats-os://BUCKET   put link payloads into that JetStream Object Store\n"    \
    "                             bucket (made when missing) instead of the file server;\n" \
    "                             request: the reply's nats-os:// links may come from it\n" \
    DOWNLOAD_HELP

static const char send_usage[] =
    "Usage: natsbridge send SUBJECT PAYLOAD... [OPTION]...   (also: natsbridge pub)\n"
    "Publishes one message on SUBJECT (no wildcard) and prints its msg_id.\n\n" PAYLOAD_HELP
    JS_SEND_HELP
    "Load checks:\n"
    "  --count N                  publish N messages (each its own msg_id unless\n"
    "                             --msg-id), then print a summary line on stderr\n"
    "  --interval DURATION        wait this long between them (100ms, 1s, 2m)\n"
    "Output:\n"
    "  -J, --json                 print the envelope exactly as published\n"
    "  -q, --quiet                do not print the msg_id (nor the --count summary)\n"
    "  --help                     show this help\n"
    "Exit status: 0 sent (the server has it), 1 usage error, 2 connection or runtime\n"
    "error (also a refused login, a TLS failure, a publish the server refused: permissions\n"
    "violation, or a message the server did not confirm).\n"
    "Examples:\n"
    "  natsbridge send orders.new --text note=hello --dict order='{\"id\":7}'\n"
    "  tar c dir | natsbridge pub backups.in --file dir.tar=- --fileserver http://fs:8080\n"
    "  natsbridge send load.test --text n=1 --count 1000 --interval 10ms\n";

static const char request_usage[] =
    "Usage: natsbridge request SUBJECT PAYLOAD... [OPTION]...   (also: natsbridge req)\n"
    "Sends one message on SUBJECT and prints the reply as `natsbridge listen` does.\n\n"
    PAYLOAD_HELP
    "Reply:\n"
    "  --timeout SECONDS          how long to wait for the reply (default 5)\n"
    "  --save-dir DIR             save the reply's payloads to DIR/<msg_id>/<dataname>\n"
    LIMITS_HELP
    "  -J, --json                 print the reply as one JSON line\n"
    OUTPUT_HELP /* issue 13, cliout */
    "  --rows N                   table rows printed, and in \"data\" with --data (default 10)\n"
    "  -q, --quiet                no informational messages on stderr\n"
    "  --help                     show this help\n"
    "Exit status: 0 answered, 1 usage error, 2 connection or runtime error (also when\n"
    "nobody listens on SUBJECT), 3 no reply in time.\n"
    "Examples:\n"
    "  natsbridge request svc.echo --text q=ping --timeout 2\n"
    "  natsbridge req svc.resize --file img=photo.jpg:image --save-dir out --json\n"
    "  jq -c . query.json | natsbridge req svc.sql --file q=-:dictionary\n";

static const cli_flag send_flags[] = {CLI_FLAGS_COMMON, CLI_FLAGS_SENDER, CLI_FLAGS_PAYLOAD,
                                      {"json", F_JSON, false}, {"store", F_STORE, true},
                                      CLI_FLAGS_JS_SEND,
                                      /* issue 13: load checks */
                                      {"count", F_COUNT, true}, {"interval", F_INTERVAL, true},
                                      CLI_FLAGS_END};

static const cli_flag request_flags[] = {CLI_FLAGS_COMMON,         CLI_FLAGS_SENDER,
                                         CLI_FLAGS_PAYLOAD,        {"json", F_JSON, false},
                                         {"timeout", F_TIMEOUT, true},
                                         {"save-dir", F_SAVE_DIR, true},
                                         {"store", F_STORE, true}, CLI_FLAGS_LIMITS,
                                         /* issue 13, cliout: output of the reply */
                                         CLI_FLAGS_OUTPUT, {"rows", F_ROWS, true},
                                         CLI_FLAGS_END};

/* ---- checks before anything is built (issue 13) ---------------------------- */

/* A publish goes to one literal subject: no '*' or '>' token, no empty token. */
static int check_publish_subject(const char *subject)
{
    for (const char *tok = subject;; tok++) {
        size_t n = strcspn(tok, ".");
        if (n == 0) {
            cli_error("SUBJECT '%s' has an empty token (a leading, trailing or double '.')",
                      subject);
            return CLI_USAGE;
        }
        if (n == 1 && (*tok == '*' || *tok == '>')) {
            cli_error("SUBJECT '%s' has the wildcard '%c': a message goes to one subject "
                      "(wildcards are for listen)",
                      subject, *tok);
            return CLI_USAGE;
        }
        tok += n;
        if (!*tok)
            return CLI_CONTINUE;
    }
}

static const char *payload_flag(int id)
{
    return id == F_TEXT ? "--text" : id == F_DICT ? "--dict" : id == F_CSV ? "--csv" : "--file";
}

/* Two payloads of one name would overwrite each other at the receiver (--save-dir). */
static int check_datanames(const cli_args *a)
{
    for (size_t i = 0; i < a->n_payloads; i++) {
        const char *eq = strchr(a->payloads[i].arg, '=');
        size_t len = eq ? (size_t)(eq - a->payloads[i].arg) : 0;
        for (size_t j = 0; len && j < i; j++)
            if (strncmp(a->payloads[j].arg, a->payloads[i].arg, len + 1) == 0) {
                cli_error("payload name '%.*s' is given twice (%s and %s): datanames must be "
                          "unique in a message",
                          (int)len, a->payloads[i].arg, payload_flag(a->payloads[j].id),
                          payload_flag(a->payloads[i].id));
                return CLI_USAGE;
            }
    }
    return CLI_CONTINUE;
}

/* ---- send ------------------------------------------------------------------ */

/* A fresh UUID v4 msg_id for each message of --count after the first. */
static int fresh_msg_id(nb_envelope *e)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        cli_error("cannot make a msg_id: getrandom: %s", strerror(errno));
        return CLI_RUNTIME;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char id[37];
    snprintf(id, sizeof id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    nb_status s = nb_envelope_set_msg_id(e, id);
    return s ? cli_fail(CLI_RUNTIME, s, "msg_id") : CLI_CONTINUE;
}

/* One core publish; confirmed (the server has it) when confirm is set. */
static int publish_core(const cli_args *a, nb_client *c, nb_envelope *e, bool confirm)
{
    nb_status s = nb_client_send(c, a->subject, e);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    /* Exit 0 only once the server has the message: the confirmation's flush also
     * makes a refused publish (permissions violation) an error, not a lost message. */
    if (confirm && (s = nb_client_confirm(c, 5000)))
        return cli_fail(CLI_RUNTIME, s,
                        s == NB_PERMISSION ? NULL : "the message may not have reached the server");
    if (a->json) {
        size_t len = 0;
        const char *json = nb_envelope_json(e, &len);
        fwrite(json ? json : "", 1, json ? len : 0, stdout);
        putchar('\n');
    } else if (!a->quiet) {
        printf("%s\n", nb_envelope_msg_id(e));
    }
    return cli_stdout_checked(CLI_OK);
}

/* Sleeps ms (a signal cuts it short: cli_stop is then set). */
static void pause_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "sent 50 messages (61234 bytes) in 0.512 s: 97.7 msg/s, 116.8 KiB/s" */
static void print_summary(const cli_args *a, uint64_t sent, uint64_t bytes, int64_t ms)
{
    if (a->quiet)
        return;
    double secs = (double)(ms > 0 ? ms : 1) / 1000.0;
    fprintf(stderr, "natsbridge send: sent %llu message%s (%llu bytes) in %.3f s: %.1f msg/s, "
                    "%.1f KiB/s\n",
            (unsigned long long)sent, sent == 1 ? "" : "s", (unsigned long long)bytes,
            (double)ms / 1000.0, (double)sent / secs, (double)bytes / 1024.0 / secs);
}

/*
 * Publishes the message --count times (once by default). Core publishes are
 * confirmed once, after the last: a load check measures the sending, and a
 * loss anywhere still fails the run.
 */
static int publish(const cli_args *a, nb_client *c, nb_envelope *e)
{
    uint64_t n = a->count ? a->count : 1, sent = 0, bytes = 0;
    int64_t start = cli_now_ms();
    int rc = CLI_OK;
    if (n > 1)
        cli_catch_signals(); /* Ctrl-C ends a long run with its summary */
    for (uint64_t i = 0; i < n && rc == CLI_OK && !cli_stop; i++) {
        if (i > 0 && !a->msg_id && (rc = fresh_msg_id(e)) != CLI_CONTINUE)
            break;
        rc = a->jetstream ? cli_js_publish(a, c, e) : publish_core(a, c, e, i + 1 == n);
        if (rc != CLI_OK)
            break;
        size_t len = 0;
        nb_envelope_json(e, &len);
        sent++;
        bytes += len;
        if (a->interval_ms > 0 && i + 1 < n)
            pause_ms(a->interval_ms);
    }
    if (rc == CLI_OK && cli_stop && !a->jetstream && sent > 0) { /* interrupted: confirm those sent */
        nb_status s = nb_client_confirm(c, 5000);
        if (s)
            rc = cli_fail(CLI_RUNTIME, s, "the messages may not have reached the server");
    }
    if (a->count && sent > 0)
        print_summary(a, sent, bytes, cli_now_ms() - start);
    return rc;
}

static int ask(const cli_args *a, nb_client *c, nb_envelope *e)
{
    nb_envelope *reply = NULL;
    nb_status s = nb_client_request(c, a->subject, e, a->timeout_ms, &reply);
    if (s) {
        /* The library says "request: ..."; the CLI's line already names the command. */
        const char *msg = nb_last_error();
        if (msg && strncmp(msg, "request: ", 9) == 0) {
            cli_error("%s%s", msg + 9, cli_hint(msg));
            return s == NB_TIMEOUT ? CLI_TIMEOUT : CLI_RUNTIME;
        }
        return cli_fail(s == NB_TIMEOUT ? CLI_TIMEOUT : CLI_RUNTIME, s, NULL);
    }
    int rc = cli_print_envelope(a, reply);
    rc = cli_reply_error_check(reply, a->subject, rc); /* issue 13, clireply: exit 2 on an error reply */
    nb_envelope_destroy(reply);
    return rc;
}

typedef int (*action_fn)(const cli_args *a, nb_client *c, nb_envelope *e);

/* parse, build (before connecting, so that usage errors never need a server), connect, act. */
static int run(int argc, char **argv, const cli_flag *flags, const char *usage, action_fn act)
{
    cli_args a;
    nb_envelope *e = NULL;
    nb_client *c = NULL;
    int rc = cli_parse(argc, argv, flags, usage, &a);
    if (rc == CLI_CONTINUE)
        rc = cli_output_check(&a); /* issue 13, cliout */
    if (rc == CLI_CONTINUE && act == ask && a.timeout_ms == 0) {
        cli_error("--timeout: must be at least 0.001 seconds");
        rc = CLI_USAGE;
    }
    if (rc == CLI_CONTINUE) {
        /* --msg-id also names a core send's msg_id (issue 13): only the other JetStream
         * flags need --jetstream. */
        cli_args js = a;
        js.msg_id = a.jetstream ? a.msg_id : NULL;
        rc = cli_js_check(&js, false);
    }
    if (rc == CLI_CONTINUE && a.interval_ms >= 0 && !a.count) {
        cli_error("--interval: only with --count N");
        rc = CLI_USAGE;
    }
    if (rc == CLI_CONTINUE)
        rc = check_publish_subject(a.subject);
    if (rc == CLI_CONTINUE)
        rc = check_datanames(&a);
    if (rc == CLI_CONTINUE) {
        if (act == ask && a.timeout_ms < 0)
            a.timeout_ms = 5000;
        rc = cli_build_envelope(&a, &e);
        nb_status s = rc == CLI_OK && a.msg_id ? nb_envelope_set_msg_id(e, a.msg_id) : NB_OK;
        if (s)
            rc = cli_fail(CLI_USAGE, s, "--msg-id");
        if (rc == CLI_OK)
            rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = act(&a, c, e);
    }
    nb_envelope_destroy(e);
    cli_close(c);
    cli_args_free(&a);
    return rc;
}

int cmd_send(int argc, char **argv) { return run(argc, argv, send_flags, send_usage, publish); }

int cmd_request(int argc, char **argv)
{
    return run(argc, argv, request_flags, request_usage, ask);
}
