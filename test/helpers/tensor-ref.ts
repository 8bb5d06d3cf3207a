/** Reading a TensorRef's elements back from its file, in row-major order, the way the builder will: for tests. */
import { closeSync, openSync, readSync } from 'node:fs';
import type { TensorRef } from '../../lib/checkpoint/types';

const BYTES = { float32: 4, float16: 2, bfloat16: 2, float64: 8 } as const;

/** The elements of `ref` as float64, walking its strides from `offset`; throws if it reads outside byteLength. */
export function tensorValues(ref: TensorRef): Float64Array {
  const size = BYTES[ref.dtype];
  const raw = Buffer.alloc(ref.byteLength);
  const fd = openSync(ref.file, 'r');
  try {
    if (ref.byteLength && readSync(fd, raw, 0, ref.byteLength, ref.offset) !== ref.byteLength) throw new Error(`${ref.name}: short read`);
  } finally {
    closeSync(fd);
  }
  const n = ref.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const index = new Array<number>(ref.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let e = 0;
    for (let d = 0; d < index.length; d++) e += index[d]! * ref.strides[d]!;
    if ((e + 1) * size > ref.byteLength) throw new Error(`${ref.name}: element ${e} is outside the ${ref.byteLength} bytes of the ref`);
    out[i] = decode(raw, e * size, ref.dtype);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < ref.shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

function decode(b: Buffer, at: number, dtype: TensorRef['dtype']): number {
  switch (dtype) {
    case 'float32': return b.readFloatLE(at);
    case 'float64': return b.readDoubleLE(at);
    case 'bfloat16': {
      const w = Buffer.alloc(4);
      w.writeUInt16LE(b.readUInt16LE(at), 2);
      return w.readFloatLE(0);
    }
    case 'float16': return half(b.readUInt16LE(at));
  }
}

function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
