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
