/* SPDX-License-Identifier: MIT */
/*
 * bench_objstore.c - puts and gets one big object through a JetStream
 * Object Store bucket (file storage) on a local nats-server, streaming from
 * and to files, and prints the throughput and this process's peak RSS
 * (VmHWM) before and after each step: memory must stay flat whatever the
 * size, since at most 32 chunks (4 MiB) are in flight on a put and 32 chunks
 * are fetched at a time on a get.
 *
 *   build/bench/bench_objstore [MEGABYTES]   (default 200)
 *
 * Nothing is asserted; it exits 1 when a step fails or the bytes differ.
 */
#include "natsbridge.h"
#include "server.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A field of /proc/self/status in MiB ("VmHWM:" = peak RSS, "VmRSS:" = now). */
static double status_mib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atof(line + strlen(field));
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/* Writes mb MiB of pseudo-random bytes, one 1 MiB block at a time. */
static int make_file(const char *path, long mb)
{
    FILE *f = fopen(path, "wb");
    static unsigned char block[1 << 20];
    unsigned x = 2463534242u;
    for (long i = 0; f && i < mb; i++) {
        for (size_t j = 0; j < sizeof block; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            block[j] = (unsigned char)x;
        }
        if (fwrite(block, 1, sizeof block, f) != sizeof block)
            break;
    }
    return f && fclose(f) == 0 ? 0 : -1;
}

static int sha_of(const char *path, char hex[65])
{
    nb_payload *p = NULL;
    nb_status s = nb_payload_create_file(&p, "x", NB_TYPE_BINARY, path);
    if (s == NB_OK)
        s = nb_payload_sha256_hex(p, hex);
    nb_payload_destroy(p);
    return s == NB_OK ? 0 : -1;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_objstore: %s: %s\n", what, nb_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    long mb = argc > 1 ? atol(argv[1]) : 200;
    if (mb <= 0 || mb > 4096) {
        fprintf(stderr, "usage: bench_objstore [MEGABYTES 1..4096]\n");
        return 2;
    }
    char dir[] = "/tmp/nbbench-os-XXXXXX", src[64], dst[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(src, sizeof src, "%s/src.bin", dir);
    snprintf(dst, sizeof dst, "%s/dst.bin", dir);
    nbt_server srv;
    if (make_file(src, mb) != 0 || nbt_server_start(&srv, true, 0) != 0)
        return 1;
    nb_options *o = NULL;
    nb_client *c = NULL;
    nb_objstore *os = NULL;
    int rc = 1;
    nb_objstore_config cfg = {.bucket = "BENCH"};
    if (nb_options_create(&o) || nb_options_set_url(o, srv.url) || nb_client_connect(&c, o) ||
        nb_objstore_create(&os, c, &cfg)) {
        rc = fail("connect");
        goto out;
    }
    printf("object: %ld MiB (%ld chunks of 128 KiB), file storage, loopback\n", mb, mb * 8);
    printf("peak RSS after connect: %.1f MiB\n", status_mib("VmHWM:"));
    double t0 = bench_now_s();
    if (nb_objstore_put_file(os, "big", src, NULL) != NB_OK) {
        rc = fail("put");
        goto out;
    }
    double t1 = bench_now_s();
    printf("put: %.2f s, %.1f MB/s; peak RSS %.1f MiB\n", t1 - t0, mb * 1.048576 / (t1 - t0),
           status_mib("VmHWM:"));
    if (nb_objstore_get_file(os, "big", dst) != NB_OK) {
        rc = fail("get");
        goto out;
    }
    double t2 = bench_now_s();
    printf("get: %.2f s, %.1f MB/s; peak RSS %.1f MiB\n", t2 - t1, mb * 1.048576 / (t2 - t1),
           status_mib("VmHWM:"));
    char a[65], b[65];
    rc = sha_of(src, a) || sha_of(dst, b) || strcmp(a, b) != 0;
    printf("sha256 %s: %s\n", rc ? "DIFFERS" : "same", a);
out:
    nb_objstore_destroy(os);
    nb_client_destroy(c);
    nb_options_destroy(o);
    nbt_server_stop(&srv);
    unlink(src);
    unlink(dst);
    rmdir(dir);
    return rc;
}
