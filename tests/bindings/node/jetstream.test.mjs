// SPDX-License-Identifier: MIT
// jetstream.test.mjs - JetStream and the Object Store through the Node.js binding: at-least-once
// with a consumer killed mid-run, nak and redelivery, duplicate publishes, Object Store links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nb, natsUrl, fileserverUrl, start, waitText, nextOf, sleep, subject } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Client } = nb;

test('at-least-once: a consumer killed mid-run loses nothing', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  const N = 40;
  try {
    assert.equal(await c.streamEnsure({ name: 'NODE_ALO', subjects: ['alo.>'], storage: 'memory' }), true);
    assert.equal(await c.streamEnsure({ name: 'NODE_ALO', subjects: ['alo.>'], storage: 'memory' }), false);
    const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
      c.jsPublish('alo.work', [{ dataname: 'job', type: 'dictionary', data: { i } }])));
    assert.equal(new Set(acks.map((a) => a.seq)).size, N);
    assert.ok(acks.every((a) => a.stream === 'NODE_ALO' && !a.duplicate));

    const argv = [path.join(here, 'consumer.mjs'), 'NODE_ALO', 'alo.work', 'workers'];
    const first = start(process.execPath, [...argv, '20', '10']);
    await waitText(first, 'holding', 30000);
    first.kill('SIGKILL'); // mid-run: ten acked, the eleventh handled but never acked
    await first.exited;
    const seen = new Set(first.out.split('\n').filter((l) => l.startsWith('got ')).map((l) => Number(l.split(' ')[1])));
    const second = start(process.execPath, [...argv, '0']);
    const until = Date.now() + 60000;
    while (Date.now() < until) {
      for (const l of second.out.split('\n')) if (l.startsWith('got ')) seen.add(Number(l.split(' ')[1]));
      if (seen.size === N && /got \d+ 2/.test(second.out)) break;
      await sleep(50);
    }
    second.kill('SIGTERM');
    await second.exited;
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
    assert.match(second.out, /got \d+ 2/, 'what the killed consumer held came again');
  } finally {
    await c.streamDelete('NODE_ALO').catch(() => {});
    await c.close();
  }
});

test('nak redelivers, a throwing handler naks, duplicates are dropped, close stops pulling', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  try {
    await c.streamEnsure({ name: 'NODE_NAK', subjects: ['nak.>'], storage: 'memory' });
    const first = await c.jsPublish('nak.x', [{ dataname: 'm', type: 'text', data: 'again' }], { msgId: 'fixed-id-1' });
    const dup = await c.jsPublish('nak.x', [{ dataname: 'm', type: 'text', data: 'again' }], { msgId: 'fixed-id-1' });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.seq, first.seq);
    await c.jsPublish('nak.x', [{ dataname: 'm', type: 'text', data: 'throw' }]);
    const log = [];
    const errors = [];
    const cons = await c.consume({ subject: 'nak.x', durable: 'naker', ackWait: 5000, nakDelay: 100 },
      (env, d) => {
        log.push(`${env.payloads[0].data}:${d.delivered}`);
        if (d.delivered === 1 && env.payloads[0].data === 'again') return 'nak';
        if (d.delivered === 1 && env.payloads[0].data === 'throw') throw new Error('handler threw');
        return 'ack';
      }, { onError: (e) => errors.push(e.message) });
    for (let i = 0; i < 300 && log.length < 4; i++) await sleep(20);
    assert.deepEqual(log.sort(), ['again:1', 'again:2', 'throw:1', 'throw:2']);
    assert.deepEqual(errors, ['handler threw']);
    await cons.close();
    await cons.close();
    await c.jsPublish('nak.x', [{ dataname: 'm', type: 'text', data: 'after close' }]);
    await sleep(300);
    assert.equal(log.length, 4, 'nothing delivered after close()');
    await assert.rejects(c.consume({ subject: 'nak.x' }, () => 'ack'), /subject and a durable/);
    await assert.rejects(c.streamEnsure({ name: 'NODE_NAK', subjects: ['other.>'], storage: 'memory' }),
      (e) => e.code === 'NB_INVALID_ARG' && /subjects/.test(e.message));
  } finally {
    await c.streamDelete('NODE_NAK').catch(() => {});
    await c.close();
  }
});

test('a consumer closed from inside its handler, then the client', async () => {
  const c = await Client.connect({ natsUrl, fileserverUrl });
  await c.streamEnsure({ name: 'NODE_CLOSE', subjects: ['closejs.>'], storage: 'memory' });
  for (let i = 0; i < 5; i++) await c.jsPublish('closejs.x', [{ dataname: 'm', type: 'text', data: `${i}` }]);
  let calls = 0;
  let closing;
  await c.consume({ subject: 'closejs.x', durable: 'closer' }, (env, d, self) => {
    calls++;
    closing = self.close();
    return 'ack';
  });
  for (let i = 0; i < 300 && !closing; i++) await sleep(20);
  await closing;
  await sleep(200);
  assert.equal(calls, 1);
  await c.streamDelete('NODE_CLOSE');
  await c.close();
});

test('Object Store: link payloads in a bucket, and objects put and got', async () => {
  const opts = { natsUrl, fileserverUrl, linkStore: 'nats-os://NODELINKS', sizeThreshold: 1000 };
  const a = await Client.connect(opts);
  const b = await Client.connect(opts);
  try {
    const s = subject('os');
    const sub = b.subscribe(s);
    await b.flush();
    const big = Buffer.alloc(300000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) % 256;
    const env = await a.send(s, [{ dataname: 'big', type: 'binary', data: big }]);
    assert.match(env.payloads[0].data, /^nats-os:\/\/NODELINKS\//);
    const got = await nextOf(sub, 20000);
    assert.ok(got.payloads[0].data.equals(big));

    await a.objectPut('NODEBUCKET', 'greeting ✓', Buffer.from('hello object'));
    assert.equal((await b.objectGet('NODEBUCKET', 'greeting ✓')).toString(), 'hello object');
    await a.objectDelete('NODEBUCKET', 'greeting ✓');
    await assert.rejects(b.objectGet('NODEBUCKET', 'greeting ✓'), (e) => e.code === 'NB_NOT_FOUND');
    await a.objectDeleteBucket('NODEBUCKET');

    // A receiver without that bucket allowed refuses the link, naming the bucket.
    const other = await Client.connect({ natsUrl, fileserverUrl });
    await assert.rejects(other.receive(JSON.stringify(env)), (e) => e.code === 'NB_NOT_ALLOWED' && /NODELINKS/.test(e.message));
    await other.close();
  } finally {
    await a.close();
    await b.close();
  }
});
