/* SPDX-License-Identifier: MIT */
/*
 * cli_connect.c - how a NATS command finds its server and credentials
 * (issue 10), as natscli users expect: a flag beats the NATS_* environment
 * variable, which beats the natscli context, which beats the default.
 *
 * natscli contexts are JSON files, $XDG_CONFIG_HOME/nats/context/NAME.json
 * (XDG_CONFIG_HOME defaulting to ~/.config); the selected one is named in
 * $XDG_CONFIG_HOME/nats/context.txt. --context NAME or NATS_CONTEXT picks
 * another.
 */
#include "cli_common.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* natscli contexts                                                         */
/* ======================================================================== */

void cli_context_free(cli_context *ctx)
{
    char **fields[] = {&ctx->name, &ctx->url,   &ctx->user, &ctx->password, &ctx->token,
                       &ctx->creds, &ctx->nkey, &ctx->cert, &ctx->key,      &ctx->ca};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (*fields[i]) /* passwords and tokens are not left in freed memory */
            explicit_bzero(*fields[i], strlen(*fields[i]));
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* $XDG_CONFIG_HOME/nats, or ~/.config/nats; false when neither can be known. */
static bool nats_config_dir(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int len = xdg && *xdg ? snprintf(out, n, "%s/nats", xdg)
              : home && *home ? snprintf(out, n, "%s/.config/nats", home)
                              : -1;
    return len > 0 && (size_t)len < n;
}

/* A copy of path with a leading "~/" made $HOME/ (natscli does the same); NULL when out of memory. */
static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    if ((strncmp(path, "~/", 2) != 0 && strcmp(path, "~") != 0) || !home || !*home)
        return strdup(path);
    size_t n = strlen(home) + strlen(path);
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", home, path + 1);
    return out;
}

/* The selected context's name from context.txt into out; "" when none is selected. */
static int selected_context(const char *dir, char *out, size_t n)
{
    char path[4200];
    char *text = NULL;
    size_t len = 0;
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/context.txt", dir);
    int err = cli_read_file(path, &text, &len);
    if (err == ENOENT)
        return CLI_CONTINUE;
    if (err) {
        cli_error("natscli context: cannot read '%s': %s", path, strerror(err));
        return CLI_USAGE;
    }
    const char *p = text + strspn(text, " \t\r\n");
    snprintf(out, n, "%.*s", (int)strcspn(p, " \t\r\n"), p);
    free(text);
    return CLI_CONTINUE;
}

/* One string field of the context JSON into *field ("" counts as unset); false when out of memory. */
static bool take_field(const cJSON *root, const char *key, bool path, char **field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
        return true;
    *field = path ? expand_home(v->valuestring) : strdup(v->valuestring);
    return *field != NULL;
}

static int parse_context(const char *name, const char *path, const char *text, cli_context *ctx)
{
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        cli_error("natscli context '%s': '%s' is not a JSON object", name, path);
        return CLI_USAGE;
    }
    const cJSON *nsc = cJSON_GetObjectItemCaseSensitive(root, "nsc");
    if (cJSON_IsString(nsc) && nsc->valuestring && *nsc->valuestring) {
        cJSON_Delete(root);
        cli_error("natscli context '%s': its \"nsc\" setting is not supported by natsbridge: "
                  "give the user's .creds file in \"creds\" (or --creds) instead", name);
        return CLI_USAGE;
    }
    bool ok = take_field(root, "url", false, &ctx->url) &&
              take_field(root, "user", false, &ctx->user) &&
              take_field(root, "password", false, &ctx->password) &&
              take_field(root, "token", false, &ctx->token) &&
              take_field(root, "creds", true, &ctx->creds) &&
              take_field(root, "nkey", true, &ctx->nkey) &&
              take_field(root, "cert", true, &ctx->cert) &&
              take_field(root, "key", true, &ctx->key) && take_field(root, "ca", true, &ctx->ca) &&
              (ctx->name = strdup(name)) != NULL;
    cJSON_Delete(root);
    if (!ok) {
        cli_error("out of memory");
        return CLI_RUNTIME;
    }
    return CLI_CONTINUE;
}

int cli_context_load(const char *name, cli_context *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    char dir[4096], selected[256];
    if (!nats_config_dir(dir, sizeof dir)) {
        if (!name)
            return CLI_CONTINUE; /* no home: no selected context either */
        cli_error("natscli context '%s': neither XDG_CONFIG_HOME nor HOME is set", name);
        return CLI_USAGE;
    }
    if (!name) {
        int rc = selected_context(dir, selected, sizeof selected);
        if (rc != CLI_CONTINUE || !*selected)
            return rc;
        name = selected;
    }
    /* A name, not a path: nothing outside the context directory is read. */
    if (!*name || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
        cli_error("natscli context '%s': not a context name", name);
        return CLI_USAGE;
    }
    char path[4400];
    char *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/context/%s.json", dir, name);
    int err = cli_read_file(path, &text, &len);
    if (err) {
        cli_error("natscli context '%s': cannot read '%s': %s", name, path, strerror(err));
        return CLI_USAGE;
    }
    int rc = parse_context(name, path, text, ctx);
    explicit_bzero(text, len); /* it may hold a password */
    free(text);
    if (rc != CLI_CONTINUE)
        cli_context_free(ctx);
    return rc;
}

/* ======================================================================== */
/* Flags > environment > context                                            */
/* ======================================================================== */

/* One connection setting and where it came from, for error messages. */
typedef struct setting {
    const char *value;  /* NULL: not given anywhere */
    char source[300];   /* "--creds", "NATS_CREDS", "context 'prod' (creds)" */
} setting;

static void pick(setting *out, const char *flag_value, const char *flag, const char *env,
                 const char *ctx_value, const cli_context *ctx, const char *key)
{
    const char *e = env ? getenv(env) : NULL;
    out->value = NULL;
    out->source[0] = '\0';
    if (flag_value) {
        out->value = flag_value;
        snprintf(out->source, sizeof out->source, "%s", flag);
    } else if (e && *e) {
        out->value = e;
        snprintf(out->source, sizeof out->source, "%s", env);
    } else if (ctx_value) {
        out->value = ctx_value;
        snprintf(out->source, sizeof out->source, "natscli context '%s' (%s)", ctx->name, key);
    }
}

enum { S_URL, S_USER, S_PASSWORD, S_TOKEN, S_CREDS, S_NKEY, S_CERT, S_KEY, S_CA, S_COUNT };

static void pick_all(const cli_args *a, const cli_context *c, setting *s)
{
    pick(&s[S_URL], a->server, "--server", "NATS_URL", c->url, c, "url");
    pick(&s[S_USER], a->user, "--user", "NATS_USER", c->user, c, "user");
    pick(&s[S_PASSWORD], a->password, "--password", "NATS_PASSWORD", c->password, c, "password");
    pick(&s[S_TOKEN], a->nats_token, "--token", "NATS_TOKEN", c->token, c, "token");
    pick(&s[S_CREDS], a->creds, "--creds", "NATS_CREDS", c->creds, c, "creds");
    pick(&s[S_NKEY], a->nkey, "--nkey", "NATS_NKEY", c->nkey, c, "nkey");
    pick(&s[S_CERT], a->tlscert, "--tlscert", "NATS_CERT", c->cert, c, "cert");
    pick(&s[S_KEY], a->tlskey, "--tlskey", "NATS_KEY", c->key, c, "key");
    pick(&s[S_CA], a->tlsca, "--tlsca", "NATS_CA", c->ca, c, "ca");
}

/* A credential or certificate the library refused (unreadable, not a seed): exit 2, like the
 * authentication or TLS failure it stands for. */
static int refused(nb_status st, const char *source) { return cli_fail(CLI_RUNTIME, st, source); }

static int apply_settings(const cli_args *a, const setting *s, nb_options *o)
{
    nb_status st;
    if (s[S_URL].value && (st = nb_options_set_url(o, s[S_URL].value)))
        return cli_fail(st == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, st, s[S_URL].source);
    if (s[S_PASSWORD].value && !s[S_USER].value) {
        cli_error("%s: a password needs a user (--user or NATS_USER)", s[S_PASSWORD].source);
        return CLI_USAGE;
    }
    if (s[S_USER].value && (st = nb_options_set_user_password(o, s[S_USER].value, s[S_PASSWORD].value)))
        return refused(st, s[S_USER].source);
    if (s[S_TOKEN].value && (st = nb_options_set_token(o, s[S_TOKEN].value)))
        return refused(st, s[S_TOKEN].source);
    if (s[S_CREDS].value && (st = nb_options_set_creds_file(o, s[S_CREDS].value)))
        return refused(st, s[S_CREDS].source);
    if (s[S_NKEY].value && (st = nb_options_set_nkey_seed_file(o, s[S_NKEY].value)))
        return refused(st, s[S_NKEY].source);
    if (!s[S_CERT].value != !s[S_KEY].value) {
        const setting *given = s[S_CERT].value ? &s[S_CERT] : &s[S_KEY];
        cli_error("%s: a client certificate needs both --tlscert and --tlskey (or NATS_CERT and "
                  "NATS_KEY)", given->source);
        return CLI_USAGE;
    }
    if (s[S_CERT].value &&
        (st = nb_options_set_tls_client_cert(o, s[S_CERT].value, s[S_KEY].value)))
        return refused(st, s[S_CERT].source);
    if (s[S_CA].value && (st = nb_options_set_tls_ca_file(o, s[S_CA].value)))
        return refused(st, s[S_CA].source);
    if (a->connection_name && (st = nb_options_set_connection_name(o, a->connection_name)))
        return cli_fail(CLI_USAGE, st, "--connection-name");
    return CLI_CONTINUE;
}

int cli_apply_connection(const cli_args *a, nb_options *o)
{
    const char *env = getenv("NATS_CONTEXT");
    const char *name = a->context ? a->context : env && *env ? env : NULL;
    cli_context ctx;
    int rc = cli_context_load(name, &ctx);
    if (rc != CLI_CONTINUE)
        return rc;
    setting s[S_COUNT];
    pick_all(a, &ctx, s);
    rc = apply_settings(a, s, o);
    cli_context_free(&ctx);
    return rc;
}
