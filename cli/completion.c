/* SPDX-License-Identifier: MIT */
/*
 * completion.c - `natsbridge completion bash|zsh|flags`: shell completion
 * generated from the flag tables the subcommands parse with. Each subcommand
 * is run once with cli_flag_probe set, which makes cli_parse hand over its
 * table instead of parsing, so a flag added to a table completes without an
 * edit here. A subcommand with actions (stream add|info|rm) is probed per
 * action, the actions read from its usage text; one with a parser of its own
 * (fileserver) is read from its --help text.
 */
#include "cli_common.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FLAGS 160  /* per command; more are reported, never cut silently */
#define MAX_ACTIONS 8  /* per command */
#define MAX_ENTRIES 32 /* commands and command actions */
#define MAX_NAME 48

typedef struct comp_flag {
    char text[MAX_NAME + 3]; /* "--server", or "-s" for a one-letter name */
    bool has_value;
} comp_flag;

/* A command, or a command's action ("stream" "add"), with its flags. */
typedef struct comp_entry {
    const char *command;
    char action[MAX_NAME + 1]; /* "" when the command has no actions */
    comp_flag flags[MAX_FLAGS];
    size_t n_flags;
} comp_entry;

typedef struct comp_set {
    comp_entry entries[MAX_ENTRIES];
    size_t n;
} comp_set;

static const char usage_text[] =
    "Usage: natsbridge completion bash|zsh|flags\n"
    "Prints a completion script generated from the flag tables of every subcommand.\n\n"
    "  bash    for bash: source <(natsbridge completion bash), or install it as\n"
    "          /usr/share/bash-completion/completions/natsbridge\n"
    "  zsh     for zsh: install it as _natsbridge in a directory of $fpath\n"
    "  flags   one line per flag: COMMAND [ACTION] --FLAG [VALUE]\n"
    "  --help  show this help\n"
    "Exit status: 0 printed, 1 usage error, 2 the flag tables could not be read.\n";

/* ---- reading the flags ------------------------------------------------------ */

/* Adds a flag unless already there; false when the entry is full. */
static bool add_flag(comp_entry *e, const char *name, size_t len, bool has_value)
{
    if (len == 0 || len > MAX_NAME)
        return true; /* not a flag name of ours */
    char text[MAX_NAME + 3];
    snprintf(text, sizeof text, "%s%.*s", len == 1 ? "-" : "--", (int)len, name);
    for (size_t i = 0; i < e->n_flags; i++)
        if (strcmp(e->flags[i].text, text) == 0)
            return true;
    if (e->n_flags == MAX_FLAGS) {
        cli_error("%s: more than %d flags (raise MAX_FLAGS in cli/completion.c)", e->command,
                  MAX_FLAGS);
        return false;
    }
    memcpy(e->flags[e->n_flags].text, text, sizeof text);
    e->flags[e->n_flags++].has_value = has_value;
    return true;
}

static bool add_table(comp_entry *e, const cli_flag *t)
{
    for (; t->name; t++) {
        if (!add_flag(e, t->name, strlen(t->name), t->has_value))
            return false;
        char letter = cli_short_flag(t->name); /* -s, -J, -q (issue 13) */
        if (letter && !add_flag(e, &letter, 1, t->has_value))
            return false;
    }
    return true;
}

/* The flags a --help text names: "--name" words, valued when "--name VALUE" or "--name=". */
static bool add_help_flags(comp_entry *e, const char *help)
{
    for (const char *p = help; (p = strstr(p, "--")) != NULL; p += 2) {
        bool starts_word = p == help || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
        const char *name = p + 2, *end = name;
        while (islower((unsigned char)*end) || isdigit((unsigned char)*end) || *end == '-')
            end++;
        if (!starts_word || end == name || !isalnum((unsigned char)*name))
            continue;
        bool valued = *end == '=' || (*end == ' ' && isupper((unsigned char)end[1]));
        if (!add_flag(e, name, (size_t)(end - name), valued))
            return false;
    }
    return true;
}

/* The whole content of f (malloc'd, NUL-terminated); NULL when it cannot be read. */
static char *read_back(FILE *f)
{
    long len = ftell(f);
    char *text = len >= 0 ? calloc(1, (size_t)len + 1) : NULL;
    if (text && (fseek(f, 0, SEEK_SET) != 0 || fread(text, 1, (size_t)len, f) != (size_t)len)) {
        free(text);
        text = NULL;
    }
    return text;
}

/*
 * Runs cmd with argv, its stdout captured into a malloc'd string (NULL when
 * the capture failed) and its stderr discarded. *table is what cli_parse
 * handed over, NULL when the command did not reach cli_parse.
 */
static char *probe(const cli_command *cmd, int argc, char **argv, const cli_flag **table)
{
    *table = NULL;
    fflush(stdout);
    fflush(stderr);
    FILE *out = tmpfile();
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int saved[2] = {dup(STDOUT_FILENO), dup(STDERR_FILENO)};
    char *text = NULL;
    if (out && devnull >= 0 && saved[0] >= 0 && saved[1] >= 0 &&
        dup2(fileno(out), STDOUT_FILENO) >= 0 && dup2(devnull, STDERR_FILENO) >= 0) {
        cli_flag_probe = table;
        cmd->run(argc, argv);
        cli_flag_probe = NULL;
        fflush(stdout);
        fflush(stderr);
        text = read_back(out);
    }
    for (int i = 0; i < 2; i++)
        if (saved[i] >= 0) {
            dup2(saved[i], i == 0 ? STDOUT_FILENO : STDERR_FILENO);
            close(saved[i]);
        }
    if (devnull >= 0)
        close(devnull);
    if (out)
        fclose(out);
    return text;
}

/* The actions a usage text names: lowercase words in "natsbridge CMD WORD". */
static size_t find_actions(const char *cmd, const char *usage, char actions[][MAX_NAME + 1])
{
    char lead[64];
    size_t n = 0;
    snprintf(lead, sizeof lead, "natsbridge %s ", cmd);
    for (const char *p = usage; n < MAX_ACTIONS && (p = strstr(p, lead)) != NULL;) {
        p += strlen(lead);
        size_t len = 0;
        while (islower((unsigned char)p[len]))
            len++;
        if (len == 0 || len > MAX_NAME || !(p[len] == ' ' || p[len] == '\n'))
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen = seen || (strlen(actions[i]) == len && memcmp(actions[i], p, len) == 0);
        if (!seen) {
            memcpy(actions[n], p, len);
            actions[n++][len] = '\0';
        }
    }
    return n;
}

static comp_entry *new_entry(comp_set *s, const char *command, const char *action)
{
    if (s->n == MAX_ENTRIES) {
        cli_error("more than %d commands (raise MAX_ENTRIES in cli/completion.c)", MAX_ENTRIES);
        return NULL;
    }
    comp_entry *e = &s->entries[s->n++];
    e->command = command;
    snprintf(e->action, sizeof e->action, "%.*s", MAX_NAME, action); /* bounded by find_actions */
    return e;
}

/* Probes each action of cmd; false after an error line. */
static bool read_actions(comp_set *s, const cli_command *cmd, const char *usage)
{
    char actions[MAX_ACTIONS][MAX_NAME + 1];
    size_t n = find_actions(cmd->name, usage, actions);
    for (size_t i = 0; i < n; i++) {
        const cli_flag *table;
        char *argv[] = {(char *)cmd->name, actions[i], "NAME", NULL};
        free(probe(cmd, 3, argv, &table));
        comp_entry *e = table ? new_entry(s, cmd->name, actions[i]) : NULL;
        if (table && (!e || !add_table(e, table)))
            return false;
    }
    return true;
}

/* The flags of one command: its table, its actions' tables, or its --help text. */
static bool read_command(comp_set *s, const cli_command *cmd)
{
    const cli_flag *table;
    char *argv[] = {(char *)cmd->name, "--help", NULL};
    char *usage = probe(cmd, 2, argv, &table);
    if (!usage) {
        cli_error("%s: could not capture its --help output", cmd->name);
        return false;
    }
    bool ok;
    size_t before = s->n;
    if (table) {
        comp_entry *e = new_entry(s, cmd->name, "");
        ok = e && add_table(e, table);
    } else {
        ok = read_actions(s, cmd, usage);
        if (ok && s->n == before) { /* a parser of its own: its --help names the flags */
            comp_entry *e = new_entry(s, cmd->name, "");
            ok = e && add_help_flags(e, usage);
        }
    }
    free(usage);
    return ok;
}

static bool read_all(comp_set *s)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (cli_commands[i].run != cmd_completion && !read_command(s, &cli_commands[i]))
            return false;
    return true;
}

/* ---- printing ---------------------------------------------------------------- */

static void print_flags(const comp_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const comp_entry *e = &s->entries[i];
        for (size_t k = 0; k < e->n_flags; k++)
            printf("%s%s%s %s%s\n", e->command, e->action[0] ? " " : "", e->action,
                   e->flags[k].text, e->flags[k].has_value ? " VALUE" : "");
    }
}

/* The command names, space-separated, for a word list. */
static void print_commands(void)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        printf("%s%s", i ? " " : "", cli_commands[i].name);
}

/* The actions of command, space-separated. */
static void print_actions(const comp_set *s, const char *command)
{
    bool first = true;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->entries[i].command, command) == 0 && s->entries[i].action[0]) {
            printf("%s%s", first ? "" : " ", s->entries[i].action);
            first = false;
        }
}

static bool has_actions(const comp_set *s, const char *command)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->entries[i].command, command) == 0 && s->entries[i].action[0])
            return true;
    return false;
}

static void print_bash_entry(const comp_entry *e)
{
    printf("    '%s%s%s')\n        flags='", e->command, e->action[0] ? " " : "", e->action);
    for (size_t k = 0; k < e->n_flags; k++)
        printf("%s%s", k ? " " : "", e->flags[k].text);
    printf("'\n        valued=' ");
    for (size_t k = 0; k < e->n_flags; k++)
        if (e->flags[k].has_value)
            printf("%s ", e->flags[k].text);
    printf("' ;;\n");
}

static void print_bash(const comp_set *s)
{
    printf("# bash completion for natsbridge(1), generated by `natsbridge completion bash`\n"
           "# from the flag tables of the CLI itself. Install it as\n"
           "# /usr/share/bash-completion/completions/natsbridge, or:\n"
           "#   source <(natsbridge completion bash)\n"
           "_natsbridge()\n{\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
           "    local key=${COMP_WORDS[1]} flags= valued=\n"
           "    COMPREPLY=()\n"
           "    if ((COMP_CWORD == 1)); then\n"
           "        COMPREPLY=($(compgen -W '");
    print_commands();
    printf(" help --help --version' -- \"$cur\"))\n"
           "        return 0\n    fi\n"
           "    case $key in\n"
           "    help)\n"
           "        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W '");
    print_commands();
    cli_help_topic_names(); /* issue 13: help topics */
    printf("' -- \"$cur\"))\n        return 0 ;;\n"
           "    completion)\n"
           "        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W 'bash zsh flags' -- \"$cur\"))\n"
           "        return 0 ;;\n");
    for (size_t i = 0; i < cli_n_commands; i++) {
        if (!has_actions(s, cli_commands[i].name))
            continue;
        printf("    %s)\n        if ((COMP_CWORD == 2)); then\n"
               "            COMPREPLY=($(compgen -W '", cli_commands[i].name);
        print_actions(s, cli_commands[i].name);
        printf("' -- \"$cur\"))\n            return 0\n        fi\n"
               "        key=\"$key ${COMP_WORDS[2]}\" ;;\n");
    }
    printf("    esac\n    case $key in\n");
    for (size_t i = 0; i < s->n; i++)
        print_bash_entry(&s->entries[i]);
    printf("    esac\n"
           "    # The value of a flag: nothing here, so that -o default completes file names.\n"
           "    [[ $prev == -* && $valued == *\" $prev \"* ]] && return 0\n"
           "    [[ $cur == -* ]] && COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
           "    return 0\n}\n"
           "complete -o bashdefault -o default -F _natsbridge natsbridge\n");
}

/* One _arguments call for e, after the command (and action) words were shifted off. */
static void print_zsh_entry(const comp_entry *e)
{
    printf("    '%s%s%s')\n        _arguments -s", e->command, e->action[0] ? " " : "", e->action);
    for (size_t k = 0; k < e->n_flags; k++)
        printf(" \\\n            '*%s%s'", e->flags[k].text, e->flags[k].has_value ? "=:value:_files" : "");
    printf(" \\\n            '*:argument:_files' ;;\n");
}

/* text inside a single-quoted _describe entry: ' closes the quote, : ends the name. */
static void print_zsh_described(const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '\'')
            fputs("'\\''", stdout);
        else if (*c == ':')
            fputs("\\:", stdout);
        else
            putchar(*c);
    }
}

static void print_zsh(const comp_set *s)
{
    printf("#compdef natsbridge\n"
           "# zsh completion for natsbridge(1), generated by `natsbridge completion zsh`\n"
           "# from the flag tables of the CLI itself. Install it as _natsbridge in a\n"
           "# directory of $fpath (Debian: /usr/share/zsh/vendor-completions).\n"
           "_natsbridge() {\n    local -a commands\n    commands=(");
    for (size_t i = 0; i < cli_n_commands; i++) {
        printf(" '");
        print_zsh_described(cli_commands[i].name);
        putchar(':');
        print_zsh_described(cli_commands[i].summary);
        putchar('\'');
    }
    printf(" )\n    if ((CURRENT == 2)); then\n"
           "        _describe -t commands 'natsbridge command' commands\n        return\n    fi\n"
           "    local key=$words[2]\n    case $key in\n"
           "    help) ((CURRENT == 3)) && { _describe -t commands 'command' commands; compadd");
    cli_help_topic_names(); /* issue 13: help topics */
    printf("; }; return ;;\n"
           "    completion) ((CURRENT == 3)) && compadd bash zsh flags; return ;;\n");
    for (size_t i = 0; i < cli_n_commands; i++) {
        if (!has_actions(s, cli_commands[i].name))
            continue;
        printf("    %s)\n        if ((CURRENT == 3)); then\n            compadd ",
               cli_commands[i].name);
        print_actions(s, cli_commands[i].name);
        printf("\n            return\n        fi\n"
               "        key=\"$key $words[3]\"\n        shift words\n        ((CURRENT--)) ;;\n");
    }
    printf("    esac\n    shift words\n    ((CURRENT--))\n    case $key in\n");
    for (size_t i = 0; i < s->n; i++)
        print_zsh_entry(&s->entries[i]);
    printf("    esac\n}\n"
           "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
           "    _natsbridge \"$@\"\nelse\n    compdef _natsbridge natsbridge\nfi\n");
}

int cmd_completion(int argc, char **argv)
{
    const char *shell = argc == 2 ? argv[1] : NULL;
    if (shell && (strcmp(shell, "--help") == 0 || strcmp(shell, "-h") == 0)) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (!shell || (strcmp(shell, "bash") != 0 && strcmp(shell, "zsh") != 0 &&
                   strcmp(shell, "flags") != 0)) {
        cli_error("give one of bash, zsh or flags (see natsbridge completion --help)");
        return CLI_USAGE;
    }
    comp_set *s = calloc(1, sizeof *s);
    if (!s) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    int rc = CLI_RUNTIME;
    if (read_all(s)) {
        if (shell[0] == 'b')
            print_bash(s);
        else if (shell[0] == 'z')
            print_zsh(s);
        else
            print_flags(s);
        rc = fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : CLI_RUNTIME;
        if (rc != CLI_OK)
            cli_error("cannot write to stdout");
    }
    free(s);
    return rc;
}
