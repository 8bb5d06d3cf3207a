/**
 * One input through the audio stage: bytes in, mono samples at the model's rate out, within a budget. It runs in a
 * worker of the pool (pool.ts), and in-thread where no pool is given; the samples are the same either way, and the
 * same as loadForModel's (decoder, downmix and torchaudio's resampler, run by the addon's conv1d where it can, else in
 * JavaScript: resampleLikeStage; StreamResampler is exact for a streamed signal).
 *
 * Why each step is bounded:
 * - the header's declared rate and length are checked before any decoding (header.ts);
 * - the decoders get the input in slices small enough that one synchronous call cannot produce more than a few tens
 *   of MB even from a decompression bomb (a FLAC frame of 65,535 constant samples takes about 16 bytes);
 * - the decoded samples are counted after every call, and decoding stops at the duration limit;
 * - the samples are downmixed and resampled slice by slice, so the file's own-rate audio is never held whole.
 */
import { createCodecDecoder, stripTrailingTags } from '../../audio/codecs';
import { downmix } from '../../audio/channels';
import { type AudioFormat, formatName } from '../../audio/detect';
import { type AudioInput, checkBlock, decodeError, detectInput } from '../../audio/load';
import { type DecodedBlock, type StreamDecoder, concatBytes } from '../../audio/stream';
import { WavDecoder } from '../../audio/wav';
import { Wav2Vec2Error } from '../../errors';
import { type AudioBudget, checkRate, tooLong } from './budget';
import { type HeaderScan, MAX_METADATA_BYTES, scanHeader } from './header';
import { FlacFramer } from './flac-frames';
import { OggPager } from './ogg-pages';
import { StreamResampler } from './stream-resampler';

/**
 * Bytes per decoder call. FLAC is cut into whole frames (flac-frames.ts) and fed in runs of FLAC_RUN_BYTES (at least
 * one frame); Ogg FLAC one page per call (at most 255 frames, see ogg-pages.ts): their slices only feed the cutters.
 */
export const SLICE_BYTES: Record<AudioFormat, number> = {
  'flac': 65536,
  'ogg-flac': 65536,
  // Vorbis: a silent packet is a few bytes for up to 1,024 samples; MP3: a frame is at least 24 bytes for 576.
  'ogg-vorbis': 4096,
  'mp3': 16384,
  // WAV is parsed in JS, at most 4 output bytes per input byte (8-bit).
  'wav': 65536,
};

/**
 * A run of frames per FLAC decoder call: at most ~5 frames of 65,535 constant samples (14 bytes each), 0.3 M samples
 * (1.3 MB) per channel, whatever the file; a real frame (hundreds of bytes to KBs) goes alone, so real files are
 * decoded a frame per call either way.
 */
export const FLAC_RUN_BYTES = 64;

/** Bytes read from a file at a time. */
const READ_BYTES = 64 * 1024;
/** How long the header may be waited for (FLAC: its metadata, up to MAX_METADATA_BYTES, must come whole). */
const HEADER_BYTES = 1 << 20;
/** Synchronous work between two turns of the event loop (where a worker sees a cancellation). */
const TURN_MS = 20;

export interface StageRequest {
  input: AudioInput;
  /** Name of the input for messages (default: the path, or "the buffer of N bytes"). */
  name?: string;
  targetRate: number;
  budget: AudioBudget;
  /** Checked between slices: true stops decoding (the consumer has gone). */
  cancelled?: () => boolean;
  /** Told how many output samples to expect, when the header declares the length (a claim: may be off). */
  expect?: (samples: number) => void;
}

export interface StageChunk {
  /** Mono, at the target rate. */
  samples: Float32Array;
  /** Rate of the file itself. */
  sourceRate: number;
}

/** Reads the input until its header is known (or cannot be waited for longer); returns those bytes. */
async function readHeader(it: AsyncIterator<Uint8Array>, format: AudioFormat, offset: number, head: Uint8Array, done: boolean) {
  let scan: HeaderScan = scanHeader(format, head, offset);
  const limit = format === 'flac' || format === 'ogg-flac' ? offset + MAX_METADATA_BYTES + SLICE_BYTES[format] : HEADER_BYTES;
  // Appended into a buffer that doubles: FLAC metadata can be megabytes (pictures), read 64 KiB at a time.
  let buf = head;
  let len = head.length;
  while (!scan.complete && !done && len < limit) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    if (len + r.value.length > buf.length) {
      const grown = new Uint8Array(Math.max(len + r.value.length, buf.length * 2));
      grown.set(buf.subarray(0, len));
      buf = grown;
    }
    buf.set(r.value, len);
    len += r.value.length;
    scan = scanHeader(format, buf.subarray(0, len), offset);
  }
  return { scan, head: buf.subarray(0, len), done };
}

/** The declared rate and length against the budget, before anything is decoded. */
function checkDeclared(scan: HeaderScan, budget: AudioBudget, name: string): void {
  if (scan.sampleRate === null) return;
  checkRate(scan.sampleRate, budget, name);
  if (scan.frames !== null && scan.frames / scan.sampleRate > budget.maxSeconds) throw tooLong(scan.frames / scan.sampleRate, budget.maxSeconds, 'declared');
}

/** Turns decoded blocks into mono samples at the target rate, counting them against the budget. */
class Converter {
  #first: DecodedBlock | null = null;
  #resampler: StreamResampler | null = null;
  frames = 0;

  constructor(readonly format: AudioFormat, readonly name: string, readonly targetRate: number, readonly budget: AudioBudget) {}

  get sourceRate(): number {
    return this.#first?.sampleRate ?? 0;
  }

  take(b: DecodedBlock | null): Float32Array | null {
    if (!b || b.channels[0]!.length === 0) return null;
    checkBlock(b, this.format, this.name, this.#first, this.frames);
    if (!this.#first) {
      checkRate(b.sampleRate, this.budget, this.name);
      this.#first = b;
      // The addon's conv1d where it can: ~2-4x less CPU than JavaScript (docs/audio.md), which the model can use.
      this.#resampler = new StreamResampler(b.sampleRate, this.targetRate, { native: true });
    }
    this.frames += b.channels[0]!.length;
    if (this.frames / b.sampleRate > this.budget.maxSeconds) throw tooLong(this.frames / b.sampleRate, this.budget.maxSeconds, 'stopped');
    const mono = b.channels.length > 1 ? downmix(b.channels) : b.channels[0]!;
    return this.#resampler!.push(mono);
  }

  end(): Float32Array | null {
    if (this.frames === 0) {
      throw new Wav2Vec2Error('AUDIO_EMPTY', `${this.name} holds no audio samples: a valid ${formatName(this.format)} header, but no samples after it (is the file cut short?).`);
    }
    return this.#resampler!.end();
  }
}

/** The input in slices of at most `slice` bytes: `head` first, then the rest as it is read. */
async function* slices(head: Uint8Array, it: AsyncIterator<Uint8Array>, done: boolean, slice: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < head.length; at += slice) yield head.subarray(at, at + slice);
  while (!done) {
    const r = await it.next();
    if (r.done) break;
    for (let at = 0; at < r.value.length; at += slice) yield r.value.subarray(at, at + slice);
  }
}

/** Turns the audio's byte slices into what each decoder call gets: the slices, or whole FLAC frames / Ogg pages. */
interface Feeder {
  push(slice: Uint8Array): Iterable<Uint8Array>;
  /** The input has ended: what is left. */
  end(): Uint8Array;
}

/** `null`: the slices as they are. */
function feederFor(format: AudioFormat | null): Feeder {
  if (format === 'flac') {
    const framer = new FlacFramer(FLAC_RUN_BYTES);
    return {
      push: (b) => framer.push(b),
      // Tags after the last frame (ID3v1, APEv2) would be read as part of it and fail its CRC.
      end: () => stripTrailingTags(framer.end()),
    };
  }
  if (format === 'ogg-flac') {
    const pager = new OggPager();
    return {
      *push(b) {
        for (let page = pager.push(b); page; page = pager.next()) yield page;
      },
      end: () => pager.end(),
    };
  }
  return { push: (b) => [b], end: () => new Uint8Array(0) };
}

/**
 * Decodes `req.input` to mono samples at `req.targetRate`, yielding them as they are ready. Errors are coded:
 * INPUT_TOO_LONG, AUDIO_UNSUPPORTED_RATE, and loadAudio's (AUDIO_READ_FAILED, AUDIO_UNSUPPORTED_FORMAT,
 * AUDIO_DECODE_FAILED, AUDIO_EMPTY).
 */
export async function* decodeToRate(req: StageRequest): AsyncGenerator<StageChunk> {
  const input = await detectInput(req.input, READ_BYTES);
  const { it, format, offset } = input;
  const name = req.name ?? input.name;
  let decoder: StreamDecoder | null = null;
  try {
    const { scan, head, done } = await readHeader(it, format, offset, input.head, input.done);
    checkDeclared(scan, req.budget, name);
    if (scan.frames !== null && scan.sampleRate) req.expect?.(Math.ceil((scan.frames * req.targetRate) / scan.sampleRate));
    const slice = SLICE_BYTES[format];
    decoder = format === 'wav' ? new WavDecoder() : await createCodecDecoder(format, offset, { framed: true });
    const conv = new Converter(format, name, req.targetRate, req.budget);
    // FLAC: the metadata (and anything before it) goes in the first call, with the first frames.
    const start = scan.audioStart !== undefined && scan.complete ? scan.audioStart : 0;
    let meta: Uint8Array | null = start > 0 ? head.subarray(0, start) : null;
    // Where the metadata's end is unknown (the input ends inside it), the few bytes there are go in one call.
    const feeder = feederFor(start > 0 || (format !== 'flac' && format !== 'ogg-flac') ? format : null);
    const decode = (unit: Uint8Array): StageChunk | null => {
      if (meta) {
        unit = concatBytes(meta, unit);
        meta = null;
      }
      const samples = conv.take(decoder!.push(unit));
      return samples && samples.length > 0 ? { samples, sourceRate: conv.sourceRate } : null;
    };
    let turn = performance.now();
    for await (const piece of slices(head.subarray(start), it, done, slice)) {
      // A slice of FLAC can hold thousands of frames: the turns and the cancellation are checked per decoder call.
      for (const unit of feeder.push(piece)) {
        const c = decode(unit);
        if (c) yield c;
        if (performance.now() - turn > TURN_MS) {
          await new Promise((r) => setImmediate(r));
          turn = performance.now();
        }
        if (req.cancelled?.()) return;
      }
    }
    const rest = feeder.end();
    if (rest.length > 0 || meta) {
      const c = decode(rest);
      if (c) yield c;
    }
    for (const samples of [conv.take(decoder.end()), conv.end()]) {
      if (samples && samples.length > 0) yield { samples, sourceRate: conv.sourceRate };
    }
  } catch (err) {
    throw decodeError(err, name, format);
  } finally {
    decoder?.free();
    await it.return?.();
  }
}
