/* SPDX-License-Identifier: MIT */
/*
 * test_arrow_nats.c - issue 4's "Done when": a table built in C and sent with
 * natsbridge is read by apache-arrow in Node through NATS, directly and by
 * link (built-in file server), and a table built by apache-arrow in Node and
 * sent is read in C; values compared both ways. The Node side is
 * js/nats_peer.mjs on the JS peer library (tests/interop/js/natsbridge.mjs);
 * a real nats-server on a free loopback port; nothing mocked.
 */
#include "test.h"

#include "server.h"
#include "table.h"
#include "table_describe.h"
#include "table_fixture.h"

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef NB_NODE
#define NB_NODE "node"
#endif
#ifndef NB_TABLES_JS_DIR
#define NB_TABLES_JS_DIR "js"
#endif
#ifndef NB_JS_MODULES
#define NB_JS_MODULES "."
#endif

/* Whether Node's description (JSON text) has t's rows and columns; prints both when not. */
static bool same_as_node(const nb_table *t, const char *node_json)
{
    cJSON *node = cJSON_Parse(node_json), *mine = fx_describe_table(t);
    const cJSON *rows = cJSON_GetObjectItem(node, "rows");
    bool same = node && cJSON_IsNumber(rows) && rows->valuedouble == (double)nb_table_rows(t) &&
                cJSON_Compare(cJSON_GetObjectItem(node, "columns"),
                              cJSON_GetObjectItem(mine, "columns"), true);
    if (!same) {
        char *m = cJSON_PrintUnformatted(mine);
        fprintf(stderr, "node: %.4000s\nC:    %.4000s\n", node_json, m ? m : "-");
        free(m);
    }
    cJSON_Delete(node);
    cJSON_Delete(mine);
    return same;
}

/* ---- the world: nats-server, the built-in file server, options ---------- */

typedef struct world {
    nbt_server server;
    nb_fileserver *fs;
    char fs_dir[64], fs_url[64];
    nb_options *opts;
} world;

static bool world_start(world *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->fs_dir, sizeof w->fs_dir, "/tmp/nbt-arrow-nats-XXXXXX");
    if (!mkdtemp(w->fs_dir) || nbt_server_start(&w->server, false, 0) != 0)
        return false;
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .dir = w->fs_dir, .quiet = true};
    if (nb_fileserver_start(&w->fs, &cfg) != NB_OK) {
        fprintf(stderr, "fileserver: %s\n", nb_last_error());
        return false;
    }
    snprintf(w->fs_url, sizeof w->fs_url, "http://127.0.0.1:%d", nb_fileserver_port(w->fs));
    return nb_options_create(&w->opts) == NB_OK &&
           nb_options_set_url(w->opts, w->server.url) == NB_OK &&
           nb_options_set_fileserver_url(w->opts, w->fs_url) == NB_OK;
}

static void world_stop(world *w)
{
    char cmd[128];
    nb_options_destroy(w->opts);
    nb_fileserver_stop(w->fs);
    if (w->server.pid > 0)
        nbt_server_stop(&w->server);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->fs_dir);
    if (w->fs_dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", w->fs_dir);
}

/* Starts the Node peer with args; its stdout is read through the returned stream. */
static FILE *start_node(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && NB_JS_MODULES='%s' '%s' '%s/nats_peer.mjs' %s",
             NB_JS_MODULES, NB_JS_MODULES, NB_NODE, NB_TABLES_JS_DIR, args);
    fflush(NULL);
    return popen(cmd, "r");
}

/* Everything left on the stream (malloc'd), then the exit status in *rc. */
static char *finish_node(FILE *f, int *rc)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g)
                break;
            buf = g;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    if (buf)
        buf[n] = '\0';
    *rc = pclose(f);
    return buf;
}

/* ---- C to Node ----------------------------------------------------------- */

static void c_to_node(world *w, bool link)
{
    char args[512];
    snprintf(args, sizeof args, "recv '%s' arrow.c2js 20", w->server.url);
    FILE *node = start_node(args);
    CHECK(node);
    char line[64];
    CHECK(fgets(line, sizeof line, node) && strcmp(line, "ready\n") == 0);

    nb_table *t = fx_every_type(100);
    nb_envelope *e = NULL;
    nb_payload *p = NULL;
    CHECK(t);
    CHECK_OK(nb_payload_create_table(&p, "tbl", t, 16)); /* 7 record batches */
    CHECK_OK(nb_payload_force_link(p, link));
    CHECK_OK(nb_envelope_create(&e));
    CHECK_OK(nb_envelope_add_payload(e, &p));
    CHECK_OK(nb_smartsend("arrow.c2js", e, w->opts));
    CHECK(nb_payload_transport(nb_envelope_payload(e, 0)) ==
          (link ? NB_TRANSPORT_LINK : NB_TRANSPORT_DIRECT));

    int rc;
    char *out = finish_node(node, &rc);
    CHECK(out && rc == 0);
    CHECK(strstr(out, link ? "\"transport\":\"link\"" : "\"transport\":\"direct\""));
    CHECK(strstr(out, "\"batches\":7"));
    CHECK(same_as_node(t, out));
    free(out);
    nb_envelope_destroy(e);
    nb_table_destroy(t);
}

/* The world is stopped whatever happened: no nats-server outlives a failed check. */
static void in_world(void (*fn)(world *, bool), bool link)
{
    world w;
    if (world_start(&w)) {
        fn(&w, link);
    } else {
        fprintf(stderr, "the nats-server or the file server did not start\n");
        nbt_failures++;
    }
    world_stop(&w);
}

NBT_CASE(c_to_node_direct) { in_world(c_to_node, false); }
NBT_CASE(c_to_node_link) { in_world(c_to_node, true); }

/* ---- Node to C ----------------------------------------------------------- */

static void node_to_c(world *w, bool link)
{
    nb_client *c = NULL;
    nb_subscription *sub = NULL;
    CHECK_OK(nb_client_connect(&c, w->opts));
    CHECK_OK(nb_client_subscribe_sync(c, &sub, "arrow.js2c", NULL));
    CHECK_OK(nb_client_flush(c, 5000));

    char args[512];
    snprintf(args, sizeof args, "send '%s' '%s' arrow.js2c %s", w->server.url, w->fs_url,
             link ? "link" : "direct");
    FILE *node = start_node(args);
    CHECK(node);
    int rc;
    char *want = finish_node(node, &rc);
    CHECK(want && rc == 0);

    nb_envelope *e = NULL;
    CHECK_OK(nb_subscription_next(sub, 10000, &e));
    const nb_payload *p = nb_envelope_payload(e, 0);
    CHECK(p && nb_payload_type(p) == NB_TYPE_TABLE);
    CHECK(nb_payload_transport(p) == (link ? NB_TRANSPORT_LINK : NB_TRANSPORT_DIRECT));
    nb_table *t = NULL;
    CHECK_OK(nb_payload_table(p, &t));
    CHECK(nb_table_rows(t) == 10 && nb_table_column_count(t) == 18);
    CHECK(same_as_node(t, want));
    free(want);
    nb_table_destroy(t);
    nb_envelope_destroy(e);
    nb_subscription_destroy(sub);
    nb_client_destroy(c);
}

NBT_CASE(node_to_c_direct) { in_world(node_to_c, false); }
NBT_CASE(node_to_c_link) { in_world(node_to_c, true); }

static const nbt_case cases[] = {NBT_ENTRY(c_to_node_direct), NBT_ENTRY(c_to_node_link),
                                 NBT_ENTRY(node_to_c_direct), NBT_ENTRY(node_to_c_link), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
