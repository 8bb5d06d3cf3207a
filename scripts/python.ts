/** Typed access to scripts/find-libtorch.js's findPython, for TypeScript tooling, benchmarks and tests. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { findPython } = require('./find-libtorch.js') as { findPython: (modules?: string[]) => string | null };
