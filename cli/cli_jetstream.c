/* SPDX-License-Identifier: MIT */
/*
 * cli_jetstream.c - the JetStream side of `send` and `listen`: the JetStream
 * flags, `send --jetstream` (store and print the ack) and `listen --jetstream
 * --durable NAME` (a durable pull consumer printing as listen does).
 */
#include "cli_common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* Flags                                                                    */
/* ======================================================================== */

/* Reads fractional seconds "2026-03-13T07:02:50.443": up to milliseconds are kept. */
static const char *parse_fraction(const char *p, int64_t *ms)
{
    *ms = 0;
    if (*p != '.')
        return p;
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
        if (digits < 3)
            *ms = *ms * 10 + (*p - '0');
    for (int d = digits; d < 3; d++)
        *ms *= 10;
    return digits ? p : NULL;
}

/* "Z", "+hh:mm" or "-hh:mm": the offset east of UTC in seconds; NULL when malformed. */
static const char *parse_offset(const char *p, long *east)
{
    int hh, mm, n = 0;
    if (*p == 'Z' || *p == 'z') {
        *east = 0;
        return p + 1;
    }
    if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 ||
        hh > 23 || mm > 59)
        return NULL;
    *east = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    return p + 6;
}

/* RFC 3339 ("2026-03-13T07:02:50Z", fractions and offsets allowed) to Unix milliseconds. */
static int parse_rfc3339(const char *text, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    char sep = 0;
    if (sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 7 || n != 19 ||
        (sep != 'T' && sep != 't' && sep != ' ') || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    int64_t ms = 0;
    long east = 0;
    const char *p = parse_fraction(text + n, &ms);
    p = p ? parse_offset(p, &east) : NULL;
    if (!p || *p)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct tm asked = tm, back;
    time_t t = timegm(&tm);
    /* timegm quietly turns February 31 into March 3: a date that does not come back is wrong. */
    if (t < 0 || !gmtime_r(&t, &back) || back.tm_mday != asked.tm_mday ||
        back.tm_mon != asked.tm_mon || back.tm_sec != asked.tm_sec)
        return -1;
    *out = ((int64_t)t - east) * 1000 + ms;
    return 0;
}

/* --ack-wait: seconds, at most the 30 days the library takes (nb_js_consumer_config). */
static int store_ack_wait(const cli_flag *f, const char *v, int64_t *ms)
{
    int rc = cli_parse_seconds(f->name, v, ms);
    if (rc == CLI_CONTINUE && *ms > 30LL * 24 * 3600 * 1000) {
        cli_error("--%s: %s seconds is longer than 30 days", f->name, v);
        rc = CLI_USAGE;
    }
    return rc;
}

/* A whole number between lo and hi for --NAME. */
static int store_bounded(const cli_flag *f, const char *v, uint64_t lo, uint64_t hi,
                         uint64_t *slot)
{
    int rc = cli_parse_u64(f->name, v, slot);
    if (rc == CLI_CONTINUE && (*slot < lo || *slot > hi)) {
        cli_error("--%s: %s is not between %llu and %llu", f->name, v, (unsigned long long)lo,
                  (unsigned long long)hi);
        rc = CLI_USAGE;
    }
    return rc;
}

static int store_storage(cli_args *a, const char *v)
{
    if (strcmp(v, "file") != 0 && strcmp(v, "memory") != 0) {
        cli_error("--storage: '%s' is neither file nor memory", v);
        return CLI_USAGE;
    }
    a->storage = v;
    return CLI_CONTINUE;
}

/* The number of milliseconds in one unit of a duration ("h", "ms", ...); 0 when unknown. */
static int64_t unit_ms(const char *unit, size_t len)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
                 {"w", 604800000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, unit, len) == 0)
            return units[i].ms;
    return 0;
}

/*
 * A duration as natscli takes it: number-unit pairs, "1h", "30m", "1h30m",
 * "2d", "500ms" (units ms, s, m, h, d, w). At most 100 years. 0 when bad.
 */
static int parse_duration(const char *text, int64_t *ms)
{
    const int64_t max = 100LL * 365 * 86400000;
    int64_t total = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t n = 0;
        for (; isdigit((unsigned char)*p); p++) {
            n = n * 10 + (*p - '0');
            if (n > max)
                return -1;
        }
        size_t len = 0;
        while (isalpha((unsigned char)p[len]))
            len++;
        int64_t unit = unit_ms(p, len);
        if (unit == 0 || n > (max - total) / unit)
            return -1;
        total += n * unit;
        p += len;
    }
    *ms = total;
    return 0;
}

/* Unix time now, in milliseconds (the stream's timestamps are wall-clock). */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --since DURATION: that long ago. */
static int store_since(cli_args *a, const char *v)
{
    int64_t ago = 0;
    if (parse_duration(v, &ago) != 0 || ago == 0) {
        cli_error("--since: '%s' is not a duration such as 1h, 30m, 10s or 1h30m", v);
        return CLI_USAGE;
    }
    if (a->from_time_ms) {
        cli_error("--since and --from-time: give at most one");
        return CLI_USAGE;
    }
    a->from_time_ms = wall_ms() - ago;
    if (a->from_time_ms <= 0) {
        cli_error("--since: %s ago is before 1970", v);
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

static int store_from_time(cli_args *a, const char *v)
{
    int64_t ago = 0;
    if (a->from_time_ms) {
        cli_error("--since and --from-time: give at most one");
        return CLI_USAGE;
    }
    if (parse_rfc3339(v, &a->from_time_ms) != 0 || a->from_time_ms <= 0) {
        if (parse_duration(v, &ago) == 0 && ago > 0 && wall_ms() - ago > 0) {
            a->from_time_ms = wall_ms() - ago; /* natscli's habit: a duration ago */
            return CLI_CONTINUE;
        }
        a->from_time_ms = 0;
        cli_error("--from-time: '%s' is neither an RFC 3339 time such as 2026-03-13T07:02:50Z "
                  "nor a duration such as 1h",
                  v);
        return CLI_USAGE;
    }
    /* JetStream counts time in int64 nanoseconds. */
    if (a->from_time_ms > INT64_MAX / 1000000) {
        cli_error("--from-time: %s is after 2262, too late for JetStream", v);
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

/* --max-msgs / --max-bytes: a whole number >= 1, or "unlimited" (-1). */
static int store_limit(const cli_flag *f, const char *v, int64_t *slot)
{
    uint64_t n = 0;
    if (strcmp(v, "unlimited") == 0 || strcmp(v, "-1") == 0) {
        *slot = -1;
        return CLI_CONTINUE;
    }
    int rc = store_bounded(f, v, 1, INT64_MAX, &n);
    *slot = (int64_t)n;
    return rc;
}

static int store_management_flag(cli_args *a, const cli_flag *f, const char *v);

/* The stream settings stream edit changes: those given. */
static unsigned setting_of(int id)
{
    switch (id) {
    case F_SUBJECTS: return NB_JS_SET_SUBJECTS;
    case F_MAX_AGE: return NB_JS_SET_MAX_AGE;
    case F_MAX_MSGS: return NB_JS_SET_MAX_MSGS;
    case F_MAX_BYTES: return NB_JS_SET_MAX_BYTES;
    case F_DUPE_WINDOW: return NB_JS_SET_DUPLICATE_WINDOW;
    case F_REPLICAS: return NB_JS_SET_REPLICAS;
    default: return 0;
    }
}

int cli_store_jetstream_flag(cli_args *a, const cli_flag *f, const char *v)
{
    a->js_given |= setting_of(f->id);
    switch (f->id) {
    case F_JETSTREAM: a->jetstream = true; return CLI_CONTINUE;
    case F_NEW: a->new_only = true; return CLI_CONTINUE;
    case F_DURABLE: a->durable = v; return CLI_CONTINUE;
    case F_MSG_ID: a->msg_id = v; return CLI_CONTINUE;
    case F_STREAM: a->stream = v; return CLI_CONTINUE;
    case F_SUBJECTS: a->subjects = v; return CLI_CONTINUE;
    case F_STORAGE: return store_storage(a, v);
    case F_FROM_TIME: return store_from_time(a, v);
    case F_FROM_SEQ: return store_bounded(f, v, 1, UINT64_MAX, &a->from_seq);
    case F_BATCH: return store_bounded(f, v, 1, 10000, &a->batch);
    case F_MAX_DELIVER: return store_bounded(f, v, 1, 1000000, &a->max_deliver);
    case F_REPLICAS: return store_bounded(f, v, 1, 5, &a->replicas);
    case F_ACK_WAIT: return store_ack_wait(f, v, &a->ack_wait_ms);
    case F_MAX_AGE: return cli_parse_seconds(f->name, v, &a->max_age_ms);
    case F_DUPE_WINDOW: return cli_parse_seconds(f->name, v, &a->dupe_window_ms);
    default: return store_management_flag(a, f, v);
    }
}

/* The JetStream flags of issue 13 (clijs): management and where a listen starts. */
static int store_management_flag(cli_args *a, const cli_flag *f, const char *v)
{
    switch (f->id) {
    case F_FORCE: a->force = true; return CLI_CONTINUE;
    case F_ALL: a->start_all = true; return CLI_CONTINUE;
    case F_LAST: a->start_last = true; return CLI_CONTINUE;
    case F_SINCE: return store_since(a, v);
    case F_SUBJECT: a->purge_subject = v; return CLI_CONTINUE;
    case F_KEEP: return store_bounded(f, v, 1, UINT64_MAX, &a->keep);
    case F_MAX_MSGS: return store_limit(f, v, &a->max_msgs);
    case F_MAX_BYTES: return store_limit(f, v, &a->max_bytes);
    default:
        cli_error("--%s: not a JetStream flag", f->name);
        return CLI_USAGE;
    }
}

/* The first flag given among those that need --jetstream, or NULL. */
static const char *needs_jetstream(const cli_args *a)
{
    if (a->durable)
        return "--durable";
    if (a->msg_id)
        return "--msg-id";
    if (a->stream)
        return "--stream";
    if (a->from_seq || a->from_time_ms || a->new_only || a->start_all || a->start_last)
        return "--all, --last, --new, --since, --from-seq and --from-time";
    if (a->batch || a->ack_wait_ms || a->max_deliver)
        return "--batch, --ack-wait and --max-deliver";
    return NULL;
}

int cli_js_check(const cli_args *a, bool listen)
{
    const char *flag = needs_jetstream(a);
    if (!a->jetstream && flag) {
        cli_error("%s: only with --jetstream", flag);
        return CLI_USAGE;
    }
    if (!a->jetstream || !listen)
        return CLI_CONTINUE;
    /* Without --durable the consumer is ephemeral: it goes when listen exits. */
    if ((a->from_seq != 0) + (a->from_time_ms != 0) + a->new_only + a->start_all +
            a->start_last >
        1) {
        cli_error("--all, --last, --new, --since, --from-seq and --from-time: give at most one");
        return CLI_USAGE;
    }
    if (a->queue) {
        cli_error("--queue: not with --jetstream (listeners sharing a --durable share its messages)");
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

/* ======================================================================== */
/* send --jetstream                                                         */
/* ======================================================================== */

static int print_ack(const cli_args *a, const nb_envelope *e, const nb_js_ack *ack)
{
    if (a->json) {
        /* One JSON document (issue 13): the envelope as published with an "ack" member. */
        size_t len = 0;
        const char *json = nb_envelope_json(e, &len);
        cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
        cJSON *ackj = cJSON_CreateObject();
        char *text = NULL;
        if (root && ackj && cJSON_AddStringToObject(ackj, "stream", ack->stream) &&
            cJSON_AddNumberToObject(ackj, "seq", (double)ack->sequence) &&
            cJSON_AddBoolToObject(ackj, "duplicate", ack->duplicate) &&
            cJSON_AddItemToObject(root, "ack", ackj)) {
            ackj = NULL; /* root's now */
            text = cJSON_PrintUnformatted(root);
        }
        cJSON_Delete(ackj);
        cJSON_Delete(root);
        if (!text) {
            cli_error("out of memory for the --json output");
            return CLI_RUNTIME;
        }
        printf("%s\n", text);
        cJSON_free(text);
    } else if (!a->quiet) {
        printf("%s stream %s seq %llu%s\n", nb_envelope_msg_id(e), ack->stream,
               (unsigned long long)ack->sequence, ack->duplicate ? " duplicate" : "");
    }
    return cli_stdout_checked(CLI_OK);
}

int cli_js_publish(const cli_args *a, nb_client *c, nb_envelope *e)
{
    if (a->msg_id) {
        nb_status s = nb_envelope_set_msg_id(e, a->msg_id);
        if (s)
            return cli_fail(CLI_USAGE, s, "--msg-id");
    }
    /* A lost ack is retried with the same msg_id: the stream keeps one copy. */
    nb_js_publish_options po = {5000, 3, 200, a->stream};
    nb_js_ack ack;
    nb_status s = nb_client_js_publish(c, a->subject, e, &po, &ack);
    if (s == NB_NO_RESPONDERS) { /* name the commands that show and make streams */
        cli_error("%s (natsbridge stream ls shows the streams; natsbridge stream add NAME "
                  "--subjects SUBJECT makes one)",
                  nb_last_error());
        return CLI_RUNTIME;
    }
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    return print_ack(a, e, &ack);
}

/* ======================================================================== */
/* listen --jetstream --durable NAME                                        */
/* ======================================================================== */

typedef struct js_listen {
    const cli_args *a;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t done;
    bool stop;
    int rc; /* CLI_OK, or the exit code that stopped it */
} js_listen;

static bool enough(js_listen *l)
{
    return l->stop || (l->a->count && l->done >= l->a->count);
}

/* Runs on the consumer's thread: print, then ack; past --count, hand it back at once. */
static nb_js_action on_js_envelope(nb_js_consumer *cons, nb_envelope *env,
                                   const nb_js_delivery *d, void *closure)
{
    (void)cons;
    js_listen *l = closure;
    pthread_mutex_lock(&l->mu);
    bool skip = enough(l);
    pthread_mutex_unlock(&l->mu);
    int rc = skip ? CLI_OK : cli_print_envelope(l->a, env);
    if (!skip && rc == CLI_OK && !l->a->json && !l->a->quiet)
        printf("  stream %s seq %llu, delivery %llu\n", d->stream,
               (unsigned long long)d->stream_seq, (unsigned long long)d->delivered);
    nb_envelope_destroy(env);
    pthread_mutex_lock(&l->mu);
    if (!skip && rc == CLI_OK)
        l->done++;
    if (rc != CLI_OK) {
        l->stop = true;
        l->rc = rc;
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    fflush(stdout);
    return skip || rc != CLI_OK ? NB_JS_NAK_NOW : NB_JS_ACK;
}

static void on_js_error(nb_js_consumer *cons, nb_status s, const char *message,
                        const nb_js_delivery *d, nb_js_action action, void *closure)
{
    (void)cons;
    (void)s;
    (void)d;
    (void)closure;
    /* A terminated message is gone for good: always said. Naks come back: --quiet hides them. */
    if (action == NB_JS_TERM)
        cli_error("%s", message);
    else
        cli_note("%s", message);
}

static nb_js_consumer_config consumer_config(const cli_args *a)
{
    nb_js_consumer_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stream = a->stream;
    cfg.subject = a->subject;
    cfg.durable = a->durable;
    cfg.batch = (int)a->batch;
    /* With --count, never fetch more than will be printed: the rest would be handed back. */
    if (a->count && (cfg.batch == 0 || (uint64_t)cfg.batch > a->count))
        cfg.batch = a->count < 64 ? (int)a->count : 64;
    cfg.ack_wait_ms = a->ack_wait_ms;
    cfg.max_deliver = (int)a->max_deliver;
    if (a->from_seq) {
        cfg.start = NB_JS_START_SEQUENCE;
        cfg.start_sequence = a->from_seq;
    } else if (a->from_time_ms) {
        cfg.start = NB_JS_START_TIME;
        cfg.start_time_ms = a->from_time_ms;
    } else if (a->new_only) {
        cfg.start = NB_JS_START_NEW;
    } else if (a->start_last) {
        cfg.start = NB_JS_START_LAST;
    }
    return cfg;
}

/* Waits (100 ms at a time, so that signals are seen) until done, timed out or stopped. */
static int wait_done(js_listen *l, int64_t deadline)
{
    int rc = CLI_CONTINUE;
    pthread_mutex_lock(&l->mu);
    while (rc == CLI_CONTINUE) {
        if (enough(l)) {
            rc = l->rc;
        } else if (cli_stop) {
            rc = CLI_OK;
        } else if (deadline >= 0 && cli_now_ms() >= deadline) {
            cli_note("timed out after %llu message%s", (unsigned long long)l->done,
                     l->done == 1 ? "" : "s");
            rc = CLI_TIMEOUT;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        }
    }
    l->stop = true; /* messages fetched meanwhile go back to the stream */
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int cli_js_listen(nb_client *c, const cli_args *a)
{
    js_listen l = {a, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, CLI_OK};
    nb_js_consumer_config cfg = consumer_config(a);
    nb_js_consumer *k = NULL;
    nb_status s = nb_js_consumer_create(&k, c, &cfg, on_js_envelope, on_js_error, &l);
    if (s)
        return cli_fail(CLI_RUNTIME, s, NULL);
    if (a->durable)
        cli_note("listening on %s (JetStream durable %s)", a->subject, a->durable);
    else
        cli_note("listening on %s (JetStream, an ephemeral consumer)", a->subject);
    int64_t deadline = a->timeout_ms >= 0 ? cli_now_ms() + a->timeout_ms : -1;
    int rc = wait_done(&l, deadline);
    nb_js_consumer_destroy(k);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    return rc;
}

/* ======================================================================== */
/* JetStream management (issue 13, clijs)                                   */
/* ======================================================================== */

int cli_js_confirm(const cli_args *a, const char *question)
{
    if (a->force)
        return CLI_CONTINUE;
    if (!isatty(STDIN_FILENO)) {
        cli_error("%s: not confirmed (standard input is not a terminal): add -f (--force)",
                  question);
        return CLI_USAGE;
    }
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(line, "y") == 0 || strcmp(line, "yes") == 0)
        return CLI_CONTINUE;
    cli_error("not confirmed: nothing done");
    return CLI_USAGE;
}

void cli_js_time_text(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&secs, &tm)) {
        snprintf(out, 32, "-");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}
