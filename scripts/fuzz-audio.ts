/**
 * Fuzzes loadAudio: mutates and truncates real files (espeak-ng speech in every format, see
 * scripts/audio-corpus.ts) and checks that every input either decodes or fails with a coded error
 * (AUDIO_DECODE_FAILED, AUDIO_UNSUPPORTED_FORMAT, AUDIO_EMPTY), never crashes the worker and never runs past the
 * per-input timeout.
 *
 *   npm run fuzz:audio -- [--count 5000] [--seed 1] [--timeout-ms 10000] [--workers 2] [--save DIR]
 *
 * Exit status 1 when anything else happened; the offending inputs are saved (default
 * test/fixtures/generated/fuzz-failures) with the mutation that made them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeAudioCorpus } from './audio-corpus';
import { mulberry32 } from './random';

export const CODED = ['AUDIO_DECODE_FAILED', 'AUDIO_UNSUPPORTED_FORMAT', 'AUDIO_EMPTY'];

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Per input. */
  timeoutMs: number;
  workers: number;
  /** Seed files (default: the audio corpus). */
  seeds?: string[];
  /** Where failing inputs go (null: nowhere). */
  saveDir?: string | null;
  log?: (line: string) => void;
}

export interface FuzzProblem {
  index: number;
  seed: string;
  mutation: string;
  kind: 'uncoded' | 'crash' | 'hang';
  detail: string;
  file?: string;
}

export interface FuzzResult {
  total: number;
  decoded: number;
  coded: Record<string, number>;
  problems: FuzzProblem[];
  slowestMs: number;
  elapsedMs: number;
}

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];
const INTERESTING_INTS = [0, 1, 2, 3, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

type Mutator = (b: Uint8Array, r: () => number, other: Uint8Array) => [Uint8Array, string];

/** Positions near the start matter most (headers); half the picks land in the first 512 bytes. */
const pos = (r: () => number, n: number) => (n === 0 ? 0 : r() < 0.5 ? Math.floor(r() * Math.min(n, 512)) : Math.floor(r() * n));
const int = (r: () => number, n: number) => Math.floor(r() * n);

const MUTATORS: Record<string, Mutator> = {
  truncate: (b, r) => {
    const at = pos(r, b.length);
    return [b.slice(0, at), `truncate@${at}`];
  },
  bitflip: (b, r) => {
    const out = b.slice();
    const n = 1 + int(r, 8);
    const at: number[] = [];
    for (let i = 0; i < n && out.length; i++) {
      const p = pos(r, out.length);
      out[p]! ^= 1 << int(r, 8);
      at.push(p);
    }
    return [out, `bitflip@${at.join(',')}`];
  },
  bytes: (b, r) => {
    const out = b.slice();
    const n = 1 + int(r, 16);
    const p = pos(r, out.length);
    for (let i = 0; i < n && p + i < out.length; i++) out[p + i] = r() < 0.7 ? INTERESTING_BYTES[int(r, INTERESTING_BYTES.length)]! : int(r, 256);
    return [out, `bytes@${p}x${n}`];
  },
  field: (b, r) => {
    // A 16- or 32-bit header field (sizes, channel counts, rates) set to an edge value, either byte order.
    const out = b.slice();
    const width = r() < 0.5 ? 2 : 4;
    const p = int(r, Math.max(1, Math.min(out.length, 128) - width));
    const v = r() < 0.8 ? INTERESTING_INTS[int(r, INTERESTING_INTS.length)]! : int(r, 2 ** 32);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const littleEndian = r() < 0.7;
    if (p + width <= out.length) {
      if (width === 2) dv.setUint16(p, v & 0xffff, littleEndian);
      else dv.setUint32(p, v >>> 0, littleEndian);
    }
    return [out, `field${width * 8}${littleEndian ? 'le' : 'be'}@${p}=${v}`];
  },
  delete: (b, r) => {
    const p = pos(r, b.length);
    const n = 1 + int(r, Math.max(1, Math.min(4096, b.length - p)));
    return [Buffer.concat([b.subarray(0, p), b.subarray(p + n)]), `delete@${p}x${n}`];
  },
  duplicate: (b, r) => {
    const p = pos(r, b.length);
    const n = 1 + int(r, Math.max(1, Math.min(4096, b.length - p)));
    return [Buffer.concat([b.subarray(0, p + n), b.subarray(p, p + n), b.subarray(p + n)]), `duplicate@${p}x${n}`];
  },
  insert: (b, r) => {
    const p = pos(r, b.length);
    const junk = Uint8Array.from({ length: 1 + int(r, 64) }, () => int(r, 256));
    return [Buffer.concat([b.subarray(0, p), junk, b.subarray(p)]), `insert@${p}x${junk.length}`];
  },
  zero: (b, r) => {
    const out = b.slice();
    const p = pos(r, out.length);
    const n = 1 + int(r, 2048);
    out.fill(0, p, Math.min(out.length, p + n));
    return [out, `zero@${p}x${n}`];
  },
  splice: (b, r, other) => {
    // One file's header on another file's body: decoders must not trust each other's framing.
    const p = pos(r, Math.min(b.length, 4096));
    const q = pos(r, other.length);
    return [Buffer.concat([b.subarray(0, p), other.subarray(q)]), `splice@${p}+other@${q}`];
  },
  garbageTail: (b, r) => {
    const junk = Uint8Array.from({ length: 1 + int(r, 512) }, () => int(r, 256));
    return [Buffer.concat([b, junk]), `garbageTail x${junk.length}`];
  },
};
const NAMES = Object.keys(MUTATORS);

/** Input `i` of a run: deterministic in (seed, i), so any failure can be reproduced alone. */
export function makeInput(seedFiles: Array<{ name: string; bytes: Uint8Array }>, seed: number, i: number): { bytes: Uint8Array; seed: string; mutation: string } {
  const r = mulberry32((seed * 1000003 + i * 7919) >>> 0);
  const s = seedFiles[int(r, seedFiles.length)]!;
  const other = seedFiles[int(r, seedFiles.length)]!;
  let bytes: Uint8Array = s.bytes;
  const steps: string[] = [];
  const n = 1 + int(r, 3);
  for (let k = 0; k < n; k++) {
    const name = NAMES[int(r, NAMES.length)]!;
    const [out, what] = MUTATORS[name]!(bytes, r, other.bytes);
    bytes = out;
    steps.push(what);
  }
  return { bytes, seed: s.name, mutation: steps.join(' > ') };
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? (() => {});
  const seedPaths = o.seeds ?? (() => {
    const c = makeAudioCorpus();
    return [...c.files.map((f) => join(c.dir, f.file)).filter((f) => !f.endsWith('long.flac')), ...c.unsupported, ...[c.lame, c.flacCli, c.oggFlac].filter((f): f is string => f !== null)];
  })();
  const seedFiles = seedPaths.map((p) => ({ name: basename(p), bytes: new Uint8Array(readFileSync(p)) }));
  const result: FuzzResult = { total: 0, decoded: 0, coded: {}, problems: [], slowestMs: 0, elapsedMs: 0 };
  const t0 = performance.now();
  let next = 0;

  const save = (p: FuzzProblem, bytes: Uint8Array): void => {
    if (!o.saveDir) return;
    mkdirSync(o.saveDir, { recursive: true });
    const file = join(o.saveDir, `fuzz-${o.seed}-${p.index}-${p.kind}.bin`);
    writeFileSync(file, bytes);
    writeFileSync(`${file}.txt`, `${JSON.stringify(p, null, 1)}\n`);
    p.file = file;
  };

  // One lane per worker: send an input, wait for the answer or the timeout, repeat. A worker that hangs or dies
  // is replaced.
  const lane = async (): Promise<void> => {
    let worker: Worker | null = null;
    const start = async (): Promise<Worker> => {
      const w = new Worker(join(__dirname, 'fuzz-audio-worker.js'), { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      });
      return w;
    };
    try {
      while (next < o.count) {
        const index = next++;
        const input = makeInput(seedFiles, o.seed, index);
        worker ??= await start();
        const w: Worker = worker;
        const outcome = await new Promise<{ kind: 'answer'; msg: any } | { kind: 'hang' } | { kind: 'crash'; detail: string }>((resolve) => {
          const timer = setTimeout(() => resolve({ kind: 'hang' }), o.timeoutMs);
          const done = (v: any) => {
            clearTimeout(timer);
            w.off('message', onMessage);
            w.off('error', onError);
            w.off('exit', onExit);
            resolve(v);
          };
          const onMessage = (msg: any) => done({ kind: 'answer', msg });
          const onError = (err: Error) => done({ kind: 'crash', detail: `worker error: ${err?.message ?? err}` });
          const onExit = (code: number) => done({ kind: 'crash', detail: `worker exited with code ${code}` });
          w.on('message', onMessage);
          w.on('error', onError);
          w.on('exit', onExit);
          w.postMessage({ id: index, bytes: input.bytes });
        });
        result.total++;
        if (outcome.kind === 'answer') {
          const m = outcome.msg;
          result.slowestMs = Math.max(result.slowestMs, m.ms);
          if (m.ok) result.decoded++;
          else if (m.coded && CODED.includes(m.code)) result.coded[m.code] = (result.coded[m.code] ?? 0) + 1;
          else {
            const p: FuzzProblem = { index, seed: input.seed, mutation: input.mutation, kind: 'uncoded', detail: `${m.name} ${m.code ?? ''}: ${m.message}` };
            save(p, input.bytes);
            result.problems.push(p);
            log(`  uncoded error on input ${index} (${input.seed}: ${input.mutation}): ${p.detail}`);
          }
        } else {
          const p: FuzzProblem = { index, seed: input.seed, mutation: input.mutation, kind: outcome.kind, detail: outcome.kind === 'hang' ? `no answer in ${o.timeoutMs} ms` : outcome.detail };
          save(p, input.bytes);
          result.problems.push(p);
          log(`  ${outcome.kind} on input ${index} (${input.seed}: ${input.mutation}): ${p.detail}`);
          await worker.terminate();
          worker = null;
        }
        if (result.total % 500 === 0) log(`  ${result.total}/${o.count} inputs`);
      }
    } finally {
      await worker?.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.workers) }, lane));
  result.elapsedMs = performance.now() - t0;
  return result;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

if (require.main === module) {
  const saveIdx = process.argv.indexOf('--save');
  const options: FuzzOptions = {
    count: arg('count', 5000),
    seed: arg('seed', 1),
    timeoutMs: arg('timeout-ms', 10000),
    workers: arg('workers', Math.max(1, Math.min(4, availableParallelism() - 1))),
    saveDir: saveIdx > 0 ? process.argv[saveIdx + 1]! : join(__dirname, '..', 'test', 'fixtures', 'generated', 'fuzz-failures'),
    // eslint-disable-next-line no-console
    log: (l) => console.log(l),
  };
  // eslint-disable-next-line no-console
  console.log(`fuzz:audio: ${options.count} inputs, seed ${options.seed}, ${options.workers} worker(s), ${options.timeoutMs} ms per input`);
  runFuzz(options).then((r) => {
    const hangs = r.problems.filter((p) => p.kind === 'hang').length;
    const crashes = r.problems.filter((p) => p.kind === 'crash').length;
    const uncoded = r.problems.filter((p) => p.kind === 'uncoded').length;
    // eslint-disable-next-line no-console
    console.log([
      `inputs:          ${r.total}`,
      `decoded:         ${r.decoded}`,
      ...Object.entries(r.coded).sort().map(([k, v]) => `${k.padEnd(24)} ${v}`),
      `uncoded errors:  ${uncoded}`,
      `crashes:         ${crashes}`,
      `hangs:           ${hangs}`,
      `slowest input:   ${r.slowestMs.toFixed(0)} ms`,
      `elapsed:         ${(r.elapsedMs / 1000).toFixed(1)} s`,
    ].join('\n'));
    process.exitCode = r.problems.length ? 1 : 0;
  }, (err) => {
    // eslint-disable-next-line no-console
    console.error(err);
    process.exitCode = 2;
  });
}
