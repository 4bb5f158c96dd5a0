/* SPDX-License-Identifier: MIT */
/*
 * natsbridge.h - the whole public API of libnatsbridge.
 *
 * natsbridge moves typed payloads between programs over NATS, wire-compatible
 * with the Julia, JavaScript and Python NATSBridge peers (docs/PROTOCOL.md).
 *
 * Conventions, stated once for every call below:
 *  - Every call that can fail returns an nb_status; NB_OK is 0. On failure a
 *    message naming what was wrong is kept per thread: read it with
 *    nb_last_error(). Expected outcomes (NB_TIMEOUT) record a message too, but
 *    never print anything.
 *  - Handles are opaque. A call that makes a handle takes its out-pointer
 *    first (nb_client_connect(&client, opts), nb_objstore_open(&os, c, name));
 *    a call on an existing handle takes that handle first and puts its
 *    results last (nb_client_request(c, subject, req, timeout_ms, &reply),
 *    nb_subscription_next, nb_client_receive, nb_payload_table,
 *    nb_table_export, nb_table_to_ipc, nb_objstore_get_bytes). Either way an
 *    out-pointer is set to NULL on failure (nb_table_export's structures are
 *    left released). Every _destroy(NULL) is a harmless no-op.
 *  - Ownership words: "borrowed" (used during the call only), "copied",
 *    "taken" (only when NB_OK is returned; the caller's pointer is set to
 *    NULL), "view" (valid until a named event, usually the owner's _destroy).
 *  - Strings are NUL-terminated UTF-8.
 *  - An nb_client may be used from several threads; an nb_envelope, an
 *    nb_payload and an nb_options belong to one thread at a time.
 */
#ifndef NATSBRIDGE_H
#define NATSBRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h> /* sig_atomic_t: nb_options_set_stop_flag */

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NB_BUILDING_LIBRARY) && defined(__GNUC__)
#define NB_EXTERN __attribute__((visibility("default")))
#else
#define NB_EXTERN
#endif

#define NB_VERSION_MAJOR 0
#define NB_VERSION_MINOR 1
#define NB_VERSION_PATCH 0
#define NB_VERSION_STRING "0.1.0"
#define NB_VERSION_NUMBER \
    ((NB_VERSION_MAJOR << 16) | (NB_VERSION_MINOR << 8) | NB_VERSION_PATCH)

/** The library's version number as built (compare with NB_VERSION_NUMBER). */
NB_EXTERN int nb_version_number(void);
/** The library's version as text, such as "0.1.0". */
NB_EXTERN const char *nb_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */
/* ------------------------------------------------------------------------ */

/** Result of every fallible call. Append-only: values are never renumbered. */
typedef enum nb_status {
    NB_OK = 0,
    NB_INVALID_ARG,      /**< a caller passed a bad argument */
    NB_NO_MEMORY,        /**< an allocation failed */
    NB_BAD_ENVELOPE,     /**< an envelope is malformed or misses a field */
    NB_BAD_PAYLOAD,      /**< a payload's data is invalid (base64, UTF-8, size, JSON) */
    NB_TOO_LARGE,        /**< over the threshold, the server's max_payload or a cap */
    NB_CONNECTION,       /**< cannot reach, or lost, the NATS server */
    NB_TIMEOUT,          /**< nothing arrived in time */
    NB_NO_RESPONDERS,    /**< a request found nobody listening on its subject */
    NB_SLOW_CONSUMER,    /**< messages were dropped because a subscriber fell behind */
    NB_IO,               /**< a file or socket operation failed */
    NB_HTTP,             /**< the file server answered with an error or not at all */
    NB_INTEGRITY,        /**< downloaded bytes do not match their size or sha256 */
    NB_NOT_ALLOWED,      /**< refused by policy (origin allowlist, unsafe name) */
    NB_NATS,             /**< another error reported by nats.c */
    NB_INTERNAL,         /**< a bug in natsbridge; please report it */
    NB_NOT_FOUND,        /**< not there: a link's bytes (HTTP 404/410, no such object), a stream, a consumer */
    NB_PERMISSION,       /**< the NATS server refused a publish or subscribe (permissions violation) */
    NB_STATUS_COUNT
} nb_status;

/** Fixed text for a status, such as "bad envelope". Never NULL. */
NB_EXTERN const char *nb_status_text(nb_status s);

/**
 * The message of the last failure on this thread, naming what was wrong,
 * e.g. "envelope: payloads[1].size: 12 does not match 9 decoded bytes".
 * View: valid until the next natsbridge call on this thread. Never NULL.
 */
NB_EXTERN const char *nb_last_error(void);

/* ------------------------------------------------------------------------ */
/* Payload types                                                            */
/* ------------------------------------------------------------------------ */

typedef enum nb_type {
    NB_TYPE_TEXT = 0,   /**< UTF-8 text */
    NB_TYPE_DICTIONARY, /**< JSON text (an object or any JSON value) */
    NB_TYPE_TABLE,      /**< Apache Arrow IPC stream bytes ("table", "arrowtable") */
    NB_TYPE_IMAGE,      /**< raw bytes */
    NB_TYPE_AUDIO,      /**< raw bytes */
    NB_TYPE_VIDEO,      /**< raw bytes */
    NB_TYPE_BINARY,     /**< raw bytes */
    NB_TYPE_JSONTABLE,  /**< a JSON array of row objects (read from newer peers) */
    NB_TYPE_COUNT
} nb_type;

/** The wire name of a type: "text", "dictionary", "table", ... Never NULL. */
NB_EXTERN const char *nb_type_name(nb_type t);

/**
 * Parses a type name, accepting the peers' aliases ("arrowtable" is a table,
 * "jsontable" a JSON table). NB_INVALID_ARG names the unknown type.
 */
NB_EXTERN nb_status nb_type_parse(const char *name, nb_type *out);

typedef enum nb_transport {
    NB_TRANSPORT_DIRECT = 0, /**< base64 inside the envelope */
    NB_TRANSPORT_LINK        /**< uploaded to a file server; the URL travels */
} nb_transport;

/** "direct" or "link". */
NB_EXTERN const char *nb_transport_name(nb_transport t);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct nb_options nb_options;

/** Default NATS server, size threshold and file server of the peers. */
#define NB_DEFAULT_NATS_URL "nats://localhost:4222"
#define NB_DEFAULT_FILESERVER_URL "http://localhost:8080"
#define NB_DEFAULT_SIZE_THRESHOLD 1000000
#define NB_DEFAULT_MSG_PURPOSE "chat"
#define NB_DEFAULT_SENDER_NAME "NATSBridge"
#define NB_DEFAULT_MAX_RETRIES 5
#define NB_DEFAULT_BASE_DELAY_MS 100
#define NB_DEFAULT_MAX_DELAY_MS 5000

/** Creates options holding every default above. Caller frees with nb_options_destroy. */
NB_EXTERN nb_status nb_options_create(nb_options **out);
/** Copies options (every string and list is copied). */
NB_EXTERN nb_status nb_options_clone(nb_options **out, const nb_options *src);
NB_EXTERN void nb_options_destroy(nb_options *o);

/**
 * NATS server URL (copied); also written as the envelope's broker_url. A
 * comma-separated list ("nats://a:4222,nats://b:4222") names servers of one
 * cluster: the client connects to one and reconnects to another when it goes
 * down. Each URL's scheme is checked; empty elements are refused.
 */
NB_EXTERN nb_status nb_options_set_url(nb_options *o, const char *url);
/** File server base URL (copied) for link payloads; its origin is allowed for downloads. */
NB_EXTERN nb_status nb_options_set_fileserver_url(nb_options *o, const char *url);
/** Payloads whose serialized size is >= bytes go by link. 0 sends every payload by link. */
NB_EXTERN nb_status nb_options_set_size_threshold(nb_options *o, size_t bytes);
/** Default sender_name of envelopes built with these options (copied). */
NB_EXTERN nb_status nb_options_set_sender_name(nb_options *o, const char *name);
/** sender_id of envelopes built with these options (copied); a UUID v4 is made when unset. */
NB_EXTERN nb_status nb_options_set_sender_id(nb_options *o, const char *id);
/** When true, direct payloads also carry metadata.sha256 (link payloads always do). */
NB_EXTERN nb_status nb_options_set_direct_sha256(nb_options *o, bool on);

/* Connection behaviour, passed to nats.c (defaults are nats.c's own). */
NB_EXTERN nb_status nb_options_set_connect_timeout(nb_options *o, int64_t ms);
NB_EXTERN nb_status nb_options_set_allow_reconnect(nb_options *o, bool allow);
/** Reconnect attempts before giving up; -1 retries forever. */
NB_EXTERN nb_status nb_options_set_max_reconnect(nb_options *o, int attempts);
NB_EXTERN nb_status nb_options_set_reconnect_wait(nb_options *o, int64_t ms);
NB_EXTERN nb_status nb_options_set_reconnect_jitter(nb_options *o, int64_t ms);
/** Bytes of publishes kept while reconnecting (nats.c default 8 MiB). */
NB_EXTERN nb_status nb_options_set_reconnect_buf_size(nb_options *o, int bytes);
/** Keep trying when the first connect fails (then connect returns at once). */
NB_EXTERN nb_status nb_options_set_retry_on_failed_connect(nb_options *o, bool on);
/** Flush every publish at once (lower latency, ~35% fewer small msgs/s). */
NB_EXTERN nb_status nb_options_set_send_asap(nb_options *o, bool on);
/**
 * Per-subscription pending limits: messages and bytes buffered before the
 * client drops (and reports) messages. -1 means unlimited; the default is
 * 65536 messages and 256 MiB, enough for 256 envelopes of 1 MB.
 */
NB_EXTERN nb_status nb_options_set_pending_limits(nb_options *o, int msgs, int64_t bytes);

typedef enum nb_event {
    NB_EVENT_DISCONNECTED = 0, /**< the connection to the server was lost */
    NB_EVENT_RECONNECTED,      /**< reconnected; subscriptions were restored */
    NB_EVENT_CLOSED,           /**< the connection is closed for good */
    NB_EVENT_ERROR             /**< an asynchronous error (slow consumer, ...) */
} nb_event;

/** Connection events: detail is a view valid during the call. */
typedef void (*nb_event_cb)(nb_event ev, nb_status s, const char *detail, void *closure);
/** Receives connection events (called from nats.c's threads). */
NB_EXTERN nb_status nb_options_set_event_cb(nb_options *o, nb_event_cb cb, void *closure);

/* Receiving link payloads. */
/** Download retries with exponential back-off and full jitter. */
NB_EXTERN nb_status nb_options_set_backoff(nb_options *o, int max_retries,
                                           int64_t base_delay_ms, int64_t max_delay_ms);
/** Overall time limit for one download, retries included; 0 means none (default 10 min). */
NB_EXTERN nb_status nb_options_set_download_deadline(nb_options *o, int64_t ms);
/**
 * Adds an origin ("http://host:port") from which link URLs may be downloaded,
 * or an Object Store bucket ("nats-os://BUCKET") from which nats-os:// links
 * may be fetched besides the link store's own (nb_options_set_link_store).
 */
NB_EXTERN nb_status nb_options_add_allowed_origin(nb_options *o, const char *origin);
/** Hard cap on any one download in bytes, on top of the envelope's size; 0 = none. */
NB_EXTERN nb_status nb_options_set_max_download(nb_options *o, uint64_t bytes);
/**
 * When set, link payloads are streamed into DIR/<msg_id>/<dataname> instead
 * of memory (constant memory for any size); nb_payload_path() names the file.
 */
NB_EXTERN nb_status nb_options_set_download_dir(nb_options *o, const char *dir);
/** When false, link payloads are not downloaded: only their URL is returned. */
NB_EXTERN nb_status nb_options_set_fetch_links(nb_options *o, bool on);

/**
 * Progress of one transfer: done of total bytes (total 0 when unknown), for
 * the payload named dataname. Called from the transferring thread, often.
 */
typedef void (*nb_progress_cb)(const char *dataname, uint64_t done, uint64_t total,
                               void *closure);
/** Receives the progress of link uploads and downloads (NULL turns it off). */
NB_EXTERN nb_status nb_options_set_progress_cb(nb_options *o, nb_progress_cb cb, void *closure);

/**
 * Reads up to cap bytes into buf; *got = 0 means the end. A failure stops the
 * transfer. (The reader of nb_objstore_put, declared here too for the payloads
 * streamed from a reader, issue 13; C11 allows the identical typedef twice.)
 */
typedef nb_status (*nb_read_fn)(void *closure, uint8_t *buf, size_t cap, size_t *got);

/** What an upload handler is given: bytes in memory, a file or a reader to stream. */
typedef struct nb_upload_request {
    const char *fileserver_url; /**< base URL of the file server */
    const char *dataname;       /**< the payload's name */
    const uint8_t *data;        /**< the bytes, or NULL when path is set */
    const char *path;           /**< a file to stream, or NULL */
    uint64_t size;              /**< byte count of data or of the file */
    const char *sha256_hex;     /**< lowercase hex SHA-256 of the bytes */
    nb_progress_cb progress;    /**< may be NULL */
    void *progress_closure;
    const struct nb_fileserver_auth *auth; /**< TLS trust and token (NULL: none), see below */
    /* streamed payloads (issue 13): when read is set, data and path are NULL, size and
     * sha256_hex are unknown (0, NULL) and the bytes come from read until it returns 0 */
    nb_read_fn read;            /**< the reader of a streamed payload, or NULL */
    void *read_ctx;             /**< its closure */
} nb_upload_request;

/** What an upload handler returns; strings are malloc'd and freed by the library. */
typedef struct nb_upload_result {
    int status;     /**< the HTTP status of the last request */
    char *uploadid; /**< may be NULL */
    char *fileid;   /**< may be NULL */
    char *url;      /**< the download URL that will travel; required */
} nb_upload_result;

typedef nb_status (*nb_upload_fn)(const nb_upload_request *req, nb_upload_result *res,
                                  void *ctx);

/** What a download handler is given. */
typedef struct nb_download_request {
    const char *url;
    int max_retries;
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    int64_t deadline_ms;        /**< 0 = none */
    const char *correlation_id; /**< for logs */
    uint64_t max_bytes;         /**< refuse bodies longer than this */
    const char *path;           /**< stream into this file, or NULL for memory */
    const char *dataname;       /**< the payload's name, for progress and logs */
    nb_progress_cb progress;    /**< may be NULL */
    void *progress_closure;
    const struct nb_fileserver_auth *auth; /**< TLS trust (NULL: the system's CAs), see below */
    /* downloads (issue 11): zero values keep the behaviour of older callers */
    int64_t idle_timeout_ms;    /**< an attempt fails when no byte arrives for this long; 0 = none */
    int64_t retry_budget_ms;    /**< retry while the last byte arrived less than this long ago;
                                     0 = count max_retries instead */
    const volatile sig_atomic_t *stop; /**< abort promptly once *stop != 0; may be NULL */
    const char *sha256_hex;     /**< expected hex digest, checked while streaming; may be NULL */
    char *sha256_out;           /**< may be NULL; else gets the hex digest of the bytes (65
                                     chars), or "" when the handler did not hash them */
} nb_download_request;

/** Downloads req->url; when req->path is NULL, *data (malloc'd, taken by the library) and *len are set. */
typedef nb_status (*nb_download_fn)(const nb_download_request *req, uint8_t **data,
                                    size_t *len, void *ctx);

/**
 * The built-in upload handlers: Plik's API (POST /upload, then POST /file/{id}
 * multipart), or a plain HTTP PUT to {fileserver_url}/{uuid}/{dataname}. ctx is
 * NULL, or the bearer token itself (a const char * cast to void *), sent as
 * "Authorization: Bearer <token>"; when ctx is NULL, req->auth->token is
 * used. Bytes are streamed from req->path when set. An https:// server is
 * verified against req->auth->ca_file when given.
 */
NB_EXTERN nb_status nb_upload_plik(const nb_upload_request *req, nb_upload_result *res,
                                   void *ctx);
NB_EXTERN nb_status nb_upload_put(const nb_upload_request *req, nb_upload_result *res,
                                  void *ctx);
/** The built-in download handler: HTTP GET with back-off (ctx unused). */
NB_EXTERN nb_status nb_download_http(const nb_download_request *req, uint8_t **data,
                                     size_t *len, void *ctx);

/** Upload handler for link payloads (default nb_upload_plik). */
NB_EXTERN nb_status nb_options_set_upload_handler(nb_options *o, nb_upload_fn fn, void *ctx);
/** Download handler for link payloads (default nb_download_http). */
NB_EXTERN nb_status nb_options_set_download_handler(nb_options *o, nb_download_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct nb_payload nb_payload;

/** A payload of any type holding a copy of len bytes. Text must be UTF-8, a dictionary JSON. */
NB_EXTERN nb_status nb_payload_create(nb_payload **out, const char *dataname, nb_type type,
                                      const void *data, size_t len);
/** A text payload (text copied; must be valid UTF-8). */
NB_EXTERN nb_status nb_payload_create_text(nb_payload **out, const char *dataname,
                                           const char *text);
/** A dictionary payload from JSON text (copied; must parse). */
NB_EXTERN nb_status nb_payload_create_dict_json(nb_payload **out, const char *dataname,
                                                const char *json);
/** A dictionary payload from a cJSON tree (borrowed; serialized now). */
NB_EXTERN nb_status nb_payload_create_dict(nb_payload **out, const char *dataname,
                                           const cJSON *tree);
/**
 * A payload whose bytes stay in the file at path (copied name) until sent:
 * a link payload is streamed from it, a direct one read when the envelope is
 * built. The file must exist and be a regular file.
 */
NB_EXTERN nb_status nb_payload_create_file(nb_payload **out, const char *dataname,
                                           nb_type type, const char *path);
NB_EXTERN void nb_payload_destroy(nb_payload *p);

/* ---- payloads streamed from a reader (issue 13: standard input) ---------- */
/**
 * A payload whose bytes come from read(closure, ...) when its envelope is sent
 * or built, read once, never held whole: the bytes up to the size threshold
 * are read first, and a stream that ends before it goes direct like any
 * small payload; a longer one (or one forced by link) is streamed to the
 * upload handler (chunked, size unknown) and hashed on the way, its size
 * and metadata.sha256 set once it is uploaded. Later sends of the same
 * envelope carry the same bytes or URL. closure must stay valid until the
 * first send. Links need nb_upload_plik, nb_upload_put or an Object Store
 * link store (not a custom handler, which may need the size first).
 */
NB_EXTERN nb_status nb_payload_create_reader(nb_payload **out, const char *dataname,
                                             nb_type type, nb_read_fn read, void *closure);
/* ---- end of payloads streamed from a reader ------------------------------- */

/** Sets the payload's metadata object from JSON text (must be an object). */
NB_EXTERN nb_status nb_payload_set_metadata_json(nb_payload *p, const char *json);
/** Sets the payload's metadata (borrowed tree, copied; must be an object). */
NB_EXTERN nb_status nb_payload_set_metadata(nb_payload *p, const cJSON *object);
/** Sends this payload by link whatever its size. */
NB_EXTERN nb_status nb_payload_force_link(nb_payload *p, bool on);

/* Accessors: views valid until nb_payload_destroy (or the envelope's destroy). */
NB_EXTERN const char *nb_payload_id(const nb_payload *p);
NB_EXTERN const char *nb_payload_dataname(const nb_payload *p);
NB_EXTERN nb_type nb_payload_type(const nb_payload *p);
/** The type exactly as written on the wire (e.g. "arrowtable"). */
NB_EXTERN const char *nb_payload_type_name(const nb_payload *p);
NB_EXTERN nb_transport nb_payload_transport(const nb_payload *p);
/** "base64", "json", "none", ... as on the wire. */
NB_EXTERN const char *nb_payload_encoding(const nb_payload *p);
/** The serialized byte count. */
NB_EXTERN uint64_t nb_payload_size(const nb_payload *p);
/** The decoded bytes (followed by a NUL not counted in *len); NULL when they are in a file. */
NB_EXTERN const uint8_t *nb_payload_data(const nb_payload *p, size_t *len);
/** The text of a text, dictionary or jsontable payload; NULL for other types or file payloads. */
NB_EXTERN const char *nb_payload_text(const nb_payload *p);
/**
 * The parsed JSON of a dictionary or jsontable payload; NULL otherwise (or out of memory).
 * The tree is built on the first call and kept with the payload: that first call
 * writes to it, so do not make it from two threads at once on one payload. To read
 * the exact bytes the sender wrote (numbers beyond a double's precision), use
 * nb_payload_data / nb_payload_text instead.
 */
NB_EXTERN const cJSON *nb_payload_json(const nb_payload *p);
/** The payload's metadata object (never NULL). */
NB_EXTERN const cJSON *nb_payload_metadata(const nb_payload *p);
/** The URL of a link payload, else NULL. */
NB_EXTERN const char *nb_payload_url(const nb_payload *p);
/** The file holding the bytes (file payloads, downloads into a directory), else NULL. */
NB_EXTERN const char *nb_payload_path(const nb_payload *p);
/** Lowercase hex SHA-256 of the bytes (computed from memory or the file) into out[65]. */
NB_EXTERN nb_status nb_payload_sha256_hex(const nb_payload *p, char out[65]);

/**
 * True when name can be used as one file name inside a directory: not empty,
 * not "." or "..", at most 255 bytes, valid UTF-8 with no '/', '\\' or
 * control characters. Datanames and msg_ids from the wire are checked with it
 * before they touch a file system.
 */
NB_EXTERN bool nb_is_safe_filename(const char *name);

/* ------------------------------------------------------------------------ */
/* Envelopes                                                                */
/* ------------------------------------------------------------------------ */

typedef struct nb_envelope nb_envelope;

/** An empty outgoing envelope: add payloads and set fields, then send or build it. */
NB_EXTERN nb_status nb_envelope_create(nb_envelope **out);
NB_EXTERN void nb_envelope_destroy(nb_envelope *e);

/** Appends a payload (taken). The order is kept on the wire. */
NB_EXTERN nb_status nb_envelope_add_payload(nb_envelope *e, nb_payload **p);

/* Setters (strings copied). Unset fields get the defaults when the envelope is built. */
NB_EXTERN nb_status nb_envelope_set_correlation_id(nb_envelope *e, const char *id);
NB_EXTERN nb_status nb_envelope_set_msg_id(nb_envelope *e, const char *id);
NB_EXTERN nb_status nb_envelope_set_msg_purpose(nb_envelope *e, const char *purpose);
NB_EXTERN nb_status nb_envelope_set_sender_name(nb_envelope *e, const char *name);
NB_EXTERN nb_status nb_envelope_set_sender_id(nb_envelope *e, const char *id);
NB_EXTERN nb_status nb_envelope_set_receiver_name(nb_envelope *e, const char *name);
NB_EXTERN nb_status nb_envelope_set_receiver_id(nb_envelope *e, const char *id);
NB_EXTERN nb_status nb_envelope_set_reply_to(nb_envelope *e, const char *subject);
NB_EXTERN nb_status nb_envelope_set_reply_to_msg_id(nb_envelope *e, const char *id);
/** Envelope metadata from JSON text (must be an object). */
NB_EXTERN nb_status nb_envelope_set_metadata_json(nb_envelope *e, const char *json);
/** Envelope metadata (borrowed tree, copied; must be an object). */
NB_EXTERN nb_status nb_envelope_set_metadata(nb_envelope *e, const cJSON *object);

/* The 14 fields. Views valid until nb_envelope_destroy; "" when unset. */
NB_EXTERN const char *nb_envelope_correlation_id(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_msg_id(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_timestamp(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_send_to(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_msg_purpose(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_sender_name(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_sender_id(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_receiver_name(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_receiver_id(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_reply_to(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_reply_to_msg_id(const nb_envelope *e);
NB_EXTERN const char *nb_envelope_broker_url(const nb_envelope *e);
/** The envelope's metadata object (never NULL). */
NB_EXTERN const cJSON *nb_envelope_metadata(const nb_envelope *e);
NB_EXTERN size_t nb_envelope_payload_count(const nb_envelope *e);
/** The i-th payload (view), or NULL when i is out of range. */
NB_EXTERN const nb_payload *nb_envelope_payload(const nb_envelope *e, size_t i);

/**
 * Builds the envelope for subject without publishing it: fills msg_id,
 * timestamp, send_to, the defaults from opts (NULL = defaults), picks each
 * payload's transport (uploading link payloads) and encodes the JSON.
 */
NB_EXTERN nb_status nb_envelope_build(nb_envelope *e, const char *subject,
                                      const nb_options *opts);
/** The JSON text of a built or received envelope (view; NULL before build). */
NB_EXTERN const char *nb_envelope_json(const nb_envelope *e, size_t *len);

/**
 * smartreceive from raw JSON text (borrowed): decodes every payload, fetching
 * link payloads as opts say (NULL = defaults). Caller frees *out.
 */
NB_EXTERN nb_status nb_envelope_parse(nb_envelope **out, const char *json, size_t len,
                                      const nb_options *opts);

/* ------------------------------------------------------------------------ */
/* Client: one NATS connection serving many sends and subscriptions         */
/* ------------------------------------------------------------------------ */

typedef struct nb_client nb_client;
typedef struct nb_subscription nb_subscription;

/** Connects to the NATS server in opts (copied; NULL = defaults). Caller frees with nb_client_destroy. */
NB_EXTERN nb_status nb_client_connect(nb_client **out, const nb_options *opts);
/**
 * Flushes what is buffered, closes the connection and frees the client.
 * Destroy subscriptions first; callback subscriptions still open are stopped
 * here (no callback runs afterwards) and must still be freed with
 * nb_subscription_destroy. A sync subscription must not be read afterwards.
 */
NB_EXTERN void nb_client_destroy(nb_client *c);
/** The server's max_payload in bytes, or -1 when not connected. */
NB_EXTERN int64_t nb_client_max_payload(const nb_client *c);
/** The options the client was created with (view). */
NB_EXTERN const nb_options *nb_client_options(const nb_client *c);
/** Waits until the server has processed everything published so far. */
NB_EXTERN nb_status nb_client_flush(nb_client *c, int64_t timeout_ms);

/**
 * smartsend: builds e for subject (see nb_envelope_build) and publishes it.
 * An envelope over the server's max_payload is refused, naming both sizes.
 * On NB_OK, e holds what was sent and nb_envelope_json() its wire text.
 */
NB_EXTERN nb_status nb_client_send(nb_client *c, const char *subject, nb_envelope *e);

/**
 * smartsend in one call, as the peers have it: connects to opts' URL, sends,
 * flushes and disconnects. Prefer nb_client_send for more than one message.
 */
NB_EXTERN nb_status nb_smartsend(const char *subject, nb_envelope *e, const nb_options *opts);

/** smartreceive from a NATS message body (borrowed), using the client's options. */
NB_EXTERN nb_status nb_client_receive(nb_client *c, const void *body, size_t len,
                                      nb_envelope **out);

/** Called for every envelope; env is taken (free it with nb_envelope_destroy). */
typedef void (*nb_envelope_cb)(nb_subscription *sub, nb_envelope *env, void *closure);
/**
 * Called when a message could not be turned into an envelope (the bytes are
 * reported and dropped) or when the server or client dropped messages
 * (NB_SLOW_CONSUMER). message is a view valid during the call.
 */
typedef void (*nb_error_cb)(nb_subscription *sub, nb_status s, const char *message,
                            void *closure);

/**
 * Calls on_envelope for every envelope arriving on subject, from a nats.c
 * thread; in a queue group when queue is not NULL. on_error may be NULL, in
 * which case errors are written to stderr: nothing is dropped silently.
 */
NB_EXTERN nb_status nb_client_subscribe(nb_client *c, nb_subscription **out,
                                        const char *subject, const char *queue,
                                        nb_envelope_cb on_envelope, nb_error_cb on_error,
                                        void *closure);
/** A subscription read with nb_subscription_next (optionally in a queue group). */
NB_EXTERN nb_status nb_client_subscribe_sync(nb_client *c, nb_subscription **out,
                                             const char *subject, const char *queue);
/**
 * Waits up to timeout_ms for the next envelope of a sync subscription.
 * NB_TIMEOUT when none came; NB_SLOW_CONSUMER when messages were dropped
 * (the next call goes on); a decode error when a message was bad.
 */
NB_EXTERN nb_status nb_subscription_next(nb_subscription *s, int64_t timeout_ms,
                                         nb_envelope **out);
/** The subject of the subscription (view). */
NB_EXTERN const char *nb_subscription_subject(const nb_subscription *s);
/** Unsubscribes and frees; waits for a running callback to return. */
NB_EXTERN void nb_subscription_destroy(nb_subscription *s);

/**
 * Sends req on subject and waits up to timeout_ms for the envelope whose
 * reply_to_msg_id is req's msg_id. reply_to is set to a fresh inbox unless
 * the caller set one. NB_NO_RESPONDERS when nobody listens on subject.
 * Without send_asap, the client opens a second connection (same options,
 * SendAsap) at its second request and publishes requests there, so that a
 * request is written at once; it does so only while every publish on the
 * client's own connection was confirmed by a flush, so that a request never
 * overtakes one. The reply still arrives on the client's own connection.
 */
NB_EXTERN nb_status nb_client_request(nb_client *c, const char *subject, nb_envelope *req,
                                      int64_t timeout_ms, nb_envelope **reply);

/**
 * Answers request (borrowed) with reply: published on request's reply_to,
 * with reply_to_msg_id = request's msg_id, the same correlation_id, and the
 * receiver set to the request's sender. Flushed at once.
 */
NB_EXTERN nb_status nb_client_reply(nb_client *c, const nb_envelope *request,
                                    nb_envelope *reply);

/* ------------------------------------------------------------------------ */
/* Seed-shaped sending: smartsend(subject, [(dataname, data, type), ...])   */
/* ------------------------------------------------------------------------ */

/** One (dataname, data, type) of the peers' smartsend. */
typedef struct nb_item {
    const char *dataname; /**< a safe file name (nb_is_safe_filename), unique in the message */
    const void *data;     /**< borrowed; copied by the call (may be NULL when len is 0) */
    size_t len;           /**< bytes at data */
    nb_type type;         /**< nb_type_parse() maps the peers' names ("image", "arrowtable") */
} nb_item;

/**
 * The envelope fields smartsend takes as options. Zero-initialise it; a NULL
 * member keeps the default (fresh correlation and message ids, purpose
 * "chat", the options' sender name, no receiver, no reply-to, no metadata).
 */
typedef struct nb_send_fields {
    const char *correlation_id;
    const char *msg_id;
    const char *msg_purpose;
    const char *receiver_name;
    const char *receiver_id;
    const char *reply_to;
    const char *reply_to_msg_id;
    const char *metadata_json; /**< a JSON object, or NULL */
} nb_send_fields;

/**
 * A new envelope holding copies of items[0..n) and the fields (may be NULL).
 * Refuses an empty list, an unsafe or repeated dataname and content its type
 * forbids (invalid UTF-8 text, a dictionary that is not JSON), naming the item.
 */
NB_EXTERN nb_status nb_envelope_create_items(nb_envelope **out, const nb_item *items, size_t n,
                                             const nb_send_fields *fields);
/**
 * smartsend over a connected client: builds the envelope of items and fields
 * and sends it on subject (as nb_client_send). On NB_OK, *out (when out is
 * not NULL) receives the sent envelope: nb_envelope_json() is its wire text.
 */
NB_EXTERN nb_status nb_client_send_items(nb_client *c, const char *subject, const nb_item *items,
                                         size_t n, const nb_send_fields *fields,
                                         nb_envelope **out);
/**
 * smartsend in one call with its own connection (opts: URL, file server,
 * threshold, sender, authentication, TLS; NULL = defaults), flushed before it
 * returns. *out as for nb_client_send_items.
 */
NB_EXTERN nb_status nb_smartsend_items(const char *subject, const nb_item *items, size_t n,
                                       const nb_send_fields *fields, const nb_options *opts,
                                       nb_envelope **out);

/* ------------------------------------------------------------------------ */
/* Built-in file server (Plik subset and PUT/GET/HEAD/DELETE)               */
/* ------------------------------------------------------------------------ */

typedef struct nb_fileserver nb_fileserver;

typedef struct nb_fileserver_config {
    const char *listen_addr; /**< e.g. "127.0.0.1" */
    int port;                /**< 0 picks a free port */
    const char *dir;         /**< where files are kept (created if missing) */
    int64_t ttl_seconds;     /**< files older than this are swept; 0 = default 24 h */
    uint64_t max_size;       /**< bodies over this get 413; 0 = no limit */
    const char *token;       /**< bearer token for uploads, or NULL */
    bool quiet;              /**< no per-request log lines on stderr */
    /* Hardening (issue 11) and HTTPS (issue 10); 0 or NULL means the default. */
    unsigned max_connections;        /**< open connections in all; 0 = 1000 */
    unsigned max_connections_per_ip; /**< open connections per client address; 0 = 64 */
    unsigned header_timeout_ms;      /**< a request's headers must be complete within; 0 = 10 s */
    unsigned idle_timeout_s;         /**< an idle connection is closed after; 0 = 60 s */
    size_t max_pending_uploads;      /**< POST /upload records still without a file; 0 = 1000 */
    const char *tls_cert_file;       /**< PEM certificate chain: serve HTTPS (needs tls_key_file) */
    const char *tls_key_file;        /**< PEM private key of tls_cert_file */
    /* Browser peers (issue 15): CORS. No origin (the default) means no CORS header at all. */
    /**
     * Origins ("http://host:port", as a browser sends them) whose pages may upload
     * (POST, PUT) and download (GET, HEAD); "*" lets any page download only. Borrowed
     * during nb_fileserver_start (copied). At most 64.
     */
    const char *const *cors_origins;
    size_t cors_origin_count; /**< entries in cors_origins */
} nb_fileserver_config;

/** Starts the file server in background threads (config borrowed). */
NB_EXTERN nb_status nb_fileserver_start(nb_fileserver **out, const nb_fileserver_config *cfg);
/** The port the server listens on. */
NB_EXTERN int nb_fileserver_port(const nb_fileserver *fs);
/** Stops the server and frees it. */
NB_EXTERN void nb_fileserver_stop(nb_fileserver *fs);

/* ------------------------------------------------------------------------ */
/* File server TLS and token (issue 10): how the HTTP client reaches it      */
/* ------------------------------------------------------------------------ */

/**
 * What the built-in HTTP handlers (nb_upload_plik, nb_upload_put,
 * nb_download_http) are given in req->auth, filled from the options below.
 * Views: valid during the handler call only. The token is a secret: it is
 * sent in the Authorization header and never written into an error or a log.
 */
typedef struct nb_fileserver_auth {
    const char *ca_file;   /**< PEM CA bundle trusted for https:// (NULL: the system's) */
    const char *cert_file; /**< PEM client certificate chain for mutual TLS, or NULL */
    const char *key_file;  /**< its PEM private key, or NULL */
    const char *token;     /**< bearer token for uploads, or NULL */
} nb_fileserver_auth;

/**
 * Trusts the CA certificates of the PEM file at path (copied name; the file
 * must be readable now) for https:// file servers, instead of the system's.
 * NULL goes back to the system's CAs.
 */
NB_EXTERN nb_status nb_options_set_fileserver_ca(nb_options *o, const char *path);
/**
 * Presents a client certificate (PEM chain at cert_path) with its private key
 * (PEM at key_path) to https:// file servers that ask for one (mutual TLS).
 * Both names are copied and both files must be readable now; two NULLs clear it.
 */
NB_EXTERN nb_status nb_options_set_fileserver_client_cert(nb_options *o, const char *cert_path,
                                                          const char *key_path);
/**
 * The bearer token the built-in upload handlers send to the file server
 * ("Authorization: Bearer <token>"; copied, NULL clears). Visible ASCII only.
 * A handler ctx given to nb_options_set_upload_handler takes precedence.
 */
NB_EXTERN nb_status nb_options_set_fileserver_token(nb_options *o, const char *token);

/* ------------------------------------------------------------------------ */
/* Tables: Arrow IPC streams and JSON tables                                */
/* ------------------------------------------------------------------------ */

/** The column types natsbridge reads and writes (Arrow logical types). */
typedef enum nb_column_type {
    NB_COL_BOOL = 0,
    NB_COL_INT8,
    NB_COL_INT16,
    NB_COL_INT32,
    NB_COL_INT64,
    NB_COL_UINT8,
    NB_COL_UINT16,
    NB_COL_UINT32,
    NB_COL_UINT64,
    NB_COL_FLOAT32,
    NB_COL_FLOAT64,
    NB_COL_UTF8,      /**< int32 offsets + UTF-8 bytes */
    NB_COL_BINARY,    /**< int32 offsets + bytes */
    NB_COL_DATE32,    /**< int32 days since 1970-01-01 */
    NB_COL_TIMESTAMP, /**< int64 in a unit, with an optional timezone */
    NB_COL_TYPE_COUNT
} nb_column_type;

/** The unit of an NB_COL_TIMESTAMP column (Arrow's TimeUnit order). */
typedef enum nb_time_unit {
    NB_TIME_SECOND = 0,
    NB_TIME_MILLISECOND,
    NB_TIME_MICROSECOND,
    NB_TIME_NANOSECOND
} nb_time_unit;

/* == tables API (issue 4) == */

/**
 * A table: named, typed columns of one row count, each laid out as Apache
 * Arrow lays out an array (validity bitmap, values, offsets). Build it column
 * by column, read it through nb_column_view, send it as a table payload.
 */
typedef struct nb_table nb_table;

/** An empty table (no columns, no rows). Caller frees with nb_table_destroy. */
NB_EXTERN nb_status nb_table_create(nb_table **out);
/** Frees t and its buffers; every nb_column_view of it becomes invalid. */
NB_EXTERN void nb_table_destroy(nb_table *t);

/**
 * Appends a nullable column of rows values; values, offsets and validity are
 * borrowed (copied once). The first column sets the
 * table's row count; every later one must have the same. Layouts (Arrow's):
 *  - fixed-width types (int*, uint*, float*, date32): rows little-endian
 *    values in values; bool: rows bits, LSB first;
 *  - utf8 and binary: offsets holds rows + 1 int32 (offsets[0] == 0 is not
 *    required; they must be monotonic) into the bytes of values; utf8 must be
 *    valid UTF-8.
 * validity (borrowed, may be NULL = no nulls) is a bitmap of rows bits, LSB
 * first, 1 = valid. The name (copied, may be empty) is UTF-8. For
 * NB_COL_TIMESTAMP use nb_table_add_timestamp_column.
 */
NB_EXTERN nb_status nb_table_add_column(nb_table *t, const char *name, nb_column_type type,
                                        int64_t rows, const void *values,
                                        const int32_t *offsets, const uint8_t *validity);
/**
 * Appends a timestamp column: rows int64 counts of unit since the Unix epoch,
 * timezone (copied) an IANA name or offset such as "UTC" or "+01:00", or NULL
 * (or "") for naive timestamps. validity as for nb_table_add_column.
 */
NB_EXTERN nb_status nb_table_add_timestamp_column(nb_table *t, const char *name,
                                                  nb_time_unit unit, const char *timezone,
                                                  int64_t rows, const int64_t *values,
                                                  const uint8_t *validity);

/** The row count (0 for a NULL or empty table). */
NB_EXTERN int64_t nb_table_rows(const nb_table *t);
/** The number of columns. */
NB_EXTERN size_t nb_table_column_count(const nb_table *t);

/**
 * One column as stored, without copies: a view valid until the table is
 * changed or destroyed. Buffers are Arrow's (see nb_table_add_column);
 * validity is NULL when null_count is 0; offsets is NULL unless utf8/binary,
 * and then offsets[0] == 0.
 */
typedef struct nb_column_view {
    const char *name;
    nb_column_type type;
    nb_time_unit unit;      /**< NB_COL_TIMESTAMP only */
    const char *timezone;   /**< NB_COL_TIMESTAMP only; NULL when naive */
    int64_t rows;
    int64_t null_count;
    const uint8_t *validity;
    const void *values;     /**< never NULL (an empty column points at a zero byte) */
    const int32_t *offsets;
} nb_column_view;

/** Fills *out with column i (a view). NB_INVALID_ARG names an index out of range. */
NB_EXTERN nb_status nb_table_column(const nb_table *t, size_t i, nb_column_view *out);
/** The index of the first column named name, or NB_INVALID_ARG naming it. */
NB_EXTERN nb_status nb_table_find_column(const nb_table *t, const char *name, size_t *index);
/** Whether row of the column is null (false when out of range). */
NB_EXTERN bool nb_table_is_null(const nb_column_view *v, int64_t row);
/** The value of a bool column at row (false when null or out of range). */
NB_EXTERN bool nb_table_bool_at(const nb_column_view *v, int64_t row);
/** The bytes of a utf8 or binary value at row (a view; not NUL-terminated); NULL when out of range. */
NB_EXTERN const uint8_t *nb_table_bytes_at(const nb_column_view *v, int64_t row, size_t *len);
/** Arrow's name of a column type: "bool", "int64", "utf8", "timestamp", ... Never NULL. */
NB_EXTERN const char *nb_table_type_name(nb_column_type type);

/* -- Arrow C Data Interface (table_cdata.c) -- */

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    /* Array type description */
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;

    /* Release callback */
    void (*release)(struct ArrowSchema *);
    /* Opaque producer-specific data */
    void *private_data;
};

struct ArrowArray {
    /* Array data description */
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;

    /* Release callback */
    void (*release)(struct ArrowArray *);
    /* Opaque producer-specific data */
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/**
 * Exports t (borrowed) as a struct array (format "+s") whose children are the
 * columns. The exported buffers are copies: they stay valid after
 * nb_table_destroy. On NB_OK the caller owns both structures and calls each
 * release once (the parent's release frees the children that were not moved
 * out); on failure both are left released (release NULL).
 */
NB_EXTERN nb_status nb_table_export(const nb_table *t, struct ArrowSchema *out_schema,
                                    struct ArrowArray *out_array);
/**
 * Imports a struct array of supported columns (formats b c s i l C S I L f g
 * u z tdD tss tsm tsu tsn, with a timezone after ':'). schema and array are
 * taken in every case, as Arrow's importers do: their data is copied and both
 * are released (release set to NULL), on failure too. Offsets (array and
 * children) are applied, null_count -1 is counted, ARROW_FLAG_NULLABLE is
 * kept. An unsupported format is an error naming it and its column; so is
 * a struct array with null rows (a table row cannot be null). Caller frees
 * *out with nb_table_destroy.
 */
NB_EXTERN nb_status nb_table_import(nb_table **out, struct ArrowSchema *schema,
                                    struct ArrowArray *array);

/* -- JSON tables (jsontable.c) -- */

/**
 * t (borrowed) as a JSON array of row objects, keys in column order
 * (PROTOCOL.md "Tables"): nulls as null, integers exact, floats shortest
 * round-trip, -0.0 kept, NaN and infinities as null (JSON has no spelling
 * for them, and JSON.stringify writes null too), binary as base64, date32 as
 * "YYYY-MM-DD", timestamps as ISO-8601 strings. Two columns of one name are
 * NB_INVALID_ARG naming it. *out is malloc'd and NUL-terminated (free with
 * free()); *len may be NULL.
 */
NB_EXTERN nb_status nb_table_to_json(const nb_table *t, char **out, size_t *len);
/**
 * A table from a JSON array of row objects (len bytes, borrowed). Column
 * types are inferred: only integers → int64 (uint64 when one is above
 * INT64_MAX; float64 when one is beyond UINT64_MAX, or negative with one
 * above INT64_MAX), any fraction or exponent → float64, booleans → bool,
 * strings → utf8; null or a missing key is a null; a column of nulls only
 * is utf8. Mixed kinds, nested values, numbers beyond float64 (1e999) and
 * duplicate keys in a row are NB_BAD_PAYLOAD naming the column and row; so
 * is a table with more cells (rows x columns) than 8 per byte of text.
 * Caller frees *out with nb_table_destroy.
 */
NB_EXTERN nb_status nb_table_from_json(nb_table **out, const char *json, size_t len);
/**
 * The value at (col, row) as text, as nb_table_to_json writes it but without
 * JSON quoting or escapes: utf8 as is, binary as base64, dates and
 * timestamps in ISO-8601, NaN/inf/-inf spelled out, a null as "". For
 * printing and CSV. *out is malloc'd (free with free()); *len may be NULL.
 */
NB_EXTERN nb_status nb_table_value_text(const nb_table *t, size_t col, int64_t row, char **out,
                                        size_t *len);

/* -- Table payloads (payload.c) -- */

/**
 * A "table" payload holding t (borrowed) as an Arrow IPC stream, in record
 * batches of batch_rows rows (0: one batch). Caller frees *out with
 * nb_payload_destroy.
 */
NB_EXTERN nb_status nb_payload_create_table(nb_payload **out, const char *dataname,
                                            const nb_table *t, size_t batch_rows);
/**
 * A "jsontable" payload holding t (borrowed) as nb_table_to_json writes it.
 * Caller frees *out with nb_payload_destroy.
 */
NB_EXTERN nb_status nb_payload_create_jsontable(nb_payload **out, const char *dataname,
                                                const nb_table *t);
/**
 * Decodes a table, arrowtable or jsontable payload (in memory or in its file)
 * into a new table (p borrowed; caller frees *out with nb_table_destroy).
 * Arrow IPC and JSON rows are told apart by content, since the Python peer
 * sends JSON as "table".
 */
NB_EXTERN nb_status nb_payload_table(const nb_payload *p, nb_table **out);

/* -- Arrow IPC streams (ipc_read.c, ipc_write.c) -- */

/**
 * t (borrowed) as an Arrow IPC stream: metadata V5, little-endian,
 * continuation markers, 8-byte aligned buffers, record batches of at most
 * batch_rows rows (0: one batch; an empty table still gets one batch of 0
 * rows), then the end-of-stream marker. *out is malloc'd (free with free()).
 */
NB_EXTERN nb_status nb_table_to_ipc(const nb_table *t, size_t batch_rows, uint8_t **out,
                                    size_t *len);
/**
 * t (borrowed) in the Arrow IPC file format (".arrow": ARROW1 magic, the
 * stream above, a footer listing the record batches). *out as above.
 */
NB_EXTERN nb_status nb_table_to_ipc_file(const nb_table *t, size_t batch_rows, uint8_t **out,
                                         size_t *len);
/**
 * A new table from len bytes (borrowed) of an Arrow IPC stream, a legacy
 * stream (no continuation markers) or an Arrow file; every record batch is
 * appended, copied once. The bytes are fully validated: anything malformed,
 * and any unsupported type, dictionary encoding or compression, is
 * NB_BAD_PAYLOAD naming it ("arrow: column 'x': type List is not supported").
 * Caller frees *out with nb_table_destroy.
 */
NB_EXTERN nb_status nb_table_from_ipc(nb_table **out, const void *data, size_t len);

/* -- end Arrow IPC -- */

/* == end tables API == */

/* ------------------------------------------------------------------------ */
/* JetStream: durable publish and pull consumers                            */
/* ------------------------------------------------------------------------ */

/* == jetstream API (issue 6) == */

/*
 * JetStream keeps messages in streams on the server. nb_client_js_publish
 * stores an envelope with its msg_id as the Nats-Msg-Id header, so the server
 * drops a second copy within the stream's duplicate window; a consumer
 * (nb_js_consumer) pulls them, decodes them like nb_client_receive (link
 * payloads downloaded and verified) and acks each one only after the
 * callback said so. See docs/DELIVERY.md for what each mode guarantees.
 */

/* -- Streams -- */

typedef enum nb_js_storage {
    NB_JS_FILE = 0, /**< on disk (the default): survives a server restart */
    NB_JS_MEMORY    /**< in memory only: lost when the server stops */
} nb_js_storage;

/** A stream's settings. Zero means the default for every number and the storage. */
typedef struct nb_js_stream_config {
    const char *name;            /**< required; no '.', '*', '>', '/', '\\' or spaces */
    const char *const *subjects; /**< at least one; wildcards allowed */
    size_t subject_count;
    nb_js_storage storage;       /**< default NB_JS_FILE */
    int replicas;                /**< 1 to 5; 0 = 1 */
    int64_t max_age_ms;          /**< messages older than this are removed; 0 = kept */
    int64_t duplicate_window_ms; /**< Nats-Msg-Id dedupe window; 0 = the server's (2 min) */
} nb_js_stream_config;

/**
 * Creates the stream cfg describes (borrowed), or checks that the existing
 * one has the same subjects, storage, replicas, max age and (when given)
 * duplicate window. A difference is NB_INVALID_ARG naming each setting,
 * and the stream is left as it is. *created (may be NULL) says which.
 */
NB_EXTERN nb_status nb_js_stream_ensure(nb_client *c, const nb_js_stream_config *cfg,
                                        bool *created);

/** A stream's settings and state; strings are views valid until nb_js_stream_info_destroy. */
typedef struct nb_js_stream_info {
    nb_js_stream_config config; /**< duplicate_window_ms as the server has it */
    uint64_t messages;          /**< messages stored */
    uint64_t bytes;             /**< bytes stored */
    uint64_t first_seq;         /**< sequence of the oldest message */
    uint64_t last_seq;          /**< sequence of the newest message */
    int64_t consumers;          /**< consumers on the stream */
    int64_t max_msgs;           /**< most messages kept; -1 = no limit (added in issue 13) */
    int64_t max_bytes;          /**< most bytes kept; -1 = no limit (added in issue 13) */
} nb_js_stream_info;

/** Reads the stream called name. NB_NOT_FOUND when there is none. Free *out with _destroy. */
NB_EXTERN nb_status nb_js_stream_info_get(nb_client *c, const char *name,
                                          nb_js_stream_info **out);
NB_EXTERN void nb_js_stream_info_destroy(nb_js_stream_info *info);
/** Deletes the stream, its messages and its consumers. NB_NOT_FOUND when there is none. */
NB_EXTERN nb_status nb_js_stream_delete(nb_client *c, const char *name);

/* -- Publishing -- */

/** The server's acknowledgement of a stored message. */
typedef struct nb_js_ack {
    char stream[256];  /**< the stream that stored it (a longer name is cut) */
    uint64_t sequence; /**< its sequence in that stream */
    bool duplicate;    /**< true: the stream already had this msg_id; nothing new was stored */
} nb_js_ack;

/**
 * How nb_client_js_publish waits and retries. Zero means the default; every
 * duration in this section is at most 30 days (2592000000 ms), beyond which
 * nats.c's clock or the server's nanoseconds would overflow.
 */
typedef struct nb_js_publish_options {
    int64_t timeout_ms;        /**< wait for each ack; 0 = 5000 */
    int retries;               /**< republish the same bytes and msg_id after a timeout,
                                    a lost connection or no JetStream answering; 0 = none */
    int64_t retry_delay_ms;    /**< first back-off delay (doubling; every delay capped at 5 s); 0 = 200 */
    const char *expect_stream; /**< fail unless this stream stores it; NULL = any */
} nb_js_publish_options;

/**
 * Builds e for subject as nb_client_send does (uploading link payloads) and
 * stores it in the stream holding subject, with Nats-Msg-Id = e's msg_id, then
 * waits for the ack (ack may be NULL). Retries, when asked, reuse the built
 * bytes, so the stream keeps one copy. An envelope over the server's
 * max_payload is refused naming both sizes. po may be NULL.
 */
NB_EXTERN nb_status nb_client_js_publish(nb_client *c, const char *subject, nb_envelope *e,
                                         const nb_js_publish_options *po, nb_js_ack *ack);

typedef struct nb_js_publisher nb_js_publisher;

/**
 * The outcome of one asynchronous publish: s is NB_OK with ack set, or the
 * failure (ack NULL, error names it; NB_TIMEOUT when no ack came in time:
 * the message may or may not be stored, and publishing the same envelope
 * again is safe). msg_id, subject and error are views valid during the
 * call, which comes from a nats.c thread.
 */
typedef void (*nb_js_ack_cb)(nb_js_publisher *p, const char *msg_id, const char *subject,
                             nb_status s, const char *error, const nb_js_ack *ack,
                             void *closure);

/**
 * An asynchronous publisher on c with at most max_pending messages awaiting
 * their ack (0 = 256); every message gets one on_ack call (required) after
 * at most ack_timeout_ms (0 = 5000). It may be used from several threads.
 * on_ack calls come one at a time (from a nats.c thread, or from destroy for
 * the messages it gives up on). Destroy it before c.
 */
NB_EXTERN nb_status nb_js_publisher_create(nb_js_publisher **out, nb_client *c, int max_pending,
                                           int64_t ack_timeout_ms, nb_js_ack_cb on_ack,
                                           void *closure);
/**
 * Builds e (borrowed) as nb_client_js_publish does and sends it without
 * waiting for the ack. Blocks while max_pending are in flight: NB_TIMEOUT
 * when none was acked within the ack timeout (e was not sent).
 */
NB_EXTERN nb_status nb_js_publisher_send(nb_js_publisher *p, const char *subject,
                                         nb_envelope *e);
/**
 * Waits until every message sent so far got its on_ack call; NB_TIMEOUT after
 * timeout_ms. NB_INVALID_ARG from inside on_ack (the acks come on that thread).
 */
NB_EXTERN nb_status nb_js_publisher_wait(nb_js_publisher *p, int64_t timeout_ms);
/** Messages sent and not yet acknowledged. */
NB_EXTERN int64_t nb_js_publisher_pending(nb_js_publisher *p);
/**
 * Waits up to the ack timeout for pending acks, then gives each message still
 * pending its on_ack call (NB_TIMEOUT, "publisher destroyed before the ack
 * came") and frees; no on_ack call comes afterwards. From inside on_ack it
 * does not wait: the pending ones get that call as soon as on_ack returns.
 */
NB_EXTERN void nb_js_publisher_destroy(nb_js_publisher *p);

/* -- Durable pull consumers -- */

typedef struct nb_js_consumer nb_js_consumer;

/** Where a new durable consumer starts; an existing one keeps its place. */
typedef enum nb_js_start {
    NB_JS_START_ALL = 0,      /**< the oldest message in the stream (the default) */
    NB_JS_START_SEQUENCE,     /**< the message with start_sequence, or the next one */
    NB_JS_START_TIME,         /**< the first message stored at or after start_time_ms */
    NB_JS_START_NEW,          /**< only messages stored after the consumer is created */
    NB_JS_START_LAST          /**< the newest message in the stream, then new ones (issue 13) */
} nb_js_start;

/** A consumer's settings. Zero means the default for every number. */
typedef struct nb_js_consumer_config {
    const char *stream;       /**< NULL: the stream that holds subject */
    const char *subject;      /**< required: what to consume (wildcards allowed) */
    const char *durable;      /**< its name on the server, where it keeps its place; NULL: an
                                   ephemeral consumer, deleted by nb_js_consumer_destroy and
                                   by the server once unused for inactive_threshold_ms */
    int batch;                /**< messages asked for per pull; 0 = 64 */
    int64_t ack_wait_ms;      /**< redelivered when not acked within this; 0 = 30000.
                                   While a fetched batch is worked through (downloads and
                                   callbacks), its unacked messages are sent "in progress"
                                   every ack_wait_ms / 2, so a long one is not redelivered */
    int max_deliver;          /**< deliveries of one message before giving up; 0 = no limit */
    nb_js_start start;
    uint64_t start_sequence;  /**< for NB_JS_START_SEQUENCE (>= 1) */
    int64_t start_time_ms;    /**< for NB_JS_START_TIME: Unix time in milliseconds */
    int64_t nak_delay_ms;     /**< redelivery delay after a transient failure, doubled per
                                   delivery; 0 = 1000 */
    int64_t max_nak_delay_ms; /**< cap of that delay; 0 = 60000 */
    int not_found_deliveries; /**< a link that is not found (NB_NOT_FOUND: HTTP 404/410, or
                                   no such Object Store object) is terminated at this
                                   delivery; 0 = 3 */
    int64_t inactive_threshold_ms; /**< ephemeral only: the server deletes it after this long
                                        without a pull (a listener that died); 0 = 30000 */
} nb_js_consumer_config;

/** Where a delivered message stands; strings are views valid during the callback. */
typedef struct nb_js_delivery {
    const char *stream;
    const char *consumer;
    const char *subject;
    uint64_t stream_seq;   /**< the message's sequence in the stream */
    uint64_t consumer_seq; /**< this delivery's sequence in the consumer */
    uint64_t delivered;    /**< 1 the first time, 2 on the first redelivery, ... */
    uint64_t pending;      /**< messages left for the consumer after this one */
    int64_t timestamp_ms;  /**< when the stream stored it, Unix time in milliseconds */
} nb_js_delivery;

/** What to do with a delivered message. */
typedef enum nb_js_action {
    NB_JS_ACK = 0, /**< done: never delivered again */
    NB_JS_NAK,     /**< failed for now: delivered again after the nak delay */
    NB_JS_TERM,    /**< failed for good: never delivered again */
    NB_JS_NAK_NOW, /**< not handled (shutting down): delivered again at once */
    NB_JS_NONE     /**< (error callback only) the error is not about one message */
} nb_js_action;

/**
 * Called on the consumer's thread for every envelope (taken) once its links
 * are downloaded and verified; the message is acked, naked or terminated
 * as the return value says (any other value naks). A nak of the last
 * delivery max_deliver allows is a term, reported to the error callback.
 */
typedef nb_js_action (*nb_js_envelope_cb)(nb_js_consumer *cons, nb_envelope *env,
                                          const nb_js_delivery *d, void *closure);
/**
 * Called on the consumer's thread when a message could not be decoded
 * (action NB_JS_NAK: it comes back; NB_JS_TERM: it will not), when the
 * callback naked the last allowed delivery (NB_NATS, NB_JS_TERM), when an
 * ack could not be sent (NB_JS_NONE) or when pulling failed (d NULL,
 * NB_JS_NONE; pulling goes on). message is a view valid during the call and
 * names the stream sequence.
 */
typedef void (*nb_js_error_cb)(nb_js_consumer *cons, nb_status s, const char *message,
                               const nb_js_delivery *d, nb_js_action action, void *closure);

/**
 * Creates the durable consumer cfg describes (borrowed), or binds to the
 * existing one (its ack wait and max deliver are updated, except on a
 * durable that starts from a time, which the server keeps as it is; a
 * different subject or start is NB_INVALID_ARG naming it), and pulls from a
 * thread of its own until destroyed. on_error may be NULL (errors go to
 * stderr).
 */
NB_EXTERN nb_status nb_js_consumer_create(nb_js_consumer **out, nb_client *c,
                                          const nb_js_consumer_config *cfg,
                                          nb_js_envelope_cb on_envelope, nb_js_error_cb on_error,
                                          void *closure);
/**
 * Stops pulling and frees: waits for a running callback; fetched messages
 * not yet handed over are naked so they come back at once. The durable stays
 * on the server; an ephemeral consumer (no durable) is deleted. Before nb_client_destroy. May be called from the consumer's
 * own callbacks: it then returns at once, the callback's verdict is still
 * applied, and the consumer's thread frees it without using the client
 * again, so the callback may destroy the client next.
 */
NB_EXTERN void nb_js_consumer_destroy(nb_js_consumer *cons);
/** Deletes the durable consumer from the stream. NB_NOT_FOUND when there is none. */
NB_EXTERN nb_status nb_js_consumer_delete(nb_client *c, const char *stream, const char *durable);

/* == end jetstream API == */

/* == jetstream management API (issue 13) == */

/**
 * Every stream on the server, with its settings and state: *out is an array
 * of *count infos (NULL and 0 when there is none). Free with
 * nb_js_stream_list_destroy.
 */
NB_EXTERN nb_status nb_js_stream_list(nb_client *c, nb_js_stream_info ***out, size_t *count);
NB_EXTERN void nb_js_stream_list_destroy(nb_js_stream_info **list, size_t count);

/**
 * Removes messages from stream name: all of them, or (subject not NULL) only
 * those on subject (wildcards allowed); keep > 0 keeps that many of the
 * newest. *purged (may be NULL) is how many went. NB_NOT_FOUND: no such stream.
 */
NB_EXTERN nb_status nb_js_stream_purge(nb_client *c, const char *name, const char *subject,
                                       uint64_t keep, uint64_t *purged);

/** Which members of nb_js_stream_changes nb_js_stream_update applies (bits of `set`). */
enum {
    NB_JS_SET_SUBJECTS = 1 << 0,
    NB_JS_SET_MAX_AGE = 1 << 1,
    NB_JS_SET_MAX_MSGS = 1 << 2,
    NB_JS_SET_MAX_BYTES = 1 << 3,
    NB_JS_SET_DUPLICATE_WINDOW = 1 << 4,
    NB_JS_SET_REPLICAS = 1 << 5
};

/** The settings of a stream that may change; only those named in `set` are applied. */
typedef struct nb_js_stream_changes {
    unsigned set;                /**< NB_JS_SET_* bits */
    const char *const *subjects; /**< the new subject list (replaces the old), at least one */
    size_t subject_count;
    int64_t max_age_ms;          /**< 0 = kept forever */
    int64_t max_msgs;            /**< -1 = no limit */
    int64_t max_bytes;           /**< -1 = no limit */
    int64_t duplicate_window_ms; /**< > 0, at most max_age when that is set */
    int replicas;                /**< 1 to 5 (more than 1 needs a cluster) */
} nb_js_stream_changes;

/**
 * Changes the settings of the existing stream name as ch says (borrowed);
 * the others stay. Storage, name and retention cannot change. A refusal of
 * the server is NB_INVALID_ARG with its reason; NB_NOT_FOUND: no such stream.
 */
NB_EXTERN nb_status nb_js_stream_update(nb_client *c, const char *name,
                                        const nb_js_stream_changes *ch);

/** A consumer's settings and state; strings are views valid until its _destroy. */
typedef struct nb_js_consumer_info {
    const char *stream;
    const char *name;          /**< the durable's name, or the server's name of an ephemeral */
    const char *subject;       /**< its filter subject; "" when it takes the whole stream */
    bool durable;              /**< false: ephemeral */
    bool pull;                 /**< false: a push consumer (with a deliver subject) */
    nb_js_start start;
    uint64_t start_sequence;   /**< for NB_JS_START_SEQUENCE */
    int64_t start_time_ms;     /**< for NB_JS_START_TIME, Unix time in milliseconds */
    int64_t ack_wait_ms;
    int64_t max_deliver;       /**< -1 = no limit */
    int64_t inactive_threshold_ms; /**< 0 = none */
    int64_t created_ms;        /**< Unix time in milliseconds */
    uint64_t pending;          /**< messages not delivered yet */
    uint64_t ack_pending;      /**< delivered and not acked yet */
    uint64_t redelivered;      /**< delivered more than once and not acked yet */
    uint64_t delivered_seq;    /**< stream sequence of the last delivery */
    uint64_t ack_floor_seq;    /**< stream sequence up to which everything is acked */
} nb_js_consumer_info;

/** Reads consumer name of stream. NB_NOT_FOUND when either is missing. Free *out with _destroy. */
NB_EXTERN nb_status nb_js_consumer_info_get(nb_client *c, const char *stream, const char *name,
                                            nb_js_consumer_info **out);
NB_EXTERN void nb_js_consumer_info_destroy(nb_js_consumer_info *info);
/**
 * Every consumer of stream (durable and ephemeral): *out is an array of
 * *count infos (NULL and 0 when there is none). Free with nb_js_consumer_list_destroy.
 */
NB_EXTERN nb_status nb_js_consumer_list(nb_client *c, const char *stream,
                                        nb_js_consumer_info ***out, size_t *count);
NB_EXTERN void nb_js_consumer_list_destroy(nb_js_consumer_info **list, size_t count);

/* == end jetstream management API == */

/* ------------------------------------------------------------------------ */
/* Object Store claim-check backend (ADR-20 over JetStream)                 */
/* ------------------------------------------------------------------------ */

/* == object store API (issue 6) == */

/*
 * A bucket of a JetStream Object Store, read and written exactly as ADR-20
 * says (stream OBJ_<bucket>, 128 KiB chunks, SHA-256 digest), so that other
 * NATS clients (nats.go, nats.js views.os, nats.py) share its objects. Puts
 * and gets stream with bounded memory. Uses the client's connection: destroy
 * the handle before the client. One handle may be used by one thread at a time.
 */
typedef struct nb_objstore nb_objstore;

/** How a bucket is made (zero it, then set what matters). */
typedef struct nb_objstore_config {
    const char *bucket;      /**< required; letters, digits, '-' and '_' */
    const char *description; /**< may be NULL */
    int64_t ttl_ms;          /**< objects older than this expire (stream max_age); 0 = never */
    bool memory_storage;     /**< memory instead of file storage */
    int replicas;            /**< copies in a cluster; 0 means 1 */
    int64_t max_bytes;       /**< size limit of the bucket; 0 = none */
} nb_objstore_config;

/** What the store knows of one object; strings are malloc'd, freed by nb_object_info_clear. */
typedef struct nb_object_info {
    char *name;     /**< the object's name (any UTF-8) */
    char *bucket;
    char *nuid;     /**< names the chunk subject $O.<bucket>.C.<nuid> */
    char *digest;   /**< "SHA-256=" + padded base64url, "" when unknown */
    uint64_t size;  /**< bytes */
    uint32_t chunks;
    int64_t mtime_ns; /**< when the meta was stored (ns since 1970), from the server */
} nb_object_info;

/** Frees the strings of info and zeroes it (NULL is fine). */
NB_EXTERN void nb_object_info_clear(nb_object_info *info);

/** Creates the bucket when it does not exist (an existing one is used as it is) and opens it. */
NB_EXTERN nb_status nb_objstore_create(nb_objstore **out, nb_client *c,
                                       const nb_objstore_config *cfg);
/** Opens an existing bucket; NB_NOT_FOUND "... not found" when there is none. */
NB_EXTERN nb_status nb_objstore_open(nb_objstore **out, nb_client *c, const char *bucket);
NB_EXTERN void nb_objstore_destroy(nb_objstore *os);
/** Deletes a bucket with every object in it. */
NB_EXTERN nb_status nb_objstore_delete_bucket(nb_client *c, const char *bucket);

/** Longest wait for the next chunk (get) or for acks to progress (put); default 10000 ms. */
NB_EXTERN nb_status nb_objstore_set_idle_timeout(nb_objstore *os, int64_t ms);
/** Chunks published and not yet acknowledged during a put; default 32 (4 MiB). */
NB_EXTERN nb_status nb_objstore_set_max_in_flight(nb_objstore *os, int chunks);
/** Progress of puts and gets (dataname = the object's name); NULL turns it off. */
NB_EXTERN nb_status nb_objstore_set_progress_cb(nb_objstore *os, nb_progress_cb cb,
                                                void *closure);

/** Reads up to cap bytes into buf; *got = 0 means the end. A failure stops the put. */
typedef nb_status (*nb_read_fn)(void *closure, uint8_t *buf, size_t cap, size_t *got);
/** Takes n bytes (borrowed); a failure stops the get. */
typedef nb_status (*nb_write_fn)(void *closure, const uint8_t *buf, size_t n);

/**
 * Puts an object read from read until it returns no bytes, replacing any
 * object of that name once the new one is complete. On failure the chunks
 * already sent are purged. info (may be NULL) gets the stored info.
 */
NB_EXTERN nb_status nb_objstore_put(nb_objstore *os, const char *name, nb_read_fn read,
                                    void *closure, nb_object_info *info);
/** Puts len bytes (borrowed). */
NB_EXTERN nb_status nb_objstore_put_bytes(nb_objstore *os, const char *name, const void *data,
                                          size_t len, nb_object_info *info);
/** Puts the file at path, streamed. */
NB_EXTERN nb_status nb_objstore_put_file(nb_objstore *os, const char *name, const char *path,
                                         nb_object_info *info);
/** Puts what can be read from fd until its end (a pipe or socket too); fd is borrowed, not closed. */
NB_EXTERN nb_status nb_objstore_put_fd(nb_objstore *os, const char *name, int fd,
                                       nb_object_info *info);

/** The info of an object; NB_NOT_FOUND "... not found" when it does not exist or was deleted. */
NB_EXTERN nb_status nb_objstore_get_info(nb_objstore *os, const char *name,
                                         nb_object_info *info);
/**
 * Streams an object into write, chunk by chunk, then checks its size and
 * digest: NB_INTEGRITY "received a corrupt object, digests do not match".
 * info (may be NULL) gets the object's info.
 */
NB_EXTERN nb_status nb_objstore_get(nb_objstore *os, const char *name, nb_write_fn write,
                                    void *closure, nb_object_info *info);
/**
 * An object into memory: *data (malloc'd, NUL-terminated, caller frees) and
 * *len. NB_TOO_LARGE when it is over max_bytes (0 = no cap).
 */
NB_EXTERN nb_status nb_objstore_get_bytes(nb_objstore *os, const char *name, uint64_t max_bytes,
                                          uint8_t **data, size_t *len);
/**
 * An object streamed into the file at path, through "<path>.part" renamed
 * once its size and digest are checked (the .part file is removed on failure).
 */
NB_EXTERN nb_status nb_objstore_get_file(nb_objstore *os, const char *name, const char *path);
/** Deletes an object: a tombstone replaces its info, its chunks are purged. */
NB_EXTERN nb_status nb_objstore_delete(nb_objstore *os, const char *name);

/**
 * Link payloads go into an Object Store bucket instead of the file server:
 * url is "nats-os://BUCKET" (copied; the bucket is created when missing; NULL
 * turns it off). Sending must then go through an nb_client (nb_client_send,
 * nb_smartsend), whose connection is used. The URL that travels is
 * nats-os://BUCKET/NAME (docs/PROTOCOL.md, "Object Store links"). Receivers
 * fetch nats-os:// links over their client's connection, and only from this
 * bucket and those added with nb_options_add_allowed_origin: a link into any
 * other bucket is refused with NB_NOT_ALLOWED naming it.
 */
NB_EXTERN nb_status nb_options_set_link_store(nb_options *o, const char *url);

/* ------------------------------------------------------------------------ */
/* downloads (issue 11)                                                     */
/* ------------------------------------------------------------------------ */

/** Default of nb_options_set_download_deadline: the whole transfer, retries included. */
#define NB_DEFAULT_DOWNLOAD_DEADLINE_MS (10 * 60 * 1000)
/** Default of nb_options_set_idle_timeout. */
#define NB_DEFAULT_IDLE_TIMEOUT_MS 30000
/** Default of nb_options_set_retry_budget: rides out a file-server restart of ~10 s. */
#define NB_DEFAULT_RETRY_BUDGET_MS 30000

/**
 * A download attempt that receives no byte for ms (waiting for the answer
 * included) fails with NB_HTTP naming the idle timeout; it is retried, resuming
 * where it stopped, within the retry budget. 0 turns it off.
 */
NB_EXTERN nb_status nb_options_set_idle_timeout(nb_options *o, int64_t ms);
/**
 * How long a failing download keeps retrying, as time: it gives up once no
 * byte has arrived for ms (each byte received starts the budget again), with
 * the back-off delays of nb_options_set_backoff. Retries resume with a Range
 * request. 0 counts attempts instead (max_retries); nb_options_set_backoff sets
 * 0, so call this after it to keep a time budget.
 */
NB_EXTERN nb_status nb_options_set_retry_budget(nb_options *o, int64_t ms);
/**
 * Downloads check *flag (borrowed; NULL turns it off) while they run and
 * between retries: once it is non-zero they stop within ~100 ms with NB_HTTP
 * "... interrupted". Meant for a flag a SIGINT/SIGTERM handler sets.
 */
NB_EXTERN nb_status nb_options_set_stop_flag(nb_options *o, const volatile sig_atomic_t *flag);

/* == end object store API == */

/* ------------------------------------------------------------------------ */
/* Connecting to a secured NATS (issue 10)                                  */
/* ------------------------------------------------------------------------ */
/*
 * Every setter copies its arguments and checks them at once; a file that
 * cannot be read is NB_INVALID_ARG naming the option and the path, never
 * the secret inside. Secrets (password, token, seed, JWT) are wiped from
 * memory when the options are destroyed and are never written into an
 * envelope, an error message or a log line: broker_url and every printed URL
 * lose their userinfo ("nats://user:pass@host" becomes "nats://host").
 * NULL or "" clears a setting.
 */

/** User and password for the NATS server (as natsOptions_SetUserInfo). */
NB_EXTERN nb_status nb_options_set_user_password(nb_options *o, const char *user,
                                                 const char *password);
/** Authentication token for the NATS server. */
NB_EXTERN nb_status nb_options_set_token(nb_options *o, const char *token);
/** NKey authentication: path of the user's seed file ("SU..."); the public key is derived from it. */
NB_EXTERN nb_status nb_options_set_nkey_seed_file(nb_options *o, const char *path);
/** Decentralized auth: a natscli/nsc .creds file holding the user JWT and NKey seed. */
NB_EXTERN nb_status nb_options_set_creds_file(nb_options *o, const char *path);
/** Decentralized auth from memory: the user JWT and the NKey seed ("SU...") as text. */
NB_EXTERN nb_status nb_options_set_creds(nb_options *o, const char *jwt, const char *seed);
/** PEM file of the CA(s) that signed the server's certificate; implies TLS. */
NB_EXTERN nb_status nb_options_set_tls_ca_file(nb_options *o, const char *path);
/** Client certificate chain and its private key (PEM files) for mutual TLS; implies TLS. */
NB_EXTERN nb_status nb_options_set_tls_client_cert(nb_options *o, const char *cert_path,
                                                   const char *key_path);
/** Host name the server's certificate must carry (default: none checked beyond the CA). */
NB_EXTERN nb_status nb_options_set_tls_hostname(nb_options *o, const char *name);
/**
 * Require TLS: the connection fails rather than falling back to plain text.
 * Also implied by any tls:// URL in the server list and by a CA or client
 * certificate.
 */
NB_EXTERN nb_status nb_options_set_tls_required(nb_options *o, bool required);
/** Connection name the server shows in its monitoring (natsOptions_SetName). */
NB_EXTERN nb_status nb_options_set_connection_name(nb_options *o, const char *name);

/**
 * Escape hatch for every other nats.c option: fn receives the natsOptions *
 * (as void *, so that callers need not include nats.h) after natsbridge
 * applied its own settings and just before connecting. A status other than
 * NB_OK stops the connect with that status.
 */
typedef nb_status (*nb_nats_configure_fn)(void *nats_options, void *closure);
NB_EXTERN nb_status nb_options_set_nats_configure(nb_options *o, nb_nats_configure_fn fn,
                                                  void *closure);

/**
 * Copies url (one URL or a comma-separated list, scheme optional) into out
 * without userinfo: "nats://u:p@h:4222,tok@h2" gives "nats://h:4222,h2". Any
 * other text is copied with the userinfo of every "scheme://" URL in it
 * removed. Always NUL-terminates (cut to outsz - 1); returns out.
 */
NB_EXTERN char *nb_url_redact(const char *url, char *out, size_t outsz);

/* == end secured NATS API == */
/* == receive limits (issue 11) == */

/*
 * What one received envelope may hold. Every limit is checked before the
 * memory it guards is spent (the wire text before parsing, counts before
 * per-payload state, the links' total before any download) and an envelope
 * over one is refused with an error naming the limit, its value, the setter
 * and the CLI flag. docs/SECURITY.md, "Limits", lists the defaults.
 */
#define NB_DEFAULT_MAX_PAYLOADS 256
#define NB_DEFAULT_MAX_LINK_BYTES (1024ULL * 1024 * 1024) /* 1 GiB */
#define NB_DEFAULT_MAX_DATANAME 1024
#define NB_DEFAULT_MAX_METADATA_DEPTH 64
#define NB_DEFAULT_MAX_ENVELOPE_BYTES (64u * 1024 * 1024) /* NATS's largest max_payload */

/** Payloads one envelope may carry (>= 1; default 256). */
NB_EXTERN nb_status nb_options_set_max_payloads(nb_options *o, size_t count);
/** Sum of the announced sizes of an envelope's link payloads, checked before any download (>= 1). */
NB_EXTERN nb_status nb_options_set_max_link_bytes(nb_options *o, uint64_t bytes);
/** Longest dataname in bytes (>= 1; default 1024). */
NB_EXTERN nb_status nb_options_set_max_dataname(nb_options *o, size_t bytes);
/** Deepest nesting of a metadata object: {} is 1, {"a":{}} is 2 (>= 1; default 64). */
NB_EXTERN nb_status nb_options_set_max_metadata_depth(nb_options *o, int depth);
/** Largest envelope wire text the decoder accepts, in bytes (>= 1; default 64 MiB). */
NB_EXTERN nb_status nb_options_set_max_envelope_bytes(nb_options *o, size_t bytes);

/* == end receive limits == */

/* == publisher loss (issue 11) == */

/**
 * Confirms that every envelope published on c since the last confirmation
 * reached the server (a flush: the server has read them). NB_CONNECTION when
 * it cannot (not answered in timeout_ms) or when the connection was lost in
 * between, naming how many envelopes may be lost; that loss is reported once.
 * The disconnect and close events name the same count (docs/DELIVERY.md).
 * Like nb_client_flush, NB_PERMISSION when the server refused a publish.
 */
NB_EXTERN nb_status nb_client_confirm(nb_client *c, int64_t timeout_ms);

/* == end publisher loss == */

/* == envelopes that fit the server (issue 16) == */

/**
 * On by default: when an envelope sent through a client (nb_client_send,
 * requests, replies, JetStream publish) would exceed the server's max_payload,
 * its largest direct payloads are uploaded and sent by link, one at a time,
 * until it fits; they then say transport "link" like any link payload. This
 * needs a link destination (nb_options_set_fileserver_url, a link store or an
 * upload handler); without one, or with this off, the envelope is refused
 * with NB_TOO_LARGE as before.
 */
NB_EXTERN nb_status nb_options_set_auto_link(nb_options *o, bool on);

/* == end envelopes that fit the server == */

/* == Python binding support (src/nats/binding_py.c; bindings/python) == */

/**
 * One payload of a received envelope as views valid while the envelope lives:
 * data is NULL when the bytes are in a file (path) or were not fetched (url).
 */
typedef struct nb_py_payload_view {
    const char *dataname;
    const uint8_t *data;
    size_t len;
    const char *path;
    const char *url;
    int type; /* nb_type */
} nb_py_payload_view;

/**
 * Fills views[0..cap) with e's payloads in one call and sets *count to how
 * many payloads e has (which may be more than cap: call again with room).
 */
NB_EXTERN nb_status nb_py_envelope_view(const nb_envelope *e, nb_py_payload_view *views,
                                        size_t cap, size_t *count);

/** A subscription read in batches by the binding's own thread, which decodes as it takes. */
typedef struct nb_py_queue nb_py_queue;

/** One delivery: env (taken by the reader) with status NB_OK, or an error and its message. */
typedef struct nb_py_delivery {
    nb_envelope *env;
    int status; /* nb_status */
    char message[512];
} nb_py_delivery;

/**
 * Subscribes to subject (in a queue group when queue is not NULL). Messages
 * wait in nats.c's queue (its pending limits apply: drops are reported as
 * NB_SLOW_CONSUMER deliveries) and are decoded by the thread that takes them,
 * so that no thread sits between nats.c's reader and the binding's. Free with
 * nb_py_queue_destroy.
 */
NB_EXTERN nb_status nb_py_queue_subscribe(nb_client *c, nb_py_queue **out, const char *subject,
                                          const char *queue);
/**
 * Waits up to timeout_ms (< 0: forever, 0: not at all) for a message, then
 * takes and decodes up to cap of those queued into out, in order; *n gets how
 * many. A message that fails to decode is a delivery with its error, and ends
 * the batch. Decoding may fetch links: call it without locks a caller's other
 * threads need (Python's GIL). NB_TIMEOUT when none came, NB_INVALID_ARG once
 * the queue is closed; another status (the connection closed, say) when no
 * message will come.
 */
NB_EXTERN nb_status nb_py_queue_next(nb_py_queue *q, int64_t timeout_ms, nb_py_delivery *out,
                                     size_t cap, size_t *n);
/**
 * nb_py_queue_next that also writes each taken delivery into blob (blob_cap
 * bytes; *blob_len gets how many were written), so that the binding reads a
 * whole batch from one buffer instead of making a call per envelope. Takes at
 * most blob_cap / 16 deliveries. Per delivery, in native byte order: uint64
 * env (as in out), int32 status, int32 count; then, count times, int32 type,
 * uint32 dataname length, uint32 data length, the dataname's bytes and the
 * data's bytes. count is -1 for an error, and for an envelope whose payloads
 * were not copied (one in a file or not fetched, one over 16 KiB, or no room
 * left): read those with nb_py_envelope_view.
 */
NB_EXTERN nb_status nb_py_queue_take(nb_py_queue *q, int64_t timeout_ms, nb_py_delivery *out,
                                     size_t cap, size_t *n, uint8_t *blob, size_t blob_cap,
                                     size_t *blob_len);
/** Unsubscribes and wakes every reader (later calls fail); frees nothing. */
NB_EXTERN void nb_py_queue_close(nb_py_queue *q);
/** Closes and frees the queue and what is still in it; no reader may be inside it. */
NB_EXTERN void nb_py_queue_destroy(nb_py_queue *q);

/* == end Python binding support == */

#ifdef __cplusplus
}
#endif

#endif /* NATSBRIDGE_H */
