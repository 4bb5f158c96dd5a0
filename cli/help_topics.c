/* SPDX-License-Identifier: MIT */
/*
 * help_topics.c - `natsbridge help TOPIC` (issue 13): what no single command's
 * --help holds: the environment the CLI reads, the exit codes, and the fields
 * of `listen --json`. tests/cli/helptopics.sh checks each against the source
 * (every getenv, the exit-code enum, every member of docs/cli-json.schema.json),
 * so that a new variable or field cannot be left out here unnoticed.
 */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>

static const char environment_text[] =
    "Environment variables natsbridge reads. A flag beats its variable, and a variable\n"
    "beats the selected natscli context (see `natsbridge send --help`).\n"
    "NATS connection (send, request, listen, reply, stream):\n"
    "  NATS_URL             NATS server(s), comma-separated (--server)\n"
    "  NATS_USER            user name (--user)\n"
    "  NATS_PASSWORD        password (--password)\n"
    "  NATS_TOKEN           authentication token (--token)\n"
    "  NATS_CREDS           .creds file: user JWT and NKey seed (--creds)\n"
    "  NATS_NKEY            NKey user seed file (--nkey)\n"
    "  NATS_CERT            client certificate for mutual TLS (--tlscert)\n"
    "  NATS_KEY             its private key (--tlskey)\n"
    "  NATS_CA              CA that signed the server's certificate (--tlsca)\n"
    "  NATS_CONTEXT         natscli context to read instead of the selected one (--context)\n"
    "  XDG_CONFIG_HOME      where natscli contexts are: $XDG_CONFIG_HOME/nats/context.txt\n"
    "                       and context/NAME.json\n"
    "  HOME                 ... defaulting to $HOME/.config when XDG_CONFIG_HOME is unset\n"
    "File server:\n"
    "  NB_FILESERVER_TOKEN  bearer token: sent with uploads by send, request and reply\n"
    "                       (--fileserver-token), required by `natsbridge fileserver` for\n"
    "                       uploads and deletes (--token)\n"
    "TLS (read by OpenSSL, for https file servers without --fileserver-ca):\n"
    "  SSL_CERT_FILE, SSL_CERT_DIR  the system's CA certificates\n"
    "Secrets read from these variables never appear in messages, errors or --json.\n";

static const char exit_codes_text[] =
    "Exit status of every natsbridge command:\n"
    "  0  success: sent (and, for send, confirmed by the server); request answered;\n"
    "     listen or reply done (--count reached) or stopped by SIGINT or SIGTERM\n"
    "  1  usage error: an unknown flag, a bad value or argument, flags that do not go\n"
    "     together; nothing was sent and no connection was made\n"
    "  2  connection or runtime error: server unreachable, login refused, TLS failure,\n"
    "     permissions violation, nobody listening on a request's subject, an upload or\n"
    "     download that failed, stdout that cannot be written\n"
    "  3  timeout: request got no reply in time; listen --timeout passed (after printing\n"
    "     what came)\n"
    "Bad messages received by listen and reply are reported on stderr and skipped: they\n"
    "do not change the exit status.\n";

static const char json_text[] =
    "`listen --json` and `request --json` print one JSON object per message, on one line;\n"
    "`reply --exec` gets the same object on its stdin. The JSON Schema (draft 2020-12) is\n"
    "docs/cli-json.schema.json in the source, installed as\n"
    "share/doc/natsbridge/cli-json.schema.json under the prefix (/usr/share/doc/natsbridge\n"
    "from the Debian package).\n"
    "Message members (strings are \"\" when the sender left them out):\n"
    "  correlation_id, msg_id, timestamp, send_to, msg_purpose, sender_name, sender_id,\n"
    "  receiver_name, receiver_id, reply_to, reply_to_msg_id, broker_url   strings\n"
    "  metadata        the envelope's metadata object\n"
    "  payloads        an array of objects with:\n"
    "Payload members:\n"
    "  dataname        its name\n"
    "  type            text, dictionary, binary, image, audio, video, table, arrowtable,\n"
    "                  jsontable, ... as on the wire\n"
    "  transport       \"direct\" (inside the message) or \"link\" (a URL to download)\n"
    "  encoding        as on the wire: base64, json, none, ...\n"
    "  size            byte count\n"
    "  sha256          hex SHA-256 of the bytes, or null; for a link not fetched, the one\n"
    "                  the sender put in its metadata\n"
    "  url             links: the URL as received, without userinfo\n"
    "  fetched         links: false with --no-fetch (not downloaded)\n"
    "  data            text: the text; dictionary: its JSON; jsontable: its rows; with\n"
    "                  --data also binary, image, audio, video as base64 and every table\n"
    "                  as an array of row objects (at most --rows); left out when the\n"
    "                  bytes are in a file (path) or were not fetched\n"
    "  truncated       with --data, tables: true when --rows cut the rows\n"
    "  rows            tables: the row count\n"
    "  columns         tables: [{\"name\": ..., \"type\": ...}] per column\n"
    "  table_error     a table that cannot be decoded: why\n"
    "  path            with --save-dir: the file it was saved to\n"
    "Example: natsbridge listen orders --json --data | jq '.payloads[].dataname'\n";

typedef struct help_topic {
    const char *name;
    const char *summary;
    const char *text;
} help_topic;

static const help_topic topics[] = {
    {"environment", "the environment variables natsbridge reads", environment_text},
    {"exit-codes", "what each exit status means", exit_codes_text},
    {"json", "the fields of listen --json and request --json", json_text},
};
#define N_TOPICS (sizeof topics / sizeof topics[0])

void cli_help_list_topics(void)
{
    printf("\nHelp topics (natsbridge help TOPIC):\n");
    for (size_t i = 0; i < N_TOPICS; i++)
        printf("  %-12s %s\n", topics[i].name, topics[i].summary);
}

void cli_help_topic_names(void)
{
    for (size_t i = 0; i < N_TOPICS; i++)
        printf(" %s", topics[i].name);
}

int cli_help_topic(const char *topic)
{
    for (size_t i = 0; topic && i < N_TOPICS; i++)
        if (strcmp(topic, topics[i].name) == 0) {
            fputs(topics[i].text, stdout);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                cli_error("cannot write to stdout");
                return CLI_RUNTIME;
            }
            return CLI_OK;
        }
    return CLI_CONTINUE;
}
