/**
 * The elements of a TensorRef as contiguous row-major bytes, for the few places that rewrite a checkpoint in
 * TypeScript (bundle conversion). The builder reads TensorRefs itself, in C++.
 */
import { open } from 'node:fs/promises';
import { Wav2Vec2Error } from '../errors';
import type { TensorRef } from './types';

const ITEM_BYTES = { float32: 4, float16: 2, bfloat16: 2, float64: 8 } as const;

export async function readTensorBytes(ref: TensorRef): Promise<Buffer> {
  const item = ITEM_BYTES[ref.dtype];
  const count = ref.shape.reduce((a, b) => a * b, 1);
  const handle = await open(ref.file, 'r');
  let span: Buffer;
  try {
    span = Buffer.alloc(ref.byteLength);
    const { bytesRead } = await handle.read(span, 0, ref.byteLength, ref.offset);
    if (bytesRead !== ref.byteLength) throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${ref.file}: tensor "${ref.name}" ends past the end of the file.`);
  } finally {
    await handle.close();
  }
  if (isContiguous(ref)) return span.subarray(0, count * item);
  const out = Buffer.alloc(count * item);
  const index = new Array<number>(ref.shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = 0;
    for (let d = 0; d < index.length; d++) at += index[d]! * ref.strides[d]!;
    if ((at + 1) * item > span.length) throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${ref.file}: tensor "${ref.name}" reaches past its storage.`);
    span.copy(out, i * item, at * item, (at + 1) * item);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < ref.shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

function isContiguous(ref: TensorRef): boolean {
  let step = 1;
  for (let d = ref.shape.length - 1; d >= 0; d--) {
    if (ref.shape[d] !== 1 && ref.strides[d] !== step) return false;
    step *= ref.shape[d]!;
  }
  return true;
}
