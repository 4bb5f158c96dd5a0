/* SPDX-License-Identifier: MIT */
/*
 * test_ids.c - UUIDs stay unique across fork(): the parent fills its random
 * pool, forks children that each make UUIDs, and every UUID of every process
 * is compared (issue 11 item 3).
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

static const nbt_case cases[] = {
    NBT_ENTRY(unique_across_fork),
    NBT_ENTRY(child_refills),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
