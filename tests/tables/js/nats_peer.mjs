// SPDX-License-Identifier: MIT
// nats_peer.mjs - apache-arrow in Node at the far end of NATS, for test_arrow_nats.c (issue 4,
// "Done when"): tables travel as natsbridge "table" payloads through a real nats-server,
// directly or by link through the built-in file server, using the JS peer library
// (tests/interop/js/natsbridge.mjs) for the envelope and apache-arrow 17 for the table.
//
//   node nats_peer.mjs recv NATS_URL SUBJECT TIMEOUT_S
//       prints "ready" once subscribed, then one JSON line: the transport of payload "tbl"
//       and describe() (ipc_common.mjs) of the table apache-arrow read from it. Exit 3 on timeout.
//   node nats_peer.mjs send NATS_URL FILESERVER_URL SUBJECT direct|link
//       builds a table of every supported type with nulls in record batches of 4, 0 and 6
//       rows with apache-arrow, sends it as payload "tbl", prints describe() of it.
import { loadArrow, describe } from './ipc_common.mjs';
import { smartsend, smartreceive, connect } from '../../interop/js/natsbridge.mjs';

const A = loadArrow();
const [mode, ...args] = process.argv.slice(2);

async function recv(url, subject, timeoutS) {
  const timer = setTimeout(() => { console.error('nats_peer: timed out'); process.exit(3); },
    Number(timeoutS) * 1000);
  const nc = await connect({ servers: url, timeout: 5000 });
  const sub = nc.subscribe(subject, { max: 1 });
  await nc.flush();
  console.log('ready');
  for await (const m of sub) {
    // Tables decoded here with the same apache-arrow instance that describe() uses.
    const env = await smartreceive(m, { decodeTables: false });
    const pl = env.payloads.find((p) => p.dataname === 'tbl');
    if (!pl) throw new Error('no payload "tbl"');
    const table = A.tableFromIPC(pl.data);
    console.log(JSON.stringify({ transport: pl.transport, batches: table.batches.length,
                                 ...describe(A, table) }));
  }
  clearTimeout(timer);
  await nc.close();
}

const WORDS = ['', 'a', 'héllo', '日本語', 'emoji 😀', 'tab\there', '"q" \\ b', 'line\nbreak'];
const COLUMNS = [
  ['b', new A.Bool(), (i) => i % 3 === 0],
  ['i8', new A.Int8(), (i) => (i === 0 ? -128 : i * 11)],
  ['i16', new A.Int16(), (i) => (i === 0 ? -32768 : i * -301)],
  ['i32', new A.Int32(), (i) => (i === 0 ? 2147483647 : i * -70001)],
  ['i64', new A.Int64(), (i) => (i === 0 ? 2n ** 63n - 1n : BigInt(i) * -9007199254740993n)],
  ['u8', new A.Uint8(), (i) => (i === 0 ? 255 : i)],
  ['u16', new A.Uint16(), (i) => (i === 0 ? 65535 : i * 5)],
  ['u32', new A.Uint32(), (i) => (i === 0 ? 4294967295 : i * 9)],
  ['u64', new A.Uint64(), (i) => (i === 0 ? 2n ** 64n - 1n : BigInt(i) * 2n ** 60n)],
  ['f32', new A.Float32(), (i) => (i === 0 ? 3.4e38 : i / 7)],
  ['f64', new A.Float64(), (i) => (i === 0 ? -5e-324 : i / 3)],
  ['s', new A.Utf8(), (i) => WORDS[i % WORDS.length]],
  ['bin', new A.Binary(), (i) => Uint8Array.from([0, i, 0xff])],
  ['d', new A.DateDay(), (i) => new Date(Date.UTC(1999 + i, i, 1))],
  ['ts_s', new A.TimestampSecond(), (i) => -86400000 * i], // values in ms (Arrow JS)
  ['ts_ms', new A.TimestampMillisecond('UTC'), (i) => 1700000000123 + i],
  ['ts_us', new A.TimestampMicrosecond('Asia/Tokyo'), (i) => i * 1000001],
  ['ts_ns', new A.TimestampNanosecond('-03:00'), (i) => (i === 0 ? -1 : i * 999)],
];

// Row i of column c is null when (i + 2 * c) % 4 == 3.
function batch(first, n) {
  const datas = COLUMNS.map(([, type, make], c) => {
    const vals = [];
    for (let i = first; i < first + n; i++) vals.push((i + 2 * c) % 4 === 3 ? null : make(i));
    return A.vectorFromArray(vals, type).data[0];
  });
  const schema = new A.Schema(COLUMNS.map(([name, type]) => new A.Field(name, type, true)));
  const struct = A.makeData({ type: new A.Struct(schema.fields), length: n, nullCount: 0,
                              children: datas });
  return new A.RecordBatch(schema, struct);
}

async function send(url, fileserver, subject, transport) {
  let row = 0;
  const table = new A.Table([4, 0, 6].map((n) => { const b = batch(row, n); row += n; return b; }));
  const bytes = A.tableToIPC(table, 'stream');
  await smartsend(subject, [{ dataname: 'tbl', type: 'table', data: bytes }],
    { natsUrl: url, fileserverUrl: fileserver, link: transport === 'link' ? ['tbl'] : [] });
  console.log(JSON.stringify(describe(A, table)));
}

if (mode === 'recv' && args.length === 3) await recv(...args);
else if (mode === 'send' && args.length === 4) await send(...args);
else {
  console.error('usage: nats_peer.mjs recv NATS_URL SUBJECT TIMEOUT_S | '
    + 'send NATS_URL FILESERVER_URL SUBJECT direct|link');
  process.exit(1);
}
