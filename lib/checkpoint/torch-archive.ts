/**
 * `pytorch_model.bin` / `.pth` files as torch.save writes them since torch 1.6: a zip (lib/checkpoint/zip.ts) whose
 * entries sit under one folder named after the file (`<prefix>/data.pkl`, `<prefix>/data/<key>`,
 * `<prefix>/byteorder`, `<prefix>/version`, ...), with the state dict in `data.pkl` (lib/checkpoint/pickle.ts) and
 * each storage's raw little-endian bytes in `data/<key>`. Every tensor's offset, sizes and strides are checked
 * against its storage's entry before it becomes a TensorRef into the zip file.
 */
import { resolve } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { unpickleStateDict, type PickledTensor, type StorageKind } from './pickle';
import { bufferSource, withFileSource, type ByteSource } from './source';
import type { TensorRef, WeightDType, WeightSet } from './types';
import { readZipDirectory, zipError, type ZipEntry } from './zip';

/** The state dict pickle of the largest hub models is a few MB; refuse to allocate more than this for it. */
export const MAX_PICKLE_BYTES = 100_000_000;

const KINDS: Record<StorageKind, { bytes: number; dtype?: WeightDType }> = {
  Float: { bytes: 4, dtype: 'float32' },
  Half: { bytes: 2, dtype: 'float16' },
  BFloat16: { bytes: 2, dtype: 'bfloat16' },
  Double: { bytes: 8, dtype: 'float64' },
  Long: { bytes: 8 },
  Int: { bytes: 4 },
  Short: { bytes: 2 },
  Char: { bytes: 1 },
  Byte: { bytes: 1 },
  Bool: { bytes: 1 },
};

/**
 * Integer buffers a model keeps only for training: BatchNorm's step counter (HuBERT's conv_pos_batch_norm).
 * They are left out of the WeightSet; any other non-float tensor is an error, since the builder would need it.
 */
export const IGNORED_INTEGER_BUFFERS = /(^|\.)num_batches_tracked$/;

/** Reads a torch.save archive and returns where each tensor's elements are in it. */
export async function readTorchArchive(path: string): Promise<WeightSet> {
  const file = resolve(path);
  return withFileSource(file, parseTorchArchive);
}

/** The same for bytes in memory (tests and the fuzzer); `name` plays the file's part in TensorRefs and errors. */
export function parseTorchArchiveBytes(name: string, bytes: Uint8Array): WeightSet {
  return parseTorchArchive(bufferSource(name, bytes));
}

export function parseTorchArchive(src: ByteSource): WeightSet {
  const entries = readZipDirectory(src);
  const prefix = archivePrefix(src.name, entries);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = byteorder.size <= 16 ? src.read(byteorder.dataOffset, byteorder.size).toString('latin1') : '';
    if (order !== 'little') throw zipError(src.name, `its byteorder record says ${JSON.stringify(order)}; only little-endian archives are supported`);
  }
  const pkl = entries.get(`${prefix}data.pkl`);
  if (!pkl) throw zipError(src.name, `no ${prefix}data.pkl entry`);
  if (pkl.size > MAX_PICKLE_BYTES) throw zipError(src.name, `a ${pkl.size}-byte data.pkl; the limit is ${MAX_PICKLE_BYTES}`);
  const tensors = unpickleStateDict(src.name, src.read(pkl.dataOffset, pkl.size));
  const weights: WeightSet = new Map();
  for (const [name, t] of tensors) {
    const ref = tensorRef(src, name, t, entries.get(`${prefix}data/${t.storage.key}`));
    if (ref) weights.set(name, ref);
  }
  return weights;
}

/**
 * The folder every entry sits in. torch names it after the file (`archive/` in old releases), and its reader
 * takes it from the first entry; requiring one folder for all entries keeps a second state dict from hiding in
 * another.
 */
function archivePrefix(file: string, entries: Map<string, ZipEntry>): string {
  const first = entries.keys().next();
  if (first.done) throw zipError(file, 'it has no entries');
  const slash = first.value.indexOf('/');
  if (slash <= 0) throw zipError(file, `entry "${first.value}" is not inside the archive's folder`);
  const prefix = first.value.slice(0, slash + 1);
  for (const name of entries.keys()) {
    if (!name.startsWith(prefix)) throw zipError(file, `entries "${first.value}" and "${name}" are in different folders`);
  }
  return prefix;
}

function tensorRef(src: ByteSource, name: string, t: PickledTensor, entry: ZipEntry | undefined): TensorRef | null {
  const kind = KINDS[t.storage.kind];
  const where = `tensor "${name}" (storage ${t.storage.key})`;
  if (!entry) throw zipError(src.name, `${where} has no data/${t.storage.key} entry`);
  if (entry.size !== t.storage.numel * kind.bytes) {
    throw zipError(src.name, `${where}: the pickle says ${t.storage.numel} ${t.storage.kind} elements (${t.storage.numel * kind.bytes} bytes); the entry holds ${entry.size}`);
  }
  const span = elementSpan(t);
  if (t.offset > t.storage.numel) throw zipError(src.name, `${where} starts at element ${t.offset} of a ${t.storage.numel}-element storage`);
  if (span > 0 && t.offset + span > t.storage.numel) {
    throw zipError(src.name, `${where} of shape [${t.shape.join(', ')}], strides [${t.strides.join(', ')}] at offset ${t.offset} reaches element ${t.offset + span} of a ${t.storage.numel}-element storage`);
  }
  if (!kind.dtype) {
    if (IGNORED_INTEGER_BUFFERS.test(name)) return null;
    throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${src.name}: tensor "${name}" is ${t.storage.kind}; weights must be float32, float16, bfloat16 or float64.`);
  }
  return {
    name,
    dtype: kind.dtype,
    shape: t.shape,
    strides: t.strides,
    file: src.name,
    offset: entry.dataOffset + t.offset * kind.bytes,
    byteLength: span * kind.bytes,
  };
}

/**
 * Elements from the first to one past the last that the strided view touches (0 for an empty tensor). Each term
 * is bounded by the storage before it is added, so hostile sizes cannot overflow past it unnoticed.
 */
function elementSpan(t: PickledTensor): number {
  if (t.shape.includes(0)) return 0;
  let last = 0;
  for (let i = 0; i < t.shape.length; i++) {
    const step = (t.shape[i]! - 1) * t.strides[i]!;
    if (!Number.isSafeInteger(step) || step > t.storage.numel) return Number.MAX_SAFE_INTEGER;
    last += step;
    if (last > t.storage.numel) return Number.MAX_SAFE_INTEGER;
  }
  return last + 1;
}
