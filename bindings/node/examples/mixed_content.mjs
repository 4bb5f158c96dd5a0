// SPDX-License-Identifier: MIT
// The seed README's mixed content example: text and an image in one envelope.
import { readFileSync } from 'node:fs';
import { smartsend } from 'natsbridge';

const natsUrl = process.env.NATS_URL || 'nats://localhost:4222';
const fileserverUrl = process.env.FILESERVER_URL || 'http://localhost:8080';
const image = process.argv[2] ? readFileSync(process.argv[2])
  : Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'); // a PNG's first bytes

const [env] = await smartsend('/chat/room1', [
  { dataname: 'message_text', data: 'Check out this image!', type: 'text' },
  { dataname: 'user_image', data: image, type: 'image' },
], { natsUrl, fileserverUrl });
console.log(JSON.stringify({ msg_id: env.msg_id, payloads: env.payloads.length }));
