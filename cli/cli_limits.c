/* SPDX-License-Identifier: MIT */
/*
 * cli_limits.c - the receive limit flags of listen, reply and request
 * (issue 11): --max-payloads, --max-link-bytes, --max-dataname,
 * --max-metadata-depth and --max-envelope-bytes, each mapped onto its
 * nb_options setter. Unset flags keep the library's defaults.
 */
#include "cli_common.h"

#include <limits.h>

static uint64_t *limit_slot(cli_args *a, int id)
{
    switch (id) {
    case F_MAX_PAYLOADS: return &a->max_payloads;
    case F_MAX_LINK_BYTES: return &a->max_link_bytes;
    case F_MAX_DATANAME: return &a->max_dataname;
    case F_MAX_METADATA_DEPTH: return &a->max_metadata_depth;
    default: return &a->max_envelope_bytes;
    }
}

int cli_store_limit_flag(cli_args *a, const cli_flag *f, const char *v)
{
    uint64_t *slot = limit_slot(a, f->id);
    int rc = cli_parse_u64(f->name, v, slot);
    /* The depth is an int and the counts are size_t in the library. */
    uint64_t max = f->id == F_MAX_METADATA_DEPTH ? INT_MAX
                   : f->id == F_MAX_LINK_BYTES   ? UINT64_MAX
                                                 : SIZE_MAX;
    if (rc == CLI_CONTINUE && (*slot == 0 || *slot > max)) {
        cli_error("--%s: %s is not between 1 and %llu", f->name, v, (unsigned long long)max);
        rc = CLI_USAGE;
    }
    return rc;
}

nb_status cli_apply_limits(const cli_args *a, nb_options *o, const char **what)
{
    nb_status s = NB_OK;
    *what = "--max-payloads";
    if (a->max_payloads && (s = nb_options_set_max_payloads(o, (size_t)a->max_payloads)))
        return s;
    *what = "--max-link-bytes";
    if (a->max_link_bytes && (s = nb_options_set_max_link_bytes(o, a->max_link_bytes)))
        return s;
    *what = "--max-dataname";
    if (a->max_dataname && (s = nb_options_set_max_dataname(o, (size_t)a->max_dataname)))
        return s;
    *what = "--max-metadata-depth";
    if (a->max_metadata_depth &&
        (s = nb_options_set_max_metadata_depth(o, (int)a->max_metadata_depth)))
        return s;
    *what = "--max-envelope-bytes";
    if (a->max_envelope_bytes &&
        (s = nb_options_set_max_envelope_bytes(o, (size_t)a->max_envelope_bytes)))
        return s;
    return NB_OK;
}
