/* SPDX-License-Identifier: MIT */
/*
 * jsontable.c - tables as JSON arrays of row objects, the peers' "jsontable"
 * (PROTOCOL.md "Tables"). The reader is a small dedicated JSON scanner rather
 * than cJSON because cJSON keeps numbers as doubles, and int64 values above
 * 2^53 must come back exactly.
 */
#include "table.h"

#include "base64.h"
#include "payload.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* Writing                                                                  */
/* ======================================================================== */

static nb_status put_json_string(nbi_buf *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    nb_status st = nbi_buf_reserve(b, n + 2);
    if (st != NB_OK)
        return st;
    b->data[b->len++] = '"';
    size_t run = 0; /* bytes copied as they are, in one append */
    for (size_t i = 0; i < n && st == NB_OK; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        st = nbi_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', (char)c, 0};
        if (c == '\n' || c == '\r' || c == '\t')
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        if (st == NB_OK)
            st = nbi_buf_append_str(b, esc);
    }
    if (st == NB_OK)
        st = nbi_buf_append(b, s + run, n - run);
    return st == NB_OK ? nbi_buf_append(b, "\"", 1) : st;
}

/*
 * The shortest %g form that reads back as the same value, always with a '.'
 * or 'e': v is a float64, or a float32 (single) that needs at most 9 digits.
 */
static void format_float(double v, bool single, char out[40])
{
    for (int digits = single ? 1 : 15; digits <= (single ? 9 : 17); digits++) {
        snprintf(out, 40, "%.*g", digits, v);
        if (single ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
            break;
    }
    if (!strpbrk(out, ".e"))
        strcat(out, ".0"); /* 2.0 stays a float when read back */
}

/* Civil date of a day count since 1970-01-01 (H. Hinnant's days_from_civil, inverted). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int format_date(int64_t days, char *out, size_t n)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return snprintf(out, n, "%04" PRId64 "-%02u-%02u", y, m, d);
}

/* ISO-8601 of a timestamp: UTC with 'Z' when zoned (Arrow stores instants), naive without. */
static void format_timestamp(int64_t v, nb_time_unit unit, bool zoned, char out[64])
{
    static const int64_t per_second[] = {1, 1000, 1000000, 1000000000};
    static const int frac_digits[] = {0, 3, 6, 9};
    int64_t ps = per_second[unit];
    int64_t secs = v / ps, frac = v % ps;
    if (frac < 0) {
        frac += ps;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int n = format_date(days, out, 64);
    n += snprintf(out + n, (size_t)(64 - n), "T%02d:%02d:%02d", (int)(sod / 3600),
                  (int)(sod / 60 % 60), (int)(sod % 60));
    if (frac_digits[unit])
        n += snprintf(out + n, (size_t)(64 - n), ".%0*" PRId64, frac_digits[unit], frac);
    if (zoned)
        snprintf(out + n, (size_t)(64 - n), "Z");
}

/* A binary value as base64: bare (raw, for the text form) or as a JSON string. */
static nb_status put_base64(nbi_buf *b, const uint8_t *data, size_t n, bool raw)
{
    nb_status s = raw ? NB_OK : nbi_buf_append(b, "\"", 1);
    if (s == NB_OK)
        s = nbi_base64_append(b, data, n);
    return s == NB_OK && !raw ? nbi_buf_append(b, "\"", 1) : s;
}

/* Reads the fixed-width value at row as the widest integer of its kind. */
static int64_t signed_at(const nbi_column *c, int64_t row)
{
    const uint8_t *p = c->values.data + (size_t)row * nbi_column_type_width(c->type);
    switch (c->type) {
    case NB_COL_INT8: return (int8_t)p[0];
    case NB_COL_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case NB_COL_INT32:
    case NB_COL_DATE32: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

static uint64_t unsigned_at(const nbi_column *c, int64_t row)
{
    const uint8_t *p = c->values.data + (size_t)row * nbi_column_type_width(c->type);
    switch (c->type) {
    case NB_COL_UINT8: return p[0];
    case NB_COL_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case NB_COL_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

/* Text written without quotes or escapes (raw) or as a JSON string. */
static nb_status put_text(nbi_buf *b, const uint8_t *s, size_t n, bool raw)
{
    return raw ? nbi_buf_append(b, s, n) : put_json_string(b, s, n);
}

/* A float as the shortest text that reads back the same; NaN and infinities as null. */
static nb_status put_float(nbi_buf *b, const nbi_column *c, int64_t row, bool raw)
{
    char text[64];
    double v;
    float f = 0;
    if (c->type == NB_COL_FLOAT32) {
        memcpy(&f, c->values.data + row * 4, 4);
        v = f;
    } else {
        memcpy(&v, c->values.data + row * 8, 8);
    }
    if (!isfinite(v) && raw)
        return nbi_buf_append_str(b, isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
    if (!isfinite(v))
        return nbi_buf_append(b, "null", 4); /* JSON has no NaN or infinity */
    format_float(v, c->type == NB_COL_FLOAT32, text);
    return nbi_buf_append_str(b, text);
}

/* One value as JSON, or raw (nb_table_value_text): strings unquoted, nulls empty. */
static nb_status put_value(nbi_buf *b, const nbi_column *c, int64_t row, bool raw)
{
    char text[64];
    if (!nbi_column_is_valid(c, row))
        return raw ? NB_OK : nbi_buf_append(b, "null", 4);
    switch (c->type) {
    case NB_COL_BOOL:
        return nbi_buf_append_str(b, (c->values.data[row >> 3] >> (row & 7)) & 1 ? "true"
                                                                                  : "false");
    case NB_COL_INT8: case NB_COL_INT16: case NB_COL_INT32: case NB_COL_INT64:
        snprintf(text, sizeof text, "%" PRId64, signed_at(c, row));
        break;
    case NB_COL_UINT8: case NB_COL_UINT16: case NB_COL_UINT32: case NB_COL_UINT64:
        snprintf(text, sizeof text, "%" PRIu64, unsigned_at(c, row));
        break;
    case NB_COL_FLOAT32:
    case NB_COL_FLOAT64:
        return put_float(b, c, row, raw);
    case NB_COL_UTF8:
    case NB_COL_BINARY: {
        int32_t o[2];
        memcpy(o, c->offsets.data + row * 4, 8);
        const uint8_t *s = c->values.data + o[0];
        size_t n = (size_t)(o[1] - o[0]);
        if (c->type == NB_COL_UTF8)
            return put_text(b, s, n, raw);
        return put_base64(b, s, n, raw);
    }
    case NB_COL_DATE32:
        format_date(signed_at(c, row), text, sizeof text);
        return put_text(b, (const uint8_t *)text, strlen(text), raw);
    default: /* NB_COL_TIMESTAMP */
        format_timestamp(signed_at(c, row), c->unit, c->timezone != NULL, text);
        return put_text(b, (const uint8_t *)text, strlen(text), raw);
    }
    return nbi_buf_append_str(b, text);
}

static nb_status put_row(nbi_buf *b, const nb_table *t, int64_t row)
{
    nb_status s = nbi_buf_append(b, row ? ",{" : "{", row ? 2 : 1);
    for (size_t i = 0; s == NB_OK && i < t->n_cols; i++) {
        const nbi_column *c = &t->cols[i];
        if (i)
            s = nbi_buf_append(b, ",", 1);
        if (s == NB_OK)
            s = put_json_string(b, (const uint8_t *)c->name, strlen(c->name));
        if (s == NB_OK)
            s = nbi_buf_append(b, ":", 1);
        if (s == NB_OK)
            s = put_value(b, c, row, false);
    }
    return s == NB_OK ? nbi_buf_append(b, "}", 1) : s;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A row object cannot hold one key twice (JSON parsers keep one of them, or fail). */
static nb_status check_unique_names(const nb_table *t)
{
    if (t->n_cols < 2)
        return NB_OK;
    const char **names = malloc(t->n_cols * sizeof *names);
    if (!names)
        return nbi_fail(NB_NO_MEMORY, "jsontable: out of memory");
    for (size_t i = 0; i < t->n_cols; i++)
        names[i] = t->cols[i].name;
    qsort(names, t->n_cols, sizeof *names, compare_names);
    const char *dup = NULL;
    for (size_t i = 1; i < t->n_cols && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            dup = names[i];
    free(names);
    return dup ? nbi_fail(NB_INVALID_ARG, "jsontable: two columns are named '%.100s' (a JSON "
                          "row object cannot hold a key twice)", dup)
               : NB_OK;
}

nb_status nb_table_to_json(const nb_table *t, char **out, size_t *len)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "jsontable: out is NULL");
    *out = NULL;
    if (!t)
        return nbi_fail(NB_INVALID_ARG, "jsontable: NULL table");
    nb_status s = check_unique_names(t);
    if (s != NB_OK)
        return s;
    nbi_buf b = NBI_BUF_INIT;
    s = nbi_buf_append(&b, "[", 1);
    for (int64_t r = 0; s == NB_OK && r < t->rows; r++)
        s = put_row(&b, t, r);
    if (s == NB_OK)
        s = nbi_buf_append(&b, "]", 1);
    if (s != NB_OK) {
        nbi_buf_free(&b);
        return nbi_fail_prefix(s, "jsontable");
    }
    *out = (char *)nbi_buf_detach(&b, len);
    return NB_OK;
}

nb_status nb_table_value_text(const nb_table *t, size_t col, int64_t row, char **out,
                               size_t *len)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "table: out is NULL");
    *out = NULL;
    if (!t || col >= t->n_cols || row < 0 || row >= t->rows)
        return nbi_fail(NB_INVALID_ARG, "table: no cell at column %zu row %lld", col,
                        (long long)row);
    nbi_buf b = NBI_BUF_INIT;
    nb_status s = nbi_buf_reserve(&b, 0);
    if (s == NB_OK)
        s = put_value(&b, &t->cols[col], row, true);
    if (s != NB_OK) {
        nbi_buf_free(&b);
        return s;
    }
    *out = (char *)nbi_buf_detach(&b, len);
    return NB_OK;
}

/* ======================================================================== */
/* Reading                                                                  */
/* ======================================================================== */

/* The kind of a JSON scalar; a column's values must all be of one class. */
typedef enum { K_NULL, K_BOOL, K_INT, K_UINT, K_FLOAT, K_STRING } kind;

typedef struct cell {
    kind k;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct { size_t off, len; } str; /* in reader.strings */
    } v;
} cell;

typedef struct jcolumn {
    char *name;
    size_t name_len;
    cell *cells; /* one per row read so far */
    size_t n, cap;
    kind first;       /* the first non-null kind, K_NULL while none */
    int64_t first_row;
    bool neg_int, has_float, has_uint;
} jcolumn;

typedef struct reader {
    const char *p, *end, *start;
    jcolumn *cols;
    size_t n_cols, cap_cols;
    size_t *slots; /* hash index of cols by name: index + 1, 0 = empty */
    size_t n_slots;
    nbi_buf strings; /* unescaped string values */
    nbi_buf key;     /* the key being read */
    int64_t row;
} reader;

/*
 * Missing keys are nulls, so a column first seen late still holds a cell for
 * every row: [{"a":1},{"b":1},...] would take rows * columns cells. A table
 * with more cells than 8 per byte of text (plus 1 Mi) is refused.
 */
static nb_status check_density(const reader *r, size_t cols, int64_t rows)
{
    uint64_t limit = 8 * (uint64_t)(r->end - r->start) + (1u << 20);
    if (cols == 0 || (uint64_t)rows <= limit / cols)
        return NB_OK;
    return nbi_fail(NB_BAD_PAYLOAD, "jsontable: %zu columns by %lld rows is too sparse for "
                    "%zu bytes of JSON", cols, (long long)rows, (size_t)(r->end - r->start));
}

static nb_status syntax(reader *r, const char *what)
{
    return nbi_fail(NB_BAD_PAYLOAD, "jsontable: %s at byte %zu (row %lld)", what,
                    (size_t)(r->p - r->start), (long long)r->row);
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool eat(reader *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = nbi_hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static nb_status put_utf8(nbi_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const uint8_t lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    for (size_t i = n - 1; i > 0; i--, cp >>= 6)
        u[i] = (uint8_t)(0x80 | (cp & 0x3f));
    u[0] = (uint8_t)(lead[n] | cp);
    return nbi_buf_append(b, u, n);
}

/* A \uXXXX escape (p after the 'u'), pairing surrogates; the code point or -1. */
static long read_unicode(reader *r)
{
    if (r->end - r->p < 4)
        return -1;
    long cp = hex4(r->p);
    r->p += cp < 0 ? 0 : 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return -1;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        long lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2) : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return -1;
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return cp;
}

/* A string (r->p at the opening quote) appended, unescaped, to b. */
static nb_status read_string(reader *r, nbi_buf *b)
{
    r->p++;
    const char *run = r->p;
    nb_status s = NB_OK;
    while (s == NB_OK) {
        if (r->p >= r->end)
            return syntax(r, "unterminated string");
        unsigned char c = (unsigned char)*r->p;
        if (c == '"' || c == '\\')
            s = nbi_buf_append(b, run, (size_t)(r->p - run));
        if (c == '"') {
            r->p++;
            return s;
        }
        if (c < 0x20)
            return syntax(r, "control character in a string");
        if (c != '\\') {
            r->p++;
            continue;
        }
        if (++r->p >= r->end)
            return syntax(r, "unterminated string");
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = strchr(from, *r->p);
        if (*r->p == 'u') {
            r->p++;
            long cp = read_unicode(r);
            if (cp < 0)
                return syntax(r, "bad \\u escape");
            if (s == NB_OK)
                s = put_utf8(b, (uint32_t)cp);
        } else if (e && *r->p) {
            s = nbi_buf_append(b, &to[e - from], 1);
            r->p++;
        } else {
            return syntax(r, "bad escape");
        }
        run = r->p;
    }
    return s;
}

static const char *skip_digits(const char *q, const char *end)
{
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    return q;
}

/* The end of the number at p per JSON's grammar, or NULL; *integral when no fraction or exponent. */
static const char *number_end(const char *p, const char *end, bool *integral)
{
    const char *q = p < end && *p == '-' ? p + 1 : p, *digits = q;
    q = skip_digits(q, end);
    if (q == digits || (*digits == '0' && q - digits > 1))
        return NULL;
    *integral = true;
    if (q < end && *q == '.') {
        *integral = false;
        const char *f = q + 1;
        if ((q = skip_digits(f, end)) == f)
            return NULL;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        *integral = false;
        const char *e = q + (q + 1 < end && (q[1] == '+' || q[1] == '-') ? 2 : 1);
        if ((q = skip_digits(e, end)) == e)
            return NULL;
    }
    return q;
}

/* A number: int64, uint64 above INT64_MAX, else a double. */
static nb_status read_number(reader *r, cell *out)
{
    bool integral;
    const char *q = number_end(r->p, r->end, &integral);
    if (!q)
        return syntax(r, "bad number");
    char text[400];
    if ((size_t)(q - r->p) >= sizeof text)
        return syntax(r, "number too long");
    memcpy(text, r->p, (size_t)(q - r->p));
    text[q - r->p] = '\0';
    r->p = q;
    errno = 0;
    if (integral) {
        long long i = strtoll(text, NULL, 10);
        if (errno == 0) {
            *out = (cell){.k = K_INT, .v.i = i};
            return NB_OK;
        }
        errno = 0;
        unsigned long long u = text[0] != '-' ? strtoull(text, NULL, 10) : 0;
        if (text[0] != '-' && errno == 0) {
            *out = (cell){.k = K_UINT, .v.u = u};
            return NB_OK;
        }
    }
    *out = (cell){.k = K_FLOAT, .v.d = strtod(text, NULL)};
    return NB_OK;
}

static bool match_word(reader *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

static const char *class_name(kind k)
{
    return k == K_BOOL ? "boolean" : k == K_STRING ? "string" : "number";
}

/* A scalar value; nested objects and arrays are refused, naming the column. */
static nb_status read_value(reader *r, const jcolumn *col, cell *out)
{
    skip_ws(r);
    char c = r->p < r->end ? *r->p : '\0';
    if (c == '"') {
        size_t off = r->strings.len;
        nb_status s = read_string(r, &r->strings);
        *out = (cell){.k = K_STRING, .v.str = {off, r->strings.len - off}};
        return s;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *at = r->p;
        nb_status s = read_number(r, out);
        /* 1e999 would read as infinity, which JSON cannot mean (and cannot write back). */
        if (s == NB_OK && out->k == K_FLOAT && isinf(out->v.d))
            return nbi_fail(NB_BAD_PAYLOAD, "jsontable: column '%.100s' row %lld: number "
                            "%.*s is beyond the range of float64", col->name,
                            (long long)r->row, (int)(r->p - at > 40 ? 40 : r->p - at), at);
        return s;
    }
    if (c == '{' || c == '[')
        return nbi_fail(NB_BAD_PAYLOAD, "jsontable: column '%.100s' row %lld: nested %s not "
                        "supported", col->name, (long long)r->row, c == '{' ? "object" : "array");
    *out = (cell){.k = K_NULL};
    if (match_word(r, "null"))
        return NB_OK;
    if (match_word(r, "true") || match_word(r, "false")) {
        *out = (cell){.k = K_BOOL, .v.b = r->p[-1] == 'e' && r->p[-2] == 'u'};
        return NB_OK;
    }
    return syntax(r, "bad value");
}

static bool is_named(const jcolumn *c, const char *key, size_t klen)
{
    return c->name_len == klen && memcmp(c->name, key, klen) == 0;
}

/* FNV-1a: columns are found by hash, so a row of many keys is not quadratic. */
static size_t hash_key(const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ull;
    return (size_t)h;
}

/* The slot of key in r->slots (open addressing): its column index + 1, or 0 where it would go. */
static size_t *slot_of(const reader *r, const char *key, size_t klen)
{
    size_t mask = r->n_slots - 1;
    for (size_t i = hash_key(key, klen) & mask;; i = (i + 1) & mask)
        if (r->slots[i] == 0 || is_named(&r->cols[r->slots[i] - 1], key, klen))
            return &r->slots[i];
}

/* Doubles the slots (kept at most half full) and rehashes every column. */
static nb_status grow_slots(reader *r)
{
    size_t n = r->n_slots ? r->n_slots * 2 : 64;
    size_t *g = calloc(n, sizeof *g);
    if (!g)
        return nbi_fail(NB_NO_MEMORY, "jsontable: out of memory for %zu columns", r->n_cols);
    free(r->slots);
    r->slots = g;
    r->n_slots = n;
    for (size_t i = 0; i < r->n_cols; i++)
        *slot_of(r, r->cols[i].name, r->cols[i].name_len) = i + 1;
    return NB_OK;
}

/* A new column named key, with no cells yet. */
static nb_status new_column(reader *r, const char *key, size_t klen, jcolumn **out)
{
    if (memchr(key, '\0', klen))
        return nbi_fail(NB_BAD_PAYLOAD, "jsontable: row %lld: key with a NUL character",
                        (long long)r->row);
    nb_status s = check_density(r, r->n_cols + 1, r->row + 1);
    if (s == NB_OK && 2 * (r->n_cols + 1) > r->n_slots)
        s = grow_slots(r);
    if (s == NB_OK && r->n_cols == r->cap_cols) {
        size_t cap = r->cap_cols ? r->cap_cols * 2 : 8;
        jcolumn *g = realloc(r->cols, cap * sizeof *g);
        s = g ? NB_OK : nbi_fail(NB_NO_MEMORY, "jsontable: out of memory");
        if (g) {
            r->cols = g;
            r->cap_cols = cap;
        }
    }
    jcolumn *c = s == NB_OK ? &r->cols[r->n_cols] : NULL;
    if (c) {
        memset(c, 0, sizeof *c);
        c->name_len = klen;
        if (!(c->name = nbi_strdup(key)))
            return nbi_fail(NB_NO_MEMORY, "jsontable: out of memory");
        *slot_of(r, key, klen) = ++r->n_cols;
        *out = c;
    }
    return s;
}

/* The column named by r->key (the hint-th key of its row), created when new. */
static nb_status find_column(reader *r, size_t hint, jcolumn **out)
{
    const char *key = (const char *)r->key.data;
    size_t klen = r->key.len;
    /* Keys usually come in column order: try the hint-th column first. */
    if (hint < r->n_cols && is_named(&r->cols[hint], key, klen)) {
        *out = &r->cols[hint];
        return NB_OK;
    }
    size_t *slot = r->n_slots ? slot_of(r, key, klen) : NULL;
    if (slot && *slot) {
        *out = &r->cols[*slot - 1];
        return NB_OK;
    }
    return new_column(r, key, klen, out);
}

/* Fills the column with nulls up to (not including) row. */
static nb_status pad_column(jcolumn *c, int64_t row)
{
    if ((size_t)row + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 16;
        while (cap < (size_t)row + 1)
            cap *= 2;
        cell *g = realloc(c->cells, cap * sizeof *g);
        if (!g)
            return nbi_fail(NB_NO_MEMORY, "jsontable: out of memory at row %lld", (long long)row);
        c->cells = g;
        c->cap = cap;
    }
    while (c->n < (size_t)row)
        c->cells[c->n++] = (cell){.k = K_NULL};
    return NB_OK;
}

/* Adds v as the column's value of the current row, checking its kind. */
static nb_status store_cell(reader *r, jcolumn *c, const cell *v)
{
    if (c->n > (size_t)r->row)
        return nbi_fail(NB_BAD_PAYLOAD, "jsontable: row %lld: key '%.100s' appears twice",
                        (long long)r->row, c->name);
    nb_status s = pad_column(c, r->row);
    if (s != NB_OK)
        return s;
    if (v->k != K_NULL) {
        kind cls = v->k == K_INT || v->k == K_UINT ? K_FLOAT : v->k;
        kind first = c->first == K_INT || c->first == K_UINT ? K_FLOAT : c->first;
        if (c->first == K_NULL) {
            c->first = v->k;
            c->first_row = r->row;
        } else if (cls != first) {
            return nbi_fail(NB_BAD_PAYLOAD, "jsontable: column '%.100s' row %lld: %s value in "
                            "a %s column (row %lld)", c->name, (long long)r->row,
                            class_name(v->k), class_name(c->first), (long long)c->first_row);
        }
        c->neg_int |= v->k == K_INT && v->v.i < 0;
        c->has_float |= v->k == K_FLOAT;
        c->has_uint |= v->k == K_UINT;
    }
    c->cells[c->n++] = *v;
    return NB_OK;
}

static nb_status read_row(reader *r)
{
    if (!eat(r, '{'))
        return syntax(r, "row is not an object");
    if (eat(r, '}'))
        return NB_OK;
    nb_status s = NB_OK;
    for (size_t i = 0; s == NB_OK; i++) {
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"')
            return syntax(r, "expected a key");
        r->key.len = 0;
        jcolumn *c = NULL;
        cell v = {0};
        if ((s = read_string(r, &r->key)) || (s = nbi_buf_append(&r->key, "", 0)) ||
            (s = find_column(r, i, &c)))
            return s;
        if (!eat(r, ':'))
            return syntax(r, "expected ':'");
        if ((s = read_value(r, c, &v)) || (s = store_cell(r, c, &v)))
            return s;
        if (eat(r, '}'))
            return NB_OK;
        if (!eat(r, ','))
            return syntax(r, "expected ',' or '}'");
    }
    return s;
}

static nb_status read_rows(reader *r)
{
    if (!eat(r, '['))
        return syntax(r, "not a JSON array of rows");
    nb_status s = NB_OK;
    if (!eat(r, ']')) {
        do {
            s = read_row(r);
            r->row++;
            if (s == NB_OK)
                s = check_density(r, r->n_cols, r->row);
        } while (s == NB_OK && eat(r, ','));
        if (s == NB_OK && !eat(r, ']'))
            return syntax(r, "expected ',' or ']'");
    }
    skip_ws(r);
    if (s == NB_OK && r->p != r->end)
        return syntax(r, "text after the array");
    return s;
}

/* ---- building the table ------------------------------------------------ */

static nb_column_type column_type(const jcolumn *c)
{
    if (c->first == K_BOOL)
        return NB_COL_BOOL;
    if (c->first == K_STRING || c->first == K_NULL)
        return NB_COL_UTF8;
    if (c->has_float || (c->has_uint && c->neg_int))
        return NB_COL_FLOAT64;
    return c->has_uint ? NB_COL_UINT64 : NB_COL_INT64;
}

static double as_double(const cell *v)
{
    return v->k == K_INT ? (double)v->v.i : v->k == K_UINT ? (double)v->v.u : v->v.d;
}

static nb_status add_jcolumn(nb_table *t, const reader *r, const jcolumn *c, int64_t rows)
{
    nb_column_type type = column_type(c);
    size_t bytes = type == NB_COL_BOOL || type == NB_COL_UTF8 ? (size_t)(rows + 7) / 8
                                                              : (size_t)rows * 8;
    uint8_t *validity = calloc((size_t)(rows + 7) / 8 + 1, 1);
    uint8_t *values = calloc(bytes + 1, 1);
    int32_t *offsets = type == NB_COL_UTF8 ? calloc((size_t)rows + 1, 4) : NULL;
    nbi_buf text = NBI_BUF_INIT;
    nb_status s = validity && values && (type != NB_COL_UTF8 || offsets)
                      ? NB_OK : nbi_fail(NB_NO_MEMORY, "jsontable: out of memory");
    for (int64_t i = 0; s == NB_OK && i < rows; i++) {
        const cell *v = &c->cells[i];
        if (v->k != K_NULL)
            validity[i >> 3] |= (uint8_t)(1u << (i & 7));
        if (type == NB_COL_UTF8) {
            if (v->k == K_STRING)
                s = nbi_buf_append(&text, r->strings.data + v->v.str.off, v->v.str.len);
            if (s == NB_OK && text.len > INT32_MAX)
                s = nbi_fail(NB_TOO_LARGE, "jsontable: column '%.100s': over 2 GiB of text",
                             c->name);
            offsets[i + 1] = (int32_t)text.len;
        } else if (type == NB_COL_BOOL) {
            if (v->k == K_BOOL && v->v.b)
                values[i >> 3] |= (uint8_t)(1u << (i & 7));
        } else if (v->k != K_NULL) {
            double d = as_double(v);
            memcpy(values + i * 8, type == NB_COL_FLOAT64 ? (const void *)&d : (const void *)&v->v,
                   8);
        }
    }
    if (s == NB_OK)
        s = nb_table_add_column(t, c->name, type, rows,
                                type == NB_COL_UTF8 ? (const void *)text.data : values, offsets,
                                validity);
    free(validity);
    free(values);
    free(offsets);
    nbi_buf_free(&text);
    return s;
}

static void reader_free(reader *r)
{
    for (size_t i = 0; i < r->n_cols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].cells);
    }
    free(r->cols);
    free(r->slots);
    nbi_buf_free(&r->strings);
    nbi_buf_free(&r->key);
}

nb_status nb_table_from_json(nb_table **out, const char *json, size_t len)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "jsontable: out is NULL");
    *out = NULL;
    if (!json && len)
        return nbi_fail(NB_INVALID_ARG, "jsontable: NULL text of %zu bytes", len);
    size_t bad = nbi_utf8_check((const uint8_t *)json, len);
    if (bad < len)
        return nbi_fail(NB_BAD_PAYLOAD, "jsontable: not valid UTF-8 at byte %zu", bad);
    reader r = {.p = json, .end = json + len, .start = json};
    nb_table *t = NULL;
    nb_status s = read_rows(&r);
    if (s == NB_OK)
        s = nb_table_create(&t);
    for (size_t i = 0; s == NB_OK && i < r.n_cols; i++) {
        s = pad_column(&r.cols[i], r.row); /* keys missing from the last rows */
        if (s == NB_OK)
            s = add_jcolumn(t, &r, &r.cols[i], r.row);
    }
    reader_free(&r);
    if (s != NB_OK) {
        nb_table_destroy(t);
        return s;
    }
    *out = t;
    return NB_OK;
}
