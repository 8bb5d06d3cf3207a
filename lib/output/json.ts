import type { Word } from '../decode';

/** Rounds for writing: JSON keeps every float64 digit otherwise (0.06 is 0.06000000000000001 after arithmetic). */
const round = (x: number, digits: number) => +x.toFixed(digits);

/** Seconds as every front end writes them: to the millisecond (a frame is 20 ms at 320 samples and 16 kHz). */
export function seconds(x: number): number {
  return round(x, 3);
}

/** A confidence or probability as written: 4 decimals. */
export function probability(x: number): number {
  return round(x, 4);
}

/**
 * A word as written: `{ word, start, end, confidence }` in seconds (`start`/`end` moved by `offset` seconds, for a
 * piece of a longer file or stream), plus `startFrame`/`endFrame` when the decoder was asked for them.
 */
export function wordJson(w: Word, offset = 0): Word {
  return {
    word: w.word, start: seconds(w.start + offset), end: seconds(w.end + offset), confidence: probability(w.confidence),
    ...(w.startFrame !== undefined ? { startFrame: w.startFrame } : {}),
    ...(w.endFrame !== undefined ? { endFrame: w.endFrame } : {}),
  };
}

export function wordsJson(words: readonly Word[], offset = 0): Word[] {
  return words.map((w) => wordJson(w, offset));
}

/** What every front end writes for a transcribed clip: its text, its duration in seconds, and its words when asked. */
export interface TranscriptJson {
  text: string;
  duration: number;
  words?: Word[];
}

/** The transcript record of the CLI's --json lines, the batch job's transcripts.jsonl and POST /v1/transcribe. */
export function transcriptJson(t: { text: string; duration: number; words?: readonly Word[] | undefined }): TranscriptJson {
  return { text: t.text, duration: seconds(t.duration), ...(t.words ? { words: wordsJson(t.words) } : {}) };
}
