/**
 * What the model expects of a waveform, from Wav2Vec2FeatureExtractor's saved settings: transformers 4.x writes
 * them to preprocessor_config.json, transformers 5's processors nest them under "feature_extractor" in
 * processor_config.json. A field the file leaves out takes Wav2Vec2FeatureExtractor's default (16 kHz,
 * do_normalize true, return_attention_mask false), as transformers would load it.
 */
import { join } from 'node:path';
import { checkpointError, isObject, readJsonObject, type JsonObject } from './json';
import type { PreprocessorInfo } from './types';

/**
 * A folder with neither file (bare models used for features are often published that way): no normalisation and
 * no mask, i.e. the waveform goes in as given, which is what running the model without a feature extractor does.
 */
export const NO_PREPROCESSOR: PreprocessorInfo = { sampleRate: 16000, normalize: false, attentionMask: false };

export function readPreprocessor(dir: string): PreprocessorInfo {
  const pre = join(dir, 'preprocessor_config.json');
  const direct = readJsonObject(pre);
  if (direct) return preprocessorFrom(pre, direct);
  const proc = join(dir, 'processor_config.json');
  const processor = readJsonObject(proc);
  if (!processor || processor.feature_extractor === undefined) return NO_PREPROCESSOR;
  if (!isObject(processor.feature_extractor)) throw checkpointError(proc, '"feature_extractor" is not an object');
  return preprocessorFrom(proc, processor.feature_extractor);
}

export function preprocessorFrom(file: string, c: JsonObject): PreprocessorInfo {
  const type = c.feature_extractor_type;
  if (type !== undefined && type !== 'Wav2Vec2FeatureExtractor') {
    throw checkpointError(file, `feature_extractor_type ${JSON.stringify(type)}; only Wav2Vec2FeatureExtractor (raw waveforms) is supported`);
  }
  if (c.feature_size !== undefined && c.feature_size !== 1) throw checkpointError(file, `feature_size ${JSON.stringify(c.feature_size)}; a waveform model has 1`);
  const rate = c.sampling_rate ?? 16000;
  if (!Number.isSafeInteger(rate) || (rate as number) <= 0 || (rate as number) > 1_000_000) throw checkpointError(file, `sampling_rate ${JSON.stringify(rate)} is not a positive integer`);
  return {
    sampleRate: rate as number,
    normalize: flag(file, c, 'do_normalize', true),
    attentionMask: flag(file, c, 'return_attention_mask', false),
  };
}

function flag(file: string, c: JsonObject, key: string, fallback: boolean): boolean {
  const v = c[key] ?? fallback;
  if (typeof v !== 'boolean') throw checkpointError(file, `"${key}" is ${JSON.stringify(v)}, not a boolean`);
  return v;
}
