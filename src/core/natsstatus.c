/* SPDX-License-Identifier: MIT */
/*
 * natsstatus.c - nats.c's statuses as natsbridge's, with nats.c's text made
 * safe to show, and the check of subjects and queue names before they reach
 * the NATS text protocol. Used by every layer that talks to nats.c
 * (messaging, JetStream, Object Store), so it calls none of them.
 */
#include "natsstatus.h"
#include "redact.h"

#include <stdio.h>

nb_status nbi_from_nats(natsStatus ns, const char *what)
{
    /* Without nats.c's "(conn.c:2088): " locations and without URL userinfo. */
    char text[512];
    nbi_nats_text(nats_GetLastError(NULL), text, sizeof text);
    if (!*text)
        snprintf(text, sizeof text, "%s", natsStatus_GetText(ns));
    switch (ns) {
    case NATS_OK:
        return NB_OK;
    case NATS_TIMEOUT:
        return nbi_fail(NB_TIMEOUT, "%s: timed out", what);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
        return nbi_fail(NB_CONNECTION, "%s: %s", what, text);
    case NATS_NO_RESPONDERS:
        return nbi_fail(NB_NO_RESPONDERS, "%s: no responders", what);
    case NATS_SLOW_CONSUMER:
        return nbi_fail(NB_SLOW_CONSUMER, "%s: slow consumer, messages dropped", what);
    case NATS_MAX_PAYLOAD:
        return nbi_fail(NB_TOO_LARGE, "%s: %s", what, text);
    case NATS_NOT_FOUND:
        return nbi_fail(NB_NOT_FOUND, "%s: not found", what);
    case NATS_NOT_PERMITTED:
        return nbi_fail(NB_PERMISSION, "%s: %s", what, text);
    case NATS_NO_MEMORY:
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory", what);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return nbi_fail(NB_INVALID_ARG, "%s: %s", what, text);
    default:
        return nbi_fail(NB_NATS, "%s: %s", what, text);
    }
}

/*
 * NATS subjects and queue names travel in a text protocol line: whitespace
 * would split it (and CR LF inject a command), so they are refused here.
 */
nb_status nbi_check_token(const char *what, const char *name, bool required)
{
    if (!name || !*name)
        return required ? nbi_fail(NB_INVALID_ARG, "%s: empty subject", what) : NB_OK;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return nbi_fail(NB_INVALID_ARG,
                            "%s: '%.200s' has whitespace or control characters, not allowed in "
                            "NATS subjects and queue names",
                            what, name);
    return NB_OK;
}
