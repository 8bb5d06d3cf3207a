#!/usr/bin/env node
'use strict';
/**
 * `npm run gpu:check` (issue #26), the part that runs here: fills the git-ignored folder .gpu-check/ with what the
 * GPU machine lacks (it has python3 with CUDA torch, nvcc, CMake and ninja, but no Node.js and no registry), then
 * prints the device `run` call that runs scripts/gpu-check/run.sh there.
 *   .gpu-check/gpu-check.js  scripts/gpu-check/main.ts bundled by esbuild with lib/, the test files and mocha
 *   .gpu-check/node.xz       this node binary, xz-compressed (run.sh unpacks it with python3's lzma)
 *   .gpu-check/headers/      node-api-headers' include/ and node-addon-api's headers, for a plain CMake build
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const PACK = path.join(ROOT, '.gpu-check');
const LIMIT_MIB = 64; // what may travel to the device machine: the working tree and the carried folders together
const log = (msg) => process.stderr.write(`gpu-check: ${msg}\n`);

/**
 * Test and library files find their fixtures and the addon from __dirname; in one bundle every file would get
 * the bundle's folder instead, so each file's __dirname becomes its own folder again, relative to the checkout.
 */
const keepDirname = {
  name: 'keep-dirname',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const rel = path.relative(ROOT, path.dirname(args.path)).split(path.sep).join('/');
      const text = fs.readFileSync(args.path, 'utf8');
      return { contents: text.replace(/\b__dirname\b/g, `require("node:path").join(__gpuCheckRoot, ${JSON.stringify(rel)})`), loader: 'ts' };
    });
  },
};

function bundle() {
  const out = path.join(PACK, 'gpu-check.js');
  return require('esbuild').build({
    entryPoints: [path.join(__dirname, 'main.ts')], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    banner: { js: 'var __gpuCheckRoot = require("node:path").resolve(__dirname, "..");' }, plugins: [keepDirname], logLevel: 'warning',
    // mocha's parallel mode resolves its worker files at run time; the check runs serially and never loads them.
    logOverride: { 'require-resolve-not-external': 'silent' },
  }).then(() => out);
}

/** The node binary, compressed; redone only when this node's version differs from the packed one's. */
function packNode() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the GPU machine is linux-x64; this node is ${process.platform}-${process.arch}`);
  const out = path.join(PACK, 'node.xz');
  const stamp = path.join(PACK, 'node.version');
  if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === process.version) return out;
  log(`compressing ${process.execPath} (${process.version}) with xz`);
  execFileSync('sh', ['-c', 'nice -n 19 xz -T0 -6 -c "$0" > "$1"', process.execPath, out], { stdio: 'inherit' });
  fs.writeFileSync(stamp, process.version);
  return out;
}

function copyHeaders() {
  const dirs = {
    'node-api': path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'include'),
    'node-addon-api': path.dirname(require.resolve('node-addon-api/package.json')),
  };
  for (const [name, from] of Object.entries(dirs)) {
    const to = path.join(PACK, 'headers', name);
    fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(to, { recursive: true });
    // Timestamps kept: a copy newer than the objects built from it would make an incremental build redo them all.
    for (const f of fs.readdirSync(from).filter((f) => f.endsWith('.h'))) fs.cpSync(path.join(from, f), path.join(to, f), { preserveTimestamps: true });
  }
}

/** Bytes that travel: tracked and untracked-not-ignored files (links travel as links) plus the carried folder. */
function travellingBytes() {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  const size = (p) => { try { return fs.lstatSync(p).size; } catch { return 0; } };
  const tree = files.reduce((n, f) => n + size(path.join(ROOT, f)), 0);
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? walk(path.join(d, e.name)) : size(path.join(d, e.name))), 0);
  return { tree, pack: walk(PACK) };
}

function printRunCall() {
  const call = { command: 'bash scripts/gpu-check/run.sh', carry: ['.gpu-check'], timeout_s: 540 };
  process.stdout.write(`\nReady. When a GPU is lent, make this device \`run\` call (one call; run.sh keeps itself within 8 minutes):\n\n${JSON.stringify(call, null, 2)}\n\n` +
    'It writes gpu-check.md, gpu-check.json and log.txt to $OUT. Then give the machine back (give_back) unless you rerun at once.\n');
}

async function main() {
  fs.mkdirSync(PACK, { recursive: true });
  const out = await bundle();
  log(`bundled ${path.relative(ROOT, out)} (${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
  packNode();
  copyHeaders();
  const { tree, pack } = travellingBytes();
  const mib = (n) => (n / 2 ** 20).toFixed(1);
  log(`travels: working tree ${mib(tree)} MiB + .gpu-check ${mib(pack)} MiB = ${mib(tree + pack)} MiB (limit ${LIMIT_MIB} MiB)`);
  if (tree + pack > LIMIT_MIB * 2 ** 20) throw new Error(`over the ${LIMIT_MIB} MiB the device machine accepts: ignore or remove untracked files`);
  printRunCall();
}

main().catch((err) => {
  log(err.message);
  process.exit(1);
});
