#!/usr/bin/env node
'use strict';
/**
 * `npm install` entry: find LibTorch (scripts/find-libtorch.js), or, when there is none, create the
 * project-local Python environment .venv/ and `pip install torch` into it; then build the addon with cmake-js.
 *   --build-only   do not create .venv; fail if LibTorch is not found
 *   --debug        Debug build
 * Environment: WAV2VEC2_SKIP_BUILD=1 skips everything (for packaging), WAV2VEC2_TORCH_SPEC overrides the pip
 * requirement (default "torch"; numpy is installed beside it), PYTHON picks the interpreter that creates .venv.
 * WAV2VEC2_NODE_HEADERS=DIR builds with plain CMake instead of cmake-js, taking the headers from DIR/node-api
 * (node-api-headers' include/) and DIR/node-addon-api: for a machine without node_modules (scripts/gpu-check).
 * `npx wav2vec2 setup` runs this same script where npm did not run install scripts.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { find, VENV_PYTHON, ROOT } = require('./find-libtorch');

const args = new Set(process.argv.slice(2));
const log = (msg) => process.stderr.write(`wav2vec2-node: ${msg}\n`);

function run(cmd, argv, opts = {}) {
  log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw new Error(`${cmd} could not be started: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with status ${r.status}`);
}

function createVenv() {
  const python = process.env.PYTHON || 'python3';
  if (!fs.existsSync(VENV_PYTHON)) {
    try {
      run(python, ['-m', 'venv', path.join(ROOT, '.venv')]);
    } catch (err) {
      // A half-made .venv (python3 without ensurepip: Debian's python3-venv) would be taken as made next time.
      fs.rmSync(path.join(ROOT, '.venv'), { recursive: true, force: true });
      throw new Error(`${err.message} (on Debian/Ubuntu: apt-get install python3-venv)`);
    }
  }
  const spec = process.env.WAV2VEC2_TORCH_SPEC || 'torch';
  // numpy: torch warns at import without it, and the tests' Python references (and the benchmarks) use it.
  run(VENV_PYTHON, ['-m', 'pip', 'install', '--disable-pip-version-check', spec, 'numpy']);
}

const buildType = () => (args.has('--debug') ? 'Debug' : 'Release');
const parallel = () => String(Math.max(1, require('node:os').availableParallelism?.() ?? 2));

function buildWithCmakeJs(found) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const argv = [cmakeJs, 'compile', '--CDTorch_DIR=' + found.cmakeDir, '--parallel', parallel()];
  if (args.has('--debug')) argv.push('--debug');
  run(process.execPath, argv);
}

/** What cmake-js does on Linux, without it: same CMakeLists.txt, same output folder (build/Release). */
function buildWithCmake(found, headers) {
  const dir = path.join(ROOT, 'build');
  const ninja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;
  run('cmake', ['-S', ROOT, '-B', dir, ...(ninja ? ['-G', 'Ninja'] : []), `-DCMAKE_BUILD_TYPE=${buildType()}`,
    `-DTorch_DIR=${found.cmakeDir}`, `-DCMAKE_JS_INC=${path.join(headers, 'node-api')}`,
    `-DNODE_ADDON_API_DIR=${path.join(headers, 'node-addon-api')}`, `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${path.join(dir, buildType())}`]);
  run('cmake', ['--build', dir, '--parallel', parallel()]);
}

function main() {
  if (process.env.WAV2VEC2_SKIP_BUILD === '1') return log('WAV2VEC2_SKIP_BUILD=1: not building the addon');
  let { found, tried } = find();
  if (!found && !args.has('--build-only')) {
    log(`LibTorch not found (${tried.join('; ')}); creating .venv/ with the torch pip package`);
    try {
      createVenv();
    } catch (err) {
      log(`could not install torch into .venv: ${err.message}`);
    }
    ({ found, tried } = find());
  }
  if (!found) {
    log(`LibTorch not found. Tried:\n  - ${tried.join('\n  - ')}\n` +
      'Fix one of: set LIBTORCH=/path/to/libtorch (unpacked zip); set Torch_DIR=/path/to/share/cmake/Torch; ' +
      '`python3 -m pip install torch`; or let `node scripts/install.js` create .venv/ (needs python3 with venv and pip).');
    process.exit(1);
  }
  log(`LibTorch ${found.version || ''} from ${found.how}: ${found.root}${found.cuda ? ' (CUDA)' : ' (CPU only)'}`);
  const headers = process.env.WAV2VEC2_NODE_HEADERS;
  if (headers) buildWithCmake(found, path.resolve(headers));
  else buildWithCmakeJs(found);
  const out = path.join(ROOT, 'build', buildType(), 'wav2vec2.node');
  if (!fs.existsSync(out)) throw new Error(`the build finished but ${out} is missing`);
  log(`built ${path.relative(ROOT, out)}`);
}

try {
  main();
} catch (err) {
  log(err.message);
  process.exit(1);
}
