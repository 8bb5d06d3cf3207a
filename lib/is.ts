/** Type predicates shared by every argument check (sharp's lib/is.js idea). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
export const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const isPositiveInteger = (v: unknown): v is number => isInteger(v) && v > 0;
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isString = (v: unknown): v is string => typeof v === 'string';
export const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const isFloat32Array = (v: unknown): v is Float32Array => v instanceof Float32Array;
export const isFloat64Array = (v: unknown): v is Float64Array => v instanceof Float64Array;
export const isFloatArray = (v: unknown): v is Float32Array | Float64Array => isFloat32Array(v) || isFloat64Array(v);

/** Index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is NaN exactly for NaN and ±Infinity, and this is the fastest test V8 offers.
    if (x - x !== 0) return i;
  }
  return -1;
}
