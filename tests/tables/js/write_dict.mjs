// SPDX-License-Identifier: MIT
// write_dict.mjs OUTDIR - apache-arrow 17 writes dictionary-encoded tables
// that natsbridge must read as plain columns of the value type (test_ipc.c,
// cases read_apache_arrow_dictionaries and table_from_json_reaches_c):
//  - js_dict_json.arrows / .arrow: tableFromJSON rows (strings become
//    Dictionary<Int32, Utf8>), what a JS peer sends;
//  - js_dict_arrays.arrows: tableFromArrays with strings and nulls;
//  - js_dict_stream.arrows: four record batches whose dictionaries grow by
//    deltas and are replaced (RecordBatchStreamWriter writes both), int8,
//    int16, uint8, uint16 and uint32 indices, utf8, binary, float64 and int64
//    values, null indices and a null dictionary entry;
//  - js_dict_file.arrow: the file format (deltas only: files cannot replace).
// Each X has X.json, the expected content (ipc_common.mjs describe()).
import fs from 'node:fs';
import path from 'node:path';
import { loadArrow, describe } from './ipc_common.mjs';

const A = loadArrow();
const out = process.argv[2];
if (!out) throw new Error('usage: write_dict.mjs OUTDIR');
fs.mkdirSync(out, { recursive: true });

function save(name, table, bytes) {
  fs.writeFileSync(path.join(out, name), bytes);
  fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(describe(A, table)));
}

// The message kinds of a stream: 'S', 'R' (record batch), 'D<id>' or 'd<id>' (delta).
function kinds(bytes) {
  const reader = new A.MessageReader(bytes);
  const seen = [];
  for (const m of reader) {
    if (m.isDictionaryBatch()) seen.push(`${m.header().isDelta ? 'd' : 'D'}${m.header().id}`);
    else seen.push(m.isRecordBatch() ? 'R' : 'S');
    if (m.bodyLength) reader.readMessageBody(m.bodyLength);
  }
  return seen.join(' ');
}

// What a JS peer sends: rows of JSON, strings dictionary-encoded by apache-arrow.
const rows = [
  { name: 'Ada', city: 'Zürich', score: 1.5, ok: true },
  { name: 'Bob', city: null, score: null, ok: false },
  { name: 'Ada', city: '東京 😀', score: -2, ok: null },
  { name: null, city: 'Zürich', score: 3.25, ok: true },
];
const fromJson = A.tableFromJSON(rows);
const nameType = fromJson.schema.fields[0].type;
if (!A.DataType.isDictionary(nameType))
  throw new Error(`tableFromJSON no longer dictionary-encodes strings: ${nameType}`);
save('js_dict_json.arrows', fromJson, A.tableToIPC(fromJson, 'stream'));
save('js_dict_json.arrow', fromJson, A.tableToIPC(fromJson, 'file'));

const fromArrays = A.tableFromArrays({
  s: ['x', 'y', null, 'x', 'ünï', '', null, 'y'],
  n: Int32Array.from([1, -2, 3, -4, 5, -6, 7, -8]),
});
save('js_dict_arrays.arrows', fromArrays, A.tableToIPC(fromArrays, 'stream'));

// Hand-made batches: each column's dictionary Vector per batch. A dictionary
// sharing its first chunk with the previous one is written as deltas, any
// other as a replacement (apache-arrow's RecordBatchWriter._writeDictionaries).
const utf8 = (vals) => A.vectorFromArray(vals, new A.Utf8());
const bin = (vals) => A.vectorFromArray(vals.map((v) => Uint8Array.from(v)), new A.Binary());
const f64 = (vals) => A.vectorFromArray(vals, new A.Float64());
const i64 = (vals) => A.vectorFromArray(vals, new A.Int64());
const COLS = [
  ['s', new A.Dictionary(new A.Utf8(), new A.Int8(), 7)],
  ['u', new A.Dictionary(new A.Utf8(), new A.Uint16(), 8)],
  ['f', new A.Dictionary(new A.Float64(), new A.Int16(), 9)],
  ['b', new A.Dictionary(new A.Binary(), new A.Uint8(), 10)],
  ['i', new A.Dictionary(new A.Int64(), new A.Uint32(), 11)],
];
const schema = new A.Schema([...COLS.map(([n, t]) => new A.Field(n, t, true)),
                             new A.Field('plain', new A.Int32(), true)]);

const s1 = utf8(['héllo', 'a', '']), s2 = utf8(['日本語', 'tab\there']);
const u1 = utf8(['α', null, 'γ']);
const f1 = f64([0.5, -1e300]), f2 = f64([Math.PI]);
const b1 = bin([[0, 1], [], [255, 254, 253]]);
const i1 = i64([-(2n ** 63n), 2n ** 62n, 0n]);

// Indices (null: a null row) of a column with dictionary dict.
function dictData(type, dict, idx) {
  const data = new type.indices.ArrayType(idx.length);
  const bitmap = new Uint8Array(Math.max(1, Math.ceil(idx.length / 8)));
  let nulls = 0;
  idx.forEach((v, i) => {
    if (v === null) nulls++;
    else { data[i] = v; bitmap[i >> 3] |= 1 << (i & 7); }
  });
  return A.makeData({ type, length: idx.length, nullCount: nulls,
                      nullBitmap: nulls ? bitmap : null, data, dictionary: dict });
}

function batch(cols, plain) {
  const children = cols.map(([dict, idx], c) => dictData(COLS[c][1], dict, idx));
  children.push(A.vectorFromArray(plain, new A.Int32()).data[0]);
  return new A.RecordBatch(schema, A.makeData({ type: new A.Struct(schema.fields),
                                                length: plain.length, nullCount: 0, children }));
}

const streamBatches = [
  batch([[s1, [0, 1, null, 2, 0]], [u1, [0, 1, 2, null, 0]], [f1, [1, 0, null, 1, 1]],
         [b1, [2, 1, 0, null, 0]], [i1, [0, 1, 2, 0, null]]], [1, 2, null, 4, 5]),
  // s grows by a delta (entries 3, 4); the others keep their dictionaries.
  batch([[s1.concat(s2), [3, 4, 0, null]], [u1, [2, 2, 1, 0]], [f1, [0, 0, 1, 1]],
         [b1, [0, 0, 0, 0]], [i1, [2, 1, 0, 2]]], [6, null, 8, 9]),
  batch([[s1.concat(s2), []], [u1, []], [f1, []], [b1, []], [i1, []]], []),
  // s and u are replaced; f grows by a delta.
  batch([[utf8(['new', 'dict']), [1, 0, 1]], [utf8(['ω']), [0, null, 0]],
         [f1.concat(f2), [2, 0, 2]], [b1, [1, 1, 2]], [i1, [1, 1, 1]]], [10, 11, 12]),
];
const streamTable = new A.Table(streamBatches);
const writer = new A.RecordBatchStreamWriter();
streamBatches.forEach((b) => writer.write(b));
writer.finish();
const stream = writer.toUint8Array(true);
const sk = kinds(stream);
if (!sk.includes('d7') || sk.indexOf('D7') === sk.lastIndexOf('D7') || !sk.includes('D8 '))
  throw new Error(`expected a delta and a replacement of dictionary 7: ${sk}`);
save('js_dict_stream.arrows', streamTable, stream);

// The file format: the same first two batches and a third with f's delta (no replacement).
const fileBatches = [streamBatches[0], streamBatches[1],
  batch([[s1.concat(s2), [4, 3]], [u1, [1, 0]], [f1.concat(f2), [2, 2]], [b1, [0, 1]],
         [i1, [null, 0]]], [13, 14])];
const fileTable = new A.Table(fileBatches);
const fileWriter = new A.RecordBatchFileWriter();
fileBatches.forEach((b) => fileWriter.write(b));
fileWriter.finish();
const file = fileWriter.toUint8Array(true);
const fk = kinds(file.subarray(8));
if (!fk.includes('d7') || !fk.includes('d9'))
  throw new Error(`expected deltas of dictionaries 7 and 9 in the file: ${fk}`);
save('js_dict_file.arrow', fileTable, file);

// apache-arrow reads back what it wrote (the expected JSON is its view).
const written = [['js_dict_stream.arrows', streamTable], ['js_dict_file.arrow', fileTable]];
for (const [name, table] of written) {
  const back = A.tableFromIPC(fs.readFileSync(path.join(out, name)));
  if (JSON.stringify(describe(A, back)) !== JSON.stringify(describe(A, table)))
    throw new Error(`${name}: apache-arrow reads other values than it wrote`);
}
console.log(`stream messages: ${sk}\nfile messages: ${fk}\nwrote dictionary tables to ${out}`);
