/* SPDX-License-Identifier: MIT */
/*
 * os_fixture.h - what the Object Store tests share: a nats-server with
 * JetStream per case, a connected client, a temporary directory, files of
 * deterministic bytes, and the nats.js helper (js/os.mjs) run as a peer.
 */
#ifndef NB_OS_FIXTURE_H
#define NB_OS_FIXTURE_H

#include "server.h"
#include "test.h"

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct os_env {
    nbt_server srv;
    bool up;
    nb_client *client;
    char dir[256];
} os_env;

extern os_env E;

/* Starts JetStream and connects E.client; os_stop() frees what os_start made. */
bool os_start(void);
void os_stop(void);

/* OS_CASE(name) { body }: a case with its own server, stopped even when a CHECK returns. */
#define OS_CASE(name) NBT_CASE_WITH(name, os_start(), os_stop())

/* E.dir/name into out. */
void os_path(char out[512], const char *name);
/* Writes n deterministic bytes (xorshift, seed) to path. */
bool os_fill_file(const char *path, uint64_t n, uint32_t seed);
/* Lowercase hex SHA-256 of a file, or "" when it cannot be read. */
void os_sha_file(const char *path, char hex[65]);

/* What the nats.js helper printed. */
typedef struct js_result {
    uint64_t size;
    char sha256[65];
    char digest[80];
    char output[2048]; /* everything it wrote, for failure messages */
} js_result;

/* node js/os.mjs ... put|get BUCKET NAME FILE against E's server; false when it failed. */
bool os_js(const char *op, const char *bucket, const char *name, const char *file, js_result *r);

/* A JetStream context on E.client's own connection (free with jsCtx_Destroy). */
jsCtx *os_raw_js(void);

#endif
