/* SPDX-License-Identifier: MIT */
/*
 * codec_write.c - the envelope writer: nb_envelope -> JSON text
 * (docs/PROTOCOL.md).
 *
 * It emits compact JSON with the keys in a fixed order, writing base64
 * straight into the one output buffer, which is sized once from an upper
 * bound (this is the hot path for payloads of hundreds of KiB).
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
/* Writer                                                                   */
/* ======================================================================== */

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Room a string can take once escaped: at most 6 bytes per byte, plus quotes. */
static size_t escaped_max(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > (SIZE_MAX - 2) / 6 ? SIZE_MAX : n * 6 + 2;
}

/* Writes s as a JSON string (RFC 8259 section 7), naming field (and index) in errors. */
/* The names are formatted only on error: this runs for every field of every envelope. */
static nb_status put_string(nbi_buf *b, const char *s, const char *field, size_t index)
{
    s = nbi_or_empty(s);
    size_t n = strlen(s);
    size_t bad = nbi_utf8_check((const uint8_t *)s, n);
    if (bad < n && index == NO_INDEX)
        return nbi_fail(NB_INVALID_ARG, "envelope: %s is not valid UTF-8 at byte %zu", field, bad);
    if (bad < n)
        return nbi_fail(NB_INVALID_ARG, "envelope: payloads[%zu].%s is not valid UTF-8 at byte %zu",
                        index, field, bad);
    nb_status st = nbi_buf_reserve(b, escaped_max(s));
    if (st != NB_OK)
        return st;
    static const char hex[] = "0123456789abcdef";
    char *w = (char *)b->data + b->len;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : NULL;
        if (esc) {
            *w++ = esc[0];
            *w++ = esc[1];
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    b->len = (size_t)(w - (char *)b->data);
    b->data[b->len] = '\0';
    return NB_OK;
}

/* Writes ,"key": (the comma unless first). Keys are fixed ASCII. */
static nb_status put_key(nbi_buf *b, const char *key, bool first)
{
    nb_status s = first ? NB_OK : nbi_buf_append(b, ",", 1);
    if (s == NB_OK)
        s = nbi_buf_append(b, "\"", 1);
    if (s == NB_OK)
        s = nbi_buf_append_str(b, key);
    if (s == NB_OK)
        s = nbi_buf_append(b, "\":", 2);
    return s;
}

static nb_status put_string_field(nbi_buf *b, const char *key, const char *value, bool first,
                                  size_t index)
{
    nb_status s = put_key(b, key, first);
    return s == NB_OK ? put_string(b, value, key, index) : s;
}

/* A JSON string holding the base64 of n bytes, written in place. */
static nb_status put_base64(nbi_buf *b, const uint8_t *data, size_t n)
{
    nb_status s = nbi_buf_append(b, "\"", 1);
    if (s == NB_OK)
        s = nbi_base64_append(b, data, n);
    return s == NB_OK ? nbi_buf_append(b, "\"", 1) : s;
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
    nb_status s = nbi_set_string(&p->type_name, nb_type_name(p->type));
    if (s == NB_OK)
        s = nbi_set_string(&p->encoding, direct ? "base64" : "none");
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

/* An upper bound of the whole text, so that the buffer is allocated once. */
static size_t estimate(nb_envelope *e, char **meta)
{
    size_t total = 512; /* keys, quotes, commas and braces of the envelope */
    for (size_t i = 0; i < NBI_ENVELOPE_FIELD_COUNT; i++)
        total = add_sat(total, escaped_max(*nbi_envelope_field_at(e, i)));
    total = add_sat(total, meta[0] ? strlen(meta[0]) : 2);
    for (size_t i = 0; i < e->count; i++) {
        const nb_payload *p = e->payloads[i];
        total = add_sat(total, 256); /* keys, type, transport, encoding, size */
        total = add_sat(total, escaped_max(p->id));
        total = add_sat(total, escaped_max(p->dataname));
        total = add_sat(total, meta[i + 1] ? strlen(meta[i + 1]) : 2);
        if (p->transport == NB_TRANSPORT_DIRECT)
            total = add_sat(total, add_sat(nbi_base64_encoded_len(p->len), 2));
        else
            total = add_sat(total, escaped_max(p->url));
    }
    return total;
}

static nb_status put_metadata(nbi_buf *b, const char *meta)
{
    nb_status s = put_key(b, "metadata", false);
    return s == NB_OK ? nbi_buf_append_str(b, meta ? meta : "{}") : s;
}

/* A decimal integer without printf: this runs for every payload. */
static nb_status put_u64(nbi_buf *b, uint64_t v)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return nbi_buf_append(b, digits + n, sizeof digits - n);
}

static nb_status put_payload(nbi_buf *b, const nb_payload *p, const char *meta, size_t i)
{
    bool direct = p->transport == NB_TRANSPORT_DIRECT;
    nb_status s = nbi_buf_append(b, i ? ",{" : "{", i ? 2 : 1);
    if (s == NB_OK)
        s = put_string_field(b, "id", p->id, true, i);
    if (s == NB_OK)
        s = put_string_field(b, "dataname", p->dataname, false, i);
    if (s == NB_OK)
        s = put_string_field(b, "type", nb_type_name(p->type), false, i);
    if (s == NB_OK)
        s = put_string_field(b, "transport", nb_transport_name(p->transport), false, i);
    if (s == NB_OK)
        s = put_string_field(b, "encoding", direct ? "base64" : "none", false, i);
    if (s == NB_OK && (s = put_key(b, "size", false)) == NB_OK)
        s = put_u64(b, p->size);
    if (s == NB_OK)
        s = put_key(b, "data", false);
    if (s == NB_OK)
        s = direct ? put_base64(b, p->data, p->len) : put_string(b, p->url, "data", i);
    if (s == NB_OK)
        s = put_metadata(b, meta);
    return s == NB_OK ? nbi_buf_append(b, "}", 1) : s;
}

static nb_status put_envelope(nbi_buf *b, nb_envelope *e, char **meta)
{
    nb_status s = nbi_buf_append(b, "{", 1);
    for (size_t i = 0; s == NB_OK && i < NBI_ENVELOPE_FIELD_COUNT; i++) {
        const char *key = nbi_envelope_fields[i].keys[0];
        s = put_string_field(b, key, *nbi_envelope_field_at(e, i), i == 0, NO_INDEX);
    }
    if (s == NB_OK)
        s = put_metadata(b, meta[0]);
    if (s == NB_OK && (s = put_key(b, "payloads", false)) == NB_OK)
        s = nbi_buf_append(b, "[", 1);
    for (size_t i = 0; s == NB_OK && i < e->count; i++)
        s = put_payload(b, e->payloads[i], meta[i + 1], i);
    return s == NB_OK ? nbi_buf_append(b, "]}", 2) : s;
}

nb_status nbi_codec_encode(nb_envelope *e)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope: NULL envelope");
    nb_status s = nbi_envelope_unshare(e); /* prepare_payload replaces received strings */
    for (size_t i = 0; s == NB_OK && i < e->count; i++)
        s = prepare_payload(e->payloads[i], i);
    char **meta = NULL;
    if (s == NB_OK)
        s = print_metadata(e, &meta);
    nbi_buf b = NBI_BUF_INIT;
    if (s == NB_OK)
        s = nbi_buf_reserve(&b, estimate(e, meta));
    if (s == NB_OK)
        s = put_envelope(&b, e, meta);
    if (s == NB_OK) {
        free(e->json);
        e->json = (char *)nbi_buf_detach(&b, &e->json_len);
    }
    free_metadata(meta, e->count + 1);
    nbi_buf_free(&b);
    return s;
}
