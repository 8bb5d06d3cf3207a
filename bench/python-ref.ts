/** Drives bench/python_ref.py (the Python reference) from a benchmark, one request at a time. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

import { findPython } from '../scripts/python';

export class PythonReference {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #waiting: Array<(line: string) => void> = [];

  private constructor(python: string) {
    this.#proc = spawn(python, [join(__dirname, 'python_ref.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr.on('data', (d) => process.stderr.write(`[python] ${d}`));
    this.#lines = createInterface({ input: this.#proc.stdout });
    this.#lines.on('line', (line) => this.#waiting.shift()?.(line));
  }

  /** null when no Python with torch is available (the benchmark then reports ours alone). */
  static start(): PythonReference | null {
    const python = findPython(['torch', 'numpy']);
    return python ? new PythonReference(python) : null;
  }

  async request(req: Record<string, unknown>): Promise<any> {
    const reply = new Promise<string>((resolve) => this.#waiting.push(resolve));
    this.#proc.stdin.write(JSON.stringify(req) + '\n');
    const parsed = JSON.parse(await reply);
    if (!parsed.ok) throw new Error(`python reference: ${parsed.error}`);
    return parsed;
  }

  close(): void {
    this.#proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
  }
}
