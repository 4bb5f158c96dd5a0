// SPDX-License-Identifier: MIT
// api.test.mjs - the Node.js binding on its own: every type direct and by link, tables with
// apache-arrow, smartsend/smartreceive, request/reply, callbacks that throw or close, many
// concurrent promises on one client, bad input, close twice, garbage-collected clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import util from 'node:util';
import { nb, arrow, natsUrl, fileserverUrl, subject, nextOf, sleep } from './helpers.mjs';

const { smartsend, smartreceive, Client } = nb;

function demoTable() {
  return arrow.tableFromArrays({ id: Int32Array.from([1, 2, 3]), name: ['a', 'b', 'ünï'] });
}

// One payload of every type, with the value the receiver must hand back.
function everyType() {
  const ipc = Buffer.from(arrow.tableToIPC(demoTable(), 'stream'));
  const bytes = (n, k) => Buffer.from(Array.from({ length: n }, (_, i) => (i * k) % 256));
  return [
    { dataname: 'text', type: 'text', data: 'héllo ✓ world' },
    { dataname: 'dict', type: 'dictionary', data: { a: 1, b: [true, null, 'x'], c: { d: 2.5 } } },
    { dataname: 'table', type: 'table', data: ipc },
    { dataname: 'arrowtable', type: 'arrowtable', data: demoTable() }, // an apache-arrow Table
    { dataname: 'jsontable', type: 'jsontable', data: [{ x: 1, y: 'a' }, { x: 2, y: 'b' }] },
    { dataname: 'image', type: 'image', data: bytes(3000, 7) },
    { dataname: 'audio', type: 'audio', data: new Uint8Array(bytes(1000, 3)) },
    { dataname: 'video', type: 'video', data: bytes(5000, 11).buffer.slice(0) },
    { dataname: 'binary', type: 'binary', data: bytes(256, 1) },
  ];
}

function checkEveryType(env, transport) {
  assert.equal(env.payloads.length, 9);
  const by = Object.fromEntries(env.payloads.map((p) => [p.dataname, p]));
  for (const p of env.payloads) assert.equal(p.transport, transport, `${p.dataname} transport`);
  assert.equal(by.text.data, 'héllo ✓ world');
  assert.equal(by.text.type, 'text');
  assert.deepEqual(by.dict.data, { a: 1, b: [true, null, 'x'], c: { d: 2.5 } });
  for (const name of ['table', 'arrowtable']) {
    assert.ok(Buffer.isBuffer(by[name].data), `${name} is the Arrow IPC bytes`);
    const t = arrow.tableFromIPC(by[name].data);
    assert.equal(t.numRows, 3);
    assert.deepEqual(t.schema.fields.map((f) => f.name), ['id', 'name']);
    assert.deepEqual(t.getChild('name').toArray(), ['a', 'b', 'ünï']);
    assert.deepEqual([...t.getChild('id').toArray()], [1, 2, 3]);
  }
  assert.equal(by.arrowtable.type, 'table'); // the library writes the alias as 'table'
  assert.deepEqual(JSON.parse(by.jsontable.data.toString()), [{ x: 1, y: 'a' }, { x: 2, y: 'b' }]);
  const sent = everyType();
  for (const name of ['image', 'audio', 'video', 'binary']) {
    assert.ok(Buffer.isBuffer(by[name].data));
    const want = Buffer.from(sent.find((s) => s.dataname === name).data instanceof ArrayBuffer
      ? new Uint8Array(sent.find((s) => s.dataname === name).data)
      : sent.find((s) => s.dataname === name).data);
    assert.ok(by[name].data.equals(want), `${name} bytes`);
  }
}

test('every type, direct and by link, through a subscription and smartreceive', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    for (const transport of ['direct', 'link']) {
      const s = subject('types');
      const sub = c.subscribe(s);
      await c.flush();
      const items = everyType();
      const opts = { natsUrl, fileserverUrl, correlationId: `corr-${transport}`,
        link: transport === 'link' ? items.map((i) => i.dataname) : [] };
      const env = await smartsend(s, items, opts);
      assert.equal(env.correlation_id, `corr-${transport}`);
      assert.equal(env.send_to, s);
      const [env2, json] = env; // the seed's `const [env, json] = await smartsend(...)`
      assert.equal(env2, env);
      assert.equal(typeof json, 'string');
      assert.deepEqual(JSON.parse(json), env);
      const got = await nextOf(sub);
      assert.equal(got.msg_id, env.msg_id);
      checkEveryType(got, transport);
      const fresh = await smartreceive(json);
      // A received envelope is lazy; printed before any read it still shows every field.
      const shown = util.inspect(fresh, { depth: 0 });
      for (const field of ['msg_id', 'correlation_id', 'sender_name', 'payloads']) {
        assert.ok(shown.includes(field), `util.inspect of a fresh envelope lacks ${field}: ${shown}`);
      }
      assert.equal(fresh.msg_id, env.msg_id);
      checkEveryType(fresh, transport);
      checkEveryType(await smartreceive(env), transport); // the wire object works too
      await sub.close();
    }
  } finally {
    await c.close();
  }
});

test('the 14 envelope fields and metadata go through', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl, senderName: 'node-sender' });
  try {
    const s = subject('fields');
    const sub = c.subscribe(s);
    await c.flush();
    const sent = await c.send(s, [{ dataname: 'm', type: 'text', data: 'x' }], {
      correlationId: 'c-1', msgPurpose: 'updateStatus', receiverName: 'receiver-ünï', receiverId: 'rid-42',
      replyTo: '/r/1', replyToMsgId: 'prev-7', metadata: { room: 'r1', n: 3 } });
    const got = await nextOf(sub);
    for (const k of ['correlation_id', 'msg_id', 'timestamp', 'send_to', 'msg_purpose', 'sender_name',
      'sender_id', 'receiver_name', 'receiver_id', 'reply_to', 'reply_to_msg_id', 'broker_url']) {
      assert.equal(got[k], sent[k], k);
    }
    assert.equal(got.sender_name, 'node-sender');
    assert.equal(got.receiver_name, 'receiver-ünï');
    assert.deepEqual(got.metadata, { room: 'r1', n: 3 });
    assert.equal(Object.keys(sent).length, 14);
  } finally {
    await c.close();
  }
});

test('Client.send resolves to a lazy envelope; plain received payloads match the wire', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    const s = subject('lazy');
    const sub = c.subscribe(s);
    await c.flush();
    const items = [{ dataname: 't', type: 'text', data: 'héllo' },
      { dataname: 'd', type: 'dictionary', data: { k: [1, 'two'] } },
      { dataname: 'b', type: 'binary', data: Buffer.from([0, 1, 2, 255]) },
      { dataname: 'a', type: 'arrowtable', data: demoTable() }];
    const sent = await c.send(s, items, { correlationId: 'lazy-1' });
    const [same, json] = sent; // the seed's [env, json], before any field was read
    assert.equal(same, sent);
    assert.equal(typeof json, 'string');
    const wire = JSON.parse(json);
    assert.equal(Object.keys(sent).length, 0, 'nothing parsed yet');
    assert.ok(util.inspect(sent, { depth: 0 }).includes('correlation_id'), 'inspect shows the fields');
    assert.equal(Object.keys(sent).length, 14, 'own properties once parsed');
    assert.deepEqual(Object.keys(sent), Object.keys(wire), 'in the wire order');
    assert.deepEqual(JSON.parse(JSON.stringify(sent)), wire);
    assert.equal(sent.correlation_id, 'lazy-1');
    sent.msg_purpose = 'changed'; // writable, as a plain object
    assert.equal(sent.msg_purpose, 'changed');
    const second = await c.send(s, items);
    const secondWire = JSON.parse([...second][1]);
    assert.deepEqual(JSON.parse(JSON.stringify(second)), secondWire); // serialised before any read
    for (const env of [await nextOf(sub), await nextOf(sub)]) {
      const w = env.msg_id === wire.msg_id ? wire : secondWire;
      assert.equal(env.payloads.length, w.payloads.length);
      env.payloads.forEach((p, i) => {
        const wp = w.payloads[i];
        for (const k of ['dataname', 'type', 'transport', 'encoding', 'size']) assert.equal(p[k], wp[k], `${p.dataname}.${k}`);
        assert.deepEqual(p.metadata, wp.metadata || {});
        assert.equal(p.url, null);
        assert.equal(p.path, null);
      });
      assert.equal(env.payloads[0].data, 'héllo');
      assert.deepEqual(env.payloads[1].data, { k: [1, 'two'] });
      assert.ok(env.payloads[2].data.equals(Buffer.from([0, 1, 2, 255])));
      assert.equal(env.payloads[3].type, 'table');
    }
    const [, oneJson] = await c.send(s, [{ dataname: 'one', type: 'dictionary', data: { z: 1 } }]);
    const one = await nextOf(sub); // one plain payload: the addon's single-array form
    const oneWire = JSON.parse(oneJson).payloads[0];
    for (const k of ['dataname', 'type', 'transport', 'encoding', 'size']) assert.equal(one.payloads[0][k], oneWire[k], k);
    assert.deepEqual(one.payloads[0].data, { z: 1 });
    assert.deepEqual(one.payloads[0].metadata, {});
    assert.equal(one.payloads[0].url, null);
    const back = await c.receive(sent); // a sent envelope is received from its wire text
    assert.equal(back.msg_id, wire.msg_id);
    assert.equal(back.payloads[0].data, 'héllo');
    await sub.close();
  } finally {
    await c.close();
  }
});

test('one-payload sends at the edges of the stack buffer, NUL bytes, borrowed Buffers', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    const s = subject('edges');
    const sub = c.subscribe(s);
    await c.flush();
    const texts = ['', 'é'.repeat(1990), 'é'.repeat(2046), '✓'.repeat(1400), 'x'.repeat(5000), 'a😀b'.repeat(500)];
    for (const data of texts) await c.send(s, [{ dataname: 'é'.repeat(100), type: 'text', data }]);
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 10, 100);
    await c.send(s, [{ dataname: 'b', type: 'binary', data: bytes }]);
    await c.send(s, [{ dataname: 'v', type: 'binary', data: view }]);
    bytes.fill(0); // borrowed only during the call: what was sent is kept
    for (const data of texts) {
      const got = await nextOf(sub);
      assert.equal(got.payloads[0].dataname, 'é'.repeat(100));
      assert.equal(got.payloads[0].data, data);
    }
    assert.deepEqual([...(await nextOf(sub)).payloads[0].data], Array.from({ length: 300 }, (_, i) => i % 256));
    assert.deepEqual([...(await nextOf(sub)).payloads[0].data], Array.from({ length: 100 }, (_, i) => (i + 10) % 256));
    await assert.rejects(c.send(s, [{ dataname: 'm', type: 'text', data: 'a\0b' }]), /NUL/);
    await assert.rejects(c.send(s, [{ dataname: 'm\0', type: 'text', data: 'ab' }]), /NUL/);
    await assert.rejects(c.send('a\0b', [{ dataname: 'm', type: 'text', data: 'ab' }]), /NUL/);
    await sub.close();
  } finally {
    await c.close();
  }
});

test('request/reply in one process, and many concurrent promises on one client', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    const s = subject('svc');
    const svc = c.subscribe(s, {
      callback: (req) => c.reply(req, [{ dataname: 'echo', type: 'text', data: `re:${req.payloads[0].data}` }]) });
    await c.flush();
    const one = await c.request(s, [{ dataname: 'q', type: 'text', data: 'ping' }], { timeout: 5000 });
    assert.equal(one.payloads[0].data, 're:ping');
    const sink = subject('sink');
    const sinkSub = c.subscribe(sink);
    await c.flush();
    const N = 300;
    const [replies, sends] = await Promise.all([
      Promise.all(Array.from({ length: N }, (_, i) =>
        c.request(s, [{ dataname: 'q', type: 'text', data: `n${i}` }], { timeout: 20000 }))),
      Promise.all(Array.from({ length: N }, (_, i) =>
        c.send(sink, [{ dataname: 'i', type: 'dictionary', data: { i } }]))),
    ]);
    replies.forEach((r, i) => assert.equal(r.payloads[0].data, `re:n${i}`));
    assert.equal(new Set(sends.map((e) => e.msg_id)).size, N);
    const seen = [];
    for (let i = 0; i < N; i++) seen.push((await nextOf(sinkSub)).payloads[0].data.i);
    assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i), 'in order');
    await svc.close();
    await assert.rejects(c.request(s, [{ dataname: 'q', type: 'text', data: 'x' }], { timeout: 300 }),
      (e) => e.code === 'NB_TIMEOUT' && /no reply/.test(e.message));
  } finally {
    await c.close();
  }
});

test('a callback that throws is reported and deliveries go on', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    const s = subject('throws');
    const errors = [];
    const got = [];
    c.subscribe(s, {
      callback: (env) => {
        got.push(env.payloads[0].data);
        if (env.payloads[0].data === 'bad') throw new Error('handler failed on purpose');
        if (env.payloads[0].data === 'async-bad') return Promise.reject(new Error('async failure'));
        return undefined;
      },
      onError: (e) => errors.push(e.message),
    });
    await c.flush();
    for (const d of ['a', 'bad', 'async-bad', 'b']) await c.send(s, [{ dataname: 'm', type: 'text', data: d }]);
    for (let i = 0; i < 200 && got.length < 4; i++) await sleep(25);
    assert.deepEqual(got, ['a', 'bad', 'async-bad', 'b']);
    for (let i = 0; i < 100 && errors.length < 2; i++) await sleep(10);
    assert.deepEqual(errors, ['handler failed on purpose', 'async failure']);
  } finally {
    await c.close();
  }
});

test('closing a subscription, and the client, from inside a callback', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  const s = subject('closein');
  let calls = 0;
  let closed;
  const sub = c.subscribe(s, { callback: (env, self) => { calls++; closed = self.close(); } });
  await c.flush();
  for (let i = 0; i < 5; i++) await c.send(s, [{ dataname: 'm', type: 'text', data: `${i}` }]);
  await c.flush();
  for (let i = 0; i < 100 && !closed; i++) await sleep(10);
  await closed;
  await sleep(100);
  assert.equal(calls, 1, 'no delivery after close()');
  await sub.close(); // twice is fine

  const s2 = subject('clientclose');
  let closing;
  c.subscribe(s2, { callback: () => { closing = c.close(); } });
  const c2 = await Client.connect({ natsUrl, fileserverUrl });
  await c.flush();
  await c2.send(s2, [{ dataname: 'm', type: 'text', data: 'x' }]);
  for (let i = 0; i < 200 && !closing; i++) await sleep(10);
  assert.ok(closing, 'the callback ran');
  await closing;
  await c.close();
  await assert.rejects(c.send(s2, [{ dataname: 'm', type: 'text', data: 'x' }]),
    (e) => e.code === 'NB_INVALID_ARG' && /closed/.test(e.message));
  await c2.close();
});

test('an async iterator ends when the client closes; break closes the subscription', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  const s = subject('iter');
  const sub = c.subscribe(s);
  await c.flush();
  await c.send(s, [{ dataname: 'm', type: 'text', data: 'one' }]);
  for await (const env of sub) { assert.equal(env.payloads[0].data, 'one'); break; }
  const sub2 = c.subscribe(s);
  const pending = sub2.next();
  await c.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
  await c.close();
});

test('bad input is refused with clear errors', async () => {
  const opts = { natsUrl, fileserverUrl };
  await assert.rejects(smartsend('s', 'not a list', opts), /payloads must be an array/);
  await assert.rejects(smartsend('s', [], opts), /at least one/);
  await assert.rejects(smartsend('', [{ dataname: 'a', type: 'text', data: 'x' }], opts), /subject/);
  await assert.rejects(smartsend('s', [{ dataname: 'a', type: 'vidoe', data: 'x' }], opts),
    /payloads\[0\] 'a': unknown type 'vidoe'/);
  await assert.rejects(smartsend('s', [{ dataname: 'a', type: 'text', data: Buffer.from('x') }], opts),
    /text data must be a string/);
  await assert.rejects(smartsend('s', [{ dataname: '', type: 'text', data: 'x' }], opts), /dataname/);
  await assert.rejects(smartsend('s', [{ dataname: 'b', type: 'binary', data: 'x' }], opts),
    /binary data must be a Buffer/);
  await assert.rejects(smartsend('s', [{ dataname: 'a', type: 'text', data: 'x' }], { natsUrl: 'http://x:1' }),
    (e) => e.code === 'NB_INVALID_ARG');
  await assert.rejects(smartsend('s', [{ dataname: 'a', type: 'text', data: 'x' }], { ...opts, sizeThreshold: -1 }),
    /sizeThreshold must be a whole number/);
  await assert.rejects(Client.connect({ natsUrl: 'nats://127.0.0.1:1', token: 's3cr3t-t0ken', connectTimeout: 500 }),
    (e) => e.code === 'NB_CONNECTION' && !e.message.includes('s3cr3t-t0ken'));
  await assert.rejects(Client.connect({ natsUrl: 'nats://alice:pa55w0rd@127.0.0.1:1', connectTimeout: 500 }),
    (e) => e.code === 'NB_CONNECTION' && !e.message.includes('pa55w0rd'));
  await assert.rejects(smartreceive('{"not": "an envelope"}'), (e) => e.code === 'NB_BAD_ENVELOPE');
  await assert.rejects(smartreceive(42), /msg must be/);
  await assert.rejects(Client.connect({ natsUrl, uploader: 'ftp' }), /uploader must be 'plik' or 'put'/);
  // A link outside the allowed origins is refused, naming it.
  const env = await smartsend(subject('x'), [{ dataname: 'b', type: 'binary', data: Buffer.alloc(10), link: true }], opts);
  await assert.rejects(smartreceive(env, { fileserverUrl: 'http://127.0.0.1:9' }),
    (e) => e.code === 'NB_NOT_ALLOWED' && /allowed origin/.test(e.message));
  const r = await smartreceive(env, { fileserverUrl: 'http://127.0.0.1:9', allowOrigins: [fileserverUrl] });
  assert.equal(r.payloads[0].data.length, 10);
});

test('the put uploader, a size threshold, and the checksum option', async () => {
  const s = subject('put');
  const c = await Client.connect({ natsUrl, fileserverUrl, uploader: 'put', sizeThreshold: 100, checksum: true });
  try {
    const sub = c.subscribe(s);
    await c.flush();
    const big = Buffer.alloc(150, 1);
    const env = await c.send(s, [{ dataname: 'small', type: 'binary', data: Buffer.alloc(10, 2) },
      { dataname: 'big', type: 'binary', data: big }]);
    assert.equal(env.payloads[0].transport, 'direct');
    assert.ok(env.payloads[0].metadata.sha256, 'checksum adds metadata.sha256');
    assert.equal(env.payloads[1].transport, 'link');
    const got = await nextOf(sub);
    assert.ok(got.payloads[1].data.equals(big));
    assert.equal(got.payloads[0].metadata.sha256, env.payloads[0].metadata.sha256);
    assert.equal(got.payloads[0].transport, 'direct');
    assert.equal(got.payloads[1].transport, 'link');
    assert.equal(got.payloads[1].url, env.payloads[1].data);
  } finally {
    await c.close();
  }
});

test('clients dropped without close() are collected without harm', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await Client.connect({ natsUrl, fileserverUrl });
    await c.send(subject('gc'), [{ dataname: 'm', type: 'text', data: 'x' }]);
  }
  for (let i = 0; i < 5; i++) { global.gc(); await sleep(20); }
  const c = await Client.connect({ natsUrl, fileserverUrl });
  await c.flush();
  await c.close();
});
