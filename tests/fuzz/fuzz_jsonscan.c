/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jsonscan.c - libFuzzer target for the tree-free JSON scanner
 * (jsonscan.c), differential against cJSON: the envelope reader replaced
 * cJSON with it, so the two must give the same verdict on every text (the
 * NUL-free texts the callers hand over), the same kind of value, the same
 * nesting depth, and the same bytes for a string. See tests/fuzz/CMakeLists.txt.
 */
#include "jsonscan.h"
#include "payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void disagree(const char *what)
{
    fprintf(stderr, "fuzz_jsonscan: scanner and cJSON disagree: %s\n", what);
    abort();
}

static nbi_json_kind kind_of(const cJSON *v)
{
    return cJSON_IsNull(v)     ? NBI_JSON_NULL
           : cJSON_IsFalse(v)  ? NBI_JSON_FALSE
           : cJSON_IsTrue(v)   ? NBI_JSON_TRUE
           : cJSON_IsNumber(v) ? NBI_JSON_NUMBER
           : cJSON_IsString(v) ? NBI_JSON_STRING
           : cJSON_IsArray(v)  ? NBI_JSON_ARRAY
           : cJSON_IsObject(v) ? NBI_JSON_OBJECT
                               : NBI_JSON_INVALID;
}

/* Nesting as the scanner counts it: 0 for a scalar, {} or [] is 1. */
static int depth_of(const cJSON *v)
{
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return 0;
    int deepest = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        int d = depth_of(c);
        if (d > deepest)
            deepest = d;
    }
    return deepest + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Both callers refuse a NUL byte before either parser sees the text. */
    if (memchr(data, 0, size))
        return 0;
    const char *text = (const char *)data;
    nbi_json_scanner sc;
    nbi_json_value root;
    nbi_json_scanner_init(&sc, text, size);
    bool ours = nbi_json_scan_document(&sc, &root);
    cJSON *tree = nbi_payload_parse_json(text, size, NULL);
    if (ours != (tree != NULL))
        disagree(ours ? "the scanner accepts what cJSON refuses"
                      : "the scanner refuses what cJSON accepts");
    if (!ours) {
        if (nbi_json_error_offset(&sc) > (size ? size - 1 : 0))
            disagree("error offset past the text");
        return 0;
    }
    if (kind_of(tree) != root.kind)
        disagree("kind of the value");
    if (depth_of(tree) != root.depth)
        disagree("nesting depth");
    if (root.kind == NBI_JSON_STRING) {
        char *s = malloc(nbi_json_string_raw_len(&root) + 1);
        if (!s)
            abort();
        size_t n = nbi_json_string_decode(&root, s);
        /* cJSON's string is a C string: it ends at the first U+0000. */
        if (strlen(s) > n || strcmp(s, tree->valuestring) != 0)
            disagree("decoded string");
        free(s);
    }
    cJSON_Delete(tree);
    return 0;
}
