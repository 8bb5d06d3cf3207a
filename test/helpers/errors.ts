/**
 * Assertions for coded errors, shared by every test file. An error passes when it is an `Error` whose `code` is the
 * expected one, whose message matches `pattern` (when given), and whose message carries no C++ backtrace
 * (`Exception raised from ...` / `frame #N`: LibTorch's, which must stay in `detail`, never in the one-line message).
 *
 *   assert.throws(() => f(), codeOf('INVALID_INPUT', /numLayers/));        // as a predicate for node:assert
 *   throwsCode(() => f(), 'INVALID_INPUT', /numLayers/);                     // the same, shorter
 *   await rejectsCode(loadModel('x.pt'), 'MODEL_LOAD_FAILED', /not found/);  // promises (or async functions)
 */
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../lib/errors';

const BACKTRACE = /Exception raised from|frame #\d/;

/**
 * A validation function for `assert.throws` / `assert.rejects`: checks the code, the optional message pattern and
 * the absence of a backtrace, failing with a message that shows what was thrown instead.
 */
export function codeOf(code: ErrorCode, pattern?: RegExp): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof Error, `expected an Error with code ${code}, got ${String(err)}`);
    const got = (err as Error & { code?: unknown }).code;
    assert.equal(got, code, `expected ${code}, got ${String(got)}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern, `${code} error message`);
    assert.doesNotMatch(err.message, BACKTRACE, 'no C++ backtrace in error messages');
    return true;
  };
}

/** `fn()` throws synchronously an error with `code` (see `codeOf`). */
export function throwsCode(fn: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  assert.throws(fn, codeOf(code, pattern));
}

/** `promise` (or what `fn()` returns) rejects with an error with `code` (see `codeOf`). */
export async function rejectsCode(promise: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, codeOf(code, pattern));
}
