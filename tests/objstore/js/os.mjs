// SPDX-License-Identifier: MIT
// os.mjs - the nats.js side of the Object Store interop tests (nats 2.29.3, js.views.os).
//   node os.mjs JS_DIR SERVER_URL put BUCKET NAME FILE   puts FILE's bytes as NAME
//   node os.mjs JS_DIR SERVER_URL get BUCKET NAME FILE   gets NAME into FILE
//   node os.mjs JS_DIR SERVER_URL link BUCKET NAME TBUCKET/TNAME   NAME links to that object
//   node os.mjs JS_DIR SERVER_URL linkbucket BUCKET NAME TBUCKET   NAME links to that bucket
// JS_DIR holds node_modules (tests/interop/js). Prints one JSON line:
// {"size":N,"sha256":"<hex of the bytes>","digest":"<the info's digest>"}; exits 1 on error.
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [jsDir, server, op, bucket, name, file] = process.argv.slice(2);
const ops = ["put", "get", "link", "linkbucket"];
if (!file || !ops.includes(op)) {
  console.error("usage: node os.mjs JS_DIR SERVER_URL put|get|link|linkbucket BUCKET NAME ARG");
  process.exit(2);
}
const require = createRequire(join(jsDir, "package.json"));
const { connect } = require("nats");

const hex = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function put(os) {
  const data = readFileSync(file);
  const info = await os.putBlob({ name }, new Uint8Array(data));
  return { size: info.size, sha256: hex(data), digest: info.digest };
}

async function get(os) {
  const r = await os.get(name);
  if (r === null) throw new Error(`object ${name} not found`);
  const parts = [];
  for await (const chunk of r.data) parts.push(chunk);
  const err = await r.error;
  if (err) throw err;
  const data = Buffer.concat(parts);
  writeFileSync(file, data);
  return { size: data.length, sha256: hex(data), digest: r.info.digest };
}

async function link(js, os) {
  const slash = file.indexOf("/");
  const target = await js.views.os(file.slice(0, slash));
  const info = await target.info(file.slice(slash + 1));
  if (info === null) throw new Error(`link target ${file} not found`);
  await os.link(name, info);
  return { size: 0, sha256: "", digest: "" };
}

async function linkBucket(js, os) {
  await os.linkStore(name, await js.views.os(file));
  return { size: 0, sha256: "", digest: "" };
}

const nc = await connect({ servers: server, timeout: 5000 });
try {
  const js = nc.jetstream();
  const os = await js.views.os(bucket);
  const run = { put: () => put(os), get: () => get(os), link: () => link(js, os),
                linkbucket: () => linkBucket(js, os) }[op];
  console.log(JSON.stringify(await run()));
} catch (e) {
  console.error(`os.mjs ${op} ${bucket}/${name}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await nc.close();
}
