/**
 * The fields of an OpenAI transcription request (multipart/form-data), checked. Fields that do not apply to a CTC
 * model are accepted and ignored, so that clients sending them work unchanged: `prompt` (no decoder context to prime),
 * `temperature` (decoding is deterministic: greedy or beam search), `language` (the model's own; only echoed in
 * verbose_json), and fields of newer OpenAI models (`include[]`, `chunking_strategy`, ...).
 */
import type { FormFields } from '../request';
import { fieldError } from './errors';

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

export interface TranscriptionRequest {
  format: ResponseFormat;
  /** verbose_json only: segments (the default) and/or words. */
  segments: boolean;
  words: boolean;
  /** As the client sent it, or null. */
  language: string | null;
}

/** One value of a field that is not repeated (the last one wins, as in most form parsers). */
function one(fields: FormFields, name: string): string | undefined {
  const v = fields[name];
  return v === undefined ? undefined : v[v.length - 1];
}

function responseFormat(fields: FormFields): ResponseFormat {
  const f = one(fields, 'response_format') ?? 'json';
  if (!(RESPONSE_FORMATS as readonly string[]).includes(f)) {
    throw fieldError('response_format', `expected one of ${RESPONSE_FORMATS.join(', ')}, got ${JSON.stringify(f)}.`);
  }
  return f as ResponseFormat;
}

/** `timestamp_granularities[]` (how the SDKs send an array) or `timestamp_granularities`, each `word` or `segment`. */
function granularities(fields: FormFields, format: ResponseFormat): { segments: boolean; words: boolean } {
  const given = [...(fields['timestamp_granularities[]'] ?? []), ...(fields.timestamp_granularities ?? [])];
  for (const g of given) {
    if (g !== 'word' && g !== 'segment') throw fieldError('timestamp_granularities', `expected "word" or "segment", got ${JSON.stringify(g)}.`);
  }
  if (given.length > 0 && format !== 'verbose_json') {
    throw fieldError('timestamp_granularities', `only with response_format "verbose_json" (got "${format}"), as in OpenAI's API.`);
  }
  return { segments: given.length === 0 || given.includes('segment'), words: given.includes('word') };
}

export function transcriptionRequest(fields: FormFields): TranscriptionRequest {
  const stream = one(fields, 'stream');
  if (stream !== undefined && stream !== 'false') {
    throw fieldError('stream', 'streamed transcriptions are not supported by this server: leave stream unset (or false).');
  }
  const format = responseFormat(fields);
  return { format, ...granularities(fields, format), language: one(fields, 'language') ?? null };
}
