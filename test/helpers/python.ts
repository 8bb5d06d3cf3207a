/** Tests find Python the same way the tooling does (scripts/find-libtorch.js). */
export { findPython } from '../../scripts/python';
