/* SPDX-License-Identifier: MIT */
/*
 * codec_write.c - the envelope writer: nb_envelope -> JSON text
 * (docs/PROTOCOL.md).
 *
 * It emits compact JSON with the keys in a fixed order into one buffer,
 * sized once from an upper bound and then written through a plain pointer:
 * keys are constant byte runs, strings that need no escaping are copied
 * whole after one scan, integers and base64 are written in place. This runs
 * for every envelope sent: no allocation per field, no printf, and no cJSON
 * printing when the metadata objects are empty (the common case).
 */
#include "codec.h"

#include "base64.h"
#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ======================================================================== */
/* Sizing                                                                   */
/* ======================================================================== */

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Room a string of n bytes can take once escaped: at most 6 bytes per byte, plus quotes. */
static size_t escaped_max(size_t n) { return n > (SIZE_MAX - 2) / 6 ? SIZE_MAX : n * 6 + 2; }

static size_t len_of(const char *s) { return s ? strlen(s) : 0; }

/* ======================================================================== */
/* Writer: every put_* writes at *w into room the estimate reserved         */
/* ======================================================================== */

/* A constant byte run (a key with its quotes, colon and comma), its length known at compile time. */
#define PUT_LIT(w, lit) put_bytes((w), (lit), sizeof(lit) - 1)

static void put_bytes(char **w, const char *bytes, size_t n)
{
    memcpy(*w, bytes, n);
    *w += n;
}

/* How each byte is written in a JSON string: 0 as itself, 'u' as \u00XX, else '\\' and this letter. */
static const char escape_of[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u',
    [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u',
    [0x17] = 'u', [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',
    [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/*
 * Nonzero when one of the 8 bytes of x needs a look: a control byte, '"',
 * '\\' or a byte >= 0x80 (UTF-8 to check). It never misses one; a borrow
 * may also flag a plain byte after it, which only sends the word to the
 * exact byte loop of plain_prefix.
 */
static uint64_t needs_look(uint64_t x)
{
    uint64_t quote = x ^ (ONES * '"'), bslash = x ^ (ONES * '\\');
    uint64_t zero_q = (quote - ONES) & ~quote, zero_b = (bslash - ONES) & ~bslash;
    uint64_t control = (x - ONES * 0x20) & ~x;
    return (zero_q | zero_b | control | x) & HIGHS;
}

/* The exact byte loop: length of the plain prefix of n bytes. */
static size_t exact_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !escape_of[(unsigned char)s[i]] && (unsigned char)s[i] < 0x80)
        i++;
    return i;
}

#if defined(__SSE2__)
/*
 * Bit i set when byte i of the 16 at s needs a look. One signed compare
 * catches both controls (0x00-0x1f) and bytes >= 0x80 (negative as int8).
 */
static unsigned look_mask16(const char *s)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                             _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(m);
}

/* Length of the prefix of s that is plain ASCII needing no escape, 16 bytes at a time. */
static size_t plain_prefix(const char *s, size_t n)
{
    size_t i = 0;
    for (; n - i >= 16; i += 16) {
        unsigned m = look_mask16(s + i);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    /* The last 1-15 bytes: the 16 ending at n, overlapping bytes already read as plain. */
    if (i < n && n >= 16) {
        unsigned m = look_mask16(s + n - 16) >> (16 - (n - i));
        return m ? i + (size_t)__builtin_ctz(m) : n;
    }
    for (; n - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (needs_look(x))
            break;
    }
    return i + exact_prefix(s + i, n - i);
}
#else
/* Length of the prefix of s that is plain ASCII needing no escape, 8 bytes at a time. */
static size_t plain_prefix(const char *s, size_t n)
{
    size_t i = 0;
    uint64_t x;
    for (; n - i >= 8; i += 8) {
        memcpy(&x, s + i, 8);
        if (needs_look(x))
            return i + exact_prefix(s + i, 8);
    }
    /* The last 1-7 bytes: the word ending at n, overlapping bytes already read as plain. */
    if (i < n && n >= 8) {
        memcpy(&x, s + n - 8, 8);
        return needs_look(x) ? i + exact_prefix(s + i, n - i) : n;
    }
    return i + exact_prefix(s + i, n - i);
}
#endif

static nb_status utf8_error(const char *field, size_t index, size_t bad)
{
    if (index == NO_INDEX)
        return nbi_fail(NB_INVALID_ARG, "envelope: %s is not valid UTF-8 at byte %zu", field, bad);
    return nbi_fail(NB_INVALID_ARG, "envelope: payloads[%zu].%s is not valid UTF-8 at byte %zu",
                    index, field, bad);
}

/* The escaping loop for what follows a plain prefix: the rare path (controls, quotes). */
static void put_escaped(char **w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = *w;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc = escape_of[c];
        if (!esc) {
            *o++ = (char)c;
        } else if (esc != 'u') {
            o[0] = '\\';
            o[1] = esc;
            o += 2;
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        }
    }
    *w = o;
}

/*
 * Writes s (n bytes) as a JSON string (RFC 8259 section 7), naming field
 * (and index) in errors, which are formatted only on error. Plain ASCII is
 * scanned once and copied whole; UTF-8 is checked from the first byte >= 0x80.
 */
static nb_status put_string(char **w, const char *s, size_t n, const char *field, size_t index)
{
    if (n == 0) { /* unset fields (receiver, reply_to, ...): most of an envelope's */
        PUT_LIT(w, "\"\"");
        return NB_OK;
    }
    size_t plain = plain_prefix(s, n);
    if (plain < n) {
        size_t bad = plain + nbi_utf8_check((const uint8_t *)s + plain, n - plain);
        if (bad < n)
            return utf8_error(field, index, bad);
    }
    **w = '"';
    memcpy(*w + 1, s, plain);
    *w += plain + 1;
    if (plain < n)
        put_escaped(w, s + plain, n - plain);
    *(*w)++ = '"';
    return NB_OK;
}

/* A decimal integer without printf: this runs for every payload. */
static void put_u64(char **w, uint64_t v)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_bytes(w, digits + n, sizeof digits - n);
}

/* A JSON string holding the base64 of n bytes, written in place. */
static void put_base64(char **w, const uint8_t *data, size_t n)
{
    **w = '"';
    nbi_base64_encode(data, n, *w + 1);
    *w += 1 + nbi_base64_encoded_len(n);
    *(*w)++ = '"';
}

/* The type name and encoding as they travel, without allocating when they are already so. */
static nb_status set_if_differs(char **field, const char *value)
{
    return *field && strcmp(*field, value) == 0 ? NB_OK : nbi_set_string(field, value);
}

/*
 * Checks that every payload can be written and makes its fields say what
 * will travel: the canonical type name, the encoding, the byte count.
 */
static nb_status prepare_payload(nb_payload *p, size_t i)
{
    const char *name = nbi_or_empty(p->dataname);
    if (!*name)
        return nbi_fail(NB_INVALID_ARG, "envelope: payloads[%zu] has no dataname", i);
    if ((unsigned)p->type >= NB_TYPE_COUNT)
        return nbi_fail(NB_INVALID_ARG, "envelope: payloads[%zu] '%.64s': unknown type %d", i,
                        name, (int)p->type);
    bool direct = p->transport == NB_TRANSPORT_DIRECT;
    if (direct && !p->data)
        return nbi_fail(NB_INTERNAL, "envelope: payloads[%zu] '%.64s': %s", i, name,
                        p->path ? "file payload not loaded before encoding"
                                : "direct payload has no bytes");
    if (!direct && (!p->url || !*p->url))
        return nbi_fail(NB_INTERNAL, "envelope: payloads[%zu] '%.64s': link payload has no URL",
                        i, name);
    if (direct)
        p->size = p->len;
    nb_status s = set_if_differs(&p->type_name, nb_type_name(p->type));
    if (s == NB_OK)
        s = set_if_differs(&p->encoding, direct ? "base64" : "none");
    return s;
}

/*
 * Prints every metadata object once: out[0] the envelope's, out[i + 1]
 * payload i's. The caller frees the array with free_metadata.
 */
static nb_status print_metadata(const nb_envelope *e, char ***out)
{
    char **meta = calloc(e->count + 1, sizeof *meta);
    if (!meta)
        return nbi_fail(NB_NO_MEMORY, "envelope: out of memory");
    *out = meta;
    for (size_t i = 0; i <= e->count; i++) {
        const cJSON *m = i ? e->payloads[i - 1]->metadata : e->metadata;
        if (m && !cJSON_IsObject(m))
            return nbi_fail(NB_INVALID_ARG, "envelope: metadata must be a JSON object");
        if (m && !m->child)
            continue; /* empty: put_metadata writes {} without printing it */
        meta[i] = m ? cJSON_PrintUnformatted(m) : NULL;
        if (m && !meta[i])
            return nbi_fail(NB_NO_MEMORY, "envelope: out of memory printing metadata");
        /* cJSON copies string bytes as they are: invalid UTF-8 would make bad JSON. */
        if (meta[i] && !nbi_utf8_valid((const uint8_t *)meta[i], strlen(meta[i]))) {
            if (i == 0)
                return nbi_fail(NB_INVALID_ARG, "envelope: metadata is not valid UTF-8");
            return nbi_fail(NB_INVALID_ARG, "envelope: payloads[%zu].metadata is not valid UTF-8",
                            i - 1);
        }
    }
    return NB_OK;
}

static void free_metadata(char **meta, size_t n)
{
    for (size_t i = 0; meta && i < n; i++)
        cJSON_free(meta[i]);
    free(meta);
}

/* True when some metadata object of e has members: only then is cJSON asked to print. */
static bool any_metadata(const nb_envelope *e)
{
    if (e->metadata && (!cJSON_IsObject(e->metadata) || e->metadata->child))
        return true;
    for (size_t i = 0; i < e->count; i++) {
        const cJSON *m = e->payloads[i]->metadata;
        if (m && (!cJSON_IsObject(m) || m->child))
            return true;
    }
    return false;
}

/* The printed metadata of object i (0: the envelope's, i + 1: payload i's); NULL when empty. */
static const char *meta_at(char **meta, size_t i) { return meta ? meta[i] : NULL; }

/* Byte counts of the envelope's 12 string fields, measured once for sizing and writing. */
typedef struct field_lens {
    size_t env[NBI_ENVELOPE_FIELD_COUNT];
} field_lens;

/* An upper bound of the whole text, so that the buffer is allocated once. */
static size_t estimate(nb_envelope *e, char **meta, field_lens *lens)
{
    size_t total = 512; /* keys, quotes, commas and braces of the envelope */
    for (size_t i = 0; i < NBI_ENVELOPE_FIELD_COUNT; i++) {
        lens->env[i] = len_of(*nbi_envelope_field_at(e, i));
        total = add_sat(total, escaped_max(lens->env[i]));
    }
    total = add_sat(total, len_of(meta_at(meta, 0)));
    for (size_t i = 0; i < e->count; i++) {
        const nb_payload *p = e->payloads[i];
        total = add_sat(total, 256); /* keys, type, transport, encoding, size, {} */
        total = add_sat(total, escaped_max(len_of(p->id)));
        total = add_sat(total, escaped_max(len_of(p->dataname)));
        total = add_sat(total, len_of(meta_at(meta, i + 1)));
        if (p->transport == NB_TRANSPORT_DIRECT)
            total = add_sat(total, add_sat(nbi_base64_encoded_len(p->len), 2));
        else
            total = add_sat(total, escaped_max(len_of(p->url)));
    }
    return total;
}

static void put_metadata(char **w, const char *meta)
{
    PUT_LIT(w, ",\"metadata\":");
    if (meta)
        put_bytes(w, meta, strlen(meta));
    else
        PUT_LIT(w, "{}");
}

/* A string field of payload i after its constant key run. */
#define PUT_PAYLOAD_STRING(w, key_run, name, value)                                     \
    (PUT_LIT(w, key_run), put_string(w, value, len_of(value), name, i))

static nb_status put_payload(char **w, const nb_payload *p, const char *meta, size_t i)
{
    bool direct = p->transport == NB_TRANSPORT_DIRECT;
    if (i)
        PUT_LIT(w, ",");
    nb_status s = PUT_PAYLOAD_STRING(w, "{\"id\":", "id", p->id);
    if (s == NB_OK)
        s = PUT_PAYLOAD_STRING(w, ",\"dataname\":", "dataname", p->dataname);
    if (s != NB_OK)
        return s;
    /* type, transport and encoding are names of our own tables: ASCII with nothing to escape. */
    const char *type = nb_type_name(p->type), *transport = nb_transport_name(p->transport);
    PUT_LIT(w, ",\"type\":\"");
    put_bytes(w, type, strlen(type));
    PUT_LIT(w, "\",\"transport\":\"");
    put_bytes(w, transport, strlen(transport));
    if (direct)
        PUT_LIT(w, "\",\"encoding\":\"base64\",\"size\":");
    else
        PUT_LIT(w, "\",\"encoding\":\"none\",\"size\":");
    put_u64(w, p->size);
    PUT_LIT(w, ",\"data\":");
    if (direct)
        put_base64(w, p->data, p->len);
    else if ((s = put_string(w, p->url, len_of(p->url), "data", i)) != NB_OK)
        return s;
    put_metadata(w, meta);
    PUT_LIT(w, "}");
    return NB_OK;
}

/* The wire keys of the 12 fields in nbi_envelope_fields order, each with its leading '{' or ','. */
static const struct {
    const char *run;
    size_t len;
} field_runs[NBI_ENVELOPE_FIELD_COUNT] = {
#define RUN(lit) {lit, sizeof(lit) - 1}
    RUN("{\"correlation_id\":"), RUN(",\"msg_id\":"),         RUN(",\"timestamp\":"),
    RUN(",\"send_to\":"),        RUN(",\"msg_purpose\":"),    RUN(",\"sender_name\":"),
    RUN(",\"sender_id\":"),      RUN(",\"receiver_name\":"),  RUN(",\"receiver_id\":"),
    RUN(",\"reply_to\":"),       RUN(",\"reply_to_msg_id\":"), RUN(",\"broker_url\":"),
#undef RUN
};

static nb_status put_envelope(char **w, nb_envelope *e, char **meta, const field_lens *lens)
{
    nb_status s = NB_OK;
    for (size_t i = 0; s == NB_OK && i < NBI_ENVELOPE_FIELD_COUNT; i++) {
        put_bytes(w, field_runs[i].run, field_runs[i].len);
        s = put_string(w, *nbi_envelope_field_at(e, i), lens->env[i],
                       nbi_envelope_fields[i].keys[0], NO_INDEX);
    }
    if (s != NB_OK)
        return s;
    put_metadata(w, meta_at(meta, 0));
    PUT_LIT(w, ",\"payloads\":[");
    for (size_t i = 0; s == NB_OK && i < e->count; i++)
        s = put_payload(w, e->payloads[i], meta_at(meta, i + 1), i);
    if (s == NB_OK)
        PUT_LIT(w, "]}");
    return s;
}

nb_status nbi_codec_encode(nb_envelope *e)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL envelope");
    nb_status s = nbi_envelope_unshare(e); /* prepare_payload replaces received strings */
    for (size_t i = 0; s == NB_OK && i < e->count; i++)
        s = prepare_payload(e->payloads[i], i);
    char **meta = NULL; /* stays NULL when every metadata object is empty */
    if (s == NB_OK && any_metadata(e))
        s = print_metadata(e, &meta);
    field_lens lens;
    size_t room = s == NB_OK ? estimate(e, meta, &lens) : 0;
    /* Written once into a block of the exact bound: no growth, no copy. */
    char *json = NULL;
    if (s == NB_OK && room == SIZE_MAX)
        s = nbi_fail(NB_TOO_LARGE, "envelope: too large to encode");
    if (s == NB_OK && !(json = malloc(room + 1)))
        s = nbi_fail(NB_NO_MEMORY, "envelope: out of memory for %zu bytes of JSON", room + 1);
    char *w = json;
    if (s == NB_OK)
        s = put_envelope(&w, e, meta, &lens);
    if (s == NB_OK) {
        *w = '\0';
        free(e->json);
        e->json = json;
        e->json_len = (size_t)(w - json);
        json = NULL;
    }
    free(json);
    free_metadata(meta, e->count + 1);
    return s;
}
