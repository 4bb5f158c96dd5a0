/* SPDX-License-Identifier: MIT */
/*
 * json_config.c - send a configuration as a dictionary payload and read its
 * fields on the receiving side.
 *
 * A dictionary payload travels as JSON text. The sender builds it from a
 * cJSON tree (nb_payload_create_dict) or from JSON text
 * (nb_payload_create_dict_json); the receiver gets both the text and the
 * parsed tree (nb_payload_json). NATS_URL says where the server is
 * (default nats://localhost:4222).
 */
#include <stdio.h>

#include <cjson/cJSON.h>
#include <natsbridge.h>

#include "example.h" /* TRY, nats_url, example_connect */

/* The sender's side: the configuration as a cJSON tree. */
static cJSON *make_config(void)
{
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "model", "wine-sommelier-v2");
    cJSON_AddNumberToObject(cfg, "temperature", 0.7);
    cJSON_AddNumberToObject(cfg, "max_tokens", 512);
    cJSON_AddBoolToObject(cfg, "stream", 0);
    cJSON *langs = cJSON_AddArrayToObject(cfg, "languages");
    cJSON_AddItemToArray(langs, cJSON_CreateString("en"));
    cJSON_AddItemToArray(langs, cJSON_CreateString("fr"));
    return cfg;
}

/* The receiver's side: read the fields it needs from the parsed tree. */
static void print_config(const nb_payload *p)
{
    const cJSON *cfg = nb_payload_json(p); /* a view: owned by the envelope */
    const cJSON *langs = cJSON_GetObjectItem(cfg, "languages");
    printf("config '%s': model=%s temperature=%.1f max_tokens=%d stream=%s languages=%d\n",
           nb_payload_dataname(p), cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "model")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "temperature")),
           (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "max_tokens")),
           cJSON_IsTrue(cJSON_GetObjectItem(cfg, "stream")) ? "true" : "false",
           cJSON_GetArraySize(langs));
    printf("as JSON text: %s\n", nb_payload_text(p));
}

int main(void)
{
    const char *subject = "/agent/v1/config";
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *msg = NULL, *got = NULL;
    nb_payload *payload = NULL;
    cJSON *cfg = make_config();
    int rc = 1;

    TRY(example_connect(&client, NULL));
    TRY(nb_client_subscribe_sync(client, &sub, subject, NULL));

    /* The tree is borrowed: serialized now, so it can be freed right after. */
    TRY(nb_envelope_create(&msg));
    TRY(nb_payload_create_dict(&payload, "config", cfg));
    TRY(nb_envelope_add_payload(msg, &payload));
    /* The same kind of payload from JSON text: */
    TRY(nb_payload_create_dict_json(&payload, "limits", "{\"rate_per_minute\": 60}"));
    TRY(nb_envelope_add_payload(msg, &payload));
    TRY(nb_client_send(client, subject, msg));

    TRY(nb_subscription_next(sub, 5000, &got));
    print_config(nb_envelope_payload(got, 0));
    const cJSON *limits = nb_payload_json(nb_envelope_payload(got, 1));
    printf("limits: rate_per_minute=%d\n",
           (int)cJSON_GetNumberValue(cJSON_GetObjectItem(limits, "rate_per_minute")));
    rc = 0;

done:
    cJSON_Delete(cfg);
    nb_payload_destroy(payload);
    nb_envelope_destroy(got);
    nb_envelope_destroy(msg);
    nb_subscription_destroy(sub);
    nb_client_destroy(client);
    return rc;
}
