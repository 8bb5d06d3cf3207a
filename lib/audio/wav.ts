/**
 * WAV (RIFF, RF64/BW64) decoding: PCM 8/16/24/32-bit, IEEE float 32/64, G.711 A-law/µ-law, each also inside
 * WAVE_FORMAT_EXTENSIBLE. Written here rather than taken from npm because the packages that parse every one of
 * these variants scale integer PCM as `v / (2^(b-1) - 1)` for positive samples (@audio/decode-wav), read the
 * RIFF pad byte of an odd-sized data chunk as a sample (wavefile), or reject WAVE_FORMAT_EXTENSIBLE (wav-decoder),
 * while torchaudio.load (ffmpeg, sox and libsndfile backends alike) gives `v / 2^(b-1)`.
 *
 * The decoder is incremental: `push` any chunking of the file, get the whole frames it completes. Nothing but the
 * header and one partial frame is buffered.
 */
import { Wav2Vec2Error } from '../errors';
import { type DecodedBlock, type StreamDecoder, concatBytes, mergeBlocks } from './stream';

const enum Codec {
  Pcm = 1,
  Float = 3,
  Alaw = 6,
  Mulaw = 7,
}

const CODEC_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM', 0x0011: 'IMA ADPCM', 0x0031: 'GSM 6.10', 0x0040: 'G.721 ADPCM', 0x0050: 'MPEG',
  0x0055: 'MP3', 0x0092: 'Dolby AC3', 0x00ff: 'AAC', 0x0161: 'WMA', 0x2000: 'AC3', 0x2001: 'DTS',
};

// The 14 bytes after the format code in a KSDATAFORMAT_SUBTYPE GUID (…-0000-0010-8000-00AA00389B71).
const KS_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const MAX_CHANNELS = 1024;
// A fmt chunk is 16..40 bytes in practice; anything past this is not a header we should buffer.
const MAX_FMT_BYTES = 64 * 1024;

export interface WavFormat {
  codec: Codec;
  channels: number;
  sampleRate: number;
  /** Bytes per sample in the container. */
  bytes: number;
  /** Bits per sample as the header says (may be less than 8 * bytes). */
  bits: number;
}

const fail = (message: string): Wav2Vec2Error => new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode this WAV file: ${message}.`);

// G.711 expansion to 16-bit PCM (ITU-T G.711; the same tables as ffmpeg's pcm_alaw/pcm_mulaw), then / 32768.
const ALAW = new Float32Array(256);
const MULAW = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const a = i ^ 0x55;
  const seg = (a >> 4) & 7;
  let t = (a & 0x0f) << 4;
  t = seg === 0 ? t + 8 : seg === 1 ? t + 0x108 : (t + 0x108) << (seg - 1);
  ALAW[i] = (a & 0x80 ? t : -t) / 32768;
  const u = ~i & 0xff;
  let m = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7);
  m -= 0x84;
  MULAW[i] = (u & 0x80 ? -m : m) / 32768 || 0; // µ-law has a negative zero code; int16 PCM has no -0
}

function parseFmt(b: Uint8Array): WavFormat {
  if (b.length < 16) throw fail(`the fmt chunk has ${b.length} bytes, fewer than the 16 every WAV needs`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let code = dv.getUint16(0, true);
  const channels = dv.getUint16(2, true);
  const sampleRate = dv.getUint32(4, true);
  const blockAlign = dv.getUint16(12, true);
  const bits = dv.getUint16(14, true);
  if (code === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) channelMask(4) SubFormat GUID(16); the GUID's first two bytes
    // are the real format code.
    if (b.length < 40) throw fail('WAVE_FORMAT_EXTENSIBLE header is shorter than 40 bytes');
    code = dv.getUint16(24, true);
    if (!KS_GUID_TAIL.every((x, i) => b[26 + i] === x)) {
      throw new Wav2Vec2Error('AUDIO_UNSUPPORTED_FORMAT', 'Cannot decode this WAV file: it uses WAVE_FORMAT_EXTENSIBLE with a non-standard SubFormat GUID (e.g. Ambisonics); only PCM, float, A-law and µ-law are decoded.');
    }
  }
  if (code !== Codec.Pcm && code !== Codec.Float && code !== Codec.Alaw && code !== Codec.Mulaw) {
    const name = CODEC_NAMES[code] ?? `format code 0x${code.toString(16).padStart(4, '0')}`;
    throw new Wav2Vec2Error('AUDIO_UNSUPPORTED_FORMAT', `Cannot decode this WAV file: it holds ${name} audio; only PCM (8/16/24/32-bit), float (32/64-bit), A-law and µ-law are decoded. Convert it first, e.g. \`sox in.wav -e signed -b 16 out.wav\`.`);
  }
  if (channels === 0) throw fail('the header says 0 channels');
  if (channels > MAX_CHANNELS) throw fail(`the header says ${channels} channels (at most ${MAX_CHANNELS} are accepted)`);
  if (sampleRate === 0) throw fail('the header says a sample rate of 0 Hz');
  const bytes = Math.ceil(bits / 8);
  const ok =
    code === Codec.Pcm ? bits >= 1 && bytes <= 4 :
    code === Codec.Float ? bits === 32 || bits === 64 :
    bits === 8;
  if (!ok) throw fail(`${bits}-bit samples are not valid for ${code === Codec.Float ? 'float' : code === Codec.Pcm ? 'PCM' : 'G.711'} audio`);
  if (blockAlign !== channels * bytes) throw fail(`the block size is ${blockAlign} bytes but ${channels} channel(s) of ${bits}-bit samples need ${channels * bytes}`);
  return { codec: code, channels, sampleRate, bytes, bits };
}

/** Converts whole frames of interleaved little-endian samples to one Float32Array per channel, torchaudio's scale. */
export function convertFrames(raw: Uint8Array, fmt: WavFormat): Float32Array[] {
  const C = fmt.channels;
  const frames = Math.floor(raw.length / (C * fmt.bytes));
  const out = Array.from({ length: C }, () => new Float32Array(frames));
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const step = C * fmt.bytes;
  for (let c = 0; c < C; c++) {
    const x = out[c]!;
    let p = c * fmt.bytes;
    if (fmt.codec === Codec.Float) {
      if (fmt.bytes === 4) for (let i = 0; i < frames; i++, p += step) x[i] = dv.getFloat32(p, true);
      else for (let i = 0; i < frames; i++, p += step) x[i] = dv.getFloat64(p, true);
    } else if (fmt.codec === Codec.Alaw || fmt.codec === Codec.Mulaw) {
      const table = fmt.codec === Codec.Alaw ? ALAW : MULAW;
      for (let i = 0; i < frames; i++, p += step) x[i] = table[raw[p]!]!;
    } else if (fmt.bytes === 1) {
      for (let i = 0; i < frames; i++, p += step) x[i] = (raw[p]! - 128) / 128; // 8-bit WAV is unsigned
    } else if (fmt.bytes === 2) {
      for (let i = 0; i < frames; i++, p += step) x[i] = dv.getInt16(p, true) / 32768;
    } else if (fmt.bytes === 3) {
      for (let i = 0; i < frames; i++, p += step) x[i] = ((raw[p]! | (raw[p + 1]! << 8) | (raw[p + 2]! << 16)) << 8 >> 8) / 8388608;
    } else {
      for (let i = 0; i < frames; i++, p += step) x[i] = dv.getInt32(p, true) / 2147483648;
    }
  }
  return out;
}

type State = 'riff' | 'chunk' | 'skip' | 'fmt' | 'ds64' | 'data' | 'done';

/** Incremental WAV decoder (see the file comment). */
export class WavDecoder implements StreamDecoder {
  #state: State = 'riff';
  #pending: Uint8Array = new Uint8Array(0);
  #need = 12;
  #skip = 0;
  #fmt: WavFormat | null = null;
  #rf64 = false;
  /** The RIFF header's size field (RF64: the ds64 chunk's, when the header holds 0xFFFFFFFF). */
  #riffSize = 0;
  #rf64DataSize = -1;
  #dataLeft = Infinity;
  #chunkSize = 0;

  get format(): WavFormat | null {
    return this.#fmt;
  }

  push(chunk: Uint8Array): DecodedBlock | null {
    let buf = this.#pending.length ? concatBytes(this.#pending, chunk) : chunk;
    this.#pending = new Uint8Array(0);
    const blocks: Float32Array[][] = [];
    while (buf.length > 0 && this.#state !== 'done') {
      if (this.#state === 'skip') {
        const n = Math.min(this.#skip, buf.length);
        this.#skip -= n;
        buf = buf.subarray(n);
        if (this.#skip === 0) this.#state = 'chunk';
        continue;
      }
      if (this.#state === 'data') {
        const frameBytes = this.#fmt!.channels * this.#fmt!.bytes;
        const avail = Math.min(buf.length, this.#dataLeft);
        const whole = avail - (avail % frameBytes);
        if (whole > 0) {
          blocks.push(convertFrames(buf.subarray(0, whole), this.#fmt!));
          this.#dataLeft -= whole;
          buf = buf.subarray(whole);
        }
        if (this.#dataLeft < frameBytes) {
          // The declared audio is complete; whatever follows (other chunks, a pad byte) is not samples.
          this.#state = 'done';
          break;
        }
        if (buf.length < frameBytes) break; // keep the partial frame for the next push
        continue;
      }
      if (buf.length < this.#need) break;
      const head = buf.subarray(0, this.#need);
      buf = buf.subarray(this.#need);
      this.#step(head);
    }
    if (this.#state !== 'done' && buf.length > 0) this.#pending = buf.slice();
    return mergeBlocks(blocks.map((channels) => ({ channels, sampleRate: this.#fmt!.sampleRate })));
  }

  #step(b: Uint8Array): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (this.#state) {
      case 'riff': {
        const id = String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!);
        if ((id !== 'RIFF' && id !== 'RF64' && id !== 'BW64') || String.fromCharCode(b[8]!, b[9]!, b[10]!, b[11]!) !== 'WAVE') {
          throw fail('it does not start with a RIFF/RF64 WAVE header');
        }
        this.#rf64 = id !== 'RIFF';
        this.#riffSize = dv.getUint32(4, true);
        this.#enter('chunk', 8);
        return;
      }
      case 'chunk': {
        const id = String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!);
        const size = dv.getUint32(4, true);
        // RIFF chunks are padded to an even size; the pad byte is not counted in `size`.
        const padded = size + (size & 1);
        if (id === 'fmt ') {
          if (this.#fmt) throw fail('it has two fmt chunks');
          if (size > MAX_FMT_BYTES) throw fail(`its fmt chunk claims ${size} bytes`);
          this.#chunkSize = padded;
          this.#enter('fmt', padded);
        } else if (id === 'ds64' && this.#rf64) {
          if (size < 24 || size > MAX_FMT_BYTES) throw fail(`its ds64 chunk has ${size} bytes`);
          this.#chunkSize = padded;
          this.#enter('ds64', padded);
        } else if (id === 'data') {
          if (!this.#fmt) throw fail('its data chunk comes before the fmt chunk');
          // A writer that cannot seek back (a pipe) leaves 0xFFFFFFFF or 0 as the size; RF64 keeps the real size in
          // ds64. 0xFFFFFFFF (or RF64 without a ds64 size) means: the audio runs to the end of the file. 0 means that
          // only when the RIFF size is unknown too (0 or 0xFFFFFFFF); in a finished file it is an empty data chunk,
          // and what follows it (a LIST chunk, ...) is not audio.
          const declared = this.#rf64 && size === 0xffffffff ? this.#rf64DataSize : size;
          const streamed = this.#riffSize === 0 || this.#riffSize === 0xffffffff;
          const unknown = declared < 0 || declared === 0xffffffff || (declared === 0 && streamed);
          this.#dataLeft = unknown ? Infinity : declared;
          this.#state = declared === 0 && !unknown ? 'done' : 'data';
        } else {
          this.#skip = padded;
          this.#state = padded > 0 ? 'skip' : 'chunk';
          this.#need = 8;
        }
        return;
      }
      case 'fmt':
        this.#fmt = parseFmt(b.subarray(0, this.#chunkSize));
        this.#enter('chunk', 8);
        return;
      case 'ds64': {
        // riffSize(8) dataSize(8) sampleCount(8): the sizes the RF64 header's 32-bit fields could not hold.
        if (this.#riffSize === 0xffffffff) {
          const lo = dv.getUint32(0, true);
          const hi = dv.getUint32(4, true);
          this.#riffSize = lo === 0xffffffff && hi === 0xffffffff ? 0xffffffff : lo + hi * 2 ** 32;
        }
        const size = dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32;
        this.#rf64DataSize = size;
        this.#enter('chunk', 8);
        return;
      }
      default:
        throw new Error(`unreachable WAV state ${this.#state}`);
    }
  }

  #enter(state: State, need: number): void {
    this.#state = state;
    this.#need = need;
  }

  end(): DecodedBlock | null {
    const state = this.#state;
    this.#pending = new Uint8Array(0);
    this.#state = 'done';
    if (state === 'riff') throw fail('the file is shorter than a WAV header');
    // A data chunk cut short is accepted (what was written decodes; a trailing partial frame is dropped), like
    // ffmpeg and sox do; ending before any data chunk is not.
    if (state !== 'data' && state !== 'done') throw fail(this.#fmt ? 'the file ends before its data chunk' : 'the file ends before its fmt chunk');
    return null;
  }

  free(): void {
    this.#pending = new Uint8Array(0);
  }
}
