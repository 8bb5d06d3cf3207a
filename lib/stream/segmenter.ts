/**
 * Voice-activity segmentation by energy, on the model's frame grid: energy frame k is samples [k·S, (k+1)·S) with S
 * the model's frame stride (20 ms at 16 kHz), so "frame k is silent" and "emission frame k" speak of the same time.
 *
 * A frame is speech when its RMS level (dBFS) is above both an absolute floor and `marginDb` above a noise floor
 * tracked from the audio itself: the quietest frame of the last 3 s (speech has pauses between syllables far more often
 * than that, so the floor follows the room, not the voice). Until 3 s have been seen, the floor starts at
 * minLevelDb − marginDb (a quiet room): speech at the very start of a stream is then not missed, and steady noise
 * louder than that stops counting as speech after 3 s. A segment ends after `minSilenceMs` without a speech frame: long enough to bridge the pauses between
 * words (espeak-ng's are under 0.3 s, conversational speech's mostly under 0.4 s), short enough that a final comes
 * soon after the speaker stops. Defaults tuned on the default model's held-out set (bench/stream.ts reports the WER).
 *
 * The same rules cut long files for batch jobs (SpeechCutter, speechCuts): a cut is placed in the middle of a silence,
 * never in speech unless a segment reaches `maxSegmentMs`.
 */
import { checkOptionKeys, invalid, optionKeys } from '../errors';
import { isFiniteNumber, isObject } from '../is';

export interface SegmenterOptions {
  /** Silence that ends a segment, ms (default 500). */
  minSilenceMs?: number;
  /** Frames quieter than this are never speech, dBFS (default -50). */
  minLevelDb?: number;
  /** How far above the tracked noise floor a frame must be to count as speech, dB (default 12). */
  marginDb?: number;
  /** Longest segment, ms: cut there even without silence, so memory and compute stay bounded (default 30000). */
  maxSegmentMs?: number;
}

export interface SegmenterConfig {
  minSilenceMs: number;
  minLevelDb: number;
  marginDb: number;
  maxSegmentMs: number;
}

export const SEGMENTER_DEFAULTS: SegmenterConfig = { minSilenceMs: 500, minLevelDb: -50, marginDb: 12, maxSegmentMs: 30000 };

/** The noise floor is the quietest frame of this much audio, seconds. */
const FLOOR_WINDOW_S = 3;
const SILENT_DB = -100;

const SEGMENTER_OPTION_KEYS = optionKeys<SegmenterOptions>({ minSilenceMs: true, minLevelDb: true, marginDb: true, maxSegmentMs: true });

export function checkSegmenterOptions(o: SegmenterOptions | undefined, what = 'segmenter'): SegmenterConfig {
  const out = { ...SEGMENTER_DEFAULTS };
  if (o === undefined) return out;
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', what, 'an object of segmenter settings', o);
  checkOptionKeys(`${what} options`, o, SEGMENTER_OPTION_KEYS);
  const range = { minSilenceMs: [100, 10000], minLevelDb: [-100, 0], marginDb: [0, 60], maxSegmentMs: [1000, 120000] } as const;
  for (const k of Object.keys(range) as (keyof SegmenterConfig)[]) {
    const v = o[k];
    if (v === undefined) continue;
    const [lo, hi] = range[k];
    if (!(isFiniteNumber(v) && v >= lo && v <= hi)) throw invalid('INVALID_INPUT', `${what}.${k}`, `a number within [${lo}, ${hi}]`, v);
    out[k] = v;
  }
  if (out.maxSegmentMs <= out.minSilenceMs) throw invalid('INVALID_INPUT', `${what}.maxSegmentMs`, `more than minSilenceMs (${out.minSilenceMs})`, out.maxSegmentMs);
  return out;
}

/**
 * Frame-by-frame speech flags for a signal that arrives in pieces. Holds the flags of the frames not yet dropped
 * (`forget`) and a partial frame: memory bounded by what the caller keeps.
 */
export class EnergySegmenter {
  readonly config: SegmenterConfig;
  readonly frameStride: number;
  readonly #framesPerSecond: number;
  #partial: Float32Array;
  #partialLen = 0;
  /** Speech flag and energy (sum of squares) of frames [#first, #first + #flags.length). */
  #flags: number[] = [];
  #energy: number[] = [];
  #first = 0;
  /** Levels of the last FLOOR_WINDOW_S of frames (a ring), for the noise floor. */
  readonly #levels: Float64Array;
  /** Last frame judged speech, -1 before any. */
  #lastSpeech = -1;

  constructor(frameStride: number, sampleRate: number, options?: SegmenterOptions) {
    this.config = checkSegmenterOptions(options);
    this.frameStride = frameStride;
    this.#framesPerSecond = sampleRate / frameStride;
    this.#partial = new Float32Array(frameStride);
    this.#levels = new Float64Array(Math.ceil(FLOOR_WINDOW_S * this.#framesPerSecond)).fill(this.config.minLevelDb - this.config.marginDb);
  }

  /** Whole frames seen so far. */
  get frames(): number {
    return this.#first + this.#flags.length;
  }

  get lastSpeech(): number {
    return this.#lastSpeech;
  }

  /** Frames of `ms` milliseconds (rounded up). */
  framesOf(ms: number): number {
    return Math.ceil((ms / 1000) * this.#framesPerSecond);
  }

  push(x: Float32Array): void {
    let i = 0;
    while (i < x.length) {
      const n = Math.min(this.frameStride - this.#partialLen, x.length - i);
      this.#partial.set(x.subarray(i, i + n), this.#partialLen);
      this.#partialLen += n;
      i += n;
      if (this.#partialLen === this.frameStride) {
        this.#frame(this.#partial);
        this.#partialLen = 0;
      }
    }
  }

  #frame(x: Float32Array): void {
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
    const rms = Math.sqrt(sum / x.length);
    const db = rms > 0 ? Math.max(SILENT_DB, 20 * Math.log10(rms)) : SILENT_DB;
    this.#levels[this.frames % this.#levels.length] = db;
    let floor = Infinity;
    for (let i = 0; i < this.#levels.length; i++) if (this.#levels[i]! < floor) floor = this.#levels[i]!;
    const speech = db > this.config.minLevelDb && db > floor + this.config.marginDb;
    if (speech) this.#lastSpeech = this.frames;
    this.#flags.push(speech ? 1 : 0);
    this.#energy.push(sum);
  }

  /** Sum of squares of frame k's samples (a frame not held counts as loudest, so it is never chosen as quietest). */
  energy(k: number): number {
    return k >= this.#first && k < this.frames ? this.#energy[k - this.#first]! : Infinity;
  }

  /** Whether any frame of [from, to) is speech (frames already forgotten, or not yet seen, count as silent). */
  speechIn(from: number, to: number): boolean {
    const a = Math.max(from, this.#first);
    const b = Math.min(to, this.frames);
    for (let k = a; k < b; k++) if (this.#flags[k - this.#first]) return true;
    return false;
  }

  /** Silent frames at the end of what was seen (all of them when no speech yet). */
  trailingSilence(): number {
    return this.frames - 1 - this.#lastSpeech;
  }

  /** Drops the flags of frames before `frame`. */
  forget(frame: number): void {
    const n = Math.min(frame - this.#first, this.#flags.length);
    if (n <= 0) return;
    this.#flags.splice(0, n);
    this.#energy.splice(0, n);
    this.#first += n;
  }
}

/**
 * Where to cut a signal that arrives in pieces (a long file read as a stream): cut points (frame indices) in the middle
 * of every silence of at least `minSilenceMs` between speech, and, inside a segment longer than `maxSegmentMs`, at the
 * quietest frame of its second half (a forced cut). A cut is known once the speech after the silence begins (its
 * middle depends on the silence's length), or when the segment reaches its longest: the caller holds at most
 * `maxSegmentMs` of audio after the last cut, plus what it pushed at once. The flags of frames before the last cut
 * are dropped as it goes.
 */
export class SpeechCutter {
  readonly #seg: EnergySegmenter;
  readonly #minSilence: number;
  readonly #maxSegment: number;
  /** Next frame to judge; first frame of the current piece; silent frames in a row before #k. */
  #k = 0;
  #pieceStart = 0;
  #run = 0;
  #seenSpeech = false;

  constructor(frameStride: number, sampleRate: number, options?: SegmenterOptions) {
    this.#seg = new EnergySegmenter(frameStride, sampleRate, options);
    this.#minSilence = this.#seg.framesOf(this.#seg.config.minSilenceMs);
    this.#maxSegment = this.#seg.framesOf(this.#seg.config.maxSegmentMs);
  }

  get config(): SegmenterConfig {
    return this.#seg.config;
  }

  /** Longest piece between two cuts, frames. */
  get maxSegmentFrames(): number {
    return this.#maxSegment;
  }

  /** Takes the next samples; returns the cuts they decide (frame indices, increasing). */
  push(x: Float32Array): number[] {
    this.#seg.push(x);
    const cuts: number[] = [];
    for (; this.#k < this.#seg.frames; this.#k++) {
      const cut = this.#judge(this.#k);
      if (cut !== null) {
        cuts.push(cut);
        this.#pieceStart = cut;
      }
    }
    this.#seg.forget(this.#pieceStart);
    return cuts;
  }

  #judge(k: number): number | null {
    let cut: number | null = null;
    if (this.#seg.speechIn(k, k + 1)) {
      // A silence longer than the longest segment was already cut (forced) after its middle: no second cut in it.
      const middle = k - Math.floor(this.#run / 2);
      if (this.#seenSpeech && this.#run >= this.#minSilence && middle > this.#pieceStart) cut = middle;
      this.#seenSpeech = true;
      this.#run = 0;
    } else this.#run++;
    // After a cut at the middle of a silence, k − cut is under maxSegment: at most one cut per frame.
    if (cut === null && k - this.#pieceStart >= this.#maxSegment) cut = this.#quietest(this.#pieceStart + Math.floor(this.#maxSegment / 2), k);
    return cut;
  }

  /** The frame of [from, to) with the least energy. */
  #quietest(from: number, to: number): number {
    let best = from;
    let min = Infinity;
    for (let k = from; k < to; k++) {
      const e = this.#seg.energy(k);
      if (e < min) { min = e; best = k; }
    }
    return best;
  }
}

/**
 * Where to cut a whole signal for batch jobs: SpeechCutter's cuts as sample indices (on the frame grid). Pieces are
 * [0, c0), [c0, c1), ..., [cn, end).
 */
export function speechCuts(samples: Float32Array, frameStride: number, sampleRate: number, options?: SegmenterOptions): number[] {
  return new SpeechCutter(frameStride, sampleRate, options).push(samples).map((c) => c * frameStride);
}
