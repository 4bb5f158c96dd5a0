// SPDX-License-Identifier: MIT
// auth.test.mjs - the binding against a nats-server that wants a user and password (run.sh
// starts it with --user nodeuser --pass n0de-s3cret-pw): refused without them, with clear
// errors that never name the password; working with the options or with userinfo in the URL,
// which never reaches the envelope's broker_url.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nb, natsUrl, fileserverUrl, subject, nextOf } from './helpers.mjs';

const { Client, smartsend } = nb;
const PASSWORD = 'n0de-s3cret-pw';

test('no credentials, or a wrong password, is refused without naming the password', async () => {
  await assert.rejects(Client.connect({ natsUrl, fileserverUrl, connectTimeout: 2000 }),
    (e) => /^NB_/.test(e.code) && /authorization/i.test(e.message));
  await assert.rejects(Client.connect({ natsUrl, user: 'nodeuser', password: 'wrong-pw-123', connectTimeout: 2000 }),
    (e) => /^NB_/.test(e.code) && !e.message.includes('wrong-pw-123'));
  await assert.rejects(smartsend(subject('x'), [{ dataname: 'm', type: 'text', data: 'x' }],
    { natsUrl: natsUrl.replace('nats://', 'nats://nodeuser:bad-pw-456@'), fileserverUrl, connectTimeout: 2000 }),
  (e) => !e.message.includes('bad-pw-456'));
});

test('user and password as options, and in the URL: sends and receives; broker_url has no secret', async () => {
  const a = await Client.connect({ natsUrl, fileserverUrl, user: 'nodeuser', password: PASSWORD });
  const withUrl = natsUrl.replace('nats://', `nats://nodeuser:${PASSWORD}@`);
  try {
    const s = subject('auth');
    const sub = a.subscribe(s);
    await a.flush();
    const sent = await smartsend(s, [{ dataname: 'm', type: 'text', data: 'authenticated' }],
      { natsUrl: withUrl, fileserverUrl });
    const got = await nextOf(sub);
    assert.equal(got.payloads[0].data, 'authenticated');
    for (const env of [sent, got]) {
      assert.ok(!JSON.stringify(env).includes(PASSWORD), 'no password in the envelope');
      assert.equal(env.broker_url, natsUrl);
    }
  } finally {
    await a.close();
  }
});
