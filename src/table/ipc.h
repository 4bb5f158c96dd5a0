/* SPDX-License-Identifier: MIT */
/*
 * ipc.h - what the Arrow IPC reader (ipc_read.c) and writer (ipc_write.c)
 * share: the numbers of Arrow's Message.fbs, Schema.fbs and File.fbs
 * (shared/reference/arrow-ipc.md §4.2). Never installed.
 */
#ifndef NB_IPC_H
#define NB_IPC_H

#include "flatbuf.h"
#include "table.h"

#define NBI_IPC_CONTINUATION 0xFFFFFFFFu
#define NBI_IPC_MAGIC "ARROW1"
#define NBI_IPC_MAGIC_LEN 6

/* MetadataVersion: V4 = 3 (Arrow 0.8 to 0.17), V5 = 4 (1.0 on). */
enum { NBI_IPC_V4 = 3, NBI_IPC_V5 = 4 };

/* MessageHeader union. */
enum {
    NBI_IPC_HDR_SCHEMA = 1,
    NBI_IPC_HDR_DICTIONARY = 2,
    NBI_IPC_HDR_RECORD_BATCH = 3
};

/* Type union codes (Schema.fbs). */
enum {
    NBI_IPC_T_INT = 2,
    NBI_IPC_T_FLOAT = 3,
    NBI_IPC_T_BINARY = 4,
    NBI_IPC_T_UTF8 = 5,
    NBI_IPC_T_BOOL = 6,
    NBI_IPC_T_DATE = 8,
    NBI_IPC_T_TIMESTAMP = 10,
    NBI_IPC_T_LAST = 26
};

/* Table fields (vtable slots); a union takes two: its _type, then its value. */
enum { NBI_MSG_VERSION = 0, NBI_MSG_HEADER_TYPE = 1, NBI_MSG_HEADER = 2, NBI_MSG_BODY_LEN = 3 };
enum { NBI_SCHEMA_ENDIANNESS = 0, NBI_SCHEMA_FIELDS = 1 };
enum {
    NBI_FIELD_NAME = 0,
    NBI_FIELD_NULLABLE = 1,
    NBI_FIELD_TYPE_TYPE = 2,
    NBI_FIELD_TYPE = 3,
    NBI_FIELD_DICTIONARY = 4,
    NBI_FIELD_CHILDREN = 5
};
enum { NBI_RB_LENGTH = 0, NBI_RB_NODES = 1, NBI_RB_BUFFERS = 2, NBI_RB_COMPRESSION = 3 };
/* DictionaryEncoding {id: long, indexType: Int, isOrdered: bool, dictionaryKind: short}. */
enum {
    NBI_DICTENC_ID = 0,
    NBI_DICTENC_INDEX_TYPE = 1,
    NBI_DICTENC_ORDERED = 2,
    NBI_DICTENC_KIND = 3
};
/* DictionaryBatch {id: long, data: RecordBatch, isDelta: bool}. */
enum { NBI_DICTBATCH_ID = 0, NBI_DICTBATCH_DATA = 1, NBI_DICTBATCH_DELTA = 2 };
enum { NBI_FOOTER_VERSION = 0, NBI_FOOTER_SCHEMA = 1, NBI_FOOTER_DICTS = 2, NBI_FOOTER_BATCHES = 3 };

/* FieldNode {length, null_count} and Buffer {offset, length}: two int64 each. */
#define NBI_IPC_STRUCT16 16
/* File.fbs Block {offset: long, metaDataLength: int, (pad), bodyLength: long}. */
#define NBI_IPC_BLOCK_SIZE 24

/* Arrow buffers per column of type t (validity first). */
static inline size_t nbi_ipc_buffer_count(nb_column_type t)
{
    return nbi_column_type_is_variable(t) ? 3 : 2;
}

#endif /* NB_IPC_H */
