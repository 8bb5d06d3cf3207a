/**
 * Long audio in overlapping windows, as the Hugging Face ASR pipeline does it (`chunk_length_s` +
 * `stride_length_s`): window i covers samples [i·step, i·step + window) with step = window − 2·stride; the model
 * runs on each window; the frames computed from the first and last `stride` samples of an inner window are
 * dropped (their context is cut off there), and the rest are concatenated. Every frame of the result thus comes
 * from a window in which it has at least `stride` of context on both sides, and each frame is kept exactly once, so
 * a word at a seam is neither lost nor doubled.
 *
 * Unlike the pipeline, which rounds `stride / window · frames` per chunk, window, stride and step are whole
 * multiples of the frame stride here: frame f of window i is then exactly frame i·step/frameStride + f of the whole
 * signal (same samples under its receptive field), and the kept ranges tile the unchunked frames with no rounding.
 *
 * The audio comes from the audio stage (lib/pipeline/audio) as a stream of samples at the model's rate, decoded on
 * its worker pool within the job's budget; at most one window and a few pieces of samples are held, whatever the
 * length of the file.
 */
import { type AudioBudget, type AudioPool, checkBudget, decodeToRate, type StageChunk } from '../pipeline/audio';
import { Wav2Vec2Error } from '../errors';

/** Window layout in samples at the model's rate; all multiples of `frameStride`. */
export interface WindowPlan {
  window: number;
  stride: number;
  step: number;
  frameStride: number;
  receptiveField: number;
}

/** A window of a file (or the whole of a short file) ready for the model. */
export interface Piece {
  /** 0, 1, ... in the order of the file. */
  index: number;
  samples: Float32Array;
  /** First sample of the piece in the file (at the model's rate). */
  offset: number;
  /** Frames of this piece's output to keep: [from, to); `to` null means to the end. */
  keep: { from: number; to: number | null };
  last: boolean;
  /** A word ends before this piece's first frame (pieces cut on silence: the decoder must not join words across it). */
  wordBreak?: boolean;
}

export interface PieceSource {
  /** Sample rate of the file itself. */
  sourceRate: number | null;
  /** Samples read so far at the model's rate (the file's length once the last piece is out). */
  samples: number;
}

/** Rounds seconds to samples on the frame grid, and checks the layout makes sense. */
export function windowPlan(windowSeconds: number, strideSeconds: number, sampleRate: number, frameStride: number, receptiveField: number): WindowPlan {
  const grid = (s: number) => Math.round((s * sampleRate) / frameStride) * frameStride;
  const window = grid(windowSeconds);
  const stride = grid(strideSeconds);
  const step = window - 2 * stride;
  if (!(stride >= frameStride && step >= frameStride && window >= receptiveField)) {
    throw new Wav2Vec2Error('INVALID_INPUT',
      `window ${windowSeconds} s, stride ${strideSeconds} s: expected a stride of at least one frame (${frameStride / sampleRate} s) and a window longer than twice the stride.`);
  }
  return { window, stride, step, frameStride, receptiveField };
}

/** Frames of the conv feature encoder for `samples` inputs, from the frame grid (the standard layout). */
export function framesOf(samples: number, plan: WindowPlan): number {
  return samples < plan.receptiveField ? 0 : Math.floor((samples - plan.receptiveField) / plan.frameStride) + 1;
}

/** Where the samples come from: the stage's pool, or (without one) the same stage on this thread. */
export interface PieceAudio {
  pool?: AudioPool;
  budget?: AudioBudget;
}

export function stageChunks(file: string, sampleRate: number, audio: PieceAudio): AsyncGenerator<StageChunk> {
  const req = { input: file, targetRate: sampleRate, budget: audio.budget ?? checkBudget({}) };
  return audio.pool ? audio.pool.stream(req) : decodeToRate(req);
}

/** The samples a reader holds between cuts: appended at the end, taken and dropped at the front; grows as needed. */
export class SampleRun {
  #buf: Float32Array;
  #len = 0;

  constructor(capacity: number) {
    this.#buf = new Float32Array(capacity);
  }

  get length(): number {
    return this.#len;
  }

  append(x: Float32Array): void {
    if (this.#len + x.length > this.#buf.length) {
      const grown = new Float32Array(Math.max(this.#len + x.length, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(x, this.#len);
    this.#len += x.length;
  }

  /** A copy of the first `n` samples, zero-padded to `minLength` (a short last piece still covers one frame). */
  head(n: number, minLength = 0): Float32Array {
    const out = new Float32Array(Math.max(n, minLength));
    out.set(this.#buf.subarray(0, n));
    return out;
  }

  /**
   * Every sample held, zero-padded to `minLength`, without a copy where it can: the last piece of a file (most files
   * are one piece) takes the run's own memory, which nothing writes again. A fresh array costs page faults on every
   * page (measured: the copies and the first pieces' buffers were most of the main thread's system time in
   * bench:batch). The run must not be used afterwards.
   */
  takeAll(minLength = 0): Float32Array {
    if (this.#len < minLength || this.#len === 0) return this.head(this.#len, minLength);
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = new Float32Array(0);
    this.#len = 0;
    return out;
  }

  /** Forgets the first `n` samples. */
  drop(n: number): void {
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
  }
}

/**
 * Reads `file` as a stream of samples at `sampleRate` and yields its pieces: the whole file when it is no longer
 * than one window (padded to the receptive field if shorter), else its windows. `source` is filled in as it goes.
 */
export async function* readPieces(file: string, sampleRate: number, plan: WindowPlan, source: PieceSource, audio: PieceAudio = {}): AsyncGenerator<Piece> {
  const { window, stride, step, frameStride } = plan;
  const strideFrames = stride / frameStride;
  // The samples from the start of the next window on (absolute index `start`).
  // Grown as samples come: a window's worth up front would be faulted in for every short file.
  const run = new SampleRun(1 << 16);
  let start = 0;
  let index = 0;
  const windows = function* (): Generator<Piece> {
    // Window `index` is not the last while more samples than it covers have arrived.
    while (run.length > window) {
      yield { index, samples: run.head(window), offset: start, keep: { from: index === 0 ? 0 : strideFrames, to: (window - stride) / frameStride }, last: false };
      index++;
      run.drop(step);
      start += step;
    }
  };
  for await (const chunk of stageChunks(file, sampleRate, audio)) {
    source.sourceRate = chunk.sourceRate;
    source.samples += chunk.samples.length;
    run.append(chunk.samples);
    yield* windows();
  }
  if (index === 0) {
    // A short word still gets a frame (as padToReceptiveField does for single clips).
    yield { index, samples: run.takeAll(plan.receptiveField), offset: 0, keep: { from: 0, to: null }, last: true };
  } else {
    yield { index, samples: run.takeAll(), offset: start, keep: { from: strideFrames, to: null }, last: true };
  }
}
