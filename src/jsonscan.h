/* SPDX-License-Identifier: MIT */
/*
 * jsonscan.h - a JSON scanner that builds nothing: it validates JSON text
 * and hands out spans (where a value starts, how long it is, what kind it
 * is, how deep it nests) so that the envelope reader can find its fields
 * without a tree and without a malloc.
 *
 * It accepts exactly what cJSON 1.7 accepts (the library the rest of
 * natsbridge and the peers' tests were written against), so that replacing
 * cJSON on the receive path changes no verdict: bytes 1..32 are whitespace
 * between tokens, raw control characters may appear in strings, "\uZZZZ"
 * (bad hex) reads as U+0000, numbers follow strtod ("01", "1.", "-.5" are
 * numbers) but are at most 63 characters, and values nest at most 1000 deep.
 * tests/fuzz/fuzz_jsonscan.c checks that agreement on every input.
 */
#ifndef NB_JSONSCAN_H
#define NB_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* cJSON's CJSON_NESTING_LIMIT: deeper text is refused. */
#define NBI_JSON_MAX_DEPTH 1000

typedef enum {
    NBI_JSON_INVALID = 0,
    NBI_JSON_NULL,
    NBI_JSON_FALSE,
    NBI_JSON_TRUE,
    NBI_JSON_NUMBER,
    NBI_JSON_STRING,
    NBI_JSON_ARRAY,
    NBI_JSON_OBJECT,
} nbi_json_kind;

/* One value of the text: a span, never a copy. */
typedef struct {
    const char *start; /* first byte (a string's opening quote) */
    size_t len;        /* bytes up to and including the last ('"', '}', ']' or digit) */
    nbi_json_kind kind;
    int depth;         /* 0 for a scalar, 1 for a container of scalars, ... */
    bool escaped;      /* a string holding at least one backslash escape */
} nbi_json_value;

/* Where scanning failed, for "not valid JSON (near byte N)"; err is NULL until then. */
typedef struct {
    const char *text, *end;
    const char *err;
} nbi_json_scanner;

/* Walks the members of an object or the elements of an array already scanned. */
typedef struct {
    nbi_json_scanner *sc;
    const char *at;
    bool object, started;
} nbi_json_iter;

/* Starts a scanner over text[0..len). */
void nbi_json_scanner_init(nbi_json_scanner *sc, const char *text, size_t len);

/* The byte offset of the failure (clamped into the text), for messages. */
size_t nbi_json_error_offset(const nbi_json_scanner *sc);

/*
 * Scans the whole text as one JSON document: an optional UTF-8 byte order
 * mark, whitespace, one value, then only JSON whitespace (space, tab, CR,
 * LF) to the end. false (sc->err set) when it is not that.
 */
bool nbi_json_scan_document(nbi_json_scanner *sc, nbi_json_value *root);

/*
 * Starts walking v (an object or array from a successful scan). Each
 * nbi_json_next gives the next member's key (objects only; key may be NULL
 * for arrays) and value: 1, 0 at the end. The text was validated, so it
 * cannot fail.
 */
void nbi_json_iter_start(nbi_json_iter *it, nbi_json_scanner *sc, const nbi_json_value *v);
int nbi_json_next(nbi_json_iter *it, nbi_json_value *key, nbi_json_value *value);

/* Bytes of the decoded string v (at most its raw length minus the quotes). */
static inline size_t nbi_json_string_raw_len(const nbi_json_value *v) { return v->len - 2; }

/*
 * Decodes the validated string v into out (room for its raw length + 1),
 * NUL-terminates it and returns the decoded length, which may hold U+0000
 * bytes (from "\u0000").
 */
size_t nbi_json_string_decode(const nbi_json_value *v, char *out);

/*
 * True when the decoded string v equals the n bytes of s (a field name):
 * compared in place unless v holds escapes.
 */
bool nbi_json_string_is(const nbi_json_value *v, const char *s, size_t n);

#endif
