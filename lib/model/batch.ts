/**
 * Turns what callers pass (one waveform, several of different lengths, or a padded [B, T] tensor) into one
 * validated, padded float32 batch with per-item lengths: the only form the addon accepts.
 */
import { Wav2Vec2Error, invalid } from '../errors';
import { firstNonFinite, isFloat32Array, isInteger, isObject } from '../is';

/** One waveform, several waveforms (padded for you), or an already padded batch `{ data, shape: [B, T] }`. */
export type ModelInput = Float32Array | Float32Array[] | { data: Float32Array; shape: [number, number] | number[] };

export interface Batch {
  data: Float32Array;
  shape: [number, number];
  /** Valid samples per item. */
  lengths: Int32Array;
  /** True when some item is shorter than the batch (so the model needs the lengths). */
  ragged: boolean;
  /** True when `data` is a buffer made here (safe to modify and to hand to LibTorch without a copy). */
  owned: boolean;
}

/** Pads and validates. `receptiveField`: the fewest samples that give one output frame. */
export function makeBatch(input: ModelInput, lengths: ArrayLike<number> | undefined, receptiveField: number, sampleRate = 16000): Batch {
  let batch: Batch;
  if (isFloat32Array(input)) {
    if (lengths !== undefined) throw invalid('INVALID_INPUT', 'lengths', 'no lengths for a single Float32Array (its length is the length)', lengths);
    batch = { data: input, shape: [1, input.length], lengths: Int32Array.of(input.length), ragged: false, owned: false };
  } else if (Array.isArray(input)) {
    batch = padItems(input, lengths);
  } else if (isObject(input) && isFloat32Array(input.data) && Array.isArray(input.shape)) {
    batch = fromTensor(input.data, input.shape, lengths);
  } else {
    throw invalid('INVALID_INPUT', 'input', 'a Float32Array, an array of Float32Arrays, or { data: Float32Array, shape: [batch, samples] }', input);
  }
  const [, T] = batch.shape;
  for (let b = 0; b < batch.lengths.length; b++) {
    const n = batch.lengths[b]!;
    if (n < receptiveField) {
      throw new Wav2Vec2Error('INVALID_INPUT',
        `input${batch.lengths.length > 1 ? `[${b}]` : ''}: expected at least ${receptiveField} samples (the model's receptive field, ` +
        `${((receptiveField / sampleRate) * 1000).toFixed(0)} ms at ${sampleRate / 1000} kHz), got ${n}. Pad short clips with silence.`);
    }
  }
  const bad = firstNonFinite(batch.data);
  if (bad >= 0) {
    const b = Math.floor(bad / T);
    throw new Wav2Vec2Error('INVALID_INPUT',
      `input${batch.shape[0] > 1 ? `[${b}]` : ''}: expected finite samples, got ${batch.data[bad]} at sample ${bad - b * T}. ` +
      'Check the audio decoding; NaN or Infinity would turn every emission into NaN.');
  }
  // No copy here: the addon copies the samples when the call is submitted, on this thread, so the caller may write
  // to, transfer or detach its buffer as soon as forward() returns its promise.
  return batch;
}

function padItems(items: Float32Array[], lengths: ArrayLike<number> | undefined): Batch {
  if (items.length === 0) throw invalid('INVALID_INPUT', 'input', 'at least one waveform', items);
  if (lengths !== undefined) throw invalid('INVALID_INPUT', 'lengths', 'no lengths with an array of waveforms (each waveform\'s length is used)', lengths);
  let T = 0;
  items.forEach((x, i) => {
    if (!isFloat32Array(x)) throw invalid('INVALID_INPUT', `input[${i}]`, 'a Float32Array', x);
    T = Math.max(T, x.length);
  });
  if (items.length === 1) {
    return { data: items[0]!, shape: [1, T], lengths: Int32Array.of(T), ragged: false, owned: false };
  }
  const data = new Float32Array(items.length * T);
  const lens = new Int32Array(items.length);
  items.forEach((x, i) => {
    data.set(x, i * T);
    lens[i] = x.length;
  });
  return { data, shape: [items.length, T], lengths: lens, ragged: lens.some((n) => n !== T), owned: true };
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
  return { data, shape: [B, T], lengths: lens, ragged: lens.some((n) => n !== T), owned: false };
}

/**
 * Layer-normalises each item over its valid samples only, as torchaudio's bundles do for one waveform
 * (`F.layer_norm(x, x.shape)`, eps 1e-5, biased variance; Hugging Face feature extractors use eps 1e-7). torchaudio normalises a padded batch as a whole,
 * which makes an item's result depend on its neighbours; per item, a batch gives each item what it gets alone.
 * Padding stays zero. Returns a new batch (the caller's memory is never modified).
 */
export function normalizeItems(batch: Batch, eps = 1e-5): Batch {
  const [B, T] = batch.shape;
  const out = batch.owned ? batch.data : new Float32Array(batch.data.length);
  for (let b = 0; b < B; b++) {
    const n = batch.lengths[b]!;
    const off = b * T;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += batch.data[off + i]!;
    const mean = sum / n;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const d = batch.data[off + i]! - mean;
      sq += d * d;
    }
    const inv = 1 / Math.sqrt(sq / n + eps);
    for (let i = 0; i < n; i++) out[off + i] = (batch.data[off + i]! - mean) * inv;
    for (let i = n; i < T; i++) out[off + i] = 0;
  }
  return { ...batch, data: out, owned: true };
}
