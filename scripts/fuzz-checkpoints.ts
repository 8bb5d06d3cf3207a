/**
 * Fuzzes the checkpoint readers: mutates and truncates the valid files of the hub fixtures (test/fixtures/hub,
 * test/fixtures/torchaudio-state) and checks that every input is either read or refused with a coded error
 * (a Wav2Vec2Error with a code), never throws anything else, never crashes the worker and never runs past the
 * per-input timeout. Targets: config.json (JSON parse, then CONFIG_HOOKS), safetensors files, a sharded index, the
 * tokenizer and preprocessor files, torch.save archives (zip directory and all) and their data.pkl alone.
 *
 *   npm run fuzz:checkpoints -- [--count 100000] [--seed 1] [--timeout-ms 2000] [--workers 2] [--save DIR]
 *
 * Exit status 1 when anything else happened; the offending inputs are saved (default
 * test/fixtures/generated/checkpoint-fuzz-failures) with their target and the mutation that made them.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseJsonObject, type JsonObject } from '../lib/checkpoint/json';
import { preprocessorFrom } from '../lib/checkpoint/preprocessor';
import { parseSafetensorsBytes } from '../lib/checkpoint/safetensors';
import { mergeShardedIndex } from '../lib/checkpoint/sharded';
import { tokenizerFrom } from '../lib/checkpoint/tokenizer';
import { parseTorchArchiveBytes } from '../lib/checkpoint/torch-archive';
import { unpickleStateDict } from '../lib/checkpoint/pickle';
import { readZipDirectory } from '../lib/checkpoint/zip';
import { bufferSource } from '../lib/checkpoint/source';
import type { WeightSet } from '../lib/checkpoint/types';
import { parseConfig } from '../lib/builder/config';
import { Wav2Vec2Error } from '../lib/errors';
import { mulberry32 } from './random';

/** Parsers of a checked config.json object that must also fail only with coded errors: the native builder's. */
export const CONFIG_HOOKS: Array<(config: JsonObject) => unknown> = [(c) => parseConfig(c)];

const ROOT = join(__dirname, '..');
const HUB = join(ROOT, 'test', 'fixtures', 'hub');

type Runner = (bytes: Uint8Array) => unknown;

interface Target {
  seeds: Array<{ name: string; bytes: Uint8Array }>;
  run: Runner;
  /** Byte ranges most worth mutating (headers, the pickle); other mutations land anywhere. */
  focus?: (bytes: Uint8Array) => Array<[number, number]>;
  json?: boolean;
  /** Whole units of the format (pickle opcodes) that the `tokens` mutation inserts in long runs. */
  tokens?: Uint8Array[];
}

/** One complete opcode each: runs of them make long tuples, lists, deep marks and big memos. */
const PICKLE_TOKENS = [[0x4b, 1], [0x4e], [0x28], [0x29], [0x7d], [0x5d], [0x71, 1], [0x68, 0], [0x74], [0x65], [0x61], [0x75], [0x73], [0x52], [0x85], [0x88]].map((t) => Uint8Array.from(t));

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const fixtureFiles = (name: RegExp) =>
  readdirSync(HUB).flatMap((d) => readdirSync(join(HUB, d)).filter((f) => name.test(f)).map((f) => ({ name: `${d}/${f}`, bytes: new Uint8Array(readFileSync(join(HUB, d, f))) })));

/** The data.pkl of a torch.save archive: where it is, so mutations can aim at it. */
function pickleRange(bytes: Uint8Array): [number, number] {
  const entries = readZipDirectory(bufferSource('seed', bytes));
  const pkl = [...entries.values()].find((e) => e.name.endsWith('/data.pkl'))!;
  return [pkl.dataOffset, pkl.dataOffset + pkl.size];
}

/** Built once per process (each worker builds its own). */
export function makeTargets(): Record<string, Target> {
  const archives = [
    ...fixtureFiles(/\.bin$/),
    { name: 'torchaudio-state/ta_tiny_base.pth', bytes: new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'torchaudio-state', 'ta_tiny_base.pth'))) },
  ];
  const shardDir = join(HUB, 'wav2vec2-sharded');
  const shards = new Map<string, WeightSet>(
    readdirSync(shardDir).filter((f) => f.endsWith('.safetensors')).map((f) => [f, parseSafetensorsBytes(join(shardDir, f), readFileSync(join(shardDir, f)))]),
  );
  const tokenizerDirs = readdirSync(HUB).filter((d) => readdirSync(join(HUB, d)).includes('vocab.json'));
  const vocab = parseJsonObject('vocab.json', readFileSync(join(HUB, 'wav2vec2-base', 'vocab.json'), 'utf8'));
  const tokenizerConfig = parseJsonObject('tokenizer_config.json', readFileSync(join(HUB, 'wav2vec2-base', 'tokenizer_config.json'), 'utf8'));
  return {
    config: {
      seeds: fixtureFiles(/^config\.json$/),
      json: true,
      run: (b) => {
        const c = parseJsonObject('config.json', text(b));
        for (const hook of CONFIG_HOOKS) hook(c);
        return c;
      },
    },
    safetensors: {
      seeds: fixtureFiles(/\.safetensors$/),
      run: (b) => parseSafetensorsBytes('model.safetensors', b),
      focus: (b) => [[0, Math.min(b.length, 8 + Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0)))]],
    },
    // Only the header as text: the JSON mutations then edit dtypes, shapes and offsets as values.
    safetensorsHeader: {
      seeds: fixtureFiles(/\.safetensors$/).map((s) => {
        const n = Number(Buffer.from(s.bytes.buffer, s.bytes.byteOffset, 8).readBigUInt64LE(0));
        return { name: `${s.name} header`, bytes: s.bytes.subarray(8, 8 + n), data: s.bytes.length - 8 - n };
      }),
      json: true,
      run: (b) => {
        // A data section as long as the seed's; re-framed so the length prefix matches the mutated header.
        const header = Buffer.from(b);
        const file = Buffer.alloc(8 + header.length + 4096 * 64);
        file.writeBigUInt64LE(BigInt(header.length), 0);
        header.copy(file, 8);
        return parseSafetensorsBytes('model.safetensors', file);
      },
    },
    shardedIndex: {
      seeds: fixtureFiles(/\.index\.json$/),
      json: true,
      run: (b) => mergeShardedIndex(join(shardDir, 'model.safetensors.index.json'), text(b), shards),
    },
    tokenizer: {
      seeds: tokenizerDirs.flatMap((d) => ['vocab.json', 'tokenizer_config.json'].map((f) => ({ name: `${d}/${f}`, bytes: new Uint8Array(readFileSync(join(HUB, d, f))) }))),
      json: true,
      run: (b) => {
        // The mutated file plays vocab.json or tokenizer_config.json next to the other, unmutated one.
        const j = parseJsonObject('tokenizer file', text(b));
        const isConfig = Object.hasOwn(j, 'added_tokens_decoder') || Object.hasOwn(j, 'pad_token');
        return isConfig ? tokenizerFrom({ dir: '/m', vocab, config: j }) : tokenizerFrom({ dir: '/m', vocab: j, config: tokenizerConfig });
      },
    },
    preprocessor: {
      seeds: fixtureFiles(/^preprocessor_config\.json$/),
      json: true,
      run: (b) => preprocessorFrom('preprocessor_config.json', parseJsonObject('preprocessor_config.json', text(b))),
    },
    torchArchive: {
      seeds: archives,
      run: (b) => parseTorchArchiveBytes('pytorch_model.bin', b),
      // The pickle, and the zip directory at the end (from the last 2 KiB of entries to the end records).
      focus: (b) => [pickleRange(b), [Math.max(0, b.length - 6000), b.length]],
    },
    pickle: {
      seeds: [
        ...archives.map((a) => {
          const [s, e] = pickleRange(a.bytes);
          return { name: `${a.name} data.pkl`, bytes: a.bytes.subarray(s, e) };
        }),
        // Opcodes a state dict does not use but the reader accepts (lists, APPENDS, LONG1, BININT2, memo): no
        // torch-written seed reaches them.
        { name: 'lists.pkl', bytes: Uint8Array.from([0x80, 2, 0x5d, 0x71, 0, 0x28, 0x4b, 1, 0x4d, 2, 1, 0x8a, 2, 0xff, 0x7f, 0x4a, 3, 0, 0, 0, 0x65, 0x68, 0, 0x61, 0x2e]) },
      ],
      run: (b) => unpickleStateDict('data.pkl', Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
      tokens: PICKLE_TOKENS,
    },
  };
}

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x0a, 0x28, 0x2e, 0x63, 0x52, 0x51, 0x71, 0x68];
const INTERESTING_INTS = [0, 1, 2, 3, 7, 8, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];
const INTERESTING_JSON: unknown[] = [
  null, true, false, 0, -1, 1, 0.5, 1e300, -1e300, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 4294967295, 4294967296, '', 'F32', 'I64', 'BF16',
  '../x', '/etc/passwd', 'a/b', '..', '__proto__', 'x'.repeat(300), [], {}, [0], [1, 2], [0, 2 ** 53], [2 ** 31, 2 ** 31, 2 ** 31],
  [-1, 3], [1.5], ['1'], new Array(20).fill(1), { content: '<pad>' }, { a: { b: { c: [] } } },
];

type Mutator = (b: Uint8Array, r: () => number, t: Target) => [Uint8Array, string];

const int = (r: () => number, n: number) => Math.floor(r() * n);
/** Half the picks land in the target's focus ranges (or the first 512 bytes), the rest anywhere. */
function pos(r: () => number, b: Uint8Array, t: Target): number {
  if (b.length === 0) return 0;
  if (r() < 0.5) {
    const ranges = t.focus ? safeFocus(t, b) : [[0, Math.min(b.length, 512)] as [number, number]];
    const [s, e] = ranges[int(r, ranges.length)]!;
    if (e > s) return Math.min(b.length - 1, s + int(r, e - s));
  }
  return int(r, b.length);
}

function safeFocus(t: Target, b: Uint8Array): Array<[number, number]> {
  try {
    return t.focus!(b);
  } catch {
    return [[0, Math.min(b.length, 512)]];
  }
}

const MUTATORS: Record<string, Mutator> = {
  truncate: (b, r, t) => {
    const at = pos(r, b, t);
    return [b.slice(0, at), `truncate@${at}`];
  },
  bitflip: (b, r, t) => {
    const out = b.slice();
    const at: number[] = [];
    for (let i = 0, n = 1 + int(r, 8); i < n && out.length; i++) {
      const p = pos(r, out, t);
      out[p]! ^= 1 << int(r, 8);
      at.push(p);
    }
    return [out, `bitflip@${at.join(',')}`];
  },
  bytes: (b, r, t) => {
    const out = b.slice();
    const n = 1 + int(r, 16);
    const p = pos(r, out, t);
    for (let i = 0; i < n && p + i < out.length; i++) out[p + i] = r() < 0.7 ? INTERESTING_BYTES[int(r, INTERESTING_BYTES.length)]! : int(r, 256);
    return [out, `bytes@${p}x${n}`];
  },
  field: (b, r, t) => {
    // A 16-, 32- or 64-bit length, offset or count set to an edge value: zip and safetensors headers are full of them.
    const out = b.slice();
    const width = [2, 4, 8][int(r, 3)]!;
    const p = pos(r, out, t);
    const v = r() < 0.8 ? INTERESTING_INTS[int(r, INTERESTING_INTS.length)]! : int(r, 2 ** 32);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (p + width <= out.length) {
      if (width === 2) dv.setUint16(p, v & 0xffff, true);
      else if (width === 4) dv.setUint32(p, v >>> 0, true);
      else dv.setBigUint64(p, BigInt(v) * (r() < 0.2 ? 1n << 32n : 1n), true);
    }
    return [out, `field${width * 8}@${p}=${v}`];
  },
  delete: (b, r, t) => {
    const p = pos(r, b, t);
    const n = 1 + int(r, Math.max(1, Math.min(256, b.length - p)));
    return [Buffer.concat([b.subarray(0, p), b.subarray(p + n)]), `delete@${p}x${n}`];
  },
  duplicate: (b, r, t) => {
    const p = pos(r, b, t);
    const n = 1 + int(r, Math.max(1, Math.min(256, b.length - p)));
    return [Buffer.concat([b.subarray(0, p + n), b.subarray(p, p + n), b.subarray(p + n)]), `duplicate@${p}x${n}`];
  },
  insert: (b, r, t) => {
    const p = pos(r, b, t);
    const junk = Uint8Array.from({ length: 1 + int(r, 32) }, () => (r() < 0.5 ? INTERESTING_BYTES[int(r, INTERESTING_BYTES.length)]! : int(r, 256)));
    return [Buffer.concat([b.subarray(0, p), junk, b.subarray(p)]), `insert@${p}x${junk.length}`];
  },
  repeat: (b, r, t) => {
    // One short run of bytes repeated up to 200,000 times: long lists, deep nesting, many entries, big memos.
    const p = pos(r, b, t);
    const k = [10, 1000, 70_000, 200_000][int(r, 4)]!;
    const chunk = b.subarray(p, p + 1 + int(r, 8));
    const n = chunk.length;
    const out = new Uint8Array(b.length + chunk.length * k);
    out.set(b.subarray(0, p + n), 0);
    for (let i = 1; i <= k; i++) out.set(chunk, p + n * i);
    out.set(b.subarray(p + n), p + n * (k + 1));
    return [out, `repeat@${p}x${n}*${k}`];
  },
  tokens: (b, r, t) => {
    const token = t.tokens![int(r, t.tokens!.length)]!;
    const k = [1, 3, 1000, 400_000][int(r, 4)]!;
    const p = pos(r, b, t);
    const run = new Uint8Array(token.length * k);
    for (let i = 0; i < k; i++) run.set(token, i * token.length);
    return [Buffer.concat([b.subarray(0, p), run, b.subarray(p)]), `tokens@${p}:${Buffer.from(token).toString('hex')}*${k}`];
  },
  json: (b, r) => jsonEdit(b, r),
};
const BYTE_MUTATORS = Object.keys(MUTATORS).filter((k) => k !== 'json' && k !== 'tokens');

/** Parses the seed as JSON and replaces, deletes or adds one value somewhere in it, then serialises it again. */
function jsonEdit(b: Uint8Array, r: () => number): [Uint8Array, string] {
  let doc: unknown;
  try {
    doc = JSON.parse(text(b));
  } catch {
    return [b, 'json(unparsable, unchanged)'];
  }
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number; path: string }> = [];
  const walk = (v: unknown, path: string) => {
    if (nodes.length > 5000 || typeof v !== 'object' || v === null) return;
    for (const [k, c] of Object.entries(v)) {
      nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k, path: `${path}/${k}` });
      walk(c, `${path}/${k}`);
    }
  };
  walk(doc, '');
  if (nodes.length === 0) return [new TextEncoder().encode(JSON.stringify(INTERESTING_JSON[int(r, INTERESTING_JSON.length)])), 'json(root replaced)'];
  const n = nodes[int(r, nodes.length)]!;
  const parent = n.parent as Record<string | number, unknown>;
  const how = r();
  let what: string;
  if (how < 0.6) {
    const v = INTERESTING_JSON[int(r, INTERESTING_JSON.length)];
    parent[n.key] = structuredClone(v);
    what = `set ${n.path}=${JSON.stringify(v)?.slice(0, 40)}`;
  } else if (how < 0.8 && !Array.isArray(parent)) {
    delete parent[n.key];
    what = `delete ${n.path}`;
  } else if (!Array.isArray(parent)) {
    // A copy, taken before the edit: copying an ancestor into its own subtree must not make a cycle.
    const other = nodes[int(r, nodes.length)]!;
    const v = structuredClone((other.parent as Record<string | number, unknown>)[other.key]);
    parent[`${String(n.key)}_`] = v;
    parent[n.key] = structuredClone(v);
    what = `copy ${other.path} -> ${n.path}`;
  } else {
    (parent as unknown[]).push(...(parent as unknown[]));
    what = `double ${n.path.replace(/\/[^/]*$/, '')}`;
  }
  return [new TextEncoder().encode(JSON.stringify(doc)), `json(${what})`];
}

export interface FuzzCase {
  target: string;
  seed: string;
  mutation: string;
  bytes: Uint8Array;
}

/** Input `i` of a run: deterministic in (seed, i), so any failure can be reproduced alone. */
export function makeCase(targets: Record<string, Target>, seed: number, i: number): FuzzCase {
  const r = mulberry32((seed * 1000003 + i * 7919) >>> 0);
  const names = Object.keys(targets);
  const name = names[int(r, names.length)]!;
  const t = targets[name]!;
  const s = t.seeds[int(r, t.seeds.length)]!;
  let bytes: Uint8Array = s.bytes;
  const steps: string[] = [];
  for (let k = 0, n = 1 + int(r, 3); k < n; k++) {
    const special = t.json ? 'json' : t.tokens ? 'tokens' : null;
    const m = special && r() < 0.5 ? special : BYTE_MUTATORS[int(r, BYTE_MUTATORS.length)]!;
    const [out, what] = MUTATORS[m]!(bytes, r, t);
    bytes = out;
    steps.push(what);
  }
  return { target: name, seed: s.name, mutation: steps.join(' > '), bytes };
}

export interface CaseOutcome {
  ok: boolean;
  code?: string;
  /** For anything that is not a coded error: its name and message. */
  uncoded?: string;
  ms: number;
}

export function runCase(targets: Record<string, Target>, c: FuzzCase): CaseOutcome {
  const t0 = performance.now();
  try {
    targets[c.target]!.run(c.bytes);
    return { ok: true, ms: performance.now() - t0 };
  } catch (err) {
    const ms = performance.now() - t0;
    if (err instanceof Wav2Vec2Error && typeof err.code === 'string') return { ok: false, code: err.code, ms };
    const e = err as Error;
    return { ok: false, uncoded: `${e?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 300)}`, ms };
  }
}

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Per input. */
  timeoutMs: number;
  workers: number;
  /** Where failing inputs go (null: nowhere). */
  saveDir?: string | null;
  log?: (line: string) => void;
}

export interface FuzzProblem {
  index: number;
  target: string;
  seed: string;
  mutation: string;
  kind: 'uncoded' | 'crash' | 'hang';
  detail: string;
  file?: string;
}

export interface FuzzResult {
  total: number;
  read: number;
  coded: Record<string, number>;
  byTarget: Record<string, number>;
  problems: FuzzProblem[];
  slowestMs: number;
  /** The input that took slowestMs. */
  slowestIndex: number;
  elapsedMs: number;
}

/** Cases per message to a worker: each worker makes its own inputs, so only indices and outcomes cross. */
const BATCH = 200;

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? (() => {});
  const targets = makeTargets();
  const result: FuzzResult = { total: 0, read: 0, coded: {}, byTarget: {}, problems: [], slowestMs: 0, slowestIndex: -1, elapsedMs: 0 };
  const t0 = performance.now();
  let next = 0;
  let logged = 0;

  const problem = (index: number, kind: FuzzProblem['kind'], detail: string): void => {
    const c = makeCase(targets, o.seed, index);
    const p: FuzzProblem = { index, target: c.target, seed: c.seed, mutation: c.mutation, kind, detail };
    if (o.saveDir) {
      mkdirSync(o.saveDir, { recursive: true });
      p.file = join(o.saveDir, `fuzz-${o.seed}-${index}-${c.target}-${kind}.bin`);
      writeFileSync(p.file, c.bytes);
      writeFileSync(`${p.file}.txt`, `${JSON.stringify(p, null, 1)}\n`);
    }
    result.problems.push(p);
    log(`  ${kind} on input ${index} (${c.target} ${c.seed}: ${c.mutation}): ${detail}`);
  };

  // One lane per worker. The worker writes the index it is on into shared memory, so that when a batch times out
  // (or the worker dies) the input responsible is known; the rest of the batch is run again on a fresh worker.
  const lane = async (): Promise<void> => {
    const current = new Int32Array(new SharedArrayBuffer(4));
    let worker: Worker | null = null;
    const start = async (): Promise<Worker> => {
      const w = new Worker(join(__dirname, 'fuzz-checkpoints-worker.js'), { workerData: { current }, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      });
      return w;
    };
    try {
      while (next < o.count) {
        const batch = next;
        next = Math.min(o.count, next + BATCH);
        // Ranges still to run: a hang or crash at input k records k and runs the rest of the batch again, around it.
        const ranges: Array<[number, number]> = [[batch, next]];
        while (ranges.length) {
          const [from, to] = ranges.pop()!;
          if (from >= to) continue;
          worker ??= await start();
          Atomics.store(current, 0, from);
          const outcome = await batchOutcome(worker, from, to, o, current);
          if (outcome.kind === 'answer') {
            for (const [i, out] of outcome.results.entries()) tally(result, targets, o.seed, from + i, out, problem);
            continue;
          }
          const bad = Atomics.load(current, 0);
          result.total++;
          problem(bad, outcome.kind, outcome.detail);
          await worker.terminate();
          worker = null;
          ranges.push([bad + 1, to], [from, bad]);
        }
        if (result.total - logged >= 10_000) {
          logged = result.total;
          log(`  ${result.total}/${o.count} inputs, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        }
      }
    } finally {
      await worker?.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.workers) }, lane));
  result.elapsedMs = performance.now() - t0;
  return result;
}

type BatchOutcome = { kind: 'answer'; results: CaseOutcome[] } | { kind: 'hang' | 'crash'; detail: string };

/** Runs inputs [from, to) on `w`; the per-input limit is checked against the index the worker is on. */
function batchOutcome(w: Worker, from: number, to: number, o: FuzzOptions, current: Int32Array): Promise<BatchOutcome> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout;
    let last = -1;
    const arm = () => {
      timer = setTimeout(() => {
        const now = Atomics.load(current, 0);
        if (now === last) done({ kind: 'hang', detail: `no answer in ${o.timeoutMs} ms` });
        else {
          last = now;
          arm();
        }
      }, o.timeoutMs);
    };
    const done = (v: BatchOutcome) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      resolve(v);
    };
    const onMessage = (msg: { results: CaseOutcome[] }) => done({ kind: 'answer', results: msg.results });
    const onError = (err: Error) => done({ kind: 'crash', detail: `worker error: ${err?.message ?? err}` });
    const onExit = (code: number) => done({ kind: 'crash', detail: `worker exited with code ${code}` });
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    arm();
    w.postMessage({ seed: o.seed, from, to });
  });
}

function tally(result: FuzzResult, targets: Record<string, Target>, seed: number, index: number, out: CaseOutcome, problem: (i: number, k: FuzzProblem['kind'], d: string) => void): void {
  result.total++;
  if (out.ms > result.slowestMs) {
    result.slowestMs = out.ms;
    result.slowestIndex = index;
  }
  const target = makeCaseTarget(targets, seed, index);
  result.byTarget[target] = (result.byTarget[target] ?? 0) + 1;
  if (out.ok) result.read++;
  else if (out.code) result.coded[out.code] = (result.coded[out.code] ?? 0) + 1;
  else problem(index, 'uncoded', out.uncoded!);
}

/** The target of input `index` without building the input (the first draw of makeCase). */
function makeCaseTarget(targets: Record<string, Target>, seed: number, index: number): string {
  const r = mulberry32((seed * 1000003 + index * 7919) >>> 0);
  const names = Object.keys(targets);
  return names[int(r, names.length)]!;
}

function describeCase(seed: number, index: number): string {
  if (index < 0) return 'none';
  const c = makeCase(makeTargets(), seed, index);
  return `${c.target} ${c.seed}: ${c.mutation}`;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

if (require.main === module) {
  const saveIdx = process.argv.indexOf('--save');
  const options: FuzzOptions = {
    count: arg('count', 100_000),
    seed: arg('seed', 1),
    timeoutMs: arg('timeout-ms', 2000),
    workers: arg('workers', Math.max(1, Math.min(4, availableParallelism() - 1))),
    saveDir: saveIdx > 0 ? process.argv[saveIdx + 1]! : join(ROOT, 'test', 'fixtures', 'generated', 'checkpoint-fuzz-failures'),
    // eslint-disable-next-line no-console
    log: (l) => console.log(l),
  };
  // eslint-disable-next-line no-console
  console.log(`fuzz:checkpoints: ${options.count} inputs, seed ${options.seed}, ${options.workers} worker(s), ${options.timeoutMs} ms per input`);
  runFuzz(options).then((r) => {
    const count = (k: FuzzProblem['kind']) => r.problems.filter((p) => p.kind === k).length;
    // eslint-disable-next-line no-console
    console.log([
      `inputs:          ${r.total}`,
      ...Object.entries(r.byTarget).sort().map(([k, v]) => `  ${k.padEnd(22)} ${v}`),
      `read:            ${r.read}`,
      ...Object.entries(r.coded).sort().map(([k, v]) => `${k.padEnd(24)} ${v}`),
      `uncoded errors:  ${count('uncoded')}`,
      `crashes:         ${count('crash')}`,
      `hangs:           ${count('hang')}`,
      `slowest input:   ${r.slowestMs.toFixed(1)} ms (input ${r.slowestIndex}: ${describeCase(options.seed, r.slowestIndex)})`,
      `elapsed:         ${(r.elapsedMs / 1000).toFixed(1)} s`,
    ].join('\n'));
    process.exitCode = r.problems.length ? 1 : 0;
  }, (err) => {
    // eslint-disable-next-line no-console
    console.error(err);
    process.exitCode = 2;
  });
}
