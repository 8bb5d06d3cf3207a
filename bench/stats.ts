/** Small helpers shared by the benchmarks: statistics, machine description, result files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summary(ms: number[]): { median: number; min: number; max: number; runs: number } {
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), runs: ms.length };
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return { host: hostname(), cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, platform: `${process.platform}-${process.arch}` };
}

/** Markdown table from rows of cells. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Writes bench/results/<name>-<date>-<host>.json and <name>-latest.md; returns the JSON path. */
export function writeResults(name: string, json: unknown, markdown: string): string {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const file = join(dir, `${name}-${date}-${hostname()}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, `${name}-latest.md`), markdown + '\n');
  return file;
}

/** How many frames (rows of `labels` values) two emissions give the same largest label: the argmax agreement of a
 * reduced precision with float32 (bench/core.ts variants, bench/eval.ts --dtype). */
export function sameArgmax(a: Float32Array, b: Float32Array, labels: number): number {
  let same = 0;
  const frames = Math.min(a.length, b.length) / labels;
  for (let f = 0; f < frames; f++) {
    let ia = 0;
    let ib = 0;
    for (let j = 1; j < labels; j++) {
      if (a[f * labels + j]! > a[f * labels + ia]!) ia = j;
      if (b[f * labels + j]! > b[f * labels + ib]!) ib = j;
    }
    if (ia === ib) same++;
  }
  return same;
}

/** A deterministic speech-like test signal (harmonics with a moving pitch, AM and a little noise). */
export function speechLike(seconds: number, seed: number, rate = 16000): Float32Array {
  const n = Math.round(seconds * rate);
  const x = new Float32Array(n);
  let s = seed * 9301 + 49297;
  const rand = () => ((s = (s * 9301 + 49297) % 233280) / 233280) - 0.5;
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f0 = 110 + 40 * Math.sin(2 * Math.PI * 0.7 * t + seed);
    phase += (2 * Math.PI * f0) / rate;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t + seed);
    x[i] = 0.1 * env * (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase)) + 0.01 * rand();
  }
  return x;
}

/** 16-bit PCM mono WAV bytes of `samples` (scaled by 32767, clamped to the 16-bit range): audio files for the benchmarks. */
export function wav16(samples: Float32Array, rate: number): Buffer {
  const b = Buffer.alloc(44 + samples.length * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + samples.length * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32767))), 44 + 2 * i);
  return b;
}
