/* SPDX-License-Identifier: MIT */
/*
 * test_ipc_hostile.c - nb_table_from_ipc on corrupted and hostile bytes:
 * every truncation and byte flip of valid streams and files, and hand-built
 * streams that break one rule each (flatbuffer offsets and vtables, buffers
 * beyond the body, field node lengths, null counts, offsets, UTF-8, sizes,
 * compression, unsupported types); and dictionary-encoded columns, sound
 * (every index type, deltas, replacements, files) and hostile (indices out
 * of range, unknown ids, truncated or broken dictionary batches, expansion).
 * Each must fail naming what was wrong, never crash or leak (the suite also
 * runs under ASan and UBSan).
 */
#include "test.h"

#include "flatbuf.h"
#include "ipc.h"
#include "table_fixture.h"

/* Reads len bytes from an exact-size copy (so ASan sees any overread); returns the status. */
static nb_status read_copy(const uint8_t *p, size_t len, nb_table **out)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    nb_table *t = NULL;
    nb_status s = nb_table_from_ipc(&t, copy, len);
    free(copy);
    if (s != NB_OK && (t != NULL || nb_last_error()[0] == '\0'))
        abort(); /* a failure leaves *out NULL and says why */
    if (out)
        *out = t;
    else
        nb_table_destroy(t);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Mutations of valid streams                                               */
/* ------------------------------------------------------------------------ */

NBT_CASE(truncated_at_every_byte)
{
    nb_table *t = fx_every_type(20);
    uint8_t *p = NULL, *f = NULL;
    size_t len = 0, flen = 0, ok_cuts = 0;
    CHECK(t);
    CHECK_OK(nb_table_to_ipc(t, 7, &p, &len));
    CHECK_OK(nb_table_to_ipc_file(t, 7, &f, &flen));
    for (size_t k = 0; k < len; k++) {
        nb_table *back = NULL;
        if (read_copy(p, k, &back) == NB_OK) {
            /* Only a cut between messages reads: a stream without EOS and fewer rows. */
            CHECK(nb_table_rows(back) < 20 || k >= len - 8);
            ok_cuts++;
        }
        nb_table_destroy(back);
    }
    CHECK(ok_cuts == 4); /* after the schema and after each of the 3 batches */
    for (size_t k = 0; k < flen; k++)
        CHECK(read_copy(f, k, NULL) != NB_OK); /* a file needs its footer and magic */
    free(p);
    free(f);
    nb_table_destroy(t);
}

NBT_CASE(every_byte_flipped)
{
    /* No assertion on the outcome (some flips land in values): none may crash. */
    nb_table *t = fx_every_type(9);
    uint8_t *p = NULL;
    size_t len = 0, failures = 0;
    static const uint8_t masks[] = {0xff, 0x80, 0x01, 0x7f};
    CHECK(t);
    CHECK_OK(nb_table_to_ipc_file(t, 4, &p, &len));
    for (size_t k = 0; k < len; k++)
        for (size_t m = 0; m < sizeof masks; m++) {
            p[k] ^= masks[m];
            failures += read_copy(p, len, NULL) != NB_OK;
            p[k] ^= masks[m];
        }
    CHECK(failures > len); /* metadata flips are caught */
    CHECK(read_copy(p, len, NULL) == NB_OK);
    free(p);
    nb_table_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* Hand-built streams                                                       */
/* ------------------------------------------------------------------------ */

/* A field of a hand-built schema: type code and up to two type scalars. */
typedef struct hfield {
    const char *name;
    uint8_t type_code;
    nbi_fbb_field type_fields[2];
    size_t n_type_fields;
    bool nullable, dictionary, child;
    int64_t dict_id;        /* dictionary: its id */
    uint8_t index_bits;     /* dictionary: Int indexType bit width (0: left out, int32) */
    bool index_unsigned;
    bool child_dictionary;  /* child: the child Field is dictionary-encoded */
} hfield;

#define INT_FIELD(name, bits, sign)                                                         \
    {name, NBI_IPC_T_INT, {NBI_FBB_SCALAR(0, 4, bits), NBI_FBB_SCALAR(1, 1, sign)}, 2, true, \
     false, false, 0, 0, false, false}
#define UTF8_FIELD(name) {name, NBI_IPC_T_UTF8, {{0}}, 0, true, false, false, 0, 0, false, false}

/* Appends a framed message: marker, size, flatbuffer padded to 8, body. */
static void frame(nbi_buf *out, nbi_fbb *b, const uint8_t *body, size_t body_len)
{
    uint8_t prefix[8], zeros[8] = {0};
    size_t padded = (b->buf.len + 7) & ~(size_t)7;
    nbi_put_le32(prefix, NBI_IPC_CONTINUATION);
    nbi_put_le32(prefix + 4, (uint32_t)padded);
    nbi_buf_append(out, prefix, 8);
    nbi_buf_append(out, b->buf.data, b->buf.len);
    nbi_buf_append(out, zeros, padded - b->buf.len);
    if (body_len)
        nbi_buf_append(out, body, body_len);
    nbi_fbb_free(b);
}

/* Starts a Message; returns the slot of its header. */
static size_t message(nbi_fbb *b, int16_t version, uint8_t header_type, int64_t body_len)
{
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 2, version), NBI_FBB_SCALAR(1, 1, header_type),
                         NBI_FBB_OFFSET(2), NBI_FBB_SCALAR(3, 8, body_len)};
    size_t slots[4];
    nbi_fbb_init(b);
    nbi_fbb_set_root(b, nbi_fbb_table(b, f, 4, slots));
    return slots[2];
}

/* A DictionaryEncoding table {id, indexType}; returns its position. */
static size_t dictionary_encoding(nbi_fbb *b, const hfield *h)
{
    nbi_fbb_field df[] = {NBI_FBB_SCALAR(0, 8, h->dict_id), NBI_FBB_OFFSET(1)};
    size_t s[2], at = nbi_fbb_table(b, df, h->index_bits ? 2 : 1, s);
    if (h->index_bits) {
        nbi_fbb_field it[] = {NBI_FBB_SCALAR(0, 4, h->index_bits),
                              NBI_FBB_SCALAR(1, 1, !h->index_unsigned)};
        nbi_fbb_patch(b, s[1], nbi_fbb_table(b, it, 2, NULL));
    }
    return at;
}

/* Writes a Schema table for the n fields and points slot at it. */
static void schema_table(nbi_fbb *b, size_t slot, const hfield *fields, size_t n,
                         int16_t endianness)
{
    size_t fslot;
    nbi_fbb_field sf[] = {NBI_FBB_SCALAR(0, 2, endianness), NBI_FBB_OFFSET(1)};
    size_t sslots[2];
    nbi_fbb_patch(b, slot, nbi_fbb_table(b, sf, 2, sslots));
    fslot = nbi_fbb_offset_vector(b, n);
    nbi_fbb_patch(b, sslots[1], fslot);
    for (size_t i = 0; i < n; i++) {
        const hfield *h = &fields[i];
        nbi_fbb_field ff[6] = {NBI_FBB_OFFSET(0), NBI_FBB_SCALAR(1, 1, h->nullable),
                               NBI_FBB_SCALAR(2, 1, h->type_code), NBI_FBB_OFFSET(3)};
        size_t s[6], nf = 4, di = 0, ci = 0;
        if (h->dictionary)
            di = nf, ff[nf++] = (nbi_fbb_field)NBI_FBB_OFFSET(4);
        if (h->child)
            ci = nf, ff[nf++] = (nbi_fbb_field)NBI_FBB_OFFSET(5);
        nbi_fbb_patch(b, fslot + 4 + 4 * i, nbi_fbb_table(b, ff, nf, s));
        nbi_fbb_patch(b, s[0], nbi_fbb_string(b, h->name, strlen(h->name)));
        nbi_fbb_patch(b, s[3], nbi_fbb_table(b, h->type_fields, h->n_type_fields, NULL));
        if (h->dictionary)
            nbi_fbb_patch(b, s[di], dictionary_encoding(b, h));
        if (h->child) { /* one child Field (an empty table, or only a dictionary) */
            size_t v = nbi_fbb_offset_vector(b, 1), cs[1];
            nbi_fbb_field cf[] = {NBI_FBB_OFFSET(NBI_FIELD_DICTIONARY)};
            nbi_fbb_patch(b, s[ci], v);
            nbi_fbb_patch(b, v + 4, nbi_fbb_table(b, cf, h->child_dictionary, cs));
            if (h->child_dictionary)
                nbi_fbb_patch(b, cs[0], dictionary_encoding(b, h));
        }
    }
}

static void schema(nbi_buf *out, const hfield *fields, size_t n, int16_t endianness)
{
    nbi_fbb b;
    size_t slot = message(&b, NBI_IPC_V5, NBI_IPC_HDR_SCHEMA, 0);
    schema_table(&b, slot, fields, n, endianness);
    frame(out, &b, NULL, 0);
}

/* A record batch: nodes and buffers as int64 pairs, the body, an optional codec. */
typedef struct hbatch {
    int64_t length;
    const int64_t *nodes;   /* 2 per node */
    size_t n_nodes;
    const int64_t *buffers; /* 2 per buffer */
    size_t n_buffers;
    const uint8_t *body;
    size_t body_len;
    int codec;              /* -1: no compression */
    int16_t version;
    int64_t declared_body;  /* -1: body_len */
} hbatch;

static void put_pairs(uint8_t *dst, const int64_t *v, size_t n_pairs)
{
    for (size_t i = 0; i < 2 * n_pairs; i++)
        nbi_put_le64(dst + 8 * i, (uint64_t)v[i]);
}

/* Writes the RecordBatch table of h and points slot at it. */
static void record_batch_table(nbi_fbb *b, size_t slot, const hbatch *h)
{
    uint8_t nodes[256], bufs[512];
    size_t s[4];
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 8, h->length), NBI_FBB_OFFSET(1), NBI_FBB_OFFSET(2),
                         NBI_FBB_OFFSET(3)};
    put_pairs(nodes, h->nodes, h->n_nodes);
    put_pairs(bufs, h->buffers, h->n_buffers);
    nbi_fbb_patch(b, slot, nbi_fbb_table(b, f, h->codec >= 0 ? 4 : 3, s));
    nbi_fbb_patch(b, s[1], nbi_fbb_struct_vector(b, nodes, 16, h->n_nodes));
    nbi_fbb_patch(b, s[2], nbi_fbb_struct_vector(b, bufs, 16, h->n_buffers));
    if (h->codec >= 0) {
        nbi_fbb_field cf[] = {NBI_FBB_SCALAR(0, 1, h->codec)};
        nbi_fbb_patch(b, s[3], nbi_fbb_table(b, cf, 1, NULL));
    }
}

static void record_batch(nbi_buf *out, const hbatch *h)
{
    nbi_fbb b;
    int64_t declared = h->declared_body >= 0 ? h->declared_body : (int64_t)h->body_len;
    size_t slot = message(&b, h->version ? h->version : NBI_IPC_V5,
                          NBI_IPC_HDR_RECORD_BATCH, declared);
    record_batch_table(&b, slot, h);
    frame(out, &b, h->body, h->body_len);
}

/* A DictionaryBatch {id, data: the record batch h, isDelta}. */
static void dictionary_batch(nbi_buf *out, int64_t id, bool delta, const hbatch *h)
{
    nbi_fbb b;
    size_t s[3];
    int64_t declared = h->declared_body >= 0 ? h->declared_body : (int64_t)h->body_len;
    size_t slot = message(&b, NBI_IPC_V5, NBI_IPC_HDR_DICTIONARY, declared);
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 8, id), NBI_FBB_OFFSET(1), NBI_FBB_SCALAR(2, 1, delta)};
    nbi_fbb_patch(&b, slot, nbi_fbb_table(&b, f, 3, s));
    record_batch_table(&b, s[1], h);
    frame(out, &b, h->body, h->body_len);
}

/* Expects the stream in out to fail with NB_BAD_PAYLOAD naming needle; frees it. */
static bool fails_with(nbi_buf *out, const char *needle)
{
    nb_status s = read_copy(out->data, out->len, NULL);
    bool ok = s == NB_BAD_PAYLOAD && strstr(nb_last_error(), needle);
    if (!ok)
        fprintf(stderr, "expected \"%s\", got %s: %s\n", needle, nb_status_text(s),
                nb_last_error());
    nbi_buf_free(out);
    return ok;
}

/* One int32 column "x" (3 rows) and one utf8 column "s", sound unless a test breaks them. */
static const hfield two_fields[] = {INT_FIELD("x", 32, true), UTF8_FIELD("s")};

typedef struct sample {
    uint8_t body[64];
    int64_t nodes[4];
    int64_t buffers[10];
} sample;

/* Body: x values [0,12), s offsets [16,32), s data "abcdef" [32,38); no validity. */
static void sample_init(sample *sm)
{
    memset(sm, 0, sizeof *sm);
    int32_t xs[3] = {1, -2, 3}, offs[4] = {0, 1, 3, 6};
    memcpy(sm->body, xs, 12);
    memcpy(sm->body + 16, offs, 16);
    memcpy(sm->body + 32, "abcdef", 6);
    int64_t nodes[4] = {3, 0, 3, 0}, bufs[10] = {0, 0, 0, 12, 16, 0, 16, 16, 32, 6};
    memcpy(sm->nodes, nodes, sizeof nodes);
    memcpy(sm->buffers, bufs, sizeof bufs);
}

static hbatch sample_batch(const sample *sm)
{
    return (hbatch){3, sm->nodes, 2, sm->buffers, 5, sm->body, 40, -1, 0, -1};
}

static void sample_stream(nbi_buf *out, const sample *sm)
{
    hbatch h = sample_batch(sm);
    schema(out, two_fields, 2, 0);
    record_batch(out, &h);
}

NBT_CASE(hand_built_sample_reads)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    nb_table *t = NULL;
    sample_init(&sm);
    sample_stream(&out, &sm);
    CHECK_OK(read_copy(out.data, out.len, &t));
    nbi_buf_free(&out);
    nb_column_view v;
    CHECK_OK(nb_table_column(t, 1, &v));
    size_t n = 0;
    const uint8_t *p = nb_table_bytes_at(&v, 2, &n);
    CHECK(nb_table_rows(t) == 3 && n == 3 && memcmp(p, "def", 3) == 0);
    nb_table_destroy(t);
}

NBT_CASE(buffers_beyond_body)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    sample_init(&sm);
    sm.buffers[9] = 9; /* s data runs past the 40-byte body */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "lies outside the 40-byte body"));
    sample_init(&sm);
    sm.buffers[2] = INT64_MAX; /* offset overflow */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "buffer 1"));
    sample_init(&sm);
    sm.buffers[3] = -8;
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "length -8"));
    sample_init(&sm);
    sm.buffers[8] = 0, sm.buffers[9] = 30; /* s data over x values and s offsets */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "buffers of 58 bytes overlap in a 40-byte body"));
    sample_init(&sm);
    sm.buffers[3] = 8; /* 3 int32 need 12 bytes */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "values buffer has 8 bytes"));
}

NBT_CASE(field_nodes_and_counts)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    sample_init(&sm);
    sm.nodes[2] = 2;
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "column 's': field node length 2, the batch has 3 rows"));
    sample_init(&sm);
    sm.nodes[1] = 1; /* a null count without a bitmap */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "without a validity bitmap"));
    sample_init(&sm);
    sm.nodes[1] = -1;
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "null_count -1"));
    /* A bitmap saying one null (row 1) against a null_count of 2. */
    sample_init(&sm);
    sm.body[56] = 0x05;
    sm.buffers[0] = 56, sm.buffers[1] = 1, sm.nodes[1] = 2;
    hbatch h = sample_batch(&sm);
    h.body_len = 64;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "null_count 2 but the bitmap has 1 nulls"));
    /* Wrong numbers of nodes and buffers. */
    sample_init(&sm);
    h = sample_batch(&sm);
    h.n_nodes = 1;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "1 field nodes for 2 columns"));
    h = sample_batch(&sm);
    h.n_buffers = 4;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "4 buffers, the schema needs 5"));
    h = sample_batch(&sm);
    h.length = -3;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "negative length"));
}

NBT_CASE(nulls_in_non_nullable)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    hfield f[] = {INT_FIELD("x", 32, true), UTF8_FIELD("s")};
    f[0].nullable = false;
    sample_init(&sm);
    sm.body[56] = 0x05;
    sm.buffers[0] = 56, sm.buffers[1] = 1, sm.nodes[1] = 1;
    hbatch h = sample_batch(&sm);
    h.body_len = 64;
    schema(&out, f, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "non-nullable"));
}

NBT_CASE(bad_offsets)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    int32_t unordered[4] = {0, 3, 1, 6}, beyond[4] = {0, 1, 3, 7}, negative[4] = {-1, 1, 3, 6};
    sample_init(&sm);
    memcpy(sm.body + 16, unordered, 16);
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "not monotonic at row 1"));
    sample_init(&sm);
    memcpy(sm.body + 16, beyond, 16);
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "data has 6 bytes"));
    sample_init(&sm);
    memcpy(sm.body + 16, negative, 16);
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "offsets run from -1"));
    sample_init(&sm);
    sm.buffers[7] = 12; /* 4 offsets need 16 bytes */
    sample_stream(&out, &sm);
    CHECK(fails_with(&out, "offsets buffer has 12 bytes"));
}

NBT_CASE(invalid_utf8)
{
    static const char *const bad[] = {"\xc3(", "\xed\xa0\x80", "\xc0\xaf", "\xf5\x80\x80"};
    for (size_t i = 0; i < 4; i++) {
        sample sm;
        nbi_buf out = NBI_BUF_INIT;
        sample_init(&sm);
        memcpy(sm.body + 33, bad[i], strlen(bad[i])); /* rows 1 and 2 */
        sample_stream(&out, &sm);
        CHECK(fails_with(&out, "not valid UTF-8"));
    }
}

NBT_CASE(bad_framing)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    sample_init(&sm);
    sample_stream(&out, &sm);
    size_t schema_len = 8 + nbi_le32(out.data + 4);
    /* metadata_size far beyond the input, then negative. */
    nbi_put_le32(out.data + 4, 0x7ffffff0);
    CHECK(fails_with(&out, "metadata of 2147483632 bytes"));
    sample_stream(&out, &sm);
    nbi_put_le32(out.data + 4, 0x80000000u);
    CHECK(fails_with(&out, "negative metadata size"));
    /* The batch's body declared longer than the input, then negative. */
    hbatch h = sample_batch(&sm);
    h.declared_body = 4096;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "body of 4096 bytes"));
    h.declared_body = INT64_MAX;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "body of"));
    /* Metadata version V3, and a stream starting with a batch. */
    h = sample_batch(&sm);
    h.version = 2;
    schema(&out, two_fields, 2, 0);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "metadata version V3 is not supported"));
    h = sample_batch(&sm);
    record_batch(&out, &h);
    CHECK(fails_with(&out, "does not start with a Schema"));
    /* A second schema. */
    schema(&out, two_fields, 2, 0);
    schema(&out, two_fields, 2, 0);
    CHECK(fails_with(&out, "a second Schema"));
    (void)schema_len;
}

NBT_CASE(bad_flatbuffers)
{
    sample sm;
    nbi_buf out = NBI_BUF_INIT;
    sample_init(&sm);
    /* Root offset past the metadata. */
    sample_stream(&out, &sm);
    nbi_put_le32(out.data + 8, 0x00ffffff);
    CHECK(fails_with(&out, "flatbuffer: table at"));
    /* The Message's vtable offset pointing before the buffer, then past it. */
    sample_stream(&out, &sm);
    uint32_t root = nbi_le32(out.data + 8);
    nbi_put_le32(out.data + 8 + root, 0x7fffffff);
    CHECK(fails_with(&out, "vtable of table"));
    sample_stream(&out, &sm);
    nbi_put_le32(out.data + 8 + root, (uint32_t)-100000);
    CHECK(fails_with(&out, "vtable of table"));
    /* A vtable claiming a table larger than the metadata. */
    sample_stream(&out, &sm);
    int32_t soff = (int32_t)nbi_le32(out.data + 8 + root);
    size_t vt = 8 + root - (size_t)soff;
    out.data[vt + 2] = 0xff, out.data[vt + 3] = 0x7f;
    CHECK(fails_with(&out, "has bad size"));
    /* A field offset inside the vtable pointing outside its table. */
    sample_stream(&out, &sm);
    out.data[vt + 4 + 2 * NBI_MSG_BODY_LEN] = 0xf0;
    CHECK(fails_with(&out, "lies outside its"));
}

NBT_CASE(flatbuffer_reader_units)
{
    /* Strings must be NUL-terminated and vectors must fit. */
    nbi_fbb b;
    nbi_fbb_field f[] = {NBI_FBB_OFFSET(0), NBI_FBB_OFFSET(1)};
    size_t s[2];
    nbi_fbb_init(&b);
    nbi_fbb_set_root(&b, nbi_fbb_table(&b, f, 2, s));
    size_t str = nbi_fbb_string(&b, "hi", 2);
    nbi_fbb_patch(&b, s[0], str);
    size_t vec = nbi_fbb_offset_vector(&b, 1);
    nbi_fbb_patch(&b, s[1], vec);
    CHECK_OK(b.status);
    nbi_fb_table t;
    nbi_fb_vec v;
    const char *text;
    size_t n;
    CHECK_OK(nbi_fb_root(&t, b.buf.data, b.buf.len));
    CHECK_OK(nbi_fb_string(&t, 0, &text, &n));
    CHECK(n == 2 && memcmp(text, "hi", 3) == 0);
    b.buf.data[str + 4 + 2] = 'x';
    CHECK_FAIL(nbi_fb_string(&t, 0, &text, &n), NB_BAD_PAYLOAD, "not NUL-terminated");
    nbi_put_le32(b.buf.data + str, 1000);
    CHECK_FAIL(nbi_fb_string(&t, 0, &text, &n), NB_BAD_PAYLOAD, "bytes left");
    nbi_put_le32(b.buf.data + vec, 0xffffffffu);
    CHECK_FAIL(nbi_fb_vector(&t, 1, 4, &v), NB_BAD_PAYLOAD, "4294967295 elements");
    nbi_put_le32(b.buf.data + vec, 1);
    CHECK_OK(nbi_fb_vector(&t, 1, 4, &v));
    nbi_fb_table inner;
    CHECK_FAIL(nbi_fb_vec_table(&v, 0, &inner), NB_BAD_PAYLOAD, "out of bounds"); /* offset 0 */
    CHECK_FAIL(nbi_fb_root(&t, b.buf.data, 3), NB_BAD_PAYLOAD, "too short");
    nbi_fbb_free(&b);
}

NBT_CASE(compression)
{
    static const char *const names[] = {"LZ4_FRAME", "ZSTD"};
    for (int codec = 0; codec < 2; codec++) {
        sample sm;
        nbi_buf out = NBI_BUF_INIT;
        char want[80];
        sample_init(&sm);
        hbatch h = sample_batch(&sm);
        h.codec = codec;
        schema(&out, two_fields, 2, 0);
        record_batch(&out, &h);
        snprintf(want, sizeof want, "arrow: record batch 0: compressed record batches (%s) are not supported",
                 names[codec]);
        CHECK(fails_with(&out, want));
    }
}

NBT_CASE(unsupported_types)
{
    static const struct {
        hfield f;
        const char *needle;
    } cases[] = {
        {{"l", 12, {{0}}, 0, true, false, true, 0, 0, false, false},
         "arrow: column 'l': type List is not supported"},
        {{"d", 7, {{0}}, 0, true, false, false, 0, 0, false, false},
         "column 'd': type Decimal is not supported"},
        {{"n", 1, {{0}}, 0, true, false, false, 0, 0, false, false}, "type Null is not supported"},
        {{"L", 20, {{0}}, 0, true, false, false, 0, 0, false, false},
         "type LargeUtf8 is not supported"},
        {{"v", 24, {{0}}, 0, true, false, false, 0, 0, false, false},
         "type Utf8View is not supported"},
        {{"h", 3, {NBI_FBB_SCALAR(0, 2, 0)}, 1, true, false, false, 0, 0, false, false},
         "FloatingPoint(HALF)"},
        {{"m", 8, {NBI_FBB_SCALAR(0, 2, 1)}, 1, true, false, false, 0, 0, false, false},
         "Date(MILLISECOND)"},
        {{"m2", 8, {{0}}, 0, true, false, false, 0, 0, false, false},
         "Date(MILLISECOND)"}, /* the default unit */
        {{"i", 2, {NBI_FBB_SCALAR(0, 4, 7)}, 1, true, false, false, 0, 0, false, false},
         "bit width 7"},
        {{"t", 10, {NBI_FBB_SCALAR(0, 2, 9)}, 1, true, false, false, 0, 0, false, false},
         "unknown unit 9"},
        {{"u", 99, {{0}}, 0, true, false, false, 0, 0, false, false}, "unknown type code 99"},
        {{"z", 0, {{0}}, 0, true, false, false, 0, 0, false, false}, "unknown type code 0"},
        {{"dl", 12, {{0}}, 0, true, true, true, 2, 0, false, false},
         "arrow: column 'dl': dictionary id 2 values: type List is not supported"},
        {{"dd", 7, {{0}}, 0, true, true, false, 3, 0, false, false},
         "column 'dd': dictionary id 3 values: type Decimal is not supported"},
        {{"nest", 12, {{0}}, 0, true, false, true, 4, 0, false, true},
         "column 'nest': nested dictionary-encoded fields are not supported"},
        {{"ib", 5, {{0}}, 0, true, true, false, 5, 7, false, false},
         "column 'ib': dictionary index: type Int has bit width 7"},
        {{"kids", 2, {NBI_FBB_SCALAR(0, 4, 32)}, 1, true, false, true, 0, 0, false, false},
         "type Int has 1 children"},
        {{"bad\xff", 5, {{0}}, 0, true, false, false, 0, 0, false, false},
         "name is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nbi_buf out = NBI_BUF_INIT;
        schema(&out, &cases[i].f, 1, 0);
        CHECK(fails_with(&out, cases[i].needle));
    }
    nbi_buf out = NBI_BUF_INIT;
    schema(&out, two_fields, 2, 1);
    CHECK(fails_with(&out, "big-endian streams are not supported"));
    /* Two columns sharing a dictionary id must agree on its value type. */
    hfield clash[] = {{"a", NBI_IPC_T_UTF8, {{0}}, 0, true, true, false, 1, 0, false, false},
                      {"b", NBI_IPC_T_INT, {NBI_FBB_SCALAR(0, 4, 32), NBI_FBB_SCALAR(1, 1, 1)}, 2,
                       true, true, false, 1, 0, false, false}};
    schema(&out, clash, 2, 0);
    CHECK(fails_with(&out, "column 'b': dictionary id 1 holds utf8 values, this column is int32"));
}

NBT_CASE(bad_files)
{
    nb_table *t = fx_every_type(10);
    uint8_t *f = NULL;
    size_t len = 0;
    CHECK(t);
    CHECK_OK(nb_table_to_ipc_file(t, 4, &f, &len));
    size_t footer_size = nbi_le32(f + len - 10);
    /* Footer size too large, zero; magic missing at the end. */
    nbi_put_le32(f + len - 10, (uint32_t)len);
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "footer size");
    nbi_put_le32(f + len - 10, 0);
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "footer size 0");
    nbi_put_le32(f + len - 10, (uint32_t)footer_size);
    f[len - 1] = '2';
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "no ARROW1 magic at the end");
    f[len - 1] = '1';
    /* A footer listing a block that is not the stream's batch. */
    nbi_fb_table footer;
    nbi_fb_vec blocks;
    size_t at = len - 10 - footer_size;
    CHECK_OK(nbi_fb_root(&footer, f + at, footer_size));
    CHECK_OK(nbi_fb_vector(&footer, NBI_FOOTER_BATCHES, NBI_IPC_BLOCK_SIZE, &blocks));
    CHECK(blocks.count == 3);
    uint8_t *b1 = f + at + blocks.pos + NBI_IPC_BLOCK_SIZE;
    nbi_put_le64(b1, nbi_le64(b1) + 8);
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD,
               "footer block 1 of the record batches points at");
    nbi_put_le64(b1, nbi_le64(b1) - 8);
    nbi_put_le32(f + at + blocks.pos - 4, 2);
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "footer lists 2 record batches");
    nbi_put_le32(f + at + blocks.pos - 4, 3);
    CHECK(read_copy(f, len, NULL) == NB_OK);
    free(f);
    nb_table_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* Dictionary-encoded columns                                               */
/* ------------------------------------------------------------------------ */

/* The body, field nodes and buffers of a hand-built batch, column by column. */
typedef struct hbody {
    uint8_t body[1024];
    size_t len;
    int64_t nodes[16];
    size_t n_nodes;
    int64_t buffers[48];
    size_t n_buffers;
} hbody;

static void put_buffer(hbody *h, const void *p, size_t n)
{
    h->buffers[2 * h->n_buffers] = (int64_t)h->len;
    h->buffers[2 * h->n_buffers + 1] = (int64_t)n;
    h->n_buffers++;
    if (n)
        memcpy(h->body + h->len, p, n);
    h->len += (n + 7) & ~(size_t)7;
}

/* A field node and the validity of n rows, valid[i] == 0 a null (valid NULL: no bitmap). */
static void put_node(hbody *h, const uint8_t *valid, size_t n)
{
    uint8_t bits[16] = {0};
    int64_t nulls = 0;
    for (size_t i = 0; valid && i < n; i++) {
        if (valid[i])
            bits[i / 8] |= (uint8_t)(1u << (i % 8));
        else
            nulls++;
    }
    h->nodes[2 * h->n_nodes] = (int64_t)n;
    h->nodes[2 * h->n_nodes + 1] = nulls;
    h->n_nodes++;
    put_buffer(h, bits, valid ? (n + 7) / 8 : 0);
}

/* A utf8 column of n strings (NULL: a null). */
static void put_strings(hbody *h, const char *const *v, size_t n)
{
    uint8_t valid[64];
    int32_t offs[65] = {0};
    char data[512];
    size_t len = 0;
    bool any_null = false;
    for (size_t i = 0; i < n; i++) {
        size_t l = v[i] ? strlen(v[i]) : 0;
        valid[i] = v[i] != NULL;
        any_null |= !v[i];
        if (l)
            memcpy(data + len, v[i], l);
        len += l;
        offs[i + 1] = (int32_t)len;
    }
    put_node(h, any_null ? valid : NULL, n);
    put_buffer(h, offs, 4 * (n + 1));
    put_buffer(h, data, len);
}

/* A column of n little-endian integers of width bytes (valid NULL: no nulls). */
static void put_ints(hbody *h, const int64_t *v, size_t n, size_t width, const uint8_t *valid)
{
    uint8_t vals[512];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < width; k++)
            vals[i * width + k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
    put_node(h, valid, n);
    put_buffer(h, vals, n * width);
}

static hbatch body_batch(const hbody *h, int64_t rows)
{
    return (hbatch){rows, h->nodes, h->n_nodes, h->buffers, h->n_buffers, h->body, h->len,
                    -1, 0, -1};
}

/* A DictionaryBatch of n utf8 entries (NULL: a null entry). */
static void utf8_dictionary(nbi_buf *out, int64_t id, bool delta, const char *const *v, size_t n)
{
    hbody h;
    memset(&h, 0, sizeof h);
    put_strings(&h, v, n);
    hbatch b = body_batch(&h, (int64_t)n);
    dictionary_batch(out, id, delta, &b);
}

/* A RecordBatch of one column of n indices of width bytes (valid NULL: no nulls). */
static void index_batch(nbi_buf *out, const int64_t *idx, size_t n, size_t width,
                        const uint8_t *valid)
{
    hbody h;
    memset(&h, 0, sizeof h);
    put_ints(&h, idx, n, width, valid);
    hbatch b = body_batch(&h, (int64_t)n);
    record_batch(out, &b);
}

#define DICT_FIELD(name, id, bits, uns) \
    {name, NBI_IPC_T_UTF8, {{0}}, 0, true, true, false, id, bits, uns, false}

/* Reads out (and frees it): column col must hold the n strings want (NULL: a null). */
static bool reads_strings(nbi_buf *out, size_t col, const char *const *want, size_t n)
{
    nb_table *t = NULL;
    nb_column_view v;
    nb_status s = read_copy(out->data, out->len, &t);
    nbi_buf_free(out);
    bool ok = s == NB_OK && nb_table_rows(t) == (int64_t)n &&
              nb_table_column(t, col, &v) == NB_OK && v.type == NB_COL_UTF8;
    for (size_t i = 0; ok && i < n; i++) {
        size_t len = 0;
        const uint8_t *p = nb_table_bytes_at(&v, (int64_t)i, &len);
        ok = want[i] ? !nb_table_is_null(&v, (int64_t)i) && len == strlen(want[i]) &&
                           (len == 0 || memcmp(p, want[i], len) == 0)
                     : nb_table_is_null(&v, (int64_t)i);
        if (!ok)
            fprintf(stderr, "column %zu row %zu differs from \"%s\"\n", col, i,
                    want[i] ? want[i] : "(null)");
    }
    if (s != NB_OK)
        fprintf(stderr, "%s: %s\n", nb_status_text(s), nb_last_error());
    nb_table_destroy(t);
    return ok;
}

NBT_CASE(dictionary_reads)
{
    static const char *const entries[] = {"zero", "ünï", NULL, "three"};
    nbi_buf out = NBI_BUF_INIT;
    /* s: int32 indices (indexType left out): a null index, a null entry. x: plain. */
    hfield f[] = {DICT_FIELD("s", 3, 0, false), INT_FIELD("x", 32, true)};
    int64_t idx[5] = {3, 99, 2, 1, 0}, xs[5] = {1, 2, 3, 4, 5};
    uint8_t valid[5] = {1, 0, 1, 1, 1};
    hbody h;
    memset(&h, 0, sizeof h);
    put_ints(&h, idx, 5, 4, valid);
    put_ints(&h, xs, 5, 4, NULL);
    hbatch b = body_batch(&h, 5);
    schema(&out, f, 2, 0);
    utf8_dictionary(&out, 3, false, entries, 4);
    record_batch(&out, &b);
    static const char *const want[] = {"three", NULL, NULL, "ünï", "zero"};
    CHECK(reads_strings(&out, 0, want, 5));

    /* Two columns sharing dictionary 3 with int8 and uint16 indices; no nulls, no bitmap. */
    hfield shared[] = {DICT_FIELD("a", 3, 8, false), DICT_FIELD("b", 3, 16, true)};
    int64_t ia[2] = {0, 1}, ib[2] = {3, 3};
    memset(&h, 0, sizeof h);
    put_ints(&h, ia, 2, 1, NULL);
    put_ints(&h, ib, 2, 2, NULL);
    b = body_batch(&h, 2);
    schema(&out, shared, 2, 0);
    utf8_dictionary(&out, 3, false, entries, 4);
    record_batch(&out, &b);
    nb_table *t = NULL;
    CHECK_OK(read_copy(out.data, out.len, &t));
    nb_column_view v;
    size_t n = 0;
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(v.validity == NULL && v.null_count == 0);
    CHECK(memcmp(nb_table_bytes_at(&v, 1, &n), "three", 5) == 0 && n == 5);
    nb_table_destroy(t);
    static const char *const want_a[] = {"zero", "ünï"};
    CHECK(reads_strings(&out, 0, want_a, 2));

    /* int32 values with uint8 indices, and bool values. */
    hfield nums[] = {{"n", NBI_IPC_T_INT, {NBI_FBB_SCALAR(0, 4, 32), NBI_FBB_SCALAR(1, 1, 1)}, 2,
                      true, true, false, 5, 8, true, false},
                     {"b", NBI_IPC_T_BOOL, {{0}}, 0, true, true, false, 6, 8, false, false}};
    int64_t values[3] = {10, -20, 30}, in[4] = {2, 0, 1, 1}, ibool[4] = {1, 0, 1, 1};
    uint8_t bits = 0x02, bvalid[4] = {1, 1, 1, 0};
    schema(&out, nums, 2, 0);
    memset(&h, 0, sizeof h);
    put_ints(&h, values, 3, 4, NULL);
    b = body_batch(&h, 3);
    dictionary_batch(&out, 5, false, &b);
    memset(&h, 0, sizeof h);
    put_node(&h, NULL, 2);
    put_buffer(&h, &bits, 1); /* false, true */
    b = body_batch(&h, 2);
    dictionary_batch(&out, 6, false, &b);
    memset(&h, 0, sizeof h);
    put_ints(&h, in, 4, 1, NULL);
    put_ints(&h, ibool, 4, 1, bvalid);
    b = body_batch(&h, 4);
    record_batch(&out, &b);
    t = NULL;
    CHECK_OK(read_copy(out.data, out.len, &t));
    nbi_buf_free(&out);
    CHECK_OK(nb_table_column(t, 0, &v));
    const int32_t *iv = v.values;
    CHECK(v.type == NB_COL_INT32 && iv[0] == 30 && iv[1] == 10 && iv[2] == -20 && iv[3] == -20);
    CHECK_OK(nb_table_column(t, 1, &v));
    CHECK(v.type == NB_COL_BOOL && nb_table_bool_at(&v, 0) && !nb_table_bool_at(&v, 1));
    CHECK(nb_table_bool_at(&v, 2) && nb_table_is_null(&v, 3) && v.null_count == 1);
    nb_table_destroy(t);
}

NBT_CASE(dictionary_index_types)
{
    static const char *const entries[] = {"a", "b", "c"}, *const want[] = {"c", "a", "b"};
    int64_t idx[3] = {2, 0, 1};
    for (int bits = 8; bits <= 64; bits *= 2)
        for (int uns = 0; uns <= 1; uns++) {
            nbi_buf out = NBI_BUF_INIT;
            hfield f[] = {DICT_FIELD("s", 4, (uint8_t)bits, uns)};
            schema(&out, f, 1, 0);
            utf8_dictionary(&out, 4, false, entries, 3);
            index_batch(&out, idx, 3, (size_t)bits / 8, NULL);
            CHECK(reads_strings(&out, 0, want, 3));
        }
}

NBT_CASE(dictionary_deltas_and_replacements)
{
    static const char *const ab[] = {"a", "b"}, *const c[] = {"c"}, *const x[] = {"x"},
                             *const yz[] = {"y", "z"};
    int64_t i10[2] = {1, 0}, i20[2] = {2, 0}, i0[1] = {0}, i21[2] = {2, 1}, i2[1] = {2};
    nbi_buf out = NBI_BUF_INIT;
    hfield f[] = {DICT_FIELD("s", 1, 8, false)};
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 1, false, ab, 2);
    index_batch(&out, i10, 2, 1, NULL);
    utf8_dictionary(&out, 1, true, c, 1); /* a delta: a b c */
    index_batch(&out, i20, 2, 1, NULL);
    index_batch(&out, i0, 0, 1, NULL);
    utf8_dictionary(&out, 1, false, x, 1); /* a replacement: x */
    index_batch(&out, i0, 1, 1, NULL);
    utf8_dictionary(&out, 1, true, yz, 2); /* x y z */
    index_batch(&out, i21, 2, 1, NULL);
    static const char *const want[] = {"b", "a", "c", "a", "x", "z", "y"};
    CHECK(reads_strings(&out, 0, want, 7));
    /* A zero-row batch may come before any dictionary; a first delta starts one. */
    schema(&out, f, 1, 0);
    index_batch(&out, i0, 0, 1, NULL);
    utf8_dictionary(&out, 1, true, c, 1);
    index_batch(&out, i0, 1, 1, NULL);
    CHECK(reads_strings(&out, 0, c, 1));
    /* After a replacement the old entries are gone. */
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 1, false, ab, 2);
    utf8_dictionary(&out, 1, true, c, 1);
    index_batch(&out, i2, 1, 1, NULL);
    utf8_dictionary(&out, 1, false, x, 1);
    index_batch(&out, i2, 1, 1, NULL);
    CHECK(fails_with(&out, "arrow: record batch 1: column 's': row 0: dictionary index 2 is out "
                           "of range (dictionary id 1 has 1 entries)"));
}

NBT_CASE(dictionary_bad_indices)
{
    static const char *const abc[] = {"a", "b", "c"};
    static const struct {
        uint8_t bits;
        bool uns;
        int64_t index;
        const char *needle;
    } cases[] = {
        {32, false, 3, "arrow: record batch 0: column 's': row 1: dictionary index 3 is out of "
                       "range (dictionary id 1 has 3 entries)"},
        {8, false, -1, "row 1: dictionary index -1 is out of range"},
        {8, true, 255, "row 1: dictionary index 255 is out of range"},
        {16, false, -32768, "dictionary index -32768 is out"},
        {64, true, -1, "dictionary index 18446744073709551615 is out"},
        {64, false, INT64_MIN, "dictionary index -9223372036854775808 is out"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nbi_buf out = NBI_BUF_INIT;
        hfield f[] = {DICT_FIELD("s", 1, cases[i].bits, cases[i].uns)};
        int64_t idx[2] = {0, cases[i].index};
        schema(&out, f, 1, 0);
        utf8_dictionary(&out, 1, false, abc, 3);
        index_batch(&out, idx, 2, cases[i].bits / 8, NULL);
        CHECK(fails_with(&out, cases[i].needle));
    }
    /* A record batch before its dictionary. */
    nbi_buf out = NBI_BUF_INIT;
    hfield f[] = {DICT_FIELD("s", 1, 8, false)};
    int64_t idx[2] = {0, 1};
    schema(&out, f, 1, 0);
    index_batch(&out, idx, 2, 1, NULL);
    utf8_dictionary(&out, 1, false, abc, 3);
    CHECK(fails_with(&out, "arrow: record batch 0: column 's': no dictionary batch with id 1 "
                           "before it"));
    /* Nulls in a non-nullable column: a null entry, then a null index. */
    static const char *const with_null[] = {"a", NULL};
    uint8_t valid[2] = {1, 0};
    f[0].nullable = false;
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 1, false, with_null, 2);
    index_batch(&out, idx, 2, 1, NULL);
    CHECK(fails_with(&out, "column 's': 1 nulls in a non-nullable column"));
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 1, false, abc, 3);
    index_batch(&out, idx, 2, 1, valid);
    CHECK(fails_with(&out, "non-nullable"));
}

NBT_CASE(dictionary_bad_batches)
{
    static const char *const abc[] = {"a", "b", "c"}, *const bad[] = {"ok", "\xc3("};
    hfield f[] = {DICT_FIELD("s", 1, 8, false)};
    int64_t idx[1] = {0};
    nbi_buf out = NBI_BUF_INIT;
    /* Unknown id. */
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 99, false, abc, 3);
    CHECK(fails_with(&out, "arrow: dictionary batch 0 (id 99): unknown dictionary id 99"));
    /* Truncated: every cut of schema + dictionary + batch fails or reads fewer rows. */
    schema(&out, f, 1, 0);
    size_t dict_at = out.len;
    utf8_dictionary(&out, 1, false, abc, 3);
    size_t batch_at = out.len;
    index_batch(&out, idx, 1, 1, NULL);
    for (size_t k = dict_at + 1; k < batch_at; k++) {
        nb_table *t = NULL;
        CHECK(read_copy(out.data, k, &t) == NB_BAD_PAYLOAD);
        CHECK(strstr(nb_last_error(), "arrow: message 1"));
    }
    CHECK(read_copy(out.data, batch_at - 1, NULL) == NB_BAD_PAYLOAD);
    CHECK(strstr(nb_last_error(), "arrow: message 1 (DictionaryBatch): body of"));
    nbi_buf_free(&out);
    /* A buffer beyond the dictionary batch's body. */
    hbody h;
    memset(&h, 0, sizeof h);
    put_strings(&h, abc, 3);
    h.buffers[5] = 64;
    hbatch b = body_batch(&h, 3);
    schema(&out, f, 1, 0);
    dictionary_batch(&out, 1, false, &b);
    CHECK(fails_with(&out, "arrow: dictionary batch 0 (id 1): buffer 2 (offset 16, length 64) "
                           "lies outside the 24-byte body"));
    /* Entries: invalid UTF-8; offsets out of order. */
    schema(&out, f, 1, 0);
    utf8_dictionary(&out, 1, false, bad, 2);
    CHECK(fails_with(&out, "arrow: dictionary batch 0 (id 1): entry 1 is not valid UTF-8"));
    memset(&h, 0, sizeof h);
    put_strings(&h, abc, 3);
    int32_t swapped[4] = {0, 2, 1, 3};
    memcpy(h.body + h.buffers[2], swapped, sizeof swapped);
    b = body_batch(&h, 3);
    schema(&out, f, 1, 0);
    dictionary_batch(&out, 1, false, &b);
    CHECK(fails_with(&out, "offsets not monotonic at entry 1 (1 < 2)"));
    /* Two nodes for one column; compressed; no data at all. */
    memset(&h, 0, sizeof h);
    put_strings(&h, abc, 3);
    b = body_batch(&h, 3);
    b.n_nodes = 2;
    schema(&out, f, 1, 0);
    dictionary_batch(&out, 1, false, &b);
    CHECK(fails_with(&out, "arrow: dictionary batch 0 (id 1): 2 field nodes for 1 columns"));
    b = body_batch(&h, 3);
    b.codec = 1;
    schema(&out, f, 1, 0);
    dictionary_batch(&out, 1, false, &b);
    CHECK(fails_with(&out, "dictionary batch 0 (id 1): compressed record batches (ZSTD)"));
    nbi_fbb fb;
    size_t slot = message(&fb, NBI_IPC_V5, NBI_IPC_HDR_DICTIONARY, 0);
    nbi_fbb_patch(&fb, slot, nbi_fbb_table(&fb, NULL, 0, NULL));
    schema(&out, f, 1, 0);
    frame(&out, &fb, NULL, 0);
    CHECK(fails_with(&out, "arrow: dictionary batch 0 (id 0): no data (RecordBatch)"));
}

/* A dictionary of one long entry named by many int8 indices: bounded, not unbounded. */
static nb_status expand(size_t entry, size_t rows)
{
    nbi_buf out = NBI_BUF_INIT;
    hfield f[] = {DICT_FIELD("s", 1, 8, false)};
    uint8_t *body = calloc(1, 8 + entry + rows + 16);
    int32_t offs[2] = {0, (int32_t)entry};
    memcpy(body, offs, 8);
    memset(body + 8, 'x', entry);
    int64_t nodes[2] = {1, 0}, dbufs[6] = {0, 0, 0, 8, 8, (int64_t)entry};
    hbatch d = {1, nodes, 1, dbufs, 3, body, 8 + entry, -1, 0, -1};
    int64_t inodes[2] = {(int64_t)rows, 0}, ibufs[4] = {0, 0, 0, (int64_t)rows};
    uint8_t *zeros = body + 8 + entry;
    hbatch r = {(int64_t)rows, inodes, 1, ibufs, 2, zeros, (rows + 7) & ~(size_t)7, -1, 0, -1};
    schema(&out, f, 1, 0);
    dictionary_batch(&out, 1, false, &d);
    record_batch(&out, &r);
    nb_table *t = NULL;
    nb_status s = read_copy(out.data, out.len, &t);
    if (s == NB_OK && nb_table_rows(t) != (int64_t)rows)
        s = NB_INTERNAL;
    nb_table_destroy(t);
    nbi_buf_free(&out);
    free(body);
    return s;
}

NBT_CASE(dictionary_expansion)
{
    CHECK_OK(expand(100000, 100)); /* 10 MB from 100 kB: fine */
    CHECK(expand(100000, 2000) == NB_TOO_LARGE); /* 200 MB from 102 kB */
    CHECK(strstr(nb_last_error(), "arrow: record batch 0: column 's': dictionary entries expand "
                                  "to over"));
}

/* A file around the messages of stream (from its byte 0), its footer naming the blocks. */
static void file_of(nbi_buf *file, const nbi_buf *stream, const hfield *fields, size_t n,
                    const size_t *dicts, size_t n_dicts, const size_t *batches, size_t n_batches)
{
    uint8_t blocks[2][8 * NBI_IPC_BLOCK_SIZE];
    memset(blocks, 0, sizeof blocks);
    for (size_t i = 0; i < n_dicts; i++)
        nbi_put_le64(blocks[0] + i * NBI_IPC_BLOCK_SIZE, 8 + dicts[i]);
    for (size_t i = 0; i < n_batches; i++)
        nbi_put_le64(blocks[1] + i * NBI_IPC_BLOCK_SIZE, 8 + batches[i]);
    nbi_fbb b;
    size_t s[4];
    nbi_fbb_field ff[] = {NBI_FBB_SCALAR(0, 2, NBI_IPC_V5), NBI_FBB_OFFSET(1), NBI_FBB_OFFSET(2),
                          NBI_FBB_OFFSET(3)};
    nbi_fbb_init(&b);
    nbi_fbb_set_root(&b, nbi_fbb_table(&b, ff, 4, s));
    schema_table(&b, s[1], fields, n, 0);
    nbi_fbb_patch(&b, s[2], nbi_fbb_struct_vector(&b, blocks[0], NBI_IPC_BLOCK_SIZE, n_dicts));
    nbi_fbb_patch(&b, s[3], nbi_fbb_struct_vector(&b, blocks[1], NBI_IPC_BLOCK_SIZE, n_batches));
    uint8_t size[4];
    nbi_put_le32(size, (uint32_t)b.buf.len);
    nbi_buf_append(file, "ARROW1\0\0", 8);
    nbi_buf_append(file, stream->data, stream->len);
    nbi_buf_append(file, "\xff\xff\xff\xff\0\0\0\0", 8);
    nbi_buf_append(file, b.buf.data, b.buf.len);
    nbi_buf_append(file, size, 4);
    nbi_buf_append(file, "ARROW1", 6);
    nbi_fbb_free(&b);
}

NBT_CASE(dictionary_files)
{
    static const char *const ab[] = {"a", "b"}, *const c[] = {"c"};
    hfield f[] = {DICT_FIELD("s", 1, 8, false)};
    int64_t i1[1] = {1}, i20[2] = {2, 0};
    size_t d[2], r[2];
    nbi_buf st = NBI_BUF_INIT, file = NBI_BUF_INIT;
    /* Every dictionary batch applies to every record batch: the first batch names
     * entry 2, which a delta after it adds. */
    d[0] = st.len, utf8_dictionary(&st, 1, false, ab, 2);
    r[0] = st.len, index_batch(&st, i20, 2, 1, NULL);
    d[1] = st.len, utf8_dictionary(&st, 1, true, c, 1);
    r[1] = st.len, index_batch(&st, i1, 1, 1, NULL);
    file_of(&file, &st, f, 1, d, 2, r, 2);
    static const char *const want[] = {"c", "a", "b"};
    CHECK(reads_strings(&file, 0, want, 3));
    /* The footer must list the dictionary batches. */
    file_of(&file, &st, f, 1, d, 1, r, 2);
    CHECK(fails_with(&file,
                     "arrow file: the footer lists 1 dictionary batches, the stream holds 2"));
    d[1] += 8;
    file_of(&file, &st, f, 1, d, 2, r, 2);
    d[1] -= 8;
    CHECK(fails_with(&file, "arrow file: footer block 1 of the dictionary batches points at"));
    nbi_buf_free(&st);
    /* No replacement in a file. */
    d[0] = st.len, utf8_dictionary(&st, 1, false, ab, 2);
    r[0] = st.len, index_batch(&st, i1, 1, 1, NULL);
    d[1] = st.len, utf8_dictionary(&st, 1, false, c, 1);
    file_of(&file, &st, f, 1, d, 2, r, 1);
    CHECK(fails_with(&file, "arrow: dictionary batch 1 (id 1): a file may not replace a "
                            "dictionary"));
    nbi_buf_free(&st);
    /* No dictionary at all. */
    r[0] = st.len, index_batch(&st, i1, 1, 1, NULL);
    file_of(&file, &st, f, 1, d, 0, r, 1);
    CHECK(fails_with(&file, "arrow file: column 's': no dictionary batch with id 1"));
    nbi_buf_free(&st);
}

static const nbt_case cases[] = {
    NBT_ENTRY(truncated_at_every_byte), NBT_ENTRY(every_byte_flipped),
    NBT_ENTRY(hand_built_sample_reads), NBT_ENTRY(buffers_beyond_body),
    NBT_ENTRY(field_nodes_and_counts),  NBT_ENTRY(nulls_in_non_nullable),
    NBT_ENTRY(bad_offsets),             NBT_ENTRY(invalid_utf8),
    NBT_ENTRY(bad_framing),             NBT_ENTRY(bad_flatbuffers),
    NBT_ENTRY(flatbuffer_reader_units), NBT_ENTRY(compression),
    NBT_ENTRY(unsupported_types),       NBT_ENTRY(bad_files),
    NBT_ENTRY(dictionary_reads),        NBT_ENTRY(dictionary_index_types),
    NBT_ENTRY(dictionary_deltas_and_replacements), NBT_ENTRY(dictionary_bad_indices),
    NBT_ENTRY(dictionary_bad_batches),  NBT_ENTRY(dictionary_expansion),
    NBT_ENTRY(dictionary_files),        {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
