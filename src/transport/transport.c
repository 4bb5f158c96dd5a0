/* SPDX-License-Identifier: MIT */
/*
 * transport.c - where each payload's bytes travel.
 *
 * Sending (nb_envelope_build): every payload is sized; one whose serialized
 * size is >= the threshold (or forced) goes by link: it is uploaded first and
 * only its URL travels, with metadata.sha256 so the receiver can verify it.
 * A failed upload fails the build, so no envelope ever points at a missing
 * file (PROTOCOL.md, link payloads).
 *
 * Receiving (nb_envelope_parse): link URLs are checked against the allowed
 * origins, downloaded with back-off into memory or a file, and verified
 * against size and sha256 before they are handed over.
 */
#include "transport.h"

#include "buf.h"
#include "client.h"
#include "codec.h"
#include "fileclient.h"
#include "ids.h"
#include "integrity.h"
#include "objstore.h"
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIGIN_MAX 512

bool nb_is_safe_filename(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    size_t n = strlen(name);
    if (n > 255 || !nbi_utf8_valid((const uint8_t *)name, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/*
 * Names a payload in error messages ("payloads[2] 'clip'"), formatted only
 * when an error needs it: the loops below run for every payload sent.
 */
typedef struct who_t {
    size_t index;
    const nb_payload *payload;
    char text[300];
} who_t;

static const char *name_of(who_t *w)
{
    if (!w->text[0])
        snprintf(w->text, sizeof w->text, "payloads[%zu] '%.200s'", w->index,
                 nbi_or_empty(w->payload->dataname));
    return w->text;
}

/* ---- sending ----------------------------------------------------------- */

static nb_status set_metadata_sha256(nb_payload *p, const char *hex)
{
    cJSON_DeleteItemFromObjectCaseSensitive(p->metadata, "sha256");
    if (!cJSON_AddStringToObject(p->metadata, "sha256", hex))
        return nbi_fail(NB_NO_MEMORY, "payload '%s': out of memory", p->dataname);
    return NB_OK;
}

/* Reads a file payload that will travel direct (it is under the threshold). */
static nb_status load_file(nb_payload *p, who_t *who)
{
    FILE *f = fopen(p->path, "rb");
    if (!f)
        return nbi_fail(NB_IO, "%s: cannot open '%s': %s", name_of(who), p->path, strerror(errno));
    uint8_t *data = malloc(p->size + 1);
    size_t got = data ? fread(data, 1, p->size, f) : 0;
    /* A file that changed size since it was added is refused, not sent torn. */
    bool whole = data && got == p->size && fgetc(f) == EOF && !ferror(f);
    fclose(f);
    if (!data)
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory for %llu bytes", name_of(who),
                        (unsigned long long)p->size);
    if (!whole) {
        free(data);
        return nbi_fail(NB_IO, "%s: '%s' changed size while being read", name_of(who), p->path);
    }
    data[p->size] = '\0';
    nbi_payload_take_data(p, data, p->size);
    return nbi_payload_check_content(p, name_of(who));
}

/* The current size of the payload's bytes (a file is stat'ed again). */
static nb_status current_size(nb_payload *p, who_t *who)
{
    if (p->data || !p->path) {
        p->size = p->len;
        return NB_OK;
    }
    struct stat st;
    if (stat(p->path, &st) != 0)
        return nbi_fail(NB_IO, "%s: cannot stat '%s': %s", name_of(who), p->path, strerror(errno));
    p->size = (uint64_t)st.st_size;
    return NB_OK;
}

/* The upload handler in use: the options' own, else Plik's. */
static nb_upload_fn upload_fn(const nb_options *o) { return o->upload ? o->upload : nb_upload_plik; }

/* True when the upload hashes the bytes as it sends them (nbi_upload_hashed, the Object Store). */
static bool upload_hashes(const nb_options *o)
{
    nb_upload_fn fn = upload_fn(o);
    return o->link_store || fn == nb_upload_plik || fn == nb_upload_put;
}

/*
 * Uploads req (its bytes from p or a reader) and keeps the URL in p->url.
 * hex gets the SHA-256 of the bytes as they were sent, or "" when the
 * handler did not hash them (a caller's handler, a body curl had to resend).
 */
static nb_status upload_req(nb_payload *p, const nb_options *o, const nb_upload_request *rq,
                            who_t *who, char hex[NBI_SHA256_HEX_LEN + 1])
{
    nb_upload_request req = *rq;
    if (o->link_store) { /* Object Store claim-check instead of the file server (objstore.c) */
        char *url = NULL;
        nb_status st = nbi_objstore_upload(&req, o, &url, hex);
        if (st != NB_OK)
            return nbi_fail_prefix(st, "%s: upload to %s failed", name_of(who), o->link_store);
        free(p->url);
        p->url = url;
        return NB_OK;
    }
    nb_upload_result res = {0, NULL, NULL, NULL};
    nb_status s = nbi_upload_hashed(upload_fn(o), &req, &res, o->upload_ctx, hex);
    if (s == NB_OK && (!res.url || !*res.url))
        s = nbi_fail(NB_HTTP, "upload handler returned no URL");
    if (s == NB_OK)
        s = nbi_set_string(&p->url, res.url);
    free(res.uploadid);
    free(res.fileid);
    free(res.url);
    if (s != NB_OK)
        return nbi_fail_prefix(s, "%s: upload to %s failed", name_of(who), o->fileserver_url);
    return NB_OK;
}

/*
 * A link payload is hashed while it is uploaded (one pass over the bytes,
 * issue 16): the envelope that carries metadata.sha256 is published only
 * after the upload, so the digest is there in time. A caller's upload handler
 * is promised req->sha256_hex up front, so for it the bytes are hashed first.
 */
static nb_status prepare_link(nb_payload *p, const nb_options *o, who_t *who)
{
    char before[NBI_SHA256_HEX_LEN + 1] = "", sent[NBI_SHA256_HEX_LEN + 1] = "";
    nb_status s = upload_hashes(o) ? NB_OK : nb_payload_sha256_hex(p, before);
    nb_fileserver_auth auth = nbi_fsauth_view(o);
    nb_upload_request req = {o->fileserver_url, p->dataname, p->data, p->data ? NULL : p->path,
                             p->size, before[0] ? before : NULL, o->progress,
                             o->progress_closure, &auth, NULL, NULL};
    if (s == NB_OK)
        s = upload_req(p, o, &req, who, sent);
    if (s == NB_OK && !sent[0] && !before[0]) /* curl resent part of the body: hash apart */
        s = nb_payload_sha256_hex(p, sent);
    if (s == NB_OK)
        s = set_metadata_sha256(p, sent[0] ? sent : before);
    if (s != NB_OK)
        return s;
    p->transport = NB_TRANSPORT_LINK;
    return nbi_set_string(&p->encoding, "none");
}

static nb_status prepare_direct(nb_payload *p, const nb_options *o, who_t *who)
{
    nb_status s = NB_OK;
    if (!p->data && p->path)
        s = load_file(p, who);
    if (s == NB_OK && o->direct_sha256) {
        char hex[NBI_SHA256_HEX_LEN + 1];
        s = nb_payload_sha256_hex(p, hex);
        if (s == NB_OK)
            s = set_metadata_sha256(p, hex);
    }
    if (s != NB_OK)
        return s;
    free(p->url);
    p->url = NULL;
    p->transport = NB_TRANSPORT_DIRECT;
    return nbi_set_string(&p->encoding, "base64");
}

/* ---- payloads streamed from a reader (issue 13) -------------------------- */

/* What the upload reads: the head already read, then the rest of the reader, counted
 * (the upload hashes it, as any link payload: upload_req). */
typedef struct stream_src {
    nb_payload *p;
    const uint8_t *head;
    size_t head_len, head_pos;
    uint64_t total;
} stream_src;

static nb_status stream_read(void *closure, uint8_t *buf, size_t cap, size_t *got)
{
    stream_src *st = closure;
    *got = 0;
    if (st->head_pos < st->head_len) {
        size_t left = st->head_len - st->head_pos;
        *got = left < cap ? left : cap;
        memcpy(buf, st->head + st->head_pos, *got);
        st->head_pos += *got;
    } else {
        nb_status s = st->p->reader(st->p->reader_ctx, buf, cap, got);
        if (s != NB_OK) /* a user's reader cannot set the message: name the failure here */
            return nbi_fail(s, "payload '%s': its reader failed (%s)", st->p->dataname,
                            nb_status_text(s));
        if (*got > cap)
            *got = cap; /* a reader claiming more than it was given is not trusted */
    }
    st->total += *got;
    return NB_OK;
}

/*
 * Reads up to limit bytes of p's reader into head; *eof when the reader
 * ended before. Reads stop at the limit so that a long stream is never held whole.
 */
static nb_status read_head(nb_payload *p, size_t limit, nbi_buf *head, bool *eof, who_t *who)
{
    *eof = false;
    while (head->len < limit) {
        size_t want = limit - head->len < 65536 ? limit - head->len : 65536;
        nb_status s = nbi_buf_reserve(head, want);
        if (s != NB_OK)
            return nbi_fail_prefix(s, "%s", name_of(who));
        size_t n = 0;
        s = p->reader(p->reader_ctx, head->data + head->len, want, &n);
        if (s != NB_OK)
            return nbi_fail(s, "%s: its reader failed (%s)", name_of(who), nb_status_text(s));
        if (n == 0) {
            *eof = true;
            break;
        }
        head->len += n < want ? n : want;
    }
    return NB_OK;
}

/* The rest of the stream goes by link: uploaded as it is read, hashed and counted on the way. */
static nb_status stream_link(nb_payload *p, const nb_options *o, const nbi_buf *head, who_t *who)
{
    if (!upload_hashes(o))
        return nbi_fail(NB_INVALID_ARG,
                        "%s: a streamed payload (size unknown) needs the built-in upload handlers",
                        name_of(who));
    stream_src st = {p, head->data, head->len, 0, 0};
    nb_fileserver_auth auth = nbi_fsauth_view(o);
    nb_upload_request req = {o->fileserver_url, p->dataname, NULL, NULL, 0, NULL, o->progress,
                             o->progress_closure, &auth, stream_read, &st};
    char hex[NBI_SHA256_HEX_LEN + 1] = "";
    nb_status s = upload_req(p, o, &req, who, hex);
    if (s == NB_OK && !hex[0]) /* a stream cannot be resent, so this does not happen */
        s = nbi_fail(NB_INTERNAL, "%s: the upload did not hash the stream", name_of(who));
    if (s == NB_OK)
        s = set_metadata_sha256(p, hex);
    if (s != NB_OK)
        return s;
    p->size = st.total;
    p->transport = NB_TRANSPORT_LINK;
    return nbi_set_string(&p->encoding, "none");
}

/*
 * A payload streamed from a reader, on its first send: under the threshold
 * it becomes an in-memory payload sent direct; else it is streamed by link.
 * Either way the reader is spent, and later sends reuse the result.
 */
static nb_status prepare_reader(nb_payload *p, const nb_options *o, who_t *who)
{
    nbi_buf head = NBI_BUF_INIT;
    bool eof = false;
    size_t limit = p->force_link ? 0 : o->size_threshold;
    nb_status s = read_head(p, limit, &head, &eof, who);
    if (s == NB_OK && eof && head.len < limit) {
        size_t len = 0;
        uint8_t *data = nbi_buf_detach(&head, &len); /* NUL-terminated, even when empty */
        if (!data)
            s = nbi_fail(NB_NO_MEMORY, "%s: out of memory", name_of(who));
        if (data) {
            nbi_payload_take_data(p, data, len);
            p->size = len;
            p->reader = NULL;
            s = nbi_payload_check_content(p, name_of(who));
        }
        if (s == NB_OK)
            s = prepare_direct(p, o, who);
    } else if (s == NB_OK) {
        s = stream_link(p, o, &head, who);
        if (s == NB_OK)
            p->streamed = true;
    }
    nbi_buf_free(&head);
    p->reader = NULL; /* spent, even after a failure: part of it was read */
    return s;
}

nb_status nbi_transport_prepare(nb_envelope *e, const nb_options *o)
{
    for (size_t i = 0; i < e->count; i++) {
        nb_payload *p = e->payloads[i];
        who_t w = {i, p, ""};
        if (p->reader || p->streamed) { /* streamed payloads (issue 13) */
            nb_status s = p->streamed ? NB_OK : prepare_reader(p, o, &w);
            if (s != NB_OK)
                return s;
            continue;
        }
        nb_status s = current_size(p, &w);
        if (s != NB_OK)
            return s;
        /* PROTOCOL.md: direct when size < threshold, link when size >= threshold. */
        bool link = p->force_link || p->size >= o->size_threshold;
        s = link ? prepare_link(p, o, &w) : prepare_direct(p, o, &w);
        if (s != NB_OK)
            return s;
    }
    return NB_OK;
}

/* ---- envelopes that fit the server (issue 16) ---------------------------- */

/* The direct payload with the most bytes (SIZE_MAX when none is left). */
static size_t largest_direct(const nb_envelope *e)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < e->count; i++) {
        const nb_payload *p = e->payloads[i];
        if (p->transport == NB_TRANSPORT_DIRECT &&
            (best == SIZE_MAX || p->size > e->payloads[best]->size))
            best = i;
    }
    return best;
}

/* A place to upload to that the caller chose (the built-in default URL is not one). */
static bool link_destination(const nb_options *o)
{
    return o->link_store || o->fileserver_set || (o->upload && o->upload != nb_upload_plik &&
                                                  o->upload != nb_upload_put);
}

/*
 * An envelope sent through a client must fit the server's max_payload: while
 * it does not, its largest direct payload goes by link instead (uploaded,
 * hashed on the way), and the envelope is written again. Without a link
 * destination or with auto_link off, nothing moves and the sender refuses the
 * envelope as before (messaging.c, jspublish.c name both sizes).
 */
static nb_status fit_server(nb_envelope *e, const char *subject, const nb_options *o)
{
    int64_t max = o->auto_link && o->client ? nbi_client_max_payload(o->client) : -1;
    if (max <= 0 || (int64_t)e->json_len <= max || !link_destination(o))
        return NB_OK;
    nb_status s = NB_OK;
    size_t i;
    while (s == NB_OK && (int64_t)e->json_len > max && (i = largest_direct(e)) != SIZE_MAX) {
        who_t w = {i, e->payloads[i], ""};
        size_t before = e->json_len;
        s = prepare_link(e->payloads[i], o, &w);
        if (s != NB_OK) {
            char why[700];
            snprintf(why, sizeof why, "%s", nb_last_error());
            return nbi_fail(NB_TOO_LARGE,
                            "envelope for '%.200s' is %zu bytes, over the server's max_payload of "
                            "%lld bytes, and moving %s to link failed: %s",
                            nbi_or_empty(subject), before, (long long)max, name_of(&w), why);
        }
        s = nbi_codec_encode(e);
    }
    return s;
}

nb_status nb_envelope_build(nb_envelope *e, const char *subject, const nb_options *opts)
{
    if (!e)
        return nbi_fail(NB_INVALID_ARG, "envelope_build: envelope is NULL");
    const nb_options *o = opts ? opts : nbi_options_default();
    nb_status s = nbi_envelope_fill_defaults(e, subject, o);
    if (s == NB_OK)
        s = nbi_transport_prepare(e, o);
    if (s == NB_OK)
        s = nbi_codec_encode(e);
    if (s == NB_OK)
        s = fit_server(e, subject, o);
    return s;
}

/* ---- receiving --------------------------------------------------------- */

static bool origin_allowed(const char *origin, const nb_options *o)
{
    char own[ORIGIN_MAX];
    if (o->fileserver_url && nbi_url_origin(o->fileserver_url, own, sizeof own) == NB_OK &&
        strcmp(origin, own) == 0)
        return true;
    for (size_t i = 0; i < o->allowed_origin_count; i++) {
        char allowed[ORIGIN_MAX];
        if (nbi_url_origin(o->allowed_origins[i], allowed, sizeof allowed) == NB_OK &&
            strcmp(origin, allowed) == 0)
            return true;
    }
    return false;
}

static nb_status check_origin(const nb_payload *p, const nb_options *o, who_t *who)
{
    /* nats-os:// links: a bucket allowlist instead (the link store's bucket and allowed ones). */
    if (nbi_objstore_is_url(p->url))
        return nbi_objstore_check_link(p->url, o, name_of(who));
    char origin[ORIGIN_MAX];
    if (nbi_url_origin(p->url, origin, sizeof origin) != NB_OK)
        return nbi_fail(NB_NOT_ALLOWED, "%s: link URL '%.300s' is not an http(s) URL", name_of(who),
                        p->url);
    if (!origin_allowed(origin, o))
        return nbi_fail(NB_NOT_ALLOWED,
                        "%s: link URL '%.300s' is not from an allowed origin (the file server's "
                        "is %.200s; other origins must be allowed)",
                        name_of(who), p->url, o->fileserver_url ? o->fileserver_url : "unset");
    return NB_OK;
}

static nb_status check_url(const nb_payload *p, const nb_options *o, who_t *who)
{
    nb_status s = check_origin(p, o, who);
    if (s != NB_OK)
        return s;
    if (o->max_download && p->size > o->max_download)
        return nbi_fail(NB_TOO_LARGE, "%s: size %llu is over the download cap of %llu bytes", name_of(who),
                        (unsigned long long)p->size, (unsigned long long)o->max_download);
    return NB_OK;
}

/* mkdir -p: the download directory may be several levels that do not exist yet. */
static nb_status make_dir(const char *path)
{
    char *copy = nbi_strdup(path);
    if (!copy)
        return nbi_fail(NB_NO_MEMORY, "out of memory");
    nb_status s = NB_OK;
    for (char *slash = copy + 1; s == NB_OK; slash++) {
        bool end = *slash == '\0';
        if (*slash != '/' && !end)
            continue;
        *slash = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST) /* private: payloads are the peer's data */
            s = nbi_fail(NB_IO, "cannot create directory '%s': %s", copy, strerror(errno));
        if (end)
            break;
        *slash = '/';
    }
    free(copy);
    return s;
}

/* DIR/<msg_id>/<dataname>, both names checked before they touch the file system. */
static nb_status download_path(const nb_envelope *e, const nb_payload *p, const nb_options *o,
                               who_t *who, char **out)
{
    if (!nb_is_safe_filename(e->msg_id) || !nb_is_safe_filename(p->dataname))
        return nbi_fail(NB_NOT_ALLOWED, "%s: msg_id or dataname is not a safe file name", name_of(who));
    size_t n = strlen(o->download_dir) + strlen(e->msg_id) + strlen(p->dataname) + 3;
    char *path = malloc(n);
    if (!path)
        return nbi_fail(NB_NO_MEMORY, "%s: out of memory", name_of(who));
    nb_status s = make_dir(o->download_dir);
    snprintf(path, n, "%s/%s", o->download_dir, e->msg_id);
    if (s == NB_OK)
        s = nbi_make_private_dir(path); /* DIR/<msg_id>: 0700, ours, no planted link */
    snprintf(path, n, "%s/%s/%s", o->download_dir, e->msg_id, p->dataname);
    if (s != NB_OK) {
        free(path);
        return s;
    }
    *out = path;
    return NB_OK;
}

/*
 * The bytes are handed over only if both their count and their digest match.
 * hashed is the digest the download handler computed while streaming ("" when
 * it did not): then the bytes are not read again.
 */
static nb_status verify(nb_payload *p, uint64_t got, const char *hashed, who_t *who)
{
    if (got != p->size)
        return nbi_fail(NB_INTEGRITY, "%s: got %llu bytes, the envelope says %llu", name_of(who),
                        (unsigned long long)got, (unsigned long long)p->size);
    const cJSON *digest = cJSON_GetObjectItemCaseSensitive(p->metadata, "sha256");
    if (!digest)
        return NB_OK;
    /* A digest that is not a string must not turn the check off. */
    const char *want = cJSON_GetStringValue(digest);
    if (!want)
        return nbi_fail(NB_BAD_ENVELOPE, "%s: metadata.sha256 must be a hex string", name_of(who));
    char hex[NBI_SHA256_HEX_LEN + 1];
    nb_status s = hashed && *hashed ? NB_OK : nb_payload_sha256_hex(p, hex);
    if (s != NB_OK)
        return s;
    if (hashed && *hashed)
        snprintf(hex, sizeof hex, "%s", hashed);
    if (strcasecmp(hex, want) != 0)
        return nbi_fail(NB_INTEGRITY, "%s: sha256 mismatch: expected %.64s, got %s", name_of(who), want, hex);
    return NB_OK;
}

/* A file that fails verification is removed: it must not be mistaken for good bytes. */
static nb_status verify_file(nb_payload *p, const char *hashed, who_t *who)
{
    struct stat st;
    nb_status s = NB_OK;
    if (stat(p->path, &st) != 0)
        s = nbi_fail(NB_IO, "%s: downloaded file '%s' is missing: %s", name_of(who), p->path,
                     strerror(errno));
    if (s == NB_OK)
        s = verify(p, (uint64_t)st.st_size, hashed, who);
    if (s != NB_OK) {
        unlink(p->path);
        free(p->path);
        p->path = NULL;
    }
    return s;
}

/*
 * A download into DIR/<msg_id> goes to a name of its own (".nb-<uuid>.dl",
 * unguessable, so nothing can be planted there) and is renamed onto
 * <dataname> only once verified: a message that fails (a msg_id reused with a
 * bad checksum) never touches the files an earlier message saved.
 */
static nb_status temp_path(const char *final, char **out)
{
    const char *slash = strrchr(final, '/');
    size_t dir = slash ? (size_t)(slash - final) : 0;
    char id[NBI_UUID_LEN + 1];
    nbi_uuid4(id);
    size_t n = dir + NBI_UUID_LEN + 16;
    if (!(*out = malloc(n)))
        return nbi_fail(NB_NO_MEMORY, "out of memory");
    snprintf(*out, n, "%.*s/.nb-%s.dl", (int)dir, final, id);
    return NB_OK;
}

/* The verified download at p->path (the temp name) becomes final; made_file says if it is new. */
static nb_status keep_file(nb_payload *p, char *final, who_t *who)
{
    struct stat st;
    bool existed = lstat(final, &st) == 0;
    if (rename(p->path, final) != 0) {
        nb_status s = nbi_fail(NB_IO, "%s: cannot rename '%s' to '%s': %s", name_of(who), p->path,
                               final, strerror(errno));
        unlink(p->path);
        free(p->path);
        p->path = NULL;
        free(final);
        return s;
    }
    free(p->path);
    p->path = final;
    p->made_file = !existed;
    return NB_OK;
}

static nb_status fetch_link(nb_envelope *e, nb_payload *p, const nb_options *o, who_t *who)
{
    char *path = NULL, *tmp = NULL;
    nb_status s = check_url(p, o, who);
    if (s == NB_OK && o->download_dir)
        s = download_path(e, p, o, who, &path);
    if (s == NB_OK && path)
        s = temp_path(path, &tmp);
    if (s != NB_OK) {
        free(path);
        return s;
    }
    /* Capped at the envelope's size (0 would mean "no cap": cap an empty payload at 1). */
    uint64_t cap = p->size ? p->size : 1;
    nb_fileserver_auth auth = nbi_fsauth_view(o);
    char hashed[NBI_SHA256_HEX_LEN + 1] = "";
    nb_download_request req = {p->url, o->max_retries, o->base_delay_ms, o->max_delay_ms,
                               o->download_deadline_ms, e->correlation_id, cap, tmp,
                               p->dataname, o->progress, o->progress_closure, &auth,
                               o->idle_timeout_ms, o->retry_budget_ms, o->stop, NULL, hashed};
    nb_download_fn fn = o->download ? o->download : nb_download_http;
    void *ctx = o->download_ctx;
    if (nbi_objstore_is_url(p->url)) { /* nats-os:// links: the Object Store (objstore.c) */
        fn = nbi_objstore_download;
        ctx = (void *)o;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    s = fn(&req, &data, &len, ctx);
    if (s != NB_OK) {
        free(data);
        free(path);
        free(tmp);
        return nbi_fail_prefix(s, "%s", name_of(who));
    }
    if (path) {
        free(data);
        free(p->path);
        p->path = tmp;
        s = verify_file(p, hashed, who); /* removes the temp file when it fails */
        if (s != NB_OK) {
            free(path);
            return s;
        }
        return keep_file(p, path, who);
    }
    nbi_payload_take_data(p, data, len);
    s = verify(p, len, hashed, who);
    return s == NB_OK ? nbi_payload_check_content(p, name_of(who)) : s;
}

/*
 * Before any download starts: the sizes the links announce, added up, must
 * stay under max_link_bytes (each download is capped at its announced size).
 */
static nb_status check_link_total(const nb_envelope *e, const nb_options *o)
{
    uint64_t total = 0;
    size_t links = 0;
    for (size_t i = 0; i < e->count; i++) {
        const nb_payload *p = e->payloads[i];
        if (p->transport != NB_TRANSPORT_LINK)
            continue;
        links++;
        total = p->size > UINT64_MAX - total ? UINT64_MAX : total + p->size;
    }
    if (total <= o->max_link_bytes)
        return NB_OK;
    return nbi_fail(NB_TOO_LARGE,
                    "envelope: %zu link payloads announce %llu bytes in total, over the limit of "
                    "%llu (nb_options_set_max_link_bytes, --max-link-bytes)",
                    links, (unsigned long long)total, (unsigned long long)o->max_link_bytes);
}

/*
 * A message that fails is not handed over at all: the link payloads it
 * streamed into DIR/<msg_id> are removed, then the directory if it is empty.
 * Only files this message created go: one that replaced a file of an earlier
 * message with the same msg_id holds verified bytes and stays.
 */
static void remove_saved_files(nb_envelope *e, const nb_options *o)
{
    for (size_t i = 0; i < e->count; i++) {
        nb_payload *p = e->payloads[i];
        if (p->transport == NB_TRANSPORT_LINK && p->path) {
            if (p->made_file)
                unlink(p->path);
            free(p->path);
            p->path = NULL;
        }
    }
    if (!nb_is_safe_filename(e->msg_id))
        return;
    size_t n = strlen(o->download_dir) + strlen(e->msg_id) + 2;
    char *path = malloc(n);
    if (!path)
        return;
    snprintf(path, n, "%s/%s", o->download_dir, e->msg_id);
    rmdir(path); /* fails, as it should, when the directory is not empty */
    free(path);
}

nb_status nbi_transport_resolve(nb_envelope *e, const nb_options *o)
{
    if (o->fetch_links) {
        nb_status s = check_link_total(e, o);
        if (s == NB_OK && o->download_dir)
            s = nbi_envelope_check_distinct_names(e, "both cannot be saved into one directory");
        if (s != NB_OK)
            return s;
    }
    for (size_t i = 0; i < e->count; i++) {
        nb_payload *p = e->payloads[i];
        who_t w = {i, p, ""};
        nb_status s = NB_OK;
        if (p->transport == NB_TRANSPORT_LINK && o->fetch_links)
            s = fetch_link(e, p, o, &w);
        else if (p->transport == NB_TRANSPORT_DIRECT)
            s = verify(p, p->len, NULL, &w); /* checks metadata.sha256 when the sender put one */
        if (s != NB_OK) {
            if (o->download_dir)
                remove_saved_files(e, o);
            return s;
        }
    }
    return NB_OK;
}

nb_status nb_envelope_parse(nb_envelope **out, const char *json, size_t len,
                            const nb_options *opts)
{
    if (!out)
        return nbi_fail(NB_INVALID_ARG, "envelope_parse: out is NULL");
    *out = NULL;
    if (!json)
        return nbi_fail(NB_INVALID_ARG, "envelope_parse: json is NULL");
    nb_envelope *e = NULL;
    const nb_options *o = opts ? opts : nbi_options_default();
    nb_status s = nbi_codec_decode_limited(&e, json, len, o);
    if (s == NB_OK)
        s = nbi_transport_resolve(e, o);
    if (s != NB_OK) {
        nb_envelope_destroy(e);
        return s;
    }
    *out = e;
    return NB_OK;
}
