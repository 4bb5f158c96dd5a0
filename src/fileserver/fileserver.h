/* SPDX-License-Identifier: MIT */
/*
 * fileserver.h - the pure request parsing of the built-in file server
 * (fileserver.c): request paths, Range headers, message framing and the
 * JSON options of POST /upload. Nothing here knows libmicrohttpd, so that
 * tests/fuzz/fuzz_fileserver.c can drive every function with hostile bytes.
 */
#ifndef NB_FILESERVER_H
#define NB_FILESERVER_H

#include "filestore.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBI_FS_KEY_MAX NBI_FILESTORE_KEY_MAX /* longest request path accepted */

/*
 * Decodes the raw request path (percent-escapes included) into out.
 * Returns NULL when it is acceptable, else a constant saying why not
 * ("path too long" is the one that deserves 414). Anything that looks like
 * traversal ("..", "//", ".", backslash, %2f, %00, control characters) is
 * refused outright so that no client can rely on it.
 */
const char *nbi_fs_decode_path(const char *raw, char out[NBI_FS_KEY_MAX]);

/* True for the Plik routes: /upload, /upload/..., /file, /file/... */
bool nbi_fs_plik_path(const char *path);

/*
 * Splits "/file/a[/b/c]" in place into up to 3 segments (seg[i] point into
 * path); returns how many segments there were, capped at 4 (4 = too many).
 */
int nbi_fs_plik_segments(char *path, char *seg[3]);

/*
 * Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" against size.
 * 1: satisfiable (*start, *len set); -1: unsatisfiable (416); 0: absent,
 * malformed or several ranges, which RFC 9110 lets us ignore (200).
 */
int nbi_fs_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *len);

/*
 * Message framing of one request, gathered header by header
 * (nbi_fs_framing_add) and judged once (nbi_fs_framing_check). RFC 9112
 * section 6.3: Content-Length with Transfer-Encoding, conflicting or
 * unparsable Content-Length values are a request-smuggling primitive behind a
 * proxy, so they are refused, not interpreted.
 */
typedef struct nbi_fs_framing {
    unsigned content_lengths;  /* Content-Length headers seen */
    unsigned transfer_encodings;
    bool bad_length;           /* a value that is not a plain decimal number */
    bool lengths_differ;
    bool te_not_chunked;       /* a Transfer-Encoding other than exactly "chunked" */
    uint64_t length;           /* the first Content-Length */
} nbi_fs_framing;

/* Feeds one header (name and value as received; value may be NULL). */
void nbi_fs_framing_add(nbi_fs_framing *f, const char *name, const char *value);
/* NULL when the framing is unambiguous, else a constant saying what is wrong (answer 400). */
const char *nbi_fs_framing_check(const nbi_fs_framing *f);

/*
 * Parses the optional JSON options of POST /upload (len bytes, not
 * NUL-terminated). Empty or whitespace-only: true with *opts NULL. A JSON
 * object: true with *opts the tree (caller frees with cJSON_Delete).
 * Anything else: false with *opts NULL.
 */
bool nbi_fs_upload_options(const char *body, size_t len, cJSON **opts);

/* What the options ask for: one-shot, and a TTL in ms (0 = the server's). */
void nbi_fs_upload_settings(const cJSON *opts, bool *oneshot, int64_t *ttl_ms);

/* ------------------------------------------------------------------------ */
/* CORS for browser peers (issue 15; fileserver_cors.c)                     */
/* ------------------------------------------------------------------------ */

#define NBI_FS_CORS_MAX_ORIGINS 64
/* What a preflight lets a page send: the token, the Plik upload token, a
 * ranged download and the JSON / multipart bodies. */
#define NBI_FS_CORS_ALLOW_HEADERS "Authorization, X-UploadToken, Range, Content-Type"
/* What a page may read of a response (the others are CORS-safelisted). */
#define NBI_FS_CORS_EXPOSE_HEADERS \
    "Content-Length, Content-Range, Accept-Ranges, Retry-After, WWW-Authenticate"
#define NBI_FS_CORS_MAX_AGE "600" /* seconds a browser may cache a preflight */

/*
 * The origins whose pages may use the server. A listed origin may upload
 * (POST, PUT) and download (GET, HEAD); "*" lets any page download only, so
 * that an upload from an origin not listed never gets a CORS header and the
 * browser refuses it. DELETE is never allowed to a page.
 */
typedef struct nbi_fs_cors {
    char **origins; /* exact "scheme://host[:port]" strings */
    size_t count;
    bool any_download; /* "*" was given */
} nbi_fs_cors;

/* NULL when origin is "*" or "http[s]://host[:port]" (no path, no slash at
 * the end, printable ASCII), else a constant saying what is wrong. */
const char *nbi_fs_cors_check_origin(const char *origin);
/* Copies the n origins (checked) into c; on failure c is left empty. */
nb_status nbi_fs_cors_init(nbi_fs_cors *c, const char *const *origins, size_t n);
void nbi_fs_cors_free(nbi_fs_cors *c);
/* True when any origin was configured: then every response carries Vary: Origin. */
bool nbi_fs_cors_enabled(const nbi_fs_cors *c);
/*
 * The Access-Control-Allow-Origin value for a request from origin (the Origin
 * header, may be NULL) with method, or NULL when the page gets no CORS header:
 * origin itself when listed, "*" for a GET/HEAD when "*" was given.
 */
const char *nbi_fs_cors_allow(const nbi_fs_cors *c, const char *origin, const char *method);
/*
 * The methods a preflight for path may announce ("POST" for /upload, POST,
 * GET and HEAD under /file/, else PUT, GET and HEAD), only GET and HEAD when
 * uploads are not allowed. A constant.
 */
const char *nbi_fs_cors_route_methods(const char *path, bool uploads);
/* True when method is one of the comma-separated list (exact tokens). */
bool nbi_fs_cors_method_listed(const char *list, const char *method);

#endif
