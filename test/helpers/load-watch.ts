/**
 * What a piece of work costs the process while it runs: the event loop's delays (perf_hooks) and the peak RSS,
 * sampled every 2 ms from a thread of its own, so that a main thread blocked by the work cannot hide its peak.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export interface LoadCost {
  ms: number;
  /** Event-loop delay, ms. */
  lagP99: number;
  lagMax: number;
  /** Peak RSS during the work minus RSS before it, MiB. */
  rssMiB: number;
}

const SAMPLER = `
const { parentPort } = require('node:worker_threads');
let peak = 0;
const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 2);
parentPort.on('message', () => { clearInterval(t); parentPort.postMessage(peak); });
parentPort.postMessage('ready');`;

/** Runs `work` and says what it cost; its result or error is returned alongside. */
export async function watch<T>(work: () => Promise<T>): Promise<LoadCost & { result?: T; error?: unknown }> {
  const sampler = new Worker(SAMPLER, { eval: true });
  await new Promise((r) => sampler.once('message', r));
  const rss0 = process.memoryUsage.rss();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  // The histogram drops its first tick's delay: a block before it would go unseen.
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  let result: T | undefined;
  let error: unknown;
  try {
    result = await work();
  } catch (err) {
    error = err;
  }
  const ms = performance.now() - t0;
  // A block that ended just now is recorded when the histogram's next (late) tick runs: let it run.
  await new Promise((r) => setTimeout(r, 20));
  lag.disable();
  const peak = await new Promise<number>((r) => {
    sampler.once('message', r);
    sampler.postMessage('stop');
  });
  await sampler.terminate();
  return {
    ms, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6, rssMiB: Math.max(0, peak - rss0) / 2 ** 20,
    ...(error === undefined ? { result } : { error }),
  };
}
