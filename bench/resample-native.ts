/**
 * CPU time of resampling, JavaScript (lib/audio/resample.ts) against the addon's conv1d (lib/audio/resample-native.ts),
 * measured as the audio pool runs it: float32, on a worker thread. The figure is CPU time, not wall time: the thread's
 * own (from /proc/thread-self/schedstat, nanoseconds) and the process's (process.cpuUsage(), which would also show
 * any thread the native call started). Wall time says little on a loaded machine; CPU time is what resampling takes
 * from the model.
 *
 *   npm run bench:resample -- [--seconds 60] [--rounds 5] [--pairs 44100:16000,8000:16000]
 *
 * Prints a table; writes bench/results/resample-native-<date>-<host>.json and resample-native-latest.md.
 *
 * Each round runs both paths on the same signal, alternately, so that both see the same load. `whole` resamples the
 * signal in one call; `stream` feeds it to StreamResampler in 4096-sample pieces (a FLAC frame), as decodeToRate does.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Resampler } from '../lib/audio/resample';
import { NativeResampler } from '../lib/audio/resample-native';
import { StreamResampler } from '../lib/pipeline/audio/stream-resampler';
import { machine, median, speechLike, table, writeResults } from './stats';

interface Options {
  seconds: number;
  rounds: number;
  pairs: Array<[number, number]>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 60, rounds: 5, pairs: [[44100, 16000], [48000, 16000], [8000, 16000], [22050, 16000], [11025, 16000]] };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1] ?? ''];
    if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--rounds') o.rounds = Number(v);
    else if (k === '--pairs') o.pairs = v.split(',').map((p) => p.split(':').map(Number) as [number, number]);
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

/** CPU time of this thread, ns. */
function threadNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

/** ms of CPU per call: this thread's, and the whole process's. */
interface Sample {
  thread: number;
  process: number;
}

function measure(f: () => void, reps: number): Sample {
  const t0 = threadNs();
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) f();
  const c = process.cpuUsage(c0);
  return { thread: (threadNs() - t0) / 1e6 / reps, process: (c.user + c.system) / 1e3 / reps };
}

function streamed(from: number, to: number, x: Float32Array, native: boolean): number {
  const s = new StreamResampler(from, to, { native });
  let n = 0;
  for (let i = 0; i < x.length; i += 4096) n += s.push(x.subarray(i, i + 4096)).length;
  return n + s.end().length;
}

type Mode = 'jsWhole' | 'nativeWhole' | 'jsStream' | 'nativeStream';
interface PairResult {
  from: number;
  to: number;
  /** Null where NativeResampler.of gives no native path (the pair is left to JavaScript). */
  median: Record<Mode, Sample> | null;
  threadsBefore: number;
  threadsAfter: number;
}

function run(o: Options): PairResult[] {
  const out: PairResult[] = [];
  for (const [from, to] of o.pairs) {
    const x = speechLike(o.seconds, 1, from);
    const js = new Resampler(from, to);
    const nat = NativeResampler.of(js);
    if (!nat) {
      out.push({ from, to, median: null, threadsBefore: threads(), threadsAfter: threads() });
      continue;
    }
    // Warm-up: V8's optimisation of the JS loop; LibTorch's per-thread set-up and oneDNN's kernels.
    js.resample(x);
    nat.resample(x);
    streamed(from, to, x, false);
    streamed(from, to, x, true);
    const before = threads();
    const acc: Record<Mode, Sample[]> = { jsWhole: [], nativeWhole: [], jsStream: [], nativeStream: [] };
    for (let r = 0; r < o.rounds; r++) {
      acc.jsWhole.push(measure(() => js.resample(x), 3));
      acc.nativeWhole.push(measure(() => nat.resample(x), 3));
      acc.jsStream.push(measure(() => streamed(from, to, x, false), 3));
      acc.nativeStream.push(measure(() => streamed(from, to, x, true), 3));
    }
    const med = (s: Sample[]): Sample => ({ thread: median(s.map((v) => v.thread)), process: median(s.map((v) => v.process)) });
    out.push({
      from, to, threadsBefore: before, threadsAfter: threads(),
      median: { jsWhole: med(acc.jsWhole), nativeWhole: med(acc.nativeWhole), jsStream: med(acc.jsStream), nativeStream: med(acc.nativeStream) },
    });
  }
  return out;
}

function report(o: Options, results: PairResult[]): string {
  const ms = (s: Sample) => `${s.thread.toFixed(1)} (${s.process.toFixed(1)})`;
  const rows = results.map((r) => {
    if (!r.median) return [`${r.from} -> ${r.to}`, 'JavaScript only (NativeResampler.of: null)', '', '', '', '', '', ''];
    const m = r.median;
    return [`${r.from} -> ${r.to}`, ms(m.jsWhole), ms(m.nativeWhole), `${(m.jsWhole.thread / m.nativeWhole.thread).toFixed(2)}x`,
      ms(m.jsStream), ms(m.nativeStream), `${(m.jsStream.thread / m.nativeStream.thread).toFixed(2)}x`, `${r.threadsBefore} / ${r.threadsAfter}`];
  });
  return [
    `Resampling CPU time per ${o.seconds} s of float32 audio on a worker thread, ms: the thread's (the process's), median of ${o.rounds} rounds of 3 calls.`,
    '',
    table(['pair', 'JS whole', 'native whole', 'JS / native', 'JS stream', 'native stream', 'JS / native', 'threads before / after'], rows),
  ].join('\n');
}

if (isMainThread) {
  const o = parseArgs(process.argv.slice(2));
  // From the TypeScript sources through tsx, as lib/pipeline/audio/pool.ts starts its workers.
  const w = __filename.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: o })
    : new Worker(__filename, { workerData: o });
  w.on('message', (results: PairResult[]) => {
    const md = report(o, results);
    // eslint-disable-next-line no-console
    console.log(md);
    writeResults('resample-native', { machine: machine(), options: o, results }, md);
  });
} else {
  parentPort!.postMessage(run(workerData as Options));
}
