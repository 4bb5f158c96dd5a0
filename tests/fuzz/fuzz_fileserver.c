/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fileserver.c - libFuzzer target for the built-in file server's request
 * parsing (src/fileserver/fileserver.h): request paths and Plik route segments, Plik
 * file names, the Range header, message framing (Content-Length and
 * Transfer-Encoding), the JSON options of POST /upload, and the CORS
 * decisions (src/fileserver/fileserver_cors.c): the configured origin comes from the
 * operator, the Origin header, method and path from any client.
 *
 * The first input byte picks the parser, the rest is its input. Besides
 * memory safety (ASan, UBSan) each parser's promise is checked, and a broken
 * promise aborts: an accepted path has no traversal in it, a satisfiable
 * range lies inside the file, accepted framing is never ambiguous, and a
 * page is never let upload unless its origin was listed exactly, nor delete.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt):
 *  - fuzz_fileserver (clang, NB_BUILD_FUZZ=ON): the libFuzzer binary, seeded
 *    with tests/fuzz/corpus/fileserver.
 *  - fuzz_fileserver_replay (always, with NB_FUZZ_REPLAY_MAIN): runs every
 *    seed and every prefix of each: the CTest fuzz_fileserver.replay.
 */
#include "fileserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { P_PATH, P_NAME, P_RANGE, P_FRAMING, P_UPLOAD_JSON, P_CORS, P_COUNT };

/* An accepted path names an index entry and nothing else: no way out of it. */
static void check_path(const char *raw)
{
    char out[NBI_FS_KEY_MAX];
    if (nbi_fs_decode_path(raw, out) != NULL)
        return;
    size_t n = strlen(out);
    if (out[0] != '/' || n >= NBI_FS_KEY_MAX || strstr(out, "..") || strstr(out, "//") ||
        strstr(out, "/./") || strchr(out, '\\') || (n > 1 && out[n - 1] == '/'))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            abort();
    if (nbi_fs_plik_path(out) && strncmp(out, "/file/", 6) == 0) {
        char *seg[3] = {NULL, NULL, NULL};
        int k = nbi_fs_plik_segments(out, seg);
        if (k < 1 || k > 4)
            abort();
        for (int i = 0; i < (k < 3 ? k : 3); i++)
            if (!seg[i] || strchr(seg[i], '/'))
                abort();
    }
}

static void check_name(const char *s)
{
    if (nbi_filestore_valid_name(s) &&
        (!s[0] || strlen(s) > NBI_FILESTORE_NAME_MAX || strchr(s, '/') || strchr(s, '\\') ||
         strstr(s, "..")))
        abort();
}

/* Input: 8 bytes of file size (little-endian), then the header value. */
static void check_range(const uint8_t *d, size_t n)
{
    if (n < 8)
        return;
    uint64_t size = 0;
    for (int i = 7; i >= 0; i--)
        size = size << 8 | d[i];
    size_t hlen = n - 8;
    char *h = malloc(hlen + 1);
    if (!h)
        return;
    memcpy(h, d + 8, hlen);
    h[hlen] = '\0';
    uint64_t start = 0, len = 0;
    int rc = nbi_fs_parse_range(h, size, &start, &len);
    if (rc < -1 || rc > 1 || (rc == 1 && (len == 0 || start >= size || len > size - start)))
        abort();
    free(h);
}

/* Input: header lines "Name: value", separated by '\n'. */
static void check_framing(char *text)
{
    nbi_fs_framing f = {0};
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        nbi_fs_framing_add(&f, line, value);
    }
    const char *why = nbi_fs_framing_check(&f);
    if (!why && (f.bad_length || f.lengths_differ ||
                 (f.content_lengths && f.transfer_encodings) || f.transfer_encodings > 1))
        abort();
}

static void check_upload_json(const uint8_t *d, size_t n)
{
    cJSON *opts = (cJSON *)&n; /* must come back set either way */
    bool ok = nbi_fs_upload_options((const char *)d, n, &opts);
    if (!ok && opts)
        abort();
    if (ok && opts && !cJSON_IsObject(opts))
        abort();
    bool oneshot;
    int64_t ttl_ms = -1;
    nbi_fs_upload_settings(opts, &oneshot, &ttl_ms);
    if (ttl_ms < 0)
        abort();
    cJSON_Delete(opts);
}

/* An origin --cors-origin accepts is "*" or scheme://host[:port]: printable, short, no path. */
static void check_origin_syntax(const char *o)
{
    if (nbi_fs_cors_check_origin(o))
        return;
    if (strcmp(o, "*") == 0)
        return;
    if ((strncmp(o, "http://", 7) && strncmp(o, "https://", 8)) || strlen(o) > 256)
        abort();
    const char *host = o + (o[4] == 's' ? 8 : 7);
    if (!host[0] || strpbrk(host, "/?#@"))
        abort();
    for (const char *p = o; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

/* Input: configured origin, the request's Origin, method and path, one per line. */
static void check_cors(char *text)
{
    char *field[4] = {text, "", "GET", "/"};
    for (int i = 1; i < 4; i++) {
        char *nl = strchr(field[i - 1], '\n');
        if (!nl)
            break;
        *nl = '\0';
        field[i] = nl + 1;
    }
    check_origin_syntax(field[0]);
    nbi_fs_cors c = {0};
    const char *origins[] = {field[0]};
    if (nbi_fs_cors_init(&c, origins, 1) != NB_OK) {
        if (!nbi_fs_cors_check_origin(field[0]) || c.count || c.any_download)
            abort(); /* a valid origin is always taken; a refused one leaves nothing */
        return;
    }
    const char *allow = nbi_fs_cors_allow(&c, field[1], field[2]);
    bool download = !strcmp(field[2], "GET") || !strcmp(field[2], "HEAD");
    bool upload = !strcmp(field[2], "POST") || !strcmp(field[2], "PUT");
    if (allow && !download && !upload)
        abort(); /* DELETE or anything else: never */
    if (allow && strcmp(allow, "*") == 0 && (!download || !c.any_download))
        abort(); /* "*" lets any page download, nothing more */
    if (allow && strcmp(allow, "*") != 0 && (strcmp(allow, field[1]) || strcmp(field[0], field[1])))
        abort(); /* else only the origin listed, exactly */
    const char *methods = nbi_fs_cors_route_methods(field[3], true);
    const char *read_only = nbi_fs_cors_route_methods(field[3], false);
    if (nbi_fs_cors_method_listed(methods, "DELETE") || nbi_fs_cors_method_listed(read_only, "POST") ||
        nbi_fs_cors_method_listed(read_only, "PUT"))
        abort();
    nbi_fs_cors_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % P_COUNT;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    if (which == P_RANGE) {
        check_range(d, n);
        return 0;
    }
    if (which == P_UPLOAD_JSON) {
        check_upload_json(d, n);
        return 0;
    }
    char *text = malloc(n + 1); /* the server sees C strings: MHD ends each at its first NUL */
    if (!text)
        return 0;
    memcpy(text, d, n);
    text[n] = '\0';
    if (which == P_PATH)
        check_path(text);
    else if (which == P_NAME)
        check_name(text);
    else if (which == P_CORS)
        check_cors(text);
    else
        check_framing(text);
    free(text);
    return 0;
}

#ifdef NB_FUZZ_REPLAY_MAIN
#include "replay.h"

static int replay_file(const char *path)
{
    size_t n = 0;
    char *bytes = nbf_read(path, &n);
    if (!bytes)
        return 1;
    for (size_t k = 0; k <= n; k++) /* every prefix: truncations anywhere */
        nbf_run(bytes, k);
    /* The same bytes through every parser. */
    for (uint8_t p = 0; n > 0 && p < P_COUNT; p++) {
        uint8_t first = (uint8_t)bytes[0];
        bytes[0] = (char)p;
        nbf_run(bytes, n);
        bytes[0] = (char)first;
    }
    free(bytes);
    return 0;
}

int main(int argc, char **argv) { return nbf_replay_main(argc, argv, replay_file); }
#endif
