/**
 * Turns what callers pass (one waveform, several of different lengths, or a padded [B, T] tensor) into a checked
 * batch with per-item lengths: one [B, T] array, or the items themselves, which the addon pads as it copies them.
 */
import { Wav2Vec2Error, invalid } from '../errors';
import { isFloat32Array, isInteger, isObject } from '../is';

/** One waveform, several waveforms (padded for you), or an already padded batch `{ data, shape: [B, T] }`. */
export type ModelInput = Float32Array | Float32Array[] | { data: Float32Array; shape: [number, number] | number[] };

export interface Batch {
  /** One [B, T] array, or the items themselves (B > 1, each of its own length: the addon pads them). */
  data: Float32Array | Float32Array[];
  shape: [number, number];
  /** Valid samples per item. */
  lengths: Int32Array;
  /** True when some item is shorter than the batch (so the model needs the lengths). */
  ragged: boolean;
}

/** Item b's valid samples: the item itself, or a view into the padded array. */
export function batchItem(batch: Batch, b: number): Float32Array {
  if (Array.isArray(batch.data)) return batch.data[b]!;
  const T = batch.shape[1];
  return batch.data.subarray(b * T, b * T + batch.lengths[b]!);
}

/** Pads and validates. `receptiveField`: the fewest samples that give one output frame. */
export function makeBatch(input: ModelInput, lengths: ArrayLike<number> | undefined, receptiveField: number, sampleRate = 16000): Batch {
  let batch: Batch;
  if (isFloat32Array(input)) {
    if (lengths !== undefined) throw invalid('INVALID_INPUT', 'lengths', 'no lengths for a single Float32Array (its length is the length)', lengths);
    batch = { data: input, shape: [1, input.length], lengths: Int32Array.of(input.length), ragged: false };
  } else if (Array.isArray(input)) {
    batch = padItems(input, lengths);
  } else if (isObject(input) && isFloat32Array(input.data) && Array.isArray(input.shape)) {
    batch = fromTensor(input.data, input.shape, lengths);
  } else {
    throw invalid('INVALID_INPUT', 'input', 'a Float32Array, an array of Float32Arrays, or { data: Float32Array, shape: [batch, samples] }', input);
  }
  for (let b = 0; b < batch.lengths.length; b++) {
    const n = batch.lengths[b]!;
    if (n < receptiveField) {
      throw new Wav2Vec2Error('INVALID_INPUT',
        `input${batch.lengths.length > 1 ? `[${b}]` : ''}: expected at least ${receptiveField} samples (the model's receptive field, ` +
        `${((receptiveField / sampleRate) * 1000).toFixed(0)} ms at ${sampleRate / 1000} kHz), got ${n}. Pad short clips with silence.`);
    }
  }
  // Checked on the inference thread, not here: NaN and infinities (a pass over every sample), and the copy (native/model.cc).
  // So the caller may write to, transfer or detach its buffers as soon as forward() returns its promise.
  return batch;
}

function padItems(items: Float32Array[], lengths: ArrayLike<number> | undefined): Batch {
  if (items.length === 0) throw invalid('INVALID_INPUT', 'input', 'at least one waveform', items);
  if (lengths !== undefined) throw invalid('INVALID_INPUT', 'lengths', 'no lengths with an array of waveforms (each waveform\'s length is used)', lengths);
  // A copy of the list, read once by index: the addon then reads this array, never the caller's (whose holes or
  // getters could change it between checks and copies).
  const own: Float32Array[] = [];
  let T = 0;
  for (let i = 0; i < items.length; i++) {
    const x = items[i];
    if (!isFloat32Array(x)) throw invalid('INVALID_INPUT', `input[${i}]`, 'a Float32Array', x);
    own.push(x);
    T = Math.max(T, x.length);
  }
  if (own.length === 1) return { data: own[0]!, shape: [1, T], lengths: Int32Array.of(T), ragged: false };
  const lens = Int32Array.from(own, (x) => x.length);
  return { data: own, shape: [own.length, T], lengths: lens, ragged: lens.some((n) => n !== T) };
}

function fromTensor(data: Float32Array, shape: number[], lengths: ArrayLike<number> | undefined): Batch {
  if (shape.length !== 2 || !shape.every((d) => isInteger(d) && d >= 1)) {
    throw invalid('INVALID_INPUT', 'input.shape', '[batch, samples] with positive integers', shape);
  }
  const [B, T] = shape as [number, number];
  if (B * T !== data.length) {
    throw new Wav2Vec2Error('INVALID_INPUT', `input: shape [${B}, ${T}] needs ${B * T} samples, data has ${data.length}.`);
  }
  const lens = new Int32Array(B).fill(T);
  if (lengths !== undefined) {
    if (lengths === null || typeof lengths !== 'object' || typeof (lengths as ArrayLike<number>).length !== 'number') {
      throw invalid('INVALID_INPUT', 'lengths', `an array of ${B} integers`, lengths);
    }
    if (lengths.length !== B) throw invalid('INVALID_INPUT', 'lengths', `one length per batch item (${B})`, lengths);
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      if (!isInteger(n) || n < 1 || n > T) throw invalid('INVALID_INPUT', `lengths[${b}]`, `an integer within [1, ${T}]`, n);
      lens[b] = n;
    }
  }
  return { data, shape: [B, T], lengths: lens, ragged: lens.some((n) => n !== T) };
}
