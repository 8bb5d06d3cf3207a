/**
 * The CUDA tests, run by a bundled mocha (no node_modules on the GPU machine): test/native/cuda.test.ts and the
 * CUDA section of test/builder/dtype.test.ts, the same files `npm run test:native` runs, selected by suite title.
 */
import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';

const CUDA_SUITES = /^(CUDA|native builder: CUDA) /;

export interface TestSummary {
  passes: number;
  failures: number;
  pending: number;
  tests: number;
}

/**
 * Runs the CUDA suites (they skip, saying why, where no GPU is visible); writes the counts to `jsonOut`. `grep`
 * picks other suites of the same two files (e.g. the CPU section, to check the bundle itself on a machine without one).
 */
export function runCudaTests(jsonOut: string, grep: RegExp = CUDA_SUITES): Promise<TestSummary> {
  const mocha = new Mocha({ reporter: 'spec', timeout: 120_000, color: false, grep });
  // What mocha's CLI does before it loads a spec file: define describe/it/before on the global object.
  mocha.suite.emit('pre-require', globalThis, 'scripts/gpu-check/tests.ts', mocha);
  /* eslint-disable @typescript-eslint/no-require-imports */
  require('../../test/native/cuda.test');
  require('../../test/builder/dtype.test');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new Promise((resolve) => {
    const runner = mocha.run(() => {
      const s = runner.stats!;
      const summary = { passes: s.passes, failures: s.failures, pending: s.pending, tests: s.tests };
      writeFileSync(jsonOut, JSON.stringify(summary, null, 2) + '\n');
      resolve(summary);
    });
  });
}
