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
 *  - Handles are opaque. Out-pointers come first and are set to NULL on
 *    failure. Every _destroy(NULL) is a harmless no-op.
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

/** NATS server URL (copied); also written as the envelope's broker_url. */
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
/** Overall time limit for one download, retries included; 0 (default) means none. */
NB_EXTERN nb_status nb_options_set_download_deadline(nb_options *o, int64_t ms);
/** Adds an origin ("http://host:port") from which link URLs may be downloaded. */
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

/** What an upload handler is given: bytes in memory or a file to stream. */
typedef struct nb_upload_request {
    const char *fileserver_url; /**< base URL of the file server */
    const char *dataname;       /**< the payload's name */
    const uint8_t *data;        /**< the bytes, or NULL when path is set */
    const char *path;           /**< a file to stream, or NULL */
    uint64_t size;              /**< byte count of data or of the file */
    const char *sha256_hex;     /**< lowercase hex SHA-256 of the bytes */
    nb_progress_cb progress;    /**< may be NULL */
    void *progress_closure;
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
} nb_download_request;

/** Downloads req->url; when req->path is NULL, *data (malloc'd, taken by the library) and *len are set. */
typedef nb_status (*nb_download_fn)(const nb_download_request *req, uint8_t **data,
                                    size_t *len, void *ctx);

/**
 * The built-in upload handlers: Plik's API (POST /upload, then POST /file/{id}
 * multipart), or a plain HTTP PUT to {fileserver_url}/{uuid}/{dataname}. ctx is
 * NULL, or the bearer token itself (a const char * cast to void *), sent as
 * "Authorization: Bearer <token>". Bytes are streamed from req->path when set.
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
/** The parsed JSON of a dictionary or jsontable payload; NULL otherwise. */
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
} nb_fileserver_config;

/** Starts the file server in background threads (config borrowed). */
NB_EXTERN nb_status nb_fileserver_start(nb_fileserver **out, const nb_fileserver_config *cfg);
/** The port the server listens on. */
NB_EXTERN int nb_fileserver_port(const nb_fileserver *fs);
/** Stops the server and frees it. */
NB_EXTERN void nb_fileserver_stop(nb_fileserver *fs);

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

/* -- Arrow IPC streams (ipc_read.c, ipc_write.c) -- */

/* -- end Arrow IPC -- */

/* == end tables API == */

/* ------------------------------------------------------------------------ */
/* JetStream: durable publish and pull consumers                            */
/* ------------------------------------------------------------------------ */

/* == jetstream API (issue 6) == */

/* == end jetstream API == */

/* ------------------------------------------------------------------------ */
/* Object Store claim-check backend (ADR-20 over JetStream)                 */
/* ------------------------------------------------------------------------ */

/* == object store API (issue 6) == */

/* == end object store API == */

#ifdef __cplusplus
}
#endif

#endif /* NATSBRIDGE_H */
