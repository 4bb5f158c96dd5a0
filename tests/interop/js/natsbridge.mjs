// SPDX-License-Identifier: MIT
// natsbridge.mjs - a JavaScript NATSBridge peer for the natsbridge test suite.
//
// Written from the peers' wire format (/work/shared/reference/seed-wire-format.md and
// docs/PROTOCOL.md), not from the C code, so that the interop tests compare two independent
// readings of the same contract. API semantics of the JavaScript NATSBridge peer:
//
//   const [env, json] = await smartsend(subject, [{dataname, data, type}], options);
//   const env = await smartreceive(msg, options);   // env.payloads: [{dataname, data, type, ...}]
//
// On the official `nats` client and `apache-arrow`; Node >= 18 (fetch, FormData, Blob).

import { connect } from 'nats';
import { tableFromIPC, tableToIPC, tableFromJSON, Table } from 'apache-arrow';
import { createHash, randomUUID } from 'node:crypto';

export const DEFAULT_SIZE_THRESHOLD = 1000000;

// Canonical written names; the keys are every name a reader accepts.
const TYPE_ALIASES = {
  text: 'text', dictionary: 'dictionary', json: 'dictionary', table: 'table', arrowtable: 'table',
  jsontable: 'jsontable', image: 'image', audio: 'audio', video: 'video', binary: 'binary',
};
const BYTE_TYPES = new Set(['image', 'audio', 'video', 'binary']);
// What the JS peer writes in `encoding` for a direct payload ("preserve the original type");
// the data itself is always base64.
const DIRECT_ENCODING = { text: 'base64', dictionary: 'json', jsontable: 'json', table: 'arrow-ipc' };

// Envelope string fields: snake_case name first, then the old spellings a reader accepts.
const ENVELOPE_FIELDS = [
  ['correlation_id', 'correlationId'], ['msg_id', 'msgId'], ['timestamp'], ['send_to', 'sendTo'],
  ['msg_purpose', 'msgPurpose'], ['sender_name', 'senderName'], ['sender_id', 'senderId'],
  ['receiver_name', 'receiverName'], ['receiver_id', 'receiverId'], ['reply_to', 'replyTo'],
  ['reply_to_msg_id', 'replyToMsgId'], ['broker_url', 'brokerURL', 'BrokerURL', 'brokerUrl'],
];
const REQUIRED_FIELDS = new Set(['correlation_id', 'msg_id']);

export class NATSBridgeError extends Error {
  constructor(message) { super(message); this.name = 'NATSBridgeError'; }
}
function fail(message) { throw new NATSBridgeError(message); }

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function sha256hex(bytes) { return createHash('sha256').update(bytes).digest('hex'); }

function toBytes(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return fail(`${what}: expected bytes (Uint8Array, Buffer or ArrayBuffer)`);
}

// ---------------------------------------------------------------------------------------------
// Serialisation (sending)
// ---------------------------------------------------------------------------------------------

// The bytes a payload travels as, per type (seed-wire-format.md section 2.2).
export function serialize(data, type, dataname = '?') {
  const what = `payload '${dataname}' (${type})`;
  switch (TYPE_ALIASES[type] === undefined ? null : type) {
    case 'text':
      if (typeof data !== 'string') fail(`${what}: text must be a string`);
      return utf8.encode(data);
    case 'dictionary': case 'json':
      return utf8.encode(JSON.stringify(data));
    case 'jsontable':
      if (!Array.isArray(data)) fail(`${what}: jsontable must be an array of row objects`);
      return utf8.encode(JSON.stringify(data));
    case 'table': case 'arrowtable':
      if (data instanceof Table) return tableToIPC(data, 'stream');
      if (Array.isArray(data)) return tableToIPC(tableFromJSON(data), 'stream');
      return toBytes(data, what); // Arrow IPC bytes as they are
    case 'image': case 'audio': case 'video': case 'binary':
      return toBytes(data, what);
    default:
      return fail(`${what}: unknown type '${type}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Upload handlers: (fileserverUrl, dataname, bytes, options) -> {status, uploadid, fileid, url}
// ---------------------------------------------------------------------------------------------

function authHeaders(token) { return token ? { Authorization: `Bearer ${token}` } : {}; }
function trimSlash(url) { return url.replace(/\/+$/, ''); }

async function expectOk(res, what) {
  if (res.ok) return res;
  const body = await res.text().catch(() => '');
  return fail(`${what}: HTTP ${res.status} ${body.slice(0, 200)}`);
}

// The Plik subset: create an upload (never one-shot: fan-out and retries need the URL twice),
// then add the file as multipart part `file` with the upload's token.
export async function plikUpload(fileserverUrl, dataname, bytes, options = {}) {
  const base = trimSlash(fileserverUrl);
  const up = await expectOk(await fetch(`${base}/upload`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...authHeaders(options.token) },
    body: JSON.stringify({ oneShot: false }),
  }), `upload: POST ${base}/upload`);
  const upload = await up.json();
  if (typeof upload.id !== 'string' || typeof upload.uploadToken !== 'string')
    fail(`upload: POST ${base}/upload answered without id/uploadToken`);
  const form = new FormData();
  form.append('file', new Blob([bytes]), dataname);
  const fileUrl = `${base}/file/${upload.id}`;
  const fr = await expectOk(await fetch(fileUrl, {
    method: 'POST',
    headers: { 'X-UploadToken': upload.uploadToken, ...authHeaders(options.token) },
    body: form,
  }), `upload: POST ${fileUrl}`);
  const file = await fr.json();
  if (typeof file.id !== 'string') fail(`upload: POST ${fileUrl} answered without a file id`);
  const name = file.fileName || dataname;
  return {
    status: fr.status, uploadid: upload.id, fileid: file.id,
    url: `${base}/file/${upload.id}/${file.id}/${encodeURIComponent(name)}`,
  };
}

// PUT {fileserverUrl}/{uuid}/{dataname}: any server that accepts PUT.
export async function putUpload(fileserverUrl, dataname, bytes, options = {}) {
  const id = randomUUID();
  const url = `${trimSlash(fileserverUrl)}/${id}/${encodeURIComponent(dataname)}`;
  const res = await expectOk(await fetch(url, {
    method: 'PUT', headers: { ...authHeaders(options.token) }, body: bytes,
  }), `upload: PUT ${url}`);
  return { status: res.status, uploadid: id, fileid: id, url };
}

// ---------------------------------------------------------------------------------------------
// smartsend
// ---------------------------------------------------------------------------------------------

function buildPayload(p, bytes, transport, data, options) {
  const t = p.type;
  const metadata = { ...(p.metadata || {}) };
  if (options.checksum) metadata.sha256 = sha256hex(bytes);
  const encoding = transport === 'link' ? 'none'
    : (DIRECT_ENCODING[TYPE_ALIASES[t]] || 'base64');
  const out = { id: p.id || randomUUID(), dataname: p.dataname };
  out[options.typeKey || 'type'] = t;
  Object.assign(out, { transport, encoding, size: bytes.length, data, metadata });
  return out;
}

// Publishes `payloads` ([{dataname, data, type}]) on `subject`; returns [envelope, jsonText].
export async function smartsend(subject, payloads, options = {}) {
  if (typeof subject !== 'string' || subject === '') fail('smartsend: subject must be a non-empty string');
  if (!Array.isArray(payloads)) fail('smartsend: payloads must be an array of {dataname, data, type}');
  const natsUrl = options.natsUrl || 'nats://localhost:4222';
  const fileserverUrl = options.fileserverUrl || 'http://localhost:8080';
  const threshold = options.sizeThreshold ?? DEFAULT_SIZE_THRESHOLD;
  const upload = options.uploadHandler
    || (options.uploader === 'put' ? putUpload : plikUpload);
  const forceLink = new Set(options.link || []);

  const wire = [];
  for (const p of payloads) {
    if (!p || typeof p.dataname !== 'string' || p.dataname === '')
      fail('smartsend: every payload needs a non-empty dataname');
    const bytes = serialize(p.data, p.type, p.dataname);
    if (bytes.length >= threshold || forceLink.has(p.dataname)) {
      const r = await upload(fileserverUrl, p.dataname, bytes, options);
      wire.push(buildPayload(p, bytes, 'link', r.url, options));
    } else {
      wire.push(buildPayload(p, bytes, 'direct', Buffer.from(bytes).toString('base64'), options));
    }
  }
  const env = {
    correlation_id: options.correlationId || randomUUID(),
    msg_id: options.msgId || randomUUID(),
    timestamp: new Date().toISOString(),
    send_to: subject,
    msg_purpose: options.msgPurpose || 'chat',
    sender_name: options.senderName || 'NATSBridge',
    sender_id: options.senderId || randomUUID(),
    receiver_name: options.receiverName || '',
    receiver_id: options.receiverId || '',
    reply_to: options.replyTo || '',
    reply_to_msg_id: options.replyToMsgId || '',
    broker_url: natsUrl,
    metadata: options.metadata || {},
    payloads: wire,
  };
  const json = JSON.stringify(env);
  const nc = options.nc || await connect({ servers: natsUrl, timeout: 5000 });
  try {
    // The NATS reply subject is set too when a reply is wanted (request/reply lives in the
    // envelope; the header-level reply lets the server report "no responders").
    nc.publish(subject, utf8.encode(json), env.reply_to ? { reply: env.reply_to } : undefined);
    await nc.flush();
  } finally {
    if (!options.nc) await nc.close();
  }
  return [env, json];
}

// ---------------------------------------------------------------------------------------------
// Strict base64 (docs/PROTOCOL.md section 7): one spelling per byte string, padding optional.
// ---------------------------------------------------------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function base64Decode(s, what = 'data') {
  let end = s.length;
  let pad = 0;
  while (end > 0 && s[end - 1] === '=') { end--; pad++; }
  for (let i = 0; i < end; i++)
    if (!B64_INDEX.has(s[i])) fail(`${what}: invalid base64 at offset ${i}: '${s[i]}' is not in the alphabet`);
  const rest = end % 4;
  if (rest === 1) fail(`${what}: invalid base64 at offset ${end - 1}: a last group of one character`);
  if (pad > 0 && (pad > 2 || (end + pad) % 4 !== 0 || rest === 0))
    fail(`${what}: invalid base64 at offset ${end}: wrong padding`);
  if (rest > 0) {
    const last = B64_INDEX.get(s[end - 1]);
    const unused = rest === 2 ? 0x0f : 0x03;
    if (last & unused) fail(`${what}: invalid base64 at offset ${end - 1}: unused bits are not zero`);
  }
  return new Uint8Array(Buffer.from(s.slice(0, end), 'base64'));
}

// ---------------------------------------------------------------------------------------------
// Download with exponential back-off ("full jitter")
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const RETRIED = (status) => status === 408 || status === 429 || status >= 500;

// Downloads `url`: maxRetries retries after the first try, delays uniform in
// [0, min(maxDelay, baseDelay * 2^attempt)] ms; 4xx other than 408/429 fail at once.
export async function fetchWithBackoff(url, maxRetries = 5, baseDelay = 100, maxDelay = 5000,
  correlationId = '') {
  let lastError = '';
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
    let res;
    try {
      res = await fetch(url, { redirect: 'manual' });
    } catch (e) {
      lastError = `${e.cause?.code || e.message}`;
      continue;
    }
    if (res.ok) {
      try {
        return new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        lastError = `partial transfer: ${e.message}`;
        continue;
      }
    }
    await res.arrayBuffer().catch(() => null);
    lastError = `HTTP ${res.status}`;
    if (!RETRIED(res.status)) break;
  }
  return fail(`download ${url} failed (correlation_id ${correlationId}): ${lastError}`);
}

// ---------------------------------------------------------------------------------------------
// smartreceive
// ---------------------------------------------------------------------------------------------

function envelopeText(msg) {
  let bytes;
  if (typeof msg === 'string') bytes = utf8.encode(msg);
  else if (msg && msg.data instanceof Uint8Array) bytes = msg.data; // a NATS Msg
  else bytes = toBytes(msg, 'smartreceive: message');
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--; // a C sender's terminator
  bytes = bytes.subarray(0, end);
  if (bytes.length === 0) fail('envelope: empty message');
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) fail(`envelope: NUL byte at offset ${i}`);
  let text;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    fail('envelope: not valid UTF-8');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function pick(obj, names) {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

function readSize(p, where, required) {
  const v = p.size;
  if (v === undefined || v === null) {
    if (required) fail(`envelope: ${where}: missing field 'size'`);
    return undefined;
  }
  if (typeof v !== 'number') fail(`envelope: ${where}: field 'size' must be a number`);
  if (!Number.isFinite(v) || !Number.isInteger(v)) fail(`envelope: ${where}: field 'size' must be a whole number`);
  if (v < 0) fail(`envelope: ${where}: field 'size' must not be negative`);
  if (v > 2 ** 53) fail(`envelope: ${where}: field 'size' is too large`);
  return v;
}

// Direct `data` -> bytes (docs/PROTOCOL.md section 5).
function directBytes(p, encoding, where) {
  const d = p.data;
  if (d === undefined || d === null) fail(`envelope: ${where}: missing field 'data'`);
  if (typeof d === 'object') return utf8.encode(JSON.stringify(d));
  if (typeof d !== 'string') fail(`envelope: ${where}: field 'data' must be a string`);
  if (encoding === 'json' && /^[ \t\n\r]*[[{"]/.test(d)) return utf8.encode(d);
  return base64Decode(d, `envelope: ${where}.data`);
}

function firstNonSpace(bytes) {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b;
  return -1;
}

// Checks the bytes against the type and returns the decoded type (a JSON "table" -> jsontable).
// Offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or -1 when all of it is valid.
export function utf8ErrorOffset(b) {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n = 0; let lo = 0x80; let hi = 0xbf;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) { n = 2; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

function checkContent(type, typeName, bytes, what) {
  const decodeText = () => {
    const bad = utf8ErrorOffset(bytes);
    if (bad >= 0) fail(`${what}: ${type} is not valid UTF-8 at byte ${bad}`);
    return strictUtf8.decode(bytes);
  };
  const parse = () => {
    try { return JSON.parse(decodeText()); } catch (e) {
      if (e instanceof NATSBridgeError) throw e;
      return fail(`${what}: ${type} is not valid JSON`);
    }
  };
  if (type === 'table' && firstNonSpace(bytes) === 0x5b) {
    if (typeName !== 'table') fail(`${what}: table bytes start with '[' (JSON rows, not Arrow IPC): use jsontable`);
    type = 'jsontable';
  }
  if (type === 'text') decodeText();
  if (type === 'dictionary') parse();
  if (type === 'jsontable' && !Array.isArray(parse())) fail(`${what}: jsontable is not a JSON array`);
  return type;
}

function decodeData(type, bytes, options) {
  switch (type) {
    case 'text': return strictUtf8.decode(bytes);
    case 'dictionary': case 'jsontable': return JSON.parse(strictUtf8.decode(bytes));
    case 'table': return options.decodeTables === false ? bytes : tableFromIPC(bytes);
    default: return bytes;
  }
}

function readPayload(p, i, options) {
  const where = `payloads[${i}]`;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`envelope: ${where} must be a JSON object`);
  const dataname = p.dataname;
  if (dataname === undefined || dataname === null) fail(`envelope: ${where}: missing field 'dataname'`);
  if (typeof dataname !== 'string' || dataname === '') fail(`envelope: ${where}: field 'dataname' must be a non-empty string`);
  const typeName = pick(p, ['type', 'payload_type', 'payloadType']);
  if (typeName === undefined) fail(`envelope: ${where}: missing field 'type'`);
  if (typeof typeName !== 'string') fail(`envelope: ${where}: field 'type' must be a string`);
  const canonical = Object.hasOwn(TYPE_ALIASES, typeName) ? TYPE_ALIASES[typeName] : undefined;
  if (!canonical) fail(`envelope: ${where}.type: unknown type '${typeName}'`);
  const transport = p.transport;
  if (transport === undefined || transport === null) fail(`envelope: ${where}: missing field 'transport'`);
  if (transport !== 'direct' && transport !== 'link') fail(`envelope: ${where}.transport: unknown transport '${transport}'`);
  let encoding = p.encoding;
  if (encoding === undefined || encoding === null) encoding = transport === 'link' ? 'none' : 'base64';
  if (typeof encoding !== 'string') fail(`envelope: ${where}: field 'encoding' must be a string`);
  const metadata = p.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) fail(`envelope: ${where}: field 'metadata' must be an object`);
  if (p.id !== undefined && p.id !== null && typeof p.id !== 'string') fail(`envelope: ${where}: field 'id' must be a string`);
  const size = readSize(p, where, transport === 'link');
  const out = { id: p.id ?? '', dataname, type: canonical, type_name: typeName, transport, encoding, size, metadata };
  if (transport === 'link') {
    if (typeof p.data !== 'string' || p.data === '') fail(`envelope: ${where}: link 'data' must be a non-empty URL string`);
    out.url = p.data;
  } else {
    out.bytes = directBytes(p, encoding, where);
    if (size !== undefined && size !== out.bytes.length)
      fail(`envelope: ${where} '${dataname}': size ${size} does not match ${out.bytes.length} decoded bytes`);
    out.size = out.bytes.length;
  }
  return out;
}

async function fetchLink(pl, env, options) {
  const bytes = await (options.downloadHandler || fetchWithBackoff)(pl.url, options.maxRetries ?? 5,
    options.baseDelay ?? 100, options.maxDelay ?? 5000, env.correlation_id);
  if (bytes.length !== pl.size) fail(`payload '${pl.dataname}': downloaded ${bytes.length} bytes, size says ${pl.size}`);
  const want = pl.metadata.sha256;
  if (want !== undefined && want !== null) {
    if (typeof want !== 'string') fail(`payload '${pl.dataname}': metadata.sha256 must be a string`);
    if (want.toLowerCase() !== sha256hex(bytes)) fail(`payload '${pl.dataname}': integrity check failed`);
  }
  return bytes;
}

// Parses and checks an envelope (a NATS Msg, a string or bytes) without downloading.
export function parseEnvelope(msg) {
  const text = envelopeText(msg);
  let obj;
  try { obj = JSON.parse(text); } catch { fail('envelope: not valid JSON'); }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail('envelope: the JSON text must be an object');
  const env = {};
  for (const names of ENVELOPE_FIELDS) {
    const v = pick(obj, names);
    if (v === undefined) {
      if (REQUIRED_FIELDS.has(names[0])) fail(`envelope: missing field '${names[0]}'`);
      env[names[0]] = '';
    } else if (typeof v !== 'string') {
      fail(`envelope: field '${names[0]}' must be a string`);
    } else if (REQUIRED_FIELDS.has(names[0]) && v === '') {
      fail(`envelope: field '${names[0]}' must not be empty`);
    } else {
      env[names[0]] = v;
    }
  }
  let meta = obj.metadata;
  if (meta === undefined || meta === null) {
    const note = obj.note;
    meta = note === undefined || note === null ? {}
      : (typeof note === 'object' && !Array.isArray(note) ? note : { note });
  }
  if (typeof meta !== 'object' || Array.isArray(meta)) fail("envelope: field 'metadata' must be an object");
  env.metadata = meta;
  if (obj.payloads === undefined || obj.payloads === null) fail("envelope: missing field 'payloads'");
  if (!Array.isArray(obj.payloads)) fail("envelope: field 'payloads' must be an array");
  env.payloads = obj.payloads.map((p, i) => readPayload(p, i, {}));
  return env;
}

// Decodes a received message into the envelope with its payloads: link payloads downloaded
// (unless options.download === false), each payload's `data` deserialised by type.
export async function smartreceive(msg, options = {}) {
  const env = parseEnvelope(msg);
  for (const [i, pl] of env.payloads.entries()) {
    if (pl.transport === 'link') {
      if (options.download === false) { pl.data = null; continue; }
      pl.bytes = await fetchLink(pl, env, options);
    }
    pl.type = checkContent(pl.type, pl.type_name, pl.bytes, `envelope: payloads[${i}] '${pl.dataname}'`);
    pl.sha256 = sha256hex(pl.bytes);
    pl.data = decodeData(pl.type, pl.bytes, options);
  }
  return env;
}

export { connect };
