/**
 * Band-limited sinc resampling with the exact semantics of `torchaudio.functional.resample` and
 * `torchaudio.transforms.Resample` (pytorch/audio src/torchaudio/functional/functional.py,
 * `_get_sinc_resample_kernel` / `_apply_sinc_resample_kernel` / `resample`, read at commit
 * b29b6ad97020c7ac98fdcad7c4d83492996322d0): the rates are reduced by their gcd, one windowed-sinc filter is
 * built per output phase, the input is zero-padded by `width` on the left and `width + orig` on the right, the
 * filters run as a conv1d with stride `orig`, and the output is cut to `ceil(new * n / orig)` samples.
 *
 * Kept on purpose: the Kaiser window uses beta rounded to float32 and a float32 I0(beta) (see ./bessel.ts).
 *
 * Two deliberate differences in arithmetic, not in semantics:
 * - The kernel is always built in float64 and every output is accumulated in float64, then rounded once to the
 *   caller's precision. torchaudio builds the kernel in the waveform's dtype, so for float32 input its own
 *   rounding reaches ~1.5e-5 on long kernels; ours is the exact result rounded to float32.
 * - Each phase's filter is trimmed to the taps where |t| < lowpassFilterWidth. torchaudio clamps t to
 *   ±lowpassFilterWidth and keeps those taps, whose values are sin(±W·π)/(±W·π) · window(±W) — below 1e-16 for
 *   the integer widths accepted here (torchaudio also takes fractional ones; they are refused, see docs/audio.md).
 *   Trimming them makes the filter ~14× shorter for 44.1 kHz -> 16 kHz (34 taps instead of 475) and changes no
 *   output by more than ~1e-15.
 */
import { checkOptionKeys, invalid, optionKeys } from '../errors';
import { isFiniteNumber, isFloatArray, isObject, isPositiveInteger } from '../is';
import type { FloatTensor } from '../tensor';
import { besselI0, torchI0Float32 } from './bessel';

export type ResamplingMethod = 'sinc_interp_hann' | 'sinc_interp_kaiser';

export interface ResampleOptions {
  /**
   * Zero crossings of the sinc on each side: sharper and slower when larger. Positive integer, default 6. No upper
   * bound of its own: the filter bank it makes must fit 2^24 taps.
   */
  lowpassFilterWidth?: number;
  /**
   * Cut-off as a fraction of the lower Nyquist frequency: any positive number, default 0.99. Above 1 the filter
   * lets aliasing through (torchaudio accepts it too).
   */
  rolloff?: number;
  /** Window of the sinc. Default 'sinc_interp_hann'. */
  resamplingMethod?: ResamplingMethod;
  /**
   * Kaiser window shape, default 14.769656459379492 (torchaudio's). Used by 'sinc_interp_kaiser' only; ignored with
   * the Hann window, as torchaudio ignores it. The window depends on |beta|; |beta| must be at most 88, where
   * torch's float32 I0(beta), which divides the window, is still finite.
   */
  beta?: number;
}

/** A waveform: one channel, channels as separate arrays, or a `{data, shape: [..., time]}` tensor. */
export type Waveform<T extends Float32Array | Float64Array = Float32Array | Float64Array> = T | T[] | FloatTensor<T>;

const DEFAULT_BETA = 14.769656459379492;
// torchaudio still accepts the method names it used before 2.0 (with a deprecation warning) and maps them.
const METHOD_ALIASES: Record<string, ResamplingMethod> = {
  sinc_interp_hann: 'sinc_interp_hann',
  sinc_interp_kaiser: 'sinc_interp_kaiser',
  sinc_interpolation: 'sinc_interp_hann',
  kaiser_window: 'sinc_interp_kaiser',
};

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

interface Plan {
  /** Rates after gcd reduction. */
  orig: number;
  next: number;
  width: number;
  /** Phase j's filter: taps[tapStart[j] .. tapStart[j] + tapLen[j]), applied from input tap index first[j]. */
  taps: Float64Array;
  tapStart: Int32Array;
  tapLen: Int32Array;
  first: Int32Array;
}

function checkRate(what: string, v: unknown): number {
  // torchaudio refuses non-integer rates too (it asks for an equivalent integer ratio instead).
  if (!isPositiveInteger(v)) throw invalid('INVALID_INPUT', what, 'a positive integer (Hz)', v, 'For a fractional rate, pass an integer pair with the same ratio.');
  return v;
}

/**
 * Largest |beta|: torchaudio divides the Kaiser window by `torch.i0` of a float32 beta, which overflows to Infinity
 * above ~88.7 and turns every filter into zeros (or NaN). Refused rather than reproduced.
 */
const MAX_BETA = 88;

const RESAMPLE_OPTION_KEYS = optionKeys<ResampleOptions>({ lowpassFilterWidth: true, rolloff: true, resamplingMethod: true, beta: true });

function checkOptions(options: ResampleOptions | undefined): Required<Omit<ResampleOptions, 'beta'>> & { beta: number } {
  if (options === undefined) return { lowpassFilterWidth: 6, rolloff: 0.99, resamplingMethod: 'sinc_interp_hann', beta: DEFAULT_BETA };
  if (!isObject(options)) throw invalid('INVALID_INPUT', 'resample options', 'an object', options);
  checkOptionKeys('resample options', options, RESAMPLE_OPTION_KEYS);
  const lowpassFilterWidth = options.lowpassFilterWidth ?? 6;
  // torchaudio takes any positive width; an integer keeps the sinc's zero crossings at the clamped ends, which the
  // tap trimming relies on (see the file comment). The size limit is the filter bank's, checked in makePlan.
  if (!isPositiveInteger(lowpassFilterWidth)) {
    throw invalid('INVALID_INPUT', 'lowpassFilterWidth', 'a positive integer', options.lowpassFilterWidth);
  }
  const rolloff = options.rolloff ?? 0.99;
  // torchaudio checks nothing; 0 or less gives it an infinite or negative filter width and an exception.
  if (!isFiniteNumber(rolloff) || rolloff <= 0) throw invalid('INVALID_INPUT', 'rolloff', 'a positive number', options.rolloff);
  const method = METHOD_ALIASES[String(options.resamplingMethod ?? 'sinc_interp_hann')];
  if (method === undefined || (options.resamplingMethod !== undefined && typeof options.resamplingMethod !== 'string')) {
    throw invalid('INVALID_INPUT', 'resamplingMethod', "'sinc_interp_hann' or 'sinc_interp_kaiser'", options.resamplingMethod);
  }
  if (options.beta !== undefined && !isFiniteNumber(options.beta)) throw invalid('INVALID_INPUT', 'beta', 'a finite number', options.beta);
  let beta = DEFAULT_BETA;
  if (method === 'sinc_interp_kaiser' && options.beta !== undefined) {
    if (Math.abs(options.beta) > MAX_BETA) {
      throw invalid('INVALID_INPUT', 'beta', `a number within [-${MAX_BETA}, ${MAX_BETA}]`, options.beta,
        `torch's float32 I0(beta) overflows above that and torchaudio's filters become zeros.`);
    }
    beta = options.beta;
  }
  return { lowpassFilterWidth, rolloff, resamplingMethod: method, beta };
}

// Largest filter bank we build (phases × taps kept). Real rate pairs need far less (44.1 kHz -> 16 kHz: 5.4k taps;
// any pair of rates below 1 MHz: < 2^24); a pathological pair must fail with an error, not an allocation of gigabytes.
const MAX_KERNEL_TAPS = 1 << 24;

function makePlan(origFreq: number, newFreq: number, opts: ReturnType<typeof checkOptions>): Plan {
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const next = newFreq / g;
  const W = opts.lowpassFilterWidth;
  const baseFreq = Math.min(orig, next) * opts.rolloff;
  if (!Number.isFinite(baseFreq)) throw invalid('INVALID_INPUT', 'rolloff', `a positive number small enough that ${Math.min(orig, next)} * rolloff is finite`, opts.rolloff);
  const width = Math.ceil((W * orig) / baseFreq);
  const K = 2 * width + orig;
  if (!(next * (2 * width + 1) <= MAX_KERNEL_TAPS)) {
    throw invalid('INVALID_INPUT', `resample ${origFreq} -> ${newFreq}`, 'rates and options that need at most 2^24 filter taps', `${next} phases of ${2 * width + 1} taps`,
      `Round one rate so that the two share a larger common divisor, or use a smaller lowpassFilterWidth (${W}) or a larger rolloff (${opts.rolloff}).`);
  }
  const kaiser = opts.resamplingMethod === 'sinc_interp_kaiser';
  // torchaudio makes beta a float32 scalar tensor (`torch.tensor(float(beta))`) and divides by its float32 i0, even
  // for float64 waveforms: the filters carry both roundings, so ours do too.
  const beta = Math.fround(opts.beta);
  const i0beta = kaiser ? torchI0Float32(beta) : 1;
  const scale = baseFreq / orig;
  const kernels: Float64Array[] = [];
  const first = new Int32Array(next);
  const reach = W / baseFreq;
  for (let j = 0; j < next; j++) {
    // Same expression order as torchaudio (float64 path): idx = arange(-width, width + orig) / orig,
    // t = arange(0, -new, -1) / new + idx, t *= base_freq, clamp to ±W. Only the taps near |t| < W are visited
    // (a margin of 2 absorbs rounding in the bounds); the exact test below decides.
    const t0 = -j / next;
    const from = Math.max(0, Math.floor(width + orig * (j / next - reach)) - 2);
    const to = Math.min(K, Math.ceil(width + orig * (j / next + reach)) + 3);
    const row = new Float64Array(Math.max(0, to - from));
    let lo = to;
    let hi = from;
    for (let i = from; i < to; i++) {
      const tu = (t0 + (i - width) / orig) * baseFreq;
      if (Math.abs(tu) >= W) continue; // clamped tap: |value| < 1e-16, see the file comment
      if (i < lo) lo = i;
      hi = i + 1;
      const window = kaiser
        ? besselI0(beta * Math.sqrt(1 - (tu / W) ** 2)) / i0beta
        : Math.cos((tu * Math.PI) / W / 2) ** 2;
      const tp = tu * Math.PI;
      const sinc = tp === 0 ? 1 : Math.sin(tp) / tp;
      row[i - from] = sinc * (window * scale);
    }
    if (hi <= lo) hi = lo = from;
    first[j] = lo;
    kernels.push(row.slice(lo - from, hi - from));
  }
  const tapStart = new Int32Array(next);
  const tapLen = new Int32Array(next);
  let total = 0;
  kernels.forEach((k, j) => {
    tapStart[j] = total;
    tapLen[j] = k.length;
    total += k.length;
  });
  const taps = new Float64Array(total);
  kernels.forEach((k, j) => taps.set(k, tapStart[j]!));
  return { orig, next, width, taps, tapStart, tapLen, first };
}

type AnyFloatArray = Float32Array | Float64Array;

/** Output samples for `n` input samples: torchaudio's `ceil(new * n / orig)` on the gcd-reduced rates, in float64 like Python. */
function targetLength(plan: Plan, n: number): number {
  return Math.ceil((plan.next * n) / plan.orig);
}

function applyPlan<T extends AnyFloatArray>(plan: Plan, x: T): T {
  const n = x.length;
  const outLen = targetLength(plan, n);
  const out = new (x.constructor as { new (n: number): T })(outLen);
  const { orig, next, width, taps, tapStart, tapLen, first } = plan;
  for (let k = 0, m = 0; k < outLen; m++) {
    // Output block m covers outputs m*next .. m*next+next-1; tap i of every phase reads x[m*orig + i - width].
    const base = m * orig - width;
    for (let j = 0; j < next && k < outLen; j++, k++) {
      const start = base + first[j]!;
      const len = tapLen[j]!;
      const t0 = tapStart[j]!;
      let acc = 0;
      if (start >= 0 && start + len <= n) {
        // Interior: no padding in reach. Four partial sums let the loads and multiplies overlap.
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 4 <= len; i += 4) {
          acc += taps[t0 + i]! * x[start + i]!;
          a1 += taps[t0 + i + 1]! * x[start + i + 1]!;
          a2 += taps[t0 + i + 2]! * x[start + i + 2]!;
          a3 += taps[t0 + i + 3]! * x[start + i + 3]!;
        }
        for (; i < len; i++) acc += taps[t0 + i]! * x[start + i]!;
        acc += a1 + a2 + a3;
      } else {
        // Near the ends, taps that fall on the zero padding contribute nothing: clip the tap range to the signal.
        const i0 = start < 0 ? -start : 0;
        const i1 = Math.min(len, n - start);
        for (let i = i0; i < i1; i++) acc += taps[t0 + i]! * x[start + i]!;
      }
      out[k] = acc;
    }
  }
  return out;
}

/** Each Resampler's plan, for denseBank (the class keeps it private). */
const plans = new WeakMap<object, Plan>();

/** A filter bank as the rows of one conv1d weight: what lib/audio/resample-native.ts hands to the addon. */
export interface DenseBank {
  /** Rates after gcd reduction: the conv's stride and its output channels (phases). */
  orig: number;
  next: number;
  /** torchaudio's `width`. */
  width: number;
  /** Row length: from the first tap any phase keeps to the last. */
  taps: number;
  /** Zeros before the signal: tap 0 of block m reads input m * orig - left. */
  left: number;
  /** `next` rows of `taps`, row-major. */
  weight: Float64Array;
}

/**
 * Not public API. The bank of `r` laid out as torchaudio's conv1d weight ([new, 1, 2 * width + orig]), cut to the
 * columns where some phase keeps a tap: each phase's taps at its offset, zeros elsewhere, the same values as the
 * JavaScript path uses. Null for equal rates, and where the layout would exceed `maxWeights` values (a dense row spans
 * about `orig` taps however few each phase keeps: 383,999 Hz -> 16 kHz would take 6e9).
 */
export function denseBank(r: Resampler, maxWeights: number): DenseBank | null {
  const plan = plans.get(r);
  if (!plan) return null;
  const { orig, next, width, taps, tapStart, tapLen, first } = plan;
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j < next; j++) {
    if (tapLen[j] === 0) continue;
    lo = Math.min(lo, first[j]!);
    hi = Math.max(hi, first[j]! + tapLen[j]!);
  }
  // Phase 0 always keeps its centre tap (t = 0, value base_freq / orig), so lo <= width and the range is not empty.
  const row = hi - lo;
  if (!(row > 0 && next * row <= maxWeights)) return null;
  const weight = new Float64Array(next * row);
  for (let j = 0; j < next; j++) weight.set(taps.subarray(tapStart[j]!, tapStart[j]! + tapLen[j]!), j * row + first[j]! - lo);
  return { orig, next, width, taps: row, left: width - lo, weight };
}

/** Mean taps per phase that the JavaScript path multiplies (what the dense row is compared with). */
export function keptTapsPerPhase(r: Resampler): number {
  const plan = plans.get(r);
  return plan ? plan.taps.length / plan.next : 0;
}

/**
 * `torchaudio.transforms.Resample`: builds the filter bank once for a rate pair and options, then resamples any
 * number of waveforms with it.
 */
export class Resampler {
  readonly origFreq: number;
  readonly newFreq: number;
  readonly options: Readonly<Required<ResampleOptions>>;
  readonly #plan: Plan | null;

  constructor(origFreq: number, newFreq: number, options?: ResampleOptions) {
    this.origFreq = checkRate('origFreq', origFreq);
    this.newFreq = checkRate('newFreq', newFreq);
    const opts = checkOptions(options);
    this.options = Object.freeze({ ...opts });
    // Equal rates return the input unchanged (torchaudio checks this before reducing by the gcd).
    this.#plan = origFreq === newFreq ? null : makePlan(origFreq, newFreq, opts);
    if (this.#plan) plans.set(this, this.#plan);
  }

  /** Half-width of the filter in input samples (torchaudio's `width`). 0 for equal rates. */
  get width(): number {
    return this.#plan?.width ?? 0;
  }

  /** Filter taps kept in memory (8 bytes each; 0 for equal rates): what a cache of Resamplers weighs. */
  get taps(): number {
    return this.#plan?.taps.length ?? 0;
  }

  /** Output length for an input of `n` samples. */
  outputLength(n: number): number {
    if (!(Number.isInteger(n) && n >= 0)) throw invalid('INVALID_INPUT', 'n', 'a non-negative integer', n);
    return this.#plan ? targetLength(this.#plan, n) : n;
  }

  /**
   * Resamples along the last axis. Accepts a Float32Array or Float64Array (one channel), an array of them
   * (channels, which may differ in length), or `{ data, shape }` with the time axis last. Returns the same
   * form and precision; the result never shares memory with the input.
   */
  resample<T extends AnyFloatArray>(waveform: T): T;
  resample<T extends AnyFloatArray>(waveform: T[]): T[];
  resample<T extends AnyFloatArray>(waveform: FloatTensor<T>): FloatTensor<T>;
  resample<T extends AnyFloatArray>(waveform: Waveform<T>): Waveform<T>;
  resample<T extends AnyFloatArray>(waveform: Waveform<T>): Waveform<T> {
    const run = (x: T): T => (this.#plan ? applyPlan(this.#plan, x) : (x.slice() as T));
    if (isFloatArray(waveform)) return run(waveform);
    if (Array.isArray(waveform)) {
      if (waveform.length === 0) throw invalid('INVALID_INPUT', 'waveform', 'at least one channel', waveform);
      const kind = waveform[0]?.constructor;
      waveform.forEach((c, i) => {
        if (!isFloatArray(c) || c.constructor !== kind) throw invalid('INVALID_INPUT', `waveform[${i}]`, `a ${kind === Float64Array ? 'Float64Array' : 'Float32Array'} like channel 0`, c);
      });
      return waveform.map(run);
    }
    if (isObject(waveform) && isFloatArray((waveform as FloatTensor<T>).data)) {
      const { data, shape } = waveform as FloatTensor<T>;
      if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw invalid('INVALID_INPUT', 'waveform.shape', 'a non-empty array of non-negative integers, time last', shape);
      }
      const n = shape[shape.length - 1]!;
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      if (rows * n !== data.length) throw invalid('INVALID_INPUT', 'waveform.data', `${rows * n} values for shape [${shape.join(', ')}]`, data);
      const outN = this.outputLength(n);
      const out = new (data.constructor as { new (n: number): T })(rows * outN);
      for (let r = 0; r < rows; r++) out.set(run(data.subarray(r * n, (r + 1) * n) as T), r * outN);
      return { data: out, shape: [...shape.slice(0, -1), outN] };
    }
    throw invalid('INVALID_INPUT', 'waveform', 'a Float32Array or Float64Array, an array of them (channels), or { data, shape }', waveform);
  }

  /** Alias of `resample`, named like `torchaudio.transforms.Resample.forward`. */
  forward<T extends AnyFloatArray>(waveform: Waveform<T>): Waveform<T> {
    return this.resample(waveform);
  }
}

/**
 * `torchaudio.functional.resample(waveform, orig_freq, new_freq, lowpass_filter_width, rolloff,
 * resampling_method, beta)`. For many waveforms at the same rates, a `Resampler` builds the filters once.
 */
export function resample<T extends AnyFloatArray>(waveform: T, origFreq: number, newFreq: number, options?: ResampleOptions): T;
export function resample<T extends AnyFloatArray>(waveform: T[], origFreq: number, newFreq: number, options?: ResampleOptions): T[];
export function resample<T extends AnyFloatArray>(waveform: FloatTensor<T>, origFreq: number, newFreq: number, options?: ResampleOptions): FloatTensor<T>;
export function resample<T extends AnyFloatArray>(waveform: Waveform<T>, origFreq: number, newFreq: number, options?: ResampleOptions): Waveform<T>;
export function resample<T extends AnyFloatArray>(waveform: Waveform<T>, origFreq: number, newFreq: number, options?: ResampleOptions): Waveform<T> {
  return new Resampler(origFreq, newFreq, options).resample(waveform);
}
