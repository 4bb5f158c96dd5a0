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

    /* File server TLS and token (issue 10): see nbi_fsauth_* below */
    struct {
        char *ca_file, *cert_file, *key_file, *token;
    } fsauth;

    /* Object Store (objstore.c) */
    char *link_store;         /* "nats-os://BUCKET": link payloads go there; NULL: file server */
    const nb_client *client;  /* set by nb_client_connect in its own copy; never cloned */

    /* Connecting to a secured NATS (issue 10). Secrets are wiped on destroy. */
    char *user, *password;    /* password is secret */
    char *token;              /* secret */
    char *nkey_seed_file;     /* path; the seed is read by nats.c when signing */
    char *nkey_public;        /* "U...", derived from the seed file when set */
    char *creds_file;         /* path of a .creds file (JWT + seed) */
    char *creds_jwt, *creds_seed; /* from memory; both secret */
    char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_hostname;
    bool tls_required;
    char *connection_name;
    nb_nats_configure_fn nats_configure;
    void *nats_configure_closure;
    /* receive limits (issue 11): codec_read.c and transport.c check them */
    size_t max_payloads;
    uint64_t max_link_bytes;
    size_t max_dataname;
    int max_metadata_depth;
    size_t max_envelope_bytes;
    /* downloads (issue 11) */
    int64_t idle_timeout_ms;  /* no byte for this long fails an attempt; 0: none */
    int64_t retry_budget_ms;  /* retry while a byte came within this long; 0: count max_retries */
    const volatile sig_atomic_t *stop; /* borrowed; downloads stop once it is non-zero */
    /* Envelopes that fit the server (issue 16): transport.c, nb_envelope_build */
    bool auto_link;           /* move the largest direct payloads to link until it fits */
    bool fileserver_set;      /* nb_options_set_fileserver_url was called: a file server to use */
};

/* The authentication methods set in o, for messages: "user/password", "token and nkey", or "". */
void nbi_options_auth_methods(const nb_options *o, char *out, size_t outsz);
/* File server TLS and token: copies src's into dst (false when out of memory), frees o's. */
bool nbi_fsauth_clone(nb_options *dst, const nb_options *src);
void nbi_fsauth_free(nb_options *o);
/* The view the HTTP handlers get in req->auth (valid while o lives). */
nb_fileserver_auth nbi_fsauth_view(const nb_options *o);

/* The defaults, for callers that pass NULL options. */
const nb_options *nbi_options_default(void);

#endif
