/**
 * Benchmark workers, one process per runtime: this package (bench/workers/ours.ts), Python's torch.jit
 * (bench/python_ref.py) and onnxruntime-node (bench/workers/onnxruntime.ts), all speaking one JSON-lines
 * protocol. Separate processes give each runtime its own peak RSS and event loop, and let the benchmark
 * interleave their runs on the same inputs.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { PACKAGE_ROOT } from '../lib/paths';
import { findPython } from '../scripts/python';

export type Runtime = 'ours' | 'python' | 'onnxruntime';

/** Runs a worker script the way this file runs: from TypeScript through tsx, or compiled in dist/. */
function nodeWorker(name: string): { cmd: string; args: string[] } {
  const compiled = __filename.endsWith('.js');
  const file = join(__dirname, 'workers', `${name}.${compiled ? 'js' : 'ts'}`);
  return { cmd: process.execPath, args: compiled ? [file] : ['--import', 'tsx', file] };
}

const SETTLE_MS = 100;

export class BenchWorker {
  readonly runtime: Runtime;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #waiting: Array<(line: string | null) => void> = [];
  #stderr = '';

  private constructor(runtime: Runtime, cmd: string, args: string[]) {
    this.runtime = runtime;
    // The environment as it is: each runtime with its threads' default waiting (libgomp spins briefly at a
    // barrier before sleeping; onnxruntime's pool spins). Forcing OMP_WAIT_POLICY=PASSIVE cost LibTorch 10-15 %
    // on 1 s inputs (a sleeping thread wakes late for each of the many short parallel regions).
    this.#proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    this.#proc.stderr.on('data', (d) => { this.#stderr = (this.#stderr + d).slice(-4000); });
    createInterface({ input: this.#proc.stdout }).on('line', (line) => this.#waiting.shift()?.(line));
    this.#proc.on('exit', () => { for (const w of this.#waiting.splice(0)) w(null); });
  }

  /** null when the runtime is not available here (no Python with torch, no onnxruntime-node). */
  static start(runtime: Runtime): BenchWorker | null {
    if (runtime === 'python') {
      const python = findPython(['torch', 'numpy']);
      return python ? new BenchWorker(runtime, python, [join(PACKAGE_ROOT, 'bench', 'python_ref.py')]) : null;
    }
    if (runtime === 'onnxruntime') {
      try {
        require.resolve('onnxruntime-node');
      } catch {
        return null;
      }
    }
    const w = nodeWorker(runtime === 'ours' ? 'ours' : 'onnxruntime');
    return new BenchWorker(runtime, w.cmd, w.args);
  }

  async request(req: Record<string, unknown>): Promise<any> {
    // Runs of the runtimes alternate: let the last one's threads stop spinning (onnxruntime's pool and libgomp
    // spin-wait after a parallel region before they sleep) so that they do not take cores from this one.
    if (req.cmd === 'run' || req.cmd === 'e2e') await new Promise((r) => setTimeout(r, SETTLE_MS));
    const reply = new Promise<string | null>((resolve) => this.#waiting.push(resolve));
    this.#proc.stdin.write(JSON.stringify(req) + '\n');
    const line = await reply;
    if (line === null) throw new Error(`${this.runtime} worker exited: ${this.#stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const parsed = JSON.parse(line);
    if (!parsed.ok) throw new Error(`${this.runtime} worker: ${parsed.error}`);
    return parsed;
  }

  close(): void {
    this.#proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
  }
}
