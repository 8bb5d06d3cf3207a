import { invalid } from '../errors';
import { isPositiveInteger } from '../is';
import type { TokenSpan, Word } from './result';

/**
 * Frames to seconds, token spans and word spans: the one place every decoder turns frame indices into the
 * times and confidences it reports, so greedy, beam search and forced alignment agree on what they mean.
 * Spans are built with their frames (`startFrame`, `endFrame`: words are grouped from their tokens' frames), and
 * `withoutFrames` drops them for callers that did not ask for them (see result.ts).
 */

/** Samples per output frame and sample rate: a frame covers `frameStride / sampleRate` seconds. */
export interface TimeBase {
  /** Samples between two output frames (320 for the wav2vec2 conv feature extractor). */
  frameStride: number;
  /** The model's sample rate (16000 for the torchaudio bundles). */
  sampleRate: number;
}

export const DEFAULT_TIME_BASE: TimeBase = { frameStride: 320, sampleRate: 16000 };

/** The decoders' `frames` option: whether words and tokens keep their frame indices (default false). */
export function checkFramesOption(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid('DECODE_INVALID_INPUT', what, 'true or false', value);
  return value;
}

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

/** Which tokens make a word and how it is written. */
export interface WordGroup {
  word: string;
  firstToken: number;
  lastToken: number;
}

/** A token span with its frames, as the decoders build it before `withoutFrames`. */
export type FramedToken = TokenSpan & { startFrame: number; endFrame: number };
export type FramedWord = Word & { startFrame: number; endFrame: number };

/** The span of `token` over frames [startFrame, endFrame) whose mean label probability is `confidence`. */
export function tokenSpan(token: number, labels: readonly string[], startFrame: number, endFrame: number, confidence: number, base: TimeBase): FramedToken {
  return {
    token, label: labels[token] ?? '',
    start: frameToSeconds(startFrame, base), end: frameToSeconds(endFrame, base),
    confidence, startFrame, endFrame,
  };
}

/** Token spans with times and confidences; `lse` from `rowLogSumExp` (emission.ts) of the same `data`. */
export function tokenSpans(
  tokens: ArrayLike<number>, starts: ArrayLike<number>, ends: ArrayLike<number>,
  data: Float32Array, classes: number, lse: Float64Array, labels: readonly string[], base: TimeBase,
): FramedToken[] {
  const out: FramedToken[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const start = starts[i]!;
    const end = ends[i]!;
    let sum = 0;
    for (let t = start; t < end; t++) sum += Math.exp(data[t * classes + token]! - lse[t]!);
    out.push(tokenSpan(token, labels, start, end, end > start ? sum / (end - start) : 0, base));
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

/** Words from the first frame of their first token to the end of their last; confidence weighted by frames. */
export function wordSpans(groups: readonly WordGroup[], spans: readonly FramedToken[], base: TimeBase): FramedWord[] {
  return groups.map((g) => {
    let frames = 0;
    let weighted = 0;
    for (let i = g.firstToken; i <= g.lastToken; i++) {
      const s = spans[i]!;
      frames += s.endFrame - s.startFrame;
      weighted += s.confidence * (s.endFrame - s.startFrame);
    }
    const startFrame = spans[g.firstToken]!.startFrame;
    const endFrame = spans[g.lastToken]!.endFrame;
    return {
      word: g.word,
      start: frameToSeconds(startFrame, base), end: frameToSeconds(endFrame, base),
      confidence: frames > 0 ? weighted / frames : 0,
      startFrame, endFrame,
    };
  });
}

/** Spans as the caller asked for them: with their frames (`frames: true`), or without the two fields. */
export function withoutFrames<T extends { startFrame?: number; endFrame?: number }>(spans: T[], frames: boolean): T[] {
  if (frames) return spans;
  return spans.map((s) => {
    const { startFrame: _s, endFrame: _e, ...rest } = s;
    return rest as T;
  });
}
