// SPDX-License-Identifier: MIT
// helpers.mjs - what the node tests share: the servers run.sh started, child processes with
// bounded waits, and the package under test.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
export const PKG = path.join(ROOT, 'bindings/node');
export const JS_PEER_DIR = path.join(ROOT, 'tests/interop/js');
export const PY_PEER_DIR = path.join(ROOT, 'tests/interop/python');
export const natsUrl = process.env.NATS_URL;
export const fileserverUrl = process.env.FILESERVER_URL;
export const NB_CLI = process.env.NB_CLI;
export const TMP = process.env.NB_TEST_TMP;
if (!natsUrl || !fileserverUrl) throw new Error('run these tests through run.sh (ctest -L node)');

export const nb = createRequire(import.meta.url)(path.join(PKG, 'lib/natsbridge.js'));
export const arrow = createRequire(path.join(JS_PEER_DIR, 'package.json'))('apache-arrow');

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
export const subject = (name) => `node.${name}.${process.pid}.${++seq}`;

// A child process whose stdout/stderr are collected; .exited resolves to its status.
export function start(cmd, args, opts = {}) {
  const env = { ...process.env, ...(opts.env || {}) };
  // Under NB_SANITIZE only node loading the addon gets the preloaded ASan runtime (run.sh): not
  // the CLI (it links its own), python, or the nats.js peer (cwd JS_PEER_DIR).
  if (cmd !== process.execPath || opts.cwd === JS_PEER_DIR) delete env.LD_PRELOAD;
  const p = spawn(cmd, args, { cwd: opts.cwd, env });
  p.out = '';
  p.err = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.err += d; });
  p.exited = new Promise((resolve) => p.on('close', (code, signal) => resolve(code ?? signal)));
  return p;
}

// Waits (bounded) until the child's stdout or stderr holds text.
export async function waitText(p, text, ms = 60000) { // generous: a loaded machine, ASan
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (p.out.includes(text) || p.err.includes(text)) return;
    await sleep(20);
  }
  throw new Error(`'${text}' did not appear within ${ms} ms; stdout: ${p.out.slice(0, 2000)} stderr: ${p.err.slice(0, 2000)}`);
}

// Waits (bounded) for the child to exit; rejects naming its output when it fails or hangs.
export async function finish(p, ms = 90000) {
  let timer;
  const code = await Promise.race([p.exited,
    new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); })]);
  clearTimeout(timer);
  if (code === 'timeout') p.kill('SIGKILL');
  if (code !== 0) throw new Error(`${p.spawnargs.join(' ').slice(0, 300)} ended with ${code}; stderr: ${p.err.slice(0, 3000)}`);
  return p.out;
}

export const jsonLines = (text) => text.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));

// The next envelope of a subscription, or a rejection after ms.
export async function nextOf(sub, ms = 10000) {
  let timer;
  const r = await Promise.race([sub.next(),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`nothing on ${sub.subject} within ${ms} ms`)), ms); })]);
  clearTimeout(timer);
  if (r.done) throw new Error(`subscription on ${sub.subject} ended`);
  return r.value;
}
