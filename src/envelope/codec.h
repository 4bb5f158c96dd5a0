/* SPDX-License-Identifier: MIT */
/*
 * codec.h - the envelope codec: nb_envelope <-> JSON text on the wire
 * (docs/PROTOCOL.md). Knows nothing of NATS or HTTP.
 */
#ifndef NB_CODEC_H
#define NB_CODEC_H

#include "envelope.h"

/* Where a field belongs, for errors: payloads[index], or the envelope when index is NO_INDEX. */
#define NO_INDEX SIZE_MAX

/*
 * Writes e->json from the fields. Every payload must have its transport
 * chosen: direct payloads are base64-encoded from p->data (transport.c loads
 * a file payload first; one that is not loaded is NB_INTERNAL), link payloads
 * write p->url. Fails on a field that cannot be written, naming it.
 */
nb_status nbi_codec_encode(nb_envelope *e);

/*
 * Parses JSON text into a new envelope, tolerant of the peers' variants
 * (camelCase, payload_type, literal JSON data) and strict on required fields.
 * Direct payloads are decoded and checked (size, UTF-8, JSON); link payloads
 * get p->url and p->size, and no bytes. Errors name the field.
 */
nb_status nbi_codec_decode(nb_envelope **out, const char *json, size_t len);

/*
 * nbi_codec_decode under o's receive limits (NULL: the defaults, which
 * nbi_codec_decode uses too): envelope size, payload count, dataname length
 * and metadata depth, each checked before the memory it guards is spent.
 */
nb_status nbi_codec_decode_limited(nb_envelope **out, const char *json, size_t len,
                                   const nb_options *o);

#endif
