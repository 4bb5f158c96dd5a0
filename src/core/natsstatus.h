/* SPDX-License-Identifier: MIT */
/*
 * natsstatus.h - nats.c statuses as ours, and subject checks (natsstatus.c).
 */
#ifndef NB_NATSSTATUS_H
#define NB_NATSSTATUS_H

#include "internal.h"

#include <nats/nats.h>
#include <stdbool.h>

/* Sets the last error to "what: <nats.c's text>" and returns the matching nb_status. */
nb_status nbi_from_nats(natsStatus ns, const char *what);

/*
 * Refuses a subject or queue name with whitespace or control characters
 * (they would split the protocol line); an empty or NULL name is refused
 * only when required.
 */
nb_status nbi_check_token(const char *what, const char *name, bool required);

#endif /* NB_NATSSTATUS_H */
