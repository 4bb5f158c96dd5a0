// SPDX-License-Identifier: MIT
// The seed README's request/response example: send with reply_to, wait for the answer on it.
// `node request_response.mjs` asks; `node request_response.mjs serve` answers one request.
import { smartsend, smartreceive, Client } from 'natsbridge';

const natsUrl = process.env.NATS_URL || 'nats://localhost:4222';
const fileserverUrl = process.env.FILESERVER_URL || 'http://localhost:8080';

if (process.argv[2] === 'serve') {
  const client = await Client.connect({ natsUrl, fileserverUrl });
  const sub = client.subscribe('/api/query');
  await client.flush();
  console.log('ready');
  for await (const msg of sub) {
    const env = await smartreceive(msg);
    const query = env.payloads[0].data;
    await smartsend(env.reply_to, [{ dataname: 'result', data: { answer: 42, query }, type: 'dictionary' }],
      { natsUrl, fileserverUrl, replyToMsgId: env.msg_id, correlationId: env.correlation_id });
    break;
  }
  await client.close();
} else {
  const client = await Client.connect({ natsUrl, fileserverUrl });
  const reply = await client.request('/api/query',
    [{ dataname: 'query', data: { sql: 'SELECT 1' }, type: 'dictionary' }],
    { timeout: 5000, correlationId: 'req-1' });
  console.log(JSON.stringify({ answer: reply.payloads[0].data, reply_to_msg_id: reply.reply_to_msg_id }));
  await client.close();
}
