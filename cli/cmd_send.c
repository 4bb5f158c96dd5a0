/* SPDX-License-Identifier: MIT */
/*
 * cmd_send.c - `natsbridge send` (publish one message) and `natsbridge
 * request` (publish one and print the reply), both built from the payload
 * flags of cli_common.c.
 */
#include "cli_common.h"

#include <string.h>

#define PAYLOAD_HELP                                                                       \
    "Payloads (at least one; repeatable, kept in order):\n"                                \
    "  --text NAME=STRING         a text payload\n"                                        \
    "  --dict NAME=JSON           a dictionary payload from JSON text\n"                   \
    "  --dict NAME=@FILE          a dictionary payload from a JSON file\n"                 \
    "  --file NAME=PATH[:TYPE]    a payload streamed from a file; TYPE is text,\n"         \
    "                             dictionary, table, image, audio, video or binary\n"      \
    "                             (default binary)\n"                                      \
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
    "  --store nats-os://BUCKET   put link payloads into that JetStream Object Store\n"    \
    "                             bucket (made when missing) instead of the file server;\n" \
    "                             request: the reply's nats-os:// links may come from it\n" \
    DOWNLOAD_HELP

static const char send_usage[] =
    "Usage: natsbridge send SUBJECT PAYLOAD... [OPTION]...\n"
    "Publishes one message on SUBJECT and prints its msg_id.\n\n" PAYLOAD_HELP JS_SEND_HELP
    "Output:\n"
    "  --json                     print the envelope exactly as published\n"
    "  --quiet                    do not print the msg_id\n"
    "  --help                     show this help\n"
    "Exit status: 0 sent (the server has it), 1 usage error, 2 connection or runtime\n"
    "error (also a refused login, a TLS failure, a publish the server refused: permissions\n"
    "violation, or a message the server did not confirm).\n";

static const char request_usage[] =
    "Usage: natsbridge request SUBJECT PAYLOAD... [OPTION]...\n"
    "Sends one message on SUBJECT and prints the reply as `natsbridge listen` does.\n\n"
    PAYLOAD_HELP
    "Reply:\n"
    "  --timeout SECONDS          how long to wait for the reply (default 5)\n"
    "  --save-dir DIR             save the reply's payloads to DIR/<msg_id>/<dataname>\n"
    LIMITS_HELP
    "  --json                     print the reply as one JSON line\n"
    OUTPUT_HELP /* issue 13, cliout */
    "  --rows N                   table rows printed, and in \"data\" with --data (default 10)\n"
    "  --quiet                    no informational messages on stderr\n"
    "  --help                     show this help\n"
    "Exit status: 0 answered, 1 usage error, 2 connection or runtime error (also when\n"
    "nobody listens on SUBJECT), 3 no reply in time.\n";

static const cli_flag send_flags[] = {CLI_FLAGS_COMMON, CLI_FLAGS_SENDER, CLI_FLAGS_PAYLOAD,
                                      {"json", F_JSON, false}, {"store", F_STORE, true},
                                      CLI_FLAGS_JS_SEND, CLI_FLAGS_END};

static const cli_flag request_flags[] = {CLI_FLAGS_COMMON,         CLI_FLAGS_SENDER,
                                         CLI_FLAGS_PAYLOAD,        {"json", F_JSON, false},
                                         {"timeout", F_TIMEOUT, true},
                                         {"save-dir", F_SAVE_DIR, true},
                                         {"store", F_STORE, true}, CLI_FLAGS_LIMITS,
                                         /* issue 13, cliout: output of the reply */
                                         CLI_FLAGS_OUTPUT, {"rows", F_ROWS, true},
                                         CLI_FLAGS_END};

static int publish(const cli_args *a, nb_client *c, nb_envelope *e)
{
    if (a->jetstream)
        return cli_js_publish(a, c, e);
    nb_status s = nb_client_send(c, a->subject, e);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    /* Exit 0 only once the server has the message: the confirmation's flush also
     * makes a refused publish (permissions violation) an error, not a lost message. */
    if ((s = nb_client_confirm(c, 5000)))
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
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to stdout");
        return CLI_RUNTIME;
    }
    return CLI_OK;
}

static int ask(const cli_args *a, nb_client *c, nb_envelope *e)
{
    nb_envelope *reply = NULL;
    nb_status s = nb_client_request(c, a->subject, e, a->timeout_ms, &reply);
    if (s == NB_TIMEOUT)
        return cli_fail(CLI_TIMEOUT, s, NULL);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
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
    if (rc == CLI_CONTINUE)
        rc = cli_js_check(&a, false);
    if (rc == CLI_CONTINUE) {
        if (act == ask && a.timeout_ms < 0)
            a.timeout_ms = 5000;
        rc = cli_build_envelope(&a, &e);
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
