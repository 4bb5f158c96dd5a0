/* SPDX-License-Identifier: MIT */
/*
 * addon.c - the Node-API module: errors, JS values <-> C values, options.
 * The asynchronous operations are in ops.c, subscriptions in subs.c; the
 * JavaScript API (smartsend, smartreceive, Client) is in ../lib/natsbridge.js.
 */
#include "nbnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The enum's names, so that JS code can test err.code === 'NB_TIMEOUT'. */
static const char *const status_names[NB_STATUS_COUNT] = {
    "NB_OK", "NB_INVALID_ARG", "NB_NO_MEMORY", "NB_BAD_ENVELOPE", "NB_BAD_PAYLOAD",
    "NB_TOO_LARGE", "NB_CONNECTION", "NB_TIMEOUT", "NB_NO_RESPONDERS", "NB_SLOW_CONSUMER",
    "NB_IO", "NB_HTTP", "NB_INTEGRITY", "NB_NOT_ALLOWED", "NB_NATS", "NB_INTERNAL",
    "NB_NOT_FOUND", "NB_PERMISSION",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == NB_STATUS_COUNT,
               "one name per nb_status");

napi_value nbn_undefined(napi_env env)
{
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
}

/* A napi call failed: keep a pending exception if there is one, else throw naming the call. */
void nbn_throw_napi(napi_env env, const char *what)
{
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending)
        return;
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    char msg[512];
    snprintf(msg, sizeof msg, "natsbridge addon: %s failed (%s)", what,
             info && info->error_message ? info->error_message : "unknown napi error");
    napi_throw_error(env, NULL, msg);
}

/* An Error with message, .code (the status's enum name) and .status (its number). */
napi_value nbn_error_value(napi_env env, nb_status s, const char *message)
{
    napi_value msg, code, num, err;
    if ((unsigned)s >= NB_STATUS_COUNT)
        s = NB_INTERNAL;
    napi_create_string_utf8(env, message && *message ? message : nb_status_text(s),
                            NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, status_names[s], NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &err);
    napi_create_int32(env, (int32_t)s, &num);
    napi_set_named_property(env, err, "status", num);
    return err;
}

napi_value nbn_throw(napi_env env, nb_status s, const char *message)
{
    napi_throw(env, nbn_error_value(env, s, message));
    return NULL;
}

char *nbn_string(napi_env env, napi_value v, const char *what)
{
    napi_valuetype t;
    size_t len = 0;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s must be a string", what);
        napi_throw_type_error(env, "NB_INVALID_ARG", msg);
        return NULL;
    }
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    char *s = malloc(len + 1);
    if (!s) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory copying a string");
        return NULL;
    }
    napi_get_value_string_utf8(env, v, s, len + 1, &len);
    if (strlen(s) != len) { /* an embedded NUL would silently cut the C string */
        free(s);
        char msg[256];
        snprintf(msg, sizeof msg, "%s must not contain a NUL character", what);
        napi_throw_type_error(env, "NB_INVALID_ARG", msg);
        return NULL;
    }
    return s;
}

/* obj[name] when it is neither undefined nor null; *out NULL otherwise. */
static bool prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
    napi_valuetype t;
    *out = NULL;
    if (!obj)
        return true;
    if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object)
        return true;
    napi_value v;
    if (napi_get_named_property(env, obj, name, &v) != napi_ok) {
        nbn_throw_napi(env, name);
        return false;
    }
    napi_typeof(env, v, &t);
    if (t != napi_undefined && t != napi_null)
        *out = v;
    return true;
}

bool nbn_prop_string(napi_env env, napi_value obj, const char *name, char **out)
{
    napi_value v;
    *out = NULL;
    if (!prop(env, obj, name, &v))
        return false;
    if (!v)
        return true;
    char what[128];
    snprintf(what, sizeof what, "option %s", name);
    *out = nbn_string(env, v, what);
    return *out != NULL;
}

bool nbn_prop_number(napi_env env, napi_value obj, const char *name, double *out, bool *present)
{
    napi_value v;
    *present = false;
    if (!prop(env, obj, name, &v))
        return false;
    if (!v)
        return true;
    if (napi_get_value_double(env, v, out) != napi_ok) {
        char msg[160];
        snprintf(msg, sizeof msg, "option %s must be a number", name);
        napi_throw_type_error(env, "NB_INVALID_ARG", msg);
        return false;
    }
    *present = true;
    return true;
}

bool nbn_prop_bool(napi_env env, napi_value obj, const char *name, bool *out, bool *present)
{
    napi_value v;
    *present = false;
    if (!prop(env, obj, name, &v))
        return false;
    if (!v)
        return true;
    if (napi_get_value_bool(env, v, out) != napi_ok) {
        char msg[160];
        snprintf(msg, sizeof msg, "option %s must be true or false", name);
        napi_throw_type_error(env, "NB_INVALID_ARG", msg);
        return false;
    }
    *present = true;
    return true;
}

/* ---- options ------------------------------------------------------------ */

typedef nb_status (*string_setter)(nb_options *, const char *);

/* The options that are one string each, JS name -> setter. */
static const struct {
    const char *name;
    string_setter set;
} string_options[] = {
    {"natsUrl", nb_options_set_url},
    {"fileserverUrl", nb_options_set_fileserver_url},
    {"senderName", nb_options_set_sender_name},
    {"senderId", nb_options_set_sender_id},
    {"downloadDir", nb_options_set_download_dir},
    {"linkStore", nb_options_set_link_store},
    {"token", nb_options_set_token},
    {"nkeySeedFile", nb_options_set_nkey_seed_file},
    {"credsFile", nb_options_set_creds_file},
    {"tlsCaFile", nb_options_set_tls_ca_file},
    {"tlsHostname", nb_options_set_tls_hostname},
    {"connectionName", nb_options_set_connection_name},
    {"fileserverToken", nb_options_set_fileserver_token},
    {"fileserverCaFile", nb_options_set_fileserver_ca},
};

/* Applies one setter's status: throws nb_last_error() on failure. */
static bool applied(napi_env env, nb_status s)
{
    if (s != NB_OK)
        nbn_throw(env, s, nb_last_error());
    return s == NB_OK;
}

/* Frees a copy of an option's string, wiped first: it may be a password or a seed. */
static void free_wiped(char *v)
{
    if (v)
        memset(v, 0, strlen(v));
    free(v);
}

static bool apply_strings(napi_env env, napi_value obj, nb_options *o)
{
    for (size_t i = 0; i < sizeof string_options / sizeof string_options[0]; i++) {
        char *v = NULL;
        if (!nbn_prop_string(env, obj, string_options[i].name, &v))
            return false;
        if (!v)
            continue;
        nb_status s = string_options[i].set(o, v);
        free_wiped(v); /* as the library does with its own copies of secrets */
        if (!applied(env, s))
            return false;
    }
    return true;
}

typedef nb_status (*pair_setter)(nb_options *, const char *, const char *);

/* The options given as pairs, JS names -> setter; either half alone reaches the setter
 * (NULL for the other), which then names what is missing. */
static const struct {
    const char *first, *second;
    pair_setter set;
} pair_options[] = {
    {"user", "password", nb_options_set_user_password},
    {"credsJwt", "credsSeed", nb_options_set_creds},
    {"tlsCertFile", "tlsKeyFile", nb_options_set_tls_client_cert},
    {"fileserverCertFile", "fileserverKeyFile", nb_options_set_fileserver_client_cert},
};

static bool apply_pairs(napi_env env, napi_value obj, nb_options *o)
{
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof pair_options / sizeof pair_options[0]; i++) {
        char *a = NULL, *b = NULL;
        ok = nbn_prop_string(env, obj, pair_options[i].first, &a) &&
             nbn_prop_string(env, obj, pair_options[i].second, &b);
        if (ok && (a || b))
            ok = applied(env, pair_options[i].set(o, a, b));
        free_wiped(a);
        free_wiped(b);
    }
    return ok;
}

/* A number option that must be a whole number in [min, max]. */
static bool int_option(napi_env env, napi_value obj, const char *name, double min, double max,
                       int64_t *out, bool *present)
{
    double d;
    if (!nbn_prop_number(env, obj, name, &d, present))
        return false;
    if (*present && (d != d || d < min || d > max || d != (double)(int64_t)d)) {
        char msg[200];
        snprintf(msg, sizeof msg, "option %s must be a whole number from %.0f to %.0f, not %g",
                 name, min, max, d);
        nbn_throw(env, NB_INVALID_ARG, msg);
        return false;
    }
    if (*present)
        *out = (int64_t)d;
    return true;
}

#define MAX_SAFE 9007199254740991.0

static bool apply_numbers(napi_env env, napi_value obj, nb_options *o)
{
    int64_t v, r = NB_DEFAULT_MAX_RETRIES, b = NB_DEFAULT_BASE_DELAY_MS,
               m = NB_DEFAULT_MAX_DELAY_MS;
    bool p, pr = false, pb = false, pm = false;
    if (!int_option(env, obj, "sizeThreshold", 0, MAX_SAFE, &v, &p) ||
        (p && !applied(env, nb_options_set_size_threshold(o, (size_t)v))))
        return false;
    if (!int_option(env, obj, "connectTimeout", 1, 86400000, &v, &p) ||
        (p && !applied(env, nb_options_set_connect_timeout(o, v))))
        return false;
    if (!int_option(env, obj, "maxReconnect", -1, 1e9, &v, &p) ||
        (p && !applied(env, nb_options_set_max_reconnect(o, (int)v))))
        return false;
    if (!int_option(env, obj, "reconnectWait", 0, 86400000, &v, &p) ||
        (p && !applied(env, nb_options_set_reconnect_wait(o, v))))
        return false;
    if (!int_option(env, obj, "maxDownload", 0, MAX_SAFE, &v, &p) ||
        (p && !applied(env, nb_options_set_max_download(o, (uint64_t)v))))
        return false;
    if (!int_option(env, obj, "downloadDeadline", 0, 2592000000.0, &v, &p) ||
        (p && !applied(env, nb_options_set_download_deadline(o, v))))
        return false;
    if (!int_option(env, obj, "maxRetries", 0, 1000, &r, &pr) ||
        !int_option(env, obj, "baseDelay", 0, 86400000, &b, &pb) ||
        !int_option(env, obj, "maxDelay", 0, 86400000, &m, &pm))
        return false;
    /* The seed's back-off: retries counted, not a time budget (nb_options_set_backoff). */
    if ((pr || pb || pm) && !applied(env, nb_options_set_backoff(o, (int)r, b, m)))
        return false;
    return true;
}

static bool apply_bools(napi_env env, napi_value obj, nb_options *o)
{
    bool v, p;
    if (!nbn_prop_bool(env, obj, "checksum", &v, &p) ||
        (p && !applied(env, nb_options_set_direct_sha256(o, v))))
        return false;
    if (!nbn_prop_bool(env, obj, "allowReconnect", &v, &p) ||
        (p && !applied(env, nb_options_set_allow_reconnect(o, v))))
        return false;
    if (!nbn_prop_bool(env, obj, "tlsRequired", &v, &p) ||
        (p && !applied(env, nb_options_set_tls_required(o, v))))
        return false;
    if (!nbn_prop_bool(env, obj, "fetchLinks", &v, &p) ||
        (p && !applied(env, nb_options_set_fetch_links(o, v))))
        return false;
    if (!nbn_prop_bool(env, obj, "sendAsap", &v, &p) ||
        (p && !applied(env, nb_options_set_send_asap(o, v))))
        return false;
    return true;
}

/* uploader: 'plik' (the default, as the peers) or 'put'; allowOrigins: an array of origins. */
static bool apply_lists(napi_env env, napi_value obj, nb_options *o)
{
    char *up = NULL;
    if (!nbn_prop_string(env, obj, "uploader", &up))
        return false;
    bool ok = true;
    if (up && strcmp(up, "put") == 0)
        ok = applied(env, nb_options_set_upload_handler(o, nb_upload_put, NULL));
    else if (up && strcmp(up, "plik") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "option uploader must be 'plik' or 'put', not '%.100s'", up);
        ok = nbn_throw(env, NB_INVALID_ARG, msg) != NULL;
    }
    free(up);
    napi_value list;
    if (!ok || !prop(env, obj, "allowOrigins", &list))
        return false;
    if (!list)
        return true;
    bool is_array = false;
    uint32_t n = 0;
    napi_is_array(env, list, &is_array);
    if (!is_array) {
        nbn_throw(env, NB_INVALID_ARG, "option allowOrigins must be an array of origins");
        return false;
    }
    napi_get_array_length(env, list, &n);
    for (uint32_t i = 0; i < n && ok; i++) {
        napi_value e;
        napi_get_element(env, list, i, &e);
        char *origin = nbn_string(env, e, "every element of allowOrigins");
        ok = origin && applied(env, nb_options_add_allowed_origin(o, origin));
        free(origin);
    }
    return ok;
}

nb_options *nbn_options_from(napi_env env, napi_value obj)
{
    nb_options *o = NULL;
    if (!applied(env, nb_options_create(&o)))
        return NULL;
    if (apply_strings(env, obj, o) && apply_pairs(env, obj, o) && apply_numbers(env, obj, o) &&
        apply_bools(env, obj, o) && apply_lists(env, obj, o))
        return o;
    nb_options_destroy(o);
    return NULL;
}

/* ---- envelopes ---------------------------------------------------------- */

/* A malloc'd copy of len bytes at p (NUL-terminated), or NULL (thrown). */
static char *copy_bytes(napi_env env, const void *p, size_t len)
{
    char *c = malloc(len + 1);
    if (!c) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory copying a payload");
        return NULL;
    }
    if (len)
        memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

/*
 * item.data: a Buffer/TypedArray (bytes) or a string (UTF-8), copied into *owned:
 * the envelope is built later on a worker thread, where JS memory must not be read.
 */
static bool item_bytes(napi_env env, napi_value data, uint32_t i, const void **bytes,
                       size_t *len, char **owned)
{
    bool is_typed = false, is_buffer = false;
    void *p = NULL;
    *owned = NULL;
    napi_is_buffer(env, data, &is_buffer);
    if (is_buffer) {
        napi_get_buffer_info(env, data, &p, len);
    } else if (napi_is_typedarray(env, data, &is_typed) == napi_ok && is_typed) {
        napi_typedarray_type t;
        size_t count, offset;
        napi_value ab;
        napi_get_typedarray_info(env, data, &t, &count, &p, &ab, &offset);
        if (t != napi_uint8_array && t != napi_int8_array && t != napi_uint8_clamped_array) {
            char msg[160];
            snprintf(msg, sizeof msg, "payloads[%u].data: only byte arrays (Uint8Array, Buffer) "
                     "can be sent", i);
            nbn_throw(env, NB_INVALID_ARG, msg);
            return false;
        }
        *len = count;
    } else {
        char what[96];
        snprintf(what, sizeof what, "payloads[%u].data (normalised)", i);
        *owned = nbn_string(env, data, what);
        if (!*owned)
            return false;
        *bytes = *owned;
        *len = strlen(*owned);
        return true;
    }
    *owned = copy_bytes(env, p, *len);
    *bytes = *owned;
    return *owned != NULL;
}

static void item_list_free(item_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->datanames[i]);
        free(l->owned[i]);
    }
    free(l->items);
    free(l->datanames);
    free(l->owned);
    free(l->link);
}

/*
 * items[i] = one normalised [dataname, type, data, link] (an array: four element reads
 * instead of four named lookups per payload); false when it threw.
 */
static bool take_item(napi_env env, item_list *l, napi_value item, uint32_t i)
{
    char *type = NULL;
    napi_value v[4];
    bool is_array = false;
    nb_item *it = &l->items[i];
    napi_is_array(env, item, &is_array);
    for (uint32_t k = 0; is_array && k < 4; k++)
        if (napi_get_element(env, item, k, &v[k]) != napi_ok)
            is_array = false;
    if (!is_array) {
        char msg[160];
        snprintf(msg, sizeof msg, "payloads[%u] must be normalised to [dataname, type, data, link]",
                 i);
        nbn_throw(env, NB_INVALID_ARG, msg);
        return false;
    }
    if (!(l->datanames[i] = nbn_string(env, v[0], "payload dataname")) ||
        !(type = nbn_string(env, v[1], "payload type")))
        return false;
    if (napi_get_value_bool(env, v[3], &l->link[i]) != napi_ok)
        l->link[i] = false;
    bool ok = applied(env, nb_type_parse(type, &it->type)) &&
              item_bytes(env, v[2], i, &it->data, &it->len, &l->owned[i]);
    free(type);
    it->dataname = l->datanames[i];
    l->any_link = l->any_link || l->link[i];
    return ok;
}

static bool take_items(napi_env env, napi_value items, item_list *l)
{
    bool is_array = false;
    uint32_t n = 0;
    napi_is_array(env, items, &is_array);
    if (!is_array) {
        nbn_throw(env, NB_INVALID_ARG, "payloads must be an array of {dataname, data, type}");
        return false;
    }
    napi_get_array_length(env, items, &n);
    if (n == 0) {
        nbn_throw(env, NB_INVALID_ARG, "payloads must hold at least one {dataname, data, type}");
        return false;
    }
    l->items = calloc(n, sizeof *l->items);
    l->datanames = calloc(n, sizeof *l->datanames);
    l->owned = calloc(n, sizeof *l->owned);
    l->link = calloc(n, sizeof *l->link);
    if (!l->items || !l->datanames || !l->owned || !l->link) {
        nbn_throw(env, NB_NO_MEMORY, "out of memory copying payloads");
        return false;
    }
    l->n = n;
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        napi_get_element(env, items, i, &item);
        if (!take_item(env, l, item, i))
            return false;
    }
    return true;
}

/*
 * Payloads one by one, for a message with a payload forced to go by link
 * (nb_item has no such flag), through nb_payload_create; err names the payload.
 */
static nb_status add_payloads(nb_envelope *e, const item_list *l, char *err, size_t errsz)
{
    for (size_t i = 0; i < l->n; i++) {
        nb_payload *p = NULL;
        const nb_item *it = &l->items[i];
        nb_status s = nb_payload_create(&p, it->dataname, it->type, it->data, it->len);
        if (s == NB_OK && l->link[i])
            s = nb_payload_force_link(p, true);
        if (s == NB_OK)
            s = nb_envelope_add_payload(e, &p);
        nb_payload_destroy(p);
        if (s != NB_OK) {
            snprintf(err, errsz, "payloads[%zu] '%.100s': %s", i, it->dataname, nb_last_error());
            return s;
        }
    }
    return NB_OK;
}

#define FIELD_COUNT 8

/* Whether v is an object (fields are passed as null when the caller set none). */
static bool is_object(napi_env env, napi_value v)
{
    napi_valuetype t = napi_undefined;
    return v && napi_typeof(env, v, &t) == napi_ok && t == napi_object;
}

/* The envelope fields of the seed's options into m->f (the strings kept in m->keep[]). */
static bool take_fields(napi_env env, napi_value fields, nbn_message *m)
{
    nb_send_fields *f = &m->f;
    const char **slot[NBN_FIELD_COUNT] = {&f->correlation_id, &f->msg_id, &f->msg_purpose,
                                          &f->receiver_name, &f->receiver_id, &f->reply_to,
                                          &f->reply_to_msg_id, &f->metadata_json};
    static const char *const names[NBN_FIELD_COUNT] = {
        "correlationId", "msgId", "msgPurpose", "receiverName",
        "receiverId", "replyTo", "replyToMsgId", "metadataJson"};
    if (!is_object(env, fields))
        return true;
    for (size_t i = 0; i < NBN_FIELD_COUNT; i++) {
        if (!nbn_prop_string(env, fields, names[i], &m->keep[i]))
            return false;
        *slot[i] = m->keep[i];
    }
    return nbn_prop_string(env, fields, "senderName", &m->sender_name) &&
           nbn_prop_string(env, fields, "senderId", &m->sender_id);
}

/* The fields of f on e, for the payload-by-payload path. */
static nb_status set_fields(nb_envelope *e, const nb_send_fields *f)
{
    nb_status s = NB_OK;
    if (s == NB_OK && f->correlation_id)
        s = nb_envelope_set_correlation_id(e, f->correlation_id);
    if (s == NB_OK && f->msg_id)
        s = nb_envelope_set_msg_id(e, f->msg_id);
    if (s == NB_OK && f->msg_purpose)
        s = nb_envelope_set_msg_purpose(e, f->msg_purpose);
    if (s == NB_OK && f->receiver_name)
        s = nb_envelope_set_receiver_name(e, f->receiver_name);
    if (s == NB_OK && f->receiver_id)
        s = nb_envelope_set_receiver_id(e, f->receiver_id);
    if (s == NB_OK && f->reply_to)
        s = nb_envelope_set_reply_to(e, f->reply_to);
    if (s == NB_OK && f->reply_to_msg_id)
        s = nb_envelope_set_reply_to_msg_id(e, f->reply_to_msg_id);
    if (s == NB_OK && f->metadata_json)
        s = nb_envelope_set_metadata_json(e, f->metadata_json);
    return s;
}

bool nbn_message_take(napi_env env, napi_value items, napi_value fields, nbn_message *m)
{
    if (take_items(env, items, &m->l) && take_fields(env, fields, m))
        return true;
    nbn_message_free(m);
    return false;
}

/*
 * Reads the string v into buf (cap bytes, NUL-terminated) with one call: true when all of it
 * fit (a truncated copy stops at most 4 bytes short of the end, so a copy shorter than that
 * is whole) and it has no NUL byte; *len gets its length.
 */
static bool string_into(napi_env env, napi_value v, char *buf, size_t cap, size_t *len)
{
    if (cap < 6 || napi_get_value_string_utf8(env, v, buf, cap, len) != napi_ok)
        return false;
    return *len + 5 <= cap && !memchr(buf, 0, *len);
}

int nbn_message_borrow_one(napi_env env, napi_value *argv, nbn_message *m, nbn_borrowed *b)
{
    size_t len = 0, used;
    char type[16];
    bool is = false;
    void *p = NULL;
    napi_valuetype t;
    memset(m, 0, sizeof *m);
    memset(b, 0, sizeof *b);
    if (!string_into(env, argv[0], b->buf, sizeof b->buf, &len) || len == 0 ||
        !string_into(env, argv[1], type, sizeof type, &used) ||
        nb_type_parse(type, &b->item.type) != NB_OK)
        return 0;
    b->item.dataname = b->dataname = b->buf;
    used = len + 1;
    if (napi_typeof(env, argv[2], &t) != napi_ok)
        return 0;
    if (t == napi_string) {
        if (!string_into(env, argv[2], b->buf + used, sizeof b->buf - used, &len))
            return 0;
        p = b->buf + used;
    } else if (napi_is_buffer(env, argv[2], &is) == napi_ok && is) {
        if (napi_get_buffer_info(env, argv[2], &p, &len) != napi_ok)
            return 0;
    } else {
        return 0;
    }
    b->item.data = p ? p : "";
    b->item.len = len;
    if (napi_get_value_bool(env, argv[3], &b->link) != napi_ok)
        b->link = false;
    m->l.items = &b->item;
    m->l.datanames = &b->dataname;
    m->l.owned = &b->owned;
    m->l.link = &b->link;
    m->l.n = 1;
    m->l.any_link = b->link;
    if (!take_fields(env, argv[4], m)) {
        nbn_message_unborrow(m);
        return -1;
    }
    return 1;
}

void nbn_message_unborrow(nbn_message *m)
{
    for (size_t i = 0; i < NBN_FIELD_COUNT; i++)
        free(m->keep[i]);
    free(m->sender_name);
    free(m->sender_id);
    memset(m, 0, sizeof *m);
}

/*
 * The seed-shaped entry point (nb_envelope_create_items) builds the envelope;
 * a message with a payload forced to go by link is built payload by payload.
 */
nb_status nbn_message_build(const nbn_message *m, nb_envelope **out, char *err, size_t errsz)
{
    nb_envelope *e = NULL;
    nb_status s;
    err[0] = '\0';
    if (!m->l.any_link) {
        s = nb_envelope_create_items(&e, m->l.items, m->l.n, &m->f);
    } else {
        s = nb_envelope_create(&e);
        if (s == NB_OK)
            s = add_payloads(e, &m->l, err, errsz);
        if (s == NB_OK)
            s = set_fields(e, &m->f);
    }
    if (s == NB_OK && m->sender_name)
        s = nb_envelope_set_sender_name(e, m->sender_name);
    if (s == NB_OK && m->sender_id)
        s = nb_envelope_set_sender_id(e, m->sender_id);
    if (s != NB_OK) {
        if (!err[0])
            snprintf(err, errsz, "%s", nb_last_error());
        nb_envelope_destroy(e);
        e = NULL;
    }
    *out = e;
    return s;
}

void nbn_message_free(nbn_message *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < NBN_FIELD_COUNT; i++)
        free(m->keep[i]);
    free(m->sender_name);
    free(m->sender_id);
    item_list_free(&m->l);
    memset(m, 0, sizeof *m);
}

/*
 * len bytes of UTF-8 as a JS string: pure ASCII (wire JSON, ids, most text) is copied as
 * Latin-1, which V8 takes byte for byte, instead of going through its UTF-8 decoder.
 * NULL (thrown) on failure.
 */
napi_value nbn_text(napi_env env, const char *s, size_t len)
{
    napi_value v;
    unsigned char high = 0;
    for (size_t i = 0; i < len; i++)
        high |= (unsigned char)s[i];
    napi_status st = high < 0x80 ? napi_create_string_latin1(env, s, len, &v)
                                 : napi_create_string_utf8(env, s, len, &v);
    if (st != napi_ok) {
        nbn_throw_napi(env, "napi_create_string");
        return NULL;
    }
    return v;
}

/* A C string (NULL: null) as a JS value. */
static napi_value str_or_null(napi_env env, const char *s)
{
    napi_value v;
    if (!s)
        napi_get_null(env, &v);
    else
        v = nbn_text(env, s, strlen(s));
    return v;
}

/* A payload's metadata as JSON text, null when it has none or it is {} (the usual case:
 * the JS layer then makes {} without parsing anything). */
static napi_value metadata_to_js(napi_env env, const nb_payload *p)
{
    const cJSON *m = nb_payload_metadata(p);
    napi_value v;
    if (!m || (cJSON_IsObject(m) && !m->child)) {
        napi_get_null(env, &v);
        return v;
    }
    char *text = cJSON_PrintUnformatted(m);
    if (!text)
        return nbn_throw(env, NB_NO_MEMORY, "out of memory printing a payload's metadata");
    v = nbn_text(env, text, strlen(text));
    cJSON_free(text);
    return v;
}

/* Text (and a dictionary's JSON text, which the JS layer parses) as a JS string made here,
 * without a Buffer in between; other types as a Buffer of their own bytes; null when the
 * payload was streamed to a file. */
static napi_value data_to_js(napi_env env, const nb_payload *p)
{
    size_t len = 0;
    napi_value v = NULL;
    const uint8_t *data = nb_payload_data(p, &len);
    nb_type t = nb_payload_type(p);
    if (!data)
        napi_get_null(env, &v);
    else if (t == NB_TYPE_TEXT || t == NB_TYPE_DICTIONARY)
        v = nbn_text(env, (const char *)data, len);
    else if (napi_create_buffer_copy(env, len, data, NULL, &v) != napi_ok)
        nbn_throw_napi(env, "napi_create_buffer_copy");
    return v;
}

/* A payload's type as its number (a small integer: no string made per delivery); the JS layer
 * names it from typeNames, which init exports in the enum's order. */
static napi_value type_to_js(napi_env env, nb_type t)
{
    napi_value v;
    if (napi_create_int32(env, (int32_t)t, &v) != napi_ok) {
        nbn_throw_napi(env, "napi_create_int32");
        return NULL;
    }
    return v;
}

static napi_value size_to_js(napi_env env, const nb_payload *p)
{
    napi_value v;
    NBN_CALL(env, napi_create_double(env, (double)nb_payload_size(p), &v));
    return v;
}

/* An array of the n values; NULL (an exception pending) when one of them could not be made. */
static napi_value array_of(napi_env env, const napi_value *slots, uint32_t n)
{
    napi_value o;
    for (uint32_t i = 0; i < n; i++) {
        if (!slots[i])
            return NULL;
    }
    NBN_CALL(env, napi_create_array_with_length(env, n, &o));
    for (uint32_t i = 0; i < n; i++)
        napi_set_element(env, o, i, slots[i]);
    return o;
}

/* A plain payload's four slots (is_plain): dataname, type, data, size. */
static void plain_slots(napi_env env, const nb_payload *p, napi_value *out)
{
    out[0] = str_or_null(env, nb_payload_dataname(p));
    out[1] = type_to_js(env, nb_payload_type(p));
    out[2] = data_to_js(env, p);
    out[3] = size_to_js(env, p);
}

/* Whether p is what nearly every payload is: direct, base64, in memory, no metadata, its wire
 * type the canonical name of its type. The JS layer fills in those fields itself. */
static bool is_plain(const nb_payload *p)
{
    const cJSON *m = nb_payload_metadata(p);
    nb_type t = nb_payload_type(p);
    return nb_payload_transport(p) == NB_TRANSPORT_DIRECT && !nb_payload_url(p) &&
           !nb_payload_path(p) && nb_payload_data(p, NULL) && cJSON_IsObject(m) && !m->child &&
           strcmp(nb_payload_encoding(p), "base64") == 0 &&
           strcmp(nb_payload_type_name(p), nb_type_name(t)) == 0;
}

/*
 * One payload as an array, whose slots cost less to fill than named properties (no key to
 * look up per envelope): a plain payload (is_plain) as [dataname, type, data, size], any
 * other as [dataname, type, typeName, transport, url, path, data, encoding, size, metadata
 * JSON]. Everything the JS payload object shows comes from here, so that the envelope's JSON
 * need not be parsed to hand out its payloads.
 */
static napi_value payload_to_js(napi_env env, const nb_payload *p)
{
    napi_value plain[4];
    if (is_plain(p)) {
        plain_slots(env, p, plain);
        return array_of(env, plain, 4);
    }
    const char *enc = nb_payload_encoding(p);
    napi_value slots[10] = {
        str_or_null(env, nb_payload_dataname(p)),
        type_to_js(env, nb_payload_type(p)),
        str_or_null(env, nb_payload_type_name(p)),
        str_or_null(env, nb_transport_name(nb_payload_transport(p))),
        str_or_null(env, nb_payload_url(p)),
        str_or_null(env, nb_payload_path(p)),
        data_to_js(env, p),
        enc ? str_or_null(env, enc) : nbn_undefined(env),
        size_to_js(env, p),
        metadata_to_js(env, p),
    };
    return array_of(env, slots, 10);
}

napi_value nbn_envelope_to_js(napi_env env, const nb_envelope *e)
{
    napi_value o, json;
    size_t len = 0;
    const char *text = nb_envelope_json(e, &len);
    size_t n = nb_envelope_payload_count(e);
    if (!(json = nbn_text(env, text ? text : "{}", text ? len : 2)))
        return NULL;
    if (n == 1 && is_plain(nb_envelope_payload(e, 0))) { /* the usual envelope: one array */
        napi_value slots[5] = {json};
        plain_slots(env, nb_envelope_payload(e, 0), slots + 1);
        return array_of(env, slots, 5);
    }
    NBN_CALL(env, napi_create_array_with_length(env, n + 1, &o));
    napi_set_element(env, o, 0, json);
    for (size_t i = 0; i < n; i++) {
        napi_value pv = payload_to_js(env, nb_envelope_payload(e, i));
        if (!pv)
            return NULL;
        napi_set_element(env, o, (uint32_t)(i + 1), pv);
    }
    return o;
}

/* ---- module ------------------------------------------------------------- */

static napi_value version(napi_env env, napi_callback_info info)
{
    (void)info;
    napi_value v;
    napi_create_string_utf8(env, nb_version_string(), NAPI_AUTO_LENGTH, &v);
    return v;
}

/* Checks options without connecting (the JS layer validates early with it). */
static napi_value check_options(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    NBN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    nb_options *o = nbn_options_from(env, argc ? argv[0] : NULL);
    if (!o)
        return NULL;
    nb_options_destroy(o);
    return nbn_undefined(env);
}

static napi_value init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        {"version", NULL, version, NULL, NULL, NULL, napi_default, NULL},
        {"checkOptions", NULL, check_options, NULL, NULL, NULL, napi_default, NULL},
    };
    NBN_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
    napi_value names;
    NBN_CALL(env, napi_create_array_with_length(env, NB_TYPE_COUNT, &names));
    for (int i = 0; i < NB_TYPE_COUNT; i++) {
        napi_value v = str_or_null(env, nb_type_name((nb_type)i));
        if (!v)
            return NULL;
        NBN_CALL(env, napi_set_element(env, names, (uint32_t)i, v));
    }
    NBN_CALL(env, napi_set_named_property(env, exports, "typeNames", names));
    if (!nbn_init_ops(env, exports) || !nbn_init_subs(env, exports))
        return NULL;
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
