/* SPDX-License-Identifier: MIT */
/*
 * jsonscan.c - the tree-free JSON scanner (jsonscan.h). Every rule below
 * mirrors a rule of cJSON 1.7's parser, so that the two agree on every
 * input (tests/fuzz/fuzz_jsonscan.c); the comments name the rule.
 */
#include "jsonscan.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The scanner's steps, forced in line into its loop: a call per token (the
 * registers saved and restored) cost as much as scanning the token.
 */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* cJSON's buffer_skip_whitespace: every byte up to 32 separates tokens. */
HOT const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (unsigned char)*s <= 32)
        s++;
    return s;
}

/* Records the first failure only: the innermost one is the most precise. */
static bool fail(nbi_json_scanner *sc, const char *at)
{
    if (!sc->err)
        sc->err = at;
    return false;
}

#if defined(__SSE2__)
/* Bit i set when byte i of the 16 at p is '"' or a backslash. */
static inline unsigned quote_or_backslash16(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return (unsigned)_mm_movemask_epi8(hit);
}
#endif

void nbi_json_scanner_init(nbi_json_scanner *sc, const char *text, size_t len)
{
    sc->text = text;
    sc->end = text + len;
    sc->err = NULL;
}

size_t nbi_json_error_offset(const nbi_json_scanner *sc)
{
    size_t len = (size_t)(sc->end - sc->text);
    size_t at = sc->err ? (size_t)(sc->err - sc->text) : 0;
    /* cJSON reports the last byte when it ran off the end. */
    return at < len ? at : len ? len - 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

/* cJSON's parse_hex4: any non-hex digit makes the whole value 0 (not an error). */
static unsigned hex4(const char *s)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16u;
        if (d == 16u)
            return 0;
        h = (h << 4) | d;
    }
    return h;
}

/* Writes cp as UTF-8 at out (when out is set); returns its length. */
static size_t put_utf8(uint32_t cp, char *out)
{
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (out) {
        static const unsigned char first[] = {0, 0, 0xC0, 0xE0, 0xF0};
        for (size_t i = n - 1; i > 0; i--) {
            out[i] = (char)(0x80 | (cp & 0x3F));
            cp >>= 6;
        }
        out[0] = (char)(first[n] | cp);
    }
    return n;
}

/*
 * cJSON's utf16_literal_to_utf8: p at "\u", q the closing quote. Returns the
 * escape's length (6 or 12), 0 when invalid; *cp gets the code point.
 */
static size_t utf16_escape(const char *p, const char *q, uint32_t *cp)
{
    if (q - p < 6)
        return 0;
    uint32_t first = hex4(p + 2);
    if (first >= 0xDC00 && first <= 0xDFFF)
        return 0; /* a low surrogate first */
    if (first < 0xD800 || first > 0xDBFF) {
        *cp = first;
        return 6;
    }
    const char *second = p + 6;
    if (q - second < 6 || second[0] != '\\' || second[1] != 'u')
        return 0;
    uint32_t low = hex4(second + 2);
    if (low < 0xDC00 || low > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((first & 0x3FF) << 10) | (low & 0x3FF));
    return 12;
}

/*
 * cJSON's conversion loop over the string body [p, q): decodes into out
 * (when set) and returns the decoded length, or SIZE_MAX (*bad set) on an
 * escape cJSON refuses.
 */
static size_t decode_body(const char *p, const char *q, char *out, const char **bad)
{
    size_t n = 0;
    while (p < q) {
        if (*p != '\\') {
            /* Runs of plain bytes are copied at once. */
            const char *bs = memchr(p, '\\', (size_t)(q - p));
            size_t run = bs ? (size_t)(bs - p) : (size_t)(q - p);
            if (out)
                memcpy(out + n, p, run);
            n += run;
            p += run;
            continue;
        }
        char c = p[1]; /* p < q: p[1] is at most the closing quote */
        char plain = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r'
                   : c == 't' ? '\t' : c == '"' || c == '\\' || c == '/' ? c : 0;
        if (plain) {
            if (out)
                out[n] = plain;
            n++;
            p += 2;
            continue;
        }
        uint32_t cp = 0;
        size_t used = c == 'u' ? utf16_escape(p, q, &cp) : 0;
        if (!used) {
            *bad = p;
            return SIZE_MAX;
        }
        n += put_utf8(cp, out ? out + n : NULL);
        p += used;
    }
    return n;
}

/*
 * The first '"' or backslash from p on (end if none): the first 64 bytes
 * 16 a step with SSE2 (every x86-64 has it; 8 with a word trick elsewhere),
 * which suits keys and ids, the rest with memchr (base64).
 */
static const char *quote_or_backslash_long(const char *p, const char *end)
{
    const char *lim = end - p > 64 ? p + 64 : end;
#if defined(__SSE2__)
    while (lim - p >= 16) {
        unsigned hits = quote_or_backslash16(p);
        if (hits)
            return p + __builtin_ctz(hits);
        p += 16;
    }
#else
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (lim - p >= 8) {
        uint64_t w, q, b;
        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        /* a zero byte in q or b: a quote or a backslash among these 8 */
        if (((q - ones) & ~q & highs) | ((b - ones) & ~b & highs))
            break;
        p += 8;
    }
#endif
    for (; p < lim; p++)
        if (*p == '"' || *p == '\\')
            return p;
    if (p == end)
        return end;
    /* A long string (base64): glibc's memchr is wider still. */
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q)
        q = end;
    const char *bs = memchr(p, '\\', (size_t)(q - p));
    return bs ? bs : q;
}

/* The same, with the first 16 bytes (most keys and short values) tested in line. */
HOT const char *quote_or_backslash(const char *p, const char *end)
{
#if defined(__SSE2__)
    if (end - p >= 16) {
        unsigned hits = quote_or_backslash16(p);
        if (hits)
            return p + __builtin_ctz(hits);
        p += 16;
    }
#endif
    return quote_or_backslash_long(p, end);
}

/*
 * The string at s whose first '"' or backslash after the opening quote is
 * at q, which is a backslash or the end: finds the closing quote as cJSON
 * does (a backslash always takes the next byte) and checks the escapes.
 * Returns the closing quote, NULL when invalid. Out of line (most strings
 * have no escape), and given no pointer into the caller's loop, whose
 * position and values then stay in registers.
 */
static const char *scan_escaped(nbi_json_scanner *sc, const char *s, const char *q)
{
    const char *end = sc->end;
    while (q < end && *q != '"') {
        if (*q == '\\' && ++q >= end)
            return fail(sc, q - 1), NULL; /* the text ends with a backslash */
        q++;
    }
    if (q >= end)
        return fail(sc, end), NULL;
    const char *bad = NULL;
    if (decode_body(s + 1, q, NULL, &bad) == SIZE_MAX)
        return fail(sc, bad), NULL;
    return q;
}

/* s at '"': a string without escapes is scanned here, in line. */
HOT bool scan_string(nbi_json_scanner *sc, const char **pos, nbi_json_value *v)
{
    const char *s = *pos;
    const char *q = quote_or_backslash(s + 1, sc->end);
    bool escaped = q == sc->end || *q != '"';
    if (escaped && !(q = scan_escaped(sc, s, q)))
        return false;
    v->start = s;
    v->len = (size_t)(q + 1 - s);
    v->kind = NBI_JSON_STRING;
    v->depth = 0;
    v->escaped = escaped;
    *pos = q + 1;
    return true;
}

size_t nbi_json_string_decode(const nbi_json_value *v, char *out)
{
    const char *body = v->start + 1, *q = v->start + v->len - 1;
    size_t n;
    if (!v->escaped) {
        n = (size_t)(q - body);
        memcpy(out, body, n);
    } else {
        const char *bad = NULL;
        n = decode_body(body, q, out, &bad);
        if (n == SIZE_MAX) /* not from a successful scan: a caller's bug */
            n = 0;
    }
    out[n] = '\0';
    return n;
}

bool nbi_json_string_is(const nbi_json_value *v, const char *s, size_t n)
{
    if (!v->escaped)
        return v->len - 2 == n && memcmp(v->start + 1, s, n) == 0;
    char buf[64]; /* field names are short: a longer escaped key matches none */
    if (v->len - 2 >= sizeof buf)
        return false;
    size_t got = nbi_json_string_decode(v, buf);
    return got == n && memcmp(buf, s, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* Numbers and literals                                                     */
/* ------------------------------------------------------------------------ */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The bytes cJSON's parse_number hands to strtod. */
static bool is_number_char(char c)
{
    return is_digit(c) || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.';
}

/* The end of the run of decimal digits at p: 16 bytes a step with SSE2, no branch per digit. */
HOT const char *digits(const char *p, const char *end)
{
#if defined(__SSE2__)
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compares: bytes >= 0x80 are negative, so no digit. */
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        unsigned other = (unsigned)_mm_movemask_epi8(digit) ^ 0xFFFFu;
        if (other)
            return p + __builtin_ctz(other);
        p += 16;
    }
#endif
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/*
 * cJSON hands the run of number bytes to strtod; whatever strtod leaves of
 * it is a number byte, which no value may be followed by. So a number is
 * the whole run as strtod reads it (its first byte is '-' or a digit):
 * '-'? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)?
 */
HOT bool scan_number(nbi_json_scanner *sc, const char **pos, nbi_json_value *v)
{
    const char *s = *pos, *end = sc->end, *p = s;
    if (*p == '-')
        p++;
    const char *int_end = digits(p, end);
    bool whole = int_end > p;
    p = int_end;
    if (p < end && *p == '.') {
        const char *frac_end = digits(p + 1, end);
        if (!whole && frac_end == p + 1)
            return fail(sc, s);
        p = frac_end;
    } else if (!whole) {
        return fail(sc, s);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *x = p + 1;
        if (x < end && (*x == '+' || *x == '-'))
            x++;
        const char *exp_end = digits(x, end);
        if (exp_end > x)
            p = exp_end; /* else strtod stops before the 'e' */
    }
    /* What strtod leaves of the run of number bytes makes the text invalid. */
    if (p < end && is_number_char(*p))
        return fail(sc, p);
    v->start = s;
    v->len = (size_t)(p - s);
    v->kind = NBI_JSON_NUMBER;
    v->depth = 0;
    v->escaped = false;
    *pos = p;
    return true;
}

/* The literal at s: null, true or false (cJSON compares the word's bytes only), else invalid. */
static nbi_json_kind literal_kind(const char *s, const char *end)
{
    size_t left = (size_t)(end - s);
    if (left >= 4 && memcmp(s, "null", 4) == 0)
        return NBI_JSON_NULL;
    if (left >= 4 && memcmp(s, "true", 4) == 0)
        return NBI_JSON_TRUE;
    if (left >= 5 && memcmp(s, "false", 5) == 0)
        return NBI_JSON_FALSE;
    return NBI_JSON_INVALID;
}

HOT bool scan_literal(nbi_json_scanner *sc, const char **pos, nbi_json_value *v)
{
    const char *s = *pos;
    nbi_json_kind kind = literal_kind(s, sc->end);
    if (kind == NBI_JSON_INVALID)
        return fail(sc, s);
    v->start = s;
    v->len = kind == NBI_JSON_FALSE ? 5 : 4;
    v->kind = kind;
    v->depth = 0;
    v->escaped = false;
    *pos = s + v->len;
    return true;
}

/* cJSON's parse_value for all but containers: dispatch on the first byte. */
HOT bool scan_scalar(nbi_json_scanner *sc, const char **pos, nbi_json_value *v)
{
    const char *s = *pos;
    if (s >= sc->end)
        return fail(sc, s);
    if (*s == '"')
        return scan_string(sc, pos, v);
    if (*s == '-' || is_digit(*s))
        return scan_number(sc, pos, v);
    if (*s == 'n' || *s == 't' || *s == 'f')
        return scan_literal(sc, pos, v);
    return fail(sc, s);
}

/* ------------------------------------------------------------------------ */
/* Containers                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Both the walker and the whole-value scanner follow cJSON's parse_object
 * and parse_array: no trailing comma, keys are strings, at most
 * NBI_JSON_MAX_DEPTH levels.
 */

/* An object member's key, the ':' and the whitespace around it; *pos then at its value. */
HOT bool scan_key(nbi_json_scanner *sc, const char **pos, nbi_json_value *key)
{
    const char *p = *pos, *end = sc->end;
    /* cJSON reports a key that is no string one byte on. */
    if (p >= end || *p != '"')
        return fail(sc, p < end ? p + 1 : end);
    if (!scan_string(sc, &p, key))
        return false;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return fail(sc, p);
    *pos = skip_ws(p + 1, end);
    return true;
}

/*
 * After a member's value at *pos: 1 past a ',' and the whitespace after it,
 * 0 past the closing bracket close, -1 (failed) at anything else.
 */
HOT int after_member(nbi_json_scanner *sc, const char **pos, char close)
{
    const char *p = skip_ws(*pos, sc->end);
    if (p < sc->end && *p == ',') {
        *pos = skip_ws(p + 1, sc->end);
        return 1;
    }
    if (p < sc->end && *p == close) {
        *pos = p + 1;
        return 0;
    }
    fail(sc, p);
    return -1;
}

/* The bracket that closes the one at p: '{' + 2 is '}', '[' + 2 is ']' in ASCII. */
static inline char closer(const char *p) { return (char)(*p + 2); }

static inline bool walk_start(nbi_json_walk *w, nbi_json_scanner *sc, const char *p, int level)
{
    w->sc = sc;
    w->start = p;
    w->at = p + 1;
    w->level = level;
    w->object = *p == '{';
    w->first = true;
    w->deepest = 0;
    if (level >= NBI_JSON_MAX_DEPTH)
        return fail(sc, p);
    return true;
}

static inline int walk_next(nbi_json_walk *w, nbi_json_value *key)
{
    nbi_json_scanner *sc = w->sc;
    char close = w->object ? '}' : ']';
    const char *p = w->at;
    if (w->first) {
        p = skip_ws(p, sc->end);
        if (p < sc->end && *p == close) {
            w->at = p + 1;
            return 0;
        }
        w->first = false;
    } else {
        int more = after_member(sc, &p, close);
        if (more <= 0) {
            w->at = p;
            return more;
        }
    }
    nbi_json_value k;
    if (w->object && !scan_key(sc, &p, key ? key : &k))
        return -1;
    w->at = p;
    return 1;
}

static bool scan_value(nbi_json_scanner *sc, const char **pos, int level, nbi_json_value *v);

static inline bool walk_value(nbi_json_walk *w, nbi_json_value *v)
{
    if (!scan_value(w->sc, &w->at, w->level + 1, v))
        return false;
    if (v->depth > w->deepest)
        w->deepest = v->depth;
    return true;
}

static inline void walk_span(const nbi_json_walk *w, nbi_json_value *v)
{
    v->start = w->start;
    v->len = (size_t)(w->at - w->start);
    v->kind = w->object ? NBI_JSON_OBJECT : NBI_JSON_ARRAY;
    v->depth = w->deepest + 1;
    v->escaped = false;
}

/* The exported walker: the same functions, which the scanner itself inlines. */
bool nbi_json_walk_start(nbi_json_walk *w, nbi_json_scanner *sc, const char *p, int level)
{
    return walk_start(w, sc, p, level);
}

int nbi_json_walk_next(nbi_json_walk *w, nbi_json_value *key) { return walk_next(w, key); }

bool nbi_json_walk_value(nbi_json_walk *w, nbi_json_value *v) { return walk_value(w, v); }

void nbi_json_walk_span(const nbi_json_walk *w, nbi_json_value *v) { walk_span(w, v); }

bool nbi_json_walk_enter(nbi_json_walk *w, nbi_json_walk *child)
{
    return walk_start(child, w->sc, w->at, w->level + 1);
}

void nbi_json_walk_leave(nbi_json_walk *w, const nbi_json_walk *child, nbi_json_value *v)
{
    walk_span(child, v);
    w->at = child->at;
    if (v->depth > w->deepest)
        w->deepest = v->depth;
}

/*
 * A member of the innermost open container starts at *pos: its key and
 * ':' when that is an object; then *pos is at its value, which must exist.
 */
HOT bool member_start(nbi_json_scanner *sc, const char **pos, char close)
{
    nbi_json_value key;
    if (close == '}' && !scan_key(sc, pos, &key))
        return false;
    return *pos < sc->end || fail(sc, *pos);
}

/*
 * The container at *pos (level others deep) scanned whole, without
 * recursion: close[] is the stack of the brackets still open, so that
 * 1000 levels cost no call stack. Only the span and depth are kept.
 */
static bool scan_nested(nbi_json_scanner *sc, const char **pos, int level, nbi_json_value *v)
{
    char close[NBI_JSON_MAX_DEPTH];
    const char *p = *pos, *end = sc->end, *start = p;
    int top = -1, deepest = 0, more = 0;
    nbi_json_value item;
    do {
        if (*p == '{' || *p == '[') {
            if (level + top + 1 >= NBI_JSON_MAX_DEPTH)
                return fail(sc, p);
            close[++top] = closer(p);
            if (top >= deepest)
                deepest = top + 1;
            p = skip_ws(p + 1, end);
            if (p >= end || *p != close[top]) { /* not empty: on to its first member */
                if (!member_start(sc, &p, close[top]))
                    return false;
                continue;
            }
            p++; /* {} or []: a value like any scalar */
            if (--top < 0)
                break;
        } else if (!scan_scalar(sc, &p, &item)) {
            return false;
        }
        /* After a value: ',' and the next member, or the brackets it closes. */
        while ((more = after_member(sc, &p, close[top])) == 0)
            if (--top < 0)
                break;
        if (more < 0 || (more > 0 && !member_start(sc, &p, close[top])))
            return false;
    } while (top >= 0);
    v->start = start;
    v->len = (size_t)(p - start);
    v->kind = *start == '{' ? NBI_JSON_OBJECT : NBI_JSON_ARRAY;
    v->depth = deepest;
    v->escaped = false;
    *pos = p;
    return true;
}

/* cJSON's parse_value: dispatch on the first byte. */
static bool scan_value(nbi_json_scanner *sc, const char **pos, int level, nbi_json_value *v)
{
    const char *s = *pos;
    if (s < sc->end && (*s == '{' || *s == '['))
        return scan_nested(sc, pos, level, v);
    return scan_scalar(sc, pos, v);
}

const char *nbi_json_document_start(const nbi_json_scanner *sc)
{
    const char *p = sc->text, *end = sc->end;
    /* cJSON's skip_utf8_bom looks for the mark only when 5 bytes can be read. */
    if (end - p >= 5 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    return skip_ws(p, end);
}

bool nbi_json_document_end(nbi_json_scanner *sc, const char *p)
{
    const char *end = sc->end;
    /* After the value only JSON whitespace (RFC 8259), as nbi_payload_parse_json allowed. */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p == end || fail(sc, p);
}

bool nbi_json_scan_value(nbi_json_scanner *sc, const char **pos, nbi_json_value *v)
{
    return scan_value(sc, pos, 0, v);
}

bool nbi_json_scan_document(nbi_json_scanner *sc, nbi_json_value *root)
{
    if (sc->text == sc->end)
        return fail(sc, sc->text);
    const char *p = nbi_json_document_start(sc);
    return scan_value(sc, &p, 0, root) && nbi_json_document_end(sc, p);
}
