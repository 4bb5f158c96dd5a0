// SPDX-License-Identifier: MIT
// peer.mjs - the JS peer as a program, driven by tests/interop/run_matrix.py.
//
//   node peer.mjs send SPEC      publish one message; prints the envelope as sent (one line)
//   node peer.mjs listen SPEC    print COUNT received messages as JSON lines ("ready" on stderr)
//   node peer.mjs request SPEC   send with a fresh inbox as reply_to, print the reply
//   node peer.mjs respond SPEC   answer COUNT requests with a copy of their payloads
//   node peer.mjs make-arrow PATH  write a small Arrow IPC stream (3 rows) to PATH
//
// SPEC is a JSON object (the command-line argument): nats, fileserver, subject, count,
// timeout (s), options (smartsend options, snake_case envelope names), payloads
// ([{dataname, type, file, link}]; {arrow: 'demo'} instead of file sends demoTable() as an
// apache-arrow Table), uploader ('plik'|'put').
// Every JSON line printed for a received message has the shape of `natsbridge listen --json`
// plus, per payload, `decoded_type` and `check` (a summary of the decoded value).

import { readFileSync, writeFileSync } from 'node:fs';
import { createInbox } from 'nats';
import { tableToIPC, Table, vectorFromArray, Int32, Float64 } from 'apache-arrow';
import { smartsend, smartreceive, connect } from './natsbridge.mjs';

const OPTION_NAMES = {
  correlation_id: 'correlationId', msg_purpose: 'msgPurpose', sender_name: 'senderName',
  receiver_name: 'receiverName', receiver_id: 'receiverId', reply_to: 'replyTo',
  reply_to_msg_id: 'replyToMsgId', metadata: 'metadata', msg_id: 'msgId',
  size_threshold: 'sizeThreshold', checksum: 'checksum', type_key: 'typeKey',
};

// The value a payload file holds, as the JS API takes it for its type.
function loadPayload(p) {
  if (p.arrow === 'demo') return { dataname: p.dataname, type: p.type, data: demoTable() };
  const bytes = readFileSync(p.file);
  switch (p.type) {
    case 'text': return { dataname: p.dataname, type: p.type, data: bytes.toString('utf8') };
    case 'dictionary': case 'jsontable':
      return { dataname: p.dataname, type: p.type, data: JSON.parse(bytes.toString('utf8')) };
    default: return { dataname: p.dataname, type: p.type, data: new Uint8Array(bytes) };
  }
}

function sendOptions(spec, nc) {
  const o = { natsUrl: spec.nats, fileserverUrl: spec.fileserver, nc, uploader: spec.uploader };
  for (const [k, v] of Object.entries(spec.options || {})) o[OPTION_NAMES[k] || k] = v;
  o.link = (spec.payloads || []).filter((p) => p.link).map((p) => p.dataname);
  return o;
}

// A summary of the decoded value the test can compare with the source file.
function check(pl) {
  if (pl.data instanceof Table) {
    const records = JSON.parse(JSON.stringify(pl.data.toArray(),
      (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
    return { rows: pl.data.numRows, columns: pl.data.schema.fields.map((f) => f.name), records };
  }
  if (pl.data instanceof Uint8Array) return { bytes: pl.data.length };
  return pl.data; // string, object, array
}

function report(env) {
  const out = { ...env };
  out.payloads = env.payloads.map((pl) => ({
    dataname: pl.dataname, type: pl.type_name, decoded_type: pl.type, transport: pl.transport,
    encoding: pl.encoding, size: pl.size, sha256: pl.sha256, check: check(pl),
  }));
  return JSON.stringify(out);
}

function deadline(spec) { return Date.now() + 1000 * (spec.timeout || 20); }

async function nextMessage(iter, until) {
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), Math.max(0, until - Date.now())));
  const r = await Promise.race([iter.next(), timeout]);
  if (r === null) throw new Error('timed out waiting for a message');
  if (r.done) throw new Error('subscription closed');
  return r.value;
}

async function cmdSend(spec) {
  const nc = await connect({ servers: spec.nats });
  const [, json] = await smartsend(spec.subject, spec.payloads.map(loadPayload), sendOptions(spec, nc));
  console.log(json);
  await nc.close();
}

async function cmdListen(spec) {
  const nc = await connect({ servers: spec.nats });
  const sub = nc.subscribe(spec.subject);
  await nc.flush();
  console.error(`ready: listening on ${spec.subject}`);
  const iter = sub[Symbol.asyncIterator]();
  const until = deadline(spec);
  for (let i = 0; i < (spec.count || 1); i++)
    console.log(report(await smartreceive(await nextMessage(iter, until))));
  await nc.close();
}

// Request/reply lives in the envelope: reply_to names our inbox, and the answer is the
// message whose reply_to_msg_id is our msg_id.
async function cmdRequest(spec) {
  const nc = await connect({ servers: spec.nats });
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  const opts = sendOptions(spec, nc);
  opts.replyTo = inbox;
  const [env, json] = await smartsend(spec.subject, spec.payloads.map(loadPayload), opts);
  console.log(json);
  const iter = sub[Symbol.asyncIterator]();
  const until = deadline(spec);
  for (;;) {
    const reply = await smartreceive(await nextMessage(iter, until));
    if (reply.reply_to_msg_id !== env.msg_id) continue; // not ours
    console.log(report(reply));
    break;
  }
  await nc.close();
}

async function cmdRespond(spec) {
  const nc = await connect({ servers: spec.nats });
  const sub = nc.subscribe(spec.subject);
  await nc.flush();
  console.error(`ready: responding on ${spec.subject}`);
  const iter = sub[Symbol.asyncIterator]();
  const until = deadline(spec);
  for (let answered = 0; answered < (spec.count || 1);) {
    const req = await smartreceive(await nextMessage(iter, until));
    console.log(report(req));
    if (!req.reply_to) continue;
    const payloads = req.payloads.map((pl) => ({ dataname: pl.dataname, type: pl.type_name,
      data: pl.type === 'table' ? pl.bytes : pl.data }));
    const opts = sendOptions(spec, nc);
    Object.assign(opts, { correlationId: req.correlation_id, replyToMsgId: req.msg_id,
      receiverName: req.sender_name, receiverId: req.sender_id, msgPurpose: opts.msgPurpose || 'reply' });
    await smartsend(req.reply_to, payloads, opts);
    answered++;
  }
  await nc.close();
}

// The demo table: id int32, name utf8, score float64. `name` is left to apache-arrow's default
// for JS strings, a Dictionary<Int32, Utf8> column, as a real JS peer sends it; natsbridge's
// reader materializes it as plain utf8.
export function demoTable() {
  return new Table({
    id: vectorFromArray([1, 2, 3], new Int32()),
    name: vectorFromArray(['alpha', 'béta', 'gamma']),
    score: vectorFromArray([0.5, 1.25, -3], new Float64()),
  });
}

function cmdMakeArrow(path) {
  writeFileSync(path, tableToIPC(demoTable(), 'stream'));
}

const [cmd, arg] = process.argv.slice(2);
const commands = { send: cmdSend, listen: cmdListen, request: cmdRequest, respond: cmdRespond };
try {
  if (cmd === 'make-arrow') cmdMakeArrow(arg);
  else if (commands[cmd]) await commands[cmd](JSON.parse(arg));
  else throw new Error(`unknown command '${cmd}' (send, listen, request, respond, make-arrow)`);
} catch (e) {
  console.error(`peer.mjs ${cmd}: ${e.message}`);
  process.exit(1);
}
process.exit(0);
