// SPDX-License-Identifier: MIT
// ipc_common.mjs - what the Arrow IPC interop scripts share: loading the
// pinned apache-arrow (17.0.0, installed in tests/interop/js) and describing
// a table as the canonical JSON both sides compare (test_ipc.c does the same
// for an nb_table):
//   {"columns": [{"name", "type", "nullable", "unit"?, "timezone"?, "values": [...]}]}
// values: null for a null; bool as true/false; integers, dates and timestamps
// as decimal strings; floats as the decimal string of their IEEE bits; utf8
// as the string; binary as lowercase hex.
import { createRequire } from 'node:module';
import path from 'node:path';

// Node resolves packages next to the script, so apache-arrow is loaded from
// NB_JS_MODULES (the CTest passes tests/interop/js) or the working directory.
export function loadArrow() {
  const base = process.env.NB_JS_MODULES || process.cwd();
  return createRequire(path.join(base, 'package.json'))('apache-arrow');
}

const UNITS = ['s', 'ms', 'us', 'ns'];

// Our type name of an Arrow JS field type; throws on anything else.
export function typeName(A, t) {
  switch (t.typeId) {
    case A.Type.Bool: return 'bool';
    case A.Type.Int: return `${t.isSigned ? '' : 'u'}int${t.bitWidth}`;
    case A.Type.Float:
      if (t.precision === A.Precision.SINGLE) return 'float32';
      if (t.precision === A.Precision.DOUBLE) return 'float64';
      break;
    case A.Type.Utf8: return 'utf8';
    case A.Type.Binary: return 'binary';
    case A.Type.Date: if (t.unit === A.DateUnit.DAY) return 'date32'; break;
    case A.Type.Timestamp: return 'timestamp';
    default: break;
  }
  throw new Error(`unexpected Arrow type ${t}`);
}

function floatBits(x, single) {
  const dv = new DataView(new ArrayBuffer(8));
  if (single) { dv.setFloat32(0, x, true); return String(dv.getUint32(0, true)); }
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true).toString();
}

function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// The canonical value of row i of Data chunk d of type name.
function valueAt(A, d, name, i) {
  if (!d.getValid(i)) return null;
  const raw = d.values;
  switch (name) {
    case 'bool': return A.makeVector(d).get(i);
    case 'utf8': return A.makeVector(d).get(i);
    case 'binary': return hex(A.makeVector(d).get(i));
    case 'float32': return floatBits(raw[d.offset + i], true);
    case 'float64': return floatBits(raw[d.offset + i], false);
    default: return String(raw[d.offset + i]);
  }
}

// Row i of a dictionary-encoded chunk d: its entry, described as its value type.
function dictValueAt(A, d, name, i) {
  const v = d.getValid(i) ? A.makeVector(d).get(i) : null;
  if (v === null || v === undefined) return null;
  switch (name) {
    case 'bool': case 'utf8': return v;
    case 'binary': return hex(v);
    case 'float32': return floatBits(v, true);
    case 'float64': return floatBits(v, false);
    default: return String(v);
  }
}

// A dictionary-encoded column is described as its value type: natsbridge reads
// it as a plain column of that type.
export function describe(A, table) {
  const columns = table.schema.fields.map((f, j) => {
    const dict = A.DataType.isDictionary(f.type);
    const type = dict ? f.type.dictionary : f.type;
    const name = typeName(A, type);
    const col = { name: f.name, type: name, nullable: f.nullable, values: [] };
    if (name === 'timestamp') {
      col.unit = UNITS[type.unit];
      col.timezone = type.timezone || null;
    }
    for (const d of table.getChildAt(j).data)
      for (let i = 0; i < d.length; i++)
        col.values.push(dict ? dictValueAt(A, d, name, i) : valueAt(A, d, name, i));
    return col;
  });
  return { rows: table.numRows, columns };
}
