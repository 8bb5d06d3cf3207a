/**
 * Resampling of a signal that arrives in pieces, with exactly the samples `Resampler.resample` gives for the whole
 * signal: long files are read as a stream, and holding an hour of audio to resample it at once would make memory
 * grow with the file.
 *
 * Why it is exact: after gcd reduction the filter bank turns every `orig` input samples into `next` outputs, and
 * output block m reads inputs [m·orig − width, m·orig + width + orig). A segment that starts on a block boundary
 * (a multiple of `orig`) gives, for every block whose taps lie inside it, the same taps over the same samples in
 * the same order as the whole signal. So each step resamples a segment that starts a few blocks before the first
 * block still owed (its left context) and keeps only the blocks whose right context has arrived; `end()` does the
 * rest, where the whole-signal computation also sees the end of the signal.
 */
import type { Resampler } from '../../audio/resample';
import { cachedResampler } from './resampler-cache';

export class StreamResampler {
  readonly #resampler: Resampler | null;
  readonly #orig: number;
  readonly #next: number;
  readonly #width: number;
  /** Blocks of left context kept before the next block owed. */
  readonly #context: number;
  /** Fewest new blocks worth a resampling call (the left context is recomputed each time). */
  readonly #minBlocks: number;
  #buf = new Float32Array(0);
  #len = 0;
  /** Block index of #buf[0] (the buffer always starts on a block boundary). */
  #bufBlock = 0;
  /** Next output block to produce. */
  #block = 0;
  #ended = false;

  constructor(fromRate: number, toRate: number) {
    if (fromRate === toRate) {
      this.#resampler = null;
      this.#orig = this.#next = 1;
      this.#width = 0;
      this.#context = 0;
      this.#minBlocks = 1;
      return;
    }
    this.#resampler = cachedResampler(fromRate, toRate);
    const g = gcd(fromRate, toRate);
    this.#orig = fromRate / g;
    this.#next = toRate / g;
    this.#width = this.#resampler.width; // of the reduced pair, like everything below
    this.#context = Math.ceil(this.#width / this.#orig) + 1;
    // About a quarter of a second of input per call keeps the recomputed context a small fraction of the work.
    this.#minBlocks = Math.max(1, Math.ceil(fromRate / 4 / this.#orig));
  }

  /** Feeds input samples; returns the output samples they complete (often none for a small piece). */
  push(x: Float32Array): Float32Array {
    if (this.#ended) throw new Error('StreamResampler: push() after end()');
    if (!this.#resampler) return x;
    this.#append(x);
    const inEnd = (this.#bufBlock * this.#orig) + this.#len;
    // Block m is complete when m·orig + width + orig <= inEnd.
    const until = Math.floor((inEnd - this.#width) / this.#orig);
    if (until - this.#block < this.#minBlocks) return new Float32Array(0);
    const segEnd = Math.min(this.#len, (until - this.#bufBlock) * this.#orig + this.#width + this.#orig);
    const out = this.#resampler.resample(this.#buf.subarray(0, segEnd));
    const r = out.slice((this.#block - this.#bufBlock) * this.#next, (until - this.#bufBlock) * this.#next);
    this.#block = until;
    this.#drop(Math.max(0, until - this.#context));
    return r;
  }

  /** No more input: the last output samples (torchaudio's length for the whole signal in all). */
  end(): Float32Array {
    if (this.#ended) return new Float32Array(0);
    this.#ended = true;
    if (!this.#resampler) return new Float32Array(0);
    if (this.#len === 0) return new Float32Array(0);
    const out = this.#resampler.resample(this.#buf.subarray(0, this.#len));
    const r = out.slice((this.#block - this.#bufBlock) * this.#next);
    this.#buf = new Float32Array(0);
    this.#len = 0;
    return r;
  }

  #append(x: Float32Array): void {
    if (this.#len + x.length > this.#buf.length) {
      const grown = new Float32Array(Math.max(this.#len + x.length, this.#buf.length * 2, 4096));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(x, this.#len);
    this.#len += x.length;
  }

  /** Forgets the input before block `block`. */
  #drop(block: number): void {
    const n = (block - this.#bufBlock) * this.#orig;
    if (n <= 0) return;
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
    this.#bufBlock = block;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
