/**
 * Resampling through the addon: the filter bank of ./resample.ts (the same taps, the same trimming) laid out as
 * torchaudio's conv1d weight, run by LibTorch's conv1d on the calling thread (native/resample.cc), the phases
 * interleaved as torchaudio's `_apply_sinc_resample_kernel` does. The JavaScript path stays the reference and the
 * fallback: this one is used only where the addon loads and the dense bank is small (see NativeResampler.of).
 *
 * Arithmetic: the conv runs in the input's precision (float32 in, float32 taps and sums), as torchaudio's does; the
 * taps are ./resample.ts's float64 ones rounded once. Against torchaudio it stays within the same bars as the JavaScript
 * path (5e-5 float32, 1e-9 float64: test/audio/resample.test.ts); against the JavaScript path it differs by
 * float32 rounding (~1e-7), so a caller must not mix the two for one signal where samples must match bit for bit.
 *
 * Tiles: the addon runs `tile` blocks per conv1d call, all of one shape, so an output is computed the same way
 * whichever call it falls in; `resampleBlocks` lets StreamResampler ask for whole tiles at the same block offsets as a
 * whole-signal call, which keeps it bit-exact.
 */
import { type Binding, binding, hasBinding } from '../model/native';
import { denseBank, keptTapsPerPhase, type Resampler } from './resample';

type AnyFloatArray = Float32Array | Float64Array;
type Run = NonNullable<Binding['resample']>;
type Bank = NonNullable<ReturnType<typeof denseBank>>;

/**
 * Largest dense bank (phases x row) used natively: 2^22 values (16 MiB as float32). 44.1 kHz -> 16 kHz needs 75 k;
 * pairs with a large reduced rate (383,999 Hz) would need billions and stay in JavaScript.
 */
const MAX_WEIGHTS = 1 << 22;
/**
 * Largest ratio of the dense row to the taps the JavaScript path keeps per phase. conv1d multiplies the whole row
 * (zeros included); the JavaScript path only the kept taps. Measured CPU time per 60 s, float32, on a worker thread
 * (bench/resample-native.ts; docs/audio.md): 44.1 kHz -> 16 kHz (row 471 / 34 kept = 14) 1.9-3.1x less than
 * JavaScript, 22.05 kHz -> 16 kHz (27) 1.1-1.7x less, 11.025 kHz -> 16 kHz (38) 0.6-1.2x: a bound between the last two.
 */
const MAX_ROW_RATIO = 32;
/** Outputs per conv1d call: ~1 s at 16 kHz. Fewer calls cost more per output (call overhead, weight reorders). */
const TILE_OUTPUTS = 16384;

/** Set to 'js' to keep every resampling in JavaScript (for comparisons, or if the native path misbehaves). */
const ENV_SWITCH = 'WAV2VEC2_RESAMPLE';

const cache = new WeakMap<Resampler, NativeResampler | null>();

export class NativeResampler {
  readonly orig: number;
  readonly next: number;
  readonly width: number;
  /** Blocks (of `next` outputs from `orig` inputs) per conv1d call. */
  readonly tile: number;
  readonly #taps: number;
  readonly #left: number;
  readonly #weight64: Float64Array;
  #weight32: Float32Array | null = null;
  readonly #run: Run;

  private constructor(bank: Bank, run: Run) {
    this.orig = bank.orig;
    this.next = bank.next;
    this.width = bank.width;
    this.tile = Math.max(1, Math.floor(TILE_OUTPUTS / bank.next));
    this.#taps = bank.taps;
    this.#left = bank.left;
    this.#weight64 = bank.weight;
    this.#run = run;
  }

  /**
   * The native path for `r`, or null where there is none: equal rates, no addon (or one whose LibTorch cannot keep a
   * call on one thread), WAV2VEC2_RESAMPLE=js, or a bank whose dense form is too large or mostly zeros (where it
   * would cost more CPU than JavaScript). Memoized per Resampler. `maxRowRatio` replaces that last bound (tests run
   * every rate pair natively with Infinity); it is not memoized.
   */
  static of(r: Resampler, options: { maxRowRatio?: number } = {}): NativeResampler | null {
    const memo = options.maxRowRatio === undefined;
    if (memo && cache.has(r)) return cache.get(r)!;
    let made: NativeResampler | null = null;
    if (process.env[ENV_SWITCH] !== 'js' && hasBinding()) {
      const run = binding().resample;
      const bank = run ? denseBank(r, MAX_WEIGHTS) : null;
      if (run && bank && bank.taps <= (options.maxRowRatio ?? MAX_ROW_RATIO) * keptTapsPerPhase(r)) made = new NativeResampler(bank, run);
    }
    if (memo) cache.set(r, made);
    return made;
  }

  /** Output samples for `n` input samples: ceil(next * n / orig), as the JavaScript path. */
  outputLength(n: number): number {
    return Math.ceil((this.next * n) / this.orig);
  }

  /** The whole signal, like Resampler.resample for one channel: same length, same precision, a new array. */
  resample<T extends AnyFloatArray>(x: T): T {
    return this.resampleBlocks(x, 0, this.outputLength(x.length));
  }

  /**
   * `count` outputs from block `firstBlock` of `x` (block m: outputs m * next .. m * next + next - 1, read from inputs
   * around m * orig). Equals the same outputs of resample(x) when firstBlock is a multiple of `tile`, and count a
   * multiple of `tile * next` or running to the end; StreamResampler asks only for those.
   */
  resampleBlocks<T extends AnyFloatArray>(x: T, firstBlock: number, count: number): T {
    const weight = (x instanceof Float32Array ? (this.#weight32 ??= Float32Array.from(this.#weight64)) : this.#weight64) as T;
    return this.#run(x, weight, this.next, this.#taps, this.orig, this.#left, firstBlock, count, this.tile);
  }
}
