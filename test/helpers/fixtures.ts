import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Root of the reference fixtures copied from ../shared/fixtures (made by torchaudio / transformers). */
export const FIXTURES = join(__dirname, '..', 'fixtures');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const manifest: any = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));

function bytes(rel: string): Buffer {
  return readFileSync(join(FIXTURES, rel));
}

/** A raw little-endian float32 file as a Float32Array (copied, so it is aligned). */
export function readF32(rel: string): Float32Array {
  const b = bytes(rel);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

/** A raw little-endian float64 file as a Float64Array. */
export function readF64(rel: string): Float64Array {
  const b = bytes(rel);
  const out = new Float64Array(b.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = b.readDoubleLE(i * 8);
  return out;
}

/** A raw little-endian int64 file as plain numbers. */
export function readI64(rel: string): number[] {
  const b = bytes(rel);
  const out: number[] = [];
  for (let i = 0; i < b.length / 8; i++) out.push(Number(b.readBigInt64LE(i * 8)));
  return out;
}

/** Reads a file described in the manifest ({ file, dtype, shape }). */
export function readEntry(entry: { file: string; dtype: string; shape: number[] }): { data: Float32Array | Float64Array | number[]; shape: number[] } {
  const rel = entry.file;
  if (entry.dtype === 'float32') return { data: readF32(rel), shape: entry.shape };
  if (entry.dtype === 'float64') return { data: readF64(rel), shape: entry.shape };
  if (entry.dtype === 'int64') return { data: readI64(rel), shape: entry.shape };
  throw new Error(`fixture dtype ${entry.dtype} not handled`);
}
