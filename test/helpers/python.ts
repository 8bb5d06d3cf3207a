/** Tests find Python the same way the tooling does (scripts/find-libtorch.js). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { findPython } = require('../../scripts/find-libtorch.js') as { findPython: (modules?: string[]) => string | null };
