import { invalid } from '../errors';
import { isPositiveInteger } from '../is';

/**
 * Frames to seconds, token spans and word spans: the one place every decoder turns frame indices into the
 * times and confidences it reports, so greedy, beam search and forced alignment agree on what they mean.
 */

/** Samples per output frame and sample rate: a frame covers `frameStride / sampleRate` seconds. */
export interface TimeBase {
  /** Samples between two output frames (320 for the wav2vec2 conv feature extractor). */
  frameStride: number;
  /** The model's sample rate (16000 for the torchaudio bundles). */
  sampleRate: number;
}

export const DEFAULT_TIME_BASE: TimeBase = { frameStride: 320, sampleRate: 16000 };

export function checkTimeBase(options: { frameStride?: unknown; sampleRate?: unknown } | undefined, what: string): TimeBase {
  const frameStride = options?.frameStride ?? DEFAULT_TIME_BASE.frameStride;
  const sampleRate = options?.sampleRate ?? DEFAULT_TIME_BASE.sampleRate;
  if (!isPositiveInteger(frameStride)) throw invalid('DECODE_INVALID_INPUT', `${what}.frameStride`, 'a positive integer (samples per frame)', frameStride);
  if (!isPositiveInteger(sampleRate)) throw invalid('DECODE_INVALID_INPUT', `${what}.sampleRate`, 'a positive integer (Hz)', sampleRate);
  return { frameStride, sampleRate };
}

/** Start of frame `frame` in seconds. */
export function frameToSeconds(frame: number, base: TimeBase = DEFAULT_TIME_BASE): number {
  return (frame * base.frameStride) / base.sampleRate;
}

/** One emitted token: frames `[start, end)` of its run on the path the decoder chose. */
export interface TokenSpan {
  /** Label index. */
  token: number;
  label: string;
  /** First frame (inclusive); the frame torchaudio reports as the token's timestep. */
  start: number;
  /** Last frame + 1 (exclusive). */
  end: number;
  startTime: number;
  endTime: number;
  /** Mean posterior probability of this label over its frames (softmax of the emission). */
  confidence: number;
}

/** One word: from the first frame of its first token to the end of its last token. */
export interface WordSpan {
  word: string;
  start: number;
  end: number;
  startTime: number;
  endTime: number;
  /** Frame-weighted mean of its tokens' confidences (the torchaudio alignment tutorial's word score). */
  confidence: number;
  /** Its tokens are `tokens.slice(firstToken, lastToken + 1)` of the result it belongs to. */
  firstToken: number;
  lastToken: number;
}

/** Which tokens make a word and how it is written. */
export interface WordGroup {
  word: string;
  firstToken: number;
  lastToken: number;
}

/** Token spans with times and confidences; `lse` from `rowLogSumExp` (emission.ts) of the same `data`. */
export function tokenSpans(
  tokens: ArrayLike<number>, starts: ArrayLike<number>, ends: ArrayLike<number>,
  data: Float32Array, classes: number, lse: Float64Array, labels: readonly string[], base: TimeBase,
): TokenSpan[] {
  const out: TokenSpan[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const start = starts[i]!;
    const end = ends[i]!;
    let sum = 0;
    for (let t = start; t < end; t++) sum += Math.exp(data[t * classes + token]! - lse[t]!);
    out.push({
      token, label: labels[token] ?? '', start, end,
      startTime: frameToSeconds(start, base), endTime: frameToSeconds(end, base),
      confidence: end > start ? sum / (end - start) : 0,
    });
  }
  return out;
}

/** Words are the runs of tokens between word delimiters (`delimiter` < 0: the whole sequence is one word). */
export function groupByDelimiter(tokens: ArrayLike<number>, labels: readonly string[], delimiter: number): WordGroup[] {
  const groups: WordGroup[] = [];
  let first = -1;
  let word = '';
  for (let i = 0; i <= tokens.length; i++) {
    const tok = i < tokens.length ? tokens[i]! : delimiter;
    if (i === tokens.length || tok === delimiter) {
      if (first >= 0) groups.push({ word, firstToken: first, lastToken: i - 1 });
      first = -1;
      word = '';
    } else {
      if (first < 0) first = i;
      word += labels[tok] ?? '';
    }
  }
  return groups;
}

export function wordSpans(groups: readonly WordGroup[], spans: readonly TokenSpan[], base: TimeBase): WordSpan[] {
  return groups.map((g) => {
    let frames = 0;
    let weighted = 0;
    for (let i = g.firstToken; i <= g.lastToken; i++) {
      const s = spans[i]!;
      frames += s.end - s.start;
      weighted += s.confidence * (s.end - s.start);
    }
    const start = spans[g.firstToken]!.start;
    const end = spans[g.lastToken]!.end;
    return {
      word: g.word, start, end,
      startTime: frameToSeconds(start, base), endTime: frameToSeconds(end, base),
      confidence: frames > 0 ? weighted / frames : 0,
      firstToken: g.firstToken, lastToken: g.lastToken,
    };
  });
}
