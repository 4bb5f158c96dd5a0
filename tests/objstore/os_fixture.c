/* SPDX-License-Identifier: MIT */
/*
 * os_fixture.c - see os_fixture.h.
 */
#include "os_fixture.h"

#include "integrity.h"
#include "client.h"
#include "natsstatus.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

os_env E;

bool os_start(void)
{
    memset(&E, 0, sizeof E);
    E.up = nbt_server_start(&E.srv, true, 0) == 0;
    if (!E.up) {
        fprintf(stderr, "os_start: could not start nats-server with JetStream\n");
        return false;
    }
    snprintf(E.dir, sizeof E.dir, "%s/nbos-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(E.dir)) {
        E.dir[0] = '\0';
        return false;
    }
    nb_options *o = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_url(o, E.srv.url);
    if (s == NB_OK)
        s = nb_client_connect(&E.client, o);
    nb_options_destroy(o);
    if (s != NB_OK)
        fprintf(stderr, "os_start: connect: %s\n", nb_last_error());
    return s == NB_OK;
}

void os_stop(void)
{
    nb_client_destroy(E.client);
    E.client = NULL;
    if (E.up)
        nbt_server_stop(&E.srv);
    if (E.dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "os_stop: could not remove %s\n", E.dir);
    }
    memset(&E, 0, sizeof E);
}

void os_path(char out[512], const char *name) { snprintf(out, 512, "%s/%s", E.dir, name); }

bool os_fill_file(const char *path, uint64_t n, uint32_t seed)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    uint8_t block[65536];
    uint32_t x = seed ? seed : 1;
    bool ok = true;
    while (ok && n > 0) {
        size_t k = n < sizeof block ? (size_t)n : sizeof block;
        for (size_t i = 0; i < k; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            block[i] = (uint8_t)x;
        }
        ok = fwrite(block, 1, k, f) == k;
        n -= k;
    }
    return fclose(f) == 0 && ok;
}

void os_sha_file(const char *path, char hex[65])
{
    if (nbi_sha256_file_hex(path, hex, NULL) != NB_OK)
        hex[0] = '\0';
}

static bool parse_js(js_result *r)
{
    const char *line = strrchr(r->output, '{');
    cJSON *o = line ? cJSON_Parse(line) : NULL;
    const cJSON *size = cJSON_GetObjectItem(o, "size");
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItem(o, "sha256"));
    const char *digest = cJSON_GetStringValue(cJSON_GetObjectItem(o, "digest"));
    bool ok = cJSON_IsNumber(size) && sha && digest;
    if (ok) {
        r->size = (uint64_t)size->valuedouble;
        snprintf(r->sha256, sizeof r->sha256, "%s", sha);
        snprintf(r->digest, sizeof r->digest, "%s", digest);
    }
    cJSON_Delete(o);
    return ok;
}

bool os_js(const char *op, const char *bucket, const char *name, const char *file, js_result *r)
{
    memset(r, 0, sizeof *r);
    char cmd[2048];
    /* The name goes through the environment: no quoting of arbitrary UTF-8 in a shell line. */
    setenv("NBT_OS_NAME", name, 1);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 60 node '%s' '%s' '%s' '%s' '%s' \"$NBT_OS_NAME\" '%s' 2>&1",
             NBT_JS_DIR, NBT_OS_HELPER, NBT_JS_DIR, E.srv.url, op, bucket, file);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    size_t n = fread(r->output, 1, sizeof r->output - 1, p);
    r->output[n] = '\0';
    int rc = pclose(p);
    bool ok = rc == 0 && parse_js(r);
    if (!ok)
        fprintf(stderr, "nats.js %s %s/%s failed (rc %d): %s\n", op, bucket, name, rc, r->output);
    return ok;
}

jsCtx *os_raw_js(void)
{
    jsCtx *js = NULL;
    if (natsConnection_JetStream(&js, nbi_client_nats(E.client), NULL) != NATS_OK)
        return NULL;
    return js;
}
