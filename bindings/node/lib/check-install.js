// SPDX-License-Identifier: MIT
// check-install.js - npm's install step: nothing is compiled or downloaded here (the addon is
// built by CMake with the C library); it only checks that the addon can be found and loaded,
// so that a missing build is reported at install time with what to do.
'use strict';

const { load } = require('./addon.js');

try {
  const addon = load();
  console.log(`natsbridge: using libnatsbridge ${addon.version()}`);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
