/**
 * safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header naming each tensor's dtype, shape and [begin, end) byte range in the data section that follows, then
 * the data. Everything in the header is untrusted until checked here: the header length against the file and a
 * cap, every range against the data section and against each other, every shape against its range.
 */
import { resolve } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { bufferSource, withFileSource, type ByteSource } from './source';
import type { TensorRef, WeightDType, WeightSet } from './types';

/** The reference implementation refuses headers over 100 MB; so do we, before allocating. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPES: Record<string, { dtype: WeightDType; bytes: number }> = {
  F32: { dtype: 'float32', bytes: 4 },
  F16: { dtype: 'float16', bytes: 2 },
  BF16: { dtype: 'bfloat16', bytes: 2 },
  F64: { dtype: 'float64', bytes: 8 },
};

function bad(file: string, what: string): Wav2Vec2Error {
  return new Wav2Vec2Error('CHECKPOINT_INVALID', `${file}: not a valid safetensors file: ${what}.`);
}

/** Reads the header of a safetensors file and returns where each tensor's bytes are. */
export async function readSafetensors(path: string): Promise<WeightSet> {
  return withFileSource(resolve(path), parseSafetensors);
}

/** The same for bytes in memory (tests and the fuzzer); `name` plays the file's part in TensorRefs and errors. */
export function parseSafetensorsBytes(name: string, bytes: Uint8Array): WeightSet {
  return parseSafetensors(bufferSource(name, bytes));
}

/** Reads only the 8-byte length and the header it announces; the data section is only bounds. */
export function parseSafetensors(src: ByteSource): WeightSet {
  const { name: file, size } = src;
  if (size < 8) throw bad(file, `${size} bytes, shorter than the 8-byte header length`);
  const headerBytes = src.read(0, 8).readBigUInt64LE(0);
  if (headerBytes > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
    throw bad(file, `the header claims ${headerBytes} bytes; the file has ${size - 8} after the length and the limit is ${MAX_HEADER_BYTES}`);
  }
  const n = Number(headerBytes);
  return parseHeader(file, src.read(8, n), 8 + n, size);
}

/** Checks a header and turns it into tensor references; `dataStart` and `fileSize` bound every range. */
export function parseHeader(file: string, json: Buffer, dataStart: number, fileSize: number): WeightSet {
  let header: unknown;
  try {
    header = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw bad(file, `the header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(file, 'the header is not a JSON object');
  const dataBytes = fileSize - dataStart;
  const tensors: WeightSet = new Map();
  const ranges: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const ref = tensorOf(file, name, entry, dataStart, dataBytes);
    tensors.set(name, ref);
    if (ref.byteLength > 0) ranges.push([ref.offset, ref.offset + ref.byteLength, name]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw bad(file, `tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
  }
  return tensors;
}

function tensorOf(file: string, name: string, entry: unknown, dataStart: number, dataBytes: number): TensorRef {
  if (typeof entry !== 'object' || entry === null) throw bad(file, `entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  const kind = typeof dtype === 'string' && Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (!kind) throw bad(file, `tensor "${name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPES).join(', ')}`);
  if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(file, `tensor "${name}" has shape ${JSON.stringify(shape)}; expected at most 8 non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw bad(file, `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) throw bad(file, `tensor "${name}" spans bytes [${begin}, ${end}) of a ${dataBytes}-byte data section`);
  // Multiply with a running check so a hostile shape cannot overflow past the range it claims.
  let elements = (shape as number[]).includes(0) ? 0 : 1;
  for (const d of shape as number[]) {
    if (elements * kind.bytes > end - begin) break;
    elements *= d;
  }
  if (elements * kind.bytes !== end - begin) {
    throw bad(file, `tensor "${name}" of shape [${shape.join(', ')}] (${kind.dtype}) needs ${elements * kind.bytes} bytes; its range holds ${end - begin}`);
  }
  return { name, dtype: kind.dtype, shape: shape as number[], strides: contiguousStrides(shape as number[]), file, offset: dataStart + begin, byteLength: end - begin };
}

/** Row-major strides in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i];
  }
  return strides;
}
