/* SPDX-License-Identifier: MIT */
/*
 * bench_base64.c - base64 throughput per implementation (src/core/base64.c):
 * encode and decode of 100 B, 1 KiB, 64 KiB and 1 MiB, in GB/s of binary
 * bytes (the payload's size, not its text's), median of 7 samples. Also
 * runs the plain scalar codec the library had before issue 16 ("before"),
 * so that the speed-up is a ratio measured in the same run.
 *
 *   bench_base64 [--ms N]      (N: milliseconds per sample, default 20)
 *
 * Prints one machine-readable line per measurement:
 *   base64 impl=avx2 op=decode size=65536 gbps=6.12 vs_before=9.8
 */
#include "bench_util.h"

#include "base64.h"

#include <stdio.h>
#include <string.h>

/* ---- the scalar codec before issue 16 (4 look-ups per 3 bytes, 4 per 4 chars) ---- */

static const char old_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static uint8_t old_table[256];

static void old_init(void)
{
    memset(old_table, 255, sizeof old_table);
    for (int i = 0; i < 64; i++)
        old_table[(unsigned char)old_alphabet[i]] = (uint8_t)i;
}

static void old_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = old_alphabet[v >> 18];
        *out++ = old_alphabet[(v >> 12) & 63];
        *out++ = old_alphabet[(v >> 6) & 63];
        *out++ = old_alphabet[v & 63];
    }
    if (n - i) { /* the last 1 or 2 bytes, padded */
        uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = old_alphabet[v >> 18];
        *out++ = old_alphabet[(v >> 12) & 63];
        *out++ = n - i == 2 ? old_alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
}

/* Full groups only, as the old loop did them (the bench's texts are checked to match). */
static size_t old_decode(const char *in, size_t n, uint8_t *out)
{
    size_t o = 0, full = n / 4 * 4;
    while (full && in[full - 1] == '=')
        full -= 4; /* the last (padded) group is left out: a few bytes of 64 KiB */
    for (size_t i = 0; i < full; i += 4) {
        uint8_t a = old_table[(unsigned char)in[i]], b = old_table[(unsigned char)in[i + 1]],
                c = old_table[(unsigned char)in[i + 2]], d = old_table[(unsigned char)in[i + 3]];
        if ((a | b | c | d) >= 64)
            return 0;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    return o;
}

/* ---- timing ---- */

#define BEFORE (-1) /* the old scalar codec, as an implementation number */
#define SAMPLES 7

static double sample_ms = 20;
static volatile size_t sink; /* keeps the compiler from dropping the work */

static void run_once(int impl, int decode, const uint8_t *bytes, size_t n, char *text, size_t m,
                     uint8_t *back)
{
    if (!decode) {
        if (impl == BEFORE)
            old_encode(bytes, n, text);
        else
            nbi_base64_encode_with((nbi_base64_impl)impl, bytes, n, text);
        sink += (unsigned char)text[m / 2];
    } else if (impl == BEFORE) {
        sink += old_decode(text, m, back);
    } else {
        size_t len = 0;
        if (nbi_base64_decode_with((nbi_base64_impl)impl, text, m, back, &len) != NB_OK) {
            fprintf(stderr, "bench_base64: %s\n", nb_last_error());
            exit(1);
        }
        sink += len;
    }
}

/* GB/s of binary bytes: the median of SAMPLES samples of about sample_ms each. */
static double measure(int impl, int decode, const uint8_t *bytes, size_t n, char *text, size_t m,
                      uint8_t *back)
{
    /* Calibrate the repetitions of one sample. */
    long reps = 1;
    for (;;) {
        double t0 = bench_now_s();
        for (long r = 0; r < reps; r++)
            run_once(impl, decode, bytes, n, text, m, back);
        if ((bench_now_s() - t0) * 1e3 >= sample_ms / 4 || reps > (1L << 30))
            break;
        reps *= 2;
    }
    reps *= 4;
    double gbps[SAMPLES];
    for (int s = 0; s < SAMPLES; s++) {
        double t0 = bench_now_s();
        for (long r = 0; r < reps; r++)
            run_once(impl, decode, bytes, n, text, m, back);
        gbps[s] = (double)n * (double)reps / (bench_now_s() - t0) / 1e9;
    }
    return bench_median(gbps, SAMPLES);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            sample_ms = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_base64 [--ms N]\n");
            return 2;
        }
    }
    if (sample_ms <= 0)
        sample_ms = 20;
    old_init();
    static const size_t sizes[] = {100, 1024, 64 * 1024, 1024 * 1024};
    size_t maxn = sizes[sizeof sizes / sizeof sizes[0] - 1];
    uint8_t *bytes = malloc(maxn), *back = malloc(maxn + 3);
    char *text = malloc(nbi_base64_encoded_len(maxn));
    if (!bytes || !back || !text)
        return 1;
    uint32_t x = 16;
    for (size_t i = 0; i < maxn; i++) {
        x = x * 1103515245u + 12345u;
        bytes[i] = (uint8_t)(x >> 16);
    }
    printf("# base64 GB/s of binary bytes, median of %d samples; active: %s\n", SAMPLES,
           nbi_base64_impl_name(nbi_base64_impl_active()));
    printf("# %-8s %-7s %9s %8s %10s\n", "impl", "op", "size", "GB/s", "vs before");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], m = nbi_base64_encoded_len(n);
        nbi_base64_encode(bytes, n, text);
        for (int decode = 0; decode < 2; decode++) {
            double before = measure(BEFORE, decode, bytes, n, text, m, back);
            const char *op = decode ? "decode" : "encode";
            printf("base64 impl=%s op=%s size=%zu gbps=%.3f vs_before=1.0\n", "before", op, n, before);
            for (int impl = 0; impl < NBI_BASE64_IMPL_COUNT; impl++) {
                if (!nbi_base64_impl_available((nbi_base64_impl)impl))
                    continue;
                double g = measure(impl, decode, bytes, n, text, m, back);
                printf("base64 impl=%s op=%s size=%zu gbps=%.3f vs_before=%.1f\n",
                       nbi_base64_impl_name((nbi_base64_impl)impl), op, n, g, g / before);
            }
        }
    }
    free(bytes);
    free(back);
    free(text);
    return 0;
}
