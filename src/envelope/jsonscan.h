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
 * numbers), and values nest at most 1000 deep.
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

/*
 * Walks the members of an object or the elements of an array while
 * validating them, so that a reader can descend into the containers it
 * reads and have the others scanned whole: every byte is scanned once.
 */
typedef struct {
    nbi_json_scanner *sc;
    const char *start, *at;
    int level, deepest;
    bool object, first;
} nbi_json_walk;

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
 * Where the document's value starts: after an optional UTF-8 byte order
 * mark (cJSON's rule: only in texts of 5 bytes or more) and whitespace.
 */
const char *nbi_json_document_start(const nbi_json_scanner *sc);

/* true when only JSON whitespace follows p to the end; else false, sc->err set. */
bool nbi_json_document_end(nbi_json_scanner *sc, const char *p);

/* Scans (validates) one value at *pos, at nesting level 0, and moves *pos past it. */
bool nbi_json_scan_value(nbi_json_scanner *sc, const char **pos, nbi_json_value *v);

/*
 * Starts walking the container whose '{' or '[' is at p, inside level
 * others (0 for the document's value). false when that nests too deep.
 */
bool nbi_json_walk_start(nbi_json_walk *w, nbi_json_scanner *sc, const char *p, int level);

/*
 * Moves to the next member: 1 when there is one (an object's *key set, if
 * key is not NULL; its value is at w->at and must be consumed with
 * nbi_json_walk_value or nbi_json_walk_enter/leave), 0 after the closing
 * bracket, -1 on invalid text (sc->err set).
 */
int nbi_json_walk_next(nbi_json_walk *w, nbi_json_value *key);

/* Scans the current member's value whole into *v. */
bool nbi_json_walk_value(nbi_json_walk *w, nbi_json_value *v);

/* Starts walking the current member's value (a container) as child. */
bool nbi_json_walk_enter(nbi_json_walk *w, nbi_json_walk *child);

/* After child's walk returned 0: w goes on after it and *v is its span. */
void nbi_json_walk_leave(nbi_json_walk *w, const nbi_json_walk *child, nbi_json_value *v);

/* The span of a container whose walk returned 0. */
void nbi_json_walk_span(const nbi_json_walk *w, nbi_json_value *v);

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
