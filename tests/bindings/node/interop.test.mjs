// SPDX-License-Identifier: MIT
// interop.test.mjs - the seed README's JavaScript examples (bindings/node/examples, run
// unchanged but for the server URLs in NATS_URL/FILESERVER_URL) received by the C CLI, the
// nats.js peer and the stdlib Python peer of tests/interop, and the reverse directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nb, natsUrl, fileserverUrl, NB_CLI, TMP, PKG, JS_PEER_DIR, PY_PEER_DIR, sha256,
  start, waitText, finish, jsonLines, nextOf, subject } from './helpers.mjs';

const NODE = process.execPath;
const example = (name) => path.join(PKG, 'examples', name);
const spec = (subj, extra = {}) => JSON.stringify({ nats: natsUrl, fileserver: fileserverUrl, subject: subj,
  count: 1, timeout: 60, options: {}, payloads: [], ...extra });

// The three receivers of tests/interop, listening on subj; resolves once all are subscribed.
async function listeners(subj) {
  const c = start(NB_CLI, ['listen', subj, '--json', '--count', '1', '--timeout', '60',
    '--server', natsUrl, '--fileserver', fileserverUrl]);
  const js = start(NODE, ['peer.mjs', 'listen', spec(subj)], { cwd: JS_PEER_DIR });
  const py = start('python3', ['-B', 'peer_main.py', 'listen', spec(subj)], { cwd: PY_PEER_DIR });
  await Promise.all([waitText(c, 'listening on'), waitText(js, 'ready:'), waitText(py, 'ready:')]);
  return { c, js, py };
}

async function received(l) {
  const [c, js, py] = await Promise.all([finish(l.c), finish(l.js), finish(l.py)]);
  return { c: jsonLines(c)[0], js: jsonLines(js)[0], py: jsonLines(py)[0] };
}

// Every receiver got the message the example printed, with these payloads.
function checkAll(got, msgId, want) {
  for (const [who, env] of Object.entries(got)) {
    assert.ok(env, `${who} printed nothing`);
    assert.equal(env.msg_id, msgId, `${who} msg_id`);
    assert.deepEqual(env.payloads.map((p) => p.dataname), want.map((w) => w.dataname), `${who} datanames`);
    env.payloads.forEach((p, i) => {
      if (want[i].sha256 && p.sha256) assert.equal(p.sha256, want[i].sha256, `${who} ${p.dataname} sha256`);
      if (want[i].transport) assert.equal(p.transport, want[i].transport, `${who} ${p.dataname} transport`);
      if (who !== 'c' && want[i].check !== undefined) assert.deepEqual(p.check, want[i].check, `${who} ${p.dataname} value`);
      if (who === 'c' && want[i].text !== undefined) assert.deepEqual(p.data, want[i].text, `C ${p.dataname} value`);
    });
  }
}

async function runExample(file, args = []) {
  const out = await finish(start(NODE, [example(file), ...args]));
  return JSON.parse(out.trim().split('\n').pop());
}

test('basic text example -> C CLI, nats.js peer, Python peer', async () => {
  const l = await listeners('/chat/room1');
  const sent = await runExample('basic_text.mjs');
  checkAll(await received(l), sent.msg_id,
    [{ dataname: 'message', check: 'Hello from JavaScript!', text: 'Hello from JavaScript!' }]);
});

test('JSON configuration example -> C CLI, nats.js peer, Python peer', async () => {
  const l = await listeners('/device/config');
  const sent = await runExample('json_config.mjs');
  const config = { wifi_ssid: 'MyNetwork', update_interval: 60, sensors: ['temp', 'humidity'] };
  const got = await received(l);
  checkAll(got, sent.msg_id, [{ dataname: 'config', check: config }]);
  assert.equal(got.py.receiver_name, 'device-7');
});

test('mixed text + image example -> C CLI, nats.js peer, Python peer', async () => {
  const img = Buffer.alloc(50000);
  for (let i = 0; i < img.length; i++) img[i] = (i * 31) % 256;
  const file = path.join(TMP, 'image.png');
  writeFileSync(file, img);
  const l = await listeners('/chat/room1');
  const sent = await runExample('mixed_content.mjs', [file]);
  checkAll(await received(l), sent.msg_id, [
    { dataname: 'message_text', check: 'Check out this image!' },
    { dataname: 'user_image', sha256: sha256(img), check: { bytes: img.length } },
  ]);
});

test('2 MB by link example -> C CLI, nats.js peer, Python peer', async () => {
  const data = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  const l = await listeners('/data/large');
  const sent = await runExample('large_payload.mjs');
  assert.equal(sent.transport, 'link');
  checkAll(await received(l), sent.msg_id,
    [{ dataname: 'large_file', transport: 'link', sha256: sha256(data), check: { bytes: data.length } }]);
});

test('request/response example: Node asks Node; the nats.js peer, the Python peer and the C CLI ask Node', async () => {
  const serve = async () => {
    const p = start(NODE, [example('request_response.mjs'), 'serve']);
    await waitText(p, 'ready');
    return p;
  };
  let s = await serve();
  const asked = await runExample('request_response.mjs');
  assert.deepEqual(asked.answer, { answer: 42, query: { sql: 'SELECT 1' } });
  await finish(s);

  const query = path.join(TMP, 'query.json');
  writeFileSync(query, JSON.stringify({ sql: 'SELECT 2' }));
  const ask = spec('/api/query', { payloads: [{ dataname: 'query', type: 'dictionary', file: query }] });
  for (const [cmd, args, cwd] of [[NODE, ['peer.mjs', 'request', ask], JS_PEER_DIR],
    ['python3', ['-B', 'peer_main.py', 'request', ask], PY_PEER_DIR]]) {
    s = await serve();
    const lines = jsonLines(await finish(start(cmd, args, { cwd })));
    const reply = lines[lines.length - 1];
    assert.equal(reply.reply_to_msg_id, lines[0].msg_id, `${cmd} reply matches its request`);
    assert.deepEqual(reply.payloads[0].check, { answer: 42, query: { sql: 'SELECT 2' } });
    await finish(s);
  }
  s = await serve();
  const c = await finish(start(NB_CLI, ['request', '/api/query', '--server', natsUrl, '--fileserver',
    fileserverUrl, '--dict', 'query={"sql":"SELECT 3"}', '--json', '--timeout', '10']));
  assert.deepEqual(jsonLines(c).pop().payloads[0].data, { answer: 42, query: { sql: 'SELECT 3' } });
  await finish(s);
});

test('Node requests, the C CLI answers (reply --echo)', async () => {
  const s = subject('echo');
  const r = start(NB_CLI, ['reply', s, '--echo', '--count', '1', '--server', natsUrl, '--fileserver', fileserverUrl]);
  await waitText(r, 'listening on');
  const c = await nb.Client.connect({ natsUrl, fileserverUrl });
  try {
    const reply = await c.request(s, [{ dataname: 'q', type: 'dictionary', data: { n: 1 } },
      { dataname: 'blob', type: 'binary', data: Buffer.alloc(1500000, 3) }], { timeout: 20000 });
    assert.deepEqual(reply.payloads[0].data, { n: 1 });
    assert.ok(reply.payloads[1].data.equals(Buffer.alloc(1500000, 3)));
  } finally {
    await c.close();
  }
  await finish(r);
});

test('the C CLI, the nats.js peer and the Python peer send; Node receives', async () => {
  const c = await nb.Client.connect({ natsUrl, fileserverUrl });
  try {
    const img = Buffer.alloc(1200000);
    for (let i = 0; i < img.length; i++) img[i] = (i * 7) % 256;
    const imgFile = path.join(TMP, 'big.bin');
    writeFileSync(imgFile, img);
    const small = path.join(TMP, 'small.txt');
    writeFileSync(small, 'from a peer ✓');
    const cfg = path.join(TMP, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ k: [1, 2, { z: null }] }));
    const senders = {
      c: (s) => [NB_CLI, ['send', s, '--server', natsUrl, '--fileserver', fileserverUrl, '--text',
        'msg=from a peer ✓', '--dict', `cfg=${JSON.stringify({ k: [1, 2, { z: null }] })}`,
        '--file', `img=${imgFile}:image`]],
      js: (s) => [NODE, ['peer.mjs', 'send', spec(s, { payloads: [
        { dataname: 'msg', type: 'text', file: small }, { dataname: 'cfg', type: 'dictionary', file: cfg },
        { dataname: 'img', type: 'image', file: imgFile, link: true }] })], JS_PEER_DIR],
      py: (s) => ['python3', ['-B', 'peer_main.py', 'send', spec(s, { payloads: [
        { dataname: 'msg', type: 'text', file: small }, { dataname: 'cfg', type: 'dictionary', file: cfg },
        { dataname: 'img', type: 'image', file: small }] })], PY_PEER_DIR],
    };
    for (const [who, argv] of Object.entries(senders)) {
      const s = subject(`from-${who}`);
      const sub = c.subscribe(s);
      await c.flush();
      const [cmd, args, cwd] = argv(s);
      await finish(start(cmd, args, { cwd }));
      const env = await nextOf(sub, 20000);
      assert.equal(env.payloads[0].data, 'from a peer ✓', `${who} text`);
      assert.deepEqual(env.payloads[1].data, { k: [1, 2, { z: null }] }, `${who} dictionary`);
      assert.equal(env.payloads[2].type, 'image');
      if (who === 'py') assert.equal(env.payloads[2].data.toString(), 'from a peer ✓');
      else {
        assert.equal(env.payloads[2].transport, 'link', `${who} image by link`);
        assert.ok(env.payloads[2].data.equals(img), `${who} image bytes`);
      }
      await sub.close();
    }
  } finally {
    await c.close();
  }
});

test("a nats.js Msg goes into smartreceive, as in the seed's receive loop", async () => {
  const { createRequire } = await import('node:module');
  const { connect } = createRequire(path.join(JS_PEER_DIR, 'package.json'))('nats');
  const nc = await connect({ servers: natsUrl });
  const c = await nb.Client.connect({ natsUrl, fileserverUrl });
  try {
    const s = subject('natsjs');
    const sub = nc.subscribe(s, { max: 1 });
    await nc.flush();
    const big = Buffer.alloc(1100000, 9);
    const sent = await c.send(s, [{ dataname: 'msg', type: 'text', data: 'seed loop' },
      { dataname: 'big', type: 'binary', data: big }]);
    let got;
    for await (const m of sub) got = await nb.smartreceive(m, { maxRetries: 3, baseDelay: 50, maxDelay: 500 });
    assert.equal(got.msg_id, sent.msg_id);
    assert.equal(got.payloads[0].data, 'seed loop');
    assert.equal(got.payloads[1].transport, 'link');
    assert.ok(got.payloads[1].data.equals(big));
  } finally {
    await nc.close();
    await c.close();
  }
});
