/* SPDX-License-Identifier: MIT */
/*
 * table_peer.c - the C side of the interop cells *.tableapi.*: tables built
 * and read with natsbridge's table API (not bytes handed through), against
 * apache-arrow in the JS peer.
 *
 *   table_peer send NATS_URL FILESERVER_URL SUBJECT direct|link
 *       sends the demo table (id int32, name utf8, score float64; 3 rows) as a
 *       "table" payload "tbl" (Arrow IPC, 2-row record batches) and as a
 *       "jsontable" payload "rows"; prints the envelope as sent.
 *   table_peer recv NATS_URL FILESERVER_URL SUBJECT TIMEOUT_SECONDS
 *       receives one message ("ready" on stderr once subscribed) and prints
 *       one JSON line: per table-like payload its dataname, wire type, row
 *       count, column names and types, and its rows (nb_table_to_json).
 *
 * Exit status: 0 done, 1 usage, 2 library error, 3 timeout.
 */
#include <natsbridge.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lib_error(const char *what)
{
    fprintf(stderr, "table_peer: %s: %s\n", what, nb_last_error());
    return 2;
}

/* The demo table of tests/interop/js/peer.mjs (demoTable), built column by column. */
static nb_status demo_table(nb_table **out)
{
    static const int32_t ids[] = {1, 2, 3};
    static const char names[] = "alpha" "b\xc3\xa9ta" "gamma";
    static const int32_t offsets[] = {0, 5, 10, 15};
    static const double scores[] = {0.5, 1.25, -3};
    nb_status s = nb_table_create(out);
    if (s == NB_OK)
        s = nb_table_add_column(*out, "id", NB_COL_INT32, 3, ids, NULL, NULL);
    if (s == NB_OK)
        s = nb_table_add_column(*out, "name", NB_COL_UTF8, 3, names, offsets, NULL);
    if (s == NB_OK)
        s = nb_table_add_column(*out, "score", NB_COL_FLOAT64, 3, scores, NULL, NULL);
    return s;
}

static nb_status add_payloads(nb_envelope *e, const nb_table *t, bool link)
{
    nb_payload *tbl = NULL, *rows = NULL;
    nb_status s = nb_payload_create_table(&tbl, "tbl", t, 2);
    if (s == NB_OK)
        s = nb_payload_create_jsontable(&rows, "rows", t);
    if (s == NB_OK && link)
        s = nb_payload_force_link(tbl, true);
    if (s == NB_OK && link)
        s = nb_payload_force_link(rows, true);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &tbl);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &rows);
    nb_payload_destroy(tbl);
    nb_payload_destroy(rows);
    return s;
}

static int cmd_send(const nb_options *o, const char *subject, bool link)
{
    nb_table *t = NULL;
    nb_envelope *e = NULL;
    nb_status s = demo_table(&t);
    if (s == NB_OK)
        s = nb_envelope_create(&e);
    if (s == NB_OK)
        s = nb_envelope_set_correlation_id(e, "corr-tableapi");
    if (s == NB_OK)
        s = add_payloads(e, t, link);
    if (s == NB_OK)
        s = nb_smartsend(subject, e, o);
    int rc = s == NB_OK ? 0 : lib_error("send");
    if (s == NB_OK)
        printf("%s\n", nb_envelope_json(e, NULL));
    nb_envelope_destroy(e);
    nb_table_destroy(t);
    return rc;
}

/* {"dataname","type","rows","columns":[{"name","type"}],"records":[...]} or NULL. */
static cJSON *describe(const nb_payload *p)
{
    nb_table *t = NULL;
    char *json = NULL;
    size_t len = 0;
    if (nb_payload_table(p, &t) != NB_OK || nb_table_to_json(t, &json, &len) != NB_OK) {
        lib_error(nb_payload_dataname(p));
        nb_table_destroy(t);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *cols = cJSON_AddArrayToObject(o, "columns");
    cJSON_AddStringToObject(o, "dataname", nb_payload_dataname(p));
    cJSON_AddStringToObject(o, "type", nb_payload_type_name(p));
    cJSON_AddNumberToObject(o, "rows", (double)nb_table_rows(t));
    for (size_t i = 0; i < nb_table_column_count(t); i++) {
        nb_column_view v;
        if (nb_table_column(t, i, &v) != NB_OK)
            continue;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", v.name);
        cJSON_AddStringToObject(c, "type", nb_table_type_name(v.type));
        cJSON_AddItemToArray(cols, c);
    }
    cJSON_AddItemToObject(o, "records", cJSON_ParseWithLength(json, len));
    free(json);
    nb_table_destroy(t);
    return o;
}

static int cmd_recv(const nb_options *o, const char *subject, int64_t timeout_ms)
{
    nb_client *c = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *e = NULL;
    nb_status s = nb_client_connect(&c, o);
    if (s == NB_OK)
        s = nb_client_subscribe_sync(c, &sub, subject, NULL);
    if (s == NB_OK)
        s = nb_client_flush(c, 5000);
    if (s == NB_OK) {
        fprintf(stderr, "ready: table_peer on %s\n", subject);
        s = nb_subscription_next(sub, timeout_ms, &e);
    }
    int rc = s == NB_OK ? 0 : s == NB_TIMEOUT ? 3 : lib_error("receive");
    cJSON *out = cJSON_CreateArray();
    for (size_t i = 0; rc == 0 && i < nb_envelope_payload_count(e); i++) {
        cJSON *d = describe(nb_envelope_payload(e, i));
        if (!d)
            rc = 2;
        cJSON_AddItemToArray(out, d);
    }
    char *text = rc == 0 ? cJSON_PrintUnformatted(out) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(out);
    nb_envelope_destroy(e);
    nb_subscription_destroy(sub);
    nb_client_destroy(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[1], "send") != 0 && strcmp(argv[1], "recv") != 0)) {
        fprintf(stderr, "usage: table_peer send NATS_URL FILESERVER_URL SUBJECT direct|link\n"
                        "       table_peer recv NATS_URL FILESERVER_URL SUBJECT TIMEOUT_SECONDS\n");
        return 1;
    }
    nb_options *o = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_url(o, argv[2]);
    if (s == NB_OK)
        s = nb_options_set_fileserver_url(o, argv[3]);
    if (s == NB_OK)
        s = nb_options_set_sender_name(o, "c-table");
    int rc = s != NB_OK                        ? lib_error("options")
             : strcmp(argv[1], "send") == 0 ? cmd_send(o, argv[4], strcmp(argv[5], "link") == 0)
                                            : cmd_recv(o, argv[4], (int64_t)atoi(argv[5]) * 1000);
    nb_options_destroy(o);
    return rc;
}
