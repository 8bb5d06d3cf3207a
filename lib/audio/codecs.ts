/**
 * FLAC, MP3 and Ogg Vorbis through WebAssembly builds of the reference decoders (libFLAC, mpg123, libvorbis),
 * wrapped as StreamDecoders. The packages are ESM-only and heavy to parse, so each is imported on first use.
 *
 * - FLAC (native and in Ogg): @audio/decode-flac, libFLAC from @wasm-audio-decoders/flac behind its own frame
 *   splitter (the one in codec-parser drops the last frame of some files).
 * - MP3 (MPEG-1/2/2.5 layers I-III): mpg123-decoder; it applies the LAME/Xing gapless trim itself.
 * - Ogg Vorbis: @audio/decode-vorbis, libvorbis from @wasm-audio-decoders/ogg-vorbis, with channels in WAV order
 *   and the end trimmed to the last page's granule position.
 */
import { Wav2Vec2Error } from '../errors';
import { type AudioFormat, formatName, mpegFrameHeader } from './detect';
import { type DecodedBlock, type StreamDecoder, concatBytes, mergeBlocks } from './stream';

/** What the WASM decoders return (their .d.ts omit `bitDepth` and `errors`, which they do return). */
interface WasmResult {
  channelData: Float32Array[];
  sampleRate: number;
  samplesDecoded?: number;
  bitDepth?: number;
  errors?: Array<{ message: string; frameNumber?: number; inputBytes?: number }>;
}

interface WasmDecoder {
  decode(data: Uint8Array): WasmResult;
  flush?(): WasmResult;
  free(): void;
}

const decodeFailed = (format: AudioFormat, detail: string, cause?: unknown): Wav2Vec2Error =>
  new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode this ${formatName(format)} file: ${detail}.`, cause === undefined ? undefined : { cause });

/**
 * Turns a decoder result into a block, or throws. The reference decoders report damaged frames in `errors` and
 * carry on; a damaged file is refused rather than transcribed with holes in it.
 */
function toBlock(format: AudioFormat, r: WasmResult, channels: number | null, rescaleBits: boolean): DecodedBlock | null {
  if (r.errors && r.errors.length > 0) {
    const e = r.errors[0]!;
    const where = e.inputBytes !== undefined ? ` near byte ${e.inputBytes}` : '';
    throw decodeFailed(format, `${r.errors.length} damaged frame(s), the first${where}: ${e.message}`);
  }
  const data = r.channelData;
  if (!data || data.length === 0 || data[0]!.length === 0) return null;
  if (!(Number.isInteger(r.sampleRate) && r.sampleRate > 0)) throw decodeFailed(format, `the decoder reports a sample rate of ${r.sampleRate}`);
  const n = data[0]!.length;
  if (data.some((c) => c.length !== n)) throw decodeFailed(format, 'the decoder returned channels of different lengths');
  let out = channels !== null && channels < data.length ? data.slice(0, channels) : data;
  if (rescaleBits) out = out.map((c) => rescaleFlac(c, r.bitDepth));
  return { channels: out, sampleRate: r.sampleRate };
}

/**
 * libFLAC gives integers v; the WASM build returns v / (2^(b-1) - 1) in float32. torchaudio.load (like sox,
 * libsndfile and ffmpeg) gives v / 2^(b-1), as our WAV decoder does, so a FLAC and a WAV of the same samples decode
 * to the same floats. For b <= 24 the integer is recovered exactly: the float32 error of v / (2^(b-1) - 1) is at
 * most 2^-25 of full scale, a quarter of one step. (32-bit FLAC, new in libFLAC 1.4 and rare, may differ by 1 ulp.)
 */
function rescaleFlac(x: Float32Array, bits: number | undefined): Float32Array {
  if (!(Number.isInteger(bits) && bits! >= 4 && bits! <= 32)) return x;
  const full = 2 ** (bits! - 1);
  const down = full - 1;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.round(x[i]! * down) / full;
  return out;
}

/**
 * Runs a synchronous decoder call with console output muted: mpg123-decoder prints every damaged frame with
 * console.error, and a library must not write to its user's stderr (the same errors come back in `errors`).
 */
function quietly<T>(f: () => T): T {
  const saved = { error: console.error, warn: console.warn, log: console.log };
  console.error = console.warn = console.log = () => {};
  try {
    return f();
  } finally {
    Object.assign(console, saved);
  }
}

/** Adapts a WASM decoder whose decode() is synchronous once it is ready. */
class WasmStream implements StreamDecoder {
  #dec: WasmDecoder | null;
  readonly #format: AudioFormat;
  readonly #rescale: boolean;
  #channels: number | null = null;
  #head: Uint8Array | null;
  readonly #mp3Offset: number;
  readonly #minPush: number;
  /**
   * Native FLAC fed by lib/pipeline/audio, which cuts it into runs of whole frames itself (the first run after all
   * the metadata) and strips trailing tags: nothing is held back here.
   */
  readonly #framed: boolean;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** FLAC: total samples from STREAMINFO (null: not read yet or unknown), and samples decoded so far. */
  readonly #flacOffset: number;
  #flacTotal: number | null = null;
  #decoded = 0;
  #pushed = false;

  constructor(format: AudioFormat, dec: WasmDecoder, options: { rescale?: boolean; mp3Offset?: number; minPush?: number; flacOffset?: number; framed?: boolean } = {}) {
    this.#format = format;
    this.#dec = dec;
    this.#rescale = options.rescale ?? false;
    this.#mp3Offset = options.mp3Offset ?? -1;
    this.#minPush = options.minPush ?? 0;
    this.#flacOffset = options.flacOffset ?? -1;
    this.#framed = options.framed ?? false;
    // mpg123 always outputs two channels; the true count is in the first frame header, so hold input until it is read.
    this.#head = this.#mp3Offset >= 0 ? new Uint8Array(0) : null;
  }

  #call(f: () => WasmResult): DecodedBlock | null {
    if (!this.#dec) throw new Error('decoder already freed');
    let r: WasmResult;
    try {
      r = quietly(f);
    } catch (err) {
      // WASM traps (RuntimeError: unreachable, memory access out of bounds) and the wrappers' own TypeErrors.
      throw decodeFailed(this.#format, (err as Error)?.message ?? String(err), err);
    }
    const block = toBlock(this.#format, r, this.#channels, this.#rescale);
    this.#decoded += block ? block.channels[0]!.length : 0;
    return block;
  }

  /** Reads the total sample count from STREAMINFO (0 in the header means "unknown"). `b` starts the file. */
  #readStreamInfo(b: Uint8Array): void {
    const o = this.#flacOffset;
    if (o < 0 || this.#flacTotal !== null) return;
    if (b.length < o + 42) {
      this.#flacTotal = 0; // a file shorter than its own header: the decoder will say what is wrong
      return;
    }
    // "fLaC", then the STREAMINFO block (type 0) whose bytes 13..17 end with the 36-bit total sample count.
    if ((b[o + 4]! & 0x7f) !== 0) throw decodeFailed(this.#format, 'the first metadata block is not STREAMINFO');
    const total = (b[o + 21]! & 0x0f) * 2 ** 32 + ((b[o + 22]! << 24) >>> 0) + (b[o + 23]! << 16) + (b[o + 24]! << 8) + b[o + 25]!;
    this.#flacTotal = total;
  }

  /**
   * The FLAC framer skips frames that fail their CRC instead of reporting them, so a damaged file would come back
   * short without a word. STREAMINFO says how many samples there are: anything else is damage (or truncation).
   */
  #checkFlacTotal(): void {
    if (this.#flacTotal && this.#decoded !== this.#flacTotal) {
      throw decodeFailed(this.#format, `it declares ${this.#flacTotal} samples per channel but ${this.#decoded} could be decoded (damaged or truncated frames)`);
    }
  }

  push(chunk: Uint8Array): DecodedBlock | null {
    if (this.#framed && !this.#pushed) {
      this.#readStreamInfo(chunk);
      this.#pushed = true;
    }
    if (this.#minPush > 0) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      // The first push must also reach past STREAMINFO (an ID3 tag before "fLaC" can be large).
      const need = (this.#pushed ? this.#minPush : Math.max(this.#minPush, this.#flacOffset + 42)) + HELD_TAIL;
      if (this.#heldBytes < need) return null;
      // Keep the last HELD_TAIL bytes back: if the file ends there, tags after the audio are cut off in end().
      const all = this.#takeHeld();
      chunk = all.subarray(0, all.length - HELD_TAIL);
      this.#held = [all.slice(all.length - HELD_TAIL)];
      this.#heldBytes = HELD_TAIL;
      if (!this.#pushed) this.#readStreamInfo(chunk);
      this.#pushed = true;
    }
    if (this.#head) {
      const head = concatBytes(this.#head, chunk);
      const h = mpegFrameHeader(head, this.#mp3Offset);
      if (!h && head.length < this.#mp3Offset + 4) {
        this.#head = head;
        return null;
      }
      this.#channels = h ? h.channels : null;
      this.#head = null;
      chunk = head;
    }
    const dec = this.#dec;
    return this.#call(() => dec!.decode(chunk));
  }

  #takeHeld(): Uint8Array {
    const all = this.#held.length === 1 ? this.#held[0]! : this.#held.length === 0 ? new Uint8Array(0) : Buffer.concat(this.#held);
    this.#held = [];
    this.#heldBytes = 0;
    return all;
  }

  end(): DecodedBlock | null {
    const dec = () => this.#dec!;
    let last: DecodedBlock | null = null;
    if (this.#minPush > 0) {
      const rest = this.#flacOffset >= 0 ? stripTrailingTags(this.#takeHeld()) : this.#takeHeld();
      if (!this.#pushed) this.#readStreamInfo(rest);
      this.#pushed = true;
      last = rest.length > 0 ? this.#call(() => dec().decode(rest)) : null;
    } else if (this.#head) {
      const head = this.#head;
      this.#head = null;
      last = this.#call(() => dec().decode(head));
    }
    const all = merge2(last, this.#dec?.flush ? this.#call(() => dec().flush!()) : null);
    this.#checkFlacTotal();
    return all;
  }

  free(): void {
    try {
      this.#dec?.free();
    } catch {
      // A decoder that trapped may fail to free; its memory goes with the instance.
    }
    this.#dec = null;
  }
}

/** Bytes of a FLAC stream held back until the end, where trailing tags are looked for. */
const HELD_TAIL = 64 * 1024;

function merge2(a: DecodedBlock | null, b: DecodedBlock | null): DecodedBlock | null {
  return a && b ? mergeBlocks([a, b]) : (a ?? b);
}

/**
 * Cuts an ID3v1 tag ("TAG", last 128 bytes) and an APEv2 tag (footer "APETAGEX", last 32 bytes) off the end of a
 * stream. Taggers append them to FLAC files too; the FLAC framer would take them for part of the last frame, whose
 * CRC then fails, and the last frame would be lost.
 */
export function stripTrailingTags(b: Uint8Array): Uint8Array {
  let end = b.length;
  if (end >= 128 && b[end - 128] === 0x54 && b[end - 127] === 0x41 && b[end - 126] === 0x47) end -= 128; // "TAG"
  if (end >= 32 && Buffer.from(b.buffer, b.byteOffset + end - 32, 8).toString('latin1') === 'APETAGEX') {
    const dv = new DataView(b.buffer, b.byteOffset + end - 32, 32);
    const size = dv.getUint32(12, true); // items + footer
    const hasHeader = (dv.getUint32(20, true) & 0x80000000) !== 0;
    const total = size + (hasHeader ? 32 : 0);
    if (total <= end) end -= total;
  }
  return end === b.length ? b : b.subarray(0, end);
}

async function init<T>(format: AudioFormat, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw decodeFailed(format, `the ${formatName(format)} decoder could not start (${(err as Error)?.message ?? err})`, err);
  }
}

/**
 * A decoder for `format` (WAV has its own, lib/audio/wav.ts). `offset`: where detection found the stream, after any
 * ID3v2 tag (the first MPEG frame for MP3, "fLaC" for FLAC).
 */
export async function createCodecDecoder(format: Exclude<AudioFormat, 'wav'>, offset = 0, options: { framed?: boolean } = {}): Promise<StreamDecoder> {
  switch (format) {
    case 'flac':
    case 'ogg-flac': {
      const dec = await init(format, async () => (await import('@audio/decode-flac')).decoder());
      // @audio/decode-flac 1.3.5 loses frames when its first chunks are tiny (under ~100 bytes: the metadata
      // arrives in pieces); feeding it at least 64 KiB at a time avoids that path. `framed`: the audio stage feeds
      // runs of whole frames (see lib/pipeline/audio/flac-frames.ts), the first with all the metadata.
      const push = options.framed && format === 'flac' ? { framed: true } : { minPush: 64 * 1024 };
      return new WasmStream(format, dec as unknown as WasmDecoder, { rescale: true, ...push, flacOffset: format === 'flac' ? offset : -1 });
    }
    case 'mp3': {
      const dec = await init(format, async () => {
        const { MPEGDecoder } = await import('mpg123-decoder');
        const d = new MPEGDecoder();
        await d.ready;
        return d;
      });
      return new WasmStream(format, dec as unknown as WasmDecoder, { mp3Offset: offset });
    }
    case 'ogg-vorbis': {
      const dec = await init(format, async () => (await import('@audio/decode-vorbis')).decoder());
      return new WasmStream(format, dec as unknown as WasmDecoder);
    }
  }
}
