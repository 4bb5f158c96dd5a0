// SPDX-License-Identifier: MIT
// bench_node.mjs - the Node.js binding next to the nats.js seed-style peer
// (tests/interop/js/natsbridge.mjs) on 100 B text envelopes end to end, in the same run, and a
// long run of the binding with its RSS. Driven by bench/bench_node.sh (servers, the C figure).
//
// End to end: a publisher and a subscriber connection in this process; the clock runs from the
// first send until the subscriber has decoded (smartreceive) the last envelope. Both sides keep
// at most WINDOW envelopes unreceived, so that neither piles up memory.
// Environment: NATS_URL, NB_NODE_PKG (bindings/node), NB_JS_PEER (tests/interop/js),
// NB_COUNT (default 20000), NB_REPS (default 3), NB_LONG (default 100000), NB_C_BENCH
// (bench_throughput: the C library's figure, run just before each repetition of the binding).
//
// Ratios are taken within a repetition (the C library's run, then the binding's, then the
// peer's, back to back) and their median printed: this machine's speed drifts by half from
// one minute to the next, and figures taken minutes apart compared its moods, not the code.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const natsUrl = process.env.NATS_URL;
const require = createRequire(import.meta.url);
const nb = require(path.join(process.env.NB_NODE_PKG, 'lib/natsbridge.js'));
const peer = await import(path.join(process.env.NB_JS_PEER, 'natsbridge.mjs'));
const { connect } = await import(require.resolve('nats', { paths: [process.env.NB_JS_PEER] }));
const COUNT = Number(process.env.NB_COUNT || 20000);
const REPS = Number(process.env.NB_REPS || 3);
const LONG = Number(process.env.NB_LONG || 100000);
const WINDOW = 1000;
const TEXT = 'x'.repeat(100);

// CPU time of the main thread (the event loop) so far in microseconds, from Linux's
// /proc/self/task/<pid>/stat (utime + stime, in clock ticks of 10 ms): the thread every
// JavaScript callback runs on, so the one that bounds an end-to-end rate; NaN elsewhere.
function mainThreadCpu() {
  try {
    const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10000;
  } catch {
    return NaN;
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// bench_throughput's "100 B text" natsbridge figure (env/s) for one repetition of count.
function cLibraryRate(count) {
  const out = execFileSync(process.env.NB_C_BENCH, ['--url', natsUrl, '--reps', '1', '--small',
    String(count), '--large', '1'], { encoding: 'utf8' });
  const row = out.split('\n').find((l) => l.startsWith('100 B text'));
  const rate = row && Number(row.split('|')[1].trim().split(/\s+/)[0]);
  if (!rate) throw new Error(`bench_throughput printed no '100 B text' figure:\n${out}`);
  return rate;
}
const mib = (b) => (b / 1048576).toFixed(1);

// Sends count envelopes through send() without waiting for each (at most WINDOW unreceived),
// then waits until the receiver has seen them all. The rate in envelopes per second of wall
// time; pump.cpu gets the process's CPU time (every thread: user + system) per envelope in
// microseconds, a figure less at the mercy of other load on the machine than the rate, and
// pump.main that of the main thread alone.
async function pump(count, send, received) {
  const m0 = mainThreadCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const pending = [];
  for (let sent = 0; sent < count; sent++) {
    while (sent - received.n >= WINDOW) await new Promise((r) => setImmediate(r));
    pending.push(send(sent));
    if (pending.length >= 256) await Promise.all(pending.splice(0)); // bounded bookkeeping
  }
  await Promise.all(pending);
  await received.all;
  const rate = count / ((performance.now() - t0) / 1000);
  const c = process.cpuUsage(c0);
  pump.cpu = (c.user + c.system) / count;
  pump.main = (mainThreadCpu() - m0) / count;
  return rate;
}

function counter(count) {
  const r = { n: 0 };
  r.all = new Promise((resolve) => { r.hit = () => { if (++r.n === count) resolve(); }; });
  return r;
}

async function runBinding(count, subject) {
  const pub = await nb.Client.connect({ natsUrl });
  const sub = await nb.Client.connect({ natsUrl });
  const got = counter(count);
  let bad = 0;
  sub.subscribe(subject, { callback: (env) => { if (env.payloads[0].data !== TEXT) bad++; got.hit(); } });
  await sub.flush();
  const rate = await pump(count, () => pub.send(subject, [{ dataname: 'msg', data: TEXT, type: 'text' }]), got);
  await pub.close();
  await sub.close();
  if (bad) throw new Error(`binding: ${bad} envelopes decoded wrong`);
  return rate;
}

async function runPeer(count, subject) {
  const pub = await connect({ servers: natsUrl });
  const subc = await connect({ servers: natsUrl });
  const got = counter(count);
  let bad = 0;
  const s = subc.subscribe(subject);
  (async () => {
    for await (const m of s) {
      const env = await peer.smartreceive(m);
      if (env.payloads[0].data !== TEXT) bad++;
      got.hit();
    }
  })();
  await subc.flush();
  const rate = await pump(count, () => peer.smartsend(subject, [{ dataname: 'msg', data: TEXT, type: 'text' }],
    { natsUrl, nc: pub }), got);
  await pub.close();
  await subc.close();
  if (bad) throw new Error(`peer: ${bad} envelopes decoded wrong`);
  return rate;
}

// Warm-up of both (JIT, connections, the thread pool), not counted.
await runBinding(3000, 'bench.node.warm');
await runPeer(3000, 'bench.node.warmp');
const rows = { binding: [], peer: [], c: [] };
const cpu = { binding: [], peer: [] };
const main = { binding: [], peer: [] };
for (let rep = 0; rep < REPS; rep++) {
  if (process.env.NB_C_BENCH) rows.c.push(cLibraryRate(COUNT));
  rows.binding.push(await runBinding(COUNT, `bench.node.b${rep}`));
  cpu.binding.push(pump.cpu);
  main.binding.push(pump.main);
  rows.peer.push(await runPeer(COUNT, `bench.node.p${rep}`));
  cpu.peer.push(pump.cpu);
  main.peer.push(pump.main);
}
const b = median(rows.binding);
const p = median(rows.peer);
const cb = median(cpu.binding);
const cp = median(cpu.peer);
const mb = median(main.binding);
const mp = median(main.peer);
console.log(`100 B text, end to end, ${COUNT} envelopes x ${REPS} repetitions (median env/s):`);
console.log(`  node binding      ${b.toFixed(0).padStart(8)}  [${rows.binding.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`  nats.js seed peer ${p.toFixed(0).padStart(8)}  [${rows.peer.map((x) => x.toFixed(0)).join(', ')}]`);
const perRep = (num, den) => median(num.map((x, i) => x / den[i]));
console.log(`  ratio binding / peer (median of the repetitions' own ratios): ` +
  `${perRep(rows.binding, rows.peer).toFixed(2)}x (target >= 3x)`);
if (rows.c.length) {
  console.log(`  C library (bench_throughput) ${median(rows.c).toFixed(0).padStart(8)}  [${rows.c.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  ratio C / node binding (median of the repetitions' own ratios): ` +
    `${perRep(rows.c, rows.binding).toFixed(2)}x (target <= 2x)`);
}
console.log(`  CPU us per envelope (all threads, median): binding ${cb.toFixed(1)}, peer ${cp.toFixed(1)}; ` +
  `peer / binding ${(cp / cb).toFixed(2)}x`);
console.log(`  main-thread CPU us per envelope (median): binding ${mb.toFixed(1)}, peer ${mp.toFixed(1)}; ` +
  `peer / binding ${(mp / mb).toFixed(2)}x`);
console.log(`RESULT node_env_per_s=${b.toFixed(0)} peer_env_per_s=${p.toFixed(0)} ` +
  `node_cpu_us=${cb.toFixed(1)} peer_cpu_us=${cp.toFixed(1)}`);

// The long run: RSS after each quarter. NB_LONG=0 skips it (its counter would wait for an
// envelope that never comes).
if (LONG > 0) {
  const pub = await nb.Client.connect({ natsUrl });
  const sub = await nb.Client.connect({ natsUrl });
  const got = counter(LONG);
  sub.subscribe('bench.node.long', { callback: () => got.hit() });
  await sub.flush();
  const rss = [];
  const quarter = LONG / 4;
  const t0 = performance.now();
  const rate = await pump(LONG, (i) => {
    if (i % quarter === 0) { global.gc?.(); rss.push(process.memoryUsage().rss); }
    return pub.send('bench.node.long', [{ dataname: 'msg', data: TEXT, type: 'text' }]);
  }, got);
  global.gc?.();
  rss.push(process.memoryUsage().rss);
  await pub.close();
  await sub.close();
  console.log(`${LONG} envelopes through the binding in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
    `(${rate.toFixed(0)} env/s); RSS MiB at 0/25/50/75/100%: ${rss.map(mib).join(' / ')}`);
}
