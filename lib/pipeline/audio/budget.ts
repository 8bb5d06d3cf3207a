/**
 * What one input may cost the audio stage: seconds of audio (checked against the header's declared length first,
 * then against the samples as they are decoded) and the range of source sample rates (a resampling filter's size
 * grows with the rate pair: 1,300,001 Hz -> 16 kHz needs 16 M taps, 0.7-1.2 s and 260 MB to build).
 */
import { Wav2Vec2Error, invalid } from '../../errors';
import { isPositiveInteger } from '../../is';

export interface AudioBudget {
  /** Longest audio accepted, seconds (Infinity: no limit, e.g. a batch job that windows long files). */
  maxSeconds: number;
  /** Source sample rates accepted, Hz (inclusive). */
  minRate: number;
  maxRate: number;
}

/** Telephone audio is 8 kHz; 384 kHz is the highest rate common hardware records. */
export const DEFAULT_MIN_RATE = 8000;
export const DEFAULT_MAX_RATE = 384000;

export interface AudioBudgetOptions {
  maxSeconds?: number;
  /** Lowest source sample rate accepted (default 8000 Hz). */
  minSampleRate?: number;
  /** Highest source sample rate accepted (default 384000 Hz). */
  maxSampleRate?: number;
}

/** Checks the options of a budget; `what` prefixes the option names in messages. */
export function checkBudget(o: AudioBudgetOptions | undefined): AudioBudget {
  const maxSeconds = o?.maxSeconds ?? Infinity;
  if (!(typeof maxSeconds === 'number' && maxSeconds > 0)) throw invalid('INVALID_INPUT', 'maxDuration', 'a positive number of seconds', maxSeconds);
  const minRate = o?.minSampleRate ?? DEFAULT_MIN_RATE;
  const maxRate = o?.maxSampleRate ?? DEFAULT_MAX_RATE;
  if (!isPositiveInteger(minRate)) throw invalid('INVALID_INPUT', 'minSampleRate', 'a positive integer (Hz)', minRate);
  if (!(isPositiveInteger(maxRate) && maxRate >= minRate)) throw invalid('INVALID_INPUT', 'maxSampleRate', `an integer (Hz) of at least minSampleRate (${minRate})`, maxRate);
  return { maxSeconds, minRate, maxRate };
}

/** Refuses a source rate outside the budget's range, before any filter is built for it. */
export function checkRate(rate: number, budget: AudioBudget, name: string): void {
  if (rate >= budget.minRate && rate <= budget.maxRate) return;
  throw new Wav2Vec2Error('AUDIO_UNSUPPORTED_RATE',
    `${name}: expected a sample rate within [${budget.minRate}, ${budget.maxRate}] Hz, got ${rate} Hz. ` +
    'Resample it first (e.g. `sox in.wav -r 16000 out.wav`), or widen minSampleRate / maxSampleRate.');
}

/**
 * The duration limit's error. `how` says where the length comes from: the whole length ('samples'), the header's
 * declared length ('declared'), or where decoding stopped ('stopped': not the file's length, which is unknown).
 */
export function tooLong(seconds: number, maxSeconds: number, how: 'samples' | 'declared' | 'stopped'): Wav2Vec2Error {
  const got = how === 'stopped' ? `audio longer than ${maxSeconds} s (decoding stopped at ${seconds.toFixed(1)} s)`
    : how === 'declared' ? `audio whose header declares ${seconds.toFixed(1)} s` : `${seconds.toFixed(1)} s`;
  return new Wav2Vec2Error('INPUT_TOO_LONG',
    `audio: at most ${maxSeconds} s per request (maxDuration), got ${got}. Split long recordings into shorter clips.`);
}
