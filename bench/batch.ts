/**
 * npm run bench:batch [-- --files 200 --threads 2]
 *
 * 200 generated speech files of 2-60 s (espeak-ng + sox; durations log-uniform, so most are short and a few long,
 * as in real corpora; 3 in 4 WAV at 22.05 kHz, 1 in 4 FLAC at 16 kHz) through the default model, three ways, one
 * after the other on the same files and threads:
 *   job     runBatchJob: read-ahead overlapping inference, length buckets, 30 s windows for longer files
 *   single  transcribe() file after file in one process (what a loop over `wav2vec2 transcribe` does, without
 *           paying the process start and model load per file): the sum of single-file runs
 *   python  bench/python_batch.py: soundfile + torchaudio's resample + model(x) + greedy, file after file
 * and reports x real time (audio seconds per wall second) of each. The audio is cached under bench/data/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../lib/paths';
import { runBatchJob } from '../lib/jobs';
import { loadModel } from '../lib/load';
import { createDecoder, transcribe } from '../lib/transcribe';
import { findPython } from '../scripts/python';
import { machine, table, writeResults } from './stats';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FILES = arg('files', 200);
const THREADS = arg('threads', 2);
const dataDir = (n: number) => join(__dirname, 'data', `batch-v1-${n}`);
const HELDOUT = join(__dirname, '..', 'scripts', 'make_default_model', 'text', 'heldout.tsv');
const VOICES = ['en-us', 'en', 'en-gb-x-rp', 'en-029'];

/** `n` files (cached under bench/data/): also the corpus of bench/cluster.ts. */
export function corpus(n = FILES): { files: string[]; seconds: number } {
  const DATA = dataDir(n);
  const stamp = join(DATA, 'files.json');
  if (existsSync(stamp)) return JSON.parse(readFileSync(stamp, 'utf8'));
  mkdirSync(DATA, { recursive: true });
  const sentences = readFileSync(HELDOUT, 'utf8').split('\n').slice(1).map((l) => l.split('\t')[7]).filter((s): s is string => !!s);
  let seed = 20261129;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const files: string[] = [];
  let seconds = 0;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const target = Math.exp(Math.log(2) + rand() * (Math.log(60) - Math.log(2)));
    // About 2.3 s per held-out sentence at these speeds: speak enough, then cut to the exact length.
    const text: string[] = [];
    for (let k = 0; k < Math.ceil(target / 2) + 1; k++) text.push(sentences[next++ % sentences.length]!);
    const raw = join(DATA, `raw-${i}.wav`);
    execFileSync('espeak-ng', ['-v', VOICES[i % VOICES.length]!, '-s', String(140 + Math.floor(rand() * 40)), '--stdin', '-w', raw], { input: text.join('\n') });
    const file = join(DATA, `f${String(i).padStart(3, '0')}.${i % 4 === 3 ? 'flac' : 'wav'}`);
    execFileSync('sox', ['-V1', raw, ...(i % 4 === 3 ? ['-r', '16000'] : []), file, 'trim', '0', target.toFixed(3), 'pad', '0', '0']);
    rmSync(raw);
    seconds += Number(execFileSync('soxi', ['-D', file], { encoding: 'utf8' }));
    files.push(file);
  }
  writeFileSync(stamp, JSON.stringify({ files, seconds }));
  return { files, seconds };
}

function words(text: string): string[] {
  return text.split(' ').filter(Boolean);
}

/** Share of words in order two transcripts have in common (LCS over the longer). */
function agreement(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  let prev = new Array<number>(y.length + 1).fill(0);
  for (const w of x) {
    const cur = [0];
    for (let j = 1; j <= y.length; j++) cur[j] = w === y[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    prev = cur;
  }
  return Math.max(x.length, y.length) ? prev[y.length]! / Math.max(x.length, y.length) : 1;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  // Recorded because a shared machine (a model training beside the bench) slows every run and blurs the ratios.
  const loadBefore = loadavg()[0]!;
  const { files, seconds } = corpus();
  console.log(`corpus: ${files.length} files, ${(seconds / 60).toFixed(1)} min of audio (made in ${((Date.now() - t0) / 1000).toFixed(0)} s or cached)`);

  const model = await loadModel(DEFAULT_MODEL, { threads: THREADS });
  const decoder = createDecoder(model);
  // Warm-up: the first calls pay for LibTorch's lazy initialisation.
  await transcribe(model, files[0]!, decoder);

  const out = mkdtempSync(join(tmpdir(), 'w2v-bench-batch-'));
  let t = performance.now();
  const job = await runBatchJob({ inputs: files, out, model });
  const jobSeconds = (performance.now() - t) / 1000;
  const jobTexts = new Map<string, string>(readFileSync(join(out, 'transcripts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l);
    return [r.file, r.text];
  }));
  rmSync(out, { recursive: true, force: true });
  console.log(`job: ${jobSeconds.toFixed(1)} s, ${job.done} done, ${job.failed} failed`);

  t = performance.now();
  const singleTexts = new Map<string, string>();
  for (const f of files) singleTexts.set(f, (await transcribe(model, f, decoder)).text);
  const singleSeconds = (performance.now() - t) / 1000;
  console.log(`single: ${singleSeconds.toFixed(1)} s`);
  model.dispose();

  let pythonSeconds: number | null = null;
  let pythonNote = '';
  const pythonTexts = new Map<string, string>();
  const python = findPython(['torch', 'numpy', 'soundfile']);
  if (python) {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-bench-py-'));
    writeFileSync(join(dir, 'files.txt'), files.join('\n') + '\n');
    const r = spawnSync(python, [join(__dirname, 'python_batch.py'), DEFAULT_MODEL, DEFAULT_MODEL.replace(/\.pt$/, '.json'), String(THREADS), join(dir, 'files.txt'), join(dir, 'out.jsonl')], { encoding: 'utf8' });
    if (r.status === 0) {
      pythonSeconds = JSON.parse(r.stdout.trim().split('\n').at(-1)!).seconds;
      for (const l of readFileSync(join(dir, 'out.jsonl'), 'utf8').split('\n').filter(Boolean)) {
        const o = JSON.parse(l);
        pythonTexts.set(o.file, o.text);
      }
      console.log(`python: ${pythonSeconds!.toFixed(1)} s`);
    } else {
      pythonNote = `python failed: ${r.stderr.trim().split('\n').at(-1)}`;
      console.log(pythonNote);
    }
    rmSync(dir, { recursive: true, force: true });
  } else {
    pythonNote = 'no Python with torch, numpy and soundfile';
  }

  const mean = (m: Map<string, string>, ref: Map<string, string>) => {
    const xs = files.filter((f) => m.has(f) && ref.has(f)).map((f) => agreement(m.get(f)!, ref.get(f)!));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const rows = [
    ['batch job (runBatchJob, batch 8, 30 s windows)', jobSeconds, 1],
    ['sum of single-file runs (transcribe(), whole files)', singleSeconds, mean(jobTexts, singleTexts)],
    ['Python loop (torch.jit.load, whole files)', pythonSeconds, mean(jobTexts, pythonTexts)],
  ] as const;
  const json = {
    date: new Date().toISOString(), machine: machine(), loadAverage1m: { before: loadBefore, after: loadavg()[0]! }, threads: THREADS, files: files.length, audioSeconds: seconds,
    durations: 'log-uniform in [2, 60] s', model: DEFAULT_MODEL,
    job: { seconds: jobSeconds, realTime: seconds / jobSeconds, done: job.done, failed: job.failed },
    single: { seconds: singleSeconds, realTime: seconds / singleSeconds, wordAgreementWithJob: mean(jobTexts, singleTexts) },
    python: pythonSeconds === null ? { note: pythonNote } : { seconds: pythonSeconds, realTime: seconds / pythonSeconds, wordAgreementWithJob: mean(jobTexts, pythonTexts) },
  };
  const md = [
    `# bench:batch, ${json.date.slice(0, 10)}, ${json.machine.cpu}, ${json.machine.cores} cores, ${THREADS} threads`,
    '',
    `${files.length} files, ${(seconds / 3600).toFixed(2)} h of espeak-ng speech, 2-60 s (log-uniform), default model (${DEFAULT_MODEL.split('/').at(-1)}); ` +
      `1-minute load average ${json.loadAverage1m.before.toFixed(1)} before, ${json.loadAverage1m.after.toFixed(1)} after.`,
    '',
    table(['run', 'wall s', 'x real time', 'wall time / job\'s', 'words in order shared with the job'], rows.map(([name, s, agree]) => [
      name, s === null ? '-' : s.toFixed(1), s === null ? '-' : (seconds / s).toFixed(1), s === null ? '-' : (s / jobSeconds).toFixed(2),
      agree === null ? '-' : `${(agree * 100).toFixed(1)} %`,
    ])),
    ...(pythonNote ? ['', pythonNote] : []),
  ].join('\n');
  // one result file per thread count: the README reports both
  const file = writeResults(THREADS === 2 ? 'batch' : `batch-threads${THREADS}`, json, md);
  console.log('\n' + md + `\n\n${file}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
