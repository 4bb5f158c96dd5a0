// SPDX-License-Identifier: MIT
// secure.test.mjs - the binding against secured nats-servers with every connection option of
// the C library (issue 14): token, NKey seed file, .creds file and the same credentials from
// memory, TLS with a private CA and an expected host name, mutual TLS, and their error paths
// (wrong or damaged seed, expired or foreign creds, refused client certificate, missing and
// unreadable files). tests/security/run_lib.sh makes the material and starts one server per method
// (SEC_URL_<method>, SEC_PORT_<method>, SEC_M); every error, util.inspect output and envelope is
// checked against SEC_M/secrets, and run_lib.sh greps this run's output as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { nb, NB_CLI, TMP, nextOf, start, waitText } from './helpers.mjs';

const { Client, smartsend } = nb;

function sec(name) {
  const v = process.env[`SEC_${name}`];
  if (!v) throw new Error(`SEC_${name} is not set: run through tests/security/run_lib.sh (ctest -L node)`);
  return v;
}
const M = sec('M');
const file = (name) => path.join(M, name);
const url = (method) => sec(`URL_${method}`);
const tlsUrl = (method) => `tls://127.0.0.1:${sec(`PORT_${method}`)}`;
const SECRETS = fs.readFileSync(file('secrets'), 'utf8').split('\n').filter((l) => l.trim() !== '');
const readLine = (name) => fs.readFileSync(file(name), 'utf8').trim();

// Fails when text holds a secret, naming its line in the list (never the secret).
function clean(what, text) {
  const i = SECRETS.findIndex((s) => text.includes(s));
  assert.ok(i < 0, `${what} holds secret #${i + 1} of ${file('secrets')}`);
}

// A Client subscribes and smartsend (its own connection) sends, both with opts (the payload
// by link through the file server when link); the message arrives, and neither util.inspect
// nor the envelopes hold a secret or a URL's userinfo.
async function roundtrip(what, natsUrl, opts, { link = false } = {}) {
  const c = await Client.connect({ natsUrl, connectTimeout: 5000, ...opts });
  try {
    const s = `sec.node.${what}.${process.pid}`;
    const sub = c.subscribe(s);
    await c.flush();
    const sent = await smartsend(s, [{ dataname: 'w', type: 'text', data: `hello ${what}` }],
      { natsUrl, connectTimeout: 5000, ...opts, link: link ? ['w'] : [] });
    const got = await nextOf(sub);
    assert.equal(got.payloads[0].data, `hello ${what}`);
    assert.equal(got.payloads[0].transport, link ? 'link' : 'direct', `${what}: transport`);
    clean(`${what}: util.inspect(client)`, util.inspect(c, { depth: 6, showHidden: true }));
    clean(`${what}: util.inspect(subscription)`, util.inspect(sub, { depth: 6 }));
    for (const [label, env] of [['sent', sent], ['received', got]]) {
      clean(`${what}: the envelope ${label}`, JSON.stringify(env));
      clean(`${what}: util.inspect(envelope ${label})`, util.inspect(env, { depth: 6 }));
      assert.ok(!env.broker_url.includes('@'), `${what}: broker_url ${env.broker_url} carries userinfo`);
    }
  } finally {
    await c.close();
  }
}

// Client.connect (or smartsend with send: true, by link with link: true) rejects with code (NB_CONNECTION by default)
// and a message holding every word of words (case-insensitive); the message, the stack and
// util.inspect(error) hold no secret.
async function refused(what, words, opts, { code = 'NB_CONNECTION', send = false, link = false } = {}) {
  const o = { connectTimeout: 3000, ...opts, ...(link ? { link: ['w'] } : {}) };
  const p = send ? smartsend('sec.node.refused', [{ dataname: 'w', type: 'text', data: 'x' }], o)
    : Client.connect(o).then((c) => c.close());
  await assert.rejects(p, (e) => {
    assert.equal(e.code, code, `${what}: code of "${e.message}"`);
    for (const w of words) assert.match(e.message, new RegExp(w, 'i'), `${what}: the message does not name ${w}`);
    clean(`${what}: the message`, e.message);
    clean(`${what}: the stack`, String(e.stack));
    clean(`${what}: util.inspect(error)`, util.inspect(e, { showHidden: true }));
    return true;
  }, `${what}: not refused`);
}

// The user JWT and the NKey seed of a .creds file: the line after each BEGIN line.
function credsParts(name) {
  const lines = fs.readFileSync(file(name), 'utf8').split('\n');
  const after = (begin) => (lines[lines.findIndex((l) => l.includes(begin)) + 1] || '').trim();
  const parts = { credsJwt: after('BEGIN NATS USER JWT'), credsSeed: after('BEGIN USER NKEY SEED') };
  assert.ok(parts.credsJwt && parts.credsSeed, `${name} holds no user JWT and seed`);
  return parts;
}

const INVALID = { code: 'NB_INVALID_ARG' };

// The CLI's file server over HTTPS (the fixture's server certificate) wanting the fixture's
// token for uploads (from a file: not on a command line); resolves to [its URL, the process].
async function httpsFileserver() {
  const token = path.join(TMP, 'fs-token');
  fs.writeFileSync(token, `${sec('TOKEN')}\n`);
  const p = start(NB_CLI, ['fileserver', '--listen', '127.0.0.1:0', '--dir', path.join(TMP, 'fs-https'),
    '--tls-cert', file('server.pem'), '--tls-key', file('server.key'), '--token-file', token, '--quiet']);
  await waitText(p, 'listening on https://');
  return [/listening on (\S+)/.exec(p.out + p.err)[1], p];
}

test('token: round trip; a wrong token refused without naming it', async () => {
  const natsUrl = url('token');
  await roundtrip('token', natsUrl, { token: sec('TOKEN') });
  await refused('a wrong token', ['token', 'refused'], { natsUrl, token: sec('BAD_TOKEN') });
});

test('NKey seed file: round trip; wrong, damaged, missing and unreadable seeds refused', async () => {
  const natsUrl = url('nkey');
  await roundtrip('nkey', natsUrl, { nkeySeedFile: file('nkey.seed') });
  await refused('no credentials', ['authorization'], { natsUrl });
  await refused('a seed the server does not know', ['nkey', 'refused'],
    { natsUrl, nkeySeedFile: file('nkey-other.seed') });
  await refused('smartsend with a seed the server does not know', ['nkey', 'refused'],
    { natsUrl, nkeySeedFile: file('nkey-other.seed') }, { send: true });
  // One character changed: the checksum fails. The damaged seed must not be repeated either.
  const seed = readLine('nkey.seed');
  const damaged = seed.slice(0, 20) + (seed[20] === 'A' ? 'B' : 'A') + seed.slice(21);
  const bad = path.join(TMP, 'damaged.seed');
  fs.writeFileSync(bad, `${damaged}\n`);
  SECRETS.push(damaged);
  await refused('a damaged seed', ['damaged\\.seed', 'checksum'], { natsUrl, nkeySeedFile: bad }, INVALID);
  await refused('a file with no seed (a certificate)', ['ca\\.pem', 'no user seed'],
    { natsUrl, nkeySeedFile: file('ca.pem') }, INVALID);
  await refused('a missing seed file', ['no-such\\.seed', 'cannot read'],
    { natsUrl, nkeySeedFile: file('no-such.seed') }, INVALID);
  // Tests run as root, for whom no mode bit makes a file unreadable: a directory is.
  await refused('an unreadable seed file (a directory)', ['not a regular file'],
    { natsUrl, nkeySeedFile: M }, INVALID);
  await refused('a seed and creds at once', ['exclude each other'],
    { natsUrl, nkeySeedFile: file('nkey.seed'), credsFile: file('user.creds') }, INVALID);
});

test('creds: file, from memory (credsJwt/credsSeed), over TLS; expired, foreign and broken creds refused', async () => {
  const natsUrl = url('operator');
  const mem = credsParts('user.creds');
  await roundtrip('credsfile', natsUrl, { credsFile: file('user.creds') });
  await roundtrip('credsmemory', natsUrl, mem);
  // The production set-up (a natscli context's): TLS with a private CA plus a .creds file.
  await roundtrip('credstls', tlsUrl('tlscreds'), { credsFile: file('user.creds'), tlsCaFile: file('ca.pem') });
  await refused('no credentials', ['authorization'], { natsUrl });
  await refused('expired creds', ['creds', 'refused'], { natsUrl, credsFile: file('expired.creds') });
  await refused('creds of an account the operator never signed', ['creds', 'refused'],
    { natsUrl, credsFile: file('stranger.creds') });
  await refused('smartsend with expired creds', ['creds', 'refused'],
    { natsUrl, credsFile: file('expired.creds') }, { send: true });
  await refused("a JWT with another user's seed", ['creds', 'refused'],
    { natsUrl, credsJwt: mem.credsJwt, credsSeed: readLine('nkey.seed') });
  await refused('a JWT that is not one', ['not a JWT'],
    { natsUrl, credsJwt: 'not-a-jwt', credsSeed: mem.credsSeed }, INVALID);
  await refused('a seed that is not one', ['not a user NKey seed'],
    { natsUrl, credsJwt: mem.credsJwt, credsSeed: 'SUnot-a-seed' }, INVALID);
  await refused('a JWT without its seed', ['not a user NKey seed'], { natsUrl, credsJwt: mem.credsJwt }, INVALID);
  await refused('a creds file with no JWT (a seed file)', ['nkey\\.seed', 'no user JWT'],
    { natsUrl, credsFile: file('nkey.seed') }, INVALID);
  await refused('a missing creds file', ['no-such\\.creds', 'cannot read'],
    { natsUrl, credsFile: file('no-such.creds') }, INVALID);
  await refused('an unreadable creds file (a directory)', ['not a regular file'], { natsUrl, credsFile: M }, INVALID);
  await refused('creds as a file and from memory', ['both as a file and from memory'],
    { natsUrl, credsFile: file('user.creds'), ...mem }, INVALID);
});

test('TLS: private CA, expected host name, tlsRequired; wrong CA, host name and plain server refused', async () => {
  const natsUrl = url('tls');
  await roundtrip('tlsca', tlsUrl('tls'), { tlsCaFile: file('ca.pem') });
  await roundtrip('tlshost', natsUrl, { tlsCaFile: file('ca.pem'), tlsHostname: 'localhost', tlsRequired: true });
  await refused('a host name the certificate does not carry', ['TLS', 'hostname'],
    { natsUrl, tlsCaFile: file('ca.pem'), tlsHostname: 'not-this-server.invalid' });
  await refused('no CA', ['certificate', 'tlsCaFile|tls_ca_file'], { natsUrl: tlsUrl('tls') });
  await refused('another CA', ['certificate', 'CA'], { natsUrl: tlsUrl('tls'), tlsCaFile: file('ca2.pem') });
  await refused('TLS required of a plain server', ['TLS'], { natsUrl: url('plain'), tlsRequired: true });
  // The connection's name, as the server's monitoring shows it.
  const named = await Client.connect({ natsUrl: url('plain'), connectionName: 'nbtest-node-name' });
  try {
    const connz = await (await fetch(`${sec('MON_plain')}/connz`)).json();
    assert.ok(connz.connections.some((c) => c.name === 'nbtest-node-name'), 'connectionName not in /connz');
  } finally {
    await named.close();
  }
  await refused('a missing CA file', ['no-such-ca\\.pem'], { natsUrl, tlsCaFile: file('no-such-ca.pem') }, INVALID);
});

test('file server over HTTPS: private CA and upload token; a wrong token and another CA refused', async () => {
  const [fileserverUrl, server] = await httpsFileserver();
  try {
    const natsUrl = url('plain');
    const fsOpts = { fileserverUrl, fileserverCaFile: file('ca.pem'), fileserverToken: sec('TOKEN') };
    await roundtrip('fshttps', natsUrl, fsOpts, { link: true });
    await refused('an upload with a wrong token', ['HTTP 401'],
      { natsUrl, fileserverUrl, fileserverCaFile: file('ca.pem'), fileserverToken: sec('BAD_TOKEN') },
      { code: 'NB_HTTP', send: true, link: true });
    await refused("the file server's certificate of another CA", ['certificate could not be verified'],
      { natsUrl, fileserverUrl, fileserverCaFile: file('ca2.pem'), fileserverToken: sec('TOKEN') },
      { code: 'NB_HTTP', send: true, link: true });
  } finally {
    server.kill();
    await server.exited;
  }
  clean("the file server's output", server.out + server.err);
});

test('mutual TLS: client certificate and key; none, another CA, a wrong key, missing files refused', async () => {
  const natsUrl = tlsUrl('mtls');
  const ca = { tlsCaFile: file('ca.pem') };
  await roundtrip('mtls', natsUrl, { ...ca, tlsCertFile: file('client.pem'), tlsKeyFile: file('client.key') });
  await refused('no client certificate', ['client'], { natsUrl, ...ca });
  const other = { natsUrl, ...ca, tlsCertFile: file('client2.pem'), tlsKeyFile: file('client2.key') };
  await refused('a client certificate of another CA', ['certificate'], other);
  await refused('smartsend with a client certificate of another CA', ['certificate'], other, { send: true });
  await refused("a key that is not the certificate's", ['options were refused'],
    { natsUrl, ...ca, tlsCertFile: file('client.pem'), tlsKeyFile: file('client2.key') }, INVALID);
  await refused('a certificate without its key', ['give both'], { natsUrl, tlsCertFile: file('client.pem') }, INVALID);
  await refused('a missing key file', ['no-such\\.key', 'cannot read'],
    { natsUrl, tlsCertFile: file('client.pem'), tlsKeyFile: file('no-such.key') }, INVALID);
  await refused('an unreadable key file (a directory)', ['not a regular file'],
    { natsUrl, tlsCertFile: file('client.pem'), tlsKeyFile: M }, INVALID);
  // The file server's client certificate: the same pair, checked when given.
  await refused('a file-server certificate without its key', ['needs both'],
    { natsUrl, ...ca, fileserverCertFile: file('client.pem') }, INVALID);
  await refused('a missing file-server key', ['no-such-fs\\.key', 'cannot read'],
    { natsUrl, ...ca, fileserverCertFile: file('client.pem'), fileserverKeyFile: file('no-such-fs.key') }, INVALID);
});
