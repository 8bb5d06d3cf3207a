import { invalid, Wav2Vec2Error } from './errors';
import { isFloatArray, isObject } from './is';

/** A dense float32 tensor in row-major (C) order: what every model output is. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

/** A dense tensor whose data may be float32 or float64 (resampling keeps the caller's precision). */
export interface FloatTensor<T extends Float32Array | Float64Array = Float32Array | Float64Array> {
  data: T;
  shape: number[];
}

/**
 * Item `i` of a batch `[B, ...rest]` (a model's emissions `[B, frames, classes]`, a feature layer), as a tensor
 * `[...rest]` that views the batch's memory (no copy: `.data.slice()` it to keep it apart). With `length`, only its
 * first `length` rows: the valid frames of a padded item, as `model.forward` reports them in `lengths[i]`.
 * A plain function, not a method: a Tensor stays a plain `{ data, shape }` that crosses threads and processes as is.
 */
export function itemOf<T extends Float32Array | Float64Array>(
  batch: { data: T; shape: readonly number[] }, i: number, length?: number | bigint,
): { data: T; shape: number[] } {
  const given: unknown = batch;
  if (!isObject(given) || !isFloatArray(given.data) || !Array.isArray(given.shape) || given.shape.length < 2 || !given.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalid('INVALID_INPUT', 'itemOf batch', 'a tensor { data: Float32Array | Float64Array, shape: [batch, rows, ...] }', batch);
  }
  const [B, rows, ...rest] = batch.shape as number[];
  if (numel(batch.shape) !== batch.data.length) {
    throw new Wav2Vec2Error('INVALID_INPUT', `itemOf batch: shape [${batch.shape.join(', ')}] holds ${numel(batch.shape)} values but data has ${batch.data.length}.`);
  }
  if (!Number.isInteger(i) || i < 0 || i >= B!) throw invalid('INVALID_INPUT', 'itemOf index', `an integer in [0, ${B! - 1}]`, i);
  const n = length === undefined ? rows! : Number(length);
  if (!Number.isInteger(n) || n < 0 || n > rows!) throw invalid('INVALID_INPUT', 'itemOf length', `an integer in [0, ${rows}] (rows of one item)`, length);
  const row = numel(rest);
  const start = i * rows! * row;
  return { data: batch.data.subarray(start, start + n * row) as T, shape: [n, ...rest] };
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Max absolute elementwise difference (NaN if shapes or sizes differ, or a NaN is present). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // also propagates NaN
  }
  return m;
}
