/**
 * Test audio for the suites that need real speech (batch jobs, the CLI on the default model): sentences of the
 * default model's held-out set (words it knows) spoken by espeak-ng, so the embedded model gives real transcripts
 * to compare.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const HELDOUT = join(__dirname, '..', '..', 'scripts', 'make_default_model', 'text', 'heldout.tsv');

/** The first `n` held-out sentences (lower case, as espeak-ng reads them). */
export function sentences(n: number, from = 0): string[] {
  return readFileSync(HELDOUT, 'utf8').split('\n').slice(1 + from, 1 + from + n).map((l) => l.split('\t')[7]!).filter(Boolean);
}

/** Call in a describe() body's before(): skips the suite, with the reason, unless espeak-ng and sox are installed. */
export function requireSpeechTools(ctx: Mocha.Context): void {
  if (spawnSync('espeak-ng', ['--version']).status !== 0 || spawnSync('sox', ['--version']).status !== 0) {
    // eslint-disable-next-line no-console
    console.log('      (skipped: needs espeak-ng and sox: apt-get install espeak-ng sox)');
    ctx.skip();
  }
}

/** Speaks `text` into `file` (espeak-ng's 22.05 kHz 16-bit WAV). */
export function speak(text: string, file: string): string {
  execFileSync('espeak-ng', ['--stdin', '-w', file], { input: text, stdio: ['pipe', 'ignore', 'ignore'] });
  return file;
}

/** Length of the longest common subsequence of two sequences. */
export function lcs<T>(a: readonly T[], b: readonly T[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const cur = [0];
    for (let j = 1; j <= b.length; j++) cur[j] = x === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    prev = cur;
  }
  return prev[b.length]!;
}
