import { invalid } from '../errors';
import { isObject } from '../is';
import { checkBatch, checkEmission, checkIndex, checkLabels, logSumExp, type Frames } from './emission';
import type { CTCResult } from './result';
import { checkFramesOption, checkTimeBase, groupByDelimiter, tokenSpans, withoutFrames, wordSpans, type TimeBase } from './timestamps';

export interface GreedyCTCDecoderOptions {
  /** Index of the CTC blank (default 0). */
  blank?: number;
  /** Label that separates words (default '|' when the labels have it); null: no word splitting. */
  wordDelimiter?: string | null;
  /** Samples per frame (default 320). */
  frameStride?: number;
  /** Sample rate of the model (default 16000). */
  sampleRate?: number;
  /** Give words and tokens their frame indices, `startFrame` and `endFrame` (default false: seconds only). */
  frames?: boolean;
}

/** The shared result (result.ts) with the greedy path: words and tokens of the argmax path. */
export interface GreedyCTCResult extends CTCResult {
  /** Argmax label per frame (the path before collapsing). */
  path: Int32Array;
  /** Log-probability of the argmax path: sum over frames of log softmax(max). */
  logProb: number;
  /** exp(logProb / frames): the geometric mean of the per-frame best probabilities, in (0, 1]. */
  confidence: number;
}

/** Delimiter index from the option: default '|' if present, an explicit label must exist, null means none. */
export function resolveDelimiter(labels: readonly string[], value: unknown, what: string): number {
  if (value === null) return -1;
  if (value === undefined) return labels.indexOf('|');
  if (typeof value !== 'string' || !labels.includes(value)) {
    throw invalid('DECODE_INVALID_INPUT', what, `one of the labels or null`, value);
  }
  return labels.indexOf(value);
}

/**
 * The decoder of torchaudio's speech recognition tutorial: argmax per frame, collapse repeats, drop blanks.
 * It adds what the tutorial leaves to the reader: words, per-token frames and times, and confidences.
 */
export class GreedyCTCDecoder {
  readonly labels: readonly string[];
  readonly blank: number;
  /** Index of the word delimiter, -1 when there is none. */
  readonly wordDelimiter: number;
  readonly timeBase: TimeBase;
  /** Whether results carry frame indices (the `frames` option). */
  readonly frames: boolean;

  constructor(labels: readonly string[], options: GreedyCTCDecoderOptions = {}) {
    this.labels = checkLabels(labels).slice();
    if (!isObject(options)) throw invalid('DECODE_INVALID_INPUT', 'GreedyCTCDecoder options', 'an object', options);
    this.blank = checkIndex(options.blank ?? 0, this.labels.length, 'GreedyCTCDecoder options.blank');
    this.wordDelimiter = resolveDelimiter(this.labels, options.wordDelimiter, 'GreedyCTCDecoder options.wordDelimiter');
    this.timeBase = checkTimeBase(options, 'GreedyCTCDecoder options');
    this.frames = checkFramesOption(options.frames, 'GreedyCTCDecoder options.frames');
  }

  /** One utterance: `[frames, labels]` (or `[1, frames, labels]`). */
  decode(emission: { data: Float32Array; shape: number[] }): GreedyCTCResult {
    return this.run(checkEmission(emission, this.labels.length));
  }

  /** A batch `[B, frames, labels]`; frames at or after `lengths[b]` are padding and ignored. */
  decodeBatch(emissions: { data: Float32Array; shape: number[] }, lengths?: ArrayLike<number | bigint>): GreedyCTCResult[] {
    return checkBatch(emissions, this.labels.length, lengths).map((f) => this.run(f));
  }

  private run(f: Frames): GreedyCTCResult {
    const { data, frames, classes } = f;
    const path = new Int32Array(frames);
    const lse = new Float64Array(frames);
    let logProb = 0;
    for (let t = 0; t < frames; t++) {
      const row = t * classes;
      // First maximum wins, like torch.argmax.
      let best = 0;
      let max = data[row]!;
      for (let c = 1; c < classes; c++) {
        const x = data[row + c]!;
        if (x > max) { max = x; best = c; }
      }
      const l = logSumExp(data, row, classes, max);
      lse[t] = l;
      logProb += max - l;
      path[t] = best;
    }
    const indices: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (let t = 0; t < frames; t++) {
      const k = path[t]!;
      if (t > 0 && k === path[t - 1]) {
        if (k !== this.blank) ends[ends.length - 1] = t + 1;
        continue;
      }
      if (k === this.blank) continue;
      indices.push(k);
      starts.push(t);
      ends.push(t + 1);
    }
    const tokens = tokenSpans(indices, starts, ends, data, classes, lse, this.labels, this.timeBase);
    const words = wordSpans(groupByDelimiter(indices, this.labels, this.wordDelimiter), tokens, this.timeBase);
    return {
      text: words.map((w) => w.word).join(' '),
      transcript: indices.map((i) => this.labels[i]).join(''),
      words: withoutFrames(words, this.frames),
      indices,
      tokens: withoutFrames(tokens, this.frames),
      path, logProb,
      confidence: Math.exp(logProb / frames),
    };
  }
}
