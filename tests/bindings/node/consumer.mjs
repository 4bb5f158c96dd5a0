// SPDX-License-Identifier: MIT
// consumer.mjs STREAM SUBJECT DURABLE DELAY_MS [HOLD_AFTER] - a durable JetStream consumer on the
// Node.js binding as a program: prints "got <i> <delivered>" per envelope, then acks it after
// DELAY_MS. After HOLD_AFTER envelopes it prints "holding" and never acks another one, so that
// jetstream.test.mjs can kill it while it certainly holds unacked work (killing it at a moment
// chosen by timing alone raced with its acks on a loaded machine).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Client } = createRequire(import.meta.url)(path.join(here, '../../../bindings/node/lib/natsbridge.js'));
const [stream, subject, durable, delay, holdAfter] = process.argv.slice(2);
let handled = 0;

const c = await Client.connect({ natsUrl: process.env.NATS_URL, fileserverUrl: process.env.FILESERVER_URL });
await c.consume({ stream, subject, durable, ackWait: 2000, batch: 4 }, async (env, d) => {
  console.log(`got ${env.payloads[0].data.i} ${d.delivered}`);
  if (holdAfter !== undefined && ++handled > Number(holdAfter)) {
    console.log('holding');
    return new Promise(() => {}); // never settles: this envelope stays unacked
  }
  await new Promise((r) => setTimeout(r, Number(delay)));
  return 'ack';
});
console.error('ready: consuming');
process.on('SIGTERM', async () => { await c.close(); process.exit(0); });
