/* SPDX-License-Identifier: MIT */
/*
 * objstore_link.c - a large payload by claim-check in a JetStream Object Store.
 *
 * A payload at or over the size threshold (1,000,000 bytes by default) does
 * not travel inside the envelope: it is stored elsewhere and only a link
 * travels. With nb_options_set_link_store("nats-os://BUCKET") that elsewhere
 * is an Object Store bucket on the NATS server itself (no HTTP file server):
 * the bytes go in 128 KiB chunks, the envelope carries
 * nats-os://BUCKET/NAME, and the receiver fetches the object over its own
 * NATS connection and checks its size and SHA-256 before handing it over.
 * A receiver fetches only from the bucket its own options name for links
 * and from buckets it allows (nb_options_add_allowed_origin with
 * "nats-os://OTHER"): a sender cannot make it read any bucket its
 * credentials happen to reach. The server needs JetStream (nats-server -js). NATS_URL says where it is
 * (default nats://localhost:4222).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <natsbridge.h>

#include "example.h" /* TRY, nats_url */

#define BUCKET "EXAMPLES"
#define SCAN_SIZE (3 * 1000 * 1000) /* 3 MB: over the threshold, so it goes by link */

/* Stand-in for a large file (a scan, a model, a video): reproducible bytes. */
static uint8_t *make_scan(void)
{
    uint8_t *scan = malloc(SCAN_SIZE);
    uint32_t x = 2463534242u;
    for (size_t i = 0; scan && i < SCAN_SIZE; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
        scan[i] = (uint8_t)x;
    }
    return scan;
}

int main(void)
{
    const char *subject = "/lab/scans";
    nb_options *opts = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *msg = NULL, *got = NULL, *other = NULL;
    nb_payload *payload = NULL;
    nb_objstore *bucket = NULL;
    nb_object_info info = {0};
    bool sent = false;
    int rc = 1;

    uint8_t *scan = make_scan();
    if (!scan) {
        fprintf(stderr, "out of memory for %d bytes\n", SCAN_SIZE);
        return 1;
    }
    TRY(nb_options_create(&opts));
    TRY(nb_options_set_url(opts, nats_url()));
    TRY(nb_options_set_link_store(opts, "nats-os://" BUCKET)); /* made when missing */
    TRY(nb_client_connect(&client, opts));
    TRY(nb_client_subscribe_sync(client, &sub, subject, NULL));

    TRY(nb_envelope_create(&msg));
    TRY(nb_payload_create(&payload, "scan.raw", NB_TYPE_BINARY, scan, SCAN_SIZE));
    TRY(nb_envelope_add_payload(msg, &payload));
    TRY(nb_client_send(client, subject, msg)); /* stores the object, then publishes */
    sent = true;
    const nb_payload *out = nb_envelope_payload(msg, 0);
    printf("sent '%s' by %s: %s\n", nb_payload_dataname(out),
           nb_transport_name(nb_payload_transport(out)), nb_payload_url(out));
    printf("envelope on the wire: %zu bytes for a %d-byte payload\n",
           strlen(nb_envelope_json(msg, NULL)), SCAN_SIZE);

    /* The receiver: the object is fetched and verified before next() returns. */
    TRY(nb_subscription_next(sub, 10000, &got));
    const nb_payload *in = nb_envelope_payload(got, 0);
    size_t len = 0;
    const uint8_t *bytes = nb_payload_data(in, &len);
    char sha[65];
    TRY(nb_payload_sha256_hex(in, sha));
    printf("received '%s' by %s: %zu bytes, sha256 %.16s...\n", nb_payload_dataname(in),
           nb_transport_name(nb_payload_transport(in)), len, sha);
    if (!bytes || len != SCAN_SIZE || memcmp(bytes, scan, SCAN_SIZE) != 0) {
        fprintf(stderr, "the received bytes differ from the sent ones\n");
        goto done;
    }
    printf("bytes match\n");

    /* A receiver whose options name another bucket refuses the link before reading a byte. */
    TRY(nb_options_set_link_store(opts, "nats-os://OTHER"));
    nb_status refused = nb_envelope_parse(&other, nb_envelope_json(msg, NULL),
                                          strlen(nb_envelope_json(msg, NULL)), opts);
    printf("a receiver reading only OTHER: %s (%s)\n", nb_status_text(refused), nb_last_error());
    if (refused != NB_NOT_ALLOWED)
        goto done;

    /* The object itself, as any NATS client (nats.go, nats.js, ...) sees it. */
    /* nats-os://BUCKET/NAME; NAME is <uuid>/<dataname>, percent-encoded (none needed here). */
    const char *url = nb_payload_url(in), *prefix = "nats-os://" BUCKET "/";
    if (nb_payload_transport(in) != NB_TRANSPORT_LINK || !url ||
        strncmp(url, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "expected a link into %s, got %s\n", BUCKET, url ? url : "no URL");
        goto done;
    }
    const char *name = url + strlen(prefix);
    TRY(nb_objstore_open(&bucket, client, BUCKET));
    TRY(nb_objstore_get_info(bucket, name, &info));
    printf("object in bucket %s: %llu bytes in %u chunks, digest %.20s...\n", info.bucket,
           (unsigned long long)info.size, (unsigned)info.chunks, info.digest);
    rc = 0;

done:
    nb_object_info_clear(&info);
    nb_objstore_destroy(bucket);
    if (sent && nb_objstore_delete_bucket(client, BUCKET) != NB_OK) /* leave nothing behind */
        fprintf(stderr, "deleting bucket %s: %s\n", BUCKET, nb_last_error());
    nb_payload_destroy(payload);
    nb_envelope_destroy(got);
    nb_envelope_destroy(other);
    nb_envelope_destroy(msg);
    nb_subscription_destroy(sub);
    nb_client_destroy(client);
    nb_options_destroy(opts);
    free(scan);
    return rc;
}
