/* SPDX-License-Identifier: MIT */
/*
 * cmd_listen.c - `natsbridge listen`: prints (and optionally saves) every
 * message arriving on a subject.
 */
#include "cli_common.h"

static const char listen_usage[] =
    "Usage: natsbridge listen SUBJECT [OPTION]...\n"
    "Prints every message arriving on SUBJECT (wildcards allowed): a summary per\n"
    "message, or with --json one JSON object per line.\n\n"
    "  --count N                  stop after N messages (exit 0)\n"
    "  --timeout SECONDS          overall time limit, fractions allowed (exit 3);\n"
    "                             default: until interrupted (exit 0)\n"
    "  --queue GROUP              join queue group GROUP (each message goes to one member)\n"
    "  --save-dir DIR             save payloads to DIR/<msg_id>/<dataname>\n"
    "  --json                     one compact JSON object per message (a table payload\n"
    "                             also gets \"rows\" and \"columns\", a link its \"url\");\n"
    "                             the fields: natsbridge help json\n"
    OUTPUT_HELP
    "  --rows N                   table rows printed per table payload, and in \"data\"\n"
    "                             with --data (default 10)\n"
    "  --csv                      with --save-dir, also save tables as NAME.csv\n"
    NATS_CONNECT_HELP
    "  --fileserver URL           file server whose links may be downloaded\n"
    "  --allow-origin ORIGIN      also download links from ORIGIN (repeatable); an\n"
    "                             Object Store bucket is nats-os://BUCKET\n"
    "  --store nats-os://BUCKET   fetch nats-os:// links from BUCKET (others need\n"
    "                             --allow-origin)\n"
    DOWNLOAD_HELP
    JS_LISTEN_HELP
    LIMITS_HELP
    "  --quiet                    no informational messages on stderr\n"
    "  --help                     show this help\n"
    "Bad or dropped messages are reported on stderr and listening goes on.\n"
    "Exit status: 0 done or interrupted, 1 usage error, 2 connection or runtime error\n"
    "(also a refused login, a TLS failure, or a subject the server does not let this user\n"
    "subscribe to: permissions violation), 3 timeout.\n"
    "Examples:\n"
    "  natsbridge listen 'orders.>' --count 1 --timeout 30\n"
    "      wait up to 30 s for one message under orders. and print its summary\n"
    "  natsbridge listen scans --json --no-fetch | jq '.payloads[].url // empty'\n"
    "      the URLs of link payloads, nothing downloaded\n"
    "  natsbridge listen reports --fileserver http://127.0.0.1:8080 --save-dir in --csv\n"
    "      save every payload under in/<msg_id>/, tables also as CSV\n";

static const cli_flag listen_flags[] = {
    CLI_FLAGS_COMMON,           {"json", F_JSON, false},        {"count", F_COUNT, true},
    {"timeout", F_TIMEOUT, true}, {"queue", F_QUEUE, true}, {"save-dir", F_SAVE_DIR, true},
    {"rows", F_ROWS, true},       {"csv", F_CSV, false},
    {"store", F_STORE, true}, /* the bucket nats-os:// links may come from */
    CLI_FLAGS_OUTPUT,         /* issue 13, cliout */
    CLI_FLAGS_JS_LISTEN, CLI_FLAGS_LIMITS, CLI_FLAGS_END};

static int print_one(nb_client *c, nb_envelope *env, const cli_args *a, void *ctx)
{
    (void)c;
    (void)ctx;
    int rc = cli_print_envelope(a, env);
    nb_envelope_destroy(env);
    return rc == CLI_OK ? 1 : -rc;
}

int cmd_listen(int argc, char **argv)
{
    cli_args a;
    nb_client *c = NULL;
    int rc = cli_parse(argc, argv, listen_flags, listen_usage, &a);
    if (rc == CLI_CONTINUE)
        rc = cli_js_check(&a, true);
    if (rc == CLI_CONTINUE)
        rc = cli_output_check(&a);
    if (rc == CLI_CONTINUE) {
        cli_catch_signals();
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = a.jetstream ? cli_js_listen(c, &a) : cli_receive_loop(c, &a, print_one, NULL);
    }
    cli_close(c);
    cli_args_free(&a);
    return rc;
}
