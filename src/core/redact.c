/* SPDX-License-Identifier: MIT */
/*
 * redact.c - URLs without userinfo, nats.c errors without source locations,
 * and wiping secrets (see redact.h).
 *
 * What counts as userinfo follows RFC 3986: in "scheme://AUTHORITY/path"
 * the authority ends at the first '/', '?' or '#', and its userinfo is what
 * comes before the last '@' in it. options.c refuses a NATS URL with an '@'
 * after that point, so a password with an unencoded '/' can never slip
 * through half-redacted.
 */
#include "redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A bounded writer: copies what fits, always leaves a NUL. */
typedef struct sink {
    char *out;
    size_t cap; /* > 0 */
    size_t len;
} sink;

static void put(sink *k, const char *s, size_t n)
{
    size_t room = k->cap - 1 - k->len;
    if (n > room)
        n = room;
    memcpy(k->out + k->len, s, n);
    k->len += n;
    k->out[k->len] = '\0';
}

/* Characters that end a URL inside free text: spaces, list commas, quotes, brackets of prose. */
static bool is_separator(char c)
{
    return isspace((unsigned char)c) || (c != '\0' && strchr(",'\"()<>;", c) != NULL);
}

/* The first "://" in the n bytes at t, or NULL. */
static const char *find_scheme_end(const char *t, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/')
            return t + i;
    return NULL;
}

/*
 * Copies one token (no separators in it). Its authority starts after
 * "://", or at its start when a scheme is optional (a bare server list, as
 * nats.c accepts "user:pass@host:4222"). Later URLs in the token are handled
 * too ("x=nats://a@b?next=http://c@d").
 */
static void put_token(sink *k, const char *t, size_t n, bool scheme_optional)
{
    while (n > 0) {
        const char *scheme = find_scheme_end(t, n);
        const char *auth = scheme ? scheme + 3 : scheme_optional ? t : NULL;
        if (!auth) {
            put(k, t, n);
            return;
        }
        size_t rest = n - (size_t)(auth - t);
        size_t alen = 0;
        const char *at = NULL;
        for (; alen < rest && !strchr("/?#", auth[alen]); alen++)
            if (auth[alen] == '@')
                at = auth + alen;
        put(k, t, (size_t)(auth - t));
        const char *host = at ? at + 1 : auth;
        put(k, host, (size_t)(auth + alen - host));
        n = rest - alen;
        t = auth + alen;
        scheme_optional = false;
    }
}

char *nb_url_redact(const char *text, char *out, size_t outsz)
{
    /* A bare list (what nb_options_set_url keeps) has no spaces or quotes. */
    bool bare = text && strcspn(text, " \t\r\n'\"") == strlen(text);
    return nbi_redact(text, out, outsz, bare);
}

char *nbi_redact(const char *text, char *out, size_t outsz, bool bare)
{
    if (!out || outsz == 0)
        return out;
    sink k = {out, outsz, 0};
    out[0] = '\0';
    if (!text)
        return out;
    const char *p = text;
    while (*p) {
        size_t sep = 0;
        while (p[sep] && is_separator(p[sep]))
            sep++;
        put(&k, p, sep);
        p += sep;
        size_t n = 0;
        while (p[n] && !is_separator(p[n]))
            n++;
        put_token(&k, p, n, bare);
        p += n;
    }
    return out;
}

/* Length of a nats.c source location "(name.c:123): " at p, or 0. */
static size_t location_len(const char *p)
{
    if (*p != '(')
        return 0;
    size_t i = 1;
    while (p[i] && (isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '.' || p[i] == '-' || p[i] == '/'))
        i++;
    if (i < 4 || strncmp(p + i - 2, ".c", 2) != 0 || p[i] != ':')
        return 0;
    size_t digits = strspn(p + i + 1, "0123456789");
    if (digits == 0 || p[i + 1 + digits] != ')')
        return 0;
    i += 1 + digits + 1;
    return i + strspn(p + i, ": ");
}

char *nbi_nats_text(const char *text, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return out;
    out[0] = '\0';
    if (!text)
        return out;
    char *plain = malloc(strlen(text) + 1);
    if (!plain) /* no copy to clean: say nothing rather than risk a secret */
        return out;
    size_t n = 0;
    for (const char *p = text; *p;) {
        size_t skip = location_len(p);
        if (skip) {
            p += skip;
            continue;
        }
        plain[n++] = *p++;
    }
    plain[n] = '\0';
    nbi_redact(plain, out, outsz, false);
    free(plain);
    return out;
}

void nbi_wipe(void *p, size_t n)
{
    /* A volatile pointer: the stores may not be optimised away before free. */
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void nbi_free_secret(char *s)
{
    if (!s)
        return;
    nbi_wipe(s, strlen(s));
    free(s);
}
