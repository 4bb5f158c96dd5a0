// SPDX-License-Identifier: MIT
// natsbridge.js - the Node.js binding of libnatsbridge (CommonJS entry; natsbridge.mjs is ESM).
//
// The seed's API: `await smartsend(subject, [{dataname, data, type}], options)` and
// `await smartreceive(msg, options)`; beyond it a Client keeping one connection (subscribe as
// an async iterator or with a callback, request/reply, JetStream, Object Store). Every blocking
// call runs in the addon's worker threads (docs/BINDINGS.md, "Threading model").
'use strict';

const { randomUUID } = require('node:crypto');
const native = require('./addon.js').load();

const RECEIVED = Symbol('natsbridge.received');
const TYPE_NAMES = native.typeNames; // nb_type's names by number, as received payloads give it
const DICTIONARY = TYPE_NAMES.indexOf('dictionary');
const TYPES = new Set(['text', 'dictionary', 'table', 'arrowtable', 'jsontable', 'image', 'audio',
  'video', 'binary']);
const FIELDS = ['correlationId', 'msgId', 'msgPurpose', 'senderName', 'senderId', 'receiverName',
  'receiverId', 'replyTo', 'replyToMsgId'];
const DEFAULT_FILESERVER = 'http://localhost:8080';

function invalid(message) {
  const e = new TypeError(message);
  e.code = 'NB_INVALID_ARG';
  return e;
}

function isBytes(v) {
  return v instanceof Uint8Array || v instanceof ArrayBuffer;
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

// An apache-arrow Table as Arrow IPC stream bytes, with the caller's own apache-arrow.
function arrowBytes(table, where) {
  let arrow;
  try {
    arrow = require(require.resolve('apache-arrow', { paths: [process.cwd(), __dirname] }));
  } catch (e) {
    throw invalid(`${where}: an apache-arrow Table needs the apache-arrow package; ` +
      'or pass the Arrow IPC bytes (a Buffer or Uint8Array)');
  }
  return toBuffer(arrow.tableToIPC(table, 'stream'));
}

// One {dataname, data, type} as the addon takes it: [dataname, type, data, link], data bytes or
// a UTF-8 string.
function normaliseItem(item, i, linkNames) {
  const where = `payloads[${i}]`;
  if (item === null || typeof item !== 'object') throw invalid(`${where} must be {dataname, data, type}`);
  const { dataname, data, type } = item;
  if (typeof dataname !== 'string' || dataname === '') throw invalid(`${where}.dataname must be a non-empty string`);
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw invalid(`${where} '${dataname}': unknown type '${type}' (one of ${[...TYPES].join(', ')})`);
  }
  if (data === undefined) throw invalid(`${where} '${dataname}': data is missing`);
  let value;
  switch (type) {
    case 'text':
      if (typeof data !== 'string') throw invalid(`${where} '${dataname}': text data must be a string`);
      value = data;
      break;
    case 'dictionary':
    case 'jsontable':
      value = JSON.stringify(data);
      if (value === undefined) throw invalid(`${where} '${dataname}': ${type} data must be JSON-serialisable`);
      break;
    case 'table':
    case 'arrowtable':
      value = isBytes(data) ? toBuffer(data) : (data && typeof data === 'object' && data.schema
        ? arrowBytes(data, `${where} '${dataname}'`) : null);
      if (!value) throw invalid(`${where} '${dataname}': table data must be Arrow IPC bytes or an apache-arrow Table`);
      break;
    default:
      if (!isBytes(data)) throw invalid(`${where} '${dataname}': ${type} data must be a Buffer, Uint8Array or ArrayBuffer`);
      value = toBuffer(data);
  }
  return [dataname, type, value, item.link === true || (linkNames !== null && linkNames.has(dataname))];
}

function normaliseItems(data) {
  if (!Array.isArray(data)) throw invalid('payloads must be an array of {dataname, data, type}');
  if (data.length === 0) throw invalid('payloads must hold at least one {dataname, data, type}');
  return data;
}

// (items, fields) for the addon from the seed's arguments.
function message(data, options) {
  const o = options || {};
  const linkNames = Array.isArray(o.link) && o.link.length ? new Set(o.link) : null;
  const items = normaliseItems(data).map((it, i) => normaliseItem(it, i, linkNames));
  let fields = null; // none set: the addon then reads no field at all
  for (const f of FIELDS) {
    if (o[f] !== undefined && o[f] !== null && o[f] !== '') (fields || (fields = {}))[f] = String(o[f]);
  }
  if (o.metadata !== undefined) (fields || (fields = {})).metadataJson = JSON.stringify(o.metadata);
  return [items, fields];
}

// The envelope as sent, as a plain object (smartsend, jsPublish: one round trip each, so the
// parse costs nothing next to it): the wire object, which also destructures as the seed's [env, json].
function sentEnvelope(json) {
  const env = JSON.parse(json);
  Object.defineProperty(env, Symbol.iterator, {
    enumerable: false,
    value: function* pair() { yield env; yield json; },
  });
  return env;
}

// One received payload from the addon: [dataname, type, data, size] for a plain one (direct,
// base64, in memory, no metadata, its wire type the canonical name), else [dataname, type,
// typeName, transport, url, path, data, encoding, size, metadata JSON or null]; data a string
// for text, a dictionary's JSON text, a Buffer for anything else, null when streamed to path;
// type nb_type's number.
function plainPayload(dataname, type, data, size) {
  return {
    dataname, data: type !== DICTIONARY ? data : JSON.parse(data), type: TYPE_NAMES[type],
    transport: 'direct', size, encoding: 'base64', metadata: {}, url: null, path: null,
  };
}

function receivedPayload(p) {
  if (p.length === 4) return plainPayload(p[0], p[1], p[2], p[3]);
  return {
    dataname: p[0],
    data: p[6] === null || p[1] !== DICTIONARY ? p[6] : JSON.parse(p[6]),
    type: p[2], transport: p[3], size: p[8], encoding: p[7],
    metadata: p[9] === null ? {} : JSON.parse(p[9]), url: p[4], path: p[5],
  };
}

// The envelope fields beside payloads (the wire's own order), read through accessors.
const HEADER_FIELDS = ['correlation_id', 'msg_id', 'timestamp', 'send_to', 'msg_purpose',
  'sender_name', 'sender_id', 'receiver_name', 'receiver_id', 'reply_to', 'reply_to_msg_id',
  'broker_url', 'metadata'];

function defineField(obj, name, value) {
  Object.defineProperty(obj, name, { value, writable: true, enumerable: true, configurable: true });
}

const MATERIALISE = Symbol('natsbridge.materialise');

// What the two lazy envelopes below share: fields read through accessors that first make every
// field an own property ([MATERIALISE], parsing the wire JSON), and serialising and printing as
// the plain object the seed returns.
class LazyEnvelope {
  toJSON() {
    this[MATERIALISE]();
    return this; // every field is an own property now: serialised as a plain object
  }

  // console.log and util.inspect show every field (before the first read there is no own
  // property to show).
  [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) {
    this[MATERIALISE]();
    return inspect({ ...this }, options);
  }

  static lazyFields(names) {
    for (const name of names) {
      Object.defineProperty(this.prototype, name, {
        get() { this[MATERIALISE](); return Object.hasOwn(this, name) ? this[name] : undefined; },
        set(v) { this[MATERIALISE](); defineField(this, name, v); },
        configurable: true,
      });
    }
  }
}

// A received envelope: every wire field, payloads as [{dataname, data, type, ...}]. Lazy,
// because most handlers read the payloads and few fields: the payloads are made from the
// addon's arrays when first read, and the wire JSON is parsed only when another field is
// first read (or set, or the envelope is serialised); its fields, payloads included, then
// become own properties (Object.keys and spreading see them from then on).
class ReceivedEnvelope extends LazyEnvelope {
  #json;
  #raw;
  #payloads = null;

  constructor(raw) { // [json, payload, ...] or [json, dataname, type, data, size] from the addon
    super();
    this.#json = raw[0];
    this.#raw = raw;
  }

  [MATERIALISE]() {
    if (this.#json === null) return;
    const wire = JSON.parse(this.#json);
    this.#json = null;
    for (const k of Object.keys(wire)) {
      if (k !== 'payloads' && !Object.hasOwn(this, k)) defineField(this, k, wire[k]);
    }
    defineField(this, 'payloads', this.payloads); // last, as on the wire
  }

  get payloads() {
    if (this.#raw !== null) { // built once, from the addon's arrays
      const raw = this.#raw;
      if (typeof raw[1] === 'string') { // [json, dataname, type, data, size]: one plain payload
        this.#payloads = [plainPayload(raw[1], raw[2], raw[3], raw[4])];
      } else { // [json, payload, ...]
        const list = new Array(raw.length - 1);
        for (let i = 1; i < raw.length; i++) list[i - 1] = receivedPayload(raw[i]);
        this.#payloads = list;
      }
      this.#raw = null;
    }
    return this.#payloads;
  }

  set payloads(v) { this.#raw = null; this.#payloads = v; }

  static {
    this.lazyFields(HEADER_FIELDS);
    Object.defineProperty(this.prototype, RECEIVED, { value: true });
  }
}

// The envelope Client.send resolves to: its wire JSON, parsed only when a field is first read
// (or set, or the envelope is serialised or printed); every field then becomes an own property,
// in the wire's order (Object.keys and spreading see them from then on, as for a received one).
// Most callers of send never read it, and parsing it was the largest cost of a send left on
// the main thread. `[env, json]` destructures as the seed's smartsend result.
class SentEnvelope extends LazyEnvelope {
  #json;
  #parsed = false;

  constructor(json) {
    super();
    this.#json = json;
  }

  [MATERIALISE]() {
    if (this.#parsed) return;
    this.#parsed = true;
    const wire = JSON.parse(this.#json);
    for (const k of Object.keys(wire)) {
      if (!Object.hasOwn(this, k)) defineField(this, k, wire[k]);
    }
  }

  * [Symbol.iterator]() { yield this; yield this.#json; }

  // The wire text as sent (smartreceive of a sent envelope reads it without serialising).
  static text(env) { return env.#json; }

  static { this.lazyFields([...HEADER_FIELDS, 'payloads']); }
}

function receivedEnvelope(raw) {
  return new ReceivedEnvelope(raw);
}

// The bytes of anything smartreceive accepts: a nats.js Msg, bytes, JSON text, a wire object.
function messageBytes(msg) {
  if (typeof msg === 'string' || isBytes(msg)) return isBytes(msg) ? toBuffer(msg) : msg;
  if (msg instanceof SentEnvelope) return SentEnvelope.text(msg);
  if (msg && typeof msg === 'object') {
    if (isBytes(msg.data)) return toBuffer(msg.data);
    if (Array.isArray(msg.payloads)) return JSON.stringify(msg);
  }
  throw invalid('smartreceive: msg must be a NATS message, bytes, JSON text or an envelope object');
}

function sendOptions(options) {
  const o = { ...(options || {}) };
  if (o.natsUrl === undefined && o.brokerUrl !== undefined) o.natsUrl = o.brokerUrl;
  return o;
}

/**
 * smartsend(subject, [{dataname, data, type}], options) -> the envelope as sent (also `[env,
 * json]` by destructuring). Connects to options.natsUrl, sends and disconnects, as the seed;
 * options.client (a Client) sends over that connection instead.
 */
async function smartsend(subject, data, options = {}) {
  if (typeof subject !== 'string' || subject === '') throw invalid('smartsend: subject must be a non-empty string');
  const [items, fields] = message(data, options);
  if (options && options.client instanceof Client) {
    return options.client.send(subject, data, options);
  }
  return sentEnvelope(await native.smartsend(subject, items, fields, sendOptions(options)));
}

/**
 * smartreceive(msg, {maxRetries, baseDelay, maxDelay, ...}) -> the envelope with payloads
 * [{dataname, data, type}]. Links are downloaded only from options.fileserverUrl's origin
 * (default $NATSBRIDGE_FILESERVER_URL or http://localhost:8080) and options.allowOrigins.
 */
async function smartreceive(msg, options = {}) {
  if (msg && msg[RECEIVED]) return msg;
  const bytes = messageBytes(msg);
  const o = { ...(options || {}) };
  if (o.client instanceof Client) return o.client.receive(bytes);
  if (o.fileserverUrl === undefined) o.fileserverUrl = process.env.NATSBRIDGE_FILESERVER_URL || DEFAULT_FILESERVER;
  return receivedEnvelope(await native.receive(bytes, o));
}

// Reports what a user's callback threw: to onError when given, else on stderr.
function report(onError, err, where) {
  if (typeof onError === 'function') {
    try { onError(err); return; } catch (e) { err = e; }
  }
  console.error(`natsbridge: ${where}: ${err && err.stack ? err.stack : err}`);
}

/** Envelopes arriving on a subject: an async iterator, or a callback when one was given. */
class Subscription {
  constructor(client, subject, opts) {
    this.subject = subject;
    this._client = client;
    this._callback = opts.callback;
    this._onError = opts.onError;
    this._queue = [];
    this._waiters = [];
    this._closed = false;
    this._h = native.subscribe(client._handle(), subject, opts.queue || null,
      (list) => { for (const x of list) this._deliver(x instanceof Error ? x : null, x); });
  }

  _deliver(err, raw) {
    if (this._closed) return;
    if (err) { report(this._onError, err, `subscription on ${this.subject}`); return; }
    let env;
    try { env = receivedEnvelope(raw); } catch (e) { report(this._onError, e, `subscription on ${this.subject}`); return; }
    if (this._callback) {
      try {
        const r = this._callback(env, this);
        if (r && typeof r.then === 'function') r.then(null, (e) => report(this._onError, e, `callback on ${this.subject}`));
      } catch (e) {
        report(this._onError, e, `callback on ${this.subject}`);
      }
      return;
    }
    const w = this._waiters.shift();
    if (w) w({ value: env, done: false });
    else this._queue.push(env);
  }

  next() {
    if (this._queue.length) return Promise.resolve({ value: this._queue.shift(), done: false });
    if (this._closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  async return() {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() { return this; }

  // Ends iteration (queued envelopes are still handed out) without touching the addon.
  _end() {
    this._closed = true;
    for (const w of this._waiters.splice(0)) w({ value: undefined, done: true });
    this._client._subs.delete(this);
  }

  /** Stops deliveries; safe to call twice and from inside the callback. */
  async close() {
    if (this._closed) return;
    this._end();
    await native.unsubscribe(this._h);
  }
}

/** A durable JetStream consumer: handler(env, delivery) returns 'ack' (or nothing), 'nak', 'term'. */
class Consumer {
  constructor(client, handler, onError) {
    this._client = client;
    this._handler = handler;
    this._onError = onError;
    this._closed = false;
    this._h = null;
  }

  _deliver(err, raw, delivery, done) {
    if (this._closed) { if (done) done('nakNow'); return; } // queued before close(): comes again
    if (err) { report(this._onError, err, 'JetStream consumer'); return; }
    Promise.resolve()
      .then(() => this._handler(receivedEnvelope(raw), delivery, this))
      .then((verdict) => done(verdict === undefined || verdict === true ? 'ack' : String(verdict)),
        (e) => { report(this._onError, e, 'JetStream handler'); done('nak'); });
  }

  _end() { this._closed = true; this._client._subs.delete(this); }

  /** Stops pulling (a delivery still waiting for the handler is naked, to come again). */
  async close() {
    if (this._closed) return;
    this._end();
    if (this._h) await native.unsubscribe(this._h);
  }
}

/** One NATS connection for many sends, subscriptions, requests and JetStream calls. */
class Client {
  // The options stay in the addon (nb_options): the Client keeps no copy, so that
  // util.inspect(client) or a console.log never shows a password, token or seed.
  constructor(handle) {
    this._h = handle;
    this._subs = new Set();
    this._closed = false;
    this._sendQ = [];
    this._sendWaiters = [];
    this._sending = false;
  }

  /** Connects ({natsUrl, fileserverUrl, sizeThreshold, auth and TLS options, ...}). */
  static async connect(options = {}) {
    return new Client(await native.connect(sendOptions(options)));
  }

  _handle() {
    if (this._closed) throw Object.assign(new Error('the client is closed (close() was called)'), { code: 'NB_INVALID_ARG' });
    return this._h;
  }

  /**
   * smartsend over this connection; resolves to the envelope as sent. An envelope that
   * uploads nothing is published at once from this thread (nats.c only appends it to its
   * buffer); one with a link payload, and any send behind it, goes to the addon's thread,
   * those of one turn of the event loop as one batch, in order.
   */
  send(subject, data, options = {}) {
    try {
      if (typeof subject !== 'string' || subject === '') throw invalid('send: subject must be a non-empty string');
      const [items, fields] = message(data, options);
      const h = this._handle();
      if (!this._sending) { // nothing queued ahead of it: order is kept
        const it = items.length === 1 ? items[0] : null; // one payload: as arguments
        const json = (it !== null ? native.sendOne(h, subject, it[0], it[1], it[2], it[3], fields) : undefined) ??
          native.sendNow(h, subject, items, fields);
        if (json !== undefined) return Promise.resolve(new SentEnvelope(json)); // no executor, no closure
      }
      return new Promise((resolve, reject) => {
        this._sendQ.push([subject, items, fields]);
        this._sendWaiters.push({ resolve, reject });
        if (!this._sending) this._drain();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _drain() {
    if (this._sendQ.length === 0) { this._sending = false; return; }
    this._sending = true;
    const batch = this._sendQ.splice(0, 4096);
    const waiters = this._sendWaiters.splice(0, batch.length);
    let p;
    try {
      p = native.sendMany(this._h, batch);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((results) => {
      results.forEach((r, i) => {
        if (r instanceof Error) waiters[i].reject(r);
        else waiters[i].resolve(new SentEnvelope(r));
      });
    }, (e) => { for (const w of waiters) w.reject(e); })
      .finally(() => this._drain());
  }

  /** smartreceive with this client's options (links from its file server or Object Store). */
  async receive(msg) {
    if (msg && msg[RECEIVED]) return msg;
    return receivedEnvelope(await native.clientReceive(this._handle(), messageBytes(msg)));
  }

  /** subscribe(subject, {queue, callback, onError}): an async iterator of envelopes. */
  subscribe(subject, opts = {}) {
    if (typeof opts === 'function') opts = { callback: opts };
    const sub = new Subscription(this, subject, opts);
    this._subs.add(sub);
    return sub;
  }

  // The reply inbox shared by every request of this client (as nats.js muxes its requests):
  // waiting for a reply holds no thread, so a process may answer its own requests.
  _mux() {
    if (!this._inbox) {
      const prefix = `_INBOX.${randomUUID().replace(/-/g, '')}`;
      const pending = new Map();
      const h = native.subscribe(this._handle(), `${prefix}.*`, null, (list) => {
        for (const raw of list) {
          if (raw instanceof Error) { report(null, raw, 'request reply inbox'); continue; }
          const env = receivedEnvelope(raw);
          const p = pending.get(env.reply_to_msg_id);
          if (p) p.settle(null, env);
        }
      });
      native.keepAlive(h, false);
      this._inbox = { prefix, pending, h, n: 0 };
    }
    return this._inbox;
  }

  /** Sends and waits up to options.timeout ms (default 5000) for the reply envelope. */
  async request(subject, data, options = {}) {
    const timeout = options.timeout === undefined ? 5000 : options.timeout;
    if (!(timeout > 0)) throw invalid('request: timeout must be a positive number of milliseconds');
    if (options.replyTo) { // the caller's own reply subject: the C call waits on it
      const [items, fields] = message(data, options);
      return receivedEnvelope(await native.request(this._handle(), subject, items, fields, timeout));
    }
    const mux = this._mux();
    const msgId = options.msgId || randomUUID();
    const replyTo = `${mux.prefix}.${++mux.n}`;
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => entry.settle(Object.assign(
        new Error(`request: no reply to msg_id ${msgId} on ${subject} within ${timeout} ms`),
        { code: 'NB_TIMEOUT' })), timeout);
      const entry = {
        settle: (err, env) => {
          clearTimeout(timer);
          mux.pending.delete(msgId);
          if (mux.pending.size === 0 && !this._closed) native.keepAlive(mux.h, false);
          if (err) reject(err); else resolve(env);
        },
      };
      mux.pending.set(msgId, entry);
      if (mux.pending.size === 1) native.keepAlive(mux.h, true);
    });
    try {
      await this.send(subject, data, { ...options, msgId, replyTo });
    } catch (e) {
      const p = mux.pending.get(msgId);
      if (p) p.settle(e);
    }
    return reply;
  }

  /** Answers a received request: on its reply_to, with reply_to_msg_id and correlation_id. */
  async reply(request, data, options = {}) {
    if (!request || typeof request.reply_to !== 'string' || request.reply_to === '') {
      throw invalid('reply: the request has no reply_to to answer on');
    }
    const env = await this.send(request.reply_to, data, {
      ...options, replyToMsgId: request.msg_id, correlationId: request.correlation_id,
      receiverName: request.sender_name, receiverId: request.sender_id,
    });
    return env; // nats.c's flusher sends it within milliseconds; flush() waits for the server

  }

  /** Waits until the server has processed everything sent so far. */
  async flush(timeout = 10000) { await native.flush(this._handle(), timeout); }

  /** Creates the stream {name, subjects, storage, maxAge, duplicateWindow} or checks it; true when created. */
  async streamEnsure(config) { return native.streamEnsure(this._handle(), config); }

  async streamDelete(name) { await native.streamDelete(this._handle(), name); }

  /** Stores an envelope in JetStream (msg_id as Nats-Msg-Id); resolves to {envelope, stream, seq, duplicate}. */
  async jsPublish(subject, data, options = {}) {
    const [items, fields] = message(data, options);
    const r = await native.jsPublish(this._handle(), subject, items, fields, options);
    return { envelope: sentEnvelope(r.json), stream: r.stream, seq: r.seq, duplicate: r.duplicate };
  }

  /** A durable pull consumer {stream, subject, durable, batch, ackWait, maxDeliver, start}. */
  async consume(config, handler, opts = {}) {
    if (typeof handler !== 'function') throw invalid('consume: the handler must be a function');
    const cons = new Consumer(this, handler, opts.onError);
    cons._h = await native.consume(this._handle(), config,
      (err, raw, delivery, done) => cons._deliver(err, raw, delivery, done));
    this._subs.add(cons);
    return cons;
  }

  /** Object Store: puts bytes as bucket/name (the bucket is created when missing). */
  async objectPut(bucket, name, data) { await native.objPut(this._handle(), bucket, name, data); }

  async objectGet(bucket, name) { return native.objGet(this._handle(), bucket, name); }

  async objectDelete(bucket, name) { await native.objDelete(this._handle(), bucket, name); }

  async objectDeleteBucket(bucket) { await native.objDeleteBucket(this._handle(), bucket); }

  /** Waits for running calls, stops subscriptions and consumers, disconnects. Twice is fine. */
  async close() {
    if (!this._closed) {
      this._closed = true;
      for (const s of [...this._subs]) s._end();
      if (this._inbox) {
        const err = Object.assign(new Error('request: the client was closed before the reply came'),
          { code: 'NB_CONNECTION' });
        for (const p of [...this._inbox.pending.values()]) p.settle(err);
      }
    }
    await native.close(this._h);
  }
}

module.exports = { smartsend, smartreceive, Client, Subscription, Consumer, version: native.version() };
