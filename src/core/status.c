/* SPDX-License-Identifier: MIT */
/*
 * status.c - status texts and the thread-local last error message.
 */
#include "internal.h"
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBI_ERROR_SIZE 1024

static const char *const status_texts[] = {
    [NB_OK] = "ok",
    [NB_INVALID_ARG] = "invalid argument",
    [NB_NO_MEMORY] = "out of memory",
    [NB_BAD_ENVELOPE] = "bad envelope",
    [NB_BAD_PAYLOAD] = "bad payload",
    [NB_TOO_LARGE] = "too large",
    [NB_CONNECTION] = "connection error",
    [NB_TIMEOUT] = "timeout",
    [NB_NO_RESPONDERS] = "no responders",
    [NB_SLOW_CONSUMER] = "slow consumer: messages dropped",
    [NB_IO] = "I/O error",
    [NB_HTTP] = "HTTP error",
    [NB_INTEGRITY] = "integrity check failed",
    [NB_NOT_ALLOWED] = "not allowed",
    [NB_NATS] = "NATS error",
    [NB_INTERNAL] = "internal error",
    [NB_NOT_FOUND] = "not found",
    [NB_PERMISSION] = "permissions violation",
};
_Static_assert(sizeof(status_texts) / sizeof(status_texts[0]) == NB_STATUS_COUNT,
               "every nb_status needs a text");

static _Thread_local char last_error[NBI_ERROR_SIZE];

const char *nb_status_text(nb_status s)
{
    if ((unsigned)s >= NB_STATUS_COUNT)
        return "unknown status";
    return status_texts[s];
}

const char *nb_last_error(void) { return last_error; }

/*
 * Every error message loses the userinfo of the URLs it quotes: callers may
 * print a URL as the user gave it, and a password must never reach a log.
 */
nb_status nbi_fail(nb_status s, const char *fmt, ...)
{
    char raw[NBI_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    nb_url_redact(raw, last_error, sizeof last_error);
    nbi_wipe(raw, sizeof raw);
    return s;
}

nb_status nbi_fail_prefix(nb_status s, const char *fmt, ...)
{
    char raw[NBI_ERROR_SIZE];
    char prefix[NBI_ERROR_SIZE];
    char old[NBI_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    nb_url_redact(raw, prefix, sizeof prefix);
    nbi_wipe(raw, sizeof raw);
    memcpy(old, last_error, sizeof old);
    /* Cut explicitly: the joined text may exceed the buffer by design. */
    size_t n = strnlen(prefix, sizeof last_error - 1);
    memcpy(last_error, prefix, n);
    size_t room = sizeof last_error - 1 - n;
    size_t sep = room < 2 ? room : 2;
    memcpy(last_error + n, ": ", sep);
    size_t rest = strnlen(old, room - sep);
    memcpy(last_error + n + sep, old, rest);
    last_error[n + sep + rest] = '\0';
    return s;
}

char *nbi_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

nb_status nbi_set_string(char **dst, const char *src)
{
    char *copy = NULL;
    if (src && !(copy = nbi_strdup(src)))
        return nbi_fail(NB_NO_MEMORY, "out of memory copying a string");
    free(*dst);
    *dst = copy;
    return NB_OK;
}

int nb_version_number(void) { return NB_VERSION_NUMBER; }
const char *nb_version_string(void) { return NB_VERSION_STRING; }
