/**
 * verbose_json's segments, cut where the speaker pauses: a gap between two words' timings (a run of blank and
 * word-delimiter frames in the CTC output) of PAUSE_SECONDS or more starts a new segment, not a fixed window as
 * Whisper's 30 s windows. Within-sentence gaps of the default model's sample speech are at most 0.12 s.
 */
import { deflateSync } from 'node:zlib';
import type { Word } from '../../decode';
import { cues, seconds } from '../../output';

const PAUSE_SECONDS = 0.5;
/** Speech without such a pause for this long is cut anyway, at a word, so no segment runs on without end. */
const MAX_SEGMENT_SECONDS = 30;

export interface Segment {
  id: number;
  /** Whisper's window offset; the whole file is one pass here. */
  seek: 0;
  start: number;
  end: number;
  /** With a leading space, as Whisper's: the segments' texts joined are the transcript (after a trim). */
  text: string;
  /** Whisper's token ids: a CTC model has none. */
  tokens: number[];
  /** Decoding is deterministic (greedy or beam search). */
  temperature: 0;
  /** Mean natural log of the segment's words' confidences (each a mean label probability: lib/decode/result.ts). */
  avg_logprob: number;
  /** Text bytes over their zlib-compressed bytes, as Whisper computes it (high values: repetitive text). */
  compression_ratio: number;
}

const round = (x: number, digits: number) => +x.toFixed(digits);

function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length === 0 ? 0 : round(bytes.length / deflateSync(bytes).length, 4);
}

export function segmentsOf(words: readonly Word[]): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  for (const cue of cues(words, { maxChars: Infinity, maxSeconds: MAX_SEGMENT_SECONDS, pauseSeconds: PAUSE_SECONDS })) {
    // cues() keeps the words in order: the cue's words are the next ones, as many as it holds.
    const n = cue.text.split(' ').length;
    const own = words.slice(i, i + n);
    i += n;
    const logp = own.reduce((s, w) => s + Math.log(Math.max(w.confidence, 1e-10)), 0) / own.length;
    out.push({
      id: out.length, seek: 0, start: seconds(cue.start), end: seconds(cue.end), text: ' ' + cue.text, tokens: [], temperature: 0,
      avg_logprob: round(logp, 4), compression_ratio: compressionRatio(cue.text),
    });
  }
  return out;
}
