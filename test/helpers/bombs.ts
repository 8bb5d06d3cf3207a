/**
 * Decompression bombs and odd-rate files, made by hand so the tests need no tool: real, valid streams that the
 * reference decoders accept (a test decodes a short one in full to prove it).
 */
import { buildWav } from './audio-corpus';

function crc8(b: Uint8Array): number {
  let c = 0;
  for (const x of b) {
    c ^= x;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(b: Uint8Array): number {
  let c = 0;
  for (const x of b) {
    c ^= x << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** FLAC's UTF-8-like coding of a frame number. */
function utf8(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
  if (n < 0x10000) return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
  return [0xf0 | (n >> 18), 0x80 | ((n >> 12) & 0x3f), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
}

const RATE_CODES: Record<number, number> = { 8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9, 48000: 10, 96000: 11 };

/**
 * One fixed-blocksize FLAC frame of `size` samples per channel, every subframe CONSTANT `value` (16-bit). The rate
 * is written in the frame header, as the reference encoder does (the WASM decoder's framer needs it there).
 */
function constantFrame(index: number, size: number, channels: number, value: number, rate: number): Uint8Array {
  const code = RATE_CODES[rate] ?? (rate <= 0xffff ? 13 : 14);
  const rateTail = code === 13 ? [rate >> 8, rate & 0xff] : code === 14 ? [(rate / 10) >> 8, (rate / 10) & 0xff] : [];
  const head = [0xff, 0xf8, 0x70 | code, ((channels - 1) << 4) | (0b100 << 1), ...utf8(index), (size - 1) >> 8, (size - 1) & 0xff, ...rateTail];
  const h = Uint8Array.from([...head, 0]);
  h[h.length - 1] = crc8(h.subarray(0, h.length - 1));
  const sub: number[] = [];
  for (let c = 0; c < channels; c++) sub.push(0x00, (value >> 8) & 0xff, value & 0xff);
  const body = Uint8Array.from([...h, ...sub, 0, 0]);
  const crc = crc16(body.subarray(0, body.length - 2));
  body[body.length - 2] = crc >> 8;
  body[body.length - 1] = crc & 0xff;
  return body;
}

/**
 * A FLAC file of `seconds` of a constant signal in frames of `blockSize` samples: about 16 bytes per frame, so an
 * hour at 16 kHz is 14 KB. `declareTotal` false writes 0 ("unknown") as STREAMINFO's total sample count.
 */
export function flacBomb(o: { seconds: number; sampleRate?: number; channels?: number; declareTotal?: boolean; blockSize?: number; value?: number }): Uint8Array {
  const rate = o.sampleRate ?? 16000;
  const channels = o.channels ?? 1;
  const block = o.blockSize ?? 65535;
  const total = Math.round(o.seconds * rate);
  const info = new Uint8Array(34);
  const dv = new DataView(info.buffer);
  dv.setUint16(0, block);
  dv.setUint16(2, block);
  // min/max frame size (bytes 4..9) 0: unknown. Then rate (20 bits), channels - 1 (3), bits - 1 (5), total (36).
  const t = o.declareTotal === false ? 0 : total;
  info[10] = rate >> 12;
  info[11] = (rate >> 4) & 0xff;
  info[12] = ((rate & 0x0f) << 4) | ((channels - 1) << 1) | (15 >> 4);
  info[13] = ((15 & 0x0f) << 4) | Math.floor(t / 2 ** 32);
  dv.setUint32(14, t % 2 ** 32);
  const parts: Uint8Array[] = [Uint8Array.from([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34]), info];
  for (let i = 0, done = 0; done < total; i++) {
    const size = Math.min(block, total - done);
    parts.push(constantFrame(i, size, channels, o.value ?? 0, rate));
    done += size;
  }
  return Buffer.concat(parts);
}

/** A WAV of `seconds` of silence (16-bit mono) whose header declares `declaredSeconds` (a lie, or the truth). */
export function wavDeclaring(o: { seconds: number; declaredSeconds: number; sampleRate?: number }): Uint8Array {
  const rate = o.sampleRate ?? 16000;
  return buildWav({ sampleRate: rate, data: new Uint8Array(Math.round(o.seconds * rate) * 2), dataSize: Math.min(0xfffffffe, Math.round(o.declaredSeconds * rate) * 2) });
}
