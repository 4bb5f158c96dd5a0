/* SPDX-License-Identifier: MIT */
/*
 * reply_exec.h - `natsbridge reply --exec`: running the command and turning
 * what it did into a reply (reply_exec.c). The protocol is described there
 * and in natsbridge(1), section "REPLY --exec".
 */
#ifndef NB_CLI_REPLY_EXEC_H
#define NB_CLI_REPLY_EXEC_H

#include "cli_common.h"

/* The queue group reply joins unless --queue or --no-queue (natscli's `nats reply` default). */
#define CLI_REPLY_QUEUE "NATS-RPLY-22"

/* Defaults of --exec-timeout and --exec-max-output. */
#define CLI_EXEC_TIMEOUT_MS 30000
#define CLI_EXEC_MAX_OUTPUT ((uint64_t)64 << 20)

/*
 * Runs a->exec for req and builds the answer in *out: the command's plain
 * text, its answer document, or an error reply when it failed. CLI_OK with
 * *out set, or CLI_RUNTIME when we are stopping (interrupted) or out of memory.
 */
int cli_exec_reply(const cli_args *a, const nb_envelope *req, nb_envelope **out);

/*
 * An error reply: msg_purpose "error", a text payload "error" holding message,
 * and metadata {"reason": reason} (plus exit_status when >= 0). CLI_OK or CLI_RUNTIME.
 */
int cli_error_reply(const char *reason, int exit_status, const char *message, nb_envelope **out);

#endif
