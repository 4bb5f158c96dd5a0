// SPDX-License-Identifier: MIT
// static.mjs DIR - serves the files under DIR (the example page and its node_modules) over
// HTTP on a free loopback port, GET and HEAD only, and prints "http://127.0.0.1:PORT" on its
// first line. The page is served from an origin other than the file server's, so that the
// browser test goes through CORS exactly as a real deployment does.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';

const root = resolve(process.argv[2] || '.');
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.png': 'image/png',
};

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = resolve(join(root, path.endsWith('/') ? `${path}index.html` : path));
  let st = null;
  try { st = (file === root || file.startsWith(root + sep)) ? statSync(file) : null; } catch { st = null; }
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !st?.isFile()) {
    res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream',
    'Content-Length': st.size, 'Cache-Control': 'no-store' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
