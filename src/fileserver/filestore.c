/* SPDX-License-Identifier: MIT */
/*
 * filestore.c - the storage behind the built-in file server (see filestore.h).
 *
 * Names on disk are generated, never taken from a request: each file is
 * DIR/<uuid>.data plus a sidecar DIR/<uuid>.json holding its key, Plik name,
 * size, expiry and one-shot flag. The index itself lives in memory (two hash
 * tables under one mutex) so that a lookup costs no disk access; the
 * sidecars exist so that a restart keeps every unexpired file. Bodies are
 * written to DIR/<uuid>.part and renamed into place only when complete, so
 * an aborted upload leaves nothing visible. Only names of this form
 * (<uuid>.data, .json, .part, .json.part) are ever touched in DIR.
 */
#include "filestore.h"

#include "backoff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FS_BUCKETS 1024 /* power of two */
#define FS_PATH_MAX 4096
#define FS_SIDECAR_MAX (16 * 1024)
#define FS_SWEEP_MAX_MS 60000
#define FS_SWEEP_MIN_MS 100

/* A stored file (in `files`) or a Plik upload record (in `uploads`). */
typedef struct fs_entry {
    struct fs_entry *next;       /* hash chain, or a detached list */
    char *key;                   /* file key, or upload id */
    char *name;                  /* Plik file name a download must repeat; NULL for PUT */
    char *token;                 /* upload records: the X-UploadToken */
    char blob[NBI_UUID_LEN + 1]; /* files: DIR/<blob>.data and DIR/<blob>.json */
    uint64_t size;
    int64_t expires_ms;          /* wall clock, so that it survives restarts */
    bool oneshot;
    bool pending;                /* upload records: no file added yet (counted in st) */
} fs_entry;

typedef struct fs_table {
    fs_entry *buckets[FS_BUCKETS];
} fs_table;

struct nbi_filestore {
    char *dir;
    int64_t ttl_ms;
    pthread_mutex_t lock; /* guards the tables and stopping */
    pthread_cond_t wake;  /* wakes the sweep thread at close */
    pthread_t sweeper;
    bool sync_ready, sweeper_running, stopping;
    fs_table files;
    fs_table uploads;
    size_t pending_uploads; /* upload records without a file: capped, see new_upload */
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DIR/<blob><suffix>; the directory's length was checked at open. */
static void blob_path(const nbi_filestore *st, const char *blob, const char *suffix,
                      char out[FS_PATH_MAX])
{
    snprintf(out, FS_PATH_MAX, "%s/%s%s", st->dir, blob, suffix);
}

int nbi_filestore_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

bool nbi_filestore_secret_equal(const char *given, const char *expected)
{
    size_t n = strlen(expected);
    if (strlen(given) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(given[i] ^ expected[i]);
    return diff == 0;
}

bool nbi_filestore_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NBI_FILESTORE_NAME_MAX || strstr(s, ".."))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Hash tables: callers hold st->lock                                       */
/* ------------------------------------------------------------------------ */

static fs_entry **bucket_of(fs_table *t, const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &t->buckets[h & (FS_BUCKETS - 1)];
}

static fs_entry *table_find(fs_table *t, const char *key)
{
    for (fs_entry *e = *bucket_of(t, key); e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Detaches the entry with this key (and, when blob is set, only that blob). */
static fs_entry *table_take(fs_table *t, const char *key, const char *blob)
{
    for (fs_entry **pe = bucket_of(t, key); *pe; pe = &(*pe)->next) {
        fs_entry *e = *pe;
        if (strcmp(e->key, key) == 0 && (!blob || strcmp(e->blob, blob) == 0)) {
            *pe = e->next;
            e->next = NULL;
            return e;
        }
    }
    return NULL;
}

/* Inserts e, returning the entry it replaced (detached) or NULL. */
static fs_entry *table_put(fs_table *t, fs_entry *e)
{
    fs_entry *old = table_take(t, e->key, NULL);
    fs_entry **b = bucket_of(t, e->key);
    e->next = *b;
    *b = e;
    return old;
}

/* Detaches every entry expired at now (or every entry when all) into a list. */
static fs_entry *table_take_expired(fs_table *t, int64_t now, bool all)
{
    fs_entry *out = NULL;
    for (size_t i = 0; i < FS_BUCKETS; i++) {
        fs_entry **pe = &t->buckets[i];
        while (*pe) {
            fs_entry *e = *pe;
            if (all || e->expires_ms <= now) {
                *pe = e->next;
                e->next = out;
                out = e;
            } else {
                pe = &e->next;
            }
        }
    }
    return out;
}

/* How many upload records of the detached list are still pending. */
static size_t count_pending(const fs_entry *list)
{
    size_t n = 0;
    for (; list; list = list->next)
        n += list->pending;
    return n;
}

static fs_entry *entry_new(const char *key, const char *name, const char *blob)
{
    fs_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = nbi_strdup(key);
    e->name = nbi_strdup(name);
    if (!e->key || (name && !e->name)) {
        free(e->key);
        free(e->name);
        free(e);
        return NULL;
    }
    if (blob)
        snprintf(e->blob, sizeof e->blob, "%s", blob);
    return e;
}

/* Frees a detached list, removing the files of stored entries when asked. */
static void entries_free(nbi_filestore *st, fs_entry *e, bool remove_files)
{
    while (e) {
        fs_entry *next = e->next;
        if (remove_files && e->blob[0]) {
            char path[FS_PATH_MAX];
            blob_path(st, e->blob, ".json", path);
            unlink(path); /* sidecar first: a crash in between leaves an orphan that open removes */
            blob_path(st, e->blob, ".data", path);
            unlink(path);
        }
        free(e->key);
        free(e->name);
        free(e->token);
        free(e);
        e = next;
    }
}

/* ------------------------------------------------------------------------ */
/* Sidecars and the scan at open                                            */
/* ------------------------------------------------------------------------ */

static int sidecar_write(const nbi_filestore *st, const fs_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    int rc = -1;
    if (o && cJSON_AddStringToObject(o, "key", e->key) &&
        (!e->name || cJSON_AddStringToObject(o, "name", e->name)) &&
        cJSON_AddNumberToObject(o, "size", (double)e->size) &&
        cJSON_AddNumberToObject(o, "expires", (double)e->expires_ms) &&
        cJSON_AddBoolToObject(o, "oneShot", e->oneshot))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return -1;
    char tmp[FS_PATH_MAX], path[FS_PATH_MAX];
    blob_path(st, e->blob, ".json.part", tmp);
    blob_path(st, e->blob, ".json", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        bool ok = nbi_filestore_write_all(fd, text, strlen(text)) == 0;
        ok = (close(fd) == 0) && ok;
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
        if (rc != 0)
            unlink(tmp);
    }
    cJSON_free(text);
    return rc;
}

/* Reads a sidecar into a new entry, or NULL when it is unusable. */
static fs_entry *sidecar_read(const nbi_filestore *st, const char *blob)
{
    char path[FS_PATH_MAX], text[FS_SIDECAR_MAX];
    blob_path(st, blob, ".json", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text);
    if (fd >= 0)
        close(fd);
    cJSON *o = n > 0 ? cJSON_ParseWithLength(text, (size_t)n) : NULL;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(o, "expires");
    fs_entry *e = NULL;
    /* Numbers stay below 2^53 so that the casts below are exact and defined. */
    if (cJSON_IsString(key) && key->valuestring[0] == '/' &&
        strlen(key->valuestring) < NBI_FILESTORE_KEY_MAX && cJSON_IsNumber(size) &&
        size->valuedouble >= 0 && size->valuedouble < 9e15 && cJSON_IsNumber(exp) &&
        exp->valuedouble >= 0 && exp->valuedouble < 9e15 &&
        (!name || (cJSON_IsString(name) && nbi_filestore_valid_name(name->valuestring))))
        e = entry_new(key->valuestring, name ? name->valuestring : NULL, blob);
    if (e) {
        e->size = (uint64_t)size->valuedouble;
        e->expires_ms = (int64_t)exp->valuedouble;
        e->oneshot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "oneShot"));
    }
    cJSON_Delete(o);
    return e;
}

/* Splits "<uuid><suffix>"; false for names that are not ours. */
static bool our_name(const char *name, char blob[NBI_UUID_LEN + 1], const char **suffix)
{
    if (strlen(name) <= NBI_UUID_LEN)
        return false;
    memcpy(blob, name, NBI_UUID_LEN);
    blob[NBI_UUID_LEN] = '\0';
    *suffix = name + NBI_UUID_LEN;
    return nbi_is_uuid(blob);
}

/* Indexes one sidecar whose data file is intact and unexpired; removes it otherwise. */
static void load_one(nbi_filestore *st, const char *blob, int64_t now)
{
    fs_entry *e = sidecar_read(st, blob);
    char path[FS_PATH_MAX];
    struct stat sb;
    blob_path(st, blob, ".data", path);
    bool intact = e && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
                  (uint64_t)sb.st_size == e->size && e->expires_ms > now;
    if (!intact) {
        if (!e)
            e = entry_new("/", NULL, blob); /* a throwaway entry naming the files to remove */
        entries_free(st, e, true);
        return;
    }
    fs_entry *old = table_put(&st->files, e); /* a crash mid-replace can leave two */
    entries_free(st, old, true);
}

/* Loads the sidecars of a previous run, then removes temp files and orphans. */
static nb_status load_dir(nbi_filestore *st)
{
    DIR *d = opendir(st->dir);
    if (!d)
        return nbi_fail(NB_IO, "fileserver: cannot read directory '%s': %s", st->dir,
                        strerror(errno));
    int64_t now = wall_ms();
    char blob[NBI_UUID_LEN + 1], path[FS_PATH_MAX];
    const char *suffix;
    struct dirent *de;
    while ((de = readdir(d)))
        if (our_name(de->d_name, blob, &suffix) && strcmp(suffix, ".json") == 0)
            load_one(st, blob, now);
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!our_name(de->d_name, blob, &suffix))
            continue;
        blob_path(st, blob, ".json", path);
        bool temp = strcmp(suffix, ".part") == 0 || strcmp(suffix, ".json.part") == 0;
        bool orphan = strcmp(suffix, ".data") == 0 && access(path, F_OK) != 0;
        if (temp || orphan) {
            blob_path(st, blob, suffix, path);
            unlink(path);
        }
    }
    closedir(d);
    return NB_OK;
}

/* mkdir -p, then checks that the directory can be written. */
static nb_status make_dir(const char *dir)
{
    char path[FS_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return nbi_fail(NB_IO, "fileserver: cannot create directory '%s': %s", path,
                            strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nbi_fail(NB_IO, "fileserver: cannot create directory '%s': not a directory",
                        dir);
    if (access(dir, W_OK | X_OK) != 0)
        return nbi_fail(NB_IO, "fileserver: directory '%s' is not writable: %s", dir,
                        strerror(errno));
    return NB_OK;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

int nbi_filestore_create_temp(nbi_filestore *st, char blob[NBI_UUID_LEN + 1])
{
    char path[FS_PATH_MAX];
    nbi_uuid4(blob);
    blob_path(st, blob, ".part", path);
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

void nbi_filestore_discard_temp(nbi_filestore *st, const char *blob)
{
    char path[FS_PATH_MAX];
    blob_path(st, blob, ".part", path);
    unlink(path);
}

nb_status nbi_filestore_commit(nbi_filestore *st, const char *blob,
                               const nbi_filestore_meta *meta)
{
    char part[FS_PATH_MAX], data[FS_PATH_MAX];
    blob_path(st, blob, ".part", part);
    blob_path(st, blob, ".data", data);
    fs_entry *e = entry_new(meta->key, meta->name, blob);
    if (!e) {
        unlink(part);
        return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory indexing %s", meta->key);
    }
    e->size = meta->size;
    e->expires_ms = meta->expires_ms ? meta->expires_ms : wall_ms() + st->ttl_ms;
    e->oneshot = meta->oneshot;
    if (rename(part, data) != 0) {
        int err = errno;
        unlink(part);
        entries_free(st, e, false);
        return nbi_fail(NB_IO, "fileserver: cannot store %s: %s", meta->key, strerror(err));
    }
    if (sidecar_write(st, e) != 0) {
        entries_free(st, e, true);
        return nbi_fail(NB_IO, "fileserver: cannot write the sidecar of %s", meta->key);
    }
    pthread_mutex_lock(&st->lock);
    fs_entry *old = table_put(&st->files, e);
    fs_entry *u = meta->upload_id ? table_find(&st->uploads, meta->upload_id) : NULL;
    if (u && u->pending) { /* the upload holds a file now: no longer counted as pending */
        u->pending = false;
        st->pending_uploads--;
    }
    pthread_mutex_unlock(&st->lock);
    entries_free(st, old, true);
    return NB_OK;
}

int nbi_filestore_open_file(nbi_filestore *st, const char *key, const char *name,
                            uint64_t *size, char oneshot_blob[NBI_UUID_LEN + 1])
{
    int fd = -1, err = ENOENT;
    oneshot_blob[0] = '\0';
    pthread_mutex_lock(&st->lock);
    fs_entry *e = table_find(&st->files, key);
    bool found = e && e->expires_ms > wall_ms() &&
                 (name ? e->name && strcmp(e->name, name) == 0 : !e->name);
    if (found) {
        char path[FS_PATH_MAX];
        blob_path(st, e->blob, ".data", path);
        /* Opened under the lock: a concurrent replace or remove cannot slip in. */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        err = errno;
        *size = e->size;
        /* A file changed on disk is served as it is: promising the indexed size of a
         * shorter file would stall the response until the idle timeout. */
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
            *size = (uint64_t)sb.st_size;
        if (e->oneshot)
            memcpy(oneshot_blob, e->blob, NBI_UUID_LEN + 1);
    }
    pthread_mutex_unlock(&st->lock);
    errno = err;
    return fd;
}

void nbi_filestore_drop(nbi_filestore *st, const char *key, const char *blob)
{
    pthread_mutex_lock(&st->lock);
    fs_entry *e = table_take(&st->files, key, blob);
    pthread_mutex_unlock(&st->lock);
    entries_free(st, e, true);
}

bool nbi_filestore_remove(nbi_filestore *st, const char *key)
{
    pthread_mutex_lock(&st->lock);
    fs_entry *e = table_take(&st->files, key, NULL);
    bool live = e && e->expires_ms > wall_ms();
    pthread_mutex_unlock(&st->lock);
    entries_free(st, e, true);
    return live;
}

/* ------------------------------------------------------------------------ */
/* Plik upload records                                                      */
/* ------------------------------------------------------------------------ */

nb_status nbi_filestore_new_upload(nbi_filestore *st, bool oneshot, int64_t ttl_ms,
                                   size_t max_pending, char id[NBI_UUID_LEN + 1],
                                   char token[NBI_UUID_LEN + 1])
{
    pthread_mutex_lock(&st->lock);
    size_t pending = st->pending_uploads;
    pthread_mutex_unlock(&st->lock);
    /* Checked before allocating so that a flood costs nothing; a few racing
     * requests may overshoot the cap by the number of server threads. */
    if (max_pending && pending >= max_pending)
        return nbi_fail(NB_TOO_LARGE,
                        "fileserver: %zu uploads without a file are pending (the limit); "
                        "try again when some expire or get their file",
                        pending);
    nbi_uuid4(id);
    nbi_uuid4(token); /* 122 random bits from the kernel (getrandom) */
    fs_entry *u = entry_new(id, NULL, NULL);
    if (!u || !(u->token = nbi_strdup(token))) {
        entries_free(st, u, false);
        return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory creating an upload");
    }
    if (ttl_ms <= 0 || ttl_ms > st->ttl_ms)
        ttl_ms = st->ttl_ms;
    u->oneshot = oneshot;
    u->expires_ms = wall_ms() + ttl_ms;
    u->pending = true;
    pthread_mutex_lock(&st->lock);
    fs_entry *old = table_put(&st->uploads, u);
    st->pending_uploads++;
    st->pending_uploads -= count_pending(old); /* a UUID collision: never in practice */
    pthread_mutex_unlock(&st->lock);
    entries_free(st, old, false);
    return NB_OK;
}

nbi_upload_check nbi_filestore_check_upload(nbi_filestore *st, const char *id,
                                            const char *token, bool *oneshot,
                                            int64_t *expires_ms)
{
    nbi_upload_check rc = NBI_UPLOAD_MISSING;
    pthread_mutex_lock(&st->lock);
    fs_entry *u = table_find(&st->uploads, id);
    if (u && u->expires_ms > wall_ms()) {
        rc = !token                                        ? NBI_UPLOAD_NO_TOKEN
             : !nbi_filestore_secret_equal(token, u->token) ? NBI_UPLOAD_BAD_TOKEN
                                                            : NBI_UPLOAD_OK;
        *oneshot = u->oneshot;
        *expires_ms = u->expires_ms;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The sweep thread, open and close                                         */
/* ------------------------------------------------------------------------ */

static void *sweep_main(void *arg)
{
    nbi_filestore *st = arg;
    int64_t every = st->ttl_ms / 2;
    every = every > FS_SWEEP_MAX_MS ? FS_SWEEP_MAX_MS : every;
    every = every < FS_SWEEP_MIN_MS ? FS_SWEEP_MIN_MS : every;
    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        struct timespec until;
        nbi_deadline_after(CLOCK_MONOTONIC, every, &until);
        while (!st->stopping && pthread_cond_timedwait(&st->wake, &st->lock, &until) == 0)
            ;
        if (st->stopping)
            break;
        int64_t now = wall_ms();
        fs_entry *files = table_take_expired(&st->files, now, false);
        fs_entry *uploads = table_take_expired(&st->uploads, now, false);
        st->pending_uploads -= count_pending(uploads);
        pthread_mutex_unlock(&st->lock); /* unlink outside the lock */
        entries_free(st, files, true);
        entries_free(st, uploads, false);
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static nb_status init_sync(nbi_filestore *st)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return nbi_fail(NB_NO_MEMORY, "fileserver: cannot create a condition variable");
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&st->wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok)
        return nbi_fail(NB_NO_MEMORY, "fileserver: cannot create a condition variable");
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        pthread_cond_destroy(&st->wake);
        return nbi_fail(NB_NO_MEMORY, "fileserver: cannot create a mutex");
    }
    st->sync_ready = true;
    return NB_OK;
}

nb_status nbi_filestore_open(nbi_filestore **out, const char *dir, int64_t ttl_ms)
{
    *out = NULL;
    if (strlen(dir) > FS_PATH_MAX - 64)
        return nbi_fail(NB_INVALID_ARG, "fileserver: directory name is too long");
    nbi_filestore *st = calloc(1, sizeof *st);
    if (!st || !(st->dir = nbi_strdup(dir))) {
        free(st);
        return nbi_fail(NB_NO_MEMORY, "fileserver: out of memory");
    }
    st->ttl_ms = ttl_ms;
    nb_status s;
    if ((s = init_sync(st)) == NB_OK && (s = make_dir(dir)) == NB_OK &&
        (s = load_dir(st)) == NB_OK) {
        if (pthread_create(&st->sweeper, NULL, sweep_main, st) != 0)
            s = nbi_fail(NB_NO_MEMORY, "fileserver: cannot start the sweep thread");
        else
            st->sweeper_running = true;
    }
    if (s != NB_OK) {
        nbi_filestore_close(st);
        return s;
    }
    *out = st;
    return NB_OK;
}

void nbi_filestore_close(nbi_filestore *st)
{
    if (!st)
        return;
    if (st->sweeper_running) {
        pthread_mutex_lock(&st->lock);
        st->stopping = true;
        pthread_cond_signal(&st->wake);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->sweeper, NULL);
    }
    entries_free(st, table_take_expired(&st->files, 0, true), false);
    entries_free(st, table_take_expired(&st->uploads, 0, true), false);
    if (st->sync_ready) {
        pthread_mutex_destroy(&st->lock);
        pthread_cond_destroy(&st->wake);
    }
    free(st->dir);
    free(st);
}
