/* SPDX-License-Identifier: MIT */
/*
 * cmd_consumer.c - `natsbridge consumer ls|info|rm STREAM [NAME]`: the
 * JetStream consumers of a stream, durable (listen --jetstream --durable) or
 * ephemeral (listen --jetstream), as natscli's `nats consumer` shows them.
 */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

static const char consumer_usage[] =
    "Usage: natsbridge consumer ls STREAM [--json]\n"
    "       natsbridge consumer info STREAM NAME [--json]\n"
    "       natsbridge consumer rm STREAM NAME [-f]\n"
    "Lists, shows or deletes the consumers of the JetStream stream STREAM.\n\n"
    "ls: every consumer with its kind (durable or ephemeral), subject, messages\n"
    "pending and awaiting an ack.\n"
    "info: its settings and state.\n"
    "  -J, --json                 one JSON document (ls: an array of what info prints)\n"
    "rm: deletes the consumer (a durable loses its place); asks for confirmation (y or\n"
    "yes) on the terminal; without a terminal it refuses unless -f is given:\n"
    "  -f, --force                delete without asking\n"
    "Common:\n"
    NATS_CONNECT_HELP
    "  --quiet                    print nothing on success (rm)\n"
    "  --help                     show this help\n"
    "Exit status: 0 done, 1 usage error or not confirmed, 2 connection or runtime error\n"
    "(also when the stream or the consumer does not exist).\n"
    "Examples:\n"
    "  natsbridge consumer ls ORDERS\n"
    "  natsbridge consumer info ORDERS shipper --json\n"
    "  natsbridge consumer rm ORDERS shipper -f\n";

static const cli_flag show_flags[] = {CLI_FLAGS_COMMON, {"json", F_JSON, false}, CLI_FLAGS_END};
static const cli_flag rm_flags[] = {CLI_FLAGS_COMMON, {"force", F_FORCE, false}, CLI_FLAGS_END};

static const char *start_text(nb_js_start s)
{
    switch (s) {
    case NB_JS_START_SEQUENCE: return "sequence";
    case NB_JS_START_TIME: return "time";
    case NB_JS_START_NEW: return "new";
    case NB_JS_START_LAST: return "last";
    default: return "all";
    }
}

static bool add_time(cJSON *o, const char *key, int64_t ms)
{
    char text[32];
    cli_js_time_text(ms, text);
    return cJSON_AddStringToObject(o, key, text) != NULL;
}

static cJSON *consumer_json(const nb_js_consumer_info *i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "stream", i->stream) &&
              cJSON_AddStringToObject(o, "name", i->name) &&
              cJSON_AddBoolToObject(o, "durable", i->durable) &&
              cJSON_AddBoolToObject(o, "pull", i->pull) &&
              cJSON_AddStringToObject(o, "subject", i->subject) &&
              cJSON_AddStringToObject(o, "start", start_text(i->start)) &&
              (i->start != NB_JS_START_SEQUENCE ||
               cJSON_AddNumberToObject(o, "start_seq", (double)i->start_sequence)) &&
              (i->start != NB_JS_START_TIME || add_time(o, "start_time", i->start_time_ms)) &&
              cJSON_AddNumberToObject(o, "ack_wait", (double)i->ack_wait_ms / 1000.0) &&
              cJSON_AddNumberToObject(o, "max_deliver", (double)i->max_deliver) &&
              cJSON_AddNumberToObject(o, "inactive_threshold",
                                      (double)i->inactive_threshold_ms / 1000.0) &&
              add_time(o, "created", i->created_ms) &&
              cJSON_AddNumberToObject(o, "pending", (double)i->pending) &&
              cJSON_AddNumberToObject(o, "ack_pending", (double)i->ack_pending) &&
              cJSON_AddNumberToObject(o, "redelivered", (double)i->redelivered) &&
              cJSON_AddNumberToObject(o, "delivered_seq", (double)i->delivered_seq) &&
              cJSON_AddNumberToObject(o, "ack_floor_seq", (double)i->ack_floor_seq);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void print_human(const nb_js_consumer_info *i)
{
    char when[32];
    printf("consumer %s on stream %s\n", i->name, i->stream);
    printf("  kind         %s %s consumer\n", i->durable ? "durable" : "ephemeral",
           i->pull ? "pull" : "push");
    printf("  subject      %s\n", *i->subject ? i->subject : "(the whole stream)");
    printf("  start        %s", start_text(i->start));
    if (i->start == NB_JS_START_SEQUENCE)
        printf(" %llu", (unsigned long long)i->start_sequence);
    if (i->start == NB_JS_START_TIME) {
        cli_js_time_text(i->start_time_ms, when);
        printf(" %s", when);
    }
    printf("\n  ack wait     %.3f s\n", (double)i->ack_wait_ms / 1000.0);
    if (i->max_deliver > 0)
        printf("  max deliver  %lld\n", (long long)i->max_deliver);
    else
        printf("  max deliver  unlimited\n");
    if (i->inactive_threshold_ms > 0)
        printf("  inactive     deleted after %.3f s unused\n",
               (double)i->inactive_threshold_ms / 1000.0);
    cli_js_time_text(i->created_ms, when);
    printf("  created      %s\n", when);
    printf("  pending      %llu, awaiting ack %llu, redelivered %llu\n",
           (unsigned long long)i->pending, (unsigned long long)i->ack_pending,
           (unsigned long long)i->redelivered);
    printf("  last seq     delivered %llu, acked up to %llu\n",
           (unsigned long long)i->delivered_seq, (unsigned long long)i->ack_floor_seq);
}

static void print_table(nb_js_consumer_info **list, size_t n)
{
    int w = 8; /* "CONSUMER" */
    for (size_t k = 0; k < n; k++)
        if ((int)strlen(list[k]->name) > w)
            w = (int)strlen(list[k]->name);
    printf("%-*s  %-9s  %10s  %11s  %s\n", w, "CONSUMER", "KIND", "PENDING", "ACK PENDING",
           "SUBJECT");
    for (size_t k = 0; k < n; k++)
        printf("%-*s  %-9s  %10llu  %11llu  %s\n", w, list[k]->name,
               list[k]->durable ? "durable" : "ephemeral", (unsigned long long)list[k]->pending,
               (unsigned long long)list[k]->ack_pending,
               *list[k]->subject ? list[k]->subject : "(all)");
}

static int ls(const cli_args *a, nb_client *c, const char *stream)
{
    nb_js_consumer_info **list = NULL;
    size_t n = 0;
    nb_status s = nb_js_consumer_list(c, stream, &list, &n);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    int rc = CLI_OK;
    if (a->json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t k = 0; arr && k < n; k++) {
            cJSON *o = consumer_json(list[k]);
            if (!o || !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        rc = cli_print_json(arr);
    } else if (n == 0) {
        cli_note("stream %s has no consumers", stream);
    } else {
        print_table(list, n);
    }
    nb_js_consumer_list_destroy(list, n);
    return rc;
}

static int info(const cli_args *a, nb_client *c, const char *stream)
{
    nb_js_consumer_info *i = NULL;
    nb_status s = nb_js_consumer_info_get(c, stream, a->subject, &i);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    int rc = CLI_OK;
    if (a->json)
        rc = cli_print_json(consumer_json(i));
    else
        print_human(i);
    nb_js_consumer_info_destroy(i);
    return rc;
}

static int rm(const cli_args *a, nb_client *c, const char *stream)
{
    nb_status s = nb_js_consumer_delete(c, stream, a->subject);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    if (!a->quiet)
        printf("deleted consumer %s of stream %s\n", a->subject, stream);
    return CLI_OK;
}

typedef int (*consumer_action)(const cli_args *a, nb_client *c, const char *stream);

static const struct {
    const char *name;
    const cli_flag *flags;
    consumer_action run;
    bool named; /* takes NAME after STREAM */
} actions[] = {{"ls", show_flags, ls, false},
               {"info", show_flags, info, true},
               {"rm", rm_flags, rm, true}};

/* A word that is a name, not a flag. */
static bool is_word(int argc, char **argv, int i)
{
    return i < argc && argv[i][0] && argv[i][0] != '-';
}

/* STREAM (and NAME) are not flags; --help is answered here. CLI_CONTINUE to carry on. */
static int check_words(int argc, char **argv, size_t which)
{
    for (int i = 2; i < argc && i < 4; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(consumer_usage, stdout);
            return CLI_OK;
        }
    if (cli_flag_probe) /* completion: reach cli_parse with whatever words there are */
        return CLI_CONTINUE;
    if (!is_word(argc, argv, 2)) {
        cli_error("missing STREAM after '%s' (see natsbridge consumer --help)", argv[1]);
        return CLI_USAGE;
    }
    if (actions[which].named && !is_word(argc, argv, 3)) {
        cli_error("missing NAME after '%s %s' (see natsbridge consumer --help)", argv[1],
                  argv[2]);
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

/* Names become subject tokens on the server: no '.', wildcards, slashes or spaces. */
static int check_name(const char *what, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p)) {
            cli_error("%s '%s': no '.', '*', '>', '/', '\\' or spaces allowed", what, name);
            return CLI_USAGE;
        }
    if (strlen(name) > 255) {
        cli_error("%s '%.40s...': longer than 255 bytes", what, name);
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

static int run_action(int argc, char **argv, size_t which)
{
    int rc = check_words(argc, argv, which);
    if (rc != CLI_CONTINUE)
        return rc;
    /* ls: STREAM is the parser's one word; info, rm: NAME is, after STREAM. */
    int skip = actions[which].named ? 2 : 1;
    const char *stream = argc > 2 ? argv[2] : "";
    cli_args a;
    nb_client *c = NULL;
    rc = cli_parse(argc - skip, argv + skip, actions[which].flags, consumer_usage, &a);
    if (rc == CLI_CONTINUE)
        rc = check_name("STREAM", stream);
    if (rc == CLI_CONTINUE && actions[which].named)
        rc = check_name("NAME", a.subject);
    if (rc == CLI_CONTINUE && actions[which].run == rm) {
        char question[600];
        snprintf(question, sizeof question, "delete consumer %.255s of stream %.255s?",
                 a.subject, stream);
        rc = cli_js_confirm(&a, question);
    }
    if (rc == CLI_CONTINUE) {
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = actions[which].run(&a, c, stream);
    }
    if (rc == CLI_OK)
        rc = cli_stdout_checked(rc);
    cli_close(c);
    cli_args_free(&a);
    return rc;
}

int cmd_consumer(int argc, char **argv)
{
    int rc = CLI_OK;
    int which = cli_pick_action(argc, argv, actions, sizeof actions[0],
                                sizeof actions / sizeof actions[0], consumer_usage, "ls, info or rm", &rc);
    return which < 0 ? rc : run_action(argc, argv, (size_t)which);
}
