/**
 * Resampling filters, built once per rate pair and reused. A filter bank depends only on the rates reduced by their
 * gcd (44.1 kHz -> 16 kHz and 88.2 kHz -> 32 kHz share one), and building one for an odd pair is costly (383,999 Hz
 * -> 16 kHz: 4.7 M taps, 37 MB): without a cache every request at such a rate would pay it again.
 *
 * Least recently used first out, within a few entries and a total of taps; a filter larger than the whole budget
 * is built for its input and not kept.
 */
import { Resampler } from '../../audio/resample';
import { NativeResampler } from '../../audio/resample-native';

/** Entries kept: a server sees a handful of rates (8, 16, 22.05, 44.1, 48 kHz). */
export const CACHE_ENTRIES = 8;
/** Taps kept in all (8 bytes each: 64 MiB). */
export const CACHE_TAPS = 8 * 1024 * 1024;

const cache = new Map<string, Resampler>();
let taps = 0;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * A Resampler with the default options (torchaudio's) from `from` to `to` Hz. It is built for the reduced pair,
 * which gives the same samples (every quantity in resample.ts is computed from the reduced rates).
 */
export function cachedResampler(from: number, to: number): Resampler {
  const g = gcd(from, to);
  const key = `${from / g}/${to / g}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit); // most recently used last
    return hit;
  }
  const r = new Resampler(from / g, to / g);
  if (r.taps > CACHE_TAPS) return r;
  cache.set(key, r);
  taps += r.taps;
  for (const [k, old] of cache) {
    if (cache.size <= CACHE_ENTRIES && taps <= CACHE_TAPS) break;
    cache.delete(k);
    taps -= old.taps;
  }
  return r;
}

/** What the cache holds (for tests and metrics). */
export function resamplerCacheStats(): { entries: number; taps: number; keys: string[] } {
  return { entries: cache.size, taps, keys: [...cache.keys()] };
}

/**
 * One channel resampled as the audio stage resamples it: with the addon's conv1d where NativeResampler.of allows (a new
 * array, bit for bit what StreamResampler({ native: true }) gives for the signal in pieces), else in JavaScript
 * (Resampler's samples, which the JavaScript StreamResampler gives). loadForModel and the Recognizer's raw samples use
 * it, so that every path to the model gives the same samples for the same audio.
 */
export function resampleLikeStage(samples: Float32Array, from: number, to: number): Float32Array {
  const r = cachedResampler(from, to);
  return (NativeResampler.of(r) ?? r).resample(samples);
}
