// SPDX-License-Identifier: MIT
// write_arrow.mjs OUTDIR - apache-arrow 17 writes the tables natsbridge must
// read (test_ipc.c, case read_apache_arrow): every supported type with nulls
// in record batches of 5, 0, 7 and 3 rows, as a stream (js_every_type.arrows)
// and as a file (js_every_type.arrow), plus a schema-only stream
// (js_schema_only.arrows); js_every_type.json is the expected content.
import fs from 'node:fs';
import path from 'node:path';
import { loadArrow, describe } from './ipc_common.mjs';

const A = loadArrow();
const out = process.argv[2];
if (!out) throw new Error('usage: write_arrow.mjs OUTDIR');
fs.mkdirSync(out, { recursive: true });

const WORDS = ['', 'a', 'héllo', '日本語', 'emoji 😀', 'tab\there', '"q" \\ b', 'line\nbreak'];
const TS = [
  ['ts_s', new A.TimestampSecond()],
  ['ts_ms', new A.TimestampMillisecond('UTC')],
  ['ts_us', new A.TimestampMicrosecond('Europe/Paris')],
  ['ts_ns', new A.TimestampNanosecond('+05:30')],
];

const columns = [
  ['bool', new A.Bool(), (i) => i % 5 < 2],
  ['int8', new A.Int8(), (i) => (i === 0 ? -128 : (i * 37) % 127)],
  ['int16', new A.Int16(), (i) => (i === 0 ? -32768 : -i * 1001)],
  ['int32', new A.Int32(), (i) => (i === 0 ? -2147483648 : i * 100003)],
  ['int64', new A.Int64(), (i) => (i === 0 ? -(2n ** 63n) : BigInt(i) * 1000000000007n)],
  ['uint8', new A.Uint8(), (i) => (i === 0 ? 255 : i)],
  ['uint16', new A.Uint16(), (i) => (i === 0 ? 65535 : i * 3)],
  ['uint32', new A.Uint32(), (i) => (i === 0 ? 4294967295 : i * 7)],
  ['uint64', new A.Uint64(), (i) => (i === 0 ? 2n ** 64n - 1n : BigInt(i) * 11n)],
  ['float32', new A.Float32(), (i) => (i === 0 ? -0 : i / 3)],
  ['float64', new A.Float64(), (i) => (i === 0 ? 1e308 : -i / 7)],
  ['utf8', new A.Utf8(), (i) => WORDS[i % WORDS.length]],
  ['binary', new A.Binary(), (i) => Uint8Array.from([i & 0xff, 0, 0xff, i % 7])],
  ['date32', new A.DateDay(), (i) => new Date(Date.UTC(1960 + i, i % 12, 1 + i))],
  ...TS.map(([n, t], k) => [n, t, (i) => (i === 0 ? -1 : (i + 1) * 1000 + k)]),
];

// Row i of column c is null when (i + c) % 3 == 2, as in tests/tables/table_fixture.h.
function batch(first, n) {
  const datas = columns.map(([, type, make], c) => {
    const vals = [];
    for (let i = first; i < first + n; i++) vals.push((i + c) % 3 === 2 ? null : make(i));
    return A.vectorFromArray(vals, type).data[0];
  });
  const schema = new A.Schema(columns.map(([name, type]) => new A.Field(name, type, true)));
  const struct = A.makeData({ type: new A.Struct(schema.fields), length: n, nullCount: 0,
                              children: datas });
  return new A.RecordBatch(schema, struct);
}

let row = 0;
const batches = [5, 0, 7, 3].map((n) => { const b = batch(row, n); row += n; return b; });
const table = new A.Table(batches);
fs.writeFileSync(path.join(out, 'js_every_type.arrows'), A.tableToIPC(table, 'stream'));
fs.writeFileSync(path.join(out, 'js_every_type.arrow'), A.tableToIPC(table, 'file'));
fs.writeFileSync(path.join(out, 'js_every_type.json'), JSON.stringify(describe(A, table)));
const empty = new A.Table(table.schema);
fs.writeFileSync(path.join(out, 'js_schema_only.arrows'), A.tableToIPC(empty, 'stream'));
console.log(`wrote ${table.numRows} rows in ${table.batches.length} batches to ${out}`);
