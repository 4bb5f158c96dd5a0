/* SPDX-License-Identifier: MIT */
/*
 * cmd_stream.c - `natsbridge stream ls|add|info|edit|purge|rm`: JetStream
 * streams for `send --jetstream` and `listen --jetstream`.
 */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

static const char stream_usage[] =
    "Usage: natsbridge stream ls [--json]\n"
    "       natsbridge stream add NAME --subjects SUBJECT[,SUBJECT]... [OPTION]...\n"
    "       natsbridge stream info NAME [--json]\n"
    "       natsbridge stream edit NAME SETTING... [--json]\n"
    "       natsbridge stream purge NAME [--subject SUBJECT] [--keep N] [-f]\n"
    "       natsbridge stream rm NAME [-f]\n"
    "Lists, creates (or checks), shows, changes, empties or deletes JetStream streams.\n\n"
    "ls: every stream with its subjects, messages and bytes; -J, --json prints one\n"
    "JSON array of the objects `stream info --json` prints.\n"
    "add: creates the stream, or checks that the existing one has these settings\n"
    "(a difference is an error naming it; the stream is left as it is).\n"
    "  --subjects LIST            comma-separated subjects, wildcards allowed (required)\n"
    "  --storage file|memory      where messages are kept (default file)\n"
    "  --replicas N               copies in a cluster, 1 to 5 (default 1)\n"
    "  --max-age SECONDS          remove older messages (default: keep)\n"
    "  --dupe-window SECONDS      how long a msg_id is remembered to drop duplicates\n"
    "                             (default: the server's, 2 minutes)\n"
    "info: the settings and state; -J, --json prints one JSON object.\n"
    "edit: changes the settings given, keeps the others, then shows the stream:\n"
    "  --subjects LIST            the new subject list (replaces the old one)\n"
    "  --max-age SECONDS          remove older messages (0: keep them)\n"
    "  --max-msgs N|unlimited     keep at most N messages (the oldest go first)\n"
    "  --max-bytes N|unlimited    keep at most N bytes (the oldest go first)\n"
    "  --dupe-window SECONDS      how long a msg_id is remembered\n"
    "  --replicas N               copies, 1 to 5 (more than 1 needs a cluster)\n"
    "  Storage and the name cannot change: make a new stream for those.\n"
    "purge: removes messages, keeping the stream and its consumers:\n"
    "  --subject SUBJECT          only those on SUBJECT (wildcards allowed)\n"
    "  --keep N                   keep the newest N\n"
    "rm: deletes the stream with its messages and consumers.\n"
    "purge and rm ask for confirmation (y or yes) on the terminal; without a terminal\n"
    "they refuse unless -f is given:\n"
    "  -f, --force                do it without asking\n"
    "Common:\n"
    NATS_CONNECT_HELP
    "  --quiet                    print nothing on success (add, edit, purge, rm)\n"
    "  --help                     show this help\n"
    "Exit status: 0 done, 1 usage error or not confirmed, 2 connection or runtime error\n"
    "(also when the stream differs or does not exist).\n"
    "Examples:\n"
    "  natsbridge stream add ORDERS --subjects 'orders.>' --max-age 86400\n"
    "  natsbridge stream edit ORDERS --max-msgs 100000 --subjects 'orders.>,returns.>'\n"
    "  natsbridge stream purge ORDERS --subject orders.test --keep 10 -f\n";

static const cli_flag add_flags[] = {
    CLI_FLAGS_COMMON,           {"subjects", F_SUBJECTS, true},   {"storage", F_STORAGE, true},
    {"replicas", F_REPLICAS, true}, {"max-age", F_MAX_AGE, true},
    {"dupe-window", F_DUPE_WINDOW, true}, CLI_FLAGS_END};
static const cli_flag info_flags[] = {CLI_FLAGS_COMMON, {"json", F_JSON, false}, CLI_FLAGS_END};
static const cli_flag rm_flags[] = {CLI_FLAGS_COMMON, {"force", F_FORCE, false}, CLI_FLAGS_END};
static const cli_flag ls_flags[] = {CLI_FLAGS_COMMON, {"json", F_JSON, false}, CLI_FLAGS_END};
static const cli_flag purge_flags[] = {CLI_FLAGS_COMMON, {"force", F_FORCE, false},
                                       {"subject", F_SUBJECT, true}, {"keep", F_KEEP, true},
                                       CLI_FLAGS_END};
static const cli_flag edit_flags[] = {
    CLI_FLAGS_COMMON,           {"json", F_JSON, false},          {"subjects", F_SUBJECTS, true},
    {"max-age", F_MAX_AGE, true}, {"max-msgs", F_MAX_MSGS, true},  {"max-bytes", F_MAX_BYTES, true},
    {"dupe-window", F_DUPE_WINDOW, true}, {"replicas", F_REPLICAS, true}, CLI_FLAGS_END};

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
              cJSON_AddNumberToObject(o, "consumers", (double)i->consumers) &&
              cJSON_AddNumberToObject(o, "max_msgs", (double)i->max_msgs) &&
              cJSON_AddNumberToObject(o, "max_bytes", (double)i->max_bytes);
    if (!ok && o && subjects && !cJSON_GetObjectItem(o, "subjects"))
        cJSON_Delete(subjects);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
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
    if (i->max_msgs > 0)
        printf("  max msgs     %lld\n", (long long)i->max_msgs);
    if (i->max_bytes > 0)
        printf("  max bytes    %lld\n", (long long)i->max_bytes);
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
        rc = cli_print_json(info_json(i));
    else
        print_info_human(i);
    nb_js_stream_info_destroy(i);
    return rc;
}

static int ls_json(nb_js_stream_info **list, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; arr && k < n; k++) {
        cJSON *o = info_json(list[k]);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    return cli_print_json(arr);
}

/* The subjects of a stream as "a, b" into buf (cut with "..." when long). */
static void subjects_text(const nb_js_stream_info *i, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < i->config.subject_count && used < size; k++) {
        int n = snprintf(buf + used, size - used, "%s%s", k ? ", " : "", i->config.subjects[k]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

static void ls_human(nb_js_stream_info **list, size_t n)
{
    int w = 6; /* "STREAM" */
    for (size_t k = 0; k < n; k++)
        if ((int)strlen(list[k]->config.name) > w)
            w = (int)strlen(list[k]->config.name);
    printf("%-*s  %12s  %14s  %s\n", w, "STREAM", "MESSAGES", "BYTES", "SUBJECTS");
    for (size_t k = 0; k < n; k++) {
        char subjects[200];
        subjects_text(list[k], subjects, sizeof subjects);
        printf("%-*s  %12llu  %14llu  %s\n", w, list[k]->config.name,
               (unsigned long long)list[k]->messages, (unsigned long long)list[k]->bytes,
               subjects);
    }
}

static int ls(const cli_args *a, nb_client *c)
{
    nb_js_stream_info **list = NULL;
    size_t n = 0;
    nb_status s = nb_js_stream_list(c, &list, &n);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    int rc = CLI_OK;
    if (a->json)
        rc = ls_json(list, n);
    else if (n == 0)
        cli_note("no streams (natsbridge stream add NAME --subjects LIST makes one)");
    else
        ls_human(list, n);
    nb_js_stream_list_destroy(list, n);
    return rc;
}

static int purge(const cli_args *a, nb_client *c)
{
    uint64_t purged = 0;
    nb_status s = nb_js_stream_purge(c, a->subject, a->purge_subject, a->keep, &purged);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    if (!a->quiet)
        printf("purged %llu message%s from stream %s\n", (unsigned long long)purged,
               purged == 1 ? "" : "s", a->subject);
    return CLI_OK;
}

static int edit(const cli_args *a, nb_client *c)
{
    size_t len = a->subjects ? strlen(a->subjects) : 0;
    char *copy = malloc(len + 1);
    const char **list = calloc(len / 2 + 1, sizeof *list);
    if (!copy || !list) {
        free(list);
        free(copy);
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    nb_js_stream_changes ch = {a->js_given, list, 0, a->max_age_ms, a->max_msgs, a->max_bytes,
                               a->dupe_window_ms, (int)a->replicas};
    if (a->subjects)
        ch.subject_count = split_subjects(a->subjects, copy, list);
    nb_status s = nb_js_stream_update(c, a->subject, &ch);
    free(list);
    free(copy);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    return a->quiet && !a->json ? CLI_OK : info(a, c);
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
} actions[] = {{"add", add_flags, add},       {"info", info_flags, info}, {"rm", rm_flags, rm},
               {"ls", ls_flags, ls},          {"purge", purge_flags, purge},
               {"edit", edit_flags, edit}};

/* Checks before connecting that need no server: names, settings, confirmation. */
static int check_action(const cli_args *a, stream_action run)
{
    int rc = run == ls ? CLI_CONTINUE : check_name(a->subject);
    if (rc == CLI_CONTINUE && run == add)
        rc = check_subjects(a->subjects);
    if (rc == CLI_CONTINUE && run == edit && a->subjects)
        rc = check_subjects(a->subjects);
    if (rc == CLI_CONTINUE && run == edit && a->js_given == 0) {
        cli_error("edit: nothing to change (give --subjects, --max-age, --max-msgs, "
                  "--max-bytes, --dupe-window or --replicas)");
        rc = CLI_USAGE;
    }
    if (rc == CLI_CONTINUE && run == edit && (a->js_given & NB_JS_SET_DUPLICATE_WINDOW) &&
        a->dupe_window_ms == 0) {
        cli_error("--dupe-window: must be more than 0 seconds");
        rc = CLI_USAGE;
    }
    char question[400];
    if (rc == CLI_CONTINUE && run == rm) {
        snprintf(question, sizeof question,
                 "delete stream %.200s with all its messages and consumers?", a->subject);
        rc = cli_js_confirm(a, question);
    }
    if (rc == CLI_CONTINUE && run == purge) {
        char kept[64] = "";
        if (a->keep)
            snprintf(kept, sizeof kept, " but the newest %llu", (unsigned long long)a->keep);
        snprintf(question, sizeof question, "purge all messages%s%s%.100s from stream %.200s?",
                 kept, a->purge_subject ? " on " : "", a->purge_subject ? a->purge_subject : "",
                 a->subject);
        rc = cli_js_confirm(a, question);
    }
    return rc;
}

/* parse (NAME right after the action), check, connect, act. */
static int run_action(int argc, char **argv, size_t which)
{
    bool no_name = actions[which].run == ls;
    if (!no_name && (argc < 3 || argv[2][0] == '-' || !argv[2][0])) {
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
    int rc;
    if (no_name) {
        /* ls takes no NAME: the parser's one word is given as "ls", so a stray word is
           still "unexpected argument". */
        char **words = calloc((size_t)argc + 1, sizeof *words);
        if (!words) {
            cli_error("out of memory");
            return CLI_RUNTIME;
        }
        words[0] = argv[1];
        words[1] = argv[1];
        for (int i = 2; i < argc; i++)
            words[i] = argv[i];
        rc = cli_parse(argc, words, actions[which].flags, stream_usage, &a);
        free(words);
    } else {
        rc = cli_parse(argc - 1, argv + 1, actions[which].flags, stream_usage, &a);
    }
    if (rc == CLI_CONTINUE)
        rc = check_action(&a, actions[which].run);
    if (rc == CLI_CONTINUE) {
        rc = cli_connect(&a, &c);
        if (rc == CLI_OK)
            rc = actions[which].run(&a, c);
    }
    if (rc == CLI_OK)
        rc = cli_stdout_checked(rc);
    cli_close(c);
    cli_args_free(&a);
    return rc;
}

int cmd_stream(int argc, char **argv)
{
    int rc = CLI_OK;
    int which = cli_pick_action(argc, argv, actions, sizeof actions[0],
                                sizeof actions / sizeof actions[0], stream_usage, "ls, add, info, edit, purge or rm", &rc);
    return which < 0 ? rc : run_action(argc, argv, (size_t)which);
}
