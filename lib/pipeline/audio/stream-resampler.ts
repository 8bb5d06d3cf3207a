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
 *
 * The native path (options.native) computes only the blocks owed, in whole tiles counted from block 0: the addon's
 * conv1d calls then have the same shape and the same samples as in a whole-signal NativeResampler call, hence the same
 * results (LibTorch picks its algorithm by shape; one shape throughout gives each output the same arithmetic).
 */
import type { Resampler } from '../../audio/resample';
import { NativeResampler } from '../../audio/resample-native';
import { cachedResampler } from './resampler-cache';

export interface StreamResamplerOptions {
  /**
   * Resample with the addon's conv1d where it can (NativeResampler.of), else in JavaScript. Default false. The output
   * then equals NativeResampler.resample on the whole signal, bit for bit (not the JavaScript path's: ~1e-7 apart), and
   * comes in whole tiles (about 1 s at 16 kHz) rather than every quarter second.
   */
  native?: boolean;
}

export class StreamResampler {
  readonly #resampler: Resampler | null;
  /** The native path, when asked for and available: it computes only the blocks owed, in whole tiles. */
  readonly #native: NativeResampler | null = null;
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

  constructor(fromRate: number, toRate: number, options: StreamResamplerOptions = {}) {
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
    if (options.native) {
      this.#native = NativeResampler.of(this.#resampler);
      // Whole tiles from block 0: the same conv1d calls, on the same samples, as a whole-signal call makes.
      if (this.#native) this.#minBlocks = this.#native.tile;
    }
  }

  /** True when the addon resamples (see StreamResamplerOptions.native). */
  get native(): boolean {
    return this.#native !== null;
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
    if (this.#native) {
      // No context to recompute: the addon starts at the first block owed and reads the context from the buffer.
      const to = this.#block + Math.floor((until - this.#block) / this.#minBlocks) * this.#minBlocks;
      const r = this.#native.resampleBlocks(this.#buf.subarray(0, this.#len), this.#block - this.#bufBlock, (to - this.#block) * this.#next);
      this.#block = to;
      this.#drop(Math.max(0, to - this.#context));
      return r;
    }
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
    let r: Float32Array;
    if (this.#native) {
      const total = this.#native.outputLength(this.#bufBlock * this.#orig + this.#len);
      r = this.#native.resampleBlocks(this.#buf.subarray(0, this.#len), this.#block - this.#bufBlock, Math.max(0, total - this.#block * this.#next));
    } else {
      const out = this.#resampler.resample(this.#buf.subarray(0, this.#len));
      r = out.slice((this.#block - this.#bufBlock) * this.#next);
    }
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
