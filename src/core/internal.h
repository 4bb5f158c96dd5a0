/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what every module of libnatsbridge shares: the error setter,
 * string helpers and the visibility macro. Never installed.
 */
#ifndef NB_INTERNAL_H
#define NB_INTERNAL_H

#ifndef NB_BUILDING_LIBRARY
#define NB_BUILDING_LIBRARY 1
#endif
#include "natsbridge.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define NBI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NBI_PRINTF(f, a)
#endif

/*
 * Records a thread-local error message and returns s, so that a failure is
 * reported in one step: return nbi_fail(NB_BAD_ENVELOPE, "envelope: %s", ...).
 * Messages longer than 1023 bytes are cut.
 */
nb_status nbi_fail(nb_status s, const char *fmt, ...) NBI_PRINTF(2, 3);

/* Prefixes the current thread's error message with "prefix: " (keeps the status). */
nb_status nbi_fail_prefix(nb_status s, const char *fmt, ...) NBI_PRINTF(2, 3);

/* malloc'd copy of s, or NULL when s is NULL or memory ran out. */
char *nbi_strdup(const char *s);

/* Replaces *dst with a copy of src (NULL allowed); NB_NO_MEMORY on failure, *dst kept. */
nb_status nbi_set_string(char **dst, const char *src);

/* The value of one hexadecimal digit, or -1 when c is not one. */
static inline int nbi_hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s, or "" when s is NULL: accessors never return NULL. */
static inline const char *nbi_or_empty(const char *s) { return s ? s : ""; }

#endif /* NB_INTERNAL_H */
