/**
 * The raw binding, typed. Nothing else imports the .node file: the rest of the package sees these types
 * (onnxruntime-node's lib/binding.ts idea).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { Wav2Vec2Error } from '../errors';
import { PACKAGE_ROOT } from '../paths';
import type { Tensor } from '../tensor';
import type { TensorRef } from '../checkpoint/types';

export interface NativeModelInfo {
  /** 'native': built from a checkpoint by native/builder (lib/builder), not a TorchScript file. */
  convention: 'torchaudio' | 'traced' | 'native';
  hasExtractFeatures: boolean;
  /** Method name -> TorchScript schema. */
  methods: Record<string, string>;
  parameters: number;
  numLayers: number | null;
  numHeads: number | null;
  device: string;
  dtype: string;
  file: string;
  /** Load-time graph rewrites applied (see LoadModelOptions.optimize): name -> nodes replaced. */
  rewrites: Record<string, number>;
}

export interface NativeModel {
  readonly info: NativeModelInfo | null;
  readonly pending: number;
  readonly disposed: boolean;
  /**
   * `waveforms`: one [B, T] array, or one array per item (then `lengths` gives their lengths, and the addon pads them).
   * Copied when the call is made: the caller may write to or give away its arrays at once. The inference thread then
   * refuses NaN and infinities (INVALID_INPUT) and, with `normalizeEps`, layer-normalises each item (native/waveforms.h).
   */
  forward(waveforms: Float32Array | Float32Array[], shape: [number, number], lengths: Int32Array | null, numLayers?: null,
    normalizeEps?: number | null): Promise<{ emissions: Tensor; lengths: Int32Array | null }>;
  extractFeatures(waveforms: Float32Array | Float32Array[], shape: [number, number], lengths: Int32Array | null, numLayers: number | null,
    normalizeEps?: number | null): Promise<{ features: Tensor[]; lengths: Int32Array | null }>;
  dispose(): void;
}

export interface Binding {
  load(path: string, device: string, dtype: string, threads: number, optimize: boolean): Promise<NativeModel>;
  /** Builds a network natively from a checked spec (lib/builder/config.ts + weightPrefix) and checkpoint tensor references. */
  build(spec: object, tensors: readonly TensorRef[], device: string, dtype: string, threads: number, optimize: boolean): Promise<NativeModel>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** The per-item layer normalisation of the inference thread, on this thread (for tests against PyTorch). */
  normalizeWaveforms(data: Float32Array, shape: [number, number], lengths: Int32Array | null, eps: number): Float32Array;
  cudaDeviceCount(): number;
  /** The CPU's instruction sets as LibTorch's cpuinfo sees them (avx512_vnni, avx512_bf16, amx_int8, ...). */
  cpuFeatures(): Record<string, boolean>;
  setCpuCacheLimit(bytes: number): void;
  cpuCacheInfo(): { limit: number; cached: number };
  releaseCpuCache(): void;
  joinInferenceThreads(): void;
  /**
   * Resampling filters as LibTorch's conv1d, on the calling thread (native/resample.h has the exact rule). Absent where
   * LibTorch's intra-op threads are not OpenMP (a call could not be kept to one thread): lib/audio/resample-native.ts
   * then keeps to JavaScript.
   */
  resample?<T extends Float32Array | Float64Array>(x: T, weight: T, phases: number, taps: number, stride: number, left: number, firstBlock: number, count: number, tile: number): T;
  torchVersion: string;
}

/** Where the addon may be: cmake-js and node-gyp both build into build/Release (Debug for debug builds). */
export const ADDON_CANDIDATES = [join(PACKAGE_ROOT, 'build', 'Release', 'wav2vec2.node'), join(PACKAGE_ROOT, 'build', 'Debug', 'wav2vec2.node')];

let cached: Binding | undefined;

/** Loads the addon once; throws NATIVE_ADDON_MISSING with the fix when it was not built. */
export function binding(): Binding {
  if (cached) return cached;
  const errors: string[] = [];
  for (const file of ADDON_CANDIDATES) {
    if (!existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require(file) as Binding;
      // process.exit() would otherwise tear LibTorch down under a running inference thread: let running calls
      // finish first (native/inference_thread.h, JoinAll). Main thread only: JoinAll stops every model's thread in the
      // process, and a worker thread that loads the addon (an audio worker, to resample) exits long before they end.
      const b = cached;
      if (isMainThread) process.once('exit', () => b.joinInferenceThreads());
      return cached;
    } catch (err) {
      errors.push(`${file}: ${(err as Error).message}`);
    }
  }
  throw new Wav2Vec2Error('NATIVE_ADDON_MISSING',
    `The native addon is not built${errors.length ? ` or failed to load (${errors.join('; ')})` : ` (looked for ${ADDON_CANDIDATES.join(', ')})`}. ` +
    'Run `npx wav2vec2 setup` to build it: it finds LibTorch (or pip-installs torch into the package\'s .venv/) and builds the addon, ' +
    'as `npm install` does when install scripts are allowed (README "Install").');
}

/** True when the addon can be loaded (tests use this to skip with a reason). */
export function hasBinding(): boolean {
  try {
    binding();
    return true;
  } catch {
    return false;
  }
}

/** Native errors carry `code` (and `detail`); give them our class so callers see one error type. */
export function wrapNativeError(err: unknown): Wav2Vec2Error {
  if (err instanceof Wav2Vec2Error) return err;
  const e = err as { code?: string; message?: string; detail?: string };
  const code = (typeof e?.code === 'string' ? e.code : 'INFERENCE_FAILED') as Wav2Vec2Error['code'];
  return new Wav2Vec2Error(code, e?.message ?? String(err), { cause: err, ...(e?.detail ? { detail: e.detail } : {}) });
}
