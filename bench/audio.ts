/**
 * npm run bench:audio — resampling speed (torchaudio's algorithm in TypeScript) on 60 s of audio, one thread,
 * as × real time (seconds of audio per second of compute), plus decoding speed per format when sox can make
 * the test files. Prints a table; writes bench/results/audio-<date>-<host>.json and audio-latest.md.
 *
 *   npm run bench:audio -- [--seconds 60] [--runs 7] [--no-python]
 *
 * For comparison it also times torch running torchaudio's resample (the transcription in
 * scripts/make_resample_fixtures.py, torch.set_num_threads(1)) when a Python with torch is found.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAudio } from '../lib/audio/load';
import { Resampler } from '../lib/audio/resample';
import { makeAudioCorpus, missingTools } from '../scripts/audio-corpus';
import { findPython } from '../test/helpers/python';
import { machine, median, speechLike, table, writeResults } from './stats';

const argv = process.argv.slice(2);
const opt = (name: string, d: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : d);
const SECONDS = opt('seconds', 60);
const RUNS = opt('runs', 7);

interface Row {
  task: string;
  impl: string;
  audioSeconds: number;
  medianMs: number;
  minMs: number;
  xRealTime: number;
}

function time(f: () => unknown, runs: number): number[] {
  f(); // warm-up: JIT, kernel construction caches
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    out.push(performance.now() - t0);
  }
  return out;
}

async function timeAsync(f: () => Promise<unknown>, runs: number): Promise<number[]> {
  await f();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

function row(task: string, impl: string, audioSeconds: number, ms: number[]): Row {
  const m = median(ms);
  return { task, impl, audioSeconds, medianMs: m, minMs: Math.min(...ms), xRealTime: (audioSeconds * 1000) / m };
}

function torchRows(pairs: Array<[number, number]>): Row[] {
  if (argv.includes('--no-python')) return [];
  const py = findPython(['torch']);
  if (!py) return [];
  const script = `
import json, sys, time, importlib.util, torch
spec = importlib.util.spec_from_file_location("ref", sys.argv[1]); ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
torch.set_num_threads(1)
out = []
for o, n in json.loads(sys.argv[2]):
    x = torch.randn(1, o * ${SECONDS}) * 0.1
    ref.resample(x, o, n)
    ts = []
    for _ in range(${RUNS}):
        t0 = time.perf_counter(); ref.resample(x, o, n); ts.append((time.perf_counter() - t0) * 1000)
    out.append(ts)
print(json.dumps(out))`;
  const r = spawnSync(py, ['-c', script, join(__dirname, '..', 'scripts', 'make_resample_fixtures.py'), JSON.stringify(pairs)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return [];
  const times: number[][] = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return pairs.map(([o, n], i) => row(`resample ${o / 1000} kHz -> ${n / 1000} kHz, mono`, `torch ${spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim()} (torchaudio code, 1 thread, float32)`, SECONDS, times[i]!));
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const pairs: Array<[number, number]> = [[44100, 16000], [48000, 16000]];
  for (const [o, n] of pairs) {
    const x = speechLike(SECONDS, 1, o);
    const r = new Resampler(o, n);
    rows.push(row(`resample ${o / 1000} kHz -> ${n / 1000} kHz, mono`, 'wav2vec2-node (TypeScript, 1 thread)', SECONDS, time(() => r.resample(x), RUNS)));
    const st = [x, x.slice().reverse()];
    rows.push(row(`resample ${o / 1000} kHz -> ${n / 1000} kHz, stereo`, 'wav2vec2-node (TypeScript, 1 thread)', SECONDS, time(() => r.resample(st), RUNS)));
    rows.push(row(`resample ${o / 1000} kHz -> ${n / 1000} kHz, mono, new Resampler per call`, 'wav2vec2-node (TypeScript, 1 thread)', SECONDS, time(() => new Resampler(o, n).resample(x), RUNS)));
  }
  rows.push(...torchRows(pairs));

  if (missingTools().length === 0) {
    // Decoding: the corpus speech repeated to SECONDS, in each format.
    const corpus = makeAudioCorpus();
    const dir = mkdtempSync(join(tmpdir(), 'w2v-bench-'));
    const repeats = String(Math.max(0, Math.ceil(SECONDS / 2.85) - 1));
    const files: Array<[string, string[]]> = [['wav', ['-b', '16']], ['flac', ['-b', '16']], ['mp3', ['-C', '128']], ['ogg', ['-C', '3']]];
    for (const [ext, args] of files) {
      const f = join(dir, `speech.${ext}`);
      execFileSync('sox', ['-D', corpus.base, ...args, f, 'repeat', repeats, 'trim', '0', String(SECONDS)], { stdio: 'ignore' });
      const bytes = readFileSync(f);
      rows.push(row(`decode ${ext.toUpperCase()} (22.05 kHz mono, from a Buffer)`, 'wav2vec2-node loadAudio', SECONDS, await timeAsync(() => loadAudio(bytes), Math.min(RUNS, 5))));
    }
  }

  const md = [
    `bench:audio — ${SECONDS} s of audio, median of ${RUNS} runs after a warm-up (× real time = audio seconds per compute second)`,
    '',
    table(['task', 'implementation', 'median ms', '× real time'], rows.map((r) => [r.task, r.impl, r.medianMs.toFixed(1), r.xRealTime.toFixed(0)])),
  ].join('\n');
  // eslint-disable-next-line no-console
  console.log(md);
  const file = writeResults('audio', { machine: machine(), seconds: SECONDS, runs: RUNS, rows }, md);
  // eslint-disable-next-line no-console
  console.log(`\nwrote ${file}`);
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(err);
  process.exitCode = 1;
});
