/* SPDX-License-Identifier: MIT */
/*
 * cmd_stream.c - `natsbridge stream add|info|rm NAME`: JetStream streams
 * for `send --jetstream` and `listen --jetstream`.
 */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

static const char stream_usage[] =
    "Usage: natsbridge stream add NAME --subjects SUBJECT[,SUBJECT]... [OPTION]...\n"
    "       natsbridge stream info NAME [--json]\n"
    "       natsbridge stream rm NAME\n"
    "Creates (or checks), shows or deletes the JetStream stream NAME.\n\n"
    "add: creates the stream, or checks that the existing one has these settings\n"
    "(a difference is an error naming it; the stream is left as it is).\n"
    "  --subjects LIST            comma-separated subjects, wildcards allowed (required)\n"
    "  --storage file|memory      where messages are kept (default file)\n"
    "  --replicas N               copies in a cluster, 1 to 5 (default 1)\n"
    "  --max-age SECONDS          remove older messages (default: keep)\n"
    "  --dupe-window SECONDS      how long a msg_id is remembered to drop duplicates\n"
    "                             (default: the server's, 2 minutes)\n"
    "info: the settings and state; --json prints one JSON object.\n"
    "rm: deletes the stream with its messages and consumers.\n"
    "Common:\n"
    NATS_CONNECT_HELP
    "  --quiet                    print nothing on success (add, rm)\n"
    "  --help                     show this help\n"
    "Exit status: 0 done, 1 usage error, 2 connection or runtime error (also when the\n"
    "stream differs or does not exist).\n";

static const cli_flag add_flags[] = {
    CLI_FLAGS_COMMON,           {"subjects", F_SUBJECTS, true},   {"storage", F_STORAGE, true},
    {"replicas", F_REPLICAS, true}, {"max-age", F_MAX_AGE, true},
    {"dupe-window", F_DUPE_WINDOW, true}, CLI_FLAGS_END};
static const cli_flag info_flags[] = {CLI_FLAGS_COMMON, {"json", F_JSON, false}, CLI_FLAGS_END};
static const cli_flag rm_flags[] = {CLI_FLAGS_COMMON, CLI_FLAGS_END};

/* Stream names become subject tokens and file names on the server. */
static int check_name(const char *name)
{
    if (strlen(name) > 255) {
        cli_error("NAME '%.40s...': longer than 255 bytes", name);
        return CLI_USAGE;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p)) {
            cli_error("NAME '%s': no '.', '*', '>', '/', '\\' or spaces allowed", name);
            return CLI_USAGE;
        }
    return CLI_CONTINUE;
}

/* Splits --subjects "a,b" into list (views into copy); check_subjects refused empty items. */
static size_t split_subjects(const char *text, char *copy, const char **list)
{
    size_t n = 0;
    strcpy(copy, text);
    for (char *tok = copy, *comma; tok; tok = comma ? comma + 1 : NULL) {
        comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        list[n++] = tok;
    }
    return n;
}

/* Before connecting: --subjects is there and has no empty item. */
static int check_subjects(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    if (!text) {
        cli_error("add: --subjects is required");
        return CLI_USAGE;
    }
    if (len == 0 || text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,")) {
        cli_error("--subjects: an empty subject in '%s'", text);
        return CLI_USAGE;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= ' ' || *p == 0x7f) {
            cli_error("--subjects: '%s' holds whitespace or a control character", text);
            return CLI_USAGE;
        }
    return CLI_CONTINUE;
}

static int add(const cli_args *a, nb_client *c)
{
    size_t len = strlen(a->subjects);
    char *copy = malloc(len + 1);
    const char **list = calloc(len / 2 + 1, sizeof *list);
    int rc = CLI_RUNTIME;
    if (copy && list) {
        size_t n = split_subjects(a->subjects, copy, list);
        nb_js_stream_config cfg = {a->subject, list, n,
                                   a->storage && strcmp(a->storage, "memory") == 0 ? NB_JS_MEMORY
                                                                                   : NB_JS_FILE,
                                   (int)a->replicas, a->max_age_ms, a->dupe_window_ms};
        bool created = false;
        nb_status s = nb_js_stream_ensure(c, &cfg, &created);
        rc = s ? cli_fail(CLI_RUNTIME, s, NULL) : CLI_OK;
        if (rc == CLI_OK && !a->quiet)
            printf(created ? "created stream %s\n" : "stream %s exists with these settings\n",
                   a->subject);
    }
    free(list);
    free(copy);
    return rc;
}

static cJSON *info_json(const nb_js_stream_info *i)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *subjects = cJSON_CreateStringArray(i->config.subjects, (int)i->config.subject_count);
    bool ok = o && subjects && cJSON_AddStringToObject(o, "name", i->config.name) &&
              cJSON_AddItemToObject(o, "subjects", subjects) &&
              cJSON_AddStringToObject(o, "storage",
                                      i->config.storage == NB_JS_MEMORY ? "memory" : "file") &&
              cJSON_AddNumberToObject(o, "replicas", i->config.replicas) &&
              cJSON_AddNumberToObject(o, "max_age", (double)i->config.max_age_ms / 1000.0) &&
              cJSON_AddNumberToObject(o, "dupe_window",
                                      (double)i->config.duplicate_window_ms / 1000.0) &&
              cJSON_AddNumberToObject(o, "messages", (double)i->messages) &&
              cJSON_AddNumberToObject(o, "bytes", (double)i->bytes) &&
              cJSON_AddNumberToObject(o, "first_seq", (double)i->first_seq) &&
              cJSON_AddNumberToObject(o, "last_seq", (double)i->last_seq) &&
              cJSON_AddNumberToObject(o, "consumers", (double)i->consumers);
    if (!ok && o && subjects && !cJSON_GetObjectItem(o, "subjects"))
        cJSON_Delete(subjects);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int print_info_json(const nb_js_stream_info *i)
{
    cJSON *o = info_json(i);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return CLI_OK;
}

static void print_info_human(const nb_js_stream_info *i)
{
    printf("stream %s\n  subjects     ", i->config.name);
    for (size_t k = 0; k < i->config.subject_count; k++)
        printf("%s%s", k ? ", " : "", i->config.subjects[k]);
    printf("\n  storage      %s, %d replica%s\n",
           i->config.storage == NB_JS_MEMORY ? "memory" : "file", i->config.replicas,
           i->config.replicas == 1 ? "" : "s");
    if (i->config.max_age_ms)
        printf("  max age      %.3f s\n", (double)i->config.max_age_ms / 1000.0);
    else
        printf("  max age      unlimited\n");
    printf("  dupe window  %.3f s\n", (double)i->config.duplicate_window_ms / 1000.0);
    printf("  messages     %llu (%llu bytes), first seq %llu, last seq %llu\n",
           (unsigned long long)i->messages, (unsigned long long)i->bytes,
           (unsigned long long)i->first_seq, (unsigned long long)i->last_seq);
    printf("  consumers    %lld\n", (long long)i->consumers);
}

static int info(const cli_args *a, nb_client *c)
{
    nb_js_stream_info *i = NULL;
    nb_status s = nb_js_stream_info_get(c, a->subject, &i);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    int rc = CLI_OK;
    if (a->json)
        rc = print_info_json(i);
    else
        print_info_human(i);
    nb_js_stream_info_destroy(i);
    return rc;
}

static int rm(const cli_args *a, nb_client *c)
{
    nb_status s = nb_js_stream_delete(c, a->subject);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    if (!a->quiet)
        printf("deleted stream %s\n", a->subject);
    return CLI_OK;
}

typedef int (*stream_action)(const cli_args *a, nb_client *c);

static const struct {
    const char *name;
    const cli_flag *flags;
    stream_action run;
} actions[] = {{"add", add_flags, add}, {"info", info_flags, info}, {"rm", rm_flags, rm}};

/* parse (NAME right after the action), check, connect, act. */
static int run_action(int argc, char **argv, size_t which)
{
    if (argc < 3 || argv[2][0] == '-' || !argv[2][0]) {
        bool help = argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0);
        if (help) {
            fputs(stream_usage, stdout);
            return CLI_OK;
        }
        cli_error("missing NAME after '%s' (see natsbridge stream --help)", argv[1]);
        return CLI_USAGE;
    }
    cli_args a;
    nb_client *c = NULL;
    int rc = cli_parse(argc - 1, argv + 1, actions[which].flags, stream_usage, &a);
    if (rc == CLI_CONTINUE)
        rc = check_name(a.subject);
    if (rc == CLI_CONTINUE && actions[which].run == add)
        rc = check_subjects(a.subjects);
    if (rc == CLI_CONTINUE) {
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = actions[which].run(&a, c);
    }
    if (rc == CLI_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        cli_error("cannot write to stdout");
        rc = CLI_RUNTIME;
    }
    cli_close(c);
    cli_args_free(&a);
    return rc;
}

int cmd_stream(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) {
            cli_error("missing add, info or rm (see natsbridge stream --help)");
            return CLI_USAGE;
        }
        fputs(stream_usage, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(argv[1], actions[i].name) == 0)
            return run_action(argc, argv, i);
    cli_error("unknown action '%s': add, info or rm (see natsbridge stream --help)", argv[1]);
    return CLI_USAGE;
}
