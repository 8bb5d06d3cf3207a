/** Workers and batch --queue as separate processes, for the queue suites (test/jobs/queue). */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');

export interface WorkerProcess {
  child: ChildProcess;
  /** stderr so far (a line per file: "worker: done FILE"). */
  log(): string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `wav2vec2 worker --queue URL ...` in a process of its own; `prefix`: a command it runs under (ip netns exec NS). */
export function startWorker(url: string, args: string[] = [], env: Record<string, string> = {}, prefix: string[] = []): WorkerProcess {
  const argv = [process.execPath, '--import', 'tsx', CLI, 'worker', '--queue', url, '--threads', '1', ...args];
  const child = spawn(prefix[0] ?? argv[0]!, [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, log: () => text, exited };
}

/** Waits until `worker` has logged `pattern` (or exited, or `ms` passed: then rejects). */
export async function waitForLog(worker: WorkerProcess, pattern: RegExp, ms = 60000): Promise<void> {
  const until = Date.now() + ms;
  while (!pattern.test(worker.log())) {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) throw new Error(`the worker exited before logging ${pattern}: ${worker.log()}`);
    if (Date.now() > until) throw new Error(`the worker did not log ${pattern} within ${ms} ms: ${worker.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `wav2vec2 batch ... --queue URL` in the background (it follows until done, then merges). */
export function startBatch(url: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'batch', ...args, '--queue', url, '--progress', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))) };
}

/** startBatch, awaited (not spawnSync: the workers' output must keep being read meanwhile). */
export function runBatch(url: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return startBatch(url, args).done;
}

export function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Asserts-free summary: how many lines each file has in a transcripts.jsonl. */
export function linesPerFile(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of jsonl(file)) m.set(r.file, (m.get(r.file) ?? 0) + 1);
  return m;
}
