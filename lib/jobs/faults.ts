/**
 * Fault injection for the exactly-once and crash tests: `WAV2VEC2_BATCH_FAULT=<point>:<n>` kills the process with
 * SIGKILL the n-th time it reaches `point` (before-commit, after-commit, mid-append, after-append: see store.ts;
 * before-forward: a batch is about to be handed to the model, see run.ts). With `WAV2VEC2_BATCH_FAULT_INPUT=<text>`
 * only visits for an input whose path contains that text count: one input that kills the process every time it
 * runs, as a file that crashes the native code would. A SIGKILL cannot be caught, so the test sees what a real kill
 * leaves at that exact place. Unset, this costs one lookup.
 */
const spec = /^([a-z-]+):(\d+)$/.exec(process.env.WAV2VEC2_BATCH_FAULT ?? '');
const only = process.env.WAV2VEC2_BATCH_FAULT_INPUT || null;
const counts = new Map<string, number>();

/**
 * With `peek`, only says whether the next visit of `point` is the fatal one; without, counts the visit and kills the
 * process when it is. `input`: the path of the input this visit is for, where there is one.
 */
export function crashPoint(point: string, peek = false, input?: string): boolean {
  if (!spec || spec[1] !== point) return false;
  if (only !== null && !input?.includes(only)) return false;
  const n = (counts.get(point) ?? 0) + 1;
  if (peek) return n === Number(spec[2]);
  counts.set(point, n);
  if (n === Number(spec[2])) process.kill(process.pid, 'SIGKILL');
  return false;
}
