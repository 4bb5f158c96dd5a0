// SPDX-License-Identifier: MIT
// app.mjs - the example page: connects to nats-server's WebSocket listener with nats.ws
// (from this folder's node_modules, never a CDN), sends the text and image typed / chosen
// as a request (`natsbridge reply` answers), and shows every envelope that arrives on the
// listen subject (`natsbridge send` pushes to it): text, images rendered from their bytes,
// dictionaries and jsontables.
import { connect } from './node_modules/nats.ws/esm/nats.js';
import { smartreceive, smartrequest, sha256hex } from './natsbridge-web.mjs';

const q = new URLSearchParams(location.search);
const cfg = {
  ws: q.get('ws') || 'ws://127.0.0.1:9222',
  fileserverUrl: q.get('fs') || 'http://127.0.0.1:8080',
  subject: q.get('subject') || 'chat.requests', // where requests go
  listen: q.get('listen') || 'chat.web',        // what this page shows as it arrives
  // A token in a page is visible to whoever opens it: give each user their own.
  token: q.get('token') || '',
  sizeThreshold: Number(q.get('threshold') || 1000000),
};
const $ = (id) => document.getElementById(id);

function status(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

// The image's MIME type from its first bytes (a Blob needs one to render).
function imageType(b) {
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49) return 'image/gif';
  if (b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  return 'application/octet-stream';
}

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function renderTable(rows) {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r ?? {})))];
  const fmt = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return el('table', { className: 'jsontable' },
    el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { textContent: c })))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...cols.map((c) => el('td', { textContent: fmt(r?.[c]) }))))));
}

function renderPayload(p) {
  const box = el('div', { className: `payload ${p.type}` });
  box.dataset.dataname = p.dataname;
  box.dataset.sha256 = p.sha256;
  box.dataset.transport = p.transport;
  box.append(el('small', { textContent: `${p.dataname} (${p.type}, ${p.bytes.length} bytes, ${p.transport}) ` }));
  if (p.type === 'text') box.append(el('p', { className: 'text', textContent: p.data }));
  else if (p.type === 'dictionary') {
    const dict = p.data && typeof p.data === 'object' && !Array.isArray(p.data) ? p.data : { value: p.data };
    box.append(el('dl', {}, ...Object.entries(dict).flatMap(([k, v]) =>
      [el('dt', { textContent: k }), el('dd', { textContent: JSON.stringify(v) })])));
  } else if (p.type === 'jsontable') box.append(renderTable(p.data));
  else if (p.type === 'image' || imageType(p.bytes).startsWith('image/')) {
    const url = URL.createObjectURL(new Blob([p.bytes], { type: imageType(p.bytes) }));
    box.append(el('img', { src: url, alt: p.dataname }));
  } else box.append(el('span', { textContent: `${p.type} payload, not shown` }));
  return box;
}

function renderEnvelope(env, label) {
  const box = el('section', { className: 'msg' },
    el('header', { textContent: `${label} from ${env.sender_name || '?'} · ${env.timestamp || ''}` }),
    ...env.payloads.map(renderPayload));
  box.dataset.msgId = env.msg_id;
  $('messages').prepend(box);
  return box;
}

async function readFile(input) {
  const f = input.files?.[0];
  return f ? { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } : null;
}

// Sends the form as a request and checks that the echo carries the same text and bytes.
async function sendRequest(nc) {
  const text = $('text').value;
  const image = await readFile($('image'));
  const payloads = [];
  if (text) payloads.push({ dataname: 'text', type: 'text', data: text });
  if (image) payloads.push({ dataname: image.name, type: 'image', data: image.bytes });
  if (!payloads.length) return status('type a message or choose an image first', true);
  status(`sending ${payloads.length} payload(s) to ${cfg.subject}…`);
  const sentSha = image ? await sha256hex(image.bytes) : '';
  const { reply } = await smartrequest(cfg.subject, payloads, { nc, ...cfg });
  const box = renderEnvelope(reply, 'reply');
  const gotText = reply.payloads.find((p) => p.type === 'text')?.data ?? '';
  const gotImage = reply.payloads.find((p) => p.type === 'image');
  const same = gotText === text && (!image || gotImage?.sha256 === sentSha);
  box.dataset.check = same ? 'equal' : 'different';
  box.append(el('p', { className: 'check', textContent: same
    ? `reply matches: text equal${image ? `, image SHA-256 equal (${sentSha.slice(0, 16)}…)` : ''}`
    : 'reply differs from the request' }));
  status(same ? 'reply received' : 'reply received, but it differs', !same);
}

async function main() {
  const nc = await connect({ servers: cfg.ws, name: 'natsbridge-web-example' });
  const sub = nc.subscribe(cfg.listen);
  (async () => {
    for await (const msg of sub) {
      try {
        renderEnvelope(await smartreceive(msg), `on ${cfg.listen}`);
      } catch (e) {
        status(`a message on ${cfg.listen} was refused: ${e.message}`, true);
      }
    }
  })();
  await nc.flush();
  $('chat').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendRequest(nc).catch((e) => status(e.message, true));
  });
  $('send').disabled = false;
  document.body.dataset.ready = 'true';
  status(`connected to ${cfg.ws}; showing ${cfg.listen}, requests go to ${cfg.subject}`);
}

main().catch((e) => status(`cannot connect to ${cfg.ws}: ${e.message}`, true));
