/* SPDX-License-Identifier: MIT */
/*
 * test_ids.c - UUIDs stay unique across fork(): the parent fills its random
 * pool, forks children that each make UUIDs, and every UUID of every process
 * is compared (issue 11 item 3); UUID text, version and variant bits; the
 * timestamp formatter and its per-thread cache across second, minute, day,
 * month and year boundaries, against gmtime_r + strftime (issue 16).
 */
#include "test.h"

#include "ids.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 4
#define PER_PROCESS 200
#define TOTAL ((CHILDREN + 1) * PER_PROCESS)

static char ids[TOTAL][NBI_UUID_LEN + 1];

static int by_text(const void *a, const void *b) { return strcmp(a, b); }

/* Reads exactly n bytes from fd within 10 s; false on EOF, error or timeout. */
static bool read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    for (int waited = 0; got < n && waited < 100;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r == 0) {
            waited++;
            continue;
        }
        ssize_t k = r > 0 ? read(fd, buf + got, n - got) : -1;
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return got == n;
}

/* The child: PER_PROCESS UUIDs into fd, then _exit (no atexit handlers of the test). */
static void child_main(int fd)
{
    char batch[PER_PROCESS][NBI_UUID_LEN + 1];
    for (int i = 0; i < PER_PROCESS; i++)
        nbi_uuid4(batch[i]);
    ssize_t w = write(fd, batch, sizeof batch); /* 7,400 bytes: one write on Linux pipes */
    _exit(w == (ssize_t)sizeof batch ? 0 : 1);
}

NBT_CASE(unique_across_fork)
{
    char first[NBI_UUID_LEN + 1];
    nbi_uuid4(first); /* fills this thread's pool: the children inherit a copy of it */
    CHECK(nbi_is_uuid(first));
    int fds[CHILDREN][2];
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        CHECK(pipe(fds[c]) == 0);
        pids[c] = fork();
        CHECK(pids[c] >= 0);
        if (pids[c] == 0) {
            close(fds[c][0]);
            child_main(fds[c][1]);
        }
        close(fds[c][1]);
    }
    for (int i = 0; i < PER_PROCESS; i++)
        nbi_uuid4(ids[i]);
    bool all_read = true;
    for (int c = 0; c < CHILDREN; c++) {
        all_read = read_exact(fds[c][0], ids[(c + 1) * PER_PROCESS], sizeof ids[0] * PER_PROCESS) &&
                   all_read;
        close(fds[c][0]);
        int status = 0;
        if (!all_read)
            kill(pids[c], SIGKILL);
        waitpid(pids[c], &status, 0);
        all_read = all_read && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(all_read);
    qsort(ids, TOTAL, sizeof ids[0], by_text);
    size_t dups = 0;
    for (int i = 1; i < TOTAL; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    for (int i = 0; i < TOTAL; i++)
        dups += strcmp(ids[i], first) == 0;
    if (dups)
        fprintf(stderr, "%zu duplicate UUIDs among %d from %d processes\n", dups, TOTAL,
                CHILDREN + 1);
    CHECK(dups == 0);
}

/* A pool discarded in a child is refilled there: the child still makes valid, distinct UUIDs. */
NBT_CASE(child_refills)
{
    char a[NBI_UUID_LEN + 1];
    nbi_uuid4(a);
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char x[NBI_UUID_LEN + 1], y[NBI_UUID_LEN + 1];
        nbi_uuid4(x);
        nbi_uuid4(y);
        char ok = nbi_is_uuid(x) && nbi_is_uuid(y) && strcmp(x, y) != 0 && x[14] == '4';
        _exit(write(fd[1], &ok, 1) == 1 && ok ? 0 : 1);
    }
    close(fd[1]);
    char ok = 0;
    bool got = read_exact(fd[0], &ok, 1);
    close(fd[0]);
    int status = 0;
    if (!got)
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CHECK(got && ok && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The timestamp of sec.nsec by libc: the reference the hand-written formatter must match. */
static void reference_timestamp(char out[NBI_TIMESTAMP_LEN + 1], int64_t sec, long nsec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    CHECK(gmtime_r(&t, &tm) != NULL);
    char secs[32];
    CHECK(strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm) == 19);
    char text[64];
    snprintf(text, sizeof text, "%.19s.%03dZ", secs, (int)(nsec / 1000000 % 1000));
    CHECK(strlen(text) == NBI_TIMESTAMP_LEN);
    memcpy(out, text, NBI_TIMESTAMP_LEN + 1);
}

/* Formats sec.nsec and compares it with libc's text; counts mismatches, printing the first few. */
static int check_time(int64_t sec, long nsec)
{
    char got[NBI_TIMESTAMP_LEN + 2], want[NBI_TIMESTAMP_LEN + 1];
    memset(got, '#', sizeof got);
    nbi_timestamp_at(got, sec, nsec);
    reference_timestamp(want, sec, nsec);
    bool ok = got[NBI_TIMESTAMP_LEN] == '\0' && strcmp(got, want) == 0 &&
              got[NBI_TIMESTAMP_LEN + 1] == '#';
    static int printed;
    if (!ok && printed++ < 10)
        fprintf(stderr, "time %lld.%09ld: got '%.25s', want '%s'\n", (long long)sec, nsec, got,
                want);
    return !ok;
}

/* Seconds either side of each boundary, in order, so that the cache sees every change. */
NBT_CASE(timestamp_boundaries)
{
    static const int64_t marks[] = {
        0,             /* 1970-01-01T00:00:00 */
        1773385370,    /* 2026-03-13T07:02:50: the PROTOCOL.md example second */
        1773385380,    /* a minute boundary follows at :03:00 */
        1773388800,    /* 2026-03-13T08:00:00, an hour */
        1773446400,    /* 2026-03-14T00:00:00, a day */
        1772323200,    /* 2026-03-01T00:00:00, a month after a 28-day February */
        951782400,     /* 2000-02-29T00:00:00, a leap day of a century year */
        951868800,     /* 2000-03-01 */
        1798761600,    /* 2027-01-01T00:00:00, a year */
        4107542400,    /* 2100-03-01 after a February of 28 days (not a leap year) */
        253402300799,  /* 9999-12-31T23:59:59, the last second with four digits */
    };
    int bad = 0;
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++)
        for (int64_t d = -2; d <= 2; d++)
            for (long ms = 0; ms < 1000; ms += 333)
                bad += marks[m] + d <= 253402300799 ? check_time(marks[m] + d, ms * 1000000 + 999) : 0;
    /* Every second of one 25-hour stretch across a year's end (2026 -> 2027), in order. */
    for (int64_t t = 1798761600 - 3600; t <= 1798761600 + 86400; t++)
        bad += check_time(t, (long)(t % 1000) * 1000000);
    /* Backwards in time (a clock set back): the cache must notice any change, not only increases. */
    for (int64_t t = 1798761600 + 90; t >= 1798761600 - 90; t -= 7)
        bad += check_time(t, 0);
    /* Milliseconds are truncated, never rounded: 999.9999 ms is .999. */
    bad += check_time(1773385370, 999999999);
    CHECK(bad == 0);
}

/* One day in each month of forty years, and whole days that skip around: the date cache's reformatting. */
NBT_CASE(timestamp_dates)
{
    int bad = 0;
    for (int64_t day = 0; day < 40 * 366; day += 17)
        bad += check_time(day * 86400 + (day % 86400), 123456789);
    for (int64_t day = 40 * 366; day > 0; day -= 1001)
        bad += check_time(day * 86400 + 86399, 0);
    CHECK(bad == 0);
}

/* Outside 0000-9999 the text is clamped, never longer than 24 bytes. */
NBT_CASE(timestamp_clamped)
{
    char out[NBI_TIMESTAMP_LEN + 2];
    memset(out, '#', sizeof out);
    nbi_timestamp_at(out, INT64_MAX, 5000000);
    CHECK_STR(out, "9999-12-31T23:59:59.005Z");
    CHECK(out[NBI_TIMESTAMP_LEN + 1] == '#');
    nbi_timestamp_at(out, INT64_MIN, 0);
    CHECK_STR(out, "0000-01-01T00:00:00.000Z");
    nbi_timestamp_at(out, -1, 0);
    CHECK_STR(out, "1969-12-31T23:59:59.000Z");
}

/* The current time: 24 bytes of the format, within a second of time(). */
NBT_CASE(timestamp_now)
{
    char now[NBI_TIMESTAMP_LEN + 1], want[NBI_TIMESTAMP_LEN + 1];
    /* The same clock as nbi_timestamp_now: time() reads a coarse clock that may lag it by a tick. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t before = ts.tv_sec;
    nbi_timestamp_now(now);
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    CHECK(strlen(now) == NBI_TIMESTAMP_LEN && now[23] == 'Z' && now[19] == '.');
    bool matches = false;
    for (time_t t = before; t <= after; t++) {
        reference_timestamp(want, (int64_t)t, 0);
        matches = matches || memcmp(now, want, 19) == 0;
    }
    CHECK(matches);
}

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* Text shape, lowercase hex, version 4 and variant 10xx in every UUID; the bits are random elsewhere. */
NBT_CASE(uuid_format_version_variant)
{
    static const uint8_t bytes[16] = {0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                                      0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0xff};
    char text[NBI_UUID_LEN + 2];
    memset(text, '#', sizeof text);
    nbi_uuid_format(bytes, text);
    CHECK_STR(text, "00012345-6789-abcd-effe-dcba987654ff");
    CHECK(text[NBI_UUID_LEN + 1] == '#');
    unsigned ones[32] = {0}; /* per hex digit of the random part: how often each bit was 1 */
    enum { N = 2000 };
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char u[NBI_UUID_LEN + 1];
        nbi_uuid4(u);
        bad += !nbi_is_uuid(u) || u[14] != '4' || !strchr("89ab", u[19]);
        int digit = 0;
        for (int k = 0; k < NBI_UUID_LEN; k++) {
            if (u[k] == '-')
                continue;
            bad += !strchr("0123456789abcdef", u[k]);
            ones[digit++] += (unsigned)__builtin_popcount((unsigned)hexval(u[k]) & 15u);
        }
    }
    CHECK(bad == 0);
    /* A random hex digit has 4 bits, each set half the time: about 2 * N ones. The version
       digit 12 is always 4 (N ones); the variant digit 16 is 10xx (1 fixed + 2 random: 2 * N). */
    for (int d = 0; d < 32; d++) {
        if (d == 12) {
            CHECK(ones[d] == N);
            continue;
        }
        unsigned expect = 2 * N;
        CHECK(ones[d] > expect * 9 / 10 && ones[d] < expect * 11 / 10);
    }
}

static const nbt_case cases[] = {
    NBT_ENTRY(unique_across_fork),
    NBT_ENTRY(child_refills),
    NBT_ENTRY(timestamp_boundaries),
    NBT_ENTRY(timestamp_dates),
    NBT_ENTRY(timestamp_clamped),
    NBT_ENTRY(timestamp_now),
    NBT_ENTRY(uuid_format_version_variant),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
