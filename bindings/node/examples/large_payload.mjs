// SPDX-License-Identifier: MIT
// The seed README's large payload example: 2 MB goes by link through the file server.
import { smartsend } from 'natsbridge';

const natsUrl = process.env.NATS_URL || 'nats://localhost:4222';
const fileserverUrl = process.env.FILESERVER_URL || 'http://localhost:8080';

const data = Buffer.alloc(2 * 1024 * 1024);
for (let i = 0; i < data.length; i++) data[i] = i % 251;
const [env] = await smartsend('/data/large', [{ dataname: 'large_file', data, type: 'binary' }],
  { natsUrl, fileserverUrl, sizeThreshold: 1000000 });
console.log(JSON.stringify({ msg_id: env.msg_id, transport: env.payloads[0].transport,
  url: env.payloads[0].data }));
