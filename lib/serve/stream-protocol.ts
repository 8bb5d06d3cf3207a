/**
 * The messages of GET /v1/stream, checked one by one: the client's start and stop (JSON text frames) and its audio
 * (binary frames of little-endian PCM16 or float32), and the close codes the server ends a stream with.
 */
import { endianness } from 'node:os';
import { Wav2Vec2Error, invalid, type ErrorCode } from '../errors';
import { isObject, isPositiveInteger } from '../is';

export type Encoding = 'pcm16' | 'f32';

export interface StartMessage {
  type: 'start';
  sampleRate: number;
  encoding: Encoding;
  /** A model's name (the server's default when absent, or unknown and the server is not strict). */
  model?: string;
  /** Send partial hypotheses (default true); finals are always sent. */
  partials: boolean;
}

export type ClientMessage = StartMessage | { type: 'stop' };

/** Longest text frame the server reads: a start message is under 200 bytes. */
export const MAX_TEXT_BYTES = 4096;

const START_KEYS = new Set(['type', 'sampleRate', 'encoding', 'model', 'partials']);

export function parseClientText(data: Buffer): ClientMessage {
  if (data.length > MAX_TEXT_BYTES) throw invalid('INVALID_INPUT', 'text message', `at most ${MAX_TEXT_BYTES} bytes of JSON`, `${data.length} bytes`);
  let m: unknown;
  try {
    m = JSON.parse(data.toString('utf8'));
  } catch {
    throw new Wav2Vec2Error('INVALID_INPUT', 'text message: expected JSON ({"type":"start",...} or {"type":"stop"}), got text that does not parse.');
  }
  if (!isObject(m)) throw invalid('INVALID_INPUT', 'text message', 'a JSON object', m);
  if (m.type === 'stop') return { type: 'stop' };
  if (m.type !== 'start') throw invalid('INVALID_INPUT', 'message type', '"start" or "stop"', m.type);
  for (const k of Object.keys(m)) if (!START_KEYS.has(k)) throw invalid('INVALID_INPUT', 'start message', `only the fields ${[...START_KEYS].join(', ')}`, k);
  if (!isPositiveInteger(m.sampleRate)) throw invalid('INVALID_INPUT', 'start.sampleRate', 'a positive integer (Hz)', m.sampleRate);
  if (m.encoding !== 'pcm16' && m.encoding !== 'f32') throw invalid('INVALID_INPUT', 'start.encoding', '"pcm16" (16-bit signed little-endian) or "f32" (float32 little-endian)', m.encoding);
  if (m.model !== undefined && !(typeof m.model === 'string' && m.model.length > 0 && m.model.length <= 128)) throw invalid('INVALID_INPUT', 'start.model', 'a model name (1 to 128 characters)', m.model);
  if (m.partials !== undefined && typeof m.partials !== 'boolean') throw invalid('INVALID_INPUT', 'start.partials', 'true or false', m.partials);
  return { type: 'start', sampleRate: m.sampleRate, encoding: m.encoding, ...(m.model !== undefined ? { model: m.model as string } : {}), partials: m.partials !== false };
}

const LE = endianness() === 'LE';

/** A binary frame as samples in [-1, 1) (pcm16) or as sent (f32, which must be finite). */
export function decodeAudio(data: Buffer, encoding: Encoding): Float32Array {
  const size = encoding === 'pcm16' ? 2 : 4;
  if (data.length % size !== 0) throw invalid('INVALID_INPUT', `audio message (${encoding})`, `a whole number of ${size}-byte samples`, `${data.length} bytes`);
  const n = data.length / size;
  const out = new Float32Array(n);
  if (encoding === 'pcm16') {
    for (let i = 0; i < n; i++) out[i] = data.readInt16LE(i * 2) / 32768;
    return out;
  }
  if (LE && data.byteOffset % 4 === 0) out.set(new Float32Array(data.buffer, data.byteOffset, n));
  else for (let i = 0; i < n; i++) out[i] = data.readFloatLE(i * 4);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) throw new Wav2Vec2Error('INVALID_INPUT', `audio message (f32): expected finite samples, got ${out[i]} at sample ${i}.`);
  }
  return out;
}

/**
 * WebSocket close codes: 4000 + the HTTP status the same error gets on the HTTP routes, so clients map them alike.
 * The close reason is the error's code; a {"type":"error"} message with the full message comes just before.
 */
const CLOSE_CODES: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 4400,
  AUDIO_UNSUPPORTED_RATE: 4415,
  MODEL_NOT_FOUND: 4404,
  TIMEOUT: 4408,
  INPUT_TOO_LONG: 4413,
  STREAM_BACKLOG: 4429,
  OVERLOADED: 4503,
  DISPOSED: 4503,
};

export function closeCodeOf(code: string): number {
  return CLOSE_CODES[code as ErrorCode] ?? 1011;
}
