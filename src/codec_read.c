/* SPDX-License-Identifier: MIT */
/*
 * codec_read.c - the envelope reader: JSON text -> nb_envelope
 * (docs/PROTOCOL.md). It accepts the peers' older spellings (camelCase keys,
 * payload_type, literal JSON data) and names the field in every error.
 */
#include "codec.h"

#include "base64.h"
#include "buf.h"
#include "options.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

/* The first of keys (NULL-ended) present and not null in obj; *used gets its name. */
static cJSON *lookup(const cJSON *obj, const char *const *keys, const char **used)
{
    for (size_t i = 0; keys[i]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
        if (v && !cJSON_IsNull(v)) { /* null counts as absent */
            *used = keys[i];
            return v;
        }
    }
    *used = keys[0];
    return NULL;
}

/*
 * Reads an optional string (missing or null -> *dst stays NULL) or, when
 * required, a non-empty one. where prefixes errors ("envelope",
 * "envelope: payloads[2]").
 */
static nb_status read_string(const cJSON *obj, const char *const *keys, const char *where,
                             bool required, char **dst)
{
    const char *key;
    const cJSON *v = lookup(obj, keys, &key);
    if (!v) {
        if (required)
            return nbi_fail(NB_BAD_ENVELOPE, "%s: missing field '%s'", where, key);
        return NB_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field '%s' must be a string", where, key);
    if (required && !*v->valuestring)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field '%s' must not be empty", where, key);
    return nbi_set_string(dst, v->valuestring);
}

/* Makes *dst the object v (detached from its parent, no copy). */
static void take_object(cJSON **dst, cJSON *parent, cJSON *v)
{
    cJSON_DetachItemViaPointer(parent, v);
    cJSON_Delete(*dst);
    *dst = v;
}

/*
 * True when v nests deeper than left levels of objects and arrays ({} is
 * one). The recursion stops at the limit, and cJSON's parser already bounds
 * any tree at 1000 levels.
 */
static bool nests_deeper(const cJSON *v, int left)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return false;
    if (left <= 0)
        return true;
    for (const cJSON *c = v->child; c; c = c->next)
        if (nests_deeper(c, left - 1))
            return true;
    return false;
}

/* The metadata of payload index (NO_INDEX: the envelope's), named only when it fails. */
static nb_status check_depth(const cJSON *m, const nb_options *o, size_t index)
{
    if (!m || !nests_deeper(m, o->max_metadata_depth))
        return NB_OK;
    char where[64] = "metadata";
    if (index != NO_INDEX)
        snprintf(where, sizeof where, "payloads[%zu].metadata", index);
    return nbi_fail(NB_TOO_LARGE,
                    "envelope: %s nests deeper than the limit of %d levels "
                    "(nb_options_set_max_metadata_depth, --max-metadata-depth)",
                    where, o->max_metadata_depth);
}

/* metadata, or the first peers' `note` when metadata is absent (a non-object note is wrapped). */
static nb_status read_metadata_or_note(nb_envelope *e, cJSON *root)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (m && !cJSON_IsNull(m)) {
        if (!cJSON_IsObject(m))
            return nbi_fail(NB_BAD_ENVELOPE, "envelope: field 'metadata' must be a JSON object");
        take_object(&e->metadata, root, m);
        return NB_OK;
    }
    cJSON *note = cJSON_GetObjectItemCaseSensitive(root, "note");
    if (!note || cJSON_IsNull(note))
        return NB_OK;
    if (cJSON_IsObject(note)) {
        take_object(&e->metadata, root, note);
        return NB_OK;
    }
    cJSON_DetachItemViaPointer(root, note);
    if (!cJSON_AddItemToObject(e->metadata, "note", note)) {
        cJSON_Delete(note);
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory reading 'note'");
    }
    return NB_OK;
}

static nb_status read_envelope_metadata(nb_envelope *e, cJSON *root, const nb_options *o)
{
    nb_status s = read_metadata_or_note(e, root);
    return s == NB_OK ? check_depth(e->metadata, o, NO_INDEX) : s;
}

/* Size fields are JSON integers 0..2^53 (the exact range of a double). */
static nb_status read_size(const cJSON *obj, const char *where, bool *present, uint64_t *size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "size");
    *present = false;
    if (!v || cJSON_IsNull(v))
        return NB_OK;
    if (!cJSON_IsNumber(v))
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'size' must be a JSON integer", where);
    double d = v->valuedouble;
    if (d < 0)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'size' must not be negative", where);
    if (!isfinite(d) || d > 9007199254740992.0)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'size' is too large (over 2^53)", where);
    uint64_t whole = (uint64_t)d; /* in range: 0 <= d <= 2^53 */
    if ((double)whole != d)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'size' must be a whole number", where);
    *present = true;
    *size = whole;
    return NB_OK;
}

static nb_status read_type(nb_payload *p, const cJSON *obj, const char *where)
{
    static const char *const keys[] = {"type", "payload_type", "payloadType", NULL};
    nb_status s = read_string(obj, keys, where, true, &p->type_name);
    if (s != NB_OK)
        return s;
    if (nb_type_parse(p->type_name, &p->type) != NB_OK) {
        const char *key;
        lookup(obj, keys, &key);
        return nbi_fail(NB_BAD_ENVELOPE, "%s.%s: unknown type '%.64s'", where, key,
                        p->type_name);
    }
    return NB_OK;
}

static nb_status read_transport(nb_payload *p, const cJSON *obj, const char *where)
{
    static const char *const keys[] = {"transport", NULL};
    static const char *const enc_keys[] = {"encoding", NULL};
    char *t = NULL;
    nb_status s = read_string(obj, keys, where, true, &t);
    if (s == NB_OK && strcmp(t, "direct") == 0)
        p->transport = NB_TRANSPORT_DIRECT;
    else if (s == NB_OK && strcmp(t, "link") == 0)
        p->transport = NB_TRANSPORT_LINK;
    else if (s == NB_OK)
        s = nbi_fail(NB_BAD_ENVELOPE, "%s.transport: unknown transport '%.64s'", where, t);
    free(t);
    if (s == NB_OK)
        s = read_string(obj, enc_keys, where, false, &p->encoding);
    if (s == NB_OK && !p->encoding)
        s = nbi_set_string(&p->encoding, p->transport == NB_TRANSPORT_LINK ? "none" : "base64");
    return s;
}

static nb_status read_payload_metadata(nb_payload *p, cJSON *obj, const char *where, size_t i,
                                       const nb_options *o)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!m || cJSON_IsNull(m))
        return NB_OK;
    if (!cJSON_IsObject(m))
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'metadata' must be a JSON object", where);
    nb_status s = check_depth(m, o, i);
    if (s == NB_OK)
        take_object(&p->metadata, obj, m);
    return s;
}

/* Copies n bytes (plus the NUL) as the payload's bytes. */
static nb_status take_copy(nb_payload *p, const char *bytes, size_t n, const char *where)
{
    uint8_t *copy = n < SIZE_MAX ? malloc(n + 1) : NULL;
    if (!copy)
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory for %zu bytes", where, n);
    memcpy(copy, bytes, n);
    nbi_payload_take_data(p, copy, n);
    return NB_OK;
}

static const char *skip_json_space(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    return s;
}

/*
 * A peer's documentation shows encoding "json" with the JSON text itself in
 * data; base64 never starts with '[', '{' or '"', so the two cannot be confused.
 */
static bool is_literal_json(const nb_payload *p, const char *str, size_t n)
{
    if (strcmp(p->encoding, "json") != 0)
        return false;
    const char *first = skip_json_space(str, str + n);
    return first < str + n && (*first == '[' || *first == '{' || *first == '"');
}

static nb_status read_direct_data(nb_payload *p, const cJSON *v, const char *where)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        /* JSON placed in data as a value: its compact text is the bytes. */
        char *text = cJSON_PrintUnformatted(v);
        if (!text)
            return nbi_fail(NB_NO_MEMORY, "%s.data: out of memory", where);
        nb_status s = take_copy(p, text, strlen(text), where);
        cJSON_free(text);
        return s;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'data' must be a string", where);
    const char *str = v->valuestring;
    size_t n = strlen(str);
    if (is_literal_json(p, str, n))
        return take_copy(p, str, n, where);
    uint8_t *bytes = malloc(nbi_base64_decoded_max(n) + 1);
    if (!bytes)
        return nbi_fail(NB_NO_MEMORY, "%s.data: out of memory for %zu characters", where, n);
    size_t len = 0;
    nb_status s = nbi_base64_decode(str, n, bytes, &len);
    if (s != NB_OK) {
        free(bytes);
        return nbi_fail_prefix(s, "%s.data", where);
    }
    nbi_payload_take_data(p, bytes, len);
    return NB_OK;
}

/* The Python peer's "table" may hold JSON rows: JSON starts with '[', Arrow IPC never does. */
static void sniff_table(nb_payload *p)
{
    if (p->type == NB_TYPE_TABLE && strcmp(p->type_name, "table") == 0 &&
        nbi_payload_is_json_rows(p->data, p->len))
        p->type = NB_TYPE_JSONTABLE;
}

/* data, size and the content checks, once the payload's other fields are known. */
static nb_status read_payload_data(nb_payload *p, const cJSON *obj, const char *where, size_t i)
{
    bool has_size;
    uint64_t size = 0;
    nb_status s = read_size(obj, where, &has_size, &size);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "data");
    if (s == NB_OK && (!v || cJSON_IsNull(v)))
        s = nbi_fail(NB_BAD_ENVELOPE, "%s: missing field 'data'", where);
    if (s != NB_OK)
        return s;
    if (p->transport == NB_TRANSPORT_LINK) {
        /* Receivers cap a download with size: a link without it is refused. */
        if (!has_size)
            return nbi_fail(NB_BAD_ENVELOPE, "%s: missing field 'size' (required for links)",
                            where);
        if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
            return nbi_fail(NB_BAD_ENVELOPE, "%s: field 'data' must be a non-empty URL string",
                            where);
        p->size = size;
        return nbi_set_string(&p->url, v->valuestring);
    }
    if ((s = read_direct_data(p, v, where)) != NB_OK)
        return s;
    char who[128];
    snprintf(who, sizeof who, "payloads[%zu] '%.64s'", i, p->dataname);
    if (has_size && size != p->len)
        return nbi_fail(NB_BAD_PAYLOAD, "envelope: %s: size %" PRIu64 " does not match %zu decoded bytes",
                        who, size, p->len);
    p->size = p->len;
    sniff_table(p);
    if ((s = nbi_payload_check_content(p, who)) != NB_OK)
        return nbi_fail_prefix(s, "envelope");
    return NB_OK;
}

/* Checked on the parsed string, before the payload copies it. */
static nb_status check_dataname(const cJSON *obj, const char *where, const nb_options *o)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "dataname"));
    size_t n = name ? strlen(name) : 0;
    if (n <= o->max_dataname)
        return NB_OK;
    return nbi_fail(NB_TOO_LARGE,
                    "%s: dataname is %zu bytes, over the limit of %zu "
                    "(nb_options_set_max_dataname, --max-dataname)",
                    where, n, o->max_dataname);
}

static nb_status decode_payload(nb_envelope *e, cJSON *obj, size_t i, const nb_options *o)
{
    static const char *const id_keys[] = {"id", NULL};
    static const char *const name_keys[] = {"dataname", NULL};
    char where[48];
    snprintf(where, sizeof where, "envelope: payloads[%zu]", i);
    if (!cJSON_IsObject(obj))
        return nbi_fail(NB_BAD_ENVELOPE, "%s must be a JSON object", where);
    nb_status s = check_dataname(obj, where, o);
    if (s != NB_OK)
        return s;
    nb_payload *p;
    s = nbi_payload_new(&p);
    if (s == NB_OK)
        s = read_string(obj, id_keys, where, false, &p->id);
    if (s == NB_OK)
        s = read_string(obj, name_keys, where, true, &p->dataname);
    if (s == NB_OK)
        s = read_type(p, obj, where);
    if (s == NB_OK)
        s = read_transport(p, obj, where);
    if (s == NB_OK)
        s = read_payload_metadata(p, obj, where, i, o);
    if (s == NB_OK)
        s = read_payload_data(p, obj, where, i);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    nb_payload_destroy(p); /* NULL once added */
    return s;
}

/* Counted before any payload is decoded: a count over the limit costs no per-payload state. */
static nb_status check_payload_count(const cJSON *list, const nb_options *o)
{
    size_t n = 0;
    for (const cJSON *c = list->child; c; c = c->next)
        n++;
    if (n <= o->max_payloads)
        return NB_OK;
    return nbi_fail(NB_TOO_LARGE,
                    "envelope: %zu payloads exceed the limit of %zu "
                    "(nb_options_set_max_payloads, --max-payloads)",
                    n, o->max_payloads);
}

static nb_status read_envelope(nb_envelope *e, cJSON *root, const nb_options *o)
{
    nb_status s = NB_OK;
    for (size_t i = 0; s == NB_OK && i < NBI_ENVELOPE_FIELD_COUNT; i++)
        s = read_string(root, nbi_envelope_fields[i].keys, "envelope", nbi_envelope_fields[i].required,
                        nbi_envelope_field_at(e, i));
    if (s == NB_OK)
        s = read_envelope_metadata(e, root, o);
    if (s != NB_OK)
        return s;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "payloads");
    if (!list || cJSON_IsNull(list))
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: missing field 'payloads'");
    if (!cJSON_IsArray(list))
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: field 'payloads' must be an array");
    if ((s = check_payload_count(list, o)) != NB_OK)
        return s;
    size_t i = 0;
    cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        if ((s = decode_payload(e, item, i++, o)) != NB_OK)
            return s;
    }
    return NB_OK;
}

/*
 * Parses e->json. JSON text is UTF-8 (RFC 8259 section 8.1) and holds no
 * NUL byte; checking both first also keeps cJSON's C strings whole.
 */
static nb_status parse_text(nb_envelope *e, cJSON **root)
{
    const char *text = e->json;
    size_t n = e->json_len;
    if (n == 0)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: empty message");
    const char *nul = memchr(text, '\0', n);
    if (nul)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: NUL byte at offset %zu", (size_t)(nul - text));
    size_t bad = nbi_utf8_check((const uint8_t *)text, n);
    if (bad < n)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: not valid UTF-8 at byte %zu", bad);
    size_t at = 0;
    *root = nbi_payload_parse_json(text, n, &at);
    if (!*root)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: not valid JSON (near byte %zu)", at);
    if (!cJSON_IsObject(*root))
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: the JSON text must be an object");
    return NB_OK;
}

/* Keeps a copy of the wire text; C peers may have sent the terminating NUL too. */
static nb_status copy_text(nb_envelope *e, const char *json, size_t len)
{
    while (len > 0 && json[len - 1] == '\0')
        len--;
    e->json = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (!e->json)
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory for %zu bytes", len);
    if (len)
        memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->json_len = len;
    return NB_OK;
}

/* Before the text is copied or parsed: the parse tree costs several times the text. */
static nb_status check_text_size(const char *json, size_t len, const nb_options *o)
{
    while (len > 0 && json[len - 1] == '\0')
        len--;
    if (len <= o->max_envelope_bytes)
        return NB_OK;
    return nbi_fail(NB_TOO_LARGE,
                    "envelope: %zu bytes exceed the limit of %zu "
                    "(nb_options_set_max_envelope_bytes, --max-envelope-bytes)",
                    len, o->max_envelope_bytes);
}

nb_status nbi_codec_decode(nb_envelope **out, const char *json, size_t len)
{
    return nbi_codec_decode_limited(out, json, len, NULL);
}

nb_status nbi_codec_decode_limited(nb_envelope **out, const char *json, size_t len,
                                   const nb_options *o)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "envelope: out is NULL");
    *out = NULL;
    if (!json && len)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL text with length %zu", len);
    if (!o)
        o = nbi_options_default();
    nb_status ls = check_text_size(json ? json : "", len, o);
    if (ls != NB_OK)
        return ls;
    nb_envelope *e;
    cJSON *root = NULL;
    nb_status s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = copy_text(e, json ? json : "", len);
    if (s == NB_OK)
        s = parse_text(e, &root);
    if (s == NB_OK)
        s = read_envelope(e, root, o);
    cJSON_Delete(root);
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        return s;
    }
    *out = e;
    return NB_OK;
}
