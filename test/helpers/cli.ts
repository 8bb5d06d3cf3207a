import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');

/** Runs the CLI from source (as `npx wav2vec2` runs dist/) and returns its exit status and output. */
export function runCli(args: string[], timeout = 120000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The CLI from source, asynchronously, for tests whose server (a mock hub, a checkpoint host) runs in this process.
 * The machine's HF_* variables are dropped so that only `env` speaks for the hub.
 */
export function runCliAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_')));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...clean, HF_HOME: join(tmpdir(), 'no-hf-home'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
