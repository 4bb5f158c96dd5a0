/* SPDX-License-Identifier: MIT */
/*
 * redact.h - keeping secrets out of text: URLs without userinfo
 * (nb_url_redact, public) and nats.c error texts without their source
 * locations. Used by nbi_fail, so that no error message carries a password
 * or token even when a caller prints a URL as it was given.
 */
#ifndef NB_REDACT_H
#define NB_REDACT_H

#include "internal.h"

/*
 * nb_url_redact with the mode chosen: url_list true treats every item
 * between commas and spaces as a URL whose scheme is optional (a server
 * list as the user typed it, spaces and all); false only redacts
 * "scheme://" URLs (free text, where "a@b" may be a subject).
 */
char *nbi_redact(const char *text, char *out, size_t outsz, bool url_list);

/*
 * text (a nats.c error) without nats.c's "(conn.c:2088): " source locations
 * and with its URLs redacted, into out (always NUL-terminated); returns out.
 * NULL or "" gives "".
 */
char *nbi_nats_text(const char *text, char *out, size_t outsz);

/* Zeroes n bytes at p in a way the compiler may not drop (secrets in freed memory). */
void nbi_wipe(void *p, size_t n);

/* nbi_wipe of a string's bytes, then free; NULL is fine. */
void nbi_free_secret(char *s);

#endif
