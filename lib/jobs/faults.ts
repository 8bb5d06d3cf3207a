/**
 * Fault injection for the exactly-once tests: `WAV2VEC2_BATCH_FAULT=<point>:<n>` kills the process with SIGKILL the
 * n-th time it reaches `point` (before-commit, after-commit, mid-append, after-append; see store.ts). A SIGKILL
 * cannot be caught, so the test sees what a real kill leaves at that exact place. Unset, this costs one lookup.
 */
const spec = /^([a-z-]+):(\d+)$/.exec(process.env.WAV2VEC2_BATCH_FAULT ?? '');
const counts = new Map<string, number>();

/**
 * With `peek`, only says whether the next visit of `point` is the fatal one; without, counts the visit and kills the
 * process when it is.
 */
export function crashPoint(point: string, peek = false): boolean {
  if (!spec || spec[1] !== point) return false;
  const n = (counts.get(point) ?? 0) + 1;
  if (peek) return n === Number(spec[2]);
  counts.set(point, n);
  if (n === Number(spec[2])) process.kill(process.pid, 'SIGKILL');
  return false;
}
