// SPDX-License-Identifier: MIT
// bench_peer_js.mjs - the seed-style JavaScript peer on nats.js, end to end, for the comparison of
// issue 16 (natsbridge C vs the JS peer: >= 10x on S1 and S2, >= 6x on S4). It works the way the
// NATSBridge JS peer does: every payload base64 in a JSON envelope of the same field set as
// tests/interop/js/natsbridge.mjs (ids from randomUUID, an ISO timestamp), JSON.stringify and
// publish; the subscriber JSON.parse's the text, checks the required fields and decodes each
// payload with Buffer.from(data, 'base64') and then by type (UTF-8 text, JSON.parse of a
// dictionary, bytes as they are). It leaves out what would only slow it down (the sha256 of
// every payload and the strict per-character base64 check of the interop peer, a flush per send),
// so the ratio it gives natsbridge is, if anything, too small.
//
// A publisher and a subscriber connection in this process; the clock runs from the first send
// until the subscriber has decoded the last envelope; at most WINDOW_BYTES of envelopes unreceived
// (16 MiB; publisher and subscriber share one event loop, which yields about once per MiB sent).
// Median of NB_REPS repetitions after a warm-up. Prints one machine-readable line per scenario:
//   bench name=S1-js nb_js=41234 unit=env/s count=20000 wire_bytes=690
// Environment: NATS_URL (required), NB_JS_PEER (the directory whose node_modules hold nats;
// default tests/interop/js), NB_REPS (3), NB_SCENARIOS (S1,S2,S4), NB_COUNT_S1 (50000),
// NB_COUNT_S2 (30000), NB_COUNT_S4 (400), NB_TIMEOUT_S (120, per repetition).
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peerDir = process.env.NB_JS_PEER || path.join(here, '..', 'tests', 'interop', 'js');
const require = createRequire(import.meta.url);
const { connect } = await import(require.resolve('nats', { paths: [peerDir] }));

const natsUrl = process.env.NATS_URL;
if (!natsUrl) { console.error('bench_peer_js: set NATS_URL'); process.exit(2); }
const REPS = Number(process.env.NB_REPS || 3);
const TIMEOUT_MS = 1000 * Number(process.env.NB_TIMEOUT_S || 120);
const WINDOW_BYTES = 16 * 1024 * 1024;
const YIELD_BYTES = 1024 * 1024;
const utf8 = new TextEncoder();

// The 1 KiB dictionary of bench_throughput and bench_codec: the same JSON text.
function makeDict(size) {
  let s = '{"service":"inventory","items":[';
  for (let i = 0; s.length + 64 < size; i++)
    s += `${i ? ',' : ''}{"id":${i},"name":"item-${i}","price":${i * 3}.25}`;
  return s + '],"ok":true}';
}

function makeBytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

const SCENARIOS = {
  S1: { label: '100 B text', type: 'text', encoding: 'base64', data: 'abcdefghijklmnopqrstuvwxyz'.repeat(4).slice(0, 100), count: 50000 },
  S2: { label: '1 KiB dictionary', type: 'dictionary', encoding: 'json', data: makeDict(1024), count: 30000 },
  S4: { label: '512 KiB binary', type: 'binary', encoding: 'base64', data: makeBytes(512 * 1024), count: 400 },
};

// What the seed's serialize() does: the payload's bytes by type.
function serialize(type, data) {
  if (type === 'text') return Buffer.from(data, 'utf8');
  if (type === 'dictionary') return Buffer.from(typeof data === 'string' ? data : JSON.stringify(data), 'utf8');
  return Buffer.from(data);
}

// One envelope, built afresh as smartsend builds it (tests/interop/js/natsbridge.mjs).
function envelopeText(subject, sc) {
  const bytes = serialize(sc.type, sc.data);
  const payload = {
    id: randomUUID(), dataname: 'data', type: sc.type, transport: 'direct', encoding: sc.encoding,
    size: bytes.length, data: bytes.toString('base64'), metadata: {},
  };
  return JSON.stringify({
    correlation_id: randomUUID(), msg_id: randomUUID(), timestamp: new Date().toISOString(),
    send_to: subject, msg_purpose: 'chat', sender_name: 'NATSBridge', sender_id: randomUUID(),
    receiver_name: '', receiver_id: '', reply_to: '', reply_to_msg_id: '', broker_url: natsUrl,
    metadata: {}, payloads: [payload],
  });
}

// What smartreceive does with a direct payload: JSON.parse, base64, then the type's value.
function receive(text) {
  const env = JSON.parse(text);
  if (typeof env.correlation_id !== 'string' || typeof env.msg_id !== 'string' || !Array.isArray(env.payloads))
    throw new Error('envelope: missing correlation_id, msg_id or payloads');
  for (const p of env.payloads) {
    const bytes = Buffer.from(p.data, 'base64');
    if (bytes.length !== p.size) throw new Error(`payload ${p.dataname}: size ${p.size}, ${bytes.length} decoded`);
    if (p.type === 'text') p.value = bytes.toString('utf8');
    else if (p.type === 'dictionary') p.value = JSON.parse(bytes.toString('utf8'));
    else p.value = bytes;
  }
  return env;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const decoder = new TextDecoder();

// One repetition: returns envelopes/s end to end and the wire size of one envelope.
async function runOnce(pub, subc, name, sc, count, rep) {
  const subject = `bench.js.${name}.${rep}`;
  const want = serialize(sc.type, sc.data).length;
  let received = 0, bad = 0, wire = 0;
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  const sub = subc.subscribe(subject, {
    callback: (err, m) => {
      if (err) { bad++; return; }
      try {
        const env = receive(decoder.decode(m.data));
        if (env.payloads[0].size !== want) bad++;
      } catch { bad++; }
      if (++received === count) done();
    },
  });
  await subc.flush();
  const t0 = performance.now();
  const deadline = t0 + TIMEOUT_MS;
  for (let i = 0; i < count; i++) {
    const bytes = utf8.encode(envelopeText(subject, sc));
    wire = bytes.length;
    const window = Math.max(16, Math.floor(WINDOW_BYTES / wire));
    while (i - received >= window && performance.now() < deadline) await new Promise((r) => setImmediate(r));
    pub.publish(subject, bytes);
    // Publisher and subscriber share this event loop: yield about once per MiB sent, or the
    // subscriber would not read for long enough that the server drops it as a slow consumer.
    if (i % Math.max(1, Math.min(256, Math.floor(YIELD_BYTES / wire))) === 0) await new Promise((r) => setImmediate(r));
  }
  await pub.flush();
  const timer = new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now()), 'timeout'));
  const outcome = await Promise.race([all, timer]);
  const secs = (performance.now() - t0) / 1000;
  sub.unsubscribe();
  if (outcome === 'timeout') throw new Error(`${name}: only ${received} of ${count} arrived in time`);
  if (bad) throw new Error(`${name}: ${bad} envelopes decoded wrong`);
  return { rate: count / secs, wire };
}

const pub = await connect({ servers: natsUrl });
const subc = await connect({ servers: natsUrl });
const names = (process.env.NB_SCENARIOS || 'S1,S2,S4').split(',');
let failed = false;
for (const name of names) {
  const sc = SCENARIOS[name];
  if (!sc) { console.error(`bench_peer_js: unknown scenario '${name}'`); failed = true; continue; }
  const count = Number(process.env[`NB_COUNT_${name}`] || sc.count);
  try {
    await runOnce(pub, subc, name, sc, Math.max(1, Math.floor(count / 10)), 'warm'); // JIT, buffers
    const rates = [];
    let wire = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const r = await runOnce(pub, subc, name, sc, count, rep);
      rates.push(r.rate);
      wire = r.wire;
    }
    console.log(`${sc.label.padEnd(18)} ${String(count).padStart(7)} x ${REPS}: ${median(rates).toFixed(0).padStart(8)} env/s ` +
      `[${rates.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`bench name=${name}-js nb_js=${median(rates).toFixed(0)} unit=env/s count=${count} wire_bytes=${wire}`);
  } catch (e) {
    console.error(`bench_peer_js: ${e.message}`);
    failed = true;
  }
}
await pub.close();
await subc.close();
process.exit(failed ? 1 : 0);
