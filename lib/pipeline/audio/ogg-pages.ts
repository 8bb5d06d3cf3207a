/**
 * Cuts an Ogg stream into whole pages, so Ogg FLAC reaches its decoder one page per call: a page holds at most 255
 * packets (FLAC frames of at most 65,535 samples), which bounds what one call can decode. Byte slices are not used
 * for the same reason as in flac-frames.ts: the decoder must see each unit whole.
 */
import { concatBytes } from '../../audio/stream';

const isCapture = (b: Uint8Array, at: number) => b[at] === 0x4f && b[at + 1] === 0x67 && b[at + 2] === 0x67 && b[at + 3] === 0x53;

/**
 * Bytes that are not a page are skipped up to the next "OggS" capture pattern, as Ogg demuxers (and the decoder, fed
 * them) do: `from` is where the next page may start.
 */
function resync(b: Uint8Array): number {
  for (let at = 1; at + 4 <= b.length; at++) if (isCapture(b, at)) return at;
  return Math.max(0, b.length - 3); // a capture pattern may be cut off at the end
}

/** Bytes of the page starting at `at`, or 0 when its header or body has not all arrived. */
function pageLength(b: Uint8Array, at: number): number {
  if (at + 27 > b.length) return 0;
  const segments = b[at + 26]!;
  if (at + 27 + segments > b.length) return 0;
  let body = 0;
  for (let i = 0; i < segments; i++) body += b[at + 27 + i]!;
  const len = 27 + segments + body;
  return at + len <= b.length ? len : 0;
}

export class OggPager {
  #buf: Uint8Array = new Uint8Array(0);

  /** The next whole page or pages `chunk` completes (at most one page per call to keep each decode bounded). */
  push(chunk: Uint8Array): Uint8Array | null {
    this.#buf = this.#buf.length ? concatBytes(this.#buf, chunk) : chunk;
    if (this.#buf.length >= 4 && !isCapture(this.#buf, 0)) this.#buf = this.#buf.subarray(resync(this.#buf));
    const len = pageLength(this.#buf, 0);
    if (len === 0) return null;
    const page = this.#buf.subarray(0, len);
    this.#buf = this.#buf.subarray(len);
    return page;
  }

  /** Pages still held: called until it returns null once the input has ended. */
  next(): Uint8Array | null {
    return this.push(new Uint8Array(0));
  }

  end(): Uint8Array {
    const rest = this.#buf;
    this.#buf = new Uint8Array(0);
    return rest;
  }
}
