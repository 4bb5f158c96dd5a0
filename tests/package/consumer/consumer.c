/* SPDX-License-Identifier: MIT */
/*
 * consumer.c - a program built against an INSTALLED natsbridge by the package
 * tests (pkg-config, or the CMake package in consumer/CMakeLists.txt): builds
 * an envelope with one text payload, parses its JSON back and prints
 * "libnatsbridge VERSION: NAME=TEXT". No network: the text goes direct.
 */
#include <natsbridge.h>

#include <stdio.h>

static int failed(const char *what)
{
    fprintf(stderr, "consumer: %s: %s\n", what, nb_last_error());
    return 1;
}

int main(void)
{
    /* The header and the library found at run time must be the same release. */
    if (nb_version_number() != NB_VERSION_NUMBER) {
        fprintf(stderr, "consumer: header %s but library %s\n", NB_VERSION_STRING,
                nb_version_string());
        return 1;
    }
    nb_envelope *env = NULL, *back = NULL;
    nb_payload *p = NULL;
    int rc = 1;
    size_t len = 0;
    if (nb_envelope_create(&env) != NB_OK)
        rc = failed("nb_envelope_create");
    else if (nb_payload_create_text(&p, "greeting", "hello from an installed natsbridge") != NB_OK)
        rc = failed("nb_payload_create_text");
    else if (nb_envelope_add_payload(env, &p) != NB_OK)
        rc = failed("nb_envelope_add_payload");
    else if (nb_envelope_build(env, "package.test", NULL) != NB_OK)
        rc = failed("nb_envelope_build");
    else {
        const char *json = nb_envelope_json(env, &len);
        if (nb_envelope_parse(&back, json, len, NULL) != NB_OK)
            rc = failed("nb_envelope_parse");
    }
    if (back) {
        const nb_payload *got = nb_envelope_payload(back, 0);
        printf("libnatsbridge %s: %s=%s\n", nb_version_string(), nb_payload_dataname(got),
               nb_payload_text(got));
        rc = 0;
    }
    nb_payload_destroy(p);
    nb_envelope_destroy(env);
    nb_envelope_destroy(back);
    return rc;
}
