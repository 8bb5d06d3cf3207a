/**
 * Decoding benchmark (`npm run bench:decode`): greedy, beam 50 lexicon-free, beam 50 with a 100k-word
 * lexicon and a 3-gram LM, and forced alignment, as × real time at 50 frames per second on one thread.
 * Also the load time and memory of the ~1M n-gram ARPA file the 3-gram LM is.
 *
 * Everything is generated (seeded): a 100k-word vocabulary of random letter strings, a corpus from a
 * Zipf-distributed word process with preferred successors (so an n-gram LM has something to learn), a
 * Kneser-Ney 3-gram ARPA built from it by scripts/build-arpa.ts, and emissions that spell a held-out
 * sentence from the same process: peaky CTC-like logits (2-3 frames per letter, blanks between, Gaussian
 * noise, and on one frame in ten a competing letter), so greedy makes some errors for the LM to fix.
 *
 * Prints a table and writes bench/results/decode-<date>-<host>.json and decode-latest.md.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CTCBeamSearchDecoder, forcedAlign, GreedyCTCDecoder, Lexicon, NGramLanguageModel } from '../lib/decode';
import { buildArpa } from '../scripts/build-arpa';
import { mulberry32 } from '../scripts/random';
import { machine, summary, table, writeResults } from './stats';

const LABELS = ['-', '|', 'E', 'T', 'A', 'O', 'N', 'I', 'H', 'S', 'R', 'D', 'L', 'U', 'M', 'W', 'C', 'F', 'G', 'Y', 'P', 'B', 'V', 'K', "'", 'X', 'J', 'Q', 'Z'];
const FPS = 50;
const VOCAB = 100_000;
const SENTENCES = Number(process.env.BENCH_SENTENCES ?? 95_000);
const UTTERANCE_SECONDS = 30;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Letter frequencies roughly like English, so words look plausible and letters compete realistically. */
const LETTERS = 'EEEEEEEEEEEETTTTTTTTTAAAAAAAAOOOOOOOIIIIIIINNNNNNNSSSSSSHHHHHHRRRRRRDDDDLLLLUUUCCCMMMWWFFGGYYPPBVK';

function vocabulary(r: () => number): string[] {
  const seen = new Set<string>();
  while (seen.size < VOCAB) {
    const len = 2 + Math.floor(r() * 5) + Math.floor(r() * 5);
    let w = '';
    for (let i = 0; i < len; i++) w += LETTERS[Math.floor(r() * LETTERS.length)];
    if (r() < 0.01) w += "'S";
    seen.add(w);
  }
  return [...seen];
}

/** Zipf word sampler with a few preferred successors per word (a hidden bigram process). */
function wordProcess(words: string[], r: () => number): () => string[] {
  const n = words.length;
  const cum = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) { s += 1 / Math.pow(i + 1, 1.05); cum[i] = s; }
  const zipf = (): number => {
    const x = r() * s;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const m = (lo + hi) >> 1; if (cum[m]! < x) lo = m + 1; else hi = m; }
    return lo;
  };
  const successors = new Map<number, number[]>();
  const next = (prev: number): number => {
    if (prev >= 0 && r() < 0.5) {
      let succ = successors.get(prev);
      if (!succ) { succ = [zipf(), zipf(), zipf(), zipf()]; successors.set(prev, succ); }
      return succ[Math.floor(r() * succ.length)]!;
    }
    return zipf();
  };
  return () => {
    const len = 5 + Math.floor(r() * 11);
    const out: string[] = [];
    let prev = -1;
    for (let i = 0; i < len; i++) { prev = next(prev); out.push(words[prev]!); }
    return out;
  };
}

/** Peaky CTC logits spelling `words`, and the reference token sequence. */
function emissionsFor(words: string[], r: () => number): { data: Float32Array; frames: number; tokens: number[] } {
  const C = LABELS.length;
  const index = new Map(LABELS.map((l, i) => [l, i]));
  const frameLabels: number[] = [];
  const tokens: number[] = [];
  const blanks = (k: number): void => { for (let i = 0; i < k; i++) frameLabels.push(0); };
  blanks(3);
  words.forEach((w, wi) => {
    let prev = -1;
    for (const ch of w) {
      const k = index.get(ch)!;
      if (k === prev) blanks(1); else blanks(Math.floor(r() * 2));
      const dur = 1 + Math.floor(r() * 3);
      for (let i = 0; i < dur; i++) frameLabels.push(k);
      tokens.push(k);
      prev = k;
    }
    if (wi < words.length - 1) {
      blanks(Math.floor(r() * 2));
      frameLabels.push(1);
      tokens.push(1);
      blanks(1 + Math.floor(r() * 2));
    }
  });
  blanks(3);
  const F = frameLabels.length;
  const data = new Float32Array(F * C);
  for (let t = 0; t < F; t++) {
    const row = t * C;
    for (let c = 0; c < C; c++) data[row + c] = gaussian(r);
    const k = frameLabels[t]!;
    data[row + k] += 5 + 3 * r();
    if (k !== 0) data[row] += 2 + 2 * r(); // blank is never far in a CTC model
    if (r() < 0.1) data[row + 2 + Math.floor(r() * (C - 2))] += 4 + 3 * r();
  }
  return { data, frames: F, tokens };
}

function wer(ref: string[], hyp: string[]): number {
  const d = Array.from({ length: ref.length + 1 }, (_, i) => [i, ...new Array<number>(hyp.length).fill(0)]);
  for (let j = 1; j <= hyp.length; j++) d[0]![j] = j;
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= hyp.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    }
  }
  return d[ref.length]![hyp.length]! / ref.length;
}

/** Wall-clock and CPU milliseconds per run (CPU time is what other processes on a busy machine distort least). */
function time<T>(runs: number, warmup: number, fn: () => T): { ms: number[]; cpuMs: number[]; last: T } {
  let last!: T;
  for (let i = 0; i < warmup; i++) last = fn();
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    last = fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
  }
  return { ms, cpuMs, last };
}

function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function main(): void {
  const r = mulberry32(2024);
  const mb = (b: number): number => +(b / 2 ** 20).toFixed(1);

  // Data.
  const t0 = Date.now();
  const words = vocabulary(r);
  const sentence = wordProcess(words, r);
  const cacheDir = join(tmpdir(), 'wav2vec2-node-bench');
  mkdirSync(cacheDir, { recursive: true });
  const arpaPath = join(cacheDir, `bench-3gram-v${VOCAB}-s${SENTENCES}.arpa`);
  const corpus: string[][] = [];
  for (let i = 0; i < SENTENCES; i++) corpus.push(sentence());
  let buildMs = NaN;
  if (!existsSync(arpaPath)) {
    const b0 = Date.now();
    writeFileSync(arpaPath, buildArpa(corpus, 3).arpa);
    buildMs = Date.now() - b0;
  }
  const lexicon = Lexicon.from(words.map((w): [string, string[]] => [w, [...w, '|']]));
  const utterance: string[] = [];
  while (utterance.length < UTTERANCE_SECONDS * 2.5) utterance.push(...sentence());
  utterance.length = Math.round(UTTERANCE_SECONDS * 2.5);
  const em = emissionsFor(utterance, r);
  const emission = { data: em.data, shape: [em.frames, LABELS.length] };
  const audioSeconds = em.frames / FPS;
  console.log(`data ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${em.frames} frames (${audioSeconds.toFixed(1)} s of audio), ${utterance.length} words`);

  // ARPA load: time and memory held by the model.
  const before = memory();
  const l0 = process.hrtime.bigint();
  const lc0 = process.cpuUsage();
  const lm = NGramLanguageModel.loadSync(arpaPath);
  const lc = process.cpuUsage(lc0);
  const loadMs = Number(process.hrtime.bigint() - l0) / 1e6;
  const held = memory() - before;
  const ngrams = lm.counts.reduce((a, b) => a + b, 0);
  const arpaInfo = {
    file: arpaPath, fileMiB: mb(statSync(arpaPath).size), counts: lm.counts, ngrams, buildSeconds: Number.isNaN(buildMs) ? null : +(buildMs / 1000).toFixed(1),
    loadSeconds: +(loadMs / 1000).toFixed(2), loadCpuSeconds: +((lc.user + lc.system) / 1e6).toFixed(2), heapAndBuffersMiB: mb(held), modelEstimateMiB: mb(lm.memoryBytes()),
  };
  console.log(`ARPA: ${ngrams} n-grams (${lm.counts.join(' / ')}), ${arpaInfo.fileMiB} MiB, load ${arpaInfo.loadSeconds} s, held ${arpaInfo.heapAndBuffersMiB} MiB`);

  // Decoders.
  const c0 = Date.now();
  const lexDecoder = new CTCBeamSearchDecoder(LABELS, { lexicon, lm, beamSize: 50, lmWeight: 1, wordScore: 0 });
  const lexBuildMs = Date.now() - c0;
  const greedy = new GreedyCTCDecoder(LABELS);
  const freeDecoder = new CTCBeamSearchDecoder(LABELS, { beamSize: 50 });

  const rows: Array<Record<string, unknown>> = [];
  const run = (mode: string, runs: number, warmup: number, fn: () => string[], data: string): void => {
    const { ms, cpuMs, last } = time(runs, warmup, fn);
    const s = summary(ms);
    const cpu = summary(cpuMs).median;
    rows.push({
      mode, data, ...s, cpuMedian: cpu, xRealTime: Math.round(audioSeconds / (s.median / 1000)),
      xRealTimeCpu: Math.round(audioSeconds / (cpu / 1000)), wer: +wer(utterance, last).toFixed(3),
    });
    console.log(`${mode}: ${s.median.toFixed(2)} ms median of ${runs} (CPU ${cpu.toFixed(2)} ms)`);
  };
  run('greedy', 200, 20, () => greedy.decode(emission).words.map((w) => w.word), `${em.frames}×${LABELS.length} emission`);
  run('beam 50, lexicon-free, no LM', 5, 1, () => freeDecoder.decode(emission).words.map((w) => w.word), `${em.frames}×${LABELS.length} emission`);
  run('beam 50, 100k-word lexicon, 3-gram LM', 5, 1, () => lexDecoder.decode(emission).words.map((w) => w.word),
    `lexicon ${lexicon.size} words (trie ${lexDecoder.lexicon!.nodes} nodes, built with smearing in ${lexBuildMs} ms); LM ${ngrams} n-grams`);
  run('forced alignment', 50, 5, () => forcedAlign(emission, em.tokens, { labels: LABELS }).words.map((w) => w.word), `${em.tokens.length} target tokens`);

  const md = [
    `Decoding, ${audioSeconds.toFixed(1)} s of audio (${em.frames} frames at ${FPS} fps), one thread, ${machine().cpu}; load average ${loadavg()[0]!.toFixed(1)} at the end.`,
    '',
    table(['mode', 'median ms', '× real time', 'CPU ms', '× real time (CPU)', 'WER vs reference', 'data'], rows.map((x) => [
      x.mode as string, (x.median as number).toFixed(2), x.xRealTime as number, (x.cpuMedian as number).toFixed(2), x.xRealTimeCpu as number,
      x.mode === 'forced alignment' ? '-' : x.wer as number, x.data as string,
    ])),
    '',
    `3-gram ARPA (interpolated Kneser-Ney, scripts/build-arpa.ts, ${SENTENCES} generated sentences): ${ngrams} n-grams (${lm.counts.join(' / ')}), ${arpaInfo.fileMiB} MiB on disk; ` +
      `loadSync ${arpaInfo.loadSeconds} s (CPU ${arpaInfo.loadCpuSeconds} s); held ${arpaInfo.heapAndBuffersMiB} MiB (heap + array buffers after GC; model estimate ${arpaInfo.modelEstimateMiB} MiB)` +
      (arpaInfo.buildSeconds === null ? '.' : `; built in ${arpaInfo.buildSeconds} s.`),
  ].join('\n');
  console.log('\n' + md);
  const file = writeResults('decode', { machine: machine(), loadAverage: loadavg(), audioSeconds, frames: em.frames, fps: FPS, words: utterance.length, arpa: arpaInfo, results: rows }, md);
  console.log(`\nwrote ${file}`);
}

main();
