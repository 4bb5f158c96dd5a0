/* SPDX-License-Identifier: MIT */
/*
 * ack_service.c - the C side of the "device configuration" interop scenario:
 * a service on the natsbridge library that answers every request carrying a
 * dictionary payload "config" with msg_purpose "ACK" and a dictionary "ack"
 * ({"status":"applied","config_sha256":..,"keys":N}); anything else gets
 * msg_purpose "NACK" and a text "error" naming what was wrong.
 *
 * Usage: ack_service NATS_URL SUBJECT COUNT TIMEOUT_SECONDS
 * Prints "ready" on stderr once subscribed and one line per answer on stdout;
 * exits 0 after COUNT answers, 1 on a usage error, 2 on a library error,
 * 3 when TIMEOUT_SECONDS passed first.
 */
#include <natsbridge.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dictionary payload "config" of req, or NULL. */
static const nb_payload *find_config(const nb_envelope *req)
{
    for (size_t i = 0; i < nb_envelope_payload_count(req); i++) {
        const nb_payload *p = nb_envelope_payload(req, i);
        if (strcmp(nb_payload_dataname(p), "config") == 0 &&
            nb_payload_type(p) == NB_TYPE_DICTIONARY)
            return p;
    }
    return NULL;
}

/* The ACK (or NACK) envelope for req; NULL on a library error. */
static nb_envelope *answer_for(const nb_envelope *req)
{
    nb_envelope *rep = NULL;
    nb_payload *p = NULL;
    const nb_payload *cfg = find_config(req);
    char sha[65];
    nb_status s = nb_envelope_create(&rep);
    if (s == NB_OK && cfg && nb_payload_sha256_hex(cfg, sha) == NB_OK) {
        const cJSON *json = nb_payload_json(cfg);
        cJSON *ack = cJSON_CreateObject();
        cJSON_AddStringToObject(ack, "status", "applied");
        cJSON_AddStringToObject(ack, "config_sha256", sha);
        cJSON_AddNumberToObject(ack, "keys", cJSON_IsObject(json) ? cJSON_GetArraySize(json) : 0);
        s = nb_payload_create_dict(&p, "ack", ack);
        cJSON_Delete(ack);
        if (s == NB_OK)
            s = nb_envelope_set_msg_purpose(rep, "ACK");
    } else if (s == NB_OK) {
        s = nb_payload_create_text(&p, "error", "no dictionary payload named 'config'");
        if (s == NB_OK)
            s = nb_envelope_set_msg_purpose(rep, "NACK");
    }
    if (s == NB_OK)
        s = nb_envelope_set_sender_name(rep, "c-config-service");
    if (s == NB_OK)
        s = nb_envelope_add_payload(rep, &p);
    nb_payload_destroy(p);
    if (s != NB_OK) {
        fprintf(stderr, "ack_service: %s\n", nb_last_error());
        nb_envelope_destroy(rep);
        return NULL;
    }
    return rep;
}

/* Answers count requests on sub; returns the exit status. */
static int serve(nb_client *c, nb_subscription *sub, int count, int64_t timeout_ms)
{
    for (int answered = 0; answered < count;) {
        nb_envelope *req = NULL;
        nb_status s = nb_subscription_next(sub, timeout_ms, &req);
        if (s == NB_TIMEOUT) {
            fprintf(stderr, "ack_service: no request within the timeout\n");
            return 3;
        }
        if (s != NB_OK) { /* a bad message: reported, and the service goes on */
            fprintf(stderr, "ack_service: dropped a message: %s\n", nb_last_error());
            continue;
        }
        nb_envelope *rep = answer_for(req);
        s = rep ? nb_client_reply(c, req, rep) : NB_INTERNAL;
        if (s == NB_OK)
            printf("answered %s with %s\n", nb_envelope_msg_id(req), nb_envelope_msg_purpose(rep));
        else
            fprintf(stderr, "ack_service: reply failed: %s\n", nb_last_error());
        fflush(stdout);
        nb_envelope_destroy(rep);
        nb_envelope_destroy(req);
        if (s != NB_OK)
            return 2;
        answered++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ack_service NATS_URL SUBJECT COUNT TIMEOUT_SECONDS\n");
        return 1;
    }
    nb_options *o = NULL;
    nb_client *c = NULL;
    nb_subscription *sub = NULL;
    nb_status s = nb_options_create(&o);
    if (s == NB_OK)
        s = nb_options_set_url(o, argv[1]);
    if (s == NB_OK)
        s = nb_client_connect(&c, o);
    if (s == NB_OK)
        s = nb_client_subscribe_sync(c, &sub, argv[2], NULL);
    if (s == NB_OK)
        s = nb_client_flush(c, 5000);
    int rc = 2;
    if (s == NB_OK) {
        fprintf(stderr, "ready: ack_service on %s\n", argv[2]);
        rc = serve(c, sub, atoi(argv[3]), (int64_t)atoi(argv[4]) * 1000);
    } else {
        fprintf(stderr, "ack_service: %s\n", nb_last_error());
    }
    nb_subscription_destroy(sub);
    nb_client_destroy(c);
    nb_options_destroy(o);
    return rc;
}
