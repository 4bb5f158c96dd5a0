/* SPDX-License-Identifier: MIT */
/*
 * transport.h - transport choice per payload (direct vs link), the upload
 * of link payloads on send, and their download and verification on receive.
 */
#ifndef NB_TRANSPORT_H
#define NB_TRANSPORT_H

#include "envelope.h"

/*
 * Sending: for every payload, sizes it, chooses direct (size < threshold)
 * or link, adds metadata.sha256 where due, and uploads link payloads through
 * the options' upload handler. Nothing is published by this call.
 */
nb_status nbi_transport_prepare(nb_envelope *e, const nb_options *o);

/*
 * Receiving: downloads every link payload through the download handler
 * (into memory or o->download_dir), checking origin, size and sha256.
 */
nb_status nbi_transport_resolve(nb_envelope *e, const nb_options *o);

#endif
