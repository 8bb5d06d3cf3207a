/**
 * Cuts native FLAC audio into whole frames, so the decoder can be fed a bounded number of frames per call.
 *
 * Why not just feed small byte slices: @audio/decode-flac 1.3.5's framer (`rawParser`) misses a frame whose header
 * straddles two of its input chunks (it needs the header and its CRC-8 in one buffer, and moves past the sync
 * otherwise), after which frames merge and are lost; with 1 KiB slices a stereo 44.1 kHz file lost 0.5 % of its
 * samples. Fed whole frames, each call ends on a frame boundary and the next starts with a complete header.
 *
 * The boundaries are found by the same rule as that framer's, so both agree: a frame starts at a sync code with a
 * valid header (CRC-8) where the bytes since the previous frame start have a CRC-16 of zero.
 */
import { Wav2Vec2Error } from '../../errors';
import { concatBytes } from '../../audio/stream';

/**
 * A FLAC frame is at most 65,535 samples x 8 channels x 32 bits (2 MiB) plus headers; what follows the last frame
 * (an APEv2 tag with cover art) can be larger. Beyond this, no frame boundary is damage, not something to buffer.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const CRC16 = Uint16Array.from({ length: 256 }, (_, i) => {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x8005 : c << 1;
  return c & 0xffff;
});

/** Length of a valid frame header at p (CRC-8 included), -1 when there is none, 0 when the bytes end first. */
function headerLength(b: Uint8Array, p: number): number {
  if (p + 1 < b.length && (b[p] !== 0xff || (b[p + 1]! & 0xfe) !== 0xf8)) return -1;
  if (p + 5 > b.length) return 0;
  const bs = b[p + 2]! >> 4;
  const sr = b[p + 2]! & 15;
  if (!bs || sr === 15 || b[p + 3]! >> 4 > 10 || b[p + 3]! & 1) return -1;
  const c = b[p + 4]!;
  const n = c < 128 ? 0 : c < 224 ? 1 : c < 240 ? 2 : c < 248 ? 3 : c < 252 ? 4 : c < 254 ? 5 : 6;
  const q = p + 5 + n + (bs === 6 ? 1 : bs === 7 ? 2 : 0) + (sr === 12 ? 1 : sr === 13 || sr === 14 ? 2 : 0);
  if (q >= b.length) return 0;
  let crc = 0;
  for (let i = p; i < q; i++) {
    crc ^= b[i]!;
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 7) & 0xff : (crc << 1) & 0xff;
  }
  return crc === b[q] ? q - p + 1 : -1;
}

/**
 * Push the audio bytes (after the metadata) in any chunking; get back runs of whole frames, each of about `runBytes`
 * (at least one frame): few frames per decoder call, however many a chunk completes.
 */
export class FlacFramer {
  /** Bytes from the start of the current frame on. */
  #buf: Uint8Array = new Uint8Array(0);
  #scan = 0;
  #crc = 0;

  constructor(readonly runBytes: number) {}

  /** The runs of whole frames that `chunk` completes. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = this.#buf.length ? concatBytes(this.#buf, chunk) : chunk;
    const b = this.#buf;
    const runs: Uint8Array[] = [];
    let run = 0; // start of the run being gathered
    let frame = 0; // start of the current frame
    for (; this.#scan < b.length; this.#scan++) {
      const s = this.#scan;
      if (s > frame + 3 && this.#crc === 0 && b[s] === 0xff) {
        const h = headerLength(b, s);
        if (h === 0) break; // the header is cut off here: look again when more bytes have come
        if (h > 0) {
          frame = s;
          if (frame - run >= this.runBytes) {
            runs.push(b.subarray(run, frame));
            run = frame;
          }
          this.#crc = CRC16[b[s]!]!; // the new frame's CRC so far: its first byte
          continue;
        }
      }
      this.#crc = CRC16[(this.#crc >> 8) ^ b[s]!]! ^ ((this.#crc << 8) & 0xffff);
    }
    if (this.#scan - frame > MAX_FRAME_BYTES) {
      throw new Wav2Vec2Error('AUDIO_DECODE_FAILED', `Cannot decode this FLAC file: no valid frame boundary in ${MAX_FRAME_BYTES} bytes (a damaged frame).`);
    }
    if (frame > run) runs.push(b.subarray(run, frame));
    // Kept: the current frame, copied so that the caller's chunk is not held on to by a view.
    this.#buf = b.slice(frame);
    this.#scan -= frame;
    return runs;
  }

  /** What is left: the last frame (and whatever follows it). */
  end(): Uint8Array {
    const rest = this.#buf;
    this.#buf = new Uint8Array(0);
    return rest;
  }
}
