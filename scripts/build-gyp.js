#!/usr/bin/env node
'use strict';
/**
 * `npm run build:gyp`: builds the addon with node-gyp from binding.gyp instead of cmake-js. Both write
 * build/Release/wav2vec2.node; this one first checks LibTorch so a missing library gives our message,
 * not a gyp stack trace.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { find, ROOT } = require('./find-libtorch');

const { found, tried } = find();
if (!found) {
  process.stderr.write(`wav2vec2-node: LibTorch not found. Tried:\n  - ${tried.join('\n  - ')}\nRun \`node scripts/install.js\` first.\n`);
  process.exit(1);
}
// binding.gyp lists its sources by hand (gyp has no glob); CMakeLists.txt takes every native/*.cc. Keep them equal.
const fs = require('node:fs');
const listed = new Set([...fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8').matchAll(/"(native\/[^"]+\.cc)"/g)].map((m) => m[1]));
const missing = ['native', 'native/builder'].flatMap((dir) =>
  fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.cc')).map((f) => `${dir}/${f}`)).filter((f) => !listed.has(f));
if (missing.length) {
  process.stderr.write(`wav2vec2-node: binding.gyp does not list ${missing.join(', ')}: add them to its "sources".\n`);
  process.exit(1);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const argv = [gyp, 'rebuild', '--jobs', 'max', ...process.argv.slice(2)];
process.stderr.write(`wav2vec2-node: node-gyp build against LibTorch ${found.version || ''} (${found.root})\n`);
const r = spawnSync(process.execPath, argv, { stdio: 'inherit', cwd: ROOT });
process.exit(r.status ?? 1);
