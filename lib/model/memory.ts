/**
 * The addon's CPU tensor cache (native/cpu_cache.h): freed LibTorch blocks of 64 KiB and more are kept for the
 * next call instead of going back to the OS, which saves the page faults of re-touching the whole working set
 * on every forward pass. Bounded (default 2 GiB of cached, unused blocks) and emptied when a model is disposed.
 */
import { invalid } from '../errors';
import { binding } from './native';

/** Most bytes of unused blocks kept; 0 turns caching off. Lowering it frees the excess at once. */
export function setCpuCacheLimit(bytes: number): void {
  if (!(typeof bytes === 'number' && Number.isFinite(bytes) && bytes >= 0)) throw invalid('INVALID_INPUT', 'setCpuCacheLimit(bytes)', 'a number of bytes >= 0', bytes);
  binding().setCpuCacheLimit(Math.floor(bytes));
}

/** `limit`: the bound; `cached`: bytes of unused blocks held now. */
export function cpuCacheInfo(): { limit: number; cached: number } {
  return binding().cpuCacheInfo();
}

/** Frees every cached block now (blocks in use are unaffected). */
export function releaseCpuCache(): void {
  binding().releaseCpuCache();
}
