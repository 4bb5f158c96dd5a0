// SPDX-License-Identifier: MIT
// natsbridge.mjs - the ESM entry of the Node.js binding (the API is in natsbridge.js).
import cjs from './natsbridge.js';

export const { smartsend, smartreceive, Client, Subscription, Consumer, version } = cjs;
export default cjs;
