// SPDX-License-Identifier: MIT
// read_natsbridge.mjs DIR - apache-arrow 17 reads what natsbridge wrote
// (test_ipc.c, case write_for_apache_arrow): c_every_type.arrows (a stream in
// batches of 7 rows), c_every_type.arrow (the file format) and c_empty.arrows
// (columns, no rows). Types, nullability, units, timezones, nulls and values
// must equal the JSON the C side wrote from its table. Exits 1 on a mismatch.
import fs from 'node:fs';
import path from 'node:path';
import { loadArrow, describe } from './ipc_common.mjs';

const A = loadArrow();
const dir = process.argv[2];
if (!dir) throw new Error('usage: read_natsbridge.mjs DIR');

// JSON text with object keys sorted, so that key order does not matter.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function check(file, jsonFile, batches) {
  const table = A.tableFromIPC(fs.readFileSync(path.join(dir, file)));
  const want = JSON.parse(fs.readFileSync(path.join(dir, jsonFile), 'utf8'));
  const got = describe(A, table);
  if (canonical(got) !== canonical(want)) {
    for (const [j, col] of want.columns.entries()) {
      if (canonical(col) !== canonical(got.columns[j]))
        console.error(`${file}: column ${j} differs:\n got  ${canonical(got.columns[j])}\n want ${canonical(col)}`);
    }
    throw new Error(`${file}: apache-arrow read other values than natsbridge wrote`);
  }
  if (batches !== undefined && table.batches.length !== batches)
    throw new Error(`${file}: ${table.batches.length} record batches, expected ${batches}`);
  console.log(`${file}: ${table.numRows} rows, ${table.numCols} columns, ${table.batches.length} batches: ok`);
}

check('c_every_type.arrows', 'c_every_type.json', 6);
check('c_every_type.arrow', 'c_every_type.json', 3);
check('c_empty.arrows', 'c_empty.json');
