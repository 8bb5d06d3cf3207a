/**
 * Container detection from the first bytes (never from a file name: a .wav that is really an MP3 is common).
 * Recognises what we decode and, for a useful message, the common formats we do not.
 */

export type AudioFormat = 'wav' | 'flac' | 'mp3' | 'ogg-vorbis' | 'ogg-flac';

export type Detection =
  /** A format we decode. For MP3, `offset` is where the first MPEG frame header starts (after any ID3v2 tag). */
  | { kind: 'supported'; format: AudioFormat; offset: number }
  /** A format we recognise but do not decode (`name` says which). */
  | { kind: 'unsupported'; name: string }
  /** Nothing we recognise. */
  | { kind: 'unknown' }
  /** Too few bytes to decide: call again with at least `bytes` bytes (or with everything there is). */
  | { kind: 'need-more'; bytes: number };

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

const MPEG_BITRATES_KBPS = {
  // [version 1 | version 2/2.5][layer 1..3][index]
  v1: [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  v2: [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
};
const MPEG_RATES = [[11025, 12000, 8000], [0, 0, 0], [22050, 24000, 16000], [44100, 48000, 32000]]; // by version bits

export interface MpegFrameHeader {
  sampleRate: number;
  /** 1 for single-channel mode, else 2. */
  channels: number;
  /** Bytes in this frame, or 0 for free-format bitrate (length unknown from the header). */
  frameBytes: number;
  layer: 1 | 2 | 3;
}

/** Parses an MPEG audio frame header at `at`, or returns null when those 4 bytes are not one. */
export function mpegFrameHeader(b: Uint8Array, at: number): MpegFrameHeader | null {
  if (at + 4 > b.length) return null;
  const b1 = b[at + 1]!;
  const b2 = b[at + 2]!;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3; // 0: MPEG 2.5, 1: reserved, 2: MPEG 2, 3: MPEG 1
  const layerBits = (b1 >> 1) & 3; // 0: reserved (ADTS AAC uses it), 1: layer III, 2: II, 3: I
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layerBits === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const sampleRate = MPEG_RATES[version]![rateIndex]!;
  const kbps = (version === 3 ? MPEG_BITRATES_KBPS.v1 : MPEG_BITRATES_KBPS.v2)[layer - 1]![bitrateIndex]!;
  const padding = (b2 >> 1) & 1;
  let frameBytes = 0;
  if (kbps > 0) {
    if (layer === 1) frameBytes = (Math.floor((12 * kbps * 1000) / sampleRate) + padding) * 4;
    else frameBytes = Math.floor(((layer === 3 && version !== 3 ? 72 : 144) * kbps * 1000) / sampleRate) + padding;
  }
  const channels = (b[at + 3]! >> 6) === 3 ? 1 : 2;
  return { sampleRate, channels, frameBytes, layer };
}

/** Size of an ID3v2 tag at `at` (header, body and footer), or 0 when there is none. */
function id3v2Size(b: Uint8Array, at: number): number {
  if (!ascii(b, at, 'ID3') || at + 10 > b.length) return 0;
  const s = b.subarray(at + 6, at + 10);
  if (s.some((x) => x & 0x80)) return 0; // sizes are 4 x 7-bit "syncsafe" bytes
  const body = (s[0]! << 21) | (s[1]! << 14) | (s[2]! << 7) | s[3]!;
  return 10 + body + (b[at + 5]! & 0x10 ? 10 : 0);
}

const MAX_ID3_BYTES = 64 * 1024 * 1024;

// How far past an ID3v2 tag we look for the first MPEG frame (encoders sometimes leave padding there).
const MPEG_SYNC_SEARCH = 64 * 1024;

/** Finds the first MPEG frame at or after `from` whose successor frame header is where its length says. */
function findMpegFrame(b: Uint8Array, from: number, limit: number, complete: boolean): number | 'need-more' | -1 {
  const end = Math.min(b.length - 3, from + limit);
  for (let at = from; at < end; at++) {
    const h = mpegFrameHeader(b, at);
    if (!h) continue;
    // One frame header is 11 set bits and a few valid fields: common by chance in compressed data. A second
    // header exactly one frame later makes it certain; a lone frame at the very end of a file is accepted.
    if (h.frameBytes === 0) return at;
    const next = at + h.frameBytes;
    if (next + 4 > b.length) return complete ? at : 'need-more';
    if (mpegFrameHeader(b, next)) return at;
  }
  if (!complete && from + limit > b.length) return 'need-more';
  return -1;
}

function oggCodec(b: Uint8Array): Detection {
  // First page: 27-byte header, segment table, then the first packet (the codec's identification header).
  if (b.length < 27) return { kind: 'need-more', bytes: 27 };
  const start = 27 + b[26]!;
  if (b.length < start + 8) return { kind: 'need-more', bytes: start + 8 };
  if (ascii(b, start, '\x01vorbis')) return { kind: 'supported', format: 'ogg-vorbis', offset: 0 };
  if (ascii(b, start, '\x7fFLAC')) return { kind: 'supported', format: 'ogg-flac', offset: 0 };
  if (ascii(b, start, 'OpusHead')) return { kind: 'unsupported', name: 'Ogg Opus' };
  if (ascii(b, start, 'Speex   ')) return { kind: 'unsupported', name: 'Ogg Speex' };
  if (ascii(b, start, '\x80theora')) return { kind: 'unsupported', name: 'Ogg Theora (video)' };
  return { kind: 'unsupported', name: 'Ogg with an unknown codec' };
}

/**
 * Detects the container of `b`, the first bytes of a file. `complete` says `b` is the whole file (so a short
 * buffer is a verdict, not a reason to wait for more).
 */
export function detectFormat(b: Uint8Array, complete = false): Detection {
  const more = (bytes: number): Detection => (complete ? { kind: 'unknown' } : { kind: 'need-more', bytes });
  if (b.length < 12 && !complete) return { kind: 'need-more', bytes: 12 };
  if ((ascii(b, 0, 'RIFF') || ascii(b, 0, 'RF64') || ascii(b, 0, 'BW64')) && ascii(b, 8, 'WAVE')) return { kind: 'supported', format: 'wav', offset: 0 };
  if (ascii(b, 0, 'RIFX') && ascii(b, 8, 'WAVE')) return { kind: 'unsupported', name: 'big-endian WAV (RIFX)' };
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'AVI ')) return { kind: 'unsupported', name: 'AVI (video)' };
  if (ascii(b, 0, 'fLaC')) return { kind: 'supported', format: 'flac', offset: 0 };
  if (ascii(b, 0, 'OggS')) {
    const d = oggCodec(b);
    return d.kind === 'need-more' && complete ? { kind: 'unknown' } : d;
  }
  if (ascii(b, 0, 'ID3')) {
    if (b.length < 10) return more(10);
    const tag = id3v2Size(b, 0);
    if (tag === 0) return { kind: 'unknown' };
    // Cover art makes tags of a few MB; a larger claim is damage, and reading on would buffer all of it.
    if (tag > MAX_ID3_BYTES) return { kind: 'unsupported', name: `ID3-tagged data with a ${tag}-byte tag (more than ${MAX_ID3_BYTES} is not accepted)` };
    if (b.length < tag + 4) return more(tag + 4);
    if (ascii(b, tag, 'fLaC')) return { kind: 'supported', format: 'flac', offset: tag };
    const at = findMpegFrame(b, tag, MPEG_SYNC_SEARCH, complete);
    if (at === 'need-more') return more(Math.min(b.length * 2, tag + MPEG_SYNC_SEARCH + 8192));
    return at >= 0 ? { kind: 'supported', format: 'mp3', offset: at } : { kind: 'unsupported', name: 'ID3-tagged data without MPEG audio frames' };
  }
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xf6) === 0xf0) return { kind: 'unsupported', name: 'AAC (ADTS)' };
  if (mpegFrameHeader(b, 0)) {
    const at = findMpegFrame(b, 0, 1, complete);
    if (at === 'need-more') return more(4096);
    if (at === 0) return { kind: 'supported', format: 'mp3', offset: 0 };
  }
  if (ascii(b, 0, 'FORM') && (ascii(b, 8, 'AIFF') || ascii(b, 8, 'AIFC'))) return { kind: 'unsupported', name: 'AIFF' };
  if (ascii(b, 4, 'ftyp')) return { kind: 'unsupported', name: 'MP4/M4A (AAC, ALAC)' };
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { kind: 'unsupported', name: 'WebM/Matroska' };
  if (ascii(b, 0, '#!AMR')) return { kind: 'unsupported', name: 'AMR' };
  if (ascii(b, 0, '.snd')) return { kind: 'unsupported', name: 'Sun/NeXT AU' };
  if (ascii(b, 0, 'caff')) return { kind: 'unsupported', name: 'Core Audio (CAF)' };
  if (ascii(b, 0, 'wvpk')) return { kind: 'unsupported', name: 'WavPack' };
  if (ascii(b, 0, 'MAC ')) return { kind: 'unsupported', name: "Monkey's Audio" };
  if (ascii(b, 0, 'MThd')) return { kind: 'unsupported', name: 'MIDI' };
  if (ascii(b, 0, '0&\xb2\x75\x8e\x66\xcf\x11')) return { kind: 'unsupported', name: 'ASF/WMA' };
  return { kind: 'unknown' };
}

/** A short human name for messages. */
export function formatName(f: AudioFormat): string {
  return { wav: 'WAV', flac: 'FLAC', mp3: 'MP3', 'ogg-vorbis': 'Ogg Vorbis', 'ogg-flac': 'Ogg FLAC' }[f];
}
