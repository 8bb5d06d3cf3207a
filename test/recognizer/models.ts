/** Fixture models with the manifests an exporter would write (labels, normalisation, extractor kind), for serving tests. */
import { join } from 'node:path';
import { type LoadModelOptions, type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import type { ModelManifest } from '../../lib/model/manifest';
import { FIXTURES, manifest, readF32 } from '../helpers/fixtures';

/** torchaudio factory argument `extractor_mode` of each fixture (test/fixtures/manifest.json notes). */
const EXTRACTOR = { ta_tiny_base: 'group_norm', ta_tiny_lv60k: 'layer_norm' } as const;

export function fixtureManifest(name: keyof typeof EXTRACTOR, normalizeWaveform = true): ModelManifest {
  return {
    format: 'wav2vec2-node-model/1', labels: manifest.labels, sampleRate: 16000, blank: 0, wordDelimiter: '|',
    normalizeWaveform, frameStride: 320, receptiveField: 400, convention: 'torchaudio',
    source: { kind: 'test fixture', params: { extractor_mode: EXTRACTOR[name] } },
  };
}

export function loadFixture(name: keyof typeof EXTRACTOR, options: LoadModelOptions = {}): Promise<Model> {
  // One intra-op thread: these models are tiny, and tests share the machine with other work.
  return loadModel(join(FIXTURES, 'models', `${name}.pt`), { manifest: fixtureManifest(name), threads: 1, ...options });
}

/** The fixtures' speech-like input (35200 samples at 16 kHz, made by the reference scripts). */
export const speech = readF32(manifest.inputs.single.file);

/** `n` samples of the speech starting at `offset`, as a new array (so requests never share memory). */
export function clip(n: number, offset = 0, gain = 1): Float32Array {
  return Float32Array.from(speech.subarray(offset, offset + n), (v) => v * gain);
}
