/**
 * npm run bench:audio-stage — what one input costs the audio stage (lib/pipeline/audio), each case in a fresh process:
 * wall time, the event loop's largest delay, and RSS growth (peak, sampled every 2 ms from a thread of its own).
 *
 * Normal inputs (120 s at 44.1 kHz, WAV and FLAC) go three ways: loadForModel on the main thread (what prepareAudio
 * did before the stage), the stage in-thread, and the stage's worker pool. Hostile inputs (FLAC bombs, a WAV claiming
 * hours, odd rates) go through the pool with a 120 s limit. Prints a table; writes bench/results/audio-stage-*.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioPool, checkBudget, decodeToRate } from '../lib/pipeline/audio';
import { loadForModel } from '../lib/pipeline/transcribe';
import type { Model } from '../lib/model/model';
import { flacBomb, wavDeclaring } from '../test/helpers/bombs';
import { watch } from '../test/helpers/load-watch';
import { machine, speechLike, table, wav16, writeResults } from './stats';

const SECONDS = 120;

function inputs(dir: string): Record<string, string> {
  const wav = join(dir, 'speech.wav');
  writeFileSync(wav, wav16(speechLike(SECONDS, 1, 44100), 44100));
  const files: Record<string, string> = { [`WAV ${SECONDS} s 44.1 kHz`]: wav };
  try {
    const flac = join(dir, 'speech.flac');
    execFileSync('sox', [wav, flac]);
    files[`FLAC ${SECONDS} s 44.1 kHz`] = flac;
  } catch {
    // no sox: WAV only
  }
  const bombs: Array<[string, Uint8Array]> = [
    ['FLAC bomb 1 h, declared (12 KB)', flacBomb({ seconds: 3600 })],
    ['FLAC bomb 1 h, undeclared (12 KB)', flacBomb({ seconds: 3600, declareTotal: false })],
    ['FLAC bomb 8 h stereo 48 kHz, undeclared (190 KB)', flacBomb({ seconds: 8 * 3600, channels: 2, sampleRate: 48000, declareTotal: false })],
    ['WAV claiming 3 h (10 s)', wavDeclaring({ seconds: 10, declaredSeconds: 3 * 3600 })],
    ['WAV 1,300,001 Hz', wavDeclaring({ seconds: 0.0002, declaredSeconds: 0.0002, sampleRate: 1300001 })],
    ['WAV 383,999 Hz 1 s', wavDeclaring({ seconds: 1, declaredSeconds: 1, sampleRate: 383999 })],
  ];
  for (const [name, bytes] of bombs) {
    const f = join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.bin`);
    writeFileSync(f, bytes);
    files[name] = f;
  }
  return files;
}

/** One case, in this (fresh) process: prints its result as JSON. */
async function runCase(how: string, file: string): Promise<void> {
  const budget = checkBudget({ maxSeconds: SECONDS });
  const bytes = readFileSync(file);
  const pool = new AudioPool({ size: 1 });
  if (how === 'pool') await pool.decode({ input: wavDeclaring({ seconds: 0.1, declaredSeconds: 0.1 }), targetRate: 16000, budget }); // start-up not measured
  const work = async () => {
    if (how === 'loadForModel (main thread)') return (await loadForModel({ sampleRate: 16000 } as Model, bytes)).samples.length;
    if (how === 'stage in-thread') {
      let n = 0;
      for await (const c of decodeToRate({ input: bytes, targetRate: 16000, budget })) n += c.samples.length;
      return n;
    }
    return (await pool.decode({ input: bytes, targetRate: 16000, budget })).samples.length;
  };
  const c = await watch(work);
  await pool.close();
  const answer = c.error ? (c.error as { code?: string }).code : `${c.result} samples`;
  console.log(JSON.stringify({ ms: +c.ms.toFixed(0), lagMaxMs: +c.lagMax.toFixed(1), rssMiB: +c.rssMiB.toFixed(1), answer }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--case') return runCase(argv[1]!, argv[2]!);
  const dir = mkdtempSync(join(tmpdir(), 'w2v-bench-stage-'));
  const files = inputs(dir);
  const rows: Array<Record<string, unknown>> = [];
  for (const [name, file] of Object.entries(files)) {
    const normal = name.startsWith(`WAV ${SECONDS} s`) || name.startsWith(`FLAC ${SECONDS} s`);
    for (const how of normal ? ['loadForModel (main thread)', 'stage in-thread', 'pool'] : ['pool']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--case', how, file], { encoding: 'utf8' });
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      rows.push({ input: name, how, ...out });
      console.error(`${name} / ${how}: ${JSON.stringify(out)}`);
    }
  }
  const md = table(['input', 'how', 'answer', 'ms', 'event loop max ms', 'RSS growth MiB'],
    rows.map((r) => [r.input as string, r.how as string, r.answer as string, r.ms as number, r.lagMaxMs as number, r.rssMiB as number]));
  console.log(md);
  writeResults('audio-stage', { machine: machine(), seconds: SECONDS, rows }, md);
}

void main();
