/* SPDX-License-Identifier: MIT */
/*
 * test_save_safety.c - received payloads on disk (issue 11 items 7 and 12),
 * against a real nats-server and the real built-in file server: files are
 * 0600 and directories 0700 under umask 022; a ".part" file planted as a
 * symbolic link is refused with a clear error and its target left alone; a
 * second message reusing a msg_id with a bad checksum removes only what it
 * created, never the first message's verified files.
 */
#include "integ.h"

#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[300], fs_url[64], save_dir[400];

/* The case's file server over DIR/files, and DIR/saved/deeper as the (missing) save dir. */
static bool start(void)
{
    const char *d = case_dir();
    REQUIRE(d);
    snprintf(dir, sizeof dir, "%s", d);
    char files[400];
    snprintf(files, sizeof files, "%s/files", dir);
    nb_fileserver_config cfg = {.listen_addr = "127.0.0.1", .dir = files, .quiet = true};
    REQUIRE_OK(nb_fileserver_start(&T.fs, &cfg));
    snprintf(fs_url, sizeof fs_url, "http://127.0.0.1:%d", nb_fileserver_port(T.fs));
    snprintf(save_dir, sizeof save_dir, "%s/saved/deeper", dir);
    umask(022); /* the usual umask: nothing may come out group- or world-readable */
    return true;
}

static int mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* Entries of path besides . and .., or -1. */
static int entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static nb_options *saving_opts(void)
{
    nb_options *o = opts_new();
    if (o && (nb_options_set_fileserver_url(o, fs_url) != NB_OK ||
              nb_options_set_download_dir(o, save_dir) != NB_OK ||
              nb_options_set_size_threshold(o, 1000) != NB_OK))
        return NULL;
    return o;
}

/* A built envelope (tracked) with link payload "big" of n filler bytes and text "note". */
static nb_envelope *built(const nb_options *o, size_t n, uint32_t seed)
{
    uint8_t *bytes = malloc(n);
    if (!bytes)
        return NULL;
    fill_bytes(bytes, n, seed);
    nb_envelope *e = env_with(bytes_payload("big", NB_TYPE_BINARY, bytes, n));
    free(bytes);
    if (!e || !add(e, text_payload("note", "hi")) ||
        nb_envelope_build(e, "save.x", o) != NB_OK)
        return NULL;
    return e;
}

/* Receives the envelope's own text under o: saved into DIR/<msg_id>. */
static nb_status receive(const char *json, const nb_options *o)
{
    nb_envelope *got = NULL;
    nb_status s = nb_envelope_parse(&got, json, strlen(json), o);
    nb_envelope_destroy(got);
    return s;
}

/* json with its first metadata.sha256 replaced by zeros (malloc'd). */
static char *corrupt_sha(const char *json)
{
    char *copy = dup_text(json);
    char *at = copy ? strstr(copy, "\"sha256\":\"") : NULL;
    if (!at) {
        free(copy);
        return NULL;
    }
    memset(at + 10, '0', 64);
    return copy;
}

CASE(modes_are_private, 0)
{
    CHECK(start());
    nb_options *o = saving_opts();
    CHECK(o);
    nb_envelope *e = built(o, 5000, 1);
    CHECK(e);
    nb_envelope *got = NULL;
    size_t len = 0;
    const char *json = nb_envelope_json(e, &len);
    CHECK_OK(nb_envelope_parse(&got, json, len, o));
    const char *path = nb_payload_path(nb_envelope_payload(got, 0));
    char msgdir[600], saved[400];
    snprintf(msgdir, sizeof msgdir, "%s/%s", save_dir, nb_envelope_msg_id(e));
    snprintf(saved, sizeof saved, "%s/saved", dir);
    bool right_path = path && strstr(path, msgdir) == path;
    int file_mode = path ? mode_of(path) : -1;
    nb_envelope_destroy(got);
    CHECK(right_path);
    CHECK(file_mode == 0600);
    CHECK(mode_of(msgdir) == 0700);
    CHECK(mode_of(save_dir) == 0700 && mode_of(saved) == 0700);
    CHECK(entries(msgdir) == 1); /* "big" only: no temporary file left behind */
}

CASE(planted_part_symlink_refused, 0)
{
    CHECK(start());
    static const char secret[] = "the victim's own bytes";
    char victim[400], out[400], part[420];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(out, sizeof out, "%s/out.bin", dir);
    snprintf(part, sizeof part, "%s.part", out);
    CHECK(write_file(victim, secret, sizeof secret - 1));
    CHECK(symlink(victim, part) == 0);
    uint8_t bytes[3000];
    fill_bytes(bytes, sizeof bytes, 2);
    nb_upload_request up = {.fileserver_url = fs_url, .dataname = "x", .data = bytes,
                            .size = sizeof bytes};
    nb_upload_result res = {0};
    CHECK_OK(nb_upload_plik(&up, &res, NULL));
    nb_download_request req = {.url = res.url, .max_bytes = sizeof bytes, .path = out,
                               .dataname = "x"};
    nb_status s = nb_download_http(&req, NULL, NULL, NULL);
    char why[1024];
    snprintf(why, sizeof why, "%s", nb_last_error());
    char *left = nbt_read_file(victim, NULL);
    bool victim_kept = left && strcmp(left, secret) == 0;
    free(left);
    bool link_kept = mode_of(part) >= 0 && access(out, F_OK) != 0;
    /* Without the planted link the same download works, into a 0600 file. */
    CHECK(unlink(part) == 0);
    nb_status again = nb_download_http(&req, NULL, NULL, NULL);
    free(res.url);
    free(res.uploadid);
    free(res.fileid);
    if (s != NB_NOT_ALLOWED || !strstr(why, "already exists (a planted file or symbolic link?)"))
        fprintf(stderr, "planted link: %s \"%s\"\n", nb_status_text(s), why);
    CHECK(s == NB_NOT_ALLOWED && strstr(why, part));
    CHECK(strstr(why, "already exists (a planted file or symbolic link?)"));
    CHECK(victim_kept && link_kept);
    CHECK_OK(again);
    CHECK(mode_of(out) == 0600);
}

/* Item 7: the same msg_id with a bad checksum leaves the first message's files alone. */
CASE(reused_msg_id_keeps_first_files, 0)
{
    CHECK(start());
    nb_options *o = saving_opts();
    CHECK(o);
    nb_envelope *first = built(o, 5000, 3);
    CHECK(first);
    const char *json = nb_envelope_json(first, NULL);
    CHECK_OK(receive(json, o));
    char saved[600];
    snprintf(saved, sizeof saved, "%s/%s/big", save_dir, nb_envelope_msg_id(first));
    char *before = nbt_read_file(saved, NULL);
    CHECK(before);
    free(before);
    char *bad = corrupt_sha(json);
    CHECK(bad);
    nb_status s = receive(bad, o);
    free(bad);
    CHECK(s == NB_INTEGRITY && strstr(nb_last_error(), "sha256 mismatch"));
    /* Compare with what was sent: the first download's bytes, not the second's. */
    uint8_t want[5000];
    fill_bytes(want, sizeof want, 3);
    size_t n = 0;
    char *after = nbt_read_file(saved, &n);
    bool same = after && n == sizeof want && memcmp(after, want, n) == 0;
    free(after);
    CHECK(same);
    char msgdir[600];
    snprintf(msgdir, sizeof msgdir, "%s/%s", save_dir, nb_envelope_msg_id(first));
    CHECK(entries(msgdir) == 1);
}

/* What a failing message did create itself (a new name) is removed; the first message's file stays. */
CASE(failed_message_removes_only_its_own, 0)
{
    CHECK(start());
    nb_options *o = saving_opts();
    CHECK(o);
    nb_envelope *first = built(o, 5000, 4);
    CHECK(first);
    CHECK_OK(receive(nb_envelope_json(first, NULL), o));
    /* A second envelope, same msg_id: a new link "fresh" (good), then "big" with a bad digest. */
    uint8_t bytes[4000];
    fill_bytes(bytes, sizeof bytes, 5);
    nb_envelope *second = env_with(bytes_payload("fresh", NB_TYPE_BINARY, bytes, sizeof bytes));
    CHECK(second && add(second, bytes_payload("big", NB_TYPE_BINARY, bytes, sizeof bytes)));
    CHECK_OK(nb_envelope_set_msg_id(second, nb_envelope_msg_id(first)));
    CHECK_OK(nb_envelope_build(second, "save.x", o));
    const char *json = nb_envelope_json(second, NULL);
    /* Corrupt the second payload's digest (the one after "big"). */
    char *bad = dup_text(json);
    char *big = bad ? strstr(bad, "\"dataname\":\"big\"") : NULL;
    char *sha = big ? strstr(big, "\"sha256\":\"") : NULL;
    CHECK(sha);
    memset(sha + 10, '0', 64);
    nb_status s = receive(bad, o);
    free(bad);
    CHECK(s == NB_INTEGRITY);
    char path[600];
    snprintf(path, sizeof path, "%s/%s/fresh", save_dir, nb_envelope_msg_id(first));
    CHECK(access(path, F_OK) != 0 && errno == ENOENT);
    snprintf(path, sizeof path, "%s/%s/big", save_dir, nb_envelope_msg_id(first));
    uint8_t want[5000];
    fill_bytes(want, sizeof want, 4);
    size_t n = 0;
    char *kept = nbt_read_file(path, &n);
    bool same = kept && n == sizeof want && memcmp(kept, want, n) == 0;
    free(kept);
    CHECK(same);
}

static const nbt_case cases[] = {
    NBT_ENTRY(modes_are_private),
    NBT_ENTRY(planted_part_symlink_refused),
    NBT_ENTRY(reused_msg_id_keeps_first_files),
    NBT_ENTRY(failed_message_removes_only_its_own),
    {0},
};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
