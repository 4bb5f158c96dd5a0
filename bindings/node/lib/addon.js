// SPDX-License-Identifier: MIT
// addon.js - finds and loads natsbridge.node, the Node-API addon built by CMake.
'use strict';

const path = require('node:path');
const fs = require('node:fs');

// Where the addon may be, in order: named by the environment; next to package.json (what
// `cmake --install` lays out in <prefix>/lib/node_modules/natsbridge); the CMake build
// directory of the source tree this package sits in (`npm install ./bindings/node` links it).
function candidates() {
  const pkg = path.join(__dirname, '..');
  const list = [];
  if (process.env.NATSBRIDGE_NODE_ADDON) list.push(path.resolve(process.env.NATSBRIDGE_NODE_ADDON));
  list.push(path.join(pkg, 'natsbridge.node'));
  if (process.env.NATSBRIDGE_BUILD_DIR) {
    list.push(path.resolve(process.env.NATSBRIDGE_BUILD_DIR, 'bindings', 'node', 'natsbridge.node'));
  }
  list.push(path.join(pkg, '..', '..', 'build', 'bindings', 'node', 'natsbridge.node'));
  return list;
}

function load() {
  const tried = candidates();
  for (const file of tried) {
    if (fs.existsSync(file)) return require(file);
  }
  throw new Error('natsbridge: the addon natsbridge.node was not found; build it with ' +
    '`cmake -S . -B build && cmake --build build` in the natsbridge source tree, or set ' +
    'NATSBRIDGE_NODE_ADDON to its path. Looked in: ' + tried.join(', '));
}

module.exports = { load, candidates };
