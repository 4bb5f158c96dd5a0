/* SPDX-License-Identifier: MIT */
/*
 * main.c - `natsbridge`: dispatches to one subcommand per file.
 */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>

const cli_command cli_commands[] = {
    {"send", cmd_send, "publish one message"},
    {"request", cmd_request, "send a message and print the reply"},
    {"listen", cmd_listen, "print the messages arriving on a subject"},
    {"reply", cmd_reply, "answer requests (echo, or the output of a command)"},
    {"fileserver", cmd_fileserver, "run the built-in file server"},
    {"stream", cmd_stream, "list, add, show, edit, purge or remove JetStream streams"},
    {"consumer", cmd_consumer, "list, show or remove JetStream consumers"},
    {"completion", cmd_completion, "print a bash or zsh completion script"},
    /* issue 13: natscli's names */
    {"pub", cmd_send, "the same as send (natscli's name)"},
    {"sub", cmd_listen, "the same as listen (natscli's name)"},
    {"req", cmd_request, "the same as request (natscli's name)"},
};
#define N_COMMANDS (sizeof cli_commands / sizeof cli_commands[0])
const size_t cli_n_commands = N_COMMANDS;

static void usage(void)
{
    printf("Usage: natsbridge COMMAND [ARGUMENT]...\n"
           "Sends and receives NATSBridge messages over NATS.\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-12s %s\n", cli_commands[i].name, cli_commands[i].summary);
    printf("\nRun `natsbridge COMMAND --help` for the flags of a command.\n"
           "  --help      show this help\n"
           "  --version   show the version\n"
           "NATS commands connect as natscli does: -s/--server, --user, --password, --token,\n"
           "--creds, --nkey, --tlscert, --tlskey, --tlsca, --context; else the NATS_*\n"
           "environment; else the selected natscli context (see `natsbridge send --help`).\n"
           "Exit status: 0 success, 1 usage error, 2 connection, authentication, TLS,\n"
           "permission or runtime error, 3 timeout.\n");
    cli_help_list_topics(); /* issue 13: help topics */
}

static int dispatch(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, cli_commands[i].name) == 0) {
            cli_set_command(cli_commands[i].name);
            return cli_commands[i].run(argc, argv);
        }
    cli_error("unknown command '%s' (see natsbridge --help)", name);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing COMMAND (see natsbridge --help)");
        return CLI_USAGE;
    }
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 ||
        (strcmp(word, "help") == 0 && argc == 2)) {
        usage();
        return CLI_OK;
    }
    if (strcmp(word, "--version") == 0) {
        printf("natsbridge %s (libnatsbridge %s)\n", NB_VERSION_STRING, nb_version_string());
        return CLI_OK;
    }
    /* `natsbridge help send` is `natsbridge send --help`. */
    if (strcmp(word, "help") == 0) {
        int rc = cli_help_topic(argv[2]); /* issue 13: environment, exit-codes, json */
        if (rc != CLI_CONTINUE)
            return rc;
        char *args[] = {argv[2], "--help", NULL};
        return dispatch(argv[2], 2, args);
    }
    return dispatch(word, argc - 1, argv + 1);
}
