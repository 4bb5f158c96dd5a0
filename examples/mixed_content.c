/* SPDX-License-Identifier: MIT */
/*
 * mixed_content.c - a text and an image in one message.
 *
 * An envelope carries any number of payloads of any types, in order. Here a
 * caption (text) travels with a small generated image (raw bytes that start
 * like a PNG file), which also carries its own metadata. NATS_URL says
 * where the server is (default nats://localhost:4222).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <natsbridge.h>

#include "example.h" /* TRY, nats_url, example_connect */

#define IMAGE_SIDE 32
#define IMAGE_SIZE (8 + IMAGE_SIDE * IMAGE_SIDE * 3)

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* A PNG-like byte array: the PNG signature, then a 32x32 RGB gradient. */
static void make_image(uint8_t *img)
{
    memcpy(img, png_signature, sizeof png_signature);
    uint8_t *px = img + sizeof png_signature;
    for (int y = 0; y < IMAGE_SIDE; y++)
        for (int x = 0; x < IMAGE_SIDE; x++, px += 3) {
            px[0] = (uint8_t)(x * 8);
            px[1] = (uint8_t)(y * 8);
            px[2] = 128;
        }
}

/* The receiver's side: walk the payloads in order and handle each by type. */
static void print_payloads(const nb_envelope *env)
{
    for (size_t i = 0; i < nb_envelope_payload_count(env); i++) {
        const nb_payload *p = nb_envelope_payload(env, i);
        printf("payload %zu: '%s' (%s, %llu bytes)", i, nb_payload_dataname(p),
               nb_payload_type_name(p), (unsigned long long)nb_payload_size(p));
        if (nb_payload_type(p) == NB_TYPE_TEXT) {
            printf(": %s\n", nb_payload_text(p));
        } else if (nb_payload_type(p) == NB_TYPE_IMAGE) {
            size_t len = 0;
            const uint8_t *bytes = nb_payload_data(p, &len);
            bool png = bytes && len >= 8 && memcmp(bytes, png_signature, 8) == 0;
            char *meta = cJSON_PrintUnformatted(nb_payload_metadata(p));
            printf(": %s, metadata %s\n", png ? "PNG signature ok" : "not a PNG", meta);
            cJSON_free(meta);
        } else {
            printf("\n");
        }
    }
}

int main(void)
{
    const char *subject = "/chat/room1/media";
    static uint8_t image[IMAGE_SIZE];
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *msg = NULL, *got = NULL;
    nb_payload *caption = NULL, *picture = NULL;
    int rc = 1;

    make_image(image);
    TRY(example_connect(&client, NULL));
    TRY(nb_client_subscribe_sync(client, &sub, subject, NULL));

    TRY(nb_envelope_create(&msg));
    TRY(nb_payload_create_text(&caption, "caption", "Sunset over the vineyard"));
    TRY(nb_envelope_add_payload(msg, &caption));
    TRY(nb_payload_create(&picture, "sunset.png", NB_TYPE_IMAGE, image, sizeof image));
    TRY(nb_payload_set_metadata_json(picture, "{\"width\":32,\"height\":32}"));
    TRY(nb_envelope_add_payload(msg, &picture));
    TRY(nb_client_send(client, subject, msg));
    printf("sent %zu payloads\n", nb_envelope_payload_count(msg));

    TRY(nb_subscription_next(sub, 5000, &got));
    print_payloads(got);
    rc = 0;

done:
    nb_payload_destroy(caption);
    nb_payload_destroy(picture);
    nb_envelope_destroy(got);
    nb_envelope_destroy(msg);
    nb_subscription_destroy(sub);
    nb_client_destroy(client);
    return rc;
}
