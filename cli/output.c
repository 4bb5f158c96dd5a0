/* SPDX-License-Identifier: MIT */
/*
 * output.c - what the CLI prints and saves for a received envelope: the
 * listen-style JSON line (listen, request, reply --exec), the human summary,
 * and the payloads saved into DIR/<msg_id>/<dataname>.
 */
#include "cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ======================================================================== */
/* The listen-style JSON rendering                                          */
/* ======================================================================== */

static const char *or_empty(const char *s) { return s ? s : ""; }

/* What --json adds on request (issue 13): the bytes of every payload and table rows. */
typedef struct json_opts {
    bool data;        /* --data */
    int64_t max_rows; /* --rows: table rows in "data" */
} json_opts;

/* The JSON escape of a byte below 0x20, "\"" or "\\" (as cJSON prints them), written at w. */
static char *put_escape(char *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                    : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    if (esc) {
        memcpy(w, esc, 2);
        return w + 2;
    }
    memcpy(w, "\\u00", 4);
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    return w + 6;
}

/*
 * The n bytes of s as a JSON string (malloc'd): every byte kept, U+0000
 * included (as \u0000), which cJSON's C strings cannot hold. s is UTF-8.
 */
static char *json_string_bytes(const uint8_t *s, size_t n)
{
    char *out = n <= (SIZE_MAX - 3) / 6 ? malloc(n * 6 + 3) : NULL, *w = out;
    if (!out)
        return NULL;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
            w = put_escape(w, s[i]);
        else
            *w++ = (char)s[i];
    }
    *w++ = '"';
    *w = '\0';
    return out;
}

/* Length of a strict RFC 8259 number at s (0 when it is not one): -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static size_t strict_number(const char *s, const char *end)
{
    const char *p = s;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (p < end && *p == '.') {
        const char *d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return 0;
    }
    return (size_t)(p - s);
}

static bool is_hex4(const char *s, const char *end)
{
    for (int i = 0; i < 4; i++)
        if (s + i >= end || !strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
            return false;
    return true;
}

/*
 * A received dictionary's JSON text on one line with its bytes kept (issue 16,
 * "Exact JSON"): whitespace between tokens dropped, control characters in
 * strings escaped, numbers and every other byte as sent, so that 2^53+1 or
 * 1.7976931348623157e+308 keep every digit. NULL when the text uses a form the
 * lenient reader accepts but RFC 8259 does not (a number like 01 or .5, a bad
 * escape): the caller then prints the parsed tree instead.
 */
static char *json_compact_exact(const char *s, size_t n)
{
    char *out = n <= (SIZE_MAX - 1) / 6 ? malloc(n * 6 + 1) : NULL, *w = out;
    const char *end = s + n;
    while (out && s < end) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20) {
            s++;
        } else if (c == '"') {
            *w++ = *s++;
            while (s < end && *s != '"') {
                unsigned char b = (unsigned char)*s;
                if (b == '\\') {
                    if (s + 1 >= end || !strchr("\"\\/bfnrtu", s[1]) || !s[1] ||
                        (s[1] == 'u' && !is_hex4(s + 2, end)))
                        goto lenient;
                    size_t k = s[1] == 'u' ? 6 : 2;
                    memcpy(w, s, k);
                    w += k;
                    s += k;
                } else if (b < 0x20) {
                    w = put_escape(w, b);
                    s++;
                } else {
                    *w++ = *s++;
                }
            }
            if (s >= end)
                goto lenient;
            *w++ = *s++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t k = strict_number(s, end);
            if (!k)
                goto lenient;
            memcpy(w, s, k);
            w += k;
            s += k;
        } else {
            *w++ = *s++;
        }
    }
    if (out)
        *w = '\0';
    return out;
lenient:
    free(out);
    return NULL;
}

/* A dictionary or JSON table as one line of JSON (malloc'd): its exact bytes, else its tree. */
static char *json_one_line(const nb_payload *p)
{
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(p, &len);
    char *line = bytes ? json_compact_exact((const char *)bytes, len) : NULL;
    if (line)
        return line;
    const cJSON *tree = nb_payload_json(p);
    char *printed = tree ? cJSON_PrintUnformatted(tree) : NULL;
    line = printed ? strdup(printed) : NULL;
    cJSON_free(printed);
    return line;
}

/*
 * "data": the text of a text payload, the JSON of a dictionary or JSON table.
 * Both exactly as sent (issue 16, "Exact JSON"): a dictionary's bytes go in
 * as sent (json_one_line), not re-printed from a tree, and a text keeps its
 * U+0000.
 */
static bool add_data(cJSON *o, const nb_payload *p)
{
    nb_type t = nb_payload_type(p);
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(p, &len);
    if (!bytes || (t != NB_TYPE_TEXT && t != NB_TYPE_DICTIONARY && t != NB_TYPE_JSONTABLE))
        return true;
    char *raw = t == NB_TYPE_TEXT ? json_string_bytes(bytes, len) : json_one_line(p);
    bool ok = raw && cJSON_AddRawToObject(o, "data", raw) != NULL;
    free(raw);
    return ok;
}

/* Standard padded base64 (RFC 4648 section 4) of n bytes (malloc'd, NUL-terminated). */
static char *base64(const uint8_t *in, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; out && i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        *o++ = abc[v >> 18 & 63];
        *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    if (out)
        *o = '\0';
    return out;
}

/* --data for a binary, image, audio or video payload in memory: its bytes as base64. */
static bool add_base64(cJSON *o, const nb_payload *p)
{
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(p, &len);
    if (!bytes) /* in a file (--save-dir) or not fetched: "path" or "url" tell where */
        return true;
    char *text = base64(bytes, len);
    bool ok = text && cJSON_AddStringToObject(o, "data", text);
    free(text);
    return ok;
}

/*
 * The length of the first max rows of a JSON array of row objects (text from
 * nb_table_to_json, so well-formed): up to and including the max-th row's
 * closing brace; *cut tells whether rows were left out.
 */
static size_t rows_prefix(const char *json, size_t len, int64_t max, bool *cut)
{
    int depth = 0;
    int64_t rows = 0;
    bool in_string = false;
    *cut = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (depth == 1 && rows == max) {
                *cut = true;
                return i;
            }
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 1)
                rows++;
        }
    }
    return len;
}

/*
 * --data for a table: its first max_rows rows as nb_table_to_json writes them
 * (spliced as text, so that 64-bit integers stay exact) and "truncated".
 */
static bool add_rows(cJSON *o, const nb_table *t, int64_t max_rows)
{
    char *json = NULL;
    size_t len = 0;
    if (nb_table_to_json(t, &json, &len) != NB_OK)
        return cJSON_AddStringToObject(o, "table_error", nb_last_error()) != NULL;
    bool cut;
    size_t keep = rows_prefix(json, len, max_rows, &cut);
    if (cut) { /* "[row,row," + "]": the comma before the first row left out goes too */
        while (keep > 1 && json[keep - 1] != '}')
            keep--;
        json[keep++] = ']';
        json[keep] = '\0';
    }
    bool ok = cJSON_AddItemToObject(o, "data", cJSON_CreateRaw(json)) &&
              cJSON_AddBoolToObject(o, "truncated", cut);
    free(json);
    return ok;
}

/* A link's sha256 when the sender put one in its metadata (a link not fetched has no bytes). */
static const char *metadata_sha256(const nb_payload *p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(nb_payload_metadata(p), "sha256");
    const char *hex = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!hex || strlen(hex) != 64)
        return NULL;
    for (const char *c = hex; *c; c++)
        if (!strchr("0123456789abcdefABCDEF", *c))
            return NULL;
    return hex;
}

/* A link payload's URL without userinfo (malloc'd): it may carry a password. */
static char *redacted_url(const nb_payload *p)
{
    const char *url = nb_payload_url(p);
    size_t n = url ? strlen(url) + 1 : 0;
    char *out = n ? malloc(n) : NULL;
    return out ? nb_url_redact(url, out, n) : NULL;
}

/* A link payload whose bytes were not downloaded (--no-fetch). */
static bool unfetched(const nb_payload *p)
{
    size_t len;
    return nb_payload_transport(p) == NB_TRANSPORT_LINK && !nb_payload_path(p) &&
           !nb_payload_data(p, &len);
}

/* "url" (redacted) and "fetched" of a link payload. */
static bool add_link(cJSON *o, const nb_payload *p)
{
    if (nb_payload_transport(p) != NB_TRANSPORT_LINK)
        return true;
    char *url = redacted_url(p);
    bool ok = (!nb_payload_url(p) || (url && cJSON_AddStringToObject(o, "url", url))) &&
              cJSON_AddBoolToObject(o, "fetched", !unfetched(p));
    free(url);
    return ok;
}

/* ---- tables: "rows" and "columns" of a table payload ----------------------- */

static bool is_table(const nb_payload *p)
{
    return nb_payload_type(p) == NB_TYPE_TABLE || nb_payload_type(p) == NB_TYPE_JSONTABLE;
}

static cJSON *column_json(const nb_table *t, size_t i)
{
    nb_column_view v;
    char type[160];
    cJSON *c = cJSON_CreateObject();
    if (c && nb_table_column(t, i, &v) == NB_OK && cli_table_type_text(&v, type, sizeof type) &&
        cJSON_AddStringToObject(c, "name", v.name) && cJSON_AddStringToObject(c, "type", type))
        return c;
    cJSON_Delete(c);
    return NULL;
}

/*
 * A message's table payloads, each decoded at most once however many outputs
 * want it (the --json shape or the printed rows, and the --csv file).
 */
typedef struct tables {
    const nb_envelope *e;
    nb_table **table; /* [i]: payload i decoded, NULL until asked for or when unreadable */
    char **error;     /* [i]: why payload i is unreadable */
} tables;

static bool tables_init(tables *tb, const nb_envelope *e)
{
    size_t n = nb_envelope_payload_count(e);
    tb->e = e;
    tb->table = calloc(n ? n : 1, sizeof *tb->table);
    tb->error = calloc(n ? n : 1, sizeof *tb->error);
    return tb->table && tb->error;
}

static void tables_free(tables *tb)
{
    for (size_t i = 0; tb->table && tb->error && i < nb_envelope_payload_count(tb->e); i++) {
        nb_table_destroy(tb->table[i]);
        free(tb->error[i]);
    }
    free(tb->table);
    free(tb->error);
}

/* Payload i as a table (a view until tables_free), or NULL with *error saying why. */
static const nb_table *table_at(tables *tb, size_t i, const char **error)
{
    if (!tb->table[i] && !tb->error[i] &&
        nb_payload_table(nb_envelope_payload(tb->e, i), &tb->table[i]) != NB_OK)
        tb->error[i] = strdup(nb_last_error());
    *error = tb->error[i] ? tb->error[i] : "out of memory";
    return tb->table[i];
}

/*
 * A table that cannot be read gets "table_error" instead: the message still prints.
 * With --data, its rows replace the "data" a JSON table has.
 */
static bool add_table_shape(cJSON *o, tables *tb, size_t index, const json_opts *opt)
{
    const char *error;
    if (unfetched(nb_envelope_payload(tb->e, index)))
        return true; /* --no-fetch: nothing to read */
    const nb_table *t = table_at(tb, index, &error);
    if (!t)
        return cJSON_AddStringToObject(o, "table_error", error) != NULL;
    if (opt->data) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "data");
        if (!add_rows(o, t, opt->max_rows))
            return false;
    }
    cJSON *cols = cJSON_CreateArray();
    bool ok = cols && cJSON_AddNumberToObject(o, "rows", (double)nb_table_rows(t));
    for (size_t i = 0; ok && i < nb_table_column_count(t); i++)
        ok = cJSON_AddItemToArray(cols, column_json(t, i));
    if (ok && cJSON_AddItemToObject(o, "columns", cols))
        cols = NULL;
    cJSON_Delete(cols);
    return ok && !cols;
}

static cJSON *payload_json(tables *tb, size_t index, const char *path, const json_opts *opt)
{
    const nb_payload *p = nb_envelope_payload(tb->e, index);
    char sha[65];
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "dataname", or_empty(nb_payload_dataname(p))) &&
              cJSON_AddStringToObject(o, "type", or_empty(nb_payload_type_name(p))) &&
              cJSON_AddStringToObject(o, "transport",
                                      nb_transport_name(nb_payload_transport(p))) &&
              cJSON_AddStringToObject(o, "encoding", or_empty(nb_payload_encoding(p))) &&
              cJSON_AddNumberToObject(o, "size", (double)nb_payload_size(p));
    const char *given = unfetched(p) ? metadata_sha256(p) : NULL;
    if (ok && given)
        ok = cJSON_AddStringToObject(o, "sha256", given) != NULL;
    else if (ok && !unfetched(p) && nb_payload_sha256_hex(p, sha) == NB_OK)
        ok = cJSON_AddStringToObject(o, "sha256", sha) != NULL;
    else if (ok)
        ok = cJSON_AddNullToObject(o, "sha256") != NULL;
    ok = ok && add_link(o, p) && add_data(o, p);
    if (ok && opt->data && !is_table(p) && nb_payload_type(p) != NB_TYPE_TEXT &&
        nb_payload_type(p) != NB_TYPE_DICTIONARY)
        ok = add_base64(o, p);
    if (ok && is_table(p))
        ok = add_table_shape(o, tb, index, opt);
    if (ok && path)
        ok = cJSON_AddStringToObject(o, "path", path) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

typedef const char *(*envelope_getter)(const nb_envelope *);

static bool add_fields(cJSON *o, const nb_envelope *e)
{
    static const struct {
        const char *key;
        envelope_getter get;
    } f[] = {
        {"correlation_id", nb_envelope_correlation_id}, {"msg_id", nb_envelope_msg_id},
        {"timestamp", nb_envelope_timestamp},           {"send_to", nb_envelope_send_to},
        {"msg_purpose", nb_envelope_msg_purpose},       {"sender_name", nb_envelope_sender_name},
        {"sender_id", nb_envelope_sender_id},           {"receiver_name", nb_envelope_receiver_name},
        {"receiver_id", nb_envelope_receiver_id},       {"reply_to", nb_envelope_reply_to},
        {"reply_to_msg_id", nb_envelope_reply_to_msg_id}, {"broker_url", nb_envelope_broker_url},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!cJSON_AddStringToObject(o, f[i].key, or_empty(f[i].get(e))))
            return false;
    const cJSON *meta = nb_envelope_metadata(e);
    cJSON *copy = meta ? cJSON_Duplicate(meta, true) : cJSON_CreateObject();
    return cJSON_AddItemToObject(o, "metadata", copy);
}

static char *render_json(tables *tb, char *const *paths, const json_opts *opt)
{
    const nb_envelope *e = tb->e;
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();
    bool ok = o && list && add_fields(o, e);
    size_t n = nb_envelope_payload_count(e);
    for (size_t i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(list, payload_json(tb, i, paths ? paths[i] : NULL, opt));
    ok = ok && cJSON_AddItemToObject(o, "payloads", list);
    if (!ok)
        cJSON_Delete(list);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

char *cli_render_json(const nb_envelope *e, char *const *paths)
{
    tables tb;
    json_opts opt = {false, 0};
    char *text = tables_init(&tb, e) ? render_json(&tb, paths, &opt) : NULL;
    tables_free(&tb);
    return text;
}

/* ======================================================================== */
/* Saving payloads into DIR/<msg_id>/<dataname>                             */
/* ======================================================================== */

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') /* "out/" and "out" name the same place */
        dl--;
    size_t n = dl + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%.*s/%s", (int)dl, dir, name);
    return p;
}

/* mkdir -p: creates dir and its missing parents. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    int rc = p ? 0 : -1;
    for (char *c = p ? p + 1 : NULL; c && *c && rc == 0; c++)
        if (*c == '/') {
            *c = '\0';
            rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
            *c = '/';
        }
    if (rc == 0)
        rc = mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/*
 * The per-message directory must be a real directory (not a planted symlink)
 * of ours that no one else may write to: payloads are private (0700 / 0600).
 */
static int make_message_dir(const char *dir, const char *msgdir)
{
    struct stat st;
    if (make_dirs(dir) != 0 || (mkdir(msgdir, 0700) != 0 && errno != EEXIST)) {
        cli_error("cannot create '%s': %s", msgdir, strerror(errno));
        return -1;
    }
    if (lstat(msgdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("'%s' is not a directory: payloads not saved", msgdir);
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        cli_error("'%s' belongs to another user or others may write to it: payloads not saved",
                  msgdir);
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Writes a fresh temporary file (mkstemp: O_EXCL, so nothing is followed) and
 * renames it into place. Mode 0600 by fchmod, not by the process-wide umask,
 * which other threads share.
 */
static int write_file(const char *msgdir, const char *final, const uint8_t *data, size_t len)
{
    char *tmp = join_path(msgdir, ".natsbridge-XXXXXX");
    int fd = tmp ? mkstemp(tmp) : -1;
    int rc = fd >= 0 ? write_all(fd, data, len) : -1;
    if (rc == 0)
        rc = fchmod(fd, 0600);
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, final);
    if (rc != 0) {
        cli_error("cannot save '%s': %s", final, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* ---- tables: NAME.arrows and, with --csv, NAME.csv --------------------------- */

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* path + ".arrows" unless it ends so already (malloc'd). */
static char *arrows_name(const char *path)
{
    size_t n = strlen(path) + 8;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", path, ends_with(path, ".arrows") ? "" : ".arrows");
    return out;
}

/*
 * An Arrow table the library streamed into DIR/<msg_id>/NAME is renamed
 * NAME.arrows once the message is printed (printing still reads NAME).
 */
static void rename_streamed_tables(const nb_envelope *e, char **paths)
{
    for (size_t i = 0; i < nb_envelope_payload_count(e); i++) {
        const char *from = nb_payload_path(nb_envelope_payload(e, i));
        if (!from || !paths[i] || strcmp(from, paths[i]) == 0)
            continue;
        if (rename(from, paths[i]) != 0) {
            cli_error("cannot rename '%s' to '%s': %s", from, paths[i], strerror(errno));
            free(paths[i]);
            paths[i] = strdup(from);
        }
    }
}

/* Writes DIR/<msg_id>/NAME.csv (NAME without ".arrows") from a table payload. */
static void save_csv(const char *msgdir, tables *tb, size_t index, const char *name)
{
    const char *error;
    const nb_table *t = table_at(tb, index, &error);
    if (!t) {
        char *q = cli_quote(name);
        cli_error("payload %s: %s: no CSV saved", q ? q : "?", error);
        cJSON_free(q);
        return;
    }
    size_t len = 0, base = strlen(name) - (ends_with(name, ".arrows") ? 7 : 0);
    char *text = cli_csv_text(t, &len);
    char *file = malloc(base + 5);
    char *final = NULL;
    if (file) {
        snprintf(file, base + 5, "%.*s.csv", (int)base, name);
        final = nb_is_safe_filename(file) ? join_path(msgdir, file) : NULL;
    }
    if (!text || !final)
        cli_error("cannot save %s.csv (out of memory or unsafe name)", name);
    else
        write_file(msgdir, final, (const uint8_t *)text, len);
    free(final);
    free(file);
    free(text);
}

/* Saves one payload; returns its path (malloc'd) or NULL after an error line. */
static char *save_payload(const char *msgdir, tables *tb, size_t index, bool csv)
{
    const nb_payload *p = nb_envelope_payload(tb->e, index);
    const char *name = nb_payload_dataname(p);
    bool arrow = nb_payload_type(p) == NB_TYPE_TABLE;
    if (unfetched(p)) /* --no-fetch: no bytes to save (an empty file would lie) */
        return NULL;
    if (csv && is_table(p) && nb_is_safe_filename(name))
        save_csv(msgdir, tb, index, name);
    /* The library streamed a link payload there already (download_dir). */
    if (nb_payload_path(p))
        return arrow ? arrows_name(nb_payload_path(p)) : strdup(nb_payload_path(p));
    char *arrows = arrow ? arrows_name(name) : NULL;
    if (arrows && nb_is_safe_filename(arrows))
        name = arrows; /* an Arrow table is saved as NAME.arrows */
    if (!nb_is_safe_filename(name)) {
        char *q = cli_quote(name);
        cli_error("payload %s: not a safe file name: not saved", q ? q : "?");
        cJSON_free(q);
        return NULL;
    }
    size_t len = 0;
    const uint8_t *data = nb_payload_data(p, &len);
    char *final = join_path(msgdir, name);
    free(arrows);
    if (!final || write_file(msgdir, final, data ? data : (const uint8_t *)"", len) != 0) {
        free(final);
        return NULL;
    }
    return final;
}

static void save_payloads(const char *dir, tables *tb, char **paths, bool csv)
{
    const nb_envelope *e = tb->e;
    const char *id = nb_envelope_msg_id(e);
    if (!nb_is_safe_filename(id)) {
        char *q = cli_quote(id);
        cli_error("msg_id %s is not a safe file name: payloads not saved", q ? q : "?");
        cJSON_free(q);
        return;
    }
    char *msgdir = join_path(dir, id);
    if (msgdir && make_message_dir(dir, msgdir) == 0)
        for (size_t i = 0; i < nb_envelope_payload_count(e); i++)
            paths[i] = save_payload(msgdir, tb, i, csv);
    free(msgdir);
}

/* ======================================================================== */
/* Printing a received envelope                                             */
/* ======================================================================== */

static int finish_line(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to stdout: %s", strerror(errno));
        return CLI_RUNTIME;
    }
    return CLI_OK;
}

static int print_json(tables *tb, char *const *paths, const json_opts *opt)
{
    const nb_envelope *e = tb->e;
    char *line = render_json(tb, paths, opt);
    if (!line) {
        cli_error("out of memory rendering message %s", nb_envelope_msg_id(e));
        return CLI_RUNTIME;
    }
    printf("%s\n", line);
    cJSON_free(line);
    return finish_line();
}

#define INLINE_MAX 200 /* bytes of text or compact JSON shown on a payload's line */

/* The first line of a long text, cut to INLINE_MAX bytes on a UTF-8 boundary (malloc'd). */
static char *first_line(const char *text)
{
    size_t n = strcspn(text, "\r\n");
    if (n > INLINE_MAX)
        for (n = INLINE_MAX; n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80;)
            n--;
    char *line = malloc(n + 1);
    if (line) {
        memcpy(line, text, n);
        line[n] = '\0';
    }
    return line;
}

/*
 * What follows the sizes on a payload's line: a text or a dictionary inline
 * when short (JSON-quoted or compact JSON, so that it stays on its line), the
 * first line of a long text, or where an unfetched link points.
 */
static void print_inline(const nb_payload *p)
{
    nb_type t = nb_payload_type(p);
    const char *text = t == NB_TYPE_TEXT ? nb_payload_text(p) : NULL;
    const char *json = t == NB_TYPE_DICTIONARY ? nb_payload_text(p) : NULL;
    if (text && strlen(text) <= INLINE_MAX) {
        char *q = cli_quote(text);
        printf(" %s", q ? q : "?");
        cJSON_free(q);
    } else if (text) {
        char *line = first_line(text);
        char *q = line ? cli_quote(line) : NULL;
        printf(" %s... (%zu bytes)", q ? q : "?", strlen(text));
        cJSON_free(q);
        free(line);
    } else if (json) {
        char *line = json_one_line(p); /* the sender's bytes: every digit of every number */
        if (line && strlen(line) <= INLINE_MAX)
            printf(" %s", line);
        else
            printf(" (%zu bytes of JSON: see --json)", line ? strlen(line) : strlen(json));
        free(line);
    } else if (unfetched(p)) {
        char *url = redacted_url(p);
        char *q = url ? cli_quote(url) : NULL;
        const char *sha = metadata_sha256(p);
        printf(" not fetched: %s", q ? q : "?");
        if (sha)
            printf(" sha256 %s", sha);
        cJSON_free(q);
        free(url);
    }
}

static void print_payload_line(const nb_payload *p, const char *path)
{
    char *name = cli_quote(nb_payload_dataname(p));
    printf("  %s %s %s %llu bytes", name ? name : "?", or_empty(nb_payload_type_name(p)),
           nb_transport_name(nb_payload_transport(p)),
           (unsigned long long)nb_payload_size(p));
    print_inline(p);
    if (path)
        printf(" saved to %s", path);
    putchar('\n');
    cJSON_free(name);
}

/* A table payload's rows under its line, or why they cannot be shown. */
static void print_table_rows(tables *tb, size_t index, int64_t max_rows)
{
    const char *error;
    const nb_table *t = table_at(tb, index, &error);
    if (!t) {
        char *q = cli_quote(error);
        printf("    (table not readable: %s)\n", q ? q : "?");
        cJSON_free(q);
        return;
    }
    cli_print_table(t, max_rows, "    ");
}

static int print_human(tables *tb, char *const *paths, int64_t max_rows)
{
    const nb_envelope *e = tb->e;
    size_t n = nb_envelope_payload_count(e);
    /* Every string here came off the network: quoted, so no escape sequence reaches the terminal. */
    char *id = cli_quote(nb_envelope_msg_id(e));
    char *sender = cli_quote(nb_envelope_sender_name(e));
    char *subject = cli_quote(nb_envelope_send_to(e));
    printf("message %s from %s on %s, %zu payload%s\n", id ? id : "?", sender ? sender : "?",
           subject ? subject : "?", n, n == 1 ? "" : "s");
    cJSON_free(id);
    cJSON_free(sender);
    cJSON_free(subject);
    for (size_t i = 0; i < n; i++) {
        const nb_payload *p = nb_envelope_payload(e, i);
        print_payload_line(p, paths[i]);
        if (is_table(p) && !unfetched(p))
            print_table_rows(tb, i, max_rows);
    }
    return finish_line();
}

int cli_output_check(const cli_args *a)
{
    if (a->data && !a->json) {
        cli_error("--data needs --json (the summary shows short texts and dictionaries already)");
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

int cli_print_envelope(const cli_args *a, const nb_envelope *e)
{
    size_t n = nb_envelope_payload_count(e);
    char **paths = calloc(n ? n : 1, sizeof *paths);
    tables tb;
    if (!tables_init(&tb, e) || !paths) {
        tables_free(&tb);
        free(paths);
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    if (a->save_dir)
        save_payloads(a->save_dir, &tb, paths, a->csv_out);
    int64_t max_rows = a->has_rows ? (int64_t)(a->rows > INT64_MAX ? INT64_MAX : a->rows) : 10;
    json_opts opt = {a->data, max_rows};
    int rc = a->json ? print_json(&tb, paths, &opt) : print_human(&tb, paths, max_rows);
    if (a->save_dir)
        rename_streamed_tables(e, paths);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    tables_free(&tb);
    return rc;
}

