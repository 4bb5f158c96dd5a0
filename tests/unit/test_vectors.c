/* SPDX-License-Identifier: MIT */
/*
 * test_vectors.c - decodes every golden envelope file of tests/vectors and
 * checks the expected fields, payloads or error (format: tests/vectors/README.md).
 */
#include "test.h"

#include "codec.h"

#include <dirent.h>

#ifndef NB_VECTORS_DIR
#error "NB_VECTORS_DIR must name the folder of the vectors"
#endif

/* Reports a mismatch in one vector file; returns false so callers can chain. */
static bool mismatch(const char *file, const char *what, const char *got, const char *want)
{
    fprintf(stderr, "%s: %s: got \"%s\", want \"%s\"\n", file, what, got ? got : "(null)",
            want ? want : "(null)");
    return false;
}

static bool same(const char *file, const char *what, const char *got, const cJSON *want)
{
    if (!cJSON_IsString(want))
        return mismatch(file, what, got, "(not a string in the vector)");
    if (!got || strcmp(got, want->valuestring) != 0)
        return mismatch(file, what, got, want->valuestring);
    return true;
}

static const char *envelope_field(const nb_envelope *e, const char *name)
{
    static const struct {
        const char *name;
        const char *(*get)(const nb_envelope *);
    } getters[] = {
        {"correlation_id", nb_envelope_correlation_id}, {"msg_id", nb_envelope_msg_id},
        {"timestamp", nb_envelope_timestamp},           {"send_to", nb_envelope_send_to},
        {"msg_purpose", nb_envelope_msg_purpose},       {"sender_name", nb_envelope_sender_name},
        {"sender_id", nb_envelope_sender_id},           {"receiver_name", nb_envelope_receiver_name},
        {"receiver_id", nb_envelope_receiver_id},       {"reply_to", nb_envelope_reply_to},
        {"reply_to_msg_id", nb_envelope_reply_to_msg_id}, {"broker_url", nb_envelope_broker_url},
    };
    for (size_t i = 0; i < sizeof getters / sizeof getters[0]; i++)
        if (strcmp(getters[i].name, name) == 0)
            return getters[i].get(e);
    return NULL;
}

static bool check_fields(const char *file, const nb_envelope *e, const cJSON *fields)
{
    const cJSON *f;
    int seen = 0;
    cJSON_ArrayForEach(f, fields)
    {
        seen++;
        if (strcmp(f->string, "metadata") == 0) {
            if (!cJSON_Compare(nb_envelope_metadata(e), f, true))
                return mismatch(file, "metadata", "(differs)", "(vector)");
        } else if (!same(file, f->string, envelope_field(e, f->string), f)) {
            return false;
        }
    }
    return seen == 13 ? true : mismatch(file, "fields", "(count)", "13 fields");
}

/* want.table: {"rows": N, "columns": [names]}: the payload decodes as that table. */
static bool check_table(const char *file, const nb_payload *p, const cJSON *want)
{
    nb_table *t = NULL;
    if (nb_payload_table(p, &t) != NB_OK)
        return mismatch(file, "table", nb_last_error(), "a table");
    const cJSON *cols = cJSON_GetObjectItem(want, "columns");
    bool ok = (double)nb_table_rows(t) == cJSON_GetNumberValue(cJSON_GetObjectItem(want, "rows")) &&
              (size_t)cJSON_GetArraySize(cols) == nb_table_column_count(t);
    for (size_t i = 0; ok && i < nb_table_column_count(t); i++) {
        nb_column_view v;
        ok = nb_table_column(t, i, &v) == NB_OK &&
             same(file, "table column", v.name, cJSON_GetArrayItem(cols, (int)i));
    }
    nb_table_destroy(t);
    return ok ? true : mismatch(file, "table", "(differs)", "(vector)");
}

static bool check_payload(const char *file, const nb_payload *p, const cJSON *want)
{
    char hex[65] = "";
    const cJSON *sha = cJSON_GetObjectItem(want, "sha256");
    const cJSON *size = cJSON_GetObjectItem(want, "size");
    if (!same(file, "dataname", nb_payload_dataname(p), cJSON_GetObjectItem(want, "dataname")) ||
        !same(file, "type", nb_type_name(nb_payload_type(p)), cJSON_GetObjectItem(want, "type")) ||
        !same(file, "type_name", nb_payload_type_name(p), cJSON_GetObjectItem(want, "type_name")) ||
        !same(file, "transport", nb_transport_name(nb_payload_transport(p)),
              cJSON_GetObjectItem(want, "transport")) ||
        !same(file, "encoding", nb_payload_encoding(p), cJSON_GetObjectItem(want, "encoding")))
        return false;
    if (!cJSON_IsNumber(size) || (double)nb_payload_size(p) != size->valuedouble)
        return mismatch(file, "size", "(differs)", "(vector)");
    if (cJSON_IsString(sha)) {
        if (nb_payload_sha256_hex(p, hex) != NB_OK || !same(file, "sha256", hex, sha))
            return false;
    } else if (nb_payload_data(p, NULL) != NULL) {
        return mismatch(file, "sha256", "(bytes present)", "null: no bytes");
    }
    const cJSON *url = cJSON_GetObjectItem(want, "url");
    if (url && !same(file, "url", nb_payload_url(p), url))
        return false;
    const cJSON *text = cJSON_GetObjectItem(want, "text");
    if (text && !same(file, "text", nb_payload_text(p), text))
        return false;
    const cJSON *table = cJSON_GetObjectItem(want, "table");
    return !table || check_table(file, p, table);
}

static bool check_ok(const char *file, const nb_envelope *e, const cJSON *expect)
{
    const cJSON *payloads = cJSON_GetObjectItem(expect, "payloads");
    if (!check_fields(file, e, cJSON_GetObjectItem(expect, "fields")))
        return false;
    if ((size_t)cJSON_GetArraySize(payloads) != nb_envelope_payload_count(e))
        return mismatch(file, "payload count", "(differs)", "(vector)");
    size_t i = 0;
    const cJSON *want;
    cJSON_ArrayForEach(want, payloads)
    {
        if (!check_payload(file, nb_envelope_payload(e, i++), want))
            return false;
    }
    return true;
}

/* Checks one vector file; false (with a message) on any difference. */
static bool check_vector(const char *file, const char *text)
{
    cJSON *doc = cJSON_Parse(text);
    const cJSON *envelope = cJSON_GetObjectItem(doc, "envelope");
    const cJSON *expect = cJSON_GetObjectItem(doc, "expect");
    const cJSON *error = cJSON_GetObjectItem(expect, "error");
    bool ok = false;
    if (!cJSON_IsString(envelope) || !cJSON_IsObject(expect) || !error) {
        mismatch(file, "vector", "(malformed)", "description, envelope, expect.error");
    } else {
        nb_envelope *e = NULL;
        const char *json = envelope->valuestring;
        nb_status s = nbi_codec_decode(&e, json, strlen(json));
        if (cJSON_IsNull(error)) {
            ok = s == NB_OK ? check_ok(file, e, expect)
                            : mismatch(file, "decode", nb_last_error(), "success");
        } else if (s == NB_OK || e != NULL) {
            ok = mismatch(file, "decode", "success", error->valuestring);
        } else if (!strstr(nb_last_error(), error->valuestring)) {
            ok = mismatch(file, "error", nb_last_error(), error->valuestring);
        } else {
            const cJSON *status = cJSON_GetObjectItem(expect, "status");
            ok = !status || same(file, "status", nb_status_text(s), status);
        }
        nb_envelope_destroy(e);
    }
    cJSON_Delete(doc);
    return ok;
}

NBT_CASE(all_vectors)
{
    DIR *dir = opendir(NB_VECTORS_DIR);
    CHECK(dir != NULL);
    struct dirent *ent;
    int count = 0, failed = 0;
    while ((ent = readdir(dir)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 6 || strcmp(ent->d_name + n - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", NB_VECTORS_DIR, ent->d_name);
        char *text = nbt_read_file(path, NULL);
        if (!text || !check_vector(ent->d_name, text))
            failed++;
        free(text);
        count++;
    }
    closedir(dir);
    fprintf(stderr, "%d vectors, %d failed\n", count, failed);
    CHECK(count >= 25);
    CHECK(failed == 0);
}

static const nbt_case cases[] = {NBT_ENTRY(all_vectors), {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
