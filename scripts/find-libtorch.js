#!/usr/bin/env node
'use strict';
/**
 * Finds LibTorch for the build, in this order:
 *   1. LIBTORCH   an unpacked libtorch (the folder with include/, lib/, share/cmake/Torch)
 *   2. Torch_DIR  a folder holding TorchConfig.cmake
 *   3. the `torch` package of `python3` (or of $PYTHON)
 *   4. the `torch` package of the project-local environment .venv/ (made by scripts/install.js)
 * Prints JSON to stdout (`--json`, the default) or one field (`--include`, `--lib`, `--cmake-dir`, `--abi`,
 * `--cuda`, `--python`) for binding.gyp. Exits 1 with a message that says what was tried when nothing is found.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const VENV_PYTHON = path.join(ROOT, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');

function fromRoot(root, how) {
  const cmakeDir = path.join(root, 'share', 'cmake', 'Torch');
  if (!fs.existsSync(path.join(cmakeDir, 'TorchConfig.cmake'))) return null;
  const lib = path.join(root, 'lib');
  const include = [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')];
  const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
  return { how, root, cmakeDir, include, lib, cuda, abi: readAbi(root), python: null, version: readVersion(root) };
}

// Old libtorch zips come in two C++ ABIs; the build must use the same _GLIBCXX_USE_CXX11_ABI as the library.
function readAbi(root) {
  for (const f of [path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), path.join(root, 'share', 'cmake', 'Caffe2', 'Caffe2Config.cmake')]) {
    try {
      const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(fs.readFileSync(f, 'utf8'));
      if (m) return Number(m[1]);
    } catch { /* not there */ }
  }
  return 1; // every torch since 2.7 is built with the new ABI only
}

function readVersion(root) {
  try {
    const m = /TORCH_VERSION\s+"([^"]+)"/.exec(fs.readFileSync(path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'), 'utf8'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function fromPython(python, how) {
  try {
    const out = execFileSync(python, ['-c',
      'import json, os, torch; print(json.dumps({"root": os.path.dirname(torch.__file__), "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__}))'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120000 });
    const info = JSON.parse(out.trim().split('\n').pop());
    const found = fromRoot(info.root, how);
    if (!found) return null;
    return { ...found, abi: info.abi, version: info.version, python };
  } catch {
    return null;
  }
}

function find() {
  const tried = [];
  if (process.env.LIBTORCH) {
    const r = fromRoot(path.resolve(process.env.LIBTORCH), 'LIBTORCH');
    if (r) return { found: r, tried };
    tried.push(`LIBTORCH=${process.env.LIBTORCH} (no share/cmake/Torch/TorchConfig.cmake there)`);
  } else tried.push('LIBTORCH (not set)');
  if (process.env.Torch_DIR) {
    // Torch_DIR points at share/cmake/Torch; the libtorch root is three levels up.
    const r = fromRoot(path.resolve(process.env.Torch_DIR, '..', '..', '..'), 'Torch_DIR');
    if (r) return { found: r, tried };
    tried.push(`Torch_DIR=${process.env.Torch_DIR} (no TorchConfig.cmake there)`);
  } else tried.push('Torch_DIR (not set)');
  const pythons = [process.env.PYTHON, 'python3'].filter(Boolean);
  for (const py of pythons) {
    const r = fromPython(py, `python:${py}`);
    if (r) return { found: r, tried };
    tried.push(`the torch package of ${py} (not importable)`);
  }
  if (fs.existsSync(VENV_PYTHON)) {
    const r = fromPython(VENV_PYTHON, 'venv');
    if (r) return { found: r, tried };
    tried.push(`the torch package of ${VENV_PYTHON} (not importable)`);
  } else tried.push(`the project environment ${path.relative(ROOT, VENV_PYTHON)} (not created)`);
  return { found: null, tried };
}

const pythonCache = new Map();

/**
 * A Python interpreter that can import every module in `modules` (default: torch), for tooling: benchmarks
 * against the Python reference, export scripts, tests that build models. Tried in order: $WAV2VEC2_PYTHON,
 * then the interpreters find() looks at for LibTorch, in its order ($PYTHON, python3, the project's .venv), so
 * the tooling runs the torch the addon was built against. Returns null when none can (callers skip, saying
 * what is missing).
 */
function findPython(modules = ['torch']) {
  const key = modules.join(',');
  if (pythonCache.has(key)) return pythonCache.get(key);
  const candidates = [process.env.WAV2VEC2_PYTHON, process.env.PYTHON, 'python3', VENV_PYTHON]
    .filter((p) => p && (p === 'python3' || fs.existsSync(p)));
  const code = modules.map((m) => `import ${m}`).join('; ') || 'pass';
  let found = null;
  for (const py of candidates) {
    try {
      execFileSync(py, ['-c', code], { stdio: 'ignore', timeout: 120000 });
      found = py;
      break;
    } catch { /* next */ }
  }
  pythonCache.set(key, found);
  return found;
}

/** Whether this LibTorch runs at::parallel_for on OpenMP (its ATen/Config.h says so). */
function usesOpenMP(found) {
  return found.include.some((dir) => {
    const config = path.join(dir, 'ATen', 'Config.h');
    return fs.existsSync(config) && /#define AT_PARALLEL_OPENMP 1/.test(fs.readFileSync(config, 'utf8'));
  });
}

/**
 * '-fopenmp' where our own at::parallel_for loops should be compiled as OpenMP regions (CMakeLists.txt says why):
 * LibTorch on OpenMP and node-gyp's compiler GCC (clang's OpenMP calls need libomp, which LibTorch does not load).
 */
function openmpCflags(found) {
  if (!usesOpenMP(found)) return '';
  try {
    const version = execFileSync(process.env.CXX || 'g++', ['--version'], { encoding: 'utf8', timeout: 30000 });
    return /clang/i.test(version) || !/GCC|Free Software Foundation/.test(version) ? '' : '-fopenmp';
  } catch {
    return '';
  }
}

module.exports = { find, findPython, VENV_PYTHON, ROOT };

if (require.main === module) {
  const { found, tried } = find();
  if (!found) {
    process.stderr.write(`wav2vec2-node: LibTorch not found. Tried:\n  - ${tried.join('\n  - ')}\n` +
      'Fix: set LIBTORCH to an unpacked libtorch, or Torch_DIR to its share/cmake/Torch, or `pip install torch` for python3, ' +
      'or run `node scripts/install.js` to create .venv/ with torch.\n');
    process.exit(1);
  }
  const arg = process.argv[2] || '--json';
  const fields = {
    '--include': () => found.include.join(' '),
    '--lib': () => found.lib,
    '--cmake-dir': () => found.cmakeDir,
    '--abi': () => String(found.abi),
    '--cuda': () => (found.cuda ? '1' : '0'),
    '--python': () => found.python || '',
    '--openmp-cflags': () => openmpCflags(found),
    '--json': () => JSON.stringify(found, null, 2),
  };
  if (!fields[arg]) {
    process.stderr.write(`usage: find-libtorch.js [${Object.keys(fields).join('|')}]\n`);
    process.exit(2);
  }
  process.stdout.write(fields[arg]() + '\n');
}
