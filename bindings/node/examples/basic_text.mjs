// SPDX-License-Identifier: MIT
// The seed README's basic text example, on natsbridge: send one text payload.
// NATS_URL and FILESERVER_URL override the seed's localhost defaults.
import { smartsend } from 'natsbridge';

const natsUrl = process.env.NATS_URL || 'nats://localhost:4222';
const fileserverUrl = process.env.FILESERVER_URL || 'http://localhost:8080';

const [env, envJsonStr] = await smartsend('/chat/room1',
  [{ dataname: 'message', data: 'Hello from JavaScript!', type: 'text' }],
  { natsUrl, fileserverUrl, msgPurpose: 'chat', senderName: 'js-chat' });
console.log(JSON.stringify({ msg_id: env.msg_id, bytes: envJsonStr.length }));
