import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');

/** Runs the CLI from source (as `npx wav2vec2` runs dist/) and returns its exit status and output. */
export function runCli(args: string[], timeout = 120000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
