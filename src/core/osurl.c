/* SPDX-License-Identifier: MIT */
/*
 * osurl.c - the names of the Object Store: bucket and object name rules
 * (ADR-20, as nats.go checks them) and nats-os://BUCKET[/NAME] URLs with
 * their percent-coding. Pure text rules, below options.c (which checks a
 * link store or an allowed origin when it is set) and the Object Store itself
 * (src/objstore), so that options need not reach up into the Object Store.
 */
#include "osurl.h"

#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUCKET_MAX 200
#define NAME_MAX_BYTES 2048 /* its base64 must fit a NATS protocol line */

/* nats.go's validBucketRe: ^[a-zA-Z0-9_-]+$ */
nb_status nbi_objstore_check_bucket(const char *bucket)
{
    if (!bucket || !*bucket)
        return nbi_fail(NB_INVALID_ARG, "object store: the bucket name is empty");
    size_t n = strlen(bucket);
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok)
            return nbi_fail(NB_INVALID_ARG,
                            "object store: bucket name '%.200s' is invalid: only letters, digits, "
                            "'-' and '_' are allowed",
                            bucket);
    }
    if (n > BUCKET_MAX)
        return nbi_fail(NB_INVALID_ARG, "object store: bucket name '%.60s...' is longer than %d",
                        bucket, BUCKET_MAX);
    return NB_OK;
}

/* Any UTF-8 name will do (ADR-20), as long as it is not empty. */
nb_status nbi_objstore_check_name(const char *name)
{
    if (!name || !*name)
        return nbi_fail(NB_INVALID_ARG, "object store: the object name is empty");
    size_t n = strlen(name);
    if (n > NAME_MAX_BYTES)
        return nbi_fail(NB_INVALID_ARG, "object store: object name '%.60s...' is longer than %d bytes",
                        name, NAME_MAX_BYTES);
    if (!nbi_utf8_valid((const uint8_t *)name, n))
        return nbi_fail(NB_INVALID_ARG, "object store: object name '%.200s' is not valid UTF-8", name);
    return NB_OK;
}

bool nbi_objstore_is_url(const char *url)
{
    return url && strncasecmp(url, NBI_OBJSTORE_SCHEME, strlen(NBI_OBJSTORE_SCHEME)) == 0;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

/* RFC 3986 percent-encoding of an object name; '/' stays as it is. */
char *nbi_objstore_url_encode(const char *name)
{
    size_t n = strlen(name);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (unreserved(*p)) {
            *o++ = (char)*p;
        } else {
            snprintf(o, 4, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

static nb_status percent_decode(const char *url, const char *in, char **out)
{
    char *d = malloc(strlen(in) + 1), *o = d;
    if (!d)
        return nbi_fail(NB_NO_MEMORY, "out of memory");
    for (const char *p = in; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int hi = nbi_hex_digit(p[1]), lo = hi < 0 ? -1 : nbi_hex_digit(p[2]);
        if (lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return nbi_fail(NB_INVALID_ARG, "Object Store URL '%.300s': bad percent-escape at '%.3s'",
                            url, p);
        }
        *o++ = (char)(hi << 4 | lo);
        p += 2;
    }
    *o = '\0';
    *out = d;
    return NB_OK;
}

/*
 * nats-os://BUCKET[/NAME]: the bucket is checked like any bucket name, the
 * name percent-decoded. want_name says whether a name must (or must not) be there.
 */
nb_status nbi_objstore_parse_url(const char *url, bool want_name, char **bucket, char **name)
{
    *bucket = NULL;
    if (name)
        *name = NULL;
    if (!nbi_objstore_is_url(url))
        return nbi_fail(NB_INVALID_ARG, "Object Store URL '%.300s' does not start with nats-os://",
                        url ? url : "(null)");
    const char *b = url + strlen(NBI_OBJSTORE_SCHEME);
    size_t blen = strcspn(b, "/");
    const char *rest = b[blen] == '/' ? b + blen + 1 : b + blen;
    if (!(*bucket = malloc(blen + 1)))
        return nbi_fail(NB_NO_MEMORY, "out of memory");
    snprintf(*bucket, blen + 1, "%.*s", (int)blen, b);
    nb_status s = nbi_objstore_check_bucket(*bucket);
    if (s == NB_OK && want_name && !*rest)
        s = nbi_fail(NB_INVALID_ARG, "Object Store URL '%.300s' names no object (nats-os://BUCKET/NAME)",
                     url);
    if (s == NB_OK && !want_name && *rest)
        s = nbi_fail(NB_INVALID_ARG,
                     "Object Store URL '%.300s' must name only a bucket (nats-os://BUCKET)", url);
    if (s == NB_OK && want_name)
        s = percent_decode(url, rest, name);
    if (s == NB_OK && want_name && (s = nbi_objstore_check_name(*name)) != NB_OK)
        nbi_fail_prefix(s, "Object Store URL '%.300s'", url);
    if (s != NB_OK) {
        if (s == NB_INVALID_ARG && !strstr(nb_last_error(), url))
            nbi_fail_prefix(s, "Object Store URL '%.300s'", url);
        free(*bucket);
        *bucket = NULL;
        if (name) {
            free(*name);
            *name = NULL;
        }
    }
    return s;
}

nb_status nbi_objstore_check_origin(const char *origin)
{
    char *bucket = NULL;
    nb_status s = nbi_objstore_parse_url(origin, false, &bucket, NULL);
    free(bucket);
    return s;
}
