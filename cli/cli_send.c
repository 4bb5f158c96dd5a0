/* SPDX-License-Identifier: MIT */
/*
 * cli_send.c - argument helpers of send and request (issue 13, natscli
 * habits): the value of `--file NAME=PATH[:TYPE]` (a file, or standard input,
 * `-` or /dev/stdin, streamed as it is read; an unknown :TYPE reported as such
 * instead of as a missing file) and the DURATION of --interval.
 */
#include "cli_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TYPE_LIST "text, dictionary, table, image, audio, video, binary"

/* Standard input can feed one payload only (a second one would get nothing): its name. */
static char stdin_taker[256];

/* The payload reader of standard input: read(2) as it comes, so that a pipe is never held whole. */
static nb_status read_stdin(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    (void)closure;
    *got = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return NB_OK;
        }
        /* The library names the payload whose reader failed (NB_IO). */
        if (errno != EINTR || cli_stop)
            return NB_IO;
    }
}

static bool is_stdin(const char *path)
{
    return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdin") == 0;
}

/* True when s could only be meant as a type name: a short word of letters. */
static bool looks_like_type(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    return n > 0 && n <= 32 && s[n] == '\0';
}

/*
 * Splits PATH[:TYPE]. A known type after the last ':' is the type. An
 * unknown word there is an error naming it, unless the whole value names
 * an existing file: then the colon is part of the file's name.
 */
static int split_type(const char *name, const char *value, size_t *path_len, nb_type *type)
{
    const char *colon = strrchr(value, ':');
    struct stat st;
    *type = NB_TYPE_BINARY;
    *path_len = strlen(value);
    if (!colon)
        return CLI_CONTINUE;
    if (nb_type_parse(colon + 1, type) == NB_OK) {
        *path_len = (size_t)(colon - value);
        return CLI_CONTINUE;
    }
    *type = NB_TYPE_BINARY;
    if (looks_like_type(colon + 1) && stat(value, &st) != 0) {
        cli_error("unknown type '%s' in --file %s=%s (types: " TYPE_LIST ")", colon + 1, name,
                  value);
        return CLI_USAGE;
    }
    return CLI_CONTINUE;
}

int cli_file_payload(const char *name, const char *value, nb_payload **p)
{
    size_t path_len = 0;
    nb_type type = NB_TYPE_BINARY;
    int rc = split_type(name, value, &path_len, &type);
    if (rc != CLI_CONTINUE)
        return rc;
    char *path = strndup(value, path_len);
    if (!path) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    nb_status s;
    if (is_stdin(path) && stdin_taker[0]) {
        cli_error("--file %s=%s: standard input already feeds payload '%s'", name, value,
                  stdin_taker);
        free(path);
        return CLI_USAGE;
    }
    if (is_stdin(path)) {
        snprintf(stdin_taker, sizeof stdin_taker, "%s", name);
        s = nb_payload_create_reader(p, name, type, read_stdin, NULL);
    } else {
        s = nb_payload_create_file(p, name, type, path);
    }
    free(path);
    /* A missing or unreadable file is a bad argument: exit 1, like every payload flag. */
    return s ? cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, "--file") : CLI_CONTINUE;
}

int cli_parse_duration(const char *flag, const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
    size_t digits = strspn(text, "0123456789");
    const char *rest = text + digits;
    if (*rest == '.') {
        size_t frac = strspn(rest + 1, "0123456789");
        digits += frac;
        rest += 1 + frac;
    }
    for (size_t i = 0; digits > 0 && i < sizeof units / sizeof *units; i++) {
        if (strcmp(rest, units[i].unit) != 0)
            continue;
        double v = strtod(text, NULL) * units[i].ms; /* plain decimal digits only: checked above */
        if (!(v <= 1e12)) {
            cli_error("--%s: %s is too long", flag, text);
            return CLI_USAGE;
        }
        *ms = (int64_t)(v + 0.5);
        return CLI_CONTINUE;
    }
    cli_error("--%s: '%s' is not a duration such as 100ms, 1.5s, 2m or 1h", flag, text);
    return CLI_USAGE;
}
