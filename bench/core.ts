/**
 * `npm run bench` (also `npm run bench:core`, `npx wav2vec2 bench`): this package against Python
 * (torch.jit.load + inference_mode, same TorchScript file) and onnxruntime-node (the same weights exported to
 * ONNX), each in its own process, interleaved, with warm-ups, on the same inputs and thread counts. Reports
 * median/min/max, × real time, ratios, max abs difference of outputs, peak RSS and the worst event-loop lag
 * during inference; then an end-to-end case (file -> decode -> resample -> forward -> greedy) against the
 * equivalent Python pipeline. Writes bench/results/core-<date>-<host>.json, core-latest.md and core-latest.png.
 *   --quick            tiny model, batch 1 and 4 (CI)
 *   --models LIST      tiny,base,large (default tiny,base,large; built by scripts/make_bench_models.py)
 *   --threads LIST     override the thread counts (default: 2, plus 1 for base)
 *   --reps N           timed runs per runtime and scenario (default 5; 3 for large)
 *   --device DEV       cpu (default) or cuda
 *   --model FILE       a TorchScript file of your own (FILE with .onnx instead of .pt is used for onnxruntime)
 *   --no-e2e           skip the end-to-end case
 *   --no-variants      skip the variants of this package on the base model (graph rewrites off, CPU cache off, int8, bfloat16,
 *                      the native builder on the same weights)
 *   --variants-only    only the variants (no runtime comparison, no end-to-end case)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAudio } from '../lib/audio';
import { maxAbsDiff } from '../lib/tensor';
import { PACKAGE_ROOT } from '../lib/paths';
import { findPython } from '../scripts/python';
import { lineChart } from './plot';
import { machine, sameArgmax, speechLike, summary, table, wav16, writeResults } from './stats';
import { BenchWorker, type Runtime } from './worker';
import { readF32 } from './workers/loop';

const ROOT = PACKAGE_ROOT;
const RUNTIMES: Runtime[] = ['ours', 'python', 'onnxruntime'];
const WARMUP = 2;

interface Scenario { model: string; batch: number; seconds: number; threads: number }
interface ModelFiles { name: string; label: string; pt: string; onnx: string | null }

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false }, models: { type: 'string' }, threads: { type: 'string' }, reps: { type: 'string' },
      device: { type: 'string', default: 'cpu' }, model: { type: 'string' }, 'no-e2e': { type: 'boolean', default: false },
      'no-variants': { type: 'boolean', default: false }, 'variants-only': { type: 'boolean', default: false },
    },
  });
  return values;
}

const LABELS: Record<string, string> = { tiny: 'tiny (random, 0.1M)', base: 'base (random, 94.4M)', large: 'large (random, 315M)' };

/** bench/models/<name>.pt (+ .onnx), built by scripts/make_bench_models.py on first use. */
function ensureModel(name: string): ModelFiles | null {
  const pt = join(ROOT, 'bench', 'models', `${name}.pt`);
  const onnx = join(ROOT, 'bench', 'models', `${name}.onnx`);
  if (!existsSync(pt) || !existsSync(onnx)) {
    const py = findPython(['torch', 'transformers']);
    if (!py) {
      console.log(`no Python with torch + transformers: cannot build bench/models/${name}.pt; skipping it`);
      return null;
    }
    const haveOnnx = findPython(['torch', 'transformers', 'onnx']) === py;
    console.log(`building bench/models/${name}.pt${haveOnnx ? ' and .onnx' : ''} (random weights) with scripts/make_bench_models.py ...`);
    if (!existsSync(pt) || haveOnnx) {
      const r = spawnSync(py, [join(ROOT, 'scripts', 'make_bench_models.py'), name, ...(haveOnnx ? [] : ['--no-onnx'])], { stdio: 'inherit' });
      if (r.status !== 0 || !existsSync(pt)) return null;
    }
  }
  return { name, label: LABELS[name] ?? name, pt, onnx: existsSync(onnx) ? onnx : null };
}

function scenariosFor(name: string, quick: boolean, threadsOverride: number[] | null): Scenario[] {
  const s = (batch: number, seconds: number, threads: number) => ({ model: name, batch, seconds, threads });
  let out: Scenario[];
  if (quick) out = [s(1, 10, 2), s(4, 10, 2)];
  else if (name === 'tiny') out = [s(1, 10, 2), s(4, 10, 2), s(8, 10, 2)];
  else if (name === 'base') out = [s(1, 1, 2), s(1, 10, 2), s(4, 10, 2), s(8, 10, 2), s(1, 30, 2), s(1, 10, 1), s(4, 10, 1)];
  else if (name === 'large') out = [s(1, 10, 2), s(4, 10, 2)];
  else out = [s(1, 10, 2), s(4, 10, 2)];
  if (threadsOverride) {
    const shapes = [...new Map(out.map((x) => [`${x.batch}x${x.seconds}`, x])).values()];
    out = threadsOverride.flatMap((t) => shapes.map((x) => ({ ...x, threads: t })));
  }
  return out;
}

/** `batch` speech-like items of `seconds` each as one raw float32 file, the input every runtime reads. */
function writeInput(tmp: string, batch: number, seconds: number): { input: string; shape: number[] } {
  const T = seconds * 16000;
  const data = new Float32Array(batch * T);
  for (let i = 0; i < batch; i++) data.set(speechLike(seconds, i + 1), i * T);
  const input = join(tmp, 'in.f32');
  writeFileSync(input, data);
  return { input, shape: [batch, T] };
}

type Row = Scenario & {
  label: string;
  times: Partial<Record<Runtime, ReturnType<typeof summary>>>;
  xRT: Partial<Record<Runtime, number>>;
  lagMs: Partial<Record<Runtime, number>>;
  rssPeakMB: Partial<Record<Runtime, number>>;
  oursVsPython: number | null;
  oursVsOnnx: number | null;
  diffPython: number | null;
  diffOnnx: number | null;
  /** floating-point operations of one forward pass (torch.utils.flop_counter: convolutions, matmuls, attention) */
  gflop: number | null;
  /** the best float32 GEMM rate measured on these cores at this thread count (CPU only) */
  peak: { gflops: number; shape: number[]; kernel: string } | null;
  /** gflop at the peak rate: a lower bound for a runtime that does this arithmetic with these kernels on these cores */
  floorMs: number | null;
  /** gflop / median time, per runtime */
  gflops: Partial<Record<Runtime, number>>;
};

async function runModel(files: ModelFiles, scenarios: Scenario[], reps: number, device: string, tmp: string): Promise<Row[]> {
  const rows: Row[] = [];
  // One set of workers per thread count: a fresh process per configuration gives clean peak RSS figures.
  for (const threads of [...new Set(scenarios.map((s) => s.threads))]) {
    const workers = new Map<Runtime, BenchWorker>();
    try {
      for (const rt of RUNTIMES) {
        if (rt === 'onnxruntime' && !files.onnx) continue;
        const w = BenchWorker.start(rt);
        if (!w) {
          console.log(`  ${rt}: not available here, skipped`);
          continue;
        }
        try {
          await w.request({ cmd: 'load', path: rt === 'onnxruntime' ? files.onnx : files.pt, threads, device });
          workers.set(rt, w);
        } catch (err) {
          console.log(`  ${rt}: could not load the model (${(err as Error).message}); skipped`);
          w.close();
        }
      }
      if (!workers.has('ours')) throw new Error('this package could not load the model: see the message above');
      // The compute ceiling, measured once per thread count by the Python worker (LibTorch's own GEMM kernels).
      const python = workers.get('python');
      const peak = python && device === 'cpu' ? await python.request({ cmd: 'peak', threads }).catch(() => null) : null;
      for (const sc of scenarios.filter((x) => x.threads === threads)) {
        const { input, shape } = writeInput(tmp, sc.batch, sc.seconds);
        const order = [...workers.keys()];
        for (let i = 0; i < WARMUP; i++) for (const rt of order) await workers.get(rt)!.request({ cmd: 'run', input, shape, out: null });
        const ms: Partial<Record<Runtime, number[]>> = {};
        const lag: Partial<Record<Runtime, number>> = {};
        const rss: Partial<Record<Runtime, number>> = {};
        for (let r = 0; r < reps; r++) {
          // Rotate who goes first so that no runtime always runs on a warmer (or hotter) machine.
          for (let k = 0; k < order.length; k++) {
            const rt = order[(r + k) % order.length]!;
            const reply = await workers.get(rt)!.request({ cmd: 'run', input, shape, out: r === 0 ? join(tmp, `${rt}.f32`) : null });
            (ms[rt] ??= []).push(reply.ms);
            if (reply.lagMs !== undefined) lag[rt] = Math.max(lag[rt] ?? 0, reply.lagMs);
            rss[rt] = reply.rssPeakMB;
          }
        }
        const read = (rt: Runtime) => readF32(join(tmp, `${rt}.f32`));
        const ours = read('ours');
        const gflop: number | null = python ? (await python.request({ cmd: 'flops', shape }).catch(() => null))?.gflop ?? null : null;
        const times: Row['times'] = {};
        const xRT: Row['xRT'] = {};
        for (const rt of order) {
          times[rt] = summary(ms[rt]!);
          xRT[rt] = (sc.batch * sc.seconds) / (times[rt]!.median / 1000);
        }
        const row: Row = {
          ...sc, label: files.label, times, xRT, lagMs: lag, rssPeakMB: rss,
          oursVsPython: times.python ? times.ours!.median / times.python.median : null,
          oursVsOnnx: times.onnxruntime ? times.ours!.median / times.onnxruntime.median : null,
          diffPython: workers.has('python') ? maxAbsDiff(ours, read('python')) : null,
          diffOnnx: workers.has('onnxruntime') ? maxAbsDiff(ours, read('onnxruntime')) : null,
          gflop, peak: peak ? { gflops: peak.gflops, shape: peak.shape, kernel: peak.kernel } : null,
          floorMs: gflop !== null && peak ? (gflop / peak.gflops) * 1000 : null,
          gflops: Object.fromEntries(order.map((rt) => [rt, gflop !== null ? gflop / (times[rt]!.median / 1000) : undefined]).filter(([, v]) => v !== undefined)),
        };
        rows.push(row);
        const f = (rt: Runtime) => (times[rt] ? `${times[rt]!.median.toFixed(0)} ms` : '-');
        console.log(`${files.name} ${sc.batch}×${sc.seconds} s, ${threads} thr: ours ${f('ours')}, python ${f('python')}, onnxruntime ${f('onnxruntime')}; ` +
          `ours/python ${row.oursVsPython?.toFixed(3) ?? '-'}, ours/onnxruntime ${row.oursVsOnnx?.toFixed(3) ?? '-'}; lag ours ${lag.ours?.toFixed(1)} ms, onnxruntime ${lag.onnxruntime?.toFixed(0) ?? '-'} ms`);
      }
    } finally {
      for (const w of workers.values()) w.close();
    }
  }
  return rows;
}

type Precision = 'float32' | 'bfloat16' | 'int8';
interface VariantRow {
  variant: string; runtime: 'ours' | 'onnxruntime'; precision: Precision; batch: number; seconds: number; ms: ReturnType<typeof summary>; xRT: number; speedup: number;
  maxAbsDiff: number;
  /** frames whose argmax label is float32's (the default's), % */
  sameArgmax: number;
  /** GFLOP / median time, and its share of the precision's measured GEMM peak */
  gflops: number | null; peakShare: number | null;
}
interface Variant { name: string; runtime: 'ours' | 'onnxruntime'; precision: Precision; load: Record<string, unknown> }

/** Quantiles (1 %, 5 %, 50 %) over frames of the gap between the two largest values of a frame: how near a tie the
 * argmax is, and so how small a difference can change it. */
function topTwoGaps(e: Float32Array, labels: number): { p1: number; p5: number; p50: number } {
  const gaps: number[] = [];
  for (let f = 0; f < e.length / labels; f++) {
    let first = -Infinity, second = -Infinity;
    for (let j = 0; j < labels; j++) {
      const v = e[f * labels + j]!;
      if (v > first) [first, second] = [v, first];
      else if (v > second) second = v;
    }
    gaps.push(first - second);
  }
  gaps.sort((a, b) => a - b);
  const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]!;
  return { p1: at(0.01), p5: at(0.05), p50: at(0.5) };
}

/** Exports of the same Hugging Face weights: int8 and bfloat16 TorchScript (scripts/export_hf.py), int8 ONNX. */
function variantFiles(files: ModelFiles): { hfDir: string; int8: string; bf16: string; onnxInt8: string } {
  const hfDir = join(ROOT, 'bench', 'models', `${files.name}-hf`);
  const exportOf = (script: string, file: string, flags: string[], modules: string[]): string => {
    const py = findPython(modules);
    if (!existsSync(file) && py && existsSync(hfDir)) spawnSync(py, [join(ROOT, 'scripts', script), hfDir, file, ...flags], { stdio: 'inherit' });
    return file;
  };
  const model = (suffix: string) => join(ROOT, 'bench', 'models', `${files.name}-${suffix}`);
  return {
    hfDir,
    int8: exportOf('export_hf.py', model('int8.pt'), ['--quantize', 'int8'], ['torch', 'transformers']),
    bf16: exportOf('export_hf.py', model('bf16.pt'), ['--dtype', 'bfloat16'], ['torch', 'transformers']),
    onnxInt8: exportOf('export_onnx.py', model('int8.onnx'), ['--quantize', 'int8'], ['torch', 'transformers', 'onnx', 'onnxruntime']),
  };
}

function variantList(files: ModelFiles): Variant[] {
  const { hfDir, int8, bf16, onnxInt8 } = variantFiles(files);
  const ours = (name: string, precision: Precision, load: Record<string, unknown>): Variant => ({ name, runtime: 'ours', precision, load });
  const native = existsSync(join(hfDir, 'model.safetensors'));
  return [
    ours('default (float32, graph rewrites and CPU tensor cache on)', 'float32', { path: files.pt }),
    ours('graph rewrites off (optimize: false)', 'float32', { path: files.pt, optimize: false }),
    ours('CPU tensor cache off', 'float32', { path: files.pt, cpuCacheLimit: 0 }),
    ...(existsSync(bf16) ? [ours('bfloat16 (export_hf.py --dtype bfloat16)', 'bfloat16', { path: bf16, dtype: 'bfloat16' })] : []),
    ...(existsSync(int8) ? [ours('int8 dynamic quantisation (export_hf.py --quantize int8)', 'int8', { path: int8 })] : []),
    // The same weights as the default's TorchScript export, built natively from their Hugging Face folder (lib/builder).
    ...(native ? [
      ours('native builder (same weights, from model.safetensors)', 'float32', { hub: hfDir }),
      ours('native builder in bfloat16 (dtype: \'bfloat16\', oneDNN kernels)', 'bfloat16', { hub: hfDir, dtype: 'bfloat16' }),
      // Every product in int8 with per-row scales (native/builder/int8.h); attention and the positional convolution in bfloat16.
      ours('native builder in int8 (dtype: \'int8\', per-row scales, batches exactly)', 'int8', { hub: hfDir, dtype: 'int8' }),
    ] : []),
    // What a user would pick instead, at its own settings: onnxruntime-node in float32 and at its fastest (int8 MatMul/Gemm).
    ...(files.onnx ? [{ name: 'onnxruntime-node, float32', runtime: 'onnxruntime' as const, precision: 'float32' as const, load: { path: files.onnx } }] : []),
    ...(existsSync(onnxInt8) ? [{ name: 'onnxruntime-node, int8 (quantize_dynamic on MatMul/Gemm)', runtime: 'onnxruntime' as const, precision: 'int8' as const, load: { path: onnxInt8 } }] : []),
  ];
}

/**
 * This package in several configurations on one model, interleaved, each against the default one, beside
 * onnxruntime-node in float32 and at its fastest: what each optimisation or option buys (time, GFLOP/s against the
 * precision's measured GEMM peak) and costs (max abs difference of the emissions from float32, frames whose argmax
 * changes).
 */
async function variants(files: ModelFiles, reps: number, tmp: string): Promise<{ rows: VariantRow[]; peaks: Partial<Record<Precision, number>>; gaps: Record<string, ReturnType<typeof topTwoGaps>> }> {
  const configs = variantList(files);
  const workers: BenchWorker[] = [];
  const rows: VariantRow[] = [];
  const gaps: Record<string, ReturnType<typeof topTwoGaps>> = {};
  const python = BenchWorker.start('python');
  try {
    if (python) await python.request({ cmd: 'load', path: files.pt, threads: 2 });
    const peaks: Partial<Record<Precision, number>> = {};
    for (const p of ['float32', 'bfloat16', 'int8'] as const) {
      const r = python ? await python.request({ cmd: 'peak', threads: 2, dtype: p }).catch(() => null) : null;
      if (r) peaks[p] = r.gflops;
    }
    for (const c of configs) {
      const w = BenchWorker.start(c.runtime)!;
      await w.request({ cmd: 'load', threads: 2, ...c.load });
      workers.push(w);
    }
    for (const [batch, seconds] of [[1, 1], [1, 10], [4, 10]] as const) {
      const { input, shape } = writeInput(tmp, batch, seconds);
      const gflop: number | null = python ? (await python.request({ cmd: 'flops', shape }).catch(() => null))?.gflop ?? null : null;
      for (const w of workers) for (let i = 0; i < WARMUP; i++) await w.request({ cmd: 'run', input, shape, out: null });
      const ms: number[][] = workers.map(() => []);
      let labels = 0;
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < workers.length; k++) {
          const i = (r + k) % workers.length;
          const reply = await workers[i]!.request({ cmd: 'run', input, shape, out: r === 0 ? join(tmp, `v${i}.f32`) : null });
          ms[i]!.push(reply.ms);
          labels = reply.shape.at(-1);
        }
      }
      const read = (i: number) => readF32(join(tmp, `v${i}.f32`));
      gaps[`${batch}×${seconds} s`] = topTwoGaps(read(0), labels);
      const base = summary(ms[0]!);
      configs.forEach((c, i) => {
        const t = summary(ms[i]!);
        const rate = gflop !== null ? gflop / (t.median / 1000) : null;
        rows.push({
          variant: c.name, runtime: c.runtime, precision: c.precision, batch, seconds, ms: t, xRT: (batch * seconds) / (t.median / 1000), speedup: base.median / t.median,
          maxAbsDiff: maxAbsDiff(read(i), read(0)), sameArgmax: (100 * sameArgmax(read(i), read(0), labels)) / (read(0).length / labels),
          gflops: rate, peakShare: rate !== null && peaks[c.precision] ? rate / peaks[c.precision]! : null,
        });
        console.log(`variant ${files.name} ${batch}×${seconds} s: ${c.name}: ${t.median.toFixed(0)} ms (${(base.median / t.median).toFixed(2)}× the default), max abs diff ${rows.at(-1)!.maxAbsDiff.toExponential(1)}`);
      });
    }
    return { rows, peaks, gaps };
  } finally {
    for (const w of workers) w.close();
    python?.close();
  }
}

/** Per input: our fastest configuration against onnxruntime-node's fastest, both from the same variants run. */
function fastestAgainstFastest(rows: VariantRow[]): Array<{ input: string; ours: VariantRow; onnxruntime: VariantRow }> {
  const out: Array<{ input: string; ours: VariantRow; onnxruntime: VariantRow }> = [];
  for (const input of [...new Set(rows.map((r) => `${r.batch}×${r.seconds} s`))]) {
    const at = rows.filter((r) => `${r.batch}×${r.seconds} s` === input);
    const best = (rt: VariantRow['runtime']) => at.filter((r) => r.runtime === rt).sort((a, b) => a.ms.median - b.ms.median)[0];
    const ours = best('ours');
    const onnxruntime = best('onnxruntime');
    if (ours && onnxruntime) out.push({ input, ours, onnxruntime });
  }
  return out;
}

interface E2ERow { file: string; seconds: number; rate: number; ours: ReturnType<typeof summary>; python: ReturnType<typeof summary> | null; ratio: number | null; sameText: boolean | null; text: string }

/** file -> decode -> resample -> forward -> greedy on the default model, ours vs the Python pipeline. */
async function endToEnd(reps: number, tmp: string): Promise<E2ERow[]> {
  const modelFile = join(ROOT, 'models', 'default.pt');
  const manifest = JSON.parse(readFileSync(join(ROOT, 'models', 'default.json'), 'utf8'));
  const sample = join(ROOT, 'samples', 'curiosity-44k.wav');
  // A 60 s 44.1 kHz file: the sample tiled (decode and resample costs grow with length; the model's too).
  const one = (await loadAudio(sample, { mono: true })).channels[0]!;
  const long = new Float32Array(44100 * 60);
  for (let i = 0; i < long.length; i++) long[i] = one[i % one.length]!;
  const longFile = join(tmp, 'long-44k.wav');
  writeFileSync(longFile, wav16(long, 44100));
  const cases = [{ file: sample, name: 'samples/curiosity-44k.wav', seconds: one.length / 44100 }, { file: longFile, name: 'curiosity-44k tiled to 60 s', seconds: 60 }];
  const ours = BenchWorker.start('ours')!;
  const python = findPython(['torch', 'numpy', 'soundfile']) ? BenchWorker.start('python') : null;
  const rows: E2ERow[] = [];
  try {
    await ours.request({ cmd: 'load', path: modelFile, threads: 2, manifest: true });
    if (python) await python.request({ cmd: 'load', path: modelFile, threads: 2 });
    for (const c of cases) {
      const req = { cmd: 'e2e', file: c.file, normalize: manifest.normalizeWaveform, labels: manifest.labels };
      for (let i = 0; i < WARMUP; i++) { await ours.request(req); if (python) await python.request(req); }
      const o: number[] = [];
      const p: number[] = [];
      let to = '';
      let tp = '';
      for (let r = 0; r < reps; r++) {
        const a = async () => { const x = await ours.request(req); o.push(x.ms); to = x.text; };
        const b = async () => { if (python) { const x = await python.request(req); p.push(x.ms); tp = x.text; } };
        if (r % 2) { await b(); await a(); } else { await a(); await b(); }
      }
      const row = { file: c.name, seconds: c.seconds, rate: 44100, ours: summary(o), python: python ? summary(p) : null, ratio: python ? summary(o).median / summary(p).median : null, sameText: python ? to === tp : null, text: to.slice(0, 80) };
      rows.push(row);
      console.log(`e2e ${c.name}: ours ${row.ours.median.toFixed(0)} ms, python ${row.python?.median.toFixed(0) ?? '-'} ms, ratio ${row.ratio?.toFixed(3) ?? '-'}, same transcript ${row.sameText}`);
    }
  } finally {
    ours.close();
    python?.close();
  }
  return rows;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const args = parse(argv);
  const threadsOverride = args.threads ? args.threads.split(',').map(Number) : null;
  const names = args.quick ? ['tiny'] : (args.models ?? 'tiny,base,large').split(',');
  const tmp = mkdtempSync(join(tmpdir(), 'w2v-bench-'));
  const rows: Row[] = [];
  let e2e: E2ERow[] = [];
  let variantRows: VariantRow[] = [];
  let peaks: Partial<Record<Precision, number>> = {};
  let gaps: Record<string, ReturnType<typeof topTwoGaps>> = {};
  const started = Date.now();
  try {
    if (args['variants-only']) {
      // no runtime comparison: straight to the variants below
    } else if (args.model) {
      const onnx = args.model.replace(/\.pt$/, '.onnx');
      const files = { name: args.model, label: args.model, pt: args.model, onnx: onnx !== args.model && existsSync(onnx) ? onnx : null };
      rows.push(...await runModel(files, scenariosFor('custom', false, threadsOverride), Number(args.reps ?? 5), args.device!, tmp));
    } else {
      for (const name of names) {
        const files = ensureModel(name);
        if (!files) continue;
        rows.push(...await runModel(files, scenariosFor(name, args.quick!, threadsOverride), Number(args.reps ?? (args.quick ? 3 : name === 'large' ? 3 : 5)), args.device!, tmp));
      }
    }
    if (!args['no-variants'] && !args.model && args.device === 'cpu') {
      const target = ensureModel(args.quick ? 'tiny' : names.includes('base') ? 'base' : names[0]!);
      if (target) ({ rows: variantRows, peaks, gaps } = await variants(target, args.quick ? 3 : 5, tmp));
    }
    if (!args['no-e2e'] && !args['variants-only']) e2e = await endToEnd(args.quick ? 3 : 5, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const m = machine();
  const ms = (s?: ReturnType<typeof summary>) => (s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})` : '-');
  const x = (v?: number) => (v === undefined ? '-' : v.toFixed(1));
  const md = [
    `bench — ${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, ${m.host}; device ${args.device}; median (min–max) of the timed runs, ms`,
    '',
    table(['model', 'input', 'thr', 'ours', 'Python', 'onnxruntime', 'ours × RT', 'ours / Python', 'ours / onnxruntime', 'max diff Py / ORT', 'peak RSS MB ours / Py / ORT', 'worst lag ms ours / ORT'], rows.map((r) => [
      r.label, `${r.batch}×${r.seconds} s`, r.threads, ms(r.times.ours), ms(r.times.python), ms(r.times.onnxruntime), x(r.xRT.ours),
      r.oursVsPython?.toFixed(2) ?? '-', r.oursVsOnnx?.toFixed(2) ?? '-',
      `${r.diffPython?.toExponential(1) ?? '-'} / ${r.diffOnnx?.toExponential(1) ?? '-'}`,
      `${x(r.rssPeakMB.ours)} / ${x(r.rssPeakMB.python)} / ${x(r.rssPeakMB.onnxruntime)}`,
      `${x(r.lagMs.ours)} / ${x(r.lagMs.onnxruntime)}`,
    ])),
    ...(rows.some((r) => r.floorMs !== null) ? ['', 'Against the machine\'s float32 ceiling: GFLOP = one forward pass\'s floating-point operations (convolutions, matrix multiplies, attention; torch.utils.flop_counter); ' +
      'floor = that work at the best float32 GEMM rate measured on these cores at that thread count (LibTorch\'s MKL and oneDNN kernels, large model-like shapes), a lower bound for a runtime that uses these kernels; ' +
      'GFLOP/s = GFLOP / median time (% of the peak).', '',
      table(['model', 'input', 'thr', 'GFLOP', 'peak GFLOP/s', 'floor ms', 'GFLOP/s ours', 'GFLOP/s Python', 'GFLOP/s onnxruntime', 'floor / Python', 'floor / onnxruntime'], rows.filter((r) => r.floorMs !== null).map((r) => {
        const rate = (rt: Runtime) => (r.gflops[rt] !== undefined ? `${r.gflops[rt]!.toFixed(0)} (${((100 * r.gflops[rt]!) / r.peak!.gflops).toFixed(0)} %)` : '-');
        return [r.label, `${r.batch}×${r.seconds} s`, r.threads, r.gflop!.toFixed(1), r.peak!.gflops.toFixed(0), r.floorMs!.toFixed(0), rate('ours'), rate('python'), rate('onnxruntime'),
          r.times.python ? (r.floorMs! / r.times.python.median).toFixed(2) : '-', r.times.onnxruntime ? (r.floorMs! / r.times.onnxruntime.median).toFixed(2) : '-'];
      }))] : []),
    ...(variantRows.length ? ['', `This package's configurations on the ${args.quick ? 'tiny' : 'base'} model beside onnxruntime-node's, 2 threads, interleaved in one run (speed-up, max abs difference of the emissions and frames with the same argmax label, all against the default; ` +
      `GFLOP/s against the precision's measured GEMM peak on these cores: ${Object.entries(peaks).map(([p, g]) => `${p} ${g!.toFixed(0)}`).join(', ')} GFLOP/s):`, '',
      table(['configuration', 'precision', 'input', 'ms', '× RT', 'speed-up', 'GFLOP/s (% of peak)', 'max abs diff', 'same argmax %'], variantRows.map((r) => [r.variant, r.precision, `${r.batch}×${r.seconds} s`, ms(r.ms), r.xRT.toFixed(1), r.speedup.toFixed(2),
        r.gflops !== null ? `${r.gflops.toFixed(0)}${r.peakShare !== null ? ` (${(100 * r.peakShare).toFixed(0)} %)` : ''}` : '-', r.maxAbsDiff.toExponential(1), r.sameArgmax.toFixed(1)])),
      '', 'How near a tie the default\'s argmax is (the gap between its two largest values in a frame, quantiles over frames): a difference ' +
        'larger than the gap may change the label. ' + Object.entries(gaps).map(([input, g]) => `${input}: 1 % ${g.p1.toExponential(1)}, 5 % ${g.p5.toExponential(1)}, median ${g.p50.toExponential(1)}`).join('; ') + '.',
      '', 'Fastest against fastest (the quickest configuration of each runtime above, same run):', '',
      table(['input', 'ours', 'onnxruntime-node', 'ours / onnxruntime'], fastestAgainstFastest(variantRows).map((f) => [f.input, `${f.ours.variant}: ${ms(f.ours.ms)}`, `${f.onnxruntime.variant}: ${ms(f.onnxruntime.ms)}`, (f.ours.ms.median / f.onnxruntime.ms.median).toFixed(2)]))] : []),
    ...(e2e.length ? ['', 'End to end (default model; file -> decode -> resample 44.1 -> 16 kHz -> forward -> greedy), 2 threads:', '',
      table(['file', 'ours ms', 'Python ms', 'ours / Python', 'same transcript'], e2e.map((r) => [r.file, ms(r.ours), ms(r.python ?? undefined), r.ratio?.toFixed(2) ?? '-', String(r.sameText ?? '-')]))] : []),
  ].join('\n');
  console.log('\n' + md);
  const json = { machine: m, device: args.device, warmup: WARMUP, seconds: (Date.now() - started) / 1000, results: rows, variants: variantRows, peaks, argmaxGaps: gaps, fastest: fastestAgainstFastest(variantRows), endToEnd: e2e };
  // --quick (CI) writes core-quick-* and --variants-only core-variants-*: the README shows the full run's core-latest.md
  const name = args.quick ? 'core-quick' : args['variants-only'] ? 'core-variants' : 'core';
  const file = writeResults(name, json, md);
  // × real time against batch size, 10 s items at 2 threads, one panel per model
  const panels = [...new Set(rows.map((r) => r.label))].map((label) => ({
    title: label,
    series: RUNTIMES.map((rt) => ({ name: rt === 'ours' ? 'wav2vec2-node' : rt === 'python' ? 'Python torch.jit' : 'onnxruntime-node', points: rows.filter((r) => r.label === label && r.seconds === 10 && r.threads === 2 && r.xRT[rt] !== undefined).map((r) => [r.batch, r.xRT[rt]!] as [number, number]) })).filter((s) => s.points.length),
  })).filter((p) => p.series.length);
  if (panels.length) writeFileSync(join(ROOT, 'bench', 'results', `${name}-latest.png`), lineChart(`× real time vs batch size (10 s items, 2 threads, ${args.device}) — ${hostname()}`, 'batch size', '× real time', panels));
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}, bench/results/${name}-latest.md and ${name}-latest.png`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
