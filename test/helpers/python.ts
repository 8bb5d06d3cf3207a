/** Typed access to scripts/find-libtorch.js's findPython, and the skip every Python-backed test shares. */
import { findPython } from '../../scripts/python';

export { findPython };

/**
 * Returns a Python that imports every module in `modules`, or skips the test (or suite, from a before()) saying
 * which modules it needs and how to get them: `npm install` provides torch and numpy; the rest come from pip.
 */
export function requirePython(ctx: Mocha.Context, modules: string[]): string {
  const py = findPython(modules);
  if (py) return py;
  // eslint-disable-next-line no-console
  console.log(`      (skipped: needs a Python with ${modules.join(', ') || 'python3'}: ` +
    `\`.venv/bin/pip install ${modules.join(' ')}\`, or set WAV2VEC2_PYTHON to an interpreter that has them)`);
  ctx.skip();
  throw new Error('unreachable: skip() throws');
}
