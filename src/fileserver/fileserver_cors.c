/* SPDX-License-Identifier: MIT */
/*
 * fileserver_cors.c - which browser pages may use the built-in file server
 * (issue 15): the configured origins, and the Access-Control-* decisions that
 * fileserver.c turns into headers. Pure functions, no libmicrohttpd, so that
 * they can be tested and fuzzed on their own.
 *
 * CORS only tells a browser what it may let a page do; it protects nothing
 * against a client that is not a browser (curl ignores it). The bearer token
 * stays the upload guard: see docs/SECURITY.md, "Browser peers (CORS)".
 */
#include "fileserver.h"

#include <stdlib.h>
#include <string.h>

#define CORS_ORIGIN_MAX 256 /* longer origins are refused (a host name is at most 253) */

const char *nbi_fs_cors_check_origin(const char *origin)
{
    if (!origin || !origin[0])
        return "empty origin";
    if (strcmp(origin, "*") == 0)
        return NULL;
    if (strlen(origin) > CORS_ORIGIN_MAX)
        return "origin longer than 256 characters";
    for (const char *p = origin; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return "origin with a space, control or non-ASCII character";
    const char *host = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                              : NULL;
    if (!host)
        return "origin must start with http:// or https://";
    /* A browser's Origin header is scheme://host[:port], nothing after it. */
    if (strpbrk(host, "/?#@"))
        return "origin must be scheme://host[:port] without a path (no / at the end)";
    const char *end = host; /* where the host ends: at the port's colon or the end */
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close || close == host + 1)
            return "origin with an empty or unclosed [IPv6] address";
        end = close + 1;
    } else {
        end = host + strcspn(host, ":");
        if (end == host)
            return "origin without a host";
    }
    if (*end == '\0')
        return NULL;
    size_t digits = strspn(end + 1, "0123456789");
    if (*end != ':' || digits == 0 || digits > 5 || end[1 + digits] != '\0' ||
        atoi(end + 1) > 65535)
        return "origin with a port that is not a number in 0..65535";
    return NULL;
}

void nbi_fs_cors_free(nbi_fs_cors *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        free(c->origins[i]);
    free(c->origins);
    memset(c, 0, sizeof *c);
}

nb_status nbi_fs_cors_init(nbi_fs_cors *c, const char *const *origins, size_t n)
{
    memset(c, 0, sizeof *c);
    if (n == 0)
        return NB_OK;
    if (!origins)
        return nbi_fail(NB_INVALID_ARG, "fileserver: config.cors_origins is NULL but "
                                        "cors_origin_count is %zu",
                        n);
    if (n > NBI_FS_CORS_MAX_ORIGINS)
        return nbi_fail(NB_INVALID_ARG,
                        "fileserver: %zu CORS origins (--cors-origin) are more than %d", n,
                        NBI_FS_CORS_MAX_ORIGINS);
    for (size_t i = 0; i < n; i++) {
        const char *why = nbi_fs_cors_check_origin(origins[i]);
        if (why)
            return nbi_fail(NB_INVALID_ARG, "fileserver: CORS origin (--cors-origin) '%.256s': %s",
                            origins[i] ? origins[i] : "(null)", why);
    }
    if (!(c->origins = calloc(n, sizeof *c->origins)))
        return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(origins[i], "*") == 0) {
            c->any_download = true;
            continue;
        }
        if (!(c->origins[c->count] = nbi_strdup(origins[i]))) {
            nbi_fs_cors_free(c);
            return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory");
        }
        c->count++;
    }
    return NB_OK;
}

bool nbi_fs_cors_enabled(const nbi_fs_cors *c) { return c->count > 0 || c->any_download; }

/* Exact comparison, as browsers send the origin serialized (lowercase scheme and host). */
static bool listed(const nbi_fs_cors *c, const char *origin)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->origins[i], origin) == 0)
            return true;
    return false;
}

const char *nbi_fs_cors_allow(const nbi_fs_cors *c, const char *origin, const char *method)
{
    if (!origin || !method || !nbi_fs_cors_enabled(c))
        return NULL;
    bool download = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool upload = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    if ((download || upload) && listed(c, origin))
        return origin;
    return download && c->any_download ? "*" : NULL;
}

const char *nbi_fs_cors_route_methods(const char *path, bool uploads)
{
    if (strcmp(path, "/upload") == 0)
        return uploads ? "POST" : "";
    if (strncmp(path, "/file/", 6) == 0)
        return uploads ? "POST, GET, HEAD" : "GET, HEAD";
    return uploads ? "PUT, GET, HEAD" : "GET, HEAD";
}

bool nbi_fs_cors_method_listed(const char *list, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, method, n) == 0)
            return true;
        p += len;
        p += strspn(p, ", ");
    }
    return false;
}
