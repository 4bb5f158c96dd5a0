/*
 * test_ipc_hostile.c - nb_table_from_ipc on corrupted and hostile bytes:
 * every truncation and byte flip of valid streams and files, and hand-built
 * streams that break one rule each (flatbuffer offsets and vtables, buffers
 * beyond the body, field node lengths, null counts, offsets, UTF-8, sizes,
 * compression, unsupported types). Each must fail naming what was wrong,
 * never crash or leak (the suite also runs under ASan and UBSan).
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
} hfield;

#define INT_FIELD(name, bits, sign) \
    {name, NBI_IPC_T_INT, {NBI_FBB_SCALAR(0, 4, bits), NBI_FBB_SCALAR(1, 1, sign)}, 2, true, false, false}
#define UTF8_FIELD(name) {name, NBI_IPC_T_UTF8, {{0}}, 0, true, false, false}

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

static void schema(nbi_buf *out, const hfield *fields, size_t n, int16_t endianness)
{
    nbi_fbb b;
    size_t slot = message(&b, NBI_IPC_V5, NBI_IPC_HDR_SCHEMA, 0), fslot;
    nbi_fbb_field sf[] = {NBI_FBB_SCALAR(0, 2, endianness), NBI_FBB_OFFSET(1)};
    size_t sslots[2];
    nbi_fbb_patch(&b, slot, nbi_fbb_table(&b, sf, 2, sslots));
    fslot = nbi_fbb_offset_vector(&b, n);
    nbi_fbb_patch(&b, sslots[1], fslot);
    for (size_t i = 0; i < n; i++) {
        const hfield *h = &fields[i];
        nbi_fbb_field ff[6] = {NBI_FBB_OFFSET(0), NBI_FBB_SCALAR(1, 1, h->nullable),
                               NBI_FBB_SCALAR(2, 1, h->type_code), NBI_FBB_OFFSET(3)};
        size_t s[6], nf = 4, di = 0, ci = 0;
        if (h->dictionary)
            di = nf, ff[nf++] = (nbi_fbb_field)NBI_FBB_OFFSET(4);
        if (h->child)
            ci = nf, ff[nf++] = (nbi_fbb_field)NBI_FBB_OFFSET(5);
        nbi_fbb_patch(&b, fslot + 4 + 4 * i, nbi_fbb_table(&b, ff, nf, s));
        nbi_fbb_patch(&b, s[0], nbi_fbb_string(&b, h->name, strlen(h->name)));
        nbi_fbb_patch(&b, s[3], nbi_fbb_table(&b, h->type_fields, h->n_type_fields, NULL));
        if (h->dictionary) {
            nbi_fbb_field df[] = {NBI_FBB_SCALAR(0, 8, 1)};
            nbi_fbb_patch(&b, s[di], nbi_fbb_table(&b, df, 1, NULL));
        }
        if (h->child) { /* one child Field (an empty table) */
            size_t v = nbi_fbb_offset_vector(&b, 1);
            nbi_fbb_patch(&b, s[ci], v);
            nbi_fbb_patch(&b, v + 4, nbi_fbb_table(&b, NULL, 0, NULL));
        }
    }
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

static void record_batch(nbi_buf *out, const hbatch *h)
{
    nbi_fbb b;
    uint8_t nodes[256], bufs[512];
    int64_t declared = h->declared_body >= 0 ? h->declared_body : (int64_t)h->body_len;
    size_t slot = message(&b, h->version ? h->version : NBI_IPC_V5,
                          NBI_IPC_HDR_RECORD_BATCH, declared), s[4];
    nbi_fbb_field f[] = {NBI_FBB_SCALAR(0, 8, h->length), NBI_FBB_OFFSET(1), NBI_FBB_OFFSET(2),
                         NBI_FBB_OFFSET(3)};
    put_pairs(nodes, h->nodes, h->n_nodes);
    put_pairs(bufs, h->buffers, h->n_buffers);
    nbi_fbb_patch(&b, slot, nbi_fbb_table(&b, f, h->codec >= 0 ? 4 : 3, s));
    nbi_fbb_patch(&b, s[1], nbi_fbb_struct_vector(&b, nodes, 16, h->n_nodes));
    nbi_fbb_patch(&b, s[2], nbi_fbb_struct_vector(&b, bufs, 16, h->n_buffers));
    if (h->codec >= 0) {
        nbi_fbb_field cf[] = {NBI_FBB_SCALAR(0, 1, h->codec)};
        nbi_fbb_patch(&b, s[3], nbi_fbb_table(&b, cf, 1, NULL));
    }
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
        {{"l", 12, {{0}}, 0, true, false, true}, "arrow: column 'l': type List is not supported"},
        {{"d", 7, {{0}}, 0, true, false, false}, "column 'd': type Decimal is not supported"},
        {{"n", 1, {{0}}, 0, true, false, false}, "type Null is not supported"},
        {{"L", 20, {{0}}, 0, true, false, false}, "type LargeUtf8 is not supported"},
        {{"v", 24, {{0}}, 0, true, false, false}, "type Utf8View is not supported"},
        {{"h", 3, {NBI_FBB_SCALAR(0, 2, 0)}, 1, true, false, false}, "FloatingPoint(HALF)"},
        {{"m", 8, {NBI_FBB_SCALAR(0, 2, 1)}, 1, true, false, false}, "Date(MILLISECOND)"},
        {{"m2", 8, {{0}}, 0, true, false, false}, "Date(MILLISECOND)"}, /* the default unit */
        {{"i", 2, {NBI_FBB_SCALAR(0, 4, 7)}, 1, true, false, false}, "bit width 7"},
        {{"t", 10, {NBI_FBB_SCALAR(0, 2, 9)}, 1, true, false, false}, "unknown unit 9"},
        {{"u", 99, {{0}}, 0, true, false, false}, "unknown type code 99"},
        {{"z", 0, {{0}}, 0, true, false, false}, "unknown type code 0"},
        {{"dict", 2, {NBI_FBB_SCALAR(0, 4, 32)}, 1, true, true, false}, "dictionary-encoded"},
        {{"kids", 2, {NBI_FBB_SCALAR(0, 4, 32)}, 1, true, false, true}, "type Int has 1 children"},
        {{"bad\xff", 5, {{0}}, 0, true, false, false}, "name is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nbi_buf out = NBI_BUF_INIT;
        schema(&out, &cases[i].f, 1, 0);
        CHECK(fails_with(&out, cases[i].needle));
    }
    nbi_buf out = NBI_BUF_INIT;
    schema(&out, two_fields, 2, 1);
    CHECK(fails_with(&out, "big-endian streams are not supported"));
    /* A dictionary batch after a sound schema. */
    nbi_fbb b;
    size_t slot = message(&b, NBI_IPC_V5, NBI_IPC_HDR_DICTIONARY, 0);
    nbi_fbb_patch(&b, slot, nbi_fbb_table(&b, NULL, 0, NULL));
    schema(&out, two_fields, 2, 0);
    frame(&out, &b, NULL, 0);
    CHECK(fails_with(&out, "dictionary batches are not supported"));
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
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "footer block 1 points at");
    nbi_put_le64(b1, nbi_le64(b1) - 8);
    nbi_put_le32(f + at + blocks.pos - 4, 2);
    CHECK_FAIL(read_copy(f, len, NULL), NB_BAD_PAYLOAD, "footer lists 2 record batches");
    nbi_put_le32(f + at + blocks.pos - 4, 3);
    CHECK(read_copy(f, len, NULL) == NB_OK);
    free(f);
    nb_table_destroy(t);
}

static const nbt_case cases[] = {
    NBT_ENTRY(truncated_at_every_byte), NBT_ENTRY(every_byte_flipped),
    NBT_ENTRY(hand_built_sample_reads), NBT_ENTRY(buffers_beyond_body),
    NBT_ENTRY(field_nodes_and_counts),  NBT_ENTRY(nulls_in_non_nullable),
    NBT_ENTRY(bad_offsets),             NBT_ENTRY(invalid_utf8),
    NBT_ENTRY(bad_framing),             NBT_ENTRY(bad_flatbuffers),
    NBT_ENTRY(flatbuffer_reader_units), NBT_ENTRY(compression),
    NBT_ENTRY(unsupported_types),       NBT_ENTRY(bad_files),
    {0}};

int main(int argc, char **argv) { return nbt_main(argc, argv, cases); }
