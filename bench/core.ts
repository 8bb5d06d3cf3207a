/**
 * `npm run bench:core`: this addon against Python (torch.jit.load + inference_mode) on the same TorchScript
 * file, inputs and thread count, in one run, interleaved, with warm-ups. Prints median times, × real time,
 * the ratio ours/Python and the max abs difference of the outputs; writes bench/results/core-*.json/.md.
 *   --threads N   intra-op threads for both (default 2)
 *   --reps N      timed runs per runtime and scenario (default 5)
 *   --quick       the tiny fixture model only, 3 runs (for CI)
 *   --model FILE  benchmark this TorchScript file instead of the built-in scenarios
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../lib/model';
import { binding } from '../lib/native';
import { maxAbsDiff } from '../lib/tensor';
import { findPython } from '../scripts/python';
import { PythonReference } from './python-ref';
import { machine, speechLike, summary, table, writeResults } from './stats';

const ROOT = join(__dirname, '..');
const { values: args } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, reps: { type: 'string' }, quick: { type: 'boolean', default: false }, model: { type: 'string' } },
});
const threads = Number(args.threads);
const reps = Number(args.reps ?? (args.quick ? 3 : 5));
const WARMUP = 2;

interface Scenario { model: string; file: string; batch: number; seconds: number }

function ensureBaseModel(): string | null {
  const file = join(ROOT, 'bench', 'models', 'base.pt');
  if (existsSync(file)) return file;
  console.log('building bench/models/base.pt (wav2vec2-base layout, random weights) with scripts/make_bench_models.py ...');
  const py = findPython(['torch', 'transformers']);
  if (!py) {
    console.log('  no Python with torch + transformers: skipping the base-size model');
    return null;
  }
  const r = spawnSync(py, [join(ROOT, 'scripts', 'make_bench_models.py'), 'base'], { stdio: 'inherit' });
  return r.status === 0 && existsSync(file) ? file : null;
}

async function main(): Promise<void> {
  const scenarios: Scenario[] = [];
  if (args.model) {
    for (const [batch, seconds] of [[1, 10], [4, 10]] as const) scenarios.push({ model: args.model, file: args.model, batch, seconds });
  }
  const tiny = join(ROOT, 'test', 'fixtures', 'models', 'ta_tiny_base.pt');
  if (!args.model) for (const [batch, seconds] of [[1, 10], [4, 10]] as const) scenarios.push({ model: 'tiny (fixture ta_tiny_base)', file: tiny, batch, seconds });
  if (!args.quick && !args.model) {
    const base = ensureBaseModel();
    if (base) for (const [batch, seconds] of [[1, 10], [4, 10]] as const) scenarios.push({ model: 'base (95M, random weights)', file: base, batch, seconds });
  }

  const python = PythonReference.start();
  if (!python) console.log('no Python with torch found: reporting this addon alone');
  const tmp = mkdtempSync(join(tmpdir(), 'w2v-bench-'));
  const results = [];
  try {
    let loaded = '';
    let model = null as Awaited<ReturnType<typeof loadModel>> | null;
    for (const sc of scenarios) {
      if (loaded !== sc.file) {
        model?.dispose();
        model = await loadModel(sc.file, { threads, manifest: false });
        if (python) await python.request({ cmd: 'load', path: sc.file, threads });
        loaded = sc.file;
      }
      const items = Array.from({ length: sc.batch }, (_, i) => speechLike(sc.seconds, i + 1));
      const T = items[0]!.length;
      const data = new Float32Array(sc.batch * T);
      items.forEach((x, i) => data.set(x, i * T));
      const input = { data, shape: [sc.batch, T] as [number, number] };
      const inFile = join(tmp, 'in.f32');
      const outFile = join(tmp, 'out.f32');
      writeFileSync(inFile, Buffer.from(data.buffer));
      const pyRun = (out: string | null) => python!.request({ cmd: 'run', input: inFile, shape: [sc.batch, T], lengths: null, out });

      for (let i = 0; i < WARMUP; i++) {
        await model!.forward(input);
        if (python) await pyRun(null);
      }
      const ours: number[] = [];
      const py: number[] = [];
      let last = null as Awaited<ReturnType<NonNullable<typeof model>['forward']>> | null;
      for (let r = 0; r < reps; r++) {
        // Alternate who goes first so that neither always runs on a warmer cache.
        const runOurs = async () => {
          const t0 = performance.now();
          last = await model!.forward(input);
          ours.push(performance.now() - t0);
        };
        const runPy = async () => {
          if (python) py.push((await pyRun(r === 0 ? outFile : null)).ms);
        };
        if (r % 2 === 0) { await runOurs(); await runPy(); } else { await runPy(); await runOurs(); }
      }
      let diff: number | null = null;
      if (python) {
        const b = readFileSync(outFile);
        diff = maxAbsDiff(last!.emissions.data, new Float32Array(b.buffer, b.byteOffset, b.length / 4));
      }
      const audio = sc.batch * sc.seconds;
      const o = summary(ours);
      const p = python ? summary(py) : null;
      const row = { ...sc, file: sc.file.replace(ROOT + '/', ''), threads, ours: o, python: p, oursXRT: audio / (o.median / 1000), pythonXRT: p ? audio / (p.median / 1000) : null, ratio: p ? o.median / p.median : null, maxAbsDiff: diff };
      results.push(row);
      console.log(`${sc.model} ${sc.batch}x${sc.seconds}s: ours ${o.median.toFixed(1)} ms, python ${p ? p.median.toFixed(1) : '-'} ms, ratio ${row.ratio?.toFixed(3) ?? '-'}, max abs diff ${diff?.toExponential(2) ?? '-'}`);
    }
    model?.dispose();
  } finally {
    python?.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const m = machine();
  const md = [
    `bench:core — ${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, ${threads} threads, LibTorch ${binding().torchVersion}, median of ${reps} (min–max)`,
    '',
    table(['model', 'input', 'ours ms', 'Python ms', 'ours × RT', 'ours / Python', 'max abs diff'], results.map((r) => [
      r.model, `${r.batch}×${r.seconds} s`,
      `${r.ours.median.toFixed(1)} (${r.ours.min.toFixed(0)}–${r.ours.max.toFixed(0)})`,
      r.python ? `${r.python.median.toFixed(1)} (${r.python.min.toFixed(0)}–${r.python.max.toFixed(0)})` : '-',
      r.oursXRT.toFixed(1), r.ratio?.toFixed(3) ?? '-', r.maxAbsDiff?.toExponential(1) ?? '-',
    ])),
  ].join('\n');
  console.log('\n' + md);
  const file = writeResults('core', { machine: m, torch: binding().torchVersion, threads, reps, warmup: WARMUP, results }, md);
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
