/* SPDX-License-Identifier: MIT */
/*
 * options.h - the nb_options struct, shared by the modules that read it.
 */
#ifndef NB_OPTIONS_H
#define NB_OPTIONS_H

#include "internal.h"

struct nb_options {
    char *url;
    char *fileserver_url;
    size_t size_threshold;
    char *sender_name;
    char *sender_id; /* NULL: a UUID v4 per client (or per envelope built without one) */
    bool direct_sha256;

    int64_t connect_timeout_ms; /* -1: nats.c default */
    bool allow_reconnect;
    int max_reconnect;
    int64_t reconnect_wait_ms;
    int64_t reconnect_jitter_ms;
    int reconnect_buf_size; /* -1: nats.c default */
    bool retry_on_failed_connect;
    bool send_asap;
    int pending_msgs;
    int64_t pending_bytes;
    nb_event_cb event_cb;
    void *event_closure;

    int max_retries;
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    int64_t download_deadline_ms;
    char **allowed_origins; /* besides the fileserver_url's own origin */
    size_t allowed_origin_count;
    uint64_t max_download;
    char *download_dir;
    bool fetch_links;

    nb_progress_cb progress;
    void *progress_closure;
    nb_upload_fn upload; /* NULL: nb_upload_plik */
    void *upload_ctx;
    nb_download_fn download; /* NULL: nb_download_http */
    void *download_ctx;

    /* Object Store (objstore.c) */
    char *link_store;         /* "nats-os://BUCKET": link payloads go there; NULL: file server */
    const nb_client *client;  /* set by nb_client_connect in its own copy; never cloned */
};

/* The defaults, for callers that pass NULL options. */
const nb_options *nbi_options_default(void);

#endif
