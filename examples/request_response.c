/* SPDX-License-Identifier: MIT */
/*
 * request_response.c - a responder and a requester.
 *
 * The responder answers every envelope on its subject from a callback with
 * nb_client_reply, which publishes on the request's reply_to, sets
 * reply_to_msg_id to the request's msg_id, keeps the correlation_id and
 * addresses the request's sender. The requester sends with
 * nb_client_request and waits for the matching reply. Both run in this
 * process on two connections, as they would in two programs. NATS_URL says
 * where the server is (default nats://localhost:4222).
 */
#include <stdio.h>
#include <string.h>

#include <natsbridge.h>

#include "example.h" /* TRY, nats_url, example_connect */

/* The responder: called from a natsbridge thread for every request. */
static void on_request(nb_subscription *sub, nb_envelope *req, void *closure)
{
    (void)sub;
    nb_client *responder = closure;
    const char *question = nb_payload_text(nb_envelope_payload(req, 0));
    char text[256];
    snprintf(text, sizeof text, "processed: %s", question ? question : "(not text)");

    nb_envelope *reply = NULL;
    nb_payload *answer = NULL;
    nb_status s = nb_envelope_create(&reply);
    if (s == NB_OK)
        s = nb_payload_create_text(&answer, "answer", text);
    if (s == NB_OK)
        s = nb_envelope_add_payload(reply, &answer);
    if (s == NB_OK)
        s = nb_client_reply(responder, req, reply);
    if (s != NB_OK)
        fprintf(stderr, "responder: %s: %s\n", nb_status_text(s), nb_last_error());
    nb_payload_destroy(answer);
    nb_envelope_destroy(reply);
    nb_envelope_destroy(req); /* the callback owns the request */
}

int main(void)
{
    const char *subject = "/agent/v1/process";
    nb_client *responder = NULL, *requester = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *req = NULL, *reply = NULL;
    nb_payload *question = NULL;
    int rc = 1;

    /* The responder: subscribe with a callback (errors go to stderr when on_error is NULL). */
    TRY(example_connect(&responder, "agent-backend"));
    TRY(nb_client_subscribe(responder, &sub, subject, NULL, on_request, NULL, responder));
    /* Make sure the server knows the subscription before anyone asks. */
    TRY(nb_client_flush(responder, 2000));

    /* The requester: send and wait up to 5 s for the matching reply. */
    TRY(example_connect(&requester, "agent-wine-web-frontend"));
    TRY(nb_envelope_create(&req));
    TRY(nb_payload_create_text(&question, "prompt", "Which wine goes with fish?"));
    TRY(nb_envelope_add_payload(req, &question));
    TRY(nb_client_request(requester, subject, req, 5000, &reply));

    printf("request %s -> reply %s from %s\n", nb_envelope_msg_id(req),
           nb_envelope_msg_id(reply), nb_envelope_sender_name(reply));
    printf("answer: %s\n", nb_payload_text(nb_envelope_payload(reply, 0)));
    /* The reply names the request it answers. */
    if (strcmp(nb_envelope_reply_to_msg_id(reply), nb_envelope_msg_id(req)) != 0) {
        fprintf(stderr, "reply_to_msg_id %s does not match\n", nb_envelope_reply_to_msg_id(reply));
        goto done;
    }
    printf("reply_to_msg_id matches, correlation_id %s\n", nb_envelope_correlation_id(reply));
    rc = 0;

done:
    nb_payload_destroy(question);
    nb_envelope_destroy(reply);
    nb_envelope_destroy(req);
    nb_subscription_destroy(sub); /* waits for a running callback */
    nb_client_destroy(requester);
    nb_client_destroy(responder);
    return rc;
}
