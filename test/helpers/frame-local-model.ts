/**
 * A stand-in model for batch-job tests that need no native addon: frame-local, so its outputs for any window of a
 * file are known exactly, and signals that decode to label sequences with words.
 */
import type { Model } from '../../lib/model/model';

/**
 * A stand-in model whose frame f depends only on the samples under it ([f·320, f·320 + 400)), as a conv encoder
 * without attention would: windowed and whole runs must then agree exactly, so any frame lost, doubled or shifted
 * at a seam shows.
 */
export function frameLocalModel(featureDim = 3): Model {
  const labels = ['-', '|', 'A', 'B', 'C', 'D'];
  const frames = (x: Float32Array) => Math.floor((x.length - 400) / 320) + 1;
  const run = (items: Float32Array[], dim: number, value: (mean: number, c: number) => number) => {
    const F = Math.max(...items.map(frames));
    const data = new Float32Array(items.length * F * dim);
    items.forEach((x, b) => {
      for (let f = 0; f < frames(x); f++) {
        let sum = 0;
        for (let i = f * 320; i < f * 320 + 400; i++) sum += x[i]!;
        for (let c = 0; c < dim; c++) data[(b * F + f) * dim + c] = value(sum / 400, c);
      }
    });
    return { tensor: { data, shape: [items.length, F, dim] }, lengths: Int32Array.from(items, frames) };
  };
  const fake = {
    info: { file: '/frame-local.pt', convention: 'traced', dtype: 'float32', hasExtractFeatures: true },
    labels, manifest: { labels, blank: 0, wordDelimiter: '|' },
    sampleRate: 16000, frameStride: 320, receptiveField: 400,
    forward: async (items: Float32Array[]) => {
      const r = run(items, labels.length, (m, c) => -Math.abs(m * 10 - c));
      return { emissions: r.tensor, lengths: r.lengths };
    },
    extractFeatures: async (items: Float32Array[], o: { numLayers: number }) => {
      const layers = Array.from({ length: o.numLayers }, (_, l) => run(items, featureDim, (m, c) => m * (l + 1) + c));
      return { features: layers.map((r) => r.tensor), lengths: layers[0]!.lengths };
    },
  };
  return fake as unknown as Model;
}

/** Runs of constant blocks whose means decode to label sequences with words. */
export function labelSignal(seconds: number, seed: number): Float32Array {
  let s = seed;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(seconds * 16000);
  for (let i = 0; i < x.length;) {
    const label = Math.floor(r() * 6);
    const n = 320 * (1 + Math.floor(r() * 5));
    x.fill(label / 10, i, Math.min(x.length, i + n));
    i += n;
  }
  return x;
}
