// SPDX-License-Identifier: MIT
// run_vectors.mjs - runs every golden envelope of tests/vectors through the JS peer's
// smartreceive (no downloads, Arrow bytes kept as bytes) and checks the expected result
// (format: tests/vectors/README.md). Usage: node run_vectors.mjs VECTOR_DIR
// Exit 0 when every vector passes; one line per failure on stderr.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { smartreceive } from './natsbridge.mjs';

const FIELDS = ['correlation_id', 'msg_id', 'timestamp', 'send_to', 'msg_purpose', 'sender_name',
  'sender_id', 'receiver_name', 'receiver_id', 'reply_to', 'reply_to_msg_id', 'broker_url'];

// JSON equality for metadata (key order does not matter).
function sameJson(a, b) {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameJson(a[k], b[k]));
}

function check(env, expect) {
  const problems = [];
  for (const f of FIELDS)
    if (env[f] !== expect.fields[f]) problems.push(`${f}: got ${JSON.stringify(env[f])}, want ${JSON.stringify(expect.fields[f])}`);
  if (!sameJson(env.metadata, expect.fields.metadata)) problems.push('metadata differs');
  if (env.payloads.length !== expect.payloads.length) {
    problems.push(`${env.payloads.length} payloads, want ${expect.payloads.length}`);
    return problems;
  }
  expect.payloads.forEach((want, i) => {
    const got = env.payloads[i];
    for (const k of ['dataname', 'type', 'type_name', 'transport', 'encoding', 'size'])
      if (got[k] !== want[k]) problems.push(`payloads[${i}].${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
    if (want.transport === 'link') {
      if (got.url !== want.url) problems.push(`payloads[${i}].url differs`);
    } else if (got.sha256 !== want.sha256) {
      problems.push(`payloads[${i}].sha256 differs`);
    }
    if (want.table !== undefined) {
      const t = tableFromIPC(got.bytes);
      if (t.numRows !== want.table.rows || !sameJson(t.schema.fields.map((f) => f.name), want.table.columns))
        problems.push(`payloads[${i}].table differs`);
    }
    if (want.text !== undefined && new TextDecoder().decode(got.bytes) !== want.text)
      problems.push(`payloads[${i}].text differs`);
  });
  return problems;
}

async function runOne(path) {
  const v = JSON.parse(readFileSync(path, 'utf8'));
  const expect = v.expect;
  let env;
  try {
    env = await smartreceive(Buffer.from(v.envelope, 'utf8'), { download: false, decodeTables: false });
  } catch (e) {
    if (expect.error === null) return [`refused a valid envelope: ${e.message}`];
    // Our peer names the field as natsbridge does: hold it to the same fragment.
    return e.message.includes(expect.error) ? [] : [`error '${e.message}' lacks '${expect.error}'`];
  }
  if (expect.error !== null) return [`accepted an envelope that must be refused (${expect.error})`];
  return check(env, expect);
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node run_vectors.mjs VECTOR_DIR');
  process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
let failed = 0;
for (const f of files) {
  const problems = await runOne(join(dir, f));
  for (const p of problems) console.error(`FAIL ${f}: ${p}`);
  if (problems.length) failed++;
}
console.log(`${files.length - failed}/${files.length} vectors passed`);
process.exit(failed || files.length === 0 ? 1 : 0);
