/* SPDX-License-Identifier: MIT */
/*
 * fileclient.h - the HTTP side of link payloads (libcurl): the Plik and PUT
 * upload handlers and the download handler with back-off are public
 * (nb_upload_plik, nb_upload_put, nb_download_http in natsbridge.h); this
 * header holds what the rest of the library needs besides.
 */
#ifndef NB_FILECLIENT_H
#define NB_FILECLIENT_H

#include "internal.h"

/* "scheme://host[:port]" of url (lowercased scheme and host) into out; NB_INVALID_ARG when not http(s). */
nb_status nbi_url_origin(const char *url, char *out, size_t outsz);

#endif
