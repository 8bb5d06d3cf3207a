/**
 * Our own parallel loops (at::parallel_for in native/builder/int8.cc and native/first_layer.cc) run on LibTorch's
 * OpenMP threads. at::parallel_for is a header template: where LibTorch is built on OpenMP, the loop is an OpenMP
 * region of our compilation, and without -fopenmp it ran on the calling thread alone, silently (the second core sat
 * idle for 40 % of an int8 forward pass). Nothing else fails when the flag is lost, so this pins it down.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDON_CANDIDATES } from '../../lib/model/native';
import { PACKAGE_ROOT } from '../../lib/paths';
import { requireAddon } from '../helpers/native';

describe('native parallel loops', function () {
  before(function () {
    requireAddon(this);
  });

  it("are OpenMP regions where LibTorch's are and the compiler is GCC (the addon calls GOMP_parallel)", () => {
    // The builds' own rule (CMakeLists.txt, binding.gyp): -fopenmp for an OpenMP LibTorch and GCC, nothing otherwise.
    const flags = execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts', 'find-libtorch.js'), '--openmp-cflags'], { encoding: 'utf8' }).trim();
    const addon = ADDON_CANDIDATES.find((f) => existsSync(f))!;
    // The name sits in the dynamic symbol table's strings: an undefined symbol, resolved at load against the OpenMP
    // runtime LibTorch loaded.
    assert.equal(readFileSync(addon).includes('GOMP_parallel'), flags === '-fopenmp', `find-libtorch.js --openmp-cflags: '${flags}'; ${addon}`);
  });
});
