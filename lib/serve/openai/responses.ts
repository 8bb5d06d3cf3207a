/**
 * A Recognition in each of OpenAI's response formats, written by the package's one writer per format (lib/output):
 * the same SRT, WebVTT and text as a batch job's files, the same rounding as our own routes.
 */
import { seconds, toSrt, toTxt, toVtt, wordsJson } from '../../output';
import type { Recognition } from '../../recognizer';
import type { ResponseFormat, TranscriptionRequest } from './form';
import { segmentsOf } from './segments';

/** Billing-style usage, as OpenAI's answers for audio carry it: seconds of audio, rounded up. */
const usage = (r: Recognition) => ({ type: 'duration' as const, seconds: Math.ceil(r.duration) });

const CONTENT_TYPES: Record<ResponseFormat, string> = {
  json: 'application/json; charset=utf-8',
  verbose_json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

/** Whether the answer needs the words' timings. */
export function needsTimestamps(format: ResponseFormat): boolean {
  return format === 'srt' || format === 'vtt' || format === 'verbose_json';
}

function verbose(r: Recognition, q: TranscriptionRequest) {
  const words = r.words ?? [];
  return {
    task: 'transcribe',
    // Not detected: the model's language is its own. The client's `language`, or "unknown".
    language: q.language ?? 'unknown',
    duration: seconds(r.duration),
    text: r.text,
    ...(q.segments ? { segments: segmentsOf(words) } : {}),
    // OpenAI's word: { word, start, end } in seconds, no confidence.
    ...(q.words ? { words: wordsJson(words).map(({ word, start, end }) => ({ word, start, end })) } : {}),
    usage: usage(r),
  };
}

/** The answer's content type and body. */
export function transcriptionAnswer(r: Recognition, q: TranscriptionRequest): { type: string; body: unknown } {
  const type = CONTENT_TYPES[q.format];
  switch (q.format) {
    case 'json': return { type, body: { text: r.text, usage: usage(r) } };
    case 'verbose_json': return { type, body: verbose(r, q) };
    case 'text': return { type, body: toTxt(r.text) };
    case 'srt': return { type, body: toSrt(r.words ?? []) };
    case 'vtt': return { type, body: toVtt(r.words ?? []) };
  }
}
