import { invalid, Wav2Vec2Error } from '../errors';
import { isObject } from '../is';
import type { Tensor } from '../tensor';

/**
 * Argument checks shared by every decoder: an emission is a `{ data: Float32Array, shape: [F, C] }` (one
 * utterance) or `[B, F, C]` (a batch, with optional valid lengths). Everything here throws
 * `DECODE_INVALID_INPUT` through `invalid(...)`. Every utterance, and every batch item, needs at least one
 * frame: a valid length of 0 is an error, not an empty result (a model gives no item fewer frames than one).
 *
 * Also the one per-frame log-sum-exp the decoders share (`logSumExp`, `rowLogSumExp`, `logSoftmax`).
 */

/** One utterance's emission, validated: `frames` rows of `classes` values starting at `data[0]`. */
export interface Frames {
  data: Float32Array;
  frames: number;
  classes: number;
}

function checkTensor(emission: unknown, what: string): Tensor {
  if (!isObject(emission) || !(emission.data instanceof Float32Array) || !Array.isArray(emission.shape)) {
    throw invalid('DECODE_INVALID_INPUT', what, 'a tensor { data: Float32Array, shape: number[] }', emission);
  }
  const shape = emission.shape as unknown[];
  if (!shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw invalid('DECODE_INVALID_INPUT', `${what}.shape`, 'non-negative integers', shape);
  }
  let n = 1;
  for (const d of shape as number[]) n *= d;
  if (n !== emission.data.length) {
    throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: shape [${shape.join(', ')}] holds ${n} values but data has ${emission.data.length}.`);
  }
  return emission as unknown as Tensor;
}

/**
 * Rows may hold -Infinity (a log-probability of zero, e.g. a masked label) but not NaN or +Infinity, and
 * not a row that is -Infinity everywhere: no label would be possible at that frame.
 */
function checkValues(data: Float32Array, frames: number, classes: number, what: string): void {
  for (let t = 0; t < frames; t++) {
    const row = t * classes;
    let finite = false;
    for (let c = 0; c < classes; c++) {
      const x = data[row + c]!;
      if (x !== x || x === Infinity) {
        throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: expected finite values, got ${x} at frame ${t}, label ${c}. The model produced invalid output (check the input audio for NaN).`);
      }
      if (x !== -Infinity) finite = true;
    }
    if (!finite) throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: every label is -Infinity at frame ${t}.`);
  }
}

function checkClasses(classes: number, numLabels: number, what: string): void {
  if (classes !== numLabels) {
    throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: expected ${numLabels} classes (one per label), got ${classes}. The labels do not belong to this model.`);
  }
}

function checkFrames(frames: number, what: string): void {
  if (frames === 0) {
    throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: expected at least one frame, got none. A model gives no frames for audio shorter than its receptive field (model.receptiveField samples).`);
  }
}

/** An utterance: `[F, C]`, or `[1, F, C]` as a model returns it for one waveform. */
export function checkEmission(emission: unknown, numLabels: number, what = 'emission'): Frames {
  const t = checkTensor(emission, what);
  let shape = t.shape;
  if (shape.length === 3 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length !== 2) {
    throw invalid('DECODE_INVALID_INPUT', `${what}.shape`, '[frames, classes] (or [1, frames, classes]; use decodeBatch for a batch)', `[${t.shape.join(', ')}]`);
  }
  const [frames, classes] = shape as [number, number];
  checkClasses(classes, numLabels, what);
  checkFrames(frames, what);
  checkValues(t.data, frames, classes, what);
  return { data: t.data, frames, classes };
}

/** A batch `[B, F, C]` with optional valid lengths (padding frames beyond a length are ignored). */
export function checkBatch(emissions: unknown, numLabels: number, lengths?: unknown, what = 'emissions'): Frames[] {
  const t = checkTensor(emissions, what);
  if (t.shape.length !== 3) {
    throw invalid('DECODE_INVALID_INPUT', `${what}.shape`, '[batch, frames, classes]', `[${t.shape.join(', ')}]`);
  }
  const [batch, frames, classes] = t.shape as [number, number, number];
  checkClasses(classes, numLabels, what);
  if (batch > 0) checkFrames(frames, what);
  const lens = checkLengths(lengths, batch, frames, what);
  const out: Frames[] = [];
  for (let b = 0; b < batch; b++) {
    const f = lens[b]!;
    const item = `${what}[${b}]`;
    const data = t.data.subarray(b * frames * classes, (b * frames + f) * classes);
    checkValues(data, f, classes, item);
    out.push({ data, frames: f, classes });
  }
  return out;
}

/**
 * Valid lengths as plain numbers: numbers, an Int32Array, or the BigInt64Array a model hands back. Each is in
 * [1, frames]: an item with no frames has nothing to decode (see the file comment).
 */
export function checkLengths(lengths: unknown, batch: number, frames: number, what: string): number[] {
  if (lengths === undefined || lengths === null) return new Array<number>(batch).fill(frames);
  const ok = Array.isArray(lengths) || ArrayBuffer.isView(lengths);
  const arr = ok ? Array.from(lengths as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x)) : [];
  if (!ok || arr.length !== batch) {
    throw invalid('DECODE_INVALID_INPUT', `${what} lengths`, `${batch} lengths (one per batch item)`, lengths);
  }
  arr.forEach((l, b) => {
    if (!Number.isInteger(l) || l < 1 || l > frames) {
      throw invalid('DECODE_INVALID_INPUT', `${what} lengths[${b}]`, `an integer in [1, ${frames}] (every item needs at least one frame)`, l);
    }
  });
  return arr;
}

/** Labels must be a non-empty array of strings; `unique` where spelling words into tokens depends on it. */
export function checkLabels(labels: unknown, what = 'labels', unique = false): string[] {
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
    throw invalid('DECODE_INVALID_INPUT', what, 'a non-empty array of strings', labels);
  }
  if (unique) {
    const seen = new Set<string>();
    for (const l of labels as string[]) {
      if (seen.has(l)) throw invalid('DECODE_INVALID_INPUT', what, 'distinct labels', `${JSON.stringify(l)} twice`);
      seen.add(l);
    }
  }
  return labels as string[];
}

export function checkIndex(value: unknown, size: number, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= size) {
    throw invalid('DECODE_INVALID_INPUT', what, `an integer in [0, ${size - 1}]`, value);
  }
  return value as number;
}

/**
 * log Σ_c exp(data[offset + c]) over the `classes` values of one frame, in float64 around the frame's maximum
 * (pass `max` when the caller already has it). The one log-sum-exp every decoder uses: `exp(x - lse)` is the
 * softmax probability of a label whether the emission holds logits or log-probabilities. The maximum must be
 * finite (checkValues guarantees it: no frame is -Infinity everywhere).
 */
export function logSumExp(data: Float32Array, offset: number, classes: number, max?: number): number {
  let m = max;
  if (m === undefined) {
    m = -Infinity;
    for (let c = 0; c < classes; c++) if (data[offset + c]! > m) m = data[offset + c]!;
  }
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(data[offset + c]! - m);
  return m + Math.log(sum);
}

/** `logSumExp` of every frame. */
export function rowLogSumExp(data: Float32Array, frames: number, classes: number): Float64Array {
  const out = new Float64Array(frames);
  for (let t = 0; t < frames; t++) out[t] = logSumExp(data, t * classes, classes);
  return out;
}

/**
 * Per-frame log-softmax into a new Float32Array. The beam search and the aligner add these numbers to
 * language-model log-probabilities and compare them against thresholds, which only means something on
 * normalised scores; computed in float64 and stored in float32 like torch.log_softmax on float32 input.
 */
export function logSoftmax(f: Frames): Float32Array {
  const { data, frames, classes } = f;
  const out = new Float32Array(frames * classes);
  for (let t = 0; t < frames; t++) {
    const row = t * classes;
    const lse = logSumExp(data, row, classes);
    for (let c = 0; c < classes; c++) out[row + c] = data[row + c]! - lse;
  }
  return out;
}
