/**
 * What a file's header declares, read before anything is decoded: the sample rate (so that an unsupported rate is
 * refused before a filter is built for it) and, where the format records it, the length (so that a file declaring
 * hours is refused at once). Also where FLAC's metadata ends: its decoder must get all of it in its first call.
 *
 * These are claims, not facts: a header may lie in either direction, so the decoded samples are counted as well
 * (see decode.ts). A header that cannot be parsed here is left to the decoder, which says what is wrong with it.
 */
import { Wav2Vec2Error } from '../../errors';
import { type AudioFormat, mpegFrameHeader } from '../../audio/detect';

export interface Declared {
  sampleRate: number | null;
  /** Frames (samples per channel) the header declares, null when it does not say. */
  frames: number | null;
  /** FLAC / Ogg FLAC: where the audio frames start (after all metadata); the first decoder call must reach it. */
  audioStart?: number;
}

/**
 * `complete` false: more bytes are needed to read the whole header; what is known so far is given (when the input
 * ends there, or the header is too long to wait for, the decoder gets it and judges).
 */
export type HeaderScan = Declared & { complete: boolean };

const NOTHING: HeaderScan = { sampleRate: null, frames: null, complete: true };
const more = (known: Partial<Declared> = {}): HeaderScan => ({ sampleRate: null, frames: null, ...known, complete: false });

/** More metadata than this before the first FLAC frame (pictures included) is refused, not buffered. */
export const MAX_METADATA_BYTES = 64 * 1024 * 1024;

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

const u32le = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);

/** Reads the header of `b` (the first bytes of a `format` file whose stream starts at `offset`). */
export function scanHeader(format: AudioFormat, b: Uint8Array, offset: number): HeaderScan {
  switch (format) {
    case 'wav': return wavHeader(b);
    case 'flac': return flacHeader(b, offset);
    case 'ogg-flac': return oggFlacHeader(b);
    case 'mp3': return mp3Header(b, offset);
    case 'ogg-vorbis': return NOTHING; // the length of Vorbis is only known from the last page
  }
}

/** RIFF chunks up to the data chunk's header: fmt (rate, frame size), ds64 (RF64 sizes), data (size). */
function wavHeader(b: Uint8Array): HeaderScan {
  if (b.length < 12) return more();
  const rf64 = !ascii(b, 0, 'RIFF');
  const riffSize = u32le(b, 4);
  let rate: number | null = null;
  let blockAlign = 0;
  let ds64Data = -1;
  for (let at = 12; ;) {
    if (at + 8 > b.length) return more({ sampleRate: rate });
    const size = u32le(b, at + 4);
    const body = at + 8;
    if (ascii(b, at, 'data')) {
      // As the decoder reads it (wav.ts): 0xFFFFFFFF, RF64's placeholder, or 0 in a file of unknown size: unknown.
      const declared = rf64 && size === 0xffffffff ? ds64Data : size;
      const streamed = riffSize === 0 || riffSize === 0xffffffff;
      const unknown = declared < 0 || declared === 0xffffffff || (declared === 0 && streamed);
      return { sampleRate: rate, frames: unknown || blockAlign === 0 ? null : Math.floor(declared / blockAlign), complete: true };
    }
    if (body + (ascii(b, at, 'fmt ') || ascii(b, at, 'ds64') ? Math.min(size, 16) : 0) > b.length) return more({ sampleRate: rate });
    if (ascii(b, at, 'fmt ') && size >= 16) {
      rate = u32le(b, body + 4);
      blockAlign = u16le(b, body + 12);
    } else if (ascii(b, at, 'ds64') && rf64 && size >= 16) {
      ds64Data = u32le(b, body + 8) + u32le(b, body + 12) * 2 ** 32;
    }
    at = body + size + (size & 1);
  }
}

/** STREAMINFO's sample rate and total samples (0 there means "unknown"); `at` is where "fLaC" starts. */
function streamInfo(b: Uint8Array, at: number): Declared {
  const s = at + 8; // "fLaC", the block header, then the block
  const rate = (b[s + 10]! << 12) | (b[s + 11]! << 4) | (b[s + 12]! >> 4);
  const total = (b[s + 13]! & 0x0f) * 2 ** 32 + u32be(b, s + 14);
  return { sampleRate: rate || null, frames: total || null };
}

/** Walks the metadata block headers after "fLaC" to the first frame. */
function flacHeader(b: Uint8Array, offset: number): HeaderScan {
  let at = offset + 4;
  for (;;) {
    if (at + 4 > b.length) return more();
    const last = (b[at]! & 0x80) !== 0;
    at += 4 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
    if (at - offset > MAX_METADATA_BYTES) {
      throw new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode this FLAC file: its metadata blocks take more than ${MAX_METADATA_BYTES} bytes before the audio.`);
    }
    if (last) break;
  }
  if (at > b.length) return more();
  // The decoder says what is wrong with a file whose first block is not STREAMINFO.
  const info = (b[offset + 4]! & 0x7f) === 0 && offset + 42 <= at ? streamInfo(b, offset) : NOTHING;
  return { ...info, audioStart: at, complete: true };
}

/**
 * Ogg FLAC: the first page holds the mapping header (0x7F "FLAC", version, header count, then "fLaC" and STREAMINFO);
 * the metadata follows in pages whose granule position is 0. The audio starts at the first page with another one.
 */
function oggFlacHeader(b: Uint8Array): HeaderScan {
  let info: Declared = { sampleRate: null, frames: null };
  for (let at = 0; ;) {
    if (at + 27 > b.length) return more(info);
    if (!ascii(b, at, 'OggS')) return { ...info, audioStart: at, complete: true }; // damage: the decoder will say so
    const segments = b[at + 26]!;
    if (at + 27 + segments > b.length) return more(info);
    let body = 0;
    for (let i = 0; i < segments; i++) body += b[at + 27 + i]!;
    const start = at + 27 + segments;
    const granuleZero = b.subarray(at + 6, at + 14).every((x) => x === 0);
    if (!granuleZero) return { ...info, audioStart: at, complete: true };
    if (at === 0) {
      if (start + 9 + 42 > b.length) return more();
      if (ascii(b, start + 9, 'fLaC')) info = streamInfo(b, start + 9);
    }
    at = start + body;
    if (at > MAX_METADATA_BYTES) {
      throw new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode this Ogg FLAC file: its header pages take more than ${MAX_METADATA_BYTES} bytes before the audio.`);
    }
  }
}

/**
 * MP3: the rate from the first frame; the frame count from a Xing/Info tag (LAME, most VBR encoders) or a VBRI tag
 * (Fraunhofer) in the first frame, where there is one. Constant-bitrate files without one declare no length.
 */
function mp3Header(b: Uint8Array, offset: number): HeaderScan {
  if (b.length < offset + 4) return more();
  const h = mpegFrameHeader(b, offset);
  if (!h) return NOTHING;
  const mpeg1 = h.sampleRate >= 32000;
  const perFrame = h.layer === 1 ? 384 : h.layer === 2 || mpeg1 ? 1152 : 576;
  const side = mpeg1 ? (h.channels === 1 ? 17 : 32) : (h.channels === 1 ? 9 : 17);
  const xing = offset + 4 + side;
  const vbri = offset + 4 + 32;
  if (xing + 12 > b.length || vbri + 18 > b.length) return more({ sampleRate: h.sampleRate });
  let frames: number | null = null;
  if ((ascii(b, xing, 'Xing') || ascii(b, xing, 'Info')) && (u32be(b, xing + 4) & 1)) frames = u32be(b, xing + 8);
  else if (ascii(b, vbri, 'VBRI')) frames = u32be(b, vbri + 14);
  return { sampleRate: h.sampleRate, frames: frames ? frames * perFrame : null, complete: true };
}
