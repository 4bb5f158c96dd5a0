/* SPDX-License-Identifier: MIT */
/*
 * bench_codec.c - the envelope codec alone, no NATS: builds, parses and
 * destroys envelopes of one payload (100 B text, 1 KiB dictionary, 64 KiB
 * binary) and prints the time per round trip.
 *
 *   bench_codec [--case text|dict|bin64k|all] [--iters N] [--phase both|build|parse]
 *
 * Time on this shared machine is noisy; for stable figures count
 * instructions with bench/codec_instructions.sh, which runs this program
 * under callgrind twice (N and 2N iterations) and prints the difference per
 * round trip, so that start-up costs cancel out.
 */
#include "bench_util.h"

#include <natsbridge.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CASE_TEXT, CASE_DICT, CASE_BIN64K, CASE_COUNT };
static const char *const case_names[CASE_COUNT] = {"text", "dict", "bin64k"};

static void die(const char *what, nb_status s)
{
    fprintf(stderr, "bench_codec: %s: %s (%s)\n", what, nb_status_text(s), nb_last_error());
    exit(1);
}

/* A 1 KiB JSON object shaped like a configuration: strings, numbers, nesting. */
static char *make_dict(void)
{
    size_t cap = 2048, len = 0;
    char *s = malloc(cap);
    if (!s)
        exit(1);
    len += (size_t)snprintf(s + len, cap - len, "{\"service\":\"inventory\",\"items\":[");
    for (int i = 0; len < 960; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s{\"id\":%d,\"name\":\"item-%d\",\"price\":%d.25}",
                                i ? "," : "", i, i, i * 3);
    snprintf(s + len, cap - len, "],\"ok\":true}");
    return s;
}

static nb_payload *make_payload(int which)
{
    nb_payload *p = NULL;
    nb_status s = NB_OK;
    if (which == CASE_TEXT) {
        char text[101];
        memset(text, 'x', 100);
        text[100] = '\0';
        s = nb_payload_create_text(&p, "msg", text);
    } else if (which == CASE_DICT) {
        static char *json; /* made once: formatting it is the bench's cost, not the codec's */
        if (!json)
            json = make_dict();
        s = nb_payload_create_dict_json(&p, "cfg", json);
    } else {
        enum { N = 64 * 1024 };
        static unsigned char bytes[N]; /* filled once, as the dictionary */
        if (!bytes[0])
            for (size_t i = 0; i < N; i++)
                bytes[i] = (unsigned char)(i * 131 + 7);
        s = nb_payload_create(&p, "blob", NB_TYPE_BINARY, bytes, N);
    }
    if (s != NB_OK)
        die("payload", s);
    return p;
}

/* One envelope built from a fresh payload (what a sender does per message). */
static nb_envelope *build_one(int which)
{
    nb_envelope *e = NULL;
    nb_status s = nb_envelope_create(&e);
    nb_payload *p = make_payload(which);
    if (s == NB_OK)
        s = nb_envelope_add_payload(e, &p);
    if (s == NB_OK)
        s = nb_envelope_build(e, "bench.codec", NULL);
    if (s != NB_OK)
        die("build", s);
    return e;
}

static void parse_one(const char *json, size_t len)
{
    nb_envelope *in = NULL;
    nb_status s = nb_envelope_parse(&in, json, len, NULL);
    if (s != NB_OK)
        die("parse", s);
    nb_envelope_destroy(in);
}

static void run_case(int which, long iters, const char *phase)
{
    bool build = strcmp(phase, "parse") != 0, parse = strcmp(phase, "build") != 0;
    nb_envelope *sample = build_one(which); /* the text the parse-only phase reads */
    size_t len = 0;
    const char *json = nb_envelope_json(sample, &len);
    double t0 = bench_now_s();
    for (long i = 0; i < iters; i++) {
        if (build) {
            nb_envelope *e = build_one(which);
            size_t n = 0;
            const char *text = nb_envelope_json(e, &n);
            if (parse)
                parse_one(text, n);
            nb_envelope_destroy(e);
        } else if (parse) {
            parse_one(json, len);
        }
    }
    double dt = bench_now_s() - t0;
    printf("codec case=%s phase=%s wire_bytes=%zu iters=%ld ns_per_op=%.0f\n", case_names[which],
           phase, len, iters, iters ? dt * 1e9 / (double)iters : 0.0);
    nb_envelope_destroy(sample);
}

int main(int argc, char **argv)
{
    const char *which = "all", *phase = "both";
    long iters = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--case"))
            which = argv[i + 1];
        else if (!strcmp(argv[i], "--iters"))
            iters = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--phase"))
            phase = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_codec [--case text|dict|bin64k|all] [--iters N] "
                            "[--phase both|build|parse]\n");
            return 2;
        }
    }
    if (strcmp(phase, "both") && strcmp(phase, "build") && strcmp(phase, "parse")) {
        fprintf(stderr, "bench_codec: --phase must be both, build or parse\n");
        return 2;
    }
    int ran = 0;
    for (int c = 0; c < CASE_COUNT; c++) {
        if (!strcmp(which, "all") || !strcmp(which, case_names[c])) {
            run_case(c, iters, phase);
            ran++;
        }
    }
    if (!ran) {
        fprintf(stderr, "bench_codec: unknown --case %s (text, dict, bin64k or all)\n", which);
        return 2;
    }
    return 0;
}
