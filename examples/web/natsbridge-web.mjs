// SPDX-License-Identifier: MIT
// natsbridge-web.mjs - smartsend / smartreceive for a web page, in the shape of the
// NATSBridge JavaScript peer, over nats.ws (NATS WebSocket) and the browser's fetch:
//
//   const [env, json] = await smartsend(subject, [{dataname, data, type}], {nc, fileserverUrl});
//   const env = await smartreceive(msg);   // env.payloads: [{dataname, type, data, bytes, sha256}]
//
// Wire format: docs/PROTOCOL.md. A payload whose serialized bytes reach sizeThreshold
// (default 1,000,000) is uploaded to the file server (Plik API: POST /upload, then
// POST /file/{id} multipart) and travels as a link URL with metadata.sha256, the lowercase
// hex SHA-256 of its bytes; smaller ones travel inside the envelope as base64. `jsontable`
// (an array of row objects) is the browser's only table type. No build step: the page
// imports this file and nats.ws as ES modules.

export const DEFAULT_SIZE_THRESHOLD = 1000000;

const TYPE_ALIASES = {
  text: 'text', dictionary: 'dictionary', json: 'dictionary', table: 'table', arrowtable: 'table',
  jsontable: 'jsontable', image: 'image', audio: 'audio', video: 'video', binary: 'binary',
};
// What `encoding` says for a direct payload (the data itself is always base64).
const DIRECT_ENCODING = { text: 'base64', dictionary: 'json', jsontable: 'json', table: 'arrow-ipc' };

export class NATSBridgeError extends Error {
  constructor(message) { super(message); this.name = 'NATSBridgeError'; }
}
function fail(message) { throw new NATSBridgeError(message); }

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Bytes: SHA-256, ids, base64
// ---------------------------------------------------------------------------------------------

// crypto.subtle exists only in a secure context: https://, or http://localhost / 127.0.0.1.
export async function sha256hex(bytes) {
  if (!globalThis.crypto?.subtle) fail('SHA-256 needs a secure context: serve the page over https:// or from localhost');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function uuid4() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function base64Encode(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

// Strict (docs/PROTOCOL.md section 7): standard alphabet, padding optional, zero unused bits.
export function base64Decode(s, what = 'data') {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail(`${what}: invalid base64 (a character outside the alphabet)`);
  const body = s.replace(/=+$/, '');
  const rest = body.length % 4;
  if (rest === 1 || (s.length !== body.length && s.length % 4 !== 0)) fail(`${what}: invalid base64 (wrong length or padding)`);
  const padded = body + '='.repeat((4 - rest) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (rest > 0 && base64Encode(out).replace(/=+$/, '') !== body) fail(`${what}: invalid base64 (unused bits are not zero)`);
  return out;
}

function toBytes(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return fail(`${what}: expected bytes (Uint8Array or ArrayBuffer)`);
}

// The bytes a payload travels as, per type.
export function serialize(data, type, dataname = '?') {
  const what = `payload '${dataname}' (${type})`;
  switch (TYPE_ALIASES[type]) {
    case 'text':
      if (typeof data !== 'string') fail(`${what}: text must be a string`);
      return utf8.encode(data);
    case 'dictionary':
      return utf8.encode(JSON.stringify(data));
    case 'jsontable':
      if (!Array.isArray(data)) fail(`${what}: jsontable must be an array of row objects`);
      return utf8.encode(JSON.stringify(data));
    case 'table': case 'image': case 'audio': case 'video': case 'binary':
      return toBytes(data, what); // an Arrow table goes as its IPC bytes
    default:
      return fail(`${what}: unknown type '${type}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Upload: the Plik subset of the natsbridge file server (needs --cors-origin for this page)
// ---------------------------------------------------------------------------------------------

function authHeaders(token) { return token ? { Authorization: `Bearer ${token}` } : {}; }
const trimSlash = (url) => url.replace(/\/+$/, '');

async function expectOk(res, what) {
  if (res.ok) return res;
  const body = await res.text().catch(() => '');
  return fail(`${what}: HTTP ${res.status} ${body.slice(0, 200)}`);
}

// fetch() rejects with a bare TypeError when CORS refuses: say what to check.
async function corsFetch(url, init, what) {
  try {
    return await fetch(url, init);
  } catch (e) {
    return fail(`${what}: ${e.message} (is the file server up, and started with --cors-origin ${location.origin}?)`);
  }
}

export async function plikUpload(fileserverUrl, dataname, bytes, options = {}) {
  const base = trimSlash(fileserverUrl);
  const up = await expectOk(await corsFetch(`${base}/upload`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...authHeaders(options.token) },
    body: JSON.stringify({ oneShot: false }), // fan-out and retries need the URL twice
  }, `upload: POST ${base}/upload`), `upload: POST ${base}/upload`);
  const upload = await up.json();
  if (typeof upload.id !== 'string' || typeof upload.uploadToken !== 'string')
    fail(`upload: POST ${base}/upload answered without id/uploadToken`);
  const form = new FormData();
  form.append('file', new Blob([bytes]), dataname);
  const fileUrl = `${base}/file/${upload.id}`;
  const fr = await expectOk(await corsFetch(fileUrl, {
    method: 'POST',
    headers: { 'X-UploadToken': upload.uploadToken, ...authHeaders(options.token) },
    body: form,
  }, `upload: POST ${fileUrl}`), `upload: POST ${fileUrl}`);
  const file = await fr.json();
  if (typeof file.id !== 'string') fail(`upload: POST ${fileUrl} answered without a file id`);
  return {
    status: fr.status, uploadid: upload.id, fileid: file.id,
    url: `${base}/file/${upload.id}/${file.id}/${encodeURIComponent(file.fileName || dataname)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// smartsend
// ---------------------------------------------------------------------------------------------

// Publishes payloads ([{dataname, data, type}]) on subject over options.nc (a nats.ws
// connection); returns [envelope, jsonText]. options: fileserverUrl, token, sizeThreshold,
// replyTo, correlationId, senderName, senderId, receiverName, msgPurpose, metadata.
export async function smartsend(subject, payloads, options = {}) {
  if (typeof subject !== 'string' || subject === '') fail('smartsend: subject must be a non-empty string');
  if (!Array.isArray(payloads)) fail('smartsend: payloads must be an array of {dataname, data, type}');
  if (!options.nc) fail('smartsend: options.nc must be a nats.ws connection');
  const threshold = options.sizeThreshold ?? DEFAULT_SIZE_THRESHOLD;
  const fileserverUrl = options.fileserverUrl || 'http://127.0.0.1:8080';
  const wire = [];
  for (const p of payloads) {
    if (!p || typeof p.dataname !== 'string' || p.dataname === '')
      fail('smartsend: every payload needs a non-empty dataname');
    const bytes = serialize(p.data, p.type, p.dataname);
    const link = bytes.length >= threshold;
    const metadata = { ...(p.metadata || {}) };
    if (link || options.checksum) metadata.sha256 = await sha256hex(bytes);
    const data = link ? (await plikUpload(fileserverUrl, p.dataname, bytes, options)).url
      : base64Encode(bytes);
    wire.push({
      id: p.id || uuid4(), dataname: p.dataname, type: p.type,
      transport: link ? 'link' : 'direct',
      encoding: link ? 'none' : (DIRECT_ENCODING[TYPE_ALIASES[p.type]] || 'base64'),
      size: bytes.length, data, metadata,
    });
  }
  const env = {
    correlation_id: options.correlationId || uuid4(),
    msg_id: options.msgId || uuid4(),
    timestamp: new Date().toISOString(),
    send_to: subject,
    msg_purpose: options.msgPurpose || 'chat',
    sender_name: options.senderName || 'NATSBridge-web',
    sender_id: options.senderId || uuid4(),
    receiver_name: options.receiverName || '',
    receiver_id: options.receiverId || '',
    reply_to: options.replyTo || '',
    reply_to_msg_id: options.replyToMsgId || '',
    broker_url: options.brokerUrl || '',
    metadata: options.metadata || {},
    payloads: wire,
  };
  const json = JSON.stringify(env);
  options.nc.publish(subject, utf8.encode(json), env.reply_to ? { reply: env.reply_to } : undefined);
  await options.nc.flush();
  return [env, json];
}

// Sends payloads as a request and resolves with the reply envelope (smartreceive'd): the
// reply comes on a fresh inbox named in reply_to, matched by reply_to_msg_id.
export async function smartrequest(subject, payloads, options = {}) {
  const inbox = `_INBOX.${uuid4().replaceAll('-', '')}`;
  const sub = options.nc.subscribe(inbox, { max: 1 });
  const timeoutMs = options.timeoutMs ?? 30000;
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  try {
    const [env] = await smartsend(subject, payloads, { ...options, replyTo: inbox });
    for await (const msg of sub) {
      const reply = await smartreceive(msg, options);
      if (reply.reply_to_msg_id && reply.reply_to_msg_id !== env.msg_id)
        fail(`request: reply to ${reply.reply_to_msg_id}, expected ${env.msg_id}`);
      return { request: env, reply };
    }
    return fail(`request on ${subject}: no reply within ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// smartreceive
// ---------------------------------------------------------------------------------------------

const RETRIED = (status) => status === 408 || status === 429 || status >= 500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// GET with exponential back-off and full jitter; 4xx other than 408/429 fail at once.
export async function fetchWithBackoff(url, maxRetries = 5, baseDelay = 100, maxDelay = 5000) {
  let last = '';
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      last = `${e.message} (a CORS refusal looks like this: is --cors-origin set on the file server?)`;
      continue;
    }
    if (res.ok) return new Uint8Array(await res.arrayBuffer());
    last = `HTTP ${res.status}`;
    if (!RETRIED(res.status)) break;
  }
  return fail(`download ${url} failed: ${last}`);
}

function envelopeText(msg) {
  let bytes = typeof msg === 'string' ? utf8.encode(msg) : toBytes(msg.data ?? msg, 'smartreceive: message');
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--; // a C sender's terminator
  bytes = bytes.subarray(0, end);
  if (bytes.length === 0) fail('envelope: empty message');
  try {
    return strictUtf8.decode(bytes).replace(/^\ufeff/, '');
  } catch {
    return fail('envelope: not valid UTF-8');
  }
}

function directBytes(p, where) {
  if (p.data === undefined || p.data === null) fail(`envelope: ${where}: missing field 'data'`);
  if (typeof p.data === 'object') return utf8.encode(JSON.stringify(p.data));
  if (typeof p.data !== 'string') fail(`envelope: ${where}: field 'data' must be a string`);
  if (p.encoding === 'json' && /^[ \t\n\r]*[[{"]/.test(p.data)) return utf8.encode(p.data);
  return base64Decode(p.data, `envelope: ${where}.data`);
}

function decodeData(type, bytes, what) {
  try {
    if (type === 'text') return strictUtf8.decode(bytes);
    if (type === 'dictionary') return JSON.parse(strictUtf8.decode(bytes));
    if (type === 'jsontable') {
      const rows = JSON.parse(strictUtf8.decode(bytes));
      if (!Array.isArray(rows)) fail(`${what}: jsontable is not a JSON array`);
      return rows;
    }
  } catch (e) {
    if (e instanceof NATSBridgeError) throw e;
    fail(`${what}: ${type} is not valid ${type === 'text' ? 'UTF-8' : 'JSON'}`);
  }
  return bytes; // image, audio, video, binary, and Arrow tables (not decoded in the page)
}

// Decodes a message (a nats.ws Msg, a string or bytes) into its envelope, downloading link
// payloads and checking their size and metadata.sha256.
export async function smartreceive(msg, options = {}) {
  let env;
  try { env = JSON.parse(envelopeText(msg)); } catch (e) {
    if (e instanceof NATSBridgeError) throw e;
    fail('envelope: not valid JSON');
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env)) fail('envelope: the JSON text must be an object');
  for (const f of ['correlation_id', 'msg_id'])
    if (typeof env[f] !== 'string' || env[f] === '') fail(`envelope: missing field '${f}'`);
  if (!Array.isArray(env.payloads)) fail("envelope: field 'payloads' must be an array");
  for (const [i, p] of env.payloads.entries()) {
    const where = `payloads[${i}]`;
    if (typeof p !== 'object' || p === null || typeof p.dataname !== 'string' || p.dataname === '')
      fail(`envelope: ${where}: needs a non-empty 'dataname'`);
    const type = TYPE_ALIASES[p.type ?? p.payload_type];
    if (!type) fail(`envelope: ${where}.type: unknown type '${p.type}'`);
    const what = `payload '${p.dataname}'`;
    p.metadata = p.metadata ?? {};
    if (p.transport === 'link') {
      if (typeof p.data !== 'string' || p.data === '') fail(`envelope: ${where}: link 'data' must be a URL`);
      p.url = p.data;
      p.bytes = await (options.downloadHandler || fetchWithBackoff)(p.url);
      if (p.bytes.length !== p.size) fail(`${what}: downloaded ${p.bytes.length} bytes, size says ${p.size}`);
    } else if (p.transport === 'direct') {
      p.bytes = directBytes(p, where);
      if (p.size !== undefined && p.size !== p.bytes.length) fail(`${what}: size ${p.size} does not match ${p.bytes.length} bytes`);
    } else {
      fail(`envelope: ${where}.transport: unknown transport '${p.transport}'`);
    }
    p.sha256 = await sha256hex(p.bytes);
    const want = p.metadata.sha256;
    if (typeof want === 'string' && want.toLowerCase() !== p.sha256) fail(`${what}: integrity check failed (SHA-256 differs)`);
    // A JSON array sent as "table" is rows, not Arrow IPC.
    p.type = type === 'table' && p.bytes[0] === 0x5b ? 'jsontable' : type;
    p.data = decodeData(p.type, p.bytes, what);
  }
  return env;
}
