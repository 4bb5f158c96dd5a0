/* SPDX-License-Identifier: MIT */
/*
 * payload.c - payload types, the nb_payload constructors and accessors, and
 * the content checks every payload passes (UTF-8 text, JSON dictionaries).
 */
#include "payload.h"
#include "jsonscan.h"
#include "utf8.h"

#include "buf.h"
#include "integrity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const type_names[] = {
    [NB_TYPE_TEXT] = "text",       [NB_TYPE_DICTIONARY] = "dictionary",
    [NB_TYPE_TABLE] = "table",     [NB_TYPE_IMAGE] = "image",
    [NB_TYPE_AUDIO] = "audio",     [NB_TYPE_VIDEO] = "video",
    [NB_TYPE_BINARY] = "binary",   [NB_TYPE_JSONTABLE] = "jsontable",
};
_Static_assert(sizeof(type_names) / sizeof(type_names[0]) == NB_TYPE_COUNT,
               "every nb_type needs a wire name");

/* Every name a peer may write, with the aliases of PROTOCOL.md "Types". */
static const struct {
    const char *name;
    nb_type type;
} type_aliases[] = {
    {"text", NB_TYPE_TEXT},          {"dictionary", NB_TYPE_DICTIONARY},
    {"json", NB_TYPE_DICTIONARY},    {"table", NB_TYPE_TABLE},
    {"arrowtable", NB_TYPE_TABLE},   {"jsontable", NB_TYPE_JSONTABLE},
    {"image", NB_TYPE_IMAGE},        {"audio", NB_TYPE_AUDIO},
    {"video", NB_TYPE_VIDEO},        {"binary", NB_TYPE_BINARY},
};

const char *nb_type_name(nb_type t)
{
    if ((unsigned)t >= NB_TYPE_COUNT)
        return "unknown";
    return type_names[t];
}

nb_status nb_type_parse(const char *name, nb_type *out)
{
    if (!name || !out)
        return nbi_fail(NB_INVALID_ARG, "payload type: name or out is NULL");
    for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++) {
        if (strcmp(name, type_aliases[i].name) == 0) {
            *out = type_aliases[i].type;
            return NB_OK;
        }
    }
    return nbi_fail(NB_INVALID_ARG, "payload type: unknown type '%.64s'", name);
}

const char *nb_transport_name(nb_transport t)
{
    return t == NB_TRANSPORT_LINK ? "link" : "direct";
}

/* ------------------------------------------------------------------------ */
/* JSON checks                                                             */
/* ------------------------------------------------------------------------ */


cJSON *nbi_payload_parse_json(const char *text, size_t len, size_t *err_at)
{
    const char *end = text;
    cJSON *tree = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    size_t at = (size_t)(end - text);
    if (tree) {
        /* cJSON stops after the value; only JSON whitespace may follow. */
        while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' ||
                            text[at] == '\r'))
            at++;
        if (at == len)
            return tree;
        cJSON_Delete(tree);
    }
    if (err_at)
        *err_at = at > len ? len : at;
    return NULL;
}

bool nbi_payload_is_json_rows(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    return i < len && data[i] == '[';
}

/* Who a failed check names: the sender's text, or a received envelope's payloads[index] 'name'. */
typedef struct {
    const char *text; /* NULL: format from index */
    size_t index;
} who_t;

static const char *who_str(const who_t *w, const nb_payload *p, char *buf, size_t n)
{
    if (w->text)
        return w->text;
    snprintf(buf, n, "payloads[%zu] '%.64s'", w->index, nbi_or_empty(p->dataname));
    return buf;
}

/* Validated by the scanner: no tree (nb_payload_json builds one if asked). */
static nb_status check_json(nb_payload *p, const who_t *w)
{
    const char *kind = nb_type_name(p->type);
    char buf[128];
    size_t bad = nbi_utf8_check(p->data, p->len);
    if (bad < p->len)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: %s is not valid UTF-8 at byte %zu",
                        who_str(w, p, buf, sizeof buf), kind, bad);
    /* cJSON skips NUL as whitespace; JSON text has none, and nb_payload_text() would stop there. */
    const uint8_t *nul = memchr(p->data, '\0', p->len);
    if (nul)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: %s is not valid JSON (NUL byte at %zu)",
                        who_str(w, p, buf, sizeof buf), kind, (size_t)(nul - p->data));
    nbi_json_scanner sc;
    nbi_json_value root;
    nbi_json_scanner_init(&sc, (const char *)p->data, p->len);
    if (!nbi_json_scan_document(&sc, &root))
        return nbi_fail(NB_BAD_PAYLOAD, "%s: %s is not valid JSON (near byte %zu)",
                        who_str(w, p, buf, sizeof buf), kind, nbi_json_error_offset(&sc));
    /* A JSON table is rows: an array (of row objects); a dictionary may be any value. */
    if (p->type == NB_TYPE_JSONTABLE && root.kind != NBI_JSON_ARRAY)
        return nbi_fail(NB_BAD_PAYLOAD, "%s: jsontable is not a JSON array of rows",
                        who_str(w, p, buf, sizeof buf));
    return NB_OK;
}

static nb_status check_content(nb_payload *p, const who_t *w)
{
    if (!p->data)
        return NB_OK; /* bytes in a file or not downloaded yet: checked when loaded */
    char buf[128];
    if (p->type == NB_TYPE_TEXT) {
        size_t bad = nbi_utf8_check(p->data, p->len);
        if (bad < p->len)
            return nbi_fail(NB_BAD_PAYLOAD, "%s: text is not valid UTF-8 at byte %zu",
                            who_str(w, p, buf, sizeof buf), bad);
        return NB_OK;
    }
    if (p->type == NB_TYPE_DICTIONARY || p->type == NB_TYPE_JSONTABLE)
        return check_json(p, w);
    if (p->type == NB_TYPE_TABLE && nbi_payload_is_json_rows(p->data, p->len))
        /* Receivers read a "table" starting with '[' as JSON rows (PROTOCOL.md): refuse
         * it here so that what we accept we can also send, and the other way round. */
        return nbi_fail(NB_BAD_PAYLOAD,
                        "%s: table bytes start with '[' (JSON rows, not Arrow IPC): use jsontable",
                        who_str(w, p, buf, sizeof buf));
    return NB_OK;
}

nb_status nbi_payload_check_content(nb_payload *p, const char *who)
{
    who_t w = {who, 0};
    return check_content(p, &w);
}

nb_status nbi_payload_check_received(nb_payload *p, size_t index)
{
    who_t w = {NULL, index};
    return check_content(p, &w);
}

nb_status nbi_payload_copy_object(cJSON **dst, const cJSON *src, const char *who)
{
    if (!cJSON_IsObject(src))
        return nbi_fail(NB_INVALID_ARG, "%s: metadata must be a JSON object", who);
    cJSON *copy = cJSON_Duplicate(src, true);
    if (!copy)
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory copying metadata", who);
    cJSON_Delete(*dst);
    *dst = copy;
    return NB_OK;
}

nb_status nbi_payload_parse_object(cJSON **dst, const char *json, const char *who)
{
    if (!json)
        return nbi_fail(NB_INVALID_ARG, "%s: metadata JSON is NULL", who);
    size_t at = 0;
    cJSON *tree = nbi_payload_parse_json(json, strlen(json), &at);
    if (!tree)
        return nbi_fail(NB_INVALID_ARG, "%s: metadata is not valid JSON (near byte %zu)", who, at);
    if (!cJSON_IsObject(tree)) {
        cJSON_Delete(tree);
        return nbi_fail(NB_INVALID_ARG, "%s: metadata must be a JSON object", who);
    }
    cJSON_Delete(*dst);
    *dst = tree;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

nb_status nbi_payload_new(nb_payload **out)
{
    nb_payload *p = calloc(1, sizeof *p);
    if (p && !(p->metadata = cJSON_CreateObject())) {
        free(p);
        p = NULL;
    }
    *out = p;
    if (!p)
        return nbi_fail(NB_NO_MEMORY, "payload: out of memory");
    return NB_OK;
}

/* The strings of a payload that may point into a received envelope's arena. */
static char **shared_fields(nb_payload *p, size_t i)
{
    char **fields[] = {&p->id, &p->dataname, &p->type_name, &p->encoding, &p->url};
    return i < sizeof fields / sizeof fields[0] ? fields[i] : NULL;
}

static bool in_arena(const nb_payload *p, const char *s)
{
    return s && p->arena && s >= p->arena && s < p->arena + p->arena_len;
}

void nbi_payload_share_arena(nb_payload *p, const char *arena, size_t len)
{
    p->arena = arena;
    p->arena_len = len;
}

nb_status nbi_payload_unshare(nb_payload *p)
{
    char **field;
    for (size_t i = 0; (field = shared_fields(p, i)) != NULL; i++) {
        if (!in_arena(p, *field))
            continue;
        char *copy = nbi_strdup(*field);
        if (!copy)
            return nbi_fail(NB_NO_MEMORY, "payload '%.100s': out of memory copying its fields",
                            nbi_or_empty(p->dataname));
        *field = copy;
    }
    p->arena = NULL;
    p->arena_len = 0;
    return NB_OK;
}

void nb_payload_destroy(nb_payload *p)
{
    if (!p)
        return;
    char **field;
    for (size_t i = 0; (field = shared_fields(p, i)) != NULL; i++)
        if (!in_arena(p, *field))
            free(*field);
    free(p->data);
    free(p->path);
    cJSON_Delete(p->json);
    cJSON_Delete(p->metadata);
    free(p);
}

void nbi_payload_take_data(nb_payload *p, uint8_t *data, size_t len)
{
    free(p->data);
    cJSON_Delete(p->json);
    p->json = NULL;
    p->data = data;
    p->len = len;
    if (data)
        data[len] = '\0';
}

/* Names must be non-empty UTF-8: they become file names and JSON strings. */
static nb_status check_dataname(const char *dataname)
{
    if (!dataname || !*dataname)
        return nbi_fail(NB_INVALID_ARG, "payload: dataname must not be empty");
    if (!nbi_utf8_valid((const uint8_t *)dataname, strlen(dataname)))
        return nbi_fail(NB_INVALID_ARG, "payload: dataname is not valid UTF-8");
    return NB_OK;
}

/* A payload named dataname of type, no bytes yet. */
static nb_status payload_start(nb_payload **out, const char *dataname, nb_type type)
{
    *out = NULL;
    nb_status s = check_dataname(dataname);
    if (s == NB_OK && (unsigned)type >= NB_TYPE_COUNT)
        s = nbi_fail(NB_INVALID_ARG, "payload '%s': unknown type %d", dataname, (int)type);
    nb_payload *p = NULL;
    if (s == NB_OK)
        s = nbi_payload_new(&p);
    if (s == NB_OK) {
        p->type = type;
        p->dataname = nbi_strdup(dataname);
        p->type_name = nbi_strdup(nb_type_name(type));
        if (!p->dataname || !p->type_name)
            s = nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory", dataname);
    }
    if (s != NB_OK) {
        nb_payload_destroy(p);
        return s;
    }
    *out = p;
    return NB_OK;
}

/*
 * Gives p the malloc'd bytes (len of them, room for a NUL after) and checks
 * them against p's type; *out = p, or p is destroyed and the check's error returned.
 */
static nb_status finish_in_memory(nb_payload **out, nb_payload *p, uint8_t *bytes, size_t len)
{
    nbi_payload_take_data(p, bytes, len);
    p->size = len;
    char who[128];
    snprintf(who, sizeof who, "payload '%.100s'", nbi_or_empty(p->dataname));
    nb_status s = nbi_payload_check_content(p, who);
    if (s != NB_OK) {
        nb_payload_destroy(p);
        return s;
    }
    *out = p;
    return NB_OK;
}

nb_status nb_payload_create(nb_payload **out, const char *dataname, nb_type type,
                            const void *data, size_t len)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    *out = NULL;
    if (!data && len)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': data is NULL with length %zu",
                        nbi_or_empty(dataname), len);
    if (len == SIZE_MAX)
        return nbi_fail(NB_TOO_LARGE, "payload '%s': %zu bytes", nbi_or_empty(dataname), len);
    nb_payload *p;
    nb_status s = payload_start(&p, dataname, type);
    if (s != NB_OK)
        return s;
    uint8_t *copy = malloc(len + 1); /* + the NUL that lets text be read in place */
    if (!copy) {
        nb_payload_destroy(p);
        return nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory for %zu bytes", dataname, len);
    }
    if (len)
        memcpy(copy, data, len);
    return finish_in_memory(out, p, copy, len);
}

nb_status nb_payload_create_text(nb_payload **out, const char *dataname, const char *text)
{
    if (out)
        *out = NULL;
    if (!text)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': text is NULL", nbi_or_empty(dataname));
    return nb_payload_create(out, dataname, NB_TYPE_TEXT, text, strlen(text));
}

nb_status nb_payload_create_dict_json(nb_payload **out, const char *dataname, const char *json)
{
    if (out)
        *out = NULL;
    if (!json)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': JSON is NULL", nbi_or_empty(dataname));
    return nb_payload_create(out, dataname, NB_TYPE_DICTIONARY, json, strlen(json));
}

nb_status nb_payload_create_dict(nb_payload **out, const char *dataname, const cJSON *tree)
{
    if (out)
        *out = NULL;
    if (!tree)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': tree is NULL", nbi_or_empty(dataname));
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    char *text = cJSON_PrintUnformatted(tree);
    if (!text)
        return nbi_fail(NB_NO_MEMORY, "payload '%s': cannot serialize the tree",
                        nbi_or_empty(dataname));
    size_t len = strlen(text);
    nb_payload *p;
    nb_status s = payload_start(&p, dataname, NB_TYPE_DICTIONARY);
    uint8_t *copy = s == NB_OK ? malloc(len + 1) : NULL;
    if (s == NB_OK && !copy)
        s = nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory for %zu bytes", dataname, len);
    if (s == NB_OK) {
        memcpy(copy, text, len);
        nbi_payload_take_data(p, copy, len);
        p->size = len;
        /* cJSON wrote this JSON itself: not parsed again (issue 16). Its strings
         * are the caller's bytes, though, and a receiver refuses bad UTF-8. */
        size_t bad = nbi_utf8_check(p->data, len);
        if (bad < len)
            s = nbi_fail(NB_BAD_PAYLOAD, "payload '%.100s': dictionary is not valid UTF-8 at byte %zu",
                         dataname, bad);
    }
    cJSON_free(text);
    if (s != NB_OK) {
        nb_payload_destroy(p);
        return s;
    }
    *out = p;
    return NB_OK;
}

nb_status nb_payload_create_file(nb_payload **out, const char *dataname, nb_type type,
                                 const char *path)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': path is empty", nbi_or_empty(dataname));
    nb_payload *p;
    nb_status s = payload_start(&p, dataname, type);
    if (s != NB_OK)
        return s;
    struct stat st;
    if (stat(path, &st) != 0)
        s = nbi_fail(NB_IO, "payload '%s': cannot stat '%s': %s", dataname, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = nbi_fail(NB_IO, "payload '%s': '%s' is not a regular file", dataname, path);
    else if (!(p->path = nbi_strdup(path)))
        s = nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory", dataname);
    if (s != NB_OK) {
        nb_payload_destroy(p);
        return s;
    }
    p->size = (uint64_t)st.st_size;
    *out = p;
    return NB_OK;
}

/* Payloads streamed from a reader (issue 13): the bytes are read when sent (transport.c). */
nb_status nb_payload_create_reader(nb_payload **out, const char *dataname, nb_type type,
                                   nb_read_fn read, void *closure)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    *out = NULL;
    if (!read)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': read is NULL", nbi_or_empty(dataname));
    nb_payload *p;
    nb_status s = payload_start(&p, dataname, type);
    if (s != NB_OK)
        return s;
    p->reader = read;
    p->reader_ctx = closure;
    *out = p;
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Setters and accessors                                                    */
/* ------------------------------------------------------------------------ */

nb_status nb_payload_set_metadata_json(nb_payload *p, const char *json)
{
    if (!p)
        return nbi_fail(NB_INVALID_ARG, "payload: NULL payload");
    char who[128];
    snprintf(who, sizeof who, "payload '%.100s'", nbi_or_empty(p->dataname));
    return nbi_payload_parse_object(&p->metadata, json, who);
}

nb_status nb_payload_set_metadata(nb_payload *p, const cJSON *object)
{
    if (!p)
        return nbi_fail(NB_INVALID_ARG, "payload: NULL payload");
    char who[128];
    snprintf(who, sizeof who, "payload '%.100s'", nbi_or_empty(p->dataname));
    return nbi_payload_copy_object(&p->metadata, object, who);
}

nb_status nb_payload_force_link(nb_payload *p, bool on)
{
    if (!p)
        return nbi_fail(NB_INVALID_ARG, "payload: NULL payload");
    p->force_link = on;
    return NB_OK;
}

const char *nb_payload_id(const nb_payload *p) { return p ? nbi_or_empty(p->id) : ""; }

const char *nb_payload_dataname(const nb_payload *p)
{
    return p ? nbi_or_empty(p->dataname) : "";
}

nb_type nb_payload_type(const nb_payload *p) { return p ? p->type : NB_TYPE_BINARY; }

const char *nb_payload_type_name(const nb_payload *p)
{
    if (!p)
        return "";
    return p->type_name ? p->type_name : nb_type_name(p->type);
}

nb_transport nb_payload_transport(const nb_payload *p)
{
    return p ? p->transport : NB_TRANSPORT_DIRECT;
}

const char *nb_payload_encoding(const nb_payload *p)
{
    return p ? nbi_or_empty(p->encoding) : "";
}

uint64_t nb_payload_size(const nb_payload *p) { return p ? p->size : 0; }

const uint8_t *nb_payload_data(const nb_payload *p, size_t *len)
{
    const uint8_t *data = p ? p->data : NULL;
    if (len)
        *len = data ? p->len : 0;
    return data;
}

const char *nb_payload_text(const nb_payload *p)
{
    if (!p || !p->data)
        return NULL;
    bool textual = p->type == NB_TYPE_TEXT || p->type == NB_TYPE_DICTIONARY ||
                   p->type == NB_TYPE_JSONTABLE;
    return textual ? (const char *)p->data : NULL;
}

const cJSON *nb_payload_json(const nb_payload *p)
{
    if (!p || (p->type != NB_TYPE_DICTIONARY && p->type != NB_TYPE_JSONTABLE) || !p->data)
        return NULL;
    if (!p->json) {
        /* Built on first use (a cache: the payload's logical state is its bytes), from
         * bytes the scanner validated, so only memory can fail; then NULL, as before. */
        nb_payload *cache = (nb_payload *)p;
        cache->json = nbi_payload_parse_json((const char *)p->data, p->len, NULL);
    }
    return p->json;
}

const cJSON *nb_payload_metadata(const nb_payload *p)
{
    /* Never NULL, even for a NULL payload: callers iterate it directly. */
    static const cJSON empty = {.type = cJSON_Object};
    return p && p->metadata ? p->metadata : &empty;
}

const char *nb_payload_url(const nb_payload *p)
{
    return p && p->transport == NB_TRANSPORT_LINK ? p->url : NULL;
}

const char *nb_payload_path(const nb_payload *p) { return p ? p->path : NULL; }

nb_status nb_payload_sha256_hex(const nb_payload *p, char out[65])
{
    if (!p || !out)
        return nbi_fail(NB_INVALID_ARG, "payload: NULL payload or out");
    if (p->data)
        return nbi_sha256_hex(p->data, p->len, out);
    if (p->path)
        return nbi_sha256_file_hex(p->path, out, NULL);
    /* A streamed payload was hashed while it was uploaded; before that it has no bytes yet. */
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(p->metadata, "sha256");
    if (p->streamed && cJSON_IsString(sha) && strlen(sha->valuestring) == 64) {
        memcpy(out, sha->valuestring, 65);
        return NB_OK;
    }
    if (p->reader)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': a streamed payload is hashed when it is sent",
                        nbi_or_empty(p->dataname));
    return nbi_fail(NB_INVALID_ARG, "payload '%s': no bytes to hash (link not downloaded)",
                    nbi_or_empty(p->dataname));
}

/* ------------------------------------------------------------------------ */
/* Table payloads (issue 4; the codecs are in ipc_*.c and jsontable.c)      */
/* ------------------------------------------------------------------------ */

/* The checks before a table is encoded: out, then the name (a bad one encodes nothing). */
static nb_status table_payload_start(nb_payload **out, const char *dataname)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    *out = NULL;
    return check_dataname(dataname);
}

/*
 * A payload taking bytes malloc'd by a table encoder (realloc'd for the NUL);
 * encoded is the encoder's status, its error named with the payload.
 */
static nb_status create_taken(nb_payload **out, const char *dataname, nb_type type,
                              nb_status encoded, uint8_t *bytes, size_t len)
{
    if (encoded != NB_OK)
        return nbi_fail_prefix(encoded, "payload '%.100s'", dataname);
    nb_payload *p = NULL;
    nb_status s = payload_start(&p, dataname, type);
    uint8_t *room = s == NB_OK ? realloc(bytes, len + 1) : NULL;
    if (s == NB_OK && !room)
        s = nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory", dataname);
    if (s != NB_OK) {
        free(room ? room : bytes);
        nb_payload_destroy(p);
        return s;
    }
    return finish_in_memory(out, p, room, len);
}

nb_status nb_payload_create_table(nb_payload **out, const char *dataname, const nb_table *t,
                                  size_t batch_rows)
{
    nb_status s = table_payload_start(out, dataname);
    if (s != NB_OK)
        return s;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s = nb_table_to_ipc(t, batch_rows, &bytes, &len);
    return create_taken(out, dataname, NB_TYPE_TABLE, s, bytes, len);
}

nb_status nb_payload_create_jsontable(nb_payload **out, const char *dataname, const nb_table *t)
{
    nb_status s = table_payload_start(out, dataname);
    if (s != NB_OK)
        return s;
    char *json = NULL;
    size_t len = 0;
    s = nb_table_to_json(t, &json, &len);
    return create_taken(out, dataname, NB_TYPE_JSONTABLE, s, (uint8_t *)json, len);
}

/* The whole file at path, for a table payload downloaded into a directory. */
static nb_status read_payload_file(const nb_payload *p, uint8_t **out, size_t *len)
{
    FILE *f = fopen(p->path, "rb");
    nbi_buf b = NBI_BUF_INIT;
    nb_status s = f ? NB_OK : nbi_fail(NB_IO, "cannot open '%s': %s", p->path, strerror(errno));
    while (s == NB_OK && (s = nbi_buf_reserve(&b, 1 << 16)) == NB_OK) {
        size_t got = fread(b.data + b.len, 1, b.cap - b.len - 1, f);
        b.len += got;
        if (got == 0)
            break;
    }
    if (s == NB_OK && ferror(f))
        s = nbi_fail(NB_IO, "cannot read '%s'", p->path);
    if (f)
        fclose(f);
    if (s != NB_OK) {
        nbi_buf_free(&b);
        return s;
    }
    *out = nbi_buf_detach(&b, len);
    return *out ? NB_OK : nbi_fail(NB_NO_MEMORY, "payload: out of memory");
}

/* JSON text starts with '[' or '{' after whitespace; Arrow IPC never does. */
static bool looks_like_json(const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
        i++;
    return i < n && (d[i] == '[' || d[i] == '{');
}

nb_status nb_payload_table(const nb_payload *p, nb_table **out)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "payload: out is NULL");
    *out = NULL;
    if (!p)
        return nbi_fail(NB_INVALID_ARG, "payload: NULL payload");
    const char *name = nbi_or_empty(p->dataname);
    if (p->type != NB_TYPE_TABLE && p->type != NB_TYPE_JSONTABLE)
        return nbi_fail(NB_INVALID_ARG, "payload '%s': a %s payload is not a table", name,
                        nb_payload_type_name(p));
    uint8_t *owned = NULL;
    const uint8_t *data = p->data;
    size_t len = p->len;
    nb_status s = NB_OK;
    if (!data && p->path && (s = read_payload_file(p, &owned, &len)) == NB_OK)
        data = owned;
    else if (!data && s == NB_OK)
        s = nbi_fail(NB_INVALID_ARG, "payload '%s': no bytes (link not downloaded)", name);
    if (s == NB_OK)
        s = looks_like_json(data, len) ? nb_table_from_json(out, (const char *)data, len)
                                       : nb_table_from_ipc(out, data, len);
    free(owned);
    return s == NB_OK ? s : nbi_fail_prefix(s, "payload '%s'", name);
}

/* ======================================================================== */
/* Files that hold received payloads                                        */
/* ======================================================================== */

nb_status nbi_create_private_file(const char *path, FILE **out)
{
    *out = NULL;
    /* The mode bits of open(2), not umask(2): the umask is process-wide and other threads use it. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EEXIST || errno == ELOOP))
        return nbi_fail(NB_NOT_ALLOWED,
                        "'%s' already exists (a planted file or symbolic link?): not opened, "
                        "not followed", path);
    if (fd < 0) {
        int err = errno;
        nbi_fail(NB_IO, "cannot create '%s': %s", path, strerror(err));
        errno = err; /* callers may word the error their own way */
        return NB_IO;
    }
    /* open(2) applies the umask to 0600 too: a umask of 0277 would leave the file unwritable. */
    if (fchmod(fd, 0600) != 0 || !(*out = fdopen(fd, "wb"))) {
        int err = errno;
        close(fd);
        unlink(path);
        nbi_fail(NB_IO, "cannot open '%s': %s", path, strerror(err));
        errno = err;
        return NB_IO;
    }
    return NB_OK;
}

nb_status nbi_make_private_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return nbi_fail(NB_IO, "cannot create directory '%s': %s", path, strerror(errno));
    struct stat st;
    if (lstat(path, &st) != 0)
        return nbi_fail(NB_IO, "cannot inspect '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return nbi_fail(NB_NOT_ALLOWED, "'%s' is not a directory (a symbolic link?)", path);
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return nbi_fail(NB_NOT_ALLOWED,
                        "'%s' belongs to another user or others may write to it: payloads are "
                        "not saved there", path);
    return NB_OK;
}
