// SPDX-License-Identifier: MIT
// The seed README's JSON configuration example: a dictionary payload to a device.
import { smartsend } from 'natsbridge';

const natsUrl = process.env.NATS_URL || 'nats://localhost:4222';
const fileserverUrl = process.env.FILESERVER_URL || 'http://localhost:8080';

const config = { wifi_ssid: 'MyNetwork', update_interval: 60, sensors: ['temp', 'humidity'] };
const [env] = await smartsend('/device/config',
  [{ dataname: 'config', data: config, type: 'dictionary' }],
  { natsUrl, fileserverUrl, receiverName: 'device-7', msgPurpose: 'updateStatus' });
console.log(JSON.stringify({ msg_id: env.msg_id }));
