/**
 * npm run bench:batch [-- --files 200 --threads 2 --reps 3 --model default|base --no-single --no-commands]
 *
 * 200 generated speech files of 2-60 s (espeak-ng + sox; durations log-uniform, so most are short and a few long,
 * as in real corpora; 3 in 4 WAV at 22.05 kHz, 1 in 4 FLAC at 16 kHz) through one model, several ways, one
 * after the other on the same files and threads:
 *   job      runBatchJob with its defaults, the model loaded beforehand (loop against loop)
 *   single   transcribe() file after file in one process (what a loop over `wav2vec2 transcribe` does, without
 *            paying the process start and model load per file): the sum of single-file runs
 *   python   bench/python_batch.py: soundfile + torchaudio's resample + model(x) + greedy, file after file
 *   commands `wav2vec2 batch` (compiled to dist/ first) and `python bench/python_batch.py` as whole processes, timed
 *            from spawn to exit the way a user times them: process start, imports and model load included
 * and reports x real time (audio seconds per wall second) of each. The job, the Python loop and the two commands run
 * `--reps` times (default 3), interleaved (job, Python, commands, job, ...), and each row reports its median: single
 * runs of the same command on this 2-core VM spread by 10-20 %, more than the differences being measured.
 * The audio is cached under bench/data/.
 * --model base runs base-size random weights (bench/models/base.pt, built by scripts/make_bench_models.py when
 * missing), where the model is nearly all the work; its text is noise, so only the timings mean anything.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../lib/paths';
import { runBatchJob } from '../lib/jobs';
import { loadModel } from '../lib/model/load';
import { loadReplicas } from '../lib/model/replicas';
import { createDecoder, transcribe } from '../lib/pipeline/transcribe';
import { findPython } from '../scripts/python';
import { machine, median, table, writeResults } from './stats';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FILES = arg('files', 200);
const THREADS = arg('threads', 2);
const REPS = arg('reps', 3);
/** Whether THREADS is the whole machine: then our job and CLI run with their defaults, which use every core. */
const ALL_CORES = THREADS >= availableParallelism();
const MODEL_NAME = args.includes('--model') ? args[args.indexOf('--model') + 1]! : 'default';
const SINGLE = !args.includes('--no-single');
const COMMANDS = !args.includes('--no-commands');
const ROOT = join(__dirname, '..');
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

/** The model file of `--model`: the shipped default, or base-size random weights (built when missing). */
function modelFile(): string {
  if (MODEL_NAME === 'default') return DEFAULT_MODEL;
  if (MODEL_NAME !== 'base') throw new Error(`--model: expected default or base, got ${MODEL_NAME}`);
  const pt = join(ROOT, 'bench', 'models', 'base.pt');
  if (existsSync(pt)) return pt;
  const py = findPython(['torch', 'transformers']);
  if (!py) throw new Error('--model base: no Python with torch and transformers to build bench/models/base.pt');
  console.log('building bench/models/base.pt (random weights) with scripts/make_bench_models.py ...');
  execFileSync(py, [join(ROOT, 'scripts', 'make_bench_models.py'), 'base', '--no-onnx'], { stdio: 'inherit' });
  return pt;
}

/**
 * Compiles lib/ to dist/ (what `npm run build:ts` ships) so that the command is timed as users run it, without
 * tsx compiling TypeScript at start-up; returns the CLI's entry.
 */
function buildCli(): string {
  // Inside the repository (bench/results/tmp/ is ignored by git), where tsc finds node_modules/@types.
  const dir = join(ROOT, 'bench', 'results', 'tmp');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'tsconfig.cli.json');
  writeFileSync(config, JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { outDir: join(ROOT, 'dist'), rootDir: ROOT, declaration: false, sourceMap: false, types: ['node'] },
    include: [join(ROOT, 'lib', '**', '*.ts'), join(ROOT, 'lib', '**', '*.json')],
  }));
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', config], { stdio: 'inherit' });
  rmSync(config, { force: true });
  return join(ROOT, 'dist', 'lib', 'cli', 'index.js');
}

function readTexts(jsonl: string, name = 'file'): Map<string, string> {
  return new Map(readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l);
    return [r[name], r.text];
  }));
}

/** `wav2vec2 batch` as a user runs it, timed from spawn to exit; its texts are the in-process job's (checked). */
function cliCommand(cli: string, model: string, files: string[]): { seconds: number; texts: Map<string, string> } {
  const out = mkdtempSync(join(tmpdir(), 'w2v-bench-cli-'));
  const argv = [cli, 'batch', '--out', out, ...(ALL_CORES ? [] : ['--threads', String(THREADS)]), '--progress', 'none', ...(MODEL_NAME === 'default' ? [] : ['--model', model]), ...files];
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`wav2vec2 batch exited with ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  const texts = readTexts(join(out, 'transcripts.jsonl'));
  rmSync(out, { recursive: true, force: true });
  return { seconds, texts };
}

/** The Python loop, timed twice: its loop (as it reports it) and the whole process from spawn to exit. */
function pythonRun(python: string, model: string, files: string[]): { loop: number; command: number; texts: Map<string, string> } | string {
  const dir = mkdtempSync(join(tmpdir(), 'w2v-bench-py-'));
  try {
    writeFileSync(join(dir, 'files.txt'), files.join('\n') + '\n');
    const t = performance.now();
    const r = spawnSync(python, [join(__dirname, 'python_batch.py'), model, model.replace(/\.pt$/, '.json'), String(THREADS), join(dir, 'files.txt'), join(dir, 'out.jsonl')], { encoding: 'utf8' });
    const command = (performance.now() - t) / 1000;
    if (r.status !== 0) return `python failed: ${r.stderr.trim().split('\n').at(-1)}`;
    return { loop: JSON.parse(r.stdout.trim().split('\n').at(-1)!).seconds, command, texts: readTexts(join(dir, 'out.jsonl')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  // Recorded because a shared machine (a model training beside the bench) slows every run and blurs the ratios.
  const loadBefore = loadavg()[0]!;
  const { files, seconds } = corpus();
  console.log(`corpus: ${files.length} files, ${(seconds / 60).toFixed(1)} min of audio (made in ${((Date.now() - t0) / 1000).toFixed(0)} s or cached)`);
  const modelPath = modelFile();
  const cli = COMMANDS ? buildCli() : null;

  // The job's replicas as runBatchJob chooses them (lib/model/replicas.ts) on THREADS cores: by the model's size when
  // THREADS is every core, else THREADS threads in one replica; loaded before the clock starts, like Python's model.
  const replicas = await loadReplicas((threads) => loadModel(modelPath, threads ? { threads } : {}), ALL_CORES ? {} : { threads: THREADS });
  const model = replicas[0]!;
  const decoder = createDecoder(model);
  // Warm-up: the first calls pay for LibTorch's lazy initialisation.
  for (const m of replicas) await transcribe(m, files[0]!, decoder);

  const python = findPython(['torch', 'numpy', 'soundfile']);
  const pythonNote = python ? '' : 'no Python with torch, numpy and soundfile';
  const jobRuns: number[] = [];
  const pyRuns: Array<{ loop: number; command: number }> = [];
  const cliRuns: number[] = [];
  let jobTexts = new Map<string, string>();
  let pythonTexts = new Map<string, string>();
  let cliTexts: Map<string, string> | null = null;
  let settings: Record<string, unknown> = {};
  let jobSummary: { done: number; failed: number } = { done: 0, failed: 0 };
  let note = pythonNote;
  for (let rep = 0; rep < REPS; rep++) {
    const out = mkdtempSync(join(tmpdir(), 'w2v-bench-batch-'));
    const t = performance.now();
    const job = await runBatchJob({ inputs: files, out, model: replicas });
    jobRuns.push((performance.now() - t) / 1000);
    jobSummary = { done: job.done, failed: job.failed };
    jobTexts = readTexts(join(out, 'transcripts.jsonl'));
    settings = JSON.parse(readFileSync(join(out, 'job.json'), 'utf8'));
    rmSync(out, { recursive: true, force: true });
    console.log(`job ${rep + 1}/${REPS}: ${jobRuns.at(-1)!.toFixed(1)} s, ${job.done} done, ${job.failed} failed`);
    if (python) {
      const py = pythonRun(python, modelPath, files);
      if (typeof py === 'string') note = py;
      else {
        pyRuns.push({ loop: py.loop, command: py.command });
        pythonTexts = py.texts;
        console.log(`python ${rep + 1}/${REPS}: loop ${py.loop.toFixed(1)} s, command ${py.command.toFixed(1)} s`);
      }
    }
    if (cli) {
      const c = cliCommand(cli, modelPath, files);
      cliRuns.push(c.seconds);
      cliTexts = c.texts;
      console.log(`wav2vec2 batch ${rep + 1}/${REPS}: ${c.seconds.toFixed(1)} s`);
    }
  }
  const jobSeconds = median(jobRuns);
  const rate = model.sampleRate;

  let singleSeconds: number | null = null;
  const singleTexts = new Map<string, string>();
  if (SINGLE) {
    const solo = await loadModel(modelPath, { threads: THREADS });
    await transcribe(solo, files[0]!, decoder);
    const t = performance.now();
    for (const f of files) singleTexts.set(f, (await transcribe(solo, f, decoder)).text);
    solo.dispose();
    singleSeconds = (performance.now() - t) / 1000;
    console.log(`single: ${singleSeconds.toFixed(1)} s`);
  }
  for (const m of replicas) m.dispose();
  const command = cli && cliTexts ? { seconds: median(cliRuns), texts: cliTexts } : null;

  const mean = (m: Map<string, string>, ref: Map<string, string>) => {
    const xs = files.filter((f) => m.has(f) && ref.has(f)).map((f) => agreement(m.get(f)!, ref.get(f)!));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const pyLoop = pyRuns.length ? median(pyRuns.map((r) => r.loop)) : null;
  const pyCommand = pyRuns.length ? median(pyRuns.map((r) => r.command)) : null;
  const windowS = typeof settings.windowSamples === 'number' ? settings.windowSamples / rate : null;
  const strideS = typeof settings.strideSamples === 'number' ? settings.strideSamples / rate : null;
  const shape = replicas.length > 1 ? `${replicas.length} replicas of 1 thread` : `1 replica of ${THREADS} thread${THREADS > 1 ? 's' : ''}`;
  const jobName = `batch job (runBatchJob defaults: ${windowS ?? '?'} s windows, ${strideS ?? '?'} s stride, ${shape})`;
  const rows: Array<readonly [string, number | null, number | null]> = [
    [jobName, jobSeconds, 1],
    ...(SINGLE ? [['sum of single-file runs (transcribe(), whole files)', singleSeconds, mean(jobTexts, singleTexts)] as const] : []),
    ['Python loop (torch.jit.load, whole files)', pyLoop, mean(jobTexts, pythonTexts)],
    ...(command ? [['command: wav2vec2 batch (process start + model load included)', command.seconds, mean(jobTexts, command.texts)] as const] : []),
    ...(command && pyCommand !== null ? [['command: python bench/python_batch.py (process start + imports + model load)', pyCommand, mean(jobTexts, pythonTexts)] as const] : []),
  ];
  const speedup = {
    loop: pyLoop === null ? null : pyLoop / jobSeconds,
    command: command && pyCommand !== null ? pyCommand / command.seconds : null,
  };
  const json = {
    date: new Date().toISOString(), machine: machine(), loadAverage1m: { before: loadBefore, after: loadavg()[0]! }, threads: THREADS, files: files.length, audioSeconds: seconds,
    durations: 'log-uniform in [2, 60] s', replicas: replicas.length, model: modelPath, modelName: MODEL_NAME, jobSettings: settings,
    reps: REPS,
    job: { seconds: jobSeconds, runs: jobRuns, realTime: seconds / jobSeconds, ...jobSummary },
    single: singleSeconds === null ? null : { seconds: singleSeconds, realTime: seconds / singleSeconds, wordAgreementWithJob: mean(jobTexts, singleTexts) },
    python: pyLoop === null ? { note } : { seconds: pyLoop, runs: pyRuns.map((r) => r.loop), realTime: seconds / pyLoop, wordAgreementWithJob: mean(jobTexts, pythonTexts) },
    commands: command ? {
      cli: { seconds: command.seconds, runs: cliRuns, realTime: seconds / command.seconds, command: 'dist/lib/cli/index.js batch', wordAgreementWithJob: mean(jobTexts, command.texts) },
      python: pyCommand === null ? null : { seconds: pyCommand, runs: pyRuns.map((r) => r.command), realTime: seconds / pyCommand },
    } : null,
    // Throughput of the job over the Python loop's: > 1 is faster.
    speedup,
  };
  const ratio = (x: number | null) => x === null ? '-' : `${x.toFixed(2)}x`;
  const md = [
    `# bench:batch, ${json.date.slice(0, 10)}, ${json.machine.cpu}, ${json.machine.cores} cores, ${THREADS} threads, ${MODEL_NAME} model`,
    '',
    `${files.length} files, ${(seconds / 3600).toFixed(2)} h of espeak-ng speech, 2-60 s (log-uniform), ${MODEL_NAME === 'base' ? 'base-size random weights' : 'default model'} (${modelPath.split('/').at(-1)}); ` +
      `1-minute load average ${json.loadAverage1m.before.toFixed(1)} before, ${json.loadAverage1m.after.toFixed(1)} after. ` +
      `Each row: the median of ${REPS} runs, interleaved (job ${jobRuns.map((x) => x.toFixed(1)).join(' / ')} s; Python loop ${pyRuns.map((r) => r.loop.toFixed(1)).join(' / ') || '-'} s; ` +
      `commands ${cliRuns.map((x) => x.toFixed(1)).join(' / ') || '-'} s against ${pyRuns.map((r) => r.command.toFixed(1)).join(' / ') || '-'} s).`,
    '',
    table(['run', 'wall s', 'x real time', 'wall time / job\'s', 'words in order shared with the job'], rows.map(([name, s, agree]) => [
      name, s === null ? '-' : s.toFixed(1), s === null ? '-' : (seconds / s).toFixed(1), s === null ? '-' : (s / jobSeconds).toFixed(2),
      agree === null ? '-' : `${(agree * 100).toFixed(1)} %`,
    ])),
    '',
    `Job's throughput over the Python loop's: loop against loop ${ratio(speedup.loop)}, whole command against whole command ${ratio(speedup.command)}.`,
    ...(MODEL_NAME === 'base' ? ['', 'Random weights: the words mean nothing, the agreement column only that both sides computed the same.'] : []),
    ...(note ? ['', note] : []),
  ].join('\n');
  // one result file per model and thread count: the README reports them
  const name = `batch${MODEL_NAME === 'default' ? '' : `-${MODEL_NAME}`}${THREADS === 2 ? '' : `-threads${THREADS}`}`;
  const file = writeResults(name, json, md);
  console.log('\n' + md + `\n\n${file}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
