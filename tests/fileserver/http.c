/* SPDX-License-Identifier: MIT */
/*
 * http.c - HTTP helpers of the file server's tests (see http.h).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "http.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct mem_reader {
    const char *data;
    size_t left;
} mem_reader;

static size_t read_mem(char *out, size_t size, size_t n, void *ctx)
{
    mem_reader *r = ctx;
    size_t k = size * n < r->left ? size * n : r->left;
    memcpy(out, r->data, k);
    r->data += k;
    r->left -= k;
    return k;
}

static size_t append(char *data, size_t size, size_t n, void *ctx)
{
    return nbi_buf_append(ctx, data, size * n) == NB_OK ? size * n : 0;
}

/* Sets the method and body options of e; list gets extra headers. */
static void set_body(CURL *e, const http_req *req, mem_reader *mr, struct curl_slist **list)
{
    const char *m = req->method ? req->method : "GET";
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, req->reader ? req->reader : read_mem);
        curl_easy_setopt(e, CURLOPT_READDATA, req->reader ? req->reader_ctx : (void *)mr);
        if (!req->chunked)
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->len);
    } else if (strcmp(m, "POST") == 0 && req->mime) {
        curl_easy_setopt(e, CURLOPT_MIMEPOST, req->mime);
    } else if (strcmp(m, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, read_mem);
        curl_easy_setopt(e, CURLOPT_READDATA, mr);
        if (!req->chunked)
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    } else if (strcmp(m, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    if (req->chunked)
        *list = curl_slist_append(*list, "Transfer-Encoding: chunked");
}

bool http_do(const http_req *req, http_res *res)
{
    memset(res, 0, sizeof *res);
    CURL *e = curl_easy_init();
    if (!e)
        return false;
    mem_reader mr = {req->body, req->len};
    struct curl_slist *list = NULL;
    for (int i = 0; i < 8 && req->headers[i]; i++)
        list = curl_slist_append(list, req->headers[i]);
    set_body(e, req, &mr, &list);
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* send paths as written */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 50L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req->writer ? req->writer : append);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req->writer ? req->writer_ctx : (void *)&res->body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &res->headers);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl %s %s: %s\n", req->method ? req->method : "GET", req->url,
                err[0] ? err : curl_easy_strerror(rc));
    curl_slist_free_all(list);
    curl_easy_cleanup(e);
    return rc == CURLE_OK;
}

void http_res_free(http_res *res)
{
    nbi_buf_free(&res->body);
    nbi_buf_free(&res->headers);
}

bool http_header(const http_res *res, const char *name, char *out, size_t outsz)
{
    size_t n = strlen(name);
    const char *p = (const char *)res->headers.data;
    for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncasecmp(p, name, n) != 0 || p[n] != ':')
            continue;
        const char *v = p + n + 1;
        while (*v == ' ')
            v++;
        size_t k = strcspn(v, "\r\n");
        if (k >= outsz)
            k = outsz - 1;
        memcpy(out, v, k);
        out[k] = '\0';
        return true;
    }
    return false;
}

curl_mime *http_file_part(const char *filename, const void *data, size_t len)
{
    CURL *e = curl_easy_init(); /* curl_mime_init wants a handle; the mime outlives it */
    curl_mime *m = curl_mime_init(e);
    curl_mimepart *part = curl_mime_addpart(m);
    curl_mime_name(part, "file");
    curl_mime_filename(part, filename);
    curl_mime_type(part, "application/octet-stream");
    curl_mime_data(part, data, len);
    curl_easy_cleanup(e);
    return m;
}

int http_raw_status(int port, const char *request, size_t len)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    bool sent = send(fd, request, len, MSG_NOSIGNAL) == (ssize_t)len;
    char answer[512];
    size_t got = 0;
    ssize_t n;
    while (sent && got < sizeof answer - 1 &&
           (n = recv(fd, answer + got, sizeof answer - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    answer[got] = '\0';
    int status = -1;
    if (sscanf(answer, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

bool tmp_dir(char out[256])
{
    snprintf(out, 256, "/tmp/nbt-fs-XXXXXX");
    return mkdtemp(out) != NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void rm_tree(const char *path)
{
    if (path && path[0])
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int count = 0;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n >= sl && strcmp(de->d_name + n - sl, suffix) == 0)
            count++;
    }
    closedir(d);
    return count;
}

bool fx_start(fx *f, nb_fileserver_config cfg)
{
    if (!f->root[0] && !tmp_dir(f->root))
        return false;
    snprintf(f->dir, sizeof f->dir, "%s/files", f->root);
    cfg.dir = f->dir;
    cfg.listen_addr = cfg.listen_addr ? cfg.listen_addr : "127.0.0.1";
    if (nb_fileserver_start(&f->fs, &cfg) != NB_OK) {
        fprintf(stderr, "nb_fileserver_start: %s\n", nb_last_error());
        return false;
    }
    f->port = nb_fileserver_port(f->fs);
    return f->port > 0;
}

void fx_done(fx *f)
{
    nb_fileserver_stop(f->fs);
    f->fs = NULL;
    if (f->root[0])
        rm_tree(f->root);
}
