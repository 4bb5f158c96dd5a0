/* SPDX-License-Identifier: MIT */
/*
 * fileclient.h - the HTTP side of link payloads (libcurl): the Plik and PUT
 * upload handlers and the download handler with back-off are public
 * (nb_upload_plik, nb_upload_put, nb_download_http in natsbridge.h); this
 * header holds what the rest of the library needs besides.
 */
#ifndef NB_FILECLIENT_H
#define NB_FILECLIENT_H

#include "integrity.h"
#include "internal.h"

/* "scheme://host[:port]" of url (lowercased scheme and host) into out; NB_INVALID_ARG when not http(s). */
nb_status nbi_url_origin(const char *url, char *out, size_t outsz);

/*
 * Uploads req through fn. The built-in handlers (nb_upload_plik, nb_upload_put)
 * hash the bytes as they send them and put the hex digest into hex; for any
 * other handler, or when curl had to resend part of the body, hex is "" and the
 * caller hashes the bytes itself (issue 16: one pass over the bytes).
 */
nb_status nbi_upload_hashed(nb_upload_fn fn, const nb_upload_request *req, nb_upload_result *res,
                            void *ctx, char hex[NBI_SHA256_HEX_LEN + 1]);

#endif
