/* SPDX-License-Identifier: MIT */
/*
 * codec_read.c - the envelope reader: JSON text -> nb_envelope
 * (docs/PROTOCOL.md). It accepts the peers' older spellings (camelCase keys,
 * payload_type, literal JSON data) and names the field in every error.
 *
 * One pass of the tree-free scanner (jsonscan.h) validates the text; the
 * members of the envelope and of each payload are then found by a hashed
 * key table, their strings unescaped into ONE arena per envelope
 * (e->arena, see envelope.h for who frees what), and base64 decoded
 * straight from the wire text into the payload's own buffer. cJSON is used
 * only for a metadata object that is not empty and for the legacy "data"
 * given as a JSON value.
 */
#include "codec.h"

#include "base64.h"
#include "jsonscan.h"
#include "options.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* Key tables                                                               */
/* ======================================================================== */

/*
 * The names a reader looks for, in an open addressing table hashed on the
 * length and three bytes of the name: one probe finds almost every key, and
 * no member costs a scan over the field list.
 */
#define KEYSET_CAP 128
struct keyset {
    const char *name[KEYSET_CAP];
    uint8_t len[KEYSET_CAP];
    uint8_t slot[KEYSET_CAP];
};

static unsigned key_hash(const char *s, size_t n)
{
    unsigned h = (unsigned)n * 7u + (unsigned char)s[0] * 31u + (unsigned char)s[n - 1] * 131u +
                 (unsigned char)s[n / 2] * 3u;
    return h & (KEYSET_CAP - 1);
}

static void keyset_add(struct keyset *k, const char *name, unsigned slot)
{
    size_t n = strlen(name);
    unsigned h = key_hash(name, n);
    while (k->name[h])
        h = (h + 1) & (KEYSET_CAP - 1);
    k->name[h] = name;
    k->len[h] = (uint8_t)n;
    k->slot[h] = (uint8_t)slot;
}

static int keyset_find(const struct keyset *k, const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return -1;
    for (unsigned h = key_hash(s, n); k->name[h]; h = (h + 1) & (KEYSET_CAP - 1))
        if (k->len[h] == n && memcmp(k->name[h], s, n) == 0)
            return k->slot[h];
    return -1;
}

/* Envelope members: field i's alias j is slot i * 4 + j (nbi_envelope_fields), then these. */
#define ALIASES 4
enum { ROOT_METADATA = NBI_ENVELOPE_FIELD_COUNT * ALIASES, ROOT_NOTE, ROOT_PAYLOADS, ROOT_SLOTS };

/* Payload members; the three spellings of the type are consecutive (read_string walks them). */
enum { P_ID, P_DATANAME, P_TYPE, P_PAYLOAD_TYPE, P_PAYLOADTYPE, P_TRANSPORT, P_ENCODING,
       P_METADATA, P_DATA, P_SIZE, P_SLOTS };

static struct keyset root_keys, payload_keys;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void build_keysets(void)
{
    for (unsigned i = 0; i < NBI_ENVELOPE_FIELD_COUNT; i++)
        for (unsigned j = 0; j < ALIASES && nbi_envelope_fields[i].keys[j]; j++)
            keyset_add(&root_keys, nbi_envelope_fields[i].keys[j], i * ALIASES + j);
    keyset_add(&root_keys, "metadata", ROOT_METADATA);
    keyset_add(&root_keys, "note", ROOT_NOTE);
    keyset_add(&root_keys, "payloads", ROOT_PAYLOADS);
    static const char *const names[P_SLOTS] = {
        [P_ID] = "id", [P_DATANAME] = "dataname", [P_TYPE] = "type",
        [P_PAYLOAD_TYPE] = "payload_type", [P_PAYLOADTYPE] = "payloadType",
        [P_TRANSPORT] = "transport", [P_ENCODING] = "encoding", [P_METADATA] = "metadata",
        [P_DATA] = "data", [P_SIZE] = "size"};
    for (unsigned i = 0; i < P_SLOTS; i++)
        keyset_add(&payload_keys, names[i], i);
}

_Static_assert(sizeof(nbi_envelope_fields[0].keys) / sizeof(char *) <= ALIASES + 1,
               "an envelope field has at most ALIASES spellings");

static int find_key(const struct keyset *k, const nbi_json_value *key)
{
    if (!key->escaped)
        return keyset_find(k, key->start + 1, nbi_json_string_raw_len(key));
    char buf[64]; /* every name we read is shorter: a longer escaped key is none of ours */
    if (nbi_json_string_raw_len(key) >= sizeof buf)
        return -1;
    size_t n = nbi_json_string_decode(key, buf);
    return keyset_find(k, buf, n);
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

/* One payload's members (or, when it is no object, only what it is). */
typedef struct {
    nbi_json_value self;
    nbi_json_value f[P_SLOTS];
} payload_members;

#define LOCAL_PAYLOADS 8

typedef struct {
    nb_envelope *e;
    const nb_options *o;
    nbi_json_scanner sc;
    char *arena_at; /* the next free byte of e->arena */
    nbi_json_value found[ROOT_SLOTS]; /* the envelope's members */
    payload_members local[LOCAL_PAYLOADS], *pm; /* the first payloads' members */
    size_t count, cap; /* payloads seen; room in pm */
} reader;

/* null counts as absent, as it always did. */
static bool present(const nbi_json_value *v)
{
    return v->kind != NBI_JSON_INVALID && v->kind != NBI_JSON_NULL;
}

/* Bytes the arena needs for string v: decoded, it is never longer than its escaped text. */
static size_t string_room(const nbi_json_value *v)
{
    return v->kind == NBI_JSON_STRING ? nbi_json_string_raw_len(v) + 1 : 0;
}

static char *arena_string(reader *r, const nbi_json_value *v)
{
    char *s = r->arena_at;
    r->arena_at += nbi_json_string_decode(v, s) + 1;
    return s;
}

static char *arena_copy(reader *r, const char *text)
{
    char *s = r->arena_at;
    size_t n = strlen(text) + 1;
    memcpy(s, text, n);
    r->arena_at += n;
    return s;
}

/*
 * Fails naming where: "envelope" + tail, or "envelope: payloads[i]" + tail.
 * Formatted only on failure: the happy path builds no names.
 */
static nb_status field_fail(nb_status st, size_t index, const char *fmt, ...) NBI_PRINTF(3, 4);
static nb_status field_fail(nb_status st, size_t index, const char *fmt, ...)
{
    char tail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    if (index == NO_INDEX)
        return nbi_fail(st, "envelope%s", tail);
    return nbi_fail(st, "envelope: payloads[%zu]%s", index, tail);
}

/*
 * Reads an optional string (missing or null -> *dst stays NULL) or, when
 * required, a non-empty one: the first of names (NULL-ended, in found from
 * slot base on) that is present. *used (may be NULL) gets the name read.
 */
static nb_status read_string(reader *r, const nbi_json_value *found, int base,
                             const char *const *names, size_t index, bool required, char **dst,
                             const char **used)
{
    const nbi_json_value *v = NULL;
    const char *key = names[0];
    for (int j = 0; names[j]; j++) {
        if (present(&found[base + j])) {
            v = &found[base + j];
            key = names[j];
            break;
        }
    }
    if (used)
        *used = key;
    if (!v)
        return required ? field_fail(NB_BAD_ENVELOPE, index, ": missing field '%s'", key) : NB_OK;
    if (v->kind != NBI_JSON_STRING)
        return field_fail(NB_BAD_ENVELOPE, index, ": field '%s' must be a string", key);
    char *s = arena_string(r, v);
    /* A C string: "\u0000" first reads as empty, as it did through cJSON. */
    if (required && !*s)
        return field_fail(NB_BAD_ENVELOPE, index, ": field '%s' must not be empty", key);
    *dst = s;
    return NB_OK;
}

/* {} or [] with only whitespace inside. */
static bool is_empty_container(const nbi_json_value *v)
{
    const char *p = v->start + 1;
    while ((unsigned char)*p <= 32)
        p++;
    return *p == '}' || *p == ']';
}

/*
 * Makes *dst the object v: an empty one keeps the empty object *dst already
 * is (no parse, no malloc); any other is parsed by cJSON, which accepts it
 * (the scanner agrees with cJSON), so only memory can fail.
 */
static nb_status take_object(cJSON **dst, const nbi_json_value *v, size_t index)
{
    if (is_empty_container(v) && *dst && !(*dst)->child)
        return NB_OK;
    cJSON *tree = cJSON_ParseWithLength(v->start, v->len);
    if (!tree)
        return field_fail(NB_NO_MEMORY, index, ": out of memory reading 'metadata'");
    cJSON_Delete(*dst);
    *dst = tree;
    return NB_OK;
}

/* Metadata of payload index (NO_INDEX: the envelope's) nesting depth levels deep. */
static nb_status check_depth(int depth, const nb_options *o, size_t index)
{
    if (depth <= o->max_metadata_depth)
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
static nb_status read_envelope_metadata(nb_envelope *e, const nbi_json_value *found,
                                        const nb_options *o)
{
    const nbi_json_value *m = &found[ROOT_METADATA], *note = &found[ROOT_NOTE];
    int depth = 1; /* the empty object counts one level, as it always did */
    nb_status s = NB_OK;
    if (present(m)) {
        if (m->kind != NBI_JSON_OBJECT)
            return nbi_fail(NB_BAD_ENVELOPE, "envelope: field 'metadata' must be a JSON object");
        s = take_object(&e->metadata, m, NO_INDEX);
        depth = m->depth;
    } else if (present(note) && note->kind == NBI_JSON_OBJECT) {
        s = take_object(&e->metadata, note, NO_INDEX);
        depth = note->depth;
    } else if (present(note)) {
        cJSON *value = cJSON_ParseWithLength(note->start, note->len);
        if (!value || !cJSON_AddItemToObject(e->metadata, "note", value)) {
            cJSON_Delete(value);
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory reading 'note'");
        }
        depth = 1 + note->depth;
    }
    return s == NB_OK ? check_depth(depth, o, NO_INDEX) : s;
}

/*
 * The double cJSON made of number v: plain integers of up to 15 digits
 * exactly and without strtod; others by strtod with the locale's decimal
 * point, as cJSON does. NAN when a long number finds no memory.
 */
static double number_value(const nbi_json_value *v)
{
    const char *s = v->start;
    size_t n = v->len;
    if (n <= 15) {
        uint64_t x = 0;
        size_t i = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            x = x * 10 + (uint64_t)(s[i] - '0');
        if (i == n)
            return (double)x;
    }
    char local[64], *buf = n < sizeof local ? local : malloc(n + 1);
    if (!buf)
        return NAN;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char point = *localeconv()->decimal_point;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '.')
            buf[i] = point;
    double d = strtod(buf, NULL);
    if (buf != local)
        free(buf);
    return d;
}

/* Size fields are JSON integers 0..2^53 (the exact range of a double). */
static nb_status read_size(const nbi_json_value *v, size_t index, bool *has, uint64_t *size)
{
    *has = false;
    if (!present(v))
        return NB_OK;
    if (v->kind != NBI_JSON_NUMBER)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'size' must be a JSON integer");
    double d = number_value(v);
    if (d < 0)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'size' must not be negative");
    if (!isfinite(d) || d > 9007199254740992.0)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'size' is too large (over 2^53)");
    uint64_t whole = (uint64_t)d; /* in range: 0 <= d <= 2^53 */
    if ((double)whole != d)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'size' must be a whole number");
    *has = true;
    *size = whole;
    return NB_OK;
}

static nb_status read_type(reader *r, nb_payload *p, const nbi_json_value *f, size_t index)
{
    static const char *const keys[] = {"type", "payload_type", "payloadType", NULL};
    const char *key;
    nb_status s = read_string(r, f, P_TYPE, keys, index, true, &p->type_name, &key);
    if (s == NB_OK && nb_type_parse(p->type_name, &p->type) != NB_OK)
        s = field_fail(NB_BAD_ENVELOPE, index, ".%s: unknown type '%.64s'", key, p->type_name);
    return s;
}

static nb_status read_transport(reader *r, nb_payload *p, const nbi_json_value *f, size_t index)
{
    static const char *const keys[] = {"transport", NULL};
    static const char *const enc_keys[] = {"encoding", NULL};
    char *t = NULL;
    nb_status s = read_string(r, f, P_TRANSPORT, keys, index, true, &t, NULL);
    if (s == NB_OK && strcmp(t, "direct") == 0)
        p->transport = NB_TRANSPORT_DIRECT;
    else if (s == NB_OK && strcmp(t, "link") == 0)
        p->transport = NB_TRANSPORT_LINK;
    else if (s == NB_OK)
        s = field_fail(NB_BAD_ENVELOPE, index, ".transport: unknown transport '%.64s'", t);
    if (s == NB_OK)
        s = read_string(r, f, P_ENCODING, enc_keys, index, false, &p->encoding, NULL);
    if (s == NB_OK && !p->encoding)
        p->encoding = arena_copy(r, p->transport == NB_TRANSPORT_LINK ? "none" : "base64");
    return s;
}

static nb_status read_payload_metadata(nb_payload *p, const nbi_json_value *f, size_t index,
                                       const nb_options *o)
{
    const nbi_json_value *m = &f[P_METADATA];
    if (!present(m))
        return NB_OK;
    if (m->kind != NBI_JSON_OBJECT)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'metadata' must be a JSON object");
    nb_status s = check_depth(m->depth, o, index);
    return s == NB_OK ? take_object(&p->metadata, m, index) : s;
}

/* Room for n bytes and the NUL after them. */
static uint8_t *alloc_bytes(size_t n)
{
    return n < SIZE_MAX ? malloc(n + 1) : NULL;
}

/* Copies n bytes (plus the NUL) as the payload's bytes. */
static nb_status take_copy(nb_payload *p, const char *bytes, size_t n, size_t index)
{
    uint8_t *copy = alloc_bytes(n);
    if (!copy)
        return field_fail(NB_NO_MEMORY, index, ": out of memory for %zu bytes", n);
    memcpy(copy, bytes, n);
    nbi_payload_take_data(p, copy, n);
    return NB_OK;
}

/* Decodes n base64 characters at text into a new buffer, the payload's bytes. */
static nb_status take_base64(nb_payload *p, const char *text, size_t n, size_t index)
{
    uint8_t *bytes = alloc_bytes(nbi_base64_decoded_max(n));
    if (!bytes)
        return field_fail(NB_NO_MEMORY, index, ".data: out of memory for %zu characters", n);
    size_t len = 0;
    nb_status s = nbi_base64_decode(text, n, bytes, &len);
    if (s != NB_OK) {
        free(bytes);
        return nbi_fail_prefix(s, "envelope: payloads[%zu].data", index);
    }
    nbi_payload_take_data(p, bytes, len);
    return NB_OK;
}

/*
 * A peer's documentation shows encoding "json" with the JSON text itself in
 * data; base64 never starts with '[', '{' or '"', so the two cannot be confused.
 */
static bool is_literal_json(const char *str, size_t n)
{
    size_t i = 0;
    while (i < n && (str[i] == ' ' || str[i] == '\t' || str[i] == '\n' || str[i] == '\r'))
        i++;
    return i < n && (str[i] == '[' || str[i] == '{' || str[i] == '"');
}

/* An escaped data string: unescaped first (rare: a peer writing "\/"), then read as above. */
static nb_status read_escaped_data(nb_payload *p, const nbi_json_value *v, size_t index,
                                   bool json)
{
    char *text = (char *)alloc_bytes(nbi_json_string_raw_len(v));
    if (!text)
        return field_fail(NB_NO_MEMORY, index, ".data: out of memory");
    size_t n = nbi_json_string_decode(v, text);
    if (json && is_literal_json(text, n)) {
        nbi_payload_take_data(p, (uint8_t *)text, n); /* U+0000 and all: the sender's bytes */
        return NB_OK;
    }
    /* base64 read as a C string, as cJSON handed it over: "\u0000" ends it. */
    nb_status s = take_base64(p, text, strlen(text), index);
    free(text);
    return s;
}

static nb_status read_direct_data(nb_payload *p, const nbi_json_value *v, size_t index)
{
    if (v->kind == NBI_JSON_OBJECT || v->kind == NBI_JSON_ARRAY) {
        /* JSON placed in data as a value (legacy, rare): cJSON's compact text is the bytes. */
        cJSON *tree = cJSON_ParseWithLength(v->start, v->len);
        char *text = tree ? cJSON_PrintUnformatted(tree) : NULL;
        cJSON_Delete(tree);
        if (!text)
            return field_fail(NB_NO_MEMORY, index, ".data: out of memory");
        nb_status s = take_copy(p, text, strlen(text), index);
        cJSON_free(text);
        return s;
    }
    if (v->kind != NBI_JSON_STRING)
        return field_fail(NB_BAD_ENVELOPE, index, ": field 'data' must be a string");
    bool json = strcmp(p->encoding, "json") == 0;
    if (v->escaped)
        return read_escaped_data(p, v, index, json);
    const char *text = v->start + 1;
    size_t n = nbi_json_string_raw_len(v);
    if (json && is_literal_json(text, n))
        return take_copy(p, text, n, index);
    return take_base64(p, text, n, index); /* straight from the wire text */
}

/* The Python peer's "table" may hold JSON rows: JSON starts with '[', Arrow IPC never does. */
static void sniff_table(nb_payload *p)
{
    if (p->type == NB_TYPE_TABLE && strcmp(p->type_name, "table") == 0 &&
        nbi_payload_is_json_rows(p->data, p->len))
        p->type = NB_TYPE_JSONTABLE;
}

/* data, size and the content checks, once the payload's other fields are known. */
static nb_status read_payload_data(reader *r, nb_payload *p, const nbi_json_value *f, size_t i)
{
    bool has_size;
    uint64_t size = 0;
    nb_status s = read_size(&f[P_SIZE], i, &has_size, &size);
    const nbi_json_value *v = &f[P_DATA];
    if (s == NB_OK && !present(v))
        s = field_fail(NB_BAD_ENVELOPE, i, ": missing field 'data'");
    if (s != NB_OK)
        return s;
    if (p->transport == NB_TRANSPORT_LINK) {
        /* Receivers cap a download with size: a link without it is refused. */
        if (!has_size)
            return field_fail(NB_BAD_ENVELOPE, i, ": missing field 'size' (required for links)");
        char *url = v->kind == NBI_JSON_STRING ? arena_string(r, v) : NULL;
        if (!url || !*url)
            return field_fail(NB_BAD_ENVELOPE, i, ": field 'data' must be a non-empty URL string");
        p->size = size;
        p->url = url;
        return NB_OK;
    }
    if ((s = read_direct_data(p, v, i)) != NB_OK)
        return s;
    if (has_size && size != p->len)
        return nbi_fail(NB_BAD_PAYLOAD,
                        "envelope: payloads[%zu] '%.64s': size %" PRIu64
                        " does not match %zu decoded bytes",
                        i, p->dataname, size, p->len);
    p->size = p->len;
    sniff_table(p);
    if ((s = nbi_payload_check_received(p, i)) != NB_OK)
        return nbi_fail_prefix(s, "envelope");
    return NB_OK;
}

static nb_status read_payload(reader *r, nb_payload *p, const nbi_json_value *f, size_t i,
                              char *dataname)
{
    static const char *const id_keys[] = {"id", NULL};
    nb_status s = read_string(r, f, P_ID, id_keys, i, false, &p->id, NULL);
    /* dataname was unescaped (into the arena) for its length check: its errors come now. */
    if (s == NB_OK && !present(&f[P_DATANAME]))
        s = field_fail(NB_BAD_ENVELOPE, i, ": missing field 'dataname'");
    else if (s == NB_OK && !dataname)
        s = field_fail(NB_BAD_ENVELOPE, i, ": field 'dataname' must be a string");
    else if (s == NB_OK && !*dataname)
        s = field_fail(NB_BAD_ENVELOPE, i, ": field 'dataname' must not be empty");
    if (s == NB_OK) {
        p->dataname = dataname;
        s = read_type(r, p, f, i);
    }
    if (s == NB_OK)
        s = read_transport(r, p, f, i);
    if (s == NB_OK)
        s = read_payload_metadata(p, f, i, r->o);
    if (s == NB_OK)
        s = read_payload_data(r, p, f, i);
    return s;
}

static nb_status decode_payload(reader *r, const payload_members *m, size_t i)
{
    if (m->self.kind != NBI_JSON_OBJECT)
        return field_fail(NB_BAD_ENVELOPE, i, " must be a JSON object");
    /* Checked before the payload exists; the length of the C string, as always. */
    const nbi_json_value *dn = &m->f[P_DATANAME];
    char *dataname = dn->kind == NBI_JSON_STRING ? arena_string(r, dn) : NULL;
    size_t n = dataname ? strlen(dataname) : 0;
    if (n > r->o->max_dataname)
        return nbi_fail(NB_TOO_LARGE,
                        "envelope: payloads[%zu]: dataname is %zu bytes, over the limit of %zu "
                        "(nb_options_set_max_dataname, --max-dataname)",
                        i, n, r->o->max_dataname);
    nb_payload *p;
    nb_status s = nbi_payload_new(&p);
    if (s != NB_OK)
        return s;
    nbi_payload_share_arena(p, r->e->arena, r->e->arena_len);
    s = read_payload(r, p, m->f, i, dataname);
    if (s == NB_OK)
        s = nb_envelope_add_payload(r->e, &p);
    nb_payload_destroy(p); /* NULL once added */
    return s;
}

/* Arena bytes one payload may take: its strings, a URL, and a default encoding. */
static size_t payload_room(const payload_members *m)
{
    const nbi_json_value *f = m->f;
    size_t n = sizeof "base64";
    static const int strings[] = {P_ID, P_DATANAME, P_TYPE, P_PAYLOAD_TYPE, P_PAYLOADTYPE,
                                  P_TRANSPORT, P_ENCODING};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        n += string_room(&f[strings[i]]);
    /* data is a URL only for links; direct data goes to its own buffer */
    if (f[P_TRANSPORT].kind == NBI_JSON_STRING && nbi_json_string_is(&f[P_TRANSPORT], "link", 4))
        n += string_room(&f[P_DATA]);
    return n;
}

/* One malloc holds every string of the envelope and its payloads. */
static nb_status make_arena(reader *r, const nbi_json_value *found, const payload_members *pm,
                            size_t count)
{
    size_t n = 1;
    for (int i = 0; i < ROOT_METADATA; i++)
        n += string_room(&found[i]);
    for (size_t i = 0; pm && i < count; i++)
        n += payload_room(&pm[i]);
    r->e->arena = malloc(n);
    if (!r->e->arena)
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory for %zu bytes of strings", n);
    r->e->arena_len = n;
    r->arena_at = r->e->arena;
    return NB_OK;
}

static nb_status read_fields(reader *r, const nbi_json_value *found)
{
    nb_status s = NB_OK;
    for (size_t i = 0; s == NB_OK && i < NBI_ENVELOPE_FIELD_COUNT; i++)
        s = read_string(r, found, (int)(i * ALIASES), nbi_envelope_fields[i].keys, NO_INDEX,
                        nbi_envelope_fields[i].required, nbi_envelope_field_at(r->e, i), NULL);
    return s == NB_OK ? read_envelope_metadata(r->e, found, r->o) : s;
}

static nb_status read_envelope(reader *r)
{
    const nbi_json_value *list = &r->found[ROOT_PAYLOADS];
    bool have_members = list->kind == NBI_JSON_ARRAY && r->count <= r->o->max_payloads;
    nb_status s = make_arena(r, r->found, have_members ? r->pm : NULL, r->count);
    if (s == NB_OK)
        s = read_fields(r, r->found);
    if (s == NB_OK && !present(list))
        s = nbi_fail(NB_BAD_ENVELOPE, "envelope: missing field 'payloads'");
    else if (s == NB_OK && list->kind != NBI_JSON_ARRAY)
        s = nbi_fail(NB_BAD_ENVELOPE, "envelope: field 'payloads' must be an array");
    else if (s == NB_OK && !have_members)
        /* Counted before any payload is decoded: a count over the limit costs no per-payload state. */
        s = nbi_fail(NB_TOO_LARGE,
                     "envelope: %zu payloads exceed the limit of %zu "
                     "(nb_options_set_max_payloads, --max-payloads)",
                     r->count, r->o->max_payloads);
    for (size_t i = 0; s == NB_OK && i < r->count; i++)
        s = decode_payload(r, &r->pm[i], i);
    return s;
}

/* ------------------------------------------------------------------------ */
/* The one pass over the text                                               */
/* ------------------------------------------------------------------------ */

/* found[slot] = the value of the FIRST member so named, as cJSON's lookup returned. */
static void keep_first(nbi_json_value *found, int slot, const nbi_json_value *v)
{
    if (slot >= 0 && found[slot].kind == NBI_JSON_INVALID)
        found[slot] = *v;
}

/* Room for payload i's members, while there may still be at most max_payloads. */
static payload_members *payload_slot(reader *r, size_t i)
{
    if (i >= r->o->max_payloads)
        return NULL; /* over the limit: only counted */
    if (i >= r->cap) {
        size_t cap = r->cap * 2;
        payload_members *grown = r->pm == r->local ? malloc(cap * sizeof *grown)
                                                   : realloc(r->pm, cap * sizeof *grown);
        if (!grown)
            return NULL;
        if (r->pm == r->local)
            memcpy(grown, r->local, sizeof r->local);
        r->pm = grown;
        r->cap = cap;
    }
    memset(&r->pm[i], 0, sizeof r->pm[i]);
    return &r->pm[i];
}

/* A payload object: its members recorded while it is validated. */
static int walk_payload(nbi_json_walk *list, payload_members *m)
{
    nbi_json_walk w;
    if (!nbi_json_walk_enter(list, &w))
        return -1;
    int more;
    nbi_json_value key, value;
    while ((more = nbi_json_walk_next(&w, &key)) == 1) {
        if (!nbi_json_walk_value(&w, &value))
            return -1;
        keep_first(m->f, find_key(&payload_keys, &key), &value);
    }
    if (more == 0)
        nbi_json_walk_leave(list, &w, &m->self);
    return more;
}

/* The payloads array: each element counted, and the objects' members recorded. */
static int walk_payloads(reader *r, nbi_json_walk *root, nbi_json_value *span)
{
    nbi_json_walk w;
    if (!nbi_json_walk_enter(root, &w))
        return -1;
    int more;
    while ((more = nbi_json_walk_next(&w, NULL)) == 1) {
        payload_members *m = payload_slot(r, r->count);
        payload_members spare;
        if (!m && r->count < r->o->max_payloads)
            return -2; /* out of memory */
        if (!m) { /* over the limit: validated and counted, nothing kept */
            memset(&spare, 0, sizeof spare);
            m = &spare;
        }
        r->count++;
        if (*w.at == '{') {
            if (walk_payload(&w, m) < 0)
                return -1;
        } else if (!nbi_json_walk_value(&w, &m->self)) {
            return -1;
        }
    }
    if (more == 0)
        nbi_json_walk_leave(root, &w, span);
    return more;
}

/* The envelope object: its members, and the first "payloads" array walked into. */
static int walk_root(reader *r, const char *p, nbi_json_value *root)
{
    nbi_json_walk w;
    if (!nbi_json_walk_start(&w, &r->sc, p, 0))
        return -1;
    int more;
    nbi_json_value key, value;
    while ((more = nbi_json_walk_next(&w, &key)) == 1) {
        int slot = find_key(&root_keys, &key);
        if (slot == ROOT_PAYLOADS && r->found[slot].kind == NBI_JSON_INVALID && *w.at == '[') {
            int got = walk_payloads(r, &w, &value);
            if (got < 0)
                return got;
        } else if (!nbi_json_walk_value(&w, &value)) {
            return -1;
        }
        keep_first(r->found, slot, &value);
    }
    if (more == 0)
        nbi_json_walk_span(&w, root);
    return more < 0 ? -1 : (int)(w.at - p);
}

/*
 * Checks e->json and scans it. JSON text is UTF-8 (RFC 8259 section 8.1)
 * and holds no NUL byte.
 */
static nb_status parse_text(reader *r)
{
    const char *text = r->e->json;
    size_t n = r->e->json_len;
    if (n == 0)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: empty message");
    const char *nul = memchr(text, '\0', n);
    if (nul)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: NUL byte at offset %zu", (size_t)(nul - text));
    size_t bad = nbi_utf8_check((const uint8_t *)text, n);
    if (bad < n)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: not valid UTF-8 at byte %zu", bad);
    nbi_json_scanner_init(&r->sc, text, n);
    const char *p = nbi_json_document_start(&r->sc);
    nbi_json_value root;
    bool object = p < r->sc.end && *p == '{', ok;
    if (object) {
        int got = walk_root(r, p, &root);
        if (got == -2)
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory reading %zu payloads", r->count);
        ok = got >= 0 && nbi_json_document_end(&r->sc, p + got);
    } else {
        ok = nbi_json_scan_value(&r->sc, &p, &root) && nbi_json_document_end(&r->sc, p);
    }
    if (!ok)
        return nbi_fail(NB_BAD_ENVELOPE, "envelope: not valid JSON (near byte %zu)",
                        nbi_json_error_offset(&r->sc));
    if (!object)
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

/* Before the text is copied or scanned: refused text costs no memory. */
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
    pthread_once(&keys_once, build_keysets);
    nb_envelope *e;
    nb_status s = nb_envelope_create(&e);
    /* Large (the members of LOCAL_PAYLOADS payloads) and per call: on this thread's stack. */
    reader r;
    memset(&r, 0, offsetof(reader, local));
    r.e = e;
    r.o = o;
    r.pm = r.local;
    r.count = 0;
    r.cap = LOCAL_PAYLOADS;
    if (s == NB_OK)
        s = copy_text(e, json ? json : "", len);
    if (s == NB_OK)
        s = parse_text(&r);
    if (s == NB_OK)
        s = read_envelope(&r);
    if (r.pm != r.local)
        free(r.pm);
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        return s;
    }
    *out = e;
    return NB_OK;
}
