/* SPDX-License-Identifier: MIT */
/*
 * basic_text.c - send one text message and receive it.
 *
 * The smallest natsbridge program: one client (one NATS connection)
 * subscribes to a subject, sends a text payload on it, and prints what
 * arrives. Start a nats-server first; NATS_URL says where it is
 * (default nats://localhost:4222).
 *
 * The peers write the same thing as
 *     smartsend("/chat/room1", [("msg", "Hello ...", "text")])
 */
#include <stdio.h>

#include <natsbridge.h>

/* TRY(call): on failure print the reason, from nb_last_error(), and goto done.
 * nats_url(): $NATS_URL or the default. */
#include "example.h"

int main(void)
{
    const char *subject = "/chat/room1";
    nb_options *opts = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *msg = NULL, *got = NULL;
    nb_payload *text = NULL;
    int rc = 1;

    /* Options: where the server is and who we are; the rest keeps the peers' defaults.
     * (The other examples take these steps in one call, example_connect().) */
    TRY(nb_options_create(&opts));
    TRY(nb_options_set_url(opts, nats_url()));
    TRY(nb_options_set_sender_name(opts, "basic-text-example"));

    /* One client = one connection, reused for every send and subscription. */
    TRY(nb_client_connect(&client, opts));

    /* Subscribe before sending, so that the message has somewhere to go. */
    TRY(nb_client_subscribe_sync(client, &sub, subject, NULL));

    /* An envelope holds one or more payloads; the payload is copied in. */
    TRY(nb_envelope_create(&msg));
    TRY(nb_payload_create_text(&text, "msg", "Hello from C, h\xc3\xa9llo w\xc3\xb6rld!"));
    TRY(nb_envelope_add_payload(msg, &text)); /* taken: text is now NULL */

    /* smartsend: fills msg_id, timestamp, ..., encodes and publishes. */
    TRY(nb_client_send(client, subject, msg));
    printf("sent message %s on %s\n", nb_envelope_msg_id(msg), subject);

    /* smartreceive: the next envelope, decoded, or NB_TIMEOUT after 5 s. */
    TRY(nb_subscription_next(sub, 5000, &got));
    const nb_payload *p = nb_envelope_payload(got, 0);
    printf("received from %s: %s '%s': %s\n", nb_envelope_sender_name(got),
           nb_payload_type_name(p), nb_payload_dataname(p), nb_payload_text(p));
    rc = 0;

done:
    nb_payload_destroy(text);
    nb_envelope_destroy(got);
    nb_envelope_destroy(msg);
    nb_subscription_destroy(sub);
    nb_client_destroy(client);
    nb_options_destroy(opts);
    return rc;
}
