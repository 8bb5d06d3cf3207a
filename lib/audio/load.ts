/**
 * loadAudio / streamAudio: files, Buffers and byte streams in, float32 channels out. The container is detected
 * from its first bytes; files are read in chunks and decoded as they arrive, so a long file never has to sit in
 * memory in compressed and decoded form at once, and streamAudio never holds more than one chunk's samples.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Wav2Vec2Error, checkOptionKeys, describe, invalid, optionKeys } from '../errors';
import { firstNonFinite, isInteger, isObject, isPositiveInteger } from '../is';
import { createCodecDecoder } from './codecs';
import { type AudioFormat, type Detection, detectFormat, formatName } from './detect';
import { type ResampleOptions, Resampler } from './resample';
import { type DecodedBlock, type StreamDecoder, concatBytes, mergeBlocks } from './stream';
import { WavDecoder } from './wav';
import { downmix, selectChannel } from './channels';

export type AudioInput = string | Uint8Array | ArrayBuffer | AsyncIterable<Uint8Array>;

export interface AudioData {
  /** One Float32Array per channel (one after `mono` or `channel`), samples in [-1, 1] for integer sources. */
  channels: Float32Array[];
  sampleRate: number;
  /** The container that was decoded. */
  format: AudioFormat;
  /** Channels and rate of the file itself, before `mono`, `channel` or `sampleRate` were applied. */
  source: { channels: number; sampleRate: number };
}

export interface LoadAudioOptions {
  /** Average all channels into one (torch's `waveform.mean(0)`). */
  mono?: boolean;
  /** Keep only this channel (0-based). */
  channel?: number;
  /** Resample to this rate (Hz) with torchaudio's resample. */
  sampleRate?: number;
  /** Options for that resampling. */
  resample?: ResampleOptions;
  /** Bytes read per chunk from files and Buffers (default 1 MiB). */
  chunkBytes?: number;
}

export type StreamAudioOptions = Omit<LoadAudioOptions, 'sampleRate' | 'resample'>;

/** One decoded piece of a stream. */
export interface AudioChunk {
  channels: Float32Array[];
  sampleRate: number;
  format: AudioFormat;
  /** Index of this chunk's first sample in the whole stream. */
  offset: number;
}

const DEFAULT_CHUNK = 1 << 20;

interface Checked {
  mono: boolean;
  channel: number | null;
  sampleRate: number | null;
  resample: ResampleOptions | undefined;
  chunkBytes: number;
}

const LOAD_AUDIO_OPTION_KEYS = optionKeys<LoadAudioOptions>({ mono: true, channel: true, sampleRate: true, resample: true, chunkBytes: true });
const STREAM_AUDIO_OPTION_KEYS = optionKeys<StreamAudioOptions>({ mono: true, channel: true, chunkBytes: true });

function checkOptions(options: unknown, allowResample: boolean): Checked {
  if (options === undefined) return { mono: false, channel: null, sampleRate: null, resample: undefined, chunkBytes: DEFAULT_CHUNK };
  if (!isObject(options)) throw invalid('INVALID_INPUT', 'options', 'an object', options);
  // streamAudio's sampleRate and resample keep their own message (resample the chunks with a Resampler) below.
  checkOptionKeys(allowResample ? 'loadAudio options' : 'streamAudio options', options,
    allowResample ? LOAD_AUDIO_OPTION_KEYS : [...STREAM_AUDIO_OPTION_KEYS, 'sampleRate', 'resample']);
  const o = options as LoadAudioOptions;
  if (o.mono !== undefined && typeof o.mono !== 'boolean') throw invalid('INVALID_INPUT', 'mono', 'true or false', o.mono);
  if (o.channel !== undefined && !(isInteger(o.channel) && o.channel >= 0)) throw invalid('INVALID_INPUT', 'channel', 'a channel index (0, 1, ...)', o.channel);
  if (o.mono && o.channel !== undefined) throw invalid('INVALID_INPUT', 'options', 'either mono or channel, not both', options);
  if (allowResample) {
    if (o.sampleRate !== undefined && !isPositiveInteger(o.sampleRate)) throw invalid('INVALID_INPUT', 'sampleRate', 'a positive integer (Hz)', o.sampleRate);
    if (o.resample !== undefined && !isObject(o.resample)) throw invalid('INVALID_INPUT', 'resample', 'an object of resample options', o.resample);
  } else if (o.sampleRate !== undefined || o.resample !== undefined) {
    throw invalid('INVALID_INPUT', 'options', 'no sampleRate or resample for streamAudio', options, 'Resample the chunks with a Resampler over the whole signal, or use loadAudio.');
  }
  if (o.chunkBytes !== undefined && !(isPositiveInteger(o.chunkBytes) && o.chunkBytes <= 1 << 30)) throw invalid('INVALID_INPUT', 'chunkBytes', 'an integer within [1, 2^30]', o.chunkBytes);
  return { mono: o.mono ?? false, channel: o.channel ?? null, sampleRate: o.sampleRate ?? null, resample: o.resample, chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK };
}

/** The input as an async sequence of byte chunks, plus a name for messages. */
export async function openInput(input: unknown, chunkBytes: number): Promise<{ chunks: AsyncIterable<Uint8Array>; name: string; complete?: Uint8Array }> {
  if (typeof input === 'string') {
    if (input.length === 0) throw invalid('INVALID_INPUT', 'input', 'a file path, a Buffer/Uint8Array, an ArrayBuffer or an async iterable of Uint8Array', input);
    try {
      const s = await stat(input);
      if (!s.isFile()) throw new Wav2Vec2Error('AUDIO_READ_FAILED', `Cannot read audio from ${input}: it is not a file.`);
    } catch (err) {
      if (err instanceof Wav2Vec2Error) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.message;
      throw new Wav2Vec2Error('AUDIO_READ_FAILED', `Cannot read audio from ${input}: ${why}.`, { cause: err });
    }
    const stream = createReadStream(input, { highWaterMark: chunkBytes });
    return {
      name: input,
      chunks: (async function* () {
        try {
          for await (const c of stream) yield c as Buffer;
        } catch (err) {
          throw new Wav2Vec2Error('AUDIO_READ_FAILED', `Cannot read audio from ${input}: ${(err as Error).message}.`, { cause: err });
        } finally {
          stream.destroy();
        }
      })(),
    };
  }
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    return {
      name: `the ${input instanceof ArrayBuffer ? 'ArrayBuffer' : 'buffer'} of ${bytes.length} bytes`,
      complete: bytes,
      chunks: (async function* () {
        for (let i = 0; i < bytes.length; i += chunkBytes) yield bytes.subarray(i, i + chunkBytes);
      })(),
    };
  }
  if (input !== null && typeof input === 'object' && typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return {
      name: 'the stream',
      chunks: (async function* () {
        try {
          for await (const c of input as AsyncIterable<unknown>) {
            if (!(c instanceof Uint8Array)) throw invalid('INVALID_INPUT', 'stream chunk', 'a Buffer or Uint8Array (a byte stream, not an object or text stream)', c);
            yield c;
          }
        } catch (err) {
          if (err instanceof Wav2Vec2Error) throw err;
          throw new Wav2Vec2Error('AUDIO_READ_FAILED', `Cannot read audio from the stream: ${(err as Error)?.message ?? describe(err)}.`, { cause: err });
        }
      })(),
    };
  }
  throw invalid('INVALID_INPUT', 'input', 'a file path, a Buffer/Uint8Array, an ArrayBuffer or an async iterable of Uint8Array', input);
}

/** The input opened and its format detected: `head` holds the bytes read for that (to be decoded first). */
export interface DetectedInput {
  it: AsyncIterator<Uint8Array>;
  name: string;
  format: AudioFormat;
  /** Where detection found the stream (after any ID3v2 tag). */
  offset: number;
  head: Uint8Array;
  /** The whole input, when it was given whole (a Buffer). */
  complete?: Uint8Array;
  /** The input ended while `head` was read. */
  done: boolean;
}

/** Opens `input` and reads until its first bytes tell the format; refuses empty and unsupported inputs. */
export async function detectInput(input: unknown, chunkBytes: number): Promise<DetectedInput> {
  const { chunks, name, complete } = await openInput(input, chunkBytes);
  const it = chunks[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  let done = false;
  let detection: Detection;
  try {
    if (complete) {
      detection = detectFormat(complete, true);
    } else {
      // Read until the first bytes are enough to tell the format (an ID3 tag can push the first frame far in).
      detection = detectFormat(head);
      while (detection.kind === 'need-more') {
        const r = await it.next();
        if (r.done) {
          done = true;
          detection = detectFormat(head, true);
          break;
        }
        head = concatBytes(head, r.value);
        detection = detectFormat(head);
      }
    }
    if (detection.kind !== 'supported') {
      const size = complete ? complete.length : head.length;
      if (size === 0) throw new Wav2Vec2Error('AUDIO_EMPTY', `Cannot load audio from ${name}: it is empty (0 bytes).`);
      if (detection.kind === 'unsupported') {
        throw new Wav2Vec2Error('AUDIO_UNSUPPORTED_FORMAT', `Cannot load audio from ${name}: it is ${detection.name}, which is not decoded here. Supported: WAV, FLAC, MP3, Ogg Vorbis. Convert it first, e.g. \`ffmpeg -i input output.flac\`.`);
      }
      throw new Wav2Vec2Error('AUDIO_UNSUPPORTED_FORMAT', `Cannot load audio from ${name}: its first bytes are not WAV, FLAC, MP3 or Ogg Vorbis (the format is detected from the content, not the file name).`);
    }
  } catch (err) {
    await it.return?.();
    throw err;
  }
  return { it, name, format: detection.format, offset: detection.offset, head, done, ...(complete ? { complete } : {}) };
}

/** A decoder's error, named after the input (the decoders do not know it); anything else becomes AUDIO_DECODE_FAILED. */
export function decodeError(err: unknown, name: string, format: AudioFormat): Wav2Vec2Error {
  if (err instanceof Wav2Vec2Error) {
    // "Cannot decode this FLAC file: x" -> "Cannot decode a.flac (FLAC): x".
    if (err.code === 'AUDIO_DECODE_FAILED' || err.code === 'AUDIO_UNSUPPORTED_FORMAT') err.message = err.message.replace(/^Cannot decode this (.+?) file: /, `Cannot decode ${name} ($1): `);
    return err;
  }
  return new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode ${name} as ${formatName(format)}: ${(err as Error)?.message ?? describe(err)}.`, { cause: err });
}

/** Detects the format from the first bytes, then yields decoded blocks as chunks arrive. */
async function* decodeChunks(input: unknown, chunkBytes: number): AsyncGenerator<DecodedBlock & { format: AudioFormat }> {
  const detected = await detectInput(input, chunkBytes);
  const { it, name, head, format } = detected;
  let done = detected.done;
  let decoder: StreamDecoder | null = null;
  try {
    decoder = format === 'wav' ? new WavDecoder() : await createCodecDecoder(format, detected.offset);
    let samples = 0;
    const emit = (b: DecodedBlock | null) => {
      if (!b) return null;
      samples += b.channels[0]?.length ?? 0;
      return { ...b, format };
    };
    if (head.length > 0) {
      const b = emit(decoder.push(head));
      if (b) yield b;
    }
    while (!done) {
      const r = await it.next();
      if (r.done) break;
      const b = emit(decoder.push(r.value));
      if (b) yield b;
    }
    const last = emit(decoder.end());
    if (last) yield last;
    if (samples === 0) {
      throw new Wav2Vec2Error('AUDIO_EMPTY', `${name} holds no audio samples: a valid ${formatName(format)} header, but no samples after it (is the file cut short?).`);
    }
  } catch (err) {
    throw decodeError(err, name, format);
  } finally {
    decoder?.free();
    await it.return?.();
  }
}

export function checkBlock(b: DecodedBlock, format: AudioFormat, name: string, first: DecodedBlock | null, offset: number): void {
  if (first && (b.channels.length !== first.channels.length || b.sampleRate !== first.sampleRate)) {
    throw new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode ${name} as ${formatName(format)}: the stream changes from ${first.channels.length} channel(s) at ${first.sampleRate} Hz to ${b.channels.length} at ${b.sampleRate} Hz, which is not supported.`);
  }
  for (let c = 0; c < b.channels.length; c++) {
    const i = firstNonFinite(b.channels[c]!);
    if (i >= 0) throw new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode ${name}: sample ${offset + i} of channel ${c} is ${b.channels[c]![i]} (not a finite number).`);
  }
}

function pick(b: DecodedBlock, o: Checked, format: AudioFormat, name: string): Float32Array[] {
  if (o.channel !== null) {
    if (o.channel >= b.channels.length) {
      throw invalid('INVALID_INPUT', 'channel', `a channel of ${name} (it has ${b.channels.length}: 0..${b.channels.length - 1})`, o.channel);
    }
    return [selectChannel(b.channels, o.channel)];
  }
  return o.mono && b.channels.length > 1 ? [downmix(b.channels)] : b.channels;
}

export function inputName(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `the buffer of ${input.length} bytes`;
  if (input instanceof ArrayBuffer) return `the ArrayBuffer of ${input.byteLength} bytes`;
  return 'the stream';
}

/**
 * Decodes WAV (PCM 8/16/24/32-bit, float 32/64, A-law, µ-law, WAVE_FORMAT_EXTENSIBLE, RF64), FLAC, MP3 or Ogg
 * Vorbis from a file path, a Buffer/Uint8Array/ArrayBuffer, or an async iterable of bytes (e.g. a Readable).
 * Integer samples are scaled by 1/2^(bits-1) like torchaudio.load. Errors: AUDIO_READ_FAILED (the file cannot be
 * read), AUDIO_UNSUPPORTED_FORMAT, AUDIO_DECODE_FAILED (damaged or inconsistent data), AUDIO_EMPTY (no samples),
 * INVALID_INPUT (bad arguments).
 */
export async function loadAudio(input: AudioInput, options?: LoadAudioOptions): Promise<AudioData> {
  const o = checkOptions(options, true);
  const name = inputName(input);
  const blocks: DecodedBlock[] = [];
  let format: AudioFormat | null = null;
  let first: DecodedBlock | null = null;
  let offset = 0;
  for await (const b of decodeChunks(input, o.chunkBytes)) {
    format = b.format;
    checkBlock(b, b.format, name, first, offset);
    first ??= b;
    offset += b.channels[0]!.length;
    blocks.push({ channels: pick(b, o, b.format, name), sampleRate: b.sampleRate });
  }
  const all = mergeBlocks(blocks);
  if (!all || !format || all.channels[0]!.length === 0) {
    throw new Wav2Vec2Error('AUDIO_EMPTY', `${name} holds no audio samples.`);
  }
  let channels = all.channels;
  let sampleRate = all.sampleRate;
  if (o.sampleRate !== null && o.sampleRate !== sampleRate) {
    channels = new Resampler(sampleRate, o.sampleRate, o.resample).resample(channels);
    sampleRate = o.sampleRate;
  }
  return { channels, sampleRate, format, source: { channels: first!.channels.length, sampleRate: first!.sampleRate } };
}

/**
 * Decodes like loadAudio but yields the samples chunk by chunk as the input is read, for files too long to hold
 * decoded at once. `mono` and `channel` apply per chunk; resample the whole signal with a Resampler if needed.
 */
export async function* streamAudio(input: AudioInput, options?: StreamAudioOptions): AsyncGenerator<AudioChunk> {
  const o = checkOptions(options, false);
  const name = inputName(input);
  let first: DecodedBlock | null = null;
  let offset = 0;
  for await (const b of decodeChunks(input, o.chunkBytes)) {
    checkBlock(b, b.format, name, first, offset);
    first ??= b;
    const channels = pick(b, o, b.format, name);
    yield { channels, sampleRate: b.sampleRate, format: b.format, offset };
    offset += b.channels[0]!.length;
  }
  if (offset === 0) throw new Wav2Vec2Error('AUDIO_EMPTY', `${name} holds no audio samples.`);
}
