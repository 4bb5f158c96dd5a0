/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the natsbridge command-line tool: one file per subcommand, the
 * shared flag parsing and output in cli_common.c. Uses the public API only.
 */
#ifndef NB_CLI_H
#define NB_CLI_H

#include "natsbridge.h"

/* Exit codes of every subcommand. */
enum {
    CLI_OK = 0,      /* success */
    CLI_USAGE = 1,   /* bad flags or arguments */
    CLI_RUNTIME = 2, /* connection or runtime error */
    CLI_TIMEOUT = 3  /* nothing arrived in time */
};

/* Subcommands: argv[0] is the subcommand's name. */
int cmd_send(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_reply(int argc, char **argv);
int cmd_fileserver(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_consumer(int argc, char **argv); /* JetStream consumers (issue 13, clijs) */
int cmd_completion(int argc, char **argv);

/* The subcommands in --help order (main.c); `natsbridge completion` walks them. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;
extern const cli_command cli_commands[];
extern const size_t cli_n_commands;

#endif
