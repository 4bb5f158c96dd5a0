// SPDX-License-Identifier: MIT
// browser_test.mjs CASE - drives Debian's chromium headless (playwright-core) through the
// example page (examples/web) against a real nats-server, file server and natsbridge, all
// started by run.sh, which passes them in the environment:
//   PAGE_URL   the page with its ?ws=&fs=&subject=&listen= settings
//   NB, NATS_URL, FS_URL, LISTEN   for `natsbridge send` (case push)
//   WORK       a scratch directory;  SHOT_DIR   where the screenshots go
// Cases:
//   echo  the page sends a 2 MB PNG (link) and a text (direct) as a request; `natsbridge
//         reply --echo` answers; the page checks the text and the image SHA-256, and so does
//         this script, from the image bytes the page rendered.
//   push  `natsbridge send` pushes a jsontable, a 2 MB image and a dictionary to the page,
//         which renders a table, the image and the dictionary.
import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const CHROMIUM = process.env.NB_TEST_CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 30000; // every wait is bounded
const env = (name) => process.env[name] || fail(`${name} is not set (run.sh sets it)`);

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}
function check(cond, msg) { if (!cond) fail(msg); }
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// ---- a real PNG of random pixels (incompressible, so its size is what we ask) ----------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function randomPng(width, height, seed) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let x = seed >>> 0;
  for (let i = 0; i < raw.length; i++) {
    if (i % (width * 3 + 1) === 0) continue; // filter byte 0: none
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32
    raw[i] = x & 0xff;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- the browser ------------------------------------------------------------------------------
async function openPage() {
  const profile = join(env('WORK'), 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  // An empty profile per run (--user-data-dir, which playwright passes for a persistent context).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    viewport: { width: 1000, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(env('PAGE_URL'));
  try {
    await page.waitForSelector('body[data-ready="true"]');
  } catch {
    fail(`the page did not connect: ${await page.textContent('#status')}\n${consoleLines.join('\n')}`);
  }
  return { browser, page, consoleLines };
}

// The SHA-256 of the bytes behind an <img> (its blob: URL), computed in the page.
async function imageSha(page, selector) {
  return page.$eval(selector, async (img) => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  });
}

async function shot(page, name) {
  const dir = env('SHOT_DIR');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

async function caseEcho({ page, consoleLines }) {
  const png = randomPng(820, 820, 15);
  check(png.length > 2000000, `the test image is ${png.length} bytes, not over 2 MB`);
  const text = 'Hello from the browser: ünïcødé ✓';
  await page.fill('#text', text);
  await page.setInputFiles('#image', { name: 'photo.png', mimeType: 'image/png', buffer: png });
  await page.click('#send');
  try {
    await page.waitForSelector('section.msg[data-check]');
  } catch {
    fail(`no reply rendered: ${await page.textContent('#status')}\n${consoleLines.join('\n')}`);
  }
  const reply = 'section.msg[data-check]';
  check(await page.getAttribute(reply, 'data-check') === 'equal',
    `the page says the reply differs: ${await page.textContent(reply)}`);
  check(await page.textContent(`${reply} .payload.text p.text`) === text, 'reply text differs');
  const img = `${reply} .payload.image img`;
  await page.waitForFunction((s) => document.querySelector(s)?.complete, img);
  check(await page.$eval(img, (i) => i.naturalWidth) === 820, 'the reply image did not render (naturalWidth)');
  check(await imageSha(page, img) === sha256(png), 'the rendered image bytes differ from the PNG sent');
  check(await page.getAttribute(`${reply} .payload.image`, 'data-transport') === 'link',
    'the 2 MB image did not come back by link');
  check(await page.getAttribute(`${reply} .payload.text`, 'data-transport') === 'direct',
    'the text did not come back direct');
  await shot(page, 'echo');
}

function natsbridgeSend(args) {
  return new Promise((res) => {
    execFile(env('NB'), args, { timeout: STEP_MS }, (err, stdout, stderr) =>
      res(err ? fail(`natsbridge ${args.join(' ')}: ${err.message}\n${stderr}`) : stdout));
  });
}

async function casePush({ page, consoleLines }) {
  const work = env('WORK');
  const rows = [{ city: 'Oslo', temp_c: -3.5, sunny: false }, { city: 'Lisbon', temp_c: 17, sunny: true },
    { city: 'Kyoto', temp_c: 9.25, sunny: null }];
  writeFileSync(join(work, 'rows.json'), JSON.stringify(rows));
  const png = randomPng(830, 830, 99);
  writeFileSync(join(work, 'photo.png'), png);
  await natsbridgeSend(['send', env('LISTEN'), '--server', env('NATS_URL'), '--fileserver', env('FS_URL'),
    '--sender-name', 'shell', '--file', `rows=${join(work, 'rows.json')}:jsontable`,
    '--file', `photo=${join(work, 'photo.png')}:image`, '--dict', 'settings={"units":"metric","n":3}']);
  try {
    await page.waitForSelector('section.msg table.jsontable');
  } catch {
    fail(`nothing rendered: ${await page.textContent('#status')}\n${consoleLines.join('\n')}`);
  }
  const cells = await page.$$eval('section.msg table.jsontable tbody tr',
    (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  const heads = await page.$$eval('section.msg table.jsontable th', (ths) => ths.map((th) => th.textContent));
  check(JSON.stringify(heads) === '["city","temp_c","sunny"]', `table header ${JSON.stringify(heads)}`);
  check(JSON.stringify(cells) === '[["Oslo","-3.5","false"],["Lisbon","17","true"],["Kyoto","9.25",""]]',
    `table cells ${JSON.stringify(cells)}`);
  const img = 'section.msg .payload.image img';
  await page.waitForFunction((s) => document.querySelector(s)?.complete, img);
  check(await page.$eval(img, (i) => i.naturalWidth) === 830, 'the pushed image did not render');
  check(await imageSha(page, img) === sha256(png), 'the pushed image bytes differ');
  check(await page.getAttribute('section.msg .payload.image', 'data-transport') === 'link',
    'the 2 MB image did not travel by link');
  const dict = await page.$$eval('section.msg .payload.dictionary dd', (dds) => dds.map((d) => d.textContent));
  check(JSON.stringify(dict) === '["\\"metric\\"","3"]', `dictionary ${JSON.stringify(dict)}`);
  await shot(page, 'push');
}

const cases = { echo: caseEcho, push: casePush };
const name = process.argv[2];
if (!cases[name]) fail(`unknown case '${name}' (echo or push)`);
const ctx = await openPage();
try {
  await cases[name](ctx);
} finally {
  await ctx.browser.close();
}
console.log(`PASS: browser ${name}`);
