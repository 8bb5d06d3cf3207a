/**
 * The request loop of a Node benchmark worker (bench/workers/ours.ts, onnxruntime.ts): one JSON request per
 * stdin line, one JSON reply per stdout line, the protocol of bench/python_ref.py. Each worker is its own
 * process so that peak RSS and event-loop lag belong to one runtime alone.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export type Handler = (req: Record<string, any>) => Promise<Record<string, unknown>>;

export function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024; // KiB
}

/**
 * Times `fn` and measures the worst event-loop delay while it runs, in ms: a 1 ms timer that cannot fire while
 * the loop is blocked. What a server sees: a runtime that computes on the main thread blocks it for the whole run.
 */
export async function timedWithLag<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; lagMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    const t0 = performance.now();
    const value = await fn();
    const ms = performance.now() - t0;
    // one more turn (outside the timing) so that a block at the very end is recorded
    await new Promise((r) => setTimeout(r, 2));
    return { value, ms, lagMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

export function serve(handlers: Record<string, Handler>): void {
  const rl = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(async () => {
      let reply: Record<string, unknown>;
      try {
        const req = JSON.parse(line);
        if (req.cmd === 'quit') process.exit(0);
        const h = handlers[req.cmd];
        reply = h ? { ok: true, ...(await h(req)) } : { ok: false, error: `unknown command ${req.cmd}` };
      } catch (err) {
        reply = { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
      process.stdout.write(JSON.stringify(reply) + '\n');
    });
  });
  rl.on('close', () => process.exit(0));
}
