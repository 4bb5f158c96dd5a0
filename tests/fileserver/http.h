/* SPDX-License-Identifier: MIT */
/*
 * http.h - what the file server's tests need to talk HTTP: a small libcurl
 * wrapper, a raw-socket request for paths libcurl would rewrite or refuse,
 * and a temporary directory per test.
 */
#ifndef NBT_FS_HTTP_H
#define NBT_FS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "natsbridge.h"

typedef struct http_req {
    const char *method;        /* GET (default), HEAD, PUT, POST, DELETE */
    const char *url;
    const char *headers[8];    /* extra "Name: value" lines, NULL-terminated */
    const void *body;          /* PUT or POST body */
    size_t len;
    bool chunked;              /* send the body with Transfer-Encoding: chunked */
    curl_mime *mime;           /* multipart/form-data body (POST) */
    curl_read_callback reader; /* a streamed PUT body of len bytes (with reader_ctx) */
    curl_write_callback writer;/* a streamed response body (with writer_ctx) */
    void *reader_ctx, *writer_ctx;
} http_req;

typedef struct http_res {
    long status;       /* 0 when no answer came */
    nbi_buf body;      /* unless req.writer was set */
    nbi_buf headers;
} http_res;

/* Performs the request; false (with a message on stderr) when curl failed. */
bool http_do(const http_req *req, http_res *res);
void http_res_free(http_res *res);
/* The value of header name in res (case-insensitive), copied into out; false if absent. */
bool http_header(const http_res *res, const char *name, char *out, size_t outsz);

/* Multipart body with one part named "file" holding data under filename. */
curl_mime *http_file_part(const char *filename, const void *data, size_t len);

/* Sends raw bytes to 127.0.0.1:port and returns the answer's status, or -1. */
int http_raw_status(int port, const char *request, size_t len);

/* mkdtemp("/tmp/nbt-fs-XXXXXX") into out; false on failure. */
bool tmp_dir(char out[256]);
/* rm -rf of path (no symlinks followed). */
void rm_tree(const char *path);
/* Entries of dir ending in suffix ("" counts all); -1 when dir cannot be read. */
int count_entries(const char *dir, const char *suffix);

/* A built-in file server on 127.0.0.1, storing under a fresh temporary folder. */
typedef struct fx {
    char root[256]; /* the temporary folder (kept when already set: a restart) */
    char dir[300];  /* root/files, the server's storage */
    nb_fileserver *fs;
    int port;
} fx;

/* Starts the server with cfg (dir set here; listen_addr 127.0.0.1 unless given). */
bool fx_start(fx *f, nb_fileserver_config cfg);
/* Stops the server and removes the temporary folder. */
void fx_done(fx *f);

#endif
