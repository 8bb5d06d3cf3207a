/**
 * Warming a model up before it serves. A model's first call at an input length it has not seen is slow: LibTorch's
 * executor profiles the graph on a model's first two calls, and oneDNN builds a primitive (generated code) for each
 * new shape of its linears and convolutions. Measured with the default model, 2 threads (AMD EPYC, AVX-512): a 10 s
 * clip took 117 ms on its first call and 34 ms after, and ten new lengths of 1-15 s cost 814 ms more than they
 * would warm. A server that starts cold puts that on its first requests: in bench:serve they were its p99.
 *
 * The native code pads frames to buckets (native/shape_buckets.cc), so a ladder of one input per bucket up to
 * `maxSeconds` builds most of those primitives: after it, the same ten new lengths cost 72 ms more. Batches share the
 * linear layers' ones up to that length (their rows are batch × frames); batched convolutions are still built on first
 * use. oneDNN's primitive cache is the process's, so the ladder runs on the first replica only; every other replica
 * makes the two calls its executor profiles.
 */
import { Wav2Vec2Error } from '../errors';
import type { Model } from './model';

/** The longest warm-up one may ask for: up to 120 s the ladder is 72 calls (lengths summing to about 45 minutes of audio). */
export const MAX_WARMUP_SECONDS = 120;

export interface WarmupResult {
  /** Model calls made, over every replica. */
  calls: number;
  /** Wall time, ms. */
  ms: number;
}

/** Frames of the smallest bucket, as native/shape_buckets.cc `BucketSize`. */
const FIRST_BUCKET = 32;

/** The bucket step at `frames` frames, as native/shape_buckets.cc `BucketSize`: 32, doubling while 32 steps fit in `frames`. */
function bucketStep(frames: number): number {
  let step = FIRST_BUCKET;
  while (step * 32 <= frames) step *= 2;
  return step;
}

/** One frame count per bucket, from the first up to the bucket that holds `maxFrames`. */
export function warmupFrames(maxFrames: number): number[] {
  const out: number[] = [];
  for (let f = FIRST_BUCKET; out.length === 0 || out[out.length - 1]! < maxFrames; f += bucketStep(f + 1)) out.push(f);
  return out;
}

/** Runs `models` (replicas of one model) on silent inputs of every bucket's length up to `maxSeconds`. */
export async function warmUp(models: readonly Model[], maxSeconds: number): Promise<WarmupResult> {
  const t0 = performance.now();
  const [first, ...rest] = models;
  if (!first || !(maxSeconds > 0)) return { calls: 0, ms: 0 };
  const samples = (frames: number) => (frames - 1) * first.frameStride + first.receptiveField;
  const maxFrames = Math.max(1, Math.floor((maxSeconds * first.sampleRate - first.receptiveField) / first.frameStride) + 1);
  let calls = 0;
  for (const frames of warmupFrames(maxFrames)) {
    try {
      await first.forward(new Float32Array(samples(frames)));
    } catch (err) {
      // Longer than the model's attention budget takes: the lengths it will serve are warm.
      if (err instanceof Wav2Vec2Error && err.code === 'INPUT_TOO_LONG') break;
      throw err;
    }
    calls++;
  }
  // The other replicas' inference threads run at once; two calls each finish their executors' profiling.
  await Promise.all(rest.map(async (m) => {
    for (let i = 0; i < 2; i++) await m.forward(new Float32Array(samples(FIRST_BUCKET)));
  }));
  calls += 2 * rest.length;
  return { calls, ms: performance.now() - t0 };
}
