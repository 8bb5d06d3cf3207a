import { invalid, Wav2Vec2Error } from '../errors';
import { isObject } from '../is';
import { checkBatch, checkEmission, checkIndex, checkLabels, logSoftmax, rowLogSumExp, type Frames } from './emission';
import { resolveDelimiter } from './greedy';
import { spellWord } from './lexicon';
import type { CTCResult } from './result';
import { checkFramesOption, checkTimeBase, groupByDelimiter, tokenSpans, withoutFrames, wordSpans } from './timestamps';

/**
 * CTC forced alignment: the best (Viterbi) path through the emissions that spells a known token sequence,
 * as `torchaudio.functional.forced_align` computes it, then its token and word spans (`merge_tokens` and
 * the alignment tutorial's word grouping).
 */

export interface ForcedAlignOptions {
  /** Index of the CTC blank (default 0). */
  blank?: number;
  /** Labels: give them to get label strings and word spans. */
  labels?: readonly string[];
  /** Label that separates words in `tokens` (default '|' when the labels have it; null: one word). */
  wordDelimiter?: string | null;
  /**
   * Log-softmax each frame first (default true). torchaudio's forced_align takes log-probabilities as
   * given; on log-probabilities a log-softmax changes nothing, so the default is safe for both.
   */
  logSoftmax?: boolean;
  frameStride?: number;
  sampleRate?: number;
  /** Give words and tokens their frame indices, `startFrame` and `endFrame` (default false: seconds only). */
  frames?: boolean;
}

/**
 * The shared result (result.ts) of the target tokens on the best path: `tokens` are torchaudio's merge_tokens
 * spans, `words` the runs between word delimiters (empty without labels, as are `text` and `transcript`).
 */
export interface ForcedAlignment extends CTCResult {
  /** Label per frame, blanks included (torchaudio's `alignments[0]`). */
  alignment: Int32Array;
  /** Log-probability of that label per frame (torchaudio's `scores[0]`). */
  scores: Float32Array;
  /** Log-probability of the whole path (sum of `scores`). */
  score: number;
}

/** Aligns one utterance `[frames, labels]` (or `[1, frames, labels]`) to `tokens` (label indices, no blank). */
export function forcedAlign(emission: { data: Float32Array; shape: number[] }, tokens: ArrayLike<number>, options: ForcedAlignOptions = {}): ForcedAlignment {
  const classes = classesOf(emission, options);
  const aligner = new Aligner(classes, options);
  return aligner.align(checkEmission(emission, classes), tokens, 'tokens');
}

/** Aligns each item of a batch `[B, frames, labels]` to its own tokens; `lengths` gives valid frames. */
export function forcedAlignBatch(
  emissions: { data: Float32Array; shape: number[] }, tokens: ReadonlyArray<ArrayLike<number>>,
  options: ForcedAlignOptions & { lengths?: ArrayLike<number | bigint> } = {},
): ForcedAlignment[] {
  const shape = isObject(emissions) && Array.isArray(emissions.shape) ? emissions.shape : [];
  const classes = classesOf({ shape: shape.slice(1) }, options);
  const aligner = new Aligner(classes, options);
  const items = checkBatch(emissions, classes, options.lengths);
  if (!Array.isArray(tokens) || tokens.length !== items.length) {
    throw invalid('DECODE_INVALID_INPUT', 'tokens', `one token sequence per batch item (${items.length})`, tokens);
  }
  return items.map((f, b) => aligner.align(f, tokens[b]!, `tokens[${b}]`));
}

/**
 * Label indices for a transcript: words separated by spaces or by the delimiter ("i had that" or
 * "I|HAD|THAT"), spelled with the labels (case-insensitively when needed), joined by the delimiter.
 */
export function tokenize(transcript: string, labels: readonly string[], options: { blank?: number; wordDelimiter?: string | null } = {}): number[] {
  checkLabels(labels);
  if (typeof transcript !== 'string') throw invalid('DECODE_INVALID_INPUT', 'transcript', 'a string', transcript);
  const blank = options.blank ?? 0;
  const delim = resolveDelimiter(labels, options.wordDelimiter, 'tokenize options.wordDelimiter');
  const words = transcript.split(delim >= 0 ? new RegExp(`[\\s${escapeRegExp(labels[delim]!)}]+`) : /\s+/).filter((w) => w.length > 0);
  const out: number[] = [];
  for (const w of words) {
    const ids = spellWord(w, labels, blank);
    if (!ids) throw invalid('DECODE_INVALID_INPUT', 'transcript word', 'a word spelled with the labels', w);
    if (out.length > 0 && delim >= 0) out.push(delim);
    out.push(...ids);
  }
  if (out.length === 0) throw invalid('DECODE_INVALID_INPUT', 'transcript', 'at least one word', transcript);
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

function classesOf(emission: unknown, options: ForcedAlignOptions): number {
  if (!isObject(options)) throw invalid('DECODE_INVALID_INPUT', 'forcedAlign options', 'an object', options);
  const shape = isObject(emission) && Array.isArray(emission.shape) ? emission.shape as number[] : [];
  if (options.labels !== undefined) return checkLabels(options.labels, 'forcedAlign options.labels').length;
  // Without labels the emission says how many classes there are; checkEmission validates the rest.
  return Number.isInteger(shape[shape.length - 1]) ? shape[shape.length - 1]! : 0;
}

class Aligner {
  private readonly blank: number;
  private readonly labels: readonly string[];
  private readonly delimiter: number;
  private readonly logSoftmax: boolean;
  private readonly base;
  private readonly frames: boolean;

  constructor(classes: number, options: ForcedAlignOptions) {
    if (classes <= 0) throw invalid('DECODE_INVALID_INPUT', 'emission', 'a tensor { data: Float32Array, shape: [frames, labels] }', classes);
    this.blank = checkIndex(options.blank ?? 0, classes, 'forcedAlign options.blank');
    this.labels = options.labels ?? [];
    this.delimiter = options.labels ? resolveDelimiter(options.labels, options.wordDelimiter, 'forcedAlign options.wordDelimiter') : -1;
    if (options.logSoftmax !== undefined && typeof options.logSoftmax !== 'boolean') throw invalid('DECODE_INVALID_INPUT', 'forcedAlign options.logSoftmax', 'true or false', options.logSoftmax);
    this.logSoftmax = options.logSoftmax ?? true;
    this.base = checkTimeBase(options, 'forcedAlign options');
    this.frames = checkFramesOption(options.frames, 'forcedAlign options.frames');
  }

  align(f: Frames, tokens: ArrayLike<number>, what: string): ForcedAlignment {
    const { frames: T, classes: C } = f;
    if (!(Array.isArray(tokens) || ArrayBuffer.isView(tokens)) || tokens.length === 0) {
      throw invalid('DECODE_INVALID_INPUT', what, 'a non-empty array of label indices', tokens);
    }
    const L = tokens.length;
    const tok = new Int32Array(L);
    for (let i = 0; i < L; i++) {
      const k = Number(tokens[i]);
      if (!Number.isInteger(k) || k < 0 || k >= C) throw invalid('DECODE_INVALID_INPUT', `${what}[${i}]`, `a label index in [0, ${C - 1}]`, tokens[i]);
      if (k === this.blank) throw invalid('DECODE_INVALID_INPUT', `${what}[${i}]`, 'a label other than the blank', k, 'Targets must not contain the blank (torchaudio refuses them too).');
      tok[i] = k;
    }
    let R = 0;
    for (let i = 1; i < L; i++) if (tok[i] === tok[i - 1]) R++;
    if (T < L + R) {
      throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: ${L} tokens with ${R} repeats need at least ${L + R} frames, the emission has ${T}. The transcript is too long for this audio.`);
    }
    const lp = this.logSoftmax ? logSoftmax(f) : f.data;
    const best = viterbi(lp, T, C, tok, this.blank);
    if (!best) throw new Wav2Vec2Error('DECODE_INVALID_INPUT', `${what}: every alignment has probability zero (a needed label is -Infinity wherever it could go).`);
    const { alignment, scores, score } = best;

    const starts: number[] = [];
    const ends: number[] = [];
    for (let t = 0; t < T; t++) {
      const k = alignment[t]!;
      if (k === this.blank) continue;
      if (t > 0 && alignment[t - 1] === k) ends[ends.length - 1] = t + 1;
      else { starts.push(t); ends.push(t + 1); }
    }
    const lse = rowLogSumExp(f.data, T, C);
    const spans = tokenSpans(tok, starts, ends, f.data, C, lse, this.labels, this.base);
    const words = this.labels.length > 0 ? wordSpans(groupByDelimiter(tok, this.labels, this.delimiter), spans, this.base) : [];
    return {
      text: words.map((w) => w.word).join(' '),
      transcript: this.labels.length > 0 ? Array.from(tok, (k) => this.labels[k]).join('') : '',
      words: withoutFrames(words, this.frames),
      indices: Array.from(tok),
      tokens: withoutFrames(spans, this.frames),
      alignment, scores, score,
    };
  }
}

/**
 * The Viterbi recursion of torchaudio's CPU forced_align (libtorchaudio/forced_align/cpu/compute.cpp):
 * states 0..2L interleave blanks and tokens, alphas are kept in float32 like the float32 kernel, and ties
 * resolve as it resolves them: a skip (x2) or an advance (x1) is taken only when strictly better than both
 * other moves, otherwise the state stays (x0), even where x1 == x2 > x0. At the end the last token wins a
 * tie with the trailing blank. Keeping these rules gives the same path as torchaudio on the same input.
 */
function viterbi(lp: Float32Array, T: number, C: number, tok: Int32Array, blank: number): { alignment: Int32Array; scores: Float32Array; score: number } | null {
  const L = tok.length;
  const S = 2 * L + 1;
  let prev = new Float32Array(S).fill(-Infinity);
  let cur = new Float32Array(S);
  // Back-pointers: how many states back the best predecessor is (0, 1 or 2), one byte per (frame, state).
  const back = new Uint8Array(T * S);
  const label = new Int32Array(S);
  const skip = new Uint8Array(S);
  for (let i = 0; i < S; i++) {
    label[i] = i % 2 === 0 ? blank : tok[(i - 1) >> 1]!;
    skip[i] = i % 2 === 1 && i !== 1 && tok[(i - 1) >> 1] !== tok[((i - 1) >> 1) - 1] ? 1 : 0;
  }
  prev[0] = lp[blank]!;
  prev[1] = lp[label[1]!]!;
  for (let t = 1; t < T; t++) {
    const row = t * C;
    const bt = t * S;
    cur[0] = prev[0]! + lp[row + blank]!;
    for (let i = 1; i < S; i++) {
      const x0 = prev[i]!;
      const x1 = prev[i - 1]!;
      const x2 = skip[i] ? prev[i - 2]! : -Infinity;
      let r: number;
      if (x2 > x1 && x2 > x0) { r = x2; back[bt + i] = 2; }
      else if (x1 > x0 && x1 > x2) { r = x1; back[bt + i] = 1; }
      else { r = x0; }
      cur[i] = r + lp[row + label[i]!]!;
    }
    const tmp = prev; prev = cur; cur = tmp;
  }
  if (prev[S - 1] === -Infinity && prev[S - 2] === -Infinity) return null;
  let state = prev[S - 1]! > prev[S - 2]! ? S - 1 : S - 2;
  const alignment = new Int32Array(T);
  const scores = new Float32Array(T);
  let score = 0;
  for (let t = T - 1; t >= 0; t--) {
    const k = label[state]!;
    alignment[t] = k;
    scores[t] = lp[t * C + k]!;
    score += scores[t]!;
    if (t > 0) state -= back[t * S + state]!;
  }
  return { alignment, scores, score };
}
