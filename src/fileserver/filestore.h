/* SPDX-License-Identifier: MIT */
/*
 * filestore.h - the storage behind the built-in file server (fileserver.c):
 * files kept under generated names in one directory, an in-memory index from
 * request keys to them, sidecars that bring the index back after a restart,
 * Plik upload records, and the thread that sweeps expired files. Knows
 * nothing of HTTP. Every call is thread-safe.
 */
#ifndef NB_FILESTORE_H
#define NB_FILESTORE_H

#include "ids.h"
#include "internal.h"

#define NBI_FILESTORE_KEY_MAX 1024 /* longest key, NUL included */
#define NBI_FILESTORE_NAME_MAX 255 /* longest Plik file name */

typedef struct nbi_filestore nbi_filestore;

/*
 * Opens dir (created with its parents if missing), indexes the unexpired
 * files of a previous run, removes what a crash left (temp files, data
 * without a sidecar) and starts the sweep thread, which deletes files
 * every min(60 s, ttl/2). NB_IO names the directory that cannot be used.
 */
nb_status nbi_filestore_open(nbi_filestore **out, const char *dir, int64_t ttl_ms);
/* Stops the sweep thread and frees the index; the files stay on disk. NULL is a no-op. */
void nbi_filestore_close(nbi_filestore *st);

/* Writing a file: a temp file under a fresh blob id, then commit or discard. */
/* Creates DIR/<blob>.part; returns its fd, or -1 with errno set. */
int nbi_filestore_create_temp(nbi_filestore *st, char blob[NBI_UUID_LEN + 1]);
/* Removes the temp file of blob (after closing its fd). */
void nbi_filestore_discard_temp(nbi_filestore *st, const char *blob);

typedef struct nbi_filestore_meta {
    const char *key;    /* "/a/b" for PUT, "/file/<uploadid>/<fileid>" for Plik */
    const char *name;   /* the Plik file name a download must repeat, or NULL */
    uint64_t size;
    int64_t expires_ms; /* wall clock; 0 = now + the store's TTL */
    bool oneshot;       /* removed after its first whole download */
    const char *upload_id; /* the Plik upload the file belongs to, or NULL */
} nbi_filestore_meta;

/*
 * Moves the closed temp file of blob into place and indexes it under
 * meta->key, replacing (and removing) an older file there. On failure the
 * temp file is gone and NB_IO/NB_NO_MEMORY says why.
 */
nb_status nbi_filestore_commit(nbi_filestore *st, const char *blob,
                               const nbi_filestore_meta *meta);

/*
 * Opens the file at key for reading: returns the fd (caller closes), or -1
 * with errno ENOENT when there is none, it expired, or name (NULL for PUT
 * files) does not match. *size gets its size; oneshot_blob gets its blob
 * when it is a one-shot file, else "".
 */
int nbi_filestore_open_file(nbi_filestore *st, const char *key, const char *name,
                            uint64_t *size, char oneshot_blob[NBI_UUID_LEN + 1]);
/* Removes key's file if it is still blob (a one-shot file was downloaded). */
void nbi_filestore_drop(nbi_filestore *st, const char *key, const char *blob);
/* Removes key's file; false when there was none or it had expired. */
bool nbi_filestore_remove(nbi_filestore *st, const char *key);

/*
 * Plik upload records, kept in memory only: after a restart their files can
 * still be downloaded but no file can be added to them.
 */
/*
 * A new upload living ttl_ms (0 or over the store's TTL: the store's TTL).
 * An upload is pending until a file is committed with its upload_id; when
 * max_pending (0 = no cap) are pending, NB_TOO_LARGE says so and nothing is
 * created, so that POST /upload floods cannot grow memory until the TTL.
 */
nb_status nbi_filestore_new_upload(nbi_filestore *st, bool oneshot, int64_t ttl_ms,
                                   size_t max_pending, char id[NBI_UUID_LEN + 1],
                                   char token[NBI_UUID_LEN + 1]);

typedef enum nbi_upload_check {
    NBI_UPLOAD_OK = 0,
    NBI_UPLOAD_MISSING,  /* no such upload, or it expired */
    NBI_UPLOAD_NO_TOKEN, /* token is NULL */
    NBI_UPLOAD_BAD_TOKEN /* token does not match */
} nbi_upload_check;

/* Checks an upload id and its token; on NBI_UPLOAD_OK fills *oneshot and *expires_ms. */
nbi_upload_check nbi_filestore_check_upload(nbi_filestore *st, const char *id,
                                            const char *token, bool *oneshot,
                                            int64_t *expires_ms);

/* True when s can be a Plik file name: 1..255 bytes, no '/', '\\', "..", control characters. */
bool nbi_filestore_valid_name(const char *s);
/* Compares secrets in time independent of where they differ. */
bool nbi_filestore_secret_equal(const char *given, const char *expected);
/* Writes all n bytes (retrying short writes); -1 with errno on failure. */
int nbi_filestore_write_all(int fd, const void *data, size_t n);

#endif
